// SPDX-License-Identifier: GPL-2.0
/*
 * vqos guest address translation.
 *
 * Guest addresses are looked up in the device's IOTLB: vhost-vdpa's
 * mappings of a VMM's guest memory, or, while a kernel driver owns the
 * device through virtio_vdpa, one identity entry (its DMA addresses are
 * physical). A lookup that leaves the mappings, or lacks the permission
 * the access needs, fails: the guest gets an error, the host is untouched.
 *
 * Page lifetime. vhost-vdpa pins a VMM's pages when it maps them, and
 * unpins them *before* it asks us to unmap them: in between, the VMM can
 * munmap() them and the pages would be freed under I/O still in flight,
 * under a ring access, or under a status write. So vqos takes a reference
 * of its own on every page of a mapping when vhost-vdpa maps it, and drops
 * it only in dma_unmap or reset, after the device has stopped touching the
 * pages (vqos_pause(), vqos_quiesce()). A page vqos can reach through the
 * IOTLB is therefore always a page vqos holds; the datapath takes no
 * per-request references. Folio references make this work for the tail
 * pages of huge pages (THP, hugetlbfs) too, whose own refcount is zero.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include "vqos.h"

/* Marks the identity entries of a kernel driver, which hold no pages. */
#define VQOS_IOTLB_IDENTITY	((void *)1)

/*
 * Take (@get) or drop one reference on every folio of [@pa, @pa + @size):
 * one per folio, not per page, so a huge page costs one count. Pages the
 * device may have written are marked dirty when dropped: vhost-vdpa
 * dirtied them when it unpinned, before the device's last writes.
 */
static void vqos_pages_ref(u64 pa, u64 size, bool get, bool dirty)
{
	unsigned long pfn = PHYS_PFN(pa);
	unsigned long end = PHYS_PFN(pa + size - 1) + 1;

	while (pfn < end) {
		struct page *page = pfn_to_page(pfn);
		struct folio *folio = page_folio(page);

		pfn += folio_nr_pages(folio) - folio_page_idx(folio, page);
		if (get) {
			folio_get(folio);
		} else {
			if (dirty)
				set_page_dirty_lock(&folio->page);
			folio_put(folio);
		}
		/* A large VM maps gigabytes at once. */
		cond_resched();
	}
}

/**
 * vqos_iotlb_map() - enter a VMM's mapping, holding its pages
 * @dev: the device
 * @iova: guest address
 * @size: bytes, non-zero, no wrap
 * @pa: physical address of pages vhost-vdpa has pinned
 * @perm: VHOST_MAP_*
 * @opaque: vhost-vdpa's cookie
 *
 * Return: 0 or -errno; nothing is held on error.
 */
int vqos_iotlb_map(struct vqos_dev *dev, u64 iova, u64 size, u64 pa,
		   u32 perm, void *opaque)
{
	int ret;

	if (pa + size - 1 < pa || !pfn_valid(PHYS_PFN(pa)) ||
	    !pfn_valid(PHYS_PFN(pa + size - 1)))
		return -EINVAL;
	if (opaque == VQOS_IOTLB_IDENTITY)
		return -EINVAL;
	/* The pages are pinned by vhost-vdpa: no lock needed to take refs. */
	vqos_pages_ref(pa, size, true, false);
	spin_lock(&dev->iommu_lock);
	ret = vhost_iotlb_add_range_ctx(&dev->iotlb, iova, iova + size - 1,
					pa, perm, opaque);
	spin_unlock(&dev->iommu_lock);
	if (ret)
		vqos_pages_ref(pa, size, false, false);
	return ret;
}

/**
 * vqos_iotlb_unmap() - remove the mappings overlapping a range
 * @dev: the device, which must not touch guest memory any more in that
 *	range (paused or quiesced)
 * @start: first guest address
 * @last: last guest address
 *
 * Drops the page references of every mapping removed, except those of the
 * identity map of a kernel driver, which holds none (each of its entries
 * is marked, so a half-made identity map is told apart too).
 */
