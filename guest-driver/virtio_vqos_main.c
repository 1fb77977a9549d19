// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_vqos: guest block driver for the vqos personality of the vqos host
 * device (device id VIRTIO_ID_VQOS). The request protocol is virtio-blk's;
 * the driver adds the host's QoS telemetry under /sys/block/vqosN/qos/
 * (virtio_vqos_sysfs.c).
 *
 * One blk-mq hardware queue per request virtqueue. A device that stops
 * answering is dealt with in one place, virtio_vqos_kill(): it resets the
 * device, so that nothing it owned can be written to any more, fails every
 * request it held and marks the disk dead, so that removal never waits on
 * a device that will not complete.
 */
#include <linux/blk-mq-virtio.h>
#include <linux/hdreg.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string_helpers.h>
#include <linux/virtio_config.h>
#include <linux/virtio_blk.h>
#include <uapi/linux/virtio_ring.h>
#include "virtio_vqos.h"

#define VQOS_PART_BITS		4
#define VQOS_MAX_DISCARD_SEGS	256u
/* Most sg elements that fit in a virtqueue, less header and status. */
#define VQOS_MAX_SG_ELEMS	(32768 - 2)
#define VQOS_INLINE_SG_CNT	2

static unsigned int num_request_queues;
module_param(num_request_queues, uint, 0644);
MODULE_PARM_DESC(num_request_queues,
		 "Most request queues per device, read at probe (default 0: as many as the device offers, at most one per CPU)");

static unsigned int queue_depth;
module_param(queue_depth, uint, 0444);
MODULE_PARM_DESC(queue_depth,
		 "Requests in flight per hardware queue (default 0: as many as the virtqueue holds)");

static unsigned int io_timeout = 30;
module_param(io_timeout, uint, 0644);
MODULE_PARM_DESC(io_timeout,
		 "Seconds a request may wait before the driver checks the device, read at probe; during removal, before the device is reset and its requests failed (default 30)");

static int vqos_major;
static DEFINE_IDA(vqos_index_ida);
static struct workqueue_struct *vqos_wq;

/**
 * struct vqos_req - per-request data, after struct request
 * @out_hdr: request header, device-readable
 * @status: status byte, device-writable
 * @range: the discard/write-zeroes segment when there is only one
 * @sg_table: data segments
 * @sg: inline scatterlist entries for @sg_table
 */
struct vqos_req {
	struct virtio_blk_outhdr out_hdr;
	u8 status;
	struct virtio_blk_discard_write_zeroes range;
	struct sg_table sg_table;
	struct scatterlist sg[];
};

static blk_status_t vqos_result(const struct vqos_req *vbr)
{
	switch (vbr->status) {
	case VIRTIO_BLK_S_OK:
		return BLK_STS_OK;
	case VIRTIO_BLK_S_UNSUPP:
		return BLK_STS_NOTSUPP;
	default:
		return BLK_STS_IOERR;
	}
}

static struct vqos_vq *vqos_hctx_vq(struct blk_mq_hw_ctx *hctx)
{
	struct vqos_blk *vblk = hctx->queue->queuedata;

	return &vblk->vqs[hctx->queue_num];
}

static int vqos_add_req(struct virtqueue *vq, struct vqos_req *vbr)
{
	struct scatterlist hdr, status, *sgs[3];
	unsigned int num_out = 0, num_in = 0;

	sg_init_one(&hdr, &vbr->out_hdr, sizeof(vbr->out_hdr));
	sgs[num_out++] = &hdr;

	if (vbr->sg_table.nents) {
		if (vbr->out_hdr.type & cpu_to_virtio32(vq->vdev, VIRTIO_BLK_T_OUT))
			sgs[num_out++] = vbr->sg_table.sgl;
		else
			sgs[num_out + num_in++] = vbr->sg_table.sgl;
	}

	/* A device that returns the chain without a status fails it. */
	vbr->status = VIRTIO_BLK_S_IOERR;
	sg_init_one(&status, &vbr->status, sizeof(vbr->status));
	sgs[num_out + num_in++] = &status;

	return virtqueue_add_sgs(vq, sgs, num_out, num_in, vbr, GFP_ATOMIC);
}

