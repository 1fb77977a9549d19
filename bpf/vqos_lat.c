// SPDX-License-Identifier: (GPL-2.0 OR BSD-3-Clause)
/*
 * vqos-lat - latency of vqos requests per device (guest), op and stage,
 * from the BPF histograms of vqos_lat.bpf.c.
 *
 * "vqos-lat run" collects for as long as it runs; "vqos-lat attach" pins
 * the maps and links in /sys/fs/bpf/vqos and exits, collection going on
 * until "vqos-lat detach"; "vqos-lat report" reads the pinned maps, as
 * bpftool can.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "vqos_lat.h"
#include "vqos_lat.skel.h"

#define PROG		"vqos-lat"
#define SYSFS_VDPA	"/sys/bus/vdpa/devices"
#define SYSFS_MODULE	"/sys/module/vqos"
#define BTF_MODULE	"/sys/kernel/btf/vqos"
#define LINK_DONE	"link_complete"
#define LINK_HOLD	"link_throttle"
#define MAX_DEV_FILTERS	64
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum command { CMD_RUN, CMD_ATTACH, CMD_DETACH, CMD_REPORT, CMD_RESET,
	       CMD_STATUS };

static const char * const op_names[VQOS_LAT_NR_OPS] = {
	"read", "write", "other"
};
static const char * const stage_names[VQOS_LAT_NR_STAGES] = {
	"total", "throttle", "backend"
};
static const char * const map_names[] = {
	"vqos_lat_hist", "vqos_lat_dev", "vqos_lat_held"
};

static struct env {
	enum command cmd;
	double interval;	/* seconds; 0: once (or at exit for run) */
	long count;		/* reports; 0: unbounded */
	bool cumulative;
	bool json;
	bool fine;
	unsigned int hist_stages;	/* bit per enum vqos_lat_stage */
	const char *devs[MAX_DEV_FILTERS];
	int ndevs;
	unsigned int max_devs;
	bool max_devs_set;
	bool raw_tp;
	bool keep_maps;
	bool verbose;
	const char *pin_dir;
} env = {
	.cmd = CMD_RUN,
	.hist_stages = 1U << VQOS_LAT_TOTAL,
	.max_devs = VQOS_LAT_MAX_DEVS,
	.pin_dir = VQOS_BPF_PIN_DIR,
};

static volatile sig_atomic_t exiting;

static void sig_handler(int sig)
{
	exiting = 1;
}

