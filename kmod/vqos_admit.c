// SPDX-License-Identifier: GPL-2.0
/*
 * vqos admission: the one stage between taking a request from a ring and
 * starting it on the backing store.
 *
 * A request must fit its device's and its group's limits (vqos_qos.c),
 * then get a slot in its pool (vqos_pool.c), if it touches the backing
 * store. One that cannot start now is parked here, in one of four FIFO
 * queues: reads held by limits, writes held by limits, flushes, discards
 * and write-zeroes that passed their limits and wait for one of the
 * device's slow turns, and requests that wait for a pool slot. The worker asks again
 * when the limiter's timer fires (at the exact nanosecond the head of a
 * limit queue fits) or when the pool grants the device a slot.
 *
 * No head-of-line blocking across limits: a request waits only behind
 * requests held on something it needs too. A read waits behind earlier
 * reads held by limits (order within a direction is kept, and telemetry
 * counts one interval per direction), and behind writes only while the
 * write at their head is held by a bucket that reads share (a total limit
 * of the device or of its group): a read must not take tokens a larger
 * write is waiting for. A read held by iops_read_limit never delays a
 * write, nor the other way round. A request that passed its limits waits
 * only behind earlier requests waiting for a slot. virtio-blk completes
 * out of order, so none of this is visible to the driver but as latency.
 *
 * Slow turns: the backend runs at most VQOS_SLOW_MAX_ACTIVE flushes,
 * discards and write-zeroes of a device at once (each may write a GiB of
 * zeroes). Admitting more would let them wait on its workqueue holding
 * pool slots that other devices need, and make vqos_pause() (an IOTLB
 * update, a queue enable, under the device lock) wait for all of them.
 * So a slow request takes a turn before its slot, and waits here for one.
 *
 * Only the device's worker calls these functions, but for
 * vqos_admit_done(), which runs wherever the backend completes.
 */
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include "vqos.h"
#include "vqos_trace.h"

/* Not a queue: the request may start now. */
#define VQOS_GO		VQOS_WAIT_NR

/*
 * What a request costs against the limits. Every request costs at least
 * one operation (vqos_limiter_ops()): a guest cannot flood the backing
 * or the worker with requests that no limit sees. Flush is a write that
 * moves no data; GET_ID and a refused request, reads that move none. A write-zeroes costs its whole length,
 * as the writes the backend may turn it into would. A discard moves no
 * data: it costs VQOS_DISCARD_BYTES, as blk-throttle charges one sector,
 * and its size is bounded by max_discard_sectors. Documented in the sysfs
 * ABI.
 */
static void vqos_admit_cost(struct vqos_req *req)
{
	const struct vqos_req_plan *p = &req->plan;

	req->cost_write = p->op != VQOS_OP_READ && p->op != VQOS_OP_GET_ID &&
			  p->op != VQOS_OP_INVALID;
	switch (p->op) {
	case VQOS_OP_READ:
	case VQOS_OP_WRITE:
		req->cost_bytes = p->len;
		break;
	case VQOS_OP_WRITE_ZEROES:
		req->cost_bytes = (u64)req->dwz.nr_sectors * VQOS_SECTOR_SIZE;
		break;
	case VQOS_OP_DISCARD:
		req->cost_bytes = VQOS_DISCARD_BYTES;
		break;
	default:
		req->cost_bytes = 0;
		break;
	}
}

static bool vqos_admit_is_slow(const struct vqos_req *req)
{
	return req->plan.op == VQOS_OP_FLUSH ||
	       req->plan.op == VQOS_OP_DISCARD ||
	       req->plan.op == VQOS_OP_WRITE_ZEROES;
}

static bool vqos_admit_slow_get(struct vqos_dev *dev, struct vqos_req *req)
{
	if (!atomic_add_unless(&dev->slow_turns, 1, VQOS_SLOW_MAX_ACTIVE))
		return false;
	req->slow = true;
	return true;
}

