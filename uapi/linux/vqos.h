/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * vqos: virtio block devices with hardware-like QoS, served by a vDPA
 * parent in the host kernel.
 *
 * This header is shared by the host module (kmod/), the guest driver
 * (guest-driver/) and the tools (bpf/, selftests/). Everything in it is
 * little-endian on the wire, as in virtio 1.x.
 */
#ifndef _UAPI_LINUX_VQOS_H
#define _UAPI_LINUX_VQOS_H

#include <linux/types.h>
#include <linux/virtio_blk.h>

/*
 * Device ID of the "vqos" personality. NOT allocated by the virtio TC:
 * it is taken from the top of the 16-bit space to stay clear of real
 * allocations, and must change if the TC ever assigns one. The
 * "virtio-blk" personality uses the standard VIRTIO_ID_BLOCK (2).
 */
#define VIRTIO_ID_VQOS			0xfff1

/*
 * Release of the host module, the guest driver and the tools, which ship
 * together (MODULE_VERSION of both modules; dkms.conf's PACKAGE_VERSION).
 */
#define VQOS_VERSION			"0.1.0"

/* Name of the vDPA management device registered by the host module. */
#define VQOS_MGMTDEV_NAME		"vqos"

/* Limits of the host device. */
#define VQOS_MAX_QUEUES			16	/* virtqueues per device */
#define VQOS_MAX_QUEUE_SIZE		1024	/* descriptors per virtqueue */
#define VQOS_SECTOR_SIZE		512
#define VQOS_SEG_MAX			64	/* data segments per request */
#define VQOS_SIZE_MAX			(64U << 10) /* bytes per segment */
/* Largest read or write: what seg_max and size_max let a driver build. */
#define VQOS_MAX_REQ_BYTES		(VQOS_SEG_MAX * VQOS_SIZE_MAX)

/*
 * Device feature bits of the vqos personality, in the device-specific
 * range (0..23) beside the virtio-blk bits it shares.
 */
#define VQOS_F_TELEMETRY		23	/* QoS telemetry in config space */

/**
 * enum vqos_trace_op - request type in the vqos tracepoints and BPF maps
 * @VQOS_TRACE_READ: read
 * @VQOS_TRACE_WRITE: write
 * @VQOS_TRACE_OTHER: flush, discard, write-zeroes, get-id, refused requests
 */
enum vqos_trace_op {
	VQOS_TRACE_READ = 0,
	VQOS_TRACE_WRITE = 1,
	VQOS_TRACE_OTHER = 2,
};

/* Offset of struct vqos_telemetry in the vqos personality's config space. */
#define VQOS_TELEMETRY_OFFSET		0x100
#define VQOS_TELEMETRY_MAGIC		0x564f5331	/* "VQS1" */

/**
 * struct vqos_telemetry - what the host's limiter is doing to this device
 * @magic: VQOS_TELEMETRY_MAGIC
 * @size: size of this structure, for forward compatibility
 * @seq: even when stable; odd while the host updates (read twice, compare)
 * @flags: reserved, zero
 * @iops_limit: IOPS limit applied to this device (0: unlimited)
 * @bps_limit: bytes/s limit applied to this device (0: unlimited)
 * @iops_burst: IOPS bucket depth, in operations
 * @bps_burst: bytes/s bucket depth, in bytes
 * @group_iops_limit: IOPS limit of the device's group (0: none)
 * @group_bps_limit: bytes/s limit of the device's group (0: none)
 * @over_iops_us: microseconds requests waited on an IOPS limit
 * @over_bps_us: microseconds requests waited on a throughput limit
 * @throttled_reqs: requests that had to wait for tokens
 * @queue_len: requests taken from the rings and not yet completed
 * @read_ops: completed reads
 * @write_ops: completed writes
 * @read_bytes: bytes read
 * @write_bytes: bytes written
 * @read_time_us: total read latency, device side, in microseconds
 * @write_time_us: total write latency, device side, in microseconds
 * @errors: requests completed with an error status
 * @over_group_iops_us: microseconds requests waited on the group's IOPS limit
 * @over_group_bps_us: microseconds requests waited on the group's
 *	throughput limit
 *
 * Modelled on what EBS reports through its NVMe log page: totals, and time
 * spent over each limit, so a guest can tell a slow disk from a throttled
 * one. Counters are monotonic and never reset while the device exists.
 */
struct vqos_telemetry {
	__le32 magic;
	__le32 size;
	__le32 seq;
	__le32 flags;
	__le64 iops_limit;
	__le64 bps_limit;
	__le64 iops_burst;
	__le64 bps_burst;
	__le64 group_iops_limit;
	__le64 group_bps_limit;
	__le64 over_iops_us;
	__le64 over_bps_us;
	__le64 throttled_reqs;
	__le64 queue_len;
	__le64 read_ops;
	__le64 write_ops;
	__le64 read_bytes;
	__le64 write_bytes;
	__le64 read_time_us;
	__le64 write_time_us;
	__le64 errors;
	__le64 over_group_iops_us;
	__le64 over_group_bps_us;
};

/**
 * struct vqos_config - config space of the vqos personality
 * @blk: the virtio-blk config, same meaning and offsets as virtio-blk
 * @reserved: padding up to VQOS_TELEMETRY_OFFSET
 * @telemetry: QoS telemetry, valid when VQOS_F_TELEMETRY is negotiated
 */
struct vqos_config {
	struct virtio_blk_config blk;
	__u8 reserved[VQOS_TELEMETRY_OFFSET - sizeof(struct virtio_blk_config)];
	struct vqos_telemetry telemetry;
};

