#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A hostile guest (issue #8): selftests/hostile/vqos-hostile plays a VMM and
# a guest on /dev/vhost-vdpa-N with its own split virtqueues. It sends
# well-formed requests (data checked against the backing file), then
# malformed ones, each asserting the outcome the host gives (status byte
# and refusal counter, NEEDS_RESET, or nothing), and that the device still
# serves afterwards and wrote nothing outside the guest's writable memory.
# Then it fuzzes one device with random rings for VQOS_FUZZ_SECONDS
# (default 60) while a neighbour device does verified I/O that must see no
# error and no request slower than VQOS_FUZZ_LATENCY_MS (default 2000).
# A fuzz failure prints its seed; replay with VQOS_FUZZ_SEED=N.
#
# The kernel log of the run must be free of warnings, KASAN, lockdep and
# allocation failures (run-all scans it again as a whole).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vqos_dev.sh"
vqos_require_vm

bin=$VQOS_ROOT/selftests/hostile/vqos-hostile
fuzz_s=${VQOS_FUZZ_SECONDS:-60}
fuzz_lat=${VQOS_FUZZ_LATENCY_MS:-2000}

if [ ! -x "$bin" ]; then
	tap_plan 1
	tap_skip "hostile guest harness" "selftests/hostile/vqos-hostile is not built (make selftests-progs)"
	exit 0
fi
work=$(mktemp -d)
"$bin" cases --list > "$work/cases.list"
"$bin" fuzz --list > "$work/fuzz.list"
ncases=$(wc -l < "$work/cases.list")
nfuzz=$(wc -l < "$work/fuzz.list")
tap_plan $((ncases + nfuzz + 9))

ko=$(vqos_ko vqos) || { tap_skip_rest "kmod/vqos.ko not built"; rm -rf "$work"; exit 0; }
modprobe vhost_vdpa 2>/dev/null
if [ ! -d /sys/bus/vdpa/drivers/vhost_vdpa ]; then
	tap_skip_rest "no vhost_vdpa driver in this kernel (CONFIG_VHOST_VDPA)"
	rm -rf "$work"
	exit 0
fi

tap_check "load vqos" vqos_insmod "$ko"
mark=$(vqos_dmesg_mark "test_hostile start")


# relay LIST CMD...: run the harness, re-emit its TAP cases as ours, and
# fail every case of LIST it did not report (it crashed or hung).
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
   vqos_dev_add hx-fuzz backing="$work/fuzz.img" &&
   vqos_dev_add hx-nb backing="$work/nb.img" && bind_all &&
   d_main=$(vqos_dev_vhost hx-main) && d_ro=$(vqos_dev_vhost hx-ro) &&
   d_empty=$(vqos_dev_vhost hx-empty) && d_fuzz=$(vqos_dev_vhost hx-fuzz) &&
   d_nb=$(vqos_dev_vhost hx-nb); then
	tap_ok "five devices bound to vhost_vdpa ($d_main ... $d_nb)"
else
	tap_fail "five devices bound to vhost_vdpa"
fi

if relay "$work/cases.list" timeout -k 10 600 "$bin" cases \
	--dev "$d_main" --name hx-main --backing "$work/main.img" \
	--ro-dev "$d_ro" --ro-name hx-ro --ro-backing "$work/ro.img" \
	--empty-dev "$d_empty" --empty-name hx-empty; then
	tap_ok "malformed-request cases: harness exit status 0"
else
	tap_fail "malformed-request cases: harness exit status 0"
fi
tap_diag "hx-main stats/refused:" "$(tr '\n' ' ' < "$(vqos_sys hx-main)/stats/refused")" \
	"hx-main ring_errors $(vqos_stat hx-main ring_errors), requests $(vqos_stat hx-main requests)"
tap_check "read-only device's backing file unchanged" \
	test "$(sha256sum < "$work/ro.img")" = "$ro_sum"

seed=()
[ -n "${VQOS_FUZZ_SEED:-}" ] && seed=(--seed "$VQOS_FUZZ_SEED")
if relay "$work/fuzz.list" timeout -k 10 $((fuzz_s + 300)) "$bin" fuzz \
	--dev "$d_fuzz" --name hx-fuzz --backing "$work/fuzz.img" \
	--neighbour-dev "$d_nb" --neighbour-name hx-nb \
	--neighbour-backing "$work/nb.img" --seconds "$fuzz_s" \
	--max-latency-ms "$fuzz_lat" "${seed[@]}"; then
	tap_ok "fuzz: harness exit status 0"
else
	tap_fail "fuzz: harness exit status 0"
fi
tap_diag "hx-fuzz stats/refused:" "$(tr '\n' ' ' < "$(vqos_sys hx-fuzz)/stats/refused")" \
	"hx-fuzz ring_errors $(vqos_stat hx-fuzz ring_errors), requests $(vqos_stat hx-fuzz requests), errors $(vqos_stat hx-fuzz errors)" \
	"hx-nb requests $(vqos_stat hx-nb requests), errors $(vqos_stat hx-nb errors)"
tap_check "neighbour device counted no error" test "$(vqos_stat hx-nb errors)" = 0

deleted=1
for n in $devs; do
	timeout 60 vdpa dev del "$n" || deleted=0
done
if [ "$deleted" = 1 ]; then
	tap_ok "devices deleted"
else
	tap_fail "devices deleted" "vdpa dev del failed or hung"
fi

if out=$(vqos_dmesg_since "$mark" | vqos_dmesg_scan 2>&1); then
	tap_ok "no kernel warning, KASAN, lockdep or allocation failure"
else
	tap_fail "no kernel warning, KASAN, lockdep or allocation failure" "$out"
fi
tap_check "unload vqos" vqos_unload_all
rm -rf "$work"
tap_done
