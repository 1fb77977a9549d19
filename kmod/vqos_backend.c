// SPDX-License-Identifier: GPL-2.0
/*
 * vqos backing store: a regular file or a block device, opened with
 * O_DIRECT where the filesystem allows it, and driven with asynchronous
 * kiocbs over the guest's own pages, as the loop driver does. Flush,
 * discard and write-zeroes may block, so they run on the device's own
 * workqueue (at most VQOS_SLOW_MAX_ACTIVE at once) rather than on its
 * worker or a workqueue that other devices share.
 *
 * A block device is claimed for vqos as a whole (one holder for every vqos
 * device, which may each serve a slice of it): nothing else can mount it
 * or claim it while a guest uses it.
 */
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/workqueue.h>
#include "vqos.h"

/*
 * The holder of every block device vqos claims. The claim only excludes
 * others; I/O goes through the backing file, opened with the device's
 * access mode.
 */
static char vqos_bdev_holder;
#define VQOS_BDEV_MODE	(FMODE_READ | FMODE_EXCL)

static loff_t vqos_backend_size(struct file *file)
{
	struct inode *inode = file->f_mapping->host;

	return i_size_read(inode);
}

/* Claim @file's block device for vqos; it stays open until close. */
static int vqos_backend_claim(struct vqos_dev *dev, struct file *file)
{
	struct block_device *bdev;

	bdev = blkdev_get_by_dev(file_inode(file)->i_rdev, VQOS_BDEV_MODE,
				 &vqos_bdev_holder);
	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	dev->bdev = bdev;
	return 0;
}

/* Give up the claim on the backing block device. */
static void vqos_backend_release(struct vqos_dev *dev)
{
	if (dev->bdev)
		blkdev_put(dev->bdev, VQOS_BDEV_MODE);
	dev->bdev = NULL;
}

/**
 * vqos_backend_open() - open @dev->cfg.backing and size the device
 * @dev: the device, lock held, not running
 *
 * Tries O_DIRECT first; a filesystem that refuses it (tmpfs) is used
 * through the page cache instead, which sysfs reports. A block device is
 * claimed (-EBUSY if mounted or claimed by another holder), and its
 * logical block size becomes the device's. The device joins the pool of
 * the backing store (-EINVAL if the pool cannot reserve its slots).
 *
 * Return: 0, or -errno with @dev->file left NULL.
 */
int vqos_backend_open(struct vqos_dev *dev)
{
	int flags = (dev->cfg.read_only ? O_RDONLY : O_RDWR) | O_LARGEFILE;
	struct file *file;
	loff_t size, avail;
	u32 blk_size;
	int ret;

	file = filp_open(dev->cfg.backing, flags | O_DIRECT, 0);
	dev->direct = !IS_ERR(file);
	if (PTR_ERR(file) == -EINVAL)
		file = filp_open(dev->cfg.backing, flags, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);

	if (!S_ISREG(file_inode(file)->i_mode) &&
	    !S_ISBLK(file_inode(file)->i_mode)) {
		ret = -EINVAL;
		goto err_fput;
	}
	if (!(file->f_mode & FMODE_CAN_READ) ||
	    (!dev->cfg.read_only && !(file->f_mode & FMODE_CAN_WRITE))) {
		ret = -EINVAL;
		goto err_fput;
	}

	size = vqos_backend_size(file);
	if (dev->cfg.offset >= size || dev->cfg.offset % VQOS_SECTOR_SIZE) {
		ret = -EINVAL;
		goto err_fput;
	}
	avail = size - dev->cfg.offset;
	if (dev->cfg.size) {
		if (dev->cfg.size > avail) {
			ret = -ENOSPC;
			goto err_fput;
		}
		avail = dev->cfg.size;
	}

	blk_size = VQOS_SECTOR_SIZE;
	if (S_ISBLK(file_inode(file)->i_mode)) {
		ret = vqos_backend_claim(dev, file);
		if (ret)
			goto err_fput;
		/* A 4Kn disk refuses less: offer its block size to the guest. */
		blk_size = bdev_logical_block_size(dev->bdev);
		if ((dev->cfg.offset | avail) & (blk_size - 1)) {
			ret = -EINVAL;
			goto err_release;
		}
	}
	dev->blk_size = blk_size;
	dev->dio_align = blk_size - 1;
	dev->capacity = avail / VQOS_SECTOR_SIZE;
	dev->file = file;
	ret = vqos_pool_join(dev);
	if (ret) {
		vqos_backend_close(dev);
		return ret;
	}
	return 0;

err_release:
	vqos_backend_release(dev);
err_fput:
	fput(file);
	return ret;
}

/**
 * vqos_backend_close() - release the backing store
 * @dev: the device, quiesced
 */
void vqos_backend_close(struct vqos_dev *dev)
{
	vqos_pool_leave(dev);
	vqos_backend_release(dev);
	if (dev->file)
		fput(dev->file);
	dev->file = NULL;
	dev->capacity = 0;
	dev->blk_size = VQOS_SECTOR_SIZE;
	dev->direct = false;
}

static void vqos_rw_complete(struct kiocb *iocb, long ret)
{
	struct vqos_req *req = container_of(iocb, struct vqos_req, iocb);

	req->vq->dev->req_done(req, ret);
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
	dev->req_done(req, ret);
}

/**
 * vqos_backend_submit() - start a validated request on the backing store
 * @req: the request; reads and writes have their bvecs mapped
 *
 * Completion is reported through @dev->req_done, possibly before this
 * returns.
 */
void vqos_backend_submit(struct vqos_req *req)
{
	struct vqos_dev *dev = req->vq->dev;
	struct file *file = dev->file;
	struct iov_iter iter;
	ssize_t ret;

	if (!file) {
		dev->req_done(req, -EIO);
		return;
	}

	switch (req->plan.op) {
	case VQOS_OP_READ:
	case VQOS_OP_WRITE:
		break;
	default:
		INIT_WORK(&req->slow_work, vqos_slow_fn);
		queue_work(dev->slow_wq, &req->slow_work);
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
