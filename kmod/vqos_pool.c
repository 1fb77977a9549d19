// SPDX-License-Identifier: GPL-2.0
/*
 * vqos pools: devices that share a backing store. Placeholder until the
 * pool scheduler lands: every request may start, none holds a slot.
 */
#include "vqos.h"

/**
 * vqos_pool_get() - a slot in the device's pool for one request
 * @dev: the device's worker
 * @now: CLOCK_MONOTONIC ns
 * @slot: set if the request holds a slot (give it back: vqos_pool_put())
 *
 * Return: true if the request may start now.
 */
bool vqos_pool_get(struct vqos_dev *dev, u64 now, bool *slot)
{
	*slot = false;
	return true;
}

/**
 * vqos_pool_put() - give a slot back
 * @dev: the device
 * @now: CLOCK_MONOTONIC ns
 * @lat_ns: the request's latency since it passed its limits
 * @svc_ns: its time on the backing store
 */
void vqos_pool_put(struct vqos_dev *dev, u64 now, u64 lat_ns, u64 svc_ns)
{
}

/**
 * vqos_pool_cancel() - the device no longer waits for a slot
 * @dev: the device's worker
 */
void vqos_pool_cancel(struct vqos_dev *dev)
{
}
