// SPDX-License-Identifier: GPL-2.0
/*
 * vqos QoS glue: token-bucket limiters (vqos_tb.c) checked at dispatch,
 * hrtimer pacing, per-VM groups and the sysfs knobs.
 *
 * A request that does not fit stays with the worker (taken from its ring,
 * not yet started): the device takes nothing more from any of its rings,
 * so the guest sees back-pressure and order is kept, and an hrtimer fires
 * at the exact moment the deficit is repaid. There is no periodic tick.
 *
 * Locking: a device's worker takes dev->qos.lock, then the group's
 * qos.lock. Configuration writes take the limiter's cfg_mutex, then its
 * spinlock. Group membership is protected by vqos_groups_mutex, which the
 * groups' own attributes take; creating and deleting groups is serialised
 * by vqos_groups_kobj_mutex instead, so that kobject_del(), which waits
 * for those attributes, never runs under vqos_groups_mutex.
 */
#include <linux/kstrtox.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include "vqos.h"

static DEFINE_MUTEX(vqos_groups_mutex);
static DEFINE_MUTEX(vqos_groups_kobj_mutex);
static struct kset *vqos_groups_kset;

/**
 * vqos_qos_init() - an unlimited limiter
 * @q: the limiter
 */
void vqos_qos_init(struct vqos_qos *q)
{
	spin_lock_init(&q->lock);
	mutex_init(&q->cfg_mutex);
	vqos_limiter_init(&q->lim, ktime_get_ns());
}

/**
 * vqos_qos_admit() - may a read or write start now?
 * @dev: the device
 * @write: the request writes
 * @bytes: its data length
 * @fetched: when the request was taken from the ring (CLOCK_MONOTONIC ns)
 * @due: for a held request, the time it was due to fit (0 otherwise)
 * @shared: set if refused by a bucket that reads and writes share
 *
 * Called by the device's worker for every read and write. With no limit
 * set and no group it costs three loads. A new request is admitted as of
 * @fetched, a few microseconds ago: it saves a clock read per request,
 * and the buckets never go back in time (vqos_tb refills from the latest
 * time it has seen).
 *
 * A held request is admitted as of @due, not as of the moment the worker
 * ran after the timer: a bucket that is one request deep would otherwise
 * lose every wake-up latency to its depth cap, and the long-run rate would
 * fall short by latency/interval (10 % at 100 IOPS with 1 ms wake-ups). As
 * of @due the bucket held exactly enough, as with a perfect timer, so the
 * next request is due one interval after @due, and nothing more is given
 * than a perfect timer would have.
 *
 * Return: 0 if admitted (tokens taken from the device and its group), or
 * the CLOCK_MONOTONIC time in ns at which it will be.
 */
u64 vqos_qos_admit(struct vqos_dev *dev, bool write, u64 bytes, u64 fetched,
		   u64 due, bool *shared)
{
	struct vqos_qos *q = &dev->qos;
	enum vqos_lim_class cls;
	struct vqos_group *grp;
	u64 now, wait;

	*shared = false;
	if (likely(!READ_ONCE(q->lim.active) && !READ_ONCE(q->lim.throttled) &&
		   !READ_ONCE(dev->group)))
		return 0;

	now = due ? min(due, ktime_get_ns()) : fetched;
	spin_lock(&q->lock);
	grp = dev->group;
	if (grp) {
		/* Same lock class as q->lock; always taken inside it. */
		spin_lock_nested(&grp->qos.lock, SINGLE_DEPTH_NESTING);
		wait = vqos_limiter_admit2(&q->lim, &grp->qos.lim, write, bytes,
					   now, &cls);
		spin_unlock(&grp->qos.lock);
	} else {
		wait = vqos_limiter_admit(&q->lim, write, bytes, now, &cls);
	}
	*shared = wait && vqos_limiter_refused_shared(&q->lim);
	spin_unlock(&q->lock);
	return wait ? now + wait : 0;
}

/**
 * vqos_qos_abandon() - the requests held in one direction are dropped
 * @dev: the device's worker
 * @write: the direction
 *
 * Closes that direction's throttle interval (reset, queue disabled).
 */
