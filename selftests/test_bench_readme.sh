#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_bench_readme.sh - the README's benchmark table says only what
# bench/results/results.json holds: bench/report.py renders the table (and
# results.md) from results.json, and both must be exactly what is
# committed. A figure edited by hand, or a results.json replaced without
# running make bench's report step, fails. Also: the check itself notices
# a changed figure (on a copy of the README). And bench/demo_vs_bench.py,
# which tells whether make demo agrees with results.json, on demo results
# made from results.json itself: its medians are all within, a ratio moved
# out of the spread is reported OUT and out of order, another phase length
# is not comparable.
#
# Runs on the host: `make check` runs it before booting the VM and counts
# its cases into the summary (scripts/vm-check --host-tap).
# vqos-selftest-where: host
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
root=$(cd "$here/.." && pwd)
report=$root/bench/report.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tap_plan 6
if ! command -v python3 >/dev/null; then
	tap_skip_rest "python3 is not installed (make deps)"
	tap_done; exit $?
fi

if out=$(python3 "$report" --readme "$root/README.md" --check 2>&1); then
	tap_ok "README's benchmark table, its L2 line and results.md are what results.json and l2.json give"
else
	tap_fail "README's benchmark table, its L2 line and results.md are what results.json and l2.json give" "$out"
fi

# The check must see a figure changed by hand: bump the first number in
# the table's first data row of a copy.
awk 'BEGIN { done = 0 }
	!done && /^\| vqos IOPS/ && match($0, /[0-9]+ \//) {
		n = substr($0, RSTART, RLENGTH - 2) + 1
		$0 = substr($0, 1, RSTART - 1) n " /" substr($0, RSTART + RLENGTH)
		done = 1
	}
	{ print }' "$root/README.md" > "$tmp/README.md"
if cmp -s "$root/README.md" "$tmp/README.md"; then
	tap_fail "the check fails on a hand-edited figure" "could not edit a copy of the table"
elif out=$(python3 "$report" --readme "$tmp/README.md" --check 2>&1); then
	tap_fail "the check fails on a hand-edited figure" "it passed:" "$out"
elif grep -q '^-| vqos IOPS' <<<"$out"; then
	tap_ok "the check fails on a hand-edited figure"
else
	tap_fail "the check fails on a hand-edited figure" "no diff of the edited row:" "$out"
fi

# Rewriting puts the generated table back.
if python3 "$report" --readme "$tmp/README.md" >/dev/null 2>&1 &&
   cmp -s "$root/README.md" "$tmp/README.md"; then
	tap_ok "bench/report.py --readme rewrites the table from results.json"
else
	tap_fail "bench/report.py --readme rewrites the table from results.json" \
		"$(diff "$root/README.md" "$tmp/README.md" | head -n 20)"
fi

# A demo.json with the bench's sizing and, per phase, its median ratios
# (and alone's p99/p99.9 at 2 ms, a fio bucket of 32.8 us: tolerance
# 0.016). $1: jq applied to the phases first.
vs=$root/bench/demo_vs_bench.py
fake_demo() {
	jq "(.config) as \$c | .pool.phases | to_entries | map({phase: .key,
		p99_over_alone: .value.p99_over_alone.median,
		p999_over_alone: .value.p999_over_alone.median,
		victim_p99_ms: (2 * .value.p99_over_alone.median),
		victim_p999_ms: (2 * .value.p999_over_alone.median)}) | $1
	| {flavour: \"perf\", completion_ns: (\$c.POOL_COMPLETION_NS | tonumber),
	   hw_queue_depth: (\$c.POOL_DEPTH | tonumber),
	   victim_iops: (\$c.POOL_VICTIM_IOPS | tonumber),
	   aggressor_qd: (\$c.POOL_AGG_QD | tonumber),
	   limit_iops: (\$c.POOL_STATIC | tonumber),
	   pool_reserve: (\$c.POOL_RESERVE | tonumber),
	   latency_target_us: (\$c.POOL_TARGET_US | tonumber),
	   phase_s: (\$c.POOL_SECS | tonumber), phases: .}" \
		"$root/bench/results/results.json"
}
n=$(jq '[.pool.phases | to_entries[] | select(.key != "alone")
	| .value.p99_over_alone, .value.p999_over_alone | select(. != null)]
	| length' "$root/bench/results/results.json" 2>/dev/null)
if ! fake_demo . > "$tmp/same.json" 2>"$tmp/err"; then
	tap_fail "demo_vs_bench: the bench's own medians are all within its spread" "$(cat "$tmp/err")"
elif out=$(python3 "$vs" "$tmp/same.json" 2>&1) &&
     grep -q "^demo vs make bench: $n of $n ratios within the bench's spread; p99.9 order as in the bench in \([0-9]*\) of \1 pairs" <<<"$out"; then
	tap_ok "demo_vs_bench: the bench's own medians are all within its spread ($n ratios)"
else
	tap_fail "demo_vs_bench: the bench's own medians are all within its spread" "$out"
fi

# The static cap's p99.9 ratio set to 10x alone, above every phase.
fake_demo 'map(if .phase == "static" then .p999_over_alone = 10 else . end)' > "$tmp/out.json"
if out=$(python3 "$vs" "$tmp/out.json" 2>&1) &&
   grep -q "^#* *static .*p99.9 x 10.00 vs .* OUT" <<<"$out" &&
   grep -q "^demo vs make bench: $((n - 1)) of $n ratios .*(not: .*static" <<<"$out"; then
	tap_ok "demo_vs_bench: a ratio out of the spread is OUT, and out of order"
else
	tap_fail "demo_vs_bench: a ratio out of the spread is OUT, and out of order" "$out"
fi

sed 's/"phase_s": *[0-9]*/"phase_s": 5/' "$tmp/same.json" > "$tmp/short.json"
out=$(python3 "$vs" "$tmp/short.json" 2>&1)
rc=$?
if [ "$rc" = 1 ] && grep -q "not comparable: phase_s 5 vs POOL_SECS" <<<"$out"; then
	tap_ok "demo_vs_bench: another phase length is not comparable"
else
	tap_fail "demo_vs_bench: another phase length is not comparable" "status $rc:" "$out"
fi
tap_done
