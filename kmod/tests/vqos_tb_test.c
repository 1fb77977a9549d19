// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the vqos token-bucket limiter (vqos_tb.c).
 *
 * Time is injected: every call gets an explicit @now, so each expectation is
 * exact, to the nanosecond and to the token; no test reads a clock.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/string.h>

/* The code under test has no module glue: build it into this module. */
#include "../vqos_tb.c"

#define MS	1000000ULL
#define SEC	1000000000ULL
#define NU	((s64)VQOS_TB_NU)

/* Deterministic pseudo-random steps (xorshift32). */
static u32 vqos_tb_test_rand(u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* An irregular step in ns: mostly short, sometimes up to @max ns. */
static u64 vqos_tb_test_step(u32 *s, u64 max)
{
	u32 r = vqos_tb_test_rand(s);

	switch (r & 3) {
	case 0:
		return 1 + (r >> 2) % 1000;
	case 1:
		return 1 + (r >> 2) % (max / 8);
	default:
		return 1 + (r >> 2) % max;
	}
}

static void vqos_tb_test_set(struct kunit *test, struct vqos_tb *tb, u64 rate,
			     u64 burst, u64 burst_rate, u64 otb, u64 now)
{
	struct vqos_tb_cfg cfg = {
		.rate = rate,
		.burst = burst,
		.burst_rate = burst_rate,
		.one_time_burst = otb,
	};

	KUNIT_ASSERT_EQ(test, vqos_tb_set(tb, &cfg, now), 0);
}

/*
 * Admit requests of @cost at @now until one is refused; return how many.
 * Bounded, so that a broken limiter fails the test instead of hanging it.
 */
static u64 vqos_tb_test_drain(struct vqos_tb *tb, u64 cost, u64 now)
{
	u64 n = 0;

	while (n < 100000000 && !vqos_tb_admit(tb, cost, now))
		n++;
	return n;
}

static struct vqos_limiter *vqos_tb_test_lim(struct kunit *test, u64 now)
{
	struct vqos_limiter *l = kunit_kzalloc(test, sizeof(*l), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, l);
	vqos_limiter_init(l, now);
	return l;
}

static s64 vqos_tb_test_lvl(struct vqos_limiter *l, int idx, u64 now)
{
	return vqos_tb_level_nu(&l->tb[idx], now);
}

static void vqos_tb_test_unlimited(struct kunit *test)
{
	struct vqos_limiter *l = vqos_tb_test_lim(test, 5);
	struct vqos_limiter *g = vqos_tb_test_lim(test, 5);
	struct vqos_lim_stats st;
	enum vqos_lim_class cls;
	struct vqos_tb tb;
	u64 sum = 0, now = 5;
	int i;

	vqos_tb_init(&tb, now);
	KUNIT_EXPECT_FALSE(test, l->active);
	for (i = 0; i < 10000; i++) {
		sum += vqos_limiter_admit(l, i & 1, 1ULL << (i % 40), now, &cls);
		sum += cls;
		sum += vqos_limiter_admit2(l, g, i & 2, U64_MAX, now, &cls);
		sum += cls;
		sum += vqos_tb_admit(&tb, U64_MAX, now);
		sum += vqos_tb_wait(&tb, 1, now);
		vqos_tb_charge(&tb, U64_MAX, now);
		now += i;
	}
	KUNIT_EXPECT_EQ(test, sum, 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, now), S64_MAX);
	vqos_limiter_stats(l, now, &st);
	KUNIT_EXPECT_EQ(test, st.throttled_ios, 0ULL);
}

/*
 * Over 100 s of irregular steps, a bucket admits exactly rate * 100 s plus
 * its initial depth, at every rate from 1 unit/s to VQOS_TB_RATE_MAX (2^40,
 * e.g. bytes/s): no token is ever lost or made up by rounding.
 */