void vqos_qos_abandon(struct vqos_dev *dev, bool write)
{
	spin_lock(&dev->qos.lock);
	vqos_limiter_unthrottle_dir(&dev->qos.lim, write, ktime_get_ns());
	spin_unlock(&dev->qos.lock);
}

/**
 * vqos_qos_changed() - the limits changed: retry every held request now
 * @dev: the device
 *
 * A held request's due time was computed with the old limits.
 */
void vqos_qos_changed(struct vqos_dev *dev)
{
	WRITE_ONCE(dev->qos_changed, true);
	vqos_kick(dev);
}

/**
 * vqos_qos_arm() - resume the worker at @deadline
 * @dev: the device, holding a request that did not fit
 * @deadline: CLOCK_MONOTONIC ns
 */
void vqos_qos_arm(struct vqos_dev *dev, u64 deadline)
{
	hrtimer_start(&dev->qos_timer, ns_to_ktime(deadline), HRTIMER_MODE_ABS);
}

/**
 * vqos_qos_timer_fn() - the deficit is repaid: run the worker
 * @timer: &vqos_dev.qos_timer
 *
 * Return: HRTIMER_NORESTART.
 */
enum hrtimer_restart vqos_qos_timer_fn(struct hrtimer *timer)
{
	vqos_kick(container_of(timer, struct vqos_dev, qos_timer));
	return HRTIMER_NORESTART;
}

/**
 * vqos_qos_telemetry() - fill the QoS part of the guest's telemetry
 * @dev: the device
 * @t: telemetry area, little-endian
 */
void vqos_qos_telemetry(struct vqos_dev *dev, struct vqos_telemetry *t)
{
	struct vqos_qos *q = &dev->qos;
	struct vqos_lim_stats st;
	struct vqos_group *grp;

	mutex_lock(&q->cfg_mutex);
	t->iops_limit = cpu_to_le64(q->cfg.tb[VQOS_IOPS_TOTAL].rate);
	t->bps_limit = cpu_to_le64(q->cfg.tb[VQOS_BPS_TOTAL].rate);
	t->iops_burst = cpu_to_le64(q->lim.tb[VQOS_IOPS_TOTAL].depth);
	t->bps_burst = cpu_to_le64(q->lim.tb[VQOS_BPS_TOTAL].depth);
	mutex_unlock(&q->cfg_mutex);

	spin_lock(&q->lock);
	vqos_limiter_stats(&q->lim, ktime_get_ns(), &st);
	grp = dev->group;
	if (grp) {
		t->group_iops_limit =
			cpu_to_le64(READ_ONCE(grp->qos.lim.tb[VQOS_IOPS_TOTAL].rate));
		t->group_bps_limit =
			cpu_to_le64(READ_ONCE(grp->qos.lim.tb[VQOS_BPS_TOTAL].rate));
	}
	spin_unlock(&q->lock);

	t->throttled_reqs = cpu_to_le64(st.throttled_ios);
	t->over_iops_us = cpu_to_le64(div_u64(st.throttled_ns[VQOS_CLS_IOPS],
					      NSEC_PER_USEC));
	t->over_bps_us = cpu_to_le64(div_u64(st.throttled_ns[VQOS_CLS_BPS],
					     NSEC_PER_USEC));
	t->over_group_iops_us =
		cpu_to_le64(div_u64(st.throttled_ns[VQOS_CLS_GRP_IOPS],
				    NSEC_PER_USEC));
	t->over_group_bps_us =
		cpu_to_le64(div_u64(st.throttled_ns[VQOS_CLS_GRP_BPS],
				    NSEC_PER_USEC));
}

/* ---- knobs, shared by devices and groups ---- */

enum vqos_knob_field { K_RATE, K_BURST, K_BURST_RATE, K_OTB, K_IOPS_SIZE };

struct vqos_knob {
	const char *name;
	enum vqos_lim_bucket tb;
	enum vqos_knob_field field;
};

