/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vqos pool scheduler: pure logic, no clock, no locks, no allocation.
 *
 * A pool is the set of vqos devices (members) that share one backing store.
 * It lets at most @depth requests be in flight on the backing, and decides
 * which member's request takes a free slot:
 *
 * - Reservation: a member's first @reserve in-flight requests always find a
 *   free slot at once. Reserved slots that their member does not use are
 *   kept free, never lent: a slot lent out could only come back when the
 *   borrower's request completes, so the reserving member would wait behind
 *   another member's request, which is what a reservation must prevent.
 *   The cost is bounded by what the operator reserves: a member alone may
 *   use @depth minus the other members' idle reservations.
 * - Weight: the other slots (shared slots: @depth minus all reservations)
 *   go to the members that want them in proportion to their weights, by
 *   start-time fair queueing over the pool's depth (SFQ(D), Jin, Chase and
 *   Kaur, SIGMETRICS 2004). The cost a member is charged for a shared slot
 *   is the time it holds it (estimated when granted from its recent
 *   service times, corrected at completion), divided by its weight: with
 *   every member backlogged, each gets its weight's share of the backing's
 *   time whatever its request sizes, and a member whose share is below one
 *   slot still gets it, over time. A member that asks after being idle
 *   starts at the pool's virtual time: no credit for having been idle.
 * - Latency target: while a protected member (one with a target) sees more
 *   than 10 % of its completions in a window slower than its target, the
 *   shared slots that unprotected members may hold together are clamped,
 *   multiplicative decrease, additive increase once it recovers, back to no
 *   clamp when no protected member is active. Reservations are not clamped.
 *
 * Requests are admitted one at a time by the member's single worker, in
 * FIFO order: a member waits for at most one slot at a time. A waiting
 * member sits in a red-black tree ordered by its claim; a completion grants
 * the freed slot directly to the best waiter, which consumes it on its next
 * vqos_sched_get(). When nobody waits, vqos_sched_get() and
 * vqos_sched_put() are O(1) and touch no other member; with waiters they
 * are O(log waiters). An idle member costs nothing.
 *
 * The caller passes the time (@now, ns from a monotonic clock) to every
 * call and serialises all calls on one pool (one lock per pool). Nothing
 * here allocates, sleeps or prints.
 *
 * Use: the worker, for the request at the head of its FIFO (once its rate
 * limits pass), notes the time of its first ask and calls vqos_sched_get();
 * on false it keeps the request and stops, to be woken by its grant. On
 * each completion, vqos_sched_put() with the request's latency since that
 * first ask and its time on the backing; then, still under the pool's
 * lock, vqos_sched_next_grant() until NULL, waking each member's worker.
 * A reset calls vqos_sched_cancel(); a device leaves with
 * vqos_sched_remove() once its requests have completed.
 */
#ifndef _VQOS_SCHED_H
#define _VQOS_SCHED_H

#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/types.h>

#define VQOS_SCHED_DEPTH_DEFAULT	32
#define VQOS_SCHED_DEPTH_MAX		65536
#define VQOS_SCHED_WEIGHT_DEFAULT	100
#define VQOS_SCHED_WEIGHT_MAX		1000
#define VQOS_SCHED_LAT_MIN		1000ULL		/* 1 us */
#define VQOS_SCHED_LAT_MAX		10000000000ULL	/* 10 s */
#define VQOS_SCHED_WIN_DEFAULT		50000000ULL	/* 50 ms */
#define VQOS_SCHED_WIN_MIN		1000000ULL	/* 1 ms */
#define VQOS_SCHED_WIN_MAX		10000000000ULL	/* 10 s */
/* A window is at least this many service times long (see vqos_sched_win). */
#define VQOS_SCHED_WIN_SVC		16
/* A member needs this many completions in a window to judge it. */
#define VQOS_SCHED_WIN_SAMPLES		16
/* ... and carries fewer over at most this many windows. */
#define VQOS_SCHED_WIN_CARRY		8
/* No protected completion for this many windows: protected side idle. */
#define VQOS_SCHED_IDLE_WINS		4
/* At most this many windows between probes above the last calm clamp. */
#define VQOS_SCHED_PROBE_MAX		16U
/* Virtual time: 1 ns of a slot costs VQOS_SCHED_VT_SCALE / weight. */
#define VQOS_SCHED_VT_SCALE		256
/*
 * An active member's start tag may lag the virtual time by this many
 * requests (see vqos_sched_vstart()).
 */
#define VQOS_SCHED_VT_SLACK		2
/* Tags are rebased (O(members), every few minutes at worst) past this. */
#define VQOS_SCHED_VT_REBASE		(1ULL << 62)

