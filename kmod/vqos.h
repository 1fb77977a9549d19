/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos host module: internal definitions.
 *
 * One struct vqos_dev per vDPA device. Each device owns its virtqueues, its
 * kthread worker and its backing file; nothing on the datapath is shared
 * between devices, so a guest that floods or stalls its rings delays only
 * itself.
 */
#ifndef _VQOS_H
#define _VQOS_H

#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/uio.h>
#include <linux/vdpa.h>
#include <linux/vhost_iotlb.h>
#include <linux/vringh.h>
#include <linux/wait.h>
#include <uapi/linux/virtio_blk.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_ring.h>
#include <uapi/linux/vqos.h>
#include "vqos_qos.h"
#include "vqos_req.h"
#include "vqos_sched.h"

#define VQOS_DEFAULT_QUEUES	1
#define VQOS_DEFAULT_QUEUE_SIZE	256
/* In-flight requests per queue: also the size of the request pool. */
#define VQOS_MAX_INFLIGHT	128
/* Requests taken from one queue per turn of the worker. */
#define VQOS_BATCH		16
/*
 * bvecs per request for zero-copy: one per segment plus room for segments
 * that span discontiguous host pages; a more fragmented chain is bounced.
 */
#define VQOS_REQ_BVECS		(2 * VQOS_SEG_MAX)
/* Largest discard or write-zeroes, in sectors (1 GiB). */
#define VQOS_MAX_DWZ_SECTORS	(1U << 21)

#define VQOS_SUPPORTED_FEATURES	(BIT_ULL(VIRTIO_F_VERSION_1) |		\
				 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |	\
				 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |	\
				 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) |	\
				 BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |	\
				 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) |	\
				 BIT_ULL(VIRTIO_BLK_F_FLUSH) |		\
				 BIT_ULL(VIRTIO_BLK_F_MQ) |		\
				 BIT_ULL(VIRTIO_BLK_F_DISCARD) |	\
				 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) |	\
				 BIT_ULL(VIRTIO_BLK_F_RO) |		\
				 BIT_ULL(VQOS_F_TELEMETRY))
/*
 * Descriptors a chain may have, direct and indirect together: QEMU's bound
 * (VIRTQUEUE_MAX_SIZE). It bounds the work a request costs the worker.
 */
#define VQOS_CHAIN_MAX		VQOS_MAX_QUEUE_SIZE
/*
 * Buffers kept per request once empty ones are dropped and adjacent ones
 * merged: seg_max data segments, a header and a status, with room for a
 * driver that splits those. A longer chain is refused.
 */
#define VQOS_CHAIN_SEGS		(VQOS_SEG_MAX + 4)
/* What a discard counts as against byte limits (see vqos_req_cost()). */
#define VQOS_DISCARD_BYTES	VQOS_SECTOR_SIZE
/* Pages a device may hold for bounced requests at once: 32 MiB. */
#define VQOS_BOUNCE_PAGES	((32U << 20) >> PAGE_SHIFT)
/* Flush, discard and write-zeroes of one device running at once. */
#define VQOS_SLOW_MAX_ACTIVE	4

enum vqos_personality {
	VQOS_PERS_VIRTIO_BLK,
	VQOS_PERS_VQOS,
};

struct vqos_dev;
struct vqos_vq;
struct vqos_pool;

/**
 * enum vqos_wait - where a request that cannot start waits (vqos_admit.c)
 * @VQOS_WAIT_READ: held by the limits, counting as a read
 * @VQOS_WAIT_WRITE: held by the limits, counting as a write
 * @VQOS_WAIT_SLOW: passed its limits, a flush, discard or write-zeroes
 *	waiting for one of its device's VQOS_SLOW_MAX_ACTIVE turns
 * @VQOS_WAIT_SLOT: passed its limits, waiting for a slot in its pool
 * @VQOS_WAIT_NR: number of queues
 */
enum vqos_wait {
	VQOS_WAIT_READ = 0,
	VQOS_WAIT_WRITE = 1,
	VQOS_WAIT_SLOW,
	VQOS_WAIT_SLOT,
	VQOS_WAIT_NR,
};

/**
 * struct vqos_waitq - requests waiting to start, oldest first
 * @reqs: the requests, through &vqos_req.park_node
 * @nr: how many (read locklessly for stats and vqos_pause())
 * @due: limit queues: when the head fits, CLOCK_MONOTONIC ns
 * @shared: limit queues: the head was refused by a bucket reads and
 *	writes share, so the other direction must wait too
 */
