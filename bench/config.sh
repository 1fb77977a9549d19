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

# --- costs ---------------------------------------------------------------------
: "${COST_SECS:=2}"			# per run, after DP_RAMP
: "${COST_UNREACHABLE:=1000000000}"	# iops_limit far above any rate
