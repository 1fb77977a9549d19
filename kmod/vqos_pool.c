// SPDX-License-Identifier: GPL-2.0
/*
 * vqos pools: the devices whose backing store is the same inode (one block
 * device, or one file) form a pool, found when a device opens its backing
 * store. The pool lets at most `depth` requests be in flight on the
 * backing, and its scheduler (vqos_sched.c, pure logic) decides which
 * device's request takes a free slot: reservations first, then weights,
 * with a latency target clamping the unprotected devices. Every request
 * that touches the backing store holds a slot from admission
 * (vqos_admit.c) to the backend's completion.
 *
 * sysfs: /sys/devices/vqos/pools/<name>/ shows a pool and sets its depth;
 * a device's shares are in its qos/ directory (pool_reserve, pool_weight,
 * latency_target_us). Documented in the sysfs ABI.
 *
 * Locking: vqos_pools_mutex protects the list of pools and membership;
 * each pool's spinlock (irq-safe: completions call vqos_pool_put() from
 * any context) protects its scheduler and member list. A pool's own
 * attributes take only its spinlock, so removing a pool's kobject under
 * vqos_pools_mutex never waits for them. A device joins and leaves only
 * while no request of it is admitted or in flight, so its worker and its
 * completions read dev->pool without a lock.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include "vqos.h"

/**
 * struct vqos_pool - devices sharing one backing store
 * @kobj: /sys/devices/vqos/pools/<name>/
 * @node: in vqos_pools
 * @inode: the backing store (its f_mapping->host), the pool's key
 * @lock: protects @sched and @devs
 * @enabled: slots are counted and shared; off, every request starts at
 *	once (what vqos did without pools), for comparison and as an escape
 * @sched: the scheduler
 * @devs: member devices, through &vqos_dev.pool_node
 */
struct vqos_pool {
	struct kobject kobj;
	struct list_head node;
	struct inode *inode;
	spinlock_t lock;
	bool enabled;
	struct vqos_sched sched;
	struct list_head devs;
};

static DEFINE_MUTEX(vqos_pools_mutex);
static LIST_HEAD(vqos_pools);
static struct kset *vqos_pools_kset;

static struct vqos_pool *to_pool(struct kobject *kobj)
{
	return container_of(kobj, struct vqos_pool, kobj);
}

/* Wake the workers of the devices the scheduler just granted a slot. */
static void vqos_pool_wake(struct vqos_pool *p)
{
	struct vqos_sched_member *m;

	lockdep_assert_held(&p->lock);
	while ((m = vqos_sched_next_grant(&p->sched)))
		vqos_kick(container_of(m, struct vqos_dev, pool_member));
}

/**
 * vqos_pool_get() - a slot in the device's pool for one request
 * @dev: the device's worker
 * @now: CLOCK_MONOTONIC ns
 * @slot: set if the request holds a slot (give it back: vqos_pool_put())
 *
 * A device without a pool (no backing store) needs no slot.
 *
 * Return: true if the request may start now; false if the device now
 * waits for a slot, and the pool will kick its worker when it has one.
 */
bool vqos_pool_get(struct vqos_dev *dev, u64 now, bool *slot)
{
	struct vqos_pool *p = READ_ONCE(dev->pool);
	unsigned long flags;
	bool ok;

	*slot = false;
	if (!p)
		return true;
	spin_lock_irqsave(&p->lock, flags);
	if (p->enabled) {
		ok = vqos_sched_get(&p->sched, &dev->pool_member, now);
		*slot = ok;
	} else {
		/* Turned off while it waited: drop the claim, and a grant. */
		if (vqos_sched_member_waiting(&dev->pool_member) ||
		    dev->pool_member.granted)
			vqos_sched_cancel(&p->sched, &dev->pool_member, now);
		ok = true;
	}
	spin_unlock_irqrestore(&p->lock, flags);
	return ok;
}

/**
 * vqos_pool_put() - give a slot back
 * @dev: the device
 * @now: CLOCK_MONOTONIC ns
 * @lat_ns: the request's latency since it passed its limits (slot wait
 *	and backing store), for the latency target
 * @svc_ns: its time on the backing store
 *
 * Any context, in an RCU read section (a device woken here cannot be
 * freed meanwhile, see vqos_free()).
 */
