// SPDX-License-Identifier: GPL-2.0
/*
 * vqos pool scheduler: pure logic, see vqos_sched.h for the model.
 *
 * Slot accounting. A member m holds excess(m) = max(0, inflight(m) -
 * reserve(m)) shared slots, and the pool keeps
 *
 *	reserved + shared <= depth	(shared = sum of excess(m))
 *
 * that is, the sum over members of max(reserve(m), inflight(m)) is at most
 * depth: whatever the others hold, there is a free slot for every reserved
 * slot not in use. So a member under its reservation takes a slot without
 * looking at anyone, and a shared slot is free when reserved + shared <
 * depth. Only a live change (depth lowered, a member added or its
 * reservation raised while others hold shared slots) can break this; then
 * nothing new starts until inflight < depth, shared slots only once the
 * invariant holds again, and members under their reservation go first.
 *
 * Dispatch is maximal: after every call, no waiting member could take a
 * free slot (vqos_sched_dispatch() runs after anything that frees a slot or
 * loosens a limit). So a request that finds a slot in vqos_sched_get() passes
 * nobody: every waiter is blocked by something that also blocks it, or is
 * an unprotected member held by the clamp while it is protected. That is
 * what keeps the common path O(1) without looking at the waiters.
 *
 * The latency controller works on windows of time (at least
 * VQOS_SCHED_WIN_SVC service times, so that a change of the clamp shows in
 * the next window) and judges a protected member only on at least
 * VQOS_SCHED_WIN_SAMPLES completions. A member misses when more than 10 %
 * of its completions are over target (its p90, as io.latency on SSDs);
 * the window is calm when every judged member has at most 2 % over (none
 * of fewer than 50 samples), and in between the clamp holds. Plain AIMD would see-saw: the latency of a
 * backing rises steeply once its queue fills, so each additive step that
 * crosses that point costs a missed window and a 25 % cut, and with a
 * window's few samples noise alone crosses 10 % now and then. Instead the
 * decrease grows with how badly the target was missed, and the controller
 * remembers the highest calm level since the last cut, returns there
 * after a failed probe and probes with exponential backoff (see
 * vqos_sched_tighten() and vqos_sched_loosen()).
 */
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "vqos_sched.h"

static bool vqos_sched_prot_m(const struct vqos_sched_member *m)
{
	return m->cfg.lat_target_ns != 0;
}

/* ns from @t to @now, 0 if @now is earlier (timestamps from other CPUs). */
static u64 vqos_sched_since(u64 now, u64 t)
{
	return now > t ? now - t : 0;
}

/* Shared slots that @m holds. */
static u32 vqos_sched_excess(const struct vqos_sched_member *m)
{
	return m->inflight > m->cfg.reserve ? m->inflight - m->cfg.reserve : 0;
}

/* Length of a latency window: the configured one, or longer on a slow disk. */
static u64 vqos_sched_win(const struct vqos_sched *p)
{
	return max(p->cfg.win_ns, p->svc_ns * VQOS_SCHED_WIN_SVC);
}

/*
 * Virtual cost of holding a shared slot for @ns: @ns * VQOS_SCHED_VT_SCALE
 * / weight, by the reciprocal (relative error < 2^-14; no division on the
 * datapath). @ns <= VQOS_SCHED_WIN_MAX, so the product fits in 58 bits.
 */
static u64 vqos_sched_vcost(const struct vqos_sched_member *m, u64 ns)
{
	return (ns * m->vinv) >> 16;
}

static void vqos_sched_cfg_apply(struct vqos_sched_member *m,
				 const struct vqos_sched_member_cfg *cfg)
{
	m->cfg = *cfg;
	m->vinv = (VQOS_SCHED_VT_SCALE << 16) / cfg->weight;
}

/*
 * What a shared slot of @m is expected to cost, in ns. Before anything
 * completed, 1 ns: tags then order by request count.
 */
static u64 vqos_sched_est(const struct vqos_sched *p,
			  const struct vqos_sched_member *m)
{
	return max3(m->svc_est, p->svc_ns, 1ULL);
}

