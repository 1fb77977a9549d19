# SPDX-License-Identifier: GPL-2.0
#
# vqos top-level Makefile (the kernel build reads ./Kbuild, not this file).
#
#   make                 build the modules against KDIR (default: the vqos
#                        test kernel; for a real host:
#                        make KDIR=/lib/modules/$(uname -r)/build)
#   make kernel          build (or reuse) the test kernel
#   make deps            install missing Debian packages
#   make l2              build (or reuse) the nested guests' kernel and
#                        virtio_vqos for it (scripts/build-l2)
#   make check           deps, kernel, modules, test modules, bpf tools,
#                        the nested guests' kernel (make l2), the host
#                        tests (lint, rig messages, install, README bench
#                        table), then one VM boot running
#                        selftests/run-all (test_qemu_vm's nested QEMU
#                        guests included); a skip not listed in
#                        selftests/expected-skips fails (STRICT_SKIPS=0:
#                        reported only); prints each step's time
#   make vm CMD='...'    run CMD as root in the test VM
#   make stress          the hostile-guest test with a long fuzz run and
#                        the stress test (devices, QoS and churn under
#                        verified fio) for STRESS_FUZZ_SECONDS each
#                        (default 900), in one VM boot
#   make demo            deps, perf kernel, modules, then one VM boot
#                        (1 vCPU, QEMU icount) running scripts/demo-vm: a
#                        victim and a noisy aggressor on one disk, without
#                        QoS, under a static cap, under vqos's pool, and
#                        the kernel's io.max and io.latency beside; a
#                        table, a verdict and a CCDF plot (kept in
#                        .vm/demo/); about 5 minutes once built
#   make bench           the same builds, then one VM boot (1 vCPU, icount)
#                        running scripts/bench-vm: datapath, isolation,
#                        limiter precision and costs, interleaved rounds;
#                        results in bench/results/ (config: bench/config.sh)
#                        and the README's table, generated from them; then
#                        the L2 row (make bench-l2)
#   make bench-l2        the L2 row alone (issue #16): the nested guests'
#                        kernel (make l2), then one VM boot (2 vCPUs, no
#                        icount) running scripts/bench-l2: 4k random-read
#                        IOPS at QD32 in one L2 guest on vqos vs. on QEMU's
#                        own virtio-blk, same backing, alternating rounds;
#                        bench/results/l2.json, l2.txt and the README's L2
#                        line, generated from them
#   make install         install the built modules (extra/, depmod),
#                        bpf/vqos-lat and the uapi header: DESTDIR= or
#                        INSTALL_MOD_PATH= stage them, PREFIX= (default
#                        /usr/local) places the tool and header
#   make uninstall       remove what make install installed
#   make lint            checkpatch, kernel-doc, sparse (C=2) over the C
#                        sources, bash -n over the scripts
#   make clean
#
# FLAVOUR=debug|perf picks the test kernel (default debug: KASAN, lockdep,
# UBSAN, kmemleak; make bench, bench-l2 and demo default to perf, no
# sanitizers). CHECK_TIMEOUT, DEMO_TIMEOUT and BENCH_L2_TIMEOUT bound the
# check, demo and L2 bench VM runs in seconds.

SHELL := /bin/bash
# make bench and make demo measure: they default to the kernel without
# sanitizers.
ifneq ($(filter $(MAKECMDGOALS),bench bench-l2 demo),)
FLAVOUR ?= perf
endif
FLAVOUR ?= debug
CHECK_TIMEOUT ?= 4200
DEMO_TIMEOUT ?= 1200
BENCH_L2_TIMEOUT ?= 1200

ifeq ($(origin KDIR),undefined)
KDIR := $(shell scripts/build-kernel --flavour $(FLAVOUR) --print-dir 2>/dev/null)
KDIR_IS_TEST_KERNEL := 1
endif

# The modules' source directories, as listed in ./Kbuild.
MODULE_DIRS := kmod guest-driver
missing_kbuild = $(strip $(foreach d,$(MODULE_DIRS),\
	$(if $(wildcard $(d)/Kbuild $(d)/Makefile),,$(d)/Kbuild)))

