// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile fuzz mode: random descriptor chains for a fixed time, from
 * a printed seed, against one device, while a child process keeps doing
 * verified I/O on a second device and times every request.
 *
 * The invariants on the fuzzed device: every chain published gets a used
 * entry, or the device sets NEEDS_RESET (then it is reset); nothing is
 * written outside the mapped, writable guest memory; after a reset, and
 * every few iterations, a good request is served and matches the backing
 * file. The neighbour must see no error and no request slower than the
 * bound.
 *
 * The same seed gives the same sequence of chains (the outcomes depend on
 * timing only where the harness resets the device with requests in
 * flight), so a failure is replayed with --seed and --iterations.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include "hostile.h"

struct fz {
	struct dev *d;
	struct vq *q;
	u64 rng;
	unsigned long iters, chains, descs;
	unsigned long done, needs_reset, resets, good;
	unsigned long st_ok, st_ioerr, st_unsupp, st_other;
};

static u64 rnd(struct fz *f, u64 n)
{
	return n ? rnd64(&f->rng) % n : 0;
}

static bool chance(struct fz *f, unsigned int one_in)
{
	return !rnd(f, one_in);
}

/* Where a buffer of @len bytes goes: mostly valid data memory. */
static u64 pick_addr(struct fz *f, u64 len)
{
	u64 room = len < DATA_BUF_SIZE ? DATA_BUF_SIZE - len : 0;

	switch (rnd(f, 20)) {
	case 0:
		return iova(OFF_HOLE) + rnd(f, SZ_64K);
	case 1:
		return iova(OFF_RO) + rnd(f, SZ_64K);
	case 2:
		return iova(OFF_WO) + rnd(f, SZ_64K);
	case 3:		/* straddling the end of the data mapping */
		return iova(OFF_HOLE) - 1 - rnd(f, 8192);
	case 4:
		return rnd64(&f->rng);
	case 5:
		return iova(OFF_DATA) + rnd(f, room + 1);	/* unaligned */
	default:
		return iova(OFF_DATA) + (rnd(f, room + 1) & ~(SECTOR - 1));
	}
}

static u32 pick_len(struct fz *f)
{
	static const u32 lens[] = { 512, 512, 1024, 4096, 4096, 8192, 65536,
				    0, 1, 511, 513, 131072, 0x80000000,
				    0xffffffff, 0xfffffe00 };

	if (chance(f, 8))
		return rnd(f, 1 << 17);
	return lens[rnd(f, ARRAY_SIZE(lens))];
}

static u32 pick_type(struct fz *f)
{
	static const u32 types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_IN,
				     VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
				     VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_OUT,
				     VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
				     VIRTIO_BLK_T_DISCARD,
				     VIRTIO_BLK_T_WRITE_ZEROES };

	if (chance(f, 16))
		return (u32)rnd64(&f->rng);
	return types[rnd(f, ARRAY_SIZE(types))];
}

static u64 pick_sector(struct fz *f)
{
	u64 cap = f->d->capacity;

	switch (rnd(f, 12)) {
	case 0: return cap;
	case 1: return cap - 1;
	case 2: return 1ULL << 55;
	case 3: return UINT64_MAX - rnd(f, 4);
	case 4: return rnd64(&f->rng);
	default: return rnd(f, cap > 256 ? cap - 256 : 1);
	}
}

