# SPDX-License-Identifier: GPL-2.0
#
# vqos top-level Makefile (the kernel build reads ./Kbuild, not this file).
#
#   make                 build the modules against KDIR (default: the vqos
#                        test kernel; for a real host:
#                        make KDIR=/lib/modules/$(uname -r)/build)
#   make kernel          build (or reuse) the test kernel
#   make deps            install missing Debian packages
#   make check           deps, kernel, modules, test modules, bpf tools, then
#                        one VM boot running selftests/run-all
#   make vm CMD='...'    run CMD as root in the test VM
#   make demo            boot the VM, load kmod/vqos.ko, show the mgmtdev
#   make clean
#
# FLAVOUR=debug|perf picks the test kernel (default debug: KASAN, lockdep,
# UBSAN, kmemleak). CHECK_TIMEOUT bounds the check VM run in seconds.

SHELL := /bin/bash
FLAVOUR ?= debug
CHECK_TIMEOUT ?= 4500

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

.PHONY: all modules kernel deps check vm demo clean selftests-modules bpf kdir-check

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
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules
else
	@echo "make: SKIP building vqos modules: $(missing_kbuild) not written yet"
endif

kernel:
	scripts/build-kernel --flavour $(FLAVOUR)

deps:
	@scripts/install-deps

selftests-modules: kdir-check
	$(MAKE) -C selftests/modules KDIR=$(KDIR)

bpf:
	@if [ -f bpf/Makefile ]; then \
		$(MAKE) -C bpf KDIR=$(KDIR); \
	else \
		echo "make: SKIP bpf tools: no bpf/Makefile yet"; \
	fi

# Sequential on purpose, even under make -j: each step needs the previous.
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory kernel
	@$(MAKE) --no-print-directory modules
	@$(MAKE) --no-print-directory selftests-modules
	@$(MAKE) --no-print-directory bpf
	@$(VM_CHECK) --timeout $(CHECK_TIMEOUT)

vm:
	@if [ -z "$$CMD" ]; then \
		echo "usage: make vm CMD='command to run in the test VM'" >&2; exit 2; \
	fi
	@$(VM_RUN) -- bash -c "$$CMD"

demo: modules
	@$(VM_RUN) -- bash -c '. selftests/lib.sh && vqos_load vqos && vdpa mgmtdev show'

clean:
	@if [ -f "$(KDIR)/Makefile" ] && [ -z "$(missing_kbuild)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; \
	fi
	$(MAKE) -C selftests/modules clean
	@if [ -f bpf/Makefile ]; then $(MAKE) -C bpf clean; fi
	find kmod guest-driver -type f \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name '*.order' -o -name '.*.d' \) -delete
	rm -f Module.symvers modules.order
	rm -rf .vm/run.* .vm/check.log