static void vqos_tb_test_exact_rate(struct kunit *test)
{
	static const u64 rates[] = {
		1, 7, 3000, 999983, 10000000, 1000000000, VQOS_TB_RATE_MAX
	};
	u32 seed = 12345;
	int r;

	for (r = 0; r < ARRAY_SIZE(rates); r++) {
		u64 rate = rates[r], end = 100 * SEC, now = 0, n = 0, cost;
		u64 burst;
		struct vqos_tb tb;
		s64 diff;

		/*
		 * Depth larger than any step's refill (2 ms of rate), so the
		 * bucket never overflows once drained and every token earned
		 * is admitted. Batch the cost at high rates (10^4 requests a
		 * second) to keep the loop short. The expected totals below
		 * use this configured burst, not what the bucket says its
		 * depth is: a bucket that got its own depth wrong must fail.
		 */
		cost = rate >= 100000 ? rate / 10000 : 1;
		burst = 20 * cost + rate / 400 + 1;
		vqos_tb_init(&tb, 0);
		vqos_tb_test_set(test, &tb, rate, burst, 0, 0, 0);
		while (now < end) {
			n += vqos_tb_test_drain(&tb, cost, now);
			now = min(now + vqos_tb_test_step(&seed, 2 * MS), end);
		}
		n += vqos_tb_test_drain(&tb, cost, now);
		/*
		 * admitted + left == depth + rate * 100 s, in nano-units;
		 * as a difference, which stays far from overflowing at 2^40.
		 */
		diff = (s64)(n * cost) - (s64)(burst + rate * (end / SEC));
		KUNIT_EXPECT_EQ_MSG(test,
				    diff * (s64)NU + vqos_tb_level_nu(&tb, now),
				    0LL, "rate %llu", rate);
		KUNIT_EXPECT_LT(test, vqos_tb_level_nu(&tb, now),
				(s64)(cost * NU));
		if (rate == 1)
			KUNIT_EXPECT_EQ(test, n - burst, 100ULL);
		if (rate == 3000)
			KUNIT_EXPECT_EQ(test, n - burst, 300000ULL);
	}
}

/* The Firecracker pattern: refill many tiny steps, each worth < 1 token. */
static void vqos_tb_test_tiny_steps(struct kunit *test)
{
	u64 now = 0, n = 0;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 3000, 2, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, 0), 2ULL);
	/* steps of 333,333 ns: 0.999999 token each, never enough to overflow
	 * the depth of 2, so nothing may be lost: exactly 3000 in 1 s
	 */
	while (now + 333333 <= SEC) {
		now += 333333;
		n += vqos_tb_test_drain(&tb, 1, now);
	}
	now = SEC;
	n += vqos_tb_test_drain(&tb, 1, now);
	KUNIT_EXPECT_EQ(test, n, 3000ULL);
}

static void vqos_tb_test_wait_exact(struct kunit *test)
{
	u64 t0 = 1000, t1;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 1000, 1, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0), 1000000ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0 + 400000), 600000ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0 + 999999), 1ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0 + 1000000), 0ULL);

	/* 1/3 s per token: waits round up, the remainder carries over */
	t1 = 7 * SEC;
	vqos_tb_test_set(test, &tb, 3, 2, 0, 0, t1);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t1), 1LL * NU);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t1), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t1), 333333334ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t1 + 333333333), 1ULL);
	t1 += 333333334;
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t1), 0ULL);
	/* 2 nano-units left over: the next wait is one ns shorter */
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t1), 2LL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t1), 333333333ULL);
	/* cost above the depth (2) waits for a full bucket, no longer */
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 2, t1), 666666666ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 5, t1), 666666666ULL);
	/* cost 0 always fits */
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 0, t1), 0ULL);
}

static void vqos_tb_test_debt(struct kunit *test)
{
	u64 t0 = 50 * SEC;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 1000, 10, 0, 0, t0);
	/* 25 > depth 10: admitted on a full bucket, 15 units of debt */
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 25, t0), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), -15LL * NU);
	/* the next request waits for the debt and its own token */
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0), 16 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0 + 16 * MS - 1), 1ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0 + 16 * MS), 0ULL);
	t0 += 16 * MS;
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 0LL);
	/* oversized again: waits until full (10 ms), not for 25 tokens */
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 25, t0), 10 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 11, t0), 10 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 10, t0), 10 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 9, t0), 9 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 25, t0 + 10 * MS), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0 + 10 * MS), -15LL * NU);
}

