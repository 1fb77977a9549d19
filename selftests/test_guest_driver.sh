#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest driver, guest-driver/virtio_vqos.ko, on the vqos host device
# (personality "vqos") through virtio_vdpa: module info, queues and limits
# taken from the config space, fio crc32c verification and a byte-exact
# comparison with the backing file, discard and write-zeroes, the QoS
# telemetry under /sys/block/vqosN/qos/ against the host's own counters,
# read-only devices, live resize when media is inserted, a slow backing
# store that must not be mistaken for a dead device, and removal of the
# device, the driver and the module while fio has I/O in flight.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

tap_plan 40

if ! ko=$(vqos_ko vqos); then
	tap_skip_rest "kmod/vqos.ko is not built (make)"
	tap_done; exit $?
fi
if ! gko=$(vqos_ko virtio_vqos); then
	tap_skip_rest "guest-driver/virtio_vqos.ko is not built (make)"
	tap_done; exit $?
fi
if ! command -v fio >/dev/null; then
	tap_skip_rest "fio is not installed"
	tap_done; exit $?
fi

# Module hygiene.
tap_check "modinfo: device table matches virtio device 0xfff1" \
	eval "modinfo -F alias '$gko' | grep -qx 'virtio:d0000FFF1v\*'"
tap_check "modinfo: every parameter has a description" \
	eval "modinfo -F parm '$gko' | awk -F: 'NF < 2 || \$2 == \"\" { bad = 1 } END { exit bad || NR < 3 }'"
tap_check "modinfo: version, the same as vqos.ko's" \
	eval 'v=$(modinfo -F version "$gko") && [ -n "$v" ] &&
	      [ "$v" = "$(modinfo -F version "$ko")" ]'

# Short request timeout, so that the slow-device case below runs quickly.
if ! out=$( (vqos_insmod "$ko" && vqos_insmod "$gko" io_timeout=3) 2>&1); then
	tap_fail "load vqos and virtio_vqos" "$out"
	tap_skip_rest "modules did not load"
	vqos_unload_all
	tap_done; exit $?
fi
tap_ok "load vqos and virtio_vqos"

work=$(mktemp -d)
MiB=$((1024 * 1024))

sysblk() {	# sysblk DISK FILE: /sys/block/<disk>/FILE
	cat "/sys/block/${1#/dev/}/$2"
}

# qos_vs_host DEV DISK: the guest's telemetry equals the host's counters.
qos_vs_host() {
	local f g h rc=0
	for f in read_ops write_ops read_bytes write_bytes errors; do
		g=$(sysblk "$2" "qos/$f") || return 1
		h=$(vqos_stat "$1" "$f") || return 1
		echo "$f: guest $g, host $h"
		[ "$g" = "$h" ] || rc=1
	done
	return $rc
}

# blkstat_vs_qos DISK: the guest block layer's own counts of completed
# reads and writes (and their sectors) equal the host's.
blkstat_vs_qos() {
	local s
	read -r -a s < "/sys/block/${1#/dev/}/stat"
	echo "block stat: ${s[0]} reads ${s[2]} sectors, ${s[4]} writes ${s[6]} sectors"
	echo "qos: $(sysblk "$1" qos/read_ops) reads $(sysblk "$1" qos/read_bytes) bytes," \
	     "$(sysblk "$1" qos/write_ops) writes $(sysblk "$1" qos/write_bytes) bytes"
	[ "${s[0]}" = "$(sysblk "$1" qos/read_ops)" ] &&
	[ "$((s[2] * 512))" = "$(sysblk "$1" qos/read_bytes)" ] &&
	[ "${s[4]}" = "$(sysblk "$1" qos/write_ops)" ] &&
	[ "$((s[6] * 512))" = "$(sysblk "$1" qos/write_bytes)" ]
}

fio_verify() {
	fio --name=verify --filename="$1" --ioengine=libaio --direct=1 \
	    --rw=randwrite --bssplit=4k/30:16k/30:64k/20:256k/20 \
	    --iodepth=16 --size=16M --verify=crc32c --verify_fatal=1 \
	    --do_verify=1 --randrepeat=0 --output-format=terse >/dev/null
}

fio_bg() {	# fio_bg DISK: random I/O for up to 60 s in the background
	fio --name=bg --filename="$1" --ioengine=libaio --direct=1 \
	    --rw=randrw --bs=4k --iodepth=32 --time_based --runtime=60 \
	    --output=/dev/null >/dev/null 2>&1 &
	echo $!
}

