// SPDX-License-Identifier: GPL-2.0
/*
 * vqos request engine, shared by the virtio-blk and vqos personalities.
 *
 * Only the device's own kthread worker touches its rings: it drains the
 * completions the backend queued (from any context) onto per-queue
 * lock-free lists, then takes a bounded batch of new requests from each
 * queue in turn, and requeues itself while work remains so that it yields
 * between turns and every queue gets its share.
 *
 * Every request, whatever its type, passes the device's and its group's
 * limits before it reaches the backend (vqos_admit.c).
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/timekeeping.h>
#include <linux/slab.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>
#include <uapi/linux/virtio_config.h>
#include "vqos.h"

#define CREATE_TRACE_POINTS
#include "vqos_trace.h"

/**
 * vqos_device_features() - features offered to the driver
 * @dev: the device; its lock is held or it is not yet visible
 *
 * Return: the feature bits, after the mask given at `vdpa dev add`.
 */
u64 vqos_device_features(const struct vqos_dev *dev)
{
	u64 f = VQOS_SUPPORTED_FEATURES & ~BIT_ULL(VIRTIO_BLK_F_RO);

	if (dev->cfg.read_only)
		f |= BIT_ULL(VIRTIO_BLK_F_RO);
	/* A block device without discard would fail every one. */
	if (dev->bdev && !bdev_max_discard_sectors(dev->bdev))
		f &= ~BIT_ULL(VIRTIO_BLK_F_DISCARD);
	if (dev->cfg.personality != VQOS_PERS_VQOS)
		f &= ~BIT_ULL(VQOS_F_TELEMETRY);
	return f & dev->feature_mask;
}

/**
 * vqos_fill_config() - build the config space the driver reads
 * @dev: the device, lock held
 * @config: zeroed buffer to fill
 */
void vqos_fill_config(struct vqos_dev *dev, struct vqos_config *config)
{
	struct virtio_blk_config *blk = &config->blk;
	struct vqos_telemetry *t = &config->telemetry;
	const struct vqos_stats *s = &dev->stats;

	/* Modern device only: config fields are little-endian. */
	blk->capacity = __cpu_to_virtio64(true, dev->capacity);
	blk->size_max = __cpu_to_virtio32(true, VQOS_SIZE_MAX);
	blk->seg_max = __cpu_to_virtio32(true, VQOS_SEG_MAX);
	blk->blk_size = __cpu_to_virtio32(true, dev->blk_size);
	blk->num_queues = __cpu_to_virtio16(true, dev->cfg.num_queues);
	blk->max_discard_sectors = __cpu_to_virtio32(true, VQOS_MAX_DWZ_SECTORS);
	blk->max_discard_seg = __cpu_to_virtio32(true, 1);
	blk->discard_sector_alignment = __cpu_to_virtio32(true, 1);
	blk->max_write_zeroes_sectors = __cpu_to_virtio32(true, VQOS_MAX_DWZ_SECTORS);
	blk->max_write_zeroes_seg = __cpu_to_virtio32(true, 1);
	blk->write_zeroes_may_unmap = 1;

	if (dev->cfg.personality != VQOS_PERS_VQOS)
		return;
	t->magic = cpu_to_le32(VQOS_TELEMETRY_MAGIC);
	t->size = cpu_to_le32(sizeof(*t));
	t->seq = cpu_to_le32(0);
	t->queue_len = cpu_to_le64(atomic_read(&dev->inflight));
	t->read_ops = cpu_to_le64(s->read_ops);
	t->write_ops = cpu_to_le64(s->write_ops);
	t->read_bytes = cpu_to_le64(s->read_bytes);
	t->write_bytes = cpu_to_le64(s->write_bytes);
	t->read_time_us = cpu_to_le64(div_u64(s->read_ns, NSEC_PER_USEC));
	t->write_time_us = cpu_to_le64(div_u64(s->write_ns, NSEC_PER_USEC));
	t->errors = cpu_to_le64(s->errors);
	vqos_qos_telemetry(dev, t);
}

/**
 * vqos_drain() - wait until no request is in flight
 * @dev: the device, with @dev->running already cleared
 *
 * The worker keeps reaping completions while the device is stopped, on
 * every queue that has requests, ready or not; it recycles them without
 * touching the rings, and drops the requests parked in admission.
 */
