#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vqos rate limiters through sysfs: bad writes (garbage, overflow, a total
# limit with a per-direction one) are refused and change nothing; a device
# throttled by IOPS, bytes/s, write bytes/s, or read and write IOPS apart,
# and a group of two devices, never pass more than their token buckets
# allow; a live raise applies; a request larger than the bucket is
# admitted against debt; throttling is counted in throttle_stats.
#
# The ceiling is exact. A bucket set from unlimited starts full (its
# depth D, burst or 100 ms of the rate) and refills at the rate r; a
# request of cost c is admitted once the bucket holds min(c, D), and may
# leave it in debt. So over any interval of length T the device admits at
# most
#
#     D + r * T + max(0, c - D)
#
# units (requests, or bytes), whatever the guest does: the cases assert
# that, with the counts from the device's own stats (what the limiter let
# through, not what fio or the guest's block layer saw) and T from fio's
# runtime (--clocksource=clock_gettime: CLOCK_MONOTONIC, the limiter's
# clock; fio's runtime spans its first submission to its last completion,
# the drain included), plus the 1 ms fio rounds away. Nothing is in flight
# when a window opens: each job runs on a device that was idle before it.
#
# The floor is not exact: under TCG on a debug kernel the VM itself can
# fall short of a rate, never exceed it. Each case also asserts at least
# QOS_FLOOR percent (default 85) of r * T, far above what a limiter holding
# requests it should pass would reach, and far below what the VM reaches
# at these rates (run-all's log shows the ratios).
#
# One fio runs every rate case (a fio start costs seconds in the VM), side
# by side on their own devices: IOPS, bytes/s, write bytes/s, read/write
# split, group, and one after the other on a seventh device, unlimited,
# limited, then raised live. Each job sets its limits in exec_prerun and
# clears them in exec_postrun, and snapshots the device's counters in
# both. The rates are low (under 200 requests/s in all) so that the VM
# keeps up with all of them at once.
# vqos-selftest-timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

SECS=${VQOS_QOS_SECS:-8}
FLOOR=${VQOS_QOS_FLOOR:-85}

tap_plan 24
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; exit 0; }
command -v fio >/dev/null || { tap_skip_rest "fio not installed"; exit 0; }
command -v jq >/dev/null || { tap_skip_rest "jq not installed"; exit 0; }
if ! out=$(vqos_insmod "$ko" 2>&1); then
	# A module that does not load is a failure, not a skip.
	tap_fail "load vqos" "$out"
	tap_skip_rest "vqos did not load"
	vqos_unload_all
	tap_done; exit $?
fi
work=$(mktemp -d)

qos() { echo "$(vqos_sys "$1")/qos/$2"; }
tstat() { sed -n "s/^$2 //p" "$(qos "$1" throttle_stats)"; }

refused() {	# refused DEV KNOB VALUE: the write fails, value unchanged
	local before
	before=$(cat "$(qos "$1" "$2")")
	if echo "$3" > "$(qos "$1" "$2")" 2>/dev/null; then
		echo "'$3' > $2 was accepted"; return 1
	fi
	[ "$(cat "$(qos "$1" "$2")")" = "$before" ]
}

devs="q0 q1 q2 q3 q4 q5 q6"
ok=1
for d in $devs; do
	truncate -s 64M "$work/$d.img"
	vqos_dev_add "$d" backing="$work/$d.img" || ok=0
done
for d in $devs; do
	vqos_dev_bind "$d" || ok=0
	eval "disk_$d=\$(vqos_dev_disk $d)" || ok=0
done
if [ $ok = 1 ]; then
	tap_ok "seven devices bound to virtio_vdpa (in $SECONDS s)"
else
	tap_fail "seven devices bound to virtio_vdpa" "$(dmesg | tail -n 20)"
fi

tap_check "limits refuse garbage, negatives and overflow" \
	eval 'refused q0 iops_limit abc && refused q0 iops_limit -5 &&
	      refused q0 iops_limit $((1 << 41)) &&
	      refused q0 bps_limit 99999999999999999999999'
tap_check "a burst without a limit is refused" refused q0 iops_burst 100
echo 1000 > "$(qos q0 iops_limit)"
tap_check "burst_rate below the limit is refused, limit kept" \
	eval 'refused q0 iops_burst_rate 10 &&
	      test "$(cat $(qos q0 iops_limit))" = 1000'