void vqos_pool_put(struct vqos_dev *dev, u64 now, u64 lat_ns, u64 svc_ns)
{
	struct vqos_pool *p = READ_ONCE(dev->pool);
	unsigned long flags;

	if (WARN_ON_ONCE(!p))
		return;
	spin_lock_irqsave(&p->lock, flags);
	if (vqos_sched_put(&p->sched, &dev->pool_member, now, lat_ns, svc_ns))
		vqos_pool_wake(p);
	spin_unlock_irqrestore(&p->lock, flags);
}

/**
 * vqos_pool_cancel() - the device no longer waits for a slot
 * @dev: the device; called by its worker (its requests waiting for one were
 *	dropped) or by a config op with the worker paused (parked requests,
 *	if any, ask again when it resumes)
 */
void vqos_pool_cancel(struct vqos_dev *dev)
{
	struct vqos_pool *p = READ_ONCE(dev->pool);
	unsigned long flags;

	if (!p)
		return;
	spin_lock_irqsave(&p->lock, flags);
	vqos_sched_cancel(&p->sched, &dev->pool_member, ktime_get_ns());
	vqos_pool_wake(p);
	spin_unlock_irqrestore(&p->lock, flags);
}

/* ---- /sys/devices/vqos/pools/<name>/ ---- */

static ssize_t members_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	struct vqos_pool *p = to_pool(kobj);
	struct vqos_dev *dev;
	int len = 0;

	spin_lock_irq(&p->lock);
	list_for_each_entry(dev, &p->devs, pool_node)
		len += sysfs_emit_at(buf, len, "%s\n", dev_name(&dev->vdpa.dev));
	spin_unlock_irq(&p->lock);
	return len;
}

static ssize_t depth_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	struct vqos_pool *p = to_pool(kobj);
	u32 depth;

	spin_lock_irq(&p->lock);
	depth = p->sched.cfg.depth;
	spin_unlock_irq(&p->lock);
	return sysfs_emit(buf, "%u\n", depth);
}

static ssize_t depth_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	struct vqos_pool *p = to_pool(kobj);
	struct vqos_sched_cfg cfg;
	u32 v;
	int ret = kstrtou32(buf, 0, &v);

	if (ret)
		return ret;
	if (!v)
		return -EINVAL;
	spin_lock_irq(&p->lock);
	cfg = p->sched.cfg;
	cfg.depth = v;
	ret = vqos_sched_set(&p->sched, &cfg, ktime_get_ns());
	if (!ret)
		vqos_pool_wake(p);
	spin_unlock_irq(&p->lock);
	return ret ? ret : count;
}

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_pool(kobj)->enabled));
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	struct vqos_pool *p = to_pool(kobj);
	struct vqos_dev *dev;
	bool v;
	int ret = kstrtobool(buf, &v);

	if (ret)
		return ret;
	spin_lock_irq(&p->lock);
	WRITE_ONCE(p->enabled, v);
	/* Devices waiting for a slot start at once now. */
	list_for_each_entry(dev, &p->devs, pool_node)
		vqos_kick(dev);
	spin_unlock_irq(&p->lock);
	return count;
}

static ssize_t window_us_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	struct vqos_pool *p = to_pool(kobj);
	u64 win;

	spin_lock_irq(&p->lock);
	win = p->sched.cfg.win_ns;
	spin_unlock_irq(&p->lock);
	return sysfs_emit(buf, "%llu\n", div_u64(win, NSEC_PER_USEC));
}

static ssize_t window_us_store(struct kobject *kobj,
			       struct kobj_attribute *attr, const char *buf,
			       size_t count)
{
	struct vqos_pool *p = to_pool(kobj);
	struct vqos_sched_cfg cfg;
	u64 v;
	int ret = kstrtou64(buf, 0, &v);

	if (ret)
		return ret;
	if (!v || v > div_u64(VQOS_SCHED_WIN_MAX, NSEC_PER_USEC))
		return -ERANGE;
	spin_lock_irq(&p->lock);
	cfg = p->sched.cfg;
	cfg.win_ns = v * NSEC_PER_USEC;
	ret = vqos_sched_set(&p->sched, &cfg, ktime_get_ns());
	spin_unlock_irq(&p->lock);
	return ret ? ret : count;
}