static const struct vqos_knob vqos_knobs[] = {
	{ "iops_limit",		 VQOS_IOPS_TOTAL, K_RATE },
	{ "iops_read_limit",	 VQOS_IOPS_READ,  K_RATE },
	{ "iops_write_limit",	 VQOS_IOPS_WRITE, K_RATE },
	{ "iops_burst",		 VQOS_IOPS_TOTAL, K_BURST },
	{ "iops_burst_rate",	 VQOS_IOPS_TOTAL, K_BURST_RATE },
	{ "iops_one_time_burst", VQOS_IOPS_TOTAL, K_OTB },
	{ "bps_limit",		 VQOS_BPS_TOTAL,  K_RATE },
	{ "bps_read_limit",	 VQOS_BPS_READ,   K_RATE },
	{ "bps_write_limit",	 VQOS_BPS_WRITE,  K_RATE },
	{ "bps_burst",		 VQOS_BPS_TOTAL,  K_BURST },
	{ "bps_burst_rate",	 VQOS_BPS_TOTAL,  K_BURST_RATE },
	{ "bps_one_time_burst",	 VQOS_BPS_TOTAL,  K_OTB },
	{ "iops_size",		 0,		  K_IOPS_SIZE },
};

static u64 *vqos_knob_ptr(struct vqos_limiter_cfg *cfg,
			  const struct vqos_knob *k)
{
	struct vqos_tb_cfg *tb = &cfg->tb[k->tb];

	switch (k->field) {
	case K_RATE:
		return &tb->rate;
	case K_BURST:
		return &tb->burst;
	case K_BURST_RATE:
		return &tb->burst_rate;
	case K_OTB:
		return &tb->one_time_burst;
	default:
		return NULL;
	}
}

static const struct vqos_knob *vqos_knob_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vqos_knobs); i++)
		if (!strcmp(vqos_knobs[i].name, name))
			return &vqos_knobs[i];
	return NULL;
}

static ssize_t vqos_knob_show(struct vqos_qos *q, const char *name, char *buf)
{
	const struct vqos_knob *k = vqos_knob_find(name);
	u64 v;

	if (!k)
		return -ENOENT;
	mutex_lock(&q->cfg_mutex);
	v = k->field == K_IOPS_SIZE ? q->cfg.iops_size :
				      *vqos_knob_ptr(&q->cfg, k);
	mutex_unlock(&q->cfg_mutex);
	return sysfs_emit(buf, "%llu\n", v);
}

/*
 * Validate the whole new configuration first, then swap it in under the
 * spinlock: the datapath sees the old limits or the new ones, never a mix,
 * and the buckets keep their level (capped to the new depth).
 */
static int vqos_knob_store(struct vqos_qos *q, const char *name,
			   const char *buf)
{
	const struct vqos_knob *k = vqos_knob_find(name);
	struct vqos_limiter_cfg cfg;
	u64 v;
	int ret;

	if (!k)
		return -ENOENT;
	ret = kstrtou64(buf, 0, &v);
	if (ret)
		return ret;

	mutex_lock(&q->cfg_mutex);
	cfg = q->cfg;
	if (k->field == K_IOPS_SIZE) {
		if (v > U32_MAX) {
			ret = -ERANGE;
			goto out;
		}
		cfg.iops_size = v;
	} else {
		*vqos_knob_ptr(&cfg, k) = v;
		/* Removing a limit removes its burst settings with it. */
		if (k->field == K_RATE && !v)
			memset(&cfg.tb[k->tb], 0, sizeof(cfg.tb[k->tb]));
	}
	ret = vqos_limiter_cfg_check(&cfg);
	if (ret)
		goto out;
	spin_lock(&q->lock);
	ret = vqos_limiter_set(&q->lim, &cfg, ktime_get_ns());
	spin_unlock(&q->lock);
	if (!ret)
		q->cfg = cfg;
out:
	mutex_unlock(&q->cfg_mutex);
	return ret;
}

/* ---- device attributes: /sys/bus/vdpa/devices/<dev>/qos/ ---- */

static struct vqos_dev *qdev(struct device *d)
{
	return vdpa_to_vqos(dev_to_vdpa(d));
}

static ssize_t vqos_dev_knob_show(struct device *d,
				  struct device_attribute *attr, char *buf)
{
	return vqos_knob_show(&qdev(d)->qos, attr->attr.name, buf);
}

