// SPDX-License-Identifier: GPL-2.0
/*
 * vqos request engine, shared by the virtio-blk and vqos personalities.
 *
 * Only the device's own kthread worker touches its rings: it drains the
 * completions the backend queued (from any context) onto per-queue
 * lock-free lists, then takes a bounded batch of new requests from each
 * queue in turn, and requeues itself while work remains so that it yields
 * between turns and every queue gets its share.
 */
#include <linux/highmem.h>
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
	blk->blk_size = __cpu_to_virtio32(true, VQOS_SECTOR_SIZE);
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
 * vqos_kick() - run the device's worker
 * @dev: the device
 *
 * Safe in any context, including hard interrupts.
 */
void vqos_kick(struct vqos_dev *dev)
{
	kthread_queue_work(dev->worker, &dev->work);
}

/**
 * vqos_drain() - wait until no request is in flight
 * @dev: the device, with @dev->running already cleared
 *
 * The worker keeps running completions while the device is stopped; it
 * recycles them without touching the rings.
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
 * vqos_vq_disable() - stop a queue and free its pool
 * @vq: the queue; device lock held, device quiesced
 */
void vqos_vq_disable(struct vqos_vq *vq)
{
	WARN_ON_ONCE(atomic_read(&vq->inflight));
	vq->ready = false;
	vq->free = NULL;
	kvfree(vq->bvecs);
	kvfree(vq->reqs);
	vq->bvecs = NULL;
	vq->reqs = NULL;
	vq->vring.last_avail_idx = 0;
	vq->vring.last_used_idx = 0;
	vq->desc_addr = 0;
	vq->driver_addr = 0;
	vq->device_addr = 0;
	vq->num = 0;
	memset(&vq->cb, 0, sizeof(vq->cb));
}

static void vqos_ring_broken(struct vqos_dev *dev)
{
	dev->stats.ring_errors++;
	WRITE_ONCE(dev->running, false);
	WRITE_ONCE(dev->needs_reset, true);
	dev_warn_ratelimited(&dev->vdpa.dev,
			     "broken ring, device needs reset\n");
	if (dev->config_cb.callback)
		dev->config_cb.callback(dev->config_cb.private);
}

static void vqos_req_free_pages(struct vqos_req *req)
{
	unsigned int i;

	if (req->status_bv.bv_page) {
		vqos_bvecs_put(&req->status_bv, 1);
		req->status_bv.bv_page = NULL;
	}
	if (req->pinned) {
		vqos_bvecs_put(req->bvec, req->nr_bvec);
		req->pinned = false;
	}
	if (!req->bounce)
		return;
	for (i = 0; i < req->nr_bvec; i++)
		__free_page(req->bvec[i].bv_page);
	kfree(req->bvec);
	req->bounce = false;
}

