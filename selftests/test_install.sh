#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_install.sh - make install, make uninstall, dkms.conf and the kernel
# configuration check, the way an operator meets them.
#
#   - `make install DESTDIR=<stage>` into a staging root that holds the
#     test kernel's modules (symlinked, so that modprobe resolves vqos's
#     dependencies there): the modules land in extra/ and in modules.dep,
#     the KUnit suites do not; bpf/vqos-lat, its BPF object and the uapi
#     header land under /usr/local;
#   - `modprobe -d <stage>` resolves vqos and virtio_vqos by name, with the
#     kernel modules they need (--show-depends: nothing is loaded here;
#     test_install_load.sh loads them by name in the test VM);
#   - `make uninstall DESTDIR=<stage>` removes all of it;
#   - dkms.conf parses (bash -n, then sourced as DKMS does) and names both
#     modules where `make` puts them, with the version vqos.ko carries;
#   - `make modules` against a kernel tree lacking CONFIG_VDPA and
#     CONFIG_VHOST_RING stops before kbuild and names both; lacking only
#     CONFIG_VHOST_VDPA it warns and goes on; `make install` refuses
#     modules built for another kernel.
#
# Runs on the host: nothing here loads a module, and make costs tens of
# seconds in the test VM. `make check` runs it before booting the VM and
# counts its cases into the summary (scripts/vm-check --host-tap).
# VQOS_KDIR is the kernel tree the modules were built against (make check
# passes it; default: the Makefile's, the test kernel).
# vqos-selftest-where: host
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
cd "$VQOS_ROOT" || exit 1

tmp=$(mktemp -d)
stage=$tmp/stage
trap 'rm -rf "$tmp"' EXIT
mk=(make --no-print-directory)
[ -n "${VQOS_KDIR:-}" ] && mk+=("KDIR=$VQOS_KDIR")
# The kernel tree: VQOS_KDIR, else the Makefile's default, the test kernel.
kdir=${VQOS_KDIR:-$(scripts/build-kernel --print-dir 2>/dev/null)}
kver=$(cat "$kdir/include/config/kernel.release" 2>/dev/null)
VQOS_KDIR=$kdir

tap_plan 11

descs=("make install DESTDIR=<stage>"
       "modules staged in extra/ and in modules.dep, KUnit suites not"
       "uapi header staged in /usr/local/include/linux"
       "vqos-lat and its BPF object staged in /usr/local"
       "modprobe -d <stage> resolves vqos and virtio_vqos by name, with their dependencies"
       "make uninstall DESTDIR=<stage> removes everything it installed"
       "dkms.conf: bash -n"
       "dkms.conf: both modules, where make builds them, version of vqos.ko"
       "make modules: a kernel without CONFIG_VDPA/VHOST_RING is refused by name"
       "make modules: without CONFIG_VHOST_VDPA, a warning, and kbuild runs"
       "make install refuses modules built for another kernel")

if [ -z "$kver" ]; then
	tap_fail "${descs[0]}" "no kernel tree: VQOS_KDIR='${VQOS_KDIR:-}', kernel.release unreadable"
	tap_skip_rest "no kernel tree" "${descs[@]:1}"
	tap_done; exit $?
fi
if ! vqos_ko vqos >/dev/null || ! vqos_ko virtio_vqos >/dev/null; then
	tap_skip_rest "the modules are not built (make)" "${descs[@]}"
	tap_done; exit $?
fi

# --- staged install ------------------------------------------------------------
# A staging root as an image build would have it: the kernel's modules and
# indexes are there (here symlinks to the test kernel's, as installed for
# the VM, or to the installed kernel's for a KDIR of /lib/modules; depmod
# replaces the index files, not their targets).
mods=$kdir/modroot/lib/modules/$kver
[ -d "$mods" ] || mods=/lib/modules/$kver
mkdir -p "$stage/lib/modules"
if ! cp -as "$mods" "$stage/lib/modules/"; then
	tap_fail "${descs[0]}" "cannot populate a staging root from $mods"
	tap_skip_rest "no staging root" "${descs[@]:1}"
	tap_done; exit $?
fi
mdir=$stage/lib/modules/$kver

installed=0
if out=$("${mk[@]}" install "DESTDIR=$stage" 2>&1); then
	installed=1
	tap_ok "${descs[0]}"
else
	tap_fail "${descs[0]}" "$out"
fi

if [ $installed = 0 ]; then
	tap_skip_rest "make install failed" "${descs[@]:1}"
	tap_done; exit $?
