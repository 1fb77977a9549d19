// SPDX-License-Identifier: GPL-2.0
/*
 * vqos: a vDPA parent that serves virtio block devices in the host kernel,
 * each with its own rings, worker and backing store, so that a rate
 * limiter in the datapath can isolate guests the way a hardware queue
 * would.
 *
 * This file holds the module, the management device and the vDPA config
 * operations. The request engine is in vqos_blk.c.
 */
#include <linux/dma-mapping.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vdpa.h>
#include <uapi/linux/vdpa.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_ids.h>
#include "vqos.h"

/* vhost-vdpa IOTLB entries per device: bounds what a VMM can pin here. */
#define VQOS_IOTLB_LIMIT	65536

static struct device vqos_mgmt_parent;
static DEFINE_IDA(vqos_ida);
static struct vdpa_mgmt_dev vqos_mgmt;

/*
 * The identity map is only for a kernel driver (virtio_vdpa) whose DMA
 * addresses are physical addresses. A VMM reaches the device through
 * vhost-vdpa and must see nothing but what it mapped.
 */
static bool vqos_kernel_driver(struct vqos_dev *dev)
{
	struct device_driver *drv = READ_ONCE(dev->vdpa.dev.driver);

	return drv && !strcmp(drv->name, "virtio_vdpa");
}

/* Stop taking requests and wait until every in-flight one has finished. */
static void vqos_quiesce(struct vqos_dev *dev)
{
	WRITE_ONCE(dev->running, false);
	/* The current turn may still submit; later turns see !running. */
	kthread_flush_work(&dev->work);
	vqos_backend_cancel(dev);
	vqos_drain(dev);
	kthread_flush_work(&dev->work);
}

/* Empty the IOTLB (dropping the VMM's pages), or map a kernel driver's. */
static void vqos_reset_iotlb(struct vqos_dev *dev)
{
	if (vqos_kernel_driver(dev))
		vqos_iotlb_set_passthrough(dev);
	else
		vqos_iotlb_reset(dev);
}

/*
 * A VMM remaps guest memory while the guest runs: QEMU's memory listener
 * removes a section of guest RAM and adds it back whenever the flat view
 * around it changes. When SeaBIOS makes its ROM areas read-only at the end
 * of POST (PAM registers), the one section of all low RAM becomes five:
 * QEMU unmaps all of it, then maps the pieces, while the firmware's queue
 * is enabled and its rings lie at the top of that RAM. Between the unmap
 * and the map, a worker that read the rings (every kick or unpause makes
 * it read the avail index) would declare a ring broken that is not. So an
 * unmap that takes away memory under such a ring leaves the device paused,
 * touching no guest memory and taking no request, until maps cover every
 * enabled ring again. A VMM that never maps it back only stalls its own
 * device; reset ends that too. Rings that were not mapped before the unmap
 * still break the device at their first access, as before.
 */
static bool vqos_rings_mapped(struct vqos_dev *dev)
{
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	for (i = 0; i < VQOS_MAX_QUEUES; i++)
		if (dev->vqs[i].ready && !vqos_vq_rings_mapped(&dev->vqs[i]))
			return false;
	return true;
}

/* Clear @dev->ring_hole once no enabled ring lacks a mapping; lock held. */
static void vqos_ring_hole_update(struct vqos_dev *dev)
{
	if (dev->ring_hole && vqos_rings_mapped(dev))
		dev->ring_hole = false;
}

static void vqos_do_reset(struct vqos_dev *dev)
{
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	vqos_quiesce(dev);
	for (i = 0; i < VQOS_MAX_QUEUES; i++)
		vqos_vq_reset(&dev->vqs[i]);
	/*
	 * A bus driver resets the device before it goes away: a callback
	 * kept past that would call into a freed driver. Whoever drives
	 * the device next sets its own.
	 */
	spin_lock(&dev->cb_lock);
	memset(&dev->config_cb, 0, sizeof(dev->config_cb));
	spin_unlock(&dev->cb_lock);
	vqos_reset_iotlb(dev);
	/* No pause section is open under the lock: only a hole held it. */
	dev->ring_hole = false;
	WRITE_ONCE(dev->paused, false);
	dev->needs_reset = false;
	WRITE_ONCE(dev->status, 0);
	dev->features = 0;
	dev->generation++;
}