/**
 * struct vqos_sched_cfg - configuration of a pool
 * @depth: requests the pool lets be in flight on the backing, 1 ..
 *	VQOS_SCHED_DEPTH_MAX; 0 = VQOS_SCHED_DEPTH_DEFAULT. Set it to the
 *	backing's own parallelism (its queue depth): a reservation keeps a
 *	slot free in the pool, which is a free tag on the backing only if the
 *	pool is no deeper than the backing.
 * @win_ns: latency window, VQOS_SCHED_WIN_MIN .. VQOS_SCHED_WIN_MAX;
 *	0 = VQOS_SCHED_WIN_DEFAULT. A window lasts at least
 *	VQOS_SCHED_WIN_SVC measured service times.
 */
struct vqos_sched_cfg {
	u32 depth;
	u64 win_ns;
};

/**
 * struct vqos_sched_member_cfg - a member's shares in its pool
 * @reserve: slots the member gets whenever it asks, whatever the others
 *	do; the reservations of a pool add up to at most its depth.
 * @weight: 1 .. VQOS_SCHED_WEIGHT_MAX (0 is refused; the default of a new
 *	member is VQOS_SCHED_WEIGHT_DEFAULT): the member's share of the
 *	shared slots among the members that want them.
 * @lat_target_ns: 0 = none, else VQOS_SCHED_LAT_MIN .. VQOS_SCHED_LAT_MAX:
 *	the latency the member is protected at (its p90 over a window).
 */
struct vqos_sched_member_cfg {
	u32 reserve;
	u32 weight;
	u64 lat_target_ns;
};

/**
 * struct vqos_sched_member_stats - what a member went through
 * @ios: requests that got a slot (and consumed it)
 * @waits: times it asked and had to wait
 * @wait_ns: time spent waiting, including a wait in progress
 * @lat_windows: windows in which its latency was judged
 * @lat_missed: of those, the ones over target (more than 10 % slower)
 */
struct vqos_sched_member_stats {
	u64 ios;
	u64 waits;
	u64 wait_ns;
	u64 lat_windows;
	u64 lat_missed;
};

/**
 * struct vqos_sched_member - a device in a pool
 * @node: in one of the pool's wait trees while waiting
 * @tree: that tree, NULL when not waiting
 * @link: in &vqos_sched.members
 * @prot_link: in &vqos_sched.prot_members while it has a latency target
 * @grant_link: in &vqos_sched.granted from a grant until popped or consumed
 * @pool: the pool, NULL when not a member
 * @cfg: its configuration
 * @vinv: (VQOS_SCHED_VT_SCALE << 16) / weight, see vqos_sched_vcost()
 * @inflight: slots held, including an unconsumed grant
 * @granted: holds a grant it has not consumed yet
 * @seq: order of arrival of the current wait, breaks ties FIFO
 * @wait_since: start of the current wait
 * @vstart: SFQ start tag of the request it waits with
 * @vfinish: SFQ finish tag of its last shared slot
 * @svc_est: EWMA (1/8) of its requests' service time, the estimated cost
 * @win_n: completions in the current latency window
 * @win_over: of those, the ones slower than the target
 * @win_age: windows that @win_n has been carried over
 * @stats: counters, read with vqos_sched_member_stats()
 *
 * Embedded in the caller's device; treat as opaque.
 */
struct vqos_sched_member {
	struct rb_node node;
	struct rb_root_cached *tree;
	struct list_head link;
	struct list_head prot_link;
	struct list_head grant_link;
	struct vqos_sched *pool;
	struct vqos_sched_member_cfg cfg;
	u32 vinv;
	u32 inflight;
	bool granted;
	u64 seq;
	u64 wait_since;
	u64 vstart;
	u64 vfinish;
	u64 svc_est;
	u32 win_n;
	u32 win_over;
	u32 win_age;
	struct vqos_sched_member_stats stats;
};

/**
 * struct vqos_sched_stats - a pool's counters and state
 * @grants: slots given at once by vqos_sched_get()
 * @deferred: slots granted to a waiting member
 * @waits: requests that had to wait for a slot
 * @clamp_dec: latency windows that tightened the clamp
 * @clamp_inc: latency windows that loosened it
 * @clamp_reset: clamps lifted because no protected member was active
 * @windows: latency windows judged
 * @depth: the pool's depth
 * @inflight: slots held (including unconsumed grants)
 * @reserved: sum of the members' reservations
 * @shared: shared slots held (in-flight requests beyond reservations)
 * @unprot_limit: shared slots the unprotected members may hold together:
 *	the clamp, or @depth - @reserved when not clamped
 * @waiting: members waiting
 * @members: members
 * @svc_ns: service time, an EWMA (1/8) of the completions' time on the
 *	backing
 */
