#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# IOPS of the guest driver (virtio_vqos, personality "vqos") against the
# in-tree virtio_blk (personality "virtio-blk") on the same kind of host
# device, same boot, both through virtio_vdpa: fio 4k randread at queue
# depth 32 for VQOS_PERF_RUNTIME seconds (default 5), alternating the two
# drivers VQOS_PERF_ROUNDS times (default 2), all in one fio (one job
# after the other: a fio start costs seconds in the VM). Prints the
# ratio; fails only if virtio_vqos reaches less than half of virtio_blk's
# IOPS, which no amount of emulator noise explains. Results go to
# $VQOS_RESULTS/perf.txt.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

runtime=${VQOS_PERF_RUNTIME:-5}
rounds=${VQOS_PERF_ROUNDS:-2}
tap_plan $((2 * rounds + 2))

if ! ko=$(vqos_ko vqos) || ! gko=$(vqos_ko virtio_vqos); then
	tap_skip_rest "kmod/vqos.ko or guest-driver/virtio_vqos.ko is not built (make)"
	tap_done; exit $?
fi
if ! command -v fio >/dev/null; then
	tap_skip_rest "fio is not installed"
	tap_done; exit $?
fi
if ! out=$( (vqos_insmod "$ko" && vqos_insmod "$gko") 2>&1); then
	tap_fail "load vqos and virtio_vqos" "$out"
	tap_skip_rest "modules did not load"
	vqos_unload_all
	tap_done; exit $?
fi

work=$(mktemp -d)
truncate -s 64M "$work/perf.img"
dd if=/dev/urandom of="$work/perf.img" bs=1M count=64 conv=notrunc status=none

# One device per personality on the same data, both bound for the whole
# run; one fio runs the rounds as jobs one after the other.
declare -A disk=()
for p in vqos virtio-blk; do
	d=p${p%%-*}
	if vqos_dev_add "$d" backing="$work/perf.img" personality="$p" num_queues=2 &&
	   vqos_dev_bind "$d" && disk[$p]=$(vqos_dev_disk "$d"); then
		:
	else
		disk[$p]=/dev/nonexistent
	fi
done
jobs=()
for r in $(seq "$rounds"); do
	for p in vqos virtio-blk; do
		jobs+=(--name="$p-r$r" --filename="${disk[$p]}" --stonewall)
	done
done
fio --ioengine=libaio --direct=1 --rw=randread --bs=4k --iodepth=32 \
    --time_based --runtime="$runtime" --ramp_time=1 --output-format=json \
    --output="$work/perf.json" "${jobs[@]}" > "$work/fio.out" 2>&1 ||
	tap_diag "fio failed: $(tail -n 5 "$work/fio.out")"
for d in pvqos pvirtio; do
	vqos_dev_del "$d"
done

declare -A sum=([vqos]=0 [virtio-blk]=0)
for r in $(seq "$rounds"); do
	for p in vqos virtio-blk; do
		v=$(jq -r --arg j "$p-r$r" '.jobs[] | select(.jobname == $j) | .read.iops | floor' \
			"$work/perf.json" 2>/dev/null)
		if [[ ${v:-} =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ]; then
			tap_ok "round $r: $p: $v IOPS"
			sum[$p]=$((sum[$p] + v))
		else
			tap_fail "round $r: $p: fio ran" "$(cat "$work/fio.out")"
		fi
	done
done

a=$((sum[vqos] / rounds))
b=$((sum[virtio-blk] / rounds))
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b) printf "%.3f", a / b; else print "n/a" }')
summary="4k randread QD32 ${runtime}s x $rounds: virtio_vqos $a IOPS, virtio_blk $b IOPS, ratio $ratio ($(nproc) vCPU, $(uname -r))"
tap_diag "$summary"
[ -n "${VQOS_RESULTS:-}" ] && echo "$summary" >> "$VQOS_RESULTS/perf.txt"
tap_check "virtio_vqos reaches at least half of virtio_blk's IOPS ($ratio)" \
	awk -v a="$a" -v b="$b" 'BEGIN { exit !(b > 0 && a * 2 >= b) }'

rm -rf "$work"
tap_check "unload virtio_vqos and vqos" vqos_unload_all
tap_done
