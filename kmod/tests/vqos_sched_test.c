// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the vqos pool scheduler (vqos_sched.c).
 *
 * Time is injected. The first cases drive the scheduler by hand. The others
 * run a discrete-event simulation: a backend with @par parallel units and a
 * service time (with optional uniform jitter) that queues in FIFO order
 * beyond @par, and one worker per member that starts its requests in FIFO
 * order, asking the pool for a slot before each and stopping at the first
 * refusal until its grant wakes it, as the datapath does. Everything is
 * deterministic: one xorshift32 seeded per test, events ordered by time then
 * by creation. No test reads a clock or asserts a wall-clock rate.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/slab.h>

/* The code under test has no module glue: build it into this module. */
#include "../vqos_sched.c"

#define US	1000ULL
#define MS	1000000ULL
#define SEC	1000000000ULL

/* ---- by hand ----------------------------------------------------------- */

static struct vqos_sched *vqos_sched_test_pool(struct kunit *test, u32 depth)
{
	struct vqos_sched *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	struct vqos_sched_cfg cfg = { .depth = depth };

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	vqos_sched_init(p, 0);
	KUNIT_ASSERT_EQ(test, vqos_sched_set(p, &cfg, 0), 0);
	return p;
}

static struct vqos_sched_member *
vqos_sched_test_add(struct kunit *test, struct vqos_sched *p, u32 reserve,
		    u32 weight, u64 target)
{
	struct vqos_sched_member *m = kunit_kzalloc(test, sizeof(*m),
						    GFP_KERNEL);
	struct vqos_sched_member_cfg cfg = {
		.reserve = reserve, .weight = weight, .lat_target_ns = target,
	};

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, m);
	vqos_sched_member_init(m);
	KUNIT_ASSERT_EQ(test, vqos_sched_add(p, m, &cfg, 0), 0);
	return m;
}

/* Ask @n times at @now; return how many got a slot. */
static u32 vqos_sched_test_take(struct vqos_sched *p,
				struct vqos_sched_member *m, u32 n, u64 now)
{
	u32 got = 0;

	while (n--)
		got += vqos_sched_get(p, m, now);
	return got;
}

/* @first, then @n samples of @x, through the 1/8 EWMA. */
static u64 vqos_sched_test_ewma(u64 first, u64 x, int n)
{
	while (n--)
		first = first - (first >> 3) + (x >> 3);
	return first;
}

/* Pop every grant; return how many, and the last one in *@last. */
static u32 vqos_sched_test_pop(struct vqos_sched *p,
			       struct vqos_sched_member **last)
{
	struct vqos_sched_member *m;
	u32 n = 0;

	while ((m = vqos_sched_next_grant(p))) {
		n++;
		if (last)
			*last = m;
	}
	return n;
}

static void vqos_sched_test_invalid(struct kunit *test)
{
	struct vqos_sched *p = vqos_sched_test_pool(test, 8);
	struct vqos_sched_member *a = vqos_sched_test_add(test, p, 3, 100, 0);
	struct vqos_sched_member *b, *c;
	struct vqos_sched_member_cfg mc;
	struct vqos_sched_cfg pc;
	struct vqos_sched_stats st;
	static const struct {
		u32 reserve, weight;
		u64 target;
		int err;
	} bad[] = {
		{ 0, 0, 0, -ERANGE },			/* weight 0 */
		{ 0, VQOS_SCHED_WEIGHT_MAX + 1, 0, -ERANGE },
		{ 0, 100, VQOS_SCHED_LAT_MIN - 1, -ERANGE },
		{ 0, 100, VQOS_SCHED_LAT_MAX + 1, -ERANGE },
		{ 9, 100, 0, -EINVAL },			/* over the depth */
		{ 6, 100, 0, 0 },	/* fits a (3 is its own), not b */
		{ U32_MAX, 100, 0, -EINVAL },		/* no wrap-around */
	};
	int i;

	b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	vqos_sched_member_init(b);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		mc = (struct vqos_sched_member_cfg){ bad[i].reserve,
						     bad[i].weight,
						     bad[i].target };
		if (!bad[i].err) {
			KUNIT_EXPECT_EQ(test, vqos_sched_member_cfg_check(p, a, &mc),
					0);
			KUNIT_EXPECT_EQ(test, vqos_sched_add(p, b, &mc, 0),
					-EINVAL);
			continue;
		}
		KUNIT_EXPECT_EQ_MSG(test, vqos_sched_member_cfg_check(p, NULL, &mc),
				    bad[i].err, "case %d", i);
		KUNIT_EXPECT_EQ(test, vqos_sched_add(p, b, &mc, 0), bad[i].err);
		KUNIT_EXPECT_NULL(test, b->pool);
		/* a live change to a bad config changes nothing */
		KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, a, &mc, 0),
				bad[i].err);
		KUNIT_EXPECT_EQ(test, a->cfg.reserve, 3U);
		KUNIT_EXPECT_EQ(test, a->cfg.weight, 100U);
		KUNIT_EXPECT_EQ(test, p->reserved, 3U);
	}
	/* the limits themselves are valid: a's own 3 count only once */
	mc = (struct vqos_sched_member_cfg){ 8, VQOS_SCHED_WEIGHT_MAX,
					     VQOS_SCHED_LAT_MAX };
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, a, &mc, 0), 0);
	mc = (struct vqos_sched_member_cfg){ 3, 1, VQOS_SCHED_LAT_MIN };
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, a, &mc, 0), 0);
	/* NULL: the defaults */
	KUNIT_EXPECT_EQ(test, vqos_sched_add(p, b, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, b->cfg.weight, (u32)VQOS_SCHED_WEIGHT_DEFAULT);
	KUNIT_EXPECT_EQ(test, b->cfg.reserve, 0U);
	KUNIT_EXPECT_EQ(test, vqos_sched_add(p, b, NULL, 0), -EBUSY);
	/* 3 + 5 == 8 fits, one more does not */
	mc = (struct vqos_sched_member_cfg){ 5, 100, 0 };
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, b, &mc, 0), 0);
	c = vqos_sched_test_add(test, p, 0, 100, 0);
	mc.reserve = 1;
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, c, &mc, 0), -EINVAL);

	/* pool: depth under the reservations, out of range, bad windows */
	pc = (struct vqos_sched_cfg){ .depth = 7 };
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, 0), -EINVAL);
	pc = (struct vqos_sched_cfg){ .depth = VQOS_SCHED_DEPTH_MAX + 1 };
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, 0), -ERANGE);
	pc = (struct vqos_sched_cfg){ .depth = 8,
				      .win_ns = VQOS_SCHED_WIN_MIN - 1 };
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, 0), -ERANGE);
	pc.win_ns = VQOS_SCHED_WIN_MAX + 1;
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, 0), -ERANGE);
	vqos_sched_stats(p, &st);
	KUNIT_EXPECT_EQ(test, st.depth, 8U);
	KUNIT_EXPECT_EQ(test, st.reserved, 8U);
	KUNIT_EXPECT_EQ(test, p->cfg.win_ns, VQOS_SCHED_WIN_DEFAULT);
	pc = (struct vqos_sched_cfg){ .depth = 0, .win_ns = 0 };
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, 0), 0);
	KUNIT_EXPECT_EQ(test, p->cfg.depth, (u32)VQOS_SCHED_DEPTH_DEFAULT);
	pc = (struct vqos_sched_cfg){ .depth = VQOS_SCHED_DEPTH_MAX,
				      .win_ns = VQOS_SCHED_WIN_MAX };
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, 0), 0);

	/* members of another pool are refused */
	KUNIT_EXPECT_EQ(test, vqos_sched_remove(vqos_sched_test_pool(test, 4),
						a, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(vqos_sched_test_pool(test, 4),
						    a, &mc, 0), -EINVAL);
}

