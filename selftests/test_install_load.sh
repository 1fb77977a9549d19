#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_install_load.sh - installed modules load by name, in the test VM.
#
# test_install.sh (on the host) checks what `make install` puts where
# (extra/kmod/vqos.ko, extra/guest-driver/virtio_vqos.ko, modules.dep,
# /usr/local/bin/vqos-lat and its BPF object) and that modprobe resolves
# both modules there. Here, a staging root laid out the same way (this
# kernel's modules symlinked, our two modules in extra/, depmod), built
# with a few commands instead of make, which costs tens of seconds in the
# VM:
#   - `modprobe -d <stage> vqos` and `virtio_vqos` load them by name, and
#     `modprobe -r` unloads them;
#   - vqos-lat (bpf/vqos-lat, which make install stages byte for byte:
#     test_install.sh compares) attaches to the module loaded so, and
#     detaches.
# Runs in the test VM as root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib.sh
. "$here/lib.sh"
vqos_require_vm
cd "$VQOS_ROOT" || exit 1

kver=$(uname -r)
tmp=$(mktemp -d)
stage=$tmp/stage
mdir=$stage/lib/modules/$kver

cleanup() {
	vqos_mod_loaded virtio_vqos && modprobe -r -d "$stage" virtio_vqos 2>/dev/null
	vqos_mod_loaded vqos && modprobe -r -d "$stage" vqos 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

tap_plan 5
descs=("a staging root with vqos in extra/, as make install lays it out"
       "modprobe -d <stage> vqos loads it by name"
       "modprobe -d <stage> virtio_vqos loads it by name"
       "modprobe -r unloads both"
       "vqos-lat attaches to the module loaded by name and detaches")

if ! ko=$(vqos_ko vqos) || ! gko=$(vqos_ko virtio_vqos); then
	tap_skip_rest "the modules are not built (make)" "${descs[@]}"
	tap_done; exit $?
fi
if vqos_mod_loaded vqos || vqos_mod_loaded virtio_vqos; then
	tap_fail "${descs[0]}" "vqos is loaded already"
	tap_skip_rest "vqos is loaded already" "${descs[@]:1}"
	tap_done; exit $?
fi

mkdir -p "$stage/lib/modules"
if cp -as "/lib/modules/$kver" "$stage/lib/modules/" &&
   mkdir -p "$mdir/extra/kmod" "$mdir/extra/guest-driver" &&
   cp "$ko" "$mdir/extra/kmod/" && cp "$gko" "$mdir/extra/guest-driver/" &&
   depmod -b "$stage" "$kver"; then
	tap_ok "${descs[0]}"
else
	tap_fail "${descs[0]}"
	tap_skip_rest "no staging root" "${descs[@]:1}"
	tap_done; exit $?
fi

mgmtdev_listed() {
	[[ $'\n'$(vdpa mgmtdev show 2>/dev/null) =~ $'\n'([^ /]+/)?vqos: ]]
}
if out=$(modprobe -d "$stage" vqos 2>&1) && vqos_mod_loaded vqos && mgmtdev_listed; then
	tap_ok "${descs[1]}"
else
	tap_fail "${descs[1]}" "modprobe -d $stage vqos: $out" \
		"vdpa mgmtdev show: $(vdpa mgmtdev show 2>&1)"
fi
if out=$(modprobe -d "$stage" virtio_vqos 2>&1) && vqos_mod_loaded virtio_vqos; then
	tap_ok "${descs[2]}"
else
	tap_fail "${descs[2]}" "modprobe -d $stage virtio_vqos: $out"
fi
if out=$(modprobe -r -d "$stage" virtio_vqos vqos 2>&1) &&
   ! vqos_mod_loaded vqos && ! vqos_mod_loaded virtio_vqos; then
	tap_ok "${descs[3]}"
else
	tap_fail "${descs[3]}" "$out" "$(grep -E '^(virtio_)?vqos ' /proc/modules)"
fi

# vqos-lat, against the module loaded by name (BTF, tracepoints).
lat=$VQOS_ROOT/bpf/vqos-lat
if [ ! -x "$lat" ]; then
	tap_skip "${descs[4]}" "bpf/vqos-lat is not built (make bpf)"
elif out=$( { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; } 2>&1) &&
     out=$(modprobe -d "$stage" vqos 2>&1) &&
     out=$("$lat" attach -m 2 2>&1) && out=$("$lat" detach 2>&1) &&
     out=$(modprobe -r -d "$stage" vqos 2>&1); then
	tap_ok "${descs[4]}"
else
	tap_fail "${descs[4]}" "$out"
	"$lat" detach >/dev/null 2>&1
	modprobe -r -d "$stage" vqos 2>/dev/null
fi
tap_done