struct vqos_waitq {
	struct list_head reqs;
	unsigned int nr;
	u64 due;
	bool shared;
};

/**
 * struct vqos_seg - one guest buffer of a chain
 * @addr: guest address
 * @len: bytes, non-zero
 */
struct vqos_seg {
	u64 addr;
	u32 len;
};

/**
 * struct vqos_chain - a descriptor chain as vqos_ring_pop() found it
 * @out_len: device-readable bytes
 * @in_len: device-writable bytes
 * @last_in: guest address of the last device-writable byte (the status)
 * @nr: buffers in @seg
 * @nr_out: of which the first @nr_out are device-readable
 * @has_in: the chain has a device-writable descriptor
 * @fragmented: more than VQOS_CHAIN_SEGS buffers: @seg is incomplete
 * @wraps: a buffer wraps past the end of the address space (left out)
 * @seg: the buffers, readable ones first; must be the last member
 */
struct vqos_chain {
	u64 out_len;
	u64 in_len;
	u64 last_in;
	u8 nr;
	u8 nr_out;
	bool has_in;
	bool fragmented;
	bool wraps;
	struct vqos_seg seg[VQOS_CHAIN_SEGS];
};

/**
 * struct vqos_xlate - one IOTLB mapping, cached by a translating loop
 * @start: first guest address
 * @last: last guest address
 * @addr: physical address of @start
 * @perm: access the cache was filled for (0: empty)
 */
struct vqos_xlate {
	u64 start;
	u64 last;
	u64 addr;
	u32 perm;
};

/**
 * struct vqos_req - one request taken from a ring
 * @vq: owning queue
 * @node: on @vq->done once the backend has finished with it
 * @park_node: in a &vqos_waitq while it cannot start
 * @free_next: link in @vq->free while unused
 * @head: descriptor head to return in the used ring
 * @status: virtio-blk status to write back
 * @used_len: bytes written to the guest's buffers, for the used ring
 * @status_iova: guest address of the status byte
 * @plan: validated operation
 * @iocb: backend I/O
 * @bvec: guest pages of the data, or the bounce pages
 * @nr_bvec: entries used in @bvec
 * @bounce: @bvec holds our own pages, to copy to the guest on completion
 * @bounce_pages: how many, counted in &vqos_dev.bounce_pages
 * @cost_write: it counts as a write against the limits
 * @limited: it passed its limits (they are charged once)
 * @slot: it holds a slot of its pool, until vqos_admit_done()
 * @slow: it holds one of its device's slow turns, until vqos_admit_done()
 * @started: counted in &vqos_dev.started
 * @bad: why it is refused, VQOS_BAD_NONE for a valid request
 * @cost_bytes: the bytes it counts as against the limits
 * @admit_ns: when it passed its limits
 * @dwz: discard/write-zeroes segment, CPU order
 * @slow_work: runs flush, discard and write-zeroes off the worker
 * @ret: backend result, bytes or -errno
 * @start_ns: when the request was taken from the ring
 * @dispatch_ns: when it went to the backend, after any throttle wait
 * @backend_ns: when the backend finished
 * @chain: the guest's buffers
 */
struct vqos_req {
	struct vqos_vq *vq;
	struct llist_node node;
	struct list_head park_node;
	struct vqos_req *free_next;
	u16 head;
	u8 status;
	bool bounce;
	bool cost_write;
	bool limited;
	bool slot;
	bool slow;
	bool started;
	u32 used_len;
	u32 bounce_pages;
	enum vqos_bad bad;
	u64 cost_bytes;
	u64 admit_ns;
	u64 status_iova;
	struct vqos_req_plan plan;
	struct kiocb iocb;
	struct bio_vec *bvec;
	unsigned int nr_bvec;
	struct {
		u64 sector;
		u32 nr_sectors;
		u32 flags;
	} dwz;
	struct work_struct slow_work;
	long ret;
	u64 start_ns;
	u64 dispatch_ns;
	u64 backend_ns;
	struct vqos_chain chain;
};

/**
 * struct vqos_vq - one virtqueue
 * @dev: owning device
 * @vring: ring state (vringh, for the used ring; vqos_ring_pop() takes
 *	chains and advances its last_avail_idx); only the device's worker
 *	touches it, or a config op with the worker paused
 * @cb: interrupt callback set by the bus driver, under @dev->cb_lock
 * @desc_addr: descriptor area (guest address)
 * @driver_addr: driver (avail) area
 * @device_addr: device (used) area
 * @num: ring size chosen by the driver
 * @ready: the driver enabled this queue
 * @idx: queue index
 * @reqs: request pool, VQOS_MAX_INFLIGHT entries, allocated at enable;
 *	requests of a queue being disabled are drained before it is freed
 * @bvecs: bvec storage for @reqs
 * @free: unused requests (worker only)
 * @done: requests the backend finished, from any context
 * @inflight: requests taken from the ring and not yet completed
 * @completed: used entries pushed since the last interrupt (worker only)
 */
