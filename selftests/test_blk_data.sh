#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Data integrity of the vqos host device through virtio_vdpa and the
# in-tree virtio_blk driver: fio writes random data of mixed sizes and
# verifies it with crc32c, and the backing store must then hold exactly
# what the disk shows. Covers a buffered backing file (tmpfs, no O_DIRECT)
# and a block device opened with O_DIRECT, and two devices sharing one
# block device, each confined to its own range.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

tap_plan 14
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; exit 0; }
command -v fio >/dev/null || { tap_skip_rest "fio not installed"; exit 0; }

tap_check "load vqos" vqos_insmod "$ko"
work=$(mktemp -d)

fio_verify() {
	fio --name=verify --filename="$1" --ioengine=libaio --direct=1 \
	    --rw=randwrite --bssplit=512/10:4k/40:16k/20:64k/20:256k/10 \
	    --iodepth=16 --size="${2:-16M}" --verify=crc32c --verify_fatal=1 \
	    --do_verify=1 --randrepeat=0 --output-format=terse >/dev/null
}

# 1. A file on tmpfs: served through the page cache.
truncate -s 32M "$work/file.img"
if vqos_dev_add f0 backing="$work/file.img" num_queues=2 &&
   vqos_dev_bind f0 && disk=$(vqos_dev_disk f0); then
	tap_ok "file-backed device appears as $disk"
else
	tap_fail "file-backed device appears"
fi
tap_check "direct_io is 0 on tmpfs" \
	test "$(cat "$(vqos_sys f0)/vqos/direct_io")" = 0
tap_check "fio crc32c verify, mixed sizes, file backing" fio_verify "$disk"
tap_check "backing file holds exactly what the disk shows" \
	cmp "$disk" "$work/file.img"
vqos_dev_del f0

# 2. Two devices on one block device, each on its own half.
truncate -s 64M "$work/shared.img"
loopdev=$(losetup -f --show "$work/shared.img")
half=$((32 * 1024 * 1024))
if vqos_dev_add b0 backing="$loopdev" size=$half &&
   vqos_dev_add b1 backing="$loopdev" offset=$half size=$half num_queues=4 &&
   vqos_dev_bind b0 && vqos_dev_bind b1 &&
   d0=$(vqos_dev_disk b0) && d1=$(vqos_dev_disk b1); then
	tap_ok "two devices on $loopdev: $d0 and $d1"
else
	tap_fail "two devices on one block device"
fi
tap_check "direct_io is 1 on a block device" \
	test "$(cat "$(vqos_sys b0)/vqos/direct_io")" = 1
tap_check "capacity is the configured half" \
	test "$(cat "$(vqos_sys b1)/vqos/capacity")" = $((half / 512))
tap_check "fio crc32c verify on the first half" fio_verify "$d0"
tap_check "fio crc32c verify on the second half (4 queues)" fio_verify "$d1"
tap_check "first half of the backing store is the first disk" \
	cmp -n $half "$d0" "$loopdev"
tap_check "second half of the backing store is the second disk" \
	cmp -n $half "$d1" "$loopdev" 0 $half
# Writing the whole of one disk must not touch the other's range.
sum1=$(sha256sum < "$d1")
dd if=/dev/urandom of="$d0" bs=1M count=32 oflag=direct status=none
tap_check "filling one disk leaves the other intact" \
	test "$(sha256sum < "$d1")" = "$sum1"
vqos_dev_del b0
vqos_dev_del b1
losetup -d "$loopdev"
rm -rf "$work"
tap_check "unload vqos" vqos_unload vqos
tap_done
