// SPDX-License-Identifier: GPL-2.0
/*
 * vqos token-bucket rate limiter: pure logic, see vqos_tb.h for the model,
 * the fixed-point representation and the ranges.
 *
 * Refill is path independent: refilling to t1 then to t2 gives the same
 * level as refilling to t2 at once (min(D, min(D, x) + y) = min(D, x + y)
 * for y >= 0, computed exactly in integers). So refilling a bucket and then
 * refusing the request changes nothing observable, which is what lets the
 * limiter check all its buckets before charging any of them.
 */
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/string.h>

#include "vqos_tb.h"

/*
 * Lowest level ever stored. Admitted requests never reach it: a request is
 * admitted at level >= min(cost, depth) >= 1 unit and costs <= COST_MAX, so
 * it leaves at least 1 - COST_MAX units. Only charging without waiting can
 * hit it, and then the debt saturates instead of wrapping.
 */
#define VQOS_TB_LEVEL_MIN	(-(s64)(VQOS_TB_COST_MAX * VQOS_TB_NU))

/* @level refilled for @elapsed ns at @rate units/s, capped at @depth_nu. */
static s64 vqos_tb_fill(s64 level, s64 depth_nu, u64 rate, u64 elapsed)
{
	/* At most (DEPTH_MAX + COST_MAX) * NU < 2^64, so exact in a u64. */
	u64 room = (u64)depth_nu - (u64)level;
	u64 add;

	/* An overflowing product is far more than any room: full. */
	if (check_mul_overflow(elapsed, rate, &add) || add >= room)
		return depth_nu;
	return (s64)((u64)level + add);
}

/* ns until @level, growing at @rate, reaches min(@cost, @depth) units. */
static u64 vqos_tb_lane_wait(s64 level, u64 depth, u64 rate, u64 cost)
{
	u64 need = min(cost, depth) * VQOS_TB_NU;
	u64 deficit, ns, rem;

	if (level >= (s64)need)
		return 0;
	deficit = need - (u64)level;
	ns = div64_u64_rem(deficit, rate, &rem);
	return rem ? ns + 1 : ns;
}

/* Refill both buckets up to @now; a @now in the past changes nothing. */
static void vqos_tb_refill(struct vqos_tb *tb, u64 now)
{
	u64 elapsed;

	if (now <= tb->last)
		return;
	elapsed = now - tb->last;
	tb->last = now;
	tb->level = vqos_tb_fill(tb->level, tb->depth_nu, tb->rate, elapsed);
	if (tb->peak_rate)
		tb->peak_level = vqos_tb_fill(tb->peak_level, tb->peak_depth_nu,
					      tb->peak_rate, elapsed);
}

/*
 * ns after tb->last until a request of @cost (clamped, non-zero) fits, given
 * the levels at tb->last. The one-time burst pays first, the bucket pays the
 * rest; the peak bucket sees the whole cost.
 */
static u64 vqos_tb_need(const struct vqos_tb *tb, s64 level, s64 peak_level,
			u64 cost)
{
	u64 rest = cost - min(tb->otb, cost);
	u64 ns = 0;

	if (rest)
		ns = vqos_tb_lane_wait(level, tb->depth, tb->rate, rest);
	if (tb->peak_rate)
		ns = max(ns, vqos_tb_lane_wait(peak_level, tb->peak_depth,
					       tb->peak_rate, cost));
	return ns;
}

/* Turn a wait counted from tb->last into one counted from @now. */
static u64 vqos_tb_from_now(u64 ns, u64 last, u64 now)
{
	u64 sum;

	if (!ns || now >= last)
		return ns;
	if (check_add_overflow(ns, last - now, &sum))
		return U64_MAX;
	return sum;
}

static s64 vqos_tb_sub(s64 level, u64 cost)
{
	s64 c = (s64)(cost * VQOS_TB_NU);

	if (level < VQOS_TB_LEVEL_MIN + c)
		return VQOS_TB_LEVEL_MIN;
	return level - c;
}

/* Take a (clamped) @cost from a refilled bucket. */
static void vqos_tb_consume(struct vqos_tb *tb, u64 cost)
{
	u64 otb = min(tb->otb, cost);

	if (tb->peak_rate)
		tb->peak_level = vqos_tb_sub(tb->peak_level, cost);
	tb->otb -= otb;
	if (cost > otb)
		tb->level = vqos_tb_sub(tb->level, cost - otb);
}

