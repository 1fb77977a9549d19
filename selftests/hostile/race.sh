#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/hostile/race.sh [SECONDS]: the harness's race mode (see race.c)
# on a fresh device, then a scan of the kernel log: the long form of
# selftests/test_hostile_race.sh, which make check runs. In the test VM:
#   scripts/vm-run -- selftests/hostile/race.sh 60
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../vqos_dev.sh"
vqos_require_vm

secs=${1:-60}
work=$(mktemp -d)
truncate -s 32M "$work/disk.img"
vqos_load vqos || exit 1
modprobe vhost_vdpa 2>/dev/null
vqos_dev_add hr0 backing="$work/disk.img" && vqos_dev_bind hr0 vhost_vdpa || exit 1
dev=
for _ in $(seq 50); do
	for p in "$(vqos_sys hr0)"/vhost-vdpa-*; do
		[ -c "/dev/${p##*/}" ] && dev=/dev/${p##*/}
	done
	[ -n "$dev" ] && break
	sleep 0.1
done
mark=$(vqos_dmesg_mark "hostile race")
"$VQOS_ROOT/selftests/hostile/vqos-hostile" race --dev "$dev" --name hr0 --seconds "$secs"
rc=$?
if ! vqos_dmesg_since "$mark" | vqos_dmesg_scan; then
	rc=1
fi
vqos_dev_del hr0
vqos_unload_all
rm -rf "$work"
exit $rc
