#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A hostile guest (issues #8 and #13): selftests/hostile/vqos-hostile plays
# a VMM and a guest on /dev/vhost-vdpa-N with its own split virtqueues. It
# sends well-formed requests (data checked against the backing file), then
# malformed ones, each asserting the outcome the host gives (status byte
# and refusal counter, NEEDS_RESET, or nothing), and that the device still
# serves afterwards and wrote nothing outside the guest's writable memory;
# then what a hostile VMM does to the control plane under I/O (callbacks
# switched, queues disabled on a stopped device, ring state set, chains
# built to make the device walk without end). The cases run three times:
# guest memory in 4 KiB pages (all cases), then in transparent huge pages
# and in hugetlbfs pages (the cases marked for them), as QEMU backs guest
# RAM. Cases that need requests held in flight use a device on a null_blk
# disk that takes 200 ms per request. One case deletes its own device
# (hx-del) with `vdpa dev del` while the harness holds it open (issue 16).
#
# Then it fuzzes one device (both queues, and its control plane: call fds,
# queue enable, IOTLB, status, ring base, resets) for VQOS_FUZZ_SECONDS
# (default 60): six fixed seeds and one new one, each with its guest
# memory in 4 KiB, THP or hugetlbfs pages, while a neighbour device does
# verified I/O that must see no error and no request slower than
# VQOS_FUZZ_LATENCY_MS (default 2000). A fuzz failure prints its seed;
# replay with VQOS_FUZZ_SEED=N (and VQOS_FUZZ_MEM=anon|thp|hugetlb).
#
# Environment, for runs by hand:
#   VQOS_TEST_KO=PATH      test this vqos.ko instead of the checkout's (for
#                          instance an old commit's, built in a worktree:
#                          the VM sees the host's files)
#   VQOS_HOSTILE_ONLY=TEXT run only the cases whose name contains TEXT (or
#                          one of A|B|C, in each memory mode), and no fuzz:
#                          for a case that may take the kernel down on a
#                          broken module; TEXT "fuzz" runs the fuzz alone
#   VQOS_CASE_SECONDS=N    how long the timed cases run (default 5)
#
# A case whose reset never returns leaves its device "wedged": the script
# then neither deletes that device nor unloads the module (both would hang
# too) and fails. The kernel log of the run must be free of warnings,
# KASAN, lockdep and allocation failures (run-all scans it again).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
. "$VQOS_ROOT/bench/lib.sh"
vqos_require_vm

bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
fuzz_s=${VQOS_FUZZ_SECONDS:-60}
fuzz_lat=${VQOS_FUZZ_LATENCY_MS:-2000}
only=${VQOS_HOSTILE_ONLY:-}
t_start=$SECONDS

if [ ! -x "$bin" ]; then
	tap_plan 1
	tap_skip "hostile guest harness" "selftests/hostile/vqos-hostile is not built (make selftests-progs)"
	exit 0
fi
work=$(mktemp -d)
only_args=()
[ -n "$only" ] && only_args=(--only "$only")
seed=()
[ -n "${VQOS_FUZZ_SEED:-}" ] && seed=(--seed "$VQOS_FUZZ_SEED")
fuzz_mem=()
[ -n "${VQOS_FUZZ_MEM:-}" ] && fuzz_mem=(--mem "$VQOS_FUZZ_MEM")
for m in anon thp hugetlb; do
	"$bin" cases --list --mem "$m" "${only_args[@]}" > "$work/cases.$m.list"
done
"$bin" fuzz --list "${seed[@]}" > "$work/fuzz.list"
ncases=$(cat "$work"/cases.*.list | wc -l)
nfuzz=$(wc -l < "$work/fuzz.list")
tap_plan $((ncases + nfuzz + 10))

if [ -n "${VQOS_TEST_KO:-}" ]; then
	ko=$VQOS_TEST_KO
	[ -f "$ko" ] || { tap_skip_rest "VQOS_TEST_KO=$ko: no such file"; rm -rf "$work"; exit 0; }
	echo "# testing $ko (VQOS_TEST_KO), not this checkout's module"
else
	ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; rm -rf "$work"; exit 0; }
fi
modprobe vhost_vdpa 2>/dev/null
if [ ! -d /sys/bus/vdpa/drivers/vhost_vdpa ]; then
	tap_skip_rest "no vhost_vdpa driver in this kernel (CONFIG_VHOST_VDPA)"
	rm -rf "$work"
	exit 0
fi

tap_check "load vqos" vqos_insmod "$ko"
mark=$(vqos_dmesg_mark "test_hostile start")