/* Refill, then the wait for @cost from @now; 0 = it fits now. */
static u64 vqos_tb_try(struct vqos_tb *tb, u64 cost, u64 now)
{
	if (!tb->rate || !cost)
		return 0;
	vqos_tb_refill(tb, now);
	cost = min(cost, VQOS_TB_COST_MAX);
	return vqos_tb_from_now(vqos_tb_need(tb, tb->level, tb->peak_level,
					     cost), tb->last, now);
}

/* Charge @cost to a bucket that vqos_tb_try() just refilled. */
static void vqos_tb_take(struct vqos_tb *tb, u64 cost)
{
	if (!tb->rate || !cost)
		return;
	vqos_tb_consume(tb, min(cost, VQOS_TB_COST_MAX));
}

/**
 * vqos_tb_init() - initialise a bucket as unlimited
 * @tb: the bucket
 * @now: current time in ns
 */
void vqos_tb_init(struct vqos_tb *tb, u64 now)
{
	memset(tb, 0, sizeof(*tb));
	tb->last = now;
}

/**
 * vqos_tb_cfg_check() - validate a bucket configuration
 * @cfg: the configuration
 *
 * Return: 0 if valid; -ERANGE if a rate exceeds VQOS_TB_RATE_MAX or the
 * burst exceeds VQOS_TB_DEPTH_MAX; -EINVAL if @cfg contradicts itself:
 * burst_rate below rate, or rate 0 (unlimited) with any other field set.
 */
int vqos_tb_cfg_check(const struct vqos_tb_cfg *cfg)
{
	if (cfg->rate > VQOS_TB_RATE_MAX || cfg->burst_rate > VQOS_TB_RATE_MAX ||
	    cfg->burst > VQOS_TB_DEPTH_MAX)
		return -ERANGE;
	if (!cfg->rate) {
		if (cfg->burst || cfg->burst_rate || cfg->one_time_burst)
			return -EINVAL;
		return 0;
	}
	if (cfg->burst_rate && cfg->burst_rate < cfg->rate)
		return -EINVAL;
	return 0;
}

/**
 * vqos_tb_set() - (re)configure a bucket live
 * @tb: the bucket, initialised by vqos_tb_init()
 * @cfg: the new configuration
 * @now: current time in ns
 *
 * The bucket is first refilled at the old rate up to @now, then keeps its
 * level (and debt) under the new configuration, capped to the new depth: a
 * reconfiguration neither refills nor empties it. A bucket that was
 * unlimited starts full. The one-time burst left is kept unless
 * @cfg->one_time_burst differs from the previous value, which re-arms it. On
 * error nothing changes.
 *
 * Return: 0, or the error of vqos_tb_cfg_check().
 */
int vqos_tb_set(struct vqos_tb *tb, const struct vqos_tb_cfg *cfg, u64 now)
{
	bool was = tb->rate, had_peak = tb->peak_rate;
	u64 depth, peak_depth;
	int ret;

	ret = vqos_tb_cfg_check(cfg);
	if (ret)
		return ret;
	if (was)
		vqos_tb_refill(tb, now);
	tb->last = max(tb->last, now);

	if (!cfg->rate) {
		vqos_tb_init(tb, tb->last);
		return 0;
	}

	depth = cfg->burst;
	if (!depth)
		depth = clamp(div64_u64(cfg->rate, VQOS_TB_DEFAULT_DEPTH_DIV),
			      1ULL, VQOS_TB_DEPTH_MAX);
	tb->depth = depth;
	tb->depth_nu = depth * VQOS_TB_NU;
	tb->level = was ? min(tb->level, tb->depth_nu) : tb->depth_nu;

	if (cfg->burst_rate) {
		peak_depth = max(div64_u64(cfg->burst_rate,
					   VQOS_TB_PEAK_DEPTH_DIV), 1ULL);
		tb->peak_depth = peak_depth;
		tb->peak_depth_nu = peak_depth * VQOS_TB_NU;
		tb->peak_level = had_peak ?
			min(tb->peak_level, tb->peak_depth_nu) :
			tb->peak_depth_nu;
	} else {
		tb->peak_depth = 0;
		tb->peak_depth_nu = 0;
		tb->peak_level = 0;
	}

	if (!was || cfg->one_time_burst != tb->cfg.one_time_burst)
		tb->otb = cfg->one_time_burst;
	tb->rate = cfg->rate;
	tb->peak_rate = cfg->burst_rate;
	tb->cfg = *cfg;
	return 0;
}