static enum vqos_wait vqos_limit_queue(const struct vqos_req *req)
{
	return req->cost_write ? VQOS_WAIT_WRITE : VQOS_WAIT_READ;
}

static void vqos_park(struct vqos_dev *dev, struct vqos_req *req,
		      enum vqos_wait w)
{
	struct vqos_waitq *q = &dev->parked[w];

	list_add_tail(&req->park_node, &q->reqs);
	WRITE_ONCE(q->nr, q->nr + 1);
}

static void vqos_unpark(struct vqos_dev *dev, struct vqos_req *req,
			enum vqos_wait w)
{
	struct vqos_waitq *q = &dev->parked[w];

	list_del(&req->park_node);
	WRITE_ONCE(q->nr, q->nr - 1);
}

/* Must @req wait behind requests parked already? Then in which queue? */
static enum vqos_wait vqos_admit_behind(struct vqos_dev *dev,
					const struct vqos_req *req)
{
	enum vqos_wait w = vqos_limit_queue(req);
	const struct vqos_waitq *other = &dev->parked[w ^ 1];

	if (dev->parked[w].nr || (other->nr && other->shared))
		return w;
	return VQOS_GO;
}

/*
 * Limits (once), then a pool slot. Return VQOS_GO, or the queue @req must
 * wait in: for a limit queue, its due time and whether a shared bucket
 * refused are recorded for the queue (@req is, or becomes, its head).
 */
static enum vqos_wait vqos_admit_try(struct vqos_dev *dev,
				     struct vqos_req *req, u64 now, u64 due)
{
	if (!req->limited) {
		enum vqos_wait w = vqos_limit_queue(req);
		struct vqos_waitq *q = &dev->parked[w];
		bool shared;
		u64 t = vqos_qos_admit(dev, req->cost_write, req->cost_bytes,
				       now, due, &shared);

		if (t) {
			q->due = t;
			q->shared = shared;
			return w;
		}
		req->limited = true;
		req->admit_ns = now;
	}
	/* In turn: behind slow requests that wait for one already. */
	if (vqos_admit_is_slow(req) && !req->slow &&
	    (dev->parked[VQOS_WAIT_SLOW].nr || !vqos_admit_slow_get(dev, req)))
		return VQOS_WAIT_SLOW;
	/* GET_ID and refused requests do not touch the backing store. */
	if (req->plan.op != VQOS_OP_GET_ID &&
	    req->plan.op != VQOS_OP_INVALID &&
	    !vqos_pool_get(dev, now, &req->slot))
		return VQOS_WAIT_SLOT;
	return VQOS_GO;
}

/* Resume the worker when the earliest head of a limit queue fits. */
static void vqos_admit_arm(struct vqos_dev *dev)
{
	u64 due = U64_MAX;
	int w;

	for (w = VQOS_WAIT_READ; w <= VQOS_WAIT_WRITE; w++)
		if (dev->parked[w].nr)
			due = min(due, dev->parked[w].due);
	if (due != U64_MAX)
		vqos_qos_arm(dev, due);
}

/**
 * vqos_admit_new() - admit a request just taken from a ring
 * @req: the request, validated, fetched at @req->start_ns
 *
 * Return: true if it may start now; false if it was parked (it then
 * starts from vqos_admit_ready() or is given back by vqos_admit_drop()).
 */
bool vqos_admit_new(struct vqos_req *req)
{
	struct vqos_dev *dev = req->vq->dev;
	enum vqos_wait w;

	vqos_admit_cost(req);
	req->limited = false;
	req->slow = false;
	w = vqos_admit_behind(dev, req);
	if (w != VQOS_GO && !dev->parked[w].nr) {
		/* Behind the other direction's held head: never tried first. */
		dev->parked[w].due = dev->parked[w ^ 1].due + 1;
		dev->parked[w].shared = false;
	}
	if (w == VQOS_GO)
		w = vqos_admit_try(dev, req, req->start_ns, 0);
	if (w == VQOS_GO)
		return true;
	vqos_park(dev, req, w);
	if (w == VQOS_WAIT_READ || w == VQOS_WAIT_WRITE) {
		trace_vqos_req_throttle(dev->id, req->vq->idx, req->head,
					dev->parked[w].due - req->start_ns);
		vqos_admit_arm(dev);
	}
	return false;
}