/*
 * Move every tag down by the same amount, keeping their order, before the
 * virtual time could overflow. O(members), every few minutes at worst
 * (65536 slots of weight 1), never in practice.
 */
static void vqos_sched_rebase(struct vqos_sched *p)
{
	u64 b = p->vtime - VQOS_SCHED_VT_REBASE / 2;
	struct vqos_sched_member *m;
	struct rb_node *n;

	/* a waiting start tag must not go below 0: the trees keep order */
	n = rb_first_cached(&p->prot);
	if (n)
		b = min(b, rb_entry(n, struct vqos_sched_member, node)->vstart);
	n = rb_first_cached(&p->unprot);
	if (n)
		b = min(b, rb_entry(n, struct vqos_sched_member, node)->vstart);
	p->vtime -= b;
	list_for_each_entry(m, &p->members, link) {
		m->vstart -= min(m->vstart, b);
		m->vfinish -= min(m->vfinish, b);
	}
}

/*
 * SFQ start tag of @m's next request: its finish tag, but not behind the
 * virtual time, so that a member that was idle starts there, with no
 * credit. A member with requests in flight may lag by VQOS_SCHED_VT_SLACK
 * requests of the pool's service time: between a grant and its worker's
 * next ask, the others' grants move the virtual time on, and SFQ (which
 * sees every request queued, not just the head of each FIFO) would not
 * count that against it; without this, members with cheap requests lose
 * a few % to members with costly ones.
 */
static u64 vqos_sched_vstart(const struct vqos_sched *p,
			     const struct vqos_sched_member *m)
{
	u64 v = p->vtime, slack;

	if (m->vfinish >= v)
		return m->vfinish;	/* the common case: no division */
	if (m->inflight) {
		slack = vqos_sched_vcost(m, p->svc_ns) * VQOS_SCHED_VT_SLACK;
		v -= min(v, slack);
	}
	return max(v, m->vfinish);
}

/*
 * @m takes a slot; a shared one is charged its estimated cost on top of
 * its finish tag (moved up to its start tag when it asked), and the
 * virtual time becomes the start tag of the latest request dispatched.
 */
static void vqos_sched_take(struct vqos_sched *p, struct vqos_sched_member *m)
{
	bool prot = vqos_sched_prot_m(m);

	if (m->inflight >= m->cfg.reserve) {
		p->shared++;
		if (!prot)
			p->unprot_shared++;
		p->vtime = max(p->vtime, m->vstart);
		m->vfinish += vqos_sched_vcost(m, vqos_sched_est(p, m));
		if (unlikely(p->vtime >= VQOS_SCHED_VT_REBASE))
			vqos_sched_rebase(p);
	}
	if (prot)
		p->prot_inflight++;
	m->inflight++;
	p->inflight++;
}

/*
 * @m gives a slot back; a shared one after @svc ns on the backing. Its
 * finish tag is corrected from the estimate to what it really held (0 for
 * a grant it never used), so that over time it is charged its slot time.
 */
static void vqos_sched_free(struct vqos_sched *p, struct vqos_sched_member *m,
			    u64 svc)
{
	bool prot = vqos_sched_prot_m(m);
	u64 est;

	m->inflight--;
	p->inflight--;
	if (prot)
		p->prot_inflight--;
	if (m->inflight < m->cfg.reserve)
		return;
	p->shared--;
	if (!prot)
		p->unprot_shared--;
	est = vqos_sched_est(p, m);
	if (svc >= est)
		m->vfinish += vqos_sched_vcost(m, svc - est);
	else
		m->vfinish -= min(m->vfinish, vqos_sched_vcost(m, est - svc));
}

/* Members under their reservation: the smallest fraction of it in use. */
static bool vqos_sched_res_less(struct rb_node *a, const struct rb_node *b)
{
	const struct vqos_sched_member *x, *y;
	u64 l, r;

	x = rb_entry(a, struct vqos_sched_member, node);
	y = rb_entry(b, struct vqos_sched_member, node);
	l = (u64)x->inflight * y->cfg.reserve;
	r = (u64)y->inflight * x->cfg.reserve;
	return l < r || (l == r && x->seq < y->seq);
}