static void vqos_tb_test_burst(struct kunit *test)
{
	static const struct {
		u64 rate, cost, admitted;
	} defaults[] = {
		{ 100000, 1, 10000 },
		{ 50, 1, 5 },
		{ 9, 1, 1 },
		{ VQOS_TB_RATE_MAX, 1ULL << 20, VQOS_TB_DEPTH_MAX >> 20 },
	};
	u64 t0 = 3, k;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 100, 50, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t0), 50ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0), 10 * MS);
	for (k = 1; k <= 20; k++)
		KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t0 + k * 10 * MS),
				1ULL);
	/* idle for long: refills to the depth, not beyond */
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t0 + 100 * SEC), 50ULL);

	/*
	 * default depth: 100 ms of rate, at least 1, capped; as the field
	 * and as what a fresh bucket admits at once (in requests of 2^20
	 * units at the largest rate, to keep the loop short)
	 */
	vqos_tb_test_set(test, &tb, 100000, 0, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, tb.depth, 10000ULL);
	vqos_tb_test_set(test, &tb, 50, 0, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, tb.depth, 5ULL);
	vqos_tb_test_set(test, &tb, 9, 0, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, tb.depth, 1ULL);
	vqos_tb_test_set(test, &tb, VQOS_TB_RATE_MAX, 0, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, tb.depth, VQOS_TB_DEPTH_MAX);
	for (k = 0; k < ARRAY_SIZE(defaults); k++) {
		vqos_tb_init(&tb, 0);
		vqos_tb_test_set(test, &tb, defaults[k].rate, 0, 0, 0, t0);
		KUNIT_EXPECT_EQ_MSG(test,
				    vqos_tb_test_drain(&tb, defaults[k].cost, t0),
				    defaults[k].admitted, "rate %llu",
				    defaults[k].rate);
	}
}

static void vqos_tb_test_burst_rate(struct kunit *test)
{
	u64 t0 = SEC, now, end, n = 0, w;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	/* depth 1000 at 100/s, drained at most at 1000/s (peak depth 1) */
	vqos_tb_test_set(test, &tb, 100, 1000, 1000, 0, t0);
	KUNIT_EXPECT_EQ(test, tb.peak_depth, 1ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0), 1 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0 + MS - 1), 1ULL);

	/* as fast as allowed: 1 per ms from t0 over [t0, t0 + 500 ms] */
	n = 1;
	now = t0 + MS;
	end = t0 + 500 * MS;
	while (now <= end && n < 100000) {
		w = vqos_tb_admit(&tb, 1, now);
		if (w)
			now += w;
		else
			n++;
	}
	KUNIT_EXPECT_EQ(test, n, 501ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, end), (1000LL - 501 + 50) * NU);

	/* then the bucket runs dry and the pace drops to 100/s: by t0 + 10 s
	 * exactly 1000 + 100 * 10 have gone.
	 */
	end = t0 + 10 * SEC;
	while (now <= end && n < 100000) {
		w = vqos_tb_admit(&tb, 1, now);
		if (w)
			now += w;
		else
			n++;
	}
	KUNIT_EXPECT_EQ(test, n, 2000ULL);

	/* the peak caps the one-time burst too */
	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 10, 1, 1000, 100, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t0), 1ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0), 1 * MS);
}

static void vqos_tb_test_one_time_burst(struct kunit *test)
{
	u64 t0 = 2 * SEC, t1;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 10, 1, 0, 100, t0);
	/* 100 of one-time burst, then the 1 token of the bucket */
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t0), 101ULL);
	KUNIT_EXPECT_EQ(test, tb.otb, 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0), 100 * MS);
	/* never refilled: an hour later only the bucket's depth */
	t1 = t0 + 3600 * SEC;
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t1), 1ULL);
	/* reconfiguring with the same value does not re-arm it... */
	vqos_tb_test_set(test, &tb, 20, 1, 0, 100, t1);
	KUNIT_EXPECT_EQ(test, tb.otb, 0ULL);
	/* ...a new value does */
	vqos_tb_test_set(test, &tb, 20, 1, 0, 5, t1);
	KUNIT_EXPECT_EQ(test, tb.otb, 5ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, t1), 5ULL);

	/* spent first; a request larger than what is left takes the rest
	 * from the bucket
	 */
	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 10, 10, 0, 3, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 2, t0), 0ULL);
	KUNIT_EXPECT_EQ(test, tb.otb, 1ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 10LL * NU);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 5, t0), 0ULL);
	KUNIT_EXPECT_EQ(test, tb.otb, 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 6LL * NU);
	/* the rest after the one-time burst is what must fit */
	vqos_tb_test_set(test, &tb, 10, 10, 0, 8, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 14, t0), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 15, t0), 100 * MS);
	/* charge spends it first too */
	vqos_tb_charge(&tb, 9, t0);
	KUNIT_EXPECT_EQ(test, tb.otb, 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 5LL * NU);
}