struct vqos_sched_stats {
	u64 grants;
	u64 deferred;
	u64 waits;
	u64 clamp_dec;
	u64 clamp_inc;
	u64 clamp_reset;
	u64 windows;
	u32 depth;
	u32 inflight;
	u32 reserved;
	u32 shared;
	u32 unprot_limit;
	u32 waiting;
	u32 members;
	u64 svc_ns;
};

/**
 * struct vqos_sched - a pool
 * @cfg: its configuration
 * @inflight: slots held by all members
 * @reserved: sum of the members' @reserve
 * @shared: sum over members of max(0, inflight - reserve)
 * @unprot_shared: the part of @shared held by unprotected members
 * @prot_inflight: slots held by protected members
 * @prot_waiting: protected members waiting
 * @nwaiting: members waiting
 * @nmembers: members
 * @nprot: protected members
 * @clamped: the unprotected members are clamped to @clamp shared slots
 * @clamp: see @clamped
 * @good: highest clamp judged calm since the last cut, 0 = none
 * @hold: calm windows to wait before the clamp is raised
 * @backoff: @hold after a failed probe, doubling up to VQOS_SCHED_PROBE_MAX
 * @win_start: start of the current latency window
 * @prot_last: last get or completion of a protected member
 * @seq: next &vqos_sched_member.seq
 * @vtime: SFQ virtual time: the highest start tag granted a shared slot
 * @svc_ns: EWMA of the service time, 0 before the first completion
 * @res: waiting members under their reservation (after a live change)
 * @prot: waiting protected members, by start tag
 * @unprot: waiting unprotected members, by start tag
 * @members: all members
 * @prot_members: members with a latency target
 * @granted: members granted a slot, for the caller to wake
 * @stats: counters
 *
 * Treat as opaque: use vqos_sched_*().
 */
struct vqos_sched {
	struct vqos_sched_cfg cfg;
	u32 inflight;
	u32 reserved;
	u32 shared;
	u32 unprot_shared;
	u32 prot_inflight;
	u32 prot_waiting;
	u32 nwaiting;
	u32 nmembers;
	u32 nprot;
	bool clamped;
	u32 clamp;
	u32 good;
	u32 hold;
	u32 backoff;
	u64 win_start;
	u64 prot_last;
	u64 seq;
	u64 vtime;
	u64 svc_ns;
	struct rb_root_cached res;
	struct rb_root_cached prot;
	struct rb_root_cached unprot;
	struct list_head members;
	struct list_head prot_members;
	struct list_head granted;
	struct vqos_sched_stats stats;
};

void vqos_sched_init(struct vqos_sched *p, u64 now);
int vqos_sched_cfg_check(const struct vqos_sched *p,
			 const struct vqos_sched_cfg *cfg);
int vqos_sched_set(struct vqos_sched *p, const struct vqos_sched_cfg *cfg,
		   u64 now);
void vqos_sched_member_init(struct vqos_sched_member *m);
int vqos_sched_member_cfg_check(const struct vqos_sched *p,
				const struct vqos_sched_member *m,
				const struct vqos_sched_member_cfg *cfg);
int vqos_sched_add(struct vqos_sched *p, struct vqos_sched_member *m,
		   const struct vqos_sched_member_cfg *cfg, u64 now);
int vqos_sched_remove(struct vqos_sched *p, struct vqos_sched_member *m,
		      u64 now);
int vqos_sched_member_set(struct vqos_sched *p, struct vqos_sched_member *m,
			  const struct vqos_sched_member_cfg *cfg, u64 now);
bool vqos_sched_get(struct vqos_sched *p, struct vqos_sched_member *m,
		    u64 now);
bool vqos_sched_put(struct vqos_sched *p, struct vqos_sched_member *m,
		    u64 now, u64 lat_ns, u64 svc_ns);
void vqos_sched_cancel(struct vqos_sched *p, struct vqos_sched_member *m,
		       u64 now);
struct vqos_sched_member *vqos_sched_next_grant(struct vqos_sched *p);
void vqos_sched_stats(const struct vqos_sched *p,
		      struct vqos_sched_stats *out);
void vqos_sched_member_stats(const struct vqos_sched_member *m, u64 now,
			     struct vqos_sched_member_stats *out);

/**
 * vqos_sched_waiting() - is any member of the pool waiting for a slot?
 * @p: the pool
 *
 * Return: true if some member asked and was neither served nor granted yet.
 */
static inline bool vqos_sched_waiting(const struct vqos_sched *p)
{
	return p->nwaiting != 0;
}

/**
 * vqos_sched_member_waiting() - is this member waiting for a slot?
 * @m: the member
 *
 * Return: true between a vqos_sched_get() that returned false and the grant
 * (or vqos_sched_cancel()).
 */
static inline bool vqos_sched_member_waiting(const struct vqos_sched_member *m)
{
	return m->tree != NULL;
}

#endif /* _VQOS_SCHED_H */
