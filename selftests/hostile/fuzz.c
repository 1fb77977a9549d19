// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile fuzz mode: random descriptor chains on both queues of one
 * device, and random control-plane moves of its VMM between and during
 * them (queues disabled and enabled again, call fds switched, IOTLB
 * entries unmapped and mapped again, status bytes written, ring indexes
 * set, resets with requests in flight), while a child process keeps
 * doing verified I/O on a second device and times every request.
 *
 * The invariants on the fuzzed device: every chain published gets a used
 * entry, or the device sets NEEDS_RESET (then it is reset); nothing is
 * written outside the mapped, writable guest memory; after a reset, after
 * a move that upsets the rings, and every few iterations, a good request
 * is served and matches the backing file; the kernel logs no splat. The
 * neighbour must see no error and no request slower than the bound.
 *
 * Seeds: a fixed list, replayed by every run (each for at most
 * FIXED_ITERS iterations and its share of the time), then one new seed
 * for the rest of the time, printed. Each seed runs on a freshly opened
 * device, its guest memory backed as the seed says (anon, thp or
 * hugetlb) unless --mem is given, so that --seed S --iterations N
 * [--mem M] replays one (the outcomes depend on timing only where the
 * harness acts with requests in flight).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
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
	unsigned long ctl[16];		/* control-plane moves, by kind */
	int alt_call[2];		/* second call eventfd of each queue */
	bool may_break;			/* a ring was unmapped for a while */
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