tap_check "a total and a per-direction limit together are refused" \
	eval 'refused q0 iops_read_limit 10 &&
	      echo 0 > $(qos q0 iops_limit) &&
	      echo 4096 > $(qos q0 bps_write_limit) &&
	      refused q0 bps_limit 8192 &&
	      echo 0 > $(qos q0 bps_write_limit)'
echo 0 > "$(qos q0 iops_limit)"

# --- the rates, in one fio ----------------------------------------------------
# A group of q4 and q5, limited in its job's prerun.
echo vm1 > /sys/devices/vqos/group_add
echo vm1 > "$(qos q4 group)"; echo vm1 > "$(qos q5 group)"
G=/sys/devices/vqos/groups/vm1

# hook NAME LINE...: a script for exec_prerun/exec_postrun, run by fio
# through system() with its output redirected to NAME.{pre,post}run.txt,
# which must stay empty: a failed sysfs write would void the case. Shell
# builtins only (read, echo): fio waits for every job's prerun before it
# starts the jobs of a group, and an exec costs about a second here.
hook() {
	local f=$work/$1.sh
	shift
	printf '%s\n' "$@" > "$f"
	echo "sh -e $f"
}
# snap FILE DEV...: hook lines appending "DEV KEY VALUE" lines for the
# devices' stats and throttle_stats to FILE.
snap() {
	local f=$1 d
	shift
	for d in "$@"; do
		echo "for s in read_ops write_ops read_bytes write_bytes; do read v < $(vqos_sys "$d")/stats/\$s; echo \"$d \$s \$v\"; done >> $f"
		echo "while read k v; do echo \"$d \$k \$v\"; done < $(qos "$d" throttle_stats) >> $f"
	done
}

# The cases: "NAME DEVS RW BS SECONDS LIMIT..." with DEVS comma-separated
# (one job over all, round robin), RW "randrw:MIX" for a read share,
# LIMIT "KNOB=VALUE" on the first device, "G:KNOB=VALUE" on the group, or
# "keep" (the job's limits stay when it ends), "after=JOB" (the job
# starts when JOB has ended, fio's wait_for) or "--OPTION=VALUE" (one of
# fio's, for this job). Each job sets its limits in
# its prerun and clears them in its postrun (unless "keep").
# The unlimited job is paced by fio (rate_iops): at full speed it would
# starve the limited jobs of the VM's CPU in their first second.
IOPS=50 BPS=$((512 * 1024)) WBPS=$((256 * 1024)) RIOPS=30 WIOPS=20
GIOPS=40 R1=25 R2=50 HALF=$((SECS / 2))
jobs=(
	"iops q0 randread 4k $SECS iops_limit=$IOPS"
	"bps q1 randread 16k $SECS bps_limit=$BPS"
	"wbps q2 randwrite 16k $SECS bps_write_limit=$WBPS"
	"split q3 randrw:60 4k $SECS iops_read_limit=$RIOPS iops_write_limit=$WIOPS"
	"group q4,q5 randread 4k $SECS G:iops_limit=$GIOPS"
	"free q6 randread 4k 1 --rate_iops=20"
	"raise q6 randread 4k $HALF after=free keep iops_limit=$R1"
	"raised q6 randread 4k $HALF after=raise iops_limit=$R2"
)
args=(--ioengine=libaio --direct=1 --iodepth=8 --clocksource=clock_gettime
      --randrepeat=0 --norandommap --time_based --output-format=json
      --output="$work/fio.json")
for j in "${jobs[@]}"; do
	read -r name ds rw bs secs lims <<<"$j"
	files= pre=() post=() opts=() keep=0
	for d in ${ds//,/ }; do
		files="$files${files:+:}$(eval echo "\$disk_$d")"
	done
	case $rw in *:*) opts+=(--rwmixread="${rw#*:}"); rw=${rw%:*} ;; esac
	for kv in $lims; do
		case $kv in
		keep) keep=1; continue ;;
		after=*) opts+=(--wait_for="${kv#after=}"); continue ;;
		--*) opts+=("$kv"); continue ;;
		G:*) f=$G/${kv#G:}; f=${f%%=*} ;;
		*) f=$(qos "${ds%%,*}" "${kv%%=*}") ;;
		esac
		pre+=("echo ${kv#*=} > $f")
		post+=("echo 0 > $f")
	done
	[ $keep = 1 ] && post=()
	# Stats before the limit is set and after the job's last completion.
	pre=("$(snap "$work/$name.pre" ${ds//,/ })" "${pre[@]}")
	post=("$(snap "$work/$name.post" ${ds//,/ })" "${post[@]}")
	args+=(--name="$name" --filename="$files" --rw="$rw" --bs="$bs"
	       --runtime="$secs" "${opts[@]}"
	       --exec_prerun="$(hook "$name-pre" "${pre[@]}")"
	       --exec_postrun="$(hook "$name-post" "${post[@]}")")
