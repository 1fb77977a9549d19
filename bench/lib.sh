# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# bench/lib.sh - helpers shared by the demo (scripts/demo-vm), the
# benchmark (scripts/bench-vm) and selftests/test_demo.sh: null_blk disks of
# known capacity, vqos devices on slices of them, the victim and aggressor
# fio jobs of the isolation method (../shared/ANCHORS.md, "Measuring
# isolation"), cgroup io.max, and fio JSON parsing. Source after
# selftests/lib.sh and selftests/vqos_dev.sh; runs in the test VM as root.
#
#   null_blk:  bl_nullb_add NAME ATTR=VALUE...   configfs disk /dev/NAME
#              bl_nullb_del NAME
#              bl_nullb_unload    (rmmod null_blk if bl_nullb_add loaded it)
#   vqos:      bl_vqos_slice NAME BACKING OFFSET_MIB SIZE_MIB [ATTR=VALUE...]
#              (create, bind to virtio_vdpa; prints the guest disk)
#   fio:       bl_jobs_reset, bl_job_victim, bl_job_aggressor, bl_job,
#              bl_fio OUT (see below); bl_fio_victim, bl_fio_aggressor
#              (one fio each, for the demo)
#              bl_fio_lat OUT [JOB]      "p50 p99 p99.9 samples" of lat, ms
#              bl_fio_iops OUT [JOB]     read IOPS, whole number
#   cgroup:    bl_cg_iomax NAME DISK LIMITS   (io.max "MAJ:MIN LIMITS")
#              bl_cg_make NAME, bl_cg_run NAME CMD...,  bl_cg_del NAME,
#              bl_cgjoin NAME (fio exec_prerun: the job joins NAME),
#              bl_mm DISK (its MAJ:MIN)
#   misc:      bl_num X  (X is a number), bl_log MSG

BL_NULLB=/sys/kernel/config/nullb
BL_CG=/sys/fs/cgroup

bl_log() {
	printf '%s\n' "$*" >&2
}

