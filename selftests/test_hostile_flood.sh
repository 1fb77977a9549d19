#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unbounded work per kick (issue #13 #7): the harness's flood mode
# (selftests/hostile/flood.c) fills all 16 queues of one device, 16
# requests per queue and round, while a neighbour device does verified
# I/O, both workers pinned on CPU 0 (vqos/cpus), as an operator sharing
# cores would. First half: chains that make 6.1's vringh read 262140
# descriptors apiece (top-level INDIRECT descriptors it neither counts nor
# refuses): the device must refuse them, none served. Second half: chains
# as long as a device may accept (1024 descriptors): walked and served,
# and the worker must still yield. In both, the neighbour's p99 latency
# must stay within VQOS_FLOOD_LATENCY_MS (default 250) of its p99 alone;
# the kernel must log no soft lockup, RCU stall or other splat, and the
# reset after the flood must be prompt.
#
# VQOS_FLOOD_SECONDS (default 10) is the flood's length (3 s of neighbour
# alone come first); VQOS_FLOOD_PER_QUEUE (default 16, a full batch)
# requests are published per queue and round; VQOS_TEST_KO=PATH tests
# that vqos.ko instead of the checkout's.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
secs=${VQOS_FLOOD_SECONDS:-10}
lat=${VQOS_FLOOD_LATENCY_MS:-250}
per_queue=${VQOS_FLOOD_PER_QUEUE:-16}

tap_plan 10
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
truncate -s 32M "$work/flood.img"
truncate -s 32M "$work/nb.img"
tap_check "load vqos" vqos_insmod "$ko"
if vqos_dev_add hf-flood backing="$work/flood.img" num_queues=16 cpus=0 &&
   vqos_dev_add hf-nb backing="$work/nb.img" cpus=0 &&
   vqos_dev_bind hf-flood vhost_vdpa && vqos_dev_bind hf-nb vhost_vdpa &&
   d_flood=$(vqos_dev_vhost hf-flood) && d_nb=$(vqos_dev_vhost hf-nb); then
	tap_ok "16-queue device and neighbour bound, workers on CPU $(cat "$(vqos_sys hf-flood)/vqos/cpus") and $(cat "$(vqos_sys hf-nb)/vqos/cpus")"
else
	tap_fail "16-queue device and neighbour bound to vhost_vdpa"
fi

mark=$(vqos_dmesg_mark "hostile flood")
n=0
wedged=0
t0=$SECONDS
while IFS= read -r line; do
	case "$line" in
	"ok "*) n=$((n + 1)); desc=${line#ok }; tap_ok "${desc#* }" ;;
	"not ok "*) n=$((n + 1)); desc=${line#not ok }; tap_fail "${desc#* }" ;;
	"# wedged: "*) wedged=1; echo "$line" ;;
	"1.."*|"") ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done < <(timeout -k 10 $((secs + 300)) "$bin" flood --dev "$d_flood" --name hf-flood \
	--neighbour-dev "$d_nb" --neighbour-name hf-nb --neighbour-backing "$work/nb.img" \
	--seconds "$secs" --per-queue "$per_queue" --max-latency-ms "$lat" 2>&1)
echo "# flood run took $((SECONDS - t0)) s"
while [ "$n" -lt 5 ]; do
	n=$((n + 1))
	tap_fail "flood: case $n not reported: the harness stopped"
done
if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan 2>&1); then
	tap_ok "no soft lockup, RCU stall, KASAN, warning or lockdep report"
else
	tap_fail "no soft lockup, RCU stall, KASAN, warning or lockdep report" "$out"
fi
if [ "$wedged" = 1 ]; then
	tap_fail "devices deleted" "the flood device is wedged: not deleting it nor unloading vqos"
	tap_fail "unload vqos" "left loaded: a device is wedged"
else
	if timeout 120 vdpa dev del hf-flood && timeout 60 vdpa dev del hf-nb; then
		tap_ok "devices deleted"
	else
		tap_fail "devices deleted" "vdpa dev del failed or hung"
	fi
	tap_check "unload vqos" vqos_unload_all
fi
rm -rf "$work"
tap_done
