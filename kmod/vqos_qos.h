/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos QoS: the limiters of devices and groups, and their sysfs knobs.
 */
#ifndef _VQOS_QOS_H
#define _VQOS_QOS_H

#include <linux/hrtimer.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include "vqos_tb.h"

/**
 * struct vqos_qos - one limiter and its configuration
 * @lock: protects @lim; taken on the datapath only while a limit is set
 * @cfg_mutex: serialises configuration writes; protects @cfg
 * @lim: the token buckets
 * @cfg: configuration as set through sysfs, for read-back
 */
struct vqos_qos {
	spinlock_t lock;
	struct mutex cfg_mutex;
	struct vqos_limiter lim;
	struct vqos_limiter_cfg cfg;
};

/**
 * struct vqos_group - a budget shared by several devices (a VM's disks)
 * @kobj: /sys/devices/vqos/groups/<name>/
 * @qos: the group's limiter
 * @members: devices in the group, protected by vqos_groups_mutex
 * @nr_members: length of @members
 * @dead: being deleted: no device may join; under vqos_groups_mutex
 */
struct vqos_group {
	struct kobject kobj;
	struct vqos_qos qos;
	struct list_head members;
	unsigned int nr_members;
	bool dead;
};

struct vqos_dev;

void vqos_qos_init(struct vqos_qos *q);
u64 vqos_qos_admit(struct vqos_dev *dev, bool write, u64 bytes, u64 fetched,
		   u64 due, bool *shared);
void vqos_qos_abandon(struct vqos_dev *dev, bool write);
void vqos_qos_arm(struct vqos_dev *dev, u64 deadline);
void vqos_qos_changed(struct vqos_dev *dev);
enum hrtimer_restart vqos_qos_timer_fn(struct hrtimer *timer);
void vqos_qos_dev_init(struct vqos_dev *dev);
void vqos_qos_dev_exit(struct vqos_dev *dev);
void vqos_qos_telemetry(struct vqos_dev *dev, struct vqos_telemetry *t);
int vqos_groups_init(struct device *parent);
void vqos_groups_exit(void);

extern const struct attribute_group vqos_qos_group;

#endif /* _VQOS_QOS_H */