static int vqos_set_vq_address(struct vdpa_device *vdpa, u16 idx,
			       u64 desc_area, u64 driver_area, u64 device_area)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	struct vqos_vq *vq;

	if (idx >= VQOS_MAX_QUEUES)
		return -EINVAL;
	vq = &dev->vqs[idx];
	mutex_lock(&dev->lock);
	vq->desc_addr = desc_area;
	vq->driver_addr = driver_area;
	vq->device_addr = device_area;
	mutex_unlock(&dev->lock);
	return 0;
}

static void vqos_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	if (idx >= VQOS_MAX_QUEUES)
		return;
	mutex_lock(&dev->lock);
	dev->vqs[idx].num = num;
	mutex_unlock(&dev->lock);
}

static void vqos_kick_vq(struct vdpa_device *vdpa, u16 idx)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	/* May be called in atomic context: no lock, just wake the worker. */
	if (idx < dev->nvqs && READ_ONCE(dev->running))
		vqos_kick(dev);
}

/* The worker calls callbacks under cb_lock: it never sees half of one. */
static void vqos_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
			   struct vdpa_callback *cb)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	if (idx >= VQOS_MAX_QUEUES)
		return;
	vqos_vq_set_cb(&dev->vqs[idx], cb);
}

/*
 * Enabling or disabling a queue pauses the device whether it runs or not:
 * a queue's requests may still be in the backend after the driver broke a
 * ring, and its pool must not be freed under them.
 *
 * QEMU's vhost-vdpa-device-pci enables every queue the device registers,
 * also those its guest never set up (no size given): such a queue stays
 * off without a warning, which every boot of such a guest would log.
 */
static void vqos_set_vq_ready(struct vdpa_device *vdpa, u16 idx, bool ready)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	struct vqos_vq *vq;

	if (idx >= VQOS_MAX_QUEUES)
		return;
	vq = &dev->vqs[idx];
	mutex_lock(&dev->lock);
	if (ready == vq->ready)
		goto out;
	vqos_pause(dev);
	if (ready) {
		if (idx < dev->nvqs && !vq->num)
			dev_dbg_ratelimited(&vdpa->dev,
					    "queue %u was never set up: left off\n",
					    idx);
		else if (idx >= dev->nvqs || vqos_vq_enable(vq))
			dev_warn_ratelimited(&vdpa->dev,
					     "cannot enable queue %u\n", idx);
	} else {
		vqos_drop_parked(dev, vq);
		vqos_vq_disable(vq);
	}
	vqos_ring_hole_update(dev);
	vqos_unpause(dev);
out:
	mutex_unlock(&dev->lock);
}

static bool vqos_get_vq_ready(struct vdpa_device *vdpa, u16 idx)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	return idx < VQOS_MAX_QUEUES && dev->vqs[idx].ready;
}

static int vqos_set_vq_state(struct vdpa_device *vdpa, u16 idx,
			     const struct vdpa_vq_state *state)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	if (idx >= VQOS_MAX_QUEUES)
		return -EINVAL;
	mutex_lock(&dev->lock);
	/* The worker owns the ring index while it runs. */
	vqos_pause(dev);
	dev->vqs[idx].vring.last_avail_idx = state->split.avail_index;
	vqos_unpause(dev);
	mutex_unlock(&dev->lock);
	return 0;
}

static int vqos_get_vq_state(struct vdpa_device *vdpa, u16 idx,
			     struct vdpa_vq_state *state)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	if (idx >= VQOS_MAX_QUEUES)
		return -EINVAL;
	mutex_lock(&dev->lock);
	state->split.avail_index = dev->vqs[idx].vring.last_avail_idx;
	mutex_unlock(&dev->lock);
	return 0;
}

static u32 vqos_get_vq_align(struct vdpa_device *vdpa)
{
	return PAGE_SIZE;
}

static u32 vqos_get_vq_group(struct vdpa_device *vdpa, u16 idx)
{
	return 0;
}

static u64 vqos_get_device_features(struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	u64 features;

	mutex_lock(&dev->lock);
	features = vqos_device_features(dev);
	mutex_unlock(&dev->lock);
	return features;
}

