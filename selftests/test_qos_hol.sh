#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# No head-of-line blocking across limits (issue #15): a request held by a
# limit must not delay a request that limit does not apply to. One device
# on a null_blk disk (no data, so the VM's CPU is not what limits), a
# reader capped by bps_read_limit and a writer at QD 16 capped by
# iops_write_limit (so a write is held nearly all the time), alone and
# then side by side in one fio (two jobs, one disk): the reader must keep
# at least 95 % of its limit beside the held writer, and neither may exceed
# rate * T + burst + in flight (the exact ceiling). When a held write
# stopped the whole device, the reader got about 60 % of its limit.
# Then a limit both directions share: with iops_limit, reads and writes
# together stay under the ceiling, and both progress.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
. "$VQOS_ROOT/bench/lib.sh"

tap_plan 7
fail_rest() {	# a missing module is a failure, not a skip
	while [ "$_tap_n" -lt "$_tap_plan" ]; do tap_fail "test $((_tap_n + 1))" "$1"; done
	tap_done
	exit 1
}
ko=$(vqos_ko vqos) || fail_rest "kmod/vqos.ko not built"
command -v fio >/dev/null || fail_rest "fio not installed (make deps)"
command -v jq >/dev/null || fail_rest "jq not installed (make deps)"
vqos_insmod "$ko" || fail_rest "cannot load vqos"
bl_nullb_add hol0 size=256 irqmode=0 || fail_rest "cannot create a null_blk disk"

SECS=6
RBPS=$((1 << 20))	# reader: 1 MiB/s of 64 KiB reads (16 reads/s)
WIOPS=20		# writer: 20 writes/s of 4 KiB, at QD 16

vqos_dev_add h0 backing=/dev/hol0 num_queues=2
vqos_dev_bind h0
disk=$(vqos_dev_disk h0)
q=$(vqos_sys h0)/qos
echo "$RBPS" > "$q/bps_read_limit"
echo "$WIOPS" > "$q/iops_write_limit"

# fio_jobs JOB...: time-based fio over $disk, one job per "rw:bs:depth"
# argument, in one process; prints "bytes ios runtime_ms" per job.
fio_jobs() {
	local args=() j n=0
	for j in "$@"; do
		IFS=: read -r rw bs qd <<<"$j"
		args+=(--name="j$n" --rw="$rw" --bs="$bs" --iodepth="$qd"
		       --offset=$((n * 128))M --size=128M)
		n=$((n + 1))
	done
	fio --filename="$disk" --ioengine=libaio --direct=1 --time_based \
	    --runtime="$SECS" --output-format=json "${args[@]}" 2>/dev/null |
		jq -r '.jobs[] | if .read.io_bytes > 0 then .read else .write end |
		       "\(.io_bytes) \(.total_ios) \(.runtime)"'
}

# ceiling BYTES_OR_IOS RUNTIME_MS RATE BURST INFLIGHT: what a limiter can
# let through at most in that time: rate * T + burst + requests in flight
# when the run stopped (fio counts them only if they complete).
ceiling_ok() {
	awk -v v="$1" -v ms="$2" -v rate="$3" -v burst="$4" -v inf="$5" 'BEGIN {
		max = rate * ms / 1000 + burst + inf
		printf "%d in %d ms, ceiling %.0f (rate %d/s)\n", v, ms, max, rate
		exit !(v <= max)
	}'
}

read -r rb_alone _ rms_alone < <(fio_jobs randread:64k:4)
tap_diag "reader alone: $rb_alone bytes in $rms_alone ms"
read -r _ wi_alone wms_alone < <(fio_jobs randwrite:4k:16)
tap_diag "writer alone: $wi_alone writes in $wms_alone ms"

out=$(fio_jobs randread:64k:4 randwrite:4k:16)
read -r rb _ rms <<<"$(sed -n 1p <<<"$out")"
read -r _ wi wms <<<"$(sed -n 2p <<<"$out")"
tap_diag "side by side: reader $rb bytes in $rms ms, writer $wi writes in $wms ms"

# Each limit's default burst is 100 ms of its rate.
tap_check "reader alone stays under its ceiling" \
	ceiling_ok "$rb_alone" "$rms_alone" "$RBPS" $((RBPS / 10)) $((4 * 65536))
tap_check "writer stays under its ceiling beside the reader" \
	ceiling_ok "$wi" "$wms" "$WIOPS" $((WIOPS / 10)) 16
tap_check "reader stays under its ceiling beside the writer" \
	ceiling_ok "$rb" "$rms" "$RBPS" $((RBPS / 10)) $((4 * 65536))
check_floor() {	# a held write does not slow the reader: >= 95 % of its limit
	awk -v b="$1" -v ms="$2" -v rate="$3" 'BEGIN {
		r = b * 1000 / ms
		printf "reader: %.0f B/s, %.3f of its limit\n", r, r / rate
		exit !(r >= 0.95 * rate)
	}'
}
tap_check "reader alone gets >= 95 % of bps_read_limit (the rig can run this)" \
	check_floor "$rb_alone" "$rms_alone" "$RBPS"
tap_check "reader keeps >= 95 % of bps_read_limit beside a writer held by iops_write_limit" \
	check_floor "$rb" "$rms" "$RBPS"

# A limit both directions share: reads and writes together, one ceiling.
echo 0 > "$q/bps_read_limit"
echo 0 > "$q/iops_write_limit"
echo 200 > "$q/iops_limit"
out=$(fio_jobs randread:4k:8 randwrite:4k:8)
read -r _ ri rms <<<"$(sed -n 1p <<<"$out")"
read -r _ wi wms <<<"$(sed -n 2p <<<"$out")"
ms=$(( rms > wms ? rms : wms ))
tap_check "iops_limit 200 holds reads and writes together ($ri + $wi in $ms ms)" \
	ceiling_ok $((ri + wi)) "$ms" 200 20 16
tap_check "both directions progress under a shared limit ($ri reads, $wi writes)" \
	test "$ri" -gt $((200 * SECS / 10)) -a "$wi" -gt $((200 * SECS / 10))

vqos_dev_del h0
bl_nullb_del hol0
bl_nullb_unload
vqos_unload_all
tap_done