static int vqos_setup_dwz(struct request *req, struct vqos_req *vbr, u32 flags)
{
	unsigned short segments = blk_rq_nr_discard_segments(req);
	struct virtio_blk_discard_write_zeroes *range = &vbr->range;
	unsigned short n = 0;
	struct bio *bio;

	if (segments > 1) {
		range = kmalloc_array(segments, sizeof(*range), GFP_ATOMIC);
		if (!range)
			return -ENOMEM;
	}

	/*
	 * With a single segment the block layer merges discards like reads
	 * and writes, so the bios do not carry the ranges: use the request.
	 */
	if (queue_max_discard_segments(req->q) == 1) {
		range[0].flags = cpu_to_le32(flags);
		range[0].num_sectors = cpu_to_le32(blk_rq_sectors(req));
		range[0].sector = cpu_to_le64(blk_rq_pos(req));
		n = 1;
	} else {
		__rq_for_each_bio(bio, req) {
			range[n].flags = cpu_to_le32(flags);
			range[n].num_sectors =
				cpu_to_le32(bio->bi_iter.bi_size >> SECTOR_SHIFT);
			range[n].sector = cpu_to_le64(bio->bi_iter.bi_sector);
			n++;
		}
	}
	WARN_ON_ONCE(n != segments);

	req->special_vec.bv_page = virt_to_page(range);
	req->special_vec.bv_offset = offset_in_page(range);
	req->special_vec.bv_len = sizeof(*range) * segments;
	req->rq_flags |= RQF_SPECIAL_PAYLOAD;
	return 0;
}

static void vqos_cleanup_cmd(struct request *req, struct vqos_req *vbr)
{
	if (req->rq_flags & RQF_SPECIAL_PAYLOAD) {
		void *range = bvec_virt(&req->special_vec);

		if (range != &vbr->range)
			kfree(range);
		req->rq_flags &= ~RQF_SPECIAL_PAYLOAD;
	}
}

static void vqos_unmap_data(struct request *req, struct vqos_req *vbr)
{
	if (blk_rq_nr_phys_segments(req))
		sg_free_table_chained(&vbr->sg_table, VQOS_INLINE_SG_CNT);
}

static int vqos_map_data(struct blk_mq_hw_ctx *hctx, struct request *req,
			 struct vqos_req *vbr)
{
	if (!blk_rq_nr_phys_segments(req))
		return 0;

	vbr->sg_table.sgl = vbr->sg;
	if (sg_alloc_table_chained(&vbr->sg_table,
				   blk_rq_nr_phys_segments(req),
				   vbr->sg_table.sgl, VQOS_INLINE_SG_CNT))
		return -ENOMEM;

	return blk_rq_map_sg(hctx->queue, req, vbr->sg_table.sgl);
}

static blk_status_t vqos_setup_cmd(struct virtio_device *vdev,
				   struct request *req, struct vqos_req *vbr)
{
	u32 type, flags = 0;
	u64 sector = 0;

	switch (req_op(req)) {
	case REQ_OP_READ:
		type = VIRTIO_BLK_T_IN;
		sector = blk_rq_pos(req);
		break;
	case REQ_OP_WRITE:
		type = VIRTIO_BLK_T_OUT;
		sector = blk_rq_pos(req);
		break;
	case REQ_OP_FLUSH:
		type = VIRTIO_BLK_T_FLUSH;
		break;
	case REQ_OP_DISCARD:
		type = VIRTIO_BLK_T_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		type = VIRTIO_BLK_T_WRITE_ZEROES;
		if (!(req->cmd_flags & REQ_NOUNMAP))
			flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		break;
	case REQ_OP_DRV_IN:
		type = VIRTIO_BLK_T_GET_ID;
		break;
	default:
		WARN_ON_ONCE(1);
		return BLK_STS_IOERR;
	}

	vbr->out_hdr.type = cpu_to_virtio32(vdev, type);
	vbr->out_hdr.sector = cpu_to_virtio64(vdev, sector);
	vbr->out_hdr.ioprio = cpu_to_virtio32(vdev, req_get_ioprio(req));

	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		if (vqos_setup_dwz(req, vbr, flags))
			return BLK_STS_RESOURCE;
	}
	return BLK_STS_OK;
}

static blk_status_t vqos_prep_rq(struct blk_mq_hw_ctx *hctx,
				 struct vqos_blk *vblk, struct request *req,
				 struct vqos_req *vbr)
{
	blk_status_t status;
	int num;

	status = vqos_setup_cmd(vblk->vdev, req, vbr);
	if (unlikely(status))
		return status;

	num = vqos_map_data(hctx, req, vbr);
	if (unlikely(num < 0)) {
		vqos_cleanup_cmd(req, vbr);
		return BLK_STS_RESOURCE;
	}
	vbr->sg_table.nents = num;

