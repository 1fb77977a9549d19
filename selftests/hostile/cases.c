// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile cases: well-formed requests first, then one malformed thing
 * at a time, each with the outcome the host module must give:
 *
 *   - a completion with a given status byte and used length, and the
 *     matching stats/refused counter of the device grown by one;
 *   - NEEDS_RESET (a broken ring: the device stops, raises a config
 *     interrupt, counts it in stats/ring_errors, and works after a reset);
 *   - nothing (ignored), and the device still serves.
 *
 * After every case the device must not be in NEEDS_RESET, the unmapped and
 * read-only areas of guest memory must be intact, and a good write and read
 * must succeed and match the backing file.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include "hostile.h"

enum {
	USES_MAIN	= 1,
	USES_RO		= 2,
	USES_EMPTY	= 4,
	KNOWN_BUG	= 8,	/* a failure is reported as SKIP unless --strict */
	USES_SLOW	= 16,	/* the device on a slow block device */
	HUGE		= 32,	/* also run with --mem thp and hugetlb */
	USES_DEL	= 64,	/* deletes its device (--del-dev) */
};

#define KNOWN_BUG_SKIP "known bug of the module (see the case); --strict or VQOS_HOSTILE_STRICT=1 to fail"

struct hcase {
	const char *name;
	int (*fn)(void);
	unsigned int flags;
};

static struct {
	struct dev *d;		/* file-backed, read-write, two queues */
	struct dev *ro;		/* read_only=1 */
	struct dev *empty;	/* no backing store */
	struct dev *slow;	/* on a block device that takes ~200 ms per request */
	struct dev *del;	/* file-backed, deleted by its case */
	u64 rng;
} C;

#define ANY		(-1)
#define DBUF		iova(OFF_DATA)
#define RING(off)	iova(OFF_RING + (off))
#define HDR(q)		((struct seg){ hdr_iova(q, 0), 16, 0 })
#define STS(q)		((struct seg){ status_iova(q, 0), 1, VRING_DESC_F_WRITE })
/* W: a buffer the device writes (read data); R: one it reads. */
#define W(a, l)		((struct seg){ (a), (l), VRING_DESC_F_WRITE })
#define R(a, l)		((struct seg){ (a), (l), 0 })
#define NS(a)		ARRAY_SIZE(a)
#define NEEDS_RESET	VIRTIO_CONFIG_S_NEEDS_RESET

static struct vq *q0(struct dev *d)
{
	return &d->vq[0];
}

/* Addresses the harness may scribble on: RW and write-only regions. */
static bool settable(u64 a)
{
	return (a >= iova(OFF_RING) && a < iova(OFF_HOLE)) ||
	       (a >= iova(OFF_WO) && a < iova(OFF_GUARD1));
}

/*
 * Publish chain @head on queue 0 and expect a completion: status byte
 * @status at @st (ANY: not checked), used length @used (ANY: not checked),
 * and stats/refused @reason grown by one (NULL: not checked).
 */
static int expect_done(struct dev *d, u16 head, u64 st, int status, long used,
		       const char *reason)
{
	long before = reason ? sysfs_stat(d, "refused", reason) : -1, after;
	struct result r;

	if (settable(st))
		*(u8 *)gva(d, st) = STATUS_UNSET;
	CHECK(!submit(d, q0(d), head, st, 20000, &r), "");
	CHECK(r.out == OUT_DONE, "expected a completion, got: %s (device status 0x%x)",
	      outcome_name(r.out), r.dev_status);
	CHECK(!(r.dev_status & NEEDS_RESET), "the device also set NEEDS_RESET");
	CHECK(r.id == head, "used id %u, expected head %u", r.id, head);
	if (status != ANY)
		CHECK(r.status == status, "status byte 0x%02x, expected 0x%02x",
		      r.status, status);
	if (used != ANY)
		CHECK(r.len == used, "used len %u, expected %ld", r.len, used);
	if (reason && before >= 0) {
		after = sysfs_stat(d, "refused", reason);
		CHECK(after == before + 1,
		      "stats/refused %s went %ld -> %ld, expected +1", reason,
		      before, after);
	}
	diag("completed: status 0x%02x, used len %u%s%s", r.status, r.len,
	     reason ? ", refused as " : "", reason ? reason : "");
	return 0;
}

/* One request: header @type/@sector at slot 0, then @s, on queue 0. */
static int one(struct dev *d, u32 type, u64 sector, const struct seg *s,
	       unsigned int n, u64 st, int status, long used, const char *reason)
{
	put_hdr(d, q0(d), 0, type, sector);
	put_chain(q0(d), d, 0, s, n);
	return expect_done(d, 0, st, status, used, reason);
}

static int expect_refused(struct dev *d, u16 head, unsigned int ms,
			  const char *what);

static void drain(int fd)
{
	u64 v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* After the device broke: counted, config interrupt, reset works. */
static int broken_after(struct dev *d, long before)
{
	long after = sysfs_stat(d, "ring_errors", NULL);
	u64 v;

	if (before >= 0)
		CHECK(after == before + 1, "stats/ring_errors went %ld -> %ld, expected +1",
		      before, after);
	CHECK(read(d->config_fd, &v, sizeof(v)) == sizeof(v),
	      "no config-change interrupt came with NEEDS_RESET");
	CHECK(!dev_restart(d), "reset and restart after NEEDS_RESET");
	diag("NEEDS_RESET, config interrupt, reset and restart: as expected");
	return 0;
}

/* Publish @head on queue 0: the device must set NEEDS_RESET. */
static int expect_needs_reset(struct dev *d, u16 head)
{
	long before = sysfs_stat(d, "ring_errors", NULL);
	struct result r;

	drain(d->config_fd);
	CHECK(!submit(d, q0(d), head, 0, 30000, &r), "");
	CHECK(r.out == OUT_NEEDS_RESET, "expected NEEDS_RESET, got: %s (device status 0x%x, used len %u)",
	      outcome_name(r.out), r.dev_status, r.len);
	return broken_after(d, before);
}

/* NEEDS_RESET without publishing anything (the rings themselves are bad). */
static int wait_needs_reset(struct dev *d, long before, unsigned int ms)
{
	u64 end = now_ms() + ms;
	int st;

	for (;;) {
		st = dev_status(d);
		CHECK(st >= 0, "");
		if (st & NEEDS_RESET)
			break;
		CHECK(now_ms() < end, "no NEEDS_RESET within %u ms (status 0x%x)",
		      ms, st);
		msleep(5);
	}
	return broken_after(d, before);
}

static void fill_random(void *p, size_t len)
{
	u8 *b = p;
	size_t i;

	for (i = 0; i < len; i += 8) {
		u64 v = rnd64(&C.rng);

		memcpy(b + i, &v, len - i < 8 ? len - i : 8);
	}
}

static int backing_read(struct dev *d, u64 sector, void *buf, u32 len)
{
	CHECK(pread(d->backing_fd, buf, len, sector * SECTOR) == (ssize_t)len,
	      "pread %s: %s", d->backing, strerror(errno));
	return 0;
}

/* ---- well-formed ------------------------------------------------------ */

static int c_config(void)
{
	struct dev *d = C.d;
	struct stat sb;

	CHECK(!fstat(d->backing_fd, &sb), "fstat: %s", strerror(errno));
	CHECK(d->capacity == (u64)sb.st_size / SECTOR,
	      "capacity %llu sectors, the backing file has %lld bytes",
	      (unsigned long long)d->capacity, (long long)sb.st_size);
	CHECK(le32toh(d->cfg.blk_size) == SECTOR, "blk_size %u", le32toh(d->cfg.blk_size));
	CHECK(le32toh(d->cfg.seg_max) == VQOS_SEG_MAX, "seg_max %u", le32toh(d->cfg.seg_max));
	CHECK(le32toh(d->cfg.size_max) == VQOS_SIZE_MAX, "size_max %u", le32toh(d->cfg.size_max));
	CHECK(d->features & (1ULL << VIRTIO_F_VERSION_1), "no VERSION_1");
	CHECK(d->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC), "no INDIRECT_DESC");
	CHECK(d->features & (1ULL << VIRTIO_BLK_F_FLUSH), "no FLUSH");
	CHECK(d->features & (1ULL << VIRTIO_BLK_F_DISCARD), "no DISCARD");
	CHECK(d->features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES), "no WRITE_ZEROES");
	CHECK(!(d->offered & (1ULL << VIRTIO_BLK_F_RO)), "RO offered on a writable device");
	diag("features 0x%llx, capacity %llu sectors, queue size max %u",
	     (unsigned long long)d->features, (unsigned long long)d->capacity,
	     d->qmax);
	return 0;
}

static int c_write_read(void)
{
	return good_io(C.d, q0(C.d), &C.rng);
}

/* The largest request the device advertises: 64 segments of size_max. */
static int c_largest_request(void)
{
	struct dev *d = C.d;
	u32 len = VQOS_MAX_REQ_BYTES;
	u64 sector = d->capacity - len / SECTOR;
	u8 *copy = malloc(len);
	struct result r;
	int ret = -1;

	CHECK(copy, "malloc");
	fill_random(gva(d, DBUF), len);
	memcpy(copy, gva(d, DBUF), len);
	if (blk_io(d, q0(d), VIRTIO_BLK_T_OUT, sector, DBUF, len, &r) ||
	    r.out != OUT_DONE || r.status != VIRTIO_BLK_S_OK) {
		diag("4 MiB write: %s, status %u", outcome_name(r.out), r.status);
		goto out;
	}
	memset(gva(d, DBUF), 0, len);
	if (blk_io(d, q0(d), VIRTIO_BLK_T_IN, sector, DBUF, len, &r) ||
	    r.out != OUT_DONE || r.status != VIRTIO_BLK_S_OK || r.len != len + 1) {
		diag("4 MiB read: %s, status %u, used len %u", outcome_name(r.out),
		     r.status, r.len);
		goto out;
	}
	if (memcmp(copy, gva(d, DBUF), len)) {
		diag("4 MiB read back differs");
		goto out;
	}
	ret = backing_compare(d, sector, copy, len);
out:
	free(copy);
	return ret;
}

static int c_indirect(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct seg s[18];
	u8 *copy = malloc(SZ_64K);
	unsigned int i;

	CHECK(copy, "malloc");
	fill_random(gva(d, DBUF), SZ_64K);
	memcpy(copy, gva(d, DBUF), SZ_64K);
	s[0] = HDR(q);
	for (i = 0; i < 16; i++)
		s[1 + i] = R(DBUF + i * SZ_4K, SZ_4K);
	s[17] = STS(q);
	put_hdr(d, q, 0, VIRTIO_BLK_T_OUT, 64);
	put_indirect(q, d, 0, RING(R_INDIRECT), s, 18);
	if (expect_done(d, 0, status_iova(q, 0), VIRTIO_BLK_S_OK, 1, NULL))
		goto fail;
	for (i = 0; i < 16; i++)
		s[1 + i] = W(DBUF + SZ_64K + i * SZ_4K, SZ_4K);
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 64);
	put_indirect(q, d, 0, RING(R_INDIRECT), s, 18);
	if (expect_done(d, 0, status_iova(q, 0), VIRTIO_BLK_S_OK, SZ_64K + 1, NULL))
		goto fail;
	if (memcmp(copy, gva(d, DBUF + SZ_64K), SZ_64K)) {
		diag("read back through an indirect table differs");
		goto fail;
	}
	free(copy);
	return backing_compare(d, 64, gva(d, DBUF), SZ_64K);
fail:
	free(copy);
	return -1;
}

/* 32 requests published at once with one kick; each completes once. */
static int batch(struct dev *d, u32 type, u64 data, u32 len, u64 sector)
{
	struct vq *q = q0(d);
	u16 start = q->avail_idx;
	bool seen[32] = { false };
	struct result r;
	unsigned int i;

	for (i = 0; i < 32; i++) {
		struct seg s[3] = {
			{ hdr_iova(q, i), 16, 0 },
			{ data + i * len, len,
			  type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0 },
			{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
		};

		put_hdr(d, q, i, type, sector + i * (len / SECTOR));
		*(u8 *)gva(d, status_iova(q, i)) = STATUS_UNSET;
		publish(d, q, put_chain(q, d, 3 * i, s, 3));
	}
	kick(q);
	wait_used(d, q, q->avail_idx, 20000, &r);
	CHECK(r.out == OUT_DONE, "32 requests: %s, used idx %u of %u",
	      outcome_name(r.out), used_idx(d, q), q->avail_idx);
	for (i = 0; i < 32; i++) {
		struct vring_used_elem *e = &((struct vring_used *)gva(d, q->used_iova))
						->ring[(u16)(start + i) % q->num];
		u32 id = le32toh(e->id), want = type == VIRTIO_BLK_T_IN ? len + 1 : 1;

		CHECK(id % 3 == 0 && id / 3 < 32 && !seen[id / 3],
		      "used entry %u has id %u: not a head, or completed twice", i, id);
		seen[id / 3] = true;
		CHECK(le32toh(e->len) == want, "head %u: used len %u, expected %u",
		      id, le32toh(e->len), want);
		CHECK(*(u8 *)gva(d, status_iova(q, id / 3)) == VIRTIO_BLK_S_OK,
		      "request %u: status 0x%02x", id / 3,
		      *(u8 *)gva(d, status_iova(q, id / 3)));
	}
	return 0;
}

static int c_batch(void)
{
	struct dev *d = C.d;
	u32 len = 8192;

	fill_random(gva(d, DBUF), 32 * len);
	CHECK(!batch(d, VIRTIO_BLK_T_OUT, DBUF, len, 4096), "");
	memset(gva(d, DBUF + SZ_64K * 8), 0, 32 * len);
	CHECK(!batch(d, VIRTIO_BLK_T_IN, DBUF + SZ_64K * 8, len, 4096), "");
	CHECK(!memcmp(gva(d, DBUF), gva(d, DBUF + SZ_64K * 8), 32 * len),
	      "32 reads returned other data than the 32 writes");
	return backing_compare(d, 4096, gva(d, DBUF), 32 * len);
}

static int c_flush_get_id(void)
{
	struct dev *d = C.d;
	char id[VQOS_ID_BYTES + 1] = "";
	struct result r;

	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_FLUSH, 0, 0, 0, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK && r.len == 1,
	      "flush: %s, status %u, used len %u", outcome_name(r.out), r.status, r.len);
	memset(gva(d, DBUF), 0x55, 64);
	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_GET_ID, 0, DBUF, 64, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK &&
	      r.len == VQOS_ID_BYTES + 1,
	      "GET_ID: %s, status %u, used len %u", outcome_name(r.out),
	      r.status, r.len);
	memcpy(id, gva(d, DBUF), VQOS_ID_BYTES);
	CHECK(!strncmp(id, d->name, VQOS_ID_BYTES), "GET_ID says '%s', the device is '%s'",
	      id, d->name);
	CHECK(*(u8 *)gva(d, DBUF + VQOS_ID_BYTES) == 0x55,
	      "GET_ID wrote past the 20 bytes of the id");
	return 0;
}

