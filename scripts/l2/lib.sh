# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# scripts/l2/lib.sh - boot and drive nested guests (L2) with QEMU inside the
# test VM (L1). Source it from bash; scripts/l2-run is its command line.
#
#   l2_start NAME [OPTION...]   boot guest NAME, wait for its init
#       --smp N, --mem M        vCPUs (1), RAM (256M)
#       --vdpa DEV              a vhost-vdpa-device-pci on /dev/vhost-vdpa-N
#                               (repeatable; in order, as PCI slots 4...)
#       --hugetlb               guest RAM from a hugetlbfs memfd (2 MiB
#                               pages, which L1 must have reserved)
#       --qemu ARG              one more QEMU argument (repeatable)
#       --timeout S             for the boot (default 600)
#       --no-wait               start QEMU and return: boot several guests
#                               at once, then l2_wait_ready each
#   l2_cmd NAME TIMEOUT CMD     run CMD (one line of sh) in NAME; its output
#                               is in $L2_OUT, its status is returned (124:
#                               timeout, 125: QEMU gone, or it reported a
#                               vhost-vdpa failure the guest cannot survive)
#   l2_realize DEV              does QEMU accept /dev/vhost-vdpa-N as a
#                               vhost-vdpa-device-pci? (realizes it, runs no
#                               guest); QEMU's messages in $L2_OUT
#   l2_disks NAME TIMEOUT       load virtio_blk in NAME (in the background:
#                               a disk that does not answer must not hang the
#                               console) and wait for its disks; prints
#                               "vdX SECTORS SERIAL" lines into $L2_OUT
#   l2_wait_ready NAME TIMEOUT  after a reboot: wait for init again
#   l2_stop NAME                QEMU quits (SIGTERM: it resets and closes
#                               its devices), then SIGKILL after 30 s
#   l2_kill NAME                kill -9 QEMU
#   l2_alive NAME               is QEMU still running?
#   l2_cleanup                  stop every guest started here
#   l2_field PREFIX KEY TEXT    the number after KEY on TEXT's line that
#                               starts with PREFIX (l2io's output lines:
#                               "requests N seconds S iops I", "lat_us
#                               samples N p50 ...")
#
# L2 runs the kernel scripts/build-l2 built, with the test VM's / as its
# root, read-only over 9p (like the test VM on the host), and
# scripts/l2/init as PID 1, which runs commands from the serial console.
# Everything about guest NAME is in $L2_DIR/NAME/: cmdline (the QEMU command
# line), qemu.log (QEMU's stderr), console.log. $L2_BOOT_S is the last boot
# time, from QEMU's start to init's first prompt. $L2_APPEND adds kernel
# arguments (loglevel=8 shows the whole boot on the console).
#
# Written for the test VM, where every exec costs about a second: builtins
# only in the waiting loops.

L2_ROOT=${VQOS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
L2_DIR=${L2_DIR:-/tmp/vqos-l2}
L2_QEMU=${L2_QEMU:-qemu-system-x86_64}
declare -gA _l2_pid=() _l2_rd=() _l2_wr=() _l2_log=() _l2_seq=() _l2_part=()
L2_OUT=
L2_BOOT_S=

# l2_env: load build/l2/env (scripts/build-l2), or say what is missing.
l2_env() {
	if [ ! -f "$L2_ROOT/build/l2/env" ]; then
		echo "l2: no build/l2/env: run scripts/build-l2 (make l2) on the host" >&2
		return 1
	fi
	# shellcheck source=/dev/null
	. "$L2_ROOT/build/l2/env"
	[ -f "$VQOS_L2_KERNEL" ] || { echo "l2: no L2 kernel at $VQOS_L2_KERNEL" >&2; return 1; }
}

# _l2_sleep SECONDS: sleep without an exec.
_l2_sleep() {
	[ -n "${_l2_sleepfd:-}" ] || {
		mkdir -p "$L2_DIR"
		[ -p "$L2_DIR/.sleep" ] || mkfifo "$L2_DIR/.sleep"
		exec {_l2_sleepfd}<>"$L2_DIR/.sleep"
	}
	read -r -t "$1" -u "$_l2_sleepfd" _ || :
}

_l2_now() {	# milliseconds
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

l2_alive() {
	[ -n "${_l2_pid[$1]:-}" ] && kill -0 "${_l2_pid[$1]}" 2>/dev/null
}

# _l2_next NAME: the next complete console line of NAME in $_l2_line, or
# return 1 if there is none yet.
_l2_next() {
	local l
	if IFS= read -r -u "${_l2_rd[$1]}" l; then
		_l2_line=${_l2_part[$1]}$l
		_l2_part[$1]=
		_l2_line=${_l2_line%$'\r'}
		return 0
	fi
	_l2_part[$1]=${_l2_part[$1]}$l
	return 1
}

# _l2_wait NAME TIMEOUT PREFIX [COLLECT]: consume console lines until one
# starting with PREFIX ($_l2_line); with COLLECT=1, the lines before it go
# to $L2_OUT. 124 on timeout, 125 if QEMU exited.
_l2_wait() {
	local name=$1 deadline prefix=$3 collect=${4:-0}
	deadline=$(( $(_l2_now) + $2 * 1000 ))
	while :; do
		while _l2_next "$name"; do
			case "$_l2_line" in
			"$prefix"*) return 0 ;;
			esac
			[ "$collect" = 1 ] && L2_OUT+=$_l2_line$'\n'
		done
		# QEMU carries on after some errors that leave the guest
		# waiting forever: give up on those at once.
		if [ -s "$L2_DIR/$name/qemu.log" ]; then
			case "$(< "$L2_DIR/$name/qemu.log")" in
			*"unable to continue"*|*"start failed"*|*"map fail"*)
				return 125 ;;
			esac
		fi
		if ! l2_alive "$name"; then
			# its last words may still be in the pipe
			_l2_sleep 0.5
			while _l2_next "$name"; do
				case "$_l2_line" in "$prefix"*) return 0 ;; esac
				[ "$collect" = 1 ] && L2_OUT+=$_l2_line$'\n'
			done
			return 125
		fi
		[ "$(_l2_now)" -lt "$deadline" ] || return 124
		_l2_sleep 0.2
	done
}

