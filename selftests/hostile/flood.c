// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile flood mode (selftests/test_hostile_flood.sh; issue 13 #7):
 * unbounded work per kick. Every queue of a 16-queue device is filled
 * with requests whose chains make 6.1's vringh read 262140 descriptors
 * apiece (a header, top-level INDIRECT descriptors chained with NEXT,
 * which vringh neither counts nor refuses, visiting two tables of 65535
 * entries twice each, the status) while a neighbour device does verified
 * I/O; the script pins both devices' workers on one CPU, as an operator
 * sharing cores between guests would.
 *
 * The device must refuse such requests without walking them (none is
 * served: they are zero-length writes, stats/write_ops must not move).
 * In a second half, the chains are as long as a device may accept
 * (indirect tables of VQOS_MAX_QUEUE_SIZE descriptors, empty reads): the
 * device walks and serves them, 16 per queue and turn, and must still
 * yield its CPU. In both halves the neighbour's p99 latency must stay
 * within --max-latency-ms of its p99 alone; the kernel must log no soft
 * lockup, RCU stall or other splat, and a reset afterwards must be prompt.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include "hostile.h"

#define FL_QUEUES	16
#define FL_TABLE_N	65535U
#define FL_TABLE_R	(OFF_DATA + 0x10000)
#define FL_TABLE_W	(FL_TABLE_R + 16ULL * 65536)
#define FL_TABLE_L	(FL_TABLE_W + 16ULL * 65536)	/* VQOS_MAX_QUEUE_SIZE */
#define FL_HDR_L	(FL_TABLE_L + 0x4000)
#define FL_STATUS_L	(FL_TABLE_L + 0x4100)
#define FL_ZERO		(FL_TABLE_L + 0x8000)
/* Per queue 16 KiB: descriptors, avail ring, used ring, header and status. */
#define FL_AREA(i)	(FL_ZERO + 0x10000 + 0x4000ULL * (i))
#define FL_BASELINE_S	3

static void fl_desc(struct vring_desc *t, unsigned int i, u64 addr, u32 len,
		    u16 flags, u16 next)
{
	t[i].addr = htole64(addr);
	t[i].len = htole32(len);
	t[i].flags = htole16(flags);
	t[i].next = htole16(next);
}

static void fl_tables(struct dev *d)
{
	struct vring_desc *r = gva(d, iova(FL_TABLE_R)), *w = gva(d, iova(FL_TABLE_W));
	struct vring_desc *l = gva(d, iova(FL_TABLE_L));
	struct virtio_blk_outhdr *h = gva(d, iova(FL_HDR_L));
	unsigned int i, n = VQOS_MAX_QUEUE_SIZE;

	for (i = 0; i < FL_TABLE_N; i++) {
		u16 next = i + 1 < FL_TABLE_N ? VRING_DESC_F_NEXT : 0;

		fl_desc(r, i, iova(FL_ZERO), 0, next, next ? i + 1 : 0);
		fl_desc(w, i, iova(FL_ZERO), 0, VRING_DESC_F_WRITE | next, next ? i + 1 : 0);
	}
	/* The long chain: a read of nothing, header, empty buffers, status. */
	h->type = htole32(VIRTIO_BLK_T_IN);
	h->ioprio = 0;
	h->sector = 0;
	fl_desc(l, 0, iova(FL_HDR_L), 16, VRING_DESC_F_NEXT, 1);
	for (i = 1; i < n - 1; i++)
		fl_desc(l, i, iova(FL_ZERO), 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, i + 1);
	fl_desc(l, n - 1, iova(FL_STATUS_L), 1, VRING_DESC_F_WRITE, 0);
}

#define HEAD_HEAVY	0
#define HEAD_LONG	8

/* Descriptor 0 of queue @i heads the heavy chain: a write of nothing. */
static void fl_chain(struct dev *d, unsigned int i)
{
	u64 a = FL_AREA(i);
	struct vring_desc *t = gva(d, iova(a));
	struct virtio_blk_outhdr *h = gva(d, iova(a + 0x3000));
	unsigned int k;

	h->type = htole32(VIRTIO_BLK_T_OUT);
	h->ioprio = 0;
	h->sector = 0;
	fl_desc(t, 0, iova(a + 0x3000), 16, VRING_DESC_F_NEXT, 1);
	for (k = 1; k <= 4; k++)
		fl_desc(t, k, iova(k <= 2 ? FL_TABLE_R : FL_TABLE_W), 16 * FL_TABLE_N,
			VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, k + 1);
	fl_desc(t, 5, iova(a + 0x3100), 1, VRING_DESC_F_WRITE, 0);
	fl_desc(t, HEAD_LONG, iova(FL_TABLE_L), 16 * VQOS_MAX_QUEUE_SIZE,
		VRING_DESC_F_INDIRECT, 0);
}