wedged=
# relay LIST CMD...: run the harness, re-emit its TAP cases as ours, and
# fail every case of LIST it did not report (it crashed or hung). A
# "# wedged: NAME" line names a device that must be left alone.
relay() {
	local list=$1 line desc n=0 rc=0 name
	shift
	while IFS= read -r line; do
		case "$line" in
		"__hostile_rc "*) rc=${line#__hostile_rc } ;;
		"ok "*" # SKIP"*)
			desc=${line#ok }; desc=${desc#* }
			n=$((n + 1)); tap_skip "${desc%% # SKIP*}" "${desc#* # SKIP }" ;;
		"ok "*) desc=${line#ok }; n=$((n + 1)); tap_ok "${desc#* }" ;;
		"not ok "*) desc=${line#not ok }; n=$((n + 1)); tap_fail "${desc#* }" ;;
		"# wedged: "*) wedged="$wedged ${line#\# wedged: }"; echo "$line" ;;
		"1.."*|"") ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <("$@" 2>&1; printf '\n__hostile_rc %d\n' $?)
	while [ "$n" -lt "$(wc -l < "$list")" ]; do
		n=$((n + 1))
		name=$(sed -n "${n}p" "$list")
		tap_fail "$name" "not reported: the harness stopped (exit status $rc)"
	done
	return "$rc"
}

# Huge pages for the guest memory: 2 MiB hugetlbfs pages reserved (each
# device the harness opens takes 3, the fuzzer's seeds one device at a
# time), THP for madvised memory. Both are put back at the end.
hp=/proc/sys/vm/nr_hugepages
thp=/sys/kernel/mm/transparent_hugepage/enabled
hp_old=$(cat "$hp" 2>/dev/null)
thp_old=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp" 2>/dev/null)
[ -n "$hp_old" ] && echo $((hp_old + 24)) > "$hp" 2>/dev/null
[ "$thp_old" = never ] && echo madvise > "$thp"
tap_diag "huge pages: $(cat "$hp" 2>/dev/null || echo none) hugetlbfs pages reserved (were ${hp_old:-none}), THP ${thp_old:-absent}$([ "$thp_old" = never ] && echo ', madvise for this test')"

truncate -s 32M "$work/main.img"
head -c 16M /dev/urandom > "$work/ro.img"
truncate -s 32M "$work/fuzz.img"
truncate -s 32M "$work/nb.img"
ro_sum=$(sha256sum < "$work/ro.img")
devs="hx-main hx-ro hx-empty hx-fuzz hx-nb"
bind_all() {
	local n
	for n in $devs; do
		vqos_dev_bind "$n" vhost_vdpa || return 1
	done
}
if vqos_dev_add hx-main backing="$work/main.img" num_queues=2 &&
   vqos_dev_add hx-ro backing="$work/ro.img" read_only=1 &&
   vqos_dev_add hx-empty &&
   vqos_dev_add hx-fuzz backing="$work/fuzz.img" num_queues=2 &&
   vqos_dev_add hx-nb backing="$work/nb.img" && bind_all &&
   d_main=$(vqos_dev_vhost hx-main) && d_ro=$(vqos_dev_vhost hx-ro) &&
   d_empty=$(vqos_dev_vhost hx-empty) && d_fuzz=$(vqos_dev_vhost hx-fuzz) &&
   d_nb=$(vqos_dev_vhost hx-nb); then
	tap_ok "five devices bound to vhost_vdpa ($d_main ... $d_nb)"
else
	tap_fail "five devices bound to vhost_vdpa"
fi

# The slow device: null_blk, 200 ms per request, through the block layer.
slow=()
if bl_nullb_add hxslow irqmode=2 completion_nsec=200000000 memory_backed=1 \
	size=64 blocksize=512 hw_queue_depth=64 &&
   vqos_dev_add hx-slow backing=/dev/hxslow && vqos_dev_bind hx-slow vhost_vdpa &&
   d_slow=$(vqos_dev_vhost hx-slow); then
	devs="$devs hx-slow"
	slow=(--slow-dev "$d_slow" --slow-name hx-slow --slow-backing /dev/hxslow)
	tap_ok "slow device on null_blk (200 ms per request) bound as $d_slow"
else
	vqos_dev_del hx-slow 2>/dev/null
	bl_nullb_del hxslow
	tap_skip "slow device on null_blk" "cannot make a null_blk disk (CONFIG_BLK_DEV_NULL_BLK?): the cases that need one skip"
fi

# The device the case "vdpa dev del while the VMM holds the device" deletes
# (issue 16): given to the first run of cases only.
truncate -s 32M "$work/del.img"
del=()
if vqos_dev_add hx-del backing="$work/del.img" && vqos_dev_bind hx-del vhost_vdpa &&
   d_del=$(vqos_dev_vhost hx-del); then
	devs="$devs hx-del"
	del=(--del-dev "$d_del" --del-name hx-del --del-backing "$work/del.img")