done

t0=$SECONDS
( cd "$work" && fio "${args[@]}" ) > "$work/fio.out" 2>&1
frc=$?
hooks_out=$(cat "$work"/*.prerun.txt "$work"/*.postrun.txt 2>/dev/null)
if [ $frc = 0 ] && [ -z "$hooks_out" ] && [ -s "$work/fio.json" ]; then
	tap_ok "one fio ran the rate cases in $((SECONDS - t0)) s, every limit set and cleared"
else
	tap_fail "one fio ran the rate cases, every limit set and cleared" \
		"fio exit $frc" "$(tail -n 20 "$work/fio.out")" "$hooks_out"
fi

# sv FILE DEV KEY: a value from a snap file.
sv() {
	local d k v
	while read -r d k v; do
		[ "$d" = "$2" ] && [ "$k" = "$3" ] && { echo "$v"; return; }
	done < "$1"
}
# delta JOB KEY DEV...: the change of stat KEY over JOB, summed over DEVs.
delta() {
	local j=$1 k=$2 d sum=0 a b
	shift 2
	for d in "$@"; do
		a=$(sv "$work/$j.pre" "$d" "$k") b=$(sv "$work/$j.post" "$d" "$k")
		sum=$((sum + ${b:-0} - ${a:-0}))
	done
	echo "$sum"
}
# runtime JOB: fio's runtime of JOB in ms (one jq for all jobs).
declare -A rt=()
while read -r j v; do
	rt[$j]=$v
done < <(jq -r '.jobs[] | "\(.jobname) \(.job_runtime)"' "$work/fio.json" 2>/dev/null)
runtime() { echo "${rt[$1]:-}"; }

# bound DESC N RATE DEPTH COST MS [FLOOR]: N <= DEPTH + RATE * (MS + 1) /
# 1000 + max(0, COST - DEPTH) and N >= FLOOR % of RATE * MS / 1000, in
# integers (rounded down: the ceiling is never raised by rounding).
bound() {
	local desc=$1 n=$2 r=$3 dep=$4 c=$5 ms=$6 fl=${7:-$FLOOR} over ceil low res
	if ! [[ $n =~ ^[0-9]+$ && $ms =~ ^[0-9]+$ ]] || [ "$ms" = 0 ]; then
		tap_fail "$desc" "no count ('$n') or runtime ('$ms ms') for it"
		return
	fi
	over=$((c > dep ? c - dep : 0))
	ceil=$(( (dep * 1000 + r * (ms + 1)) / 1000 + over ))
	low=$(( fl * r * ms / 100000 ))
	res="$n in $ms ms, ceiling $ceil, floor $low ($((n * 1000000 / (ms * r))) per mille of the rate)"
	if [ "$n" -le "$ceil" ] && [ "$n" -ge "$low" ]; then
		tap_ok "$desc: $res"
	else
		tap_fail "$desc: $res"
	fi
}
# depth RATE: the default bucket depth, max(RATE / 10, 1).
depth() { local d=$(($1 / 10)); echo $((d > 0 ? d : 1)); }

n=$(delta free read_ops q6)
tap_check "no limit: $n reads in 1 s, none throttled" \
	test "$n" -gt 0 -a "$(delta free throttled_reqs q6)" = 0

bound "iops_limit $IOPS: 4k reads" "$(delta iops read_ops q0)" $IOPS \
	"$(depth $IOPS)" 1 "$(runtime iops)"
tap_check "throttled requests and time over the IOPS limit are counted" \
	test "$(delta iops throttled_reqs q0)" -gt 0 -a "$(delta iops over_iops_us q0)" -gt 0
bound "bps_limit $BPS: bytes of 16k reads" "$(delta bps read_bytes q1)" $BPS \
	"$(depth $BPS)" 16384 "$(runtime bps)"
bound "bps_write_limit $WBPS: bytes of 16k writes" "$(delta wbps write_bytes q2)" \
	$WBPS "$(depth $WBPS)" 16384 "$(runtime wbps)"
tap_check "bps_write_limit leaves reads alone: no read on q2" \
	test "$(delta wbps read_ops q2)" = 0
# Reads and writes in one random 60/40 stream share fio's 8 slots: while
# they all hold reads waiting for the read bucket, no write is submitted,
# and the other way round (the device no longer holds one direction
# behind the other, the guest's queue depth does). Each direction then
# falls short of its rate by a random amount (78 % and 87 % in a run),
# hence a floor of SPLIT_FLOOR % (default 65) here; the ceilings are exact
# as everywhere.
SPLIT_FLOOR=${VQOS_QOS_SPLIT_FLOOR:-65}
bound "iops_read_limit $RIOPS beside iops_write_limit $WIOPS: reads" \
	"$(delta split read_ops q3)" $RIOPS "$(depth $RIOPS)" 1 "$(runtime split)" \
	"$SPLIT_FLOOR"
bound "iops_write_limit $WIOPS beside iops_read_limit $RIOPS: writes" \
	"$(delta split write_ops q3)" $WIOPS "$(depth $WIOPS)" 1 "$(runtime split)" \
	"$SPLIT_FLOOR"
bound "group iops_limit $GIOPS: both devices' reads together" \
	"$(delta group read_ops q4 q5)" $GIOPS "$(depth $GIOPS)" 1 "$(runtime group)"
g4=$(delta group read_ops q4) g5=$(delta group read_ops q5)
tap_check "both group members were served ($g4 and $g5 reads)" \
	test "$g4" -gt 0 -a "$g5" -gt 0
tap_check "group waits are counted as group time" \
	test "$(delta group over_group_iops_us q4)" -gt 0
# The group's own file: the sum of what its buckets held, over members.
gstat() { sed -n "s/^$1 //p" $G/throttle_stats; }
# Members first: time only grows, so the group's sum read after is >=.
m_us=$(( $(tstat q4 over_group_iops_us) + $(tstat q5 over_group_iops_us) ))
g_us=$(gstat over_iops_us) g_reqs=$(gstat throttled_reqs)
tap_check "the group's throttle_stats: $g_reqs requests, $g_us us held (members: $m_us us)" \
	test "$g_reqs" -gt 0 -a "$g_us" -gt 0 -a "$g_us" -ge "$m_us" \
		-a "$(gstat held)" -le 2

# The live raise: q6 at R1, then raised to R2 on the running device (no
# reset, the bucket keeps its level) for the next job. The first job's
# ceiling is R1's; the second's is R2's with R2's depth (the bucket,
# capped to the new depth, may refill to it before the job starts), and
# its floor is above what R1 could pass in the same time, which the awk
# checks too: it holds only if the raise applied.
bound "iops_limit $R1 on q6, before the raise" "$(delta raise read_ops q6)" \
	$R1 "$(depth $R1)" 1 "$(runtime raise)"
n=$(delta raised read_ops q6) ms=$(runtime raised)
if [[ $ms =~ ^[0-9]+$ ]] &&
   [ $((FLOOR * R2 * ms / 100000)) -gt $(( ($(depth $R1) * 1000 + R1 * (ms + 1)) / 1000 )) ]; then
	bound "iops_limit raised live from $R1 to $R2 on q6" "$n" $R2 "$(depth $R2)" 1 "$ms"
else
	tap_fail "iops_limit raised live from $R1 to $R2 on q6" \
		"$ms ms is too short for the floor to tell $R2 from $R1"
fi

tap_check "a group with members cannot be deleted" \
	eval '! echo vm1 > /sys/devices/vqos/group_del 2>/dev/null'
echo "" > "$(qos q4 group)"; echo "" > "$(qos q5 group)"
tap_check "an empty group can be deleted" \
	eval 'echo vm1 > /sys/devices/vqos/group_del &&
	      test ! -e /sys/devices/vqos/groups/vm1'

# 128 KiB/s: the bucket is 13107 bytes deep. The first 256 KiB read is
# admitted on the full bucket and leaves it 249037 bytes in debt; the
# second waits until it holds 13107 again: exactly 262144 / 131072 = 2 s.
echo 131072 > "$(qos q0 bps_limit)"
start=$(date +%s%N)
dd if="$disk_q0" of=/dev/null bs=256k count=2 iflag=direct status=none
ms=$(( ($(date +%s%N) - start) / 1000000 ))
tap_check "requests larger than the bucket pass, paced (${ms} ms, >= 2000)" \
	test "$ms" -ge 2000 -a "$ms" -le 30000
echo 0 > "$(qos q0 bps_limit)"

for d in $devs; do
	vqos_dev_del "$d"
done
rm -rf "$work"
tap_check "unload vqos" vqos_unload vqos
tap_done