/* (Re)start the device with 16 queues laid out in the data mapping. */
static int fl_start(struct dev *d)
{
	unsigned int i;

	d->nq = FL_QUEUES;
	for (i = 0; i < FL_QUEUES; i++) {
		struct vq *q = &d->vq[i];

		q->area = FL_AREA(i);
		q->desc_iova = iova(FL_AREA(i));
		q->avail_iova = iova(FL_AREA(i) + 0x1000);
		q->used_iova = iova(FL_AREA(i) + 0x2000);
	}
	CHECK(!dev_start(d), "");
	for (i = 0; i < FL_QUEUES; i++)
		fl_chain(d, i);
	return 0;
}

/* The sum of the counters of stats/refused ("REASON N" lines). */
static long refused_total(struct dev *d)
{
	char path[512], line[256], key[128];
	long sum = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s/stats/refused", d->name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %ld", key, &v) == 2)
			sum += v;
	fclose(f);
	return sum;
}

struct fl_count {
	unsigned long published, rounds, resets;
};

struct fl_phase {
	const char *what;
	u16 head;
	u64 t0, t1;			/* now_ns() */
	struct fl_count c;
	long served, refused, broken;	/* stats deltas */
};

/*
 * @per_queue heavy requests on every queue, kicked; waits until all are
 * used, the device asks for a reset (then resets it), or @end_ms.
 */
static int fl_round(struct dev *d, u16 head, unsigned int per_queue, u64 end_ms,
		    struct fl_count *c)
{
	unsigned int i, k;
	bool all;
	int st;

	for (i = 0; i < FL_QUEUES; i++) {
		struct vq *q = &d->vq[i];
		struct vring_avail *a = gva(d, q->avail_iova);

		for (k = 0; k < per_queue; k++)
			a->ring[(u16)(q->avail_idx + k) % q->num] = htole16(head);
		publish_idx(d, q, q->avail_idx + per_queue);
		c->published += per_queue;
	}
	for (i = 0; i < FL_QUEUES; i++)
		kick(&d->vq[i]);
	c->rounds++;
	for (;;) {
		st = dev_status(d);
		CHECK(st >= 0, "");
		if (st & VIRTIO_CONFIG_S_NEEDS_RESET) {
			c->resets++;
			CHECK(!dev_reset(d) && !fl_start(d), "restart after NEEDS_RESET");
			return 0;
		}
		for (all = true, i = 0; all && i < FL_QUEUES; i++)
			all = used_idx(d, &d->vq[i]) == d->vq[i].avail_idx;
		if (all || now_ms() >= end_ms)
			return 0;
		msleep(5);
	}
}

/* Flood with chain @p->head until @p->t0 + @ms; the counters move into @p. */
static int fl_phase(struct dev *d, struct fl_phase *p, unsigned int per_queue,
		    unsigned int ms)
{
	const char *served = p->head == HEAD_HEAVY ? "write_ops" : "read_ops";
	long s0 = sysfs_stat(d, served, NULL), r0 = refused_total(d);
	long b0 = sysfs_stat(d, "ring_errors", NULL);
	u64 end;
	int ret = 0;

	p->t0 = now_ns();
	end = now_ms() + ms;
	while (!ret && now_ms() < end)
		ret = fl_round(d, p->head, per_queue, end, &p->c);
	p->t1 = now_ns();
	p->served = sysfs_stat(d, served, NULL) - s0;
	p->refused = refused_total(d) - r0;
	p->broken = sysfs_stat(d, "ring_errors", NULL) - b0;
	diag("%s: %lu rounds in %llu ms, %lu requests published; served %ld, refused %ld, broken rings %ld",
	     p->what, p->c.rounds, (unsigned long long)(p->t1 - p->t0) / 1000000,
	     p->c.published, p->served, p->refused, p->broken);
	return ret;
}

/* The neighbour's p99 over @p against @alone: one TAP result. */
static bool fl_p99(const struct neighbour *n, const struct fl_phase *p, u64 alone,
		   unsigned int bound_ms)
{
	unsigned long cnt;
	u64 p50 = neighbour_pct_us(n, p->t0, p->t1, 50, &cnt);
	u64 p99 = neighbour_pct_us(n, p->t0, p->t1, 99, &cnt);
	char name[320];
	bool ok = cnt && p99 <= alone + bound_ms * 1000ULL;

	diag("neighbour under %s: %lu requests, p50 %llu us, p99 %llu us", p->what, cnt,
	     (unsigned long long)p50, (unsigned long long)p99);
	snprintf(name, sizeof(name), "flood: neighbour p99 %llu ms under %s, %llu ms alone (bound: alone + %u ms)",
		 (unsigned long long)p99 / 1000, p->what, (unsigned long long)alone / 1000,
		 bound_ms);
	tap_result(ok, name, NULL);
	return ok;
}