# opened_within DISK SECONDS: some process (fio's job) holds DISK open.
# fio forks its jobs, so the pid fio_bg returns is not the one to look at.
# Only builtins in the scan ([ -ef ] compares the fd's target inode with
# DISK's): an exec per fd made one pass take minutes under TCG.
opened_within() {
	local end=$((SECONDS + $2)) fd
	while [ "$SECONDS" -lt "$end" ]; do
		for fd in /proc/[0-9]*/fd/*; do
			[ "$fd" -ef "$1" ] && return 0
		done
		sleep 0.2
	done
	return 1
}

exits_within() {	# exits_within PID SECONDS
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

gone_within() {		# gone_within PATH SECONDS

	for _ in $(seq $(($2 * 10))); do
		[ -e "$1" ] || return 0
		sleep 0.1
	done
	return 1
}

# --- data path, limits, telemetry --------------------------------
truncate -s 32M "$work/g0.img"
disk=
if vqos_dev_add g0 backing="$work/g0.img" personality=vqos num_queues=2 &&
   vqos_dev_bind g0 && disk=$(vqos_dev_disk g0) &&
   [[ $disk =~ ^/dev/vqos[0-9]+$ ]]; then
	tap_ok "vqos device g0 appears as $disk"
else
	tap_fail "vqos device g0 appears as /dev/vqosN" "disk: '$disk'" \
		"$(dmesg | tail -n 20)"
	disk=/dev/nonexistent
fi
tap_check "one hardware queue per virtqueue (2)" \
	test "$(ls "/sys/block/${disk#/dev/}/mq" 2>/dev/null | wc -l)" = 2
limits() {	# limits DISK: what the config space says, as queue limits
	local f v want rc=0
	for f in max_hw_sectors_kb=4096 max_segments=64 logical_block_size=512 \
		 max_segment_size=65536; do
		want=${f#*=}
		v=$(sysblk "$1" "queue/${f%%=*}")
		echo "${f%%=*}: $v (want $want)"
		[ "$v" = "$want" ] || rc=1
	done
	return $rc
}
tap_check "limits: 4 MiB requests, 64 segments of 64 KiB, 512-byte blocks" \
	limits "$disk"
tap_check "flush: write cache is write back" \
	test "$(sysblk "$disk" queue/write_cache)" = "write back"
tap_check "discard and write-zeroes limits from the config space" \
	eval "test \$(sysblk $disk queue/discard_max_hw_bytes) = $((1 << 30)) &&
	      test \$(sysblk $disk queue/write_zeroes_max_bytes) = $((1 << 30)) &&
	      test \$(sysblk $disk queue/max_discard_segments) = 1"
# GET_ID runs alone on its queue: a device that completes it without a
# used-buffer notification leaves the reader waiting (uninterruptibly)
# until the next completion on that queue, so do not wait in the
# foreground.
cat "/sys/block/${disk#/dev/}/serial" > "$work/serial" 2>&1 &
for _ in $(seq 100); do
	[ -s "$work/serial" ] && break
	sleep 0.1
done
if [ "$(cat "$work/serial")" = g0 ]; then
	tap_ok "serial is the vdpa device name"
else
	tap_fail "serial is the vdpa device name" \
		"got '$(cat "$work/serial")' after 10 s; GET_ID completed without an interrupt?"
fi
tap_check "qos/ has the 19 telemetry files" \
	test "$(ls "/sys/block/${disk#/dev/}/qos" 2>/dev/null | wc -l)" = 19
tap_check "fio crc32c verify, randwrite 4k-256k, iodepth 16, 16 MiB" \
	fio_verify "$disk"
tap_check "backing file holds exactly what the disk shows" \
	cmp "$disk" "$work/g0.img"
tap_check "telemetry read/write ops and bytes equal the host's stats" \
	qos_vs_host g0 "$disk"
tap_check "telemetry equals the guest block layer's own counts" \
	blkstat_vs_qos "$disk"
r0=$(sysblk "$disk" qos/read_bytes)
dd if="$disk" of=/dev/null bs=64k count=16 iflag=direct status=none
tap_check "a 1 MiB direct read adds exactly 1 MiB to qos/read_bytes" \
	test "$(($(sysblk "$disk" qos/read_bytes) - r0))" = "$MiB"

# Discard punches a hole, write-zeroes (with unmap) zeroes: both read
# back as zeroes from the disk and from the backing file.
zero_range() {	# zero_range FILE OFFSET LEN: the range reads as zeroes
	cmp -n "$3" <(dd if="$1" bs=4k skip=$(($2 / 4096)) count=$(($3 / 4096)) \
		      iflag=direct status=none) /dev/zero
}
dd if=/dev/urandom of="$disk" bs=1M count=4 oflag=direct status=none
tap_check "discard of 1 MiB reads back as zeroes (disk and backing file)" \
	eval "blkdiscard -o $MiB -l $MiB $disk && zero_range $disk $MiB $MiB &&
	      cmp -n $MiB -i $MiB:$MiB $disk $work/g0.img"
tap_check "write-zeroes of 1 MiB reads back as zeroes (disk and backing file)" \
	eval "blkdiscard -z -o $((2 * MiB)) -l $MiB $disk &&
	      zero_range $disk $((2 * MiB)) $MiB &&
	      cmp -n $MiB -i $((2 * MiB)):$((2 * MiB)) $disk $work/g0.img"
tap_check "the rest of the written data is untouched" \
	eval "cmp -n $MiB $disk $work/g0.img &&
	      cmp -n $MiB -i $((3 * MiB)):$((3 * MiB)) $disk $work/g0.img"
tap_check "no errors counted by the host" test "$(sysblk "$disk" qos/errors)" = 0
vqos_dev_del g0
tap_check "the disk goes away with the device" \
	gone_within "/sys/block/${disk#/dev/}" 10

# --- the host's rate limiter, seen from the guest ------------------------
qos_host_vs_guest() {	# qos_host_vs_guest DEV DISK: throttle counters agree
	local name val rc=0 g
	while read -r name val; do
		# held (the limiter's queue) is the host's alone.
		[ "$name" = held ] && continue
		g=$(sysblk "$2" "qos/$name") || return 1
		echo "$name: host $val, guest $g"
		[ "$g" = "$val" ] || rc=1
	done < "$(vqos_sys "$1")/qos/throttle_stats"
	return $rc
}
if vqos_dev_add q0 backing="$work/g0.img" personality=vqos &&
   echo 100 > "$(vqos_sys q0)/qos/iops_limit" &&
   vqos_dev_bind q0 && disk=$(vqos_dev_disk q0); then
	tap_check "qos/iops_limit shows the host's limit (100)" \
		test "$(sysblk "$disk" qos/iops_limit)" = 100
	fio --name=thr --filename="$disk" --ioengine=libaio --direct=1 \
	    --rw=randread --bs=4k --iodepth=8 --time_based --runtime=3 \
	    --output=/dev/null
	tap_check "throttled reads show in qos/throttled_reqs and over_iops_us" \
		eval "test \$(sysblk $disk qos/throttled_reqs) -gt 0 &&
		      test \$(sysblk $disk qos/over_iops_us) -gt 0"
	tap_check "throttle counters equal the host's throttle_stats" \
		qos_host_vs_guest q0 "$disk"
	echo 50 > "$(vqos_sys q0)/qos/iops_limit"
	tap_check "a limit changed on the host shows at the next read (50)" \
		test "$(sysblk "$disk" qos/iops_limit)" = 50
else
	tap_fail "qos/iops_limit shows the host's limit (100)"
	tap_fail "throttled reads show in qos/throttled_reqs and over_iops_us"
	tap_fail "throttle counters equal the host's throttle_stats"
	tap_fail "a limit changed on the host shows at the next read (50)"
fi
vqos_dev_del q0 2>/dev/null

# --- read-only ----------------------------------------------------
if vqos_dev_add r0 backing="$work/g0.img" personality=vqos read_only=1 &&
   vqos_dev_bind r0 && disk=$(vqos_dev_disk r0); then
	tap_check "read_only device is read-only in the guest" \
		test "$(blockdev --getro "$disk")" = 1
	tap_check "read_only device reads, refuses writes" \
		eval "dd if=$disk of=/dev/null bs=1M count=4 iflag=direct status=none &&
		      ! dd if=/dev/zero of=$disk bs=4k count=1 oflag=direct status=none 2>/dev/null"
else
	tap_fail "read_only device is read-only in the guest"
	tap_fail "read_only device reads, refuses writes"
fi
vqos_dev_del r0 2>/dev/null

# --- media inserted into a running empty device: live resize -----
truncate -s 16M "$work/m0.img"
if vqos_dev_add m0 personality=vqos && vqos_dev_bind m0 &&
   disk=$(vqos_dev_disk m0) && [ "$(sysblk "$disk" size)" = 0 ]; then
	tap_ok "device without backing appears with capacity 0 ($disk)"
else
	tap_fail "device without backing appears with capacity 0"
fi
echo "$work/m0.img" > "$(vqos_sys m0)/vqos/backing"
for _ in $(seq 50); do
	[ "$(sysblk "$disk" size)" != 0 ] && break
	sleep 0.1
done
tap_check "writing the backing resizes the disk live to 16 MiB" \
	test "$(sysblk "$disk" size)" = 32768
tap_check "the inserted medium reads and writes" \
	eval "dd if=/dev/urandom of=$work/pat bs=1M count=1 status=none &&
	      dd if=$work/pat of=$disk bs=1M seek=15 oflag=direct status=none &&
	      cmp -n $MiB -i 0:$((15 * MiB)) $work/pat $work/m0.img"
vqos_dev_del m0

# --- a stalled backing store is slow, not dead -------------------
# Requests wait longer than io_timeout (3 s) behind a suspended dm device;
# the driver must check the device, find it healthy and keep waiting.
truncate -s 16M "$work/s0.img"
export DM_DISABLE_UDEV=1	# no udev in the VM: libdevmapper makes the nodes
loopdev=$(losetup -f --show "$work/s0.img" 2>/dev/null)
if [ -n "$loopdev" ] && command -v dmsetup >/dev/null &&
   dmsetup create vqos_slow --table "0 32768 linear $loopdev 0" 2>/dev/null &&
   dmsetup mknodes vqos_slow &&
   vqos_dev_add s0 backing=/dev/mapper/vqos_slow personality=vqos &&
   vqos_dev_bind s0 && disk=$(vqos_dev_disk s0); then
	dmsetup suspend vqos_slow
	dd if=/dev/urandom of="$work/pat" bs=64k count=1 status=none
	dd if="$work/pat" of="$disk" bs=64k count=1 oflag=direct status=none &
	ddpid=$!
	sleep 8
	dmsetup resume vqos_slow
	if wait "$ddpid"; then
		tap_ok "a write stalled for 8 s (io_timeout 3 s) completes"
	else
		tap_fail "a write stalled for 8 s (io_timeout 3 s) completes" \
			"$(dmesg | grep -i vqos | tail -n 5)"
	fi
	tap_check "... with the right data, and the disk is still alive" \
		eval "cmp -n 65536 $work/pat /dev/mapper/vqos_slow &&
		      dd if=$disk of=/dev/null bs=64k count=1 iflag=direct status=none"
	vqos_dev_del s0
else
	tap_skip "a write stalled for 8 s (io_timeout 3 s) completes" "no loop/dm"
	tap_skip "... with the right data, and the disk is still alive" "no loop/dm"
fi
dmsetup remove vqos_slow 2>/dev/null
[ -n "$loopdev" ] && losetup -d "$loopdev"

# --- surprise removal: vdpa dev del with fio running ------------
truncate -s 32M "$work/d0.img"
vqos_dev_add d0 backing="$work/d0.img" personality=vqos num_queues=2
vqos_dev_bind d0
disk=$(vqos_dev_disk d0)
pid=$(fio_bg "$disk")
# fio is going once the device has served 64 of its requests.
vqos_wait_grow "$(vqos_sys d0)/stats/requests" 64 60 || echo "# fio did not get going on d0"
tap_check "vdpa dev del with fio running returns" timeout 60 vdpa dev del d0
tap_check "fio exits after the device is deleted" exits_within "$pid" 30
tap_check "the disk is gone" gone_within "/sys/block/${disk#/dev/}" 10
kill -9 "$pid" 2>/dev/null

# --- driver unbind with fio running -------------------------------
vqos_dev_add u0 backing="$work/d0.img" personality=vqos
vqos_dev_bind u0
disk=$(vqos_dev_disk u0)
vdev=$(basename "$(readlink -f "$(vqos_sys u0)"/virtio*)")
pid=$(fio_bg "$disk")
vqos_wait_grow "$(vqos_sys u0)/stats/requests" 64 60 || echo "# fio did not get going on u0"
tap_check "virtio_vqos unbind with fio running returns" \
	timeout 60 sh -c "echo $vdev > /sys/bus/virtio/drivers/virtio_vqos/unbind"
tap_check "fio exits after the unbind" exits_within "$pid" 30
kill -9 "$pid" 2>/dev/null
vqos_dev_del u0

# --- module unload -------------------------------------------------
vqos_dev_add x0 backing="$work/d0.img" personality=vqos
vqos_dev_bind x0
disk=$(vqos_dev_disk x0)
pid=$(fio_bg "$disk")
opened_within "$disk" 60 || echo "# fio has not opened $disk after 60 s"
tap_check "rmmod virtio_vqos is refused while fio holds the disk open" \
	eval "! rmmod virtio_vqos 2>/dev/null"
kill "$pid" 2>/dev/null
exits_within "$pid" 30
tap_check "rmmod virtio_vqos with a bound device succeeds, the disk goes" \
	eval "timeout 60 rmmod virtio_vqos &&
	      gone_within /sys/block/${disk#/dev/} 10"
vqos_dev_del x0
tap_check "unload vqos" vqos_unload vqos
rm -rf "$work"
tap_done