	blk_mq_start_request(req);
	return BLK_STS_OK;
}

static void vqos_complete_rq(struct request *req)
{
	struct vqos_req *vbr = blk_mq_rq_to_pdu(req);

	vqos_unmap_data(req, vbr);
	vqos_cleanup_cmd(req, vbr);
	blk_mq_end_request(req, vqos_result(vbr));
}

static void vqos_done(struct virtqueue *vq)
{
	struct vqos_blk *vblk = vq->vdev->priv;
	struct vqos_vq *bvq = &vblk->vqs[vq->index];
	struct vqos_req *vbr;
	bool req_done = false;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&bvq->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((vbr = virtqueue_get_buf(vq, &len)) != NULL) {
			struct request *req = blk_mq_rq_from_pdu(vbr);

			if (likely(!blk_should_fake_timeout(req->q)))
				blk_mq_complete_request(req);
			req_done = true;
		}
		if (unlikely(virtqueue_is_broken(vq)))
			break;
	} while (!virtqueue_enable_cb(vq));

	/* A queue stopped on a full ring can go again. */
	if (req_done)
		blk_mq_start_stopped_hw_queues(vblk->disk->queue, true);
	spin_unlock_irqrestore(&bvq->lock, flags);
}

static void vqos_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct vqos_vq *bvq = vqos_hctx_vq(hctx);
	bool kick;

	spin_lock_irq(&bvq->lock);
	kick = virtqueue_kick_prepare(bvq->vq);
	spin_unlock_irq(&bvq->lock);

	if (kick)
		virtqueue_notify(bvq->vq);
}

static blk_status_t vqos_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	struct vqos_blk *vblk = hctx->queue->queuedata;
	struct vqos_vq *bvq = vqos_hctx_vq(hctx);
	struct request *req = bd->rq;
	struct vqos_req *vbr = blk_mq_rq_to_pdu(req);
	bool notify = false;
	unsigned long flags;
	blk_status_t status;
	int err;

	/* virtio_vqos_kill() quiesces the queue before setting this. */
	if (unlikely(READ_ONCE(vblk->dead)))
		return BLK_STS_IOERR;

	status = vqos_prep_rq(hctx, vblk, req, vbr);
	if (unlikely(status))
		return status;

	spin_lock_irqsave(&bvq->lock, flags);
	err = vqos_add_req(bvq->vq, vbr);
	if (unlikely(err)) {
		virtqueue_kick(bvq->vq);
		/*
		 * Ring full: vqos_done() restarts the queue. -ENOMEM may be
		 * a global shortage, so do not wait for a completion then.
		 */
		if (err == -ENOSPC)
			blk_mq_stop_hw_queue(hctx);
		spin_unlock_irqrestore(&bvq->lock, flags);
		vqos_unmap_data(req, vbr);
		vqos_cleanup_cmd(req, vbr);
		return err == -ENOSPC ? BLK_STS_DEV_RESOURCE :
		       err == -ENOMEM ? BLK_STS_RESOURCE : BLK_STS_IOERR;
	}

	if (bd->last && virtqueue_kick_prepare(bvq->vq))
		notify = true;
	spin_unlock_irqrestore(&bvq->lock, flags);

	if (notify)
		virtqueue_notify(bvq->vq);
	return BLK_STS_OK;
}

/* Add a list of prepared requests of one queue, kick once. */
static void vqos_add_req_batch(struct vqos_vq *bvq, struct request **rqlist)
{
	struct request *req;
	unsigned long flags;
	bool kick;

	spin_lock_irqsave(&bvq->lock, flags);
	while ((req = rq_list_pop(rqlist))) {
		struct vqos_req *vbr = blk_mq_rq_to_pdu(req);

		if (vqos_add_req(bvq->vq, vbr)) {
			vqos_unmap_data(req, vbr);
			vqos_cleanup_cmd(req, vbr);
			blk_mq_requeue_request(req, true);
		}
	}
	kick = virtqueue_kick_prepare(bvq->vq);
	spin_unlock_irqrestore(&bvq->lock, flags);

	if (kick)
		virtqueue_notify(bvq->vq);
}

