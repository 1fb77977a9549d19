#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The control plane against races and misuse (issue 13). Sections, by the
# issue's item numbers:
#
#   9b  a 4Kn block device backing: the guest disk offers its logical
#       block size (4096) and direct I/O of that size works, at the right
#       place in the backing store;
#   9c  a block device backing is held exclusively: mount and O_EXCL opens
#       by others fail with EBUSY, two vqos devices on slices of it both
#       work, and it is free again once no vqos device uses it;
#   9d  a VMM enabling queues whose ring size the device refuses, 300
#       times through /dev/vhost-vdpa-N, logs no more than the printk
#       rate limit allows;
#   5   `vdpa dev del` of group members while a loop writes the group's
#       knobs (each write kicks the members' workers), unbound, then bound
#       with a throttled request held: no splat in the kernel log;
#   9a  a medium inserted into a running empty device while guest flushes
#       and get-ids are pending (held by iops_limit, once they count
#       against it) completes every one of them;
#   6a  group_del/group_add beside loops reading and writing the group's
#       files: nothing hangs, lockdep is quiet;
#   6b  rmmod beside such loops on three groups: the same.
#
# A hang is detected with deadlines, never by waiting on a task that may be
# stuck in the kernel: the case fails, naming the stuck tasks and their
# kernel stacks, and the cases after it are reported as not run (vqos is
# wedged for the life of the VM). The script then starts `rmmod vqos` in
# the background: the module is left "going", so that run-all's own rmmod
# fails at once with EBUSY instead of hanging, and later tests skip. No
# background task keeps the script's stdout or stderr open.
#
# selftests/vqos_ctl.pl, one coprocess, does what would cost an exec each
# (vdpa dev add/del over netlink, direct I/O, ioctls, reading the kernel
# log): an exec costs about a second in the test VM.
#
# VQOS_CTL_CASES="9b 9c ..." runs only those sections (the others are
# reported as SKIP), e.g. to show one at a time what an old module does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"

d_4kn=("9b: a 4Kn backing gives the guest disk a logical block size of 4096"
       "9b: direct I/O of the guest disk's logical block size works on a 4Kn backing"
       "9b: the data is in the 4Kn backing at the guest's offset")
d_excl=("9c: mount of a block device a vqos device uses fails with EBUSY"
	"9c: an O_EXCL open of a block device a vqos device uses fails with EBUSY"
	"9c: two vqos devices on slices of one block device both serve their data"
	"9c: the block device is free for an O_EXCL open once no vqos device uses it")
d_warn=("9d: 300 refused queue enables log at most the printk rate limit")
d_del=("5: vdpa dev del of group members while the group's knobs are written: no splat"
       "5: vdpa dev del of bound members holding throttled requests: returns, no splat")
d_ins=("9a: a medium inserted beside pending guest requests completes all of them")
d_grp=("6: group_del/group_add beside readers and writers of the group's files: no hang")
d_rmmod=("6: rmmod beside readers and writers of a group's files: no hang")
all=("${d_4kn[@]}" "${d_excl[@]}" "${d_warn[@]}" "${d_del[@]}" "${d_ins[@]}" "${d_grp[@]}"
     "${d_rmmod[@]}")
tap_plan ${#all[@]}

ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built" "${all[@]}"; exit 0; }
command -v perl >/dev/null || { tap_skip_rest "perl not installed" "${all[@]}"; exit 0; }
vqos_insmod "$ko" || { tap_skip_rest "cannot load vqos" "${all[@]}"; exit 0; }
loaded=1
work=$(mktemp -d)
truncate -s 16M "$work/a.img"
grp=/sys/devices/vqos/groups
# Nothing binds before it is configured (vqos_dev_add does the same).
echo 0 > /sys/bus/vdpa/drivers_autoprobe
vqos_ctl_start "$work/ctl.err"
# A descriptor that never has data nor EOF: read -t on it sleeps.
exec {nap_fd}<> <(:)

# nap SECONDS: sleep without an exec.
nap() {
	read -r -t "$1" -u "$nap_fd" _
}

# wedged: why vqos can no longer be used in this VM, if it cannot.
wedged=

# ctl CMD...: vqos_ctl; no answer means vqos is wedged.
ctl() {
	vqos_ctl "$@"
	case $? in
	0) return 0 ;;
	2) wedged=${wedged:-$reply} ;;
	esac
	return 1
}

# dev_add NAME [ATTR=VALUE...]: vqos_dev_add without an exec.
dev_add() {
	local name=$1 kv
	shift
	ctl add "$name" || { echo "$reply"; return 1; }
	for kv in "$@"; do
		echo "${kv#*=}" > "$(vqos_sys "$name")/vqos/${kv%%=*}" || return 1
	done
}