static int dwz(struct dev *d, u32 type, u64 sector, u32 nr, u32 flags,
	       int status, const char *reason)
{
	struct vq *q = q0(d);
	struct virtio_blk_discard_write_zeroes *seg = gva(d, DBUF + 3 * SZ_64K);
	struct seg s[3] = { HDR(q), R(DBUF + 3 * SZ_64K, sizeof(*seg)), STS(q) };

	seg->sector = htole64(sector);
	seg->num_sectors = htole32(nr);
	seg->flags = htole32(flags);
	return one(d, type, 0, s, 3, status_iova(q, 0), status, 1, reason);
}

static int read_zeroes(struct dev *d, u64 sector, u32 len)
{
	struct result r;
	u8 *b = gva(d, DBUF + SZ_64K);
	u32 i;

	memset(b, 0x77, len);
	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_IN, sector, DBUF + SZ_64K, len, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK, "read: %s status %u",
	      outcome_name(r.out), r.status);
	for (i = 0; i < len; i++)
		CHECK(!b[i], "byte %u of sector %llu is 0x%02x after discard/write-zeroes",
		      i, (unsigned long long)sector, b[i]);
	return backing_compare(d, sector, b, len);
}

static int write_pattern(struct dev *d, u64 sector, u32 len)
{
	struct result r;

	fill_random(gva(d, DBUF), len);
	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_OUT, sector, DBUF, len, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK, "write: %s status %u",
	      outcome_name(r.out), r.status);
	return 0;
}

static int c_discard_write_zeroes(void)
{
	struct dev *d = C.d;

	CHECK(!write_pattern(d, 1000, 4096), "");
	CHECK(!dwz(d, VIRTIO_BLK_T_DISCARD, 1000, 8, 0, VIRTIO_BLK_S_OK, NULL), "");
	CHECK(!read_zeroes(d, 1000, 4096), "");
	CHECK(!write_pattern(d, 1000, 4096), "");
	CHECK(!dwz(d, VIRTIO_BLK_T_WRITE_ZEROES, 1000, 8, 0, VIRTIO_BLK_S_OK, NULL), "");
	CHECK(!read_zeroes(d, 1000, 4096), "");
	CHECK(!write_pattern(d, 1000, 4096), "");
	CHECK(!dwz(d, VIRTIO_BLK_T_WRITE_ZEROES, 1000, 8,
		   VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, VIRTIO_BLK_S_OK, NULL), "");
	return read_zeroes(d, 1000, 4096);
}

static int c_last_sector(void)
{
	struct dev *d = C.d;
	struct result r;

	CHECK(!write_pattern(d, d->capacity - 1, SECTOR), "");
	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_IN, d->capacity - 1, DBUF + SZ_64K,
		      SECTOR, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK, "read: %s status %u",
	      outcome_name(r.out), r.status);
	CHECK(!memcmp(gva(d, DBUF), gva(d, DBUF + SZ_64K), SECTOR), "last sector differs");
	return 0;
}

static int c_zero_length_read(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 0), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_OK, 1, NULL);
}

static int c_header_split(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { R(hdr_iova(q, 0), 8), R(hdr_iova(q, 0) + 8, 8),
			   W(DBUF, 512), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_OK, 513, NULL);
}

static int c_status_in_data(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 513) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), DBUF + 512,
		   VIRTIO_BLK_S_OK, 513, NULL);
}

static int c_status_write_only_mapping(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 512), W(iova(OFF_WO + 0x100), 1) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), iova(OFF_WO + 0x100),
		   VIRTIO_BLK_S_OK, 513, NULL);
}

/* ---- queues ----------------------------------------------------------- */

static int no_completion(struct dev *d, struct vq *q, unsigned int ms)
{
	struct result r;

	wait_used(d, q, q->avail_idx, ms, &r);
	CHECK(r.out == OUT_TIMEOUT, "expected nothing, got: %s (device status 0x%x)",
	      outcome_name(r.out), r.dev_status);
	return 0;
}

static int vring_file(struct dev *d, unsigned long req, unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return ioctl(d->fd, req, &f) ? -errno : 0;
}

static int c_kick_unset_queues(void)
{
	struct dev *d = C.d;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	u64 one_ = 1;
	int ret, i;

	CHECK(efd >= 0, "eventfd");
	/* Queue 1 exists (num_queues=2) but was never set up. */
	CHECK(!vring_file(d, VHOST_SET_VRING_KICK, 1, d->vq[1].kick_fd), "kick fd on queue 1");
	for (i = 0; i < 3; i++)
		kick(&d->vq[1]);
	/*
	 * Queues 7 and 16 are beyond num_queues: the device registers only
	 * num_queues virtqueues, so vhost-vdpa refuses them itself.
	 */
	ret = vring_file(d, VHOST_SET_VRING_KICK, 7, efd);
	CHECK(ret == -ENOBUFS, "kick fd on queue 7: %s, expected ENOBUFS", strerror(-ret));
	ret = vring_file(d, VHOST_SET_VRING_KICK, 16, efd);
	CHECK(ret == -ENOBUFS, "kick fd on queue 16: %s, expected ENOBUFS", strerror(-ret));
	for (i = 0; i < 3; i++)
		CHECK(write(efd, &one_, 8) == 8, "write the unbound eventfd");
	msleep(200);
	close(efd);
	ret = dev_status(d);
	CHECK(ret == 0xf, "device status 0x%x after kicks on dead queues", ret);
	diag("kicks on queue 1 (never set up) ignored, queues 7 and 16 refused");
	return 0;
}

/*
 * QEMU's vhost-vdpa-device-pci enables every virtqueue the device
 * registers, also those its guest never set up (a 2-vCPU guest on a
 * 4-queue disk uses two): a queue enabled with no ring stays off, and
 * quietly, as a VMM that does this on every boot must not fill the
 * host's log. Queue 0 serves on.
 */
static int c_enable_unset_queue(void)
{
	struct dev *d = C.d;
	struct vhost_vring_state st = { .index = 1, .num = 1 };
	char rec[8192];
	int fd, found = 0;
	ssize_t n;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0, "open /dev/kmsg: %s", strerror(errno));
	lseek(fd, 0, SEEK_END);
	if (ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st)) {
		diag("enable queue 1 (never set up): %s", strerror(errno));
		close(fd);
		return -1;
	}
	st.num = 0;
	if (ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st)) {
		diag("disable queue 1 again: %s", strerror(errno));
		close(fd);
		return -1;
	}
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		/* A suppressed line counts too: the limit is shared. */
		if (strstr(rec, "cannot enable queue") ||
		    strstr(rec, "callbacks suppressed")) {
			diag("kernel log: %.*s", (int)strcspn(rec, "\n"), rec);
			found = 1;
		}
	}
	close(fd);
	CHECK(!found, "enabling a queue that was never set up logged a warning");
	CHECK(!good_io(d, q0(d), &C.rng), "I/O on queue 0 after queue 1's enable");
	CHECK(dev_status(d) == 0xf, "device status 0x%x", dev_status(d));
	return 0;
}

/*
 * The device registers num_queues virtqueues: vhost-vdpa reports that many
 * to a VMM (VHOST_VDPA_GET_VQS_COUNT) and refuses the others.
 */
static int c_enable_beyond_num_queues(void)
{
	struct dev *d = C.d;
	struct vhost_vring_state st = { .index = 5, .num = RING_NUM };
	unsigned int nq = 0;
	char path[256];
	u32 count = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s/vqos/num_queues", d->name);
	f = fopen(path, "re");
	CHECK(f && fscanf(f, "%u", &nq) == 1, "read %s", path);
	fclose(f);
	CHECK(!ioctl(d->fd, VHOST_VDPA_GET_VQS_COUNT, &count), "VHOST_VDPA_GET_VQS_COUNT: %s",
	      strerror(errno));
	CHECK(count == nq, "%u virtqueues registered, num_queues is %u", count, nq);
	errno = 0;
	CHECK(ioctl(d->fd, VHOST_SET_VRING_NUM, &st) < 0 && errno == ENOBUFS,
	      "VHOST_SET_VRING_NUM on queue 5: %s, expected ENOBUFS", strerror(errno));
	return 0;
}

static int c_oversized_ring(void)
{
	struct dev *d = C.d;
	struct vq *q = &d->vq[1];
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };
	int ret;

	q->num = 2 * d->qmax;	/* vhost takes it, the device must not */
	CHECK(!vq_setup(d, q), "set up queue 1 with %u entries", q->num);
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	publish(d, q, put_chain(q, d, 0, s, NS(s)));
	kick(q);
	ret = no_completion(d, q, 1000);
	q->num = d->qmax < RING_NUM ? d->qmax : RING_NUM;
	memset(d->mem + OFF_RING1, 0, SZ_64K);
	return ret;
}

/* Queue 1 enabled while the device runs, used, then disabled again. */
static int c_second_queue(void)
{
	struct dev *d = C.d;
	struct vhost_vring_state st = { .index = 1, .num = 0 };

	CHECK(!vq_setup(d, &d->vq[1]), "set up queue 1");
	CHECK(!good_io(d, &d->vq[1], &C.rng), "I/O on queue 1");
	CHECK(!good_io(d, &d->vq[0], &C.rng), "I/O on queue 0");
	CHECK(!ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st), "disable queue 1: %s",
	      strerror(errno));
	return 0;
}

/* ---- status buffer ---------------------------------------------------- */

static int c_no_status(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   STATUS_UNSET, 0, "no_status");
}

static int c_no_status_write(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(DBUF, 512) };

	return one(C.d, VIRTIO_BLK_T_OUT, 0, s, NS(s), status_iova(q, 0),
		   STATUS_UNSET, 0, "no_status");
}

static int c_status_readable(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(DBUF, 512), R(status_iova(q, 0), 1) };

	return one(C.d, VIRTIO_BLK_T_OUT, 0, s, NS(s), status_iova(q, 0),
		   STATUS_UNSET, 0, "no_status");
}

static int c_readable_after_writable(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 512), R(status_iova(q, 0), 1) };

	put_hdr(C.d, q, 0, VIRTIO_BLK_T_IN, 0);
	return expect_needs_reset(C.d, put_chain(q, C.d, 0, s, NS(s)));
}

static int c_status_read_only_mapping(void)
{
	struct vq *q = q0(C.d);
	u64 st = iova(OFF_RO + 0x100);
	struct seg s[] = { HDR(q), W(DBUF, 512), W(st, 1) };

	/* The data is read, the status cannot be written: used len 512. */
	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), st, ANY, 512, "bad_access");
}

static int c_status_unmapped(void)
{
	struct vq *q = q0(C.d);
	u64 st = iova(OFF_HOLE + 0x100);
	struct seg s[] = { HDR(q), W(DBUF, 512), W(st, 1) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), st, CANARY, 512, "bad_access");
}

/* ---- header ----------------------------------------------------------- */

static int c_header_empty(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { R(hdr_iova(q, 0), 0), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "short_header");
}

static int c_header_15(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { R(hdr_iova(q, 0), 15), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "short_header");
}

static int c_header_unmapped(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { R(iova(OFF_HOLE), 16), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access");
}

static int c_header_write_only(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { R(iova(OFF_WO), 16), W(DBUF, 512), STS(q) };

	memset(gva(C.d, iova(OFF_WO)), 0, 16);	/* a valid read of sector 0 */
	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access");
}

/* ---- lengths ---------------------------------------------------------- */

static int c_unaligned(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 511), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "unaligned");
}

static int c_too_big(void)
{
	struct vq *q = q0(C.d);
	struct seg s[VQOS_SEG_MAX + 3];
	unsigned int i, n = 0;

	s[n++] = HDR(q);
	for (i = 0; i < VQOS_SEG_MAX; i++)
		s[n++] = W(DBUF + i * (u64)VQOS_SIZE_MAX, VQOS_SIZE_MAX);
	s[n++] = W(DBUF + DATA_BUF_SIZE, 512);
	s[n++] = STS(q);
	return one(C.d, VIRTIO_BLK_T_IN, 0, s, n, status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "too_big");
}

static int c_huge_length(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 0xfffffe00), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "too_big");
}

/* 2 x 2 GiB: 4 GiB of data, which a 32-bit sum would see as 0 bytes. */
static int c_length_sum_4g(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 0x80000000), W(DBUF, 0x80000000), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "too_big");
}

static int c_address_wraps(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(0xfffffffffffffe00ULL, 1024), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access");
}

/* ---- buffers outside the mapping or against its permissions ------------ */

static int c_read_into_unmapped(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(iova(OFF_HOLE), 4096), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access");
}

/*
 * A read refused after admission (its buffer is unmapped) has taken a slot
 * in its pool: more of them than a file's pool is deep (128), then a good
 * read must still complete, or the device stalls for good.
 */
static int c_refused_after_slot(void)
{
	struct vq *q = q0(C.d);
	struct seg bad[] = { HDR(q), W(iova(OFF_HOLE), 4096), STS(q) };
	struct seg good[] = { HDR(q), W(DBUF, 4096), STS(q) };
	int i;

	for (i = 0; i < 300; i++)
		CHECK(!one(C.d, VIRTIO_BLK_T_IN, 0, bad, NS(bad),
			   status_iova(q, 0), VIRTIO_BLK_S_IOERR, 1,
			   "bad_access"), "refused read %d", i);
	return one(C.d, VIRTIO_BLK_T_IN, 0, good, NS(good), status_iova(q, 0),
		   VIRTIO_BLK_S_OK, 4097, NULL);
}