struct vqos_vq {
	struct vqos_dev *dev;
	struct vringh vring;
	struct vdpa_callback cb;
	u64 desc_addr;
	u64 driver_addr;
	u64 device_addr;
	u32 num;
	bool ready;
	u16 idx;
	struct vqos_req *reqs;
	struct bio_vec *bvecs;
	struct vqos_req *free;
	struct llist_head done;
	atomic_t inflight;
	bool completed;
};

/**
 * struct vqos_cfg - what the operator sets through sysfs before start
 * @backing: path of the backing file or block device ("" = no medium)
 * @offset: first byte of the backing store that belongs to this device
 * @size: bytes of the backing store this device may use (0: up to its end)
 * @num_queues: number of request virtqueues
 * @queue_size: largest ring size a driver may choose
 * @read_only: refuse writes; the backing store is opened read-only
 * @personality: device id offered to the driver
 */
struct vqos_cfg {
	char backing[PATH_MAX];
	u64 offset;
	u64 size;
	u32 num_queues;
	u32 queue_size;
	bool read_only;
	enum vqos_personality personality;
};

/**
 * struct vqos_stats - per-device counters, updated by the worker only
 * @reqs: requests completed
 * @read_ops: reads completed successfully
 * @write_ops: writes completed successfully
 * @read_bytes: bytes read
 * @write_bytes: bytes written
 * @read_ns: total read latency
 * @write_ns: total write latency
 * @errors: requests completed with IOERR or UNSUPP
 * @io_errors: backend I/O errors
 * @bad: refused requests, by reason
 * @bounced: requests served through a bounce buffer
 * @bounce_refused: requests failed because the bounce budget was spent
 * @ring_errors: broken rings (device marked NEEDS_RESET)
 */
struct vqos_stats {
	u64 reqs;
	u64 read_ops;
	u64 write_ops;
	u64 read_bytes;
	u64 write_bytes;
	u64 read_ns;
	u64 write_ns;
	u64 errors;
	u64 io_errors;
	u64 bad[VQOS_BAD_NR];
	u64 bounced;
	u64 bounce_refused;
	u64 ring_errors;
};