static void vqos_queue_rqs(struct request **rqlist)
{
	struct request *submit_list = NULL;
	struct request *requeue_list = NULL;
	struct request **requeue_lastp = &requeue_list;
	struct vqos_vq *bvq = NULL;
	struct request *req;

	while ((req = rq_list_pop(rqlist))) {
		struct blk_mq_hw_ctx *hctx = req->mq_hctx;
		struct vqos_blk *vblk = hctx->queue->queuedata;
		struct vqos_vq *this_vq = vqos_hctx_vq(hctx);

		if (bvq && bvq != this_vq)
			vqos_add_req_batch(bvq, &submit_list);
		bvq = this_vq;

		/* Dead device or no resources: let queue_rq() deal with it. */
		hctx->tags->rqs[req->tag] = req;
		if (!READ_ONCE(vblk->dead) &&
		    vqos_prep_rq(hctx, vblk, req, blk_mq_rq_to_pdu(req)) ==
		    BLK_STS_OK)
			rq_list_add(&submit_list, req);
		else
			rq_list_add_tail(&requeue_lastp, req);
	}

	if (bvq)
		vqos_add_req_batch(bvq, &submit_list);
	*rqlist = requeue_list;
}

static bool vqos_cancel_rq(struct request *req, void *data)
{
	struct vqos_req *vbr = blk_mq_rq_to_pdu(req);

	if (blk_mq_request_completed(req))
		return true;
	vbr->status = VIRTIO_BLK_S_IOERR;
	blk_mq_complete_request(req);
	return true;
}

/**
 * virtio_vqos_kill() - give up on the device: reset it, fail all its I/O
 * @vblk: the disk
 * @why: reason, for the kernel log
 *
 * Used when the device says it needs a reset, and when a request times out
 * while the device is being removed. The order matters: no queue_rq() may
 * be running (quiesce), no completion may be running or start (break the
 * virtqueues, then take each queue lock once), and the device must no
 * longer write to any buffer it holds (reset) before the requests that own
 * those buffers are completed. The disk is then marked dead, so that new
 * I/O fails at the door, and requests that were waiting for a dispatch
 * fail in queue_rq(). Idempotent; may sleep.
 */
static void virtio_vqos_kill(struct vqos_blk *vblk, const char *why)
{
	struct request_queue *q = vblk->disk->queue;
	unsigned int i;

	mutex_lock(&vblk->kill_lock);
	if (vblk->dead)
		goto out;
	dev_err(&vblk->vdev->dev, "%s: %s: resetting the device, failing all I/O\n",
		vblk->disk->disk_name, why);

	blk_mq_quiesce_queue(q);
	WRITE_ONCE(vblk->dead, true);
	virtio_break_device(vblk->vdev);
	for (i = 0; i < vblk->num_vqs; i++) {
		spin_lock_irq(&vblk->vqs[i].lock);
		spin_unlock_irq(&vblk->vqs[i].lock);
	}
	virtio_reset_device(vblk->vdev);

	blk_mq_tagset_busy_iter(&vblk->tag_set, vqos_cancel_rq, vblk);
	blk_mq_tagset_wait_completed_request(&vblk->tag_set);
	blk_mark_disk_dead(vblk->disk);
	blk_mq_start_stopped_hw_queues(q, true);
	blk_mq_unquiesce_queue(q);
out:
	mutex_unlock(&vblk->kill_lock);
}

static bool vqos_needs_reset(struct vqos_blk *vblk)
{
	u8 status = vblk->vdev->config->get_status(vblk->vdev);

	return status & VIRTIO_CONFIG_S_NEEDS_RESET;
}

static enum blk_eh_timer_return vqos_timeout(struct request *req)
{
	struct vqos_blk *vblk = req->q->queuedata;
	unsigned long flags;
	bool removing;

	/*
	 * A request may legitimately wait a long time for the host's rate
	 * limiter: a timeout alone proves nothing. Have the device status
	 * looked at, and keep waiting, unless the device is going away.
	 */
	spin_lock_irqsave(&vblk->state_lock, flags);
	removing = vblk->removing;
	if (!removing)
		queue_work(vqos_wq, &vblk->check_work);
	spin_unlock_irqrestore(&vblk->state_lock, flags);
	if (!removing)
		return BLK_EH_RESET_TIMER;

	/* del_gendisk() syncs with this handler before freeing the queue. */
	virtio_vqos_kill(vblk, "request timed out during removal");
	return BLK_EH_DONE;
}

static void vqos_check_work(struct work_struct *work)
{
	struct vqos_blk *vblk = container_of(work, struct vqos_blk,
					     check_work);

	if (!READ_ONCE(vblk->dead) && vqos_needs_reset(vblk))
		virtio_vqos_kill(vblk, "device needs reset");
}