static void vqos_tb_test_reconfig(struct kunit *test)
{
	u64 t0 = 10 * SEC;
	struct vqos_tb tb;

	vqos_tb_init(&tb, 0);
	/* unlimited -> limited starts full */
	vqos_tb_test_set(test, &tb, 1000, 100, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 100LL * NU);
	vqos_tb_charge(&tb, 80, t0);
	/* deeper or shallower: the level is kept, only capped */
	vqos_tb_test_set(test, &tb, 1000, 50, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 20LL * NU);
	vqos_tb_test_set(test, &tb, 1000, 10, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 10LL * NU);
	/* debt is kept too */
	vqos_tb_charge(&tb, 40, t0);
	vqos_tb_test_set(test, &tb, 1000, 100, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), -30LL * NU);
	/* refilled at the old rate up to the change, at the new one after */
	vqos_tb_test_set(test, &tb, 10, 100, 0, 0, t0 + 10 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0 + 10 * MS), -20LL * NU);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0 + 10 * MS + SEC),
			-10LL * NU);
	/* adding a peak bucket to a live one: the peak starts full */
	vqos_tb_test_set(test, &tb, 10, 100, 2000, 0, t0 + 10 * MS + SEC);
	KUNIT_EXPECT_EQ(test, tb.peak_level, 2LL * NU);
	/* limited -> unlimited -> limited: full again */
	vqos_tb_test_set(test, &tb, 0, 0, 0, 0, t0 + 2 * SEC);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1000, t0 + 2 * SEC), 0ULL);
	vqos_tb_test_set(test, &tb, 10, 100, 0, 0, t0 + 2 * SEC);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0 + 2 * SEC), 100LL * NU);
}