/* Shared slots: SFQ, the smallest start tag first, then FIFO. */
static bool vqos_sched_share_less(struct rb_node *a, const struct rb_node *b)
{
	const struct vqos_sched_member *x, *y;

	x = rb_entry(a, struct vqos_sched_member, node);
	y = rb_entry(b, struct vqos_sched_member, node);
	return x->vstart < y->vstart ||
	       (x->vstart == y->vstart && x->seq < y->seq);
}

/* Put a waiting @m in the tree its state calls for. */
static void vqos_sched_enqueue(struct vqos_sched *p,
			       struct vqos_sched_member *m)
{
	if (m->inflight < m->cfg.reserve) {
		m->tree = &p->res;
		rb_add_cached(&m->node, m->tree, vqos_sched_res_less);
		return;
	}
	m->tree = vqos_sched_prot_m(m) ? &p->prot : &p->unprot;
	rb_add_cached(&m->node, m->tree, vqos_sched_share_less);
}

static void vqos_sched_dequeue(struct vqos_sched_member *m)
{
	rb_erase_cached(&m->node, m->tree);
	RB_CLEAR_NODE(&m->node);
	m->tree = NULL;
}

static void vqos_sched_wait_end(struct vqos_sched *p,
				struct vqos_sched_member *m, u64 now)
{
	vqos_sched_dequeue(m);
	p->nwaiting--;
	if (vqos_sched_prot_m(m))
		p->prot_waiting--;
	m->stats.wait_ns += vqos_sched_since(now, m->wait_since);
}

/* The waiter that should get the next free slot, NULL if none may. */
static struct vqos_sched_member *vqos_sched_pick(struct vqos_sched *p)
{
	struct rb_node *a, *b;

	if (p->inflight >= p->cfg.depth)
		return NULL;
	a = rb_first_cached(&p->res);
	if (a)
		return rb_entry(a, struct vqos_sched_member, node);
	if (p->reserved + p->shared >= p->cfg.depth)
		return NULL;
	a = rb_first_cached(&p->prot);
	b = NULL;
	if (!p->clamped || p->unprot_shared < p->clamp)
		b = rb_first_cached(&p->unprot);
	if (!a || (b && vqos_sched_share_less(b, a)))
		a = b;
	return a ? rb_entry(a, struct vqos_sched_member, node) : NULL;
}

/* Grant free slots to waiters until none can take one. */
static void vqos_sched_dispatch(struct vqos_sched *p, u64 now)
{
	struct vqos_sched_member *m;

	while (p->nwaiting && (m = vqos_sched_pick(p))) {
		vqos_sched_wait_end(p, m, now);
		vqos_sched_take(p, m);
		m->granted = true;
		list_add_tail(&m->grant_link, &p->granted);
		p->stats.deferred++;
	}
}

static void vqos_sched_win_reset(struct vqos_sched_member *m)
{
	m->win_n = 0;
	m->win_over = 0;
	m->win_age = 0;
}

/* Has no protected member done anything for VQOS_SCHED_IDLE_WINS windows? */
static bool vqos_sched_prot_idle(const struct vqos_sched *p, u64 now)
{
	if (!p->nprot)
		return true;
	if (p->prot_inflight || p->prot_waiting)
		return false;
	return vqos_sched_since(now, p->prot_last) >=
	       VQOS_SCHED_IDLE_WINS * vqos_sched_win(p);
}

/*
 * A protected member missed its target: by a little (@level 1: 10 to 25 %
 * of its completions over target), clearly (2: up to 50 %) or badly (3).
 *
 * If the clamp had just been raised above the last level known to be
 * calm, it goes back to that level and probes again later, twice as late
 * each time: under a steady load it then rests just below the point where
 * the target is missed, with a missed window at most every
 * VQOS_SCHED_PROBE_MAX windows. Otherwise the load got worse: a little
 * miss steps down by 1/16, a clear one cuts to 3/4 of what the unprotected
 * members hold, a bad one to 1/2; never below one slot. The small step
 * keeps the noise of a window's few samples from cutting deep.
 */