/*
 * Reserved slots are kept free for their member; the rest is shared and
 * work-conserving; a completion grants the freed slot to the waiter.
 */
static void vqos_sched_test_slots(struct kunit *test)
{
	struct vqos_sched *p = vqos_sched_test_pool(test, 8);
	struct vqos_sched_member *v = vqos_sched_test_add(test, p, 2, 100, 0);
	struct vqos_sched_member *a = vqos_sched_test_add(test, p, 0, 100, 0);
	struct vqos_sched_member *g = NULL;
	struct vqos_sched_member_stats ms;
	struct vqos_sched_stats st;

	/* a alone: 8 minus v's 2 idle reserved slots */
	KUNIT_EXPECT_EQ(test, vqos_sched_test_take(p, a, 7, 10), 6U);
	KUNIT_EXPECT_TRUE(test, vqos_sched_member_waiting(a));
	KUNIT_EXPECT_TRUE(test, vqos_sched_waiting(p));
	/* asking again while waiting changes nothing */
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, 11));
	KUNIT_EXPECT_EQ(test, a->stats.waits, 1ULL);
	/* v gets its 2 at once, whatever a holds; its third waits */
	KUNIT_EXPECT_EQ(test, vqos_sched_test_take(p, v, 2, 20), 2U);
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, v, 20));
	vqos_sched_stats(p, &st);
	KUNIT_EXPECT_EQ(test, st.inflight, 8U);
	KUNIT_EXPECT_EQ(test, st.shared, 6U);
	KUNIT_EXPECT_EQ(test, st.waiting, 2U);
	KUNIT_EXPECT_EQ(test, st.grants, 8ULL);
	KUNIT_EXPECT_EQ(test, st.waits, 2ULL);

	/* a completes one: v holds no shared slot, a holds 5: v is next */
	KUNIT_EXPECT_TRUE(test, vqos_sched_put(p, a, 30, 20, 20));
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
	KUNIT_EXPECT_PTR_EQ(test, g, v);
	KUNIT_EXPECT_FALSE(test, vqos_sched_member_waiting(v));
	KUNIT_EXPECT_TRUE(test, v->granted);
	KUNIT_EXPECT_EQ(test, v->inflight, 3U);	/* the grant holds its slot */
	/* nobody can take it before v consumes it */
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, 31));
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, v, 35));
	KUNIT_EXPECT_FALSE(test, v->granted);
	vqos_sched_member_stats(v, 100, &ms);
	KUNIT_EXPECT_EQ(test, ms.ios, 3ULL);
	KUNIT_EXPECT_EQ(test, ms.waits, 1ULL);
	KUNIT_EXPECT_EQ(test, ms.wait_ns, 10ULL);	/* 20 .. 30 */
	/* an open wait counts up to @now */
	vqos_sched_member_stats(a, 100, &ms);
	KUNIT_EXPECT_EQ(test, ms.wait_ns, 90ULL);

	/* v completes one: it held 3, one over its reservation: that shared
	 * slot goes to a
	 */
	KUNIT_EXPECT_TRUE(test, vqos_sched_put(p, v, 40, 5, 8));
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
	KUNIT_EXPECT_PTR_EQ(test, g, a);
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, a, 40));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, 40));
	/* its 2 reserved slots free up: they stay free, a still waits */
	KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, v, 41, 5, 8));
	KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, v, 41, 5, 8));
	KUNIT_EXPECT_TRUE(test, vqos_sched_member_waiting(a));
	KUNIT_EXPECT_EQ(test, p->inflight, 6U);
	KUNIT_EXPECT_EQ(test, p->shared, 6U);
	/* and are v's again at once */
	KUNIT_EXPECT_EQ(test, vqos_sched_test_take(p, v, 2, 42), 2U);
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, NULL), 0U);
	KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, v, 43, 5, 8));
	KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, v, 43, 5, 8));
	/* an unbalanced put is ignored, not wrapped */
	KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, v, 50, 5, 8));
	KUNIT_EXPECT_EQ(test, v->inflight, 0U);
	KUNIT_EXPECT_EQ(test, p->inflight, 6U);
	/* service time: EWMA, 1/8 per completion, seeded by the first */
	KUNIT_EXPECT_EQ(test, p->svc_ns, vqos_sched_test_ewma(20, 8, 5));
}

/*
 * Shared slots go by SFQ start tag, ties FIFO; backlogged members get
 * grants in the ratio of their weights. The backend here completes the
 * oldest request first, each after 1 us.
 */
static void vqos_sched_test_order(struct kunit *test)
{
	struct vqos_sched *p = vqos_sched_test_pool(test, 12);
	struct vqos_sched_member *mm[3], *g = NULL, *ring[16];
	u32 i, head = 0, tail = 0, n[3] = { 0 };
	u64 t = 10;

	mm[0] = vqos_sched_test_add(test, p, 0, 100, 0);
	mm[1] = vqos_sched_test_add(test, p, 0, 300, 0);
	mm[2] = vqos_sched_test_add(test, p, 0, 100, 0);
	/* nothing measured yet: each request costs the same, 1 ns; z and
	 * y start at the same tag, x (12 charged) behind them: FIFO, z
	 */
	for (i = 0; i < 12; i++) {
		KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, mm[0], t));
		ring[tail++ % 16] = mm[0];
	}
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, mm[2], t));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, mm[1], t));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, mm[0], t));
	KUNIT_EXPECT_TRUE(test, vqos_sched_put(p, ring[head++ % 16], ++t, US,
					       US));
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
	KUNIT_EXPECT_PTR_EQ(test, g, mm[2]);
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, mm[2], t));
	ring[tail++ % 16] = mm[2];
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, mm[2], t));
	/* keep all three backlogged for 1200 completions */
	for (i = 0; i < 1200; i++) {
		struct vqos_sched_member *m;
		u32 k;

		while ((m = vqos_sched_next_grant(p))) {
			KUNIT_ASSERT_TRUE(test, vqos_sched_get(p, m, t));
			ring[tail++ % 16] = m;
			k = m == mm[0] ? 0 : m == mm[1] ? 1 : 2;
			n[k]++;
			KUNIT_ASSERT_FALSE(test, vqos_sched_get(p, m, t));
		}
		KUNIT_ASSERT_EQ(test, tail - head, 12U);
		t += US / 12;
		vqos_sched_put(p, ring[head++ % 16], t, US, US);
	}
	/* 3:1:1 of 1200 (the last grant is not consumed), give or take the
	 * depth
	 */
	KUNIT_EXPECT_EQ(test, n[0] + n[1] + n[2], 1199U);
	KUNIT_EXPECT_LE(test, abs((int)n[1] - 720), 12);
	KUNIT_EXPECT_LE(test, abs((int)n[0] - 240), 12);
	KUNIT_EXPECT_LE(test, abs((int)n[2] - 240), 12);
}

