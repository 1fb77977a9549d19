// SPDX-License-Identifier: GPL-2.0
/*
 * vqos sysfs: /sys/bus/vdpa/devices/<name>/vqos/ holds what `vdpa dev add`
 * cannot carry, /sys/bus/vdpa/devices/<name>/stats/ the counters. See
 * Documentation/ABI/testing/sysfs-bus-vdpa-vqos.
 *
 * Configuration is set before a driver starts the device: once the status
 * is non-zero, writes return -EBUSY, except that a backing store may be
 * attached to a running device that has none, as media is inserted in a
 * drive (the driver gets a config-change interrupt and sees the capacity).
 */
#include <linux/cpumask.h>
#include <linux/kstrtox.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "vqos.h"

static struct vqos_dev *dev_to_vqos(struct device *d)
{
	return vdpa_to_vqos(dev_to_vdpa(d));
}

/* Apply @set under the device lock, unless a driver has started it. */
#define VQOS_CFG_ATTR(_name, _fmt, _field, _parse)			\
static ssize_t _name##_show(struct device *d,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct vqos_dev *dev = dev_to_vqos(d);				\
	ssize_t ret;							\
									\
	mutex_lock(&dev->lock);						\
	ret = sysfs_emit(buf, _fmt "\n", dev->cfg._field);		\
	mutex_unlock(&dev->lock);					\
	return ret;							\
}									\
static ssize_t _name##_store(struct device *d,				\
			     struct device_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	struct vqos_dev *dev = dev_to_vqos(d);				\
	int ret;							\
									\
	mutex_lock(&dev->lock);						\
	if (dev->status)						\
		ret = -EBUSY;						\
	else								\
		ret = _parse(dev, buf);					\
	mutex_unlock(&dev->lock);					\
	return ret ? ret : count;					\
}									\
static DEVICE_ATTR_RW(_name)

static int vqos_parse_u32_range(const char *buf, u32 min, u32 max, u32 *out)
{
	u32 v;
	int ret = kstrtou32(buf, 0, &v);

	if (ret)
		return ret;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}


static int vqos_parse_queue_size(struct vqos_dev *dev, const char *buf)
{
	u32 v;
	int ret = vqos_parse_u32_range(buf, 2, VQOS_MAX_QUEUE_SIZE, &v);

	if (ret)
		return ret;
	if (!is_power_of_2(v))
		return -EINVAL;
	dev->cfg.queue_size = v;
	return 0;
}

/* Offset and size change what the open backing store exposes: reopen. */
static int vqos_reopen(struct vqos_dev *dev, u64 *field, u64 val)
{
	u64 old = *field;
	int ret;

	*field = val;
	if (!dev->file)
		return 0;
	vqos_backend_close(dev);
	ret = vqos_backend_open(dev);
	if (ret) {
		*field = old;
		WARN_ON_ONCE(vqos_backend_open(dev));
	}
	return ret;
}

/* A multiple of 512 for offset or size, applied through vqos_reopen(). */
static int vqos_parse_bytes(struct vqos_dev *dev, const char *buf, u64 *field)
{
	u64 v;
	int ret = kstrtou64(buf, 0, &v);

	if (ret)
		return ret;
	if (v % VQOS_SECTOR_SIZE)
		return -EINVAL;
	return vqos_reopen(dev, field, v);
}

static int vqos_parse_offset(struct vqos_dev *dev, const char *buf)
{
	return vqos_parse_bytes(dev, buf, &dev->cfg.offset);
}

static int vqos_parse_size(struct vqos_dev *dev, const char *buf)
{
	return vqos_parse_bytes(dev, buf, &dev->cfg.size);
}

static int vqos_parse_read_only(struct vqos_dev *dev, const char *buf)
{
	bool v, old = dev->cfg.read_only;
	int ret = kstrtobool(buf, &v);

	if (ret)
		return ret;
	dev->cfg.read_only = v;
	if (dev->file && v != old) {
		vqos_backend_close(dev);
		ret = vqos_backend_open(dev);
		if (ret) {
			dev->cfg.read_only = old;
			WARN_ON_ONCE(vqos_backend_open(dev));
		}
	}
	return ret;
}

VQOS_CFG_ATTR(queue_size, "%u", queue_size, vqos_parse_queue_size);
VQOS_CFG_ATTR(offset, "%llu", offset, vqos_parse_offset);
VQOS_CFG_ATTR(size, "%llu", size, vqos_parse_size);
VQOS_CFG_ATTR(read_only, "%d", read_only, vqos_parse_read_only);

