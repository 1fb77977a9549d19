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
 * served: they are zero-length writes, stats/write_ops must not move) and
 * yield its CPU: the neighbour's p99 latency under the flood must stay
 * within --max-latency-ms of its p99 alone, the kernel must log no soft
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
#define FL_ZERO		(FL_TABLE_W + 16ULL * 65536)
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
	unsigned int i;

	for (i = 0; i < FL_TABLE_N; i++) {
		u16 next = i + 1 < FL_TABLE_N ? VRING_DESC_F_NEXT : 0;

		fl_desc(r, i, iova(FL_ZERO), 0, next, next ? i + 1 : 0);
		fl_desc(w, i, iova(FL_ZERO), 0, VRING_DESC_F_WRITE | next, next ? i + 1 : 0);
	}
}

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

/*
 * @per_queue heavy requests on every queue, kicked; waits until all are
 * used, the device asks for a reset (then resets it), or @end_ms.
 */
static int fl_round(struct dev *d, unsigned int per_queue, u64 end_ms,
		    struct fl_count *c)
{
	unsigned int i, k;
	bool all;
	int st;

	for (i = 0; i < FL_QUEUES; i++) {
		struct vq *q = &d->vq[i];
		struct vring_avail *a = gva(d, q->avail_iova);

		for (k = 0; k < per_queue; k++)
			a->ring[(u16)(q->avail_idx + k) % q->num] = 0;
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

int run_flood(struct dev *d, struct dev *nb, unsigned int seconds,
	      unsigned int per_queue, unsigned int max_latency_ms, bool list)
{
	u64 t0, t_flood, t_end, p99_alone, p99_flood, p50_alone, p50_flood;
	unsigned long n_alone, n_flood;
	long writes0, refused0, errors0, writes, refused, errors, reset_ms;
	struct fl_count c = { 0 };
	struct neighbour n = { 0 };
	int ret = 0, splat, nb_failed, failed = 0;
	u64 flood_end;
	char name[320];
	bool ok;

	if (list) {
		printf("flood: heavy requests refused, none served\n"
		       "flood: neighbour p99 latency\n"
		       "flood: no soft lockup, stall or other splat\n"
		       "flood: reset after the flood is prompt\n");
		return 0;
	}
	printf("1..4\n");
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
	writes0 = sysfs_stat(d, "write_ops", NULL);
	refused0 = refused_total(d);
	errors0 = sysfs_stat(d, "ring_errors", NULL);
	kmsg("hostile: flood, %u s, %u heavy requests per queue and round", seconds,
	     per_queue);
	kmsg_tail();

	t0 = now_ns();
	if (neighbour_start(&n, nb, FL_BASELINE_S + seconds + 1, 0, t0)) {
		printf("Bail out! cannot start the neighbour\n");
		return 1;
	}
	msleep(FL_BASELINE_S * 1000);
	t_flood = now_ns();
	flood_end = now_ms() + seconds * 1000ULL;
	while (!ret && now_ms() < flood_end)
		ret = fl_round(d, per_queue, flood_end, &c);
	t_end = now_ns();
	nb_failed = neighbour_wait(&n);
	splat = kmsg_check();

	writes = sysfs_stat(d, "write_ops", NULL) - writes0;
	refused = refused_total(d) - refused0;
	errors = sysfs_stat(d, "ring_errors", NULL) - errors0;
	diag("%lu rounds in %llu ms, %lu heavy requests published, %lu resets after NEEDS_RESET",
	     c.rounds, (unsigned long long)(t_end - t_flood) / 1000000, c.published, c.resets);
	diag("flood device: write_ops +%ld, refused +%ld, ring_errors +%ld", writes, refused, errors);
	snprintf(name, sizeof(name), "flood: heavy requests refused, none served (%ld served, %ld refused, %ld broken rings)",
		 writes, refused, errors);
	ok = !ret && writes == 0 && refused + errors > 0;
	tap_result(ok, name, NULL);
	failed |= !ok;

	p99_alone = neighbour_pct_us(&n, t0 + 500000000ULL, t_flood, 99, &n_alone);
	p50_alone = neighbour_pct_us(&n, t0 + 500000000ULL, t_flood, 50, &n_alone);
	p99_flood = neighbour_pct_us(&n, t_flood, t_end, 99, &n_flood);
	p50_flood = neighbour_pct_us(&n, t_flood, t_end, 50, &n_flood);
	if (n.sh->msg[0])
		diag("neighbour: %s", n.sh->msg);
	diag("neighbour alone: %lu requests, p50 %llu us, p99 %llu us; under the flood: %lu requests, p50 %llu us, p99 %llu us, slowest %llu us",
	     n_alone, (unsigned long long)p50_alone, (unsigned long long)p99_alone,
	     n_flood, (unsigned long long)p50_flood, (unsigned long long)p99_flood,
	     (unsigned long long)n.sh->max_ns / 1000);
	snprintf(name, sizeof(name), "flood: neighbour p99 %llu ms under the flood, %llu ms alone (bound: alone + %u ms)",
		 (unsigned long long)p99_flood / 1000, (unsigned long long)p99_alone / 1000,
		 max_latency_ms);
	ok = !nb_failed && n_alone && n_flood &&
	     p99_flood <= p99_alone + max_latency_ms * 1000ULL;
	tap_result(ok, name, NULL);
	failed |= !ok;

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
