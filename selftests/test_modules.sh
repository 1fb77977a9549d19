#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Load and unload the vqos modules: kmod/vqos.ko registers the vDPA
# management device "vqos" (listed by `vdpa mgmtdev show`, possibly as
# "<bus>/vqos:"), guest-driver/virtio_vqos.ko loads next to it; both must
# unload cleanly and leave nothing behind.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vqos_require_vm

tap_plan 6

# `vdpa mgmtdev show` prints one "[bus/]name:" line per management device.
mgmtdev_listed() {
	vdpa mgmtdev show 2>/dev/null | grep -Eq "^([^ /]+/)?$1:"
}

descs=("load kmod/vqos.ko" "vdpa mgmtdev show lists vqos"
       "load guest-driver/virtio_vqos.ko" "unload virtio_vqos"
       "unload vqos" "vqos mgmtdev is gone after unload")

if ! ko=$(vqos_ko vqos); then
	tap_skip_rest "kmod/vqos.ko is not built (make)" "${descs[@]}"
	tap_done; exit $?
fi

if out=$(vqos_insmod "$ko" 2>&1) && vqos_mod_loaded vqos; then
	tap_ok "${descs[0]}"
else
	tap_fail "${descs[0]}" "$out"
	tap_skip_rest "vqos.ko did not load" "${descs[@]:1}"
	vqos_unload_all
	tap_done; exit $?
fi

if mgmtdev_listed vqos; then
	tap_ok "${descs[1]}"
else
	tap_fail "${descs[1]}" "vdpa mgmtdev show printed:" "$(vdpa mgmtdev show 2>&1)"
fi

if ! gko=$(vqos_ko virtio_vqos); then
	tap_skip "${descs[2]}" "guest-driver/virtio_vqos.ko is not built (make)"
	tap_skip "${descs[3]}" "guest-driver/virtio_vqos.ko is not built (make)"
else
	if out=$(vqos_insmod "$gko" 2>&1) && vqos_mod_loaded virtio_vqos; then
		tap_ok "${descs[2]}"
	else
		tap_fail "${descs[2]}" "$out"
	fi
	if ! vqos_mod_loaded virtio_vqos; then
		tap_skip "${descs[3]}" "virtio_vqos is not loaded"
	elif out=$(rmmod virtio_vqos 2>&1) && ! vqos_mod_loaded virtio_vqos; then
		tap_ok "${descs[3]}"
	else
		tap_fail "${descs[3]}" "$out" "$(grep '^virtio_vqos ' /proc/modules)"
	fi
fi

if out=$(rmmod vqos 2>&1) && ! vqos_mod_loaded vqos; then
	tap_ok "${descs[4]}"
else
	tap_fail "${descs[4]}" "$out" "$(grep '^vqos ' /proc/modules)"
fi
vqos_unload_all 2>/dev/null

if mgmtdev_listed vqos; then
	tap_fail "${descs[5]}" "vdpa mgmtdev show printed:" "$(vdpa mgmtdev show 2>&1)"
else
	tap_ok "${descs[5]}"
fi

tap_done
