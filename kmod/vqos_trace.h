/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos tracepoints: the life of a request in the host device.
 *
 * A stable set, for the BPF programs in bpf/ and for perf/ftrace users:
 *   vqos_req_fetch     taken from the ring and validated
 *   vqos_req_throttle  held by a rate limit (once per hold)
 *   vqos_req_dispatch  sent to the backend, after any throttle wait
 *   vqos_req_backend   the backend finished (any context)
 *   vqos_req_complete  status written and pushed to the used ring; carries
 *                      every stage's timestamp, so a consumer computes
 *                      total, throttle and backend time from this event
 *                      alone, with no per-request lookup
 * Arguments are scalars (raw_tp programs read them without BTF); times
 * are CLOCK_MONOTONIC ns (bpf_ktime_get_ns()). @dev is the device's id,
 * /sys/bus/vdpa/devices/<dev>/vqos/id. @op is enum vqos_trace_op in
 * uapi/linux/vqos.h.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vqos

#if !defined(_VQOS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VQOS_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(vqos_req_fetch,
	TP_PROTO(u32 dev, u16 qid, u16 desc, u8 op, u32 bytes, u64 sector),
	TP_ARGS(dev, qid, desc, op, bytes, sector),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, qid)
		__field(u16, desc)
		__field(u8, op)
		__field(u32, bytes)
		__field(u64, sector)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->qid = qid;
		__entry->desc = desc;
		__entry->op = op;
		__entry->bytes = bytes;
		__entry->sector = sector;
	),
	TP_printk("dev=%u qid=%u desc=%u op=%u bytes=%u sector=%llu",
		  __entry->dev, __entry->qid, __entry->desc, __entry->op,
		  __entry->bytes, __entry->sector)
);

TRACE_EVENT(vqos_req_throttle,
	TP_PROTO(u32 dev, u16 qid, u16 desc, u64 wait_ns),
	TP_ARGS(dev, qid, desc, wait_ns),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, qid)
		__field(u16, desc)
		__field(u64, wait_ns)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->qid = qid;
		__entry->desc = desc;
		__entry->wait_ns = wait_ns;
	),
	TP_printk("dev=%u qid=%u desc=%u wait_ns=%llu", __entry->dev,
		  __entry->qid, __entry->desc, __entry->wait_ns)
);

DECLARE_EVENT_CLASS(vqos_req_stage,
	TP_PROTO(u32 dev, u16 qid, u16 desc, u8 op, u32 bytes, s64 ret),
	TP_ARGS(dev, qid, desc, op, bytes, ret),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, qid)
		__field(u16, desc)
		__field(u8, op)
		__field(u32, bytes)
		__field(s64, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->qid = qid;
		__entry->desc = desc;
		__entry->op = op;
		__entry->bytes = bytes;
		__entry->ret = ret;
	),
	TP_printk("dev=%u qid=%u desc=%u op=%u bytes=%u ret=%lld",
		  __entry->dev, __entry->qid, __entry->desc, __entry->op,
		  __entry->bytes, __entry->ret)
);

DEFINE_EVENT(vqos_req_stage, vqos_req_dispatch,
	TP_PROTO(u32 dev, u16 qid, u16 desc, u8 op, u32 bytes, s64 ret),
	TP_ARGS(dev, qid, desc, op, bytes, ret));

DEFINE_EVENT(vqos_req_stage, vqos_req_backend,
	TP_PROTO(u32 dev, u16 qid, u16 desc, u8 op, u32 bytes, s64 ret),
	TP_ARGS(dev, qid, desc, op, bytes, ret));

TRACE_EVENT(vqos_req_complete,
	TP_PROTO(u32 dev, u16 qid, u8 op, u8 status, u32 bytes, u64 t_fetch,
		 u64 t_dispatch, u64 t_backend, u64 t_complete),
	TP_ARGS(dev, qid, op, status, bytes, t_fetch, t_dispatch, t_backend,
		t_complete),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u16, qid)
		__field(u8, op)
		__field(u8, status)
		__field(u32, bytes)
		__field(u64, t_fetch)
		__field(u64, t_dispatch)
		__field(u64, t_backend)
		__field(u64, t_complete)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->qid = qid;
		__entry->op = op;
		__entry->status = status;
		__entry->bytes = bytes;
		__entry->t_fetch = t_fetch;
		__entry->t_dispatch = t_dispatch;
		__entry->t_backend = t_backend;
		__entry->t_complete = t_complete;
	),
	TP_printk("dev=%u qid=%u op=%u status=%u bytes=%u total_ns=%llu throttle_ns=%llu backend_ns=%llu",
		  __entry->dev, __entry->qid, __entry->op, __entry->status,
		  __entry->bytes, __entry->t_complete - __entry->t_fetch,
		  __entry->t_dispatch - __entry->t_fetch,
		  __entry->t_backend - __entry->t_dispatch)
);

#endif /* _VQOS_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vqos_trace
#include <trace/define_trace.h>