static void vqos_sched_tighten(struct vqos_sched *p, int level)
{
	u32 c = p->unprot_shared;

	p->stats.clamp_dec++;
	if (level == 1 && p->clamped && p->good && p->clamp > p->good) {
		p->clamp = p->good;
		p->backoff = min(p->backoff * 2, VQOS_SCHED_PROBE_MAX);
		p->hold = p->backoff;
		return;
	}
	if (p->clamped)
		c = min(c, p->clamp);
	if (c > 1) {
		if (level == 1)
			c -= max(c / 16, 1U);
		else if (level == 2)
			c -= max(c / 4, 1U);
		else
			c /= 2;
	}
	p->clamp = max(c, 1U);
	p->clamped = true;
	p->good = 0;
	p->backoff = 1;
	p->hold = 1;
}

/*
 * Every protected member is comfortably within target. A level not known
 * to be calm before is now: climb on at once, by 1/16 (at least one slot)
 * per window. At the known level, wait @hold windows before probing above.
 */
static void vqos_sched_loosen(struct vqos_sched *p)
{
	u32 full = p->cfg.depth - p->reserved;

	if (!p->clamped)
		return;
	if (p->clamp > p->good) {
		p->good = p->clamp;
		p->backoff = 1;
		p->hold = 1;
	}
	if (--p->hold)
		return;
	p->clamp += max(p->clamp / 16, 1U);
	p->hold = p->backoff;
	p->stats.clamp_inc++;
	if (p->clamp >= full)
		p->clamped = false;
}

/* Judge the window that ends at @now and start the next one. */
static void vqos_sched_window(struct vqos_sched *p, u64 now)
{
	bool judged = false, calm = true;
	int miss = 0;
	struct vqos_sched_member *m;

	list_for_each_entry(m, &p->prot_members, prot_link) {
		u64 n = m->win_n, over = m->win_over;

		if (n < VQOS_SCHED_WIN_SAMPLES) {
			/* too few to judge: carried over, but not for ever */
			if (n && ++m->win_age >= VQOS_SCHED_WIN_CARRY)
				vqos_sched_win_reset(m);
			continue;
		}
		judged = true;
		m->stats.lat_windows++;
		if (over * 10 > n) {
			miss = max(miss, over * 2 > n ? 3 : over * 4 > n ? 2 : 1);
			m->stats.lat_missed++;
		} else if (over * 50 > n) {
			calm = false;
		}
		vqos_sched_win_reset(m);
	}
	p->win_start = now;
	if (!judged)
		return;
	p->stats.windows++;
	if (miss)
		vqos_sched_tighten(p, miss);
	else if (calm)
		vqos_sched_loosen(p);
}

/* Add @m's share to the pool's sums (its cfg and slots). */
static void vqos_sched_account(struct vqos_sched *p,
			       struct vqos_sched_member *m)
{
	u32 excess = vqos_sched_excess(m);

	p->reserved += m->cfg.reserve;
	p->shared += excess;
	if (vqos_sched_prot_m(m)) {
		list_add_tail(&m->prot_link, &p->prot_members);
		p->nprot++;
		p->prot_inflight += m->inflight;
	} else {
		p->unprot_shared += excess;
	}
}

/* Take @m's share out of the pool's sums. */
static void vqos_sched_unaccount(struct vqos_sched *p,
				 struct vqos_sched_member *m)
{
	u32 excess = vqos_sched_excess(m);

	p->reserved -= m->cfg.reserve;
	p->shared -= excess;
	if (vqos_sched_prot_m(m)) {
		list_del_init(&m->prot_link);
		p->nprot--;
		p->prot_inflight -= m->inflight;
	} else {
		p->unprot_shared -= excess;
	}
}

