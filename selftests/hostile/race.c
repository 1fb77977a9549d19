// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile race mode (selftests/test_hostile_race.sh runs it in make
 * check; selftests/hostile/race.sh for longer runs): a VMM that frees
 * guest memory the device is still touching (issue 8, issue 13 #2).
 *
 * vhost-vdpa unpins the pages of an IOTLB entry before it calls the
 * parent's dma_unmap. A VMM that munmap()s a region while its pages are
 * pinned, then invalidates the entry, has the pages freed at the unpin:
 * from then until dma_unmap returns the device must not touch them, by
 * any path (zero-copy I/O, copies through the IOTLB, ring accesses, the
 * status byte), unless it holds page references of its own. Each round
 * maps 1 MiB, puts work that touches it in flight, kicks, waits 0-3 ms,
 * munmaps it and invalidates it. The rounds cycle through what the region
 * holds:
 *
 *   data    64 reads of 16 KiB into it (served in place);
 *   bounce  3 reads of 768 KiB in 64 segments straddling 4 pages each,
 *           too scattered for in-place I/O: the data is copied in at
 *           completion (stats/bounced counts them);
 *   status  the status bytes of 64 reads whose data lies elsewhere;
 *   ring    the queue's descriptor table, avail and used rings, headers,
 *           GET_ID buffers and status bytes, with 65535 GET_IDs pending,
 *           so that the worker is touching it when it goes.
 *
 * Any splat in the kernel log (KASAN: use-after-free) fails the run, and
 * so does a request of data, bounce or status that never completes.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include "hostile.h"

#define RACE_IOVA	(IOVA_BASE + 0x10000000ULL)
#define RACE_SIZE	(1ULL << 20)
#define RACE_READS	64

enum { V_DATA, V_BOUNCE, V_STATUS, V_RING, V_NR };
static const char * const vnames[V_NR] = { "data", "bounce", "status", "ring" };

static int race_msg(struct dev *d, u8 type, u64 uaddr)
{
	struct vhost_msg_v2 m;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.iova = RACE_IOVA;
	m.iotlb.size = RACE_SIZE;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = VHOST_ACCESS_RW;
	m.iotlb.type = type;
	return write(d->fd, &m, sizeof(m)) == sizeof(m) ? 0 : -errno;
}

/* A fresh region, entered into the IOTLB; NULL on failure. */
static u8 *region(struct dev *d)
{
	u8 *x = mmap(NULL, RACE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	int ret;

	if (x == MAP_FAILED) {
		diag("mmap: %s", strerror(errno));
		return NULL;
	}
	memset(x, 1, RACE_SIZE);
	ret = race_msg(d, VHOST_IOTLB_UPDATE, (u64)(uintptr_t)x);
	if (ret) {
		diag("IOTLB update: %s", strerror(-ret));
		munmap(x, RACE_SIZE);
		return NULL;
	}
	return x;
}

/* Gone under the device: freed at the unpin that the invalidation does. */
static void region_free(struct dev *d, u8 *x)
{
	munmap(x, RACE_SIZE);		/* vhost-vdpa's pins keep the pages... */
	race_msg(d, VHOST_IOTLB_INVALIDATE, 0);	/* ...until this unpins them */
}

/* A read in descriptors *next, *next + 1, ...; *next moves past it. */
static void put_read(struct dev *d, struct vq *q, unsigned int slot, u64 sector,
		     const struct seg *data, unsigned int n, u64 status,
		     unsigned int *next)
{
	struct seg s[VQOS_SEG_MAX + 2];
	unsigned int i;

	put_hdr(d, q, slot, VIRTIO_BLK_T_IN, sector);
	s[0] = (struct seg){ hdr_iova(q, slot), 16, 0 };
	for (i = 0; i < n; i++)
		s[1 + i] = data[i];
	s[1 + n] = (struct seg){ status, 1, VRING_DESC_F_WRITE };
	publish(d, q, put_chain(q, d, *next, s, n + 2));
	*next += n + 2;
}

/* Reads of data, bounce or status into the region; 1 if one was lost. */
static int round_io(struct dev *d, int v, u64 *rng)
{
	struct vq *q = &d->vq[0];
	struct seg data[VQOS_SEG_MAX];
	unsigned int i, j, next = 0, nreq = v == V_BOUNCE ? 3 : RACE_READS;
	struct result r;
	u8 *x = region(d);

	if (!x)
		return -1;
	for (i = 0; i < nreq; i++) {
		switch (v) {
		case V_DATA:
			data[0] = (struct seg){ RACE_IOVA + i * (RACE_SIZE / RACE_READS),
						RACE_SIZE / RACE_READS, VRING_DESC_F_WRITE };
			put_read(d, q, i, 32 * i, data, 1, status_iova(q, i), &next);
			break;
		case V_BOUNCE:
			/* 12 KiB from 2 KiB into each 16 KiB: 4 pages per segment. */
			for (j = 0; j < VQOS_SEG_MAX; j++)
				data[j] = (struct seg){ RACE_IOVA + j * 0x4000 + 0x800,
							0x3000, VRING_DESC_F_WRITE };
			put_read(d, q, i, 1536 * i, data, VQOS_SEG_MAX, status_iova(q, i),
				 &next);
			break;
		default:
			data[0] = (struct seg){ iova(OFF_DATA) + i * SZ_4K, SZ_4K,
						VRING_DESC_F_WRITE };
			put_read(d, q, i, 8 * i, data, 1, RACE_IOVA + 16 * i, &next);
		}
	}
	kick(q);
	msleep(rnd64(rng) % 4);
	region_free(d, x);
	wait_used(d, q, q->avail_idx, 10000, &r);
	if (r.out == OUT_DONE)
		return 0;
	diag("%s round: %s, used idx %u of %u, device status 0x%x", vnames[v],
	     outcome_name(r.out), used_idx(d, q), q->avail_idx, r.dev_status);
	return dev_restart(d) ? -1 : 1;
}

/*
 * Queue 0's rings, headers, GET_ID buffers and status bytes in the region,
 * 65535 GET_IDs pending; the region goes while the worker serves them.
 */
static int round_ring(struct dev *d, u64 *rng)
{
	struct vq *q = &d->vq[0];
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct virtio_blk_outhdr *h;
	unsigned int i;
	u8 *x;

	if (dev_reset(d))
		return -1;
	x = region(d);
	if (!x)
		return -1;
	q->desc_iova = RACE_IOVA + R_DESC;
	q->avail_iova = RACE_IOVA + R_AVAIL;
	q->used_iova = RACE_IOVA + R_USED;
	memset(x, 0, SZ_64K);
	desc = (struct vring_desc *)(x + R_DESC);
	avail = (struct vring_avail *)(x + R_AVAIL);
	h = (struct virtio_blk_outhdr *)(x + R_HDR);
	h->type = htole32(VIRTIO_BLK_T_GET_ID);
	desc[0] = (struct vring_desc){ htole64(RACE_IOVA + R_HDR), htole32(16),
				       htole16(VRING_DESC_F_NEXT), htole16(1) };
	desc[1] = (struct vring_desc){ htole64(RACE_IOVA + R_INDIRECT), htole32(VQOS_ID_BYTES),
				       htole16(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE), htole16(2) };
	desc[2] = (struct vring_desc){ htole64(RACE_IOVA + R_STATUS), htole32(1),
				       htole16(VRING_DESC_F_WRITE), 0 };
	for (i = 0; i < q->num; i++)
		avail->ring[i] = 0;
	if (dev_start(d)) {
		region_free(d, x);
		return -1;
	}
	/* Base 0, avail idx 65535: that many requests to serve. */
	__atomic_store_n(&avail->idx, htole16(0xffff), __ATOMIC_RELEASE);
	kick(q);
	msleep(1 + rnd64(rng) % 3);
	region_free(d, x);
	/* It breaks (NEEDS_RESET) when it next reads the ring; no need to wait. */
	msleep(20);
	vq_default_layout(d, q);
	return dev_restart(d) ? -1 : 0;
}

int run_race(struct dev *d, unsigned int seconds)
{
	unsigned long rounds[V_NR] = { 0 }, lost[V_NR] = { 0 };
	long bounced0, bounced;
	u64 end = now_ms() + seconds * 1000ULL, rng = now_ns();
	int failed[V_NR] = { 0 }, v, ret, stop = 0;
	char name[256];

	printf("1..%u\n", V_NR);
	if (dev_open(d, 1) || dev_start(d)) {
		diag_flush();
		for (v = 0; v < V_NR; v++)
			tap_result(false, "race: set up", NULL);
		return 1;
	}
	bounced0 = sysfs_stat(d, "bounced", NULL);
	kmsg("hostile: race, %u s", seconds);
	kmsg_tail();
	for (v = 0; !stop && now_ms() < end; v = (v + 1) % V_NR) {
		ret = v == V_RING ? round_ring(d, &rng) : round_io(d, v, &rng);
		rounds[v]++;
		if (ret < 0) {
			diag("%s round %lu: the harness lost the device", vnames[v], rounds[v]);
			failed[v] = stop = 1;
		}
		lost[v] += ret > 0;
		if (kmsg_check()) {
			diag("%s round %lu: the kernel logged a splat", vnames[v], rounds[v]);
			failed[v] = stop = 1;
		}
	}
	bounced = sysfs_stat(d, "bounced", NULL);
	diag("%lu + %lu + %lu + %lu rounds, %lu with requests never completed; stats/bounced +%ld",
	     rounds[V_DATA], rounds[V_BOUNCE], rounds[V_STATUS], rounds[V_RING],
	     lost[V_DATA] + lost[V_BOUNCE] + lost[V_STATUS], bounced - bounced0);
	diag_flush();
	for (v = 0; v < V_NR; v++) {
		bool ok = !failed[v] && !lost[v] && rounds[v];

		snprintf(name, sizeof(name), "race/%s: %lu rounds of munmap + IOTLB invalidate, no splat%s",
			 vnames[v], rounds[v], v == V_RING ? "" : ", every request completed");
		if (lost[v])
			printf("# race/%s: %lu rounds with requests never completed\n",
			       vnames[v], lost[v]);
		tap_result(ok, name, NULL);
	}
	dev_close(d);
	return failed[0] || failed[1] || failed[2] || failed[3] ||
	       lost[V_DATA] || lost[V_BOUNCE] || lost[V_STATUS];
}