static int vqos_set_driver_features(struct vdpa_device *vdpa, u64 features)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	int ret = 0;

	mutex_lock(&dev->lock);
	/* A driver must accept VERSION_1: the device is modern only. */
	if (!(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		ret = -EINVAL;
	else
		dev->features = features & vqos_device_features(dev);
	mutex_unlock(&dev->lock);
	return ret;
}

static u64 vqos_get_driver_features(struct vdpa_device *vdpa)
{
	return vdpa_to_vqos(vdpa)->features;
}

static void vqos_set_config_cb(struct vdpa_device *vdpa,
			       struct vdpa_callback *cb)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	spin_lock(&dev->cb_lock);
	dev->config_cb = *cb;
	/* vhost-vdpa leaves the config callback's trigger uninitialised. */
	dev->config_cb.trigger = NULL;
	spin_unlock(&dev->cb_lock);
}

static u16 vqos_get_vq_num_max(struct vdpa_device *vdpa)
{
	return vdpa_to_vqos(vdpa)->cfg.queue_size;
}

static u32 vqos_get_device_id(struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	return dev->cfg.personality == VQOS_PERS_VQOS ? VIRTIO_ID_VQOS :
							VIRTIO_ID_BLOCK;
}

static u32 vqos_get_vendor_id(struct vdpa_device *vdpa)
{
	return 0;
}

static u8 vqos_get_status(struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	u8 status;

	/*
	 * No lock: a reader (vdpa dev config show, unprivileged) must not
	 * wait behind a config op that pauses the device.
	 */
	status = READ_ONCE(dev->status);
	if (READ_ONCE(dev->needs_reset))
		status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	return status;
}

static void vqos_start(struct vqos_dev *dev)
{
	/* Re-check: the bound driver may have changed since the reset. */
	if (dev->passthrough && !vqos_kernel_driver(dev))
		vqos_reset_iotlb(dev);
	WRITE_ONCE(dev->running, true);
	vqos_kick(dev);
}

static void vqos_set_status(struct vdpa_device *vdpa, u8 status)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	mutex_lock(&dev->lock);
	if (!status) {
		vqos_do_reset(dev);
	} else {
		if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !(status & VIRTIO_CONFIG_S_FAILED))
			vqos_start(dev);
		WRITE_ONCE(dev->status, status & ~VIRTIO_CONFIG_S_NEEDS_RESET);
		/* Started again during removal: it serves no more I/O. */
		if (dev->removing && (status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !dev->needs_reset)
			vqos_set_needs_reset(dev);
	}
	mutex_unlock(&dev->lock);
}

static int vqos_reset(struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	mutex_lock(&dev->lock);
	vqos_do_reset(dev);
	mutex_unlock(&dev->lock);
	return 0;
}

static size_t vqos_get_config_size(struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	return dev->cfg.personality == VQOS_PERS_VQOS ?
	       sizeof(struct vqos_config) : sizeof(struct virtio_blk_config);
}

static void vqos_get_config(struct vdpa_device *vdpa, unsigned int offset,
			    void *buf, unsigned int len)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	size_t size = vqos_get_config_size(vdpa);
	struct vqos_config *config;

	if (offset > size || len > size - offset)
		return;
	config = kzalloc(sizeof(*config), GFP_KERNEL);
	if (!config)
		return;
	mutex_lock(&dev->lock);
	vqos_fill_config(dev, config);
	mutex_unlock(&dev->lock);
	memcpy(buf, (u8 *)config + offset, len);
	kfree(config);
}

static void vqos_set_config(struct vdpa_device *vdpa, unsigned int offset,
			    const void *buf, unsigned int len)
{
	/* Nothing is writable: VIRTIO_BLK_F_CONFIG_WCE is not offered. */
}

static u32 vqos_get_generation(struct vdpa_device *vdpa)
{
	return READ_ONCE(vdpa_to_vqos(vdpa)->generation);
}

static struct vdpa_iova_range vqos_get_iova_range(struct vdpa_device *vdpa)
{
	struct vdpa_iova_range range = {
		.first = 0ULL,
		.last = ULLONG_MAX,
	};

	return range;
}

