// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile race mode (selftests/test_hostile_race.sh runs it in make
 * check; selftests/hostile/race.sh for longer runs): a VMM that frees
 * guest memory the device is still writing into.
 *
 * vhost-vdpa unpins the pages of a mapping before it calls the parent's
 * dma_unmap, and vqos waits for its requests in flight only in dma_unmap.
 * A VMM that munmap()s a region while the pages are pinned, then
 * invalidates the IOTLB entry, has the pages freed at the unpin, unless
 * the device holds references of its own for the I/O it still copies read
 * data into (vqos does, see vqos_iotlb_bvec()). Each round maps 1 MiB,
 * queues 64 reads of 16 KiB into it, kicks, munmaps it and invalidates it;
 * KASAN (or any splat) in the kernel log fails the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/vhost.h>
#include "hostile.h"

#define RACE_IOVA	(IOVA_BASE + 0x10000000ULL)
#define RACE_SIZE	(1ULL << 20)
#define RACE_READS	64

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

int run_race(struct dev *d, unsigned int seconds)
{
	struct vq *q = &d->vq[0];
	u64 end = now_ms() + seconds * 1000ULL;
	unsigned long rounds = 0, lost = 0;
	char name[128];
	int failed = 0;

	printf("1..1\n");
	if (dev_open(d, 1) || dev_start(d)) {
		tap_result(false, "race: set up", NULL);
		return 1;
	}
	kmsg_tail();
	while (!failed && now_ms() < end) {
		u8 *x = mmap(NULL, RACE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		struct result r;
		unsigned int i;
		int ret;

		if (x == MAP_FAILED) {
			diag("mmap: %s", strerror(errno));
			failed = 1;
			break;
		}
		memset(x, 1, RACE_SIZE);
		ret = race_msg(d, VHOST_IOTLB_UPDATE, (u64)(uintptr_t)x);
		if (ret) {
			diag("IOTLB update: %s", strerror(-ret));
			failed = 1;
			break;
		}
		for (i = 0; i < RACE_READS; i++) {
			struct seg s[3] = {
				{ hdr_iova(q, i), 16, 0 },
				{ RACE_IOVA + i * (RACE_SIZE / RACE_READS),
				  RACE_SIZE / RACE_READS, VRING_DESC_F_WRITE },
				{ status_iova(q, i), 1, VRING_DESC_F_WRITE },
			};

			put_hdr(d, q, i, VIRTIO_BLK_T_IN, 32 * i);
			publish(d, q, put_chain(q, d, 3 * i, s, 3));
		}
		kick(q);
		/* The pages stay pinned by vhost-vdpa... */
		munmap(x, RACE_SIZE);
		/* ...until this unpins (frees) them, then calls dma_unmap. */
		race_msg(d, VHOST_IOTLB_INVALIDATE, 0);
		wait_used(d, q, q->avail_idx, 5000, &r);
		if (r.out != OUT_DONE) {
			lost++;
			if (dev_restart(d))
				failed = 1;
		}
		if (kmsg_check()) {
			diag("round %lu: the kernel logged a splat", rounds);
			failed = 1;
		}
		rounds++;
	}
	diag("%lu rounds, %lu with requests never completed", rounds, lost);
	diag_flush();
	snprintf(name, sizeof(name), "race: %lu rounds of munmap + IOTLB invalidate under reads, no splat",
		 rounds);
	tap_result(!failed, name, NULL);
	dev_close(d);
	return failed;
}