# dev_disk NAME: bind NAME to virtio_vdpa and print its disk.
dev_disk() {
	vqos_dev_bind "$1" && ctl disk "$1" 10 && echo "$reply"
}

# nullb NAME ATTR=VALUE...: a configfs null_blk disk /dev/NAME.
nullb_loaded=0
nullb() {
	local name=$1 d=/sys/kernel/config/nullb/$1 kv l i
	shift
	if [ ! -d /sys/kernel/config/nullb ]; then
		while read -r l _; do
			[ "$l" = null_blk ] && break
		done < /proc/modules
		if [ "$l" != null_blk ]; then
			modprobe null_blk nr_devices=0 || return 1
			nullb_loaded=1
		fi
		[ -d /sys/kernel/config/nullb ] ||
			mount -t configfs configfs /sys/kernel/config || return 1
	fi
	ctl mkdir "$d" || return 1
	for kv in "$@"; do
		echo "${kv#*=}" > "$d/${kv%%=*}" || return 1
	done
	echo 1 > "$d/power" || return 1
	for ((i = 0; i < 100; i++)); do
		[ -b "/dev/$name" ] && return 0
		nap 0.05
	done
	return 1
}

nullb_del() {
	echo 0 > "/sys/kernel/config/nullb/$1/power"
	ctl rmdir "/sys/kernel/config/nullb/$1"
}

