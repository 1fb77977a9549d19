// SPDX-License-Identifier: GPL-2.0
/*
 * l2io - a small static I/O load for the nested guests (L2) of
 * scripts/l2/lib.sh: random O_DIRECT reads or writes on a disk, from QD
 * threads, for a time or a number of requests, counted per second.
 *
 *   l2io read|write DEV -s SIZE [-o OFFSET] [-b BS] [-q QD]
 *        (-t SECONDS | -n REQUESTS) [-r RATE] [-l LOGFILE]
 *
 * Closed loop by default: QD threads, each issuing its next request as
 * soon as the last one completed. With -r, open loop: requests arrive
 * at RATE per second on average, Poisson (exponential gaps, the same
 * sequence every run), whatever the earlier ones do; QD threads serve
 * them (a request that finds all of them busy waits for one): a slow disk
 * shows in the latencies and does not slow the arrivals down.
 *
 * Prints "requests N seconds S iops I" at the end, then "lat_us samples
 * N p50 A p99 B p999 C max D": each request's latency in microseconds,
 * from its issue (pread/pwrite) to its completion, nearest-rank
 * percentiles; with -r also "late_us samples N p50 A p99 B p999 C max
 * D": how long after its arrival each request was issued (no free
 * thread, or the thread woke late). With -l, LOGFILE gets one line
 * "SECOND COUNT" per second of the run (requests completed in it). Exit
 * status 1 on the first I/O error (printed), 2 on bad usage.
 *
 * Why not fio: fio links 64 shared libraries (ceph, gluster, ICU...), and
 * under TCG inside TCG loading them costs minutes per run. This is
 * linked statically (scripts/build-l2) and starts at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#define MAX_LAT (1 << 20)

static int fd, do_write;
static uint64_t off0, size, bs = 4096, limit_n, secs;
static atomic_ullong issued, done;
static atomic_ullong per_sec[MAX_SECONDS + 1];
static atomic_int failed;
static struct timespec t0;
/* -r: the arrivals, in order, each taken by one thread */
static double rate, next_arrival;
static uint64_t arrival_seed = 0x2545f4914f6cdd1dULL;
static pthread_mutex_t arrival_lock = PTHREAD_MUTEX_INITIALIZER;
/* each request's latency, microseconds */
static uint32_t *lat_us, *late_us;
static atomic_ullong nlat;

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

/*
 * The next arrival (seconds from the start) for an open-loop run: the
 * arrivals are one sequence, handed out in order, with exponential gaps
 * of mean 1 / rate.
 */
static double take_arrival(void)
{
	double t, u;

	pthread_mutex_lock(&arrival_lock);
	t = next_arrival;
	u = (rnd(&arrival_seed) >> 11) * (1.0 / 9007199254740992.0);
	next_arrival += -log(1.0 - u) / rate;
	pthread_mutex_unlock(&arrival_lock);
	return t;
}

static void sleep_until(double t)
{
	struct timespec ts = t0;
	long long ns = (long long)(t * 1e9);

	ts.tv_sec += ns / 1000000000;
	ts.tv_nsec += ns % 1000000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
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
		double t = rate > 0 ? take_arrival() : now(), arrival = t;
		unsigned long long k;
		ssize_t r;

		if (limit_n && atomic_fetch_add(&issued, 1) >= limit_n)
			break;
		if (!limit_n && t >= secs)
			break;
		if (rate > 0) {
			sleep_until(t);
			t = now();
		}
		r = do_write ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);
		if (r != (ssize_t)bs) {
			if (!atomic_exchange(&failed, 1))
				fprintf(stderr, "l2io: %s at %lld: %s\n",
					do_write ? "write" : "read", (long long)off,
					r < 0 ? strerror(errno) : "short");
			break;
		}
		atomic_fetch_add(&done, 1);
		k = atomic_fetch_add(&nlat, 1);
		if (k < MAX_LAT) {
			lat_us[k] = (uint32_t)((now() - t) * 1e6);
			late_us[k] = (uint32_t)((t - arrival) * 1e6);
		}
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
	fprintf(stderr, "l2io: use: l2io read|write DEV -s SIZE [-o OFFSET] [-b BS] [-q QD] (-t S | -n N) [-r RATE] [-l LOG]\n");
	exit(2);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least q of them at or below. */
static uint32_t pct(const uint32_t *v, uint64_t n, double q)
{
	uint64_t i = (uint64_t)ceil(q * n);

	return v[i ? i - 1 : 0];
}

static void print_pct(const char *what, uint32_t *v, uint64_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	printf("%s samples %llu p50 %u p99 %u p999 %u max %u\n", what,
	       (unsigned long long)n, pct(v, n, 0.5), pct(v, n, 0.99),
	       pct(v, n, 0.999), v[n - 1]);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_QD];
	const char *log = NULL;
	int qd = 1, c, i;
	double el;
	uint64_t n;

	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "write"))
		do_write = 1;
	else if (strcmp(argv[1], "read"))
		usage();
	optind = 3;
	while ((c = getopt(argc, argv, "s:o:b:q:t:n:l:r:")) != -1) {
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
		case 'r':
			rate = strtod(optarg, NULL);
			if (rate <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (!size || size < bs || bs % 512 || qd < 1 || qd > MAX_QD ||
	    (!secs == !limit_n) || secs > MAX_SECONDS)
		usage();
	lat_us = malloc(MAX_LAT * sizeof(*lat_us));
	late_us = malloc(MAX_LAT * sizeof(*late_us));
	if (!lat_us || !late_us) {
		fprintf(stderr, "l2io: no memory\n");
		return 1;
	}
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
	n = atomic_load(&nlat);
	if (n > MAX_LAT)
		n = MAX_LAT;
	if (n)
		print_pct("lat_us", lat_us, n);
	if (n && rate > 0)
		print_pct("late_us", late_us, n);
	return atomic_load(&failed) ? 1 : 0;
}
