// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile - a hostile guest for the vqos vDPA device, as a userspace
 * VMM on /dev/vhost-vdpa-N. Output is TAP.
 *
 *   vqos-hostile cases --dev /dev/vhost-vdpa-N --name NAME --backing FILE
 *                [--ro-dev PATH --ro-name NAME --ro-backing FILE]
 *                [--empty-dev PATH --empty-name NAME]
 *                [--slow-dev PATH --slow-name NAME --slow-backing BLKDEV]
 *                [--del-dev PATH --del-name NAME --del-backing FILE]
 *                [--only TEXT] [--strict] [--all] [--case-seconds N]
 *   vqos-hostile io --dev PATH --name NAME [--backing FILE]
 *                --op read|write|flush --sector N --len BYTES
 *                --expect ok|ioerr|unsupp
 *   vqos-hostile fuzz --dev PATH --name NAME --backing FILE
 *                [--neighbour-dev PATH --neighbour-name NAME
 *                 --neighbour-backing FILE] [--seconds N] [--seed N]
 *                [--iterations N] [--max-latency-ms N]
 *   vqos-hostile race --dev PATH --name NAME [--seconds N]
 *   vqos-hostile flood --dev PATH --name NAME --neighbour-dev PATH
 *                --neighbour-name NAME --neighbour-backing FILE [--seconds N]
 *                [--per-queue N] [--max-latency-ms N]
 *
 * --mem anon|thp|hugetlb backs the guest memory of every device with 4 KiB
 * pages (default), transparent huge pages or hugetlbfs pages; cases then
 * runs only the cases marked for huge pages (--all: every case).
 *
 * --only A|B selects the cases whose name contains A or B.
 * --list prints the names of the test cases a mode reports, one a line,
 * and exits; -v shows the diagnostics of passing cases too. A case that
 * fails on a known, reported bug of the host is reported as SKIP (with the
 * bug) unless --strict. The devices
 * must be bound to vhost_vdpa; NAME is the vdpa device name (its counters
 * in /sys/bus/vdpa/devices/NAME/stats/ are checked), FILE its backing file
 * (the data the device returns is compared with it). io sends one
 * well-formed request and checks its status (for fault injection). The read-only device
 * has vqos/read_only=1, the empty one no backing store, the slow one sits on
 * a block device that takes long enough per request (null_blk with
 * completion_nsec=200000000) to hold requests in flight while the VMM acts.
 * The del device is deleted (`vdpa dev del`) by the case that uses it, so
 * give it only to the first run of cases.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hostile.h"

static unsigned int tap_n;

void tap_result(bool ok, const char *name, const char *skip)
{
	tap_n++;
	if (skip)
		printf("ok %u %s # SKIP %s\n", tap_n, name, skip);
	else
		printf("%sok %u %s\n", ok ? "" : "not ", tap_n, name);
	if (ok)
		diag_drop();
	else
		diag_flush();
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vqos-hostile cases|fuzz --dev PATH --name NAME --backing FILE [options]\n"
		"  cases: [--ro-dev PATH --ro-name NAME --ro-backing FILE]\n"
		"         [--empty-dev PATH --empty-name NAME]\n"
		"         [--slow-dev PATH --slow-name NAME --slow-backing BLKDEV]\n"
		"         [--del-dev PATH --del-name NAME --del-backing FILE]\n"
		"         [--only TEXT] [--strict] [--all] [--case-seconds N]\n"
		"  fuzz:  [--neighbour-dev PATH --neighbour-name NAME --neighbour-backing FILE]\n"
		"         [--seconds N] [--seed N] [--iterations N] [--max-latency-ms N]\n"
		"  race:  [--seconds N] (frees guest memory under the device: see race.c)\n"
		"  flood: --neighbour-dev PATH --neighbour-name NAME --neighbour-backing FILE\n"
		"         [--seconds N] [--per-queue N] [--max-latency-ms N] (see flood.c)\n"
		"  io:    --op read|write|flush --sector N --len BYTES --expect ok|ioerr|unsupp\n"
		"  all:   [--mem anon|thp|hugetlb] [--list] [-v]\n");
	exit(2);
}

static struct dev *need(struct dev *d)
{
	return d->path ? d : NULL;
}