static ssize_t stats_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	struct vqos_pool *p = to_pool(kobj);
	struct vqos_sched_stats st;

	spin_lock_irq(&p->lock);
	vqos_sched_stats(&p->sched, &st);
	spin_unlock_irq(&p->lock);
	return sysfs_emit(buf,
			  "members %u\ndepth %u\ninflight %u\nreserved %u\nshared %u\nunprotected_limit %u\nwaiting %u\nservice_us %llu\ngrants %llu\ndeferred %llu\nwaits %llu\nwindows %llu\nclamp_dec %llu\nclamp_inc %llu\nclamp_reset %llu\n",
			  st.members, st.depth, st.inflight, st.reserved,
			  st.shared, st.unprot_limit, st.waiting,
			  div_u64(st.svc_ns, NSEC_PER_USEC), st.grants,
			  st.deferred, st.waits, st.windows, st.clamp_dec,
			  st.clamp_inc, st.clamp_reset);
}

static struct kobj_attribute pool_attr_members = __ATTR_RO(members);
static struct kobj_attribute pool_attr_depth = __ATTR_RW(depth);
static struct kobj_attribute pool_attr_enabled = __ATTR_RW(enabled);
static struct kobj_attribute pool_attr_window_us = __ATTR_RW(window_us);
static struct kobj_attribute pool_attr_stats = __ATTR_RO(stats);

static struct attribute *vqos_pool_attrs[] = {
	&pool_attr_members.attr,
	&pool_attr_depth.attr,
	&pool_attr_enabled.attr,
	&pool_attr_window_us.attr,
	&pool_attr_stats.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vqos_pool);

static void vqos_pool_release(struct kobject *kobj)
{
	kfree(to_pool(kobj));
}

static const struct kobj_type vqos_pool_ktype = {
	.release = vqos_pool_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = vqos_pool_groups,
};

/*
 * The depth a new pool allows: what the block device under the backing
 * store runs in parallel (its tags, over the hardware queues that serve
 * reads and writes), so that a slot the pool keeps free is a free tag on
 * the device. A file on a filesystem without one gets
 * VQOS_POOL_FILE_DEPTH.
 */
#define VQOS_POOL_FILE_DEPTH	128

static u32 vqos_pool_default_depth(struct inode *inode)
{
	struct block_device *bdev = S_ISBLK(inode->i_mode) ? I_BDEV(inode) :
				    inode->i_sb->s_bdev;
	struct request_queue *q = bdev ? bdev_get_queue(bdev) : NULL;
	const struct blk_mq_tag_set *set;
	const struct blk_mq_queue_map *def, *rd;
	unsigned int nr;

	if (!q || !queue_is_mq(q) || !q->tag_set)
		return VQOS_POOL_FILE_DEPTH;
	set = q->tag_set;
	/*
	 * Only the queues our reads and writes reach: not poll queues (a
	 * null_blk of depth 1 has a poll queue too), and read queues only
	 * where they are queues of their own.
	 */
	def = &set->map[HCTX_TYPE_DEFAULT];
	rd = &set->map[HCTX_TYPE_READ];
	nr = def->nr_queues;
	if (set->nr_maps > HCTX_TYPE_READ && rd->nr_queues &&
	    rd->queue_offset != def->queue_offset)
		nr += rd->nr_queues;
	if (set->flags & BLK_MQ_F_TAG_HCTX_SHARED)
		nr = 1;
	return clamp_t(u64, (u64)set->queue_depth * max(nr, 1U), 1,
		       VQOS_SCHED_DEPTH_MAX);
}

static struct vqos_pool *vqos_pool_create(struct vqos_dev *dev,
					  struct inode *inode)
{
	struct vqos_sched_cfg cfg = { .depth = vqos_pool_default_depth(inode) };
	struct vqos_pool *p = kzalloc(sizeof(*p), GFP_KERNEL);
	int ret;

	if (!p)
		return ERR_PTR(-ENOMEM);
	p->inode = inode;
	p->enabled = true;
	spin_lock_init(&p->lock);
	INIT_LIST_HEAD(&p->devs);
	vqos_sched_init(&p->sched, ktime_get_ns());
	WARN_ON_ONCE(vqos_sched_set(&p->sched, &cfg, ktime_get_ns()));
	p->kobj.kset = vqos_pools_kset;
	if (S_ISBLK(inode->i_mode))
		ret = kobject_init_and_add(&p->kobj, &vqos_pool_ktype, NULL,
					   "bdev-%u:%u", MAJOR(inode->i_rdev),
					   MINOR(inode->i_rdev));
	else
		ret = kobject_init_and_add(&p->kobj, &vqos_pool_ktype, NULL,
					   "file-%u:%u-%lu",
					   MAJOR(inode->i_sb->s_dev),
					   MINOR(inode->i_sb->s_dev),
					   inode->i_ino);
	if (ret) {
		kobject_put(&p->kobj);
		return ERR_PTR(ret);
	}
	list_add_tail(&p->node, &vqos_pools);
	kobject_uevent(&p->kobj, KOBJ_ADD);
	return p;
}