static const char usage[] =
"usage: " PROG " [COMMAND] [OPTIONS]\n"
"\n"
"Latency of vqos requests per device (guest) and op: total, throttle wait\n"
"and backend service, as percentiles and histograms, from BPF programs on\n"
"the vqos tracepoints.\n"
"\n"
"Commands:\n"
"  run      load and attach for as long as this runs (the default); report\n"
"           every --interval, or once on Ctrl-C\n"
"  attach   load, attach, pin maps and links in the pin directory and exit:\n"
"           collection goes on without this tool\n"
"  report   report from the pinned maps (after attach), once or every\n"
"           --interval\n"
"  reset    zero the pinned histograms and counters\n"
"  status   show what is attached and what the programs cost\n"
"  detach   unpin the links (collection stops) and the maps\n"
"\n"
"Options:\n"
"  -i, --interval=SEC   report every SEC seconds; each report covers its\n"
"                       interval (see --cumulative)\n"
"  -c, --count=N        stop after N reports\n"
"  -C, --cumulative     reports cover everything since the maps were made\n"
"  -d, --dev=NAME|ID    only this device (repeat for more)\n"
"  -j, --json           one JSON object per report, on one line\n"
"  -H, --hist=STAGES    histograms for these stages, comma separated:\n"
"                       total,throttle,backend, all or none (default total)\n"
"  -F, --fine           one histogram row per bucket (1/16 of a power of\n"
"                       two), not per power of two\n"
"  -m, --max-devs=N     (run, attach) slots for device ids 0..N-1\n"
"                       (default 64; per CPU, each takes 38 KiB)\n"
"      --raw-tp         (run, attach) raw_tp programs even if the module\n"
"                       has BTF (default: tp_btf when it has)\n"
"  -p, --pin-dir=DIR    pin directory (default " VQOS_BPF_PIN_DIR ")\n"
"  -k, --keep-maps      (detach) unpin the links only\n"
"  -v, --verbose        libbpf's debug messages\n"
"  -h, --help\n"
"\n"
"Examples:\n"
"  " PROG " run -i 5                 every 5 s, this process collecting\n"
"  " PROG " attach; " PROG " report -i 10 -c 6; " PROG " detach\n"
"  " PROG " report -j -d vm1-disk0    JSON for one device\n";

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	exit(2);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (level == LIBBPF_DEBUG && !env.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static unsigned int parse_stages(const char *arg)
{
	char *s = strdup(arg), *tok, *save = NULL;
	unsigned int mask = 0;
	int i;

	if (!s)
		die_usage("out of memory");
	for (tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all")) {
			mask = (1U << VQOS_LAT_NR_STAGES) - 1;
			continue;
		}
		if (!strcmp(tok, "none"))
			continue;
		for (i = 0; i < VQOS_LAT_NR_STAGES; i++)
			if (!strcmp(tok, stage_names[i]))
				break;
		if (i == VQOS_LAT_NR_STAGES)
			die_usage("unknown stage '%s'", tok);
		mask |= 1U << i;
	}
	free(s);
	return mask;
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "cumulative", no_argument, NULL, 'C' },
		{ "dev", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "hist", required_argument, NULL, 'H' },
		{ "fine", no_argument, NULL, 'F' },
		{ "max-devs", required_argument, NULL, 'm' },
		{ "raw-tp", no_argument, NULL, 'R' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "keep-maps", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const char * const cmds[] = {
		[CMD_RUN] = "run", [CMD_ATTACH] = "attach",
		[CMD_DETACH] = "detach", [CMD_REPORT] = "report",
		[CMD_RESET] = "reset", [CMD_STATUS] = "status",
	};
	char *end;
	int c, i;

	while ((c = getopt_long(argc, argv, "i:c:Cd:jH:Fm:p:kvh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'i':
			errno = 0;
			env.interval = strtod(optarg, &end);
			if (errno || *end || !(env.interval > 0) ||
			    env.interval > 86400)
				die_usage("bad interval '%s'", optarg);
			break;
		case 'c':
			errno = 0;
			env.count = strtol(optarg, &end, 10);
			if (errno || *end || env.count <= 0)
				die_usage("bad count '%s'", optarg);
			break;
		case 'C':
			env.cumulative = true;
			break;
		case 'd':
			if (env.ndevs == MAX_DEV_FILTERS)
				die_usage("too many --dev");
			env.devs[env.ndevs++] = optarg;
			break;
		case 'j':
			env.json = true;
			break;
		case 'H':
			env.hist_stages = parse_stages(optarg);
			break;
		case 'F':
			env.fine = true;
			break;
		case 'm':
			errno = 0;
			env.max_devs = strtoul(optarg, &end, 10);
			if (errno || *end || !env.max_devs ||
			    env.max_devs > 65536)
				die_usage("bad --max-devs '%s' (1..65536)",
					  optarg);
			env.max_devs_set = true;
			break;
		case 'R':
			env.raw_tp = true;
			break;
		case 'p':
			env.pin_dir = optarg;
			break;
		case 'k':
			env.keep_maps = true;
			break;
		case 'v':
			env.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fprintf(stderr, "Try '" PROG " --help'.\n");
			exit(2);
		}
	}
	if (optind < argc) {
		for (i = 0; i < (int)ARRAY_SIZE(cmds); i++)
			if (!strcmp(argv[optind], cmds[i]))
				break;
		if (i == (int)ARRAY_SIZE(cmds))
			die_usage("unknown command '%s'", argv[optind]);
		env.cmd = i;
		optind++;
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
}

/* ---- environment checks ------------------------------------------------ */

static int check_root(void)
{
	if (geteuid() == 0)
		return 0;
	fprintf(stderr, PROG ": must be run as root (BPF programs and pinned maps need CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)\n");
	return -1;
}

/* The pin directory must be in a bpf filesystem: itself or its parent. */
static int check_bpffs(void)
{
	char parent[PATH_MAX];
	struct statfs st;
	const char *p = env.pin_dir;
	char *slash;

	if (statfs(p, &st) < 0) {
		snprintf(parent, sizeof(parent), "%s", env.pin_dir);
		slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = '\0';
		else
			snprintf(parent, sizeof(parent), "/");
		p = parent;
		if (statfs(p, &st) < 0) {
			fprintf(stderr, PROG ": %s: %s\n", p, strerror(errno));
			return -1;
		}
	}
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	fprintf(stderr, PROG ": %s is not on a bpf filesystem: mount it with\n"
		"  mount -t bpf bpf /sys/fs/bpf\n", p);
	return -1;
}

static int check_module(void)
{
	if (access(SYSFS_MODULE, F_OK) == 0)
		return 0;
	fprintf(stderr, PROG ": the vqos module is not loaded (no " SYSFS_MODULE "): load it first, e.g. insmod kmod/vqos.ko\n");
	return -1;
}

static void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", env.pin_dir, name);
}

static bool pinned(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	return access(path, F_OK) == 0;
}

/* ---- device names -------------------------------------------------------- */

struct dev_name {
	unsigned int id;
	char name[256];
};

static struct dev_name *names;
static int nnames;

static void load_names(void)
{
	char path[PATH_MAX], buf[32];
	struct dirent *de;
	DIR *dir;
	FILE *f;

	free(names);
	names = NULL;
	nnames = 0;
	dir = opendir(SYSFS_VDPA);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct dev_name *n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS_VDPA "/%s/vqos/id",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		n = realloc(names, (nnames + 1) * sizeof(*names));
		if (!n)
			break;
		names = n;
		names[nnames].id = strtoul(buf, NULL, 10);
		snprintf(names[nnames].name, sizeof(names[nnames].name), "%s",
			 de->d_name);
		nnames++;
	}
	closedir(dir);
}

static const char *dev_name(unsigned int id)
{
	int i;

	for (i = 0; i < nnames; i++)
		if (names[i].id == id)
			return names[i].name;
	return NULL;
}

/* Is device @id selected by --dev (by id or by name)? */
static bool dev_selected(unsigned int id)
{
	const char *name = dev_name(id);
	char *end;
	int i;

	if (!env.ndevs)
		return true;
	for (i = 0; i < env.ndevs; i++) {
		if (name && !strcmp(env.devs[i], name))
			return true;
		if (strtoul(env.devs[i], &end, 10) == id && !*end &&
		    *env.devs[i])
			return true;
	}
	return false;
}

/* ---- snapshots of the maps --------------------------------------------- */

struct maps {
	int hist_fd;
	int dev_fd;
	unsigned int ndevs;	/* device slots */
	int ncpus;
	char *buf;		/* one per-CPU value, all CPUs */
};

struct snap {
	struct vqos_lat_hist *h;	/* ndevs * VQOS_LAT_HISTS_PER_DEV */
	struct vqos_lat_dev *d;		/* ndevs + 1 */
	struct timespec ts;
};