/* One request, its status compared with @expect. */
static int run_io(struct dev *d, const char *op, u64 sector, u32 len,
		  const char *expect)
{
	u32 type = !strcmp(op, "write") ? VIRTIO_BLK_T_OUT :
		   !strcmp(op, "flush") ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_IN;
	int want = !strcmp(expect, "ioerr") ? VIRTIO_BLK_S_IOERR :
		   !strcmp(expect, "unsupp") ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_OK;
	u64 buf = iova(OFF_DATA);
	struct result r;
	char name[256];
	bool ok;

	if (len > DATA_BUF_SIZE || len % SECTOR)
		usage();
	if (type == VIRTIO_BLK_T_FLUSH)
		len = 0;
	memset(d->mem + OFF_DATA, 0x3c, len);
	printf("1..1\n");
	blk_io(d, &d->vq[0], type, sector, buf, len, &r);
	ok = r.out == OUT_DONE && r.status == want;
	if (ok && want == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN)
		ok = !backing_compare(d, sector, d->mem + OFF_DATA, len);
	diag("%s, status %u, used len %u, device status 0x%x", outcome_name(r.out),
	     r.status, r.len, r.dev_status);
	snprintf(name, sizeof(name), "%s of %u bytes at sector %llu: status %s",
		 op, len, (unsigned long long)sector, expect);
	if (!ok)
		diag_flush();
	tap_result(ok, name, NULL);
	return !ok;
}

