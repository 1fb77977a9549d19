#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_install.sh - make install, make uninstall, dkms.conf and the kernel
# configuration check, the way an operator meets them.
#
#   - `make install DESTDIR=<stage>` into a staging root that holds this
#     kernel's modules (symlinked, so that modprobe resolves vqos's
#     dependencies there): the modules land in extra/ and in modules.dep,
#     the KUnit suites do not; bpf/vqos-lat, its BPF object and the uapi
#     header land under /usr/local;
#   - `modprobe -d <stage> vqos` and `virtio_vqos` load them by name, and
#     `modprobe -r` unloads them;
#   - `make uninstall DESTDIR=<stage>` removes all of it;
#   - dkms.conf parses (bash -n, then sourced as DKMS does) and names both
#     modules where `make` puts them, with the version vqos.ko carries;
#   - `make modules` against a kernel tree lacking CONFIG_VDPA and
#     CONFIG_VHOST_RING stops before kbuild and names both; lacking only
#     CONFIG_VHOST_VDPA it warns and goes on; `make install` refuses
#     modules built for another kernel.
# Runs in the test VM as root (scripts/vm-run -- selftests/test_install.sh).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
vqos_require_vm
cd "$VQOS_ROOT" || exit 1

kver=$(uname -r)
tmp=$(mktemp -d)
stage=$tmp/stage
mk=(make --no-print-directory)
[ -n "${VQOS_KDIR:-}" ] && mk+=("KDIR=$VQOS_KDIR")

