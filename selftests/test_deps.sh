#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_deps.sh - every tool a test, the demo or the benchmark looks for
# before it runs (and would skip without) is installed by `make deps`.
#
# The tools are read from the scripts themselves: "command -v NAME" and
# "for t in A B C; do" loops whose body asks "command -v $t", in
# selftests/, scripts/ and bench/ (not install-deps and this test, which
# look for apt-get, sudo and dpkg-query). For each one: it is installed here, and
# the Debian package that holds it is in scripts/install-deps's list, a
# direct dependency of one there, or an essential (Priority: required)
# package. A tool that no package holds, or a system without dpkg, fails:
# a fresh machine would skip (make check: fail) the cases that need it.
#
# Runs on the host: `make check` runs it before booting the VM and counts
# its cases into the summary (scripts/vm-check --host-tap).
# vqos-selftest-where: host
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
root=$(cd "$here/.." && pwd)

# The tools, one a line, with the first file that looks for each.
tools=$(awk '
	FNR == 1 { loop = "" }
	{
		line = $0
		while (match(line, /command -v "?[a-zA-Z0-9_.+-]+/)) {
			t = substr(line, RSTART + 11, RLENGTH - 11); sub(/^"/, "", t)
			if (!(t in seen)) { seen[t] = FILENAME; order[++n] = t }
			line = substr(line, RSTART + RLENGTH)
		}
		if (loop != "" && $0 ~ /command -v "?\$t/) {
			k = split(loop, w, " ")
			for (i = 1; i <= k; i++)
				if (w[i] ~ /^[a-zA-Z0-9_.+-]+$/ && !(w[i] in seen)) {
					seen[w[i]] = FILENAME; order[++n] = w[i]
				}
		}
		loop = ""
		if (match($0, /for t in [^;]*; do/))
			loop = substr($0, RSTART + 9, RLENGTH - 9 - 4)
	}
	END { for (i = 1; i <= n; i++) print order[i], seen[order[i]] }
' $(find "$root/selftests" "$root/scripts" "$root/bench" -maxdepth 1 -type f \
	\( -name '*.sh' -o -perm -u+x \) ! -name install-deps ! -name test_deps.sh |
	sort) | sed "s|$root/||")

# Packages install-deps installs: its pkgs=( ... ) array.
listed=$(sed -n '/^pkgs=(/,/)/p' "$root/scripts/install-deps" |
	sed 's/^pkgs=(//; s/)$//' | tr -s ' \t' '\n' | grep -v '^$')

n=$(grep -c . <<<"$tools")
tap_plan $((n + 1))

if [ -n "$listed" ] && grep -qx dmsetup <<<"$listed"; then
	tap_ok "scripts/install-deps lists $(grep -c . <<<"$listed") packages, dmsetup among them"
else
	tap_fail "scripts/install-deps lists its packages, dmsetup among them" \
		"read from scripts/install-deps: $(tr '\n' ' ' <<<"$listed")"
fi

have_dpkg=1
command -v dpkg-query >/dev/null || have_dpkg=0
# Allowed: the listed packages and their direct dependencies.
allowed=$'\n'$listed$'\n'
if [ "$have_dpkg" = 1 ]; then
	deps=$(dpkg-query -W -f='${Depends},${Pre-Depends}\n' $listed 2>/dev/null |
		tr ',|' '\n\n' | sed 's/^ *//; s/[ :(].*//' | grep -v '^$' | sort -u)
	allowed+=$deps$'\n'
fi

# owner PATH: the package that holds PATH (usr-merged paths tried both ways).
owner() {
	local p
	for p in "$1" "$(readlink -f "$1")" "${1#/usr}" "/usr${1}"; do
		dpkg-query -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 | grep . && return 0
	done
	return 1
}

while read -r t file; do
	desc="$t (looked for by $file) is installed by make deps"
	paths=$(type -aP "$t" 2>/dev/null)
	if [ -z "$paths" ]; then
		tap_fail "$desc" "$t is not installed here: run make deps"
		continue
	fi
	if [ "$have_dpkg" = 0 ]; then
		tap_fail "$desc" "no dpkg-query: cannot tell which package holds $t"
		continue
	fi
	ok= why=
	for p in $paths; do
		pkg=$(owner "$p") || { why="$why $p: no package holds it;"; continue; }
		prio=$(dpkg-query -W -f='${Priority}' "$pkg" 2>/dev/null)
		if [[ $allowed == *$'\n'$pkg$'\n'* ]] || [ "$prio" = required ]; then
			ok="$p from $pkg"
			break
		fi
		why="$why $p: from $pkg ($prio), not in scripts/install-deps;"
	done
	if [ -n "$ok" ]; then
		tap_ok "$desc ($ok)"
	else
		tap_fail "$desc" "${why# }"
	fi
done <<<"$tools"
tap_done