static ssize_t num_queues_show(struct device *d,
			       struct device_attribute *attr, char *buf)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	ssize_t ret;

	mutex_lock(&dev->lock);
	ret = sysfs_emit(buf, "%u\n", dev->cfg.num_queues);
	mutex_unlock(&dev->lock);
	return ret;
}

/*
 * The bus driver sizes its side from vdpa->nvqs when it binds (vhost-vdpa
 * tells a VMM that many queues): change it only while none is bound.
 */
static ssize_t num_queues_store(struct device *d,
				struct device_attribute *attr,
				const char *buf, size_t count)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	u32 v;
	int ret = vqos_parse_u32_range(buf, 1, VQOS_MAX_QUEUES, &v);

	if (ret)
		return ret;
	device_lock(d);
	mutex_lock(&dev->lock);
	if (d->driver || dev->status) {
		ret = -EBUSY;
	} else {
		dev->cfg.num_queues = v;
		dev->nvqs = v;
		dev->vdpa.nvqs = v;
	}
	mutex_unlock(&dev->lock);
	device_unlock(d);
	return ret ? ret : count;
}
static DEVICE_ATTR_RW(num_queues);

static const char * const vqos_personalities[] = {
	[VQOS_PERS_VIRTIO_BLK]	= "virtio-blk",
	[VQOS_PERS_VQOS]	= "vqos",
};

static ssize_t personality_show(struct device *d,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  vqos_personalities[dev_to_vqos(d)->cfg.personality]);
}

static ssize_t personality_store(struct device *d,
				 struct device_attribute *attr,
				 const char *buf, size_t count)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	int i = sysfs_match_string(vqos_personalities, buf);

	if (i < 0)
		return i;
	mutex_lock(&dev->lock);
	if (dev->status)
		i = -EBUSY;
	else
		dev->cfg.personality = i;
	mutex_unlock(&dev->lock);
	return i < 0 ? i : count;
}
static DEVICE_ATTR_RW(personality);

static ssize_t backing_show(struct device *d, struct device_attribute *attr,
			    char *buf)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	ssize_t ret;

	mutex_lock(&dev->lock);
	ret = sysfs_emit(buf, "%s\n", dev->cfg.backing);
	mutex_unlock(&dev->lock);
	return ret;
}

static ssize_t backing_store(struct device *d, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	bool insert, closed = false;
	char *old;
	int ret = 0;

	if (count >= sizeof(dev->cfg.backing))
		return -ENAMETOOLONG;

	mutex_lock(&dev->lock);
	old = kstrdup(dev->cfg.backing, GFP_KERNEL);
	if (!old) {
		ret = -ENOMEM;
		goto out;
	}
	/* A running device only accepts media into an empty drive. */
	insert = dev->status && !dev->file;
	if (dev->status && !insert) {
		ret = -EBUSY;
		goto out;
	}
	strscpy(dev->cfg.backing, buf, sizeof(dev->cfg.backing));
	strim(dev->cfg.backing);
	/* Leading blanks: strim() returns a pointer we do not keep. */
	if (dev->cfg.backing[0] == ' ' || dev->cfg.backing[0] == '\t')
		ret = -EINVAL;
	if (!ret && dev->cfg.backing[0] && dev->cfg.backing[0] != '/')
		ret = -EINVAL;
	if (ret)
		goto restore;

	if (insert) {
		if (!dev->cfg.backing[0])
			goto out;
		/*
		 * Requests in flight (failing: there was no medium) and one
		 * held by the limiter survive the change: they complete to
		 * the used ring or start on the new medium.
		 */
		vqos_pause(dev);
	}
	vqos_backend_close(dev);
	closed = true;
	if (dev->cfg.backing[0])
		ret = vqos_backend_open(dev);
	if (insert) {
		if (!ret) {
			dev->generation++;
			spin_lock(&dev->cb_lock);
			if (dev->config_cb.callback)
				dev->config_cb.callback(dev->config_cb.private);
			spin_unlock(&dev->cb_lock);
		}
		vqos_unpause(dev);
	}
	if (!ret)
		goto out;
restore:
	strscpy(dev->cfg.backing, old, sizeof(dev->cfg.backing));
	/*
	 * The new store did not open: a device being configured gets its
	 * old one back (an inserted medium had none to go back to).
	 */
	if (closed && !insert && old[0] && vqos_backend_open(dev))
		dev_warn(d, "cannot reopen %s after a failed change\n", old);
out:
	mutex_unlock(&dev->lock);
	kfree(old);
	return ret ? ret : count;
}
static DEVICE_ATTR_RW(backing);

