#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sanity of the test VM itself (scripts/vm-run, scripts/vm-init) and of the
# test kernel features vqos relies on: writable scratch space, debugfs,
# bpffs, cgroup2, configfs, modprobe of the test kernel's modules, and the
# vDPA stack end to end with the in-kernel block simulator (vdpa_sim_blk ->
# virtio_vdpa -> virtio_blk).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vqos_require_vm

tap_plan 9

tap_check "running the test kernel ($(uname -r))" \
	test "${VQOS_KVER:-$(uname -r)}" = "$(uname -r)"
tap_check "/tmp is writable" sh -c 'echo x > /tmp/.vqos-probe && rm /tmp/.vqos-probe'
tap_check "debugfs, bpffs, cgroup2, configfs are mounted" sh -c '
	for m in /sys/kernel/debug /sys/fs/bpf /sys/fs/cgroup /sys/kernel/config; do
		mountpoint -q $m || { echo "$m is not mounted"; exit 1; }
	done'
tap_check "modprobe null_blk from the test kernel" sh -c '
	modprobe null_blk nr_devices=1 && test -b /dev/nullb0 && rmmod null_blk'

if ! modprobe vdpa_sim_blk 2>/dev/null; then
	tap_skip_rest "modprobe vdpa_sim_blk failed" "vdpa lists the vdpasim_blk mgmtdev" \
		"vdpa dev add on vdpasim_blk" "the vDPA device shows up as a virtio block device" \
		"vdpa dev del" "unload vdpa_sim_blk"
	tap_done; exit $?
fi
if vdpa mgmtdev show 2>&1 | grep -Eq '^([^ /]+/)?vdpasim_blk:'; then
	tap_ok "vdpa lists the vdpasim_blk mgmtdev"
else
	tap_fail "vdpa lists the vdpasim_blk mgmtdev" "$(vdpa mgmtdev show 2>&1)"
fi
# The default stack: a new device binds to virtio_vdpa by itself.
echo 1 > /sys/bus/vdpa/drivers_autoprobe
before=$(ls /sys/block)
tap_check "vdpa dev add on vdpasim_blk" vdpa dev add mgmtdev vdpasim_blk name vqos-env0
new=
for _ in $(seq 50); do
	new=$(comm -13 <(echo "$before") <(ls /sys/block) | grep '^vd' | head -n 1)
	[ -n "$new" ] && break
	sleep 0.2
done
if [ -n "$new" ] && [ -b "/dev/$new" ] &&
   dd if="/dev/$new" of=/dev/null bs=4k count=16 iflag=direct status=none; then
	tap_ok "the vDPA device shows up as a virtio block device (/dev/$new, readable)"
else
	tap_fail "the vDPA device shows up as a virtio block device" \
		"new block devices: '${new:-none}'" "$(vdpa dev show 2>&1)"
fi
tap_check "vdpa dev del" vdpa dev del vqos-env0
tap_check "unload vdpa_sim_blk" rmmod vdpa_sim_blk

tap_done