/**
 * vqos_sched_init() - initialise an empty pool with the default config
 * @p: the pool
 * @now: current time in ns
 */
void vqos_sched_init(struct vqos_sched *p, u64 now)
{
	memset(p, 0, sizeof(*p));
	p->cfg.depth = VQOS_SCHED_DEPTH_DEFAULT;
	p->cfg.win_ns = VQOS_SCHED_WIN_DEFAULT;
	p->res = RB_ROOT_CACHED;
	p->prot = RB_ROOT_CACHED;
	p->unprot = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&p->members);
	INIT_LIST_HEAD(&p->prot_members);
	INIT_LIST_HEAD(&p->granted);
	p->win_start = now;
	p->prot_last = now;
}

/**
 * vqos_sched_cfg_check() - validate a pool configuration against the pool
 * @p: the pool
 * @cfg: the configuration (0 fields mean the defaults)
 *
 * Return: 0 if valid; -ERANGE if the depth exceeds VQOS_SCHED_DEPTH_MAX or
 * the window is outside VQOS_SCHED_WIN_MIN .. VQOS_SCHED_WIN_MAX; -EINVAL
 * if the depth is below the sum of the members' reservations (lower those
 * first).
 */
int vqos_sched_cfg_check(const struct vqos_sched *p,
			 const struct vqos_sched_cfg *cfg)
{
	u32 depth = cfg->depth ? cfg->depth : VQOS_SCHED_DEPTH_DEFAULT;

	if (depth > VQOS_SCHED_DEPTH_MAX)
		return -ERANGE;
	if (cfg->win_ns && (cfg->win_ns < VQOS_SCHED_WIN_MIN ||
			    cfg->win_ns > VQOS_SCHED_WIN_MAX))
		return -ERANGE;
	if (depth < p->reserved)
		return -EINVAL;
	return 0;
}

/**
 * vqos_sched_set() - reconfigure a pool live
 * @p: the pool
 * @cfg: the configuration (0 fields mean the defaults)
 * @now: current time in ns
 *
 * A depth below the slots in flight is allowed: nothing new starts until
 * enough requests have completed. A deeper pool grants the new slots to
 * waiting members at once: pop them with vqos_sched_next_grant().
 *
 * Return: 0, or the error of vqos_sched_cfg_check() with @p unchanged.
 */
int vqos_sched_set(struct vqos_sched *p, const struct vqos_sched_cfg *cfg,
		   u64 now)
{
	int ret = vqos_sched_cfg_check(p, cfg);

	if (ret)
		return ret;
	p->cfg.depth = cfg->depth ? cfg->depth : VQOS_SCHED_DEPTH_DEFAULT;
	p->cfg.win_ns = cfg->win_ns ? cfg->win_ns : VQOS_SCHED_WIN_DEFAULT;
	if (p->clamped && p->clamp >= p->cfg.depth - p->reserved)
		p->clamped = false;
	vqos_sched_dispatch(p, now);
	return 0;
}

/**
 * vqos_sched_member_init() - initialise a member, not in any pool
 * @m: the member
 */
void vqos_sched_member_init(struct vqos_sched_member *m)
{
	memset(m, 0, sizeof(*m));
	RB_CLEAR_NODE(&m->node);
	INIT_LIST_HEAD(&m->link);
	INIT_LIST_HEAD(&m->prot_link);
	INIT_LIST_HEAD(&m->grant_link);
	m->cfg.weight = VQOS_SCHED_WEIGHT_DEFAULT;
}

/**
 * vqos_sched_member_cfg_check() - validate a member's shares in a pool
 * @p: the pool, or NULL to check shares kept for a device without one
 * @m: the member, or NULL for one not added yet
 * @cfg: the shares
 *
 * Return: 0 if valid; -ERANGE for a weight outside 1 ..
 * VQOS_SCHED_WEIGHT_MAX or a latency target outside VQOS_SCHED_LAT_MIN ..
 * VQOS_SCHED_LAT_MAX (0 = none is valid); -EINVAL if the pool's
 * reservations would exceed its depth.
 */