/**
 * vqos_tb_wait() - how long until a request may go, without charging
 * @tb: the bucket
 * @cost: the request's cost in units (clamped to VQOS_TB_COST_MAX)
 * @now: current time in ns
 *
 * A request fits when, after the one-time burst has paid what it can, the
 * bucket holds at least min(rest, depth) units, and the peak bucket (if any)
 * at least min(cost, peak depth). A cost above the depth thus waits for a
 * full bucket and then leaves it in debt. A cost of 0 always fits.
 *
 * Return: 0 if it fits now, else the exact ns until it fits: it does not fit
 * one ns earlier. Unlimited buckets return 0.
 */
u64 vqos_tb_wait(const struct vqos_tb *tb, u64 cost, u64 now)
{
	s64 level = tb->level, peak_level = tb->peak_level;

	if (!tb->rate || !cost)
		return 0;
	if (now > tb->last) {
		level = vqos_tb_fill(level, tb->depth_nu, tb->rate,
				     now - tb->last);
		if (tb->peak_rate)
			peak_level = vqos_tb_fill(peak_level,
						  tb->peak_depth_nu,
						  tb->peak_rate,
						  now - tb->last);
	}
	cost = min(cost, VQOS_TB_COST_MAX);
	return vqos_tb_from_now(vqos_tb_need(tb, level, peak_level, cost),
				tb->last, now);
}

/**
 * vqos_tb_charge() - consume a request's cost
 * @tb: the bucket
 * @cost: the cost in units (clamped to VQOS_TB_COST_MAX)
 * @now: current time in ns
 *
 * The one-time burst pays first. Meant to follow vqos_tb_wait() returning 0;
 * charging anyway just deepens the debt (saturating, never wrapping).
 */
void vqos_tb_charge(struct vqos_tb *tb, u64 cost, u64 now)
{
	if (!tb->rate)
		return;
	vqos_tb_refill(tb, now);
	vqos_tb_take(tb, cost);
}

/**
 * vqos_tb_admit() - vqos_tb_wait() and, if it returns 0, vqos_tb_charge()
 * @tb: the bucket
 * @cost: the cost in units (clamped to VQOS_TB_COST_MAX)
 * @now: current time in ns
 *
 * Return: 0 if the request was admitted and charged, else the exact ns to
 * wait, as vqos_tb_wait().
 */
u64 vqos_tb_admit(struct vqos_tb *tb, u64 cost, u64 now)
{
	u64 ns = vqos_tb_try(tb, cost, now);

	if (!ns)
		vqos_tb_take(tb, cost);
	return ns;
}

/**
 * vqos_tb_level_nu() - tokens in the bucket at @now
 * @tb: the bucket
 * @now: current time in ns
 *
 * Return: the level in nano-units (negative = debt), not counting the
 * one-time burst; S64_MAX if the bucket is unlimited.
 */
s64 vqos_tb_level_nu(const struct vqos_tb *tb, u64 now)
{
	if (!tb->rate)
		return S64_MAX;
	if (now <= tb->last)
		return tb->level;
	return vqos_tb_fill(tb->level, tb->depth_nu, tb->rate, now - tb->last);
}

/**
 * vqos_limiter_init() - initialise a limiter as unlimited, with zero stats
 * @l: the limiter
 * @now: current time in ns
 */
void vqos_limiter_init(struct vqos_limiter *l, u64 now)
{
	int i;

	memset(l, 0, sizeof(*l));
	l->thr_since[0] = now;
	l->thr_since[1] = now;
	for (i = 0; i < VQOS_LIM_NR_TB; i++)
		vqos_tb_init(&l->tb[i], now);
}