/* Requests that passed their limits take the slots the pool granted. */
static void vqos_admit_slots(struct vqos_dev *dev, struct list_head *ready,
			     u64 now)
{
	struct vqos_waitq *q = &dev->parked[VQOS_WAIT_SLOT];
	struct vqos_req *req;

	while (q->nr) {
		req = list_first_entry(&q->reqs, struct vqos_req, park_node);
		if (!vqos_pool_get(dev, now, &req->slot))
			return;
		vqos_unpark(dev, req, VQOS_WAIT_SLOT);
		list_add_tail(&req->park_node, ready);
	}
}

/* Slow requests that passed their limits take the turns given back. */
static void vqos_admit_slow(struct vqos_dev *dev, struct list_head *ready,
			    u64 now)
{
	struct vqos_waitq *q = &dev->parked[VQOS_WAIT_SLOW];
	struct vqos_req *req;

	while (q->nr) {
		req = list_first_entry(&q->reqs, struct vqos_req, park_node);
		if (!vqos_admit_slow_get(dev, req))
			return;
		vqos_unpark(dev, req, VQOS_WAIT_SLOW);
		if (vqos_pool_get(dev, now, &req->slot))
			list_add_tail(&req->park_node, ready);
		else
			vqos_park(dev, req, VQOS_WAIT_SLOT);
	}
}

/*
 * Is the write head due first? On the same due time (both held by one
 * shared bucket), the head that has waited longer goes first: a fixed
 * order would hand every token of the bucket to one direction.
 */
static bool vqos_admit_write_first(struct vqos_dev *dev)
{
	struct vqos_waitq *r = &dev->parked[VQOS_WAIT_READ];
	struct vqos_waitq *wr = &dev->parked[VQOS_WAIT_WRITE];
	const struct vqos_req *rh, *wh;

	if (!wr->nr)
		return false;
	if (!r->nr)
		return true;
	if (wr->due != r->due)
		return wr->due < r->due;
	rh = list_first_entry(&r->reqs, struct vqos_req, park_node);
	wh = list_first_entry(&wr->reqs, struct vqos_req, park_node);
	return wh->start_ns < rh->start_ns;
}

/* The limit queue whose head is due first, if that is by @now. */
static struct vqos_waitq *vqos_admit_due(struct vqos_dev *dev, u64 now,
					 enum vqos_wait *w)
{
	struct vqos_waitq *q;

	*w = vqos_admit_write_first(dev) ? VQOS_WAIT_WRITE : VQOS_WAIT_READ;
	q = &dev->parked[*w];
	return q->nr && q->due <= now ? q : NULL;
}

/*
 * Retry the heads of the limit queues, earliest due first, each as of the
 * time it was due. A head held again by a shared bucket stops the
 * other queue too; one held by its own direction's bucket does not.
 */
static void vqos_admit_limits(struct vqos_dev *dev, struct list_head *ready)
{
	u64 now = ktime_get_ns();
	struct vqos_waitq *q;
	enum vqos_wait w, to;

	while ((q = vqos_admit_due(dev, now, &w))) {
		struct vqos_req *req = list_first_entry(&q->reqs,
							struct vqos_req,
							park_node);

		to = vqos_admit_try(dev, req, now, q->due);
		if (to == w) {
			if (q->shared)
				return;
			continue;	/* q->due moved on: past @now or not */
		}
		vqos_unpark(dev, req, w);
		if (to == VQOS_GO)
			list_add_tail(&req->park_node, ready);
		else
			vqos_park(dev, req, to);
	}
}

