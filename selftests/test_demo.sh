#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_demo.sh - a smoke test of `make demo`'s script (scripts/demo-vm):
# its short mode with phases of VQOS_DEMO_SMOKE_SECS (default 5) seconds
# instead of 15, three phases on a slow null_blk disk (50 ms x depth 4 =
# 80 IOPS), victim alone, with an unlimited aggressor, with the aggressor
# under a vqos iops_limit of half the disk. The long run, and the
# victim's latencies, belong to `make demo` (icount); the limiter's
# precision is test_qos.sh's. Checks what can really go wrong and stays
# true under TCG's noise (make check runs 2 vCPUs without icount):
#   - the demo runs to the end and prints a table of three phases whose
#     latencies and counts are numbers;
#   - the limited aggressor never exceeds the configured limit by more than
#     10 % and reaches at least 75 % of it (the limiter's long-run rate is
#     exact, but in a 2-vCPU debug-kernel VM without icount the aggressor
#     itself fell short: 35 of 40 IOPS in one check run; the
#     demo's short mode gives the bucket 200 ms of depth, as the default one
#     request at 40 IOPS loses every wake-up latency of the worker, see
#     scripts/demo-vm);
#   - the BPF histogram section shows the victim's requests (SKIP without
#     bpf/vqos-lat).
# The victim's latencies are shown as diagnostics, not asserted (see
# below).
# vqos-selftest-timeout: 600
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
vqos_require_vm

tap_plan 4
demo=$VQOS_ROOT/scripts/demo-vm
missing=
for t in fio jq vdpa; do
	command -v $t >/dev/null || missing="$missing $t"
done
vqos_ko vqos >/dev/null || missing="$missing kmod/vqos.ko"
if [ -n "$missing" ]; then
	tap_skip_rest "missing:$missing"
	tap_done
	exit $?
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
VQOS_DEMO_SECS=${VQOS_DEMO_SMOKE_SECS:-5} "$demo" --short --out "$tmp/out" > "$tmp/log" 2>&1
rc=$?
limit=$(jq -r '.limit_iops // 0' "$tmp/out/demo.json" 2>/dev/null)
[[ "$limit" =~ ^[0-9]+$ ]] || limit=0
while IFS= read -r l; do tap_diag "$l"; done < "$tmp/log"
if [ $rc = 0 ]; then
	tap_ok "demo-vm --short runs to the end"
else
	tap_fail "demo-vm --short runs to the end" "exit status $rc"
fi

# Table rows: "<phase> <label...> p50 p99 p99.9 samples aggressor-IOPS".
row() {	# row PHASE: the last five fields of phase PHASE's row
	awk -v p="$1" '$1 == p && NF >= 7 { print $(NF-4), $(NF-3), $(NF-2), $(NF-1), $NF; exit }' \
		"$tmp/out/demo.txt" 2>/dev/null
}
ok=1 why=
for p in 1 2 3; do
	read -r p50 p99 p999 n a <<<"$(row $p)"
	for v in "${p50:-}" "${p99:-}" "${p999:-}" "${n:-}"; do
		[[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
			{ ok=0; why="$why phase $p: '$v' is not a number;"; }
	done
	if [ "$p" != 1 ] && ! [[ "${a:-}" =~ ^[0-9]+$ ]]; then
		ok=0; why="$why phase $p: aggressor IOPS '${a:-}';"
	fi
	[ "${n:-0}" != 0 ] || { ok=0; why="$why phase $p: no samples;"; }
	eval "p99_$p=\${p99:-0} agg_$p=\${a:-0}"
done
if [ $ok = 1 ]; then
	tap_ok "the table has phases 1-3 with numeric p50/p99/p99.9/samples"
else
	tap_fail "the table has phases 1-3 with numeric p50/p99/p99.9/samples" "$why" \
		"$(cat "$tmp/out/demo.txt" 2>/dev/null)"
fi

# shellcheck disable=SC2154
if [ "$limit" -gt 0 ] && [ "$agg_3" -ge $((limit * 3 / 4)) ] &&
   [ "$agg_3" -le $((limit * 11 / 10)) ]; then
	tap_ok "aggressor under iops_limit $limit: $agg_3 IOPS, at most +10%, at least 75%"
else
	tap_fail "aggressor under iops_limit $limit: at most +10%, at least 75%" "achieved $agg_3 IOPS (limit from demo.json)"
fi

# The victim's latencies are reported, not asserted: in this VM (TCG, no
# icount, two vCPUs) their p99 over ~60 samples is emulation noise (the
# limited phase came out 1 ms above the unlimited one, and 71 ms above in
# another run). make demo and make bench measure them under icount.
# shellcheck disable=SC2154
tap_diag "victim p99: unlimited aggressor $p99_2 ms, limited $p99_3 ms"

if [ ! -x "$VQOS_ROOT/bpf/vqos-lat" ] || ! command -v bpftool >/dev/null; then
	tap_skip "BPF section shows the victim's histogram" "bpf/vqos-lat or bpftool missing"
elif grep -q 'victim .*read  *total  *[1-9]' "$tmp/log" &&
     grep -q '^    slot ' "$tmp/log"; then
	tap_ok "BPF section shows the victim's histogram"
else
	tap_fail "BPF section shows the victim's histogram" "no victim read/total row or slots in the output"
fi
tap_done
