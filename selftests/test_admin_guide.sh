#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_admin_guide.sh - run Documentation/admin-guide.rst, as written.
#
# Every code block of the guide is preceded by an RST comment
# ".. vqos-test: run NAME" or ".. vqos-test: skip (REASON)"; a block
# without one fails the test, so that nothing enters the guide untested by
# accident. The "run" blocks are executed in order, in one bash (set -e,
# pipefail: a failing command fails its block), from the checkout, the way
# an operator pastes them: make install, modprobe, vdpa dev add and sysfs,
# the QoS profiles, I/O through virtio_vdpa with fio, vqos-lat and bpftool,
# vhost_vdpa, a QEMU guest on both disks, removal, make uninstall. After
# some blocks a check looks at what they did (the profile is what the block
# wrote and nothing else, the limit held requests, the histograms counted
# them, the guest read both disks through vqos, everything is gone after
# removal...), and a check whose block is missing from the guide fails.
#
# The test VM's root is read-only: /lib/modules, /usr/local and /var/lib get
# throw-away overlays for the duration, so that make install, modprobe and
# the backing file work at the guide's own paths. The QEMU guest's root disk
# (/var/lib/vqos/vm1-root.img) is the operator's; here it holds a boot
# sector only, selftests/guide-guest.S: the firmware (SeaBIOS) boots it,
# it reads the first sector of both vqos disks through the BIOS (SeaBIOS's
# virtio-blk driver on the rings QEMU handed to vqos), says on the serial
# console how that went, and halts. Runs in the test VM only.
# vqos-selftest-timeout: 1200
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
vqos_require_vm
cd "$VQOS_ROOT" || exit 1

guide=Documentation/admin-guide.rst
tmp=$(mktemp -d)
blocks=$tmp/blocks
mkdir "$blocks"

# --- parse the guide ------------------------------------------------------------
# For each code block, in order: a file NNN.txt with its text (indentation
# removed) and a line "NNN MODE NAME LINE" in the manifest, MODE being run,
# skip or unmarked; errors (a marker with no block) go to parse.err.
awk -v dir="$blocks" '
function flush() {
	if (inblk) { close(f); inblk = 0 }
}
/^\.\. vqos-test:/ {
	flush()
	if (pending != "") print "line " pline ": marker not followed by a code block" > (dir "/parse.err")
	pline = NR
	if (match($0, /^\.\. vqos-test: run [a-z0-9-]+ *$/)) {
		split($0, w, " "); pending = "run " w[4]
	} else if (match($0, /^\.\. vqos-test: skip \(.+\) *$/)) {
		pending = "skip -"
	} else {
		print "line " NR ": malformed marker: " $0 > (dir "/parse.err")
		pending = ""
	}
	next
}
/^\.\. code-block::/ {
	flush()
	n++; f = sprintf("%s/%03d.txt", dir, n)
	printf "%03d %s %d\n", n, (pending != "" ? pending : "unmarked -"), NR >> (dir "/manifest")
	pending = ""; inblk = 1; started = 0
	printf "" > f
	next
}
inblk {
	if ($0 ~ /^[^ ]/) { flush() }
	else {
		if (!started && $0 ~ /^ *$/) next
		started = 1
		print substr($0, 4) > f
		next
	}
}
END {
	flush()
	if (pending != "") print "line " pline ": marker not followed by a code block" > (dir "/parse.err")
}' "$guide"
touch "$blocks/manifest"
nrun=0 nskip=0 unmarked= dups=
declare -A seen=()
while read -r idx mode name line; do
	case $mode in
	run)	nrun=$((nrun + 1))
		[ -n "${seen[$name]:-}" ] && dups="$dups $name"
		seen[$name]=1 ;;
	skip)	nskip=$((nskip + 1)) ;;
	*)	unmarked="$unmarked code block at line $line has no vqos-test marker;" ;;
	esac
done < "$blocks/manifest"

# --- checks, run inside the guide's shell after the block of the same name ----
# Each prints "@@vqos-check ok|fail NAME [DETAIL]" lines. They see the
# guide's shell variables, and $__t0, the start of the block (s).
checks=(install load create gp3 io2 gp2 firecracker group try measure
	bpftool detach vm-bind vm-start live vm-stop remove uninstall)