# bl_num X: X is a decimal number (integer or fraction).
bl_num() {
	[[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]
}

# --- null_blk -------------------------------------------------------------

# bl_nullb_add NAME ATTR=VALUE...: a null_blk disk /dev/NAME made through
# configfs, e.g. irqmode=2 completion_nsec=2000000 hw_queue_depth=4
# size=4096 (MiB). Loads null_blk (with no default disks) if needed.
bl_nullb_add() {
	local name=$1 d kv
	shift
	if ! grep -q '^null_blk ' /proc/modules; then
		modprobe null_blk nr_devices=0 || return 1
		BL_NULLB_LOADED=1
	fi
	mountpoint -q /sys/kernel/config ||
		mount -t configfs configfs /sys/kernel/config || return 1
	d=$BL_NULLB/$name
	mkdir "$d" || return 1
	for kv in "$@"; do
		echo "${kv#*=}" > "$d/${kv%%=*}" || {
			bl_log "bl_nullb_add: cannot set ${kv%%=*}=${kv#*=} on $name"
			return 1
		}
	done
	echo 1 > "$d/power" || return 1
	for _ in $(seq 100); do
		[ -b "/dev/$name" ] && return 0
		sleep 0.1
	done
	bl_log "bl_nullb_add: /dev/$name did not appear"
	return 1
}

bl_nullb_del() {
	local d=$BL_NULLB/$1
	[ -d "$d" ] || return 0
	echo 0 > "$d/power" 2>/dev/null
	rmdir "$d"
}

# Leave null_blk as we found it: other tests load it with their own
# parameters, which a loaded module would ignore.
BL_NULLB_LOADED=0
bl_nullb_unload() {
	[ "$BL_NULLB_LOADED" = 1 ] || return 0
	rmmod null_blk && BL_NULLB_LOADED=0
}

# --- vqos devices -----------------------------------------------------------

# bl_vqos_slice NAME BACKING OFFSET_MIB SIZE_MIB [ATTR=VALUE...]: a vqos
# device on [OFFSET, OFFSET + SIZE) of BACKING, bound to virtio_vdpa;
# prints its disk (/dev/vdX).
bl_vqos_slice() {
	local name=$1 backing=$2 off=$3 size=$4
	shift 4
	vqos_dev_add "$name" backing="$backing" offset=$((off << 20)) \
		size=$((size << 20)) "$@" || return 1
	vqos_dev_bind "$name" || return 1
	vqos_dev_disk "$name"
}

# --- fio --------------------------------------------------------------------

# Latency is fio's total latency (lat: submission + completion), not clat:
# io_submit() itself can take as long as the I/O here (the emulated CPU is
# slow, and the submitting task may be scheduled out inside it while the
# device's worker runs), and clat, which starts when io_submit() returns,
# then reads 22 us for a request that took 2 ms.
BL_FIO_COMMON=(--ioengine=libaio --direct=1 --rw=randread --bs=4k
	--randrepeat=0 --norandommap --time_based --ramp_time=1
	--lat_percentiles=1 --percentile_list=50:90:99:99.9
	--output-format=json)

# Starting fio costs more than half a minute of wall time in the test VM
# (a large dynamically linked binary on 9p, under KASAN and TCG), so each
# measurement is one fio process running several jobs: side by side (the
# victim and its aggressor) or one after the other (--stonewall), with
# exec_prerun/exec_postrun for the sysfs changes in between.
#
#   bl_jobs_reset                      start a new job list (BL_JOBS)
#   bl_job_victim DISK IOPS SECS [OPT...]
#   bl_job_aggressor DISK QD SECS [OPT...]
#   bl_job NAME DISK QD SECS [OPT...]  closed loop, after the previous
#                                      jobs (stonewall)
#   bl_job_beside NAME DISK QD SECS [OPT...]  closed loop, beside the
#                                      previous job
#   bl_fio OUT [GLOBAL-OPT...]         run the list; JSON to OUT; inside
#                                      cgroup $BL_FIO_CGROUP if set
BL_JOBS=()
bl_jobs_reset() {
	BL_JOBS=()
}

# bl_job_victim DISK IOPS SECS [OPT...]: open-loop victim: Poisson arrivals
# at IOPS, so that a slow request does not delay the next one's start and
# the tail shows; depth BL_VICTIM_QD (default 4) leaves room for a few in
# flight. One second of ramp (not measured), then SECS seconds measured.
bl_job_victim() {
	local disk=$1 iops=$2 secs=$3
	shift 3
	BL_JOBS+=(--name=victim --filename="$disk" --iodepth="${BL_VICTIM_QD:-4}"
		--rate_iops="$iops" --rate_process=poisson --runtime="$secs" "$@")
}

# bl_job_aggressor DISK QD SECS [OPT...]: closed loop at depth QD, as fast
# as the device lets it, beside the victim. Measured over SECS + 1 seconds
# after the same second of ramp: it covers the victim's whole window.
bl_job_aggressor() {
	local disk=$1 qd=$2 secs=$3
	shift 3
	BL_JOBS+=(--name=aggressor --filename="$disk" --iodepth="$qd"
		--runtime=$((secs + 1)) "$@")
}

# bl_job_beside NAME DISK QD SECS [OPT...]: a closed-loop job that runs
# beside the job before it (no stonewall).
bl_job_beside() {
	local name=$1 disk=$2 qd=$3 secs=$4
	shift 4
	BL_JOBS+=(--name="$name" --filename="$disk" --iodepth="$qd"
		--runtime="$secs" "$@")
}

# bl_job NAME DISK QD SECS [OPT...]: a closed-loop job that starts when the
# jobs before it have ended.
bl_job() {
	local name=$1 disk=$2 qd=$3 secs=$4
	shift 4
	BL_JOBS+=(--name="$name" --filename="$disk" --iodepth="$qd"
		--runtime="$secs" --stonewall "$@")
}

# bl_fio OUT [GLOBAL-OPT...]: run BL_JOBS in one fio. Its prerun/postrun
# files land in OUT's directory.
bl_fio() {
	local out=$1
	shift
	local cmd=(fio "${BL_FIO_COMMON[@]}" --output="$out" "$@" "${BL_JOBS[@]}")
	(
		cd "$(dirname "$out")" || exit 1
		if [ -n "${BL_FIO_CGROUP:-}" ]; then
			bl_cg_run "$BL_FIO_CGROUP" "${cmd[@]}"
		else
			"${cmd[@]}"
		fi
	) >/dev/null
}

# The demo's phases run the victim and the aggressor as two fio processes
# (started apart, which the check VM's noisy timing tolerates better than
# one process with both; make bench, under icount, uses bl_fio):
#
# bl_fio_victim DISK IOPS SECS OUT [FIO-OPTION...]: the open-loop victim
# of bl_job_victim, alone in its fio.
bl_fio_victim() {
	local disk=$1 iops=$2 secs=$3 out=$4
	shift 4
	fio --name=victim --filename="$disk" "${BL_FIO_COMMON[@]}" \
		--iodepth=4 --rate_iops="$iops" --rate_process=poisson \
		--runtime="$secs" --output="$out" "$@" >/dev/null
}

# bl_fio_aggressor DISK QD SECS OUT [FIO-OPTION...]: the closed-loop
# aggressor of bl_job_aggressor, alone in its fio.
bl_fio_aggressor() {
	local disk=$1 qd=$2 secs=$3 out=$4
	shift 4
	fio --name=aggressor --filename="$disk" "${BL_FIO_COMMON[@]}" \
		--iodepth="$qd" --runtime=$((secs + 1)) --output="$out" "$@" \
		>/dev/null
}

# bl_fio_lat OUT [JOB]: total latency "p50 p99 p99.9 samples" of JOB
# (default victim), in ms.
bl_fio_lat() {
	jq -r --arg j "${2:-victim}" '.jobs[] | select(.jobname == $j) | .read
		| ([.lat_ns.percentile["50.000000"],
		    .lat_ns.percentile["99.000000"], .lat_ns.percentile["99.900000"]]
		| map(. / 1e6 * 1000 | round / 1000)) + [.total_ios // 0]
		| map(tostring) | join(" ")' "$1" 2>/dev/null
}

# bl_fio_iops OUT [JOB]: read IOPS of JOB (default aggressor), rounded.
bl_fio_iops() {
	jq -r --arg j "${2:-aggressor}" \
		'.jobs[] | select(.jobname == $j) | .read.iops | round' "$1" 2>/dev/null
}

# --- cgroup v2 io.max ----------------------------------------------------------

# bl_cg_iomax NAME DISK LIMITS: a cgroup NAME whose bios to DISK are
# limited by io.max (blk-throttle), e.g. LIMITS="riops=1000".
bl_cg_iomax() {
	local cg=$BL_CG/$1 disk=$2 limits=$3 mm
	mountpoint -q $BL_CG || mount -t cgroup2 cgroup2 $BL_CG || return 1
	grep -qw io $BL_CG/cgroup.controllers || {
		bl_log "bl_cg_iomax: the io controller is not available (CONFIG_BLK_CGROUP?)"
		return 1
	}
	grep -qw io $BL_CG/cgroup.subtree_control ||
		echo +io > $BL_CG/cgroup.subtree_control || return 1
	mm=$(cat "/sys/class/block/${disk#/dev/}/dev") || return 1
	mkdir -p "$cg" || return 1
	echo "$mm $limits" > "$cg/io.max" || {
		bl_log "bl_cg_iomax: io.max refused '$mm $limits' (CONFIG_BLK_DEV_THROTTLING?)"
		return 1
	}
}

# bl_cg_run NAME CMD...: run CMD inside cgroup NAME.
bl_cg_run() {
	local cg=$BL_CG/$1
	shift
	# shellcheck disable=SC2016
	bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

# bl_cg_make NAME: a cgroup NAME under the root with the io controller
# enabled for it (io.latency, io.weight, io.max).
bl_cg_make() {
	mountpoint -q $BL_CG || mount -t cgroup2 cgroup2 $BL_CG || return 1
	grep -qw io $BL_CG/cgroup.subtree_control ||
		echo +io > $BL_CG/cgroup.subtree_control || return 1
	mkdir -p "$BL_CG/$1"
}

# bl_cgjoin NAME: a command for a fio job's exec_prerun that moves the
# job's own process into cgroup NAME, so that one fio can run jobs in
# different cgroups (and start them together). fio runs it through
# system(), so the shell walks up its parents to the first fio.
bl_cgjoin() {
	printf "sh -c 'p=\$\$; while [ \$p -gt 1 ] && [ \"\$(cat /proc/\$p/comm)\" != fio ]; do p=\$(cut -d\" \" -f4 /proc/\$p/stat); done; if [ \$p -gt 1 ]; then echo \$p > %s/cgroup.procs; else echo bl_cgjoin: no fio above \$\$; fi'" "$BL_CG/$1"
}

# bl_mm DISK: its MAJ:MIN.
bl_mm() {
	cat "/sys/class/block/${1#/dev/}/dev"
}

bl_cg_del() {
	[ -d "$BL_CG/$1" ] && rmdir "$BL_CG/$1"
	return 0
}
