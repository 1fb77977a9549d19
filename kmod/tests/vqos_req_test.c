// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for vqos request validation: every malformed request a guest
 * can build must be refused with the right status and reason, and every
 * valid one must map to exactly the bytes it names.
 */
#include <kunit/test.h>
#include <linux/virtio_blk.h>
/* The code under test has no module glue: build it into this module. */
#include "../vqos_req.c"

#define CAP	2048ULL		/* sectors: 1 MiB */

static const struct vqos_req_limits lim = {
	.capacity = CAP,
	.max_bytes = 1 << 20,
	.max_discard_sectors = 1024,
	.max_write_zeroes_sectors = 1024,
	.flush = true,
	.discard = true,
	.write_zeroes = true,
};

static enum vqos_bad check(const struct vqos_req_limits *l, u32 type,
			   u64 sector, u64 out_len, u64 in_len,
			   struct vqos_req_plan *plan)
{
	struct vqos_req_shape s = {
		.type = type, .sector = sector,
		.out_len = out_len, .in_len = in_len,
	};

	return vqos_req_check(l, &s, plan);
}

static void vqos_req_valid_rw(struct kunit *test)
{
	struct vqos_req_plan p;

	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 8, 0, 4097, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, p.op, VQOS_OP_READ);
	KUNIT_EXPECT_EQ(test, p.pos, 4096ULL);
	KUNIT_EXPECT_EQ(test, p.len, 4096U);

	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, CAP - 1, 512, 1, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, p.op, VQOS_OP_WRITE);
	KUNIT_EXPECT_EQ(test, p.pos, (CAP - 1) * 512);
	KUNIT_EXPECT_EQ(test, p.len, 512U);

	/* The largest transfer the device advertises. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 0, 0, (1 << 20) + 1,
				    &p), VQOS_BAD_NONE);
}

static void vqos_req_status_buffer(struct kunit *test)
{
	struct vqos_req_plan p;

	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 0, 0, 0, &p),
			VQOS_BAD_NO_STATUS);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, 0, 512, 0, &p),
			VQOS_BAD_NO_STATUS);
	KUNIT_EXPECT_EQ(test, vqos_bad_status(VQOS_BAD_NO_STATUS),
			(u8)VIRTIO_BLK_S_IOERR);
}

static void vqos_req_short_header(struct kunit *test)
{
	struct vqos_req_plan p;

	KUNIT_EXPECT_EQ(test, check(&lim, 0, 0, U64_MAX, 1, &p),
			VQOS_BAD_SHORT_HDR);
	KUNIT_EXPECT_EQ(test, p.op, VQOS_OP_INVALID);
}

static void vqos_req_bad_type(struct kunit *test)
{
	struct vqos_req_limits l = lim;
	struct vqos_req_plan p;

	KUNIT_EXPECT_EQ(test, check(&lim, 2 /* SCSI */, 0, 0, 1, &p),
			VQOS_BAD_TYPE);
	KUNIT_EXPECT_EQ(test, check(&lim, 0x80000000, 0, 0, 1, &p),
			VQOS_BAD_TYPE);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_SECURE_ERASE, 0, 16, 1,
				    &p), VQOS_BAD_TYPE);
	KUNIT_EXPECT_EQ(test, vqos_bad_status(VQOS_BAD_TYPE),
			(u8)VIRTIO_BLK_S_UNSUPP);

	/* Types whose feature was not negotiated. */
	l.flush = false;
	l.discard = false;
	l.write_zeroes = false;
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_FLUSH, 0, 0, 1, &p),
			VQOS_BAD_TYPE);
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_DISCARD, 0, 16, 1, &p),
			VQOS_BAD_TYPE);
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 1,
				    &p), VQOS_BAD_TYPE);
}

static void vqos_req_layout(struct kunit *test)
{
	struct vqos_req_plan p;

	/* A read with readable data, a write with writable data. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 0, 512, 513, &p),
			VQOS_BAD_LAYOUT);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, 0, 512, 513, &p),
			VQOS_BAD_LAYOUT);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_FLUSH, 0, 16, 1, &p),
			VQOS_BAD_LAYOUT);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_GET_ID, 0, 0, 1, &p),
			VQOS_BAD_LAYOUT);
	/* Discard with no segment, two segments, or a torn one. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_DISCARD, 0, 0, 1, &p),
			VQOS_BAD_LAYOUT);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_DISCARD, 0, 32, 1, &p),
			VQOS_BAD_LAYOUT);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_WRITE_ZEROES, 0, 15, 1,
				    &p), VQOS_BAD_LAYOUT);
}

static void vqos_req_alignment(struct kunit *test)
{
	struct vqos_req_plan p;

	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 0, 0, 512 + 2, &p),
			VQOS_BAD_ALIGN);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, 0, 100, 1, &p),
			VQOS_BAD_ALIGN);
}

static void vqos_req_too_big(struct kunit *test)
{
	struct vqos_req_plan p;

	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 0, 0,
				    (1 << 20) + 512 + 1, &p), VQOS_BAD_TOO_BIG);
	/* Lengths a 32-bit sum would wrap. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, 0, 1ULL << 32, 1,
				    &p), VQOS_BAD_TOO_BIG);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, 0, 0,
				    (1ULL << 63) + 1, &p), VQOS_BAD_TOO_BIG);
}

static void vqos_req_range(struct kunit *test)
{
	struct vqos_req_plan p;

	/* One sector past the end, and a start beyond it. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, CAP - 1, 0, 1025,
				    &p), VQOS_BAD_RANGE);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, CAP, 512, 1, &p),
			VQOS_BAD_RANGE);
	/* Sectors chosen so that sector + count wraps to a small value. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, U64_MAX, 0, 513,
				    &p), VQOS_BAD_RANGE);
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_OUT, U64_MAX - 7, 4096,
				    1, &p), VQOS_BAD_RANGE);
	/* A zero-length read at the end is in range and moves nothing. */
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_IN, CAP, 0, 1, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, p.len, 0U);
}