/**
 * vqos_admit_ready() - parked requests that may start now
 * @dev: the device; its worker, running and not paused
 * @ready: list to move them onto (through &vqos_req.park_node), in the
 *	order they must start
 *
 * Also arms the limiter's timer for the requests that still wait on
 * limits.
 */
void vqos_admit_ready(struct vqos_dev *dev, struct list_head *ready)
{
	/* New limits: the heads' due times are stale, ask again now. */
	if (READ_ONCE(dev->qos_changed)) {
		WRITE_ONCE(dev->qos_changed, false);
		dev->parked[VQOS_WAIT_READ].due = 0;
		dev->parked[VQOS_WAIT_WRITE].due = 0;
	}
	if (dev->parked[VQOS_WAIT_SLOT].nr)
		vqos_admit_slots(dev, ready, ktime_get_ns());
	if (dev->parked[VQOS_WAIT_SLOW].nr)
		vqos_admit_slow(dev, ready, ktime_get_ns());
	if (dev->parked[VQOS_WAIT_READ].nr || dev->parked[VQOS_WAIT_WRITE].nr) {
		vqos_admit_limits(dev, ready);
		vqos_admit_arm(dev);
	}
}

/**
 * vqos_admit_drop() - take back parked requests (reset, queue disabled,
 *	device being removed)
 * @dev: the device; its worker, or a config op with the worker paused
 * @vq: only this queue's requests, or NULL for all
 * @dropped: list to move them onto, for the caller to recycle
 *
 * A limit queue left empty closes its throttle interval; a slot queue left
 * empty withdraws the device's claim on the pool.
 */
void vqos_admit_drop(struct vqos_dev *dev, struct vqos_vq *vq,
		     struct list_head *dropped)
{
	struct vqos_req *req, *tmp;
	int w;

	for (w = 0; w < VQOS_WAIT_NR; w++) {
		struct vqos_waitq *q = &dev->parked[w];

		if (!q->nr)
			continue;
		list_for_each_entry_safe(req, tmp, &q->reqs, park_node) {
			if (vq && req->vq != vq)
				continue;
			vqos_unpark(dev, req, w);
			list_add_tail(&req->park_node, dropped);
		}
		if (q->nr)
			continue;
		if (w == VQOS_WAIT_SLOT) {
			vqos_pool_cancel(dev);
		} else if (w != VQOS_WAIT_SLOW) {
			/* A later head must not inherit this one's due. */
			q->due = 0;
			q->shared = false;
			vqos_qos_abandon(dev, w == VQOS_WAIT_WRITE);
		}
	}
}

/**
 * vqos_admit_done() - a request is done with the backing store
 * @req: the request, which may have held a pool slot and a slow turn
 * @now: CLOCK_MONOTONIC ns of the completion
 *
 * Any context, in an RCU read section: gives the slot back to the pool,
 * which may grant it to another device and wake that device's worker. The
 * caller kicks the request's own worker for a slow turn given back.
 */
void vqos_admit_done(struct vqos_req *req, u64 now)
{
	if (req->slow) {
		req->slow = false;
		atomic_dec(&req->vq->dev->slow_turns);
	}
	if (req->slot) {
		req->slot = false;
		vqos_pool_put(req->vq->dev, now, now - req->admit_ns,
			      now - req->dispatch_ns);
	}
}

/**
 * vqos_admit_parked() - how many requests wait here
 * @dev: the device
 *
 * Return: the number of parked requests; racy unless the worker is idle.
 */
unsigned int vqos_admit_parked(struct vqos_dev *dev)
{
	unsigned int n = 0;
	int w;

	for (w = 0; w < VQOS_WAIT_NR; w++)
		n += READ_ONCE(dev->parked[w].nr);
	return n;
}

/**
 * vqos_admit_init() - empty queues
 * @dev: the device being created
 */
void vqos_admit_init(struct vqos_dev *dev)
{
	int w;

	for (w = 0; w < VQOS_WAIT_NR; w++)
		INIT_LIST_HEAD(&dev->parked[w].reqs);
}