int vqos_sched_member_cfg_check(const struct vqos_sched *p,
				const struct vqos_sched_member *m,
				const struct vqos_sched_member_cfg *cfg)
{
	u64 reserved = p ? p->reserved : 0;

	if (!cfg->weight || cfg->weight > VQOS_SCHED_WEIGHT_MAX)
		return -ERANGE;
	if (cfg->lat_target_ns && (cfg->lat_target_ns < VQOS_SCHED_LAT_MIN ||
				   cfg->lat_target_ns > VQOS_SCHED_LAT_MAX))
		return -ERANGE;
	/* Without a pool (yet), only what no pool could ever hold. */
	if (!p)
		return cfg->reserve > VQOS_SCHED_DEPTH_MAX ? -EINVAL : 0;
	if (m && m->pool == p)
		reserved -= m->cfg.reserve;
	if (reserved + cfg->reserve > p->cfg.depth)
		return -EINVAL;
	return 0;
}

/**
 * vqos_sched_add() - make @m a member of @p
 * @p: the pool
 * @m: the member, initialised by vqos_sched_member_init(), in no pool (a
 *	member removed from a pool may be added to another one; its counters
 *	are kept)
 * @cfg: its shares, or NULL for none (no reservation, the default weight,
 *	no latency target)
 * @now: current time in ns
 *
 * Return: 0; -EBUSY if @m is in a pool already; else the error of
 * vqos_sched_member_cfg_check(), and @m is not added.
 */
int vqos_sched_add(struct vqos_sched *p, struct vqos_sched_member *m,
		   const struct vqos_sched_member_cfg *cfg, u64 now)
{
	static const struct vqos_sched_member_cfg dflt = {
		.weight = VQOS_SCHED_WEIGHT_DEFAULT,
	};
	int ret;

	if (m->pool)
		return -EBUSY;
	if (!cfg)
		cfg = &dflt;
	ret = vqos_sched_member_cfg_check(p, NULL, cfg);
	if (ret)
		return ret;
	vqos_sched_win_reset(m);
	vqos_sched_cfg_apply(m, cfg);
	m->pool = p;
	list_add_tail(&m->link, &p->members);
	p->nmembers++;
	vqos_sched_account(p, m);
	if (vqos_sched_prot_m(m))
		p->prot_last = now;
	return 0;
}

/* Drop @m's wait or unconsumed grant, without dispatching. */
static void __vqos_sched_cancel(struct vqos_sched *p,
				struct vqos_sched_member *m, u64 now)
{
	if (m->tree)
		vqos_sched_wait_end(p, m, now);
	if (m->granted) {
		m->granted = false;
		list_del_init(&m->grant_link);
		vqos_sched_free(p, m, 0);
	}
}

/**
 * vqos_sched_cancel() - the member's waiting request went away (reset)
 * @p: the pool
 * @m: the member
 * @now: current time in ns
 *
 * Ends its wait, or gives back the slot it was granted and has not used;
 * the slot goes to the next waiter (pop it with vqos_sched_next_grant()).
 * Slots of requests already started are not touched: they are given back
 * by vqos_sched_put() as they complete.
 */
void vqos_sched_cancel(struct vqos_sched *p, struct vqos_sched_member *m,
		       u64 now)
{
	__vqos_sched_cancel(p, m, now);
	vqos_sched_dispatch(p, now);
}

/**
 * vqos_sched_remove() - take @m out of @p
 * @p: the pool
 * @m: the member
 * @now: current time in ns
 *
 * Its wait or unconsumed grant is cancelled as by vqos_sched_cancel(), and
 * its reservation returns to the pool: waiters may be granted.
 *
 * Return: 0; -EINVAL if @m is not in @p; -EBUSY, with nothing changed, if
 * it still has requests in flight (wait for their vqos_sched_put()).
 */
