# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# selftests/lib.sh - shared helpers for the vqos selftests. Source it from
# bash; it does not change shell options. Everything here runs inside the
# test VM (scripts/vm-run) as root.
#
#   guard:    vqos_require_vm
#   skips:    vqos_skips_load, vqos_skip_expected CASE REASON,
#             vqos_strict_skips (see selftests/expected-skips)
#   TAP:      tap_plan N, tap_ok DESC, tap_fail DESC [DETAIL...],
#             tap_skip DESC REASON, tap_check DESC CMD..., tap_diag LINE...,
#             tap_skip_rest REASON, tap_done (exit status for the script)
#   modules:  vqos_ko NAME, vqos_mod_loaded NAME, vqos_insmod PATH [PARAM...],
#             vqos_load NAME [PARAM...], vqos_unload NAME, vqos_unload_all
#   dmesg:    vqos_kmsg MSG, vqos_dmesg, vqos_dmesg_mark TEXT,
#             vqos_dmesg_since MARK, vqos_dmesg_scan [--no-exclude],
#             vqos_expect_splat_begin TOKEN, vqos_expect_splat_end
#   kmemleak: vqos_kmemleak_available, vqos_kmemleak_scan
#   waiting:  vqos_wait_grow FILE DELTA SECONDS, vqos_wait_for SECONDS CMD...

VQOS_ROOT=${VQOS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
VQOS_SELFTESTS=$VQOS_ROOT/selftests

# vqos_require_vm: refuse to run on a host (tests load modules, write to
# /dev/kmsg); VQOS_RUN_ON_HOST=1 overrides.
vqos_require_vm() {
	[ "${VQOS_IN_VM:-}" = 1 ] || [ "${VQOS_RUN_ON_HOST:-}" = 1 ] && return 0
	echo "$(basename "$0"): runs in the test VM: scripts/vm-run -- selftests/$(basename "$0")" >&2
	exit 2
}

# --- TAP ------------------------------------------------------------------

_tap_n=0
_tap_plan=
_tap_nfail=0

tap_plan() {
	_tap_plan=$1
	echo "1..$1"
}

tap_diag() {
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/# /'
	done
}

tap_ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n $1"
}

# tap_fail DESC [DETAIL...]: the details are printed as TAP diagnostics.
tap_fail() {
	local desc=$1
	shift
	_tap_n=$((_tap_n + 1))
	_tap_nfail=$((_tap_nfail + 1))
	echo "not ok $_tap_n $desc"
	[ $# -eq 0 ] || tap_diag "$@"
}

tap_skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n $1 # SKIP ${2:-}"
}

# tap_check DESC CMD...: one test case passing iff CMD succeeds; CMD's
# output is shown as diagnostics when it fails.
tap_check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_ok "$desc"
	else
		tap_fail "$desc" "command failed: $*" "$out"
	fi
}