/* The refused write must leave the disk as it was. */
static int refused_write(struct dev *d, const struct seg *s, unsigned int n,
			 u64 sector, const char *reason)
{
	u8 before[4096], after[4096];
	struct vq *q = q0(d);

	CHECK(!backing_read(d, sector, before, sizeof(before)), "");
	CHECK(!one(d, VIRTIO_BLK_T_OUT, sector, s, n, status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, reason), "");
	CHECK(!backing_read(d, sector, after, sizeof(after)), "");
	CHECK(!memcmp(before, after, sizeof(before)),
	      "the refused write changed the backing store");
	return 0;
}

static int c_write_from_unmapped(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(iova(OFF_HOLE), 4096), STS(q) };

	return refused_write(C.d, s, NS(s), 8, "bad_access");
}

/* 8 KiB from 4 KiB below the hole: refused whole, nothing half-written. */
static int c_read_straddles_mapping_end(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u64 a = iova(OFF_HOLE - SZ_4K);
	struct seg s[] = { HDR(q), W(a, 8192), STS(q) };
	u8 *p = gva(d, a);
	unsigned int i;

	memset(p, 0x5a, SZ_4K);
	CHECK(!one(d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access"), "");
	for (i = 0; i < SZ_4K; i++)
		CHECK(p[i] == 0x5a, "the refused read wrote the mapped half (offset %u)", i);
	return 0;
}

static int c_read_into_read_only(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(iova(OFF_RO), 4096), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access");
}

static int c_write_from_write_only(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(iova(OFF_WO), 4096), STS(q) };

	return refused_write(C.d, s, NS(s), 16, "bad_access");
}

/* ---- layout and type -------------------------------------------------- */

static int c_write_with_writable_data(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };

	return refused_write(C.d, s, NS(s), 24, "bad_layout");
}

static int c_read_with_readable_data(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(DBUF, 512), STS(q) };

	return one(C.d, VIRTIO_BLK_T_IN, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_layout");
}

static int c_flush_with_data(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(DBUF, 512), STS(q) };

	return one(C.d, VIRTIO_BLK_T_FLUSH, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_layout");
}

static int c_get_id_without_buffer(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), STS(q) };

	return one(C.d, VIRTIO_BLK_T_GET_ID, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_layout");
}

static int c_unsupported_types(void)
{
	static const u32 types[] = { 2 /* SCSI_CMD */, 10 /* GET_LIFETIME */,
				     VIRTIO_BLK_T_SECURE_ERASE, 0x1234,
				     0x7fffffff, VIRTIO_BLK_T_BARRIER };
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };
	unsigned int i;

	for (i = 0; i < NS(types); i++) {
		diag("type 0x%x:", types[i]);
		CHECK(!one(C.d, types[i], 0, s, NS(s), status_iova(q, 0),
			   VIRTIO_BLK_S_UNSUPP, 1, "bad_type"), "");
	}
	return 0;
}

/* ---- sectors ------------------------------------------------------------ */

static int read_at(u64 sector, u32 len, int status, const char *reason)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), W(DBUF, len), STS(q) };

	diag("read of %u bytes at sector 0x%llx:", len, (unsigned long long)sector);
	return one(C.d, VIRTIO_BLK_T_IN, sector, s, NS(s), status_iova(q, 0),
		   status, status == VIRTIO_BLK_S_OK ? len + 1 : 1, reason);
}

static int c_sector_at_capacity(void)
{
	return read_at(C.d->capacity, 512, VIRTIO_BLK_S_IOERR, "out_of_range");
}

static int c_sector_straddles_end(void)
{
	return read_at(C.d->capacity - 1, 1024, VIRTIO_BLK_S_IOERR, "out_of_range");
}

/* sector * 512 wraps to a small offset: must not be read from there. */
static int c_sector_overflow(void)
{
	static const u64 sectors[] = { 1ULL << 55, (1ULL << 55) + 1, UINT64_MAX,
				       UINT64_MAX - 1, (1ULL << 55) - 1,
				       UINT64_MAX / 512 + 1 };
	unsigned int i;

	for (i = 0; i < NS(sectors); i++)
		CHECK(!read_at(sectors[i], 1024, VIRTIO_BLK_S_IOERR, "out_of_range"), "");
	return 0;
}

/* ---- discard and write-zeroes segments ---------------------------------- */

static int c_dwz_bad_flags(void)
{
	CHECK(!dwz(C.d, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
		   VIRTIO_BLK_S_UNSUPP, "bad_flags"), "");
	return dwz(C.d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0x80000000,
		   VIRTIO_BLK_S_UNSUPP, "bad_flags");
}

static int c_dwz_out_of_range(void)
{
	u64 cap = C.d->capacity;

	CHECK(!dwz(C.d, VIRTIO_BLK_T_DISCARD, cap - 1, 2, 0, VIRTIO_BLK_S_IOERR,
		   "out_of_range"), "");
	CHECK(!dwz(C.d, VIRTIO_BLK_T_DISCARD, UINT64_MAX, 1, 0, VIRTIO_BLK_S_IOERR,
		   "out_of_range"), "");
	return dwz(C.d, VIRTIO_BLK_T_WRITE_ZEROES, 1ULL << 55, 8, 0,
		   VIRTIO_BLK_S_IOERR, "out_of_range");
}

static int c_dwz_too_big(void)
{
	return dwz(C.d, VIRTIO_BLK_T_WRITE_ZEROES, 0, (1U << 21) + 1, 0,
		   VIRTIO_BLK_S_IOERR, "too_big");
}

static int c_dwz_two_segments(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(DBUF, 32), STS(q) };

	memset(gva(C.d, DBUF), 0, 32);
	return one(C.d, VIRTIO_BLK_T_DISCARD, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_layout");
}

static int c_dwz_segment_unmapped(void)
{
	struct vq *q = q0(C.d);
	struct seg s[] = { HDR(q), R(iova(OFF_HOLE), 16), STS(q) };

	return one(C.d, VIRTIO_BLK_T_DISCARD, 0, s, NS(s), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "bad_access");
}

/* ---- descriptor chains -------------------------------------------------- */

static void desc_raw(struct dev *d, struct vring_desc *t, unsigned int i,
		     u64 addr, u32 len, u16 flags, u16 next)
{
	(void)d;
	t[i].addr = htole64(addr);
	t[i].len = htole32(len);
	t[i].flags = htole16(flags);
	t[i].next = htole16(next);
}

static struct vring_desc *dtab(struct dev *d)
{
	return gva(d, q0(d)->desc_iova);
}

static int c_loop(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);

	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, dtab(d), 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 1);
	desc_raw(d, dtab(d), 1, DBUF, 512, VRING_DESC_F_NEXT, 0);
	return expect_needs_reset(d, 0);
}

static int c_self_loop(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);

	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, dtab(d), 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 0);
	return expect_needs_reset(d, 0);
}

static int c_next_out_of_range(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);

	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, dtab(d), 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, q->num);
	CHECK(!expect_needs_reset(d, 0), "next = %u", q->num);
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, dtab(d), 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 0xffff);
	CHECK(!expect_needs_reset(d, 0), "next = 0xffff");
	return 0;
}

static int c_head_out_of_range(void)
{
	struct dev *d = C.d;

	CHECK(!expect_needs_reset(d, q0(d)->num), "head = num");
	return expect_needs_reset(d, 0xffff);
}

/* A chain through every descriptor of the ring: legal, served. */
static int c_chain_of_ring_size(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	unsigned int n = q->num, i;
	struct seg *s = calloc(n, sizeof(*s));

	CHECK(s, "calloc");
	s[0] = HDR(q);
	for (i = 1; i < n - 1; i++)
		s[i] = W(DBUF + (i - 1) * 512ULL, 512);
	s[n - 1] = STS(q);
	i = one(d, VIRTIO_BLK_T_IN, 0, s, n, status_iova(q, 0), VIRTIO_BLK_S_OK,
		(n - 2) * 512 + 1, NULL);
	free(s);
	CHECK(!i, "");
	return backing_compare(d, 0, gva(d, DBUF), (n - 2) * 512);
}

static int indirect_raw(struct dev *d, u64 table, u32 len)
{
	desc_raw(d, dtab(d), 0, table, len, VRING_DESC_F_INDIRECT, 0);
	return expect_needs_reset(d, 0);
}

static int c_indirect_loop(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct vring_desc *t = gva(d, RING(R_INDIRECT));

	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, t, 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 1);
	desc_raw(d, t, 1, DBUF, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc_raw(d, t, 2, status_iova(q, 0), 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	return indirect_raw(d, RING(R_INDIRECT), 3 * 16);
}

static int c_indirect_nested(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct vring_desc *t = gva(d, RING(R_INDIRECT));

	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, t, 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 1);
	desc_raw(d, t, 1, RING(R_INDIRECT), 3 * 16, VRING_DESC_F_INDIRECT, 0);
	return indirect_raw(d, RING(R_INDIRECT), 2 * 16);
}

static int c_indirect_bad_length(void)
{
	return indirect_raw(C.d, RING(R_INDIRECT), 24);
}

static int c_indirect_empty(void)
{
	return indirect_raw(C.d, RING(R_INDIRECT), 0);
}

static int c_indirect_unmapped(void)
{
	return indirect_raw(C.d, iova(OFF_HOLE), 3 * 16);
}

static int c_indirect_write_only(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };

	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	put_indirect(q, d, 0, iova(OFF_WO), s, NS(s));
	return expect_needs_reset(d, 0);
}

/*
 * An indirect chain of @n descriptors: the header, @n - 2 reads of 512
 * bytes, the status.
 */
static void indirect_chain(struct dev *d, unsigned int n, struct seg *s)
{
	struct vq *q = q0(d);
	unsigned int i;

	s[0] = HDR(q);
	for (i = 1; i < n - 1; i++)
		s[i] = W(DBUF + (i - 1) * 512ULL, 512);
	s[n - 1] = STS(q);
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	put_indirect(q, d, 0, RING(R_INDIRECT), s, n);
}

/*
 * Through an indirect table, a chain as long as the ring is served; one
 * of 1025 descriptors, longer than any queue may be (VQOS_MAX_QUEUE_SIZE;
 * virtio forbids chains longer than the queue), is refused (issue 13 #7:
 * bounded chains).
 */
static int c_indirect_longer_than_ring(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	unsigned int n = q->num, big = VQOS_MAX_QUEUE_SIZE + 1;
	struct seg *s = calloc(big, sizeof(*s));
	int ret;

	CHECK(s, "calloc");
	CHECK(big * 16 <= R_INDIRECT_SIZE, "table too big for the ring area");
	indirect_chain(d, n, s);
	ret = expect_done(d, 0, status_iova(q, 0), VIRTIO_BLK_S_OK,
			  (n - 2) * 512 + 1, NULL);
	if (!ret)
		ret = backing_compare(d, 0, gva(d, DBUF), (n - 2) * 512);
	if (!ret) {
		indirect_chain(d, big, s);
		ret = expect_refused(d, 0, 10000, "an indirect chain of 1025 descriptors");
	}
	free(s);
	return ret;
}

/*
 * An indirect table as long as a 16-bit next field can chain: 65535
 * entries, 65532 of them empty, around a 512-byte read: refused (IOERR or
 * NEEDS_RESET), without an allocation warning. One entry more and the
 * last next index wraps to 0: a loop, NEEDS_RESET.
 */
