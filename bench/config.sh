# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034
#
# bench/config.sh - the configuration of `make bench` (scripts/bench-vm
# sources it inside the VM). Every value can be overridden from the
# environment, e.g. `make bench BENCH_ENV='ISO_SECS=60 ROUNDS=5'`.
#
# The VM runs one vCPU under QEMU icount (scripts/vm-run --icount): guest
# time is virtual, one instruction is one nanosecond and idle time is
# skipped, so what fio measures does not depend on how busy the host is.
# IOPS and latencies are therefore those of a 1 GHz CPU that executes
# every instruction in 1 ns (no caches, no pipelines). On the perf kernel
# (make bench's default) one 4 KiB read through fio, virtio_blk, vqos and
# null_blk costs about 17 us of it (58k IOPS at QD32, 124k on null_blk
# itself); on the debug kernel (KASAN, lockdep, ...) about 1.1 ms (900
# IOPS). Compare the rows with each other, never with real hardware.
#
# Backend sizing. A null_blk disk with irqmode=2 completes each request
# completion_nsec after it started, and holds at most hw_queue_depth
# requests (one submit queue), so it serves at most
#
#     capacity = hw_queue_depth / completion time
#
# IOPS. The isolation runs use 4 / 2 ms = 2000 IOPS on the perf kernel
# (the method of ../shared/ANCHORS.md) and 4 / 40 ms = 100 IOPS on the
# debug one: either way well below what the emulated CPU can push through
# vqos (victim, aggressor and their workers keep it busy less than 10 %
# of the time), so the disk, not the CPU, is what victim and aggressor
# fight over. The victim asks for 5-10 % of it, so that alone it almost
# never waits for a slot; the aggressor's depth (32) is well above the
# disk's (4), so without QoS it keeps every slot busy and the victim
# queues behind it; the limit is half the capacity. The datapath,
# precision and cost runs use irqmode=0 (a request completes at once, in
# the submitter's context): there the CPU is the bottleneck, which is
# what they measure, and the limits of the precision runs are set well
# below what it reaches.

: "${ROUNDS:=3}"			# interleaved rounds; medians and spread
# The order of the sections, and of the jobs within each, is shuffled
# every round from SEED (scripts/bench-vm; empty: a random seed, printed
# and recorded in meta.json, so that any run's order can be repeated).
: "${SEED:=}"

# --- datapath: 4k randread, QD32 IOPS and QD1 latency --------------------
: "${DP_SECS:=2}"			# per run, after DP_RAMP
: "${DP_RAMP:=500ms}"
: "${DP_QD:=32}"
: "${DP_TARGETS:=raw sim vqos-blk vqos-vqos}"

# --- isolation ------------------------------------------------------------
if [ "${VQOS_FLAVOUR:-perf}" = debug ]; then
	: "${ISO_COMPLETION_NS:=40000000}"	# 40 ms ...
	: "${ISO_VICTIM_IOPS:=10}"		# Poisson, 10 % of the capacity
	: "${ISO_LIMIT:=50}"			# half the capacity, IOPS
	: "${ISO_SECS:=30}"			# per phase: 300 victim samples
else
	: "${ISO_COMPLETION_NS:=2000000}"	# 2 ms ...
	: "${ISO_VICTIM_IOPS:=100}"		# Poisson, 5 % of the capacity
	: "${ISO_LIMIT:=1000}"			# half the capacity, IOPS
	: "${ISO_SECS:=60}"			# per phase: 6000 victim samples
fi
: "${ISO_DEPTH:=4}"			# ... x 4 slots
: "${ISO_AGG_QD:=32}"			# >= 4 x ISO_DEPTH
# io.max twice: on the aggressor's guest disk (iomax-guest: the same path
# as vqos's limit, blk-throttle at the guest's virtio_blk queue) and on
# the plain disk, the aggressor a host process (iomax).
: "${ISO_PHASES:=alone noqos vqos iomax-guest iomax plain}"