void vqos_iotlb_unmap(struct vqos_dev *dev, u64 start, u64 last)
{
	struct vhost_iotlb_map *map;
	bool held, dirty;
	u64 pa, size;

	for (;;) {
		spin_lock(&dev->iommu_lock);
		map = vhost_iotlb_itree_first(&dev->iotlb, start, last);
		if (!map) {
			dev->passthrough &= dev->iotlb.nmaps != 0;
			spin_unlock(&dev->iommu_lock);
			return;
		}
		held = map->opaque != VQOS_IOTLB_IDENTITY;
		dirty = map->perm & VHOST_MAP_WO;
		pa = map->addr;
		size = map->size;
		vhost_iotlb_map_free(&dev->iotlb, map);
		spin_unlock(&dev->iommu_lock);
		if (held)
			vqos_pages_ref(pa, size, false, dirty);
	}
}

/**
 * vqos_iotlb_reset() - remove every mapping
 * @dev: the device, quiesced
 */
void vqos_iotlb_reset(struct vqos_dev *dev)
{
	vqos_iotlb_unmap(dev, 0, ULLONG_MAX);
}

/**
 * vqos_iotlb_set_passthrough() - identity map for a kernel driver
 * @dev: the device, bound to virtio_vdpa, quiesced
 */
void vqos_iotlb_set_passthrough(struct vqos_dev *dev)
{
	vqos_iotlb_reset(dev);
	spin_lock(&dev->iommu_lock);
	if (!vhost_iotlb_add_range_ctx(&dev->iotlb, 0, ULONG_MAX, 0,
				       VHOST_MAP_RW, VQOS_IOTLB_IDENTITY))
		dev->passthrough = true;
	spin_unlock(&dev->iommu_lock);
}

/**
 * vqos_iotlb_lookup() - translate the start of a guest buffer
 * @dev: the device
 * @iova: guest address
 * @perm: VHOST_MAP_RO for memory the device reads, VHOST_MAP_WO for memory
 *	it writes
 * @x: filled with the mapping that contains @iova
 *
 * The mapping stays valid until the device is paused or quiesced (only
 * then is an entry removed), so the worker may keep @x for the rest of
 * its turn.
 *
 * Return: 0, -EFAULT if @iova is not mapped, -EPERM if the mapping
 * forbids the access.
 */
int vqos_iotlb_lookup(struct vqos_dev *dev, u64 iova, u32 perm,
		      struct vqos_xlate *x)
{
	struct vhost_iotlb_map *map;
	int ret = 0;

	spin_lock(&dev->iommu_lock);
	map = vhost_iotlb_itree_first(&dev->iotlb, iova, iova);
	if (!map)
		ret = -EFAULT;
	else if ((map->perm & perm) != perm)
		ret = -EPERM;
	else
		*x = (struct vqos_xlate){ map->start, map->last, map->addr };
	spin_unlock(&dev->iommu_lock);
	return ret;
}

/**
 * vqos_iotlb_covers() - is a whole guest range mapped for an access?
 * @dev: the device
 * @iova: first guest address
 * @len: bytes, non-zero, no wrap
 * @perm: VHOST_MAP_RO, VHOST_MAP_WO or both
 *
 * One lookup per mapping the range crosses: at most the device's IOTLB
 * limit, for a config op (process context), never on the datapath.
 *
 * Return: true if every byte of the range is mapped with @perm.
 */
bool vqos_iotlb_covers(struct vqos_dev *dev, u64 iova, u64 len, u32 perm)
{
	struct vqos_xlate x;

	while (len) {
		u64 n;

		if (vqos_iotlb_lookup(dev, iova, perm, &x))
			return false;
		n = x.last - iova + 1;
		/* n == 0: the mapping ends at the top of the address space. */
		if (!n || n >= len)
			return true;
		iova += n;
		len -= n;
		cond_resched();
	}
	return true;
}