static void vqos_tb_test_invalid(struct kunit *test)
{
	static const struct vqos_tb_cfg bad[] = {
		{ .rate = 1000, .burst_rate = 999 },
		{ .rate = VQOS_TB_RATE_MAX + 1 },
		{ .rate = 1000, .burst = VQOS_TB_DEPTH_MAX + 1 },
		{ .rate = 10, .burst_rate = VQOS_TB_RATE_MAX + 1 },
		{ .rate = 0, .burst = 5 },
		{ .rate = 0, .burst_rate = 5 },
		{ .rate = 0, .one_time_burst = 1 },
	};
	static const int err[] = {
		-EINVAL, -ERANGE, -ERANGE, -ERANGE, -EINVAL, -EINVAL, -EINVAL,
	};
	struct vqos_limiter *l = vqos_tb_test_lim(test, 0);
	struct vqos_limiter_cfg *lc;
	struct vqos_tb_cfg old;
	struct vqos_tb tb;
	int i;

	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 1000, 100, 2000, 7, 0);
	vqos_tb_charge(&tb, 80, 0);
	old = tb.cfg;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		KUNIT_EXPECT_EQ(test, vqos_tb_cfg_check(&bad[i]), err[i]);
		KUNIT_EXPECT_EQ(test, vqos_tb_set(&tb, &bad[i], MS), err[i]);
		KUNIT_EXPECT_EQ(test, memcmp(&tb.cfg, &old, sizeof(old)), 0);
		KUNIT_EXPECT_EQ(test, tb.rate, 1000ULL);
		KUNIT_EXPECT_EQ(test, tb.last, 0ULL);
		KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, 0), 27LL * NU);
	}
	/* the limits themselves are accepted */
	vqos_tb_test_set(test, &tb, VQOS_TB_RATE_MAX, VQOS_TB_DEPTH_MAX,
			 VQOS_TB_RATE_MAX, U64_MAX, 0);
	vqos_tb_test_set(test, &tb, 1, 1, 1, 0, 0);

	/* a limiter with one bad bucket changes nothing */
	lc = kunit_kzalloc(test, sizeof(*lc), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, lc);
	lc->tb[VQOS_IOPS_READ].rate = 100;
	lc->tb[VQOS_IOPS_WRITE].rate = 101;
	lc->tb[VQOS_BPS_READ].rate = 102;
	lc->tb[VQOS_BPS_WRITE].rate = 103;
	lc->tb[VQOS_BPS_WRITE].burst_rate = 1;
	lc->iops_size = 4096;
	KUNIT_EXPECT_EQ(test, vqos_limiter_cfg_check(lc), -EINVAL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_set(l, lc, 0), -EINVAL);
	KUNIT_EXPECT_FALSE(test, l->active);
	KUNIT_EXPECT_EQ(test, l->iops_size, 0U);
	for (i = 0; i < VQOS_LIM_NR_TB; i++)
		KUNIT_EXPECT_EQ(test, l->tb[i].rate, 0ULL);
	lc->tb[VQOS_BPS_WRITE].burst_rate = 0;

	/* a total and a per-direction limit of one unit contradict */
	lc->tb[VQOS_IOPS_TOTAL].rate = 50;
	KUNIT_EXPECT_EQ(test, vqos_limiter_cfg_check(lc), -EINVAL);
	lc->tb[VQOS_IOPS_READ].rate = 0;
	KUNIT_EXPECT_EQ(test, vqos_limiter_cfg_check(lc), -EINVAL);
	lc->tb[VQOS_IOPS_WRITE].rate = 0;
	lc->tb[VQOS_BPS_TOTAL].rate = 50;
	KUNIT_EXPECT_EQ(test, vqos_limiter_set(l, lc, 0), -EINVAL);
	KUNIT_EXPECT_FALSE(test, l->active);
	/* across units they combine: total IOPS with per-direction bytes */
	lc->tb[VQOS_BPS_TOTAL].rate = 0;
	KUNIT_EXPECT_EQ(test, vqos_limiter_set(l, lc, 0), 0);
	KUNIT_EXPECT_TRUE(test, l->active);
}

static void vqos_tb_test_read_write(struct kunit *test)
{
	struct vqos_limiter *l = vqos_tb_test_lim(test, 0);
	struct vqos_limiter_cfg cfg = { };
	enum vqos_lim_class cls;
	u64 t0 = SEC;
	int i;

	cfg.tb[VQOS_IOPS_READ] = (struct vqos_tb_cfg){ .rate = 100, .burst = 10 };
	cfg.tb[VQOS_IOPS_WRITE] = (struct vqos_tb_cfg){ .rate = 10, .burst = 2 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, t0), 0);

	/* writes: the write bucket (2) refuses the third for 1/10 s */
	for (i = 0; i < 2; i++)
		KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 512, t0, &cls),
				0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 512, t0, &cls),
			100 * MS);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_IOPS);
	/* the refused write charged nothing; reads have their own bucket */
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_IOPS_WRITE, t0), 0LL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_IOPS_READ, t0), 10LL * NU);

	/* reads: ten pass, the eleventh waits 1/100 s */
	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 512, t0, &cls),
				0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 512, t0, &cls),
			10 * MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_IOPS_READ, t0), 0LL);

	/* bytes: a refusal on bytes charges no IOPS bucket either */
	cfg.tb[VQOS_BPS_WRITE] = (struct vqos_tb_cfg){ .rate = 4096, .burst = 4096 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, t0 + SEC), 0);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 4096, t0 + SEC, &cls),
			0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 4096, t0 + SEC, &cls),
			SEC);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_BPS);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_IOPS_WRITE, t0 + SEC),
			1LL * NU);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_BPS_WRITE, t0 + SEC), 0LL);
	/* a read still goes: reads have no byte limit */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 4096, t0 + SEC, &cls),
			0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_IOPS_READ, t0 + SEC),
			9LL * NU);
}