# --- pools (issue #15): a shared disk with room in it -------------------------
# A disk that runs many requests at once, as real ones do: null_blk
# irqmode=2, 2 ms x depth 32 = 16,000 IOPS. The pool's depth is set to the
# disk's, so a slot the pool keeps free is a free tag on the disk. The
# victim (device pv) is Poisson at 5 % of the capacity, QD 16 so that
# fio never has to hold back one of its bursts (1.6 in flight on
# average); the aggressor (pa00) reads at QD 64, twice the disk's depth,
# with no limit except in the static phase. Phases (bench-vm sec_pool):
#   alone       the victim alone, pool off (enabled=0): the baseline
#   alone-pool  the victim alone on the pool with its reservation and
#               latency target set (the aggressor idle): the scheduler's
#               own cost to the tail
#   noqos       + aggressor, pool off
#   static      + aggressor, pool off, aggressor iops_limit at 50 %
#   reserve     + aggressor, pool on, victim pool_reserve POOL_RESERVE
#   target      + aggressor, pool on, victim latency_target_us POOL_TARGET_US
#   iolatency   the peers, on the plain disk, both host processes in
#   iocost      sibling cgroups: io.latency target=POOL_TARGET_US on the
#               victim's; io.cost (model: the disk's 16,000 IOPS; qos:
#               p90 of reads within POOL_TARGET_US, vrate 50-150 %, the
#               shape of the kernel documentation's example) with
#               io.weight 10000 for the victim and 100 for the aggressor
#   scale       + 16 aggressors (pa00..pa15, QD POOL_SCALE_QD each), pool
#               on, the victim's reservation
# Sizing: the tail targets are on p99.9, which needs thousands of
# samples to be more than the few largest: 800 IOPS x 10 s = 8,000 victim
# samples per phase and round (p99.9 is then the 8th largest), 24,000
# over the rounds. The aggressor keeps the emulated CPU about a third
# busy (15,000 IOPS at ~20 us each), so a phase costs ~10 s of CPU, the
# bulk of this section's VM time. The reservation: 4 slots hold the
# victim's Poisson bursts but ~4 % of its requests (1.6 in flight on
# average), and leave the aggressor 28 of 32 slots (14,000 IOPS, 92 % of
# what the victim leaves, above the 85 % target). Beyond its reservation
# the victim takes the first slot any device frees (measured: 11 us after
# it, at the median), but on this disk that can be far off: a fixed 2 ms
# service time and a closed-loop aggressor make the aggressor's
# completions come in clumps, ~14 every millisecond, with gaps up to
# ~1.5 ms between them (p99). Those waits are the victim's tail above
# alone (about 1.1 ms at p99.9 with 4; measured with ftrace, 2026-12-07).
# A reserve of 6 held p99.9 at 1.26-1.33x alone, the aggressor at 0.84 of
# what is left; 7 at 1.00x and 0.81 (single 10 s runs).
# The latency target (also io.latency's and io.cost's): 3 ms, 1.5x the
# 2 ms the victim takes alone.
: "${POOL_COMPLETION_NS:=2000000}"	# 2 ms ...
: "${POOL_DEPTH:=32}"			# ... x 32 = 16,000 IOPS
: "${POOL_VICTIM_IOPS:=800}"		# 5 % of the capacity
: "${POOL_VICTIM_QD:=16}"
: "${POOL_AGG_QD:=64}"
: "${POOL_STATIC:=8000}"		# static iops_limit, 50 %
: "${POOL_RESERVE:=4}"
: "${POOL_TARGET_US:=3000}"
: "${POOL_SECS:=10}"
: "${POOL_SCALE_N:=16}"
: "${POOL_SCALE_QD:=16}"		# each; 256 together, 8x the disk
: "${POOL_PHASES:=alone alone-pool noqos static reserve target iolatency iocost scale}"
# Instructions per I/O with 1, 8 and 64 devices on one pool: one fio job
# at QD 32 spread round-robin over the devices' disks (one submitter,
# so fio's own cost per I/O does not change with N), on null_blk
# irqmode=0 (completes at once: the CPU is the bottleneck, so under
# icount IOPS = 10^9 / instructions per I/O), with the pool on and off.
# While the one device runs, the workers of the 71 idle ones are watched:
# an idle device must not be woken (no timer, no polling).
: "${POOLCPU_NS:=1 8 64}"
: "${POOLCPU_SECS:=2}"			# after DP_RAMP; deterministic under icount
# The cost of a flood (issue #13, item 11): a device flooding 512-byte
# reads, 16 jobs x QD 128 (with one vCPU the guest's virtio_blk drives
# one of its 16 queues: 2048 requests outstanding on one ring), beside
# another device reading 4k at QD 32: on the pool disk (its IOPS bound by
# the disk; the target, < 5 % lost) and on a null_blk that completes at
# once (bound by the CPU: with one vCPU the two share it, so this one
# has no target and shows what a CPU shared with a flood costs).
: "${FLOOD_SECS:=3}"			# after DP_RAMP
: "${FLOOD_JOBS:=16}"
: "${FLOOD_QD:=128}"

# --- limiter precision --------------------------------------------------------
: "${PREC_SECS:=10}"
: "${PREC_IOPS_LIMIT:=200}"		# 4k randread at QD32 against it
: "${PREC_BPS_LIMIT:=4194304}"		# 4 MiB/s, 64k randread at QD8
# A Poisson guest at 20 % of its limit, with the limit off, on (default
# bucket, 100 ms of the limit) and on with a shallow bucket of 4 ms (2
# requests), which its Poisson bursts overflow now and then: three
# arrivals within about 4 ms. 6000 samples per job, so that p99.9 is the
# 6th largest, not the largest. The bucket was 10 ms (5 requests) before,
# and held none in any round: five arrivals in 10 ms at 100/s is rarer
# than 1 in 6000. A simulation of this queue (Poisson arrivals, FIFO,
# the bucket of vqos_tb) holds about 2 % of the requests with 2 (120-160
# of 6000), 0.2 % with 3, 0 to 3 with 4 and none with 5; report.py
# shows how many were held in each round.
: "${PREC_BELOW_IOPS:=100}"
: "${PREC_BELOW_LIMIT:=500}"
: "${PREC_BELOW_SECS:=60}"
: "${PREC_BELOW_SHALLOW:=$((PREC_BELOW_LIMIT / 250))}"
# No head-of-line blocking across limits (issue #15): a reader under
# bps_read_limit alone, then beside a writer held by iops_write_limit
# (QD 16 against 150 writes/s, so a write is held nearly all the time);
# the reader must keep >= 99 % of its limit.
: "${HOL_READ_BPS:=3145728}"		# 3 MiB/s of 64k reads, QD 4
: "${HOL_WRITE_IOPS:=150}"

# --- costs ---------------------------------------------------------------------
: "${COST_SECS:=2}"			# per run, after DP_RAMP
: "${COST_UNREACHABLE:=1000000000}"	# iops_limit far above any rate
