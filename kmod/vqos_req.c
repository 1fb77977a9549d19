// SPDX-License-Identifier: GPL-2.0
/*
 * vqos request validation.
 *
 * Everything here is computed from values a guest controls, so every sum
 * is checked for overflow and every length for its upper bound before it
 * is used to address the backing store.
 */
#include <linux/kernel.h>
#include <linux/virtio_blk.h>
#include "vqos_req.h"

#define SECTOR_BYTES	512

/* Sectors per logical block, minus one: a mask for alignment checks. */
static u64 vqos_block_mask(const struct vqos_req_limits *lim)
{
	return lim->block_size > SECTOR_BYTES ?
	       lim->block_size / SECTOR_BYTES - 1 : 0;
}

static bool vqos_range_ok(const struct vqos_req_limits *lim, u64 sector,
			  u64 nr_sectors)
{
	/* Written so that no sum can wrap: sector + nr <= capacity. */
	return sector <= lim->capacity && nr_sectors <= lim->capacity - sector;
}

/**
 * vqos_req_check() - validate a virtio-blk request against the device
 * @lim: device limits and negotiated features
 * @shape: type, sector and buffer sizes read from the descriptor chain
 * @plan: filled with the operation to perform when the request is valid
 *
 * The layout rules are those of the virtio-blk spec: a 16-byte readable
 * header, then readable data for writes or writable data for reads, then
 * one writable status byte. Discard and write-zeroes segments are checked
 * one by one with vqos_req_check_dwz() once they are read.
 *
 * Return: VQOS_BAD_NONE when @plan may be executed, otherwise the reason;
 * vqos_bad_status() gives the virtio status to complete it with.
 */
enum vqos_bad vqos_req_check(const struct vqos_req_limits *lim,
			     const struct vqos_req_shape *shape,
			     struct vqos_req_plan *plan)
{
	u64 data;

	plan->op = VQOS_OP_INVALID;
	plan->pos = 0;
	plan->len = 0;

	if (shape->in_len < 1)
		return VQOS_BAD_NO_STATUS;
	/* out_len counts what follows the header; a short one is flagged
	 * by the ring code as U64_MAX.
	 */
	if (shape->out_len == U64_MAX)
		return VQOS_BAD_SHORT_HDR;

	switch (shape->type) {
	case VIRTIO_BLK_T_IN:
		if (shape->out_len)
			return VQOS_BAD_LAYOUT;
		data = shape->in_len - 1;
		plan->op = VQOS_OP_READ;
		break;
	case VIRTIO_BLK_T_OUT:
		if (shape->in_len != 1)
			return VQOS_BAD_LAYOUT;
		if (lim->read_only)
			return VQOS_BAD_READ_ONLY;
		data = shape->out_len;
		plan->op = VQOS_OP_WRITE;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!lim->flush)
			return VQOS_BAD_TYPE;
		if (shape->out_len || shape->in_len != 1)
			return VQOS_BAD_LAYOUT;
		plan->op = VQOS_OP_FLUSH;
		return VQOS_BAD_NONE;
	case VIRTIO_BLK_T_GET_ID:
		if (shape->out_len || shape->in_len < 2)
			return VQOS_BAD_LAYOUT;
		plan->op = VQOS_OP_GET_ID;
		plan->len = min_t(u64, shape->in_len - 1, VQOS_ID_BYTES);
		return VQOS_BAD_NONE;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (shape->type == VIRTIO_BLK_T_DISCARD ? !lim->discard :
							  !lim->write_zeroes)
			return VQOS_BAD_TYPE;
		/* One segment per request: max_*_seg is advertised as 1. */
		if (shape->out_len != VQOS_DWZ_SEG_LEN || shape->in_len != 1)
			return VQOS_BAD_LAYOUT;
		if (lim->read_only)
			return VQOS_BAD_READ_ONLY;
		plan->op = shape->type == VIRTIO_BLK_T_DISCARD ?
			   VQOS_OP_DISCARD : VQOS_OP_WRITE_ZEROES;
		return VQOS_BAD_NONE;
	default:
		return VQOS_BAD_TYPE;
	}

	/* Reads and writes: whole logical blocks (a 4Kn backing refuses less). */
	if (data % SECTOR_BYTES ||
	    (data / SECTOR_BYTES | shape->sector) & vqos_block_mask(lim))
		return VQOS_BAD_ALIGN;
	if (data > lim->max_bytes)
		return VQOS_BAD_TOO_BIG;
	if (!vqos_range_ok(lim, shape->sector, data / SECTOR_BYTES))
		return VQOS_BAD_RANGE;
	plan->pos = shape->sector * SECTOR_BYTES;
	plan->len = data;
	return VQOS_BAD_NONE;
}