static void vqos_tb_test_iops_size(struct kunit *test)
{
	static const struct {
		u64 bytes;
		s64 ops;
	} cases[] = {
		{ 16384, 4 }, { 0, 1 }, { 1, 1 }, { 4096, 1 }, { 4097, 2 },
		{ 1048576, 256 },
	};
	struct vqos_limiter *l = vqos_tb_test_lim(test, 0);
	struct vqos_limiter_cfg cfg = { };
	enum vqos_lim_class cls;
	s64 level = 1000;
	int i;

	cfg.tb[VQOS_IOPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 1, .burst = 1000 };
	cfg.iops_size = 4096;
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, 0), 0);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, i & 1, cases[i].bytes,
							 0, &cls), 0ULL);
		level -= cases[i].ops;
		KUNIT_EXPECT_EQ_MSG(test, vqos_tb_test_lvl(l, VQOS_IOPS_TOTAL, 0),
				    level * NU, "bytes %llu", cases[i].bytes);
	}
	/* without a normaliser, any size is one op */
	cfg.iops_size = 0;
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, 0), 0);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 1ULL << 30, 0, &cls),
			0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(l, VQOS_IOPS_TOTAL, 0),
			(level - 1) * NU);
}

static void vqos_tb_test_group(struct kunit *test)
{
	struct vqos_limiter *d = vqos_tb_test_lim(test, 0);
	struct vqos_limiter *d2 = vqos_tb_test_lim(test, 0);
	struct vqos_limiter *g = vqos_tb_test_lim(test, 0);
	struct vqos_limiter_cfg cfg = { };
	enum vqos_lim_class cls;
	u64 t0 = SEC;
	int i;

	cfg.tb[VQOS_IOPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 100, .burst = 10 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(d, &cfg, t0), 0);
	cfg.tb[VQOS_IOPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 50, .burst = 5 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(g, &cfg, t0), 0);

	/* the group refuses: the device is not charged */
	for (i = 0; i < 5; i++)
		KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(d, g, false, 1, t0, &cls),
				0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(d, g, false, 1, t0, &cls),
			20 * MS);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_GRP_IOPS);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(d, VQOS_IOPS_TOTAL, t0), 5LL * NU);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(g, VQOS_IOPS_TOTAL, t0), 0LL);
	/* a device without limits of its own is held by the group */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(d2, g, true, 1, t0, &cls),
			20 * MS);
	KUNIT_EXPECT_EQ(test, d2->stats.throttled_ios, 1ULL);

	/* the device refuses: the group is not charged */
	t0 += SEC;
	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_EQ(test, vqos_limiter_admit(d, false, 1, t0, &cls),
				0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(d, g, false, 1, t0, &cls),
			10 * MS);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_IOPS);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(g, VQOS_IOPS_TOTAL, t0), 5LL * NU);
	/* both allow: both are charged */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(d, g, false, 1, t0 + 10 * MS,
						  &cls), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(d, VQOS_IOPS_TOTAL, t0 + 10 * MS),
			0LL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_lvl(g, VQOS_IOPS_TOTAL, t0 + 10 * MS),
			4LL * NU);
}