/* One random chain for slot @c, into @s; returns the number of segments. */
static unsigned int gen_chain(struct fz *f, unsigned int c, struct seg *s,
			      unsigned int max)
{
	struct dev *d = f->d;
	struct vq *q = f->q;
	u32 type = pick_type(f);
	u16 dir = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ?
		  VRING_DESC_F_WRITE : 0;
	unsigned int n = 0, ndata, i;
	bool writable = false;

	/*
	 * Most chains keep the readable-then-writable order, so that they
	 * reach the request checks; a broken order resets the device.
	 */
	if (chance(f, 12))
		dir ^= VRING_DESC_F_WRITE;
	put_hdr(d, q, c, type, pick_sector(f));
	*(u8 *)gva(d, status_iova(q, c)) = STATUS_UNSET;
	if (chance(f, 10)) {
		s[n++] = (struct seg){ chance(f, 2) ? hdr_iova(q, c) : pick_addr(f, 16),
				       (u32)rnd(f, 33), chance(f, 8) ? VRING_DESC_F_WRITE : 0 };
		writable = s[0].flags;
	} else {
		s[n++] = (struct seg){ hdr_iova(q, c), 16, 0 };
	}

	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		u64 a = iova(OFF_DATA + 3 * SZ_64K) + 16 * c;
		struct virtio_blk_discard_write_zeroes *seg = gva(d, a);

		seg->sector = htole64(pick_sector(f));
		seg->num_sectors = htole32(chance(f, 4) ? (u32)rnd64(&f->rng) :
					   (u32)rnd(f, 4096));
		seg->flags = htole32(chance(f, 4) ? (u32)rnd64(&f->rng) :
				     (u32)rnd(f, 2));
		ndata = chance(f, 8) ? rnd(f, 3) : 1;
		for (i = 0; i < ndata && n < max - 1; i++)
			s[n++] = (struct seg){ chance(f, 8) ? pick_addr(f, 16) : a,
					       chance(f, 8) ? pick_len(f) : 16, 0 };
	} else {
		ndata = chance(f, 16) ? rnd(f, 70) : rnd(f, 5);
		for (i = 0; i < ndata && n < max - 1; i++) {
			u32 len = pick_len(f);

			s[n++] = (struct seg){ pick_addr(f, len), len,
					       chance(f, 64) ? dir ^ VRING_DESC_F_WRITE : dir };
			writable |= s[n - 1].flags;
		}
	}

	switch (rnd(f, 16)) {
	case 0:		/* no status */
		break;
	case 1:		/* not device-writable */
		s[n++] = (struct seg){ status_iova(q, c), 1,
				       writable && !chance(f, 8) ? VRING_DESC_F_WRITE : 0 };
		break;
	case 2:
		s[n++] = (struct seg){ status_iova(q, c), (u32)rnd(f, 17),
				       VRING_DESC_F_WRITE };
		break;
	case 3:
		s[n++] = (struct seg){ pick_addr(f, 1), 1, VRING_DESC_F_WRITE };
		break;
	default:
		s[n++] = (struct seg){ status_iova(q, c), 1, VRING_DESC_F_WRITE };
	}
	return n;
}

/* Spoil one descriptor of a chain already written. */
static void corrupt(struct fz *f, struct vring_desc *t, unsigned int n,
		    unsigned int tmax)
{
	struct vring_desc *e = &t[rnd(f, n)];

	switch (rnd(f, 5)) {
	case 0:
		e->next = htole16((u16)rnd(f, tmax + 2));
		e->flags |= htole16(VRING_DESC_F_NEXT);
		break;
	case 1:
		e->flags &= htole16(~VRING_DESC_F_NEXT);
		break;
	case 2:
		e->flags = htole16((u16)rnd64(&f->rng));
		break;
	case 3:
		e->len = htole32((u32)rnd64(&f->rng));
		break;
	default:
		e->addr = htole64(pick_addr(f, 512));
	}
}

static void count_status(struct fz *f, unsigned int nchains)
{
	unsigned int c;

	for (c = 0; c < nchains; c++) {
		u8 st = *(u8 *)gva(f->d, status_iova(f->q, c));

		if (st == VIRTIO_BLK_S_OK)
			f->st_ok++;
		else if (st == VIRTIO_BLK_S_IOERR)
			f->st_ioerr++;
		else if (st == VIRTIO_BLK_S_UNSUPP)
			f->st_unsupp++;
		else
			f->st_other++;
	}
}

static int restart(struct fz *f)
{
	f->resets++;
	CHECK(!dev_restart(f->d), "restart after iteration %lu", f->iters);
	CHECK(!good_io(f->d, f->q, &f->rng), "good I/O after the restart of iteration %lu",
	      f->iters);
	f->good++;
	return 0;
}

