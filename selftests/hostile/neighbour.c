// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile: the neighbour, a well-behaved guest on a second device
 * that must not notice what the hostile one does. A child process writes
 * random data, reads it back, compares it (and now and then with the
 * backing file), and times every request into memory shared with the
 * parent, which reads percentiles over any time window afterwards.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "hostile.h"

static void nb_fail(struct nb_shared *sh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	sh->failed = 1;
}

static void nb_sample(struct nb_shared *sh, u64 t0, u64 t1, u32 len)
{
	u64 lat = t1 - t0;

	if (sh->nsamples < NB_MAX_SAMPLES) {
		sh->s[sh->nsamples].t_ns = t0;
		sh->s[sh->nsamples].lat_us = lat / 1000 > UINT32_MAX ? UINT32_MAX : lat / 1000;
		sh->s[sh->nsamples].len = len;
		sh->nsamples++;
	}
	if (lat > sh->max_ns)
		sh->max_ns = lat;
}

static void nb_run(struct nb_shared *sh, struct dev *d, unsigned int seconds,
		   unsigned int bound_ms, u64 seed)
{
	u64 end = now_ms() + seconds * 1000ULL, rng = seed ^ 0xabcdef;
	u64 wr = iova(OFF_DATA), rd = iova(OFF_DATA + DATA_BUF_SIZE / 2);

	if (dev_open(d, 1) || dev_start(d)) {
		nb_fail(sh, "cannot start the neighbour device");
		return;
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
			nb_fail(sh, "write of %u bytes at sector %llu: %s, status %u",
				len, (unsigned long long)sector, outcome_name(r.out), r.status);
			break;
		}
		nb_sample(sh, t0, t1, len);
		blk_io(d, &d->vq[0], VIRTIO_BLK_T_IN, sector, rd, len, &r);
		t2 = now_ns();
		if (r.out != OUT_DONE || r.status != VIRTIO_BLK_S_OK) {
			nb_fail(sh, "read of %u bytes at sector %llu: %s, status %u",
				len, (unsigned long long)sector, outcome_name(r.out), r.status);
			break;
		}
		nb_sample(sh, t1, t2, len);
		if (memcmp(gva(d, wr), gva(d, rd), len)) {
			nb_fail(sh, "read back at sector %llu differs", (unsigned long long)sector);
			break;
		}
		if (!(sh->ops % 64) && backing_compare(d, sector, gva(d, rd), len)) {
			nb_fail(sh, "backing file differs at sector %llu", (unsigned long long)sector);
			break;
		}
		sh->ops += 2;
		sh->bytes += 2ULL * len;
		if (bound_ms && sh->max_ns > bound_ms * 1000000ULL) {
			nb_fail(sh, "a request took %llu ms, over the %u ms bound",
				(unsigned long long)sh->max_ns / 1000000, bound_ms);
			break;
		}
	}
	dev_close(d);
}

/*
 * Start the neighbour on @d for @seconds; with @bound_ms, it stops and
 * fails at the first request slower than that.
 */
int neighbour_start(struct neighbour *n, struct dev *d, unsigned int seconds,
		    unsigned int bound_ms, u64 seed)
{
	n->sh = mmap(NULL, sizeof(*n->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (n->sh == MAP_FAILED) {
		n->sh = NULL;
		return -1;
	}
	fflush(stdout);
	n->pid = fork();
	if (n->pid < 0)
		return -1;
	if (!n->pid) {
		nb_run(n->sh, d, seconds, bound_ms, seed);
		n->sh->done = true;
		_exit(0);
	}
	return 0;
}

/* Wait for the neighbour; 0 if it ran to its end without an error. */
int neighbour_wait(struct neighbour *n)
{
	int status;

	if (n->pid <= 0 || waitpid(n->pid, &status, 0) != n->pid)
		return -1;
	n->pid = 0;
	if (!n->sh->done && !n->sh->failed) {
		n->sh->failed = 1;
		snprintf(n->sh->msg, sizeof(n->sh->msg), "the neighbour process died");
	}
	return n->sh->failed ? -1 : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The @pct-th percentile (nearest rank) of the latencies of the requests
 * that started in [@from_ns, @to_ns), in microseconds; @count is set to
 * how many there were. 0 if none.
 */
u64 neighbour_pct_us(const struct neighbour *n, u64 from_ns, u64 to_ns,
		     unsigned int pct, unsigned long *count)
{
	unsigned long i, k = 0;
	u32 *v;
	u64 r = 0;

	*count = 0;
	v = malloc(sizeof(*v) * (n->sh->nsamples + 1));
	if (!v)
		return 0;
	for (i = 0; i < n->sh->nsamples; i++)
		if (n->sh->s[i].t_ns >= from_ns && n->sh->s[i].t_ns < to_ns)
			v[k++] = n->sh->s[i].lat_us;
	if (k) {
		qsort(v, k, sizeof(*v), cmp_u32);
		r = v[(k * pct + 99) / 100 - 1];	/* nearest rank */
	}
	*count = k;
	free(v);
	return r;
}