static void vqos_tb_test_overflow(struct kunit *test)
{
	const u64 year = 365ULL * 24 * 3600 * SEC;
	const s64 floor = -(s64)(VQOS_TB_COST_MAX * NU);
	u64 t0 = 1, now, end, bytes = 0;
	struct vqos_tb tb;
	u32 seed = 99;

	/* the largest rate and depth */
	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, VQOS_TB_RATE_MAX, VQOS_TB_DEPTH_MAX, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, VQOS_TB_COST_MAX, t0), 0ULL);
	/* larger costs are clamped to COST_MAX; 2^33 units at 2^40/s */
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, U64_MAX, t0), SEC / 128);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0 + 10 * year),
			(s64)(VQOS_TB_DEPTH_MAX * NU));
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, U64_MAX),
			(s64)(VQOS_TB_DEPTH_MAX * NU));

	/* the slowest rate with the deepest debt, and 10 years of refill */
	vqos_tb_test_set(test, &tb, 1, VQOS_TB_DEPTH_MAX, 0, 0, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), 0LL);
	vqos_tb_charge(&tb, U64_MAX, t0);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), floor);
	vqos_tb_charge(&tb, U64_MAX, t0);	/* saturates, never wraps */
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0), floor);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, t0),
			(VQOS_TB_COST_MAX + 1) * SEC);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, t0 + 10 * year),
			floor + (s64)(10 * year));
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, t0 + 10 * year),
			(VQOS_TB_COST_MAX + 1) * SEC - 10 * year);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, U64_MAX),
			(s64)(VQOS_TB_DEPTH_MAX * NU));

	/* 10^12 bytes/s of 1 MiB requests for 10 ms: exact to the byte */
	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 1000000000000ULL, 1000000000, 0, 0, 0);
	now = 0;
	end = 10 * MS;
	while (now < end) {
		bytes += vqos_tb_test_drain(&tb, 1 << 20, now) << 20;
		now = min(now + vqos_tb_test_step(&seed, 2000), end);
	}
	bytes += vqos_tb_test_drain(&tb, 1 << 20, now) << 20;
	KUNIT_EXPECT_EQ(test, bytes * NU + vqos_tb_level_nu(&tb, end),
			(1000000000ULL + 10000000000ULL) * NU);

	/* 10^9 IOPS */
	vqos_tb_init(&tb, 0);
	vqos_tb_test_set(test, &tb, 1000000000, 1, 0, 0, end);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, end), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, end), 1ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_test_drain(&tb, 1, end + 1), 1ULL);

	/* a time before the last refill: waits count from @now */
	vqos_tb_test_set(test, &tb, 1000, 1, 0, 0, 5 * SEC);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, 5 * SEC), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, 4 * SEC), SEC + MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, 4 * SEC), SEC + MS);
	KUNIT_EXPECT_EQ(test, vqos_tb_level_nu(&tb, 4 * SEC), 0LL);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, 5 * SEC + MS), 0ULL);
	/* and saturate instead of wrapping */
	vqos_tb_test_set(test, &tb, 1000, 1, 0, 0, U64_MAX);
	KUNIT_EXPECT_EQ(test, vqos_tb_admit(&tb, 1, U64_MAX), 0ULL);
	KUNIT_EXPECT_EQ(test, vqos_tb_wait(&tb, 1, 0), U64_MAX);
}

