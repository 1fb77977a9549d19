#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A careless or hostile operator (issue #8): garbage written to every
# attribute in /sys/bus/vdpa/devices/<dev>/vqos/ and qos/ and to the group
# files must be refused with an error and leave the value as it was, on a
# device being configured and on one that runs (where vqos/ refuses even
# valid values with EBUSY); the running disk must still read back what was
# written. The attribute lists below are complete: an attribute the module
# adds without a line here fails the coverage case.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

long4000=$(printf 'A%.0s' {1..4000})
long5000=$(printf '9%.0s' {1..5000})
# Refused by every numeric attribute (kstrtou32/u64 and the range checks).
num_garbage=(abc -1 -0x10 18446744073709551616 99999999999999999999999 1.5
	0x '1 2' ' 7' '\n' '\0' '\x01\xff\xfe' 1e3 '+-3' nan "$long4000"
	"$long5000")

# Attribute -> extra garbage, beyond num_garbage for numbers.
declare -A vqos_extra=(
	[offset]="1 511 33554432 -512"
	[size]="1 513 67108864"
	[num_queues]="0 17 4294967297"
	[queue_size]="0 1 3 2048 65536"
)
vqos_num=(offset size num_queues queue_size)
qos_num=(iops_limit iops_read_limit iops_write_limit iops_burst
	iops_burst_rate iops_one_time_burst bps_limit bps_read_limit
	bps_write_limit bps_burst bps_burst_rate bps_one_time_burst iops_size
	pool_reserve pool_weight latency_target_us)
ro_attrs=(vqos/id vqos/capacity vqos/direct_io qos/throttle_stats
	stats/requests stats/read_ops stats/write_ops stats/read_bytes
	stats/write_bytes stats/errors stats/io_errors stats/bounced
	stats/ring_errors stats/inflight stats/refused qos/pool)
bool_garbage=(abc -1 2 ' 1' '\n' x '\0' '\x01' "$long4000")
pers_garbage=(abc virtio VQOS virtio-blk2 -1 '\n' ' vqos' '\0' "$long4000")
backing_garbage=(abc -1 rel/path ' /tmp' /nonexistent/hx / /dev/null
	/proc/version /sys "/$long4000" "$long5000" '\x01')
cpus_garbage=(abc -1 9999 1-0 0- ',' '\n' '0-1:0/0' '\0' "$long4000")
group_garbage=(nonexistent a/b "$long4000" '\x01' "$long5000")
group_add_garbage=(a/b . .. '\x01\x02' 'a b' "$(printf 'g%.0s' {1..65})" '\n' "$long5000")
group_del_garbage=(nonexistent a/b '\n')