# tap_skip_rest REASON [DESC...]: skip the rest of the plan (needs
# tap_plan), naming the skipped cases DESC... in order if given.
tap_skip_rest() {
	local reason=$1
	shift
	while [ -n "$_tap_plan" ] && [ "$_tap_n" -lt "$_tap_plan" ]; do
		tap_skip "${1:-test $((_tap_n + 1))}" "$reason"
		[ $# -gt 0 ] && shift
	done
}

# tap_done: end of a test script, `tap_done; exit $?` or `exit "$(tap_done)"`.
tap_done() {
	if [ -n "$_tap_plan" ] && [ "$_tap_n" != "$_tap_plan" ]; then
		echo "# planned $_tap_plan tests but ran $_tap_n"
		return 1
	fi
	[ "$_tap_nfail" = 0 ]
}

# --- expected skips ---------------------------------------------------------

# selftests/expected-skips: "CASE | REASON | why" globs of the skips a
# strict run (make check, CI=true) accepts; see that file.
VQOS_EXPECTED_SKIPS=${VQOS_EXPECTED_SKIPS:-$VQOS_SELFTESTS/expected-skips}
_vqos_skip_case=()
_vqos_skip_reason=()
_vqos_skips_loaded=

# vqos_skips_load: read the allow-list (builtins only). Fails, saying so,
# if the file cannot be read or has a malformed line.
vqos_skips_load() {
	local l c r w bad=0 n=0
	_vqos_skip_case=() _vqos_skip_reason=()
	if [ ! -r "$VQOS_EXPECTED_SKIPS" ]; then
		echo "expected skips: cannot read $VQOS_EXPECTED_SKIPS" >&2
		return 1
	fi
	while IFS= read -r l || [ -n "$l" ]; do
		n=$((n + 1))
		case $l in ''|'#'*) continue ;; esac
		c=${l%% | *} r=${l#* | }
		w=${r#* | } r=${r%% | *}
		if [ "$c" = "$l" ] || [ "$w" = "${l#* | }" ] || [ -z "$c" ] ||
		   [ -z "$r" ] || [ -z "$w" ]; then
			echo "expected skips: $VQOS_EXPECTED_SKIPS:$n: not 'CASE | REASON | why': $l" >&2
			bad=1
			continue
		fi
		_vqos_skip_case+=("$c") _vqos_skip_reason+=("$r")
	done < "$VQOS_EXPECTED_SKIPS"
	_vqos_skips_loaded=1
	return $bad
}

# vqos_skip_expected CASE REASON: the skip of CASE for REASON is on the
# allow-list.
vqos_skip_expected() {
	local i
	[ -n "$_vqos_skips_loaded" ] || vqos_skips_load 2>/dev/null
	for i in "${!_vqos_skip_case[@]}"; do
		# shellcheck disable=SC2053
		[[ $1 == ${_vqos_skip_case[$i]} && $2 == ${_vqos_skip_reason[$i]} ]] &&
			return 0
	done
	return 1
}

# vqos_strict_skips: should an unexpected skip fail? Yes under CI=true or
# VQOS_STRICT_SKIPS=1 (make check sets it), no with VQOS_STRICT_SKIPS=0.
vqos_strict_skips() {
	case ${VQOS_STRICT_SKIPS:-} in
	1) return 0 ;;
	0) return 1 ;;
	esac
	[ "${CI:-}" = true ]
}

# --- modules --------------------------------------------------------------

# Our modules, by module name, wherever the build put them.
_vqos_ko_dirs="kmod guest-driver kmod/tests guest-driver/tests selftests/modules"