/**
 * vqos_limiter_cfg_check() - validate a limiter configuration
 * @cfg: the configuration
 *
 * A total limit and a per-direction limit of the same unit (iops_limit with
 * iops_read_limit, say) contradict each other, as in QEMU's throttling: the
 * operator must say which one is meant. Across units they combine.
 *
 * Return: 0, the first error of vqos_tb_cfg_check() on its buckets, or
 * -EINVAL for a total and a per-direction limit of the same unit.
 */
int vqos_limiter_cfg_check(const struct vqos_limiter_cfg *cfg)
{
	const struct vqos_tb_cfg *tb = cfg->tb;
	int i, ret;

	for (i = 0; i < VQOS_LIM_NR_TB; i++) {
		ret = vqos_tb_cfg_check(&tb[i]);
		if (ret)
			return ret;
	}
	if (tb[VQOS_IOPS_TOTAL].rate &&
	    (tb[VQOS_IOPS_READ].rate || tb[VQOS_IOPS_WRITE].rate))
		return -EINVAL;
	if (tb[VQOS_BPS_TOTAL].rate &&
	    (tb[VQOS_BPS_READ].rate || tb[VQOS_BPS_WRITE].rate))
		return -EINVAL;
	return 0;
}

/*
 * Account the refusal interval of direction @write of @l up to @now, then
 * open, continue (with class @cls) or, for VQOS_CLS_NONE, close it.
 */
static void vqos_limiter_note(struct vqos_limiter *l, bool write,
			      enum vqos_lim_class cls, u64 now)
{
	u8 bit = BIT(write);

	if ((l->throttled & bit) && now > l->thr_since[write]) {
		l->stats.throttled_ns[l->thr_cls[write]] +=
			now - l->thr_since[write];
		l->thr_since[write] = now;
	}
	if (cls == VQOS_CLS_NONE) {
		l->throttled &= ~bit;
		return;
	}
	if (!(l->throttled & bit)) {
		l->stats.throttled_ios++;
		if (cls >= VQOS_CLS_GRP_IOPS)
			l->stats.group_throttled_ios++;
		l->throttled |= bit;
		l->thr_since[write] = now;
	}
	l->thr_cls[write] = cls;
}

/**
 * vqos_limiter_unthrottle() - end the refusal intervals without admissions
 * @l: the limiter
 * @now: current time in ns
 *
 * For when the refused requests are abandoned (reset, teardown), so the
 * time until the next request is not counted as throttled.
 */
void vqos_limiter_unthrottle(struct vqos_limiter *l, u64 now)
{
	vqos_limiter_note(l, false, VQOS_CLS_NONE, now);
	vqos_limiter_note(l, true, VQOS_CLS_NONE, now);
}

/**
 * vqos_limiter_unthrottle_dir() - end one direction's refusal interval
 * @l: the limiter
 * @write: the direction
 * @now: current time in ns
 *
 * As vqos_limiter_unthrottle(), for the requests of one direction only.
 */
void vqos_limiter_unthrottle_dir(struct vqos_limiter *l, bool write, u64 now)
{
	vqos_limiter_note(l, write, VQOS_CLS_NONE, now);
}

/**
 * vqos_limiter_set() - (re)configure all the buckets of a limiter live
 * @l: the limiter, initialised by vqos_limiter_init()
 * @cfg: the new configuration
 * @now: current time in ns
 *
 * All or nothing: every bucket is validated before any changes; each then
 * changes as by vqos_tb_set(). A request waiting on the old configuration
 * should be retried, its wait may have changed.
 *
 * Return: 0, or the error of vqos_limiter_cfg_check() with @l unchanged.
 */
int vqos_limiter_set(struct vqos_limiter *l, const struct vqos_limiter_cfg *cfg,
		     u64 now)
{
	bool active = false;
	int i, ret;

	ret = vqos_limiter_cfg_check(cfg);
	if (ret)
		return ret;
	for (i = 0; i < VQOS_LIM_NR_TB; i++) {
		vqos_tb_set(&l->tb[i], &cfg->tb[i], now);
		active |= cfg->tb[i].rate != 0;
	}
	l->iops_size = cfg->iops_size;
	/* Nothing will refuse any more: do not leave the interval open. */
	if (!active)
		vqos_limiter_unthrottle(l, now);
	l->active = active;
	return 0;
}

