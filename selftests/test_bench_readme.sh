#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_bench_readme.sh - the README's benchmark table says only what
# bench/results/results.json holds: bench/report.py renders the table (and
# results.md) from results.json, and both must be exactly what is
# committed. A figure edited by hand, or a results.json replaced without
# running make bench's report step, fails. Also: the check itself notices
# a changed figure (on a copy of the README).
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

tap_plan 3
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
tap_done