ncase_sets=2	# configuring, running
tap_plan $((2 + ncase_sets * (${#vqos_num[@]} + 5 + ${#qos_num[@]} + 1 + ${#ro_attrs[@]}) + 3 + 3 + 1))

ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; exit 0; }
tap_check "load vqos" vqos_insmod "$ko"
work=$(mktemp -d)
truncate -s 32M "$work/disk.img"
sys=$(vqos_sys hg0)
if vqos_dev_add hg0 backing="$work/disk.img" && echo hgg > /sys/devices/vqos/group_add; then
	tap_ok "device and group created"
else
	tap_fail "device and group created"
fi

# garbage [--probe PATH] FILE VALUE...: writes of each VALUE (printf %b:
# escapes allowed) must fail, and FILE (and PATH, a file or a directory
# listing) must read the same before and after.
garbage() {
	local f v before after bad=() shown probe=
	if [ "$1" = --probe ]; then
		probe=$2
		shift 2
	fi
	f=$1
	shift
	if [ ! -e "$f" ]; then
		echo "$f does not exist"
		return 1
	fi
	snap "$f" "$probe"
	before=$SNAP
	for v in "$@"; do
		shown=${v:0:40}
		[ ${#v} -gt 40 ] && shown="$shown... (${#v} bytes)"
		if printf '%b' "$v" 2>/dev/null > "$f"; then
			bad+=("accepted: '$shown'")
		fi
		snap "$f" "$probe"
		after=$SNAP
		if [ "$after" != "$before" ]; then
			bad+=("'$shown' changed the value from '$before' to '$after'")
			before=$after
		fi
	done
	[ ${#bad[@]} -eq 0 ] && return 0
	printf '%s\n' "${bad[@]}"
	return 1
}

# snap FILE [PROBE]: sets SNAP to FILE's content and PROBE's (a file, or
# a directory's entries). Builtins only, not even a subshell: an exec costs
# about a second in the check VM, and this runs for every value written.
snap() {
	local l e
	SNAP=
	while IFS= read -r l || [ -n "$l" ]; do
		SNAP+="$l"$'\n'
	done 2>/dev/null < "$1" || SNAP+="(unreadable)"$'\n'
	if [ -d "$2" ]; then
		for e in "$2"/*; do
			SNAP+="${e##*/}"$'\n'
		done
	elif [ -n "$2" ]; then
		SNAP+="$2: "
		while IFS= read -r l || [ -n "$l" ]; do
			SNAP+="$l"$'\n'
		done 2>/dev/null < "$2"
	fi
}

# all_attrs STATE [VALID...]: one case per attribute. While running, the
# valid values given per attribute must be refused too (EBUSY).
all_attrs() {
	local state=$1 a f extra busy
	for a in "${vqos_num[@]}"; do
		# shellcheck disable=SC2206
		extra=(${vqos_extra[$a]})
		busy=()
		[ "$state" = running ] && busy=(4 512 0)
		tap_check "$state: vqos/$a refuses garbage, keeps its value" \
			garbage "$sys/vqos/$a" "${num_garbage[@]}" "${extra[@]}" "${busy[@]}"
	done
	busy=()
	[ "$state" = running ] && busy=(1 y on)
	tap_check "$state: vqos/read_only refuses garbage, keeps its value" \
		garbage "$sys/vqos/read_only" "${bool_garbage[@]}" "${busy[@]}"
	busy=()
	[ "$state" = running ] && busy=(vqos)
	tap_check "$state: vqos/personality refuses garbage, keeps its value" \
		garbage "$sys/vqos/personality" "${pers_garbage[@]}" "${busy[@]}"
	if [ "$state" = running ]; then
		tap_check "$state: vqos/backing refuses garbage, keeps its value" \
			garbage --probe "$sys/vqos/capacity" "$sys/vqos/backing" \
			"${backing_garbage[@]}" "$work/disk.img" '\n'
	else
		tap_check "$state: vqos/backing refuses garbage, keeps its value" \
			garbage --probe "$sys/vqos/capacity" "$sys/vqos/backing" \
			"${backing_garbage[@]}"
		# Whatever happened, the rest runs with the disk attached.
		echo "$work/disk.img" > "$sys/vqos/backing"
	fi
	tap_check "$state: vqos/cpus refuses garbage, keeps its value" \
		garbage "$sys/vqos/cpus" "${cpus_garbage[@]}"
	tap_check "$state: qos/group refuses garbage, keeps its value" \
		garbage "$sys/qos/group" "${group_garbage[@]}"
	for a in "${qos_num[@]}"; do
		tap_check "$state: qos/$a refuses garbage, keeps its value" \
			garbage "$sys/qos/$a" "${num_garbage[@]}" 2199023255553
	done
	tap_check "$state: capacity unchanged" test "$(cat "$sys/vqos/capacity")" = 65536
	for f in "${ro_attrs[@]}"; do
		tap_check "$state: $f is read-only" garbage "$sys/$f" 1 0 abc
	done
}

all_attrs configuring

# Every attribute of vqos/ and qos/ is in the lists above.
listed=" ${vqos_num[*]} read_only personality backing cpus group ${qos_num[*]} "
for f in "${ro_attrs[@]}"; do listed="$listed${f#*/} "; done
missing=
for f in "$sys"/vqos/* "$sys"/qos/*; do
	case "$listed" in *" ${f##*/} "*) ;; *) missing="$missing ${f#"$sys"/}" ;; esac
done
tap_check "every attribute of vqos/ and qos/ is covered" test -z "$missing"
[ -z "$missing" ] || tap_diag "not covered:$missing"
tap_check "group_add refuses bad names" \
	garbage --probe /sys/devices/vqos/groups /sys/devices/vqos/group_add "${group_add_garbage[@]}"
for g in . ..; do
	echo "$g" > /sys/devices/vqos/group_del 2>/dev/null
done
tap_check "group_del refuses unknown names" \
	garbage --probe /sys/devices/vqos/groups /sys/devices/vqos/group_del "${group_del_garbage[@]}"

# The same on a running device with a disk, which must still work.
if vqos_dev_bind hg0 && disk=$(vqos_dev_disk hg0); then
	tap_ok "device runs as $disk"
else
	tap_fail "device runs"
fi
dd if=/dev/urandom of="$work/pattern" bs=1M count=4 status=none
dd if="$work/pattern" of="$disk" bs=1M oflag=direct status=none
all_attrs running
tap_check "disk reads back what was written before the garbage" \
	cmp -n $((4 << 20)) "$disk" "$work/pattern"
dd if=/dev/urandom of="$work/pattern" bs=1M count=4 status=none
dd if="$work/pattern" of="$disk" bs=1M seek=4 oflag=direct status=none
tap_check "disk still writes and reads back" \
	cmp -n $((4 << 20)) "$work/pattern" "$disk" 0 $((4 << 20))

vqos_dev_del hg0
echo hgg > /sys/devices/vqos/group_del
tap_check "unload vqos" vqos_unload_all
rm -rf "$work"
tap_done