/* Operations a request of @bytes counts as. */
static u64 vqos_limiter_ops(const struct vqos_limiter *l, u64 bytes)
{
	u64 ops;
	u32 rem;

	if (!l->iops_size)
		return 1;
	ops = div_u64_rem(bytes, l->iops_size, &rem);
	if (rem || !ops)
		ops++;
	return ops;
}

/*
 * Refill the buckets of @l that apply, raise *@wait to their longest wait,
 * and return the mask of those that refuse (bits of &enum vqos_lim_bucket).
 */
static u16 vqos_limiter_check(struct vqos_limiter *l, bool write, u64 ops,
			      u64 bytes, u64 now, enum vqos_lim_class iops_cls,
			      u64 *wait, enum vqos_lim_class *cls)
{
	const u8 idx[4] = {
		VQOS_IOPS_TOTAL, write ? VQOS_IOPS_WRITE : VQOS_IOPS_READ,
		VQOS_BPS_TOTAL, write ? VQOS_BPS_WRITE : VQOS_BPS_READ,
	};
	u16 refused = 0;
	int i;

	for (i = 0; i < 4; i++) {
		u64 ns = vqos_tb_try(&l->tb[idx[i]], i < 2 ? ops : bytes, now);

		if (!ns)
			continue;
		refused |= BIT(idx[i]);
		if (ns > *wait) {
			*wait = ns;
			/* the BPS class follows the IOPS one in the enum */
			*cls = iops_cls + (i >= 2);
		}
	}
	return refused;
}

static void vqos_limiter_take(struct vqos_limiter *l, bool write, u64 ops,
			      u64 bytes)
{
	vqos_tb_take(&l->tb[VQOS_IOPS_TOTAL], ops);
	vqos_tb_take(&l->tb[write ? VQOS_IOPS_WRITE : VQOS_IOPS_READ], ops);
	vqos_tb_take(&l->tb[VQOS_BPS_TOTAL], bytes);
	vqos_tb_take(&l->tb[write ? VQOS_BPS_WRITE : VQOS_BPS_READ], bytes);
}

/**
 * __vqos_limiter_admit() - slow path of vqos_limiter_admit{,2}()
 * @l: the (device) limiter, which receives the telemetry
 * @grp: the group limiter, or NULL
 * @write: the request is a write (else a read)
 * @bytes: payload size in bytes
 * @now: current time in ns
 * @cls: set to what held the request back, VQOS_CLS_NONE if admitted
 *
 * Every applicable bucket of @l and @grp is refilled and checked; only if
 * none refuses are they all charged.
 *
 * Return: 0 if admitted, else the longest wait in ns over the refusing
 * buckets.
 */
u64 __vqos_limiter_admit(struct vqos_limiter *l, struct vqos_limiter *grp,
			 bool write, u64 bytes, u64 now,
			 enum vqos_lim_class *cls)
{
	enum vqos_lim_class c = VQOS_CLS_NONE;
	u64 ops = 0, gops = 0, wait = 0;

	l->refused = 0;
	if (l->active) {
		ops = vqos_limiter_ops(l, bytes);
		l->refused = vqos_limiter_check(l, write, ops, bytes, now,
						VQOS_CLS_IOPS, &wait, &c);
	}
	if (grp && grp->active) {
		gops = vqos_limiter_ops(grp, bytes);
		l->refused |= vqos_limiter_check(grp, write, gops, bytes, now,
						 VQOS_CLS_GRP_IOPS, &wait,
						 &c) << VQOS_LIM_GRP_SHIFT;
	}
	if (!wait) {
		if (l->active)
			vqos_limiter_take(l, write, ops, bytes);
		if (grp && grp->active)
			vqos_limiter_take(grp, write, gops, bytes);
	}
	vqos_limiter_note(l, write, c, now);
	*cls = c;
	return wait;
}

/**
 * vqos_limiter_stats() - read the telemetry, including an open interval
 * @l: the limiter
 * @now: current time in ns
 * @out: where to copy the stats
 */
void vqos_limiter_stats(const struct vqos_limiter *l, u64 now,
			struct vqos_lim_stats *out)
{
	int d;

	*out = l->stats;
	for (d = 0; d < 2; d++)
		if ((l->throttled & BIT(d)) && now > l->thr_since[d])
			out->throttled_ns[l->thr_cls[d]] += now - l->thr_since[d];
}