fi

# Builtins where possible: every exec costs about a second in the test VM.
bad=
dep=$'\n'$(< "$mdir/modules.dep")
for f in extra/kmod/vqos.ko extra/guest-driver/virtio_vqos.ko; do
	[ -f "$mdir/$f" ] || bad="$bad; no $mdir/$f"
	[[ $dep == *$'\n'"$f:"* ]] || bad="$bad; $f not in modules.dep"
done
for f in "$mdir"/extra/*/*_test.ko*; do
	[ -e "$f" ] && bad="$bad; KUnit suite installed: $f"
done
if [ -z "$bad" ]; then
	tap_ok "${descs[1]}"
else
	tap_fail "${descs[1]}" "${bad#; }" "$(find "$mdir/extra")"
fi

tap_check "${descs[2]}" cmp uapi/linux/vqos.h "$stage/usr/local/include/linux/vqos.h"

if [ ! -x bpf/vqos-lat ]; then
	tap_skip "${descs[3]}" "bpf/vqos-lat is not built (make bpf)"
elif [ -x "$stage/usr/local/bin/vqos-lat" ] &&
     cmp -s bpf/vqos-lat "$stage/usr/local/bin/vqos-lat" &&
     cmp -s bpf/.output/vqos_lat.bpf.o "$stage/usr/local/lib/vqos/vqos_lat.bpf.o"; then
	tap_ok "${descs[3]}"
else
	tap_fail "${descs[3]}" "$(find "$stage/usr/local")"
fi

# --- resolved by name from the staging root -------------------------------
# modprobe --show-depends loads nothing: it prints the insmod lines it
# would run, the kernel's modules vqos needs first.
# Every module the built .ko depends on (none when the kernel has vDPA
# built in) must be resolved too.
bad=
for m in vqos virtio_vqos; do
	out=$(modprobe --show-depends -d "$stage" -S "$kver" "$m" 2>&1) ||
		bad="$bad; modprobe --show-depends $m: $out"
	[[ $out == *"insmod $mdir/extra/"*"/$m.ko"* ]] ||
		bad="$bad; $m does not resolve to $mdir/extra/.../$m.ko: $out"
	for dep in $(modinfo -F depends "$(vqos_ko "$m")" | tr , ' '); do
		# shellcheck disable=SC2053
		[[ $out == */${dep//_/[-_]}.ko* ]] ||
			bad="$bad; $m's dependency $dep is not resolved: $out"
	done
done
if [ -z "$bad" ]; then
	tap_ok "${descs[4]}"
else
	tap_fail "${descs[4]}" "${bad#; }"
fi

# --- uninstall ------------------------------------------------------------------
if ! out=$("${mk[@]}" uninstall "DESTDIR=$stage" 2>&1); then
	tap_fail "${descs[5]}" "make uninstall failed:" "$out"
else
	left=$(find "$mdir/extra" "$stage/usr/local" -type f 2>/dev/null)
	if [ -z "$left" ] && ! modinfo -b "$stage" -k "$kver" vqos >/dev/null 2>&1 &&
	   [[ $(< "$mdir/modules.dep") != *vqos* ]]; then
		tap_ok "${descs[5]}"
	else
		tap_fail "${descs[5]}" "left behind:" "$left" \
			"modinfo -b $stage vqos: $(modinfo -b "$stage" -k "$kver" -n vqos 2>&1)"
	fi
fi

# --- dkms.conf -------------------------------------------------------------------
tap_check "${descs[6]}" bash -n dkms.conf

# As DKMS reads it: sourced by bash with kernel_source_dir and friends set.
dkms_vars=$(
	kernelver=$kver kernel_source_dir=/lib/modules/$kver/build
	dkms_tree=/var/lib/dkms source_tree=/usr/src
	# shellcheck source=/dev/null
	. ./dkms.conf || exit 1
	printf 'name=%s\nversion=%s\nmake=%s\nautoinstall=%s\n' \
		"${PACKAGE_NAME:-}" "${PACKAGE_VERSION:-}" "${MAKE[0]:-}" "${AUTOINSTALL:-}"
	for i in "${!BUILT_MODULE_NAME[@]}"; do
		printf 'module=%s %s %s\n' "${BUILT_MODULE_NAME[$i]}" \
			"${BUILT_MODULE_LOCATION[$i]:-}" "${DEST_MODULE_LOCATION[$i]:-}"
	done
)
want_version=$(modinfo -F version "$(vqos_ko vqos)" 2>/dev/null)
# has LINE: dkms_vars has exactly this line.
has() { [[ $'\n'$dkms_vars$'\n' == *$'\n'"$1"$'\n'* ]]; }
bad=
has 'name=vqos' || bad="$bad; PACKAGE_NAME is not vqos"
has "version=$want_version" || bad="$bad; PACKAGE_VERSION is not vqos.ko's version '$want_version'"
has "make=make KDIR=/lib/modules/$kver/build modules" ||
	bad="$bad; MAKE[0] does not build with KDIR=\${kernel_source_dir}"
has 'autoinstall=yes' || bad="$bad; AUTOINSTALL is not yes"
nmod=0
while read -r key name loc dest; do
	[ "$key" = module ] || continue
	nmod=$((nmod + 1))
	[ -f "${loc%/}/$name.ko" ] || bad="$bad; $name: no ${loc%/}/$name.ko after make"
	[ "$dest" = /extra ] || bad="$bad; $name: DEST_MODULE_LOCATION '$dest', not /extra"
done <<<"${dkms_vars//module=/module }"
has 'module=vqos kmod/ /extra' || bad="$bad; no vqos in kmod/"
has 'module=virtio_vqos guest-driver/ /extra' || bad="$bad; no virtio_vqos in guest-driver/"
[ $nmod = 2 ] || bad="$bad; $nmod modules, expected 2"
if [ -z "$bad" ]; then
	tap_ok "${descs[7]}"
else
	tap_fail "${descs[7]}" "${bad#; }" "$dkms_vars"
fi

# --- kernel configuration check ----------------------------------------------
# fake_kdir DIR RELEASE OPTION...: a kernel "build tree" whose configuration
# is this kernel's without OPTION..., and whose kbuild only says it ran.
fake_kdir() {
	local d=$1 rel=$2 l o
	shift 2
	mkdir -p "$d/include/config"
	printf 'modules:\n\t@echo FAKE-KBUILD-RAN\n' > "$d/Makefile"
	: > "$d/Module.symvers"
	echo "$rel" > "$d/include/config/kernel.release"
	while IFS= read -r l; do
		for o in "$@"; do
			[[ $l == "$o="* ]] && continue 2
		done
		printf '%s\n' "$l"
	done < "$VQOS_KDIR/include/config/auto.conf" > "$d/include/config/auto.conf"
}

if [ ! -r "${VQOS_KDIR:-}/include/config/auto.conf" ]; then
	tap_skip "${descs[8]}" "no kernel configuration at ${VQOS_KDIR:-?}"
	tap_skip "${descs[9]}" "no kernel configuration at ${VQOS_KDIR:-?}"
else
	fake_kdir "$tmp/novdpa" "$kver" CONFIG_VDPA CONFIG_VHOST_RING
	out=$(make --no-print-directory modules "KDIR=$tmp/novdpa" 2>&1)
	rc=$?
	if [ $rc != 0 ] && [[ $out == *"CONFIG_VDPA "* && $out == *"CONFIG_VHOST_RING "* &&
	   $out != *FAKE-KBUILD-RAN* ]]; then
		tap_ok "${descs[8]}"
	else
		tap_fail "${descs[8]}" "exit $rc; expected a failure naming CONFIG_VDPA and CONFIG_VHOST_RING before kbuild:" "$out"
	fi

	fake_kdir "$tmp/novhost" "$kver" CONFIG_VHOST_VDPA
	out=$(make --no-print-directory modules "KDIR=$tmp/novhost" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [[ $out =~ warning:\ .*CONFIG_VHOST_VDPA && $out == *FAKE-KBUILD-RAN* ]]; then
		tap_ok "${descs[9]}"
	else
		tap_fail "${descs[9]}" "exit $rc; expected a warning naming CONFIG_VHOST_VDPA, then kbuild:" "$out"
	fi
fi

fake_kdir "$tmp/otherkernel" 9.9.9-other CONFIG_NONE_REMOVED
out=$(make --no-print-directory install-modules "KDIR=$tmp/otherkernel" \
	"DESTDIR=$tmp/other-stage" 2>&1)
rc=$?
if [ $rc != 0 ] && [[ $out == *"built for kernel '$kver', not for 9.9.9-other"* ]] &&
   [ ! -e "$tmp/other-stage/lib/modules/9.9.9-other/extra" ]; then
	tap_ok "${descs[10]}"
else
	tap_fail "${descs[10]}" "exit $rc:" "$out"
fi

tap_done