static int vqos_dma_map(struct vdpa_device *vdpa, unsigned int asid,
			u64 iova, u64 size, u64 pa, u32 perm, void *opaque)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	int ret;

	if (asid || !size || iova + size - 1 < iova)
		return -EINVAL;
	mutex_lock(&dev->lock);
	/* A VMM's first mapping replaces the identity map of a kernel driver. */
	if (dev->passthrough) {
		vqos_pause(dev);
		vqos_iotlb_reset(dev);
		vqos_unpause(dev);
	}
	ret = vqos_iotlb_map(dev, iova, size, pa, perm, opaque);
	/* The map that fills the last hole under the rings resumes. */
	if (!ret && dev->ring_hole) {
		vqos_ring_hole_update(dev);
		vqos_unpause(dev);
	}
	mutex_unlock(&dev->lock);
	return ret;
}

static int vqos_dma_unmap(struct vdpa_device *vdpa, unsigned int asid,
			  u64 iova, u64 size)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	bool had_rings;

	if (asid || !size || iova + size - 1 < iova)
		return -EINVAL;
	/*
	 * vhost-vdpa has unpinned the pages already; vqos's own references
	 * keep them until no request, ring access or status write can touch
	 * them: pause (running or not: a stopped device may still have I/O
	 * in the backend), then drop them. On a running device requests in
	 * flight reach the used ring first: a VMM remaps memory while the
	 * guest runs. Requests parked in admission have touched no data yet;
	 * they stay parked.
	 */
	mutex_lock(&dev->lock);
	vqos_pause(dev);
	had_rings = !dev->ring_hole && vqos_rings_mapped(dev);
	vqos_iotlb_unmap(dev, iova, iova + size - 1);
	/*
	 * Memory under a ring is gone, maybe for a moment: stay paused. A
	 * paused worker consumes no pool grant: withdraw the device's claim,
	 * or a VMM that never maps the ring back would keep a slot its
	 * neighbours need. Its parked requests ask again when it resumes.
	 */
	if (had_rings && !vqos_rings_mapped(dev)) {
		dev->ring_hole = true;
		vqos_pool_cancel(dev);
	}
	vqos_unpause(dev);
	mutex_unlock(&dev->lock);
	return 0;
}

/*
 * Teardown, in the order that leaves nothing to kick the worker: stop the
 * datapath, leave the group (whose knob writes kick members) and cancel
 * the limiter's timer, wait for completion contexts still inside
 * vqos_req_done(), and only then destroy the worker.
 */
static void vqos_free(struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);
	unsigned int i;

	if (dev->worker) {
		mutex_lock(&dev->lock);
		vqos_quiesce(dev);
		for (i = 0; i < VQOS_MAX_QUEUES; i++)
			vqos_vq_reset(&dev->vqs[i]);
		mutex_unlock(&dev->lock);
	}
	/* Out of its group and pool first: their knobs kick the worker. */
	vqos_qos_dev_exit(dev);
	vqos_backend_close(dev);
	synchronize_rcu();
	if (dev->worker)
		kthread_destroy_worker(dev->worker);
	if (dev->slow_wq)
		destroy_workqueue(dev->slow_wq);
	mutex_destroy(&dev->qos.cfg_mutex);
	vqos_iotlb_reset(dev);
	ida_free(&vqos_ida, dev->id);
	mutex_destroy(&dev->lock);
}

static const struct vdpa_config_ops vqos_config_ops = {
	.set_vq_address		= vqos_set_vq_address,
	.set_vq_num		= vqos_set_vq_num,
	.kick_vq		= vqos_kick_vq,
	.set_vq_cb		= vqos_set_vq_cb,
	.set_vq_ready		= vqos_set_vq_ready,
	.get_vq_ready		= vqos_get_vq_ready,
	.set_vq_state		= vqos_set_vq_state,
	.get_vq_state		= vqos_get_vq_state,
	.get_vq_align		= vqos_get_vq_align,
	.get_vq_group		= vqos_get_vq_group,
	.get_device_features	= vqos_get_device_features,
	.set_driver_features	= vqos_set_driver_features,
	.get_driver_features	= vqos_get_driver_features,
	.set_config_cb		= vqos_set_config_cb,
	.get_vq_num_max		= vqos_get_vq_num_max,
	.get_device_id		= vqos_get_device_id,
	.get_vendor_id		= vqos_get_vendor_id,
	.get_status		= vqos_get_status,
	.set_status		= vqos_set_status,
	.reset			= vqos_reset,
	.get_config_size	= vqos_get_config_size,
	.get_config		= vqos_get_config,
	.set_config		= vqos_set_config,
	.get_generation		= vqos_get_generation,
	.get_iova_range		= vqos_get_iova_range,
	.dma_map		= vqos_dma_map,
	.dma_unmap		= vqos_dma_unmap,
	.free			= vqos_free,
};