/* One iteration: up to 8 random chains, published, kicked, waited for. */
static int iteration(struct fz *f)
{
	struct dev *d = f->d;
	struct vq *q = f->q;
	struct vring_desc *dt = gva(d, q->desc_iova);
	unsigned int nchains = 1 + rnd(f, 8), c, next = 0, published = 0;
	struct seg s[80];
	struct result r;
	bool jumped = false;

	for (c = 0; c < nchains; c++) {
		unsigned int n = gen_chain(f, c, s, 76);
		u16 head;

		f->descs += n;
		if (chance(f, 4) && n * 16 <= 1024) {
			u64 table = iova(OFF_RING + R_INDIRECT) + 1024ULL * c;

			head = put_indirect(q, d, next, table, s, n);
			if (chance(f, 24))
				corrupt(f, gva(d, table), n, n);
			next += 1;
		} else {
			if (next + n > q->num)
				break;
			head = put_chain(q, d, next, s, n);
			if (chance(f, 24))
				corrupt(f, dt + next, n, q->num);
			next += n;
		}
		if (chance(f, 128))
			head = (u16)rnd(f, 2 * q->num);
		publish(d, q, head);
		published++;
		f->chains++;
		if (next >= q->num)
			break;
	}
	if (chance(f, 200)) {
		/* The index jumps: the stale entries are served again. */
		publish_idx(d, q, q->avail_idx + rnd(f, 2 * q->num));
		jumped = true;
	}
	if (chance(f, 32))
		kick(&d->vq[1]);	/* never set up */
	kick(q);
	if (chance(f, 50)) {
		/* Reset with the chains in flight. */
		msleep(rnd(f, 3));
		return restart(f);
	}
	wait_used(d, q, q->avail_idx, 30000, &r);
	switch (r.out) {
	case OUT_DONE:
		f->done++;
		if (!jumped)
			count_status(f, published);
		break;
	case OUT_NEEDS_RESET:
		f->needs_reset++;
		CHECK(!restart(f), "");
		break;
	case OUT_TIMEOUT:
		diag("iteration %lu: %u chains, avail idx %u, used idx %u, device status 0x%x: no completion and no NEEDS_RESET in 30 s",
		     f->iters, published, q->avail_idx, used_idx(d, q), r.dev_status);
		return -1;
	default:
		return -1;
	}
	CHECK(!canary_check(d), "iteration %lu", f->iters);
	CHECK(!kmsg_check(), "the kernel logged a splat in iteration %lu", f->iters);
	if (!(f->iters % 8)) {
		CHECK(!good_io(d, q, &f->rng), "good I/O after iteration %lu", f->iters);
		f->good++;
	}
	return 0;
}

/* ---- the neighbour ------------------------------------------------------- */

struct nb_result {
	unsigned long ops;
	unsigned long bytes;
	u64 max_ns;
	int failed;
	char msg[512];
};

static void neighbour(struct dev *d, unsigned int seconds, unsigned int bound_ms,
		      u64 seed, int out)
{
	struct nb_result res = { 0 };
	u64 end = now_ms() + seconds * 1000ULL, rng = seed ^ 0xabcdef;
	u64 wr = iova(OFF_DATA), rd = iova(OFF_DATA + DATA_BUF_SIZE / 2);

	if (dev_open(d, 1) || dev_start(d)) {
		res.failed = 1;
		snprintf(res.msg, sizeof(res.msg), "cannot start the neighbour device");
		goto out;
	}
	while (now_ms() < end) {
		u32 len = SECTOR * (1 + rnd64(&rng) % 256);
		u64 sector = rnd64(&rng) % (d->capacity - len / SECTOR);
		struct result r;
		u64 t0, t1, t2;
		u32 i;

		for (i = 0; i < len; i += 8) {
			u64 v = rnd64(&rng);

			memcpy(gva(d, wr + i), &v, 8);
		}
		memset(gva(d, rd), 0, len);
		t0 = now_ns();
		blk_io(d, &d->vq[0], VIRTIO_BLK_T_OUT, sector, wr, len, &r);
		t1 = now_ns();
		if (r.out != OUT_DONE || r.status != VIRTIO_BLK_S_OK) {
			snprintf(res.msg, sizeof(res.msg), "write of %u bytes at sector %llu: %s, status %u",
				 len, (unsigned long long)sector, outcome_name(r.out), r.status);
			res.failed = 1;
			break;
		}
		blk_io(d, &d->vq[0], VIRTIO_BLK_T_IN, sector, rd, len, &r);
		t2 = now_ns();
		if (r.out != OUT_DONE || r.status != VIRTIO_BLK_S_OK) {
			snprintf(res.msg, sizeof(res.msg), "read of %u bytes at sector %llu: %s, status %u",
				 len, (unsigned long long)sector, outcome_name(r.out), r.status);
			res.failed = 1;
			break;
		}
		if (memcmp(gva(d, wr), gva(d, rd), len)) {
			snprintf(res.msg, sizeof(res.msg), "read back at sector %llu differs",
				 (unsigned long long)sector);
			res.failed = 1;
			break;
		}
		if (!(res.ops % 64) && backing_compare(d, sector, gva(d, rd), len)) {
			snprintf(res.msg, sizeof(res.msg), "backing file differs at sector %llu",
				 (unsigned long long)sector);
			res.failed = 1;
			break;
		}
		res.ops += 2;
		res.bytes += 2ULL * len;
		if (t1 - t0 > res.max_ns)
			res.max_ns = t1 - t0;
		if (t2 - t1 > res.max_ns)
			res.max_ns = t2 - t1;
		if (res.max_ns > bound_ms * 1000000ULL) {
			snprintf(res.msg, sizeof(res.msg), "a request took %llu ms, over the %u ms bound",
				 (unsigned long long)res.max_ns / 1000000, bound_ms);
			res.failed = 1;
			break;
		}
	}
out:
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(2);
	dev_close(d);
	_exit(0);
}