void vqos_drain(struct vqos_dev *dev)
{
	vqos_kick(dev);
	wait_event(dev->quiesced, !atomic_read(&dev->inflight));
}

/**
 * vqos_vq_enable() - allocate a queue's request pool and start its ring
 * @vq: the queue; device lock held, worker idle
 *
 * Return: 0 or -errno.
 */
int vqos_vq_enable(struct vqos_vq *vq)
{
	struct vqos_dev *dev = vq->dev;
	u16 last_avail = vq->vring.last_avail_idx;
	unsigned int i;
	int ret;

	if (!vq->num || vq->num > dev->cfg.queue_size || !is_power_of_2(vq->num))
		return -EINVAL;

	vq->reqs = kvcalloc(VQOS_MAX_INFLIGHT, sizeof(*vq->reqs), GFP_KERNEL);
	vq->bvecs = kvcalloc(VQOS_MAX_INFLIGHT * VQOS_REQ_BVECS,
			     sizeof(*vq->bvecs), GFP_KERNEL);
	if (!vq->reqs || !vq->bvecs) {
		ret = -ENOMEM;
		goto err_free;
	}
	vq->free = NULL;
	for (i = 0; i < VQOS_MAX_INFLIGHT; i++) {
		struct vqos_req *req = &vq->reqs[i];

		req->vq = vq;
		INIT_WORK(&req->slow_work, vqos_backend_slow_fn);
		req->free_next = vq->free;
		vq->free = req;
	}

	ret = vringh_init_iotlb(&vq->vring, dev->features, vq->num, false,
				(struct vring_desc *)(uintptr_t)vq->desc_addr,
				(struct vring_avail *)(uintptr_t)vq->driver_addr,
				(struct vring_used *)(uintptr_t)vq->device_addr);
	if (ret)
		goto err_free;
	/* As vdpa_sim: no in-flight state to migrate, so used == avail. */
	vq->vring.last_avail_idx = last_avail;
	vq->vring.last_used_idx = last_avail;
	atomic_set(&vq->inflight, 0);
	vq->ready = true;
	return 0;

err_free:
	kvfree(vq->bvecs);
	kvfree(vq->reqs);
	vq->bvecs = NULL;
	vq->reqs = NULL;
	return ret;
}

/**
 * vqos_vq_rings_mapped() - can the worker reach an enabled queue's rings?
 * @vq: the queue, enabled; device lock held
 *
 * The areas vringh and vqos_ring_pop() access, at the addresses and size
 * the queue was enabled with: the descriptor table and the avail ring
 * readable, the used ring writable.
 *
 * Return: true if all three are mapped for those accesses.
 */
bool vqos_vq_rings_mapped(struct vqos_vq *vq)
{
	const struct vring *vr = &vq->vring.vring;
	u64 event = vq->vring.event_indices ? 2 : 0;	/* as vringh was set up */
	const struct {
		u64 addr, len;
		u32 perm;
	} area[] = {
		{ (uintptr_t)vr->desc, sizeof(struct vring_desc) * (u64)vr->num,
		  VHOST_MAP_RO },
		{ (uintptr_t)vr->avail, 4 + 2 * (u64)vr->num + event,
		  VHOST_MAP_RO },
		{ (uintptr_t)vr->used,
		  4 + sizeof(struct vring_used_elem) * (u64)vr->num + event,
		  VHOST_MAP_WO },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(area); i++)
		if (area[i].addr + area[i].len - 1 < area[i].addr ||
		    !vqos_iotlb_covers(vq->dev, area[i].addr, area[i].len,
				       area[i].perm))
			return false;
	return true;
}

/**
 * vqos_vq_disable() - stop a queue and free its pool
 * @vq: the queue; device lock held, worker paused or quiesced, and no
 *	request of the queue in flight or parked (vqos_drop_parked())
 *
 * Its addresses, size and callback stay, as vdpa_sim keeps them: a VMM may
 * enable it again without setting them anew.
 */
void vqos_vq_disable(struct vqos_vq *vq)
{
	/* A request still in flight would be freed under the backend. */
	if (WARN_ON_ONCE(atomic_read(&vq->inflight)))
		return;
	vq->ready = false;
	vq->free = NULL;
	kvfree(vq->bvecs);
	kvfree(vq->reqs);
	vq->bvecs = NULL;
	vq->reqs = NULL;
	vq->vring.last_avail_idx = 0;
	vq->vring.last_used_idx = 0;
}