static int c_indirect_max_chain(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	unsigned int n = 65535, i;
	u64 table = DBUF;
	u64 buf = DBUF + 16ULL * 65536;
	struct vring_desc *t = gva(d, table);

	CHECK(16ULL * 65536 + 4096 <= DATA_BUF_SIZE, "table does not fit");
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, t, 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 1);
	for (i = 1; i < n - 2; i++)
		desc_raw(d, t, i, buf, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, i + 1);
	desc_raw(d, t, n - 2, buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, n - 1);
	desc_raw(d, t, n - 1, status_iova(q, 0), 1, VRING_DESC_F_WRITE, 0);
	desc_raw(d, dtab(d), 0, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	CHECK(!expect_refused(d, 0, 10000, "65535 descriptors in one indirect table"), "");

	/* 65536 entries: the last one's next (i + 1) is 0 in 16 bits. */
	n = 65536;
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	for (i = 0; i < n; i++)
		desc_raw(d, t, i, i ? buf : hdr_iova(q, 0), i ? 0 : 16,
			 VRING_DESC_F_NEXT | (i ? VRING_DESC_F_WRITE : 0), (u16)(i + 1));
	desc_raw(d, dtab(d), 0, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	return expect_needs_reset(d, 0);
}

/*
 * An indirect descriptor claiming 200000 entries over a table of 65536
 * that chains back to its start: the walk stops at 200000 (a loop) or
 * when the host cannot hold the iovecs, past 135168 entries (4 MiB of
 * them). NEEDS_RESET either way, and no allocation warning: the guest sizes
 * that allocation, it must fail quietly.
 */
static int c_indirect_cycle(void)
{
	struct dev *d = C.d;
	struct vring_desc *t = gva(d, DBUF);
	u64 buf = DBUF + 16ULL * 65536;
	unsigned int i;

	CHECK(16ULL * 65536 + 4096 <= DATA_BUF_SIZE, "table does not fit");
	for (i = 0; i < 65536; i++)
		desc_raw(d, t, i, buf, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			 (u16)(i + 1));
	desc_raw(d, dtab(d), 0, DBUF, 16 * 200000, VRING_DESC_F_INDIRECT, 0);
	return expect_needs_reset(d, 0);
}

/* ---- indexes ------------------------------------------------------------ */

/* Descriptors 0-2: a GET_ID, completed by the worker itself. */
static void get_id_everywhere(struct dev *d, struct vq *q)
{
	struct seg s[] = { HDR(q), W(DBUF, VQOS_ID_BYTES), STS(q) };
	struct vring_avail *a = gva(d, q->avail_iova);
	unsigned int i;

	put_hdr(d, q, 0, VIRTIO_BLK_T_GET_ID, 0);
	put_chain(q, d, 0, s, NS(s));
	for (i = 0; i < q->num; i++)
		a->ring[i] = htole16(0);
}

/*
 * avail->idx jumps by more than the ring size: the device serves the
 * stale entries of the ring again (vringh does not check the distance);
 * harmless to the host, and the device goes on.
 */
static int c_avail_jump(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u16 from = q->avail_idx, to = from + q->num + 16;
	struct result r;

	get_id_everywhere(d, q);
	publish_idx(d, q, to);
	kick(q);
	wait_used(d, q, to, 60000, &r);
	CHECK(r.out == OUT_DONE || r.out == OUT_NEEDS_RESET,
	      "avail idx %u -> %u: %s, used idx %u", from, to, outcome_name(r.out),
	      used_idx(d, q));
	diag("avail idx %u -> %u (%u entries): %s, used idx %u", from, to,
	     (u16)(to - from), outcome_name(r.out), used_idx(d, q));
	if (r.out == OUT_NEEDS_RESET)
		CHECK(!dev_restart(d), "");
	return 0;
}

static int snapshot_compare(struct dev *d, u64 off, u64 len, unsigned int ms,
			    const char *what)
{
	u8 *copy = malloc(len);
	u64 i;

	CHECK(copy, "malloc");
	memcpy(copy, d->mem + off, len);
	msleep(ms);
	for (i = 0; i < len; i++) {
		if (copy[i] != d->mem[off + i]) {
			diag("%s: byte at iova 0x%llx changed from 0x%02x to 0x%02x %u ms after it returned",
			     what, (unsigned long long)iova(off + i), copy[i],
			     d->mem[off + i], ms);
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

/*
 * avail->idx moved back by one: 65535 stale entries to serve. The device
 * floods only itself, and a reset stops it promptly.
 */
static int c_avail_backwards_then_reset(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u16 from = q->avail_idx, u1, u2;
	u64 t0, ms;

	get_id_everywhere(d, q);
	publish_idx(d, q, from - 1);
	kick(q);
	msleep(300);
	u1 = used_idx(d, q);
	msleep(300);
	u2 = used_idx(d, q);
	diag("avail idx %u -> %u: used idx %u after 300 ms, %u after 600 ms",
	     from, (u16)(from - 1), u1, u2);
	t0 = now_ms();
	CHECK(!set_status(d, 0), "");
	ms = now_ms() - t0;
	diag("reset took %llu ms, used idx %u", (unsigned long long)ms, used_idx(d, q));
	CHECK(ms < 10000, "reset took %llu ms", (unsigned long long)ms);
	CHECK(!snapshot_compare(d, q->area, SZ_64K, 300, "ring area after reset"), "");
	CHECK(!dev_restart(d), "");
	return 0;
}

/* ---- ring addresses ----------------------------------------------------- */

/* Restart with queue 0's rings elsewhere; the device must break. */
static int bad_ring(u64 *field, u64 where, bool publish_one)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	long before = sysfs_stat(d, "ring_errors", NULL);
	int ret;

	CHECK(!dev_reset(d), "");
	*field = where;
	drain(d->config_fd);
	CHECK(!dev_start(d), "");
	if (publish_one) {
		struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };

		put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
		if (settable(q->desc_iova))
			put_chain(q, d, 0, s, NS(s));
		/* publish() writes the avail ring, which is ours here. */
		publish(d, q, 0);
		kick(q);
	}
	ret = wait_needs_reset(d, before, 30000);
	vq_default_layout(d, q);
	if (ret)
		dev_restart(d);
	return ret;
}

static int c_desc_table_unmapped(void)
{
	return bad_ring(&q0(C.d)->desc_iova, iova(OFF_HOLE), true);
}

static int c_desc_table_write_only(void)
{
	return bad_ring(&q0(C.d)->desc_iova, iova(OFF_WO), true);
}

static int c_avail_ring_unmapped(void)
{
	return bad_ring(&q0(C.d)->avail_iova, iova(OFF_HOLE), false);
}

static int c_used_ring_read_only(void)
{
	return bad_ring(&q0(C.d)->used_iova, iova(OFF_RO), true);
}

static int c_used_ring_unmapped(void)
{
	return bad_ring(&q0(C.d)->used_iova, iova(OFF_HOLE + 0x1000), true);
}

/* vhost checks avail/used alignment, not the table's: served anyway. */
static int c_desc_table_unaligned(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };

	CHECK(!dev_reset(d), "");
	q->desc_iova = RING(R_INDIRECT + 1);
	CHECK(!dev_start(d), "");
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	put_chain(q, d, 0, s, NS(s));
	CHECK(!expect_done(d, 0, status_iova(q, 0), VIRTIO_BLK_S_OK, 513, NULL), "");
	CHECK(!dev_restart(d), "");
	return 0;
}

/* ---- reset and IOTLB changes with requests in flight ---------------------- */

/* 32 reads and writes of 64 KiB, published with one kick. */
static u16 flood(struct dev *d, struct vq *q)
{
	unsigned int i;

	fill_random(gva(d, DBUF), 32 * SZ_64K);
	for (i = 0; i < 32; i++) {
		u32 type = i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		struct seg s[3] = {
			{ hdr_iova(q, i), 16, 0 },
			{ DBUF + i * SZ_64K, SZ_64K,
			  type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0 },
			{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
		};

		put_hdr(d, q, i, type, 8192 + i * 128);
		*(u8 *)gva(d, status_iova(q, i)) = STATUS_UNSET;
		publish(d, q, put_chain(q, d, 3 * i, s, 3));
	}
	kick(q);
	return q->avail_idx;
}

static int c_reset_mid_request(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u64 t0, ms;
	long inflight;

	flood(d, q);
	t0 = now_ms();
	CHECK(!set_status(d, 0), "");
	ms = now_ms() - t0;
	inflight = sysfs_stat(d, "inflight", NULL);
	diag("reset with 32 requests in flight took %llu ms; used idx %u of 32; inflight %ld",
	     (unsigned long long)ms, used_idx(d, q), inflight);
	CHECK(ms < 10000, "reset took %llu ms", (unsigned long long)ms);
	CHECK(inflight <= 0, "stats/inflight is %ld after reset", inflight);
	CHECK(!snapshot_compare(d, q->area, SZ_64K, 300, "ring area after reset"), "");
	CHECK(!snapshot_compare(d, OFF_DATA, 32 * SZ_64K, 10, "data after reset"), "");
	CHECK(!dev_restart(d), "");
	return 0;
}

static int check_flood(struct dev *d, struct vq *q, u16 target, bool ioerr_ok)
{
	struct result r;
	unsigned int i, ok = 0, ioerr = 0;

	wait_used(d, q, target, 30000, &r);
	for (i = 0; i < 32; i++) {
		u8 st = *(u8 *)gva(d, status_iova(q, i));

		ok += st == VIRTIO_BLK_S_OK;
		ioerr += st == VIRTIO_BLK_S_IOERR;
	}
	diag("%s; used idx %u of %u; %u OK, %u IOERR, %u without status",
	     outcome_name(r.out), used_idx(d, q), target, ok, ioerr,
	     32 - ok - ioerr);
	CHECK(r.out == OUT_DONE, "requests in flight across the unmap were never completed");
	CHECK(ok + (ioerr_ok ? ioerr : 0) == 32, "unexpected status bytes");
	return 0;
}

/* Unmapping memory no request uses must not lose requests in flight. */
static int c_unmap_other_region_in_flight(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u16 target = flood(d, q);
	int ret;

	CHECK(!iotlb_unmap(d, OFF_WO, SZ_64K), "");
	ret = check_flood(d, q, target, false);
	CHECK(!iotlb_map(d, OFF_WO, SZ_64K, VHOST_ACCESS_WO), "");
	if (ret)
		dev_restart(d);
	return ret;
}

/*
 * Unmapping the data under requests in flight: once the unmap returns the
 * device must not touch those pages; every request completes (OK if it
 * finished before, IOERR after).
 */
static int c_unmap_data_in_flight(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u16 target = flood(d, q);
	int ret;

	CHECK(!iotlb_unmap(d, OFF_DATA, DATA_SIZE), "");
	ret = snapshot_compare(d, OFF_DATA, 32 * SZ_64K, 300, "data after its unmap");
	if (!ret)
		ret = check_flood(d, q, target, true);
	CHECK(!iotlb_map(d, OFF_DATA, DATA_SIZE, VHOST_ACCESS_RW), "");
	if (ret)
		dev_restart(d);
	return ret;
}

/*
 * Three 4 KiB reads with qos/iops_limit=2: the first goes, the second is
 * held by the rate limiter for half a second, the third waits behind it.
 */
static u16 held_reads(struct dev *d, struct vq *q)
{
	unsigned int i;

	sysfs_write(d, "qos/iops_limit", "2");
	for (i = 0; i < 3; i++) {
		struct seg s[3] = {
			{ hdr_iova(q, i), 16, 0 },
			{ DBUF + i * SZ_4K, SZ_4K, VRING_DESC_F_WRITE },
			{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
		};

		put_hdr(d, q, i, VIRTIO_BLK_T_IN, 8 * i);
		*(u8 *)gva(d, status_iova(q, i)) = STATUS_UNSET;
		publish(d, q, put_chain(q, d, 3 * i, s, 3));
	}
	kick(q);
	msleep(100);
	return q->avail_idx;
}

static int check_held(struct dev *d, struct vq *q, u16 target)
{
	struct result r;
	unsigned int i;

	wait_used(d, q, target, 10000, &r);
	diag("%s, used idx %u of %u, status bytes 0x%02x 0x%02x 0x%02x",
	     outcome_name(r.out), used_idx(d, q), target,
	     *(u8 *)gva(d, status_iova(q, 0)), *(u8 *)gva(d, status_iova(q, 1)),
	     *(u8 *)gva(d, status_iova(q, 2)));
	CHECK(r.out == OUT_DONE, "a request held across the pause was never completed");
	for (i = 0; i < 3; i++)
		CHECK(*(u8 *)gva(d, status_iova(q, i)) == VIRTIO_BLK_S_OK,
		      "request %u: status 0x%02x", i, *(u8 *)gva(d, status_iova(q, i)));
	return 0;
}

static int c_unmap_while_held(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	u16 target = held_reads(d, q);
	int ret;

	CHECK(!iotlb_unmap(d, OFF_WO, SZ_64K), "");
	CHECK(!iotlb_map(d, OFF_WO, SZ_64K, VHOST_ACCESS_WO), "");
	ret = check_held(d, q, target);
	sysfs_write(d, "qos/iops_limit", "0");
	if (ret)
		dev_restart(d);
	return ret;
}

static int c_enable_queue_while_held(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct vhost_vring_state st = { .index = 1, .num = 0 };
	u16 target = held_reads(d, q);
	int ret;

	CHECK(!vq_setup(d, &d->vq[1]), "enable queue 1");
	ret = check_held(d, q, target);
	sysfs_write(d, "qos/iops_limit", "0");
	ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st);
	if (ret)
		dev_restart(d);
	return ret;
}

/*
 * QEMU's memory listener unmaps a section of guest RAM and maps it back
 * whenever the flat view around it changes (issue 16: SeaBIOS making its
 * ROM areas read-only at the end of POST turns the one section of low RAM
 * into five, unmapped and mapped again while its queue runs): for a moment
 * the rings of a running queue are not mapped. The device
 * must neither break the ring nor touch the area meanwhile, and a request
 * published and kicked in between (its kick falls in the hole) must be
 * served once the rings are mapped again.
 */
static int c_ring_remap(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };
	long before = sysfs_stat(d, "ring_errors", NULL);
	u16 used = used_idx(d, q);
	struct result r;
	int st, ret = 0;

	CHECK(!iotlb_unmap(d, OFF_RING, SZ_64K), "");
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	*(u8 *)gva(d, status_iova(q, 0)) = STATUS_UNSET;
	publish(d, q, put_chain(q, d, 0, s, NS(s)));
	kick(q);
	if (snapshot_compare(d, q->area, SZ_64K, 300,
			     "ring area while unmapped"))
		ret = -1;
	st = dev_status(d);
	if (!ret && (st < 0 || (st & NEEDS_RESET))) {
		diag("status 0x%x with the rings unmapped: the ring was declared broken",
		     st);
		ret = -1;
	}
	if (!ret && used_idx(d, q) != used) {
		diag("used idx moved while the ring was unmapped");
		ret = -1;
	}
	/*
	 * Headers and status bytes first, the rings last. vhost-vdpa hands
	 * a region to the device in physically contiguous pieces, and the
	 * device resumes once its rings are whole: mapped in one piece, the
	 * request could be served before its status byte was back (seen
	 * once in a full run: status byte 0xee). A VMM that wants it
	 * served in full maps the buffers before the rings.
	 */
	CHECK(!iotlb_map(d, OFF_RING + R_HDR, SZ_64K - R_HDR, VHOST_ACCESS_RW), "");
	CHECK(!iotlb_map(d, OFF_RING, R_HDR, VHOST_ACCESS_RW), "");
	if (ret) {
		dev_restart(d);
		return ret;
	}
	CHECK(!wait_used(d, q, q->avail_idx, 20000, &r), "");
	CHECK(r.out == OUT_DONE, "the request kicked while the rings were unmapped: %s after the map (device status 0x%x)",
	      outcome_name(r.out), r.dev_status);
	CHECK(*(u8 *)gva(d, status_iova(q, 0)) == VIRTIO_BLK_S_OK,
	      "status byte 0x%02x", *(u8 *)gva(d, status_iova(q, 0)));
	CHECK(sysfs_stat(d, "ring_errors", NULL) == before,
	      "stats/ring_errors went %ld -> %ld", before,
	      sysfs_stat(d, "ring_errors", NULL));
	diag("rings unmapped and mapped back: no NEEDS_RESET, the request kicked in between served");
	return 0;
}

/*
 * The same hole, never filled: kicks do nothing (the device waits, it
 * touches no memory, it does not spin), and a reset ends the wait.
 */
static int c_ring_unmapped_for_good(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct seg s[] = { HDR(q), W(DBUF, 512), STS(q) };
	unsigned int i;
	int touched, st;

	CHECK(!iotlb_unmap(d, OFF_RING, SZ_64K), "");
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	publish(d, q, put_chain(q, d, 0, s, NS(s)));
	for (i = 0; i < 1000; i++)
		kick(q);
	touched = snapshot_compare(d, q->area, SZ_64K, 300,
				   "ring area while unmapped");
	st = dev_status(d);
	CHECK(!dev_restart(d), "reset and restart with the rings unmapped");
	CHECK(!touched, "the device touched its unmapped ring area");
	CHECK(st >= 0, "");
	CHECK(!(st & NEEDS_RESET), "NEEDS_RESET (status 0x%x): a ring the VMM unmapped was declared broken",
	      st);
	diag("status 0x%x after 1000 kicks with the rings unmapped; reset and restart work",
	     st);
	return 0;
}

static int c_features_without_version_1(void)
{
	struct dev *d = C.d;
	u64 f;

	CHECK(!dev_reset(d), "");
	CHECK(!set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER), "");
	f = d->offered & d->want & ~(1ULL << VIRTIO_F_VERSION_1);
	CHECK(ioctl(d->fd, VHOST_SET_FEATURES, &f) && errno == EINVAL,
	      "features without VERSION_1 were accepted (or not with EINVAL: %s)",
	      strerror(errno));
	CHECK(!dev_restart(d), "");
	return 0;
}

