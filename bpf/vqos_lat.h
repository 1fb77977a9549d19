/* SPDX-License-Identifier: (GPL-2.0 OR BSD-3-Clause) */
/*
 * Shared by vqos_lat.bpf.c and vqos_lat.c: the map layouts
 * (from uapi/linux/vqos.h) and the histogram bucket arithmetic.
 */
#ifndef __VQOS_LAT_H
#define __VQOS_LAT_H

#ifdef __bpf__
/*
 * BPF side: vmlinux.h, included first, has the kernel's types. Keep
 * vqos.h's user-space includes out, and give its guest config structure
 * (not used here, and only in vmlinux.h when virtio_blk is built in) a
 * stand-in.
 */
#define _LINUX_TYPES_H
#define _LINUX_VIRTIO_BLK_H
#define virtio_blk_config vqos_lat_virtio_blk_config
struct vqos_lat_virtio_blk_config {
	__u8 unused;
};
#endif

#include <linux/vqos.h>

#ifdef __bpf__
#undef virtio_blk_config
#endif

/* Index of the most significant bit set in @v, which is not 0. */
static __always_inline __u32 vqos_lat_msb(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* Bucket of a time, 0..VQOS_LAT_BUCKETS-1. */
static __always_inline __u32 vqos_lat_bucket(__u64 ns)
{
	__u32 m;

	if (ns < VQOS_LAT_SUB)
		return ns;
	m = vqos_lat_msb(ns);
	if (m >= VQOS_LAT_MAX_SHIFT)
		return VQOS_LAT_BUCKETS - 1;
	return (m - VQOS_LAT_SUB_SHIFT + 1) * VQOS_LAT_SUB +
	       (__u32)(ns >> (m - VQOS_LAT_SUB_SHIFT)) - VQOS_LAT_SUB;
}

/* Lowest time in bucket @b; bucket b spans [lo(b), lo(b + 1)). */
static __always_inline __u64 vqos_lat_bucket_lo(__u32 b)
{
	__u32 g = b / VQOS_LAT_SUB, s = b % VQOS_LAT_SUB;

	if (!g)
		return b;
	return (__u64)(VQOS_LAT_SUB + s) << (g - 1);
}

#endif /* __VQOS_LAT_H */
