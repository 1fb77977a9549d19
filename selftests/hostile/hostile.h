/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos-hostile: a VMM and a guest in one process, driving a vqos device
 * through /dev/vhost-vdpa-N and its own split virtqueues, to attack the
 * host module the way a broken or malicious guest would.
 *
 * Guest memory is one anonymous mapping of the harness, laid out below and
 * entered into the device's IOTLB at IOVA_BASE, region by region, with
 * unmapped guard areas between them that are filled with a canary and must
 * never change.
 */
#ifndef VQOS_HOSTILE_H
#define VQOS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <linux/vqos.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SZ_4K		0x1000ULL
#define SZ_64K		0x10000ULL
#define SECTOR		512ULL
#define VQOS_ID_BYTES	20		/* VIRTIO_BLK_ID_BYTES */

/* Guest memory, as offsets from IOVA_BASE (= offsets in dev->mem). */
#define IOVA_BASE	0x40000000ULL
#define OFF_GUARD0	0ULL				/* never mapped */
#define OFF_RING	SZ_64K				/* RW: queue 0 */
#define OFF_DATA	(2 * SZ_64K)			/* RW: data buffers */
#define DATA_BUF_SIZE	((u64)VQOS_MAX_REQ_BYTES)
#define OFF_RING1	(OFF_DATA + DATA_BUF_SIZE)	/* RW: queue 1 */
#define DATA_SIZE	(DATA_BUF_SIZE + SZ_64K)	/* one mapping */
#define OFF_HOLE	(OFF_DATA + DATA_SIZE)		/* never mapped */
#define OFF_RO		(OFF_HOLE + SZ_64K)		/* mapped read-only */
#define OFF_WO		(OFF_RO + SZ_64K)		/* mapped write-only */
#define OFF_GUARD1	(OFF_WO + SZ_64K)		/* never mapped */
#define MEM_SIZE	(OFF_GUARD1 + SZ_64K)

/* Inside a 64 KiB ring area. */
#define R_DESC		0x0000		/* up to 256 descriptors */
#define R_AVAIL		0x1000
#define R_USED		0x2000
#define R_HDR		0x3000		/* request headers, 16 bytes per slot */
#define R_STATUS	0x4000		/* status bytes, 16 bytes per slot */
#define R_INDIRECT	0x5000		/* indirect tables */
#define R_INDIRECT_SIZE	(SZ_64K - R_INDIRECT)

#define CANARY		0xa5
#define STATUS_UNSET	0xee		/* status byte before the device writes */
#define MAX_QUEUES	16		/* VQOS_MAX_QUEUES; cases use 0 and 1 */
#define RING_NUM	256

/*
 * What backs guest memory (--mem): anonymous 4 KiB pages, transparent huge
 * pages (MADV_HUGEPAGE on a 2 MiB-aligned mapping, as QEMU does for guest
 * RAM) or hugetlbfs pages (MAP_HUGETLB, reserved in
 * /proc/sys/vm/nr_hugepages). Data buffers, rings, headers and status
 * bytes then all lie in huge pages, most of them in tail pages.
 */
enum mem_mode { MEM_ANON, MEM_THP, MEM_HUGETLB };
#define SZ_2M		0x200000ULL

struct vq {
	unsigned int idx;
	unsigned int num;
	u64 area;			/* offset of the ring area */
	u64 desc_iova, avail_iova, used_iova;
	u16 avail_idx;			/* next avail->idx to publish */
	u16 used_seen;			/* used->idx already consumed */
	int kick_fd, call_fd;
};

struct dev {
	const char *path;		/* /dev/vhost-vdpa-N */
	const char *name;		/* vdpa device name, for sysfs */
	const char *backing;		/* backing file, to compare data */
	int fd;
	int config_fd;
	int backing_fd;
	u8 *mem;			/* MEM_SIZE bytes of guest memory */
	u64 mem_len;			/* bytes mapped at mem (>= MEM_SIZE) */
	enum mem_mode mem_mode;
	u64 offered;			/* device features */
	u64 features;			/* negotiated */
	u64 want;			/* features the driver accepts */
	struct virtio_blk_config cfg;
	u64 capacity;			/* sectors */
	u16 qmax;			/* VHOST_VDPA_GET_VRING_NUM */
	unsigned int nq;		/* queues set up by dev_start() */
	struct vq vq[MAX_QUEUES];
	bool started;
	bool wedged;			/* a reset never returned: hands off */
};

/* A buffer of a descriptor chain: VRING_DESC_F_WRITE or 0 in @flags. */
struct seg {
	u64 addr;
	u32 len;
	u16 flags;
};

/* What came back for a chain. */
enum outcome {
	OUT_DONE,		/* a used entry appeared */
	OUT_NEEDS_RESET,	/* the device set NEEDS_RESET */
	OUT_TIMEOUT,		/* neither within the time allowed */
	OUT_ERROR,		/* the harness failed to talk to the device */
};

struct result {
	enum outcome out;
	u16 id;			/* used element */
	u32 len;
	u8 status;		/* status byte after completion */
	u8 dev_status;		/* VHOST_VDPA_GET_STATUS */
};