/* ---- read-only device ------------------------------------------------- */

static int c_ro_write_refused(void)
{
	struct dev *d = C.ro;
	struct vq *q = q0(d);
	struct seg s[] = { HDR(q), R(DBUF, 4096), STS(q) };

	CHECK(d->offered & (1ULL << VIRTIO_BLK_F_RO), "VIRTIO_BLK_F_RO not offered");
	fill_random(gva(d, DBUF), 4096);
	return refused_write(d, s, NS(s), 0, "read_only");
}

static int c_ro_discard_refused(void)
{
	u8 before[4096], after[4096];

	CHECK(!backing_read(C.ro, 0, before, sizeof(before)), "");
	CHECK(!dwz(C.ro, VIRTIO_BLK_T_DISCARD, 0, 8, 0, VIRTIO_BLK_S_IOERR, "read_only"), "");
	CHECK(!dwz(C.ro, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, VIRTIO_BLK_S_IOERR,
		   "read_only"), "");
	CHECK(!backing_read(C.ro, 0, after, sizeof(after)), "");
	CHECK(!memcmp(before, after, sizeof(before)), "the backing store changed");
	return 0;
}

static int c_ro_read_flush(void)
{
	struct dev *d = C.ro;
	struct result r;

	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_FLUSH, 0, 0, 0, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK, "flush: %s, status %u",
	      outcome_name(r.out), r.status);
	CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_IN, 8, DBUF, 8192, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK, "read: %s, status %u",
	      outcome_name(r.out), r.status);
	return backing_compare(d, 8, gva(d, DBUF), 8192);
}

/* A driver that does not accept VIRTIO_BLK_F_RO still cannot write. */
static int c_ro_not_negotiated(void)
{
	struct dev *d = C.ro;
	struct vq *q = q0(d);
	struct seg s[] = { HDR(q), R(DBUF, 4096), STS(q) };
	int ret;

	d->want &= ~(1ULL << VIRTIO_BLK_F_RO);
	CHECK(!dev_restart(d), "");
	ret = refused_write(d, s, NS(s), 8, "read_only");
	d->want |= 1ULL << VIRTIO_BLK_F_RO;
	CHECK(!dev_restart(d), "");
	return ret;
}

/* ---- device without medium ---------------------------------------------- */

static int c_empty_device(void)
{
	struct dev *d = C.empty;
	struct vq *q = q0(d);
	struct seg rd[] = { HDR(q), W(DBUF, 512), STS(q) };
	struct seg wr[] = { HDR(q), R(DBUF, 512), STS(q) };
	struct seg fl[] = { HDR(q), STS(q) };
	long io_errors = sysfs_stat(d, "io_errors", NULL);

	CHECK(d->capacity == 0, "capacity %llu without a backing store",
	      (unsigned long long)d->capacity);
	CHECK(!one(d, VIRTIO_BLK_T_IN, 0, rd, NS(rd), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "out_of_range"), "read");
	CHECK(!one(d, VIRTIO_BLK_T_OUT, 0, wr, NS(wr), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, "out_of_range"), "write");
	CHECK(!one(d, VIRTIO_BLK_T_FLUSH, 0, fl, NS(fl), status_iova(q, 0),
		   VIRTIO_BLK_S_IOERR, 1, NULL), "flush");
	CHECK(io_errors < 0 || sysfs_stat(d, "io_errors", NULL) == io_errors + 1,
	      "flush without medium not counted in stats/io_errors");
	return 0;
}

/* ==== issue 13: a hostile VMM against the host ============================ */

/* A case that cannot run here returns CASE_SKIP after skip_case(reason). */
#define CASE_SKIP	2
static const char *case_skip;

static int skip_case(const char *why)
{
	case_skip = why;
	return CASE_SKIP;
}

/* A line in the kernel log at KERN_WARNING, so that the console shows it. */
static void kmsg_console(const char *msg)
{
	char buf[512];
	int fd, n;

	snprintf(buf, sizeof(buf), "<4>vqos-selftest: %s\n", msg);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = write(fd, buf, strlen(buf));
	(void)n;
	close(fd);
}

/* Say, before a step that may kill the kernel, what it would mean. */
static void announce(const char *msg)
{
	printf("# %s\n", msg);
	fflush(stdout);
	kmsg_console(msg);
}

static void put_hdr_at(struct dev *d, u64 a, u32 type, u64 sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.sector = htole64(sector),
	};

	memcpy(gva(d, a), &h, sizeof(h));
}

/* Wait until the device status has @bit; 0, or -1 after @ms. */
static int wait_status(struct dev *d, int bit, unsigned int ms)
{
	u64 end = now_ms() + ms;
	int st;

	for (;;) {
		st = dev_status(d);
		if (st >= 0 && (st & bit))
			return 0;
		if (st < 0 || now_ms() >= end) {
			diag("device status 0x%x, waited %u ms for 0x%x", st, ms, bit);
			return -1;
		}
		msleep(2);
	}
}

/* ---- #8: what vringh has already consumed ---------------------------------- */

/* A write chain @s that must be served, @len bytes @want landing at @sector. */
static int layout_write(struct dev *d, const struct seg *s, unsigned int n,
			u64 sector, const u8 *want, u32 len)
{
	struct vq *q = q0(d);

	put_chain(q, d, 0, s, n);
	CHECK(!expect_done(d, 0, status_iova(q, 0), VIRTIO_BLK_S_OK, 1, NULL),
	      "a legal layout was not served");
	return backing_compare(d, sector, want, len);
}

/* Header and data in one readable descriptor: legal, served. */
static int c_header_and_data_one_descriptor(void)
{
	struct dev *d = C.d;
	u64 a = DBUF + 0x10000;
	u8 *p = gva(d, a);
	struct seg s[] = { R(a, 16 + 4096), STS(q0(d)) };

	put_hdr_at(d, a, VIRTIO_BLK_T_OUT, 208);
	fill_random(p + 16, 4096);
	return layout_write(d, s, NS(s), 208, p + 16, 4096);
}

/* [8 bytes of header][8 bytes of header + 512 of data]: served. */
static int c_header_split_into_data(void)
{
	struct dev *d = C.d;
	u64 a = DBUF + 0x10000, b = DBUF + 0x20000;
	struct seg s[] = { R(a, 8), R(b, 8 + 512), STS(q0(d)) };
	struct virtio_blk_outhdr h = {
		.type = htole32(VIRTIO_BLK_T_OUT),
		.sector = htole64(216),
	};

	memcpy(gva(d, a), &h, 8);
	memcpy(gva(d, b), (u8 *)&h + 8, 8);
	fill_random(gva(d, b + 8), 512);
	return layout_write(d, s, NS(s), 216, gva(d, b + 8), 512);
}

/* Write-zeroes whose header and segment share a descriptor: served. */
static int c_dwz_header_and_segment_one_descriptor(void)
{
	struct dev *d = C.d;
	u64 a = DBUF + 0x10000;
	struct virtio_blk_discard_write_zeroes *seg = gva(d, a + 16);
	struct seg s[] = { R(a, 16 + sizeof(*seg)), STS(q0(d)) };

	CHECK(!write_pattern(d, 1100, 4096), "");
	put_hdr_at(d, a, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg->sector = htole64(1100);
	seg->num_sectors = htole32(8);
	seg->flags = 0;
	put_chain(q0(d), d, 0, s, NS(s));
	CHECK(!expect_done(d, 0, status_iova(q0(d), 0), VIRTIO_BLK_S_OK, 1, NULL),
	      "a legal layout was not served");
	return read_zeroes(d, 1100, 4096);
}

/* [16-byte header + 4 bytes][508 bytes]: 512 bytes of data, served. */
static int c_consumed_20_508(void)
{
	struct dev *d = C.d;
	u64 a = DBUF + 0x10000, b = DBUF + 0x20000;
	struct seg s[] = { R(a, 20), R(b, 508), STS(q0(d)) };
	u8 want[512];

	put_hdr_at(d, a, VIRTIO_BLK_T_OUT, 232);
	fill_random(gva(d, a + 16), 4);
	fill_random(gva(d, b), 508);
	memcpy(want, gva(d, a + 16), 4);
	memcpy(want + 4, gva(d, b), 508);
	return layout_write(d, s, NS(s), 232, want, 512);
}

/*
 * [16-byte header + 4 bytes][524 bytes]: 528 bytes of data, not whole
 * sectors: refused as unaligned, nothing written. Subtracting vringh's
 * 'consumed' twice makes it 512 bytes, taken from 12 bytes past the end of
 * the first descriptor: guest memory the chain never offered.
 */
static int c_consumed_20_524(void)
{
	struct dev *d = C.d;
	u64 a = DBUF + 0x10000, b = DBUF + 0x20000, sector = 224;
	struct seg s[] = { R(a, 20), R(b, 524), STS(q0(d)) };
	u8 before[512], after[512];
	int ret;

	CHECK(!backing_read(d, sector, before, sizeof(before)), "");
	put_hdr_at(d, a, VIRTIO_BLK_T_OUT, sector);
	memset(gva(d, a + 16), 0xd1, 4);
	memset(gva(d, a + 20), 0x3e, 1024);	/* past the descriptor */
	memset(gva(d, b), 0xb2, 524);
	put_chain(q0(d), d, 0, s, NS(s));
	ret = expect_done(d, 0, status_iova(q0(d), 0), VIRTIO_BLK_S_IOERR, 1,
			  "unaligned");
	CHECK(!backing_read(d, sector, after, sizeof(after)), "");
	if (memcmp(before, after, sizeof(after))) {
		diag("the backing file changed at sector %llu, now %02x %02x %02x %02x ...%s",
		     (unsigned long long)sector, after[0], after[1], after[2], after[3],
		     after[0] == 0x3e ? ": bytes from past the end of the first descriptor" : "");
		return -1;
	}
	return ret;
}

/* ---- #7: bounded work per request ------------------------------------------- */

/*
 * Tables of 65535 zero-length descriptors chained in order, at @table,
 * readable or device-writable: every visit is 65535 descriptors to read.
 */
#define BIG_N		65535U
#define TABLE_R		(DBUF)
#define TABLE_W		(DBUF + 16ULL * 65536)
#define ZERO_BUF	(DBUF + 32ULL * 65536)

static void big_table(struct dev *d, u64 table, unsigned int n, u16 flags)
{
	struct vring_desc *t = gva(d, table);
	unsigned int i;

	for (i = 0; i < n; i++)
		desc_raw(d, t, i, ZERO_BUF, 0,
			 flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			 i + 1 < n ? i + 1 : 0);
}

/*
 * The device must refuse chain @head, with IOERR or NEEDS_RESET, within
 * @ms: a walk bounded by max(queue size, seg_max + 2) descriptors takes
 * milliseconds even under TCG and KASAN.
 */
static int expect_refused(struct dev *d, u16 head, unsigned int ms,
			  const char *what)
{
	struct vq *q = q0(d);
	long before = sysfs_stat(d, "ring_errors", NULL);
	struct result r;
	u64 t;

	drain(d->config_fd);
	*(u8 *)gva(d, status_iova(q, 0)) = STATUS_UNSET;
	t = now_ms();
	CHECK(!submit(d, q, head, status_iova(q, 0), 300000, &r), "");
	t = now_ms() - t;
	diag("%s: %s after %llu ms, status 0x%02x, used len %u, device status 0x%x",
	     what, outcome_name(r.out), (unsigned long long)t, r.status, r.len,
	     r.dev_status);
	if (r.out == OUT_NEEDS_RESET)
		CHECK(!broken_after(d, before), "");
	else
		CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_IOERR,
		      "%s: not refused (IOERR or NEEDS_RESET expected)", what);
	CHECK(t <= ms, "%s: refused after %llu ms, over %u ms: the device walked it",
	      what, (unsigned long long)t, ms);
	return 0;
}

/*
 * A write of nothing, whose chain makes 6.1's vringh read 262140
 * descriptors: the header, two visits of a readable table and two of a
 * writable one (top-level INDIRECT descriptors with NEXT, which vringh
 * neither counts nor refuses), the status. Each kvec array stays under
 * the 135168 entries vringh can allocate, so an unbounded device walks it
 * all and serves it.
 */
static int c_walk_repeated_tables(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct vring_desc *dt = dtab(d);
	unsigned int i;

	big_table(d, TABLE_R, BIG_N, 0);
	big_table(d, TABLE_W, BIG_N, VRING_DESC_F_WRITE);
	put_hdr(d, q, 0, VIRTIO_BLK_T_OUT, 0);
	desc_raw(d, dt, 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 1);
	for (i = 1; i <= 4; i++)
		desc_raw(d, dt, i, i <= 2 ? TABLE_R : TABLE_W, 16 * BIG_N,
			 VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, i + 1);
	desc_raw(d, dt, 5, status_iova(q, 0), 1, VRING_DESC_F_WRITE, 0);
	return expect_refused(d, 0, 1000, "262140 descriptors through 4 table visits");
}