# The VM runs the kernel the modules were built against.
VM_RUN := $(if $(KDIR_IS_TEST_KERNEL),,VQOS_KDIR=$(KDIR)) scripts/vm-run --flavour $(FLAVOUR)
VM_CHECK := $(if $(KDIR_IS_TEST_KERNEL),,VQOS_KDIR=$(KDIR)) scripts/vm-check --flavour $(FLAVOUR)

.PHONY: all modules kernel deps check vm demo bench bench-l2 clean selftests-modules bpf kdir-check l2

all: modules

kdir-check:
	@if [ -z "$(KDIR)" ]; then \
		echo "make: cannot find the test kernel: is linux-source-6.1 installed? (make deps)" >&2; exit 1; \
	elif [ ! -f "$(KDIR)/Makefile" ] || [ ! -f "$(KDIR)/Module.symvers" ]; then \
		echo "make: KDIR=$(KDIR) is not a built kernel tree." >&2; \
		echo "  Build the test kernel with 'make kernel', or pass KDIR=/lib/modules/\$$(uname -r)/build" >&2; \
		exit 1; \
	fi

modules: kdir-check
ifeq ($(missing_kbuild),)
	@# A kernel without vDPA: name the options, not modpost's errors.
	@$(SHELL) scripts/kconfig-check $(KDIR)
	@# Built before for another tree (make bench's perf kernel, say)? kbuild
	@# sees the compiler flags change and rebuilds every object.
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules
else
	@echo "make: SKIP building vqos modules: $(missing_kbuild) not written yet"
endif

kernel:
	scripts/build-kernel --flavour $(FLAVOUR)

deps:
	@scripts/install-deps

# The nested guests (L2) that QEMU boots inside the test VM.
l2:
	@scripts/build-l2 >/dev/null

selftests-modules: kdir-check
	$(MAKE) -C selftests/modules KDIR=$(KDIR)

# Userspace programs the selftests run in the VM (built on the host, which
# shares its root filesystem with the VM): the hostile guest.
.PHONY: selftests-progs stress
selftests-progs:
	$(MAKE) -C selftests/hostile

STRESS_FUZZ_SECONDS ?= 900
stress: modules selftests-progs
	@$(VM_RUN) --timeout $$((2 * $(STRESS_FUZZ_SECONDS) + 3600)) -- env \
		VQOS_FUZZ_SECONDS=$(STRESS_FUZZ_SECONDS) \
		VQOS_STRESS_SECONDS=$(STRESS_FUZZ_SECONDS) \
		VQOS_TEST_TIMEOUT=$$(($(STRESS_FUZZ_SECONDS) + 1200)) \
		selftests/run-all test_hostile test_stress

bpf:
	@if [ -f bpf/Makefile ]; then \
		$(MAKE) -C bpf KDIR=$(KDIR); \
	else \
		echo "make: SKIP bpf tools: no bpf/Makefile yet"; \
	fi

# selftests that say "# vqos-selftest-where: host" (run-all skips them).
HOST_TESTS = $(shell grep -l '^\# vqos-selftest-where: host$$' selftests/test_*.sh)

# STRICT_SKIPS=1 (the default): a skipped test case that
# selftests/expected-skips does not list fails the check; 0 reports it only.
STRICT_SKIPS ?= 1
# CHECK_VM_ARGS: more scripts/vm-run options for the check's VM, e.g.
# '--append initcall_blacklist=vhost_vdpa_init' (a kernel without
# vhost-vdpa, as far as the tests can tell).
CHECK_VM_ARGS ?=

