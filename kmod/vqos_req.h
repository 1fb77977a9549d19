/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos request validation: pure functions over what a guest put in a
 * descriptor chain, free of ring and backend code so KUnit can test every
 * malformed case directly.
 */
#ifndef _VQOS_REQ_H
#define _VQOS_REQ_H

#include <linux/types.h>

/* Size of struct virtio_blk_outhdr and of a discard/write-zeroes segment. */
#define VQOS_HDR_LEN		16
#define VQOS_DWZ_SEG_LEN	16
#define VQOS_ID_BYTES		20	/* VIRTIO_BLK_ID_BYTES */

enum vqos_op {
	VQOS_OP_READ,
	VQOS_OP_WRITE,
	VQOS_OP_FLUSH,
	VQOS_OP_GET_ID,
	VQOS_OP_DISCARD,
	VQOS_OP_WRITE_ZEROES,
	VQOS_OP_INVALID,
};

/* Why a request was refused; each has a counter in sysfs. */
enum vqos_bad {
	VQOS_BAD_NONE,
	VQOS_BAD_NO_STATUS,	/* no writable byte for the status */
	VQOS_BAD_SHORT_HDR,	/* fewer than 16 readable bytes */
	VQOS_BAD_TYPE,		/* unknown or not negotiated request type */
	VQOS_BAD_LAYOUT,	/* buffers in the wrong direction for the type */
	VQOS_BAD_ALIGN,		/* length or position not a multiple of the
				 * logical block size
				 */
	VQOS_BAD_TOO_BIG,	/* more data than the device advertises */
	VQOS_BAD_RANGE,		/* sectors beyond the capacity, or overflow */
	VQOS_BAD_READ_ONLY,	/* write-type request on a read-only device */
	VQOS_BAD_FLAGS,		/* reserved discard/write-zeroes flags set */
	VQOS_BAD_ACCESS,	/* buffer outside the guest's mapping */
	VQOS_BAD_NR,
};

/**
 * struct vqos_req_limits - what the device advertised and negotiated
 * @capacity: device size in 512-byte sectors
 * @block_size: logical block size offered to the driver, a power of two
 *	>= 512 (0 means 512): data lengths and positions must be multiples
 * @max_bytes: largest data transfer of a read or write
 * @max_discard_sectors: largest discard, in sectors
 * @max_write_zeroes_sectors: largest write-zeroes, in sectors
 * @read_only: the device is read-only (VIRTIO_BLK_F_RO)
 * @flush: VIRTIO_BLK_F_FLUSH negotiated
 * @discard: VIRTIO_BLK_F_DISCARD negotiated
 * @write_zeroes: VIRTIO_BLK_F_WRITE_ZEROES negotiated
 */
struct vqos_req_limits {
	u64 capacity;
	u32 block_size;
	u32 max_bytes;
	u32 max_discard_sectors;
	u32 max_write_zeroes_sectors;
	bool read_only;
	bool flush;
	bool discard;
	bool write_zeroes;
};

/**
 * struct vqos_req_shape - the chain as measured by the ring code
 * @type: the header's type field, CPU order
 * @sector: the header's sector field, CPU order
 * @out_len: device-readable bytes after the header
 * @in_len: device-writable bytes, including the trailing status byte
 */
struct vqos_req_shape {
	u32 type;
	u64 sector;
	u64 out_len;
	u64 in_len;
};

/**
 * struct vqos_req_plan - what to do with a valid request
 * @op: the operation
 * @pos: byte offset in the device (reads, writes)
 * @len: data bytes (reads, writes; GET_ID: bytes of id to write)
 */
struct vqos_req_plan {
	enum vqos_op op;
	u64 pos;
	u32 len;
};

enum vqos_bad vqos_req_check(const struct vqos_req_limits *lim,
			     const struct vqos_req_shape *shape,
			     struct vqos_req_plan *plan);
enum vqos_bad vqos_req_check_dwz(const struct vqos_req_limits *lim,
				 enum vqos_op op, u64 sector, u32 nr_sectors,
				 u32 flags);
u8 vqos_bad_status(enum vqos_bad bad);
const char *vqos_bad_name(enum vqos_bad bad);

#endif /* _VQOS_REQ_H */