/* ---- BPF map layouts ---------------------------------------------------- */
/*
 * The maps of bpf/vqos_lat.bpf.c (tool: bpf/vqos-lat), pinned in
 * VQOS_BPF_PIN_DIR by "vqos-lat attach". They carry BTF, so
 * "bpftool map dump pinned /sys/fs/bpf/vqos/vqos_lat_hist" shows these
 * structures field by field. Times are nanoseconds, from the stage
 * timestamps of the vqos_req_complete tracepoint.
 */
#define VQOS_BPF_PIN_DIR		"/sys/fs/bpf/vqos"

/*
 * Histogram buckets, log-linear: bucket b < VQOS_LAT_SUB holds exactly b ns;
 * above that each power of two [2^m, 2^(m+1)) ns is cut into VQOS_LAT_SUB
 * equal buckets, each 1/VQOS_LAT_SUB (6.25%) of 2^m wide:
 *
 *	g = b / VQOS_LAT_SUB, s = b % VQOS_LAT_SUB	(g >= 1)
 *	bucket b = [(VQOS_LAT_SUB + s) << (g - 1), (VQOS_LAT_SUB + s + 1) << (g - 1))
 *
 * Times of 2^VQOS_LAT_MAX_SHIFT ns (68.7 s) or more land in the last bucket.
 */
#define VQOS_LAT_SUB_SHIFT		4
#define VQOS_LAT_SUB			(1U << VQOS_LAT_SUB_SHIFT)
#define VQOS_LAT_MAX_SHIFT		36
#define VQOS_LAT_BUCKETS		((VQOS_LAT_MAX_SHIFT - VQOS_LAT_SUB_SHIFT + 1) * \
					 VQOS_LAT_SUB)

/**
 * enum vqos_lat_stage - which part of a request's life a histogram measures
 * @VQOS_LAT_TOTAL: fetched from the ring to completed, t_complete - t_fetch
 * @VQOS_LAT_THROTTLE: held by a rate limit, t_dispatch - t_fetch; only
 *	requests that were held (a vqos_req_throttle event) are counted
 * @VQOS_LAT_BACKEND: backend service, t_backend - t_dispatch; only requests
 *	that went to the backend are counted
 * @VQOS_LAT_NR_STAGES: number of stages
 */
enum vqos_lat_stage {
	VQOS_LAT_TOTAL = 0,
	VQOS_LAT_THROTTLE = 1,
	VQOS_LAT_BACKEND = 2,
	VQOS_LAT_NR_STAGES = 3,
};

/* Ops per device in the maps: enum vqos_trace_op. */
#define VQOS_LAT_NR_OPS			3
/* Histograms per device. */
#define VQOS_LAT_HISTS_PER_DEV		(VQOS_LAT_NR_OPS * VQOS_LAT_NR_STAGES)
/* Default number of device slots: ids 0..VQOS_LAT_MAX_DEVS-1. */
#define VQOS_LAT_MAX_DEVS		64
/* Key of a device's histogram in the "vqos_lat_hist" map. */
#define VQOS_LAT_KEY(dev, op, stage) \
	(((dev) * VQOS_LAT_NR_OPS + (op)) * VQOS_LAT_NR_STAGES + (stage))

/**
 * struct vqos_lat_hist - one latency histogram (map "vqos_lat_hist")
 * @dev: device id (/sys/bus/vdpa/devices/<name>/vqos/id) of this slot
 * @op: enum vqos_trace_op of this slot
 * @stage: enum vqos_lat_stage of this slot
 * @reserved: zero
 * @count: requests counted
 * @sum_ns: sum of their times
 * @max_ns: longest time
 * @slots: requests per bucket (see VQOS_LAT_BUCKETS)
 *
 * BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 VQOS_LAT_KEY(dev, op, stage), one
 * value per CPU: a reader adds them up (@max_ns: the largest). @dev, @op
 * and @stage are labels the loader writes into every CPU's copy.
 */
struct vqos_lat_hist {
	__u32 dev;
	__u8 op;
	__u8 stage;
	__u16 reserved;
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u64 slots[VQOS_LAT_BUCKETS];
};

/**
 * struct vqos_lat_dev - per-device counters (map "vqos_lat_dev")
 * @dev: device id of this slot; the last slot (key = number of device
 *	slots) counts the requests of devices whose id has no slot
 * @reserved: zero
 * @requests: completed requests
 * @errors: requests completed with a status other than VIRTIO_BLK_S_OK
 * @bytes: bytes requested, by enum vqos_trace_op
 * @holds: vqos_req_throttle events (requests held by a rate limit)
 * @holds_unmatched: completions whose hold could not be told (it was
 *	pushed out of the hold history); counted as not held
 *
 * BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 device id, one value per CPU.
 */
struct vqos_lat_dev {
	__u32 dev;
	__u32 reserved;
	__u64 requests;
	__u64 errors;
	__u64 bytes[VQOS_LAT_NR_OPS];
	__u64 holds;
	__u64 holds_unmatched;
};

/* Holds remembered per device, to tell which completions were held. */
#define VQOS_LAT_HOLD_RING		32

/**
 * struct vqos_lat_held - recent holds of a device (map "vqos_lat_held")
 * @seq: holds so far
 * @t_hold: CLOCK_MONOTONIC ns of the last VQOS_LAT_HOLD_RING holds, hold n
 *	at index n % VQOS_LAT_HOLD_RING
 *
 * BPF_MAP_TYPE_ARRAY, key __u32 device id; the BPF programs' own state.
 * A device holds one request at a time and fetches nothing while it does,
 * so a request was held iff a hold falls between its t_fetch and t_dispatch.
 */
struct vqos_lat_held {
	__u64 seq;
	__u64 t_hold[VQOS_LAT_HOLD_RING];
};

#endif /* _UAPI_LINUX_VQOS_H */