int run_flood(struct dev *d, struct dev *nb, unsigned int seconds,
	      unsigned int per_queue, unsigned int max_latency_ms, bool list)
{
	struct fl_phase heavy = { .what = "262140-descriptor chains", .head = HEAD_HEAVY };
	struct fl_phase lng = { .what = "1024-descriptor chains", .head = HEAD_LONG };
	u64 t0, p99_alone, p50_alone;
	unsigned long n_alone;
	long reset_ms;
	struct neighbour n = { 0 };
	int ret, splat, nb_failed, failed = 0;
	char name[320];
	bool ok;

	if (list) {
		printf("flood: heavy requests refused, none served\n"
		       "flood: neighbour p99 under heavy chains\n"
		       "flood: neighbour p99 under long chains\n"
		       "flood: no soft lockup, stall or other splat\n"
		       "flood: reset after the flood is prompt\n");
		return 0;
	}
	printf("1..5\n");
	if (!nb) {
		printf("Bail out! flood needs a neighbour device (--neighbour-dev)\n");
		return 1;
	}
	if (dev_open(d, FL_QUEUES)) {
		diag_flush();
		printf("Bail out! cannot open %s\n", d->path);
		return 1;
	}
	fl_tables(d);
	if (fl_start(d)) {
		diag_flush();
		printf("Bail out! cannot start %s with %u queues\n", d->path, FL_QUEUES);
		return 1;
	}
	if (!(d->features & (1ULL << VIRTIO_BLK_F_MQ)) ||
	    le16toh(d->cfg.num_queues) < FL_QUEUES) {
		printf("Bail out! %s has %u queue(s), the flood needs %u (vqos/num_queues)\n",
		       d->name, le16toh(d->cfg.num_queues), FL_QUEUES);
		return 1;
	}
	kmsg("hostile: flood, %u s, %u requests per queue and round", seconds, per_queue);
	kmsg_tail();

	t0 = now_ns();
	if (neighbour_start(&n, nb, FL_BASELINE_S + seconds + 1, 0, t0)) {
		printf("Bail out! cannot start the neighbour\n");
		return 1;
	}
	msleep(FL_BASELINE_S * 1000);
	ret = fl_phase(d, &heavy, per_queue, seconds * 500);
	if (!ret)
		ret = fl_phase(d, &lng, per_queue, seconds * 500);
	nb_failed = neighbour_wait(&n);
	splat = kmsg_check();

	snprintf(name, sizeof(name), "flood: heavy requests refused, none served (%ld served, %ld refused, %ld broken rings)",
		 heavy.served, heavy.refused, heavy.broken);
	ok = !ret && heavy.c.rounds && heavy.served == 0 && heavy.refused + heavy.broken > 0;
	tap_result(ok, name, NULL);
	failed |= !ok;

	p99_alone = neighbour_pct_us(&n, t0 + 500000000ULL, heavy.t0, 99, &n_alone);
	p50_alone = neighbour_pct_us(&n, t0 + 500000000ULL, heavy.t0, 50, &n_alone);
	if (n.sh->msg[0])
		diag("neighbour: %s", n.sh->msg);
	diag("neighbour alone: %lu requests, p50 %llu us, p99 %llu us; slowest of the run %llu us",
	     n_alone, (unsigned long long)p50_alone, (unsigned long long)p99_alone,
	     (unsigned long long)n.sh->max_ns / 1000);
	failed |= !fl_p99(&n, &heavy, p99_alone, max_latency_ms) || nb_failed || !n_alone;
	failed |= !fl_p99(&n, &lng, p99_alone, max_latency_ms) || nb_failed || !n_alone;

	tap_result(!splat, "flood: no soft lockup, stall or other splat", NULL);
	failed |= !!splat;

	/* The worker may still be in the middle of a turn. */
	reset_ms = dev_reset_timeout(d, 60000);
	snprintf(name, sizeof(name), "flood: reset after the flood is prompt (%ld ms)", reset_ms);
	ok = reset_ms >= 0 && reset_ms < 10000;
	tap_result(ok, name, NULL);
	failed |= !ok;
	dev_close(d);
	return failed;
}