static void vqos_map_queues(struct blk_mq_tag_set *set)
{
	struct vqos_blk *vblk = set->driver_data;

	blk_mq_virtio_map_queues(&set->map[HCTX_TYPE_DEFAULT], vblk->vdev, 0);
}

static const struct blk_mq_ops vqos_mq_ops = {
	.queue_rq	= vqos_queue_rq,
	.queue_rqs	= vqos_queue_rqs,
	.commit_rqs	= vqos_commit_rqs,
	.complete	= vqos_complete_rq,
	.timeout	= vqos_timeout,
	.map_queues	= vqos_map_queues,
};

/**
 * vqos_get_id() - read the device's serial number
 * @disk: the disk
 * @id_str: VIRTIO_BLK_ID_BYTES bytes, not necessarily NUL-terminated
 *
 * Return: 0 or -errno.
 */
static int vqos_get_id(struct gendisk *disk, char *id_str)
{
	struct request_queue *q = disk->queue;
	struct request *req;
	int err;

	req = blk_mq_alloc_request(q, REQ_OP_DRV_IN, 0);
	if (IS_ERR(req))
		return PTR_ERR(req);

	err = blk_rq_map_kern(q, req, id_str, VIRTIO_BLK_ID_BYTES, GFP_KERNEL);
	if (!err) {
		blk_execute_rq(req, false);
		err = blk_status_to_errno(vqos_result(blk_mq_rq_to_pdu(req)));
	}
	blk_mq_free_request(req);
	return err;
}

static ssize_t serial_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	int err;

	BUILD_BUG_ON(VIRTIO_BLK_ID_BYTES + 1 > PAGE_SIZE);
	buf[VIRTIO_BLK_ID_BYTES] = '\0';
	err = vqos_get_id(dev_to_disk(dev), buf);
	if (!err)
		return strlen(buf);
	return err == -EIO ? 0 : err;
}
static DEVICE_ATTR_RO(serial);

static struct attribute *vqos_disk_attrs[] = {
	&dev_attr_serial.attr,
	NULL,
};

static const struct attribute_group vqos_disk_attr_group = {
	.attrs = vqos_disk_attrs,
};

static const struct attribute_group *vqos_disk_groups[] = {
	&vqos_disk_attr_group,
	&virtio_vqos_qos_group,
	NULL,
};

/* Geometry only pleases old partitioning tools; the device has none. */
static int vqos_getgeo(struct block_device *bd, struct hd_geometry *geo)
{
	geo->heads = 1 << 6;
	geo->sectors = 1 << 5;
	geo->cylinders = get_capacity(bd->bd_disk) >> 11;
	return 0;
}

static void vqos_free_disk(struct gendisk *disk)
{
	struct vqos_blk *vblk = disk->private_data;

	ida_free(&vqos_index_ida, vblk->index);
	mutex_destroy(&vblk->kill_lock);
	kfree(vblk);
}

static const struct block_device_operations vqos_fops = {
	.owner		= THIS_MODULE,
	.getgeo		= vqos_getgeo,
	.free_disk	= vqos_free_disk,
};

/**
 * vqos_update_capacity() - read the capacity and apply it to the disk
 * @vblk: the disk; its logical block size is set
 * @resize: a config change, not the probe: log only if the size changed
 */
static void vqos_update_capacity(struct vqos_blk *vblk, bool resize)
{
	struct virtio_device *vdev = vblk->vdev;
	struct request_queue *q = vblk->disk->queue;
	unsigned int lbs = queue_logical_block_size(q);
	char cap_str_2[10], cap_str_10[10];
	u64 capacity, nblocks;

	virtio_cread(vdev, struct virtio_blk_config, capacity, &capacity);
	/* The device counts 512-byte sectors whatever its block size. */
	capacity = round_down(capacity, lbs >> SECTOR_SHIFT);
	if (resize && capacity == get_capacity(vblk->disk))
		return;

	nblocks = capacity / (lbs >> SECTOR_SHIFT);
	string_get_size(nblocks, lbs, STRING_UNITS_2, cap_str_2,
			sizeof(cap_str_2));
	string_get_size(nblocks, lbs, STRING_UNITS_10, cap_str_10,
			sizeof(cap_str_10));
	dev_notice(&vdev->dev, "[%s] %s%llu %u-byte logical blocks (%s/%s)\n",
		   vblk->disk->disk_name, resize ? "new size: " : "", nblocks,
		   lbs, cap_str_10, cap_str_2);

	set_capacity_and_notify(vblk->disk, capacity);
}