__say() {	# __say ok|fail CHECK DETAIL...
	local r=$1 c=$2
	shift 2
	printf '@@vqos-check %s %s %s\n' "$r" "$c" "$*"
}
# Reads with builtins: every exec costs about a second in the test VM.
__sys() { local v=; read -r v < "/sys/bus/vdpa/devices/$1" 2>/dev/null; echo "$v"; }

__chk_install() {
	local m=/lib/modules/$(uname -r)/extra bad=
	[ -f "$m/kmod/vqos.ko" ] || bad="$bad no $m/kmod/vqos.ko;"
	[ -f "$m/guest-driver/virtio_vqos.ko" ] || bad="$bad no virtio_vqos.ko;"
	[ "$(modinfo -n vqos 2>/dev/null)" = "$m/kmod/vqos.ko" ] || bad="$bad modinfo -n vqos: $(modinfo -n vqos 2>&1);"
	[ -x /usr/local/bin/vqos-lat ] || bad="$bad no /usr/local/bin/vqos-lat;"
	[ -f /usr/local/include/linux/vqos.h ] || bad="$bad no /usr/local/include/linux/vqos.h;"
	[ -z "$bad" ] && __say ok install "installed where the guide says" || __say fail install "$bad"
}
__chk_load() {
	if [ -d /sys/module/vqos ] && [[ $(vdpa mgmtdev show) =~ (^|$'\n')([^ /]+/)?vqos: ]]; then
		__say ok load "vqos loaded by name, mgmtdev listed"
	else
		__say fail load "vqos not loaded or not listed: $(vdpa mgmtdev show 2>&1)"
	fi
}
__chk_create() {
	local n bad= cap size
	for n in vm1-disk0 vm1-disk1; do
		cap=$(__sys "$n/vqos/capacity") size=$(__sys "$n/vqos/size")
		[ -n "$cap" ] && [ "$cap" -gt 0 ] && [ $((cap * 512)) = "$size" ] ||
			bad="$bad $n: capacity '$cap' sectors for size '$size';"
		[ "$(__sys "$n/vqos/backing")" = /var/lib/vqos/vm1.img ] ||
			bad="$bad $n: backing '$(__sys "$n/vqos/backing")';"
		[ -e "/sys/bus/vdpa/devices/$n/driver" ] && bad="$bad $n is bound already;"
	done
	[ -z "$bad" ] && __say ok create "two unbound devices, one slice each" || __say fail create "$bad"
}
# A profile: after the block, every knob of vm1-disk0 is the last value the
# block wrote to it, and every other knob is 0 (the profile is complete).
__chk_profile() {
	local name=$1 k v want got bad= q=/sys/bus/vdpa/devices/vm1-disk0/qos
	local -A set=()
	while read -r k v; do
		set[$k]=$v
	done < "$__blocks/expect.$name"
	for k in iops_limit iops_read_limit iops_write_limit iops_burst \
		 iops_burst_rate iops_one_time_burst bps_limit bps_read_limit \
		 bps_write_limit bps_burst bps_burst_rate bps_one_time_burst iops_size; do
		want=${set[$k]:-0} got=
		read -r got < "$q/$k"
		[ "$got" = "$want" ] || bad="$bad $k=$got, expected $want;"
	done
	[ -z "$bad" ] && __say ok "$name" "every knob as the profile sets it" || __say fail "$name" "$bad"
}
__chk_gp3() { __chk_profile gp3; }
__chk_io2() { __chk_profile io2; }
__chk_gp2() { __chk_profile gp2; }
__chk_firecracker() { __chk_profile firecracker; }
__chk_group() {
	local g=/sys/devices/vqos/groups/vm1 bad= n
	local members lim=
	members=$(< "$g/members")
	for n in vm1-disk0 vm1-disk1; do
		[[ $'\n'$members$'\n' == *$'\n'$n$'\n'* ]] || bad="$bad $n not in members;"
		[ "$(__sys "$n/qos/group")" = vm1 ] || bad="$bad $n/qos/group is '$(__sys "$n/qos/group")';"
	done
	read -r lim < "$g/iops_limit"
	[ "${lim:-0}" -gt 0 ] || bad="$bad no group iops_limit;"
	[ -z "$bad" ] && __say ok group "both disks share vm1's limits" || __say fail group "$bad"
}
__chk_try() {
	local q=/sys/bus/vdpa/devices/vm1-disk0/qos ops held over lim el max
	local k v
	ops=$(__sys vm1-disk0/stats/read_ops)
	while read -r k v; do
		case $k in
		throttled_reqs) held=$v ;;
		over_iops_us) over=$v ;;
		esac
	done < "$q/throttle_stats"
	read -r lim < "$q/iops_limit"
	el=$(( (${EPOCHREALTIME/./} - ${__t0/./}) / 1000000 + 1 ))
	# Reads at the limit during the block, plus the partition scan at bind
	# time (before the limit) and the bucket.
	max=$(( lim * el * 11 / 10 + 64 ))
	if [ "${held:-0}" -gt 0 ] && [ "${over:-0}" -gt 0 ] && [ "${ops:-0}" -gt 0 ] &&
	   [ "$ops" -le "$max" ]; then
		__say ok try "$ops reads in ${el}s at iops_limit $lim, $held held, ${over}us over"
	else
		__say fail try "read_ops '$ops' (at most $max in ${el}s at $lim IOPS)," \
			"throttled_reqs '$held', over_iops_us '$over'"
	fi
}
__chk_measure() {
	local j total thr
	j=$(vqos-lat report -j -d vm1-disk0 2>&1)
	total=$(jq -r '.devices[] | select(.name == "vm1-disk0") | .ops.read.total.count' <<<"$j" 2>/dev/null)
	thr=$(jq -r '.devices[] | select(.name == "vm1-disk0") | .ops.read.throttle.count' <<<"$j" 2>/dev/null)
	if [ "${total:-0}" -gt 0 ] 2>/dev/null && [ "${thr:-0}" -gt 0 ] 2>/dev/null; then
		__say ok measure "vqos-lat: $total reads, $thr held"
	else
		__say fail measure "reads '$total', held '$thr' in:" "$j"
	fi
}
__chk_bpftool() {
	local n
	n=$(bpftool -j map dump pinned /sys/fs/bpf/vqos/vqos_lat_hist 2>/dev/null |
		jq '[.[].formatted.values[].value | select(.op == 0 and .stage == 0) | .count] | add' 2>/dev/null)
	if [ "${n:-0}" -gt 0 ] 2>/dev/null; then
		__say ok bpftool "bpftool reads $n requests in the read/total histograms"
	else
		__say fail bpftool "bpftool map dump: read/total count '$n'"
	fi
}
__chk_detach() {
	if [ ! -e /sys/fs/bpf/vqos ]; then
		__say ok detach "nothing pinned"
	else
		__say fail detach "still pinned: $(ls /sys/fs/bpf/vqos)"
	fi
}
__chk_vm-bind() {
	local n v bad=
	for n in vm1-disk0 vm1-disk1; do
		[ "$(basename "$(readlink "/sys/bus/vdpa/devices/$n/driver")")" = vhost_vdpa ] ||
			bad="$bad $n not bound to vhost_vdpa;"
		for v in /sys/bus/vdpa/devices/"$n"/vhost-vdpa-*; do
			[ -c "/dev/${v##*/}" ] || bad="$bad no /dev/${v##*/} for $n;"
		done
	done
	[ -z "$bad" ] && __say ok vm-bind "both disks are /dev/vhost-vdpa-N" || __say fail vm-bind "$bad"
	# vm-start's baseline: nothing reads the disks until the guest.
	__rd0=$(__sys vm1-disk0/stats/read_ops) __rd1=$(__sys vm1-disk1/stats/read_ops)
}
# QEMU runs, and its guest read both vqos disks: through vqos (each
# device's read_ops rose) and without error (the guest's console says
# "vqos-guide-guest: 81:00 82:00", the int 13h status of each read).
# Under nested TCG the firmware takes a while: up to 300 s.
__chk_vm-start() {
	local pid= r0= r1= con= up=0 want='vqos-guide-guest: 81:00 82:00'
	local end=$((${EPOCHREALTIME%.*} + 300))
	read -r pid < /run/vm1.pid 2>/dev/null
	__qpid=$pid
	while :; do
		[ -n "$pid" ] && [ -d "/proc/$pid" ] && up=1 || up=0
		con=
		[ -r /var/log/vm1.log ] && con=$(< /var/log/vm1.log)
		# After the console: vqos counts a read before its completion
		# reaches the guest, so a line seen means its reads are counted.
		r0=$(__sys vm1-disk0/stats/read_ops) r1=$(__sys vm1-disk1/stats/read_ops)
		# The guest is done once its line ends.
		[[ $con == *vqos-guide-guest:*$'\r'* ]] && break
		[ $up = 1 ] && [ "${EPOCHREALTIME%.*}" -lt $end ] || break
		sleep 1
	done
	if [ $up = 1 ] && [[ $con == *"$want"* ]] &&
	   [ "${r0:-0}" -gt "${__rd0:-0}" ] && [ "${r1:-0}" -gt "${__rd1:-0}" ]; then
		__say ok vm-start "QEMU $pid runs; its guest read disk0 $((r0 - __rd0))x, disk1 $((r1 - __rd1))x" \
			"through vqos, '$want' on its console after $((${EPOCHREALTIME%.*} - ${__t0%.*})) s"
	else
		__say fail vm-start "QEMU pid '$pid' $([ $up = 1 ] && echo runs || echo 'is gone');" \
			"reads through vqos: disk0 $((${r0:-0} - ${__rd0:-0})), disk1 $((${r1:-0} - ${__rd1:-0}));" \
			"ring_errors $(__sys vm1-disk0/stats/ring_errors) $(__sys vm1-disk1/stats/ring_errors);" \
			"console (want '$want'): '${con//[$'\r\n']/ }'"
	fi
}
# QEMU is gone (not only its pid file: that goes first), and with it
# everything the guest had in flight.
__chk_vm-stop() {
	local v bad= st=
	[ -e /run/vm1.pid ] && bad="$bad pid file left;"
	if [ -z "${__qpid:-}" ]; then
		bad="$bad no QEMU pid from vm-start;"
	elif [ -d "/proc/$__qpid" ]; then
		st=$(grep '^State:' "/proc/$__qpid/status" 2>/dev/null)
		bad="$bad QEMU $__qpid still there (${st:-gone meanwhile});"
	fi
	for v in /sys/bus/vdpa/devices/vm1-disk*/stats/inflight; do
		[ "$(< "$v")" = 0 ] || bad="$bad ${v#/sys/bus/vdpa/devices/}: $(< "$v");"
	done
	[ -z "$bad" ] && __say ok vm-stop "QEMU $__qpid gone after $((${EPOCHREALTIME%.*} - ${__t0%.*})) s, nothing in flight" ||
		__say fail vm-stop "$bad"
}
__chk_live() {
	local v
	v=$(__sys vm1-disk0/qos/iops_limit)
	[ "$v" = 6000 ] && __say ok live "limit changed while bound" || __say fail live "iops_limit is '$v'"
}
__chk_remove() {
	local bad=
	for n in vm1-disk0 vm1-disk1; do
		[ -e "/sys/bus/vdpa/devices/$n" ] && bad="$bad $n still exists;"
	done
	[ -d /sys/module/vqos ] && bad="$bad vqos still loaded;"
	[ -e /var/lib/vqos/vm1.img ] && bad="$bad backing file left;"
	[ -z "$bad" ] && __say ok remove "devices, group and module gone" || __say fail remove "$bad"
}
__chk_uninstall() {
	local bad= m=/lib/modules/$(uname -r)/extra
	[ -e "$m/kmod/vqos.ko" ] && bad="$bad vqos.ko left;"
	[ -e "$m/guest-driver/virtio_vqos.ko" ] && bad="$bad virtio_vqos.ko left;"
	modinfo vqos >/dev/null 2>&1 && bad="$bad modinfo still finds vqos;"
	[ -e /usr/local/bin/vqos-lat ] && bad="$bad vqos-lat left;"
	[ -e /usr/local/include/linux/vqos.h ] && bad="$bad vqos.h left;"
	[ -z "$bad" ] && __say ok uninstall "nothing left" || __say fail uninstall "$bad"
}