else
	tap_diag "cannot make the device hx-del: the dev del case skips"
fi

cases_rc=0
for m in anon thp hugetlb; do
	t0=$SECONDS
	relay "$work/cases.$m.list" timeout -k 10 900 "$bin" cases --mem "$m" \
		--dev "$d_main" --name hx-main --backing "$work/main.img" \
		--ro-dev "$d_ro" --ro-name hx-ro --ro-backing "$work/ro.img" \
		--empty-dev "$d_empty" --empty-name hx-empty "${slow[@]}" "${del[@]}" \
		--case-seconds "${VQOS_CASE_SECONDS:-5}" "${only_args[@]}" || cases_rc=1
	echo "# cases with guest memory in $m pages took $((SECONDS - t0)) s"
	# A wedged device cannot be opened again (its reset still holds it).
	case " $wedged " in *" hx-slow "*) slow=() ;; esac
	del=()
done
if [ "$cases_rc" = 0 ]; then
	tap_ok "cases: harness exit status 0 (three memory modes)"
else
	tap_fail "cases: harness exit status 0 (three memory modes)"
fi
tap_diag "hx-main stats/refused:" "$(tr '\n' ' ' < "$(vqos_sys hx-main)/stats/refused")" \
	"hx-main ring_errors $(vqos_stat hx-main ring_errors), requests $(vqos_stat hx-main requests), bounced $(vqos_stat hx-main bounced)"
tap_check "read-only device's backing file unchanged" \
	test "$(sha256sum < "$work/ro.img")" = "$ro_sum"

if [ -n "$only" ] && [ "$only" != fuzz ]; then
	while IFS= read -r name; do
		tap_skip "$name" "VQOS_HOSTILE_ONLY is set: no fuzz"
	done < "$work/fuzz.list"
	tap_skip "fuzz: harness exit status 0" "VQOS_HOSTILE_ONLY is set: no fuzz"
	tap_skip "neighbour device counted no error" "VQOS_HOSTILE_ONLY is set: no fuzz"
	fuzzed=0
else
	t0=$SECONDS
	if relay "$work/fuzz.list" timeout -k 10 $((fuzz_s + 300)) "$bin" fuzz \
		--dev "$d_fuzz" --name hx-fuzz --backing "$work/fuzz.img" \
		--neighbour-dev "$d_nb" --neighbour-name hx-nb \
		--neighbour-backing "$work/nb.img" --seconds "$fuzz_s" \
		--max-latency-ms "$fuzz_lat" "${seed[@]}" "${fuzz_mem[@]}"; then
		tap_ok "fuzz: harness exit status 0"
	else
		tap_fail "fuzz: harness exit status 0"
	fi
	echo "# fuzz took $((SECONDS - t0)) s"
	tap_diag "hx-fuzz stats/refused:" "$(tr '\n' ' ' < "$(vqos_sys hx-fuzz)/stats/refused")" \
		"hx-fuzz ring_errors $(vqos_stat hx-fuzz ring_errors), requests $(vqos_stat hx-fuzz requests), errors $(vqos_stat hx-fuzz errors)" \
		"hx-nb requests $(vqos_stat hx-nb requests), errors $(vqos_stat hx-nb errors)"
	tap_check "neighbour device counted no error" test "$(vqos_stat hx-nb errors)" = 0
	fuzzed=1
fi

if [ -n "$wedged" ]; then
	tap_fail "devices deleted" "wedged by a case:$wedged; not deleting them nor unloading vqos (that would hang too)"
else
	deleted=1
	for n in $devs; do
		# hx-del is gone already, unless its case failed early.
		[ -e "$(vqos_sys "$n")" ] || continue
		timeout 60 vdpa dev del "$n" || deleted=0
	done
	bl_nullb_del hxslow
	bl_nullb_unload
	if [ "$deleted" = 1 ]; then
		tap_ok "devices deleted"
	else
		tap_fail "devices deleted" "vdpa dev del failed or hung"
	fi
fi
[ -n "$hp_old" ] && echo "$hp_old" > "$hp" 2>/dev/null
[ "$thp_old" = never ] && echo never > "$thp"

if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan 2>&1); then
	tap_ok "no kernel warning, KASAN, lockdep or allocation failure"
else
	tap_fail "no kernel warning, KASAN, lockdep or allocation failure" "$out"
fi
if [ -n "$wedged" ]; then
	tap_fail "unload vqos" "left loaded: devices wedged"
else
	tap_check "unload vqos" vqos_unload_all
fi
rm -rf "$work"
echo "# test_hostile took $((SECONDS - t_start)) s (fuzz: $fuzzed)"
tap_done
