// SPDX-License-Identifier: GPL-2.0
/*
 * vqos guest address translation.
 *
 * Guest addresses are looked up in the device's IOTLB: vhost-vdpa's
 * mappings of a VMM's guest memory, or, while a kernel driver owns the
 * device through virtio_vdpa, one identity entry (its DMA addresses are
 * physical). A lookup that leaves the mappings, or lacks the permission
 * the access needs, fails: the guest gets an error, the host is untouched.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include "vqos.h"

/* Pages bv spans: a merged bvec may cover several. */
static unsigned int vqos_bvec_pages(const struct bio_vec *bv)
{
	return DIV_ROUND_UP(bv->bv_offset + bv->bv_len, PAGE_SIZE);
}

/* Reference every page of @bv; false, holding nothing, if one is free. */
static bool vqos_bvec_get(struct bio_vec *bv)
{
	unsigned int i, nr = vqos_bvec_pages(bv);

	for (i = 0; i < nr; i++) {
		if (!get_page_unless_zero(nth_page(bv->bv_page, i))) {
			while (i--)
				put_page(nth_page(bv->bv_page, i));
			return false;
		}
	}
	return true;
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
 * @pin: take a reference on every page filled in; drop them with
 *	vqos_bvecs_put()
 *
 * The bvecs point at the guest's own pages, for I/O straight into them.
 * Unmap waits for in-flight requests, but vhost-vdpa unpins the pages
 * before it tells us to unmap them: a VMM that unmaps memory under I/O
 * would have it land in freed pages. The references taken here keep them
 * until the I/O is done. (A page unpinned while this very call translates
 * it is not covered: get_page_unless_zero() only refuses a freed one.)
 *
 * Return: number of bvecs filled, -ENOBUFS if @max is too small, -EFAULT
 * if part of the buffer is not mapped, -EPERM if the mapping forbids it.
 */
int vqos_iotlb_bvec(struct vqos_dev *dev, u64 iova, u64 len, u32 perm,
		    struct bio_vec *bv, unsigned int max, bool pin)
{
	struct vhost_iotlb_map *map;
	unsigned int n = 0, got;
	int ret = 0;

	if (iova + len - 1 < iova)
		return -EFAULT;

	spin_lock(&dev->iommu_lock);
	while (len) {
		u64 pa, chunk;

		map = vhost_iotlb_itree_first(&dev->iotlb, iova, iova + len - 1);
		if (!map || map->start > iova) {
			ret = -EFAULT;
			break;
		}
		if ((map->perm & perm) != perm) {
			ret = -EPERM;
			break;
		}
		pa = map->addr + (iova - map->start);
		chunk = min(len, map->last - iova + 1);
		if (!pfn_valid(PHYS_PFN(pa)) ||
		    !pfn_valid(PHYS_PFN(pa + chunk - 1))) {
			ret = -EFAULT;
			break;
		}
		/* Multi-page bvecs: merge what is physically contiguous. */
		if (n && page_to_phys(bv[n - 1].bv_page) + bv[n - 1].bv_offset +
			 bv[n - 1].bv_len == pa) {
			bv[n - 1].bv_len += chunk;
			goto next;
		}
		if (n == max) {
			ret = -ENOBUFS;
			break;
		}
		bvec_set_page(&bv[n++], pfn_to_page(PHYS_PFN(pa)), chunk,
			      offset_in_page(pa));
next:
		iova += chunk;
		len -= chunk;
	}
	if (!ret && pin) {
		for (got = 0; got < n; got++) {
			if (!vqos_bvec_get(&bv[got])) {
				vqos_bvecs_put(bv, got);
				ret = -EFAULT;
				break;
			}
		}
	}
	spin_unlock(&dev->iommu_lock);
	return ret ? ret : n;
}

/**
 * vqos_bvecs_put() - drop what vqos_bvec_get() took
 * @bv: the bvecs
 * @n: how many
 */
void vqos_bvecs_put(struct bio_vec *bv, unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < vqos_bvec_pages(&bv[i]); j++)
			put_page(nth_page(bv[i].bv_page, j));
}

/**
 * vqos_iotlb_copy_to() - copy to guest memory
 * @dev: the device
 * @iova: guest address
 * @src: data
 * @len: bytes
 *
 * For the few bytes the device writes itself (the status byte).
 *
 * Return: 0, or -errno if the guest buffer is not mapped writable.
 */
int vqos_iotlb_copy_to(struct vqos_dev *dev, u64 iova, const void *src,
		       size_t len)
{
	struct bio_vec bv[4];
	int n, i;

	if (!len)
		return 0;
	n = vqos_iotlb_bvec(dev, iova, len, VHOST_MAP_WO, bv, ARRAY_SIZE(bv),
			    false);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		memcpy_to_page(bv[i].bv_page, bv[i].bv_offset, src,
			       bv[i].bv_len);
		src += bv[i].bv_len;
	}
	return 0;
}

/**
 * vqos_iotlb_set_passthrough() - identity map for a kernel driver
 * @dev: the device, bound to virtio_vdpa
 */
void vqos_iotlb_set_passthrough(struct vqos_dev *dev)
{
	spin_lock(&dev->iommu_lock);
	vhost_iotlb_reset(&dev->iotlb);
	if (!vhost_iotlb_add_range(&dev->iotlb, 0, ULONG_MAX, 0, VHOST_MAP_RW))
		dev->passthrough = true;
	spin_unlock(&dev->iommu_lock);
}