cleanup() {
	vqos_mod_loaded virtio_vqos && modprobe -r -d "$stage" virtio_vqos 2>/dev/null
	vqos_mod_loaded vqos && modprobe -r -d "$stage" vqos 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

tap_plan 14

descs=("make install DESTDIR=<stage>"
       "modules staged in extra/ and in modules.dep, KUnit suites not"
       "uapi header staged in /usr/local/include/linux"
       "vqos-lat and its BPF object staged in /usr/local"
       "modprobe -d <stage> vqos loads it by name"
       "modprobe -d <stage> virtio_vqos loads it by name"
       "modprobe -r unloads both"
       "the staged vqos-lat attaches to the staged module and detaches"
       "make uninstall DESTDIR=<stage> removes everything it installed"
       "dkms.conf: bash -n"
       "dkms.conf: both modules, where make builds them, version of vqos.ko"
       "make modules: a kernel without CONFIG_VDPA/VHOST_RING is refused by name"
       "make modules: without CONFIG_VHOST_VDPA, a warning, and kbuild runs"
       "make install refuses modules built for another kernel")

if ! vqos_ko vqos >/dev/null || ! vqos_ko virtio_vqos >/dev/null; then
	tap_skip_rest "the modules are not built (make)" "${descs[@]}"
	tap_done; exit $?
fi
if vqos_mod_loaded vqos || vqos_mod_loaded virtio_vqos; then
	tap_skip_rest "vqos is already loaded" "${descs[@]}"
	tap_done; exit $?
fi

# --- staged install ------------------------------------------------------------
# A staging root as an image build would have it: the kernel's modules and
# indexes are there (here symlinks to the running kernel's; depmod replaces
# the index files, not their targets).
mkdir -p "$stage/lib/modules"
cp -as "/lib/modules/$kver" "$stage/lib/modules/" || {
	tap_skip_rest "cannot populate a staging root from /lib/modules/$kver" "${descs[@]}"
	tap_done; exit $?
}
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
     cmp -s bpf/.output/vqos_lat.bpf.o "$stage/usr/local/lib/vqos/vqos_lat.bpf.o"; then
	tap_ok "${descs[3]}"
else
	tap_fail "${descs[3]}" "$(find "$stage/usr/local")"
fi

# --- load by name from the staging root --------------------------------------
mgmtdev_listed() {
	[[ $'\n'$(vdpa mgmtdev show 2>/dev/null) =~ $'\n'([^ /]+/)?vqos: ]]
}
if out=$(modprobe -d "$stage" vqos 2>&1) && vqos_mod_loaded vqos && mgmtdev_listed; then
	tap_ok "${descs[4]}"
else
	tap_fail "${descs[4]}" "modprobe -d $stage vqos: $out" \
		"vdpa mgmtdev show: $(vdpa mgmtdev show 2>&1)"
fi
if out=$(modprobe -d "$stage" virtio_vqos 2>&1) && vqos_mod_loaded virtio_vqos; then
	tap_ok "${descs[5]}"
else
	tap_fail "${descs[5]}" "modprobe -d $stage virtio_vqos: $out"
fi
if ! vqos_mod_loaded vqos && ! vqos_mod_loaded virtio_vqos; then
	tap_skip "${descs[6]}" "nothing was loaded"
elif out=$(modprobe -r -d "$stage" virtio_vqos vqos 2>&1) &&
     ! vqos_mod_loaded vqos && ! vqos_mod_loaded virtio_vqos; then
	tap_ok "${descs[6]}"
else
	tap_fail "${descs[6]}" "$out" "$(grep -E '^(virtio_)?vqos ' /proc/modules)"
fi

# The staged vqos-lat runs against the staged module (BTF, tracepoints).
if [ ! -x "$stage/usr/local/bin/vqos-lat" ]; then
	tap_skip "${descs[7]}" "vqos-lat was not staged"
elif ! mountpoint -q /sys/fs/bpf && ! mount -t bpf bpf /sys/fs/bpf; then
	tap_skip "${descs[7]}" "no bpf filesystem"
elif out=$(modprobe -d "$stage" vqos 2>&1) &&
     out=$("$stage/usr/local/bin/vqos-lat" attach -m 2 2>&1) &&
     out=$("$stage/usr/local/bin/vqos-lat" detach 2>&1) &&
     out=$(modprobe -r -d "$stage" vqos 2>&1); then
	tap_ok "${descs[7]}"
else
	tap_fail "${descs[7]}" "$out"
	"$stage/usr/local/bin/vqos-lat" detach >/dev/null 2>&1
	modprobe -r -d "$stage" vqos 2>/dev/null
fi

# --- uninstall ------------------------------------------------------------------
if ! out=$("${mk[@]}" uninstall "DESTDIR=$stage" 2>&1); then
	tap_fail "${descs[8]}" "make uninstall failed:" "$out"
else
	left=$(find "$mdir/extra" "$stage/usr/local" -type f 2>/dev/null)
	if [ -z "$left" ] && ! modinfo -b "$stage" vqos >/dev/null 2>&1 &&
	   [[ $(< "$mdir/modules.dep") != *vqos* ]]; then
		tap_ok "${descs[8]}"
	else
		tap_fail "${descs[8]}" "left behind:" "$left" \
			"modinfo -b $stage vqos: $(modinfo -b "$stage" -n vqos 2>&1)"
	fi
fi

# --- dkms.conf -------------------------------------------------------------------
tap_check "${descs[9]}" bash -n dkms.conf

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
	tap_ok "${descs[10]}"
else
	tap_fail "${descs[10]}" "${bad#; }" "$dkms_vars"
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
	tap_skip "${descs[11]}" "no kernel configuration at ${VQOS_KDIR:-?}"
	tap_skip "${descs[12]}" "no kernel configuration at ${VQOS_KDIR:-?}"
else
	fake_kdir "$tmp/novdpa" "$kver" CONFIG_VDPA CONFIG_VHOST_RING
	out=$(make --no-print-directory modules "KDIR=$tmp/novdpa" 2>&1)
	rc=$?
	if [ $rc != 0 ] && [[ $out == *"CONFIG_VDPA "* && $out == *"CONFIG_VHOST_RING "* &&
	   $out != *FAKE-KBUILD-RAN* ]]; then
		tap_ok "${descs[11]}"
	else
		tap_fail "${descs[11]}" "exit $rc; expected a failure naming CONFIG_VDPA and CONFIG_VHOST_RING before kbuild:" "$out"
	fi

	fake_kdir "$tmp/novhost" "$kver" CONFIG_VHOST_VDPA
	out=$(make --no-print-directory modules "KDIR=$tmp/novhost" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [[ $out =~ warning:\ .*CONFIG_VHOST_VDPA && $out == *FAKE-KBUILD-RAN* ]]; then
		tap_ok "${descs[12]}"
	else
		tap_fail "${descs[12]}" "exit $rc; expected a warning naming CONFIG_VHOST_VDPA, then kbuild:" "$out"
	fi
fi

fake_kdir "$tmp/otherkernel" 9.9.9-other CONFIG_NONE_REMOVED
out=$(make --no-print-directory install-modules "KDIR=$tmp/otherkernel" \
	"DESTDIR=$tmp/other-stage" 2>&1)
rc=$?
if [ $rc != 0 ] && [[ $out == *"built for kernel '$kver', not for 9.9.9-other"* ]] &&
   [ ! -e "$tmp/other-stage/lib/modules/9.9.9-other/extra" ]; then
	tap_ok "${descs[13]}"
else
	tap_fail "${descs[13]}" "exit $rc:" "$out"
fi

tap_done