static void vqos_config_work(struct work_struct *work)
{
	struct vqos_blk *vblk = container_of(work, struct vqos_blk,
					     config_work);

	if (READ_ONCE(vblk->dead))
		return;
	if (vqos_needs_reset(vblk)) {
		virtio_vqos_kill(vblk, "device needs reset");
		return;
	}
	vqos_update_capacity(vblk, true);
}

static void virtio_vqos_config_changed(struct virtio_device *vdev)
{
	struct vqos_blk *vblk = vdev->priv;

	queue_work(vqos_wq, &vblk->config_work);
}

static int vqos_init_vqs(struct vqos_blk *vblk)
{
	struct virtio_device *vdev = vblk->vdev;
	struct irq_affinity desc = { 0, };
	vq_callback_t **callbacks;
	struct virtqueue **vqs;
	const char **names;
	u16 num_vqs;
	unsigned int i;
	int err;

	err = virtio_cread_feature(vdev, VIRTIO_BLK_F_MQ,
				   struct virtio_blk_config, num_queues,
				   &num_vqs);
	if (err)
		num_vqs = 1;
	if (!err && !num_vqs) {
		dev_err(&vdev->dev, "MQ offered but the device reports zero queues\n");
		return -EINVAL;
	}
	num_vqs = min_t(unsigned int,
			min_not_zero(num_request_queues, nr_cpu_ids), num_vqs);

	vblk->vqs = kcalloc(num_vqs, sizeof(*vblk->vqs), GFP_KERNEL);
	names = kmalloc_array(num_vqs, sizeof(*names), GFP_KERNEL);
	callbacks = kmalloc_array(num_vqs, sizeof(*callbacks), GFP_KERNEL);
	vqs = kmalloc_array(num_vqs, sizeof(*vqs), GFP_KERNEL);
	if (!vblk->vqs || !names || !callbacks || !vqs) {
		err = -ENOMEM;
		goto out;
	}

	for (i = 0; i < num_vqs; i++) {
		callbacks[i] = vqos_done;
		snprintf(vblk->vqs[i].name, sizeof(vblk->vqs[i].name),
			 "req.%u", i);
		names[i] = vblk->vqs[i].name;
	}

	err = virtio_find_vqs(vdev, num_vqs, vqs, callbacks, names, &desc);
	if (err) {
		dev_err(&vdev->dev, "cannot set up %u virtqueues: %d\n",
			num_vqs, err);
		goto out;
	}

	for (i = 0; i < num_vqs; i++) {
		spin_lock_init(&vblk->vqs[i].lock);
		vblk->vqs[i].vq = vqs[i];
	}
	vblk->num_vqs = num_vqs;
out:
	kfree(vqs);
	kfree(callbacks);
	kfree(names);
	if (err) {
		kfree(vblk->vqs);
		vblk->vqs = NULL;
	}
	return err;
}