l2_start() {
	local name=$1 smp=1 mem=256M hugetlb=0 timeout=600 nowait=0 d t0 rc i=0 v
	local -a vdpa=() extra=() args
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--smp) smp=$2; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		--vdpa) vdpa+=("$2"); shift 2 ;;
		--hugetlb) hugetlb=1; shift ;;
		--qemu) extra+=("$2"); shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--no-wait) nowait=1; shift ;;
		*) echo "l2_start: unknown option '$1'" >&2; return 2 ;;
		esac
	done
	l2_env || return 2
	l2_alive "$name" && { echo "l2_start: $name is running" >&2; return 2; }
	d=$L2_DIR/$name
	rm -rf "$d"
	mkdir -p "$d"
	mkfifo "$d/con.in" "$d/con.out"

	local append="console=ttyS0 loglevel=4 panic=-1 tsc=reliable pci=noacpi"
	append+=" root=/dev/root rootfstype=9p ro"
	append+=" rootflags=version=9p2000.L,trans=virtio,access=any,cache=loose,msize=262144"
	append+=" init=$L2_ROOT/scripts/l2/init${L2_APPEND:+ $L2_APPEND}"
	# No ERMS/FSRM: L2's kernel then copies and clears pages with 8-byte
	# moves, not "rep movsb", which TCG runs a byte at a time (as
	# scripts/vm-run does for the test VM).
	args=(-name "l2-$name" -nodefaults -no-user-config -display none
		-machine pc -accel tcg -cpu max,-erms,-fsrm -smp "$smp")
	if [ "$hugetlb" = 1 ]; then
		# share=on: vhost-vdpa pins the pages QEMU's own mapping
		# shows; a private mapping would copy on write.
		args+=(-m "$mem" -object "memory-backend-memfd,id=ram,size=$mem,hugetlb=on,hugetlbsize=2M,share=on"
			-machine memory-backend=ram)
	else
		args+=(-m "$mem")
	fi
	args+=(-kernel "$VQOS_L2_KERNEL" -append "$append"
		-chardev "pipe,id=con,path=$d/con" -serial chardev:con
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
		-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root,addr=3)
	for v in "${vdpa[@]}"; do
		args+=(-device "vhost-vdpa-device-pci,vhostdev=$v,addr=$((4 + i))")
		i=$((i + 1))
	done
	args+=("${extra[@]}")
	printf '%q ' "$L2_QEMU" "${args[@]}" > "$d/cmdline"
	echo >> "$d/cmdline"

	# The console: QEMU reads con.in and writes con.out; a subshell
	# drains con.out into console.log, which the waits read.
	: > "$d/console.log"
	exec {v}<>"$d/con.out"
	(
		while IFS= read -r l; do
			printf '%s\n' "$l"
		done <&"$v" >> "$d/console.log"
	) &
	_l2_log[$name]=$!
	exec {v}<&-
	exec {v}<>"$d/con.in"
	_l2_wr[$name]=$v
	exec {v}<"$d/console.log"
	_l2_rd[$name]=$v
	_l2_part[$name]=
	_l2_seq[$name]=0

	t0=$(_l2_now)
	"$L2_QEMU" "${args[@]}" </dev/null >"$d/qemu.log" 2>&1 &
	_l2_pid[$name]=$!
	[ "$nowait" = 1 ] && return 0
	_l2_wait "$name" "$timeout" "@@l2 ready"
	rc=$?
	L2_BOOT_S=$(( $(_l2_now) - t0 ))
	L2_BOOT_S=$((L2_BOOT_S / 1000)).$(printf '%03d' $((L2_BOOT_S % 1000)))
	[ $rc = 0 ] && return 0
	echo "l2_start: $name did not boot ($([ $rc = 124 ] && echo "timeout after ${timeout}s" || echo 'QEMU exited'))" >&2
	l2_diag "$name" >&2
	return $rc
}

