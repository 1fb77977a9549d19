/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos token-bucket rate limiter: pure logic, no clock, no locks, no memory.
 *
 * The caller passes the time (@now, ns from a monotonic clock) to every call
 * and serialises all calls on one bucket or limiter. Nothing here allocates,
 * sleeps or prints, so it runs in any context and in a userspace harness.
 *
 * Fixed point: a bucket's level is kept in nano-units (1 unit = 10^9
 * nano-units) in an s64. Refilling for @elapsed ns at @rate units/s adds
 * exactly @elapsed * @rate nano-units: no division, no rounding, so the
 * long-run rate is exact whatever the call pattern. Negative levels are debt.
 *
 * Ranges (vqos_tb_cfg_check() rejects anything outside with -ERANGE):
 *   rate, burst_rate   1 .. VQOS_TB_RATE_MAX  (2^40 ~ 1.1e12 units/s)
 *   burst (depth)      1 .. VQOS_TB_DEPTH_MAX (2^33 ~ 8.6e9 units)
 * A single request's cost is clamped to VQOS_TB_COST_MAX (2^33 units). With
 * these, every level lies in [-2^33 * 10^9, 2^33 * 10^9], inside an s64, and
 * every difference of two levels fits a u64.
 */
#ifndef _VQOS_TB_H
#define _VQOS_TB_H

#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/types.h>

#define VQOS_TB_NU		1000000000ULL	/* nano-units per unit */
#define VQOS_TB_RATE_MAX	BIT_ULL(40)	/* units/s */
#define VQOS_TB_DEPTH_MAX	BIT_ULL(33)	/* units */
#define VQOS_TB_COST_MAX	BIT_ULL(33)	/* units; larger costs are clamped */
#define VQOS_TB_DEFAULT_DEPTH_DIV	10	/* default depth: 100 ms of rate */
#define VQOS_TB_PEAK_DEPTH_DIV		1000	/* peak bucket: 1 ms of burst_rate */

/**
 * struct vqos_tb_cfg - configuration of one token bucket
 * @rate: sustained rate in units per second; 0 = unlimited, and then every
 *	other field must be 0 too.
 * @burst: bucket depth in units; 0 = default, max(@rate / 10, 1), i.e.
 *	100 ms worth of @rate (clamped to VQOS_TB_DEPTH_MAX), as QEMU's
 *	throttle defaults to: shallower, a guest well below its rate is held
 *	by its own Poisson bursts.
 * @burst_rate: cap in units/s on how fast a full bucket may be drained;
 *	0 = no cap, else must be >= @rate. Enforced by a second bucket of depth
 *	max(@burst_rate / 1000, 1) (1 ms worth) refilled at @burst_rate; every
 *	request, including what the one-time burst pays for, must fit both.
 * @one_time_burst: extra units spent before the bucket and never refilled.
 *	Re-armed by vqos_tb_set() only when this value changes.
 */
struct vqos_tb_cfg {
	u64 rate;
	u64 burst;
	u64 burst_rate;
	u64 one_time_burst;
};

/**
 * struct vqos_tb - one token bucket (plus its optional peak-rate bucket)
 * @rate: refill rate in units/s; 0 = unlimited (the bucket is not checked)
 * @peak_rate: burst_rate in units/s; 0 = no peak bucket
 * @level: tokens in nano-units, <= @depth_nu; negative = debt
 * @peak_level: tokens of the peak bucket in nano-units
 * @depth: bucket depth in units
 * @peak_depth: peak bucket depth in units
 * @depth_nu: @depth in nano-units (cached so the hot path does not multiply)
 * @peak_depth_nu: @peak_depth in nano-units
 * @otb: one-time burst left, in units
 * @last: time in ns up to which @level and @peak_level are refilled
 * @cfg: the configuration as last set, for read-back
 *
 * Treat as opaque: use vqos_tb_*() to change or read it.
 */
struct vqos_tb {
	u64 rate;
	u64 peak_rate;
	s64 level;
	s64 peak_level;
	u64 depth;
	u64 peak_depth;
	s64 depth_nu;
	s64 peak_depth_nu;
	u64 otb;
	u64 last;
	struct vqos_tb_cfg cfg;
};

