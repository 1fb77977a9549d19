#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A failing disk (issue #8): a vqos device backed by a device-mapper device
# with an error target in the middle. Requests that touch the bad sectors
# complete with VIRTIO_BLK_S_IOERR (counted in stats/io_errors), the others
# are served, and nothing hangs; the whole table then swapped for an error
# target (the disk dies) and back (it returns) while the device stays
# bound. Requests go through the hostile harness's "io" mode over
# vhost-vdpa, so the status byte itself is checked. The VM has no udev:
# DM_DISABLE_UDEV=1 and dmsetup mknodes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
export DM_DISABLE_UDEV=1

tap_plan 14
ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; exit 0; }
[ -x "$bin" ] || { tap_skip_rest "selftests/hostile/vqos-hostile not built (make selftests-progs)"; exit 0; }
command -v dmsetup >/dev/null || { tap_skip_rest "dmsetup not installed"; exit 0; }
modprobe vhost_vdpa 2>/dev/null
[ -d /sys/bus/vdpa/drivers/vhost_vdpa ] ||
	{ tap_skip_rest "no vhost_vdpa driver in this kernel"; exit 0; }

work=$(mktemp -d)
truncate -s 64M "$work/base.img"
loop=$(losetup -f --show "$work/base.img")
sectors=$((64 << 11))
# Sectors 8192-8447 fail, the rest maps straight through.
good_table="0 $sectors linear $loop 0"
bad_table="0 8192 linear $loop 0
8192 256 error
8448 $((sectors - 8448)) linear $loop 8448"
if [ -n "$loop" ] && dmsetup create hx-err --table "$bad_table" &&
   dmsetup mknodes hx-err && [ -b /dev/mapper/hx-err ]; then
	tap_ok "dm device with 256 bad sectors over $loop"
else
	tap_fail "dm device with 256 bad sectors"
fi

tap_check "load vqos" vqos_insmod "$ko"
dev=
if vqos_dev_add hf0 backing=/dev/mapper/hx-err && vqos_dev_bind hf0 vhost_vdpa; then
	dev=$(vqos_dev_vhost hf0)
fi
if [ -n "$dev" ] && [ "$(cat "$(vqos_sys hf0)/vqos/direct_io")" = 1 ]; then
	tap_ok "device on the dm device, O_DIRECT, as $dev"
else
	tap_fail "device on the dm device, O_DIRECT"
fi

# io OP SECTOR LEN EXPECT: one request through vhost-vdpa, 60 s at most.
io() {
	timeout -k 5 60 "$bin" io --dev "$dev" --name hf0 --backing /dev/mapper/hx-err \
		--op "$1" --sector "$2" --len "$3" --expect "$4"
}

# io_pair START LEN: write a pattern, then read it back (compared with the
# backing device by the harness).
io_pair() {
	io write "$1" "$2" ok && io read "$1" "$2" ok
}

errs0=$(vqos_stat hf0 io_errors)
tap_check "read before the bad sectors: OK" io read 4096 65536 ok
tap_check "read of a bad sector: IOERR" io read 8192 4096 ioerr
tap_check "write to a bad sector: IOERR" io write 8300 4096 ioerr
tap_check "read straddling into the bad sectors: IOERR" io read 8184 8192 ioerr
tap_check "read after the bad sectors: OK" io read 8448 65536 ok
tap_check "write and read after the bad sectors: OK" io_pair 9000 8192
tap_check "backend errors counted in stats/io_errors" \
	test "$(vqos_stat hf0 io_errors)" -ge $((errs0 + 3))

# The disk dies under the bound device, then comes back.
dm_swap() {
	dmsetup suspend hx-err && dmsetup load hx-err --table "$1" && dmsetup resume hx-err
}
if dm_swap "0 $sectors error"; then
	tap_check "whole disk failing: read IOERR" io read 0 4096 ioerr
	tap_check "whole disk failing: write IOERR" io write 0 4096 ioerr
else
	tap_fail "whole disk failing: read IOERR" "cannot load the error table"
	tap_fail "whole disk failing: write IOERR"
fi
if dm_swap "$good_table"; then
	tap_check "disk back: write and read OK" io_pair 8192 4096
else
	tap_fail "disk back: write and read OK" "cannot load the linear table"
fi

vqos_dev_del hf0
tap_check "unload vqos" vqos_unload_all
dmsetup remove hx-err
losetup -d "$loop"
rm -rf "$work"
tap_done