static ssize_t vqos_dev_knob_store(struct device *d,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	struct vqos_dev *dev = qdev(d);
	int ret = vqos_knob_store(&dev->qos, attr->attr.name, buf);

	if (ret)
		return ret;
	vqos_qos_changed(dev);
	return count;
}

#define VQOS_DEV_KNOB(_name)						\
	static struct device_attribute dev_attr_qos_##_name =		\
		__ATTR(_name, 0644, vqos_dev_knob_show, vqos_dev_knob_store)

VQOS_DEV_KNOB(iops_limit);
VQOS_DEV_KNOB(iops_read_limit);
VQOS_DEV_KNOB(iops_write_limit);
VQOS_DEV_KNOB(iops_burst);
VQOS_DEV_KNOB(iops_burst_rate);
VQOS_DEV_KNOB(iops_one_time_burst);
VQOS_DEV_KNOB(bps_limit);
VQOS_DEV_KNOB(bps_read_limit);
VQOS_DEV_KNOB(bps_write_limit);
VQOS_DEV_KNOB(bps_burst);
VQOS_DEV_KNOB(bps_burst_rate);
VQOS_DEV_KNOB(bps_one_time_burst);
VQOS_DEV_KNOB(iops_size);

static ssize_t throttle_stats_show(struct device *d,
				   struct device_attribute *attr, char *buf)
{
	struct vqos_dev *dev = qdev(d);
	struct vqos_telemetry t = {};
	unsigned int held;

	vqos_qos_telemetry(dev, &t);
	held = READ_ONCE(dev->parked[VQOS_WAIT_READ].nr) +
	       READ_ONCE(dev->parked[VQOS_WAIT_WRITE].nr);
	return sysfs_emit(buf,
			  "throttled_reqs %llu\nover_iops_us %llu\nover_bps_us %llu\nover_group_iops_us %llu\nover_group_bps_us %llu\nheld %u\n",
			  le64_to_cpu(t.throttled_reqs),
			  le64_to_cpu(t.over_iops_us),
			  le64_to_cpu(t.over_bps_us),
			  le64_to_cpu(t.over_group_iops_us),
			  le64_to_cpu(t.over_group_bps_us), held);
}
static DEVICE_ATTR_RO(throttle_stats);

static ssize_t vqos_dev_share_show(struct device *d,
				   struct device_attribute *attr, char *buf)
{
	return vqos_pool_share_show(qdev(d), attr->attr.name, buf);
}

static ssize_t vqos_dev_share_store(struct device *d,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	int ret = vqos_pool_share_store(qdev(d), attr->attr.name, buf);

	return ret ? ret : count;
}

#define VQOS_DEV_SHARE(_name)						\
	static struct device_attribute dev_attr_qos_##_name =		\
		__ATTR(_name, 0644, vqos_dev_share_show, vqos_dev_share_store)

VQOS_DEV_SHARE(pool_reserve);
VQOS_DEV_SHARE(pool_weight);
VQOS_DEV_SHARE(latency_target_us);

static ssize_t pool_show(struct device *d, struct device_attribute *attr,
			 char *buf)
{
	return vqos_pool_dev_show(qdev(d), buf);
}
static DEVICE_ATTR_RO(pool);

static ssize_t group_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	struct vqos_dev *dev = qdev(d);
	ssize_t ret;

	mutex_lock(&vqos_groups_mutex);
	ret = sysfs_emit(buf, "%s\n",
			 dev->group ? kobject_name(&dev->group->kobj) : "");
	mutex_unlock(&vqos_groups_mutex);
	return ret;
}

static struct vqos_group *vqos_group_find(const char *name)
{
	struct kobject *kobj = kset_find_obj(vqos_groups_kset, name);

	return kobj ? container_of(kobj, struct vqos_group, kobj) : NULL;
}

static void vqos_group_set(struct vqos_dev *dev, struct vqos_group *grp)
{
	lockdep_assert_held(&vqos_groups_mutex);
	if (dev->group) {
		list_del(&dev->group_node);
		dev->group->nr_members--;
		kobject_put(&dev->group->kobj);
	}
	if (grp) {
		list_add_tail(&dev->group_node, &grp->members);
		grp->nr_members++;
	}
	spin_lock(&dev->qos.lock);
	WRITE_ONCE(dev->group, grp);
	spin_unlock(&dev->qos.lock);
}