/* Queue limits from the config space; fails on a block size we cannot use. */
static int vqos_set_limits(struct vqos_blk *vblk, u32 sg_elems)
{
	struct virtio_device *vdev = vblk->vdev;
	struct request_queue *q = vblk->disk->queue;
	u32 v, blk_size, max_size, discard_segs = 0, discard_align = 0;
	size_t max_dma_size;
	int err;

	if (virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH))
		blk_queue_write_cache(q, true, false);
	if (virtio_has_feature(vdev, VIRTIO_BLK_F_RO))
		set_disk_ro(vblk->disk, 1);

	blk_queue_max_segments(q, sg_elems);
	/*
	 * The virtio-blk config has no limit on the bytes of one request,
	 * but the vqos device refuses more than VQOS_MAX_REQ_BYTES.
	 */
	blk_queue_max_hw_sectors(q, VQOS_MAX_REQ_BYTES >> SECTOR_SHIFT);

	max_dma_size = virtio_max_dma_size(vdev);
	max_size = max_dma_size > U32_MAX ? U32_MAX : max_dma_size;
	err = virtio_cread_feature(vdev, VIRTIO_BLK_F_SIZE_MAX,
				   struct virtio_blk_config, size_max, &v);
	if (!err && v)
		max_size = min(max_size, v);
	blk_queue_max_segment_size(q, max_size);

	err = virtio_cread_feature(vdev, VIRTIO_BLK_F_BLK_SIZE,
				   struct virtio_blk_config, blk_size,
				   &blk_size);
	if (!err) {
		if (blk_validate_block_size(blk_size)) {
			dev_err(&vdev->dev, "invalid block size %u\n",
				blk_size);
			return -EINVAL;
		}
		blk_queue_logical_block_size(q, blk_size);
	} else {
		blk_size = queue_logical_block_size(q);
	}

	if (virtio_has_feature(vdev, VIRTIO_BLK_F_DISCARD)) {
		virtio_cread(vdev, struct virtio_blk_config,
			     discard_sector_alignment, &discard_align);
		virtio_cread(vdev, struct virtio_blk_config,
			     max_discard_sectors, &v);
		blk_queue_max_discard_sectors(q, v ? v : UINT_MAX);
		virtio_cread(vdev, struct virtio_blk_config, max_discard_seg,
			     &discard_segs);
		if (!discard_segs)
			discard_segs = sg_elems;
		blk_queue_max_discard_segments(q, min(discard_segs,
						      VQOS_MAX_DISCARD_SEGS));
		q->limits.discard_granularity = discard_align ?
			discard_align << SECTOR_SHIFT : blk_size;
	}

	if (virtio_has_feature(vdev, VIRTIO_BLK_F_WRITE_ZEROES)) {
		virtio_cread(vdev, struct virtio_blk_config,
			     max_write_zeroes_sectors, &v);
		blk_queue_max_write_zeroes_sectors(q, v ? v : UINT_MAX);
	}
	return 0;
}

static int virtio_vqos_probe(struct virtio_device *vdev)
{
	struct vqos_blk *vblk;
	struct gendisk *disk;
	unsigned int depth;
	u32 sg_elems;
	int err, index;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config space access not available\n");
		return -EINVAL;
	}

	index = ida_alloc_range(&vqos_index_ida, 0,
				(1 << (MINORBITS - VQOS_PART_BITS)) - 1,
				GFP_KERNEL);
	if (index < 0)
		return index;

	err = virtio_cread_feature(vdev, VIRTIO_BLK_F_SEG_MAX,
				   struct virtio_blk_config, seg_max,
				   &sg_elems);
	if (err || !sg_elems)
		sg_elems = 1;
	sg_elems = min_t(u32, sg_elems, VQOS_MAX_SG_ELEMS);

	vblk = kzalloc(sizeof(*vblk), GFP_KERNEL);
	if (!vblk) {
		err = -ENOMEM;
		goto out_free_index;
	}
	vdev->priv = vblk;
	vblk->vdev = vdev;
	vblk->index = index;
	mutex_init(&vblk->kill_lock);
	spin_lock_init(&vblk->state_lock);
	INIT_WORK(&vblk->config_work, vqos_config_work);
	INIT_WORK(&vblk->check_work, vqos_check_work);

	err = vqos_init_vqs(vblk);
	if (err)
		goto out_free_vblk;

	depth = queue_depth;
	if (!depth) {
		depth = vblk->vqs[0].vq->num_free;
		/* Without indirect descriptors a request takes two or more. */
		if (!virtio_has_feature(vdev, VIRTIO_RING_F_INDIRECT_DESC))
			depth /= 2;
	}

	vblk->tag_set.ops = &vqos_mq_ops;
	vblk->tag_set.queue_depth = depth;
	vblk->tag_set.numa_node = NUMA_NO_NODE;
	vblk->tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	vblk->tag_set.cmd_size = sizeof(struct vqos_req) +
		sizeof(struct scatterlist) * VQOS_INLINE_SG_CNT;
	vblk->tag_set.driver_data = vblk;
	vblk->tag_set.nr_hw_queues = vblk->num_vqs;
	vblk->tag_set.nr_maps = 1;
	vblk->tag_set.timeout = (io_timeout ? io_timeout : 30) * HZ;
	err = blk_mq_alloc_tag_set(&vblk->tag_set);
	if (err)
		goto out_del_vqs;

	disk = blk_mq_alloc_disk(&vblk->tag_set, vblk);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto out_free_tags;
	}
	vblk->disk = disk;
	snprintf(disk->disk_name, DISK_NAME_LEN, "vqos%d", index);
	disk->major = vqos_major;
	disk->first_minor = index << VQOS_PART_BITS;
	disk->minors = 1 << VQOS_PART_BITS;
	disk->private_data = vblk;
	disk->fops = &vqos_fops;

	err = vqos_set_limits(vblk, sg_elems);
	if (err)
		goto out_put_disk;
	vqos_update_capacity(vblk, false);
	virtio_vqos_probe_telemetry(vblk);

	virtio_device_ready(vdev);

	err = device_add_disk(&vdev->dev, disk, vqos_disk_groups);
	if (err) {
		dev_err(&vdev->dev, "cannot add disk %s: %d\n",
			disk->disk_name, err);
		virtio_reset_device(vdev);
		goto out_put_disk;
	}
	return 0;