/**
 * struct vqos_dev - one vqos vDPA device
 * @vdpa: the vDPA device; its lifetime is the device's
 * @id: stable number of the device, for tracepoints and BPF maps
 * @lock: serialises configuration, status changes and reset against each
 *	other (sysfs, vdpa config ops); never taken on the datapath
 * @iommu_lock: protects @iotlb; taken by the worker for each translation
 *	and by vringh for ring accesses
 * @iotlb: guest address space: vhost-vdpa's mappings, whose pages vqos
 *	holds (see vqos_iotlb.c), or one identity entry while bound to
 *	virtio_vdpa (@passthrough). Entries are removed only while the device
 *	is paused or quiesced, so the worker may cache a translation.
 * @passthrough: @iotlb holds the identity map for a kernel driver
 * @cb_lock: protects the callbacks of the queues and @config_cb, which a
 *	VMM may change at any time, against the worker calling them
 * @worker: this device's own kthread worker
 * @work: the datapath: drains completions, then takes new requests
 * @rr: queue the next worker turn starts with (round robin)
 * @running: DRIVER_OK set and no fatal error; the worker takes requests
 * @needs_reset: the guest broke a ring (set by the worker), or the device
 *	is being removed (set under @lock); cleared by reset
 * @removing: `vdpa dev del` has begun on a device a VMM drives, whose
 *	close it waits for: requests that have not reached the backend fail
 *	with IOERR (still within the limits), and a driver that starts the
 *	device is asked for a reset. Set under @lock, never cleared (not even
 *	by reset); read by the worker without it (vqos_dev_del())
 * @parked_failed: the worker has failed the requests parked in admission
 *	when it first saw @removing (once: later ones wait out their limits).
 *	Read and written by the worker only
 * @paused: a config op changes the queues, the IOTLB or the medium: the
 *	worker takes no new request and keeps a held one, but still completes
 *	requests to the used ring (unlike !@running, which drops them); see
 *	vqos_pause()
 * @ring_hole: the VMM unmapped memory under the ring of an enabled queue:
 *	the device stays paused until maps cover the rings again, the queue
 *	is disabled or the device is reset (vqos_dma_unmap()); lock held
 * @quiesced: waiters for in-flight requests to drain
 * @inflight: requests of all queues not yet completed
 * @bounce_pages: pages held by bounced requests, at most VQOS_BOUNCE_PAGES
 * @slow_turns: flush, discard and write-zeroes admitted and not done, at
 *	most VQOS_SLOW_MAX_ACTIVE: those queued on @slow_wq hold pool slots,
 *	and vqos_pause() waits for them
 * @started: requests started (vqos_req_go()) and not yet recycled: those
 *	that may be touching guest memory or the backend; vqos_pause() waits
 *	for it to reach 0
 * @vqs: the virtqueues
 * @nvqs: number of virtqueues in use (cfg.num_queues at creation of vqs)
 * @cfg: operator configuration
 * @file: the open backing file, NULL without medium
 * @bdev: the backing block device, claimed for vqos, or NULL
 * @req_done: the engine's completion, vqos_req_done(), which the backend
 *	calls (any context) without knowing the engine
 * @slow_wq: runs this device's flush, discard and write-zeroes, at most
 *	VQOS_SLOW_MAX_ACTIVE at once
 * @blk_size: logical block size of the backing store, offered to the driver
 * @direct: @file was opened with O_DIRECT
 * @dio_align: alignment mask O_DIRECT needs for buffers (address, length)
 * @capacity: size in sectors seen by the guest
 * @status: virtio status
 * @features: negotiated features
 * @feature_mask: features allowed by `vdpa dev add ... device_features`
 * @generation: config generation
 * @config_cb: config-change interrupt callback
 * @stats: counters
 * @serial: GET_ID string
 * @qos: this device's limiter
 * @qos_timer: resumes the worker when a held request fits
 * @qos_changed: the limits changed since the worker last looked
 * @parked: requests that cannot start yet (vqos_admit.c); worker only
 * @group: the group whose budget the device shares, or NULL; written
 *	under vqos_groups_mutex and @qos.lock, read under either
 * @group_node: entry in the group's member list
 * @pool: the pool of the backing store, or NULL without one; changed only
 *	while no request is admitted or in flight (vqos_pool.c)
 * @pool_member: the device in its pool's scheduler
 * @pool_cfg: its shares (reservation, weight, latency target), kept
 *	across backing stores; under vqos_pools_mutex
 * @pool_node: entry in the pool's member list
 */
struct vqos_dev {
	struct vdpa_device vdpa;
	u32 id;
	struct mutex lock;
	spinlock_t iommu_lock;
	struct vhost_iotlb iotlb;
	bool passthrough;
	spinlock_t cb_lock;
	struct kthread_worker *worker;
	struct kthread_work work;
	unsigned int rr;
	bool running;
	bool needs_reset;
	bool removing;
	bool parked_failed;
	bool paused;
	bool ring_hole;
	wait_queue_head_t quiesced;
	atomic_t inflight;
	atomic_t started;
	atomic_t slow_turns;
	atomic_t bounce_pages;
	struct vqos_vq vqs[VQOS_MAX_QUEUES];
	unsigned int nvqs;
	struct vqos_cfg cfg;
	struct file *file;
	struct block_device *bdev;
	void (*req_done)(struct vqos_req *req, long ret);
	struct workqueue_struct *slow_wq;
	u32 blk_size;
	bool direct;
	unsigned int dio_align;
	u64 capacity;
	u8 status;
	u64 features;
	u64 feature_mask;
	u32 generation;
	struct vdpa_callback config_cb;
	struct vqos_stats stats;
	char serial[VQOS_ID_BYTES + 1];
	struct vqos_qos qos;
	struct hrtimer qos_timer;
	bool qos_changed;
	struct vqos_waitq parked[VQOS_WAIT_NR];
	struct vqos_group *group;
	struct list_head group_node;
	struct vqos_pool *pool;
	struct vqos_sched_member pool_member;
	struct vqos_sched_member_cfg pool_cfg;
	struct list_head pool_node;
};

static inline u8 vqos_trace_op(enum vqos_op op)
{
	return op == VQOS_OP_READ ? VQOS_TRACE_READ :
	       op == VQOS_OP_WRITE ? VQOS_TRACE_WRITE : VQOS_TRACE_OTHER;
}

static inline struct vqos_dev *vdpa_to_vqos(struct vdpa_device *vdpa)
{
	return container_of(vdpa, struct vqos_dev, vdpa);
}