static int open_start(struct dev *d)
{
	if (!d)
		return 0;
	if (dev_open(d, 1) || dev_start(d)) {
		printf("Bail out! cannot set up %s (%s)\n", d->path,
		       d->name ? d->name : "?");
		diag_flush();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_DEV = 256, O_NAME, O_BACKING, O_RO_DEV, O_RO_NAME,
	       O_RO_BACKING, O_EMPTY_DEV, O_EMPTY_NAME, O_NB_DEV, O_NB_NAME,
	       O_NB_BACKING, O_SECONDS, O_SEED, O_ITER, O_LAT, O_ONLY, O_LIST,
	       O_STRICT, O_OP, O_SECTOR, O_LEN, O_EXPECT, O_SLOW_DEV,
	       O_SLOW_NAME, O_SLOW_BACKING, O_MEM, O_ALL, O_CASE_SECONDS,
	       O_PER_QUEUE, O_DEL_DEV, O_DEL_NAME, O_DEL_BACKING };
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, O_DEV },
		{ "name", required_argument, NULL, O_NAME },
		{ "backing", required_argument, NULL, O_BACKING },
		{ "ro-dev", required_argument, NULL, O_RO_DEV },
		{ "ro-name", required_argument, NULL, O_RO_NAME },
		{ "ro-backing", required_argument, NULL, O_RO_BACKING },
		{ "empty-dev", required_argument, NULL, O_EMPTY_DEV },
		{ "empty-name", required_argument, NULL, O_EMPTY_NAME },
		{ "neighbour-dev", required_argument, NULL, O_NB_DEV },
		{ "neighbour-name", required_argument, NULL, O_NB_NAME },
		{ "neighbour-backing", required_argument, NULL, O_NB_BACKING },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "iterations", required_argument, NULL, O_ITER },
		{ "max-latency-ms", required_argument, NULL, O_LAT },
		{ "only", required_argument, NULL, O_ONLY },
		{ "list", no_argument, NULL, O_LIST },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "op", required_argument, NULL, O_OP },
		{ "sector", required_argument, NULL, O_SECTOR },
		{ "len", required_argument, NULL, O_LEN },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "slow-dev", required_argument, NULL, O_SLOW_DEV },
		{ "slow-name", required_argument, NULL, O_SLOW_NAME },
		{ "slow-backing", required_argument, NULL, O_SLOW_BACKING },
		{ "mem", required_argument, NULL, O_MEM },
		{ "all", no_argument, NULL, O_ALL },
		{ "case-seconds", required_argument, NULL, O_CASE_SECONDS },
		{ "per-queue", required_argument, NULL, O_PER_QUEUE },
		{ "del-dev", required_argument, NULL, O_DEL_DEV },
		{ "del-name", required_argument, NULL, O_DEL_NAME },
		{ "del-backing", required_argument, NULL, O_DEL_BACKING },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct dev main_dev = { 0 }, ro = { 0 }, empty = { 0 }, nb = { 0 };
	struct dev slow = { 0 }, del = { 0 };
	struct fuzz_opts fo = { .seconds = 60, .max_latency_ms = 2000 };
	struct case_opts co = { 0 };
	const char *mode, *op = "read", *expect = "ok";
	unsigned int per_queue = 16;
	u64 sector = 0;
	u32 len = 4096;
	bool list = false, seeded = false;
	int c, ret;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case O_DEV:
			main_dev.path = optarg;
			break;
		case O_NAME:
			main_dev.name = optarg;
			break;
		case O_BACKING:
			main_dev.backing = optarg;
			break;
		case O_RO_DEV:
			ro.path = optarg;
			break;
		case O_RO_NAME:
			ro.name = optarg;
			break;
		case O_RO_BACKING:
			ro.backing = optarg;
			break;
		case O_EMPTY_DEV:
			empty.path = optarg;
			break;
		case O_EMPTY_NAME:
			empty.name = optarg;
			break;
		case O_NB_DEV:
			nb.path = optarg;
			break;
		case O_NB_NAME:
			nb.name = optarg;
			break;
		case O_NB_BACKING:
			nb.backing = optarg;
			break;
		case O_SECONDS:
			fo.seconds = strtoul(optarg, NULL, 0);
			break;
		case O_SEED:
			fo.seed = strtoull(optarg, NULL, 0); seeded = true;
			break;
		case O_ITER:
			fo.iterations = strtoul(optarg, NULL, 0);
			break;
		case O_LAT:
			fo.max_latency_ms = strtoul(optarg, NULL, 0);
			break;
		case O_ONLY:
			co.only = optarg;
			break;
		case O_LIST:
			list = true;
			break;
		case O_STRICT:
			co.strict = true;
			break;
		case O_SLOW_DEV:
			slow.path = optarg;
			break;
		case O_SLOW_NAME:
			slow.name = optarg;
			break;
		case O_SLOW_BACKING:
			slow.backing = optarg;
			break;
		case O_DEL_DEV:
			del.path = optarg;
			break;
		case O_DEL_NAME:
			del.name = optarg;
			break;
		case O_DEL_BACKING:
			del.backing = optarg;
			break;
		case O_MEM:
			if (mem_mode_parse(optarg, &mem_mode))
				usage();
			fo.mem_set = true;
			break;
		case O_ALL:
			co.all = true;
			break;
		case O_CASE_SECONDS:
			case_seconds = strtoul(optarg, NULL, 0);
			break;
		case O_PER_QUEUE:
			per_queue = strtoul(optarg, NULL, 0);
			break;
		case O_OP:
			op = optarg;
			break;
		case O_SECTOR:
			sector = strtoull(optarg, NULL, 0);
			break;
		case O_LEN:
			len = strtoul(optarg, NULL, 0);
			break;
		case O_EXPECT:
			expect = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!seeded)
		fo.seed = now_ns() ^ ((u64)getpid() << 32);
	fo.list = list;
	fo.seeded = seeded;
	if (!list && (!main_dev.path || !main_dev.name))
		usage();

	if (!strcmp(mode, "cases")) {
		co.list = list;
		if (!list && (open_start(&main_dev) || open_start(need(&ro)) ||
			      open_start(need(&empty)) || open_start(need(&slow)) ||
			      open_start(need(&del))))
			return 1;
		ret = run_cases(&main_dev, need(&ro), need(&empty), need(&slow),
				need(&del), &co);
		if (!list) {
			dev_close(&main_dev);
			if (ro.path)
				dev_close(&ro);
			if (empty.path)
				dev_close(&empty);
			if (slow.path)
				dev_close(&slow);
			if (del.path)
				dev_close(&del);
		}
		return ret;
	}
	if (!strcmp(mode, "io")) {
		if (list) {
			printf("io\n");
			return 0;
		}
		if (open_start(&main_dev))
			return 1;
		ret = run_io(&main_dev, op, sector, len, expect);
		dev_close(&main_dev);
		return ret;
	}
	if (!strcmp(mode, "fuzz"))
		return run_fuzz(&main_dev, need(&nb), &fo);
	if (!strcmp(mode, "race")) {
		if (list) {
			printf("race/data\nrace/bounce\nrace/status\nrace/ring\n");
			return 0;
		}
		return run_race(&main_dev, fo.seconds);
	}
	if (!strcmp(mode, "flood"))
		return run_flood(&main_dev, need(&nb), fo.seconds, per_queue,
				 fo.max_latency_ms, list);
	usage();
	return 2;
}
