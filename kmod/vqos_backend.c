// SPDX-License-Identifier: GPL-2.0
/*
 * vqos backing store: a regular file or a block device, opened with
 * O_DIRECT where the filesystem allows it, and driven with asynchronous
 * kiocbs over the guest's own pages, as the loop driver does. Flush,
 * discard and write-zeroes may block, so they run on a workqueue rather
 * than on the device's worker.
 */
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/workqueue.h>
#include "vqos.h"

static loff_t vqos_backend_size(struct file *file)
{
	struct inode *inode = file->f_mapping->host;

	return i_size_read(inode);
}

/**
 * vqos_backend_open() - open @dev->cfg.backing and size the device
 * @dev: the device, lock held, not running
 *
 * Tries O_DIRECT first; a filesystem that refuses it (tmpfs) is used
 * through the page cache instead, which sysfs reports.
 *
 * Return: 0, or -errno with @dev->file left NULL.
 */
int vqos_backend_open(struct vqos_dev *dev)
{
	int flags = (dev->cfg.read_only ? O_RDONLY : O_RDWR) | O_LARGEFILE;
	struct file *file;
	loff_t size, avail;

	file = filp_open(dev->cfg.backing, flags | O_DIRECT, 0);
	dev->direct = !IS_ERR(file);
	if (PTR_ERR(file) == -EINVAL)
		file = filp_open(dev->cfg.backing, flags, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);

	if (!S_ISREG(file_inode(file)->i_mode) &&
	    !S_ISBLK(file_inode(file)->i_mode)) {
		fput(file);
		return -EINVAL;
	}
	if (!(file->f_mode & FMODE_CAN_READ) ||
	    (!dev->cfg.read_only && !(file->f_mode & FMODE_CAN_WRITE))) {
		fput(file);
		return -EINVAL;
	}

	size = vqos_backend_size(file);
	if (dev->cfg.offset >= size || dev->cfg.offset % VQOS_SECTOR_SIZE) {
		fput(file);
		return -EINVAL;
	}
	avail = size - dev->cfg.offset;
	if (dev->cfg.size) {
		if (dev->cfg.size > avail) {
			fput(file);
			return -ENOSPC;
		}
		avail = dev->cfg.size;
	}

	dev->dio_align = VQOS_SECTOR_SIZE - 1;
	if (S_ISBLK(file_inode(file)->i_mode)) {
		struct block_device *bdev = I_BDEV(file->f_mapping->host);

		dev->dio_align = max_t(unsigned int, dev->dio_align,
				       bdev_logical_block_size(bdev) - 1);
	}
	dev->capacity = avail / VQOS_SECTOR_SIZE;
	dev->file = file;
	return 0;
}

/**
 * vqos_backend_close() - release the backing store
 * @dev: the device, quiesced
 */
void vqos_backend_close(struct vqos_dev *dev)
{
	if (dev->file)
		fput(dev->file);
	dev->file = NULL;
	dev->capacity = 0;
	dev->direct = false;
}

static void vqos_rw_complete(struct kiocb *iocb, long ret)
{
	struct vqos_req *req = container_of(iocb, struct vqos_req, iocb);

	vqos_req_done(req, ret);
}

static void vqos_slow_fn(struct work_struct *work)
{
	struct vqos_req *req = container_of(work, struct vqos_req, slow_work);
	struct vqos_dev *dev = req->vq->dev;
	loff_t pos = dev->cfg.offset +
		     (loff_t)req->dwz.sector * VQOS_SECTOR_SIZE;
	loff_t len = (loff_t)req->dwz.nr_sectors * VQOS_SECTOR_SIZE;
	int mode, ret;

	switch (req->plan.op) {
	case VQOS_OP_FLUSH:
		ret = vfs_fsync(dev->file, 0);
		break;
	case VQOS_OP_DISCARD:
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		ret = len ? vfs_fallocate(dev->file, mode, pos, len) : 0;
		break;
	case VQOS_OP_WRITE_ZEROES:
		mode = req->dwz.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ?
		       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE :
		       FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		ret = len ? vfs_fallocate(dev->file, mode, pos, len) : 0;
		/* Punching needs no zeroing fallback; zero range may not exist. */
		if (ret == -EOPNOTSUPP && mode & FALLOC_FL_ZERO_RANGE)
			ret = vfs_fallocate(dev->file, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE, pos, len);
		break;
	default:
		ret = -EINVAL;
	}
	vqos_req_done(req, ret);
}

/**
 * vqos_backend_submit() - start a validated request on the backing store
 * @req: the request; reads and writes have their bvecs mapped
 *
 * Completion is reported through vqos_req_done(), possibly before this
 * returns.
 */
void vqos_backend_submit(struct vqos_req *req)
{
	struct vqos_dev *dev = req->vq->dev;
	struct file *file = dev->file;
	struct iov_iter iter;
	ssize_t ret;

	if (!file) {
		vqos_req_done(req, -EIO);
		return;
	}

	switch (req->plan.op) {
	case VQOS_OP_READ:
	case VQOS_OP_WRITE:
		break;
	default:
		INIT_WORK(&req->slow_work, vqos_slow_fn);
		queue_work(system_unbound_wq, &req->slow_work);
		return;
	}

	req->iocb.ki_pos = dev->cfg.offset + req->plan.pos;
	req->iocb.ki_filp = file;
	req->iocb.ki_complete = vqos_rw_complete;
	req->iocb.ki_flags = dev->direct ? IOCB_DIRECT : 0;
	req->iocb.ki_ioprio = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_NONE, 0);
	req->iocb.private = NULL;

	if (req->plan.op == VQOS_OP_WRITE) {
		req->iocb.ki_flags |= IOCB_WRITE;
		iov_iter_bvec(&iter, ITER_SOURCE, req->bvec, req->nr_bvec,
			      req->plan.len);
		ret = call_write_iter(file, &req->iocb, &iter);
	} else {
		iov_iter_bvec(&iter, ITER_DEST, req->bvec, req->nr_bvec,
			      req->plan.len);
		ret = call_read_iter(file, &req->iocb, &iter);
	}
	if (ret != -EIOCBQUEUED)
		vqos_rw_complete(&req->iocb, ret);
}