# Sequential on purpose, even under make -j: each step needs the previous.
# Every step is timed; vm-check prints the times, the total and whether
# the test kernel was built (cold) or reused (warm) before the summary.
# Each step is its own recipe line (a line naming $(MAKE) runs even under
# make -n; the VM's must not).
check:
	@mkdir -p .vm; date +%s > .vm/check-start; : > .vm/check-times; \
	if [ -n "$(KDIR)" ] && [ -f "$(KDIR)/.vqos-built" ]; then echo warm; else echo cold; fi > .vm/check-kernel
	+@$(call check_step,deps)
	+@$(call check_step,kernel)
	+@$(call check_step,modules)
	+@$(call check_step,selftests-modules)
	+@$(call check_step,selftests-progs)
	+@$(call check_step,bpf)
	+@$(call check_step,l2)
	@# Host tests (lint costs ten times more in the VM) run here, and
	@# vm-check counts their cases into the summary line.
	@taps=; \
	for t in $(HOST_TESTS); do \
		n=$$(basename $$t .sh); t0=$$(date +%s); \
		VQOS_KDIR=$(KDIR) $$t 2>&1 | tee .vm/$$n.tap; \
		echo "$$n $$(($$(date +%s) - t0)) host" >> .vm/check-times; \
		taps="$$taps --host-tap .vm/$$n.tap"; \
	done; \
	VQOS_STRICT_SKIPS=$(STRICT_SKIPS) VQOS_CHECK_START=$$(cat .vm/check-start) \
	VQOS_CHECK_TIMES=.vm/check-times VQOS_CHECK_KERNEL=$$(cat .vm/check-kernel) \
		$(VM_CHECK) $$taps --timeout $(CHECK_TIMEOUT) $(CHECK_VM_ARGS)

# check_step TARGET: make TARGET, and note how long it took.
check_step = t=$$(date +%s); $(MAKE) --no-print-directory $(1) && \
	echo "$(1) $$(($$(date +%s) - t))" >> .vm/check-times

vm:
	@if [ -z "$$CMD" ]; then \
		echo "usage: make vm CMD='command to run in the test VM'" >&2; exit 2; \
	fi
	@$(VM_RUN) -- bash -c "$$CMD"

# icount: one vCPU on virtual time, so that TCG's noise does not drown the
# latencies the demo is about (see scripts/demo-vm).
# VM=1: the demo in real VMs (issue #16): two nested guests (L2) in the
# test VM on one vqos pool, the victim's latency measured in its VM
# (scripts/demo-l2).
demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory kernel FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory modules FLAVOUR=$(FLAVOUR)
ifeq ($(VM),1)
	@$(MAKE) --no-print-directory bpf FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory l2 FLAVOUR=$(FLAVOUR)
	@$(if $(KDIR_IS_TEST_KERNEL),,VQOS_KDIR=$(KDIR)) scripts/demo --vm --flavour $(FLAVOUR) --timeout $(DEMO_TIMEOUT)
else
	@$(if $(KDIR_IS_TEST_KERNEL),,VQOS_KDIR=$(KDIR)) scripts/demo --flavour $(FLAVOUR) --timeout $(DEMO_TIMEOUT)
endif

# BENCH_ARGS: VAR=VALUE overrides of bench/config.sh, e.g. 'ROUNDS=5'.
bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory kernel FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory modules FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory bpf FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory l2 FLAVOUR=$(FLAVOUR)
	@# Both parts run; the L2 row's failure fails make bench, after the
	@# README's table is updated.
	@rc=0; $(if $(KDIR_IS_TEST_KERNEL),,VQOS_KDIR=$(KDIR)) scripts/bench --flavour $(FLAVOUR) \
		--l2-timeout $(BENCH_L2_TIMEOUT) $(BENCH_ARGS) || rc=$$?; \
		python3 bench/report.py --readme README.md && exit $$rc

# The L2 row of make bench alone (scripts/bench-l2).
bench-l2:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory kernel FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory modules FLAVOUR=$(FLAVOUR)
	@$(MAKE) --no-print-directory l2 FLAVOUR=$(FLAVOUR)
	@$(if $(KDIR_IS_TEST_KERNEL),,VQOS_KDIR=$(KDIR)) scripts/bench --part l2 --flavour $(FLAVOUR) \
		--l2-timeout $(BENCH_L2_TIMEOUT)

