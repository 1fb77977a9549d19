/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_vqos: guest driver for the vqos personality of the vqos host
 * device. Internal definitions shared by the driver's files.
 */
#ifndef _VIRTIO_VQOS_H
#define _VIRTIO_VQOS_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/workqueue.h>
#include <uapi/linux/vqos.h>

/**
 * struct vqos_vq - one request virtqueue, one blk-mq hardware queue
 * @vq: the virtqueue
 * @lock: serialises adding buffers against taking them back
 * @name: virtqueue name, "req.N"
 */
struct vqos_vq {
	struct virtqueue *vq;
	spinlock_t lock;
	char name[16];
} ____cacheline_aligned_in_smp;

/**
 * struct vqos_blk - one vqos disk
 * @vdev: the virtio device; valid until virtio_vqos_remove() returns, and
 *	only used until then (nothing reachable from an open block device
 *	after removal touches it)
 * @disk: the disk
 * @tag_set: blk-mq tags, one hardware queue per virtqueue
 * @vqs: the request virtqueues
 * @num_vqs: entries in @vqs
 * @index: ida index, the N of "vqosN"
 * @config_work: reads the config space after a config-change interrupt
 * @check_work: looks at the device status after a request timed out
 * @kill_lock: serialises virtio_vqos_kill() against itself and removal
 * @state_lock: protects @removing against the work queueing paths
 * @removing: virtio_vqos_remove() has started; no new work is queued
 * @dead: the device was reset by virtio_vqos_kill(): every request fails
 * @tm_size: size of the telemetry area the host reports, 0 without one
 */
struct vqos_blk {
	struct virtio_device *vdev;
	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	struct vqos_vq *vqs;
	unsigned int num_vqs;
	int index;
	struct work_struct config_work;
	struct work_struct check_work;
	struct mutex kill_lock;
	spinlock_t state_lock;
	bool removing;
	bool dead;
	u32 tm_size;
};

/* virtio_vqos_sysfs.c */
extern const struct attribute_group virtio_vqos_qos_group;
void virtio_vqos_probe_telemetry(struct vqos_blk *vblk);

#endif /* _VIRTIO_VQOS_H */