/**
 * vqos_req_check_dwz() - validate one discard or write-zeroes segment
 * @lim: device limits
 * @op: VQOS_OP_DISCARD or VQOS_OP_WRITE_ZEROES
 * @sector: first sector, CPU order
 * @nr_sectors: number of sectors, CPU order
 * @flags: segment flags, CPU order
 *
 * Return: VQOS_BAD_NONE or the reason to refuse the segment.
 */
enum vqos_bad vqos_req_check_dwz(const struct vqos_req_limits *lim,
				 enum vqos_op op, u64 sector, u32 nr_sectors,
				 u32 flags)
{
	u32 max = op == VQOS_OP_DISCARD ? lim->max_discard_sectors :
					  lim->max_write_zeroes_sectors;
	u32 allowed = op == VQOS_OP_WRITE_ZEROES ?
		      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;

	if (flags & ~allowed)
		return VQOS_BAD_FLAGS;
	if ((sector | nr_sectors) & vqos_block_mask(lim))
		return VQOS_BAD_ALIGN;
	if (nr_sectors > max)
		return VQOS_BAD_TOO_BIG;
	if (!vqos_range_ok(lim, sector, nr_sectors))
		return VQOS_BAD_RANGE;
	return VQOS_BAD_NONE;
}

/**
 * vqos_bad_status() - virtio-blk status for a refused request
 * @bad: the reason
 *
 * Return: VIRTIO_BLK_S_UNSUPP for requests the device does not implement
 * (unknown type, reserved flags), VIRTIO_BLK_S_IOERR otherwise.
 */
u8 vqos_bad_status(enum vqos_bad bad)
{
	switch (bad) {
	case VQOS_BAD_NONE:
		return VIRTIO_BLK_S_OK;
	case VQOS_BAD_TYPE:
	case VQOS_BAD_FLAGS:
		return VIRTIO_BLK_S_UNSUPP;
	default:
		return VIRTIO_BLK_S_IOERR;
	}
}

static const char * const vqos_bad_names[VQOS_BAD_NR] = {
	[VQOS_BAD_NONE]		= "none",
	[VQOS_BAD_NO_STATUS]	= "no_status",
	[VQOS_BAD_SHORT_HDR]	= "short_header",
	[VQOS_BAD_TYPE]		= "bad_type",
	[VQOS_BAD_LAYOUT]	= "bad_layout",
	[VQOS_BAD_ALIGN]	= "unaligned",
	[VQOS_BAD_TOO_BIG]	= "too_big",
	[VQOS_BAD_RANGE]	= "out_of_range",
	[VQOS_BAD_READ_ONLY]	= "read_only",
	[VQOS_BAD_FLAGS]	= "bad_flags",
	[VQOS_BAD_ACCESS]	= "bad_access",
};

/**
 * vqos_bad_name() - short name of a refusal reason, for sysfs
 * @bad: the reason
 *
 * Return: a static string.
 */
const char *vqos_bad_name(enum vqos_bad bad)
{
	return bad < VQOS_BAD_NR ? vqos_bad_names[bad] : "unknown";
}