/* util */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_flush(void);
void diag_drop(void);
u64 now_ms(void);
u64 now_ns(void);
void msleep(unsigned int ms);
u64 rnd64(u64 *state);
extern enum mem_mode mem_mode;		/* --mem, for every device opened */
const char *mem_mode_name(enum mem_mode m);
int mem_mode_parse(const char *s, enum mem_mode *m);
u64 mem_huge_bytes(struct dev *d);
int dev_remem(struct dev *d, enum mem_mode m);
void kmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kmsg_tail(void);
int kmsg_check(void);
extern bool verbose;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		diag("%s:%d: failed: %s", __func__, __LINE__, #cond);	\
		diag(__VA_ARGS__);					\
		return -1;						\
	}								\
} while (0)

static inline u64 iova(u64 off)
{
	return IOVA_BASE + off;
}

static inline void *gva(struct dev *d, u64 iova_addr)
{
	return d->mem + (iova_addr - IOVA_BASE);
}

/* vdev.c: the VMM side */
int dev_open(struct dev *d, unsigned int nq);
void dev_close(struct dev *d);
int dev_start(struct dev *d);
int dev_reset(struct dev *d);
int dev_restart(struct dev *d);
int dev_status(struct dev *d);
int set_status(struct dev *d, u8 status);
int iotlb_map(struct dev *d, u64 off, u64 size, u8 perm);
int iotlb_unmap(struct dev *d, u64 off, u64 size);
int map_all(struct dev *d);
void vq_default_layout(struct dev *d, struct vq *q);
int vq_setup(struct dev *d, struct vq *q);
void canary_fill(struct dev *d);
int canary_check(struct dev *d);
long sysfs_stat(struct dev *d, const char *file, const char *key);
int sysfs_write(struct dev *d, const char *attr, const char *val);

/* vdev.c: the driver side */
u16 put_chain(struct vq *q, struct dev *d, u16 first, const struct seg *s,
	      unsigned int n);
u16 put_indirect(struct vq *q, struct dev *d, u16 slot, u64 table,
		 const struct seg *s, unsigned int n);
void publish(struct dev *d, struct vq *q, u16 head);
void publish_idx(struct dev *d, struct vq *q, u16 idx);
void kick(struct vq *q);
u16 used_idx(struct dev *d, struct vq *q);
int wait_used(struct dev *d, struct vq *q, u16 target, unsigned int ms,
	      struct result *r);
u64 hdr_iova(struct vq *q, unsigned int slot);
u64 status_iova(struct vq *q, unsigned int slot);
void put_hdr(struct dev *d, struct vq *q, unsigned int slot, u32 type,
	     u64 sector);
int submit(struct dev *d, struct vq *q, u16 head, u64 status_addr,
	   unsigned int ms, struct result *r);
int blk_io(struct dev *d, struct vq *q, u32 type, u64 sector, u64 data,
	   u32 len, struct result *r);
int good_io(struct dev *d, struct vq *q, u64 *rng);
int backing_compare(struct dev *d, u64 sector, const void *buf, u32 len);
const char *outcome_name(enum outcome o);

/* cases.c, fuzz.c, race.c, flood.c */
struct case_opts {
	const char *only;	/* cases whose name contains this */
	bool list;		/* print the names of the cases selected */
	bool strict;		/* KNOWN_BUG cases fail rather than skip */
	bool all;		/* every case, not just HUGE ones, in a huge mode */
};
extern unsigned int case_seconds;	/* --case-seconds: timed cases */
int run_cases(struct dev *main_dev, struct dev *ro_dev, struct dev *empty_dev,
	      struct dev *slow_dev, struct dev *del_dev,
	      const struct case_opts *o);
struct fuzz_opts {
	unsigned int seconds;
	u64 seed;
	bool seeded;			/* --seed: replay that one seed only */
	bool mem_set;			/* --mem given: every seed uses it */
	unsigned int max_latency_ms;
	unsigned long iterations;	/* stop after this many (0: no limit) */
	bool list;
};
int run_fuzz(struct dev *fuzz_dev, struct dev *neighbour,
	     const struct fuzz_opts *o);
int run_race(struct dev *d, unsigned int seconds);
int run_flood(struct dev *d, struct dev *nb, unsigned int seconds,
	      unsigned int per_queue, unsigned int max_latency_ms, bool list);
long dev_reset_timeout(struct dev *d, unsigned int ms);

/*
 * neighbour.c: verified I/O on a second device in a child process, every
 * request timed, for the fuzzer and the flood (they check that a hostile
 * device does not disturb another one).
 */
#define NB_MAX_SAMPLES	(1U << 18)
struct nb_sample {
	u64 t_ns;			/* start, now_ns() */
	u32 lat_us;
	u32 len;
};
struct nb_shared {
	unsigned long ops, bytes;
	u64 max_ns;
	int failed;
	bool done;
	char msg[512];
	unsigned long nsamples;
	struct nb_sample s[NB_MAX_SAMPLES];
};
struct neighbour {
	int pid;
	struct nb_shared *sh;
};
int neighbour_start(struct neighbour *n, struct dev *d, unsigned int seconds,
		    unsigned int bound_ms, u64 seed);
int neighbour_wait(struct neighbour *n);
u64 neighbour_pct_us(const struct neighbour *n, u64 from_ns, u64 to_ns,
		     unsigned int pct, unsigned long *count);

/* TAP */
void tap_result(bool ok, const char *name, const char *skip);

#endif /* VQOS_HOSTILE_H */