clean:
	@if [ -f "$(KDIR)/Makefile" ] && [ -z "$(missing_kbuild)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; \
	fi
	$(MAKE) -C selftests/modules clean
	$(MAKE) -C selftests/hostile clean
	@if [ -f bpf/Makefile ]; then $(MAKE) -C bpf clean; fi
	find kmod guest-driver -type f \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name '*.order' -o -name '.*.d' \) -delete
	rm -f Module.symvers modules.order
	@# Not .vm/run.*: a running VM reads its snapshot of the checkout there
	@# (scripts/vm-run removes its own run directories, and stale ones).
	rm -f .vm/check.log

# --- install ----------------------------------------------------------------
# make install: the modules, built beforehand by `make` (as any user), go to
# $(INSTALL_MOD_PATH)/lib/modules/<KDIR's release>/$(INSTALL_MOD_DIR)/ by
# kbuild's modules_install (so they are signed, stripped or compressed as
# that kernel's configuration says), then depmod; bpf/vqos-lat and its BPF
# object if `make bpf` built them, and the uapi header, under $(PREFIX).
# DESTDIR stages all of it under another root; INSTALL_MOD_PATH defaults to
# it. DKMS (dkms.conf) is the alternative that follows kernel updates.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
INSTALL ?= install
INSTALL_MOD_PATH ?= $(DESTDIR)
INSTALL_MOD_DIR ?= extra
DEPMOD ?= $(firstword $(wildcard /sbin/depmod /usr/sbin/depmod) depmod)
# $(file <...) (GNU make 4.2) reads it without a shell, which the test VM
# pays a second for.
KVER := $(or $(strip $(file <$(KDIR)/include/config/kernel.release)),$(shell uname -r))
MOD_ROOT = $(abspath $(INSTALL_MOD_PATH))
MOD_DEST = $(MOD_ROOT)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)
INSTALL_KOS := kmod/vqos.ko guest-driver/virtio_vqos.ko
run_depmod = if [ -d "$(MOD_ROOT)/lib/modules/$(KVER)" ]; then \
	echo "$(DEPMOD) $(if $(MOD_ROOT),-b $(MOD_ROOT) )$(KVER)"; \
	$(DEPMOD) $(if $(MOD_ROOT),-b $(MOD_ROOT)) $(KVER); fi

.PHONY: install install-modules install-tools uninstall

install: install-modules install-tools