void vqos_tb_init(struct vqos_tb *tb, u64 now);
int vqos_tb_cfg_check(const struct vqos_tb_cfg *cfg);
int vqos_tb_set(struct vqos_tb *tb, const struct vqos_tb_cfg *cfg, u64 now);
u64 vqos_tb_wait(const struct vqos_tb *tb, u64 cost, u64 now);
void vqos_tb_charge(struct vqos_tb *tb, u64 cost, u64 now);
u64 vqos_tb_admit(struct vqos_tb *tb, u64 cost, u64 now);
s64 vqos_tb_level_nu(const struct vqos_tb *tb, u64 now);

/**
 * enum vqos_lim_bucket - index of a bucket in a limiter
 * @VQOS_IOPS_TOTAL: operations per second, reads and writes together
 * @VQOS_IOPS_READ: operations per second, reads only
 * @VQOS_IOPS_WRITE: operations per second, writes only
 * @VQOS_BPS_TOTAL: bytes per second, reads and writes together
 * @VQOS_BPS_READ: bytes per second, reads only
 * @VQOS_BPS_WRITE: bytes per second, writes only
 * @VQOS_LIM_NR_TB: number of buckets
 *
 * A request must fit every limited bucket that applies to it: the total one
 * and the one of its direction, in both dimensions.
 */
enum vqos_lim_bucket {
	VQOS_IOPS_TOTAL,
	VQOS_IOPS_READ,
	VQOS_IOPS_WRITE,
	VQOS_BPS_TOTAL,
	VQOS_BPS_READ,
	VQOS_BPS_WRITE,
	VQOS_LIM_NR_TB,
};

/**
 * enum vqos_lim_class - what held a request back (for telemetry)
 * @VQOS_CLS_NONE: nothing, the request was admitted
 * @VQOS_CLS_IOPS: the limiter's own IOPS buckets
 * @VQOS_CLS_BPS: the limiter's own bytes/s buckets
 * @VQOS_CLS_GRP_IOPS: the group's IOPS buckets (vqos_limiter_admit2())
 * @VQOS_CLS_GRP_BPS: the group's bytes/s buckets (vqos_limiter_admit2())
 * @VQOS_CLS_NR: number of classes
 *
 * When several buckets refuse, the class is that of the longest wait.
 */
enum vqos_lim_class {
	VQOS_CLS_NONE,
	VQOS_CLS_IOPS,
	VQOS_CLS_BPS,
	VQOS_CLS_GRP_IOPS,
	VQOS_CLS_GRP_BPS,
	VQOS_CLS_NR,
};

/**
 * struct vqos_limiter_cfg - configuration of a limiter
 * @tb: one bucket configuration per &enum vqos_lim_bucket; rate 0 = unlimited
 * @iops_size: if not 0, a request of B bytes counts as
 *	max(1, DIV_ROUND_UP(B, @iops_size)) operations; if 0, as one.
 */
struct vqos_limiter_cfg {
	struct vqos_tb_cfg tb[VQOS_LIM_NR_TB];
	u32 iops_size;
};

/**
 * struct vqos_lim_stats - throttling telemetry of a limiter
 * @throttled_ios: requests that were refused at least once
 * @group_throttled_ios: of those, the ones a group's bucket refused first
 * @throttled_ns: time in ns during which a request was held back, by the
 *	class that held it (index &enum vqos_lim_class; [VQOS_CLS_NONE] is 0)
 */
struct vqos_lim_stats {
	u64 throttled_ios;
	u64 group_throttled_ios;
	u64 throttled_ns[VQOS_CLS_NR];
};

/**
 * struct vqos_limiter - the buckets of one device (or of one group)
 * @active: some bucket is limited; cached by vqos_limiter_set() so the
 *	unlimited path is one test
 * @throttled: directions (BIT(write)) with a refusal interval open
 * @thr_cls: class (&enum vqos_lim_class) of each direction's open interval
 * @refused: the buckets that refused the last request: BIT(bucket) for
 *	this limiter's, BIT(bucket + VQOS_LIM_GRP_SHIFT) for the group's
 *	(vqos_limiter_admit2()); see vqos_limiter_refused_shared()
 * @iops_size: see &struct vqos_limiter_cfg
 * @thr_since: start in ns of the not yet accounted part of each interval
 * @tb: the buckets, indexed by &enum vqos_lim_bucket
 * @stats: telemetry, read with vqos_limiter_stats()
 *
 * The telemetry assumes the caller retries the request that was refused
 * before any later one of the same direction (FIFO per direction): a
 * refusal opens that direction's interval (counting one throttled
 * request), the next admission in that direction closes it, and its time
 * goes to the class that held it back at each retry. Reads and writes
 * have intervals of their own, so one may pass while the other is held.
 */