/**
 * vqos_vq_reset() - disable a queue and forget its configuration
 * @vq: the queue, as for vqos_vq_disable()
 *
 * A bus driver resets the device before it goes away: a callback kept past
 * that would call into a freed driver.
 */
void vqos_vq_reset(struct vqos_vq *vq)
{
	vqos_vq_disable(vq);
	vq->desc_addr = 0;
	vq->driver_addr = 0;
	vq->device_addr = 0;
	vq->num = 0;
	vqos_vq_set_cb(vq, NULL);
}

/**
 * vqos_vq_set_cb() - set (or clear, @cb NULL) a queue's interrupt callback
 * @vq: the queue
 * @cb: the bus driver's callback, copied
 */
void vqos_vq_set_cb(struct vqos_vq *vq, const struct vdpa_callback *cb)
{
	struct vqos_dev *dev = vq->dev;

	spin_lock(&dev->cb_lock);
	if (cb)
		vq->cb = *cb;
	else
		memset(&vq->cb, 0, sizeof(vq->cb));
	spin_unlock(&dev->cb_lock);
}

/*
 * Call a callback the VMM may be changing meanwhile (VHOST_SET_VRING_CALL).
 * (vhost-vdpa's own callback then reads the VMM's current call eventfd
 * without a lock, and vhost puts the old one before it tells us of the
 * new one: that race is vhost's, and 6.1 gives a parent no way to hold
 * an eventfd of its own.)
 */
static void vqos_callback(struct vqos_dev *dev, struct vdpa_callback *cb)
{
	spin_lock(&dev->cb_lock);
	if (cb->callback)
		cb->callback(cb->private);
	spin_unlock(&dev->cb_lock);
}

/**
 * vqos_set_needs_reset() - ask the driver to reset the device
 * @dev: the device; its worker, or lock held
 *
 * Sets NEEDS_RESET in the status the driver reads and raises the
 * config-change interrupt, as a virtio device that cannot go on must.
 */
void vqos_set_needs_reset(struct vqos_dev *dev)
{
	WRITE_ONCE(dev->needs_reset, true);
	vqos_callback(dev, &dev->config_cb);
}

static void vqos_ring_broken(struct vqos_dev *dev)
{
	dev->stats.ring_errors++;
	WRITE_ONCE(dev->running, false);
	dev_warn_ratelimited(&dev->vdpa.dev,
			     "broken ring, device needs reset\n");
	vqos_set_needs_reset(dev);
}

static void vqos_req_free_pages(struct vqos_req *req)
{
	unsigned int i;

	if (!req->bounce)
		return;
	for (i = 0; i < req->nr_bvec; i++)
		__free_page(req->bvec[i].bv_page);
	kfree(req->bvec);
	atomic_sub(req->bounce_pages, &req->vq->dev->bounce_pages);
	req->bounce = false;
}

static void vqos_req_put(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;

	/* Failed before the backend (buffers, bounce budget), or dropped. */
	if (req->slot || req->slow) {
		rcu_read_lock();
		vqos_admit_done(req, ktime_get_ns());
		rcu_read_unlock();
	}
	vqos_req_free_pages(req);
	req->free_next = vq->free;
	vq->free = req;
	atomic_dec(&vq->inflight);
	if (req->started) {
		req->started = false;
		atomic_dec(&dev->started);
	}
	atomic_dec(&dev->inflight);
	/* vqos_pause() waits for no started request, vqos_drain() for none. */
	if (wq_has_sleeper(&dev->quiesced))
		wake_up_all(&dev->quiesced);
}

static void vqos_account(struct vqos_dev *dev, struct vqos_req *req, u64 now)
{
	struct vqos_stats *s = &dev->stats;
	u64 lat = now - req->start_ns;

	s->reqs++;
	if (req->status != VIRTIO_BLK_S_OK) {
		s->errors++;
		return;
	}
	if (req->plan.op == VQOS_OP_READ) {
		s->read_ops++;
		s->read_bytes += req->plan.len;
		s->read_ns += lat;
	} else if (req->plan.op == VQOS_OP_WRITE) {
		s->write_ops++;
		s->write_bytes += req->plan.len;
		s->write_ns += lat;
	}
}

