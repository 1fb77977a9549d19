#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# No request type escapes the rate limiters (issue 13, item 10). On a
# virtio-blk disk served by vqos, a guest loop of discards (BLKDISCARD),
# write-zeroes (BLKZEROOUT), flushes (fsync) and get-id requests (a read of
# /sys/block/vdX/serial), each type alone and mixed, one request at a time,
# runs against iops_limit, iops_write_limit, bps_limit, bps_write_limit and
# a group's iops_limit. Each case asserts an exact ceiling, not a
# tolerance: N requests in T seconds at rate R with a bucket B deep, one in
# flight, satisfy N <= R*T + B + 1 (bytes likewise). Under TCG a rate may
# fall short of its limit; it can never exceed that. Each case also checks
# that the device served at least N requests (stats/requests), so that a
# guest which sent nothing cannot pass.
#
# The ABI this asserts (issue 13): every request costs at least one
# operation; write-zeroes counts its bytes against the write and total
# byte limits; flush is one write operation; get-id one read operation;
# discard at least one operation (its byte cost is the ABI's to define and
# is not asserted here).
#
# selftests/vqos_ctl.pl serves every case, one coprocess ("ops"): an exec
# costs about a second in the test VM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

descs=(
	"without a limit every request type runs well above the limits used below"
	"iops_limit 10: discard"
	"iops_limit 10: write-zeroes"
	"iops_limit 10: flush"
	"iops_limit 10: get-id"
	"iops_limit 10: discard, write-zeroes, flush and get-id mixed"
	"iops_write_limit 10: write-zeroes and flush mixed"
	"bps_limit 1 MiB/s: 256 KiB write-zeroes"
	"bps_write_limit 1 MiB/s: 256 KiB write-zeroes"
	"group iops_limit 10: discard, write-zeroes, flush and get-id mixed"
)
tap_plan ${#descs[@]}
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built" "${descs[@]}"; exit 0; }
command -v perl >/dev/null || { tap_skip_rest "perl not installed" "${descs[@]}"; exit 0; }
vqos_insmod "$ko" || { tap_skip_rest "cannot load vqos" "${descs[@]}"; exit 0; }
work=$(mktemp -d)
truncate -s 64M "$work/ops.img"
vqos_ctl_start "$work/ctl.err"
# As vqos_dev_add and vqos_dev_disk, without their execs.
echo 0 > /sys/bus/vdpa/drivers_autoprobe
if ! { vqos_ctl add op0 && echo "$work/ops.img" > "$(vqos_sys op0)/vqos/backing" &&
       vqos_dev_bind op0 && vqos_ctl disk op0 10; }; then
	for d in "${descs[@]}"; do tap_fail "$d" "cannot create a vqos device: $reply"; done
	vqos_ctl del op0
	vqos_unload vqos
	exit 0
fi
disk=$reply
qos=$(vqos_sys op0)/qos
grp=/sys/devices/vqos/groups
tap_diag "setup took $SECONDS s"

# run_ops OPS COUNT LEN: sets ok, err, us (duration), reqs (requests the
# device completed meanwhile) and msg (the first error).
run_ops() {
	local r0 r1
	read -r r0 < "$(vqos_sys op0)/stats/requests"
	if vqos_ctl ops "$disk" "$1" "$2" "${3:-0}"; then
		read -r ok err us msg <<< "$reply"
	else
		ok=0 err=$2 us=1 msg=$reply
	fi
	read -r r1 < "$(vqos_sys op0)/stats/requests"
	reqs=$((r1 - r0))
}

# depth RATE: the default bucket depth, 100 ms of the rate, at least 1
# (rounded up: the ceiling must not be too tight).
depth() {
	local d=$((($1 + 9) / 10))
	echo $((d < 1 ? 1 : d))
}

# check_ceiling DESC OPS COUNT LEN RATE UNIT: run, then assert that
# COUNT (UNIT ops) or COUNT * LEN bytes (UNIT bytes) took long enough for
# RATE, with one request in flight and a full bucket at the start.
check_ceiling() {
	local desc=$1 ops=$2 count=$3 len=$4 rate=$5 unit=$6 done_units b ceil
	run_ops "$ops" "$count" "$len"
	b=$(depth "$rate")
	if [ "$unit" = bytes ]; then
		done_units=$((ok * len))
		# rate * T + depth + one request, in units * 1e6 (us).
		ceil=$((rate * us + (b + len) * 1000000))
	else
		done_units=$ok
		ceil=$((rate * us + (b + 1) * 1000000))
	fi
	local info="$ok ${ops//,/+} in $((us / 1000)) ms ($((ok * 1000000 / us))/s), $reqs requests served, limit $rate $unit/s"
	if [ "$err" != 0 ]; then
		tap_fail "$desc" "$info" "$err request(s) failed: $msg"
	elif [ "$reqs" -lt "$ok" ]; then
		tap_fail "$desc" "$info" "the device served fewer requests than the guest completed"
	elif [ $((done_units * 1000000)) -gt "$ceil" ]; then
		tap_fail "$desc ($info)" \
			"$done_units $unit in $us us exceed the ceiling rate * T + depth ($b) + one in flight"
	else
		tap_ok "$desc ($info)"
	fi
}

# Precondition: unlimited, each type must run far above 10/s, else the
# cases below could not see an escape (the issue measured 224/s for
# write-zeroes on 4635b3b).
slow=
for op in discard zeroout flush getid; do
	run_ops $op 20 65536
	if [ "$err" != 0 ] || [ $((20 * 1000000 / us)) -lt 30 ] || [ "$reqs" -lt 20 ]; then
		slow="$slow $op: $ok ok, $err failed ($msg), $((us / 1000)) ms, $reqs requests;"
	fi
done
if [ -z "$slow" ]; then
	tap_ok "${descs[0]}"
else
	tap_fail "${descs[0]}" "$slow"
fi

echo 10 > "$qos/iops_limit"
check_ceiling "${descs[1]}" discard 20 65536 10 ops
check_ceiling "${descs[2]}" zeroout 20 65536 10 ops
check_ceiling "${descs[3]}" flush 20 0 10 ops
check_ceiling "${descs[4]}" getid 20 0 10 ops
check_ceiling "${descs[5]}" discard,zeroout,flush,getid 20 65536 10 ops
echo 0 > "$qos/iops_limit"

echo 10 > "$qos/iops_write_limit"
check_ceiling "${descs[6]}" zeroout,flush 20 65536 10 ops
echo 0 > "$qos/iops_write_limit"

mib=$((1 << 20))
echo $mib > "$qos/bps_limit"
check_ceiling "${descs[7]}" zeroout 10 262144 $mib bytes
echo 0 > "$qos/bps_limit"

echo $mib > "$qos/bps_write_limit"
check_ceiling "${descs[8]}" zeroout 10 262144 $mib bytes
echo 0 > "$qos/bps_write_limit"

echo opsg > /sys/devices/vqos/group_add
echo 10 > "$grp/opsg/iops_limit"
echo opsg > "$qos/group"
check_ceiling "${descs[9]}" discard,zeroout,flush,getid 20 65536 10 ops
echo "" > "$qos/group"
echo opsg > /sys/devices/vqos/group_del

vqos_ctl del op0
eval "exec ${VQOS_CTL[1]}>&-"
rm -rf "$work"
vqos_unload vqos
tap_done
