#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_rig.sh - the rig explains what is missing instead of failing
# obscurely: scripts/vm-run without qemu-system-x86_64, scripts/build-kernel
# without Debian's kernel source, and make modules with a KDIR that is not
# a built kernel tree each exit non-zero with a message that names what to
# install or build. The tools are hidden with a PATH that lacks them.
#
# Runs on the host: `make check` runs it before booting the VM and counts
# its cases into the summary line (scripts/vm-check --host-tap).
# vqos-selftest-where: host
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(cd "$here/.." && pwd)

tap_plan 3
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# Enough of a system for the scripts to reach their checks, without qemu
# and without dpkg-query (so no linux-source-6.1 package is seen).
for t in bash sh dirname basename cat sed grep mkdir mktemp id uname \
	 readlink realpath head tail tr cut date nproc flock rm ls; do
	p=$(command -v "$t") && ln -s "$p" "$bin/$t"
done

# expect_msg RC PATTERN CMD...: CMD exits with RC and prints PATTERN.
expect_msg() {
	local rc=$1 pat=$2 out got
	shift 2
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" != "$rc" ] || ! grep -q -- "$pat" <<<"$out"; then
		echo "exit $got (want $rc), output:"
		echo "$out"
		return 1
	fi
}

tap_check "vm-run without qemu-system-x86_64 names the package" \
	expect_msg 2 "apt-get install qemu-system-x86" \
	env PATH="$bin" "$root/scripts/vm-run" -- true
tap_check "build-kernel without linux-source-6.1 names the package" \
	expect_msg 1 "apt-get install linux-source-6.1" \
	env PATH="$bin" "$root/scripts/build-kernel" --print-dir
tap_check "make modules with an unbuilt KDIR says how to build one" \
	expect_msg 2 "make kernel" make -s -C "$root" modules KDIR="$bin"
tap_done