static inline bool vqos_has_feature(const struct vqos_dev *dev,
				    unsigned int bit)
{
	return dev->features & BIT_ULL(bit);
}

/**
 * vqos_kick() - run the device's worker
 * @dev: the device
 *
 * Safe in any context, including hard interrupts.
 */
static inline void vqos_kick(struct vqos_dev *dev)
{
	kthread_queue_work(dev->worker, &dev->work);
}

/* vqos_blk.c: the request engine */
void vqos_work_fn(struct kthread_work *work);
int vqos_vq_enable(struct vqos_vq *vq);
bool vqos_vq_rings_mapped(struct vqos_vq *vq);
void vqos_vq_disable(struct vqos_vq *vq);
void vqos_vq_reset(struct vqos_vq *vq);
void vqos_vq_set_cb(struct vqos_vq *vq, const struct vdpa_callback *cb);
void vqos_drain(struct vqos_dev *dev);
void vqos_pause(struct vqos_dev *dev);
void vqos_unpause(struct vqos_dev *dev);
void vqos_drop_parked(struct vqos_dev *dev, struct vqos_vq *vq);
void vqos_set_needs_reset(struct vqos_dev *dev);
u64 vqos_device_features(const struct vqos_dev *dev);
void vqos_fill_config(struct vqos_dev *dev, struct vqos_config *config);

/* vqos_admit.c: limits, then pool slot */
void vqos_admit_init(struct vqos_dev *dev);
bool vqos_admit_new(struct vqos_req *req);
void vqos_admit_ready(struct vqos_dev *dev, struct list_head *ready);
void vqos_admit_drop(struct vqos_dev *dev, struct vqos_vq *vq,
		     struct list_head *dropped);
void vqos_admit_done(struct vqos_req *req, u64 now);
unsigned int vqos_admit_parked(struct vqos_dev *dev);

/* vqos_pool.c: devices sharing a backing store */
bool vqos_pool_get(struct vqos_dev *dev, u64 now, bool *slot);
void vqos_pool_put(struct vqos_dev *dev, u64 now, u64 lat_ns, u64 svc_ns);
void vqos_pool_cancel(struct vqos_dev *dev);
int vqos_pool_join(struct vqos_dev *dev);
void vqos_pool_leave(struct vqos_dev *dev);
void vqos_pool_dev_init(struct vqos_dev *dev);
ssize_t vqos_pool_share_show(struct vqos_dev *dev, const char *name,
			     char *buf);
int vqos_pool_share_store(struct vqos_dev *dev, const char *name,
			  const char *buf);
ssize_t vqos_pool_dev_show(struct vqos_dev *dev, char *buf);
int vqos_pools_init(struct device *parent);
void vqos_pools_exit(void);

/* vqos_ring.c: split virtqueue, device side */
int vqos_ring_pop(struct vqos_vq *vq, u16 *head, struct vqos_chain *c);
int vqos_chain_copy(struct vqos_dev *dev, const struct vqos_chain *c,
		    bool write, u64 skip, void *buf, u64 len);

/* vqos_iotlb.c: guest address translation */
int vqos_iotlb_map(struct vqos_dev *dev, u64 iova, u64 size, u64 pa,
		   u32 perm, void *opaque);
void vqos_iotlb_unmap(struct vqos_dev *dev, u64 start, u64 last);
void vqos_iotlb_reset(struct vqos_dev *dev);
void vqos_iotlb_set_passthrough(struct vqos_dev *dev);
int vqos_iotlb_lookup(struct vqos_dev *dev, u64 iova, u32 perm,
		      struct vqos_xlate *x);
bool vqos_iotlb_covers(struct vqos_dev *dev, u64 iova, u64 len, u32 perm);
int vqos_iotlb_bvec(struct vqos_dev *dev, u64 iova, u64 len, u32 perm,
		    struct bio_vec *bv, unsigned int max);
int vqos_iotlb_copy(struct vqos_dev *dev, struct vqos_xlate *x, u64 iova,
		    void *buf, size_t len, bool to_guest);

/* vqos_backend.c: the backing file or block device */
int vqos_backend_open(struct vqos_dev *dev);
void vqos_backend_close(struct vqos_dev *dev);
void vqos_backend_submit(struct vqos_req *req);
void vqos_backend_slow_fn(struct work_struct *work);
void vqos_backend_cancel(struct vqos_dev *dev);

/* The backend calls this when it is done with a request (any context). */
void vqos_req_done(struct vqos_req *req, long ret);

/* vqos_sysfs.c */
extern const struct attribute_group *vqos_dev_groups[];

#endif /* _VQOS_H */
