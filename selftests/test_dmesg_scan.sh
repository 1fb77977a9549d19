#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Negative test for the kernel log scans: run-all's (vqos_dmesg_scan) must
# report a real WARN_ON() splat, stay quiet on a clean log, and its
# "expected splat" exclusion must drop only the declared splat; the
# hostile harness's own scan (selftests/hostile/vdev.c, kmsg_check()),
# which reads the same pattern list (selftests/kmsg-splat.patterns), must
# report a live WARN while it runs; and both must fail, not pass, when the
# pattern list cannot be read. The live parts load
# selftests/modules/vqos_splat.ko (make -C selftests/modules); the harness
# part drives a vqos device through vhost-vdpa with the harness's race
# mode (selftests/hostile/vqos-hostile, make selftests-progs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

tap_plan 11

# 1-3: the scanner on synthetic logs, no kernel involved.
clean_log='[    0.100000] Linux version 6.1.0 (vqos@vqos)
[    0.200000] kasan: KernelAddressSanitizer initialized
[    0.300000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15000)
[    1.000000] loading out-of-tree module taints kernel.'
warn_block='[    2.000000] ------------[ cut here ]------------
[    2.000001] WARNING: CPU: 1 PID: 99 at selftests/modules/vqos_splat.c:21 vqos_splat_init+0x1d/0x30 [vqos_splat]
[    2.000002] Modules linked in: vqos_splat(O+)
[    2.000003] Call Trace:
[    2.000004]  <TASK>
[    2.000005]  </TASK>
[    2.000006] ---[ end trace 0000000000000000 ]---'

if out=$(printf '%s\n' "$clean_log" | vqos_dmesg_scan 2>&1); then
	tap_ok "scan passes a clean log"
else
	tap_fail "scan passes a clean log" "$out"
fi

if out=$(printf '%s\n%s\n' "$clean_log" "$warn_block" | vqos_dmesg_scan 2>&1); then
	tap_fail "scan reports a WARN splat" "the scan found nothing"
elif grep -q 'WARNING: CPU: 1 PID: 99' <<<"$out"; then
	tap_ok "scan reports a WARN splat"
else
	tap_fail "scan reports a WARN splat" "the WARNING line is not in the report:" "$out"
fi

# An expected-splat region drops its own splat but not a foreign one, and
# an unclosed region excludes nothing.
region="[    1.900000] vqos-selftest: expect-splat-begin T1 vqos_splat
$warn_block
[    2.100000] BUG: KASAN: slab-out-of-bounds in other_func+0x10/0x20
[    2.200000] vqos-selftest: expect-splat-end T1"
out1=$(printf '%s\n' "$region" | vqos_dmesg_scan 2>/dev/null)
out2=$(printf '%s\n' "$region" | grep -v expect-splat-end | grep -v KASAN | vqos_dmesg_scan 2>/dev/null)
rc2=$?
if grep -q 'BUG: KASAN' <<<"$out1" && ! grep -q 'WARNING:' <<<"$out1" &&
   [ "$rc2" = 1 ] && grep -q 'WARNING:' <<<"$out2"; then
	tap_ok "expected-splat region excludes only the declared splat"
else
	tap_fail "expected-splat region excludes only the declared splat" \
		"closed region report:" "$out1" "unclosed region report (rc $rc2):" "$out2"
fi

# 4: no pattern list, no clean verdict.
if out=$(printf '%s\n' "$clean_log" | VQOS_SPLAT_PATTERNS=/nonexistent bash -c \
	'. "$0"; vqos_dmesg_scan' "$VQOS_SELFTESTS/lib.sh" 2>&1); then
	tap_fail "scan fails without its pattern list" "it passed: $out"
else
	tap_ok "scan fails without its pattern list ($out)"
fi

# 5-8: live, with the test module.
live=("vqos_splat loads cleanly" "clean load leaves the log clean"
      "scan reports the WARN_ON() of vqos_splat warn=1"
      "final scan ignores the declared vqos_splat splat")
if ! ko=$(vqos_ko vqos_splat); then
	tap_skip_rest "selftests/modules/vqos_splat.ko not built (make -C selftests/modules)" "${live[@]}"
	tap_done; exit $?
fi
if [ "$(cat /proc/sys/kernel/panic_on_warn 2>/dev/null || echo 0)" != 0 ]; then
	tap_skip_rest "kernel.panic_on_warn is set: a WARN would panic" "${live[@]}"
	tap_done; exit $?
fi

mark=$(vqos_dmesg_mark "test_dmesg_scan clean load")
if out=$(vqos_insmod "$ko" 2>&1) && vqos_unload_all; then
	tap_ok "${live[0]}"
