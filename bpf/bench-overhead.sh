#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-overhead.sh - what the vqos-lat programs cost, in one boot:
# fio IOPS on a vqos device with the programs detached and attached,
# alternating, and the programs' own run time per event (bpf_stats).
#
#   scripts/vm-run -- bpf/bench-overhead.sh [SECONDS] [ROUNDS]
#
# The device is backed by a file in tmpfs, so that the request rate, and
# the share of the programs in it, is as high as it gets.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
. selftests/vqos_dev.sh

secs=${1:-10}
rounds=${2:-3}
lat=bpf/vqos-lat

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
vqos_load vqos || exit 1
truncate -s 32M /tmp/bench.img
vqos_dev_add b0 backing=/tmp/bench.img || exit 1
vqos_dev_bind b0 || exit 1
disk=$(vqos_dev_disk b0) || exit 1
# Write the whole disk once, so that the reads hit the page cache.
dd if=/dev/zero of="$disk" bs=1M count=32 oflag=direct status=none

iops() {
	fio --name=bench --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=randread --bs=4k --iodepth=8 --time_based \
		--runtime="$secs" --output-format=json |
		jq '.jobs[0].read.iops | floor'
}

off=() on=()
for i in $(seq "$rounds"); do
	off+=("$(iops)")
	$lat attach >/dev/null || exit 1
	on+=("$(iops)")
	$lat detach >/dev/null
done
echo "fio 4k randread QD8 IOPS, detached: ${off[*]}"
echo "fio 4k randread QD8 IOPS, attached: ${on[*]}"
awk -v a="${on[*]}" -v b="${off[*]}" 'BEGIN {
	n = split(a, x, " "); split(b, y, " ")
	for (i = 1; i <= n; i++) { sa += x[i]; sb += y[i] }
	printf "attached/detached IOPS ratio: %.3f\n", sa / sb }'

sysctl -q kernel.bpf_stats_enabled=1
$lat attach >/dev/null || exit 1
fio --name=bench --filename="$disk" --direct=1 --ioengine=libaio \
	--rw=randread --bs=4k --iodepth=8 --time_based --runtime="$secs" \
	--output-format=terse >/dev/null
$lat status
$lat detach >/dev/null
sysctl -q kernel.bpf_stats_enabled=0
vqos_dev_del b0
vqos_unload_all
rm -f /tmp/bench.img