struct vqos_limiter {
	bool active;
	u8 throttled;
	u8 thr_cls[2];
	u16 refused;
	u32 iops_size;
	u64 thr_since[2];
	struct vqos_tb tb[VQOS_LIM_NR_TB];
	struct vqos_lim_stats stats;
};

/* Group buckets in &vqos_limiter.refused. */
#define VQOS_LIM_GRP_SHIFT	8
/* Buckets that reads and writes share, of the limiter and of its group. */
#define VQOS_LIM_SHARED		((BIT(VQOS_IOPS_TOTAL) | BIT(VQOS_BPS_TOTAL)) * \
				 (1 | BIT(VQOS_LIM_GRP_SHIFT)))

/**
 * vqos_limiter_refused_shared() - did a shared bucket refuse the last request?
 * @l: the (device) limiter
 *
 * Return: true if a bucket that reads and writes share (a total limit, of
 * the device or of its group) refused the last request: then the other
 * direction must not overtake it either. False if only buckets of its own
 * direction refused (or it was admitted).
 */
static inline bool vqos_limiter_refused_shared(const struct vqos_limiter *l)
{
	return l->refused & VQOS_LIM_SHARED;
}

void vqos_limiter_init(struct vqos_limiter *l, u64 now);
int vqos_limiter_cfg_check(const struct vqos_limiter_cfg *cfg);
int vqos_limiter_set(struct vqos_limiter *l, const struct vqos_limiter_cfg *cfg,
		     u64 now);
u64 __vqos_limiter_admit(struct vqos_limiter *l, struct vqos_limiter *grp,
			 bool write, u64 bytes, u64 now,
			 enum vqos_lim_class *cls);
void vqos_limiter_unthrottle(struct vqos_limiter *l, u64 now);
void vqos_limiter_unthrottle_dir(struct vqos_limiter *l, bool write, u64 now);
void vqos_limiter_stats(const struct vqos_limiter *l, u64 now,
			struct vqos_lim_stats *out);

/**
 * vqos_limiter_admit() - admit and charge one request, or say how long to wait
 * @l: the limiter
 * @write: the request is a write (else a read)
 * @bytes: payload size in bytes
 * @now: current time in ns
 * @cls: set to what held the request back, VQOS_CLS_NONE if admitted
 *
 * Either every applicable bucket has room and all of them are charged, or
 * none is charged. An unlimited limiter returns 0 after one test.
 *
 * Return: 0 if admitted (and charged), else the exact number of ns after
 * which the same request will be admitted if nothing else is charged.
 */
static inline u64 vqos_limiter_admit(struct vqos_limiter *l, bool write,
				     u64 bytes, u64 now,
				     enum vqos_lim_class *cls)
{
	if (likely(!(l->active | l->throttled))) {
		*cls = VQOS_CLS_NONE;
		return 0;
	}
	return __vqos_limiter_admit(l, NULL, write, bytes, now, cls);
}

/**
 * vqos_limiter_admit2() - admit a request against a device and its group
 * @dev: the device's limiter, which also receives all the telemetry
 * @grp: the group's limiter (per-VM budget shared by several devices)
 * @write: the request is a write (else a read)
 * @bytes: payload size in bytes
 * @now: current time in ns
 * @cls: set to what held the request back, VQOS_CLS_NONE if admitted
 *
 * Both limiters are checked; both are charged only if both allow. Refusals
 * by @grp are counted in @dev's stats as VQOS_CLS_GRP_*; @grp's own stats are
 * not touched. The caller serialises against every other user of @grp.
 *
 * Return: 0 if admitted (and charged), else the ns to wait.
 */
static inline u64 vqos_limiter_admit2(struct vqos_limiter *dev,
				      struct vqos_limiter *grp, bool write,
				      u64 bytes, u64 now,
				      enum vqos_lim_class *cls)
{
	if (likely(!(dev->active | dev->throttled | grp->active))) {
		*cls = VQOS_CLS_NONE;
		return 0;
	}
	return __vqos_limiter_admit(dev, grp, write, bytes, now, cls);
}

#endif /* _VQOS_TB_H */