/* Copy a bounced read's data to the guest's buffers. */
static void vqos_req_push_bounce(struct vqos_req *req)
{
	struct vqos_dev *dev = req->vq->dev;
	unsigned int i;
	u64 off = 0;

	for (i = 0; i < req->nr_bvec; i++) {
		struct bio_vec *bv = &req->bvec[i];
		void *p = kmap_local_page(bv->bv_page);
		int ret = vqos_chain_copy(dev, &req->chain, true, off, p,
					  bv->bv_len);

		kunmap_local(p);
		if (ret) {
			req->status = VIRTIO_BLK_S_IOERR;
			dev->stats.bad[VQOS_BAD_ACCESS]++;
			return;
		}
		off += bv->bv_len;
	}
}

/* Write the status, return the chain to the driver, recycle the request. */
static void vqos_req_complete(struct vqos_vq *vq, struct vqos_req *req)
{
	struct vqos_dev *dev = vq->dev;
	struct vqos_xlate x = {};
	u64 now;

	if (!READ_ONCE(dev->running))
		goto put;

	if (req->status == VIRTIO_BLK_S_OK && req->bounce &&
	    req->plan.op == VQOS_OP_READ)
		vqos_req_push_bounce(req);

	if (vqos_iotlb_copy(dev, &x, req->chain.last_in, &req->status, 1,
			    true))
		dev->stats.bad[VQOS_BAD_ACCESS]++;
	else
		req->used_len++;
	/* One clock read for both: trace arguments are evaluated untraced. */
	now = ktime_get_ns();
	vqos_account(dev, req, now);
	if (vringh_complete_iotlb(&vq->vring, req->head, req->used_len) < 0)
		vqos_ring_broken(dev);
	vq->completed = true;
	trace_vqos_req_complete(dev->id, vq->idx, vqos_trace_op(req->plan.op),
				req->status, req->plan.len, req->start_ns,
				req->dispatch_ns, req->backend_ns, now);
put:
	vqos_req_put(req);
}

/**
 * vqos_req_done() - the backend finished a request
 * @req: the request
 * @ret: bytes transferred, or -errno
 *
 * Any context. Gives the request's pool slot back, then the worker writes
 * the result back. Once @req is on the list, the worker may complete it
 * and the device may be freed: the RCU read section keeps the device (and
 * any device the pool wakes) until the kicks are done (vqos_free() waits
 * for it).
 */
void vqos_req_done(struct vqos_req *req, long ret)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;

	req->backend_ns = ktime_get_ns();
	req->ret = ret;
	trace_vqos_req_backend(dev->id, vq->idx, req->head,
			       vqos_trace_op(req->plan.op), req->plan.len, ret);
	rcu_read_lock();
	vqos_admit_done(req, req->backend_ns);
	llist_add(&req->node, &vq->done);
	vqos_kick(dev);
	rcu_read_unlock();
}

/* One interrupt for everything completed since the last one. */
static void vqos_vq_notify(struct vqos_vq *vq)
{
	if (!vq->completed)
		return;
	vq->completed = false;
	if (READ_ONCE(vq->dev->running) &&
	    vringh_need_notify_iotlb(&vq->vring) > 0)
		vqos_callback(vq->dev, &vq->cb);
}

static void vqos_vq_reap(struct vqos_vq *vq)
{
	struct llist_node *list;
	struct vqos_req *req, *tmp;
	unsigned int n = 0;

	if (llist_empty(&vq->done))
		return;
	list = llist_reverse_order(llist_del_all(&vq->done));
	llist_for_each_entry_safe(req, tmp, list, node) {
		/* A bounced read copies up to 4 MiB: let others run. */
		if (!(++n % VQOS_BATCH))
			cond_resched();
		if (req->status == VIRTIO_BLK_S_OK) {
			bool want = req->plan.op == VQOS_OP_READ ||
				    req->plan.op == VQOS_OP_WRITE;

			if (req->ret < 0 || (want && req->ret != req->plan.len)) {
				req->status = VIRTIO_BLK_S_IOERR;
				vq->dev->stats.io_errors++;
			} else if (req->plan.op == VQOS_OP_READ) {
				req->used_len = req->plan.len;
			}
		}
		vqos_req_complete(vq, req);
	}
	vqos_vq_notify(vq);
}