static int map_check(int fd, const char *name, __u32 value_size,
		     __u32 *max_entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, PROG ": %s: %s\n", name, strerror(errno));
		return -1;
	}
	if (info.value_size != value_size) {
		fprintf(stderr, PROG ": map %s has values of %u bytes, this tool expects %u: it was made by another version of vqos-lat; 'vqos-lat detach' and attach again\n",
			name, info.value_size, value_size);
		return -1;
	}
	*max_entries = info.max_entries;
	return 0;
}

static int maps_setup(struct maps *m)
{
	__u32 nhist, ndev;
	size_t sz;

	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus <= 0) {
		fprintf(stderr, PROG ": cannot count the CPUs\n");
		return -1;
	}
	if (map_check(m->hist_fd, "vqos_lat_hist",
		      sizeof(struct vqos_lat_hist), &nhist) ||
	    map_check(m->dev_fd, "vqos_lat_dev", sizeof(struct vqos_lat_dev),
		      &ndev))
		return -1;
	m->ndevs = nhist / VQOS_LAT_HISTS_PER_DEV;
	if (ndev != m->ndevs + 1) {
		fprintf(stderr, PROG ": maps disagree on the number of devices (%u, %u)\n",
			m->ndevs, ndev - 1);
		return -1;
	}
	sz = sizeof(struct vqos_lat_hist);
	if (sz < sizeof(struct vqos_lat_dev))
		sz = sizeof(struct vqos_lat_dev);
	m->buf = calloc(m->ncpus, (sz + 7) & ~(size_t)7);
	if (!m->buf) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	return 0;
}

static int open_pinned(struct maps *m)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), "vqos_lat_hist");
	m->hist_fd = bpf_obj_get(path);
	if (m->hist_fd < 0) {
		if (errno == ENOENT)
			fprintf(stderr, PROG ": nothing pinned at %s: run '" PROG " attach' first\n",
				path);
		else
			fprintf(stderr, PROG ": %s: %s\n", path,
				strerror(errno));
		return -1;
	}
	pin_path(path, sizeof(path), "vqos_lat_dev");
	m->dev_fd = bpf_obj_get(path);
	if (m->dev_fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	return maps_setup(m);
}

static void snap_free(struct snap *s)
{
	free(s->h);
	free(s->d);
	s->h = NULL;
	s->d = NULL;
}

static int snap_take(const struct maps *m, struct snap *s)
{
	__u32 nh = m->ndevs * VQOS_LAT_HISTS_PER_DEV, key;
	size_t hsz = (sizeof(struct vqos_lat_hist) + 7) & ~(size_t)7;
	size_t dsz = (sizeof(struct vqos_lat_dev) + 7) & ~(size_t)7;
	unsigned int b;
	int cpu, i;

	s->h = calloc(nh, sizeof(*s->h));
	s->d = calloc(m->ndevs + 1, sizeof(*s->d));
	if (!s->h || !s->d) {
		fprintf(stderr, PROG ": out of memory\n");
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->ts);
	for (key = 0; key < nh; key++) {
		struct vqos_lat_hist *sum = &s->h[key];

		if (bpf_map_lookup_elem(m->hist_fd, &key, m->buf)) {
			fprintf(stderr, PROG ": reading vqos_lat_hist: %s\n",
				strerror(errno));
			goto fail;
		}
		for (cpu = 0; cpu < m->ncpus; cpu++) {
			const struct vqos_lat_hist *h = (void *)(m->buf + cpu * hsz);

			sum->count += h->count;
			sum->sum_ns += h->sum_ns;
			if (h->max_ns > sum->max_ns)
				sum->max_ns = h->max_ns;
			if (!h->count)
				continue;
			for (b = 0; b < VQOS_LAT_BUCKETS; b++)
				sum->slots[b] += h->slots[b];
		}
	}
	for (key = 0; key <= m->ndevs; key++) {
		struct vqos_lat_dev *sum = &s->d[key];

		if (bpf_map_lookup_elem(m->dev_fd, &key, m->buf)) {
			fprintf(stderr, PROG ": reading vqos_lat_dev: %s\n",
				strerror(errno));
			goto fail;
		}
		for (cpu = 0; cpu < m->ncpus; cpu++) {
			const struct vqos_lat_dev *d = (void *)(m->buf + cpu * dsz);

			sum->requests += d->requests;
			sum->errors += d->errors;
			for (i = 0; i < VQOS_LAT_NR_OPS; i++)
				sum->bytes[i] += d->bytes[i];
			sum->holds += d->holds;
			sum->holds_unmatched += d->holds_unmatched;
		}
	}
	return 0;
fail:
	snap_free(s);
	return -1;
}

/* @cur minus @prev, into @cur: what happened in the interval. */
static void snap_delta(const struct maps *m, struct snap *cur,
		       const struct snap *prev)
{
	__u32 nh = m->ndevs * VQOS_LAT_HISTS_PER_DEV, k;
	unsigned int b;
	int i;

	for (k = 0; k < nh; k++) {
		struct vqos_lat_hist *c = &cur->h[k];
		const struct vqos_lat_hist *p = &prev->h[k];
		__u64 hi = 0;

		c->count -= p->count;
		c->sum_ns -= p->sum_ns;
		for (b = 0; b < VQOS_LAT_BUCKETS; b++) {
			c->slots[b] -= p->slots[b];
			if (c->slots[b])
				hi = b + 1 < VQOS_LAT_BUCKETS ?
				     vqos_lat_bucket_lo(b + 1) - 1 : c->max_ns;
		}
		/*
		 * The maximum of the interval is exact if it beat the one
		 * before, else the top of its highest bucket bounds it.
		 */
		if (c->max_ns <= p->max_ns && hi < c->max_ns)
			c->max_ns = hi;
		if (!c->count)
			c->max_ns = 0;
	}
	for (k = 0; k <= m->ndevs; k++) {
		struct vqos_lat_dev *c = &cur->d[k];
		const struct vqos_lat_dev *p = &prev->d[k];

		c->requests -= p->requests;
		c->errors -= p->errors;
		for (i = 0; i < VQOS_LAT_NR_OPS; i++)
			c->bytes[i] -= p->bytes[i];
		c->holds -= p->holds;
		c->holds_unmatched -= p->holds_unmatched;
	}
}

