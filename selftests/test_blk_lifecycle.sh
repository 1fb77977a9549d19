#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Life cycle of vqos devices: sysfs validation (a bad write is refused and
# changes nothing), -EBUSY once a driver has started the device, media
# inserted into a running empty device, read-only devices, and reset,
# `vdpa dev del` and `rmmod` while fio has I/O in flight. The dmesg scan
# of run-all catches any splat these leave behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

tap_plan 21
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; exit 0; }
command -v fio >/dev/null || { tap_skip_rest "fio not installed"; exit 0; }
if ! out=$(vqos_insmod "$ko" 2>&1); then
	# A module that does not load is a failure, not a skip.
	tap_fail "load vqos" "$out"
	tap_skip_rest "vqos did not load"
	vqos_unload_all
	tap_done; exit $?
fi
work=$(mktemp -d)
truncate -s 16M "$work/a.img"

# expect_refused ATTR VALUE: the write fails and the value is unchanged.
expect_refused() {
	local f
	f="$(vqos_sys c0)/vqos/$1"
	local before
	before=$(cat "$f")
	if echo "$2" > "$f" 2>/dev/null; then
		echo "write of '$2' to $1 succeeded"
		return 1
	fi
	[ "$(cat "$f")" = "$before" ] || { echo "$1 changed"; return 1; }
}

vqos_dev_add c0
tap_check "num_queues refuses 0, 17, garbage" \
	eval 'expect_refused num_queues 0 && expect_refused num_queues 17 &&
	      expect_refused num_queues abc && expect_refused num_queues -1'
tap_check "queue_size refuses non-powers of two and out of range" \
	eval 'expect_refused queue_size 100 && expect_refused queue_size 2048 &&
	      expect_refused queue_size 99999999999999999999'
tap_check "personality refuses unknown names" \
	expect_refused personality scsi
tap_check "backing refuses relative, missing and non-file paths" \
	eval 'expect_refused backing rel/path && expect_refused backing /nonexistent &&
	      expect_refused backing /proc'
tap_check "offset refuses unaligned values" expect_refused offset 511
echo "$work/a.img" > "$(vqos_sys c0)/vqos/backing"
tap_check "size larger than the backing store is refused" \
	expect_refused size $((32 * 1024 * 1024))
tap_check "offset beyond the backing store is refused" \
	expect_refused offset $((32 * 1024 * 1024))
tap_check "cpus refuses an empty or offline list" \
	eval 'expect_refused cpus 99 && expect_refused cpus x'
tap_check "cpus pins the worker" \
	eval 'echo 0 > $(vqos_sys c0)/vqos/cpus &&
	      test "$(cat $(vqos_sys c0)/vqos/cpus)" = 0 &&
	      grep -q "^Cpus_allowed_list:.*\b0$" /proc/$(pgrep -f "vqos/c0")/status'
vqos_dev_bind c0
disk=$(vqos_dev_disk c0)
tap_check "num_queues is -EBUSY on a started device" \
	eval '! echo 2 > $(vqos_sys c0)/vqos/num_queues 2>/dev/null'
tap_check "backing is -EBUSY on a started device with medium" \
	eval '! echo $work/a.img > $(vqos_sys c0)/vqos/backing 2>/dev/null'
vqos_dev_del c0

# Media inserted into a running, empty device.
vqos_dev_add m0
vqos_dev_bind m0
disk=$(vqos_dev_disk m0)
size0=$(cat "/sys/class/block/${disk#/dev/}/size")
echo "$work/a.img" > "$(vqos_sys m0)/vqos/backing"
for _ in $(seq 50); do
	[ "$(cat "/sys/class/block/${disk#/dev/}/size")" != 0 ] && break
	sleep 0.1
done
tap_check "inserting media resizes the disk from $size0 to 16 MiB live" \
	test "$(cat "/sys/class/block/${disk#/dev/}/size")" = 32768
tap_check "the inserted medium is readable" \
	dd if="$disk" of=/dev/null bs=1M count=16 iflag=direct status=none
vqos_dev_del m0

# Read-only.
vqos_dev_add r0 backing="$work/a.img" read_only=1
vqos_dev_bind r0
disk=$(vqos_dev_disk r0)
tap_check "a read_only device is read-only in the guest" \
	test "$(blockdev --getro "$disk")" = 1
tap_check "a read_only device reads" \
	dd if="$disk" of=/dev/null bs=64k iflag=direct status=none
vqos_dev_del r0

# I/O in flight while the device goes away.
fio_bg() {
	fio --name=bg --filename="$1" --ioengine=libaio --direct=1 \
	    --rw=randrw --bs=4k --iodepth=32 --time_based --runtime=60 \
	    --output=/dev/null >/dev/null 2>&1 &
	echo $!
}
# Returns 0 if pid $1 exits within $2 seconds.
exits_within() {
	local i
	for i in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# in_flight DEV: fio is running on DEV (it has served 64 of its requests).
in_flight() {
	vqos_wait_grow "$(vqos_sys "$1")/stats/requests" 64 60 ||
		echo "# fio did not get going on $1"
}

vqos_dev_add d0 backing="$work/a.img" num_queues=2
vqos_dev_bind d0
pid=$(fio_bg "$(vqos_dev_disk d0)")
in_flight d0
tap_check "vdpa dev del with I/O in flight returns" timeout 60 vdpa dev del d0
tap_check "fio ends after the disk is deleted" exits_within "$pid" 30

vqos_dev_add u0 backing="$work/a.img"
vqos_dev_bind u0
pid=$(fio_bg "$(vqos_dev_disk u0)")
in_flight u0
tap_check "unbind (device reset) with I/O in flight returns" \
	timeout 60 sh -c "echo u0 > /sys/bus/vdpa/drivers/virtio_vdpa/unbind"
tap_check "fio ends after the reset" exits_within "$pid" 30
vqos_dev_del u0

vqos_dev_add x0 backing="$work/a.img"
vqos_dev_bind x0
pid=$(fio_bg "$(vqos_dev_disk x0)")
in_flight x0
tap_check "rmmod with a device and I/O in flight returns" \
	timeout 60 rmmod vqos
tap_check "fio ends after rmmod" exits_within "$pid" 30
rm -rf "$work"
tap_done