/*
 * Two top-level INDIRECT descriptors chained to each other, each over a
 * table of one descriptor: a cycle vringh never counts, which ends only
 * when its kvec array cannot grow (after ~270000 descriptor reads).
 */
static int c_walk_indirect_cycle(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct vring_desc *dt = dtab(d);

	big_table(d, TABLE_W, 1, VRING_DESC_F_WRITE);
	put_hdr(d, q, 0, VIRTIO_BLK_T_IN, 0);
	desc_raw(d, dt, 0, hdr_iova(q, 0), 16, VRING_DESC_F_NEXT, 1);
	desc_raw(d, dt, 1, TABLE_W, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	desc_raw(d, dt, 2, TABLE_W, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	return expect_refused(d, 0, 1000, "a cycle of two top-level indirect descriptors");
}

/* ---- #4: callbacks changed under I/O ------------------------------------------ */

struct toggler {
	struct dev *d;
	bool stop;			/* __atomic */
	unsigned long vq_changes, config_changes;
	int err;
};

/*
 * Queue 0's call fd and the config call fd, each switched between its
 * eventfd and none as fast as vhost-vdpa takes it. The eventfds stay open
 * throughout: vhost-vdpa drops its reference to the old one right after
 * the switch, and only the file keeps it alive for a callback in progress.
 */
static void *toggle_calls(void *arg)
{
	struct toggler *t = arg;
	struct dev *d = t->d;
	struct vhost_vring_file f = { .index = 0 };
	unsigned long n;
	int cfd;

	for (n = 0; !__atomic_load_n(&t->stop, __ATOMIC_RELAXED); n++) {
		f.fd = n & 1 ? VHOST_FILE_UNBIND : d->vq[0].call_fd;
		if (ioctl(d->fd, VHOST_SET_VRING_CALL, &f)) {
			t->err = errno;
			break;
		}
		t->vq_changes++;
		if (n % 4 == 1) {
			cfd = n & 4 ? VHOST_FILE_UNBIND : d->config_fd;
			if (ioctl(d->fd, VHOST_VDPA_SET_CONFIG_CALL, &cfd)) {
				t->err = errno;
				break;
			}
			t->config_changes++;
		}
	}
	f.fd = d->vq[0].call_fd;
	cfd = d->config_fd;
	if (ioctl(d->fd, VHOST_SET_VRING_CALL, &f) ||
	    ioctl(d->fd, VHOST_VDPA_SET_CONFIG_CALL, &cfd))
		t->err = errno;
	return NULL;
}

unsigned int case_seconds = 5;

/*
 * 8 reads or GET_IDs at a time on queue 0 while another thread switches
 * the callbacks; every 64 rounds a broken ring makes the device call the
 * config callback too. The module must read each callback once (a torn
 * one calls NULL, or vhost-vdpa's with a NULL argument: an oops, and the
 * test VM panics).
 */
static int c_torn_callback(void)
{
	struct dev *d = C.d;
	struct vq *q = q0(d);
	struct toggler t = { .d = d };
	unsigned long rounds = 0, reqs = 0, breaks = 0;
	char msg[256];
	pthread_t th;
	u64 end;
	int ret = 0;

	snprintf(msg, sizeof(msg),
		 "hostile: switching the vq and config callbacks under I/O for %u s; if the kernel dies now, it is the torn callback of issue 13 #4",
		 case_seconds);
	announce(msg);
	CHECK(!pthread_create(&th, NULL, toggle_calls, &t), "pthread_create");
	end = now_ms() + case_seconds * 1000ULL;
	while (!ret && now_ms() < end && !t.err) {
		struct result r;
		unsigned int i;

		if (rounds % 64 == 63) {
			/* A head beyond the ring: NEEDS_RESET, config callback. */
			publish(d, q, q->num);
			kick(q);
			if (wait_status(d, NEEDS_RESET, 10000)) {
				ret = -1;
				break;
			}
			breaks++;
			if (dev_restart(d)) {
				ret = -1;
				break;
			}
		}
		for (i = 0; i < 8; i++) {
			u32 type = i % 2 ? VIRTIO_BLK_T_GET_ID : VIRTIO_BLK_T_IN;
			struct seg s[3] = {
				{ hdr_iova(q, i), 16, 0 },
				{ DBUF + i * SZ_4K, type == VIRTIO_BLK_T_IN ? SZ_4K : VQOS_ID_BYTES,
				  VRING_DESC_F_WRITE },
				{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
			};

			put_hdr(d, q, i, type, 8 * i);
			*(u8 *)gva(d, status_iova(q, i)) = STATUS_UNSET;
			publish(d, q, put_chain(q, d, 3 * i, s, 3));
		}
		kick(q);
		wait_used(d, q, q->avail_idx, 10000, &r);
		if (r.out != OUT_DONE) {
			diag("round %lu: %s, used idx %u of %u, device status 0x%x", rounds,
			     outcome_name(r.out), used_idx(d, q), q->avail_idx, r.dev_status);
			ret = -1;
		}
		for (i = 0; !ret && i < 8; i++) {
			if (*(u8 *)gva(d, status_iova(q, i)) != VIRTIO_BLK_S_OK) {
				diag("round %lu, request %u: status 0x%02x", rounds, i,
				     *(u8 *)gva(d, status_iova(q, i)));
				ret = -1;
			}
		}
		reqs += 8;
		rounds++;
	}
	__atomic_store_n(&t.stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	diag("%lu requests completed in %lu rounds, %lu broken rings; %lu vq and %lu config callback changes",
	     reqs, rounds, breaks, t.vq_changes, t.config_changes);
	CHECK(!t.err, "switching the callbacks failed: %s", strerror(t.err));
	CHECK(t.vq_changes > 100, "only %lu callback changes: no race was tried", t.vq_changes);
	return ret;
}

/* ---- #1: queue disabled on a stopped device with backend I/O in flight ------- */

/* @n reads of 4 KiB on queue 0, published and kicked; returns the avail idx. */
static u16 reads_in_flight(struct dev *d, unsigned int n)
{
	struct vq *q = q0(d);
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct seg s[3] = {
			{ hdr_iova(q, i), 16, 0 },
			{ DBUF + i * SZ_4K, SZ_4K, VRING_DESC_F_WRITE },
			{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
		};

		put_hdr(d, q, i, VIRTIO_BLK_T_IN, 8 * i);
		*(u8 *)gva(d, status_iova(q, i)) = STATUS_UNSET;
		publish(d, q, put_chain(q, d, 3 * i, s, 3));
	}
	kick(q);
	return q->avail_idx;
}

/*
 * 32 reads in the slow backing; then a head beyond the ring stops the
 * device (NEEDS_RESET) while they are still in flight, the VMM disables
 * the queue, and resets. The module must wait for the backend before it
 * frees the queue's requests (else the completions land in freed memory:
 * KASAN), and the reset must return (else it waits for completions the
 * worker no longer reaps). Then the device serves again.
 */
static int c_disable_stopped_queue_in_flight(void)
{
	struct dev *d = C.slow;
	struct vq *q = q0(d);
	struct vhost_vring_state st = { .index = 0, .num = 0 };
	long inflight, ms;
	u64 t0;

	/*
	 * The bad head right behind the reads, no sleep between: the device
	 * takes them in order within a few turns, while the 200 ms backing
	 * still holds the reads, however late this thread runs again.
	 */
	reads_in_flight(d, 32);
	publish(d, q, q->num);
	kick(q);
	CHECK(!wait_status(d, NEEDS_RESET, 5000), "no NEEDS_RESET after a head beyond the ring");
	inflight = sysfs_stat(d, "inflight", NULL);
	diag("device stopped (NEEDS_RESET) with stats/inflight %ld", inflight);
	CHECK(inflight > 0, "no request in flight any more: the backing is not slow enough to test this");
	announce("hostile: disabling a queue of a stopped device with reads in flight (issue 13 #1)");
	t0 = now_ms();
	CHECK(!ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st), "disable queue 0: %s",
	      strerror(errno));
	diag("queue 0 disabled in %llu ms; stats/inflight now %ld",
	     (unsigned long long)(now_ms() - t0), sysfs_stat(d, "inflight", NULL));
	/* Give the backend time to complete into whatever the module kept. */
	msleep(500);
	ms = dev_reset_timeout(d, 15000);
	CHECK(ms >= 0, "");
	diag("reset took %ld ms; stats/inflight %ld", ms, sysfs_stat(d, "inflight", NULL));
	CHECK(sysfs_stat(d, "inflight", NULL) == 0, "requests still in flight after the reset");
	CHECK(!dev_restart(d), "restart after the reset");
	return 0;
}

/* ---- #9: the queue state set while the device runs ------------------------------ */

/*
 * How many of the @n requests made up to avail index @target from @q's
 * ring the device has taken (in flight or used), once all are or @ms have
 * passed. With all taken, a base set to @target skips and replays
 * nothing. The device takes them in turns of VQOS_BATCH, and a loaded
 * test VM may run its worker late.
 */
static long wait_taken(struct dev *d, struct vq *q, u16 target, unsigned int n,
		       unsigned int ms)
{
	u64 end = now_ms() + ms;
	long taken;

	for (;;) {
		taken = sysfs_stat(d, "inflight", NULL) +
			(u16)(used_idx(d, q) - (u16)(target - n));
		if (taken >= n || now_ms() >= end)
			return taken;
		msleep(20);
	}
}

/*
 * VHOST_SET_VRING_BASE on a running queue with 32 reads in the slow
 * backing. Refused (EBUSY), or applied to a quiescent queue: when the call
 * returns no request is in flight any more, each one completed exactly
 * once, and the next one is taken from the new base.
 */
static int c_set_base_in_flight(void)
{
	struct dev *d = C.slow;
	struct vq *q = q0(d);
	struct vhost_vring_state st = { .index = 0 };
	bool seen[32] = { false };
	long before, after, taken;
	unsigned int i, round;
	struct result r;
	u16 target, base;
	int ret, err;
	u64 t0, ms;

	/*
	 * A 200 ms backing holds them in flight, unless this thread is
	 * descheduled that long: then all are done, and it tries again.
	 */
	for (round = 0; round < 3; round++) {
		target = reads_in_flight(d, 32);
		taken = wait_taken(d, q, target, 32, 5000);
		CHECK(taken >= 32, "the device took %ld of 32 reads in 5 s", taken);
		before = sysfs_stat(d, "inflight", NULL);
		if (before > 0)
			break;
		diag("all 32 reads were done before the call: again");
		wait_used(d, q, target, 5000, &r);
		CHECK(r.out == OUT_DONE, "the reads: %s", outcome_name(r.out));
	}
	st.num = target;	/* where the driver is: nothing skipped or replayed */
	t0 = now_ms();
	ret = ioctl(d->fd, VHOST_SET_VRING_BASE, &st);
	err = errno;
	ms = now_ms() - t0;
	after = sysfs_stat(d, "inflight", NULL);
	diag("VHOST_SET_VRING_BASE %u with %ld requests in flight: %s after %llu ms, %ld in flight then",
	     st.num, before, ret ? strerror(err) : "accepted", (unsigned long long)ms, after);
	CHECK(before > 0, "no request in flight: the backing is not slow enough to test this");
	CHECK(!ret || err == EBUSY, "VHOST_SET_VRING_BASE: %s", strerror(err));
	CHECK(ret || after == 0,
	      "the queue state was changed under %ld requests in flight", after);
	wait_used(d, q, target, 20000, &r);
	CHECK(r.out == OUT_DONE, "the reads in flight: %s, used idx %u of %u",
	      outcome_name(r.out), used_idx(d, q), target);
	for (i = 0; i < 32; i++) {
		struct vring_used_elem *e = &((struct vring_used *)gva(d, q->used_iova))
						->ring[(u16)(target - 32 + i) % q->num];
		u32 id = le32toh(e->id);

		CHECK(id % 3 == 0 && id / 3 < 32 && !seen[id / 3],
		      "used entry %u has id %u: not a head, or completed twice", i, id);
		seen[id / 3] = true;
		CHECK(*(u8 *)gva(d, status_iova(q, id / 3)) == VIRTIO_BLK_S_OK,
		      "request %u: status 0x%02x", id / 3,
		      *(u8 *)gva(d, status_iova(q, id / 3)));
	}
	msleep(300);
	CHECK(used_idx(d, q) == target, "used idx %u, beyond the %u requests made",
	      used_idx(d, q), target);
	st.num = 0xdead;
	CHECK(!ioctl(d->fd, VHOST_GET_VRING_BASE, &st), "VHOST_GET_VRING_BASE: %s",
	      strerror(errno));
	base = st.num;
	CHECK(base == target, "VHOST_GET_VRING_BASE %u, the driver made %u available",
	      base, target);
	return 0;
}

/* ---- #3: huge pages ---------------------------------------------------------------- */

/*
 * With --mem thp or hugetlb the whole guest memory is huge pages: buffers
 * in their tail pages (refcount 0, the folio holds it) must be served in
 * place, not refused (IOERR) and not copied (stats/bounced unchanged).
 * Sizes: 4 KiB in the first huge page, 64 KiB across the 2 MiB boundary,
 * and with huge pages 1 MiB across it in 16 segments.
 */
static int c_zero_copy(void)
{
	static const u32 lens[] = { 4096, 65536, 1 << 20 };
	static const u64 wr_off[] = { OFF_DATA + SZ_4K, SZ_2M - 0x8000, SZ_2M - 0x80000 };
	struct dev *d = C.d;
	u64 huge = mem_huge_bytes(d), rd = iova(SZ_2M + 0x80000);
	long bounced = sysfs_stat(d, "bounced", NULL);
	long bad = sysfs_stat(d, "refused", "bad_access");
	unsigned int i;

	diag("guest memory: %s, %llu of %llu bytes in huge pages", mem_mode_name(d->mem_mode),
	     (unsigned long long)huge, (unsigned long long)d->mem_len);
	if (d->mem_mode != MEM_ANON && !huge)
		return skip_case("no huge page backs the guest memory (THP not granted? see transparent_hugepage/enabled and defrag)");
	for (i = 0; i < NS(lens); i++) {
		u64 wr = iova(wr_off[i]), sector = 4096 + 2048 * i;
		struct result r;

		if (lens[i] > SZ_64K && d->mem_mode == MEM_ANON)
			break;	/* 256 scattered 4 KiB pages: bounced, by design */
		fill_random(gva(d, wr), lens[i]);
		memset(gva(d, rd), 0, lens[i]);
		CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_OUT, sector, wr, lens[i], &r), "");
		CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK,
		      "write of %u bytes from iova 0x%llx: %s, status %u", lens[i],
		      (unsigned long long)wr, outcome_name(r.out), r.status);
		CHECK(!blk_io(d, q0(d), VIRTIO_BLK_T_IN, sector, rd, lens[i], &r), "");
		CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK,
		      "read of %u bytes into iova 0x%llx: %s, status %u", lens[i],
		      (unsigned long long)rd, outcome_name(r.out), r.status);
		CHECK(!memcmp(gva(d, wr), gva(d, rd), lens[i]), "%u bytes read back differ", lens[i]);
		CHECK(!backing_compare(d, sector, gva(d, rd), lens[i]), "");
	}
	CHECK(sysfs_stat(d, "refused", "bad_access") == bad, "refused bad_access %ld -> %ld",
	      bad, sysfs_stat(d, "refused", "bad_access"));
	CHECK(sysfs_stat(d, "bounced", NULL) == bounced, "stats/bounced %ld -> %ld: copied, not served in place",
	      bounced, sysfs_stat(d, "bounced", NULL));
	return 0;
}