# vqos_ko NAME: print the path of NAME.ko from this checkout, or fail.
# VQOS_KO_ROOT=DIR takes our modules from the checkout DIR instead (only
# from there), e.g. an old commit's build, to show that a new test fails
# on it: scripts/vm-run -- env VQOS_KO_ROOT=/work/old selftests/run-all T
vqos_ko() {
	local d f name=${1//-/_} root=${VQOS_KO_ROOT:-$VQOS_ROOT}
	for d in $_vqos_ko_dirs; do
		for f in "$root/$d/$name.ko" "$root/$d/${name//_/-}.ko"; do
			[ -f "$f" ] && { echo "$f"; return 0; }
		done
	done
	return 1
}

vqos_mod_loaded() {
	grep -q "^${1//-/_} " /proc/modules
}

# Modules loaded through vqos_insmod, in load order, for vqos_unload_all.
# A file rather than a variable, so that a load inside $(...) counts too.
_vqos_loaded_list=${TMPDIR:-/tmp}/.vqos-selftest-loaded.$$

# vqos_insmod PATH [PARAM...]: load a module file after its dependencies:
# ours from this checkout (same way), the kernel's with modprobe.
vqos_insmod() {
	local ko=$1 dep name
	shift
	name=$(modinfo -F name "$ko" 2>/dev/null) || name=
	[ -n "$name" ] || name=$(basename "$ko" .ko)
	name=${name//-/_}
	if vqos_mod_loaded "$name"; then
		echo "vqos_insmod: $name is already loaded" >&2
		return 1
	fi
	for dep in $(modinfo -F depends "$ko" 2>/dev/null | tr , ' '); do
		vqos_mod_loaded "$dep" && continue
		if vqos_ko "$dep" >/dev/null; then
			vqos_insmod "$(vqos_ko "$dep")" || return 1
		else
			modprobe "$dep" || return 1
		fi
	done
	insmod "$ko" "$@" || return 1
	echo "$name" >> "$_vqos_loaded_list"
}

# vqos_load NAME [PARAM...]: vqos_insmod by module name.
vqos_load() {
	local ko
	ko=$(vqos_ko "$1") || { echo "vqos_load: $1.ko is not built" >&2; return 1; }
	shift
	vqos_insmod "$ko" "$@"
}

vqos_unload() {
	rmmod "${1//-/_}"
}

# vqos_unload_all: unload what vqos_insmod loaded, newest first.
vqos_unload_all() {
	local name rc=0
	[ -f "$_vqos_loaded_list" ] || return 0
	for name in $(tac "$_vqos_loaded_list"); do
		if vqos_mod_loaded "$name"; then
			rmmod "$name" || rc=1
		fi
	done
	rm -f "$_vqos_loaded_list"
	return $rc
}

# --- waiting on conditions -----------------------------------------------

# vqos_wait_grow FILE DELTA SECONDS: wait (polling every 0.1 s, builtins
# only) until the number in FILE has grown by DELTA since the call, e.g.
# until a device has served requests of a fio started in the background,
# instead of sleeping a fixed time. Fails after SECONDS.
vqos_wait_grow() {
	local f=$1 want v0= v end=$((SECONDS + $3))
	read -r v0 < "$f" || return 1
	want=$((v0 + $2))
	while [ "$SECONDS" -lt "$end" ]; do
		read -r v < "$f" || return 1
		[ "$v" -ge "$want" ] && return 0
		sleep 0.1
	done
	echo "vqos_wait_grow: $f went from $v0 to ${v:-?} in $3 s, not by $2" >&2
	return 1
}

# vqos_wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds;
# fails after SECONDS.
vqos_wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# --- dmesg ----------------------------------------------------------------

# Writes to /dev/kmsg are rate limited unless printk.devkmsg=on (vm-run
# sets it); a lost marker would make a dmesg delta wrong. Only where the
# tests may change the kernel (the VM, or VQOS_RUN_ON_HOST=1): a script
# that runs on the host, like test_lint.sh, must leave it alone.
{ [ "${VQOS_IN_VM:-}" = 1 ] || [ "${VQOS_RUN_ON_HOST:-}" = 1 ]; } &&
	[ -w /proc/sys/kernel/printk_devkmsg ] &&
	[ "$(cat /proc/sys/kernel/printk_devkmsg)" != on ] &&
	echo on > /proc/sys/kernel/printk_devkmsg

# vqos_kmsg MSG: log MSG (prefixed "vqos-selftest: ") at KERN_INFO.
vqos_kmsg() {
	printf '<6>vqos-selftest: %s\n' "$*" > /dev/kmsg
}

# vqos_dmesg: the kernel log since boot, one "[ time] text" line per record.
vqos_dmesg() {
	dmesg --nopager --color=never
}

# vqos_dmesg_mark TEXT: log a unique marker line and print its id.
_vqos_mark_seq=0
vqos_dmesg_mark() {
	local id
	_vqos_mark_seq=$((_vqos_mark_seq + 1))
	id="$$.$_vqos_mark_seq.${EPOCHREALTIME/./}"
	vqos_kmsg "mark $id $*"
	echo "$id"
}

# vqos_dmesg_since ID: the kernel log after the marker ID.
vqos_dmesg_since() {
	vqos_dmesg | awk -v id="$1" 'found { print; next }
		index($0, "vqos-selftest: mark " id " ") || $0 ~ ("vqos-selftest: mark " id "$") { found = 1 }'
}

# What counts as a kernel splat, matched against the message text: the
# EREs of selftests/kmsg-splat.patterns, which the hostile harness reads
# too (exported, so that it finds the same file), joined into one. Read
# with builtins: an exec costs about a second in the test VM. Empty when
# the file cannot be read, and then vqos_dmesg_scan fails.
VQOS_SPLAT_PATTERNS=${VQOS_SPLAT_PATTERNS:-$VQOS_SELFTESTS/kmsg-splat.patterns}
export VQOS_SPLAT_PATTERNS
VQOS_SPLAT_RE=
while IFS= read -r _vqos_l || [ -n "$_vqos_l" ]; do
	case $_vqos_l in ''|'#'*) continue ;; esac
	VQOS_SPLAT_RE+="${VQOS_SPLAT_RE:+|}($_vqos_l)"
done 2>/dev/null < "$VQOS_SPLAT_PATTERNS"
unset _vqos_l

# vqos_dmesg_scan [--no-exclude] < LOG: print the splat lines of LOG (a
# vqos_dmesg excerpt) and return 1 if there are any, 0 if it is clean.
#
# Expected splats: a region opened by vqos_expect_splat_begin TOKEN and
# closed by vqos_expect_splat_end excludes the WARN/BUG blocks ("[ cut
# here ]" ... "---[ end trace") that mention TOKEN and lie inside it.
# Nothing else is excluded: another splat in the region, a splat without
# TOKEN, or a region that was never closed is still reported. --no-exclude
# ignores the regions.
vqos_dmesg_scan() {
	local exclude=1
	[ "${1:-}" = --no-exclude ] && exclude=0
	if [ -z "$VQOS_SPLAT_RE" ]; then
		echo "no splat patterns in $VQOS_SPLAT_PATTERNS: the kernel log cannot be checked"
		return 1
	fi
	# One awk, no temporary file: every exec costs in the test VM.
	VQOS_SPLAT_RE=$VQOS_SPLAT_RE awk -v exclude="$exclude" '
	BEGIN { re = ENVIRON["VQOS_SPLAT_RE"] }
	function text(l) { sub(/^\[ *[0-9]+\.[0-9]+\] /, "", l); return l }
	function flush_block(drop,   i) {
		for (i = 1; i <= nb; i++) {
			if (drop) excluded++
			else keep(block[i])
		}
		nb = 0; inblock = 0
	}
	function keep(l,   t) {
		n++; line[n] = l; t = text(l)
		if (t ~ /^vqos-selftest: /) lastmark = t
		if (t ~ re) { hits[++nh] = n; if (nh == 1) firstmark = lastmark }
	}
	{	# remember the lines and which regions were closed
		raw[++N] = $0
		t = text($0)
		if (t ~ /^vqos-selftest: expect-splat-end /) { split(t, f, " "); closed[f[3]] = 1 }
	}
	END {
		for (r = 1; r <= N; r++) {
			l = raw[r]; t = text(l)
			if (t ~ /^vqos-selftest: expect-splat-begin /) {
				split(t, f, " ")
				if (exclude && (f[3] in closed)) { region = f[3]; token = f[4] }
				keep(l); continue
			}
			if (t ~ /^vqos-selftest: expect-splat-end /) {
				if (inblock) flush_block(0)
				region = ""; keep(l); continue
			}
			if (region != "") {
				if (t ~ /-+\[ cut here \]-+/) { if (inblock) flush_block(0); inblock = 1; hastoken = 0 }
				if (inblock) {
					block[++nb] = l
					if (index(t, token)) hastoken = 1
					if (t ~ /---\[ end trace/) { flush_block(hastoken); hastoken = 0 }
					continue
				}
			}
			keep(l)
		}
		if (inblock) flush_block(0)
		if (excluded) printf "(ignored %d lines of expected splats)\n", excluded > "/dev/stderr"
		if (!nh) exit 0
		printf "%d suspicious kernel log line(s):\n", nh
		for (i = 1; i <= nh && i <= 30; i++) print "  " line[hits[i]]
		if (nh > 30) printf "  ... %d more\n", nh - 30
		if (firstmark != "") printf "first splat came after the log marker \"%s\"\n", firstmark
		printf "first splat in context:\n"
		for (i = hits[1] - 3; i <= n && i <= hits[1] + 40; i++) if (i >= 1) print "  " line[i]
		exit 1
	}'
}

# vqos_expect_splat_begin TOKEN ... vqos_expect_splat_end: a WARN/BUG block
# mentioning TOKEN logged in between is expected (see vqos_dmesg_scan).
# TOKEN must be a single word, e.g. the module name.
_vqos_splat_region=
vqos_expect_splat_begin() {
	_vqos_splat_region="$$.${EPOCHREALTIME/./}"
	vqos_kmsg "expect-splat-begin $_vqos_splat_region $1"
}
vqos_expect_splat_end() {
	[ -n "$_vqos_splat_region" ] || return 0
	vqos_kmsg "expect-splat-end $_vqos_splat_region"
	_vqos_splat_region=
}

# --- kmemleak -------------------------------------------------------------

VQOS_KMEMLEAK=/sys/kernel/debug/kmemleak

vqos_kmemleak_available() {
	[ -e "$VQOS_KMEMLEAK" ]
}

# vqos_kmemleak_scan: run a scan now and print the current suspects. Fails
# if kmemleak cannot scan (e.g. it disabled itself).
vqos_kmemleak_scan() {
	echo scan > "$VQOS_KMEMLEAK" 2>/dev/null || return 1
	cat "$VQOS_KMEMLEAK"
}