# l2_wait_ready NAME TIMEOUT: wait for init's prompt (after a reboot).
l2_wait_ready() {
	local t0 rc
	t0=$(_l2_now)
	_l2_wait "$1" "$2" "@@l2 ready"
	rc=$?
	L2_BOOT_S=$(( $(_l2_now) - t0 ))
	L2_BOOT_S=$((L2_BOOT_S / 1000)).$(printf '%03d' $((L2_BOOT_S % 1000)))
	return $rc
}

# l2_send NAME CMD: send CMD, do not wait; prints its sequence number.
l2_send() {
	local name=$1 seq
	seq=$(( ${_l2_seq[$name]} + 1 ))
	_l2_seq[$name]=$seq
	printf '%s %s\n' "$seq" "${2//$'\n'/$'\036'}" >&"${_l2_wr[$name]}"
	echo "$seq"
}

l2_cmd() {
	local name=$1 timeout=$2 seq rc
	L2_OUT=
	seq=$(( ${_l2_seq[$name]} + 1 ))
	_l2_seq[$name]=$seq
	# One console line per command: newlines travel as RS (\036).
	printf '%s %s\n' "$seq" "${3//$'\n'/$'\036'}" >&"${_l2_wr[$name]}" || return 125
	_l2_wait "$name" "$timeout" "@@l2 begin $seq" || return $?
	_l2_wait "$name" "$timeout" "@@l2 done $seq " 1 || return $?
	rc=${_l2_line##* }
	return "$rc"
}

l2_realize() {
	l2_env || return 2
	L2_OUT=$(echo quit | "$L2_QEMU" -S -nodefaults -no-user-config -display none \
		-machine pc -accel tcg -m 64M -monitor stdio \
		-device "vhost-vdpa-device-pci,vhostdev=$1" 2>&1 >/dev/null)
}

l2_disks() {
	local name=$1 timeout=$2
	l2_cmd "$name" "$timeout" "[ -d /sys/module/virtio_blk ] || { insmod $VQOS_L2_VIRTIO_BLK & }
		n=0; want=\$(ls -d /sys/bus/virtio/devices/*/ 2>/dev/null | while read -r d; do
			[ \"\$(cat \$d/device)\" = 0x0002 ] && echo; done | wc -l)
		while [ \$n -lt $timeout ]; do
			have=\$(ls -d /sys/block/vd* 2>/dev/null | wc -l)
			[ \$have -ge \$want ] && break; sleep 1; n=\$((n + 1)); done
		for b in /sys/block/vd*; do [ -e \$b ] &&
			echo \"\${b##*/} \$(cat \$b/size) \$(timeout 10 cat \$b/serial 2>/dev/null)\"; done; true"
}

l2_field() {
	local l
	while IFS= read -r l; do
		[[ $l == "$1 "* ]] || continue
		[[ " $l " =~ \ $2\ ([0-9.]+)\  ]] && { echo "${BASH_REMATCH[1]}"; return 0; }
	done <<<"$3"
	return 1
}

# l2_diag NAME: QEMU's messages and the end of the console, for a failure.
l2_diag() {
	local d=$L2_DIR/$1
	echo "l2 $1: $(cat "$d/cmdline" 2>/dev/null)"
	[ -s "$d/qemu.log" ] && sed 's/^/l2 qemu: /' "$d/qemu.log" | tail -n 20
	tail -n 30 "$d/console.log" 2>/dev/null | sed 's/^/l2 console: /'
}

_l2_forget() {
	local name=$1 fd
	[ -n "${_l2_log[$name]:-}" ] && kill "${_l2_log[$name]}" 2>/dev/null
	fd=${_l2_wr[$name]:-}
	[ -n "$fd" ] && exec {fd}>&-
	fd=${_l2_rd[$name]:-}
	[ -n "$fd" ] && exec {fd}<&-
	unset "_l2_pid[$name]" "_l2_log[$name]" "_l2_wr[$name]" "_l2_rd[$name]"
}

# _l2_reap NAME S: wait up to S seconds for QEMU to exit.
_l2_reap() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		l2_alive "$1" || break
		_l2_sleep 0.2
	done
	! l2_alive "$1"
}

l2_stop() {
	local name=$1 rc=0
	if l2_alive "$name"; then
		kill -TERM "${_l2_pid[$name]}"
		if ! _l2_reap "$name" 30; then
			echo "l2_stop: $name: QEMU ignored SIGTERM for 30 s: SIGKILL" >&2
			kill -KILL "${_l2_pid[$name]}" 2>/dev/null
			rc=1
		fi
	fi
	[ -n "${_l2_pid[$name]:-}" ] && wait "${_l2_pid[$name]}" 2>/dev/null
	_l2_forget "$name"
	return $rc
}

l2_kill() {
	local name=$1
	l2_alive "$name" && kill -KILL "${_l2_pid[$name]}"
	[ -n "${_l2_pid[$name]:-}" ] && wait "${_l2_pid[$name]}" 2>/dev/null
	_l2_forget "$name"
}

l2_cleanup() {
	local n
	for n in "${!_l2_pid[@]}"; do
		l2_stop "$n"
	done
}