/* ---- issue 16: vdpa dev del while the VMM holds the device --------------- */

/* Like CHECK, but goes on: the case must still close the device after it. */
#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		diag("%s:%d: failed: %s", __func__, __LINE__, #cond);	\
		diag(__VA_ARGS__);					\
		ret = -1;						\
	}								\
} while (0)

/*
 * `vdpa dev del NAME` in a child process, its output into @out_fd. The
 * child holds none of the harness's descriptors: one copy of the
 * /dev/vhost-vdpa-N descriptor there would keep the del waiting for itself.
 */
static pid_t del_start(const char *name, int out_fd)
{
	pid_t pid;
	int fd;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	execlp("vdpa", "vdpa", "dev", "del", name, (char *)NULL);
	dprintf(2, "exec vdpa: %s\n", strerror(errno));
	_exit(127);
}

/* Wait up to @ms for the del child; its exit status, or -1 if it runs on. */
static int del_wait(pid_t pid, unsigned int ms)
{
	u64 end = now_ms() + ms;
	int status;

	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		msleep(10);
	} while (now_ms() < end);
	return -1;
}

/*
 * 4 KiB requests of @type (read or write) at slots @first..@first+@n-1 of
 * @q, slot i at sector 8 * i with its data at DBUF + i * 4 KiB, published
 * and kicked. Returns the avail idx.
 */
