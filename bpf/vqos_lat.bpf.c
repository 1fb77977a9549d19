// SPDX-License-Identifier: (GPL-2.0 OR BSD-3-Clause)
/*
 * Per-device, per-op latency histograms of vqos requests.
 *
 * Everything is taken from the vqos_req_complete tracepoint, which carries
 * the timestamps of every stage of a request: one array lookup per
 * histogram on the hot path, no hash, no atomics (per-CPU values; a
 * program does not nest with itself on a CPU). vqos_req_throttle only
 * records when a device held a request, so that the completion can tell
 * whether the time between fetch and dispatch was a throttle wait.
 *
 * Each program comes twice: tp_btf (typed arguments, needs the module's
 * BTF) and raw_tp (no BTF needed). The loader enables one pair.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "vqos_lat.h"

/* Device slots: the loader sets this and sizes the maps to match. */
const volatile __u32 max_devs = VQOS_LAT_MAX_DEVS;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VQOS_LAT_MAX_DEVS * VQOS_LAT_HISTS_PER_DEV);
	__type(key, __u32);
	__type(value, struct vqos_lat_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vqos_lat_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VQOS_LAT_MAX_DEVS + 1);
	__type(key, __u32);
	__type(value, struct vqos_lat_dev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vqos_lat_dev SEC(".maps");

/*
 * Not per-CPU: written by vqos_req_throttle and read by vqos_req_complete,
 * both called from the device's worker only, so never at the same time.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VQOS_LAT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct vqos_lat_held);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vqos_lat_held SEC(".maps");

static __always_inline void hist_add(__u32 dev, __u32 op, __u32 stage,
				     __u64 ns)
{
	__u32 key = VQOS_LAT_KEY(dev, op, stage);
	struct vqos_lat_hist *h;
	__u64 b;

	h = bpf_map_lookup_elem(&vqos_lat_hist, &key);
	if (!h)
		return;
	b = vqos_lat_bucket(ns);
	/* One register for the check and the index, for the verifier. */
	barrier_var(b);
	if (b >= VQOS_LAT_BUCKETS)
		return;
	h->slots[b]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/*
 * Was the request fetched at @t_fetch and dispatched at @t_dispatch held?
 * Iff one of the device's holds lies in between: the device holds one
 * request at a time and fetches nothing until it is dispatched. The newest
 * hold is older than t_fetch for every request but a held one or one in
 * flight during a later hold, so the usual answer takes one comparison.
 */
static __always_inline int was_held(__u32 dev, __u64 t_fetch,
				    __u64 t_dispatch, struct vqos_lat_dev *d)
{
	struct vqos_lat_held *hd;
	__u64 seq, t;
	__u32 i;

	hd = bpf_map_lookup_elem(&vqos_lat_held, &dev);
	if (!hd || !hd->seq)
		return 0;
	seq = hd->seq;
	for (i = 0; i < VQOS_LAT_HOLD_RING; i++) {
		if (i >= seq)
			return 0;
		t = hd->t_hold[(seq - 1 - i) % VQOS_LAT_HOLD_RING];
		if (t < t_fetch)
			return 0;
		if (t <= t_dispatch)
			return 1;
	}
	if (d)
		d->holds_unmatched++;
	return 0;
}

static __always_inline int on_complete(__u32 dev, __u8 op, __u8 status,
				       __u32 bytes, __u64 t_fetch,
				       __u64 t_dispatch, __u64 t_backend,
				       __u64 t_complete)
{
	__u32 slot = dev < max_devs ? dev : max_devs;
	struct vqos_lat_dev *d;
	__u32 o = op;

	if (o >= VQOS_LAT_NR_OPS)
		o = VQOS_TRACE_OTHER;
	barrier_var(o);
	d = bpf_map_lookup_elem(&vqos_lat_dev, &slot);
	if (d) {
		d->requests++;
		if (status)
			d->errors++;
		d->bytes[o] += bytes;
	}
	if (dev >= max_devs)
		return 0;

	if (t_complete >= t_fetch)
		hist_add(dev, o, VQOS_LAT_TOTAL, t_complete - t_fetch);
	if (t_dispatch >= t_fetch && was_held(dev, t_fetch, t_dispatch, d))
		hist_add(dev, o, VQOS_LAT_THROTTLE, t_dispatch - t_fetch);
	if (t_backend > t_dispatch)
		hist_add(dev, o, VQOS_LAT_BACKEND, t_backend - t_dispatch);
	return 0;
}

static __always_inline int on_throttle(__u32 dev)
{
	struct vqos_lat_held *hd;
	struct vqos_lat_dev *d;

	if (dev >= max_devs)
		return 0;
	d = bpf_map_lookup_elem(&vqos_lat_dev, &dev);
	if (d)
		d->holds++;
	hd = bpf_map_lookup_elem(&vqos_lat_held, &dev);
	if (!hd)
		return 0;
	hd->t_hold[hd->seq % VQOS_LAT_HOLD_RING] = bpf_ktime_get_ns();
	hd->seq++;
	return 0;
}

SEC("tp_btf/vqos_req_complete")
int BPF_PROG(vqos_done_btf, u32 dev, u16 qid, u8 op, u8 status,
	     u32 bytes, u64 t_fetch, u64 t_dispatch, u64 t_backend,
	     u64 t_complete)
{
	return on_complete(dev, op, status, bytes, t_fetch, t_dispatch,
			   t_backend, t_complete);
}

SEC("raw_tp/vqos_req_complete")
int BPF_PROG(vqos_done_raw, u32 dev, u16 qid, u8 op, u8 status,
	     u32 bytes, u64 t_fetch, u64 t_dispatch, u64 t_backend,
	     u64 t_complete)
{
	return on_complete(dev, op, status, bytes, t_fetch, t_dispatch,
			   t_backend, t_complete);
}

SEC("tp_btf/vqos_req_throttle")
int BPF_PROG(vqos_hold_btf, u32 dev, u16 qid, u16 desc, u64 wait_ns)
{
	return on_throttle(dev);
}

SEC("raw_tp/vqos_req_throttle")
int BPF_PROG(vqos_hold_raw, u32 dev, u16 qid, u16 desc, u64 wait_ns)
{
	return on_throttle(dev);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