# --- the test ---------------------------------------------------------------------
tap_plan $((2 + nrun + ${#checks[@]}))

perr=
[ -f "$blocks/parse.err" ] && perr=$(< "$blocks/parse.err")
if [ -z "$unmarked$perr$dups" ] && [ "$nrun" -gt 0 ]; then
	tap_ok "every code block of the guide is marked run or skip ($nrun run, $nskip skipped)"
else
	tap_fail "every code block of the guide is marked run or skip" "$unmarked" "$perr" \
		${dups:+"duplicate names: $dups"} "$nrun run blocks"
fi

missing=
[ -x bpf/vqos-lat ] || missing="$missing bpf/vqos-lat (make bpf)"
vqos_ko vqos >/dev/null && vqos_ko virtio_vqos >/dev/null || missing="$missing modules (make)"
for t in vdpa fio jq bpftool as ld; do
	command -v $t >/dev/null || missing="$missing $t"
done
qv=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
[ "${qv:-0}" -ge 8 ] || missing="$missing QEMU>=8.0(make deps)"
if [ -n "$missing" ] || vqos_mod_loaded vqos; then
	tap_skip_rest "${missing:+missing:$missing}$(vqos_mod_loaded vqos && echo 'vqos is loaded already')"
	rm -rf "$tmp"
	tap_done; exit $?
fi

# Writable /lib/modules, /usr/local, /var/lib for the guide (tmpfs-backed
# overlays, gone at cleanup); the drivers_autoprobe setting is restored.
ovls=()
ovl_dir=$(mktemp -d /dev/shm/vqos-guide.XXXXXX)
autoprobe=$(cat /sys/bus/vdpa/drivers_autoprobe 2>/dev/null)
cleanup() {
	local d i
	vqos-lat detach >/dev/null 2>&1 || "$VQOS_ROOT/bpf/vqos-lat" detach >/dev/null 2>&1
	# The guide's guest, if a block failed before it was stopped: vdpa
	# dev del would wait for it.
	if [ -e /run/vm1.pid ]; then
		kill "$(cat /run/vm1.pid)" 2>/dev/null
		for i in $(seq 30); do [ -e /run/vm1.pid ] || break; sleep 1; done
		[ -e /run/vm1.pid ] && kill -9 "$(cat /run/vm1.pid)" 2>/dev/null && rm -f /run/vm1.pid
	fi
	rm -f /var/log/vm1.log
	for d in /sys/bus/vdpa/devices/*; do
		[ -d "$d/vqos" ] && vdpa dev del "${d##*/}" 2>/dev/null
	done
	for d in /sys/devices/vqos/groups/*; do
		[ -d "$d" ] && echo "${d##*/}" > /sys/devices/vqos/group_del 2>/dev/null
	done
	vqos_mod_loaded virtio_vqos && rmmod virtio_vqos
	vqos_mod_loaded vqos && rmmod vqos
	[ -n "$autoprobe" ] && echo "$autoprobe" > /sys/bus/vdpa/drivers_autoprobe
	for ((i = ${#ovls[@]} - 1; i >= 0; i--)); do
		umount "${ovls[$i]}" || return 1
	done
	ovls=()
	rm -rf "$ovl_dir" "$tmp"
}
trap cleanup EXIT
ovl_ok=1
for d in /lib/modules /usr/local /var/lib; do
	w=$ovl_dir/${d//\//_}
	mkdir -p "$w/upper" "$w/work"
	if mount -t overlay overlay -o "lowerdir=$d,upperdir=$w/upper,workdir=$w/work" "$d"; then
		ovls+=("$d")
	else
		ovl_ok=0
	fi
done
if [ $ovl_ok = 0 ]; then
	tap_skip_rest "cannot make /lib/modules, /usr/local and /var/lib writable"
	tap_done; exit $?
fi
# The guest's root disk (see the top): guide-guest.S's boot sector.
mkdir -p /var/lib/vqos
if ! out=$(as --32 -o "$tmp/guide-guest.o" "$here/guide-guest.S" 2>&1 &&
	   ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o /var/lib/vqos/vm1-root.img \
		"$tmp/guide-guest.o" 2>&1 && truncate -s 1M /var/lib/vqos/vm1-root.img); then
	tap_skip_rest "cannot build the guest's boot sector: $out"
	tap_done; exit $?
fi

# The profile blocks' writes, "KNOB VALUE" per line, for __chk_profile.
awk -v dir="$blocks" '$2 == "run" {
	f = dir "/" $1 ".txt"; out = dir "/expect." $3
	printf "" > out
	while ((getline l < f) > 0)
		if (match(l, /^[ \t]*echo[ \t]+[0-9]+[ \t]*>[ \t]*\$q\/[a-z_]+/)) {
			l = substr(l, RSTART, RLENGTH); sub(/^[ \t]*echo[ \t]+/, "", l)
			split(l, w, /[ \t]*>[ \t]*\$q\//); print w[2], w[1] > out
		}
	close(f); close(out)
}' "$blocks/manifest"

# The guide's shell: the run blocks in order, each between markers, then
# its check.
driver=$tmp/guide.sh
{
	echo 'set -eo pipefail'
	printf 'cd %q\n' "$VQOS_ROOT"
	printf '__blocks=%q\n' "$blocks"
	declare -f __say __sys __chk_profile
	for c in "${checks[@]}"; do
		declare -f "__chk_$c"
	done
	while read -r idx mode name line; do
		[ "$mode" = run ] || continue
		printf '__t0=$EPOCHREALTIME; echo "@@vqos-guide begin %s %s %s"\n' "$idx" "$name" "$line"
		printf '%s\n' "$(< "$blocks/$idx.txt")"
		printf '\necho "@@vqos-guide end %s"\n' "$idx"
		if declare -F "__chk_$name" >/dev/null; then
			printf '__chk_%s || true\n' "$name"
		fi
	done < "$blocks/manifest"
} > "$driver"

t0=$SECONDS
timeout -k 10 900 bash "$driver" > "$tmp/guide.out" 2>&1
rc=$?
tap_diag "the guide's $nrun run blocks: exit $rc after $((SECONDS - t0)) s"

# The results in one awk pass over the manifest and the guide's output:
# "R ok|fail|skip DESC|DETAIL" for each run block (it reached its end
# marker), then for each check (its block exists and the check passed),
# "D LINE" for diagnostics; turned into TAP with builtins only.
results=$(awk -v checks="${checks[*]}" -v rc=$rc '
FILENAME == ARGV[1] {
	if ($2 == "run") { nb++; idx[nb] = $1; nm[nb] = $3; ln[nb] = $4; has[$3] = 1 }
	next
}
/^@@vqos-guide begin / { cur = $3; nout[cur] = 0; next }
/^@@vqos-guide end / { done[$3] = 1; cur = ""; next }
/^@@vqos-check / {
	c = $3; res[c] = $2; d = $0; sub(/^@@vqos-check [a-z]+ [^ ]+ ?/, "", d); det[c] = d
	next
}
cur != "" { out[cur, ++nout[cur]] = $0 }
END {
	for (i = 1; i <= nb; i++) {
		b = idx[i]; desc = "guide block '\''" nm[i] "'\'' (line " ln[i] ") runs"
		if (dead != "") { print "R skip " desc "|block '\''" dead "'\'' failed"; continue }
		if (b in done) {
			print "R ok " desc
			for (j = 1; j <= nout[b] && j <= 25; j++) print "D   " out[b, j]
			if (nout[b] > 25) print "D   ... " nout[b] - 25 " more lines"
		} else {
			dead = nm[i]
			print "R fail " desc "|exit status " rc ", last output:"
			for (j = (nout[b] > 40 ? nout[b] - 39 : 1); j <= nout[b]; j++) print "D   " out[b, j]
		}
	}
	n = split(checks, ck, " ")
	for (i = 1; i <= n; i++) {
		c = ck[i]
		if (!(c in has)) print "R fail after '\''" c "'\''|the guide has no '\''.. vqos-test: run " c "'\'' block"
		else if (!(c in res)) print "R skip after '\''" c "'\''|block '\''" c "'\'' did not complete"
		else if (res[c] == "ok") print "R ok after '\''" c "'\'': " det[c]
		else print "R fail after '\''" c "'\''|" det[c]
	}
}' "$blocks/manifest" "$tmp/guide.out")
while IFS= read -r l; do
	case $l in
	"R ok "*) tap_ok "${l#R ok }" ;;
	"R skip "*) l=${l#R skip }; tap_skip "${l%%|*}" "${l#*|}" ;;
	"R fail "*) l=${l#R fail }; tap_fail "${l%%|*}"; printf '# %s\n' "${l#*|}" ;;
	"D "*) printf '# %s\n' "${l#D }" ;;
	esac
done <<<"$results"

# Nothing left behind (and no leftovers for the next test).
if cleanup 2>"$tmp.err"; then
	left=
	vqos_mod_loaded vqos && left="$left vqos loaded;"
	while read -r _ mnt fstype _; do
		case "$fstype:$mnt" in
		overlay:/lib/modules|overlay:/usr/lib/modules|overlay:/usr/local|overlay:/var/lib)
			left="$left $mnt overlay;" ;;
		esac
	done < /proc/mounts
	[ -z "$left" ] && tap_ok "cleanup: nothing left" || tap_fail "cleanup: nothing left" "$left"
else
	tap_fail "cleanup: nothing left" "$(cat "$tmp.err")"
fi
rm -f "$tmp.err"
trap - EXIT

tap_done
