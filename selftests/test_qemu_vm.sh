#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_qemu_vm.sh - real VMs on vqos: QEMU (>= 8.0) hands vqos devices
# bound to vhost_vdpa to nested guests (L2) booted inside the test VM, with
# -device vhost-vdpa-device-pci, as an operator would (scripts/l2/lib.sh;
# the L2 kernel and virtio_vqos for it come from scripts/build-l2).
#
# First QEMU realizes each device without running a guest (seconds). Then
# two L2 boots and a reboot, shared by the cases (nested TCG is slow; the
# last line says what each step cost):
#   A  2 vCPUs, RAM as QEMU allocates it, on transparent huge pages (QEMU
#      madvises it; the test kernel has THP in madvise mode): a
#      vdpa_sim_blk disk (the control: if it fails too, the rig is broken,
#      not vqos), vqos "blk0" (virtio-blk personality, 4 queues) and, if
#      QEMU accepts it, "vq0" (vqos personality, served by virtio_vqos
#      built for L2; QEMU 10 aborts on its virtio ID, so those cases
#      skip with QEMU's message). Data both ways, zero-copy, QoS measured
#      inside L2 by l2io (scripts/l2/l2io.c, static: fio's 64 shared
#      libraries cost minutes per run in L2) and changed live, multiqueue,
#      vqos-lat and bpftool on the host, a guest reboot (QEMU resets the
#      devices), and kill -9 of QEMU with writes in flight: no splat,
#      nothing in flight, every page pin released (nr_foll_pin_*).
#   B  a new QEMU on blk0, RAM on 2 MiB hugetlbfs pages: it reads what A
#      wrote, zero-copy I/O; then vdpa dev del while it runs: the guest
#      must see an error, not a hang; once QEMU is gone the pages are free.
#
# Cost: an L2 boot takes 50-150 s in the debug test VM (2 cores, TCG
# inside TCG; the first boot is the slowest), and the whole test about
# 9 min (531 s on 8 Dec 2026: boots 132 s and 81 s, the reboot step 82 s;
# the last line lists every step). make check runs it; to leave it
# out of a local run, VQOS_QEMU_VM=0 (a visible SKIP, which make check's
# strict skips count as a failure). Alone:
#   make l2 && scripts/vm-run --timeout 2400 -- selftests/run-all test_qemu_vm
# vqos-selftest-timeout: 3600
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/vqos_dev.sh"
. "$VQOS_ROOT/scripts/l2/lib.sh"
vqos_require_vm