int vqos_sched_remove(struct vqos_sched *p, struct vqos_sched_member *m,
		      u64 now)
{
	if (m->pool != p)
		return -EINVAL;
	if (m->inflight > (m->granted ? 1 : 0))
		return -EBUSY;
	__vqos_sched_cancel(p, m, now);
	vqos_sched_unaccount(p, m);
	list_del_init(&m->link);
	p->nmembers--;
	m->pool = NULL;
	if (!p->nprot)
		p->clamped = false;
	vqos_sched_dispatch(p, now);
	return 0;
}

/**
 * vqos_sched_member_set() - change a member's shares live
 * @p: the pool
 * @m: the member
 * @cfg: the new shares
 * @now: current time in ns
 *
 * Takes effect at once, for the slots it holds as well as for its wait: a
 * higher reservation turns shared slots it holds into reserved ones and may
 * let it jump the queue; a new weight reorders it. A new latency target
 * starts a new window for it; with no protected member left, the clamp is
 * lifted. Grants that follow are popped with vqos_sched_next_grant().
 *
 * Return: 0; -EINVAL if @m is not in @p; else the error of
 * vqos_sched_member_cfg_check() with nothing changed.
 */
int vqos_sched_member_set(struct vqos_sched *p, struct vqos_sched_member *m,
			  const struct vqos_sched_member_cfg *cfg, u64 now)
{
	bool waiting = m->tree;
	int ret;

	if (m->pool != p)
		return -EINVAL;
	ret = vqos_sched_member_cfg_check(p, m, cfg);
	if (ret)
		return ret;
	if (waiting) {
		vqos_sched_dequeue(m);
		if (vqos_sched_prot_m(m))
			p->prot_waiting--;
	}
	vqos_sched_unaccount(p, m);
	if (cfg->lat_target_ns != m->cfg.lat_target_ns)
		vqos_sched_win_reset(m);
	vqos_sched_cfg_apply(m, cfg);
	vqos_sched_account(p, m);
	if (vqos_sched_prot_m(m))
		p->prot_last = now;
	if (waiting) {
		vqos_sched_enqueue(p, m);
		if (vqos_sched_prot_m(m))
			p->prot_waiting++;
	}
	if (!p->nprot)
		p->clamped = false;
	vqos_sched_dispatch(p, now);
	return 0;
}

/**
 * vqos_sched_get() - may the member start one request now?
 * @p: the pool
 * @m: the member (its worker, with the request at the head of its FIFO)
 * @now: current time in ns
 *
 * A member holding a grant consumes it. Otherwise the request takes a free
 * slot if it may: one of its reservation, else a shared one if the pool has
 * one and, for an unprotected member, the clamp allows. Else the member
 * waits, in order, and a later vqos_sched_put(), vqos_sched_cancel(),
 * vqos_sched_remove() or live change grants it a slot: the caller then
 * wakes its worker, which calls vqos_sched_get() again. Asking again while
 * waiting changes nothing.
 *
 * Return: true if the request may start (it holds a slot until its
 * vqos_sched_put()), false if the member waits.
 */
bool vqos_sched_get(struct vqos_sched *p, struct vqos_sched_member *m,
		    u64 now)
{
	bool prot = vqos_sched_prot_m(m);

	if (m->granted) {
		m->granted = false;
		list_del_init(&m->grant_link);
		m->stats.ios++;
		return true;
	}
	if (m->tree)
		return false;
	if (prot)
		p->prot_last = now;
	m->vstart = vqos_sched_vstart(p, m);
	m->vfinish = m->vstart;
	if (p->inflight < p->cfg.depth &&
	    (m->inflight < m->cfg.reserve ||
	     (p->reserved + p->shared < p->cfg.depth &&
	      (prot || !p->clamped || p->unprot_shared < p->clamp)))) {
		vqos_sched_take(p, m);
		m->stats.ios++;
		p->stats.grants++;
		return true;
	}
	m->seq = p->seq++;
	m->wait_since = now;
	vqos_sched_enqueue(p, m);
	p->nwaiting++;
	if (prot)
		p->prot_waiting++;
	m->stats.waits++;
	p->stats.waits++;
	return false;
}