/*
 * The @p quantile (0..1) of a histogram, interpolating linearly inside the
 * bucket it falls in: off by at most one bucket width, 1/16 of a power of
 * two.
 */
static double hist_quantile(const struct vqos_lat_hist *h, double p)
{
	double rank, lo, hi, v;
	__u64 cum = 0;
	unsigned int b;

	if (!h->count)
		return 0;
	rank = ceil(p * h->count);
	if (rank < 1)
		rank = 1;
	for (b = 0; b < VQOS_LAT_BUCKETS; b++) {
		if (!h->slots[b] || cum + h->slots[b] < rank) {
			cum += h->slots[b];
			continue;
		}
		lo = vqos_lat_bucket_lo(b);
		hi = b + 1 < VQOS_LAT_BUCKETS ? vqos_lat_bucket_lo(b + 1) :
		     (double)h->max_ns;
		v = lo + (hi - lo) * (rank - cum) / h->slots[b];
		if (h->max_ns && v > h->max_ns)
			v = h->max_ns;
		return v;
	}
	return h->max_ns;
}

/* ---- output ------------------------------------------------------------- */

static const double quantiles[] = { 0.5, 0.9, 0.99, 0.999 };
static const char * const quantile_names[] = { "p50", "p90", "p99", "p999" };
#define NQ ARRAY_SIZE(quantiles)

static bool dev_shown(const struct maps *m, const struct snap *s,
		      unsigned int dev)
{
	if (!dev_selected(dev))
		return false;
	/* Explicitly asked for, present in sysfs, or seen. */
	return env.ndevs || dev_name(dev) || s->d[dev].requests;
}

/* "1.05ms": three significant digits and a unit. */
static void fmt_ns(char *buf, size_t len, double ns)
{
	static const char * const units[] = { "ns", "us", "ms", "s" };
	int u = 0;

	while (ns >= 1000 && u < 3) {
		ns /= 1000;
		u++;
	}
	if (u == 0 || ns >= 100)
		snprintf(buf, len, "%.0f%s", ns, units[u]);
	else if (ns >= 10)
		snprintf(buf, len, "%.1f%s", ns, units[u]);
	else
		snprintf(buf, len, "%.2f%s", ns, units[u]);
}

static void print_bar(__u64 n, __u64 max, int width)
{
	int i, stars = max ? (int)((double)n * width / max + 0.5) : 0;

	if (n && !stars)
		stars = 1;
	putchar('|');
	for (i = 0; i < width; i++)
		putchar(i < stars ? '*' : ' ');
	putchar('|');
}

static void print_hist(const struct vqos_lat_hist *h)
{
	/* Rows: buckets (--fine) or powers of two (groups of buckets). */
	unsigned int per = env.fine ? 1 : VQOS_LAT_SUB, b, b0, b1;
	int nrows, r, first = -1, last = -1;
	__u64 rows[VQOS_LAT_BUCKETS], max = 0;
	char lo[32], hi[32];

	nrows = 0;
	for (b = 0; b < VQOS_LAT_BUCKETS; b += per) {
		unsigned int i;

		rows[nrows] = 0;
		for (i = b; i < b + per; i++)
			rows[nrows] += h->slots[i];
		if (rows[nrows]) {
			if (first < 0)
				first = nrows;
			last = nrows;
			if (rows[nrows] > max)
				max = rows[nrows];
		}
		nrows++;
	}
	if (first < 0)
		return;
	printf("    %-21s : %-10s distribution\n", "latency", "count");
	for (r = first; r <= last; r++) {
		b0 = r * per;
		b1 = b0 + per;

		fmt_ns(lo, sizeof(lo), vqos_lat_bucket_lo(b0));
		if (b1 < VQOS_LAT_BUCKETS)
			fmt_ns(hi, sizeof(hi), vqos_lat_bucket_lo(b1));
		else
			snprintf(hi, sizeof(hi), "...");
		printf("    %8s -> %-8s : %-10llu ", lo, hi,
		       (unsigned long long)rows[r]);
		print_bar(rows[r], max, 40);
		putchar('\n');
	}
}