/*
 * Translate [@iova, @iova + @len) piece by piece into @x: the physical
 * address of @iova, and how many bytes from it are contiguous in guest
 * and host memory. @x is reused while @iova stays inside it.
 */
static int vqos_iotlb_piece(struct vqos_dev *dev, u64 iova, u64 len, u32 perm,
			    struct vqos_xlate *x, u64 *pa, u64 *chunk)
{
	int ret;

	if (iova < x->start || iova > x->last || x->perm != perm) {
		ret = vqos_iotlb_lookup(dev, iova, perm, x);
		if (ret) {
			x->perm = 0;
			return ret;
		}
		x->perm = perm;
	}
	*pa = x->addr + (iova - x->start);
	*chunk = min(len, x->last - iova + 1);
	if (!pfn_valid(PHYS_PFN(*pa)) || !pfn_valid(PHYS_PFN(*pa + *chunk - 1)))
		return -EFAULT;
	return 0;
}

/**
 * vqos_iotlb_bvec() - translate a guest buffer into bvecs
 * @dev: the device
 * @iova: guest address
 * @len: bytes, non-zero
 * @perm: VHOST_MAP_RO for data the device reads, VHOST_MAP_WO for data it
 *	writes
 * @bv: bvecs to fill
 * @max: room in @bv
 *
 * The bvecs point at the guest's own pages, for I/O straight into them;
 * the IOTLB holds them until the device is paused (see the top of this
 * file). Physically contiguous pages are merged into multi-page bvecs.
 *
 * Return: number of bvecs filled, -ENOBUFS if @max is too small, -EFAULT
 * if part of the buffer is not mapped, -EPERM if the mapping forbids it.
 */
int vqos_iotlb_bvec(struct vqos_dev *dev, u64 iova, u64 len, u32 perm,
		    struct bio_vec *bv, unsigned int max)
{
	struct vqos_xlate x = {};
	unsigned int n = 0;

	if (!len || iova + len - 1 < iova)
		return -EFAULT;
	while (len) {
		u64 pa, chunk;
		int ret = vqos_iotlb_piece(dev, iova, len, perm, &x, &pa,
					   &chunk);

		if (ret)
			return ret;
		if (n && page_to_phys(bv[n - 1].bv_page) + bv[n - 1].bv_offset +
			 bv[n - 1].bv_len == pa) {
			bv[n - 1].bv_len += chunk;
		} else {
			if (n == max)
				return -ENOBUFS;
			bvec_set_page(&bv[n++], pfn_to_page(PHYS_PFN(pa)), chunk,
				      offset_in_page(pa));
		}
		iova += chunk;
		len -= chunk;
	}
	return n;
}

/**
 * vqos_iotlb_copy() - copy between guest memory and a kernel buffer
 * @dev: the device
 * @x: translation cache, zeroed by the caller before first use
 * @iova: guest address
 * @buf: kernel buffer
 * @len: bytes
 * @to_guest: write guest memory (else read it)
 *
 * Return: 0, or -errno if the guest buffer is not mapped for the access.
 */
int vqos_iotlb_copy(struct vqos_dev *dev, struct vqos_xlate *x, u64 iova,
		    void *buf, size_t len, bool to_guest)
{
	u32 perm = to_guest ? VHOST_MAP_WO : VHOST_MAP_RO;

	if (len && iova + len - 1 < iova)
		return -EFAULT;
	while (len) {
		u64 pa, chunk;
		int ret = vqos_iotlb_piece(dev, iova, len, perm, x, &pa,
					   &chunk);

		if (ret)
			return ret;
		/* memcpy_{to,from}_page() stay within one page. */
		chunk = min_t(u64, chunk, PAGE_SIZE - offset_in_page(pa));
		if (to_guest)
			memcpy_to_page(pfn_to_page(PHYS_PFN(pa)),
				       offset_in_page(pa), buf, chunk);
		else
			memcpy_from_page(buf, pfn_to_page(PHYS_PFN(pa)),
					 offset_in_page(pa), chunk);
		iova += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}