static u16 del_reqs(struct dev *d, struct vq *q, u32 type, unsigned int first,
		    unsigned int n)
{
	u16 dir = type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0;
	unsigned int i;

	for (i = first; i < first + n; i++) {
		struct seg s[3] = {
			{ hdr_iova(q, i), 16, 0 },
			{ DBUF + i * SZ_4K, SZ_4K, dir },
			{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
		};

		put_hdr(d, q, i, type, 8 * i);
		*(u8 *)gva(d, status_iova(q, i)) = STATUS_UNSET;
		publish(d, q, put_chain(q, d, 3 * i, s, 3));
	}
	kick(q);
	return q->avail_idx;
}

/*
 * Wait up to @ms for used idx @target. Not wait_used(): that one stops at
 * NEEDS_RESET, which a device being removed has set already.
 */
static int del_wait_used(struct dev *d, struct vq *q, u16 target,
			 unsigned int ms)
{
	u64 end = now_ms() + ms;

	while (used_idx(d, q) != target) {
		if (now_ms() >= end)
			return -1;
		msleep(1);
	}
	q->used_seen = target;
	return 0;
}

/* Count the status bytes of slots @first..@first+@n-1 of @q. */
static void del_statuses(struct dev *d, struct vq *q, unsigned int first,
			 unsigned int n, unsigned int *ok, unsigned int *ioerr)
{
	unsigned int i;

	*ok = *ioerr = 0;
	for (i = first; i < first + n; i++) {
		u8 st = *(u8 *)gva(d, status_iova(q, i));

		*ok += st == VIRTIO_BLK_S_OK;
		*ioerr += st == VIRTIO_BLK_S_IOERR;
	}
}

#define DEL_IOPS	1	/* iops_limit of the device deleted */
#define DEL_BURST	1	/* its iops_burst */
#define DEL_HELD	16	/* reads held at DEL_IOPS: 15 s to serve */
#define DEL_NEW		4	/* reads made once the del has begun, slots 16-19 */
#define DEL_FLOOD	16	/* reads per round of the flood, slots 0-15 */
#define DEL_FLOOD_MS	2000	/* how long the flood lasts */

/*
 * During the del, a VMM republishes the same heads as fast as they come
 * back, for DEL_FLOOD_MS. Each fails, but each costs the device's worker
 * a pop and a completion: they must still pass the limits, one operation
 * each, so the worker (outside any cgroup of the VMM) runs no more of
 * them than the bucket allows: DEL_IOPS a second, DEL_BURST at once, and
 * slack for the round in flight. Returns -1 if more came back.
 */
static int del_flood(struct dev *d)
{
	struct vq *q = q0(d);
	u16 start = used_idx(d, q), target;
	u64 t0 = now_ms(), end = t0 + DEL_FLOOD_MS;
	unsigned int rounds = 0, n, ceiling;
	double secs;

	do {
		target = del_reqs(d, q, VIRTIO_BLK_T_IN, 0, DEL_FLOOD);
		rounds++;
		while (used_idx(d, q) != target && now_ms() < end)
			msleep(1);
	} while (used_idx(d, q) == target && now_ms() < end);
	n = (u16)(used_idx(d, q) - start);
	secs = (now_ms() - t0) / 1000.0;
	ceiling = (unsigned int)(DEL_IOPS * secs) + 1 + DEL_BURST + DEL_FLOOD;
	diag("flood during the del: %u requests completed in %.2f s (%u rounds), at most %u allowed (iops_limit=%u, iops_burst=%u)",
	     n, secs, rounds, ceiling, DEL_IOPS, DEL_BURST);
	CHECK(n <= ceiling,
	      "requests during the del escaped the rate limit: the worker ran %u in %.2f s",
	      n, secs);
	return 0;
}

/*
 * While the del waits for the VMM: the device asks for a reset (config
 * interrupt), the reads the limiter held complete with IOERR at once,
 * every later request with IOERR too, but within the limits; a write
 * reaches no disk, and a reset by the VMM does not bring the device back.
 * Returns -1 on a failed expectation.
 */
static int del_pending(struct dev *d, pid_t pid, u16 held_target)
{
	struct vq *q = q0(d);
	u8 before[SZ_4K], after[SZ_4K];
	unsigned int ok, ioerr;
	u64 t0, v;
	u16 target;
	int ret = 0;

	t0 = now_ms();
	if (wait_status(d, NEEDS_RESET, 15000)) {
		diag("no NEEDS_RESET within 15 s of starting vdpa dev del (del %s)",
		     waitpid(pid, NULL, WNOHANG) == pid ? "returned" : "still blocked");
		ret = -1;
	} else {
		diag("NEEDS_RESET %llu ms after vdpa dev del was started",
		     (unsigned long long)(now_ms() - t0));
	}
	EXPECT(read(d->config_fd, &v, sizeof(v)) == sizeof(v),
	       "the config eventfd (VHOST_VDPA_SET_CONFIG_CALL) was not signalled");

	/* The reads the limiter held: all done within 3 s, not at 1 a second. */
	t0 = now_ms();
	EXPECT(!del_wait_used(d, q, held_target, 3000),
	       "reads held by the rate limiter were not completed within 3 s of the del");
	del_statuses(d, q, 0, DEL_HELD, &ok, &ioerr);
	diag("held reads: used idx %u of %u after %llu ms; %u OK, %u IOERR",
	     used_idx(d, q), held_target, (unsigned long long)(now_ms() - t0),
	     ok, ioerr);
	EXPECT(ok + ioerr == DEL_HELD && ioerr > 0,
	       "the reads still held when the del began did not complete with IOERR");

	/* New requests: IOERR, at the limit's rate (del_flood()). */
	t0 = now_ms();
	target = del_reqs(d, q, VIRTIO_BLK_T_IN, DEL_HELD, DEL_NEW);
	EXPECT(!del_wait_used(d, q, target, DEL_NEW * 1000 / DEL_IOPS + 3000),
	       "new requests during the del were not all completed within %u s",
	       DEL_NEW / DEL_IOPS + 3);
	del_statuses(d, q, DEL_HELD, DEL_NEW, &ok, &ioerr);
	diag("%u new reads: used idx %u of %u after %llu ms; %u OK, %u IOERR",
	     DEL_NEW, used_idx(d, q), target,
	     (unsigned long long)(now_ms() - t0), ok, ioerr);
	EXPECT(ioerr == DEL_NEW, "new reads during the del did not all fail with IOERR");

	/* A write (slot 32, sector 256) reaches no disk. */
	CHECK(pread(d->backing_fd, before, sizeof(before), 256 * SECTOR) ==
	      (ssize_t)sizeof(before), "pread %s: %s", d->backing, strerror(errno));
	fill_random(gva(d, DBUF + 32 * SZ_4K), SZ_4K);
	target = del_reqs(d, q, VIRTIO_BLK_T_OUT, 32, 1);
	EXPECT(!del_wait_used(d, q, target, 3000),
	       "a write during the del was not completed within 3 s");
	diag("write during the del: status 0x%02x", *(u8 *)gva(d, status_iova(q, 32)));
	EXPECT(*(u8 *)gva(d, status_iova(q, 32)) == VIRTIO_BLK_S_IOERR,
	       "a write during the del did not complete with IOERR");
	EXPECT(pread(d->backing_fd, after, sizeof(after), 256 * SECTOR) ==
	       (ssize_t)sizeof(after) && !memcmp(before, after, sizeof(after)),
	       "a write made during the del changed the backing file");

	/* The VMM resets and starts the device again: it still fails I/O. */
	drain(d->config_fd);
	EXPECT(!dev_restart(d), "reset and restart during the del");
	EXPECT(!wait_status(d, NEEDS_RESET, 3000),
	       "no NEEDS_RESET after the device was started again during the del");
	EXPECT(read(d->config_fd, &v, sizeof(v)) == sizeof(v),
	       "no config interrupt after the device was started again during the del");
	target = del_reqs(d, q, VIRTIO_BLK_T_IN, 0, 1);
	EXPECT(!del_wait_used(d, q, target, 3000),
	       "a read after reset and restart during the del was not completed within 3 s");
	diag("read after reset and restart: status 0x%02x, device status 0x%x",
	     *(u8 *)gva(d, status_iova(q, 0)), dev_status(d));
	EXPECT(*(u8 *)gva(d, status_iova(q, 0)) == VIRTIO_BLK_S_IOERR,
	       "a reset during the del brought the device back to serving I/O");
	if (del_flood(d))
		ret = -1;
	diag("vdpa dev del %s while the device is open",
	     waitpid(pid, NULL, WNOHANG) == pid ? "returned" : "still waits");
	return ret;
}

/*
 * `vdpa dev del` of a device whose VMM holds /dev/vhost-vdpa-N open
 * (issue 16): vhost-vdpa makes the del wait until the VMM closes it, and
 * meanwhile the guest must see errors at once, not a disk that goes on
 * being served (or hangs). Then the VMM closes it (QEMU killed), the del
 * completes and the device is gone, with nothing in the kernel log.
 */
static int c_del_while_open(void)
{
	struct dev *d = C.del;
	struct vq *q = q0(d);
	char path[512], out[512] = "";
	int pfd[2], ret, st;
	u16 held_target;
	ssize_t n;
	pid_t pid;
	u64 t0;

	CHECK(!good_io(d, q, &C.rng), "the device does not serve before the del");
	/* Set now: the del removes the device's sysfs files first. */
	snprintf(path, sizeof(path), "%u", DEL_IOPS);
	CHECK(!sysfs_write(d, "qos/iops_limit", path), "");
	snprintf(path, sizeof(path), "%u", DEL_BURST);
	CHECK(!sysfs_write(d, "qos/iops_burst", path), "");
	held_target = del_reqs(d, q, VIRTIO_BLK_T_IN, 0, DEL_HELD);
	msleep(300);
	diag("%u of %u reads served at iops_limit=%u before the del",
	     (u16)(used_idx(d, q) - (held_target - DEL_HELD)), DEL_HELD,
	     DEL_IOPS);
	CHECK((u16)(held_target - used_idx(d, q)) >= DEL_HELD / 2,
	      "the rate limiter held too few reads to test held requests");
	drain(d->config_fd);

	CHECK(!pipe2(pfd, O_CLOEXEC), "pipe2: %s", strerror(errno));
	announce("hostile: vdpa dev del of a device its VMM holds open (issue 16)");
	pid = del_start(d->name, pfd[1]);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		CHECK(0, "fork: %s", strerror(errno));
	}
	ret = del_pending(d, pid, held_target);

	/* The VMM goes away: the del must complete. */
	close(d->fd);
	d->fd = -1;
	t0 = now_ms();
	st = del_wait(pid, 30000);
	n = read(pfd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(pfd[0]);
	diag("vdpa dev del: exit status %d, %llu ms after the close; output: %s",
	     st, (unsigned long long)(now_ms() - t0), out[0] ? out : "(none)");
	if (st < 0) {
		diag("vdpa dev del did not return within 30 s of the close");
		printf("# wedged: %s\n", d->name);
		d->wedged = true;
		return -1;
	}
	EXPECT(st == 0, "vdpa dev del failed");
	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", d->name);
	EXPECT(access(path, F_OK) && errno == ENOENT, "%s still exists", path);
	return ret;
}

static const struct hcase cases[] = {
	{ "config space and features", c_config, USES_MAIN },
	{ "write and read back 4-16 KiB, backing file matches", c_write_read, USES_MAIN | HUGE },
	{ "largest request: 4 MiB in 64 segments of 64 KiB", c_largest_request, USES_MAIN | HUGE },
	{ "write and read through indirect tables", c_indirect, USES_MAIN | HUGE },
	{ "32 requests in flight, each completed once", c_batch, USES_MAIN | HUGE },
	{ "flush, and GET_ID returns the device name", c_flush_get_id, USES_MAIN },
	{ "discard and write-zeroes read back as zeroes", c_discard_write_zeroes, USES_MAIN },
	{ "last sector readable and writable", c_last_sector, USES_MAIN },
	{ "zero-length read completes OK", c_zero_length_read, USES_MAIN },
	{ "header split across two descriptors is served", c_header_split, USES_MAIN | HUGE },
	{ "status byte at the end of the data descriptor", c_status_in_data, USES_MAIN | HUGE },
	{ "status byte in a write-only mapping is written", c_status_write_only_mapping, USES_MAIN },
	{ "kicks on queues never set up are ignored", c_kick_unset_queues, USES_MAIN },
	{ "queue never set up: enabling it is a quiet no-op", c_enable_unset_queue, USES_MAIN },
	{ "queue beyond num_queues cannot be enabled", c_enable_beyond_num_queues, USES_MAIN },
	{ "ring larger than the device maximum is not enabled", c_oversized_ring, USES_MAIN },
	{ "second queue enabled and disabled while running", c_second_queue, USES_MAIN },
	{ "no status buffer: used len 0, nothing written", c_no_status, USES_MAIN },
	{ "write without status buffer: used len 0", c_no_status_write, USES_MAIN },
	{ "status descriptor not device-writable: used len 0", c_status_readable, USES_MAIN },
	{ "readable descriptor after a writable one: NEEDS_RESET", c_readable_after_writable, USES_MAIN },
	{ "status byte in a read-only mapping: not written", c_status_read_only_mapping, USES_MAIN },
	{ "status byte outside the mapping: not written", c_status_unmapped, USES_MAIN },
	{ "zero-length header: IOERR", c_header_empty, USES_MAIN },
	{ "15-byte header: IOERR", c_header_15, USES_MAIN },
	{ "header outside the mapping: IOERR", c_header_unmapped, USES_MAIN },
	{ "header in a write-only mapping: IOERR", c_header_write_only, USES_MAIN },
	{ "data length not a multiple of 512: IOERR", c_unaligned, USES_MAIN },
	{ "4 MiB + 512 bytes: IOERR", c_too_big, USES_MAIN },
	{ "descriptor of 4 GiB - 512: IOERR", c_huge_length, USES_MAIN },
	{ "two 2 GiB descriptors (4 GiB, 0 in 32 bits): IOERR", c_length_sum_4g, USES_MAIN },
	{ "buffer address wrapping past 2^64: IOERR", c_address_wraps, USES_MAIN },
	{ "read into unmapped memory: IOERR", c_read_into_unmapped, USES_MAIN },
	{ "write from unmapped memory: IOERR, disk unchanged", c_write_from_unmapped, USES_MAIN },
	{ "300 reads refused after admission, then a read is served", c_refused_after_slot, USES_MAIN },
	{ "read straddling the end of a mapping: IOERR, no partial write", c_read_straddles_mapping_end, USES_MAIN | HUGE },
	{ "read into a read-only mapping: IOERR", c_read_into_read_only, USES_MAIN },
	{ "write from a write-only mapping: IOERR, disk unchanged", c_write_from_write_only, USES_MAIN },
	{ "write with device-writable data: IOERR, disk unchanged", c_write_with_writable_data, USES_MAIN },
	{ "read with device-readable data: IOERR", c_read_with_readable_data, USES_MAIN },
	{ "flush carrying data: IOERR", c_flush_with_data, USES_MAIN },
	{ "GET_ID without a buffer: IOERR", c_get_id_without_buffer, USES_MAIN },
	{ "unknown and unoffered request types: UNSUPP", c_unsupported_types, USES_MAIN },
	{ "read at sector = capacity: IOERR", c_sector_at_capacity, USES_MAIN },
	{ "read straddling the last sector: IOERR", c_sector_straddles_end, USES_MAIN },
	{ "sectors whose byte offset overflows 64 bits: IOERR", c_sector_overflow, USES_MAIN },
	{ "discard/write-zeroes with reserved flags: UNSUPP", c_dwz_bad_flags, USES_MAIN },
	{ "discard/write-zeroes out of range or overflowing: IOERR", c_dwz_out_of_range, USES_MAIN },
	{ "write-zeroes over the advertised maximum: IOERR", c_dwz_too_big, USES_MAIN },
	{ "discard with two segments: IOERR", c_dwz_two_segments, USES_MAIN },
	{ "discard segment outside the mapping: IOERR", c_dwz_segment_unmapped, USES_MAIN },
	{ "descriptor loop: NEEDS_RESET", c_loop, USES_MAIN },
	{ "descriptor chained to itself: NEEDS_RESET", c_self_loop, USES_MAIN },
	{ "next index beyond the ring: NEEDS_RESET", c_next_out_of_range, USES_MAIN },
	{ "avail ring head beyond the ring: NEEDS_RESET", c_head_out_of_range, USES_MAIN },
	{ "chain through every descriptor of the ring is served", c_chain_of_ring_size, USES_MAIN | HUGE },
	{ "loop in an indirect table: NEEDS_RESET", c_indirect_loop, USES_MAIN },
	{ "indirect descriptor inside an indirect table: NEEDS_RESET", c_indirect_nested, USES_MAIN },
	{ "indirect table length not a multiple of 16: NEEDS_RESET", c_indirect_bad_length, USES_MAIN },
	{ "empty indirect table: NEEDS_RESET", c_indirect_empty, USES_MAIN },
	{ "indirect table outside the mapping: NEEDS_RESET", c_indirect_unmapped, USES_MAIN },
	{ "indirect table in a write-only mapping: NEEDS_RESET", c_indirect_write_only, USES_MAIN },
	{ "indirect chain as long as the ring served, of 1025 refused", c_indirect_longer_than_ring, USES_MAIN },
	{ "indirect chains of 65535 and 65536 (wrapping) descriptors refused", c_indirect_max_chain, USES_MAIN },
	{ "indirect chain cycling past 135168 entries: NEEDS_RESET, no warning", c_indirect_cycle, USES_MAIN },
	{ "avail idx jumping by more than the ring size", c_avail_jump, USES_MAIN },
	{ "avail idx moved backwards (65535 entries), then reset", c_avail_backwards_then_reset, USES_MAIN },
	{ "descriptor table outside the mapping: NEEDS_RESET", c_desc_table_unmapped, USES_MAIN },
	{ "descriptor table in a write-only mapping: NEEDS_RESET", c_desc_table_write_only, USES_MAIN },
	{ "avail ring outside the mapping: NEEDS_RESET", c_avail_ring_unmapped, USES_MAIN },
	{ "used ring in a read-only mapping: NEEDS_RESET", c_used_ring_read_only, USES_MAIN },
	{ "used ring outside the mapping: NEEDS_RESET", c_used_ring_unmapped, USES_MAIN },
	{ "unaligned descriptor table is served", c_desc_table_unaligned, USES_MAIN },
	{ "reset with 32 requests in flight: prompt, no write after it", c_reset_mid_request, USES_MAIN | HUGE },
	{ "unmap of unused memory with requests in flight loses none", c_unmap_other_region_in_flight, USES_MAIN },
	{ "unmap of the data with requests in flight: all complete, no write after", c_unmap_data_in_flight, USES_MAIN | HUGE },
	{ "unmap while the rate limiter holds a request: it completes", c_unmap_while_held, USES_MAIN },
	{ "queue enabled while the rate limiter holds a request: it completes", c_enable_queue_while_held, USES_MAIN },
	{ "rings unmapped and mapped back while running: no NEEDS_RESET, request served", c_ring_remap, USES_MAIN },
	{ "rings unmapped for good: kicks do nothing, reset works", c_ring_unmapped_for_good, USES_MAIN },
	{ "features without VERSION_1 refused", c_features_without_version_1, USES_MAIN },
	{ "read-only device: write refused, disk unchanged", c_ro_write_refused, USES_RO },
	{ "read-only device: discard and write-zeroes refused", c_ro_discard_refused, USES_RO },
	{ "read-only device: read and flush served", c_ro_read_flush, USES_RO },
	{ "read-only device: write refused though RO not negotiated", c_ro_not_negotiated, USES_RO },
	{ "device without medium: I/O refused, GET_ID served", c_empty_device, USES_EMPTY },
	/* issue 13 */
	{ "#8 header and data in one descriptor served", c_header_and_data_one_descriptor, USES_MAIN | HUGE },
	{ "#8 header split into the data descriptor served", c_header_split_into_data, USES_MAIN | HUGE },
	{ "#8 write-zeroes header and segment in one descriptor served", c_dwz_header_and_segment_one_descriptor, USES_MAIN },
	{ "#8 [20-byte header][508]: 512 bytes served from both", c_consumed_20_508, USES_MAIN | HUGE },
	{ "#8 [20-byte header][524]: unaligned, nothing read past a descriptor", c_consumed_20_524, USES_MAIN },
	{ "#7 262140 descriptors through repeated tables refused, promptly", c_walk_repeated_tables, USES_MAIN },
	{ "#7 cycle of top-level indirect descriptors refused, promptly", c_walk_indirect_cycle, USES_MAIN },
	{ "#3 data in (huge) pages served in place, not bounced", c_zero_copy, USES_MAIN | HUGE },
	{ "#4 callbacks switched under I/O: no torn callback", c_torn_callback, USES_MAIN },
	{ "#1 queue disabled on a stopped device with reads in flight", c_disable_stopped_queue_in_flight, USES_SLOW },
	{ "#9 VHOST_SET_VRING_BASE with reads in flight", c_set_base_in_flight, USES_SLOW },
	/* issue 16; deletes its device, so it runs once, and last */
	{ "vdpa dev del while the VMM holds the device: IOERR, then gone", c_del_while_open, USES_DEL },
};

/* The device is running, not broken, and serves a good request. */
static int post_check(struct dev *d)
{
	int st;

	if (d->wedged)
		return -1;
	st = dev_status(d);
	if (st != 0xf) {
		diag("device %s left with status 0x%x%s", d->name, st,
		     st >= 0 && (st & NEEDS_RESET) ? " (NEEDS_RESET)" : "");
		dev_restart(d);
		return -1;
	}
	if (canary_check(d))
		return -1;
	if (good_io(d, q0(d), &C.rng)) {
		diag("device %s no longer serves a good request", d->name);
		dev_restart(d);
		return -1;
	}
	return 0;
}

/*
 * With --mem thp or hugetlb only the cases marked HUGE run (all of them
 * with --all), named "[thp] ..." or "[hugetlb] ...".
 */
static bool selected(const struct hcase *c, const struct case_opts *o)
{
	const char *p = o->only;
	bool match = !p;

	/* --only A|B|C: a name containing any of them. */
	while (p && !match) {
		size_t n = strcspn(p, "|");

		match = !!memmem(c->name, strlen(c->name), p, n);
		p = p[n] ? p + n + 1 : NULL;
	}
	if (!match)
		return false;
	return mem_mode == MEM_ANON || o->all || (c->flags & HUGE);
}

static const char *case_name(const struct hcase *c, char *buf, size_t len)
{
	if (mem_mode == MEM_ANON)
		return c->name;
	snprintf(buf, len, "[%s] %s", mem_mode_name(mem_mode), c->name);
	return buf;
}

int run_cases(struct dev *main_dev, struct dev *ro_dev, struct dev *empty_dev,
	      struct dev *slow_dev, struct dev *del_dev,
	      const struct case_opts *o)
{
	unsigned int i, failed = 0;
	char buf[512];

	C.d = main_dev;
	C.ro = ro_dev;
	C.empty = empty_dev;
	C.slow = slow_dev;
	C.del = del_dev;
	C.rng = 0x5eed0fca5e5ULL;
	if (!o->list) {
		unsigned int n = 0;

		for (i = 0; i < NS(cases); i++)
			n += selected(&cases[i], o);
		printf("1..%u\n", n);
	}
	for (i = 0; i < NS(cases); i++) {
		const struct hcase *c = &cases[i];
		const char *name = case_name(c, buf, sizeof(buf));
		struct dev *d = c->flags & USES_RO ? C.ro :
				c->flags & USES_EMPTY ? C.empty :
				c->flags & USES_SLOW ? C.slow :
				c->flags & USES_DEL ? C.del : C.d;
		int ret, post;

		if (!selected(c, o))
			continue;
		if (o->list) {
			printf("%s\n", name);
			continue;
		}
		if (!d) {
			tap_result(true, name, c->flags & USES_RO ?
				   "no read-only device given (--ro-dev)" :
				   c->flags & USES_EMPTY ?
				   "no device without medium given (--empty-dev)" :
				   c->flags & USES_DEL ?
				   "no device to delete given (--del-dev)" :
				   "no device on a slow block device given (--slow-dev)");
			continue;
		}
		if (d->wedged) {
			diag("%s was wedged by an earlier case: not touched again", d->name);
			diag_flush();
			tap_result(false, name, NULL);
			failed++;
			continue;
		}
		kmsg("hostile: case %u: %s", i + 1, name);
		kmsg_tail();
		case_skip = NULL;
		ret = c->fn();
		if (ret && ret != CASE_SKIP)
			diag("outcome not as expected");
		/* A deleted device is checked by its case. */
		post = c->flags & USES_DEL ? 0 : post_check(d);
		if (kmsg_check()) {
			diag("the kernel logged a splat during this case");
			post = -1;
		}
		if (d != C.d && C.d && canary_check(C.d))
			post = -1;
		if (ret == CASE_SKIP && !post) {
			diag_flush();
			tap_result(true, name, case_skip);
			continue;
		}
		if (ret && !post && (c->flags & KNOWN_BUG) && !o->strict) {
			diag_flush();
			tap_result(true, name, KNOWN_BUG_SKIP);
			continue;
		}
		ret = ret || post;
		tap_result(!ret, name, NULL);
		failed += !!ret;
	}
	return failed ? 1 : 0;
}