static ssize_t group_store(struct device *d, struct device_attribute *attr,
			   const char *buf, size_t count)
{
	struct vqos_dev *dev = qdev(d);
	struct vqos_group *grp = NULL;
	char name[NAME_MAX + 1];

	if (strscpy(name, buf, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	strim(name);
	mutex_lock(&vqos_groups_mutex);
	if (name[0]) {
		grp = vqos_group_find(name);	/* takes a reference */
		if (grp && grp->dead) {
			kobject_put(&grp->kobj);
			grp = NULL;
		}
		if (!grp) {
			mutex_unlock(&vqos_groups_mutex);
			return -ENOENT;
		}
	}
	vqos_group_set(dev, grp);
	mutex_unlock(&vqos_groups_mutex);
	vqos_qos_changed(dev);
	return count;
}
static DEVICE_ATTR_RW(group);

static struct attribute *vqos_qos_attrs[] = {
	&dev_attr_qos_iops_limit.attr,
	&dev_attr_qos_iops_read_limit.attr,
	&dev_attr_qos_iops_write_limit.attr,
	&dev_attr_qos_iops_burst.attr,
	&dev_attr_qos_iops_burst_rate.attr,
	&dev_attr_qos_iops_one_time_burst.attr,
	&dev_attr_qos_bps_limit.attr,
	&dev_attr_qos_bps_read_limit.attr,
	&dev_attr_qos_bps_write_limit.attr,
	&dev_attr_qos_bps_burst.attr,
	&dev_attr_qos_bps_burst_rate.attr,
	&dev_attr_qos_bps_one_time_burst.attr,
	&dev_attr_qos_iops_size.attr,
	&dev_attr_group.attr,
	&dev_attr_throttle_stats.attr,
	&dev_attr_qos_pool_reserve.attr,
	&dev_attr_qos_pool_weight.attr,
	&dev_attr_qos_latency_target_us.attr,
	&dev_attr_pool.attr,
	NULL,
};

const struct attribute_group vqos_qos_group = {
	.name = "qos",
	.attrs = vqos_qos_attrs,
};

/**
 * vqos_qos_dev_init() - QoS state of a new device
 * @dev: the device
 */
void vqos_qos_dev_init(struct vqos_dev *dev)
{
	vqos_qos_init(&dev->qos);
	hrtimer_init(&dev->qos_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	dev->qos_timer.function = vqos_qos_timer_fn;
	INIT_LIST_HEAD(&dev->group_node);
}

/**
 * vqos_qos_dev_exit() - leave the group, stop the timer
 * @dev: the device, quiesced
 */
void vqos_qos_dev_exit(struct vqos_dev *dev)
{
	hrtimer_cancel(&dev->qos_timer);
	mutex_lock(&vqos_groups_mutex);
	vqos_group_set(dev, NULL);
	mutex_unlock(&vqos_groups_mutex);
}

/* ---- groups: /sys/devices/vqos/groups/<name>/ ---- */

static struct vqos_group *to_group(struct kobject *kobj)
{
	return container_of(kobj, struct vqos_group, kobj);
}

static ssize_t vqos_grp_knob_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return vqos_knob_show(&to_group(kobj)->qos, attr->attr.name, buf);
}

static ssize_t vqos_grp_knob_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	struct vqos_group *grp = to_group(kobj);
	struct vqos_dev *dev;
	int ret = vqos_knob_store(&grp->qos, attr->attr.name, buf);

	if (ret)
		return ret;
	mutex_lock(&vqos_groups_mutex);
	list_for_each_entry(dev, &grp->members, group_node)
		vqos_qos_changed(dev);
	mutex_unlock(&vqos_groups_mutex);
	return count;
}

static ssize_t members_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	struct vqos_group *grp = to_group(kobj);
	struct vqos_dev *dev;
	int len = 0;

	mutex_lock(&vqos_groups_mutex);
	list_for_each_entry(dev, &grp->members, group_node)
		len += sysfs_emit_at(buf, len, "%s\n", dev_name(&dev->vdpa.dev));
	mutex_unlock(&vqos_groups_mutex);
	return len;
}