/*
 * Map @len bytes of the chain's readable (@write false) or writable
 * buffers, from byte @skip, into bvecs over the guest's own pages. Returns
 * -ENOBUFS when the chain is too fragmented, or not aligned for O_DIRECT,
 * so the caller bounces instead.
 */
static int vqos_req_map(struct vqos_req *req, bool write, u64 skip, u64 len)
{
	struct vqos_dev *dev = req->vq->dev;
	const struct vqos_chain *c = &req->chain;
	unsigned int i = write ? c->nr_out : 0;
	unsigned int end = write ? c->nr : c->nr_out;
	u32 perm = write ? VHOST_MAP_WO : VHOST_MAP_RO;
	unsigned int n = 0;

	for (; i < end && len; i++) {
		const struct vqos_seg *s = &c->seg[i];
		u64 seg;
		int got;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		seg = min_t(u64, s->len - skip, len);
		got = vqos_iotlb_bvec(dev, s->addr + skip, seg, perm,
				      req->bvec + n, VQOS_REQ_BVECS - n);
		if (got < 0)
			return got;
		skip = 0;
		n += got;
		len -= seg;
	}
	if (len)
		return -EFAULT;
	if (dev->direct) {
		for (i = 0; i < n; i++)
			if ((req->bvec[i].bv_offset | req->bvec[i].bv_len) &
			    dev->dio_align)
				return -ENOBUFS;
	}
	req->nr_bvec = n;
	return 0;
}

/*
 * Our own pages for a chain that cannot be served in place, within the
 * device's budget (a guest could otherwise make vqos allocate 4 MiB per
 * request in flight, 8 GiB per device): past it, -ENOMEM, an I/O error.
 */
static int vqos_req_bounce(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;
	unsigned int i, nr = DIV_ROUND_UP(req->plan.len, PAGE_SIZE);
	u32 left = req->plan.len;

	if (atomic_add_return(nr, &dev->bounce_pages) > VQOS_BOUNCE_PAGES) {
		atomic_sub(nr, &dev->bounce_pages);
		dev->stats.bounce_refused++;
		return -ENOMEM;
	}
	req->bvec = kcalloc(nr, sizeof(*req->bvec), GFP_NOIO);
	if (!req->bvec) {
		atomic_sub(nr, &dev->bounce_pages);
		return -ENOMEM;
	}
	req->bounce = true;
	req->bounce_pages = nr;
	req->nr_bvec = 0;
	for (i = 0; i < nr; i++) {
		struct page *page = alloc_page(GFP_NOIO);
		u32 len = min_t(u32, left, PAGE_SIZE);

		if (!page)
			return -ENOMEM;
		bvec_set_page(&req->bvec[i], page, len, 0);
		req->nr_bvec++;
		left -= len;
		if (req->plan.op == VQOS_OP_WRITE) {
			void *p = kmap_local_page(page);
			int ret = vqos_chain_copy(vq->dev, &req->chain, false,
						  VQOS_HDR_LEN +
						  (u64)i * PAGE_SIZE, p, len);

			kunmap_local(p);
			if (ret)
				return ret;
		}
	}
	vq->dev->stats.bounced++;
	return 0;
}

static void vqos_req_fail(struct vqos_req *req, enum vqos_bad bad)
{
	req->status = vqos_bad_status(bad);
	req->vq->dev->stats.bad[bad]++;
	vqos_req_complete(req->vq, req);
}

static void vqos_req_limits(struct vqos_dev *dev, struct vqos_req_limits *lim)
{
	lim->capacity = dev->file ? dev->capacity : 0;
	lim->block_size = dev->blk_size;
	lim->max_bytes = VQOS_MAX_REQ_BYTES;
	lim->max_discard_sectors = VQOS_MAX_DWZ_SECTORS;
	lim->max_write_zeroes_sectors = VQOS_MAX_DWZ_SECTORS;
	lim->read_only = dev->cfg.read_only;
	lim->flush = vqos_has_feature(dev, VIRTIO_BLK_F_FLUSH);
	lim->discard = vqos_has_feature(dev, VIRTIO_BLK_F_DISCARD);
	lim->write_zeroes = vqos_has_feature(dev, VIRTIO_BLK_F_WRITE_ZEROES);
}