out_put_disk:
	/* Not added: put_disk() does not call vqos_free_disk(). */
	put_disk(disk);
out_free_tags:
	blk_mq_free_tag_set(&vblk->tag_set);
out_del_vqs:
	vdev->config->del_vqs(vdev);
	kfree(vblk->vqs);
out_free_vblk:
	mutex_destroy(&vblk->kill_lock);
	kfree(vblk);
out_free_index:
	ida_free(&vqos_index_ida, index);
	return err;
}

static void virtio_vqos_remove(struct virtio_device *vdev)
{
	struct vqos_blk *vblk = vdev->priv;

	/*
	 * The virtio core stopped config-change callbacks before calling
	 * us. From here on a timeout kills the device instead of queueing
	 * a check, so neither work item can run again once cancelled.
	 */
	spin_lock_irq(&vblk->state_lock);
	vblk->removing = true;
	spin_unlock_irq(&vblk->state_lock);
	cancel_work_sync(&vblk->config_work);
	cancel_work_sync(&vblk->check_work);

	if (!READ_ONCE(vblk->dead) && vqos_needs_reset(vblk))
		virtio_vqos_kill(vblk, "device needs reset at removal");

	/*
	 * Waits for the I/O in flight. A live device completes it; one that
	 * stopped answering is killed by the timeout handler after
	 * io_timeout seconds, which fails it.
	 */
	del_gendisk(vblk->disk);
	blk_mq_free_tag_set(&vblk->tag_set);

	mutex_lock(&vblk->kill_lock);
	if (!vblk->dead)
		virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	kfree(vblk->vqs);
	vblk->vqs = NULL;
	vblk->num_vqs = 0;
	mutex_unlock(&vblk->kill_lock);

	/* May free vblk, through vqos_free_disk(). */
	put_disk(vblk->disk);
}

static const struct virtio_device_id virtio_vqos_id_table[] = {
	{ VIRTIO_ID_VQOS, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, virtio_vqos_id_table);

static const unsigned int virtio_vqos_features[] = {
	VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
	VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ, VIRTIO_BLK_F_DISCARD,
	VIRTIO_BLK_F_WRITE_ZEROES, VIRTIO_BLK_F_RO, VQOS_F_TELEMETRY,
};

static struct virtio_driver virtio_vqos_driver = {
	.driver.name		= KBUILD_MODNAME,
	.driver.owner		= THIS_MODULE,
	.id_table		= virtio_vqos_id_table,
	.feature_table		= virtio_vqos_features,
	.feature_table_size	= ARRAY_SIZE(virtio_vqos_features),
	.probe			= virtio_vqos_probe,
	.remove			= virtio_vqos_remove,
	.config_changed		= virtio_vqos_config_changed,
};

static int __init virtio_vqos_init(void)
{
	int err;

	vqos_wq = alloc_workqueue("virtio_vqos", WQ_MEM_RECLAIM, 0);
	if (!vqos_wq)
		return -ENOMEM;

	vqos_major = register_blkdev(0, "vqos");
	if (vqos_major < 0) {
		err = vqos_major;
		goto out_destroy_wq;
	}

	err = register_virtio_driver(&virtio_vqos_driver);
	if (err)
		goto out_unregister_blkdev;
	return 0;

out_unregister_blkdev:
	unregister_blkdev(vqos_major, "vqos");
out_destroy_wq:
	destroy_workqueue(vqos_wq);
	return err;
}

static void __exit virtio_vqos_exit(void)
{
	unregister_virtio_driver(&virtio_vqos_driver);
	unregister_blkdev(vqos_major, "vqos");
	destroy_workqueue(vqos_wq);
}
module_init(virtio_vqos_init);
module_exit(virtio_vqos_exit);

MODULE_DESCRIPTION("virtio_vqos: block driver for vqos devices, with QoS telemetry");
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The vqos developers");
MODULE_VERSION(VQOS_VERSION);