static void vqos_tb_test_stats(struct kunit *test)
{
	struct vqos_limiter *l = vqos_tb_test_lim(test, 0);
	struct vqos_limiter *g = vqos_tb_test_lim(test, 0);
	struct vqos_limiter_cfg cfg = { };
	struct vqos_lim_stats st;
	enum vqos_lim_class cls;
	u64 t = SEC;

	cfg.tb[VQOS_IOPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 1000, .burst = 1 };
	cfg.tb[VQOS_BPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 1000000,
						       .burst = 1000 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, t), 0);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 1000, t, &cls), 0ULL);
	/* IOPS needs 1 ms, bytes 0.5 ms: IOPS holds it */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 500, t, &cls), MS);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_IOPS);
	vqos_limiter_stats(l, t + MS / 2, &st);
	KUNIT_EXPECT_EQ(test, st.throttled_ios, 1ULL);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_IOPS], MS / 2);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 500, t + MS, &cls),
			0ULL);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_NONE);
	vqos_limiter_stats(l, t + 5 * MS, &st);
	KUNIT_EXPECT_EQ(test, st.throttled_ios, 1ULL);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_IOPS], MS);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_BPS], 0ULL);

	/* one request held first by IOPS, then (after a live change) by
	 * bytes: each class gets its own part of the interval
	 */
	t += MS;
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 1000, t, &cls), MS);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_IOPS);
	cfg.tb[VQOS_BPS_TOTAL].rate = 1000;
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, t + MS / 4), 0);
	/* bytes level at 250 us: 500 + 250 = 750 of 1000, now at 1000/s */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 1000, t + MS / 4, &cls),
			250 * MS);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_BPS);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, false, 1000,
						 t + MS / 4 + 250 * MS, &cls), 0ULL);
	vqos_limiter_stats(l, t + SEC, &st);
	KUNIT_EXPECT_EQ(test, st.throttled_ios, 2ULL);
	KUNIT_EXPECT_EQ(test, st.group_throttled_ios, 0ULL);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_IOPS], MS + MS / 4);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_BPS], 250 * MS);

	/* a group refusal is the device's telemetry, in the group classes */
	t += SEC;
	memset(&cfg, 0, sizeof(cfg));
	cfg.tb[VQOS_IOPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 1000, .burst = 1 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, t), 0);
	cfg.tb[VQOS_BPS_TOTAL] = (struct vqos_tb_cfg){ .rate = 1000,
						       .burst = 1000 };
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(g, &cfg, t), 0);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(l, g, true, 0, t, &cls), 0ULL);
	/* 2000 bytes on a full group bucket of 1000: 1000 of debt */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(l, g, true, 2000, t + MS, &cls),
			0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit2(l, g, true, 1, t + 2 * MS, &cls),
			SEC);
	KUNIT_EXPECT_EQ(test, cls, VQOS_CLS_GRP_BPS);
	/* abandoned (reset): the interval ends there */
	vqos_limiter_unthrottle(l, t + 3 * MS);
	vqos_limiter_stats(l, t + 100 * SEC, &st);
	KUNIT_EXPECT_EQ(test, st.throttled_ios, 3ULL);
	KUNIT_EXPECT_EQ(test, st.group_throttled_ios, 1ULL);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_GRP_BPS], MS);
	KUNIT_EXPECT_EQ(test, g->stats.throttled_ios, 0ULL);

	/* becoming unlimited closes an open interval */
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 1, t + 3 * MS, &cls),
			0ULL);
	KUNIT_EXPECT_EQ(test, vqos_limiter_admit(l, true, 1, t + 3 * MS, &cls),
			MS);
	memset(&cfg, 0, sizeof(cfg));
	KUNIT_ASSERT_EQ(test, vqos_limiter_set(l, &cfg, t + 4 * MS), 0);
	KUNIT_EXPECT_FALSE(test, l->active);
	KUNIT_EXPECT_FALSE(test, l->throttled);
	vqos_limiter_stats(l, t + 100 * SEC, &st);
	KUNIT_EXPECT_EQ(test, st.throttled_ios, 4ULL);
	KUNIT_EXPECT_EQ(test, st.group_throttled_ios, 1ULL);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_IOPS], 2 * MS + MS / 4);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_BPS], 250 * MS);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_GRP_BPS], MS);
	KUNIT_EXPECT_EQ(test, st.throttled_ns[VQOS_CLS_GRP_IOPS], 0ULL);
}

static struct kunit_case vqos_tb_test_cases[] = {
	KUNIT_CASE(vqos_tb_test_unlimited),
	KUNIT_CASE(vqos_tb_test_exact_rate),
	KUNIT_CASE(vqos_tb_test_tiny_steps),
	KUNIT_CASE(vqos_tb_test_wait_exact),
	KUNIT_CASE(vqos_tb_test_debt),
	KUNIT_CASE(vqos_tb_test_burst),
	KUNIT_CASE(vqos_tb_test_burst_rate),
	KUNIT_CASE(vqos_tb_test_one_time_burst),
	KUNIT_CASE(vqos_tb_test_reconfig),
	KUNIT_CASE(vqos_tb_test_invalid),
	KUNIT_CASE(vqos_tb_test_read_write),
	KUNIT_CASE(vqos_tb_test_iops_size),
	KUNIT_CASE(vqos_tb_test_group),
	KUNIT_CASE(vqos_tb_test_overflow),
	KUNIT_CASE(vqos_tb_test_stats),
	{}
};

static struct kunit_suite vqos_tb_test_suite = {
	.name = "vqos_tb",
	.test_cases = vqos_tb_test_cases,
};

kunit_test_suite(vqos_tb_test_suite);

MODULE_DESCRIPTION("KUnit tests of the vqos token-bucket limiter");
MODULE_LICENSE("GPL");