/* Map a read or write's buffers and hand it to the backend. */
static void vqos_req_issue(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	bool read = req->plan.op == VQOS_OP_READ;
	int ret;

	/* A read's data fills the writable buffers, up to the status byte. */
	ret = vqos_req_map(req, read, read ? 0 : VQOS_HDR_LEN, req->plan.len);
	if (ret == -ENOBUFS)
		ret = vqos_req_bounce(req);
	if (ret == -ENOMEM) {
		req->status = VIRTIO_BLK_S_IOERR;
		vqos_req_complete(vq, req);
		return;
	}
	if (ret) {
		vqos_req_fail(req, VQOS_BAD_ACCESS);
		return;
	}
	trace_vqos_req_dispatch(vq->dev->id, vq->idx, req->head,
				vqos_trace_op(req->plan.op), req->plan.len, 0);
	vqos_backend_submit(req);
}

/* A chain with nowhere to write a status: return it, count it. */
static void vqos_req_no_status(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;

	dev->stats.bad[VQOS_BAD_NO_STATUS]++;
	req->status = VIRTIO_BLK_S_IOERR;
	vqos_account(dev, req, ktime_get_ns());
	if (vringh_complete_iotlb(&vq->vring, req->head, 0) < 0)
		vqos_ring_broken(dev);
	vq->completed = true;
	vqos_req_put(req);
}

/**
 * vqos_req_abort() - fail a request without running it
 * @req: the request, taken from a ring and not in the backend
 *
 * A refused request fails with the status its fault calls for, counted in
 * &vqos_stats.bad (no status at all for a chain without one); a good one,
 * which must not reach the backend because the device is being removed,
 * fails with IOERR.
 */
static void vqos_req_abort(struct vqos_req *req)
{
	if (req->bad == VQOS_BAD_NO_STATUS) {
		vqos_req_no_status(req);
		return;
	}
	if (req->bad) {
		vqos_req_fail(req, req->bad);
		return;
	}
	req->status = VIRTIO_BLK_S_IOERR;
	vqos_req_complete(req->vq, req);
}

/* Admitted: run the request, or fail it (refused, device being removed). */
static void vqos_req_go(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;

	req->started = true;
	atomic_inc(&dev->started);
	req->dispatch_ns = ktime_get_ns();
	if (req->bad || READ_ONCE(dev->removing)) {
		vqos_req_abort(req);
		return;
	}
	switch (req->plan.op) {
	case VQOS_OP_READ:
	case VQOS_OP_WRITE:
		vqos_req_issue(req);
		return;
	case VQOS_OP_GET_ID:
		if (vqos_chain_copy(dev, &req->chain, true, 0, dev->serial,
				    req->plan.len)) {
			vqos_req_fail(req, VQOS_BAD_ACCESS);
			return;
		}
		req->used_len = req->plan.len;
		vqos_req_complete(vq, req);
		return;
	default:
		trace_vqos_req_dispatch(dev->id, vq->idx, req->head,
					vqos_trace_op(req->plan.op),
					req->plan.len, 0);
		vqos_backend_submit(req);
		return;
	}
}

/* Read and check a discard or write-zeroes segment. */
static enum vqos_bad vqos_req_dwz(struct vqos_req *req,
				  const struct vqos_req_limits *lim)
{
	struct virtio_blk_discard_write_zeroes seg;

	if (vqos_chain_copy(req->vq->dev, &req->chain, false, VQOS_HDR_LEN,
			    &seg, sizeof(seg)))
		return VQOS_BAD_ACCESS;
	req->dwz.sector = le64_to_cpu(seg.sector);
	req->dwz.nr_sectors = le32_to_cpu(seg.num_sectors);
	req->dwz.flags = le32_to_cpu(seg.flags);
	return vqos_req_check_dwz(lim, req->plan.op, req->dwz.sector,
				  req->dwz.nr_sectors, req->dwz.flags);
}