install-modules: kdir-check
	@for ko in $(INSTALL_KOS); do \
		if [ ! -f "$$ko" ]; then \
			echo "make install: $$ko is not built: run 'make$(if $(KDIR_IS_TEST_KERNEL),, KDIR=$(KDIR))' first" >&2; \
			exit 1; \
		fi; \
		v=$$(modinfo -F vermagic "$$ko" 2>/dev/null); v=$${v%% *}; \
		if [ "$$v" != "$(KVER)" ]; then \
			echo "make install: $$ko was built for kernel '$$v', not for $(KVER) (KDIR=$(KDIR)):" >&2; \
			echo "  run 'make KDIR=$(KDIR)' first" >&2; \
			exit 1; \
		fi; \
	done
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(MOD_ROOT) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) DEPMOD=true modules_install
	@# The KUnit suites (built when the kernel has CONFIG_KUNIT) are for
	@# the test rig, not for hosts: depmod must not see them.
	rm -f $(MOD_DEST)/kmod/*_test.ko*
	@$(run_depmod)

install-tools:
	$(INSTALL) -D -m 0644 uapi/linux/vqos.h $(DESTDIR)$(INCLUDEDIR)/linux/vqos.h
	@if [ -x bpf/vqos-lat ] && [ -f bpf/.output/vqos_lat.bpf.o ]; then \
		echo "$(INSTALL) -D -m 0755 bpf/vqos-lat $(DESTDIR)$(BINDIR)/vqos-lat"; \
		$(INSTALL) -D -m 0755 bpf/vqos-lat $(DESTDIR)$(BINDIR)/vqos-lat && \
		echo "$(INSTALL) -D -m 0644 bpf/.output/vqos_lat.bpf.o $(DESTDIR)$(LIBDIR)/vqos/vqos_lat.bpf.o" && \
		$(INSTALL) -D -m 0644 bpf/.output/vqos_lat.bpf.o $(DESTDIR)$(LIBDIR)/vqos/vqos_lat.bpf.o; \
	else \
		echo "make install: bpf/vqos-lat is not built (make bpf): not installed"; \
	fi

uninstall:
	rm -f $(foreach ko,$(INSTALL_KOS),$(MOD_DEST)/$(ko)*) $(MOD_DEST)/kmod/*_test.ko*
	@for d in $(MOD_DEST)/kmod $(MOD_DEST)/guest-driver $(MOD_DEST); do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"; \
	done
	@$(run_depmod)
	rm -f $(DESTDIR)$(BINDIR)/vqos-lat $(DESTDIR)$(LIBDIR)/vqos/vqos_lat.bpf.o \
		$(DESTDIR)$(INCLUDEDIR)/linux/vqos.h
	@[ ! -d "$(DESTDIR)$(LIBDIR)/vqos" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(LIBDIR)/vqos"

# --- lint -------------------------------------------------------------------
# make lint: checkpatch.pl (no error, no warning but those ignored below),
# kernel-doc (no warning, -v so that missing "Return:" sections count) and
# sparse (make C=2; a warning or error in one of our files fails, the
# kernel's own headers are not ours to fix) over the C sources, bash -n over
# the shell scripts. checkpatch.pl and kernel-doc come from the kernel
# source tree of KDIR (the test kernel's by default; distribution headers
# packages lack them: pass CHECKPATCH= and KERNELDOC=). Without sparse
# installed that part is skipped, and says so. The lint-* targets take
# LINT_KERNEL_FILES, LINT_BPF_FILES, LINT_SPARSE_DIRS, LINT_SHELL_FILES.
LINT_KSRC = $(firstword $(foreach d,$(KDIR)/source $(KDIR),\
	$(if $(wildcard $(d)/scripts/checkpatch.pl),$(d))))
CHECKPATCH ?= $(if $(LINT_KSRC),$(LINT_KSRC)/scripts/checkpatch.pl,checkpatch.pl)
KERNELDOC ?= $(if $(LINT_KSRC),$(LINT_KSRC)/scripts/kernel-doc,kernel-doc)
SPARSE ?= sparse
LINT_KERNEL_FILES ?= $(sort $(filter-out %.mod.c,$(wildcard kmod/*.[ch] \
	kmod/tests/*.[ch] guest-driver/*.[ch] guest-driver/tests/*.[ch] \
	selftests/modules/*.[ch]))) uapi/linux/vqos.h
LINT_BPF_FILES ?= $(sort $(wildcard bpf/*.[ch]))
LINT_SPARSE_DIRS ?= $(CURDIR) $(CURDIR)/selftests/modules
LINT_SHELL_FILES ?= $(sort $(wildcard scripts/* scripts/l2/* selftests/*.sh selftests/run-all \
	selftests/*/*.sh bpf/*.sh .ci/run dkms.conf))

CHECKPATCH_FLAGS := --no-tree -f --quiet --show-types
# checkpatch message types ignored, and why. Kernel code: none. bpf/ is user
# space and BPF C built with clang, not kernel code:
#   VOLATILE       libbpf's read-only globals the loader sets are "const
#                  volatile" (so clang keeps them), and a signal handler's
#                  flag is "volatile sig_atomic_t" in ISO C
#   REPEATED_WORD  "mount -t bpf bpf /sys/fs/bpf" is a command, not a typo
CHECKPATCH_IGNORE_BPF := VOLATILE,REPEATED_WORD

.PHONY: lint lint-checkpatch lint-kernel-doc lint-sparse lint-shell lint-tools

# All parts run even when one fails, so that one run shows everything.
lint:
	@rc=0; \
	for t in lint-checkpatch lint-kernel-doc lint-sparse lint-shell; do \
		$(MAKE) --no-print-directory $$t || rc=1; \
	done; \
	if [ $$rc = 0 ]; then echo "lint: clean"; else echo "lint: FAILED" >&2; fi; \
	exit $$rc

lint-tools:
	@for t in "$(CHECKPATCH)" "$(KERNELDOC)"; do \
		if [ ! -f "$$t" ]; then \
			echo "lint: $$t not found: it comes from the kernel source tree of KDIR=$(KDIR)." >&2; \
			echo "  Use the test kernel's ('make kernel', then make lint without KDIR)," >&2; \
			echo "  or pass CHECKPATCH=<linux>/scripts/checkpatch.pl KERNELDOC=<linux>/scripts/kernel-doc" >&2; \
			exit 1; \
		fi; \
	done

lint-checkpatch: lint-tools
	@rc=0; \
	if [ -n "$(strip $(LINT_KERNEL_FILES))" ]; then \
		echo "  CHECKPATCH $(words $(LINT_KERNEL_FILES)) kernel files"; \
		perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) $(LINT_KERNEL_FILES) || rc=1; \
	fi; \
	if [ -n "$(strip $(LINT_BPF_FILES))" ]; then \
		echo "  CHECKPATCH $(words $(LINT_BPF_FILES)) bpf files (--ignore $(CHECKPATCH_IGNORE_BPF))"; \
		perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) --ignore $(CHECKPATCH_IGNORE_BPF) \
			$(LINT_BPF_FILES) || rc=1; \
	fi; \
	[ $$rc = 0 ] || echo "lint: checkpatch FAILED" >&2; \
	exit $$rc

lint-kernel-doc: lint-tools
	@files="$(strip $(LINT_KERNEL_FILES) $(LINT_BPF_FILES))"; \
	[ -n "$$files" ] || exit 0; \
	echo "  KERNEL-DOC $(words $(LINT_KERNEL_FILES) $(LINT_BPF_FILES)) files"; \
	out=$$(perl $(KERNELDOC) -v -Werror -none $$files 2>&1); rc=$$?; \
	out=$$(grep -v ': info: ' <<<"$$out"); \
	[ -z "$$out" ] || printf '%s\n' "$$out"; \
	if [ $$rc != 0 ] || grep -qi 'warning\|error' <<<"$$out"; then \
		echo "lint: kernel-doc FAILED" >&2; exit 1; \
	fi

lint-sparse: kdir-check
	@if ! command -v $(SPARSE) >/dev/null; then \
		echo "lint: SKIP sparse: $(SPARSE) is not installed (apt-get install sparse, or make deps)"; \
		exit 0; \
	fi; \
	rc=0; \
	for d in $(LINT_SPARSE_DIRS); do \
		echo "  SPARSE     $$d"; \
		out=$$($(MAKE) --no-print-directory -C $(KDIR) M=$$d C=2 CHECK=$(SPARSE) modules 2>&1); \
		if [ $$? != 0 ]; then \
			printf '%s\n' "$$out"; echo "lint: building $$d with C=2 failed" >&2; rc=1; continue; \
		fi; \
		ours=$$(grep -E "^$$d/[^:]+:[0-9]+:[0-9]+: (warning|error):" <<<"$$out"); \
		if [ -n "$$ours" ]; then \
			grep -E -A3 "^$$d/[^:]+:[0-9]+:[0-9]+: (warning|error):" <<<"$$out"; rc=1; \
		fi; \
	done; \
	[ $$rc = 0 ] || echo "lint: sparse FAILED" >&2; \
	exit $$rc

lint-shell:
	@rc=0; n=0; \
	for f in $(LINT_SHELL_FILES); do \
		[ -f "$$f" ] || continue; \
		case "$$f" in *.sh|*/run|*/run-all|dkms.conf) ;; \
		*) head -n1 "$$f" | grep -q '^#!.*\(bash\|/sh\)' || continue ;; \
		esac; \
		n=$$((n + 1)); \
		bash -n "$$f" || { echo "lint: $$f: bash -n failed" >&2; rc=1; }; \
	done; \
	echo "  BASH -n    $$n scripts"; \
	exit $$rc