static int vqos_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			const struct vdpa_dev_set_config *config)
{
	struct vqos_dev *dev;
	unsigned int i;
	int id, ret;

	if (config->mask & ~BIT_ULL(VDPA_ATTR_DEV_FEATURES))
		return -EOPNOTSUPP;

	id = ida_alloc(&vqos_ida, GFP_KERNEL);
	if (id < 0)
		return id;
	dev = vdpa_alloc_device(struct vqos_dev, vdpa, NULL, &vqos_config_ops,
				1, 1, name, false);
	if (IS_ERR(dev)) {
		ida_free(&vqos_ida, id);
		return PTR_ERR(dev);
	}

	/*
	 * Initialise everything vqos_free() looks at before the first step
	 * that can fail: from here on, put_device() frees through it.
	 */
	dev->id = id;
	mutex_init(&dev->lock);
	spin_lock_init(&dev->iommu_lock);
	spin_lock_init(&dev->cb_lock);
	init_waitqueue_head(&dev->quiesced);
	atomic_set(&dev->inflight, 0);
	atomic_set(&dev->started, 0);
	vhost_iotlb_init(&dev->iotlb, VQOS_IOTLB_LIMIT, 0);
	kthread_init_work(&dev->work, vqos_work_fn);
	dev->req_done = vqos_req_done;
	vqos_admit_init(dev);
	vqos_qos_dev_init(dev);
	vqos_pool_dev_init(dev);
	for (i = 0; i < VQOS_MAX_QUEUES; i++) {
		dev->vqs[i].dev = dev;
		dev->vqs[i].idx = i;
		init_llist_head(&dev->vqs[i].done);
		vringh_set_iotlb(&dev->vqs[i].vring, &dev->iotlb,
				 &dev->iommu_lock);
	}
	dev->cfg.num_queues = VQOS_DEFAULT_QUEUES;
	dev->cfg.queue_size = VQOS_DEFAULT_QUEUE_SIZE;
	dev->cfg.personality = VQOS_PERS_VIRTIO_BLK;
	dev->nvqs = dev->cfg.num_queues;
	dev->blk_size = VQOS_SECTOR_SIZE;
	if (config->mask & BIT_ULL(VDPA_ATTR_DEV_FEATURES))
		dev->feature_mask = config->device_features;
	else
		dev->feature_mask = ~0ULL;
	strscpy(dev->serial, name, sizeof(dev->serial));

	dev->vdpa.dev.dma_mask = &dev->vdpa.dev.coherent_dma_mask;
	ret = dma_set_mask_and_coherent(&dev->vdpa.dev, DMA_BIT_MASK(64));
	if (ret)
		goto err_put;
	dev->vdpa.dma_dev = &dev->vdpa.dev;
	dev->vdpa.mdev = mdev;

	dev->worker = kthread_create_worker(0, "vqos/%s", name);
	if (IS_ERR(dev->worker)) {
		ret = PTR_ERR(dev->worker);
		dev->worker = NULL;
		goto err_put;
	}
	dev->slow_wq = alloc_workqueue("vqos-slow/%s", WQ_UNBOUND,
				       VQOS_SLOW_MAX_ACTIVE, name);
	if (!dev->slow_wq) {
		ret = -ENOMEM;
		goto err_put;
	}

	dev->vdpa.dev.groups = vqos_dev_groups;
	/* As many as the driver may use: vhost-vdpa sizes a VMM's device so. */
	ret = _vdpa_register_device(&dev->vdpa, dev->nvqs);
	if (ret)
		goto err_put;
	return 0;

err_put:
	put_device(&dev->vdpa.dev);
	return ret;
}