int run_fuzz(struct dev *d, struct dev *nb, const struct fuzz_opts *o)
{
	struct fz f = { .d = d, .q = &d->vq[0], .rng = o->seed };
	struct nb_result res = { 0 };
	u64 start, end;
	pid_t pid = -1;
	int pipefd[2] = { -1, -1 }, failed = 0, status;
	char name[256];

	if (o->list) {
		printf("fuzz\nneighbour\n");
		return 0;
	}
	printf("1..2\n");
	printf("# fuzz: seed %llu (replay: --seed %llu), %u s, neighbour bound %u ms\n",
	       (unsigned long long)o->seed, (unsigned long long)o->seed,
	       o->seconds, o->max_latency_ms);
	fflush(stdout);
	kmsg("hostile: fuzz, seed %llu", (unsigned long long)o->seed);

	if (nb) {
		if (pipe(pipefd))
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (!pid) {
			close(pipefd[0]);
			neighbour(nb, o->seconds + 2, o->max_latency_ms, o->seed,
				  pipefd[1]);
		}
		close(pipefd[1]);
	}

	if (dev_open(d, 1) || dev_start(d)) {
		diag("cannot start the fuzzed device");
		failed = 1;
	} else {
		/* Queue 1 is never set up, but kicks reach the device. */
		struct vhost_vring_file kf = { .index = 1, .fd = d->vq[1].kick_fd };

		if (ioctl(d->fd, VHOST_SET_VRING_KICK, &kf))
			diag("kick fd on queue 1: %s", strerror(errno));
	}
	kmsg_tail();
	start = now_ms();
	end = start + o->seconds * 1000ULL;
	while (!failed && now_ms() < end &&
	       (!o->iterations || f.iters < o->iterations)) {
		if (iteration(&f)) {
			diag("fuzz failed at iteration %lu (seed %llu)", f.iters,
			     (unsigned long long)o->seed);
			failed = 1;
		}
		f.iters++;
	}
	if (!failed) {
		if (good_io(d, f.q, &f.rng) || canary_check(d))
			failed = 1;
	}
	diag("%lu iterations in %llu s: %lu chains of %lu descriptors; %lu completed rounds, %lu NEEDS_RESET, %lu resets, %lu good requests verified",
	     f.iters, (unsigned long long)(now_ms() - start) / 1000, f.chains,
	     f.descs, f.done, f.needs_reset, f.resets, f.good);
	diag("status bytes: %lu OK, %lu IOERR, %lu UNSUPP, %lu not written",
	     f.st_ok, f.st_ioerr, f.st_unsupp, f.st_other);
	diag("stats of %s: requests %ld, errors %ld, ring_errors %ld", d->name,
	     sysfs_stat(d, "requests", NULL), sysfs_stat(d, "errors", NULL),
	     sysfs_stat(d, "ring_errors", NULL));
	snprintf(name, sizeof(name), "fuzz: %lu iterations (%lu chains) in %u s, seed %llu",
		 f.iters, f.chains, o->seconds, (unsigned long long)o->seed);
	diag_flush();
	tap_result(!failed, name, NULL);
	dev_close(d);

	if (!nb) {
		tap_result(true, "neighbour", "no neighbour device given (--neighbour-dev)");
		return failed;
	}
	if (read(pipefd[0], &res, sizeof(res)) != sizeof(res)) {
		res.failed = 1;
		snprintf(res.msg, sizeof(res.msg), "the neighbour process died");
	}
	waitpid(pid, &status, 0);
	if (res.msg[0])
		printf("# neighbour: %s\n", res.msg);
	printf("# neighbour: %lu verified requests, %lu MiB, slowest %llu.%03llu ms (bound %u ms)\n",
	       res.ops, res.bytes >> 20, (unsigned long long)res.max_ns / 1000000,
	       (unsigned long long)(res.max_ns / 1000) % 1000, o->max_latency_ms);
	snprintf(name, sizeof(name), "neighbour: %lu verified requests, no error, slowest %llu ms (bound %u ms)",
		 res.ops, (unsigned long long)res.max_ns / 1000000, o->max_latency_ms);
	tap_result(!res.failed, name, NULL);
	return failed || res.failed;
}