static void vqos_pool_destroy(struct vqos_pool *p)
{
	list_del(&p->node);
	kobject_del(&p->kobj);
	kobject_put(&p->kobj);
}

/**
 * vqos_pool_join() - enter the pool of the device's backing store
 * @dev: the device, with @dev->file just opened; no request admitted or
 *	in flight
 *
 * Creates the pool if the device is the first on this backing store.
 *
 * Return: 0, or -errno (-EINVAL: the pool cannot reserve the device's
 * pool_reserve slots).
 */
int vqos_pool_join(struct vqos_dev *dev)
{
	struct inode *inode = dev->file->f_mapping->host;
	struct vqos_pool *p;
	int ret;

	mutex_lock(&vqos_pools_mutex);
	list_for_each_entry(p, &vqos_pools, node)
		if (p->inode == inode)
			goto found;
	p = vqos_pool_create(dev, inode);
	if (IS_ERR(p)) {
		ret = PTR_ERR(p);
		goto out;
	}
found:
	spin_lock_irq(&p->lock);
	ret = vqos_sched_add(&p->sched, &dev->pool_member, &dev->pool_cfg,
			     ktime_get_ns());
	if (!ret)
		list_add_tail(&dev->pool_node, &p->devs);
	spin_unlock_irq(&p->lock);
	if (!ret)
		WRITE_ONCE(dev->pool, p);
	else if (list_empty(&p->devs))
		vqos_pool_destroy(p);
out:
	mutex_unlock(&vqos_pools_mutex);
	return ret;
}

/**
 * vqos_pool_leave() - leave the device's pool, if any
 * @dev: the device; no request admitted or in flight
 *
 * The last device out removes the pool.
 */
void vqos_pool_leave(struct vqos_dev *dev)
{
	struct vqos_pool *p = dev->pool;
	bool empty;

	if (!p)
		return;
	mutex_lock(&vqos_pools_mutex);
	spin_lock_irq(&p->lock);
	vqos_sched_cancel(&p->sched, &dev->pool_member, ktime_get_ns());
	WARN_ON_ONCE(vqos_sched_remove(&p->sched, &dev->pool_member,
				       ktime_get_ns()));
	list_del(&dev->pool_node);
	empty = list_empty(&p->devs);
	vqos_pool_wake(p);
	spin_unlock_irq(&p->lock);
	WRITE_ONCE(dev->pool, NULL);
	if (empty)
		vqos_pool_destroy(p);
	mutex_unlock(&vqos_pools_mutex);
}

/* ---- a device's shares: /sys/bus/vdpa/devices/<dev>/qos/ ---- */

/*
 * Apply @cfg to the device's membership (validated against its pool), or
 * keep it for when it joins one.
 */
static int vqos_pool_member_set(struct vqos_dev *dev,
				const struct vqos_sched_member_cfg *cfg)
{
	struct vqos_pool *p;
	int ret;

	mutex_lock(&vqos_pools_mutex);
	p = dev->pool;
	if (p) {
		spin_lock_irq(&p->lock);
		ret = vqos_sched_member_set(&p->sched, &dev->pool_member, cfg,
					    ktime_get_ns());
		if (!ret)
			vqos_pool_wake(p);
		spin_unlock_irq(&p->lock);
	} else {
		ret = vqos_sched_member_cfg_check(NULL, NULL, cfg);
	}
	if (!ret)
		dev->pool_cfg = *cfg;
	mutex_unlock(&vqos_pools_mutex);
	return ret;
}

/**
 * vqos_pool_share_show() - read one of a device's shares
 * @dev: the device
 * @name: pool_reserve, pool_weight or latency_target_us
 * @buf: sysfs buffer
 *
 * Return: bytes written, or -ENOENT for another name.
 */