/* Live changes: depth below what is in flight, then raised; reservations. */
static void vqos_sched_test_live(struct kunit *test)
{
	struct vqos_sched *p = vqos_sched_test_pool(test, 16);
	struct vqos_sched_member *a = vqos_sched_test_add(test, p, 0, 100, 0);
	struct vqos_sched_member *v = vqos_sched_test_add(test, p, 0, 100, 0);
	struct vqos_sched_member_cfg mc = { .reserve = 4, .weight = 100 };
	struct vqos_sched_cfg pc = { .depth = 6 };
	struct vqos_sched_member *g = NULL;
	u64 t = 100;
	u32 i;

	KUNIT_EXPECT_EQ(test, vqos_sched_test_take(p, a, 17, t), 16U);
	/* depth 6 while 16 are in flight: accepted, nothing new starts */
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, t), 0);
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, v, t));
	/* v reserves 4 now: still nothing until fewer than 6 are in flight */
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, v, &mc, t), 0);
	KUNIT_EXPECT_TRUE(test, v->tree == &p->res);
	for (i = 0; i < 10; i++) {
		KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, a, ++t, 1, 1));
		KUNIT_EXPECT_LE(test, p->inflight, 16U);
	}
	/* 6 in flight, all a's: the next completion goes to v (reserved) */
	KUNIT_EXPECT_TRUE(test, vqos_sched_put(p, a, ++t, 1, 1));
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
	KUNIT_EXPECT_PTR_EQ(test, g, v);
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, v, t));
	/* v takes its other 3 reserved slots as a completes, a waits */
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, v, t));
	for (i = 0; i < 3; i++) {
		vqos_sched_put(p, a, ++t, 1, 1);
		KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
		KUNIT_EXPECT_PTR_EQ(test, g, v);
		KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, v, t));
		KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, v, t));
	}
	/* v holds its 4 reserved slots, a 2 shared ones: the pool is whole
	 * again (reserved + shared == depth) and both wait
	 */
	KUNIT_EXPECT_EQ(test, v->inflight, 4U);
	KUNIT_EXPECT_EQ(test, a->inflight, 2U);
	KUNIT_EXPECT_EQ(test, p->shared, 2U);
	KUNIT_EXPECT_EQ(test, p->reserved + p->shared, 6U);
	KUNIT_EXPECT_TRUE(test, vqos_sched_member_waiting(a));
	KUNIT_EXPECT_TRUE(test, vqos_sched_member_waiting(v));
	/* raise the depth: the 2 new shared slots go to the waiters at once */
	pc.depth = 8;
	KUNIT_EXPECT_EQ(test, vqos_sched_set(p, &pc, t), 0);
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, NULL), 2U);
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, a, t));
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, v, t));
	KUNIT_EXPECT_EQ(test, p->inflight, 8U);
	KUNIT_EXPECT_EQ(test, p->shared, 4U);
	/* dropping v's reservation makes its held slots shared (no loss) */
	mc.reserve = 0;
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, v, &mc, t), 0);
	KUNIT_EXPECT_EQ(test, p->shared, 8U);
	KUNIT_EXPECT_EQ(test, p->reserved, 0U);
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, NULL), 0U);
	/* a reservation given to a waiting member lets it jump the queue */
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, t));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, v, t));
	mc.reserve = 6;
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(p, v, &mc, t), 0);
	KUNIT_EXPECT_TRUE(test, v->tree == &p->res);
	while (a->inflight > 1) {
		vqos_sched_put(p, a, ++t, 1, 1);
		KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
		KUNIT_EXPECT_PTR_EQ(test, g, v);
		KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, v, t));
		vqos_sched_get(p, v, t);
	}
	/* v holds 6 reserved + 1 shared, a 1 shared: 6 + 2 == depth */
	KUNIT_EXPECT_EQ(test, v->inflight, 7U);
	KUNIT_EXPECT_EQ(test, p->reserved + p->shared, 8U);
}

/* A member that goes away while waiting or holding a grant. */
static void vqos_sched_test_remove(struct kunit *test)
{
	struct vqos_sched *p = vqos_sched_test_pool(test, 4);
	struct vqos_sched_member *a = vqos_sched_test_add(test, p, 0, 100, 0);
	struct vqos_sched_member *b = vqos_sched_test_add(test, p, 0, 100, 0);
	struct vqos_sched_member *c = vqos_sched_test_add(test, p, 1, 100, 0);
	struct vqos_sched_member *g = NULL;
	struct vqos_sched_stats st;

	KUNIT_EXPECT_EQ(test, vqos_sched_test_take(p, a, 4, 1), 3U);
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, b, 2));
	/* in flight: refused, unchanged */
	KUNIT_EXPECT_EQ(test, vqos_sched_remove(p, a, 3), -EBUSY);
	KUNIT_EXPECT_EQ(test, p->nmembers, 3U);
	KUNIT_EXPECT_EQ(test, p->nwaiting, 2U);
	/* b removed while waiting: it is never granted */
	KUNIT_EXPECT_EQ(test, vqos_sched_remove(p, b, 4), 0);
	KUNIT_EXPECT_EQ(test, p->nwaiting, 1U);
	KUNIT_EXPECT_NULL(test, b->pool);
	/* c's reservation goes with it: its slot is granted to a at once */
	KUNIT_EXPECT_EQ(test, vqos_sched_remove(p, c, 5), 0);
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
	KUNIT_EXPECT_PTR_EQ(test, g, a);
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, a, 5));
	KUNIT_EXPECT_EQ(test, p->inflight, 4U);

	/* b comes back, waits, is granted, and goes before consuming: the
	 * grant returns to the pool and goes to the next waiter (a)
	 */
	KUNIT_EXPECT_EQ(test, vqos_sched_add(p, b, NULL, 6), 0);
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, b, 6));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, 7));
	vqos_sched_put(p, a, 8, 1, 1);
	KUNIT_EXPECT_TRUE(test, b->granted);
	/* not popped yet: removing b takes it off the grant list too */
	KUNIT_EXPECT_EQ(test, vqos_sched_remove(p, b, 9), 0);
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, &g), 1U);
	KUNIT_EXPECT_PTR_EQ(test, g, a);
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, a, 9));
	vqos_sched_stats(p, &st);
	KUNIT_EXPECT_EQ(test, st.inflight, 4U);
	KUNIT_EXPECT_EQ(test, st.members, 1U);
	KUNIT_EXPECT_EQ(test, st.waiting, 0U);

	/* reset: a cancels its wait, then a grant it was given */
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, 10));
	vqos_sched_cancel(p, a, 11);
	KUNIT_EXPECT_FALSE(test, vqos_sched_waiting(p));
	KUNIT_EXPECT_FALSE(test, vqos_sched_put(p, a, 12, 1, 1));
	KUNIT_EXPECT_EQ(test, p->inflight, 3U);	/* nobody waited */
	KUNIT_EXPECT_TRUE(test, vqos_sched_get(p, a, 13));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, a, 13));
	vqos_sched_put(p, a, 14, 1, 1);
	KUNIT_EXPECT_TRUE(test, a->granted);
	vqos_sched_cancel(p, a, 15);
	KUNIT_EXPECT_FALSE(test, a->granted);
	KUNIT_EXPECT_EQ(test, vqos_sched_test_pop(p, NULL), 0U);
	KUNIT_EXPECT_EQ(test, p->inflight, 3U);
	while (a->inflight)
		vqos_sched_put(p, a, 16, 1, 1);
	KUNIT_EXPECT_EQ(test, vqos_sched_remove(p, a, 17), 0);
	vqos_sched_stats(p, &st);
	KUNIT_EXPECT_EQ(test, st.inflight + st.shared + st.reserved + st.members,
			0U);
}

/* ---- simulation -------------------------------------------------------- */

#define SIM_FIFO	256		/* requests queued in a worker */
#define SIM_REQS	256		/* requests started, at most */
#define SIM_EVENTS	512
#define SIM_HIST_NS	(10 * US)	/* latency histogram: 10 us buckets */
#define SIM_HIST_N	2048		/* up to 20 ms, then one overflow bucket */
#define SIM_NONE	U32_MAX

enum vqos_sim_kind {
	SIM_OFF,
	SIM_CLOSED,	/* @qd requests always outstanding */
	SIM_POISSON,	/* exponential-ish gaps of mean @gap */
	SIM_PERIODIC,	/* one every @gap */
};