/* Validate a request's header and layout into @req->plan. */
static enum vqos_bad vqos_req_parse(struct vqos_req *req,
				    const struct vqos_req_limits *lim)
{
	const struct vqos_chain *c = &req->chain;
	struct virtio_blk_outhdr hdr;
	struct vqos_req_shape shape = { .in_len = c->in_len };
	enum vqos_bad bad;

	if (c->wraps)
		return VQOS_BAD_ACCESS;
	if (c->out_len < sizeof(hdr)) {
		shape.out_len = U64_MAX;
	} else {
		if (vqos_chain_copy(req->vq->dev, c, false, 0, &hdr,
				    sizeof(hdr)))
			return VQOS_BAD_ACCESS;
		shape.type = le32_to_cpu((__force __le32)hdr.type);
		shape.sector = le64_to_cpu((__force __le64)hdr.sector);
		shape.out_len = c->out_len - sizeof(hdr);
	}
	bad = vqos_req_check(lim, &shape, &req->plan);
	if (bad)
		return bad;
	/* Well-formed, but more buffers than vqos keeps for a request. */
	if (c->fragmented)
		return VQOS_BAD_TOO_BIG;
	trace_vqos_req_fetch(req->vq->dev->id, req->vq->idx, req->head,
			     vqos_trace_op(req->plan.op), req->plan.len,
			     shape.sector);
	if (req->plan.op == VQOS_OP_DISCARD ||
	    req->plan.op == VQOS_OP_WRITE_ZEROES)
		return vqos_req_dwz(req, lim);
	return VQOS_BAD_NONE;
}


/*
 * Validate a request just taken from a ring, and start it if admitted. A
 * refused request is admitted too, as a read of no data, before it is
 * failed: malformed requests cost the worker as much as good ones, and no
 * request escapes the limits. So does every request while the device is
 * being removed, which vqos_req_go() fails: failing it here, at once,
 * would free its slot at once, and a VMM republishing the same heads
 * would run the worker flat out, past every limit.
 */
static void vqos_req_start(struct vqos_req *req,
			   const struct vqos_req_limits *lim)
{
	struct vqos_vq *vq = req->vq;

	req->status = VIRTIO_BLK_S_OK;
	req->dispatch_ns = req->start_ns;
	req->backend_ns = req->start_ns;
	req->used_len = 0;
	req->bounce = false;
	req->slot = false;
	req->slow = false;
	req->nr_bvec = 0;
	req->bvec = vq->bvecs + (req - vq->reqs) * VQOS_REQ_BVECS;
	req->plan.op = VQOS_OP_INVALID;
	req->plan.len = 0;

	req->bad = req->chain.in_len ? vqos_req_parse(req, lim) :
				       VQOS_BAD_NO_STATUS;
	/* Refused, or to fail (vqos_dev_del()): one operation, no slot. */
	if (req->bad || READ_ONCE(vq->dev->removing))
		req->plan.op = VQOS_OP_INVALID;
	if (vqos_admit_new(req))
		vqos_req_go(req);
}

/* Take up to a batch of requests; true if the queue may have more. */
static bool vqos_vq_dispatch(struct vqos_vq *vq,
			     const struct vqos_req_limits *lim)
{
	struct vqos_dev *dev = vq->dev;
	unsigned int n;

	for (n = 0; n < VQOS_BATCH; n++) {
		struct vqos_req *req = vq->free;
		int ret;

		if (!req || !READ_ONCE(dev->running))
			return false;	/* completions will kick us */

		ret = vqos_ring_pop(vq, &req->head, &req->chain);
		if (ret == 0)
			return false;
		if (ret < 0) {
			vqos_ring_broken(dev);
			return false;
		}
		vq->free = req->free_next;
		atomic_inc(&vq->inflight);
		atomic_inc(&dev->inflight);
		req->start_ns = ktime_get_ns();
		vqos_req_start(req, lim);
	}
	return true;
}

/**
 * vqos_pause() - stop taking requests, lose none
 * @dev: the device, lock held
 *
 * For any config op that changes the queues, the IOTLB or the medium,
 * whether the device runs or not: afterwards no request is in the backend
 * and the worker touches no guest memory until vqos_unpause(). On a
 * running device every request in flight completes to the used ring (the
 * guest sees it, as from a real device that pauses) and requests parked
 * in admission stay parked (they have touched no data); on a stopped one
 * (reset pending, ring broken) the worker recycles them, as vqos_drain().
 */
void vqos_pause(struct vqos_dev *dev)
{
	lockdep_assert_held(&dev->lock);
	WRITE_ONCE(dev->paused, true);
	/* After this turn, the worker only completes: @parked is stable. */
	kthread_flush_work(&dev->work);
	vqos_kick(dev);
	/* One counter: comparing two would race with their updates. */
	wait_event(dev->quiesced, !atomic_read(&dev->started));
	kthread_flush_work(&dev->work);
}

