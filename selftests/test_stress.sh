#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress (issue #8): three devices on one block device run mixed-size
# random writes verified with crc32c (fio --verify_backlog) for
# VQOS_STRESS_SECONDS (default 60), while their QoS limits and group
# membership change at random through sysfs, and a fourth device on the
# same block device is created, bound, read, unbound and deleted over and
# over. The three must verify and report no error, every sysfs write and
# every churn cycle must succeed, and the kernel must log nothing.
# `make stress` runs it longer.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

secs=${VQOS_STRESS_SECONDS:-60}
tap_plan 9
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; tap_done; exit $?; }
command -v fio >/dev/null || { tap_skip_rest "fio not installed"; tap_done; exit $?; }

tap_check "load vqos" vqos_insmod "$ko"
work=$(mktemp -d)
truncate -s 64M "$work/shared.img"
loop=$(losetup -f --show "$work/shared.img")
mib=$((1024 * 1024))
devs="st0 st1 st2"
disks=()
ok=1
for i in 0 1 2; do
	if vqos_dev_add st$i backing="$loop" offset=$((i * 16 * mib)) \
			size=$((16 * mib)) num_queues=$((i + 1)) &&
	   vqos_dev_bind st$i && d=$(vqos_dev_disk st$i); then
		disks+=("$d")
	else
		ok=0
	fi
done
echo stg > /sys/devices/vqos/group_add || ok=0
if [ "$ok" = 1 ]; then
	tap_ok "three devices on $loop (${disks[*]}), group stg"
else
	tap_fail "three devices on $loop, group stg"
fi

mark=$(vqos_dmesg_mark "stress")
stop=$work/stop

# Random QoS changes: limits (0 = unlimited) and group membership.
qos_churn() {
	local n=0 bad=0 q f v
	local iops=(0 0 50 200 1000 5000) bps=(0 0 1048576 4194304 67108864)
	while [ ! -e "$stop" ]; do
		q=$(vqos_sys st$((RANDOM % 3)))/qos
		case $((RANDOM % 4)) in
		0) f=$q/iops_limit v=${iops[RANDOM % ${#iops[@]}]} ;;
		1) f=$q/bps_limit v=${bps[RANDOM % ${#bps[@]}]} ;;
		2) f=$q/group v=stg; [ $((RANDOM % 2)) = 0 ] && v= ;;
		3) f=/sys/devices/vqos/groups/stg/iops_limit
		   v=${iops[RANDOM % ${#iops[@]}]} ;;
		esac
		if ! echo "$v" > "$f" 2>>"$work/qos.err"; then
			bad=$((bad + 1))
			echo "$f '$v'" >> "$work/qos.err"
		fi
		n=$((n + 1))
		sleep 0.$((RANDOM % 5))
	done
	echo "$n $bad" > "$work/qos.count"
}

# A fourth device, added and deleted over and over.
dev_churn() {
	local n=0 bad=0 d
	while [ ! -e "$stop" ]; do
		if vqos_dev_add stc backing="$loop" offset=$((48 * mib)) \
				size=$((16 * mib)) &&
		   vqos_dev_bind stc && d=$(vqos_dev_disk stc) &&
		   dd if="$d" of=/dev/null bs=4k count=64 iflag=direct status=none; then
			:
		else
			bad=$((bad + 1))
		fi
		[ -e "$(vqos_sys stc)" ] && { vqos_dev_del stc || bad=$((bad + 1)); }
		n=$((n + 1))
	done
	echo "$n $bad" > "$work/dev.count"
}

qos_churn & qpid=$!
dev_churn 2>>"$work/dev.err" & dpid=$!
jobs=()
for d in "${disks[@]}"; do
	jobs+=(--name="v${d##*/}" --filename="$d")
done
fio --ioengine=libaio --direct=1 --rw=randwrite \
    --bssplit=512/10:4k/40:16k/20:64k/20:256k/10 --iodepth=8 \
    --verify=crc32c --verify_backlog=32 --verify_fatal=1 --randrepeat=0 \
    --time_based --runtime="$secs" --output-format=json \
    "${jobs[@]}" > "$work/fio.json" 2> "$work/fio.err"
frc=$?
touch "$stop"
wait $qpid $dpid

summary=$(jq -r '[.jobs[] | "\(.jobname): \(.write.total_ios) writes, err \(.error)"] | join("; ")' \
	"$work/fio.json" 2>/dev/null)
if [ "$frc" = 0 ] && [ -n "$summary" ] &&
   [ "$(jq '[.jobs[].error] | add' "$work/fio.json")" = 0 ]; then
	tap_ok "fio verified on three devices for ${secs}s ($summary)"
else
	tap_fail "fio verified on three devices for ${secs}s (exit $frc)" \
		"$summary" "$(tail -n 20 "$work/fio.err")"
fi
read -r qn qbad < "$work/qos.count" 2>/dev/null
if [ "${qn:-0}" -gt 0 ] && [ "${qbad:-1}" = 0 ]; then
	tap_ok "$qn random QoS changes through sysfs, all accepted"
else
	tap_fail "random QoS changes through sysfs (${qn:-?} made, ${qbad:-?} refused)" \
		"$(tail -n 10 "$work/qos.err")"
fi
read -r dn dbad < "$work/dev.count" 2>/dev/null
if [ "${dn:-0}" -gt 0 ] && [ "${dbad:-1}" = 0 ]; then
	tap_ok "$dn add/bind/read/delete cycles of a fourth device"
else
	tap_fail "add/bind/read/delete cycles (${dn:-?} made, ${dbad:-?} failed)" \
		"$(tail -n 10 "$work/dev.err")"
fi
errs=0
for n in $devs; do
	errs=$((errs + $(vqos_stat $n errors)))
done
tap_check "the three devices counted no failed request" test "$errs" = 0

ok=1
for n in $devs; do
	echo > "$(vqos_sys $n)/qos/group"
	vqos_dev_del $n || ok=0
done
echo stg > /sys/devices/vqos/group_del || ok=0
if [ "$ok" = 1 ]; then
	tap_ok "devices and group deleted"
else
	tap_fail "devices and group deleted"
fi
if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan 2>&1); then
	tap_ok "no kernel warning, KASAN, lockdep or allocation failure"
else
	tap_fail "no kernel warning, KASAN, lockdep or allocation failure" "$out"
fi
losetup -d "$loop"
rm -rf "$work"
tap_check "unload vqos" vqos_unload_all
tap_done