/*
 * The group's share of its members' telemetry: what its own buckets held
 * back. Summed over the current members; one that leaves takes its share.
 */
static ssize_t throttle_stats_show_grp(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	struct vqos_group *grp = to_group(kobj);
	u64 reqs = 0, iops_ns = 0, bps_ns = 0, now = ktime_get_ns();
	struct vqos_lim_stats st;
	unsigned int held = 0;
	struct vqos_dev *dev;
	int d;

	mutex_lock(&vqos_groups_mutex);
	list_for_each_entry(dev, &grp->members, group_node) {
		spin_lock(&dev->qos.lock);
		vqos_limiter_stats(&dev->qos.lim, now, &st);
		for (d = 0; d < 2; d++)
			if ((dev->qos.lim.throttled & BIT(d)) &&
			    dev->qos.lim.thr_cls[d] >= VQOS_CLS_GRP_IOPS)
				held += READ_ONCE(dev->parked[d].nr);
		spin_unlock(&dev->qos.lock);
		reqs += st.group_throttled_ios;
		iops_ns += st.throttled_ns[VQOS_CLS_GRP_IOPS];
		bps_ns += st.throttled_ns[VQOS_CLS_GRP_BPS];
	}
	mutex_unlock(&vqos_groups_mutex);
	return sysfs_emit(buf,
			  "throttled_reqs %llu\nover_iops_us %llu\nover_bps_us %llu\nheld %u\n",
			  reqs, div_u64(iops_ns, NSEC_PER_USEC),
			  div_u64(bps_ns, NSEC_PER_USEC), held);
}

#define VQOS_GRP_KNOB(_name)						\
	static struct kobj_attribute grp_attr_##_name =			\
		__ATTR(_name, 0644, vqos_grp_knob_show, vqos_grp_knob_store)

VQOS_GRP_KNOB(iops_limit);
VQOS_GRP_KNOB(iops_read_limit);
VQOS_GRP_KNOB(iops_write_limit);
VQOS_GRP_KNOB(iops_burst);
VQOS_GRP_KNOB(iops_burst_rate);
VQOS_GRP_KNOB(iops_one_time_burst);
VQOS_GRP_KNOB(bps_limit);
VQOS_GRP_KNOB(bps_read_limit);
VQOS_GRP_KNOB(bps_write_limit);
VQOS_GRP_KNOB(bps_burst);
VQOS_GRP_KNOB(bps_burst_rate);
VQOS_GRP_KNOB(bps_one_time_burst);
VQOS_GRP_KNOB(iops_size);
static struct kobj_attribute grp_attr_members = __ATTR_RO(members);
static struct kobj_attribute grp_attr_throttle_stats =
	__ATTR(throttle_stats, 0444, throttle_stats_show_grp, NULL);

static struct attribute *vqos_grp_attrs[] = {
	&grp_attr_iops_limit.attr,
	&grp_attr_iops_read_limit.attr,
	&grp_attr_iops_write_limit.attr,
	&grp_attr_iops_burst.attr,
	&grp_attr_iops_burst_rate.attr,
	&grp_attr_iops_one_time_burst.attr,
	&grp_attr_bps_limit.attr,
	&grp_attr_bps_read_limit.attr,
	&grp_attr_bps_write_limit.attr,
	&grp_attr_bps_burst.attr,
	&grp_attr_bps_burst_rate.attr,
	&grp_attr_bps_one_time_burst.attr,
	&grp_attr_iops_size.attr,
	&grp_attr_members.attr,
	&grp_attr_throttle_stats.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vqos_grp);

static void vqos_group_release(struct kobject *kobj)
{
	struct vqos_group *grp = to_group(kobj);

	mutex_destroy(&grp->qos.cfg_mutex);
	kfree(grp);
}

static const struct kobj_type vqos_group_ktype = {
	.release = vqos_group_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = vqos_grp_groups,
};