static void print_text(const struct maps *m, const struct snap *s,
		       double interval)
{
	char when[64], v[NQ + 2][16];
	bool header = false;
	time_t now = time(NULL);
	unsigned int dev;
	int op, st;
	size_t q;

	strftime(when, sizeof(when), "%F %T", localtime(&now));
	if (interval > 0)
		printf("%s  vqos request latency, last %.1f s, microseconds\n",
		       when, interval);
	else
		printf("%s  vqos request latency since the maps were made, microseconds\n",
		       when);
	for (dev = 0; dev < m->ndevs; dev++) {
		const struct vqos_lat_dev *d = &s->d[dev];

		if (!dev_shown(m, s, dev))
			continue;
		if (!header) {
			printf("%-4s %-16s %-5s %-8s %9s %9s %9s %9s %9s %9s %9s\n",
			       "DEV", "NAME", "OP", "STAGE", "COUNT", "AVG",
			       "P50", "P90", "P99", "P99.9", "MAX");
			header = true;
		}
		for (op = 0; op < VQOS_LAT_NR_OPS; op++) {
			for (st = 0; st < VQOS_LAT_NR_STAGES; st++) {
				const struct vqos_lat_hist *h;

				h = &s->h[VQOS_LAT_KEY(dev, op, st)];
				/* A stage row only if it has requests. */
				if (!h->count &&
				    (st != VQOS_LAT_TOTAL ||
				     !s->h[VQOS_LAT_KEY(dev, op, 0)].count))
					continue;
				snprintf(v[0], sizeof(v[0]), "%.1f",
					 h->count ? h->sum_ns / 1e3 / h->count : 0);
				for (q = 0; q < NQ; q++)
					snprintf(v[q + 1], sizeof(v[0]), "%.1f",
						 hist_quantile(h, quantiles[q]) / 1e3);
				snprintf(v[NQ + 1], sizeof(v[0]), "%.1f",
					 h->max_ns / 1e3);
				printf("%-4u %-16s %-5s %-8s %9llu %9s %9s %9s %9s %9s %9s\n",
				       dev, dev_name(dev) ?: "-", op_names[op],
				       stage_names[st],
				       (unsigned long long)h->count, v[0],
				       v[1], v[2], v[3], v[4], v[5]);
			}
		}
		if (!d->requests)
			printf("%-4u %-16s (no requests)\n", dev,
			       dev_name(dev) ?: "-");
		else if (d->errors || d->holds)
			printf("%-4u %-16s %llu requests, %llu errors, %llu held by a rate limit\n",
			       dev, dev_name(dev) ?: "-",
			       (unsigned long long)d->requests,
			       (unsigned long long)d->errors,
			       (unsigned long long)d->holds);
	}
	if (!header)
		printf("(no vqos devices)\n");
	if (s->d[m->ndevs].requests)
		printf("%llu requests of devices with ids >= %u were not counted: attach with --max-devs\n",
		       (unsigned long long)s->d[m->ndevs].requests, m->ndevs);

	for (dev = 0; dev < m->ndevs && env.hist_stages; dev++) {
		if (!dev_shown(m, s, dev))
			continue;
		for (op = 0; op < VQOS_LAT_NR_OPS; op++) {
			for (st = 0; st < VQOS_LAT_NR_STAGES; st++) {
				const struct vqos_lat_hist *h;

				h = &s->h[VQOS_LAT_KEY(dev, op, st)];
				if (!(env.hist_stages & (1U << st)) ||
				    !h->count)
					continue;
				printf("\n%s (dev %u) %s %s: %llu requests\n",
				       dev_name(dev) ?: "-", dev, op_names[op],
				       stage_names[st],
				       (unsigned long long)h->count);
				print_hist(h);
			}
		}
	}
	printf("\n");
	fflush(stdout);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json_hist(const struct vqos_lat_hist *h)
{
	bool first = true;
	unsigned int b;
	size_t q;

	printf("{\"count\":%llu,\"sum_ns\":%llu,\"avg_ns\":%.0f,\"max_ns\":%llu",
	       (unsigned long long)h->count, (unsigned long long)h->sum_ns,
	       h->count ? (double)h->sum_ns / h->count : 0.0,
	       (unsigned long long)h->max_ns);
	for (q = 0; q < NQ; q++)
		printf(",\"%s_ns\":%.0f", quantile_names[q],
		       hist_quantile(h, quantiles[q]));
	printf(",\"buckets\":[");
	for (b = 0; b < VQOS_LAT_BUCKETS; b++) {
		if (!h->slots[b])
			continue;
		printf("%s[%llu,", first ? "" : ",",
		       (unsigned long long)vqos_lat_bucket_lo(b));
		if (b + 1 < VQOS_LAT_BUCKETS)
			printf("%llu", (unsigned long long)vqos_lat_bucket_lo(b + 1));
		else
			printf("null");
		printf(",%llu]", (unsigned long long)h->slots[b]);
		first = false;
	}
	printf("]}");
}

static void print_json(const struct maps *m, const struct snap *s,
		       double interval)
{
	bool first = true;
	unsigned int dev;
	int op, st;

	printf("{\"time\":%lld,", (long long)time(NULL));
	if (interval > 0)
		printf("\"interval_s\":%.3f,", interval);
	else
		printf("\"interval_s\":null,");
	printf("\"unit\":\"ns\",\"sub_buckets\":%u,\"device_slots\":%u,\"unslotted_requests\":%llu,\"devices\":[",
	       VQOS_LAT_SUB, m->ndevs,
	       (unsigned long long)s->d[m->ndevs].requests);
	for (dev = 0; dev < m->ndevs; dev++) {
		const struct vqos_lat_dev *d = &s->d[dev];

		if (!dev_shown(m, s, dev))
			continue;
		printf("%s{\"dev\":%u,\"name\":", first ? "" : ",", dev);
		first = false;
		if (dev_name(dev))
			json_str(dev_name(dev));
		else
			printf("null");
		printf(",\"requests\":%llu,\"errors\":%llu,\"holds\":%llu,\"holds_unmatched\":%llu,\"ops\":{",
		       (unsigned long long)d->requests,
		       (unsigned long long)d->errors,
		       (unsigned long long)d->holds,
		       (unsigned long long)d->holds_unmatched);
		for (op = 0; op < VQOS_LAT_NR_OPS; op++) {
			printf("%s\"%s\":{\"bytes\":%llu", op ? "," : "",
			       op_names[op], (unsigned long long)d->bytes[op]);
			for (st = 0; st < VQOS_LAT_NR_STAGES; st++) {
				printf(",\"%s\":", stage_names[st]);
				print_json_hist(&s->h[VQOS_LAT_KEY(dev, op, st)]);
			}
			printf("}");
		}
		printf("}}");
	}
	printf("]}\n");
	fflush(stdout);
}

static void sleep_s(double s)
{
	struct timespec ts = {
		.tv_sec = (time_t)s,
		.tv_nsec = (long)((s - (time_t)s) * 1e9),
	};

	while (!exiting && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Report every env.interval, or once: at once for "report", when
 * interrupted for "run".
 */
static int report_loop(const struct maps *m)
{
	struct snap prev = {}, cur = {}, raw = {};
	size_t nh = m->ndevs * VQOS_LAT_HISTS_PER_DEV;
	bool delta = env.interval > 0 && !env.cumulative;
	long n = 0;
	int err = 0;

	if (delta && snap_take(m, &prev))
		return 1;
	if (!env.interval && env.cmd == CMD_RUN) {
		fprintf(stderr, PROG ": collecting; Ctrl-C to report and end\n");
		while (!exiting)
			pause();
	}
	for (;;) {
		double dt = 0;

		if (env.interval > 0)
			sleep_s(env.interval);
		if (snap_take(m, &cur)) {
			err = 1;
			break;
		}
		load_names();
		if (delta) {
			/* Keep this snapshot as the start of the next one. */
			raw.h = malloc(nh * sizeof(*raw.h));
			raw.d = malloc((m->ndevs + 1) * sizeof(*raw.d));
			if (!raw.h || !raw.d) {
				fprintf(stderr, PROG ": out of memory\n");
				err = 1;
				break;
			}
			memcpy(raw.h, cur.h, nh * sizeof(*raw.h));
			memcpy(raw.d, cur.d, (m->ndevs + 1) * sizeof(*raw.d));
			raw.ts = cur.ts;
			dt = (cur.ts.tv_sec - prev.ts.tv_sec) +
			     (cur.ts.tv_nsec - prev.ts.tv_nsec) / 1e9;
			snap_delta(m, &cur, &prev);
			snap_free(&prev);
			prev = raw;
			raw = (struct snap){};
		}
		if (env.json)
			print_json(m, &cur, dt);
		else
			print_text(m, &cur, dt);
		snap_free(&cur);
		n++;
		if (!env.interval || exiting || (env.count && n >= env.count))
			break;
	}
	snap_free(&raw);
	snap_free(&cur);
	snap_free(&prev);
	return err;
}

/* ---- loading ------------------------------------------------------------- */

/* Write the labels of every slot on every CPU, keeping what is counted. */
static int label_maps(struct maps *m)
{
	size_t hsz = (sizeof(struct vqos_lat_hist) + 7) & ~(size_t)7;
	size_t dsz = (sizeof(struct vqos_lat_dev) + 7) & ~(size_t)7;
	__u32 key, dev;
	int cpu;

	for (key = 0; key < m->ndevs * VQOS_LAT_HISTS_PER_DEV; key++) {
		if (bpf_map_lookup_elem(m->hist_fd, &key, m->buf))
			return -errno;
		for (cpu = 0; cpu < m->ncpus; cpu++) {
			struct vqos_lat_hist *h = (void *)(m->buf + cpu * hsz);

			h->dev = key / VQOS_LAT_HISTS_PER_DEV;
			h->op = key / VQOS_LAT_NR_STAGES % VQOS_LAT_NR_OPS;
			h->stage = key % VQOS_LAT_NR_STAGES;
		}
		if (bpf_map_update_elem(m->hist_fd, &key, m->buf, BPF_ANY))
			return -errno;
	}
	for (dev = 0; dev <= m->ndevs; dev++) {
		if (bpf_map_lookup_elem(m->dev_fd, &dev, m->buf))
			return -errno;
		for (cpu = 0; cpu < m->ncpus; cpu++)
			((struct vqos_lat_dev *)(m->buf + cpu * dsz))->dev = dev;
		if (bpf_map_update_elem(m->dev_fd, &dev, m->buf, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* Zero what is counted, keeping the labels. */
static int reset_maps(struct maps *m)
{
	size_t hsz = (sizeof(struct vqos_lat_hist) + 7) & ~(size_t)7;
	size_t dsz = (sizeof(struct vqos_lat_dev) + 7) & ~(size_t)7;
	__u32 key, dev;
	int cpu;

	memset(m->buf, 0, m->ncpus * hsz);
	for (key = 0; key < m->ndevs * VQOS_LAT_HISTS_PER_DEV; key++) {
		for (cpu = 0; cpu < m->ncpus; cpu++) {
			struct vqos_lat_hist *h = (void *)(m->buf + cpu * hsz);

			h->dev = key / VQOS_LAT_HISTS_PER_DEV;
			h->op = key / VQOS_LAT_NR_STAGES % VQOS_LAT_NR_OPS;
			h->stage = key % VQOS_LAT_NR_STAGES;
		}
		if (bpf_map_update_elem(m->hist_fd, &key, m->buf, BPF_ANY))
			return -errno;
	}
	memset(m->buf, 0, m->ncpus * hsz);
	for (dev = 0; dev <= m->ndevs; dev++) {
		for (cpu = 0; cpu < m->ncpus; cpu++)
			((struct vqos_lat_dev *)(m->buf + cpu * dsz))->dev = dev;
		if (bpf_map_update_elem(m->dev_fd, &dev, m->buf, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* Does the vqos module carry BTF for its tracepoints? */
static bool module_has_btf(void)
{
	struct btf *vmlinux, *mod;
	bool ok;

	if (access(BTF_MODULE, R_OK))
		return false;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false;
	mod = btf__parse_split(BTF_MODULE, vmlinux);
	ok = mod && btf__find_by_name_kind(mod, "btf_trace_vqos_req_complete",
					   BTF_KIND_TYPEDEF) > 0 &&
	     btf__find_by_name_kind(mod, "btf_trace_vqos_req_throttle",
				    BTF_KIND_TYPEDEF) > 0;
	btf__free(mod);
	btf__free(vmlinux);
	return ok;
}

/*
 * With maps already pinned (attached before, or detached --keep-maps),
 * libbpf reuses them: take their size, and refuse a layout that differs.
 */
static int adopt_pinned_size(void)
{
	char path[PATH_MAX];
	__u32 n;
	int fd, err;

	pin_path(path, sizeof(path), "vqos_lat_hist");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	err = map_check(fd, "vqos_lat_hist", sizeof(struct vqos_lat_hist), &n);
	close(fd);
	if (err)
		return -1;
	n /= VQOS_LAT_HISTS_PER_DEV;
	if (env.max_devs_set && n != env.max_devs) {
		fprintf(stderr, PROG ": the maps pinned in %s have %u device slots, not %u: 'vqos-lat detach' first to resize\n",
			env.pin_dir, n, env.max_devs);
		return -1;
	}
	env.max_devs = n;
	return 0;
}

static struct vqos_lat_bpf *load_bpf(bool pin, bool raw)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts,
		    .pin_root_path = pin ? env.pin_dir : NULL);
	struct vqos_lat_bpf *obj;
	int err;

	obj = vqos_lat_bpf__open_opts(&opts);
	if (!obj) {
		fprintf(stderr, PROG ": cannot open the BPF object: %s\n",
			strerror(errno));
		return NULL;
	}
	if (!pin) {
		bpf_map__set_pin_path(obj->maps.vqos_lat_hist, NULL);
		bpf_map__set_pin_path(obj->maps.vqos_lat_dev, NULL);
		bpf_map__set_pin_path(obj->maps.vqos_lat_held, NULL);
	}
	obj->rodata->max_devs = env.max_devs;
	bpf_map__set_max_entries(obj->maps.vqos_lat_hist,
				 env.max_devs * VQOS_LAT_HISTS_PER_DEV);
	bpf_map__set_max_entries(obj->maps.vqos_lat_dev, env.max_devs + 1);
	bpf_map__set_max_entries(obj->maps.vqos_lat_held, env.max_devs);
	bpf_program__set_autoload(obj->progs.vqos_done_btf, !raw);
	bpf_program__set_autoload(obj->progs.vqos_hold_btf, !raw);
	bpf_program__set_autoload(obj->progs.vqos_done_raw, raw);
	bpf_program__set_autoload(obj->progs.vqos_hold_raw, raw);
	err = vqos_lat_bpf__load(obj);
	if (err) {
		fprintf(stderr, PROG ": cannot load the %s programs: %s\n",
			raw ? "raw_tp" : "tp_btf", strerror(-err));
		vqos_lat_bpf__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

static struct bpf_link *attach_prog(struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach(prog);

	if (!link)
		fprintf(stderr, PROG ": cannot attach %s: %s\n",
			bpf_program__name(prog), strerror(errno));
	return link;
}

static int pin_link(struct bpf_link *link, const char *name)
{
	char path[PATH_MAX];
	int err;

	pin_path(path, sizeof(path), name);
	err = bpf_link__pin(link, path);
	if (err)
		fprintf(stderr, PROG ": cannot pin %s: %s\n", path,
			strerror(-err));
	return err;
}

static void unpin_all(bool maps)
{
	char path[PATH_MAX];
	size_t i;

	pin_path(path, sizeof(path), LINK_DONE);
	unlink(path);
	pin_path(path, sizeof(path), LINK_HOLD);
	unlink(path);
	if (!maps)
		return;
	for (i = 0; i < ARRAY_SIZE(map_names); i++) {
		pin_path(path, sizeof(path), map_names[i]);
		unlink(path);
	}
	rmdir(env.pin_dir);
}

/* run and attach: load, attach and (attach) pin; run then reports. */
static int cmd_load(bool pin)
{
	struct bpf_link *done = NULL, *hold = NULL;
	bool raw = env.raw_tp, fell_back = false;
	struct vqos_lat_bpf *obj;
	struct maps m = {};
	int err = 1;

	if (check_module())
		return 1;
	if (pin) {
		if (check_bpffs())
			return 1;
		if (pinned(LINK_DONE) || pinned(LINK_HOLD)) {
			fprintf(stderr, PROG ": already attached (links pinned in %s): '" PROG " detach' first\n",
				env.pin_dir);
			return 1;
		}
		if (mkdir(env.pin_dir, 0700) && errno != EEXIST) {
			fprintf(stderr, PROG ": cannot create %s: %s\n",
				env.pin_dir, strerror(errno));
			return 1;
		}
		if (adopt_pinned_size())
			return 1;
	}
	if (!raw && !module_has_btf()) {
		fprintf(stderr, PROG ": the vqos module has no BTF for its tracepoints: using raw_tp\n");
		raw = true;
	}
	obj = load_bpf(pin, raw);
	if (!obj && !raw) {
		fprintf(stderr, PROG ": trying raw_tp instead\n");
		obj = load_bpf(pin, true);
		raw = true;
		fell_back = true;
	}
	if (!obj) {
		if (errno == EPERM)
			fprintf(stderr, PROG ": not permitted: is this root, and is memlock or the BPF sysctl in the way?\n");
		return 1;
	}
	m.hist_fd = bpf_map__fd(obj->maps.vqos_lat_hist);
	m.dev_fd = bpf_map__fd(obj->maps.vqos_lat_dev);
	if (maps_setup(&m))
		goto out;
	err = label_maps(&m);
	if (err) {
		fprintf(stderr, PROG ": cannot label the maps: %s\n",
			strerror(-err));
		err = 1;
		goto out;
	}
	err = 1;
	done = attach_prog(raw ? obj->progs.vqos_done_raw :
				 obj->progs.vqos_done_btf);
	hold = attach_prog(raw ? obj->progs.vqos_hold_raw :
				 obj->progs.vqos_hold_btf);
	if (!done || !hold)
		goto out;
	if (pin) {
		if (pin_link(done, LINK_DONE) || pin_link(hold, LINK_HOLD)) {
			unpin_all(false);
			goto out;
		}
		printf(PROG ": attached (%s%s) to vqos_req_complete and vqos_req_throttle, %u device slots; maps and links pinned in %s\n",
		       raw ? "raw_tp" : "tp_btf",
		       fell_back ? ", tp_btf failed" : "", env.max_devs,
		       env.pin_dir);
		err = 0;
		goto out;
	}
	fprintf(stderr, PROG ": attached (%s), %u device slots\n",
		raw ? "raw_tp" : "tp_btf", env.max_devs);
	err = report_loop(&m);
out:
	bpf_link__destroy(done);
	bpf_link__destroy(hold);
	vqos_lat_bpf__destroy(obj);
	free(m.buf);
	return err;
}

static int cmd_detach(void)
{
	bool links = pinned(LINK_DONE) || pinned(LINK_HOLD);
	bool maps = pinned("vqos_lat_hist");

	if (check_bpffs())
		return 1;
	if (!links && (!maps || env.keep_maps)) {
		fprintf(stderr, PROG ": nothing attached in %s\n", env.pin_dir);
		if (!maps)
			return 0;
	}
	unpin_all(!env.keep_maps);
	if (pinned(LINK_DONE) || pinned(LINK_HOLD) ||
	    (!env.keep_maps && pinned("vqos_lat_hist"))) {
		fprintf(stderr, PROG ": cannot remove the pins in %s: %s\n",
			env.pin_dir, strerror(errno));
		return 1;
	}
	if (links || (maps && !env.keep_maps))
		printf(PROG ": detached%s\n",
		       env.keep_maps ? "; maps kept" : "");
	return 0;
}

static int cmd_report(bool reset)
{
	struct maps m = {};
	int err;

	if (check_bpffs() || open_pinned(&m))
		return 1;
	if (!reset) {
		if (!pinned(LINK_DONE))
			fprintf(stderr, PROG ": note: no link pinned in %s: nothing is being collected\n",
				env.pin_dir);
		err = report_loop(&m);
	} else {
		err = reset_maps(&m);
		if (err)
			fprintf(stderr, PROG ": cannot reset: %s\n",
				strerror(-err));
	}
	free(m.buf);
	return err ? 1 : 0;
}

static void show_link(const char *name)
{
	struct bpf_link_info li = {};
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(li);
	char path[PATH_MAX];
	int fd, pfd;

	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		printf("  %-14s not pinned\n", name);
		return;
	}
	if (bpf_obj_get_info_by_fd(fd, &li, &len)) {
		printf("  %-14s %s\n", name, strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	pfd = bpf_prog_get_fd_by_id(li.prog_id);
	len = sizeof(pi);
	if (pfd < 0 || bpf_obj_get_info_by_fd(pfd, &pi, &len)) {
		printf("  %-14s link %u, program %u\n", name, li.id,
		       li.prog_id);
	} else {
		printf("  %-14s link %u, program %u %s (%s): %llu runs",
		       name, li.id, li.prog_id, pi.name,
		       pi.type == BPF_PROG_TYPE_TRACING ? "tp_btf" : "raw_tp",
		       (unsigned long long)pi.run_cnt);
		if (pi.run_cnt && pi.run_time_ns)
			printf(", %.0f ns per run", (double)pi.run_time_ns /
			       pi.run_cnt);
		printf(", %llu missed\n",
		       (unsigned long long)pi.recursion_misses);
	}
	if (pfd >= 0)
		close(pfd);
}

static int cmd_status(void)
{
	struct maps m = {};
	FILE *f;
	int stats = -1;

	if (check_bpffs())
		return 1;
	printf("pin directory %s:\n", env.pin_dir);
	show_link(LINK_DONE);
	show_link(LINK_HOLD);
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	if (f) {
		if (fscanf(f, "%d", &stats) != 1)
			stats = -1;
		fclose(f);
	}
	if (stats == 0)
		printf("  (run times need: sysctl kernel.bpf_stats_enabled=1)\n");
	if (!pinned("vqos_lat_hist")) {
		printf("  maps not pinned\n");
		return 0;
	}
	if (open_pinned(&m))
		return 1;
	printf("  maps: %u device slots, %u histograms of %d buckets, %zu KiB per CPU, %d CPUs\n",
	       m.ndevs, m.ndevs * VQOS_LAT_HISTS_PER_DEV, VQOS_LAT_BUCKETS,
	       (m.ndevs * VQOS_LAT_HISTS_PER_DEV * sizeof(struct vqos_lat_hist) +
		(m.ndevs + 1) * sizeof(struct vqos_lat_dev)) >> 10,
	       m.ncpus);
	free(m.buf);
	return 0;
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	libbpf_set_print(libbpf_print);
	if (check_root())
		return 1;
	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);
	load_names();

	switch (env.cmd) {
	case CMD_RUN:
		return cmd_load(false);
	case CMD_ATTACH:
		return cmd_load(true);
	case CMD_DETACH:
		return cmd_detach();
	case CMD_REPORT:
		return cmd_report(false);
	case CMD_RESET:
		return cmd_report(true);
	case CMD_STATUS:
		return cmd_status();
	}
	return 2;
}