/*
 * vhost-vdpa's remove waits until the VMM closes /dev/vhost-vdpa-N, which
 * it may do only once its guest stops. Until then the guest would be
 * served as if nothing had happened, and the operator's del would hang
 * without a sign. So a device that no kernel driver holds is marked
 * removing first, whatever the VMM does later, resets included: no
 * request reaches the backend any more; those parked in admission fail
 * with IOERR at the worker's next turn, later ones fail too, paced by
 * the device's and group's IOPS limits (vqos_req_start(): a refused
 * request costs one read operation and no bytes, so byte and write limits
 * do not pace it); a running driver is asked for a reset (NEEDS_RESET,
 * config interrupt). Requests in the backend complete as ever. While the
 * VMM keeps a ring unmapped, the device stays paused and may not touch
 * guest memory (vqos_unpause()): what it holds fails only once the ring
 * is mapped again, or is dropped by the reset.
 *
 * The unregister then holds the vdpa core's lock and, as the vdpa netlink
 * family is not parallel, genl_mutex, until the VMM closes the device:
 * the operator should stop the VMM right after (admin-guide.rst).
 *
 * Flushes, discards and write-zeroes handed to the backend are not
 * cancelled: each holds one of the device's VQOS_SLOW_MAX_ACTIVE turns
 * and @slow_wq runs as many at once, so each is running or about to.
 *
 * A kernel driver (virtio_vdpa) is removed synchronously by the
 * unregister, writing back its dirty data on the way: its device goes on
 * serving until then.
 */
static void vqos_dev_del(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdpa)
{
	struct vqos_dev *dev = vdpa_to_vqos(vdpa);

	if (!vqos_kernel_driver(dev)) {
		mutex_lock(&dev->lock);
		WRITE_ONCE(dev->removing, true);
		if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
			vqos_set_needs_reset(dev);
		mutex_unlock(&dev->lock);
		/*
		 * A turn running now may have read the flag unset and issued
		 * requests; they complete as ever. The flush waits for that
		 * turn only: every later one sees the flag and issues none.
		 * The kick brings the next turn now, to fail what admission
		 * holds, unless the device is paused.
		 */
		kthread_flush_work(&dev->work);
		vqos_kick(dev);
	}
	_vdpa_unregister_device(vdpa);
}

static const struct vdpa_mgmtdev_ops vqos_mgmtdev_ops = {
	.dev_add = vqos_dev_add,
	.dev_del = vqos_dev_del,
};

static struct virtio_device_id vqos_id_table[] = {
	{ VIRTIO_ID_BLOCK, VIRTIO_DEV_ANY_ID },
	{ VIRTIO_ID_VQOS, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static void vqos_mgmt_parent_release(struct device *dev)
{
}

static int __init vqos_init(void)
{
	int ret;

	vqos_mgmt_parent.release = vqos_mgmt_parent_release;
	dev_set_name(&vqos_mgmt_parent, VQOS_MGMTDEV_NAME);
	ret = device_register(&vqos_mgmt_parent);
	if (ret) {
		put_device(&vqos_mgmt_parent);
		return ret;
	}

	vqos_mgmt.device = &vqos_mgmt_parent;
	vqos_mgmt.id_table = vqos_id_table;
	vqos_mgmt.ops = &vqos_mgmtdev_ops;
	vqos_mgmt.config_attr_mask = BIT_ULL(VDPA_ATTR_DEV_FEATURES);
	vqos_mgmt.supported_features = VQOS_SUPPORTED_FEATURES;
	vqos_mgmt.max_supported_vqs = VQOS_MAX_QUEUES;
	ret = vqos_groups_init(&vqos_mgmt_parent);
	if (ret)
		goto err_unregister_parent;
	ret = vqos_pools_init(&vqos_mgmt_parent);
	if (ret)
		goto err_groups_exit;
	ret = vdpa_mgmtdev_register(&vqos_mgmt);
	if (ret)
		goto err_pools_exit;
	pr_info("vqos: version %s, management device '%s'\n", VQOS_VERSION,
		VQOS_MGMTDEV_NAME);
	return 0;

err_pools_exit:
	vqos_pools_exit();
err_groups_exit:
	vqos_groups_exit();
err_unregister_parent:
	device_unregister(&vqos_mgmt_parent);
	return ret;
}

static void __exit vqos_exit(void)
{
	/* Deletes every vqos device first. */
	vdpa_mgmtdev_unregister(&vqos_mgmt);
	vqos_pools_exit();
	vqos_groups_exit();
	device_unregister(&vqos_mgmt_parent);
}

module_init(vqos_init);
module_exit(vqos_exit);

MODULE_DESCRIPTION("vqos: vDPA block devices with per-guest rings, workers and QoS");
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The vqos developers");
MODULE_VERSION(VQOS_VERSION);