static ssize_t capacity_show(struct device *d, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(dev_to_vqos(d)->capacity));
}
static DEVICE_ATTR_RO(capacity);

static ssize_t direct_io_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	struct vqos_dev *dev = dev_to_vqos(d);

	return sysfs_emit(buf, "%d\n", dev->file ? dev->direct : -1);
}
static DEVICE_ATTR_RO(direct_io);

static ssize_t cpus_show(struct device *d, struct device_attribute *attr,
			 char *buf)
{
	struct task_struct *task = dev_to_vqos(d)->worker->task;

	return sysfs_emit(buf, "%*pbl\n", cpumask_pr_args(task->cpus_ptr));
}

static ssize_t cpus_store(struct device *d, struct device_attribute *attr,
			  const char *buf, size_t count)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	cpumask_var_t mask;
	int ret;

	if (!alloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;
	ret = cpulist_parse(buf, mask);
	if (!ret && !cpumask_intersects(mask, cpu_online_mask))
		ret = -EINVAL;
	if (!ret)
		ret = set_cpus_allowed_ptr(dev->worker->task, mask);
	free_cpumask_var(mask);
	return ret ? ret : count;
}
static DEVICE_ATTR_RW(cpus);

static ssize_t id_show(struct device *d, struct device_attribute *attr,
		       char *buf)
{
	return sysfs_emit(buf, "%u\n", dev_to_vqos(d)->id);
}
static DEVICE_ATTR_RO(id);

static struct attribute *vqos_cfg_attrs[] = {
	&dev_attr_id.attr,
	&dev_attr_backing.attr,
	&dev_attr_offset.attr,
	&dev_attr_size.attr,
	&dev_attr_num_queues.attr,
	&dev_attr_queue_size.attr,
	&dev_attr_read_only.attr,
	&dev_attr_personality.attr,
	&dev_attr_capacity.attr,
	&dev_attr_direct_io.attr,
	&dev_attr_cpus.attr,
	NULL,
};

static const struct attribute_group vqos_cfg_group = {
	.name = "vqos",
	.attrs = vqos_cfg_attrs,
};

/* Counters are u64 written by the worker only; a torn read is harmless. */
#define VQOS_STAT_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct device *d,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct vqos_dev *dev = dev_to_vqos(d);				\
									\
	return sysfs_emit(buf, "%llu\n", (u64)READ_ONCE(_expr));	\
}									\
static DEVICE_ATTR_RO(_name)

VQOS_STAT_ATTR(requests, dev->stats.reqs);
VQOS_STAT_ATTR(read_ops, dev->stats.read_ops);
VQOS_STAT_ATTR(write_ops, dev->stats.write_ops);
VQOS_STAT_ATTR(read_bytes, dev->stats.read_bytes);
VQOS_STAT_ATTR(write_bytes, dev->stats.write_bytes);
VQOS_STAT_ATTR(errors, dev->stats.errors);
VQOS_STAT_ATTR(io_errors, dev->stats.io_errors);
VQOS_STAT_ATTR(bounced, dev->stats.bounced);
VQOS_STAT_ATTR(ring_errors, dev->stats.ring_errors);
VQOS_STAT_ATTR(inflight, *(u32 *)&dev->inflight.counter);

static ssize_t refused_show(struct device *d, struct device_attribute *attr,
			    char *buf)
{
	struct vqos_dev *dev = dev_to_vqos(d);
	int i, len = 0;

	for (i = VQOS_BAD_NONE + 1; i < VQOS_BAD_NR; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n", vqos_bad_name(i),
				     READ_ONCE(dev->stats.bad[i]));
	return len;
}
static DEVICE_ATTR_RO(refused);

static struct attribute *vqos_stats_attrs[] = {
	&dev_attr_requests.attr,
	&dev_attr_read_ops.attr,
	&dev_attr_write_ops.attr,
	&dev_attr_read_bytes.attr,
	&dev_attr_write_bytes.attr,
	&dev_attr_errors.attr,
	&dev_attr_io_errors.attr,
	&dev_attr_bounced.attr,
	&dev_attr_ring_errors.attr,
	&dev_attr_inflight.attr,
	&dev_attr_refused.attr,
	NULL,
};

static const struct attribute_group vqos_stats_group = {
	.name = "stats",
	.attrs = vqos_stats_attrs,
};

const struct attribute_group *vqos_dev_groups[] = {
	&vqos_cfg_group,
	&vqos_stats_group,
	&vqos_qos_group,
	NULL,
};