cases=(
	"QEMU realizes a virtio-blk personality device (vhost-vdpa-device-pci)"
	"QEMU realizes a vqos personality device (vhost-vdpa-device-pci)"
	"L2 boots on QEMU with its vhost-vdpa disks"
	"control: vdpa_sim_blk through vhost-vdpa is readable in L2"
	"virtio-blk personality: L2's virtio_blk sees blk0, its size and serial"
	"vqos personality: virtio_vqos built for L2 binds vq0"
	"vqos personality: L2's /sys/block/vqosN/qos/ shows the host's limits, and a live change"
	"virtio-blk: L2 writes and reads back (md5); the host's slice holds the same bytes; L2 reads what the host wrote"
	"vqos: L2 writes and reads back (md5); the host's slice holds the same bytes; L2 reads what the host wrote"
	"guest RAM on transparent huge pages, I/O zero-copy (nothing bounced)"
	"QoS in L2: iops_limit holds within 10 % over 10 s"
	"QoS in L2: a live change on the host takes effect"
	"multiqueue: num_queues 4, 2 vCPUs: L2 uses 2 queues, both carry I/O"
	"vqos-lat on the host counts L2's reads; bpftool map dump shows them"
	"guest reboot: QEMU resets the devices, L2 reads its data back"
	"kill -9 of QEMU with writes in flight: no splat, nothing in flight"
	"kill -9: every page pinned for the guest is released"
	"hugetlb: a new QEMU on blk0 boots with RAM on 2 MiB hugetlbfs pages"
	"the new guest reads what the killed one wrote"
	"hugetlb: L2 writes and reads back, the host sees L2's bytes, zero-copy"
	"vdpa dev del while the VM runs: L2 sees an I/O error within 60 s"
	"vdpa dev del completes once QEMU is gone; no splat, pages free, pins released"
)
tap_plan ${#cases[@]}
ncase=0
skip_to_end() {
	while [ "$ncase" -lt ${#cases[@]} ]; do
		tap_skip "${cases[$ncase]}" "$1"
		ncase=$((ncase + 1))
	done
}
skip() { tap_skip "${cases[$ncase]}" "$1"; ncase=$((ncase + 1)); }
ok() { tap_ok "${cases[$ncase]}${1:+ ($1)}"; ncase=$((ncase + 1)); }
nok() { local d=${cases[$ncase]}; ncase=$((ncase + 1)); tap_fail "$d" "$@"; }
check() {	# check STATUS OK-DETAIL FAIL-DETAIL...
	local st=$1 good=$2
	shift 2
	if [ "$st" = 0 ]; then ok "$good"; else nok "$@"; fi
}

# Wall time per step, for the line at the end.
timings=()
t_case=$SECONDS
lap() {
	timings+=("$1 $((SECONDS - t_case))s")
	t_case=$SECONDS
}

# --- prerequisites ------------------------------------------------------------
# A developer may leave the nested guests out of a quick local run.
if [ "${VQOS_QEMU_VM:-1}" = 0 ]; then
	skip_to_end "VQOS_QEMU_VM=0: nested VM tests left out"
	tap_done; exit $?
fi
missing=
qemu_ver=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
if [ -z "$qemu_ver" ]; then
	missing="qemu-system-x86_64 (make deps)"
elif [ "${qemu_ver%%.*}" -lt 8 ]; then
	missing="QEMU >= 8.0 for vhost-vdpa-device-pci, have $qemu_ver (make deps: bookworm-backports)"
fi
l2_env 2>/dev/null || missing="$missing${missing:+; }the L2 kernel (make l2)"
for f in "${VQOS_L2_KO:-}" "${VQOS_L2_VIRTIO_BLK:-}"; do
	[ -n "$f" ] && [ -f "$f" ] || missing="$missing${missing:+; }${f:-L2 modules} (make l2)"
done
ko=$(vqos_ko vqos) || missing="$missing${missing:+; }kmod/vqos.ko (make)"
[ -x "${VQOS_L2_IO:-}" ] || missing="$missing${missing:+; }build/l2/l2io (make l2)"
if [ -n "$missing" ]; then
	skip_to_end "missing: $missing"
	tap_done; exit $?
fi
tap_diag "QEMU $qemu_ver, L2 kernel $VQOS_L2_KERNEL"

work=$(mktemp -d)
L2_DIR=$work/l2
mkdir -p "$L2_DIR"
MiB=$((1 << 20))
del_pid=
nr_huge0=
cleanup() {
	l2_cleanup
	[ -n "$del_pid" ] && wait "$del_pid" 2>/dev/null
	"$VQOS_ROOT/bpf/vqos-lat" detach >/dev/null 2>&1
	echo 0 > /sys/kernel/tracing/events/vqos/vqos_req_complete/enable 2>/dev/null
	for d in blk0 vq0 sim0; do
		[ -e "/sys/bus/vdpa/devices/$d" ] && vdpa dev del "$d"
	done
	vqos_unload_all
	vqos_mod_loaded vdpa_sim_blk && rmmod vdpa_sim_blk
	[ -n "$nr_huge0" ] && echo "$nr_huge0" > /proc/sys/vm/nr_hugepages
	rm -rf "$work"
}
trap cleanup EXIT

# vhost-vdpa pins all of a guest's RAM, within RLIMIT_MEMLOCK (8 MiB by
# default: QEMU then fails every IOTLB update with "Bad address").
ulimit -l unlimited

# One backing file, two slices: blk0 at 1 MiB, vq0 at 80 MiB.
backing=$work/backing.img
truncate -s 160M "$backing"
blk0_off=$MiB vq0_off=$((80 * MiB)) slice=$((64 * MiB))
# L2 sees the test VM's /tmp as /mnt (scripts/l2/init).
l2work=/mnt/${work#/tmp/}
for p in host_blk guest_blk host_vq guest_vq guest_b; do
	head -c $((4 * MiB)) /dev/urandom > "$work/$p.pat"
done
md5() { md5sum < "$1" | cut -d' ' -f1; }
# slice_md5 OFFSET LEN: md5 of a range of the backing file.
slice_md5() {
	dd if="$backing" bs=64k skip=$(($1 / 65536)) count=$(($2 / 65536)) status=none | md5sum | cut -d' ' -f1
}
# host_write PATTERN OFFSET: the host writes a pattern into the backing file.
host_write() {
	dd if="$1" of="$backing" bs=64k seek=$(($2 / 65536)) conv=notrunc,fsync status=none
}

out=$( (vqos_insmod "$ko" && modprobe vdpa_sim_blk) 2>&1) || {
	skip_to_end "cannot load vqos and vdpa_sim_blk: $out"
	tap_done; exit $?
}
echo 0 > /sys/bus/vdpa/drivers_autoprobe
setup_err=
vqos_dev_add blk0 backing="$backing" offset=$blk0_off size=$slice \
	personality=virtio-blk num_queues=4 || setup_err="$setup_err blk0"
vqos_dev_add vq0 backing="$backing" offset=$vq0_off size=$slice \
	personality=vqos num_queues=1 || setup_err="$setup_err vq0"
vdpa dev add mgmtdev vdpasim_blk name sim0 || setup_err="$setup_err sim0"
# The limits vq0's guest must see, set before anything binds.
qv=/sys/bus/vdpa/devices/vq0/qos
qb=/sys/bus/vdpa/devices/blk0/qos
{ echo 100000 > $qv/iops_limit && echo 400000000 > $qv/bps_limit; } || setup_err="$setup_err vq0-limits"
for d in blk0 vq0 sim0; do
	vqos_dev_bind $d vhost_vdpa || setup_err="$setup_err bind-$d"
done
v_blk0=$(vqos_dev_vhost blk0) v_vq0=$(vqos_dev_vhost vq0) v_sim0=$(vqos_dev_vhost sim0) ||
	setup_err="$setup_err vhost-nodes"
if [ -n "$setup_err" ]; then
	skip_to_end "device setup failed:$setup_err"
	tap_done; exit $?
fi
tap_diag "blk0 $v_blk0, vq0 $v_vq0, sim0 $v_sim0"
host_write "$work/host_blk.pat" $((blk0_off + 8 * MiB))
host_write "$work/host_vq.pat" $((vq0_off + 8 * MiB))
lap setup

# l2 NAME TIMEOUT CMD: l2_cmd, the output in $o. No $(...) around it: the
# console's state lives in this shell.
o=
l2() {
	local rc
	l2_cmd "$1" "$2" "$3"
	rc=$?
	o=$L2_OUT
	return $rc
}
first() { echo "${o%%$'\n'*}"; }

# find_disks GUEST: load virtio_blk in L2, set d_blk0 and d_sim0 (by
# serial: vqos answers with the vdpa device name).
find_disks() {
	d_blk0= d_sim0= disks=
	l2_disks "$1" 120 || return 1
	disks=$L2_OUT
	d_blk0=$(awk '$3 == "blk0" { print "/dev/" $1 }' <<<"$disks")
	d_sim0=$(awk '$3 != "blk0" { print "/dev/" $1; exit }' <<<"$disks")
}
# find_vqos GUEST: load virtio_vqos in L2, set d_vq0.
find_vqos() {
	d_vq0=
	l2 "$1" 120 "insmod $VQOS_L2_KO && for i in \$(seq 20); do
			ls -d /sys/block/vqos* 2>/dev/null && break; sleep 1; done" || return 1
	d_vq0=$(tail -n 1 <<<"$o")
	d_vq0=/dev/${d_vq0##*/}
}

# io GUEST ARGS...: l2io (static: fio's shared libraries cost minutes to
# load in L2) with ARGS, in L2.
io() { local g=$1; shift; l2 "$g" 600 "$VQOS_L2_IO $*"; }

# data_both_ways GUEST DISK NAME SLICE_OFFSET [HOST]: L2 writes
# guest_NAME.pat at 16 MiB of the disk and reads it back (O_DIRECT both
# ways), the host finds it in its slice; L2 reads host_HOST.pat (default
# NAME: the host wrote it at 8 MiB before the first boot). The verdict in $R.
data_both_ways() {
	local g=$1 disk=$2 n=$3 off=$4 h=${5:-$3} want got back
	l2 "$g" 300 "dd if=$l2work/guest_$n.pat of=$disk bs=64k seek=256 oflag=direct 2>/dev/null && sync &&
		dd if=$disk bs=64k skip=256 count=64 iflag=direct 2>/dev/null | md5sum" ||
		{ R="L2 write failed: $o"; return 1; }
	want=$(md5 "$work/guest_$n.pat")
	back=${o%% *}
	[ "$want" = "$back" ] || { R="L2 wrote $want at 16 MiB, reads back '$back'"; return 1; }
	got=$(slice_md5 $((off + 16 * MiB)) $((4 * MiB)))
	[ "$want" = "$got" ] || { R="host reads $got at 16 MiB of the slice, L2 wrote $want"; return 1; }
	l2 "$g" 300 "dd if=$disk bs=64k skip=128 count=64 iflag=direct 2>/dev/null | md5sum" ||
		{ R="L2 read failed: $o"; return 1; }
	want=$(md5 "$work/host_$h.pat")
	got=${o%% *}
	[ "$want" = "$got" ] || { R="L2 reads $got at 8 MiB, the host wrote $want"; return 1; }
	R="4 MiB each way, md5 $back (L2 to host), $got (host to L2)"
}

# ============================ QEMU realizes them ==============================
l2_realize "$v_blk0"
check $? "" "QEMU: $L2_OUT"
# QEMU's virtio-pci gives a device the PCI IDs of the virtio device IDs
# it knows, and aborts on any other ("Invalid virtio device"): vqos's own
# ID is not among them. That is QEMU's limit, not a vqos fault: the vqos
# personality's cases are skipped, visibly, with QEMU's words.
vq_skip=
if l2_realize "$v_vq0"; then
	ok
	vq_ok=1
else
	vq_ok=0
	if [[ $L2_OUT == *"Invalid virtio device"* ]]; then
		vq_skip="QEMU $qemu_ver's vhost-vdpa-device-pci aborts on the vqos personality's virtio ID 0xfff1 ($(grep -o 'Invalid virtio device[^)]*)' <<<"$L2_OUT" | head -n 1))"
		skip "$vq_skip"
	else
		nok "QEMU: $L2_OUT"
	fi
fi
lap realize

# ================================ boot A =====================================
pins0=$(awk '/^nr_foll_pin_acquired/ { a = $2 } /^nr_foll_pin_released/ { r = $2 } END { print a - r }' /proc/vmstat)
devs=(--vdpa "$v_sim0" --vdpa "$v_blk0")
[ $vq_ok = 1 ] && devs+=(--vdpa "$v_vq0")
boot_a=0
if l2_start a --smp 2 "${devs[@]}" --timeout 600; then
	ok "QEMU $qemu_ver, boot ${L2_BOOT_S}s"
	boot_a=1
else
	nok "$(l2_diag a)" "$(vqos_dmesg | tail -n 30)"
fi
lap "boot-A(${L2_BOOT_S:-?}s)"
tap_diag "QEMU command line: $(cat "$L2_DIR/a/cmdline")"

d_blk0= d_sim0= d_vq0=
if [ $boot_a = 1 ] && find_disks a; then
	tap_diag "L2 disks (name sectors serial):" "$disks"
fi
if [ -n "$d_sim0" ] && l2 a 120 "dd if=$d_sim0 bs=4k count=64 iflag=direct 2>/dev/null | wc -c" &&
   [ "$(first)" = 262144 ]; then
	ok "$d_sim0"
else
	nok "no readable vdpa_sim_blk disk in L2 ('$d_sim0'): $o" "disks: $disks"
fi
if [ -n "$d_blk0" ] && grep -q "^${d_blk0#/dev/} $((slice / 512)) blk0$" <<<"$disks"; then
	ok "$d_blk0, $((slice / 512)) sectors"
else
	nok "blk0 is not a $((slice / 512))-sector virtio_blk disk with serial blk0 in L2" "disks: $disks"
fi
lap disks

# vqos personality: the guest sees the host's limits, and a live change.
if [ -n "$vq_skip" ]; then
	skip "$vq_skip"; skip "$vq_skip"
elif [ $vq_ok = 0 ]; then
	nok "QEMU rejected vq0 (above)"
	nok "QEMU rejected vq0 (above)"
elif [ $boot_a = 1 ] && find_vqos a; then
	ok "$d_vq0"
	qf=/sys/block/${d_vq0#/dev/}/qos
	l2 a 60 "cat $qf/iops_limit $qf/bps_limit"
	before=$(echo $o)
	echo 150000 > $qv/iops_limit
	l2 a 60 "cat $qf/iops_limit"
	after=$(first)
	echo 0 > $qv/iops_limit; echo 0 > $qv/bps_limit
	[ "$before" = "100000 400000000" ] && [ "$after" = 150000 ]
	check $? "iops_limit bps_limit $before, then iops_limit $after" \
		"L2 reads '$before' (host: 100000 400000000), after the change '$after' (host: 150000)"
else
	nok "insmod virtio_vqos, or no /sys/block/vqos* in L2: $o"
	nok "no vqos disk"
fi
lap vqos-personality

# data
b0=$(( $(vqos_stat blk0 bounced) + $(vqos_stat vq0 bounced) ))
for n in blk vq; do
	if [ "$n" = blk ]; then disk=$d_blk0 off=$blk0_off; else disk=$d_vq0 off=$vq0_off; fi
	if [ -z "$disk" ] && [ $n = vq ] && [ -n "$vq_skip" ]; then
		skip "$vq_skip"; continue
	elif [ -z "$disk" ]; then
		nok "no disk"; continue
	fi
	data_both_ways a "$disk" $n $off
	check $? "$R" "$R"
done
nb=$(( $(vqos_stat blk0 bounced) + $(vqos_stat vq0 bounced) - b0 ))
thp=0
if [ $boot_a = 1 ] && l2_alive a; then
	thp=$(awk '/^AnonHugePages:/ { print int($2 / 1024) }' "/proc/${_l2_pid[a]}/smaps_rollup" 2>/dev/null)
fi
[ "$nb" = 0 ] && [ -n "$d_blk0" ] && [ "${thp:-0}" -gt 0 ]
check $? "QEMU's AnonHugePages $thp MiB; 0 bounced on blk0${d_vq0:+ and vq0}" \
	"QEMU's AnonHugePages '$thp' MiB; $nb requests bounced${d_blk0:- (no disk)}"
lap data

# QoS measured inside L2, on blk0 (the limiter does not depend on the
# personality; vq0's guest view of it is checked above).
free_iops=
if [ -n "$d_blk0" ]; then
	io a read "$d_blk0" -s 32M -q 8 -t 5
	free_iops=$(awk '/^requests/ { printf "%d", $6 }' <<<"$o")
	tap_diag "blk0 unlimited: ${free_iops:-?} IOPS in L2 (4k randread QD8, 5 s; l2io: $(tr '\n' ' ' <<<"$o"))"
fi
if [ -n "$d_blk0" ] && [ "${free_iops:-0}" -ge 20 ] 2>/dev/null; then
	# A quarter of what it can do, so that the limit is what holds it;
	# then half, live, while l2io runs. At least 5 IOPS: 50 requests in
	# the 10 s measured, and means kept to a tenth (a slow host's L2 did
	# 35 IOPS unlimited: 8 and 17).
	lim=$((free_iops / 4)) lim2=$((free_iops / 2))
	echo $lim > $qb/iops_limit
	s0=$(vqos_stat blk0 read_ops)
	l2_send a "$VQOS_L2_IO read $d_blk0 -s 32M -q 8 -t 30 -l /tmp/q.log >/tmp/q.out 2>&1; \
		echo \$? > /tmp/q.rc" >/dev/null
	# The host times the change from the first request it serves.
	for _ in $(seq 600); do
		[ "$(vqos_stat blk0 read_ops)" != "$s0" ] && break
		_l2_sleep 0.1
	done
	_l2_sleep 14
	echo $lim2 > $qb/iops_limit
	l2 a 120 "while [ ! -e /tmp/q.rc ]; do sleep 1; done; cat /tmp/q.rc /tmp/q.log"
	rc=$(first)
	# 1 s samples: before the change, seconds 2-11; after it, 18-27
	read -r before after nb na < <(awk 'NR > 1 {
		s = $1
		if (s >= 2 && s <= 11) { b += $2; nb++ }
		if (s >= 18 && s <= 27) { a += $2; na++ }
	} END { printf "%.1f %.1f %d %d\n", nb ? b / nb : 0, na ? a / na : 0, nb, na }' <<<"$o")
	tap_diag "iops_limit $lim: L2 measured $before IOPS (mean of $nb 1 s samples);" \
		"changed to $lim2 at ~14 s: $after IOPS (mean of $na)"
	in10() { awk -v x="$1" -v l="$2" 'BEGIN { exit !(x >= l * 0.9 && x <= l * 1.1) }'; }
	in10 "$before" "$lim" && [ "$rc" = 0 ] && [ "$nb" -ge 8 ]
	check $? "$before IOPS at iops_limit $lim" "$before IOPS at iops_limit $lim (l2io status '$rc', $nb samples)"
	in10 "$after" "$lim2" && [ "$na" -ge 8 ]
	check $? "$after IOPS after the change to $lim2" "$after IOPS after the change to $lim2 ($na samples)"
	echo 0 > $qb/iops_limit
else
	nok "blk0 unusable or too slow in L2 (${free_iops:-?} IOPS unlimited)"
	nok "blk0 unusable or too slow"
fi
lap qos

# multiqueue: blk0 offers 4 queues; L2's virtio_blk uses one per vCPU.
if [ -n "$d_blk0" ]; then
	tr=/sys/kernel/tracing
	echo 0 > $tr/tracing_on; echo > $tr/trace
	echo 1 > $tr/events/vqos/vqos_req_complete/enable && echo 1 > $tr/tracing_on
	l2 a 600 "ls -1 /sys/block/${d_blk0#/dev/}/mq
		taskset -c 0 $VQOS_L2_IO read $d_blk0 -s 32M -q 4 -n 200 > /tmp/c0 2>&1 &
		taskset -c 1 $VQOS_L2_IO read $d_blk0 -s 32M -q 4 -n 200 > /tmp/c1 2>&1; r1=\$?
		wait \$!; r0=\$?; cat /tmp/c0 /tmp/c1; [ \$r0 = 0 ] && [ \$r1 = 0 ]"
	rc=$?
	echo 0 > $tr/tracing_on
	echo 0 > $tr/events/vqos/vqos_req_complete/enable
	nhw=$(grep -c '^[0-9][0-9]*$' <<<"$o")
	qids=$(grep -o 'qid=[0-9]*' $tr/trace | sort | uniq -c | tr -s ' \n' ' ')
	nq=$(grep -o 'qid=[0-9]*' $tr/trace | sort -u | wc -l)
	[ $rc = 0 ] && [ "$nhw" = 2 ] && [ "$nq" -ge 2 ]
	check $? "$nhw hardware queues; completions per queue on the host:$qids" \
		"L2 hardware queues: $nhw (want 2); completions per queue on the host:$qids; l2io: $o"
else
	nok "no blk0 disk"
fi
lap multiqueue

# vqos-lat: the host's histograms count the requests L2 made.
lat=$VQOS_ROOT/bpf/vqos-lat
if [ ! -x "$lat" ]; then
	tap_skip "${cases[$ncase]}" "bpf/vqos-lat is not built (make bpf)"; ncase=$((ncase + 1))
elif [ -n "$d_blk0" ] && "$lat" attach >/dev/null 2>"$work/lat.err"; then
	io a read "$d_blk0" -s 32M -q 4 -n 300
	nr=$(awk '/^requests/ { print $2 }' <<<"$o")
	n=$("$lat" report -j -d blk0 2>/dev/null |
		jq -r '.devices[] | select(.name == "blk0") | .ops.read.total.count' 2>/dev/null)
	nbt=$(bpftool -j map dump pinned /sys/fs/bpf/vqos/vqos_lat_hist 2>/dev/null |
		jq '[.[].formatted.values[].value | select(.op == 0 and .stage == 0) | .count] | add' 2>/dev/null)
	"$lat" detach >/dev/null 2>&1
	# l2io's reads, plus the few L2's block layer may make on its own
	want=${nr:-0}
	[ "$want" -ge 300 ] && [ "${n:-0}" -ge "$want" ] 2>/dev/null && [ "$n" -le $((want + 64)) ] &&
		[ "${nbt:-0}" -ge "$n" ] 2>/dev/null
	check $? "l2io in L2: $want reads; vqos-lat: $n; bpftool: $nbt" \
		"l2io in L2: '$nr' reads ($o); vqos-lat counted '$n', bpftool '$nbt'"
else
	nok "no blk0 disk, or vqos-lat attach failed: $(cat "$work/lat.err" 2>/dev/null)"
fi
lap vqos-lat

# reboot: the guest reboots, QEMU resets the devices and boots it again.
if [ $boot_a = 1 ] && l2_alive a && [ -n "$d_blk0" ]; then
	l2_send a "echo b > /proc/sysrq-trigger" >/dev/null
	if l2_wait_ready a 600; then
		rb=$L2_BOOT_S
		find_disks a
		sums="dd if=$d_blk0 bs=64k skip=256 count=64 iflag=direct 2>/dev/null | md5sum"
		want=$(md5 "$work/guest_blk.pat")
		if [ -n "$d_vq0" ] && find_vqos a; then
			sums="$sums; dd if=$d_vq0 bs=64k skip=256 count=64 iflag=direct 2>/dev/null | md5sum"
			want="$want $(md5 "$work/guest_vq.pat")"
		fi
		l2 a 300 "$sums"
		# md5sum's first field per non-empty line (L2's output may end
		# in an empty line).
		got=$(awk 'NF { printf "%s%s", sep, $1; sep = " " }' <<<"$o")
		[ "$got" = "$want" ]
		check $? "rebooted in ${rb}s, the data reads back" "after the reboot L2 reads '$got', want '$want'"
	else
		nok "L2 did not come back after the reboot" "$(l2_diag a)"
	fi
else
	nok "no guest or no disk"
fi
lap reboot

# kill -9 with writes in flight. What L2 wrote before (guest_blk.pat at 16
# MiB, completed) must survive for the next guest.
pins() { awk '/^nr_foll_pin_acquired/ { a = $2 } /^nr_foll_pin_released/ { r = $2 } END { print a - r }' /proc/vmstat; }
if [ $boot_a = 1 ] && l2_alive a && [ -n "$d_blk0" ]; then
	mark=$(vqos_dmesg_mark "qemu kill -9")
	w0=$(vqos_stat blk0 write_ops)
	l2_send a "$VQOS_L2_IO write $d_blk0 -o 48M -s 8M -b 16K -q 32 -t 600 >/dev/null 2>&1" >/dev/null
	for _ in $(seq 1200); do
		[ "$(vqos_stat blk0 write_ops)" -gt $((w0 + 50)) ] && break
		_l2_sleep 0.1
	done
	w1=$(vqos_stat blk0 write_ops) infl_before=$(vqos_stat blk0 inflight)
	l2_kill a
	# The fds close at exit: vhost-vdpa resets the devices, unmaps, unpins.
	for _ in $(seq 100); do
		[ "$(vqos_stat blk0 inflight)" = 0 ] && break
		_l2_sleep 0.1
	done
	infl=$(vqos_stat blk0 inflight)
	splat=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan)
	st=$?
	[ $st = 0 ] && [ "$infl" = 0 ] && [ "$w1" -gt $((w0 + 50)) ]
	check $? "$((w1 - w0)) writes, $infl_before in flight at the kill, 0 after" \
		"writes before the kill: $((w1 - w0)) (want > 50); in flight after it: $infl" "$splat"
	for _ in $(seq 50); do
		[ "$(pins)" = "$pins0" ] && break
		_l2_sleep 0.2
	done
	p=$(pins)
	[ "$p" = "$pins0" ]
	check $? "pinned pages: $pins0 before the guest, $p after" \
		"pinned pages (nr_foll_pin_acquired - released): $pins0 before the guest, $p after it"
else
	l2_kill a
	nok "no guest or no disk"; nok "no guest or no disk"
fi
lap kill-9

# ================================ boot B =====================================
# 2 MiB pages for L2's 256 MiB, and a few to spare.
nr_huge0=$(cat /proc/sys/vm/nr_hugepages)
echo $((nr_huge0 + 132)) > /proc/sys/vm/nr_hugepages
hfree0=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
boot_b=0
d_blk0=
if [ "$hfree0" -lt 128 ]; then
	nok "cannot reserve 128 huge pages (HugePages_Free $hfree0)"
elif l2_start b --mem 256M --hugetlb --vdpa "$v_blk0" --timeout 600; then
	hfree1=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
	boot_b=1
	ok "boot ${L2_BOOT_S}s, $((hfree0 - hfree1)) huge pages in use"
else
	nok "$(l2_diag b)"
fi
lap "boot-B(${L2_BOOT_S:-?}s)"

if [ $boot_b = 1 ] && find_disks b && [ -n "$d_blk0" ]; then
	l2 b 300 "dd if=$d_blk0 bs=64k skip=256 count=64 iflag=direct 2>/dev/null | md5sum"
	got=${o%% *}
	want=$(md5 "$work/guest_blk.pat")
	[ "$got" = "$want" ]
	check $? "md5 $got" "the new guest reads '$got', the killed one wrote $want"
	bb0=$(vqos_stat blk0 bounced)
	R=
	data_both_ways b "$d_blk0" b $blk0_off blk
	st=$?
	nb=$(( $(vqos_stat blk0 bounced) - bb0 ))
	[ $st = 0 ] && [ "$nb" = 0 ]
	check $? "$R; 0 bounced" "$R; $nb bounced"
else
	nok "no guest or no disk: $disks"; nok "no guest or no disk"
fi
lap hugetlb-data

# vdpa dev del while the guest runs and reads.
if [ $boot_b = 1 ] && [ -n "$d_blk0" ]; then
	mark=$(vqos_dmesg_mark "vdpa dev del under a VM")
	l2_send b "$VQOS_L2_IO read $d_blk0 -s 32M -q 4 -t 600 >/tmp/d.out 2>&1; echo \$? > /tmp/d.rc" >/dev/null
	r0=$(vqos_stat blk0 read_ops)
	for _ in $(seq 1200); do
		[ "$(vqos_stat blk0 read_ops)" != "$r0" ] && break
		_l2_sleep 0.1
	done
	t_del=$SECONDS
	( vdpa dev del blk0; echo $? > "$work/del.rc" ) > "$work/del.out" 2>&1 &
	del_pid=$!
	# The del fails L2's requests at once (IOERR): l2io's first I/O error
	# ends it with status 1. Any other status is not the error we want.
	seen=
	while [ $((SECONDS - t_del)) -lt 60 ]; do
		if l2 b 30 "cat /tmp/d.rc 2>/dev/null" && [ -n "$(first)" ]; then
			seen=$(first)
			break
		fi
		_l2_sleep 2
	done
	l2 b 30 "cat /tmp/d.out 2>/dev/null"
	d_out=$(tr '\n' ' ' <<<"$o" | cut -c1-200)
	if [ "$seen" = 1 ]; then
		ok "l2io ended on an I/O error $((SECONDS - t_del)) s after the del: $d_out"
	else
		nok "after $((SECONDS - t_del)) s l2io in L2 $([ -n "$seen" ] && echo "exited with status $seen, not 1 (I/O error)" || echo 'still runs');" \
			"l2io: $d_out; vdpa dev del is" \
			"$([ -e "$work/del.rc" ] && echo "done ($(cat "$work/del.rc"))" || echo 'still blocked')" \
			"L2 console: $(tail -n 5 "$L2_DIR/b/console.log")"
	fi
	l2_stop b
	for _ in $(seq 300); do
		[ -e "$work/del.rc" ] && break
		_l2_sleep 0.1
	done
	[ -e "$work/del.rc" ] && wait "$del_pid" 2>/dev/null && del_pid=
	splat=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan)
	st=$?
	for _ in $(seq 50); do
		[ "$(pins)" = "$pins0" ] && break
		_l2_sleep 0.2
	done
	p=$(pins) hfree2=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
	[ "$(cat "$work/del.rc" 2>/dev/null)" = 0 ] && [ ! -e /sys/bus/vdpa/devices/blk0 ] &&
		[ $st = 0 ] && [ "$p" = "$pins0" ] && [ "$hfree2" = "$hfree0" ]
	check $? "deleted $((SECONDS - t_del)) s after the request; HugePages_Free $hfree2; pins $p" \
		"vdpa dev del: status '$(cat "$work/del.rc" 2>/dev/null)': $(cat "$work/del.out")" \
		"HugePages_Free $hfree2 (want $hfree0), pinned pages $p (want $pins0)" "$splat"
else
	l2_stop b
	nok "no guest"; nok "no guest"
fi
echo "$nr_huge0" > /proc/sys/vm/nr_hugepages
lap vdpa-del

tap_diag "time per step: ${timings[*]}"
tap_done
