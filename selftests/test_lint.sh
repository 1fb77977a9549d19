#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_lint.sh - `make lint` is clean, and each of its checkers can fail.
#
#   1-5  make lint: checkpatch, kernel-doc, sparse (SKIP without sparse) and
#        bash -n are each clean, and make lint exits 0;
#   6-7  a copy of a C file, in a temporary directory, with trailing
#        whitespace added fails lint-checkpatch (TRAILING_WHITESPACE), while
#        the unmodified copy passes (so the failure is the whitespace's);
#   8    the copy with one kernel-doc parameter line removed fails
#        lint-kernel-doc, naming the parameter;
#   9    a module assigning a host-order value to a __le32 fails lint-sparse
#        (SKIP without sparse);
#   10   a script with a syntax error fails lint-shell.
#
# The checkout is never modified: the bad files are copies in a temporary
# directory, handed to the lint-* targets through LINT_*_FILES/DIRS.
#
# Runs on the host: `make check` runs it before booting the VM and counts
# its cases into the summary (scripts/vm-check --host-tap), and run-all
# leaves it out in the VM, where every exec costs about a second and make
# lint took over ten minutes (25 s here). It needs the test kernel's tree
# (checkpatch.pl, kernel-doc, C=2), as make lint does; VQOS_KDIR picks
# another kernel tree.
# vqos-selftest-where: host
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"

cd "$VQOS_ROOT" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# KDIR from the environment (make check passes its own), else the
# Makefile's default, the test kernel.
mk=(make --no-print-directory -s)
[ -n "${VQOS_KDIR:-}" ] && mk+=("KDIR=$VQOS_KDIR")

tap_plan 10

descs=("make lint: checkpatch clean" "make lint: kernel-doc clean"
       "make lint: sparse clean" "make lint: bash -n clean" "make lint exits 0"
       "lint-checkpatch passes an unmodified copy of a C file"
       "lint-checkpatch fails on trailing whitespace"
       "lint-kernel-doc fails on an undescribed parameter"
       "lint-sparse fails on a host-order value in a __le32"
       "lint-shell fails on a syntax error")

have_sparse=1
command -v sparse >/dev/null || have_sparse=0

# --- make lint over the checkout --------------------------------------------
t0=$SECONDS
out=$("${mk[@]}" lint 2>&1)
rc=$?
tap_diag "make lint: exit $rc after $((SECONDS - t0)) s"

# part_ok TAG NAME: make lint ran the part (printed TAG) and it did not fail.
part_ok() {
	local desc=$1 tag=$2 name=$3
	if grep -q "^  $tag" <<<"$out" && ! grep -q "^lint: $name FAILED" <<<"$out"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "make lint printed:" "$out"
	fi
}
part_ok "${descs[0]}" CHECKPATCH checkpatch
part_ok "${descs[1]}" KERNEL-DOC kernel-doc
if [ "$have_sparse" = 0 ]; then
	tap_skip "${descs[2]}" "sparse is not installed (apt-get install sparse)"
else
	part_ok "${descs[2]}" SPARSE sparse
fi
part_ok "${descs[3]}" "BASH -n" "bash -n"
if [ $rc = 0 ] && grep -q '^lint: clean' <<<"$out"; then
	tap_ok "${descs[4]}"
else
	tap_fail "${descs[4]}" "exit $rc" "$(tail -n 20 <<<"$out")"
fi

# --- each checker fails on a bad file ---------------------------------------
# fails_with DESC PATTERN TARGET VAR=VALUE...: make TARGET fails and its
# output matches PATTERN.
fails_with() {
	local desc=$1 pat=$2 out rc
	shift 2
	out=$("${mk[@]}" "$@" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -q -- "$pat" <<<"$out"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "make $* exited $rc; expected a failure matching '$pat':" "$out"
	fi
}

src=kmod/vqos_tb.c
nolists=(LINT_KERNEL_FILES= LINT_BPF_FILES=)
cp "$src" "$tmp/clean.c"
tap_check "${descs[5]}" "${mk[@]}" lint-checkpatch "${nolists[@]}" \
	"LINT_KERNEL_FILES=$tmp/clean.c"

# A space after the first statement's semicolon.
sed '0,/;$/s/;$/; /' "$src" > "$tmp/trailing.c"
if cmp -s "$src" "$tmp/trailing.c"; then
	tap_fail "${descs[6]}" "could not add trailing whitespace to a copy of $src"
else
	fails_with "${descs[6]}" TRAILING_WHITESPACE lint-checkpatch "${nolists[@]}" \
		"LINT_KERNEL_FILES=$tmp/trailing.c"
fi

# Drop the first "@name: description" line of a kernel-doc comment.
param=$(grep -m1 -oE '^ \* @[a-z_]+:' "$src" | sed 's/^ \* @//; s/:$//')
sed "0,/^ \\* @$param: /{/^ \\* @$param: /d}" "$src" > "$tmp/kdoc.c"
if [ -z "$param" ] || cmp -s "$src" "$tmp/kdoc.c"; then
	tap_fail "${descs[7]}" "could not remove a kernel-doc parameter from a copy of $src"
else
	fails_with "${descs[7]}" "'$param' not described" lint-kernel-doc "${nolists[@]}" \
		"LINT_KERNEL_FILES=$tmp/kdoc.c"
fi

if [ "$have_sparse" = 0 ]; then
	tap_skip "${descs[8]}" "sparse is not installed (apt-get install sparse)"
else
	mkdir "$tmp/sparse"
	echo 'obj-m += vqos_lint_bad.o' > "$tmp/sparse/Kbuild"
	cat > "$tmp/sparse/vqos_lint_bad.c" <<-'EOF'
	// SPDX-License-Identifier: GPL-2.0
	#include <linux/module.h>

	static __le32 vqos_lint_le;

	static int __init vqos_lint_init(void)
	{
		vqos_lint_le = 1;
		return 0;
	}
	module_init(vqos_lint_init);
	MODULE_LICENSE("GPL");
	EOF
	fails_with "${descs[8]}" "vqos_lint_bad.c:8:.*warning: incorrect type" \
		lint-sparse "LINT_SPARSE_DIRS=$tmp/sparse"
fi

printf '#!/bin/bash\nif true; then\n\techo missing fi\n' > "$tmp/bad.sh"
fails_with "${descs[9]}" "bad.sh: bash -n failed" lint-shell "LINT_SHELL_FILES=$tmp/bad.sh"

tap_done