static void vqos_req_no_medium(struct kunit *test)
{
	struct vqos_req_limits l = lim;
	struct vqos_req_plan p;

	l.capacity = 0;
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_IN, 0, 0, 513, &p),
			VQOS_BAD_RANGE);
}

static void vqos_req_read_only(struct kunit *test)
{
	struct vqos_req_limits l = lim;
	struct vqos_req_plan p;

	l.read_only = true;
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_OUT, 0, 512, 1, &p),
			VQOS_BAD_READ_ONLY);
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_DISCARD, 0, 16, 1, &p),
			VQOS_BAD_READ_ONLY);
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, 1,
				    &p), VQOS_BAD_READ_ONLY);
	/* Reads and flushes still work. */
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_IN, 0, 0, 513, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, check(&l, VIRTIO_BLK_T_FLUSH, 0, 0, 1, &p),
			VQOS_BAD_NONE);
}

static void vqos_req_get_id(struct kunit *test)
{
	struct vqos_req_plan p;

	memset(&p, 0xa5, sizeof(p));
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_GET_ID, 0, 0, 21, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, p.len, 20U);
	/*
	 * A shorter buffer gets a truncated id, a longer one no more; both
	 * are valid requests. The plan is poisoned in between, so that a
	 * check that refused (and left it alone) cannot pass on the last
	 * call's length.
	 */
	memset(&p, 0xa5, sizeof(p));
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_GET_ID, 0, 0, 9, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, p.len, 8U);
	memset(&p, 0xa5, sizeof(p));
	KUNIT_EXPECT_EQ(test, check(&lim, VIRTIO_BLK_T_GET_ID, 0, 0, 4097, &p),
			VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, p.len, 20U);
}

static void vqos_req_dwz(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_DISCARD, 0, 8,
						 0), VQOS_BAD_NONE);
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_WRITE_ZEROES,
						 CAP - 8, 8, 1), VQOS_BAD_NONE);
	/* Unmap is a write-zeroes flag only; other bits are reserved. */
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_DISCARD, 0, 8,
						 1), VQOS_BAD_FLAGS);
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_WRITE_ZEROES, 0,
						 8, 2), VQOS_BAD_FLAGS);
	KUNIT_EXPECT_EQ(test, vqos_bad_status(VQOS_BAD_FLAGS),
			(u8)VIRTIO_BLK_S_UNSUPP);
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_DISCARD, 0, 1025,
						 0), VQOS_BAD_TOO_BIG);
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_DISCARD,
						 CAP - 7, 8, 0), VQOS_BAD_RANGE);
	KUNIT_EXPECT_EQ(test, vqos_req_check_dwz(&lim, VQOS_OP_WRITE_ZEROES,
						 U64_MAX, 2, 0), VQOS_BAD_RANGE);
}

static void vqos_req_names(struct kunit *test)
{
	int i;

	for (i = 0; i < VQOS_BAD_NR; i++)
		KUNIT_EXPECT_NE(test, strcmp(vqos_bad_name(i), "unknown"), 0);
	KUNIT_EXPECT_STREQ(test, vqos_bad_name(VQOS_BAD_NR), "unknown");
}

static struct kunit_case vqos_req_cases[] = {
	KUNIT_CASE(vqos_req_valid_rw),
	KUNIT_CASE(vqos_req_status_buffer),
	KUNIT_CASE(vqos_req_short_header),
	KUNIT_CASE(vqos_req_bad_type),
	KUNIT_CASE(vqos_req_layout),
	KUNIT_CASE(vqos_req_alignment),
	KUNIT_CASE(vqos_req_too_big),
	KUNIT_CASE(vqos_req_range),
	KUNIT_CASE(vqos_req_no_medium),
	KUNIT_CASE(vqos_req_read_only),
	KUNIT_CASE(vqos_req_get_id),
	KUNIT_CASE(vqos_req_dwz),
	KUNIT_CASE(vqos_req_names),
	{}
};

static struct kunit_suite vqos_req_suite = {
	.name = "vqos_req",
	.test_cases = vqos_req_cases,
};
kunit_test_suite(vqos_req_suite);

MODULE_DESCRIPTION("KUnit tests for vqos request validation");
MODULE_LICENSE("GPL");
