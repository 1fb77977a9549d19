#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A VMM that frees guest memory under I/O (issue #8): the harness's race
# mode (selftests/hostile/race.c) munmaps a region with 64 reads into it
# in flight, then invalidates its IOTLB entry. vhost-vdpa unpins the pages
# before it calls our dma_unmap; vqos holds its own page references for
# the I/O, and completes every request to the used ring before the unmap
# returns. Any KASAN report, any request never completed, fails.
# VQOS_RACE_SECONDS (default 20) bounds the run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
secs=${VQOS_RACE_SECONDS:-20}

tap_plan 5
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; tap_done; exit $?; }
[ -x "$bin" ] || { tap_skip_rest "selftests/hostile/vqos-hostile not built (make selftests-progs)"; tap_done; exit $?; }
modprobe vhost_vdpa 2>/dev/null
[ -d /sys/bus/vdpa/drivers/vhost_vdpa ] ||
	{ tap_skip_rest "no vhost_vdpa driver in this kernel"; tap_done; exit $?; }

work=$(mktemp -d)
truncate -s 32M "$work/disk.img"
tap_check "load vqos" vqos_insmod "$ko"
dev=
if vqos_dev_add hr0 backing="$work/disk.img" && vqos_dev_bind hr0 vhost_vdpa; then
	dev=$(vqos_dev_vhost hr0)
fi
if [ -n "$dev" ]; then
	tap_ok "device bound to vhost_vdpa as $dev"
else
	tap_fail "device bound to vhost_vdpa"
fi

mark=$(vqos_dmesg_mark "hostile race")
out=$(timeout -k 10 $((secs + 120)) "$bin" race --dev "$dev" --name hr0 --seconds "$secs" 2>&1)
rc=$?
grep -v '^\(1\.\.\|ok \|not ok \)' <<<"$out"
rounds=$(sed -n 's/^# \([0-9]*\) rounds, \([0-9]*\) with requests never completed$/\1 \2/p' <<<"$out")
if [ "$rc" = 0 ] && [ -n "$rounds" ] && [ "${rounds% *}" -gt 0 ]; then
	tap_ok "race: ${rounds% *} rounds of munmap + IOTLB invalidate under 64 reads"
else
	tap_fail "race: munmap + IOTLB invalidate under reads (harness status $rc)"
fi
tap_check "every request completed to the used ring" test "${rounds#* }" = 0
if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan 2>&1); then
	tap_ok "no KASAN, warning or lockdep report"
else
	tap_fail "no KASAN, warning or lockdep report" "$out"
fi
vqos_dev_del hr0
vqos_unload_all
rm -rf "$work"
tap_done