static int vqos_group_name_ok(const char *name)
{
	const char *p;

	if (!name[0] || strlen(name) > 64)
		return -EINVAL;
	/* Directory names no path can reach. */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	for (p = name; *p; p++)
		if (!isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return -EINVAL;
	return 0;
}

static ssize_t group_add_store(struct device *d, struct device_attribute *attr,
			       const char *buf, size_t count)
{
	struct vqos_group *grp;
	char name[NAME_MAX + 1];
	int ret;

	if (strscpy(name, buf, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	strim(name);
	ret = vqos_group_name_ok(name);
	if (ret)
		return ret;

	mutex_lock(&vqos_groups_kobj_mutex);
	mutex_lock(&vqos_groups_mutex);
	grp = vqos_group_find(name);
	if (grp) {
		kobject_put(&grp->kobj);
		ret = -EEXIST;
		goto out;
	}
	grp = kzalloc(sizeof(*grp), GFP_KERNEL);
	if (!grp) {
		ret = -ENOMEM;
		goto out;
	}
	vqos_qos_init(&grp->qos);
	INIT_LIST_HEAD(&grp->members);
	grp->kobj.kset = vqos_groups_kset;
	ret = kobject_init_and_add(&grp->kobj, &vqos_group_ktype, NULL, "%s",
				   name);
	if (ret)
		kobject_put(&grp->kobj);
	else
		kobject_uevent(&grp->kobj, KOBJ_ADD);
out:
	mutex_unlock(&vqos_groups_mutex);
	mutex_unlock(&vqos_groups_kobj_mutex);
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(group_add);

static ssize_t group_del_store(struct device *d, struct device_attribute *attr,
			       const char *buf, size_t count)
{
	struct vqos_group *grp;
	char name[NAME_MAX + 1];
	int ret = 0;

	if (strscpy(name, buf, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	strim(name);
	mutex_lock(&vqos_groups_kobj_mutex);
	mutex_lock(&vqos_groups_mutex);
	grp = vqos_group_find(name);
	if (!grp) {
		ret = -ENOENT;
	} else if (grp->nr_members) {
		kobject_put(&grp->kobj);
		ret = -EBUSY;
		grp = NULL;
	} else {
		/* No device can join it from now on. */
		grp->dead = true;
		kobject_put(&grp->kobj);	/* vqos_group_find()'s */
	}
	mutex_unlock(&vqos_groups_mutex);
	if (grp) {
		/* Waits for readers of its attributes, which take the mutex. */
		kobject_del(&grp->kobj);
		kobject_put(&grp->kobj);
	}
	mutex_unlock(&vqos_groups_kobj_mutex);
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(group_del);

static struct attribute *vqos_parent_attrs[] = {
	&dev_attr_group_add.attr,
	&dev_attr_group_del.attr,
	NULL,
};

static const struct attribute_group vqos_parent_group = {
	.attrs = vqos_parent_attrs,
};

static struct device *vqos_parent;

/**
 * vqos_groups_init() - create /sys/devices/vqos/{groups/,group_add,group_del}
 * @parent: the management device's parent device
 *
 * Return: 0 or -errno.
 */
int vqos_groups_init(struct device *parent)
{
	int ret;

	vqos_groups_kset = kset_create_and_add("groups", NULL, &parent->kobj);
	if (!vqos_groups_kset)
		return -ENOMEM;
	ret = sysfs_create_group(&parent->kobj, &vqos_parent_group);
	if (ret) {
		kset_unregister(vqos_groups_kset);
		return ret;
	}
	vqos_parent = parent;
	return 0;
}

/**
 * vqos_groups_exit() - remove every group; devices are gone already
 */
void vqos_groups_exit(void)
{
	struct kobject *kobj, *tmp;

	sysfs_remove_group(&vqos_parent->kobj, &vqos_parent_group);
	/* Nothing else adds or removes groups meanwhile. */
	mutex_lock(&vqos_groups_kobj_mutex);
	list_for_each_entry_safe(kobj, tmp, &vqos_groups_kset->list, entry) {
		kobject_del(kobj);
		kobject_put(kobj);
	}
	mutex_unlock(&vqos_groups_kobj_mutex);
	kset_unregister(vqos_groups_kset);
}
