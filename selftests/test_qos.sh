#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vqos rate limiters through sysfs: bad writes (garbage, overflow, a total
# limit with a per-direction one) are refused and change nothing; a device
# throttled by IOPS, bytes/s or write bytes/s achieves its limit within
# 10 % over 10 s; a live change applies; a group caps the sum of its
# members; a request larger than the bucket is admitted against debt;
# throttling is visible in throttle_stats. The tolerance is loose because
# this runs under TCG on a debug kernel; make bench measures precision.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

tap_plan 17
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
truncate -s 64M "$work/q0.img" "$work/q1.img"

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

# fio_run DISK SECONDS RW BS: "IOS BYTES MS" of a time-based run (reads or
# writes, whichever RW does), from fio's JSON.
fio_run() {
	local dir=read
	case $3 in *write) dir=write ;; esac
	fio --name=q --filename="$1" --ioengine=libaio --direct=1 --rw="$3" \
	    --bs="$4" --iodepth=8 --time_based --runtime="$2" \
	    --output-format=json 2>/dev/null |
		jq -r ".jobs[0].$dir | \"\(.total_ios) \(.io_bytes) \(.runtime)\""
}

# fio_ios DISK SECONDS: 4k random reads completed.
fio_ios() {
	fio_run "$1" "$2" randread 4k | cut -d' ' -f1
}

# within RUN FIELD LIMIT PCT: the run's ios (FIELD 1) or bytes (2) per
# second are within PCT % of LIMIT.
within() {
	echo "$1" | awk -v f="$2" -v lim="$3" -v pct="$4" '{
		rate = $f * 1000 / $3
		printf "achieved %.1f/s, limit %d/s (%.3f)\n", rate, lim, rate / lim
		exit !(rate >= lim * (1 - pct / 100) && rate <= lim * (1 + pct / 100))
	}'
}

vqos_dev_add q0 backing="$work/q0.img"
vqos_dev_add q1 backing="$work/q1.img"
vqos_dev_bind q0; vqos_dev_bind q1
d0=$(vqos_dev_disk q0); d1=$(vqos_dev_disk q1)

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

# Unlimited: nothing is throttled.
fio_ios "$d0" 2 >/dev/null
tap_check "no limit, no throttling" test "$(tstat q0 throttled_reqs)" = 0

# Achieved rates within +-10 % of the limit over 10 s (loose: the precise
# figures come from make bench, under icount).
rate=100
echo $rate > "$(qos q0 iops_limit)"
run=$(fio_run "$d0" 10 randread 4k)
tap_check "iops_limit $rate: 4k reads within 10% ($run)" \
	within "$run" 1 $rate 10
tap_check "throttled requests are counted" \
	test "$(tstat q0 throttled_reqs)" -gt 0
tap_check "time over the IOPS limit is counted" \
	test "$(tstat q0 over_iops_us)" -gt 0

# A live change takes effect without a reset.
echo $((rate * 2)) > "$(qos q0 iops_limit)"
ios=$(fio_ios "$d0" 4)
tap_check "raised live to $((rate * 2)): $ios reads in 4s, more than before" \
	test "$ios" -gt $(( rate * 4 * 11 / 10 ))
echo 0 > "$(qos q0 iops_limit)"

bps=$((1024 * 1024))
echo $bps > "$(qos q0 bps_limit)"
run=$(fio_run "$d0" 10 randread 16k)
tap_check "bps_limit $bps: 16k reads within 10% ($run)" \
	within "$run" 2 $bps 10
echo 0 > "$(qos q0 bps_limit)"

bps=$((512 * 1024))
echo $bps > "$(qos q0 bps_write_limit)"
run=$(fio_run "$d0" 10 randwrite 16k)
tap_check "bps_write_limit $bps: 16k writes within 10% ($run)" \
	within "$run" 2 $bps 10
echo 0 > "$(qos q0 bps_write_limit)"

# A group caps both devices together.
echo vm1 > /sys/devices/vqos/group_add
# Far below what the check VM can do (under 200 IOPS in all), so that the
# limit, not the CPU, is what the two devices meet.
echo 60 > /sys/devices/vqos/groups/vm1/iops_limit
echo vm1 > "$(qos q0 group)"; echo vm1 > "$(qos q1 group)"
# One fio, two jobs: both start and stop together. "IOS BYTES MS" summed
# over the two, with the longer runtime.
run=$(fio --ioengine=libaio --direct=1 --rw=randread --bs=4k --iodepth=8 \
	  --time_based --runtime=10 --output-format=json \
	  --name=g0 --filename="$d0" --name=g1 --filename="$d1" 2>/dev/null |
	jq -r '[.jobs[].read] | "\(map(.total_ios) | add) \(map(.io_bytes) | add) \(map(.runtime) | max)"')
tap_check "group limit 60: both devices together within 10% ($run)" \
	within "$run" 1 60 10
tap_check "group waits are counted as group time" \
	test "$(tstat q0 over_group_iops_us)" -gt 0
# The group's own file: the sum of what its buckets held, over members.
gstat() { sed -n "s/^$1 //p" /sys/devices/vqos/groups/vm1/throttle_stats; }
# Members first: time only grows, so the group's sum read after is >=.
m_us=$(( $(tstat q0 over_group_iops_us) + $(tstat q1 over_group_iops_us) ))
g_us=$(gstat over_iops_us) g_reqs=$(gstat throttled_reqs)
tap_check "the group's throttle_stats: $g_reqs requests, $g_us us held (members: $m_us us)" \
	test "$g_reqs" -gt 0 -a "$g_us" -gt 0 -a "$g_us" -ge "$m_us" \
		-a "$(gstat held)" -le 2
tap_check "a group with members cannot be deleted" \
	eval '! echo vm1 > /sys/devices/vqos/group_del 2>/dev/null'
echo "" > "$(qos q0 group)"; echo "" > "$(qos q1 group)"
tap_check "an empty group can be deleted" \
	eval 'echo vm1 > /sys/devices/vqos/group_del &&
	      test ! -e /sys/devices/vqos/groups/vm1'

# 64 KiB/s: the bucket is 6553 bytes deep; 256 KiB reads go into debt.
echo 65536 > "$(qos q0 bps_limit)"
start=$(date +%s%N)
dd if="$d0" of=/dev/null bs=256k count=2 iflag=direct status=none
ms=$(( ($(date +%s%N) - start) / 1000000 ))
tap_check "requests larger than the bucket pass, paced (${ms} ms, >= 3500)" \
	test "$ms" -ge 3500 -a "$ms" -le 30000
echo 0 > "$(qos q0 bps_limit)"

vqos_dev_del q0; vqos_dev_del q1
rm -rf "$work"
vqos_unload vqos
tap_done