/**
 * vqos_unpause() - resume after vqos_pause(), unless a ring is unmapped
 * @dev: the device, lock held
 *
 * While @dev->ring_hole is set the device stays paused: vqos_dma_map()
 * resumes it once the rings are mapped again, reset clears it.
 */
void vqos_unpause(struct vqos_dev *dev)
{
	/* A ring the VMM unmapped keeps the device paused. */
	if (dev->ring_hole)
		return;
	WRITE_ONCE(dev->paused, false);
	vqos_kick(dev);
}

/**
 * vqos_drop_parked() - recycle requests parked in admission
 * @dev: the device; its worker, or lock held with the worker paused
 * @vq: only this queue's (being disabled), or NULL for all (stopped)
 */
void vqos_drop_parked(struct vqos_dev *dev, struct vqos_vq *vq)
{
	struct vqos_req *req, *tmp;
	LIST_HEAD(dropped);

	vqos_admit_drop(dev, vq, &dropped);
	list_for_each_entry_safe(req, tmp, &dropped, park_node)
		vqos_req_put(req);
}

/* Start what admission lets go; true if something was. */
static bool vqos_start_ready(struct vqos_dev *dev)
{
	struct vqos_req *req, *tmp;
	LIST_HEAD(ready);

	vqos_admit_ready(dev, &ready);
	if (list_empty(&ready))
		return false;
	list_for_each_entry_safe(req, tmp, &ready, park_node)
		vqos_req_go(req);
	return true;
}

/* The device is being removed: fail what admission holds, at once. */
static bool vqos_abort_parked(struct vqos_dev *dev)
{
	struct vqos_req *req, *tmp;
	LIST_HEAD(parked);
	bool any;

	vqos_admit_drop(dev, NULL, &parked);
	any = !list_empty(&parked);
	list_for_each_entry_safe(req, tmp, &parked, park_node)
		vqos_req_abort(req);
	return any;
}

/* One turn of the worker: completions, then admitted, then new requests. */
static void vqos_work(struct vqos_dev *dev)
{
	struct vqos_req_limits lim;
	bool more = false, failed;
	unsigned int i, nvqs = dev->nvqs;

	/* Every queue with a pool: a queue being disabled must drain too. */
	for (i = 0; i < VQOS_MAX_QUEUES; i++)
		if (dev->vqs[i].reqs)
			vqos_vq_reap(&dev->vqs[i]);
	if (!READ_ONCE(dev->running)) {
		vqos_drop_parked(dev, NULL);
		return;
	}
	if (READ_ONCE(dev->paused))
		return;		/* vqos_unpause() kicks */

	/*
	 * Parked requests first: they were taken from the rings earlier.
	 * Those parked before the device began to be removed fail at once,
	 * once (at most VQOS_MAX_INFLIGHT a queue): they need not wait out
	 * their limits to fail. Later ones were admitted as the failures
	 * they are, and wait like any (vqos_req_start()).
	 */
	vqos_req_limits(dev, &lim);
	failed = false;
	if (READ_ONCE(dev->removing) && !dev->parked_failed) {
		dev->parked_failed = true;
		failed = vqos_abort_parked(dev);
	}
	if (vqos_start_ready(dev) || failed)
		for (i = 0; i < nvqs; i++)
			vqos_vq_notify(&dev->vqs[i]);
	for (i = 0; i < nvqs; i++) {
		struct vqos_vq *vq = &dev->vqs[(dev->rr + i) % nvqs];

		if (vq->ready) {
			more |= vqos_vq_dispatch(vq, &lim);
			vqos_vq_notify(vq);
		}
		/* Up to VQOS_BATCH chains of VQOS_CHAIN_MAX per queue. */
		cond_resched();
	}
	dev->rr = (dev->rr + 1) % nvqs;
	if (more)
		vqos_kick(dev);
}

/**
 * vqos_work_fn() - one turn of a device's worker
 * @work: &vqos_dev.work
 */
void vqos_work_fn(struct kthread_work *work)
{
	struct vqos_dev *dev = container_of(work, struct vqos_dev, work);
	unsigned int noio = memalloc_noio_save();

	/* As loop: no reclaim through I/O that may come back to this disk. */
	vqos_work(dev);
	memalloc_noio_restore(noio);
}