# section ID FUNC DESC...: run FUNC DESC... unless ID is not selected or
# vqos is wedged; FUNC reports one case per DESC (missing ones fail).
section() {
	local id=$1 fn=$2 n0=$_tap_n d i t0=$SECONDS
	shift 2
	local descs=("$@")
	if [ -n "${VQOS_CTL_CASES:-}" ] && [[ " $VQOS_CTL_CASES " != *" $id "* ]]; then
		for d; do tap_skip "$d" "not selected (VQOS_CTL_CASES=$VQOS_CTL_CASES)"; done
		return
	fi
	if [ -n "$wedged" ]; then
		for d; do tap_fail "$d" "not run: vqos is wedged: $wedged"; done
		return
	fi
	"$fn" "$@"
	tap_diag "section $id took $((SECONDS - t0)) s"
	for ((i = _tap_n - n0; i < ${#descs[@]}; i++)); do
		tap_fail "${descs[i]}" "the section did not report this case"
	done
}

# fail_all REASON DESC...: report every DESC as failed.
fail_all() {
	local why=$1 d
	shift
	for d; do tap_fail "$d" "$why"; done
}

# exited_within SECONDS PID...: all PIDs end within SECONDS (polled, never
# waited on: a task stuck in the kernel must not stop the script). Sets
# stuck to the ones that did not.
exited_within() {
	local deadline=$((SECONDS + $1)) p
	shift
	while :; do
		stuck=
		for p; do
			kill -0 "$p" 2>/dev/null && stuck="$stuck $p"
		done
		[ -z "$stuck" ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		nap 0.1
	done
}

# stacks PID...: state and kernel stack of each task and its children.
stacks() {
	local p s c kids
	for p; do
		read -r s 2>/dev/null < "/proc/$p/stat" || continue
		echo "task $p: ${s:0:60}"
		while read -r c; do
			echo "    $c"
		done 2>/dev/null < "/proc/$p/stack"
		read -r -a kids 2>/dev/null < "/proc/$p/task/$p/children"
		for c in "${kids[@]}"; do
			stacks "$c"
		done
	done
}

# check_splats DESC MARK: one case, passing iff the kernel logged no splat
# since MARK.
check_splats() {
	local l lines=()
	if ! ctl splats "$2" "$work/splats"; then
		tap_fail "$1" "$reply"
	elif [ "$reply" = 0 ]; then
		tap_ok "$1"
	else
		while IFS= read -r l; do lines+=("$l"); done < "$work/splats"
		tap_fail "$1" "$reply splat line(s) in the kernel log:" "${lines[@]}"
	fi
}

# held NAME: 1 if NAME's limiter holds a request now.
held() {
	local k v
	while read -r k v; do
		[ "$k" = held ] && { echo "$v"; return; }
	done < "$(vqos_sys "$1")/qos/throttle_stats"
	echo 0
}

# --- 9b: 4Kn backing ------------------------------------------------------------
sec_4kn() {
	local disk lbs
	if ! nullb vq4k size=64 blocksize=4096 memory_backed=1; then
		fail_all "cannot create a 4Kn null_blk disk: $reply" "$@"
		return
	fi
	if ! { dev_add k0 backing=/dev/vq4k && disk=$(dev_disk k0); }; then
		fail_all "cannot create a vqos device on /dev/vq4k: $reply" "$@"
		ctl del k0
		nullb_del vq4k
		return
	fi
	read -r lbs < "/sys/block/${disk#/dev/}/queue/logical_block_size"
	tap_check "$1 (it has $lbs)" test "$lbs" = 4096
	# Four blocks at block 3 of the guest disk, read back through it and
	# straight from the backing store.
	if ctl dwrite "$disk" $((3 * lbs)) $((4 * lbs)) k0 &&
	   ctl dcheck "$disk" $((3 * lbs)) $((4 * lbs)) k0; then
		tap_ok "$2 (blocks of $lbs bytes)"
	else
		tap_fail "$2 (blocks of $lbs bytes)" "$reply"
	fi
	if ctl dcheck /dev/vq4k $((3 * lbs)) $((4 * lbs)) k0; then
		tap_ok "$3"
	else
		tap_fail "$3" "$reply"
	fi
	ctl del k0
	nullb_del vq4k
}

# --- 9c: exclusive block device backing -------------------------------------------
sec_excl() {
	local d0 d1 mib=$((1 << 20)) a=$((1 << 20)) b=$((33 << 20))
	if ! nullb vqx size=64 memory_backed=1; then
		fail_all "cannot create a null_blk disk: $reply" "$@"
		return
	fi
	# A filesystem that mount would accept, were the disk free.
	mkfs.ext4 -q -F -O ^has_journal /dev/vqx >/dev/null 2>&1
	if ! { dev_add x0 backing=/dev/vqx size=$((32 * mib)) &&
	       dev_add x1 backing=/dev/vqx offset=$((32 * mib)) size=$((32 * mib)) &&
	       d0=$(dev_disk x0) && d1=$(dev_disk x1); }; then
		fail_all "cannot create two vqos devices on slices of /dev/vqx: $reply" "$@"
		ctl del x0; ctl del x1
		nullb_del vqx
		return
	fi
	ctl mkdir "$work/mnt"
	ctl mount /dev/vqx "$work/mnt" ext4
	case "$reply" in
	ok)	ctl umount "$work/mnt"
		tap_fail "$1" "the host mounted /dev/vqx while vqos devices serve it to guests" ;;
	"Device or resource busy") tap_ok "$1" ;;
	*)	tap_fail "$1" "mount failed, but not with EBUSY: $reply" ;;
	esac
	ctl excl /dev/vqx
	if [ "$reply" = "Device or resource busy" ]; then
		tap_ok "$2"
	else
		tap_fail "$2" "O_EXCL open of /dev/vqx: $reply"
	fi
	# Each slice's data is at its offset of the shared disk.
	if ctl dwrite "$d0" $a 65536 p0 && ctl dwrite "$d1" $a 65536 p1 &&
	   ctl dcheck "$d0" $a 65536 p0 && ctl dcheck "$d1" $a 65536 p1 &&
	   ctl dcheck /dev/vqx $a 65536 p0 && ctl dcheck /dev/vqx $b 65536 p1; then
		tap_ok "$3"
	else
		tap_fail "$3" "$reply"
	fi
	ctl del x0
	ctl del x1
	ctl excl /dev/vqx
	if [ "$reply" = opened ]; then
		tap_ok "$4"
	else
		tap_fail "$4" "O_EXCL open of /dev/vqx after both devices were deleted: $reply"
	fi
	nullb_del vqx
}

# --- 9d: a guest-reachable message is rate limited -----------------------------------
sec_warn() {
	local vdev mark us n ceil
	if ! { dev_add w0 num_queues=16 && vqos_dev_bind w0 vhost_vdpa && ctl vhost w0 5; }; then
		tap_fail "$1" "cannot bind a device to vhost_vdpa: $reply"
		ctl del w0
		return
	fi
	vdev=$reply
	mark=$(vqos_dmesg_mark "9d: queue enables")
	# Its 16 queues, each given a ring size the device refuses, so every
	# enable fails with a warning. (A queue never set up is left off
	# quietly: QEMU 10 enables every queue at DRIVER_OK, set up or not.)
	if ! ctl enable "$vdev" 300; then
		tap_fail "$1" "$reply"
	else
		us=$reply
		# Every line naming the device counts, whatever its text.
		ctl splats "$mark" "$work/w0.log" '\sw0:\s'
		n=$reply
		# printk's default: 10 messages per 5 s, per call site.
		ceil=$((10 * (us / 5000000 + 2)))
		tap_check "$1 ($n lines in $((us / 1000)) ms, ceiling $ceil)" test "$n" -le "$ceil"
	fi
	ctl del w0
}

# --- 5: teardown beside group knob writes and held requests -----------------------------
# knob_writer GROUP STOPFILE: write GROUP's iops_limit (each write kicks
# every member's worker) until STOPFILE exists.
knob_writer() {
	local n=0
	while [ ! -e "$2" ]; do
		echo $((100 + n % 2 * 100)) 2>/dev/null > "$grp/$1/iops_limit"
		n=$((n + 1))
	done
}

sec_del() {
	local mark i w pids=() disk h stop=$work/stop5
	echo tdg > /sys/devices/vqos/group_add
	mark=$(vqos_dmesg_mark "5: dev del beside group knob writes")
	knob_writer tdg "$stop" >/dev/null 2>&1 &
	w=$!
	for ((i = 1; i <= 10; i++)); do
		dev_add "td$i" && echo tdg > "$(vqos_sys "td$i")/qos/group"
		ctl del "td$i"
	done
	check_splats "$1" "$mark"

	# Bound members, each with a read held by its own limit.
	mark=$(vqos_dmesg_mark "5: dev del with held requests")
	for i in 1 2; do
		if dev_add "th$i" backing="$work/a.img" && disk=$(dev_disk "th$i"); then
			echo 20 > "$(vqos_sys "th$i")/qos/iops_limit"
			echo tdg > "$(vqos_sys "th$i")/qos/group"
			ctl guest "$disk" "$stop.g" "$work/g5.$i" 2 read && pids+=("$reply")
		fi
	done
	for ((i = 0; i < 50; i++)); do
		[ "$(held th1)$(held th2)" = 11 ] && break
		nap 0.1
	done
	h="held: th1 $(held th1), th2 $(held th2)"
	if ! { ctl del th1 && ctl del th2; }; then
		tap_fail "$2" "$h" "$reply"
	else
		touch "$stop.g"
		if ! exited_within 30 "${pids[@]}"; then
			wedged="5: guest reads did not end after their disks were deleted"
			tap_fail "$2" "$h" "reads still running 30 s after their disks were deleted:" \
				"$(stacks $stuck)"
		else
			check_splats "$2 ($h)" "$mark"
		fi
	fi
	touch "$stop" "$stop.g"
	if ! exited_within 10 "$w"; then
		wedged="5: a group knob write did not return"
		tap_diag "the knob writer is stuck:" "$(stacks $stuck)"
		return
	fi
	echo tdg > /sys/devices/vqos/group_del
}

# --- 9a: medium inserted beside pending requests -----------------------------------------
sec_ins() {
	local i k disk pid stop ok err total=0 held_n=0 size tries=3
	for ((i = 1; i <= tries; i++)); do
		stop=$work/stop9a.$i
		if ! { dev_add "e$i" num_queues=2 && disk=$(dev_disk "e$i"); }; then
			tap_fail "$1" "cannot create an empty device e$i: $reply"
			return
		fi
		echo 20 > "$(vqos_sys "e$i")/qos/iops_limit"
		# 4 processes, flush and get-id on the empty disk.
		ctl guest "$disk" "$stop" "$work/ins$i" 4 flush,getid || {
			tap_fail "$1" "$reply"; return; }
		pid=$reply
		# The fixed module holds a flush or get-id beyond 20/s; 4635b3b
		# limits neither, and only races.
		for ((k = 0; k < 20; k++)); do
			[ "$(held "e$i")" = 1 ] && { held_n=$((held_n + 1)); break; }
			nap 0.05
		done
		echo "$work/a.img" > "$(vqos_sys "e$i")/vqos/backing"
		nap 0.5
		touch "$stop"
		if ! exited_within 20 "$pid"; then
			wedged="9a: guest requests of e$i never completed (its disk cannot be deleted)"
			tap_fail "$1" "attempt $i: the guest's requests did not complete within 20 s after the medium was inserted" \
				"(a request was held at insertion in $held_n of $i attempts)" "$(stacks "$pid")"
			return
		fi
		for k in 0 1 2 3; do
			read -r ok err < "$work/ins$i.$k" && total=$((total + ok + err))
		done
		read -r size < "/sys/block/${disk#/dev/}/size"
		ctl del "e$i"
		if [ "$size" != 32768 ]; then
			tap_fail "$1" "attempt $i: the disk did not grow to the inserted 16 MiB (size $size)"
			return
		fi
	done
	tap_ok "$1 ($tries insertions, $total requests, one held at insertion $held_n times)"
}

# --- 6: group deletion and rmmod beside the group's own files -------------------------
# group_reader GROUP STOPFILE COUNTFILE: read GROUP's files until STOPFILE
# exists, then write how many rounds succeeded.
group_reader() {
	local n=0 x
	while [ ! -e "$2" ]; do
		read -r x 2>/dev/null < "$grp/$1/members"
		read -r x 2>/dev/null < "$grp/$1/throttle_stats" && n=$((n + 1))
		read -r x 2>/dev/null < "$grp/$1/iops_limit"
	done
	echo $n > "$3"
}

group_churn() {
	local n=0
	while [ ! -e "$2" ]; do
		echo "$1" 2>/dev/null > /sys/devices/vqos/group_del && n=$((n + 1))
		echo "$1" 2>/dev/null > /sys/devices/vqos/group_add
	done
	echo $n > "$3"
}

sec_grp() {
	local mark stop=$work/stop6 pids=() n r1 r2 rm rc
	echo gd > /sys/devices/vqos/group_add
	mark=$(vqos_dmesg_mark "6: group_del beside group readers")
	group_reader gd "$stop" "$work/r1" >/dev/null 2>&1 & pids+=($!)
	group_reader gd "$stop" "$work/r2" >/dev/null 2>&1 & pids+=($!)
	knob_writer gd "$stop" >/dev/null 2>&1 & pids+=($!)
	group_churn gd "$stop" "$work/dels" >/dev/null 2>&1 & pids+=($!)
	nap 5
	touch "$stop"
	if ! exited_within 20 "${pids[@]}"; then
		wedged="6: group_del deadlocked with a reader of the group's files"
		ctl splats "$mark" "$work/splats"
		tap_fail "$1" "tasks still running 20 s after they were told to stop:" \
			"$(stacks $stuck)" "kernel log: $reply splat line(s):" "$(<"$work/splats")"
	else
		read -r n < "$work/dels"; read -r r1 < "$work/r1"; read -r r2 < "$work/r2"
		if [ "$n" -gt 0 ] && [ "$r1" -gt 0 ]; then
			check_splats "$1 ($n deletions, $r1 + $r2 reader rounds)" "$mark"
		else
			tap_fail "$1" "no progress: $n deletions, $r1 + $r2 reader rounds"
		fi
	fi
	[ -n "$wedged" ] || echo gd 2>/dev/null > /sys/devices/vqos/group_del
}

sec_rmmod() {
	local mark stop=$work/stop6b pids=() rm rc g
	mark=$(vqos_dmesg_mark "6: rmmod beside group readers")
	# rmmod deletes the groups one after the other: a reader or writer
	# on each.
	for g in gr1 gr2 gr3; do
		echo $g > /sys/devices/vqos/group_add
		group_reader $g "$stop" "$work/$g" >/dev/null 2>&1 & pids+=($!)
		knob_writer $g "$stop" >/dev/null 2>&1 & pids+=($!)
	done
	nap 1
	rmmod vqos >/dev/null 2>&1 &
	rm=$!
	if ! exited_within 30 "$rm"; then
		wedged="6: rmmod deadlocked with a reader of a group's files"
		loaded=going
		tap_fail "$1" "rmmod still running after 30 s:" "$(stacks "$rm" "${pids[@]}")"
		return
	fi
	wait "$rm"
	rc=$?
	touch "$stop"
	if [ $rc != 0 ]; then
		tap_fail "$1" "rmmod failed with status $rc"
	elif ! exited_within 20 "${pids[@]}"; then
		loaded=0
		wedged="6: readers of a removed group's files did not end"
		tap_fail "$1" "readers still running 20 s after rmmod:" "$(stacks $stuck)"
	else
		loaded=0
		check_splats "$1" "$mark"
	fi
}

section 9b sec_4kn "${d_4kn[@]}"
section 9c sec_excl "${d_excl[@]}"
section 9d sec_warn "${d_warn[@]}"
section 5 sec_del "${d_del[@]}"
section 9a sec_ins "${d_ins[@]}"
section 6a sec_grp "${d_grp[@]}"
section 6b sec_rmmod "${d_rmmod[@]}"

[ "$nullb_loaded" = 1 ] && rmmod null_blk
if [ -n "$wedged" ]; then
	tap_diag "vqos is wedged ($wedged): its tasks stay stuck in the kernel." \
		"rmmod vqos runs in the background, so that later rmmods fail with EBUSY instead of hanging."
	[ "$loaded" = 1 ] && { rmmod vqos >/dev/null 2>&1 & }
else
	eval "exec ${VQOS_CTL[1]}>&-"
	rm -rf "$work"
	[ "$loaded" = 1 ] && vqos_unload vqos
fi
tap_done
