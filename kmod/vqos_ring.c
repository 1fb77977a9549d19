// SPDX-License-Identifier: GPL-2.0
/*
 * vqos split virtqueue, device side: taking chains from the avail ring.
 *
 * vringh (6.1) walks a chain for us, but bounds it badly for a device that
 * a hostile VMM feeds: it counts neither top-level INDIRECT descriptors
 * nor returns to the same table, so one request can make it read some
 * 270,000 descriptors and grow its iovecs to megabytes before it gives up.
 * So vqos walks chains itself, with hard bounds:
 *
 *  - at most VQOS_CHAIN_MAX descriptors per chain, direct and indirect
 *    together (QEMU's VIRTQUEUE_MAX_SIZE): past it, the chain is a loop;
 *  - one indirect table per chain, not nested, not chained onward
 *    (INDIRECT with NEXT is refused, as the spec forbids it);
 *  - no readable buffer after a writable one;
 *  - at most VQOS_CHAIN_SEGS buffers stored per request, after dropping
 *    empty ones and merging adjacent ones. A longer but well-formed chain
 *    is walked to its end and then refused with an error status: the ring
 *    stays usable. A malformed one breaks the ring (NEEDS_RESET).
 *
 * vringh still completes used entries and decides on interrupts: that
 * side holds no guest-controlled loop.
 */
#include <linux/virtio_ring.h>
#include "vqos.h"

/* A u16 of the rings; avail and used indexes are naturally aligned. */
static int vqos_ring_get16(struct vqos_dev *dev, struct vqos_xlate *x,
			   u64 iova, u16 *val)
{
	__virtio16 v;
	int ret = vqos_iotlb_copy(dev, x, iova, &v, sizeof(v), false);

	if (!ret)
		*val = __virtio16_to_cpu(true, v);
	return ret;
}

/* Append a buffer to @c, merging it into the previous one if adjacent. */
static void vqos_chain_add(struct vqos_chain *c, u64 addr, u32 len,
			   bool write)
{
	struct vqos_seg *prev = c->nr ? &c->seg[c->nr - 1] : NULL;

	if (write)
		c->in_len += len;
	else
		c->out_len += len;
	if (!len)
		return;
	if (prev && (c->nr > c->nr_out) == write &&
	    prev->addr + prev->len == addr && prev->len <= U32_MAX - len) {
		prev->len += len;
		return;
	}
	if (c->nr == VQOS_CHAIN_SEGS) {
		c->fragmented = true;
		return;
	}
	c->seg[c->nr++] = (struct vqos_seg){ .addr = addr, .len = len };
	if (!write)
		c->nr_out = c->nr;
}

/* Walk the chain at @head into @c. Return: 0 or -errno (ring broken). */
static int vqos_chain_walk(struct vqos_vq *vq, u16 head, struct vqos_chain *c)
{
	struct vqos_dev *dev = vq->dev;
	struct vqos_xlate x = {};
	u64 table = (u64)(uintptr_t)vq->vring.vring.desc;
	u32 tmax = vq->vring.vring.num, count = 0;
	bool indirect = false;
	u16 i = head;

	memset(c, 0, offsetof(struct vqos_chain, seg));
	for (;;) {
		struct vring_desc d;
		u16 flags;
		u64 addr;
		u32 len;
		int ret;

		if (++count > VQOS_CHAIN_MAX)
			return -ELOOP;
		ret = vqos_iotlb_copy(dev, &x, table + (u64)i * sizeof(d), &d,
				      sizeof(d), false);
		if (ret)
			return ret;
		flags = __virtio16_to_cpu(true, d.flags);
		addr = __virtio64_to_cpu(true, d.addr);
		len = __virtio32_to_cpu(true, d.len);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (flags & VRING_DESC_F_NEXT) || !len ||
			    len % sizeof(d) ||
			    len / sizeof(d) > VQOS_CHAIN_MAX)
				return -EINVAL;
			indirect = true;
			table = addr;
			tmax = len / sizeof(d);
			i = 0;
			continue;
		}
		/* Guest memory cannot hold it: an error for this request. */
		if (len && addr + len - 1 < addr) {
			c->wraps = true;
			len = 0;
		}
		if (flags & VRING_DESC_F_WRITE) {
			c->has_in = true;
			if (len)
				c->last_in = addr + len - 1;
		} else if (c->has_in) {
			return -EINVAL;	/* readable after writable */
		}
		vqos_chain_add(c, addr, len, flags & VRING_DESC_F_WRITE);

		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = __virtio16_to_cpu(true, d.next);
		if (i >= tmax)
			return -EINVAL;
	}
}

/**
 * vqos_ring_pop() - take the next chain the driver made available
 * @vq: the queue, ready; only its worker calls this
 * @head: set to the chain's head, for the used ring
 * @c: filled with the chain's buffers
 *
 * The ring's addresses and size are those vqos_vq_enable() gave vringh:
 * a driver changing them later changes nothing until the queue is
 * enabled again.
 *
 * Return: 1 if a chain was taken, 0 if the ring is empty, or -errno if the
 * driver broke the ring (the device must be reset).
 */
int vqos_ring_pop(struct vqos_vq *vq, u16 *head, struct vqos_chain *c)
{
	struct vqos_dev *dev = vq->dev;
	u64 avail_ring = (u64)(uintptr_t)vq->vring.vring.avail;
	u16 num = vq->vring.vring.num;
	u16 last = vq->vring.last_avail_idx, avail;
	struct vqos_xlate x = {};
	int ret;

	ret = vqos_ring_get16(dev, &x, avail_ring +
			      offsetof(struct vring_avail, idx), &avail);
	if (ret)
		return ret;
	if (avail == last)
		return 0;
	/* More entries than the ring holds: the index is garbage. */
	if ((u16)(avail - last) > num)
		return -EINVAL;
	/* Read the entries only after the index that exposes them. */
	smp_rmb();
	ret = vqos_ring_get16(dev, &x, avail_ring +
			      offsetof(struct vring_avail, ring) +
			      (u64)(last & (num - 1)) * sizeof(__virtio16),
			      head);
	if (ret)
		return ret;
	if (*head >= num)
		return -EINVAL;
	vq->vring.last_avail_idx = last + 1;
	ret = vqos_chain_walk(vq, *head, c);
	return ret ? ret : 1;
}

/**
 * vqos_chain_copy() - copy between a chain's buffers and a kernel buffer
 * @dev: the device
 * @c: the chain
 * @write: the device-writable buffers (else the readable ones)
 * @skip: bytes of those buffers to skip first
 * @buf: kernel buffer
 * @len: bytes to copy
 *
 * Return: 0, or -EFAULT if the buffers are shorter than @skip + @len or
 * not mapped for the access.
 */
int vqos_chain_copy(struct vqos_dev *dev, const struct vqos_chain *c,
		    bool write, u64 skip, void *buf, u64 len)
{
	unsigned int i = write ? c->nr_out : 0;
	unsigned int end = write ? c->nr : c->nr_out;
	struct vqos_xlate x = {};

	for (; i < end && len; i++) {
		const struct vqos_seg *s = &c->seg[i];
		u64 n;
		int ret;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		n = min(len, s->len - skip);
		ret = vqos_iotlb_copy(dev, &x, s->addr + skip, buf, n, write);
		if (ret)
			return ret;
		skip = 0;
		buf += n;
		len -= n;
	}
	return len ? -EFAULT : 0;
}