static void count_status(struct fz *f, struct vq *q, unsigned int nchains)
{
	unsigned int c;

	for (c = 0; c < nchains; c++) {
		u8 st = *(u8 *)gva(f->d, status_iova(q, c));

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

static unsigned int unset_q;	/* a queue never set up, with a kick fd, or 0 */

/* ---- the VMM's moves ------------------------------------------------------- */

enum ctl {
	CTL_CALL,		/* a queue's call fd: its eventfd, another, none */
	CTL_CONFIG_CALL,	/* the config call fd: its eventfd or none */
	CTL_UNMAP_SMALL,	/* the RO or WO mapping invalidated, mapped again */
	CTL_UNMAP_DATA,		/* the data mapping (with queue 1's rings) too */
	CTL_QUEUE,		/* a queue disabled, set up and enabled again */
	CTL_STATUS,		/* a status byte written */
	CTL_BASE,		/* VHOST_SET_VRING_BASE to anything */
	CTL_RESET,		/* reset */
	CTL_NR
};

static const char * const ctl_names[CTL_NR] = {
	"call fd", "config call fd", "RO/WO unmap", "data unmap", "queue off/on",
	"status write", "vring base", "reset",
};

static int set_call(struct dev *d, unsigned int idx, int fd)
{
	struct vhost_vring_file vf = { .index = idx, .fd = fd };

	return ioctl(d->fd, VHOST_SET_VRING_CALL, &vf) ? -errno : 0;
}

/*
 * One move of the VMM; some with requests in flight. Returns 1 if the
 * rings are no longer what the harness thinks (the device must then be
 * reset), 0 if every chain published still gets a used entry or
 * NEEDS_RESET, -1 if the harness could not talk to the device.
 */
static int ctl_move(struct fz *f, enum ctl m)
{
	static const u8 statuses[] = { 0x0b, 0x8f, 0x4f, 0x0f, 0x07, 0x03, 0xff, 0x00 };
	struct dev *d = f->d;
	unsigned int qi = rnd(f, d->nq);
	struct vhost_vring_state st = { .index = qi };
	u8 status;
	int fd;

	f->ctl[m]++;
	switch (m) {
	case CTL_CALL:
		fd = chance(f, 3) ? VHOST_FILE_UNBIND :
		     chance(f, 2) ? f->alt_call[qi] : d->vq[qi].call_fd;
		CHECK(!set_call(d, qi, fd), "VHOST_SET_VRING_CALL %u, fd %d: %s", qi, fd,
		      strerror(errno));
		return 0;
	case CTL_CONFIG_CALL:
		fd = chance(f, 2) ? VHOST_FILE_UNBIND : d->config_fd;
		CHECK(!ioctl(d->fd, VHOST_VDPA_SET_CONFIG_CALL, &fd),
		      "VHOST_VDPA_SET_CONFIG_CALL %d: %s", fd, strerror(errno));
		return 0;
	case CTL_UNMAP_SMALL:
		if (chance(f, 2)) {
			CHECK(!iotlb_unmap(d, OFF_RO, SZ_64K), "");
			CHECK(!iotlb_map(d, OFF_RO, SZ_64K, VHOST_ACCESS_RO), "");
		} else {
			CHECK(!iotlb_unmap(d, OFF_WO, SZ_64K), "");
			CHECK(!iotlb_map(d, OFF_WO, SZ_64K, VHOST_ACCESS_WO), "");
		}
		return 0;
	case CTL_UNMAP_DATA:
		/*
		 * Queue 1's rings lie in this mapping: the device stays paused
		 * until they are back (issue 16, case "rings unmapped and
		 * mapped back"). A NEEDS_RESET is still tolerated here.
		 */
		f->may_break = d->nq > 1;
		CHECK(!iotlb_unmap(d, OFF_DATA, DATA_SIZE), "");
		if (chance(f, 2))
			msleep(rnd(f, 3));
		CHECK(!iotlb_map(d, OFF_DATA, DATA_SIZE, VHOST_ACCESS_RW), "");
		return 0;
	case CTL_QUEUE:
		st.num = 0;
		CHECK(!ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st),
		      "disable queue %u: %s", qi, strerror(errno));
		if (chance(f, 2))
			msleep(rnd(f, 3));
		CHECK(!vq_setup(d, &d->vq[qi]), "enable queue %u again", qi);
		return 1;
	case CTL_STATUS:
		status = chance(f, 4) ? (u8)rnd64(&f->rng) : statuses[rnd(f, ARRAY_SIZE(statuses))];
		/* vhost-vdpa refuses to clear bits but by a reset: EINVAL is fine. */
		ioctl(d->fd, VHOST_VDPA_SET_STATUS, &status);
		msleep(rnd(f, 3));
		return 1;
	case CTL_BASE:
		st.num = chance(f, 2) ? (u16)rnd64(&f->rng) :
			 (u16)(d->vq[qi].avail_idx + rnd(f, 5) - 2);
		ioctl(d->fd, VHOST_SET_VRING_BASE, &st);
		msleep(rnd(f, 5));
		return 1;
	case CTL_RESET:
		msleep(rnd(f, 3));
		return 1;
	default:
		return 0;
	}
}

/* Random chains on @q, published; returns how many. */
static unsigned int publish_chains(struct fz *f, struct vq *q, bool *jumped)
{
	struct dev *d = f->d;
	struct vring_desc *dt = gva(d, q->desc_iova);
	unsigned int nchains = 1 + rnd(f, 8), c, next = 0, published = 0;
	struct seg s[80];

	f->q = q;
	for (c = 0; c < nchains; c++) {
		unsigned int n = gen_chain(f, c, s, 76);
		u16 head;

		f->descs += n;
		if (chance(f, 4) && n * 16 <= 1024) {
			u64 table = iova(q->area + R_INDIRECT) + 1024ULL * c;

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
	*jumped = false;
	if (chance(f, 200)) {
		/* The index jumps: the stale entries are served again. */
		publish_idx(d, q, q->avail_idx + rnd(f, 2 * q->num));
		*jumped = true;
	}
	return published;
}

/*
 * One iteration: up to 8 random chains on one queue, or on both, published
 * and kicked, perhaps with a move of the VMM before or while they are in
 * flight, and waited for.
 */
static int iteration(struct fz *f)
{
	struct dev *d = f->d;
	unsigned int first = rnd(f, d->nq), nq = d->nq > 1 && chance(f, 4) ? 2 : 1;
	unsigned int published[2] = { 0 }, i;
	bool jumped[2] = { false };
	int moved = 0;
	struct result r;

	if (chance(f, 10)) {
		moved = ctl_move(f, (enum ctl)rnd(f, CTL_NR));
		if (moved < 0)
			return -1;
		if (moved)
			return restart(f);
	}
	for (i = 0; i < nq; i++) {
		struct vq *q = &d->vq[(first + i) % d->nq];

		published[i] = publish_chains(f, q, &jumped[i]);
	}
	if (chance(f, 32) && unset_q)
		kick(&d->vq[unset_q]);	/* never set up */
	for (i = 0; i < nq; i++)
		kick(&d->vq[(first + i) % d->nq]);
	if (chance(f, 8)) {
		/* A move with the chains in flight. */
		moved = ctl_move(f, (enum ctl)rnd(f, CTL_NR));
		if (moved < 0)
			return -1;
		if (moved)
			return restart(f);
	}
	for (i = 0; i < nq; i++) {
		struct vq *q = &d->vq[(first + i) % d->nq];

		f->q = q;
		wait_used(d, q, q->avail_idx, 30000, &r);
		switch (r.out) {
		case OUT_DONE:
			f->done++;
			if (!jumped[i])
				count_status(f, q, published[i]);
			continue;
		case OUT_NEEDS_RESET:
			f->needs_reset++;
			CHECK(!restart(f), "");
			break;
		case OUT_TIMEOUT:
			diag("iteration %lu, queue %u: %u chains, avail idx %u, used idx %u, device status 0x%x: no completion and no NEEDS_RESET in 30 s",
			     f->iters, q->idx, published[i], q->avail_idx, used_idx(d, q),
			     r.dev_status);
			return -1;
		default:
			return -1;
		}
		break;	/* restarted: the other queue's chains are gone */
	}
	CHECK(!canary_check(d), "iteration %lu", f->iters);
	CHECK(!kmsg_check(), "the kernel logged a splat in iteration %lu", f->iters);
	if (f->may_break) {
		int st = dev_status(d);

		f->may_break = false;
		CHECK(st >= 0, "");
		if (st & VIRTIO_CONFIG_S_NEEDS_RESET) {
			f->needs_reset++;
			return restart(f);
		}
	}
	if (!(f->iters % 8)) {
		CHECK(!good_io(d, f->q, &f->rng), "good I/O after iteration %lu", f->iters);
		f->good++;
	}
	return 0;
}

/* ---- seeds ------------------------------------------------------------------- */

/* Replayed by every run; a seed that once found a bug belongs here. */
static const u64 fixed_seeds[] = {
	0x13a1c0ffee000001ULL, 0x13a1c0ffee000002ULL, 0x13a1c0ffee000003ULL,
	0x5eedbeef00000004ULL, 0x5eedbeef00000005ULL, 0x5eedbeef00000006ULL,
};
#define FIXED_ITERS	150

/* The backing of a seed's guest memory: --mem, else the seed says. */
static enum mem_mode seed_mem(u64 seed, const struct fuzz_opts *o, enum mem_mode given)
{
	return o->mem_set ? given : (enum mem_mode)(seed % 3);
}

/* Run @seed on a freshly opened @d until @end_ms or @max_iters. */
static int fuzz_seed(struct dev *d, u64 seed, enum mem_mode m, u64 end_ms,
		     unsigned long max_iters, const char *what)
{
	struct fz f = { .d = d, .q = &d->vq[0], .rng = seed };
	struct vhost_vring_file kf;
	u64 start = now_ms();
	char name[256];
	int failed = 0;
	unsigned int i;

	{	/* a fresh device but for its names */
		struct dev fresh = { .path = d->path, .name = d->name,
				     .backing = d->backing };

		*d = fresh;
	}
	f.alt_call[0] = f.alt_call[1] = -1;
	mem_mode = m;
	if (dev_open(d, 1)) {
		if (m == MEM_HUGETLB) {
			diag("no hugetlb memory for seed %llu: anon instead", (unsigned long long)seed);
			dev_close(d);
			mem_mode = m = MEM_ANON;
			if (dev_open(d, 1))
				failed = 1;
		} else {
			failed = 1;
		}
	}
	if (!failed && dev_start(d))
		failed = 1;
	if (!failed && (d->features & (1ULL << VIRTIO_BLK_F_MQ)) &&
	    le16toh(d->cfg.num_queues) >= 2) {
		d->nq = 2;
		if (vq_setup(d, &d->vq[1]))
			failed = 1;
	}
	for (i = 0; !failed && i < 2; i++) {
		f.alt_call[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (f.alt_call[i] < 0)
			failed = 1;
	}
	/*
	 * A queue the device has but the driver never set up gets kicks too
	 * (beyond num_queues, vhost-vdpa refuses the kick fd itself).
	 */
	kf.index = d->nq;
	kf.fd = d->vq[d->nq].kick_fd;
	if (!failed && ioctl(d->fd, VHOST_SET_VRING_KICK, &kf))
		kf.index = 0;
	unset_q = kf.index;
	if (failed)
		diag("cannot start the fuzzed device");
	kmsg("hostile: fuzz, seed %llu, mem %s", (unsigned long long)seed, mem_mode_name(m));
	kmsg_tail();
	while (!failed && now_ms() < end_ms && (!max_iters || f.iters < max_iters)) {
		if (iteration(&f)) {
			diag("fuzz failed at iteration %lu; replay: --seed %llu --iterations %lu --mem %s",
			     f.iters, (unsigned long long)seed, f.iters + 1, mem_mode_name(m));
			failed = 1;
		}
		f.iters++;
	}
	if (!failed && (good_io(d, &d->vq[0], &f.rng) || canary_check(d) || kmsg_check()))
		failed = 1;
	diag("seed %llu, mem %s, %d queue(s): %lu iterations in %llu ms: %lu chains of %lu descriptors; %lu completed rounds, %lu NEEDS_RESET, %lu resets, %lu good requests verified",
	     (unsigned long long)seed, mem_mode_name(m), d->nq, f.iters,
	     (unsigned long long)(now_ms() - start), f.chains, f.descs, f.done,
	     f.needs_reset, f.resets, f.good);
	diag("status bytes: %lu OK, %lu IOERR, %lu UNSUPP, %lu not written",
	     f.st_ok, f.st_ioerr, f.st_unsupp, f.st_other);
	for (i = 0; i < CTL_NR; i++)
		diag("VMM moves: %-15s %lu", ctl_names[i], f.ctl[i]);
	diag("stats of %s: requests %ld, errors %ld, ring_errors %ld", d->name,
	     sysfs_stat(d, "requests", NULL), sysfs_stat(d, "errors", NULL),
	     sysfs_stat(d, "ring_errors", NULL));
	snprintf(name, sizeof(name), "fuzz: %s seed %llu (mem %s): %lu iterations",
		 what, (unsigned long long)seed, mem_mode_name(m), f.iters);
	tap_result(!failed, name, NULL);
	for (i = 0; i < 2; i++)
		if (f.alt_call[i] >= 0)
			close(f.alt_call[i]);
	dev_close(d);
	return failed;
}

int run_fuzz(struct dev *d, struct dev *nb, const struct fuzz_opts *o)
{
	unsigned int nfixed = o->seeded ? 0 : ARRAY_SIZE(fixed_seeds), i;
	enum mem_mode given = mem_mode;
	struct neighbour n = { 0 };
	u64 start, share, end;
	int failed = 0;
	char name[256];

	if (o->list) {
		for (i = 0; i < nfixed; i++)
			printf("fuzz: fixed seed %u\n", i + 1);
		printf("fuzz: %s seed\nneighbour\n", o->seeded ? "given" : "new");
		return 0;
	}
	printf("1..%u\n", nfixed + 2);
	printf("# fuzz: %u fixed seeds, then seed %llu (replay: --seed %llu%s%s), %u s, neighbour bound %u ms\n",
	       nfixed, (unsigned long long)o->seed, (unsigned long long)o->seed,
	       o->mem_set ? " --mem " : "", o->mem_set ? mem_mode_name(given) : "",
	       o->seconds, o->max_latency_ms);
	fflush(stdout);

	if (nb && neighbour_start(&n, nb, o->seconds + 2, o->max_latency_ms, o->seed)) {
		diag("cannot start the neighbour");
		failed = 1;
	}
	start = now_ms();
	end = start + o->seconds * 1000ULL;
	/* The fixed seeds take at most half of the time. */
	share = o->seconds * 1000ULL / (2 * (nfixed ? nfixed : 1));
	for (i = 0; i < nfixed; i++) {
		u64 s = fixed_seeds[i];
		char what[32];

		snprintf(what, sizeof(what), "fixed %u/%u", i + 1, nfixed);
		failed |= fuzz_seed(d, s, seed_mem(s, o, given), now_ms() + share,
				    FIXED_ITERS, what);
	}
	failed |= fuzz_seed(d, o->seed, seed_mem(o->seed, o, given), end,
			    o->iterations, o->seeded ? "given" : "new");

	if (!nb) {
		tap_result(true, "neighbour", "no neighbour device given (--neighbour-dev)");
		return failed;
	}
	if (neighbour_wait(&n) && !n.sh->msg[0])
		snprintf(n.sh->msg, sizeof(n.sh->msg), "failed");
	if (n.sh->msg[0])
		printf("# neighbour: %s\n", n.sh->msg);
	printf("# neighbour: %lu verified requests, %lu MiB, slowest %llu.%03llu ms (bound %u ms)\n",
	       n.sh->ops, n.sh->bytes >> 20, (unsigned long long)n.sh->max_ns / 1000000,
	       (unsigned long long)(n.sh->max_ns / 1000) % 1000, o->max_latency_ms);
	snprintf(name, sizeof(name), "neighbour: %lu verified requests, no error, slowest %llu ms (bound %u ms)",
		 n.sh->ops, (unsigned long long)n.sh->max_ns / 1000000, o->max_latency_ms);
	tap_result(!n.sh->failed, name, NULL);
	return failed || n.sh->failed;
}
