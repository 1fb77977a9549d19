// SPDX-License-Identifier: GPL-2.0
/*
 * l2io - a small static I/O load for the nested guests (L2) of
 * scripts/l2/lib.sh: random O_DIRECT reads or writes on a disk, from QD
 * threads, for a time or a number of requests, counted per second.
 *
 *   l2io read|write DEV -s SIZE [-o OFFSET] [-b BS] [-q QD]
 *        (-t SECONDS | -n REQUESTS) [-l LOGFILE]
 *
 * Prints "requests N seconds S iops I" at the end; with -l, LOGFILE gets
 * one line "SECOND COUNT" per second of the run (requests completed in
 * it). Exit status 1 on the first I/O error (printed), 2 on bad usage.
 *
 * Why not fio: fio links 64 shared libraries (ceph, gluster, ICU...), and
 * under TCG inside TCG loading them costs minutes per run. This is
 * linked statically (scripts/build-l2) and starts at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS 3600
#define MAX_QD 64

static int fd, do_write;
static uint64_t off0, size, bs = 4096, limit_n, secs;
static atomic_ullong issued, done;
static atomic_ullong per_sec[MAX_SECONDS + 1];
static atomic_int failed;
static struct timespec t0;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	uint64_t blocks = size / bs, i;
	void *buf;

	if (posix_memalign(&buf, 4096, bs))
		return NULL;
	for (i = 0; i < bs / 8; i++)
		((uint64_t *)buf)[i] = rnd(&seed);
	while (!atomic_load(&failed)) {
		off_t off = off0 + (rnd(&seed) % blocks) * bs;
		double t = now();
		ssize_t r;

		if (limit_n && atomic_fetch_add(&issued, 1) >= limit_n)
			break;
		if (!limit_n && t >= secs)
			break;
		r = do_write ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);
		if (r != (ssize_t)bs) {
			if (!atomic_exchange(&failed, 1))
				fprintf(stderr, "l2io: %s at %lld: %s\n",
					do_write ? "write" : "read", (long long)off,
					r < 0 ? strerror(errno) : "short");
			break;
		}
		atomic_fetch_add(&done, 1);
		t = now();
		if (t < MAX_SECONDS)
			atomic_fetch_add(&per_sec[(int)t], 1);
	}
	free(buf);
	return NULL;
}

/* A number of bytes, with an optional K, M or G. */
static uint64_t bytes(const char *s)
{
	char *e;
	uint64_t v = strtoull(s, &e, 0);

	if (*e == 'K')
		return v << 10;
	if (*e == 'M')
		return v << 20;
	if (*e == 'G')
		return v << 30;
	return v;
}

static void usage(void)
{
	fprintf(stderr, "l2io: use: l2io read|write DEV -s SIZE [-o OFFSET] [-b BS] [-q QD] (-t S | -n N) [-l LOG]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_QD];
	const char *log = NULL;
	int qd = 1, c, i;
	double el;

	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "write"))
		do_write = 1;
	else if (strcmp(argv[1], "read"))
		usage();
	optind = 3;
	while ((c = getopt(argc, argv, "s:o:b:q:t:n:l:")) != -1) {
		switch (c) {
		case 's':
			size = bytes(optarg);
			break;
		case 'o':
			off0 = bytes(optarg);
			break;
		case 'b':
			bs = bytes(optarg);
			break;
		case 'q':
			qd = atoi(optarg);
			break;
		case 't':
			secs = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			limit_n = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			log = optarg;
			break;
		default:
			usage();
		}
	}
	if (!size || size < bs || bs % 512 || qd < 1 || qd > MAX_QD ||
	    (!secs == !limit_n) || secs > MAX_SECONDS)
		usage();
	fd = open(argv[2], (do_write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "l2io: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < qd; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (i = 0; i < qd; i++)
		pthread_join(th[i], NULL);
	el = now();
	if (log) {
		FILE *f = fopen(log, "w");

		for (i = 0; f && i <= (int)el && i < MAX_SECONDS; i++)
			fprintf(f, "%d %llu\n", i, (unsigned long long)per_sec[i]);
		if (f)
			fclose(f);
	}
	printf("requests %llu seconds %.3f iops %.0f\n",
	       (unsigned long long)done, el, done / (el > 0 ? el : 1));
	return atomic_load(&failed) ? 1 : 0;
}
