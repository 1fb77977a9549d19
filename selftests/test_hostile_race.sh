#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A VMM that frees guest memory under the device (issues #8 and #13 #2):
# the harness's race mode (selftests/hostile/race.c) munmaps a region the
# device is using, then invalidates its IOTLB entry: vhost-vdpa unpins
# (frees) the pages before it calls our dma_unmap. Rounds cycle through
# what the region holds: the data of reads served in place, the data of
# reads bounced through host pages, the status bytes, and the queue's
# rings with headers, GET_ID buffers and status bytes while the worker
# serves 65535 requests. vqos must keep every page it can touch until it
# has stopped touching it: any KASAN report, any request never completed,
# fails. VQOS_RACE_SECONDS (default 20) bounds the run; VQOS_TEST_KO=PATH
# tests that vqos.ko instead of the checkout's.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
secs=${VQOS_RACE_SECONDS:-20}

tap_plan 7
if [ -n "${VQOS_TEST_KO:-}" ]; then
	ko=$VQOS_TEST_KO
	echo "# testing $ko (VQOS_TEST_KO), not this checkout's module"
else
	ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; tap_done; exit $?; }
fi
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
n=0
while IFS= read -r line; do
	case "$line" in
	"ok "*) n=$((n + 1)); desc=${line#ok }; tap_ok "${desc#* }" ;;
	"not ok "*) n=$((n + 1)); desc=${line#not ok }; tap_fail "${desc#* }" ;;
	"1.."*|"") ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done < <(timeout -k 10 $((secs + 120)) "$bin" race --dev "$dev" --name hr0 --seconds "$secs" 2>&1)
while [ "$n" -lt 4 ]; do
	n=$((n + 1))
	tap_fail "race: variant $n not reported: the harness stopped"
done
if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan 2>&1); then
	tap_ok "no KASAN, warning or lockdep report"
else
	tap_fail "no KASAN, warning or lockdep report" "$out"
fi
vqos_dev_del hr0
vqos_unload_all
rm -rf "$work"
tap_done