static void vqos_req_put(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;

	vqos_req_free_pages(req);
	vringh_kiov_cleanup(&req->riov);
	vringh_kiov_cleanup(&req->wiov);
	req->free_next = vq->free;
	vq->free = req;
	atomic_dec(&vq->inflight);
	/* vqos_pause() waits for 1 (the held request), vqos_drain() for 0. */
	if (atomic_dec_return(&dev->inflight) <= 1 &&
	    wq_has_sleeper(&dev->quiesced))
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

/* Write the status, return the chain to the driver, recycle the request. */
static void vqos_req_complete(struct vqos_vq *vq, struct vqos_req *req)
{
	struct vqos_dev *dev = vq->dev;
	u64 now;

	if (!READ_ONCE(dev->running))
		goto put;

	if (req->status == VIRTIO_BLK_S_OK && req->bounce &&
	    req->plan.op == VQOS_OP_READ) {
		unsigned int i;
		ssize_t n;

		for (i = 0; i < req->nr_bvec; i++) {
			struct bio_vec *bv = &req->bvec[i];
			void *p = kmap_local_page(bv->bv_page);

			n = vringh_iov_push_iotlb(&vq->vring, &req->wiov, p,
						  bv->bv_len);
			kunmap_local(p);
			if (n != bv->bv_len) {
				req->status = VIRTIO_BLK_S_IOERR;
				dev->stats.bad[VQOS_BAD_ACCESS]++;
				break;
			}
		}
	}

	if (req->status_bv.bv_page) {
		memcpy_to_page(req->status_bv.bv_page,
			       req->status_bv.bv_offset, &req->status, 1);
		req->used_len++;
	} else if (vqos_iotlb_copy_to(dev, req->status_iova, &req->status,
				      1)) {
		dev->stats.bad[VQOS_BAD_ACCESS]++;
	} else {
		req->used_len++;
	}
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
 * Any context. The worker writes the result back.
 */
void vqos_req_done(struct vqos_req *req, long ret)
{
	struct vqos_vq *vq = req->vq;

	req->backend_ns = ktime_get_ns();
	req->ret = ret;
	trace_vqos_req_backend(vq->dev->id, vq->idx, req->head,
			       vqos_trace_op(req->plan.op), req->plan.len, ret);
	llist_add(&req->node, &vq->done);
	vqos_kick(vq->dev);
}

/* One interrupt for everything completed since the last one. */
static void vqos_vq_notify(struct vqos_vq *vq)
{
	if (!vq->completed)
		return;
	vq->completed = false;
	if (READ_ONCE(vq->dev->running) && vq->cb.callback &&
	    vringh_need_notify_iotlb(&vq->vring) > 0)
		vq->cb.callback(vq->cb.private);
}

static void vqos_vq_reap(struct vqos_vq *vq)
{
	struct llist_node *list = llist_del_all(&vq->done);
	struct vqos_req *req, *tmp;

	list = llist_reverse_order(list);
	llist_for_each_entry_safe(req, tmp, list, node) {
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

static u64 vqos_kiov_len(const struct vringh_kiov *iov)
{
	u64 len = 0;
	unsigned int i;

	for (i = iov->i; i < iov->used; i++)
		len += iov->iov[i].iov_len;
	return len - iov->consumed;
}

/* Guest address of the last device-writable byte: the status. */
static u64 vqos_status_iova(const struct vringh_kiov *wiov)
{
	int i;

	for (i = wiov->used - 1; i >= 0; i--) {
		const struct kvec *kv = &wiov->iov[i];

		if (kv->iov_len)
			return (u64)(uintptr_t)kv->iov_base + kv->iov_len - 1;
	}
	return 0;
}

/*
 * Map the data part of @iov (from its current position, @len bytes) into
 * bvecs over the guest's own pages. Returns -ENOBUFS when the chain is too
 * fragmented, or not aligned for O_DIRECT, so the caller bounces instead.
 */
static int vqos_req_map(struct vqos_req *req, struct vringh_kiov *iov,
			u64 len, u32 perm)
{
	struct vqos_dev *dev = req->vq->dev;
	unsigned int i, n = 0;
	size_t skip = iov->consumed;
	/*
	 * vhost-vdpa pages are the VMM's: hold them for the I/O. Stable
	 * while the worker runs (only a reset changes the binding).
	 */
	bool pin = !READ_ONCE(dev->passthrough);
	int ret = 0;

	for (i = iov->i; i < iov->used && len; i++) {
		u64 base = (u64)(uintptr_t)iov->iov[i].iov_base + skip;
		u64 seg = min_t(u64, iov->iov[i].iov_len - skip, len);
		int got;

		skip = 0;
		if (!seg)
			continue;
		got = vqos_iotlb_bvec(dev, base, seg, perm, req->bvec + n,
				      VQOS_REQ_BVECS - n, pin);
		if (got < 0) {
			ret = got;
			goto put;
		}
		n += got;
		len -= seg;
	}
	if (dev->direct) {
		for (i = 0; i < n; i++)
			if ((req->bvec[i].bv_offset | req->bvec[i].bv_len) &
			    dev->dio_align) {
				ret = -ENOBUFS;
				goto put;
			}
	}
	req->nr_bvec = n;
	req->pinned = pin;
	return 0;

put:
	if (pin)
		vqos_bvecs_put(req->bvec, n);
	return ret;
}

/* Our own pages for a chain that cannot be served in place. */
static int vqos_req_bounce(struct vqos_req *req)
{
	struct vqos_vq *vq = req->vq;
	unsigned int i, nr = DIV_ROUND_UP(req->plan.len, PAGE_SIZE);
	u32 left = req->plan.len;

	req->bvec = kcalloc(nr, sizeof(*req->bvec), GFP_NOIO);
	if (!req->bvec)
		return -ENOMEM;
	req->bounce = true;
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
			ssize_t n = vringh_iov_pull_iotlb(&vq->vring,
							  &req->riov, p, len);

			kunmap_local(p);
			if (n != len)
				return -EFAULT;
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
	int ret;

	req->dispatch_ns = ktime_get_ns();
	if (req->plan.op == VQOS_OP_READ)
		ret = vqos_req_map(req, &req->wiov, req->plan.len, VHOST_MAP_WO);
	else
		ret = vqos_req_map(req, &req->riov, req->plan.len, VHOST_MAP_RO);
	if (ret == -ENOBUFS)
		ret = vqos_req_bounce(req);
	if (ret == -ENOMEM) {
		req->status = VIRTIO_BLK_S_IOERR;
		vqos_req_complete(vq, req);
		return;
	}
	/*
	 * Hold the status byte's page too. One the guest did not map
	 * writable is left to vqos_req_complete(), which does not write it.
	 */
	if (!ret && req->pinned &&
	    vqos_iotlb_bvec(vq->dev, req->status_iova, 1, VHOST_MAP_WO,
			    &req->status_bv, 1, true) < 0)
		req->status_bv.bv_page = NULL;
	if (ret) {
		vqos_req_fail(req, VQOS_BAD_ACCESS);
		return;
	}
	trace_vqos_req_dispatch(vq->dev->id, vq->idx, req->head,
				vqos_trace_op(req->plan.op), req->plan.len, 0);
	vqos_backend_submit(req);
}

/*
 * Validate and start one request. Returns true if the request did not fit
 * the device's limits: it is held, and the device takes nothing more
 * until the timer says it fits.
 */
static bool vqos_req_start(struct vqos_req *req,
			   const struct vqos_req_limits *lim)
{
	struct vqos_vq *vq = req->vq;
	struct vqos_dev *dev = vq->dev;
	struct virtio_blk_outhdr hdr;
	struct vqos_req_shape shape = {};
	enum vqos_bad bad;
	u64 deadline;

	req->status = VIRTIO_BLK_S_OK;
	req->dispatch_ns = req->start_ns;
	req->backend_ns = req->start_ns;
	req->used_len = 0;
	req->bounce = false;
	req->nr_bvec = 0;
	req->bvec = vq->bvecs + (req - vq->reqs) * VQOS_REQ_BVECS;
	req->status_iova = vqos_status_iova(&req->wiov);
	req->plan.op = VQOS_OP_INVALID;
	req->plan.len = 0;

	shape.in_len = vqos_kiov_len(&req->wiov);
	if (!shape.in_len) {
		/* Nowhere to write a status: return the chain, count it. */
		dev->stats.bad[VQOS_BAD_NO_STATUS]++;
		req->status = VIRTIO_BLK_S_IOERR;
		vqos_account(dev, req, ktime_get_ns());
		if (vringh_complete_iotlb(&vq->vring, req->head, 0) < 0)
			vqos_ring_broken(dev);
		vqos_req_put(req);
		return false;
	}
	if (vqos_kiov_len(&req->riov) < sizeof(hdr)) {
		shape.out_len = U64_MAX;
	} else {
		if (vringh_iov_pull_iotlb(&vq->vring, &req->riov, &hdr,
					  sizeof(hdr)) != sizeof(hdr))
			goto fail_access;
		shape.type = le32_to_cpu((__force __le32)hdr.type);
		shape.sector = le64_to_cpu((__force __le64)hdr.sector);
		shape.out_len = vqos_kiov_len(&req->riov);
	}

	bad = vqos_req_check(lim, &shape, &req->plan);
	if (bad)
		goto fail;
	trace_vqos_req_fetch(dev->id, vq->idx, req->head,
			     vqos_trace_op(req->plan.op), req->plan.len,
			     shape.sector);

	switch (req->plan.op) {
	case VQOS_OP_GET_ID:
		if (vringh_iov_push_iotlb(&vq->vring, &req->wiov, dev->serial,
					  req->plan.len) != req->plan.len)
			goto fail_access;
		req->used_len = req->plan.len;
		vqos_req_complete(vq, req);
		return false;
	case VQOS_OP_DISCARD:
	case VQOS_OP_WRITE_ZEROES: {
		struct virtio_blk_discard_write_zeroes seg;

		if (vringh_iov_pull_iotlb(&vq->vring, &req->riov, &seg,
					  sizeof(seg)) != sizeof(seg))
			goto fail_access;
		req->dwz.sector = le64_to_cpu(seg.sector);
		req->dwz.nr_sectors = le32_to_cpu(seg.num_sectors);
		req->dwz.flags = le32_to_cpu(seg.flags);
		bad = vqos_req_check_dwz(lim, req->plan.op, req->dwz.sector,
					 req->dwz.nr_sectors, req->dwz.flags);
		if (bad)
			goto fail;
		break;
	}
	case VQOS_OP_READ:
	case VQOS_OP_WRITE:
		deadline = vqos_qos_admit(dev, req->plan.op == VQOS_OP_WRITE,
					  req->plan.len, req->start_ns, 0);
		if (deadline) {
			dev->held = req;
			dev->held_due = deadline;
			trace_vqos_req_throttle(dev->id, vq->idx, req->head,
						deadline - req->start_ns);
			vqos_qos_arm(dev, deadline);
			return true;
		}
		vqos_req_issue(req);
		return false;
	default:
		break;
	}
	req->dispatch_ns = ktime_get_ns();
	trace_vqos_req_dispatch(dev->id, vq->idx, req->head,
				vqos_trace_op(req->plan.op), req->plan.len, 0);
	vqos_backend_submit(req);
	return false;

fail_access:
	bad = VQOS_BAD_ACCESS;
fail:
	vqos_req_fail(req, bad);
	return false;
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

		vringh_kiov_init(&req->riov, req->rkv, ARRAY_SIZE(req->rkv));
		vringh_kiov_init(&req->wiov, req->wkv, ARRAY_SIZE(req->wkv));
		/*
		 * vringh grows the iovec arrays with the chain, whose length
		 * the guest picks (an indirect table may cycle through 65536
		 * entries up to 2^28 times): past 4 MiB the allocation fails,
		 * and must do so quietly, the ring is reported broken.
		 */
		ret = vringh_getdesc_iotlb(&vq->vring, &req->riov, &req->wiov,
					   &req->head, GFP_NOIO | __GFP_NOWARN);
		if (ret == 0) {
			vringh_kiov_cleanup(&req->riov);
			vringh_kiov_cleanup(&req->wiov);
			return false;
		}
		if (ret < 0) {
			vringh_kiov_cleanup(&req->riov);
			vringh_kiov_cleanup(&req->wiov);
			vqos_ring_broken(dev);
			return false;
		}
		vq->free = req->free_next;
		atomic_inc(&vq->inflight);
		atomic_inc(&dev->inflight);
		req->start_ns = ktime_get_ns();
		if (vqos_req_start(req, lim))
			return false;
	}
	return true;
}

/**
 * vqos_pause() - stop taking requests, lose none
 * @dev: the device, lock held, running
 *
 * For an IOTLB unmap or a queue change on a running device: waits until
 * every request in the backend has completed to the used ring (the guest
 * sees it, as from a real device that pauses), while a request held by the
 * rate limiter stays held. vqos_unpause() resumes.
 */
void vqos_pause(struct vqos_dev *dev)
{
	WRITE_ONCE(dev->paused, true);
	/* After this turn, the worker only completes: @held is stable. */
	kthread_flush_work(&dev->work);
	vqos_kick(dev);
	wait_event(dev->quiesced,
		   atomic_read(&dev->inflight) <= (READ_ONCE(dev->held) ? 1 : 0));
	kthread_flush_work(&dev->work);
}

/**
 * vqos_unpause() - resume after vqos_pause()
 * @dev: the device, lock held
 */
void vqos_unpause(struct vqos_dev *dev)
{
	WRITE_ONCE(dev->paused, false);
	vqos_kick(dev);
}

/**
 * vqos_drop_held() - forget the held request of a queue being disabled
 * @dev: the device, lock held, paused or stopped
 * @vq: the queue
 */
void vqos_drop_held(struct vqos_dev *dev, struct vqos_vq *vq)
{
	if (!dev->held || dev->held->vq != vq)
		return;
	vqos_qos_abandon(dev);
	vqos_req_put(dev->held);
	dev->held = NULL;
}

/**
 * vqos_work_fn() - one turn of a device's worker
 * @work: &vqos_dev.work
 */
void vqos_work_fn(struct kthread_work *work)
{
	struct vqos_dev *dev = container_of(work, struct vqos_dev, work);
	struct vqos_req_limits lim;
	bool more = false;
	unsigned int i, nvqs = dev->nvqs;

	for (i = 0; i < nvqs; i++)
		if (dev->vqs[i].ready)
			vqos_vq_reap(&dev->vqs[i]);
	if (!READ_ONCE(dev->running)) {
		if (dev->held) {
			vqos_qos_abandon(dev);
			vqos_req_put(dev->held);
			dev->held = NULL;
		}
		return;
	}
	if (READ_ONCE(dev->paused))
		return;		/* vqos_unpause() kicks */

	if (dev->held) {
		struct vqos_req *req = dev->held;
		u64 deadline = vqos_qos_admit(dev,
					      req->plan.op == VQOS_OP_WRITE,
					      req->plan.len, req->start_ns,
					      dev->held_due);

		if (deadline) {
			dev->held_due = deadline;
			vqos_qos_arm(dev, deadline);
			return;
		}
		dev->held = NULL;
		/* Resume round robin after the queue that was held. */
		dev->rr = req->vq->idx;
		vqos_req_issue(req);
		vqos_vq_notify(req->vq);
	}

	vqos_req_limits(dev, &lim);
	for (i = 0; i < nvqs && !dev->held; i++) {
		struct vqos_vq *vq = &dev->vqs[(dev->rr + i) % nvqs];

		if (vq->ready) {
			more |= vqos_vq_dispatch(vq, &lim);
			vqos_vq_notify(vq);
		}
	}
	dev->rr = (dev->rr + 1) % nvqs;
	if (more && !dev->held)
		vqos_kick(dev);
}