struct vqos_sim_member {
	struct vqos_sched_member m;
	u32 idx;
	enum vqos_sim_kind kind;
	u32 qd;
	u64 gap;
	u64 svc;		/* its service time, 0 = the backend's */
	u64 stop;		/* no arrivals from then on */
	bool started;
	u64 fifo[SIM_FIFO];	/* arrival times of requests not started */
	u32 head, tail;
	u64 asked;		/* first get of the head request, 0 = none */
	/* completed from vqos_sim.t0 on: */
	u64 cnt;
	u64 busy_ns;		/* their time on the backend */
	/* requests arrived from vqos_sim.t0 on: */
	u64 done;		/* completed */
	u64 lat_sum;		/* arrival to completion */
	u64 queued;		/* started but queued in the backend */
	u32 hist[SIM_HIST_N + 1];
	/* always: */
	u64 res_denied;		/* refused although under its reservation */
};

struct vqos_sim_req {
	u32 member;
	u32 next;		/* free list or backend queue */
	u64 arrive, asked, issued, svc;
};

struct vqos_sim_ev {
	u64 t;
	u64 seq;
	u32 type;
	u32 idx;
};

enum { SIM_EV_ARRIVE, SIM_EV_DONE, SIM_EV_KICK };

struct vqos_sim {
	struct kunit *test;
	struct vqos_sched pool;
	struct vqos_sim_member **mem;
	u32 n;
	struct vqos_sim_req req[SIM_REQS];
	u32 free_req;
	u32 bq_head, bq_tail;	/* backend FIFO beyond @par */
	u32 busy, par;
	u64 svc;
	u32 jitter;		/* service time uniform in svc * (1 +- j %) */
	u64 kick_delay;		/* grant to the worker running */
	struct vqos_sim_ev ev[SIM_EVENTS];
	u32 nev;
	u64 evseq;
	u32 seed;
	u64 now, t0;
	u64 events;
	bool broken;		/* an invariant failed: stop */
	/* the unprotected limit after each judged window, from @log_from */
	u64 log_from, log_windows;
	u32 lim_min, lim_max, nlog, moves;
	u32 last_lim;
};

static u32 vqos_sim_rand(struct vqos_sim *s)
{
	s->seed ^= s->seed << 13;
	s->seed ^= s->seed >> 17;
	s->seed ^= s->seed << 5;
	return s->seed;
}

