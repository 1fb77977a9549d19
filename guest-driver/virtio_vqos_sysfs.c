// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_vqos QoS telemetry: /sys/block/vqosN/qos/, one file per field of
 * struct vqos_telemetry, read from the config space when the file is read.
 * See Documentation/ABI/testing/sysfs-block-virtio-vqos.
 */
#include <linux/delay.h>
#include <linux/virtio_config.h>
#include "virtio_vqos.h"

/* Attempts at a consistent read while the host keeps updating. */
#define VQOS_TM_TRIES	64

/**
 * struct vqos_tm_attr - a telemetry field exported as a sysfs file
 * @attr: the sysfs attribute
 * @offset: offset of the field in struct vqos_telemetry
 * @read: reads the field from the config space
 */
struct vqos_tm_attr {
	struct device_attribute attr;
	unsigned int offset;
	u64 (*read)(struct virtio_device *vdev);
};

/**
 * vqos_tm_read() - read one telemetry field consistently
 * @vdev: the device
 * @read: reads the field
 * @val: the value
 *
 * The host makes @seq odd while it updates the telemetry and even again
 * after: a value read between two equal even @seq reads is consistent.
 *
 * Return: 0, or -EAGAIN if the host kept updating.
 */
static int vqos_tm_read(struct virtio_device *vdev,
			u64 (*read)(struct virtio_device *vdev), u64 *val)
{
	unsigned int tries;
	u32 seq, seq2;

	for (tries = 0; tries < VQOS_TM_TRIES; tries++) {
		virtio_cread_le(vdev, struct vqos_config, telemetry.seq, &seq);
		if (!(seq & 1)) {
			*val = read(vdev);
			virtio_cread_le(vdev, struct vqos_config, telemetry.seq,
					&seq2);
			if (seq2 == seq)
				return 0;
		}
		usleep_range(10, 50);
	}
	return -EAGAIN;
}

static ssize_t vqos_tm_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct vqos_tm_attr *ta = container_of(attr, struct vqos_tm_attr, attr);
	struct vqos_blk *vblk = dev_to_disk(dev)->private_data;
	u64 val;
	int err;

	err = vqos_tm_read(vblk->vdev, ta->read, &val);
	if (err)
		return err;
	return sysfs_emit(buf, "%llu\n", val);
}

#define VQOS_TM_ATTR(_field)						\
static u64 vqos_read_##_field(struct virtio_device *vdev)		\
{									\
	u64 v;								\
									\
	virtio_cread_le(vdev, struct vqos_config, telemetry._field, &v);	\
	return v;							\
}									\
static struct vqos_tm_attr vqos_tm_##_field = {				\
	.attr	= __ATTR(_field, 0444, vqos_tm_show, NULL),		\
	.offset	= offsetof(struct vqos_telemetry, _field),		\
	.read	= vqos_read_##_field,					\
}

VQOS_TM_ATTR(iops_limit);
VQOS_TM_ATTR(bps_limit);
VQOS_TM_ATTR(iops_burst);
VQOS_TM_ATTR(bps_burst);
VQOS_TM_ATTR(group_iops_limit);
VQOS_TM_ATTR(group_bps_limit);
VQOS_TM_ATTR(over_iops_us);
VQOS_TM_ATTR(over_bps_us);
VQOS_TM_ATTR(throttled_reqs);
VQOS_TM_ATTR(queue_len);
VQOS_TM_ATTR(read_ops);
VQOS_TM_ATTR(write_ops);
VQOS_TM_ATTR(read_bytes);
VQOS_TM_ATTR(write_bytes);
VQOS_TM_ATTR(read_time_us);
VQOS_TM_ATTR(write_time_us);
VQOS_TM_ATTR(errors);
VQOS_TM_ATTR(over_group_iops_us);
VQOS_TM_ATTR(over_group_bps_us);

static struct attribute *vqos_tm_attrs[] = {
	&vqos_tm_iops_limit.attr.attr,
	&vqos_tm_bps_limit.attr.attr,
	&vqos_tm_iops_burst.attr.attr,
	&vqos_tm_bps_burst.attr.attr,
	&vqos_tm_group_iops_limit.attr.attr,
	&vqos_tm_group_bps_limit.attr.attr,
	&vqos_tm_over_iops_us.attr.attr,
	&vqos_tm_over_bps_us.attr.attr,
	&vqos_tm_throttled_reqs.attr.attr,
	&vqos_tm_queue_len.attr.attr,
	&vqos_tm_read_ops.attr.attr,
	&vqos_tm_write_ops.attr.attr,
	&vqos_tm_read_bytes.attr.attr,
	&vqos_tm_write_bytes.attr.attr,
	&vqos_tm_read_time_us.attr.attr,
	&vqos_tm_write_time_us.attr.attr,
	&vqos_tm_errors.attr.attr,
	&vqos_tm_over_group_iops_us.attr.attr,
	&vqos_tm_over_group_bps_us.attr.attr,
	NULL,
};

/* Only the fields inside the telemetry area the host says it has. */
static umode_t vqos_tm_is_visible(struct kobject *kobj, struct attribute *a,
				  int n)
{
	struct vqos_blk *vblk = dev_to_disk(kobj_to_dev(kobj))->private_data;
	struct vqos_tm_attr *ta = container_of(a, struct vqos_tm_attr,
					       attr.attr);

	if (ta->offset + sizeof(u64) > vblk->tm_size)
		return 0;
	return a->mode;
}

const struct attribute_group virtio_vqos_qos_group = {
	.name		= "qos",
	.attrs		= vqos_tm_attrs,
	.is_visible	= vqos_tm_is_visible,
};

/**
 * virtio_vqos_probe_telemetry() - find the telemetry area, if any
 * @vblk: the disk, features negotiated, before device_add_disk()
 *
 * Sets @vblk->tm_size, which decides which files appear under qos/: none
 * without VQOS_F_TELEMETRY or with a bad magic, and only the fields that
 * fit in the size the host reports, so that an older host with a shorter
 * structure shows fewer files rather than wrong values.
 */
void virtio_vqos_probe_telemetry(struct vqos_blk *vblk)
{
	struct virtio_device *vdev = vblk->vdev;
	u32 magic, size;

	vblk->tm_size = 0;
	if (!virtio_has_feature(vdev, VQOS_F_TELEMETRY)) {
		dev_info(&vdev->dev, "%s: no QoS telemetry offered\n",
			 vblk->disk->disk_name);
		return;
	}
	virtio_cread_le(vdev, struct vqos_config, telemetry.magic, &magic);
	virtio_cread_le(vdev, struct vqos_config, telemetry.size, &size);
	if (magic != VQOS_TELEMETRY_MAGIC) {
		dev_warn(&vdev->dev, "%s: bad telemetry magic %#x, ignoring telemetry\n",
			 vblk->disk->disk_name, magic);
		return;
	}
	vblk->tm_size = size;
	dev_info(&vdev->dev, "%s: QoS telemetry, %u bytes\n",
		 vblk->disk->disk_name, size);
}
