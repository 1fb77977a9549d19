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

#endif /* _UAPI_LINUX_VQOS_H */