ssize_t vqos_pool_share_show(struct vqos_dev *dev, const char *name,
			     char *buf)
{
	struct vqos_sched_member_cfg cfg;
	u64 v;

	mutex_lock(&vqos_pools_mutex);
	cfg = dev->pool_cfg;
	mutex_unlock(&vqos_pools_mutex);
	if (!strcmp(name, "pool_reserve"))
		v = cfg.reserve;
	else if (!strcmp(name, "pool_weight"))
		v = cfg.weight;
	else if (!strcmp(name, "latency_target_us"))
		v = div_u64(cfg.lat_target_ns, NSEC_PER_USEC);
	else
		return -ENOENT;
	return sysfs_emit(buf, "%llu\n", v);
}

/**
 * vqos_pool_share_store() - set one of a device's shares, live
 * @dev: the device
 * @name: pool_reserve, pool_weight or latency_target_us
 * @buf: the value, decimal or 0x
 *
 * Return: 0, or -errno with nothing changed (-EINVAL: the pool's
 * reservations would exceed its depth, or not a number; -ERANGE).
 */
int vqos_pool_share_store(struct vqos_dev *dev, const char *name,
			  const char *buf)
{
	struct vqos_sched_member_cfg cfg;
	u64 v;
	int ret = kstrtou64(buf, 0, &v);

	if (ret)
		return ret;
	mutex_lock(&vqos_pools_mutex);
	cfg = dev->pool_cfg;
	mutex_unlock(&vqos_pools_mutex);
	if (!strcmp(name, "pool_reserve")) {
		if (v > U32_MAX)
			return -ERANGE;
		cfg.reserve = v;
	} else if (!strcmp(name, "pool_weight")) {
		if (v > U32_MAX)
			return -ERANGE;
		cfg.weight = v;
	} else if (!strcmp(name, "latency_target_us")) {
		if (v > div_u64(VQOS_SCHED_LAT_MAX, NSEC_PER_USEC))
			return -ERANGE;
		cfg.lat_target_ns = v * NSEC_PER_USEC;
	} else {
		return -ENOENT;
	}
	return vqos_pool_member_set(dev, &cfg);
}

/**
 * vqos_pool_dev_show() - the device's pool and what it went through there
 * @dev: the device
 * @buf: sysfs buffer
 *
 * Return: bytes written.
 */
ssize_t vqos_pool_dev_show(struct vqos_dev *dev, char *buf)
{
	struct vqos_sched_member_stats st = {};
	const char *name = "";
	struct vqos_pool *p;
	ssize_t len;

	mutex_lock(&vqos_pools_mutex);
	p = dev->pool;
	if (p) {
		name = kobject_name(&p->kobj);
		spin_lock_irq(&p->lock);
		vqos_sched_member_stats(&dev->pool_member, ktime_get_ns(), &st);
		spin_unlock_irq(&p->lock);
	}
	len = sysfs_emit(buf,
			 "pool %s\nios %llu\nwaits %llu\nwait_us %llu\nlatency_windows %llu\nlatency_missed %llu\n",
			 name, st.ios, st.waits,
			 div_u64(st.wait_ns, NSEC_PER_USEC), st.lat_windows,
			 st.lat_missed);
	mutex_unlock(&vqos_pools_mutex);
	return len;
}

/**
 * vqos_pool_dev_init() - pool state of a new device
 * @dev: the device
 */
void vqos_pool_dev_init(struct vqos_dev *dev)
{
	vqos_sched_member_init(&dev->pool_member);
	dev->pool_cfg = (struct vqos_sched_member_cfg){
		.weight = VQOS_SCHED_WEIGHT_DEFAULT,
	};
	INIT_LIST_HEAD(&dev->pool_node);
}

/**
 * vqos_pools_init() - create /sys/devices/vqos/pools/
 * @parent: the management device's parent device
 *
 * Return: 0 or -errno.
 */
int vqos_pools_init(struct device *parent)
{
	vqos_pools_kset = kset_create_and_add("pools", NULL, &parent->kobj);
	return vqos_pools_kset ? 0 : -ENOMEM;
}

/**
 * vqos_pools_exit() - remove /sys/devices/vqos/pools/; devices are gone
 */
void vqos_pools_exit(void)
{
	WARN_ON_ONCE(!list_empty(&vqos_pools));
	kset_unregister(vqos_pools_kset);
}