/**
 * vqos_sched_put() - a request of the member completed
 * @p: the pool
 * @m: the member
 * @now: current time in ns
 * @lat_ns: the request's latency as the latency target means it: from its
 *	first vqos_sched_get() to its completion (its wait for a slot and its
 *	time on the backing, not the time its own rate limits held it)
 * @svc_ns: its time on the backing, from its start to its completion
 *
 * Frees the slot and gives it (or any slot that a loosened clamp frees) to
 * the waiter that should have it next: members under their reservation,
 * then the smallest SFQ start tag. A protected member's completion
 * feeds its latency window, and may end the window; an unprotected one's
 * lifts the clamp when no protected member has been active for
 * VQOS_SCHED_IDLE_WINS windows.
 *
 * Return: true if some member holds a grant not popped yet: pop them with
 * vqos_sched_next_grant() and wake their workers.
 */
bool vqos_sched_put(struct vqos_sched *p, struct vqos_sched_member *m,
		    u64 now, u64 lat_ns, u64 svc_ns)
{
	if (!m->inflight)
		return !list_empty(&p->granted);	/* unbalanced: ignore */
	svc_ns = min(svc_ns, VQOS_SCHED_WIN_MAX);
	vqos_sched_free(p, m, svc_ns);
	m->svc_est = m->svc_est ? m->svc_est - (m->svc_est >> 3) + (svc_ns >> 3) :
				  svc_ns;
	p->svc_ns = p->svc_ns ? p->svc_ns - (p->svc_ns >> 3) + (svc_ns >> 3) :
				svc_ns;

	if (vqos_sched_prot_m(m)) {
		p->prot_last = now;
		m->win_n++;
		if (lat_ns > m->cfg.lat_target_ns)
			m->win_over++;
		if (vqos_sched_since(now, p->win_start) >= vqos_sched_win(p))
			vqos_sched_window(p, now);
	} else if (p->clamped && vqos_sched_prot_idle(p, now)) {
		p->clamped = false;
		p->stats.clamp_reset++;
	}

	if (m->tree && m->tree != &p->res && m->inflight < m->cfg.reserve) {
		/* back under its reservation: it goes first */
		vqos_sched_dequeue(m);
		vqos_sched_enqueue(p, m);
	}
	if (p->nwaiting)
		vqos_sched_dispatch(p, now);
	return !list_empty(&p->granted);
}

/**
 * vqos_sched_next_grant() - pop a member that was granted a slot
 * @p: the pool
 *
 * The caller wakes the member's worker, whose next vqos_sched_get()
 * consumes the grant. A member consuming its grant before it is popped is
 * fine: it leaves the list.
 *
 * Return: the member, or NULL when none is left.
 */
struct vqos_sched_member *vqos_sched_next_grant(struct vqos_sched *p)
{
	struct vqos_sched_member *m;

	m = list_first_entry_or_null(&p->granted, struct vqos_sched_member,
				     grant_link);
	if (m)
		list_del_init(&m->grant_link);
	return m;
}

/**
 * vqos_sched_stats() - read a pool's counters and state
 * @p: the pool
 * @out: where to copy them
 */
void vqos_sched_stats(const struct vqos_sched *p, struct vqos_sched_stats *out)
{
	*out = p->stats;
	out->depth = p->cfg.depth;
	out->inflight = p->inflight;
	out->reserved = p->reserved;
	out->shared = p->shared;
	out->unprot_limit = p->clamped ? p->clamp : p->cfg.depth - p->reserved;
	out->waiting = p->nwaiting;
	out->members = p->nmembers;
	out->svc_ns = p->svc_ns;
}

/**
 * vqos_sched_member_stats() - read a member's counters
 * @m: the member
 * @now: current time in ns, to count a wait in progress
 * @out: where to copy them
 */
void vqos_sched_member_stats(const struct vqos_sched_member *m, u64 now,
			     struct vqos_sched_member_stats *out)
{
	*out = m->stats;
	if (m->tree)
		out->wait_ns += vqos_sched_since(now, m->wait_since);
}
