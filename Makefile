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
#   make install         install the built modules (extra/, depmod),
#                        bpf/vqos-lat and the uapi header: DESTDIR= or
#                        INSTALL_MOD_PATH= stage them, PREFIX= (default
#                        /usr/local) places the tool and header
#   make uninstall       remove what make install installed
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
KVER = $(or $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null),$(shell uname -r))
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

