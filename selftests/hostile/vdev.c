// SPDX-License-Identifier: GPL-2.0
/*
 * vqos-hostile: the VMM (vhost-vdpa uAPI, IOTLB) and the guest driver
 * (split virtqueues, virtio-blk requests) sides of the harness.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include "hostile.h"

bool verbose;

/* ---- diagnostics, time, randomness ---------------------------------- */

static char diag_buf[32768];
static size_t diag_len;

void diag(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!line[0])
		return;
	n = snprintf(diag_buf + diag_len, sizeof(diag_buf) - diag_len,
		     "# %s\n", line);
	if (n > 0 && (size_t)n < sizeof(diag_buf) - diag_len)
		diag_len += n;
}

void diag_flush(void)
{
	fputs(diag_buf, stdout);
	fflush(stdout);
	diag_len = 0;
	diag_buf[0] = 0;
}

void diag_drop(void)
{
	if (verbose) {
		diag_flush();
		return;
	}
	diag_len = 0;
	diag_buf[0] = 0;
}

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

u64 now_ms(void)
{
	return now_ns() / 1000000;
}

void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* splitmix64: tiny, and the same sequence everywhere for a seed. */
u64 rnd64(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A marker in the kernel log, so that a splat can be told to a case. */
void kmsg(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = snprintf(msg, sizeof(msg), "<6>vqos-selftest: ");
	vsnprintf(msg + n, sizeof(msg) - n - 1, fmt, ap);
	va_end(ap);
	strcat(msg, "\n");
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* The log is a convenience: a failed write is not an error. */
	n = write(fd, msg, strlen(msg));
	(void)n;
	close(fd);
}

/*
 * The kernel log since kmsg_tail(): every record that looks like a splat
 * (warning, BUG, KASAN, lockdep, allocation failure, ...) becomes a
 * diagnostic, so that a case or a fuzz iteration is failed by the splat it
 * caused. -1 if there was one.
 */
static int kmsg_fd = -1;

void kmsg_tail(void)
{
	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/*
 * What counts as a splat: the POSIX EREs of selftests/kmsg-splat.patterns,
 * the list selftests/lib.sh scans with too ($VQOS_SPLAT_PATTERNS, which
 * lib.sh exports, else found next to this binary). Loaded once; a list
 * that cannot be read or compiled fails every check instead of passing.
 */
#define SPLAT_MAX	128
static regex_t splat_re[SPLAT_MAX];
static int splat_n = -1;	/* -1: not loaded yet; 0: failed to load */

static void splat_load(void)
{
	char path[4096], line[512];
	const char *env = getenv("VQOS_SPLAT_PATTERNS");
	ssize_t len;
	FILE *f;

	splat_n = 0;
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		len = readlink("/proc/self/exe", path, sizeof(path) - 64);
		if (len <= 0 || !memchr(path, '/', len))
			return;
		path[len] = 0;
		strcpy(strrchr(path, '/'), "/../kmsg-splat.patterns");
	}
	f = fopen(path, "re");
	if (!f) {
		diag("kmsg: cannot read the splat patterns %s: %s", path,
		     strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		if (splat_n == SPLAT_MAX ||
		    regcomp(&splat_re[splat_n], line, REG_EXTENDED | REG_NOSUB)) {
			diag("kmsg: %s: cannot use pattern '%s'", path, line);
			while (splat_n)
				regfree(&splat_re[--splat_n]);
			break;
		}
		splat_n++;
	}
	fclose(f);
}

int kmsg_check(void)
{
	char rec[8192];
	int found = 0, shown = 0;
	ssize_t n;

	if (splat_n < 0)
		splat_load();
	if (!splat_n) {
		diag("kmsg: no splat patterns: the kernel log cannot be checked");
		return -1;
	}
	if (kmsg_fd < 0) {
		diag("kmsg: /dev/kmsg is not open: the kernel log cannot be checked");
		return -1;
	}
	for (;;) {
		char *msg;
		unsigned int i;

		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		for (i = 0; i < (unsigned int)splat_n; i++) {
			if (!regexec(&splat_re[i], msg, 0, NULL, 0)) {
				if (shown++ < 20)
					diag("kernel: %s", msg);
				found = 1;
				break;
			}
		}
	}
	return found ? -1 : 0;
}

/* ---- VMM side ---------------------------------------------------------- */

#define WANT_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |			\
			 (1ULL << VIRTIO_F_ACCESS_PLATFORM) |		\
			 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
			 (1ULL << VIRTIO_BLK_F_SIZE_MAX) |		\
			 (1ULL << VIRTIO_BLK_F_SEG_MAX) |		\
			 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |		\
			 (1ULL << VIRTIO_BLK_F_FLUSH) |			\
			 (1ULL << VIRTIO_BLK_F_MQ) |			\
			 (1ULL << VIRTIO_BLK_F_DISCARD) |		\
			 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |		\
			 (1ULL << VIRTIO_BLK_F_RO))

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0) {
		diag("%s: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

int set_status(struct dev *d, u8 status)
{
	char what[64];

	snprintf(what, sizeof(what), "VHOST_VDPA_SET_STATUS 0x%x", status);
	return xioctl(d->fd, VHOST_VDPA_SET_STATUS, &status, what);
}

int dev_status(struct dev *d)
{
	u8 s;

	if (xioctl(d->fd, VHOST_VDPA_GET_STATUS, &s, "VHOST_VDPA_GET_STATUS"))
		return -1;
	return s;
}

static int iotlb_msg(struct dev *d, u8 type, u64 addr, u64 size, u64 uaddr,
		     u8 perm)
{
	struct vhost_msg_v2 m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.iova = addr;
	m.iotlb.size = size;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = perm;
	m.iotlb.type = type;
	n = write(d->fd, &m, sizeof(m));
	if (n != (ssize_t)sizeof(m)) {
		diag("IOTLB %s 0x%llx+0x%llx: %s",
		     type == VHOST_IOTLB_UPDATE ? "update" : "invalidate",
		     (unsigned long long)addr, (unsigned long long)size,
		     n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

int iotlb_map(struct dev *d, u64 off, u64 size, u8 perm)
{
	return iotlb_msg(d, VHOST_IOTLB_UPDATE, iova(off), size,
			 (u64)(uintptr_t)(d->mem + off), perm);
}

int iotlb_unmap(struct dev *d, u64 off, u64 size)
{
	return iotlb_msg(d, VHOST_IOTLB_INVALIDATE, iova(off), size, 0, 0);
}

/* The regions of the layout in hostile.h; the guards and the hole stay out. */
int map_all(struct dev *d)
{
	if (iotlb_map(d, OFF_RING, SZ_64K, VHOST_ACCESS_RW) ||
	    iotlb_map(d, OFF_DATA, DATA_SIZE, VHOST_ACCESS_RW) ||
	    iotlb_map(d, OFF_RO, SZ_64K, VHOST_ACCESS_RO) ||
	    iotlb_map(d, OFF_WO, SZ_64K, VHOST_ACCESS_WO))
		return -1;
	return 0;
}

void canary_fill(struct dev *d)
{
	u64 i;

	memset(d->mem + OFF_GUARD0, CANARY, SZ_64K);
	memset(d->mem + OFF_HOLE, CANARY, SZ_64K);
	memset(d->mem + OFF_GUARD1, CANARY, SZ_64K);
	for (i = 0; i < SZ_64K; i++)
		d->mem[OFF_RO + i] = (u8)(i * 7 + 3);
}

static int region_check(struct dev *d, u64 off, const char *what)
{
	u64 i;

	for (i = 0; i < SZ_64K; i++) {
		if (d->mem[off + i] != CANARY) {
			diag("%s: byte at iova 0x%llx changed to 0x%02x: the device wrote outside its mapping",
			     what, (unsigned long long)iova(off + i),
			     d->mem[off + i]);
			return -1;
		}
	}
	return 0;
}

/* The unmapped and read-only areas must hold what the harness put there. */
int canary_check(struct dev *d)
{
	u64 i;
	int ret = 0;

	ret |= region_check(d, OFF_GUARD0, "guard below the mappings");
	ret |= region_check(d, OFF_HOLE, "unmapped hole");
	ret |= region_check(d, OFF_GUARD1, "guard above the mappings");
	for (i = 0; i < SZ_64K; i++) {
		if (d->mem[OFF_RO + i] != (u8)(i * 7 + 3)) {
			diag("read-only mapping: byte at iova 0x%llx changed: the device wrote to read-only memory",
			     (unsigned long long)iova(OFF_RO + i));
			ret = -1;
			break;
		}
	}
	return ret;
}

void vq_default_layout(struct dev *d, struct vq *q)
{
	(void)d;
	q->desc_iova = iova(q->area + R_DESC);
	q->avail_iova = iova(q->area + R_AVAIL);
	q->used_iova = iova(q->area + R_USED);
}

static bool in_mem(u64 addr, u64 len)
{
	return addr >= IOVA_BASE && len <= MEM_SIZE &&
	       addr - IOVA_BASE <= MEM_SIZE - len;
}

static bool in_rw(u64 addr, u64 len)
{
	return in_mem(addr, len) && addr - IOVA_BASE >= OFF_RING &&
	       addr - IOVA_BASE + len <= OFF_HOLE;
}

enum mem_mode mem_mode = MEM_ANON;

const char *mem_mode_name(enum mem_mode m)
{
	switch (m) {
	case MEM_THP: return "thp";
	case MEM_HUGETLB: return "hugetlb";
	default: return "anon";
	}
}

int mem_mode_parse(const char *s, enum mem_mode *m)
{
	if (!strcmp(s, "anon"))
		*m = MEM_ANON;
	else if (!strcmp(s, "thp"))
		*m = MEM_THP;
	else if (!strcmp(s, "hugetlb"))
		*m = MEM_HUGETLB;
	else
		return -1;
	return 0;
}

/*
 * Map the guest memory of @d as @m says: MEM_SIZE bytes, rounded up to
 * whole 2 MiB pages for the huge modes (the first huge page then holds the
 * rings and the start of the data, in tail pages but for its first 4 KiB).
 */
static int mem_map(struct dev *d, enum mem_mode m)
{
	u64 len = m == MEM_ANON ? MEM_SIZE : (MEM_SIZE + SZ_2M - 1) & ~(SZ_2M - 1);
	u8 *p, *raw;

	switch (m) {
	case MEM_HUGETLB:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		CHECK(p != MAP_FAILED, "mmap %llu bytes of hugetlb pages: %s (are 2 MiB pages reserved in /proc/sys/vm/nr_hugepages?)",
		      (unsigned long long)len, strerror(errno));
		break;
	case MEM_THP:
		/* 2 MiB-aligned, so that the kernel can back it with THPs. */
		raw = mmap(NULL, len + SZ_2M, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(raw != MAP_FAILED, "mmap %llu bytes: %s",
		      (unsigned long long)(len + SZ_2M), strerror(errno));
		p = (u8 *)(((uintptr_t)raw + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
		if (p > raw)
			munmap(raw, p - raw);
		if (raw + SZ_2M > p)
			munmap(p + len, raw + SZ_2M - p);
		CHECK(!madvise(p, len, MADV_HUGEPAGE), "madvise(MADV_HUGEPAGE): %s",
		      strerror(errno));
		break;
	default:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		CHECK(p != MAP_FAILED, "mmap %llu bytes: %s",
		      (unsigned long long)len, strerror(errno));
	}
	d->mem = p;
	d->mem_len = len;
	d->mem_mode = m;
	/* Written once, so that every page is the harness's own (and THPs fault in). */
	memset(d->mem, 0, len);
	canary_fill(d);
	return 0;
}

/*
 * How many bytes of @d's guest memory are backed by huge pages, from
 * /proc/self/smaps: the whole mapping for hugetlbfs, AnonHugePages for THP.
 */
u64 mem_huge_bytes(struct dev *d)
{
	unsigned long long a, b, kb;
	bool ours = false;
	char line[512];
	u64 huge = 0;
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2) {
			if (ours)
				break;
			ours = a == (uintptr_t)d->mem;
			continue;
		}
		if (!ours)
			continue;
		if (sscanf(line, "KernelPageSize: %llu kB", &kb) == 1 && kb >= 2048)
			huge = d->mem_len;
		else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 && kb)
			huge = kb * 1024;
	}
	fclose(f);
	return huge;
}

/* Reset @d, give it fresh guest memory backed as @m says, start it again. */
int dev_remem(struct dev *d, enum mem_mode m)
{
	unsigned int i;

	CHECK(!dev_reset(d), "");
	munmap(d->mem, d->mem_len);
	d->mem = NULL;
	CHECK(!mem_map(d, m), "");
	for (i = 0; i < MAX_QUEUES; i++)
		vq_default_layout(d, &d->vq[i]);
	return dev_start(d);
}

int dev_open(struct dev *d, unsigned int nq)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	u64 bf;
	u32 id;
	unsigned int i;

	d->fd = d->config_fd = d->backing_fd = -1;
	for (i = 0; i < MAX_QUEUES; i++)
		d->vq[i].kick_fd = d->vq[i].call_fd = -1;
	/* Pinning the guest memory counts against RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		diag("setrlimit(RLIMIT_MEMLOCK): %s (continuing)", strerror(errno));
	d->fd = open(d->path, O_RDWR | O_CLOEXEC);
	CHECK(d->fd >= 0, "open %s: %s", d->path, strerror(errno));
	CHECK(!xioctl(d->fd, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER"), "");
	CHECK(!xioctl(d->fd, VHOST_GET_BACKEND_FEATURES, &bf,
		      "VHOST_GET_BACKEND_FEATURES"), "");
	CHECK(bf & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2),
	      "backend features 0x%llx lack IOTLB_MSG_V2", (unsigned long long)bf);
	bf = 1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2;
	CHECK(!xioctl(d->fd, VHOST_SET_BACKEND_FEATURES, &bf,
		      "VHOST_SET_BACKEND_FEATURES"), "");
	CHECK(!xioctl(d->fd, VHOST_VDPA_GET_DEVICE_ID, &id,
		      "VHOST_VDPA_GET_DEVICE_ID"), "");
	CHECK(id == VIRTIO_ID_BLOCK, "device id %u is not virtio-blk", id);
	CHECK(!xioctl(d->fd, VHOST_VDPA_GET_VRING_NUM, &d->qmax,
		      "VHOST_VDPA_GET_VRING_NUM"), "");
	d->config_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(d->config_fd >= 0, "eventfd: %s", strerror(errno));
	CHECK(!xioctl(d->fd, VHOST_VDPA_SET_CONFIG_CALL, &d->config_fd,
		      "VHOST_VDPA_SET_CONFIG_CALL"), "");

	CHECK(!mem_map(d, mem_mode), "");

	d->nq = nq;
	for (i = 0; i < MAX_QUEUES; i++) {
		struct vq *q = &d->vq[i];

		q->idx = i;
		q->num = d->qmax < RING_NUM ? d->qmax : RING_NUM;
		/* Queues 2 and up only serve the flood (flood.c), which places them. */
		q->area = i ? OFF_RING1 : OFF_RING;
		vq_default_layout(d, q);
		q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(q->kick_fd >= 0 && q->call_fd >= 0, "eventfd: %s",
		      strerror(errno));
	}
	if (d->backing) {
		d->backing_fd = open(d->backing, O_RDONLY | O_CLOEXEC);
		CHECK(d->backing_fd >= 0, "open %s: %s", d->backing,
		      strerror(errno));
	}
	d->want = WANT_FEATURES;
	return 0;
}

void dev_close(struct dev *d)
{
	unsigned int i;

	if (d->fd >= 0) {
		u8 s = 0;

		ioctl(d->fd, VHOST_VDPA_SET_STATUS, &s);
		iotlb_msg(d, VHOST_IOTLB_INVALIDATE, IOVA_BASE, MEM_SIZE, 0, 0);
		close(d->fd);
	}
	for (i = 0; i < MAX_QUEUES; i++) {
		if (d->vq[i].kick_fd >= 0)
			close(d->vq[i].kick_fd);
		if (d->vq[i].call_fd >= 0)
			close(d->vq[i].call_fd);
	}
	if (d->config_fd >= 0)
		close(d->config_fd);
	if (d->backing_fd >= 0)
		close(d->backing_fd);
	if (d->mem && d->mem != MAP_FAILED)
		munmap(d->mem, d->mem_len);
	d->fd = -1;
	d->mem = NULL;
}

int vq_setup(struct dev *d, struct vq *q)
{
	struct vhost_vring_state st = { .index = q->idx, .num = q->num };
	struct vhost_vring_addr a = {
		.index = q->idx,
		.desc_user_addr = q->desc_iova,
		.avail_user_addr = q->avail_iova,
		.used_user_addr = q->used_iova,
	};
	struct vhost_vring_file f = { .index = q->idx };

	/* Fresh rings, where they lie in the harness's RW regions. */
	if (in_rw(q->desc_iova, 16ULL * q->num))
		memset(gva(d, q->desc_iova), 0, 16ULL * q->num);
	if (in_rw(q->avail_iova, 6 + 2ULL * q->num))
		memset(gva(d, q->avail_iova), 0, 6 + 2ULL * q->num);
	if (in_rw(q->used_iova, 6 + 8ULL * q->num))
		memset(gva(d, q->used_iova), 0, 6 + 8ULL * q->num);
	q->avail_idx = 0;
	q->used_seen = 0;

	CHECK(!xioctl(d->fd, VHOST_SET_VRING_NUM, &st, "VHOST_SET_VRING_NUM"),
	      "queue %u num %u", q->idx, q->num);
	st.num = 0;
	CHECK(!xioctl(d->fd, VHOST_SET_VRING_BASE, &st, "VHOST_SET_VRING_BASE"), "");
	CHECK(!xioctl(d->fd, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR"), "");
	f.fd = q->kick_fd;
	CHECK(!xioctl(d->fd, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK"), "");
	f.fd = q->call_fd;
	CHECK(!xioctl(d->fd, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL"), "");
	st.num = 1;
	CHECK(!xioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st,
		      "VHOST_VDPA_SET_VRING_ENABLE"), "");
	return 0;
}

static int read_config(struct dev *d)
{
	struct {
		struct vhost_vdpa_config c;
		u8 buf[sizeof(struct virtio_blk_config)];
	} cfg;
	u32 size = 0;

	CHECK(!xioctl(d->fd, VHOST_VDPA_GET_CONFIG_SIZE, &size,
		      "VHOST_VDPA_GET_CONFIG_SIZE"), "");
	memset(&cfg, 0, sizeof(cfg));
	cfg.c.off = 0;
	cfg.c.len = size < sizeof(cfg.buf) ? size : sizeof(cfg.buf);
	CHECK(!xioctl(d->fd, VHOST_VDPA_GET_CONFIG, &cfg, "VHOST_VDPA_GET_CONFIG"), "");
	memcpy(&d->cfg, cfg.buf, sizeof(d->cfg));
	d->capacity = le64toh(d->cfg.capacity);
	return 0;
}

int dev_start(struct dev *d)
{
	u8 s = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	unsigned int i;
	int st;

	CHECK(!set_status(d, s), "");
	s |= VIRTIO_CONFIG_S_DRIVER;
	CHECK(!set_status(d, s), "");
	CHECK(!xioctl(d->fd, VHOST_GET_FEATURES, &d->offered,
		      "VHOST_GET_FEATURES"), "");
	d->features = d->offered & d->want;
	CHECK(!xioctl(d->fd, VHOST_SET_FEATURES, &d->features,
		      "VHOST_SET_FEATURES"), "features 0x%llx",
	      (unsigned long long)d->features);
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	CHECK(!set_status(d, s), "");
	st = dev_status(d);
	CHECK(st >= 0 && (st & VIRTIO_CONFIG_S_FEATURES_OK),
	      "status 0x%x after FEATURES_OK", st);
	CHECK(!read_config(d), "");
	CHECK(!map_all(d), "");
	/*
	 * The config call too, as QEMU does at every start: a reset makes
	 * the device forget it (the callback of a bus driver that went away
	 * must never be called).
	 */
	CHECK(!xioctl(d->fd, VHOST_VDPA_SET_CONFIG_CALL, &d->config_fd,
		      "VHOST_VDPA_SET_CONFIG_CALL"), "");
	for (i = 0; i < d->nq; i++)
		CHECK(!vq_setup(d, &d->vq[i]), "");
	s |= VIRTIO_CONFIG_S_DRIVER_OK;
	CHECK(!set_status(d, s), "");
	d->started = true;
	return 0;
}

/* Device reset, then the VMM drops its mappings as QEMU does on stop. */
int dev_reset(struct dev *d)
{
	int st;

	d->started = false;
	CHECK(!set_status(d, 0), "");
	st = dev_status(d);
	CHECK(st == 0, "status 0x%x after reset", st);
	CHECK(!iotlb_msg(d, VHOST_IOTLB_INVALIDATE, IOVA_BASE, MEM_SIZE, 0, 0), "");
	return 0;
}

/*
 * Reset @d in a child process and wait up to @ms for it: a module that
 * cannot drain its requests blocks the reset forever (uninterruptibly).
 * Then the device is left alone: marked wedged, its file descriptor
 * closed here (the child still holds it, so nothing is released), and
 * "# wedged: NAME" printed so that the test script does not try to
 * delete it or unload the module. Returns the milliseconds the reset
 * took, or -1.
 */
long dev_reset_timeout(struct dev *d, unsigned int ms)
{
	u64 t0 = now_ms();
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		diag("fork: %s", strerror(errno));
		return -1;
	}
	if (!pid) {
		u8 s = 0;
		int null = open("/dev/null", O_WRONLY), fd;

		/*
		 * If this never returns, it must hold neither the TAP pipe
		 * nor the other devices (vhost-vdpa opens once) open.
		 */
		dup2(null, 1);
		dup2(null, 2);
		for (fd = 3; fd < 1024; fd++)
			if (fd != d->fd)
				close(fd);
		_exit(ioctl(d->fd, VHOST_VDPA_SET_STATUS, &s) ? 1 : 0);
	}
	while (now_ms() - t0 < ms) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			CHECK(WIFEXITED(status) && !WEXITSTATUS(status),
			      "VHOST_VDPA_SET_STATUS 0 failed in the child");
			d->started = false;
			return now_ms() - t0;
		}
		msleep(10);
	}
	diag("the reset did not return within %u ms: the device is wedged (its worker waits for requests nobody will complete); leaving it and its module alone",
	     ms);
	printf("# wedged: %s\n", d->name);
	fflush(stdout);
	close(d->fd);
	d->fd = -1;
	d->wedged = true;
	return -1;
}

int dev_restart(struct dev *d)
{
	unsigned int i;

	for (i = 0; i < MAX_QUEUES; i++)
		vq_default_layout(d, &d->vq[i]);
	if (dev_reset(d))
		return -1;
	return dev_start(d);
}

/*
 * A counter of /sys/bus/vdpa/devices/NAME/stats/: FILE alone, or the line
 * "KEY N" of FILE. -1 if it cannot be read.
 */
long sysfs_stat(struct dev *d, const char *file, const char *key)
{
	char path[512], line[256];
	long v = -1;
	FILE *f;

	if (!d->name)
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s/stats/%s",
		 d->name, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char k[128];
		long n;

		if (!key) {
			v = strtol(line, NULL, 0);
			break;
		}
		if (sscanf(line, "%127s %ld", k, &n) == 2 && !strcmp(k, key)) {
			v = n;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Write @val to /sys/bus/vdpa/devices/NAME/@attr. */
int sysfs_write(struct dev *d, const char *attr, const char *val)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s/%s",
		 d->name ? d->name : "?", attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		diag("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, val, strlen(val));
	if (n != (ssize_t)strlen(val))
		diag("write '%s' to %s: %s", val, path,
		     n < 0 ? strerror(errno) : "short write");
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* ---- driver side ------------------------------------------------------- */

static struct vring_desc *vq_desc(struct dev *d, struct vq *q)
{
	return gva(d, q->desc_iova);
}

static struct vring_avail *vq_avail(struct dev *d, struct vq *q)
{
	return gva(d, q->avail_iova);
}

static struct vring_used *vq_used(struct dev *d, struct vq *q)
{
	return gva(d, q->used_iova);
}

u64 hdr_iova(struct vq *q, unsigned int slot)
{
	return iova(q->area + R_HDR + 16ULL * (slot % 256));
}

u64 status_iova(struct vq *q, unsigned int slot)
{
	return iova(q->area + R_STATUS + 16ULL * (slot % 256));
}

void put_hdr(struct dev *d, struct vq *q, unsigned int slot, u32 type,
	     u64 sector)
{
	struct virtio_blk_outhdr *h = gva(d, hdr_iova(q, slot));

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
}

static void set_desc(struct vring_desc *dsc, u64 addr, u32 len, u16 flags,
		     u16 next)
{
	dsc->addr = htole64(addr);
	dsc->len = htole32(len);
	dsc->flags = htole16(flags);
	dsc->next = htole16(next);
}

/* Write @s as a chain of descriptors first, first + 1, ...; return the head. */
u16 put_chain(struct vq *q, struct dev *d, u16 first, const struct seg *s,
	      unsigned int n)
{
	struct vring_desc *dt = vq_desc(d, q);
	unsigned int i;

	for (i = 0; i < n; i++) {
		u16 at = (first + i) % q->num;
		u16 next = (first + i + 1) % q->num;

		set_desc(&dt[at], s[i].addr, s[i].len,
			 s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			 i + 1 < n ? next : 0);
	}
	return first % q->num;
}

/* Write @s as an indirect table at @table, referenced by descriptor @slot. */
u16 put_indirect(struct vq *q, struct dev *d, u16 slot, u64 table,
		 const struct seg *s, unsigned int n)
{
	struct vring_desc *t = gva(d, table);
	unsigned int i;

	for (i = 0; i < n; i++)
		set_desc(&t[i], s[i].addr, s[i].len,
			 s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			 i + 1 < n ? i + 1 : 0);
	set_desc(&vq_desc(d, q)[slot % q->num], table, 16 * n,
		 VRING_DESC_F_INDIRECT, 0);
	return slot % q->num;
}

void publish_idx(struct dev *d, struct vq *q, u16 idx)
{
	struct vring_avail *a = vq_avail(d, q);

	q->avail_idx = idx;
	__atomic_store_n(&a->idx, htole16(idx), __ATOMIC_RELEASE);
}

void publish(struct dev *d, struct vq *q, u16 head)
{
	struct vring_avail *a = vq_avail(d, q);

	a->ring[q->avail_idx % q->num] = htole16(head);
	publish_idx(d, q, q->avail_idx + 1);
}

void kick(struct vq *q)
{
	u64 one = 1;

	if (write(q->kick_fd, &one, sizeof(one)) != sizeof(one))
		diag("kick queue %u: %s", q->idx, strerror(errno));
}

u16 used_idx(struct dev *d, struct vq *q)
{
	struct vring_used *u = vq_used(d, q);

	return le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
}

static void drain_fd(int fd)
{
	u64 v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/*
 * Wait until used->idx reaches @target, the device asks for a reset, or @ms
 * pass. The used element reported is the last one before @target.
 */
int wait_used(struct dev *d, struct vq *q, u16 target, unsigned int ms,
	      struct result *r)
{
	u64 end = now_ms() + ms;
	struct pollfd p[2] = {
		{ .fd = q->call_fd, .events = POLLIN },
		{ .fd = d->config_fd, .events = POLLIN },
	};

	memset(r, 0, sizeof(*r));
	for (;;) {
		u16 u = used_idx(d, q);
		int st;

		if (u == target) {
			struct vring_used_elem *e =
				&vq_used(d, q)->ring[(u16)(u - 1) % q->num];

			r->out = OUT_DONE;
			r->id = le32toh(e->id);
			r->len = le32toh(e->len);
			q->used_seen = u;
			st = dev_status(d);
			r->dev_status = st < 0 ? 0xff : st;
			return 0;
		}
		st = dev_status(d);
		if (st < 0) {
			r->out = OUT_ERROR;
			return -1;
		}
		r->dev_status = st;
		if (st & VIRTIO_CONFIG_S_NEEDS_RESET) {
			r->out = OUT_NEEDS_RESET;
			q->used_seen = u;
			return 0;
		}
		if (now_ms() >= end) {
			r->out = OUT_TIMEOUT;
			q->used_seen = u;
			return 0;
		}
		poll(p, 1, 5);
		drain_fd(q->call_fd);
	}
}

/* Publish one chain, kick, wait for it; the status byte is read back. */
int submit(struct dev *d, struct vq *q, u16 head, u64 status_addr,
	   unsigned int ms, struct result *r)
{
	publish(d, q, head);
	kick(q);
	wait_used(d, q, q->avail_idx, ms, r);
	r->status = in_mem(status_addr, 1) ? *(u8 *)gva(d, status_addr) :
					     STATUS_UNSET;
	return r->out == OUT_ERROR ? -1 : 0;
}

/*
 * A well-formed request on slot 0 of @q: header, data in segments of at
 * most size_max in the direction @type needs, status byte.
 */
int blk_io(struct dev *d, struct vq *q, u32 type, u64 sector, u64 data,
	   u32 len, struct result *r)
{
	struct seg s[VQOS_SEG_MAX + 2];
	u16 dir = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ?
		  VRING_DESC_F_WRITE : 0;
	unsigned int n = 0;
	u32 off = 0;

	put_hdr(d, q, 0, type, sector);
	s[n++] = (struct seg){ hdr_iova(q, 0), 16, 0 };
	while (off < len && n < VQOS_SEG_MAX + 1) {
		u32 l = len - off > VQOS_SIZE_MAX ? VQOS_SIZE_MAX : len - off;

		s[n++] = (struct seg){ data + off, l, dir };
		off += l;
	}
	s[n++] = (struct seg){ status_iova(q, 0), 1, VRING_DESC_F_WRITE };
	*(u8 *)gva(d, status_iova(q, 0)) = STATUS_UNSET;
	put_chain(q, d, 0, s, n);
	return submit(d, q, 0, status_iova(q, 0), 20000, r);
}

int backing_compare(struct dev *d, u64 sector, const void *buf, u32 len)
{
	u8 *tmp;
	ssize_t n;
	int ret = 0;

	if (d->backing_fd < 0)
		return 0;
	tmp = malloc(len);
	CHECK(tmp, "malloc");
	n = pread(d->backing_fd, tmp, len, sector * SECTOR);
	if (n != (ssize_t)len) {
		diag("pread %s at sector %llu: %s", d->backing,
		     (unsigned long long)sector,
		     n < 0 ? strerror(errno) : "short read");
		ret = -1;
	} else if (memcmp(tmp, buf, len)) {
		diag("backing file %s differs from what the device returned at sector %llu",
		     d->backing, (unsigned long long)sector);
		ret = -1;
	}
	free(tmp);
	return ret;
}

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUT_DONE: return "completed";
	case OUT_NEEDS_RESET: return "NEEDS_RESET";
	case OUT_TIMEOUT: return "no completion (timeout)";
	default: return "harness error";
	}
}

/*
 * The device still does its job: write a random pattern, read it back,
 * compare with the buffer and the backing file. A read-only device is only
 * read, a device without medium answers GET_ID.
 */
int good_io(struct dev *d, struct vq *q, u64 *rng)
{
	u32 len = 4096 * (1 + rnd64(rng) % 4);
	u64 wr = iova(OFF_DATA), rd = iova(OFF_DATA + DATA_BUF_SIZE / 2);
	u8 *w = gva(d, wr), *rb = gva(d, rd);
	struct result r;
	u64 sector;
	u32 i;

	if (!d->capacity) {
		CHECK(!blk_io(d, q, VIRTIO_BLK_T_GET_ID, 0, rd, VQOS_ID_BYTES, &r), "");
		CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK,
		      "GET_ID: %s, status %u, device status 0x%x",
		      outcome_name(r.out), r.status, r.dev_status);
		return 0;
	}
	sector = rnd64(rng) % (d->capacity - len / SECTOR);
	if (!(d->features & (1ULL << VIRTIO_BLK_F_RO))) {
		for (i = 0; i < len; i += 8) {
			u64 v = rnd64(rng);

			memcpy(w + i, &v, 8);
		}
		CHECK(!blk_io(d, q, VIRTIO_BLK_T_OUT, sector, wr, len, &r), "");
		CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK && r.len == 1,
		      "good write of %u bytes at sector %llu: %s, status %u, used len %u, device status 0x%x",
		      len, (unsigned long long)sector, outcome_name(r.out),
		      r.status, r.len, r.dev_status);
	}
	memset(rb, 0, len);
	CHECK(!blk_io(d, q, VIRTIO_BLK_T_IN, sector, rd, len, &r), "");
	CHECK(r.out == OUT_DONE && r.status == VIRTIO_BLK_S_OK && r.len == len + 1,
	      "good read of %u bytes at sector %llu: %s, status %u, used len %u, device status 0x%x",
	      len, (unsigned long long)sector, outcome_name(r.out), r.status,
	      r.len, r.dev_status);
	if (!(d->features & (1ULL << VIRTIO_BLK_F_RO)))
		CHECK(!memcmp(w, rb, len), "read back differs from what was written at sector %llu",
		      (unsigned long long)sector);
	CHECK(!backing_compare(d, sector, rb, len), "");
	return 0;
}