else
	tap_fail "${live[0]}" "$out"
	vqos_unload_all
fi
if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan --no-exclude 2>&1); then
	tap_ok "${live[1]}"
else
	tap_fail "${live[1]}" "$out"
fi

vqos_expect_splat_begin vqos_splat
trap vqos_expect_splat_end EXIT
mark=$(vqos_dmesg_mark "test_dmesg_scan warn load")
vqos_insmod "$ko" warn=1 || tap_diag "loading vqos_splat warn=1 failed"
vqos_unload_all
# The WARN is logged while insmod runs; wait for its end marker anyway.
splat_done() { vqos_dmesg_since "$mark" | grep -q -- '---\[ end trace'; }
vqos_wait_for 10 splat_done || tap_diag "no end of the splat in the log after 10 s"
if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan --no-exclude 2>&1); then
	tap_fail "${live[2]}" "the scan found nothing; kernel log since the marker:" \
		"$(vqos_dmesg_since "$mark")"
elif grep -q 'WARNING: .*vqos_splat' <<<"$out"; then
	tap_ok "${live[2]}"
else
	tap_fail "${live[2]}" "no WARNING line from vqos_splat in the report:" "$out"
fi
vqos_expect_splat_end
trap - EXIT

# The whole log may hold other (real) problems; they are run-all's "dmesg
# clean" business. Here: none of the reported lines is vqos_splat's.
out=$(vqos_dmesg | vqos_dmesg_scan 2>&1)
hits=$(awk '/^first splat/ { exit } p; /suspicious kernel log/ { p = 1 }' <<<"$out")
if grep -q 'vqos_splat' <<<"$hits"; then
	tap_fail "${live[3]}" "$out"
else
	tap_ok "${live[3]}"
fi

# 9-11: the hostile harness's scan, live. Its race mode checks the kernel
# log after every round (kmsg_check()); a WARN logged while it runs must
# fail it, naming the WARN.
harness=("the harness runs clean on a clean log"
	 "the harness's kmsg scan reports a live WARN (shared pattern list)"
	 "the harness refuses to run without its pattern list")
bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
if [ ! -x "$bin" ]; then
	tap_skip_rest "selftests/hostile/vqos-hostile not built (make selftests-progs)" "${harness[@]}"
	tap_done; exit $?
fi
modprobe vhost_vdpa 2>/dev/null
work=$(mktemp -d)
truncate -s 16M "$work/d.img"
dev=
if out=$(vqos_load vqos 2>&1) && vqos_dev_add hd0 backing="$work/d.img" &&
   vqos_dev_bind hd0 vhost_vdpa; then
	dev=$(vqos_dev_vhost hd0)
fi
if [ -z "$dev" ]; then
	tap_fail "${harness[0]}" "no vqos device on vhost_vdpa: $out"
	tap_skip_rest "no device for the harness" "${harness[@]:1}"
	vqos_dev_del hd0 2>/dev/null; vqos_unload_all; rm -rf "$work"
	tap_done; exit $?
fi
# race SECONDS [ENV...]: the harness's race mode on hd0.
race() {
	local s=$1
	shift
	env "$@" timeout -k 5 $((s + 120)) "$bin" race --dev "$dev" --name hd0 --seconds "$s" 2>&1
}
if out=$(race 2); then
	tap_ok "${harness[0]}"
else
	tap_fail "${harness[0]}" "$out"
fi

vqos_expect_splat_begin vqos_splat
trap vqos_expect_splat_end EXIT
race 60 > "$work/race.out" &
rpid=$!
# The harness is in its loop (past kmsg_tail()) once hd0 serves requests.
vqos_wait_grow "$(vqos_sys hd0)/stats/requests" 64 60 || tap_diag "the harness sent no request"
vqos_insmod "$ko" warn=1 || tap_diag "loading vqos_splat warn=1 failed"
vqos_unload vqos_splat
wait $rpid
rc=$?
vqos_expect_splat_end
trap - EXIT
if [ $rc != 0 ] && grep -q '^# kernel: WARNING: .*vqos_splat' "$work/race.out"; then
	tap_ok "${harness[1]} (exit $rc)"
else
	tap_fail "${harness[1]}" "exit $rc; its output:" "$(cat "$work/race.out")"
fi

if out=$(race 2 VQOS_SPLAT_PATTERNS=/nonexistent); then
	tap_fail "${harness[2]}" "it passed: $out"
elif grep -q 'no splat patterns' <<<"$out"; then
	tap_ok "${harness[2]}"
else
	tap_fail "${harness[2]}" "it failed, but not for the pattern list:" "$out"
fi

vqos_dev_del hd0
vqos_unload_all
rm -rf "$work"
tap_done