static bool vqos_sim_ev_less(const struct vqos_sim_ev *a,
			     const struct vqos_sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void vqos_sim_push(struct vqos_sim *s, u64 t, u32 type, u32 idx)
{
	u32 i = s->nev++;

	if (i >= SIM_EVENTS) {
		KUNIT_FAIL(s->test, "simulation: event heap full");
		s->broken = true;
		s->nev--;
		return;
	}
	s->ev[i] = (struct vqos_sim_ev){ t, s->evseq++, type, idx };
	while (i && vqos_sim_ev_less(&s->ev[i], &s->ev[(i - 1) / 2])) {
		swap(s->ev[i], s->ev[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static struct vqos_sim_ev vqos_sim_pop(struct vqos_sim *s)
{
	struct vqos_sim_ev top = s->ev[0];
	u32 i = 0;

	s->ev[0] = s->ev[--s->nev];
	for (;;) {
		u32 l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nev && vqos_sim_ev_less(&s->ev[l], &s->ev[m]))
			m = l;
		if (r < s->nev && vqos_sim_ev_less(&s->ev[r], &s->ev[m]))
			m = r;
		if (m == i)
			break;
		swap(s->ev[i], s->ev[m]);
		i = m;
	}
	return top;
}

static struct vqos_sim *vqos_sim_new(struct kunit *test, u32 n, u32 depth,
				     u32 par, u64 svc, u32 jitter, u32 seed)
{
	struct vqos_sim *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct vqos_sched_cfg cfg = { .depth = depth };
	u32 i;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	s->mem = kunit_kcalloc(test, n, sizeof(*s->mem), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s->mem);
	s->test = test;
	s->n = n;
	s->par = par;
	s->svc = svc;
	s->jitter = jitter;
	s->kick_delay = 5 * US;
	s->seed = seed;
	s->now = 1;
	s->bq_head = SIM_NONE;
	s->lim_min = U32_MAX;
	s->log_from = U64_MAX;
	for (i = 0; i < SIM_REQS; i++)
		s->req[i].next = i + 1 < SIM_REQS ? i + 1 : SIM_NONE;
	vqos_sched_init(&s->pool, s->now);
	KUNIT_ASSERT_EQ(test, vqos_sched_set(&s->pool, &cfg, s->now), 0);
	for (i = 0; i < n; i++) {
		s->mem[i] = kunit_kzalloc(test, sizeof(*s->mem[i]), GFP_KERNEL);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s->mem[i]);
		s->mem[i]->idx = i;
		vqos_sched_member_init(&s->mem[i]->m);
		KUNIT_ASSERT_EQ(test, vqos_sched_add(&s->pool, &s->mem[i]->m,
						     NULL, s->now), 0);
		s->mem[i]->stop = U64_MAX;
	}
	return s;
}

/* Member @i's shares and workload; it starts at @start. */
static void vqos_sim_member(struct vqos_sim *s, u32 i, enum vqos_sim_kind kind,
			    u32 qd, u64 gap, u32 reserve, u32 weight,
			    u64 target, u64 start)
{
	struct vqos_sched_member_cfg cfg = {
		.reserve = reserve, .weight = weight, .lat_target_ns = target,
	};
	struct vqos_sim_member *mb = s->mem[i];

	KUNIT_ASSERT_EQ(s->test, vqos_sched_member_set(&s->pool, &mb->m, &cfg,
						       s->now), 0);
	KUNIT_ASSERT_LE(s->test, qd, (u32)SIM_FIFO);
	mb->kind = kind;
	mb->qd = qd;
	mb->gap = gap;
	vqos_sim_push(s, start, SIM_EV_ARRIVE, i);
}

/* A gap of mean @mean: geometric in steps of @mean / 32 (Poisson-ish). */
static u64 vqos_sim_gap(struct vqos_sim *s, u64 mean)
{
	u64 n = 1;

	while (vqos_sim_rand(s) % 32)
		n++;
	return n * (mean / 32);
}

static u64 vqos_sim_svc(struct vqos_sim *s, struct vqos_sim_member *mb)
{
	u64 svc = mb->svc ? mb->svc : s->svc;
	u32 j = s->jitter;

	if (!j)
		return svc;
	return svc * (100 - j + vqos_sim_rand(s) % (2 * j + 1)) / 100;
}

static void vqos_sim_fail(struct vqos_sim *s, const char *what)
{
	if (!s->broken)
		KUNIT_FAIL(s->test, "t=%llu ns: %s", s->now, what);
	s->broken = true;
}

/* Invariants, after every event; the O(members) ones every 1024 events. */
static void vqos_sim_check(struct vqos_sim *s)
{
	struct vqos_sched *p = &s->pool;
	u32 i, inflight = 0, shared = 0, waiting = 0;

	if (p->inflight > p->cfg.depth)
		vqos_sim_fail(s, "more in flight than the depth");
	if (p->reserved + p->shared > p->cfg.depth)
		vqos_sim_fail(s, "reserved + shared over the depth");
	/* maximal dispatch: nobody waits while a slot it may take is free */
	if (p->nwaiting && vqos_sched_pick(p))
		vqos_sim_fail(s, "a waiter could take a free slot");
	if (s->events % 1024)
		return;
	for (i = 0; i < s->n; i++) {
		const struct vqos_sched_member *m = &s->mem[i]->m;

		inflight += m->inflight;
		shared += vqos_sched_excess(m);
		waiting += m->tree != NULL;
	}
	if (inflight != p->inflight || shared != p->shared ||
	    waiting != p->nwaiting)
		vqos_sim_fail(s, "the pool's sums differ from its members'");
}

static void vqos_sim_submit(struct vqos_sim *s, u32 r)
{
	struct vqos_sim_req *q = &s->req[r];

	q->issued = s->now;
	q->next = SIM_NONE;
	if (s->busy < s->par) {
		s->busy++;
		vqos_sim_push(s, s->now + q->svc, SIM_EV_DONE, r);
		return;
	}
	if (q->arrive >= s->t0)
		s->mem[q->member]->queued++;
	if (s->bq_head == SIM_NONE)
		s->bq_head = r;
	else
		s->req[s->bq_tail].next = r;
	s->bq_tail = r;
}

/* One turn of member @i's worker: start requests in order until refused. */
static void vqos_sim_worker(struct vqos_sim *s, u32 i)
{
	struct vqos_sim_member *mb = s->mem[i];
	struct vqos_sched_member *m = &mb->m;

	while (mb->head != mb->tail && !s->broken) {
		bool under = !m->granted && !m->tree &&
			     m->inflight < m->cfg.reserve;
		u32 r;

		if (!mb->asked)
			mb->asked = s->now;
		if (!vqos_sched_get(&s->pool, m, s->now)) {
			mb->res_denied += under;
			return;
		}
		r = s->free_req;
		if (r == SIM_NONE) {
			vqos_sim_fail(s, "out of requests");
			return;
		}
		s->free_req = s->req[r].next;
		s->req[r].member = i;
		s->req[r].arrive = mb->fifo[mb->head++ % SIM_FIFO];
		s->req[r].asked = mb->asked;
		s->req[r].svc = vqos_sim_svc(s, mb);
		mb->asked = 0;
		vqos_sim_submit(s, r);
	}
}

static void vqos_sim_enqueue(struct vqos_sim *s, u32 i)
{
	struct vqos_sim_member *mb = s->mem[i];

	if (mb->tail - mb->head >= SIM_FIFO) {
		vqos_sim_fail(s, "a worker's FIFO overflowed");
		return;
	}
	mb->fifo[mb->tail++ % SIM_FIFO] = s->now;
}

static void vqos_sim_log(struct vqos_sim *s)
{
	struct vqos_sched_stats st;

	if (s->pool.stats.windows == s->log_windows)
		return;
	s->log_windows = s->pool.stats.windows;
	if (s->now < s->log_from)
		return;
	vqos_sched_stats(&s->pool, &st);
	s->lim_min = min(s->lim_min, st.unprot_limit);
	s->lim_max = max(s->lim_max, st.unprot_limit);
	if (s->nlog && st.unprot_limit != s->last_lim)
		s->moves++;
	s->last_lim = st.unprot_limit;
	s->nlog++;
}

static void vqos_sim_done(struct vqos_sim *s, u32 r)
{
	struct vqos_sim_req *q = &s->req[r];
	struct vqos_sim_member *mb = s->mem[q->member];
	struct vqos_sched_member *g;
	u32 i = q->member, next;

	if (s->now >= s->t0) {
		mb->cnt++;
		mb->busy_ns += s->now - q->issued;
	}
	if (q->arrive >= s->t0) {
		u64 lat = s->now - q->arrive;

		mb->done++;
		mb->lat_sum += lat;
		mb->hist[min_t(u64, lat / SIM_HIST_NS, SIM_HIST_N)]++;
	}
	s->busy--;
	next = s->bq_head;
	if (next != SIM_NONE) {
		s->bq_head = s->req[next].next;
		s->busy++;
		vqos_sim_push(s, s->now + s->req[next].svc, SIM_EV_DONE, next);
	}
	vqos_sched_put(&s->pool, &mb->m, s->now, s->now - q->asked,
		       s->now - q->issued);
	q->next = s->free_req;
	s->free_req = r;
	vqos_sim_log(s);
	while ((g = vqos_sched_next_grant(&s->pool)))
		vqos_sim_push(s, s->now + s->kick_delay, SIM_EV_KICK,
			      container_of(g, struct vqos_sim_member, m)->idx);
	if (mb->kind == SIM_CLOSED && s->now < mb->stop) {
		vqos_sim_enqueue(s, i);
		vqos_sim_worker(s, i);
	}
}

static void vqos_sim_arrive(struct vqos_sim *s, u32 i)
{
	struct vqos_sim_member *mb = s->mem[i];
	u32 k;

	if (s->now >= mb->stop)
		return;
	switch (mb->kind) {
	case SIM_CLOSED:
		if (mb->started)
			return;
		mb->started = true;
		for (k = 0; k < mb->qd; k++)
			vqos_sim_enqueue(s, i);
		break;
	case SIM_POISSON:
		vqos_sim_enqueue(s, i);
		vqos_sim_push(s, s->now + vqos_sim_gap(s, mb->gap),
			      SIM_EV_ARRIVE, i);
		break;
	case SIM_PERIODIC:
		vqos_sim_enqueue(s, i);
		vqos_sim_push(s, s->now + mb->gap, SIM_EV_ARRIVE, i);
		break;
	default:
		return;
	}
	vqos_sim_worker(s, i);
}

/* Run the events before @until; the clock then reads @until. */
static void vqos_sim_run(struct vqos_sim *s, u64 until)
{
	while (s->nev && !s->broken && s->ev[0].t < until) {
		struct vqos_sim_ev e = vqos_sim_pop(s);

		s->now = e.t;
		s->events++;
		switch (e.type) {
		case SIM_EV_ARRIVE:
			vqos_sim_arrive(s, e.idx);
			break;
		case SIM_EV_DONE:
			vqos_sim_done(s, e.idx);
			break;
		default:
			vqos_sim_worker(s, e.idx);
			break;
		}
		vqos_sim_check(s);
	}
	s->now = max(s->now, until);
}

/* Forget what was measured; measure what arrives or completes from now. */
static void vqos_sim_measure(struct vqos_sim *s)
{
	u32 i;

	s->t0 = s->now;
	for (i = 0; i < s->n; i++) {
		struct vqos_sim_member *mb = s->mem[i];

		mb->done = 0;
		mb->cnt = 0;
		mb->lat_sum = 0;
		mb->busy_ns = 0;
		mb->queued = 0;
		memset(mb->hist, 0, sizeof(mb->hist));
	}
}

/* Latency (arrival to completion) at @ppm parts per million, in ns. */
static u64 vqos_sim_pct(const struct vqos_sim_member *mb, u64 ppm)
{
	u64 need = div_u64(mb->done * ppm + 999999, 1000000), sum = 0;
	u32 b;

	for (b = 0; b <= SIM_HIST_N; b++) {
		sum += mb->hist[b];
		if (sum >= need && sum)
			return (b + 1) * SIM_HIST_NS;
	}
	return U64_MAX;
}

/* Completions per second in [t0, now), in thousandths. */
static u64 vqos_sim_rate(const struct vqos_sim *s, u32 i)
{
	return div64_u64(s->mem[i]->cnt * SEC * 1000, s->now - s->t0);
}

/* The standard backend: D = P = 32 slots, 2 ms +- 25 %: 16000 IOPS. */
#define STD_DEPTH	32
#define STD_SVC		(2 * MS)
#define STD_CAP		16000ULL	/* completions per second */
#define VICTIM_GAP	(1250 * US)	/* 800/s: 5 % of STD_CAP */

struct vqos_sim_lat {
	u64 p50, p90, p99, p999;
};

static void vqos_sim_lats(const struct vqos_sim_member *mb,
			  struct vqos_sim_lat *l)
{
	l->p50 = vqos_sim_pct(mb, 500000);
	l->p90 = vqos_sim_pct(mb, 900000);
	l->p99 = vqos_sim_pct(mb, 990000);
	l->p999 = vqos_sim_pct(mb, 999000);
}

/*
 * A victim (member 0: @kind, 800/s, @reserve) beside an aggressor (member
 * 1: 64 outstanding, if @aggr) on a pool of @depth; 0.5 s of warm-up, 4 s
 * measured.
 */
static struct vqos_sim *vqos_sim_victim(struct kunit *test,
					enum vqos_sim_kind kind, u32 reserve,
					bool aggr, u32 depth, u32 seed)
{
	struct vqos_sim *s = vqos_sim_new(test, 2, depth, STD_DEPTH, STD_SVC,
					  25, seed);

	vqos_sim_member(s, 0, kind, 0, VICTIM_GAP, reserve, 100, 0, 1);
	if (aggr)
		vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 4 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	return s;
}

/*
 * A reserving victim never waits for a slot while an aggressor saturates
 * the pool: every request within its reservation starts at once, none
 * queues in the backend, and its tail stays within the targets of
 * its latency alone (p99 <= 1.2x, p99.9 <= 1.5x). Controls: without the
 * reservation it waits; without the pool it queues behind the aggressor.
 */
static void vqos_sched_test_sim_reserve(struct kunit *test)
{
	static const enum vqos_sim_kind kinds[] = { SIM_PERIODIC, SIM_POISSON };
	int k;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct vqos_sim_lat alone, res, nores, nopool;
		struct vqos_sim_member *v;
		struct vqos_sim *s;

		s = vqos_sim_victim(test, kinds[k], 4, false, STD_DEPTH, 11);
		vqos_sim_lats(s->mem[0], &alone);

		s = vqos_sim_victim(test, kinds[k], 4, true, STD_DEPTH, 11);
		v = s->mem[0];
		vqos_sim_lats(v, &res);
		KUNIT_EXPECT_EQ(test, v->res_denied, 0ULL);
		KUNIT_EXPECT_EQ(test, v->queued, 0ULL);
		KUNIT_EXPECT_GT(test, v->done, 3000ULL);
		/* the aggressor did saturate the pool */
		KUNIT_EXPECT_GT(test, s->mem[1]->m.stats.waits, 10000ULL);
		/* periodic: never more than 2 in flight, so never a wait */
		if (kinds[k] == SIM_PERIODIC)
			KUNIT_EXPECT_EQ(test, v->m.stats.waits, 0ULL);
		KUNIT_EXPECT_LE(test, res.p99 * 10, alone.p99 * 12);
		KUNIT_EXPECT_LE(test, res.p999 * 10, alone.p999 * 15);
		kunit_info(test, "%s victim: %llu waits of %llu (beyond its reservation); p50/p99/p99.9 us alone %llu/%llu/%llu, reserved beside the aggressor %llu/%llu/%llu",
			   kinds[k] == SIM_PERIODIC ? "periodic" : "Poisson",
			   v->m.stats.waits, v->m.stats.ios,
			   alone.p50 / US, alone.p99 / US, alone.p999 / US,
			   res.p50 / US, res.p99 / US, res.p999 / US);

		/* controls */
		s = vqos_sim_victim(test, kinds[k], 0, true, STD_DEPTH, 11);
		v = s->mem[0];
		vqos_sim_lats(v, &nores);
		KUNIT_EXPECT_GT(test, v->m.stats.waits, v->m.stats.ios / 2);
		kunit_info(test, "  control, no reservation: %llu waits of %llu, p99 %llu us",
			   v->m.stats.waits, v->m.stats.ios, nores.p99 / US);
		s = vqos_sim_victim(test, kinds[k], 0, true, 1024, 11);
		v = s->mem[0];
		vqos_sim_lats(v, &nopool);
		KUNIT_EXPECT_GT(test, v->queued, v->done / 2);
		KUNIT_EXPECT_GT(test, nopool.p99 * 10, alone.p99 * 15);
		kunit_info(test, "  control, no pool (the backend queues): p99 %llu us",
			   nopool.p99 / US);
	}
}

/* Backlogged members share the backend in the ratio of their weights. */
static void vqos_sched_test_sim_weights(struct kunit *test)
{
	static const u32 w[] = { 100, 200, 500 };
	u64 total, cnt[3], busy[3];
	struct vqos_sim *s;
	u32 i;

	/* 1:3 */
	s = vqos_sim_new(test, 2, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 21);
	vqos_sim_member(s, 0, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 300, 0, 1);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 4 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	cnt[0] = s->mem[0]->cnt;
	cnt[1] = s->mem[1]->cnt;
	/* within 3 % of 3, and the backend stays busy (99 %) */
	KUNIT_EXPECT_GE(test, cnt[1] * 100, cnt[0] * 291);
	KUNIT_EXPECT_LE(test, cnt[1] * 100, cnt[0] * 309);
	KUNIT_EXPECT_GE(test, (cnt[0] + cnt[1]) * 100, 4 * STD_CAP * 99);
	kunit_info(test, "weights 1:3: %llu / %llu completions = 1:%llu.%03llu, %llu%% of capacity",
		   cnt[0], cnt[1], cnt[1] / cnt[0],
		   (cnt[1] % cnt[0]) * 1000 / cnt[0],
		   (cnt[0] + cnt[1]) * 100 / (4 * STD_CAP));

	/* 1:2:5 */
	s = vqos_sim_new(test, 3, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 22);
	for (i = 0; i < 3; i++)
		vqos_sim_member(s, i, SIM_CLOSED, 64, 0, 0, w[i], 0, 1);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 4 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	total = s->mem[0]->cnt + s->mem[1]->cnt + s->mem[2]->cnt;
	for (i = 0; i < 3; i++) {
		u64 want = total * w[i] / 800;

		cnt[i] = s->mem[i]->cnt;
		KUNIT_EXPECT_LE_MSG(test, abs((s64)cnt[i] - (s64)want) * 100,
				    want * 3, "weight %u", w[i]);
	}
	kunit_info(test, "weights 1:2:5: %llu / %llu / %llu completions",
		   cnt[0], cnt[1], cnt[2]);

	/*
	 * Equal weights, service times 1 ms and 4 ms: each gets half of the
	 * backend's time (not half of the requests), within 3 %.
	 */
	s = vqos_sim_new(test, 2, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 23);
	s->mem[0]->svc = 1 * MS;
	s->mem[1]->svc = 4 * MS;
	vqos_sim_member(s, 0, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 4 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	busy[0] = s->mem[0]->busy_ns;
	busy[1] = s->mem[1]->busy_ns;
	KUNIT_EXPECT_LE(test, abs((s64)busy[0] - (s64)busy[1]) * 100,
			(busy[0] + busy[1]) / 2 * 3);
	KUNIT_EXPECT_GE(test, s->mem[0]->cnt * 10, s->mem[1]->cnt * 36);
	kunit_info(test, "1 ms vs 4 ms requests, equal weights: backend time %llu / %llu ms, completions %llu / %llu",
		   busy[0] / MS, busy[1] / MS, s->mem[0]->cnt, s->mem[1]->cnt);
}

/*
 * No credit for idling: a member that was idle while another used the whole
 * pool for 2 s gets its share at once when it starts, not the pool until it
 * has caught up; here half, from 10 ms after it starts.
 */
static void vqos_sched_test_sim_idle(struct kunit *test)
{
	struct vqos_sim *s;
	u64 a, b;

	s = vqos_sim_new(test, 2, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 24);
	vqos_sim_member(s, 0, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 100, 0, 2 * SEC);
	vqos_sim_run(s, 2 * SEC + 10 * MS);
	vqos_sim_measure(s);
	vqos_sim_run(s, 2 * SEC + 210 * MS);
	KUNIT_EXPECT_FALSE(test, s->broken);
	a = s->mem[0]->cnt;
	b = s->mem[1]->cnt;
	KUNIT_EXPECT_LE(test, abs((s64)a - (s64)b) * 100, (a + b) * 5);
	kunit_info(test, "200 ms after an idle member starts: %llu / %llu completions",
		   a, b);
}

/*
 * Work conservation: a member alone uses the whole depth, minus the idle
 * reservations of others; beside a reserving victim at 5 % of capacity,
 * the aggressor gets >= 85 % of (capacity - the victim's rate).
 */
static void vqos_sched_test_sim_conserving(struct kunit *test)
{
	u64 cap4 = 4 * STD_CAP, vrate, arate;
	struct vqos_sim *s;

	s = vqos_sim_new(test, 2, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 31);
	vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 4 * SEC);
	KUNIT_EXPECT_GE(test, s->mem[1]->cnt * 100, cap4 * 99);
	KUNIT_EXPECT_LE(test, s->mem[1]->cnt * 100, cap4 * 101);
	kunit_info(test, "alone: %llu%% of capacity", s->mem[1]->cnt * 100 / cap4);

	/* member 0 reserves 4 and stays idle: 28 of 32 */
	s = vqos_sim_new(test, 2, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 32);
	vqos_sim_member(s, 0, SIM_OFF, 0, 0, 4, 100, 0, 1);
	vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 4 * SEC);
	KUNIT_EXPECT_GE(test, s->mem[1]->cnt * 32 * 100, cap4 * 28 * 99);
	KUNIT_EXPECT_LE(test, s->mem[1]->cnt * 32 * 100, cap4 * 28 * 101);
	KUNIT_EXPECT_EQ(test, s->pool.inflight, 28U);

	s = vqos_sim_victim(test, SIM_POISSON, 4, true, STD_DEPTH, 33);
	vrate = vqos_sim_rate(s, 0);
	arate = vqos_sim_rate(s, 1);
	KUNIT_EXPECT_GE(test, arate * 100, (STD_CAP * 1000 - vrate) * 85);
	kunit_info(test, "aggressor beside a victim reserving 4: %llu/s, %llu%% of (capacity - victim's %llu/s)",
		   arate / 1000, arate * 100 / (STD_CAP * 1000 - vrate),
		   vrate / 1000);
}

/* The latency backend: P = 8 units, 1 ms +- 25 %, under a pool of 32. */
#define LAT_PAR		8
#define LAT_SVC		(1 * MS)
#define LAT_CAP		8000ULL
#define LAT_GAP		(2500 * US)	/* victim at 400/s: 5 % */
#define LAT_TARGET	(2 * MS)

/* Victim (member 0, Poisson, @target) and aggressor (64 outstanding). */
static struct vqos_sim *vqos_sim_lat(struct kunit *test, u64 target,
				     u32 seed)
{
	struct vqos_sim *s = vqos_sim_new(test, 2, STD_DEPTH, LAT_PAR, LAT_SVC,
					  25, seed);

	vqos_sim_member(s, 0, SIM_POISSON, 0, LAT_GAP, 0, 100, target, 1);
	vqos_sim_member(s, 1, SIM_CLOSED, 64, 0, 0, 100, 0, 1);
	return s;
}

/*
 * The latency controller converges and then holds: the backend queues
 * beyond 8 of the pool's 32 slots, so the victim's p90 is ~4 ms with the
 * aggressor unclamped; with a 2 ms target, measured from 1 s on (it
 * converges in a few windows), it is within target, the clamp stays in a
 * narrow band (never lifted, never near 1), and the aggressor still gets
 * >= 85 % of what the victim leaves.
 */
static void vqos_sched_test_sim_latency(struct kunit *test)
{
	struct vqos_sim_lat lat, free;
	struct vqos_sched_stats st;
	struct vqos_sim *s;
	u64 vrate, arate, missed, judged;

	s = vqos_sim_lat(test, 0, 41);
	vqos_sim_run(s, 2 * SEC);
	vqos_sim_measure(s);
	vqos_sim_run(s, 6 * SEC);
	vqos_sim_lats(s->mem[0], &free);
	/* control: without a target the victim is far over it */
	KUNIT_EXPECT_GT(test, free.p90, 3 * LAT_TARGET / 2);

	s = vqos_sim_lat(test, LAT_TARGET, 41);
	vqos_sim_run(s, SEC);
	vqos_sim_measure(s);
	s->log_from = s->now;
	missed = s->mem[0]->m.stats.lat_missed;
	judged = s->mem[0]->m.stats.lat_windows;
	vqos_sim_run(s, 12 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	missed = s->mem[0]->m.stats.lat_missed - missed;
	judged = s->mem[0]->m.stats.lat_windows - judged;
	vqos_sim_lats(s->mem[0], &lat);
	vqos_sched_stats(&s->pool, &st);
	vrate = vqos_sim_rate(s, 0);
	arate = vqos_sim_rate(s, 1);

	KUNIT_EXPECT_LE(test, lat.p90, LAT_TARGET);
	KUNIT_EXPECT_GE(test, judged, 150ULL);
	/*
	 * The clamp rests where the victim's p90 is just under target, so
	 * a window's ~20 samples cross it now and then; a see-saw would miss
	 * every other window.
	 */
	KUNIT_EXPECT_LE(test, missed * 10, judged * 3);
	/* a narrow band, far from both extremes (1 slot, unclamped) */
	KUNIT_EXPECT_GE(test, s->lim_min, 6U);
	KUNIT_EXPECT_LE(test, s->lim_max, 16U);
	KUNIT_EXPECT_LE(test, s->lim_max - s->lim_min, 6U);
	KUNIT_EXPECT_GE(test, arate * 100, (LAT_CAP * 1000 - vrate) * 85);
	kunit_info(test, "victim p50/p90/p99 us: unprotected %llu/%llu/%llu, target 2000: %llu/%llu/%llu; windows missed %llu of %llu; clamp in [%u, %u], %u moves in %u windows; aggressor %llu/s = %llu%% of (capacity - victim)",
		   free.p50 / US, free.p90 / US, free.p99 / US,
		   lat.p50 / US, lat.p90 / US, lat.p99 / US,
		   missed, judged, s->lim_min, s->lim_max, s->moves, s->nlog,
		   arate / 1000, arate * 100 / (LAT_CAP * 1000 - vrate));
}

/*
 * Edges of the controller: an unreachable target clamps the others to one
 * slot, not to none; the clamp lifts VQOS_SCHED_IDLE_WINS windows after
 * the protected member stops, and at once when its target is removed.
 */
static void vqos_sched_test_sim_latency_edges(struct kunit *test)
{
	struct vqos_sched_member_cfg cfg = { .weight = 100 };
	struct vqos_sched_stats st;
	struct vqos_sim *s;
	u64 win;

	/* 0.5 ms, below any service time */
	s = vqos_sim_lat(test, 500 * US, 51);
	vqos_sim_run(s, SEC);
	s->log_from = s->now;
	vqos_sim_measure(s);
	vqos_sim_run(s, 3 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	KUNIT_EXPECT_EQ(test, s->lim_max, 1U);
	KUNIT_EXPECT_GE(test, s->mem[1]->cnt * 100, 2 * SEC / LAT_SVC * 90);
	kunit_info(test, "unreachable target: clamp %u..%u, aggressor %llu completions in 2 s",
		   s->lim_min, s->lim_max, s->mem[1]->cnt);

	/* the victim stops at 3 s */
	s = vqos_sim_lat(test, LAT_TARGET, 52);
	s->mem[0]->stop = 3 * SEC;
	vqos_sim_run(s, 3 * SEC);
	KUNIT_EXPECT_TRUE(test, s->pool.clamped);
	win = vqos_sched_win(&s->pool);
	/* its last requests complete within ~10 ms; then idle windows */
	vqos_sim_run(s, 3 * SEC + VQOS_SCHED_IDLE_WINS * win - 20 * MS);
	KUNIT_EXPECT_TRUE(test, s->pool.clamped);
	vqos_sim_run(s, 3 * SEC + VQOS_SCHED_IDLE_WINS * win + 20 * MS);
	vqos_sched_stats(&s->pool, &st);
	KUNIT_EXPECT_FALSE(test, s->pool.clamped);
	KUNIT_EXPECT_EQ(test, st.clamp_reset, 1ULL);
	KUNIT_EXPECT_EQ(test, st.unprot_limit, (u32)STD_DEPTH);
	vqos_sim_run(s, 4 * SEC);
	KUNIT_EXPECT_EQ(test, s->pool.inflight, (u32)STD_DEPTH);

	/* the target is removed live */
	s = vqos_sim_lat(test, LAT_TARGET, 53);
	vqos_sim_run(s, 2 * SEC);
	KUNIT_EXPECT_TRUE(test, s->pool.clamped);
	KUNIT_EXPECT_EQ(test, vqos_sched_member_set(&s->pool, &s->mem[0]->m,
						    &cfg, s->now), 0);
	KUNIT_EXPECT_FALSE(test, s->pool.clamped);
	KUNIT_EXPECT_EQ(test, s->pool.nprot, 0U);
	KUNIT_EXPECT_EQ(test, s->pool.prot_inflight, 0U);
	/* the slots it opened were granted at once */
	KUNIT_EXPECT_FALSE(test, vqos_sched_waiting(&s->pool) &&
			   vqos_sched_pick(&s->pool));
	while (vqos_sched_next_grant(&s->pool))
		;
}

/*
 * 64 members on one pool: a reserving victim and 63 aggressors of weights
 * 50, 100 and 200 with 4 requests each (a share below one slot each): the
 * victim is never refused within its reservation, and every aggressor gets
 * its weight's share of the backend's time, within 15 %.
 */
static void vqos_sched_test_sim_scale(struct kunit *test)
{
	static const u32 w[] = { 50, 100, 200 };
	u64 busy = 0, lo = U64_MAX, hi = 0;
	struct vqos_sim *s;
	u32 i;

	s = vqos_sim_new(test, 64, STD_DEPTH, STD_DEPTH, STD_SVC, 25, 61);
	vqos_sim_member(s, 0, SIM_POISSON, 0, VICTIM_GAP, 4, 100, 0, 1);
	for (i = 1; i < 64; i++)
		vqos_sim_member(s, i, SIM_CLOSED, 4, 0, 0, w[i % 3], 0, 1 + i);
	vqos_sim_run(s, SEC / 2);
	vqos_sim_measure(s);
	vqos_sim_run(s, SEC / 2 + 3 * SEC);
	KUNIT_EXPECT_FALSE(test, s->broken);
	KUNIT_EXPECT_EQ(test, s->mem[0]->res_denied, 0ULL);
	KUNIT_EXPECT_EQ(test, s->mem[0]->queued, 0ULL);
	for (i = 1; i < 64; i++)
		busy += s->mem[i]->busy_ns;
	for (i = 1; i < 64; i++) {
		/* sum of weights: 21 * (50 + 100 + 200) */
		u64 want = div_u64(busy * w[i % 3], 21 * 350);
		u64 got = s->mem[i]->busy_ns;

		KUNIT_EXPECT_LE_MSG(test, abs((s64)got - (s64)want) * 100,
				    want * 15, "member %u weight %u", i, w[i % 3]);
		lo = min(lo, got * 100 / want);
		hi = max(hi, got * 100 / want);
	}
	kunit_info(test, "64 members: aggressors got %llu..%llu %% of their share; victim %llu waits of %llu",
		   lo, hi, s->mem[0]->m.stats.waits, s->mem[0]->m.stats.ios);
}

/* Same seed, same run: the simulation and the scheduler are deterministic. */
static void vqos_sched_test_sim_deterministic(struct kunit *test)
{
	struct vqos_sched_stats a, b;
	struct vqos_sim *s[2];
	int r;

	for (r = 0; r < 2; r++) {
		s[r] = vqos_sim_lat(test, LAT_TARGET, 71);
		vqos_sim_run(s[r], SEC);
	}
	vqos_sched_stats(&s[0]->pool, &a);
	vqos_sched_stats(&s[1]->pool, &b);
	KUNIT_EXPECT_EQ(test, memcmp(&a, &b, sizeof(a)), 0);
	KUNIT_EXPECT_EQ(test, s[0]->events, s[1]->events);
	KUNIT_EXPECT_EQ(test, s[0]->mem[0]->cnt, s[1]->mem[0]->cnt);
	KUNIT_EXPECT_GT(test, a.clamp_dec, 0ULL);
}

/*
 * Tags near the top of their range are rebased, keeping their order: the
 * share ratio goes on unchanged across it.
 */
static void vqos_sched_test_rebase(struct kunit *test)
{
	struct vqos_sched *p = vqos_sched_test_pool(test, 4);
	struct vqos_sched_member *mm[2], *ring[8], *m;
	u32 i, head = 0, tail = 0, n[2] = { 0 };
	u64 t = 10, base = VQOS_SCHED_VT_REBASE - 100000;

	mm[0] = vqos_sched_test_add(test, p, 0, 100, 0);
	mm[1] = vqos_sched_test_add(test, p, 0, 300, 0);
	p->vtime = base;
	mm[0]->vfinish = base;
	mm[1]->vfinish = base;
	for (i = 0; i < 4; i++) {
		KUNIT_ASSERT_TRUE(test, vqos_sched_get(p, mm[i & 1], t));
		ring[tail++ % 8] = mm[i & 1];
	}
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, mm[0], t));
	KUNIT_EXPECT_FALSE(test, vqos_sched_get(p, mm[1], t));
	for (i = 0; i < 4000; i++) {
		t += 250;
		vqos_sched_put(p, ring[head++ % 8], t, US, US);
		while ((m = vqos_sched_next_grant(p))) {
			KUNIT_ASSERT_TRUE(test, vqos_sched_get(p, m, t));
			ring[tail++ % 8] = m;
			n[m == mm[1]]++;
			KUNIT_ASSERT_FALSE(test, vqos_sched_get(p, m, t));
		}
	}
	/* 4000 us at 256 / 100 per ns passed 2^62 - 100000 */
	KUNIT_EXPECT_LT(test, p->vtime, VQOS_SCHED_VT_REBASE);
	KUNIT_EXPECT_GT(test, p->vtime, VQOS_SCHED_VT_REBASE / 2 - 1);
	KUNIT_EXPECT_LE(test, abs((int)n[1] - 3000), 4);
	KUNIT_EXPECT_LE(test, abs((int)n[0] - 1000), 4);
}

static struct kunit_case vqos_sched_test_cases[] = {
	KUNIT_CASE(vqos_sched_test_invalid),
	KUNIT_CASE(vqos_sched_test_slots),
	KUNIT_CASE(vqos_sched_test_order),
	KUNIT_CASE(vqos_sched_test_live),
	KUNIT_CASE(vqos_sched_test_remove),
	KUNIT_CASE(vqos_sched_test_rebase),
	KUNIT_CASE(vqos_sched_test_sim_reserve),
	KUNIT_CASE(vqos_sched_test_sim_weights),
	KUNIT_CASE(vqos_sched_test_sim_idle),
	KUNIT_CASE(vqos_sched_test_sim_conserving),
	KUNIT_CASE(vqos_sched_test_sim_latency),
	KUNIT_CASE(vqos_sched_test_sim_latency_edges),
	KUNIT_CASE(vqos_sched_test_sim_scale),
	KUNIT_CASE(vqos_sched_test_sim_deterministic),
	{}
};

static struct kunit_suite vqos_sched_test_suite = {
	.name = "vqos_sched",
	.test_cases = vqos_sched_test_cases,
};

kunit_test_suite(vqos_sched_test_suite);

MODULE_DESCRIPTION("KUnit tests of the vqos pool scheduler");
MODULE_LICENSE("GPL");
