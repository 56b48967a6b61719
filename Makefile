# mvmd — one top-level Makefile (kvmtool style).
#
#   make                 build everything into build/
#   make check           build, then run every test suite (tests/run)
#   make check SANITIZE=1  the same under ASan+UBSan, in build-san/
#   make check-kvm-in-qemu  the KVM suites in a QEMU guest, for hosts without /dev/kvm
#   make bench           benchmarks under bench/ (never part of check)
#   make chaos           kill -9 campaign against mvmd (ITER=200, SEED= to replay)
#   make fuzz            libFuzzer targets (clang) into build/fuzz/
#   make demo            start mvmd on temporary paths and drive a VM
#   make install         install binaries, units and man pages (DESTDIR, PREFIX)
#   make deps            install the missing Debian packages (as root); plain
#                        make only names them: check, demo, bench install them
#
# Sources are found by wildcard per component, so adding a .c file to a
# component needs no Makefile change. Special builds (freestanding guest,
# musl-static init, wasm32 programs) each have a marked section below.

VERSION := 0.1.0
.DEFAULT_GOAL := all
PREFIX ?= /usr/local
DESTDIR ?=

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SAN_FLAGS :=
endif

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
WERROR ?= 1
OPT ?= -O2

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-unused-parameter -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

# Quiet unless V=1.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# --- dependencies ----------------------------------------------------------
# $(BUILD)/config.mk is generated (and make restarts with it) after
# packaging/install-deps looked for the Debian packages. `make deps`,
# `make check`, `make demo` and `make bench` install the missing ones (and
# say which), so a fresh machine needs only `make check` as root; any other
# goal, plain `make` included, only names what is missing and stops.
# DEPS_CHECK=0 skips the look (debian/rules: Build-Depends were checked).
PKGS := json-c libsystemd libseccomp libcap-ng libcurl libcrypto
DEPS_INSTALL_GOALS := deps check demo bench
DEPS_CHECK ?= 1
NODEPS_GOALS := clean distclean help
ifeq ($(filter $(NODEPS_GOALS),$(MAKECMDGOALS)),)
include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: packaging/build-deps packaging/install-deps
	@mkdir -p $(@D)
	$(Q)$(if $(filter 1,$(DEPS_CHECK)),packaging/install-deps $(if $(filter $(DEPS_INSTALL_GOALS),$(MAKECMDGOALS)),,--check))
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "CHECK_CFLAGS := $$(pkg-config --cflags check)"; \
	   echo "CHECK_LIBS := $$(pkg-config --libs check)"; } > $@.tmp && mv $@.tmp $@

CPPFLAGS_BASE := -D_GNU_SOURCE -DMVM_VERSION=\"$(VERSION)\"
CFLAGS_BASE := -std=gnu11 $(OPT) -g -pipe -fno-strict-aliasing $(WARNINGS) $(SAN_FLAGS)
DEPFLAGS = -MMD -MP
# Include roots by execution context: a file finds only the headers of
# its own context and of lib/ (shared code), so an include across
# contexts does not compile. Tests, benchmarks and fuzz targets see all.
INC_MVMD := -Ilib -Irpc -Idaemon/mvmd
INC_VMM := -Ilib -Idaemon/vmm
INC_LINUX := -Ilib -Iinit/linux
INC_LIB := -Ilib
INC_MVMCTL := -Ilib -Idaemon/mvmctl
INC_FETCH := -Ilib -Idaemon/mvm-fetch
INC_ALL := -I. -Ilib -Irpc -Idaemon/mvmd -Idaemon/vmm -Iinit/linux -Idaemon/mvm-fetch
INC = $(INC_ALL)
ALL_CFLAGS = $(CPPFLAGS_BASE) $(INC) $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# --- components --------------------------------------------------------------
# One archive per folder, named after where its code runs (docs/hacking.md,
# "Layout"); each program links only the archives of its context:
#   libmvmd.a     daemon/mvmd/ with kvm/, ch/   mvmd
#   libmvmrpc.a   rpc/                          mvmd
#   libvmm.a      daemon/vmm/                   mvm-vmm
#   libfetch.a    daemon/mvm-fetch/             mvm-fetch (the sandboxed registry client)
#   libinit.a     init/linux/ (host build)      tests only: mvm-init is built with musl below
#   libproto.a    lib/proto/                    mvmd, mvm-vmm (guests build exec-frame.c their way)
#   libmvmwasm.a  lib/wasm/                     mvmd, mvm-wasm (guests build it their way)
#   libutil.a     lib/util/                     every host program
# tests/suites/link-separation.sh proves it on the linked binaries.
MVMD_SRCS := $(filter-out daemon/mvmd/main.c,$(wildcard daemon/mvmd/*.c daemon/mvmd/*/*.c))
VMM_SRCS := $(filter-out daemon/vmm/main.c,$(wildcard daemon/vmm/*.c))
FETCH_SRCS := $(filter-out daemon/mvm-fetch/main.c,$(wildcard daemon/mvm-fetch/*.c))
INITLIB_SRCS := $(filter-out init/linux/main.c,$(wildcard init/linux/*.c))
PROTO_SRCS := $(wildcard lib/proto/*.c)
UTIL_SRCS := $(wildcard lib/util/*.c)
WASM_SRCS := $(wildcard lib/wasm/*.c)
# The interpreter and WASI core, without the POSIX binding: what builds freestanding.
WASM_CORE_SRCS := $(filter-out lib/wasm/wasi-posix.c,$(WASM_SRCS))
RPC_SRCS := $(wildcard rpc/*.c)
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
INTEG_SRCS := $(wildcard tests/integration/check_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBMVMD := $(BUILD)/lib/libmvmd.a
LIBVMM := $(BUILD)/lib/libvmm.a
LIBFETCH := $(BUILD)/lib/libfetch.a
LIBINIT := $(BUILD)/lib/libinit.a
LIBPROTO := $(BUILD)/lib/libproto.a
LIBUTIL := $(BUILD)/lib/libutil.a
LIBWASM := $(BUILD)/lib/libmvmwasm.a
LIBRPC := $(BUILD)/lib/libmvmrpc.a
LIBTEST := $(BUILD)/lib/libmvmtest.a
MVMD_LIBS := $(LIBRPC) $(LIBMVMD) $(LIBPROTO) $(LIBWASM) $(LIBUTIL)
VMM_LIBS := $(LIBVMM) $(LIBPROTO) $(LIBUTIL)
WASM_TOOL_LIBS := $(LIBWASM) $(LIBUTIL)
# Tests, benchmarks and test tools link everything.
ALL_LIBS := $(LIBRPC) $(LIBMVMD) $(LIBVMM) $(LIBFETCH) $(LIBINIT) $(LIBPROTO) $(LIBWASM) $(LIBUTIL)
FETCH_LIBS := $(LIBFETCH) $(LIBUTIL)

# Programs: daemon/<dir>/main.c or daemon/<tool>.c.
BINS := $(BUILD)/bin/mvmd $(BUILD)/bin/mvm-vmm $(BUILD)/bin/mvm-wasm $(BUILD)/bin/mvmctl $(BUILD)/bin/mvm-fetch
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRCS))

# Extra artefacts that special sections append to (guest images, init, ...).
EXTRA_ALL :=
EXTRA_CHECK_DEPS :=

.PHONY: all check check-kvm-in-qemu bench fuzz demo install clean distclean help deps

all: $(BINS) $(UNIT_TESTS) $(INTEG_TESTS)

$(BUILD)/obj/daemon/mvmd/%.o $(BUILD)/obj/rpc/%.o: INC = $(INC_MVMD)
$(BUILD)/obj/daemon/vmm/%.o: INC = $(INC_VMM)
$(BUILD)/obj/daemon/mvm-fetch/%.o: INC = $(INC_FETCH)
$(BUILD)/obj/init/linux/%.o: INC = $(INC_LINUX)
$(BUILD)/obj/lib/%.o $(BUILD)/obj/daemon/mvm-wasm.o: INC = $(INC_LIB)

$(BUILD)/obj/%.o: %.c | $(BUILD)/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

define archive
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^
endef

$(LIBMVMD): $(call obj,$(MVMD_SRCS)) ; $(archive)
$(LIBVMM): $(call obj,$(VMM_SRCS)) ; $(archive)
$(LIBFETCH): $(call obj,$(FETCH_SRCS)) ; $(archive)
$(LIBINIT): $(call obj,$(INITLIB_SRCS)) ; $(archive)
$(LIBPROTO): $(call obj,$(PROTO_SRCS)) ; $(archive)
$(LIBUTIL): $(call obj,$(UTIL_SRCS)) ; $(archive)
$(LIBWASM): $(call obj,$(WASM_SRCS)) ; $(archive)
$(LIBRPC): $(call obj,$(RPC_SRCS)) ; $(archive)
$(LIBTEST): $(call obj,$(TESTLIB_SRCS)) ; $(archive)

# Empty components still produce a (empty) archive so links stay uniform.
$(BUILD)/lib/%.a:
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@

$(BUILD)/bin/mvmd: $(BUILD)/obj/daemon/mvmd/main.o $(MVMD_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(MVMD_LIBS) $(PKG_LIBS) -lm -lpthread

# mvm-fetch talks to registries for mvmd, sandboxed (docs/blobs.md): libcurl,
# json-c and the seccomp/capability libraries, nothing of mvmd.
$(BUILD)/bin/mvm-fetch: $(BUILD)/obj/daemon/mvm-fetch/main.o $(FETCH_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(FETCH_LIBS) $$(pkg-config --libs libcurl json-c libseccomp libcap-ng)

$(BUILD)/bin/mvm-wasm: $(BUILD)/obj/daemon/mvm-wasm.o $(WASM_TOOL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(WASM_TOOL_LIBS) -lm

$(BUILD)/obj/tests/%.o: ALL_CFLAGS += $(CHECK_CFLAGS) -Itests/lib

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBTEST) $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBTEST) $(ALL_LIBS) $(CHECK_LIBS) $(PKG_LIBS) -lm -lpthread

# --- section: micro-VM guest (init/microvm, tests/microvm-guests) — owned by kvm work
# The guest is freestanding x86-64 (no libc, no OS, never sanitized): its
# runtime (init/microvm/*.c except main.c, plus start.S) is an archive that
# mvm-guest and every tests/microvm-guests/*.c program link against. Freestanding
# objects from other components (the Wasm runtime) join mvm-guest through
# GUEST_EXTRA_OBJS.
GUEST_CC ?= gcc
GUEST_DIR := $(BUILD)/guest
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
                -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
                -fno-tree-loop-distribute-patterns -mno-red-zone -mcmodel=small \
                -Iinit/microvm -Ilib $(WARNINGS)
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,init/microvm/guest.ld -Wl,--build-id=none \
                 -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
GUEST_RT_SRCS := $(filter-out init/microvm/main.c,$(wildcard init/microvm/*.c)) init/microvm/start.S
GUEST_RT_OBJS := $(patsubst %,$(GUEST_DIR)/obj/%.o,$(GUEST_RT_SRCS))
GUEST_EXTRA_OBJS ?=
# The exec agent (init/microvm/agent*.c) speaks the exec frame protocol.
GUEST_EXTRA_OBJS += $(GUEST_DIR)/obj/lib/proto/exec-frame.c.o
# The Wasm runtime (lib/wasm, freestanding) joins mvm-guest: it runs the
# VM's workload (init/microvm/wasm-workload.c, docs/workloads.md).
GUEST_WASM_OBJS := $(patsubst %,$(GUEST_DIR)/obj/%.o,$(WASM_CORE_SRCS))
GUEST_EXTRA_OBJS += $(GUEST_WASM_OBJS)
$(GUEST_WASM_OBJS): GUEST_CFLAGS += -fno-math-errno -Wno-unused-parameter -Wno-missing-field-initializers
$(GUEST_WASM_OBJS): $(wildcard lib/wasm/*.h lib/wasm/*.inc)
GUEST_TEST_SRCS := $(wildcard tests/microvm-guests/*.c)
GUEST_TESTS := $(patsubst tests/microvm-guests/%.c,$(GUEST_DIR)/tests/%,$(GUEST_TEST_SRCS))
GUEST_DEPS := init/microvm/guest.ld init/microvm/mvm.h lib/proto/guest-abi.h

# -MMD: a guest object is rebuilt when any header it includes changes (a
# struct that grew in init/microvm/agent.h must not leave stale objects).
$(GUEST_DIR)/obj/%.o: % $(GUEST_DEPS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<
-include $(shell find $(GUEST_DIR)/obj -name '*.d' 2>/dev/null)

$(GUEST_DIR)/libguest.a: $(GUEST_RT_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(GUEST_DIR)/mvm-guest: $(GUEST_DIR)/obj/init/microvm/main.c.o $(GUEST_EXTRA_OBJS) $(GUEST_DIR)/libguest.a
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $^ -lgcc

$(GUEST_DIR)/tests/%: $(GUEST_DIR)/obj/tests/microvm-guests/%.c.o $(GUEST_DIR)/libguest.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $^ -lgcc

EXTRA_ALL += $(GUEST_DIR)/mvm-guest $(GUEST_TESTS)

# mvm-vmm is exec'd once per VM: linked static-pie (static, and still
# randomised: it faces hostile guests) it starts with ~0.5 ms
# less CPU (no dynamic loading; measured with bench/kvm.sh) and keeps
# running VMs independent of library upgrades. Sanitized builds stay
# dynamic (the sanitizer runtimes need it). glibc warns that libcap-ng's
# user-lookup functions, which the worker never calls, need NSS: those
# lines are filtered, anything else is shown.
VMM_SYSLIBS := -lseccomp -lcap-ng -lpthread
ifneq ($(SANITIZE),1)
$(BUILD)/bin/mvm-vmm: $(BUILD)/obj/daemon/vmm/main.o $(VMM_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@ (static)")
	$(Q)$(CC) $(ALL_LDFLAGS) -static-pie -o $@ $< $(VMM_LIBS) $(VMM_SYSLIBS) 2>$@.ldlog || \
	   { cat $@.ldlog >&2; rm -f $@.ldlog; exit 1; }
	$(Q)grep -v -e 'statically linked applications requires at runtime' -e ': in function' $@.ldlog >&2 || true
	$(Q)rm -f $@.ldlog
else
$(BUILD)/bin/mvm-vmm: $(BUILD)/obj/daemon/vmm/main.o $(VMM_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(VMM_LIBS) $(VMM_SYSLIBS)
endif

# The kvm floor benchmark (bench/kvm.sh), built with `all` so it cannot rot.
$(BUILD)/bench/kvm-floor: $(BUILD)/obj/bench/kvm-floor.o $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(ALL_LIBS) $(PKG_LIBS) -lm -lpthread
EXTRA_ALL += $(BUILD)/bench/kvm-floor


# --- section: mvm-init (musl static) and initramfs — owned by Linux-guest work
# The exec frame codec (lib/proto/exec-frame.c) is shared with the freestanding
# micro-VM guest, and the one SHA-256 (lib/util/sha256.c) with the worker and
# mvm-init: prove on every `make check` that they compile with
# -ffreestanding -nostdlib and leave only mem* symbols undefined.
EXEC_FRAME_SRCS := lib/proto/exec-frame.c lib/util/sha256.c
FREESTANDING_STAMP := $(BUILD)/freestanding/exec-frame.ok
FREESTANDING_FLAGS := -std=gnu11 -O2 -ffreestanding -nostdlib -nostdinc \
   -isystem $(shell $(CC) -print-file-name=include) -fno-stack-protector \
   -fno-pic -mno-red-zone -Ilib -Wall -Wextra -Werror
$(FREESTANDING_STAMP): $(EXEC_FRAME_SRCS) lib/proto/exec-frame.h lib/util/sha256.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FREE    $(EXEC_FRAME_SRCS)")
	$(Q)for f in $(EXEC_FRAME_SRCS); do \
	  o=$(@D)/$$(basename $$f .c).o; \
	  $(CC) $(FREESTANDING_FLAGS) -c -o $$o $$f || exit 1; \
	  bad=$$(nm -u $$o | awk '{print $$2}' | grep -vxE 'mem(cpy|set|cmp|move)' || true); \
	  if [ -n "$$bad" ]; then echo "$$f: undefined symbols beyond mem*: $$bad" >&2; exit 1; fi; \
	done; touch $@
EXTRA_CHECK_DEPS += $(FREESTANDING_STAMP)

# mvm-init: a static musl binary (never sanitized: it is PID 1 in a guest).
MUSL_CC ?= musl-gcc
# Its sources: init/linux (PID 1, the exec agent, the blob fetch) and the
# shared code it needs from lib/.
INIT_SRCS := $(wildcard init/linux/*.c) lib/proto/exec-frame.c \
   lib/util/io.c lib/util/kcmdline.c lib/util/guestconf.c lib/util/sha256.c $(WASM_SRCS)
INIT_OBJS := $(patsubst %.c,$(BUILD)/musl/%.o,$(INIT_SRCS))
MVM_INIT := $(BUILD)/bin/mvm-init
INIT_CFLAGS := -std=gnu11 -Os -g -pipe -D_GNU_SOURCE -DMVM_VERSION=\"$(VERSION)\" \
   $(INC_LINUX) -fno-strict-aliasing $(WARNINGS)
# The interpreter and the module's hash check are the hot path of a Wasm
# exec: -O2, as on the host.
$(patsubst %.c,$(BUILD)/musl/%.o,$(WASM_CORE_SRCS)): INIT_CFLAGS += -O2 -fno-math-errno
$(BUILD)/musl/lib/util/sha256.o: INIT_CFLAGS += -O2
$(BUILD)/musl/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(MUSL_CC) $(INIT_CFLAGS) -MMD -MP -c -o $@ $<
$(MVM_INIT): $(INIT_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(MUSL_CC) -static -o $@ $^
	$(Q)file -L $@ | grep -q 'statically linked' || { echo "$@ is not static" >&2; exit 1; }

# The initramfs: mvm-init as /init plus empty mount points, as a
# reproducible cpio newc archive (fixed mtimes, root owner, sorted names).
# INITRAMFS_MODULES=DIR adds DIR/*.ko as /lib/modules/mvm-init/ (mvm-init
# loads them in name order at boot; see docs/linux-guests.md).
# With a Debian guest kernel's module tree (GUEST_KERNEL_TREE=.../lib/modules/
# <version>; default: the one tests/suites/mvm-init-root-qemu.sh fetched into
# build/guest/kernel-tree), the modules a cloud-hypervisor guest needs and
# what they depend on go in too (init/linux/guest-modules), and
# initramfs.cpio.gz.kernel names that kernel for node.info (empty: none).
INITRAMFS := $(BUILD)/guest/initramfs.cpio.gz
INITRAMFS_MODULES ?=
INITRAMFS_KO := $(if $(INITRAMFS_MODULES),$(sort $(wildcard $(INITRAMFS_MODULES)/*.ko)))
GUEST_KERNEL_TREE ?= $(firstword $(wildcard build/guest/kernel-tree/lib/modules/*))
GUEST_MODULES := vsock vmw_vsock_virtio_transport virtio_pci virtio_blk virtio_net button evdev
GUEST_TREE_KO := $(if $(INITRAMFS_MODULES),,$(GUEST_KERNEL_TREE))
# Rebuilt when the tree appears, goes or changes.
GUEST_TREE_STAMP := $(BUILD)/guest/kernel-tree.used
$(GUEST_TREE_STAMP): FORCE
	@mkdir -p $(@D)
	@echo "$(GUEST_TREE_KO)" | cmp -s - $@ 2>/dev/null || echo "$(GUEST_TREE_KO)" > $@
$(INITRAMFS): $(MVM_INIT) init/linux/mkinitramfs init/linux/guest-modules $(INITRAMFS_KO) $(GUEST_TREE_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CPIO    $@")
	$(Q)strip -o $(BUILD)/guest/init.stripped $(MVM_INIT)
	$(Q)rm -rf $(BUILD)/guest/modules && mkdir -p $(BUILD)/guest/modules
	$(Q)$(if $(GUEST_TREE_KO),init/linux/guest-modules $(GUEST_TREE_KO) $(BUILD)/guest/modules $(GUEST_MODULES))
	$(Q)init/linux/mkinitramfs $@ /init=$(BUILD)/guest/init.stripped \
	   $(foreach m,$(INITRAMFS_KO),/lib/modules/mvm-init/$(notdir $(m))=$(m)) \
	   $$(for m in $(BUILD)/guest/modules/*.ko; do [ -f "$$m" ] && echo "/lib/modules/mvm-init/$${m##*/}=$$m"; done)
	$(Q)echo "$(if $(GUEST_TREE_KO),$(notdir $(GUEST_TREE_KO)))" > $@.kernel

# Test helper for the QEMU suite: a static program the kernel command line
# runs (the production initramfs holds nothing but /init).
GUEST_PROBE := $(BUILD)/guest/mvm-probe
# It speaks to the agent as mvmd does, with mvmd's exec client.
GUEST_PROBE_SRCS := tests/linux-guest/mvm-probe.c lib/proto/exec-frame.c daemon/mvmd/exec-client.c daemon/mvmd/exec-call.c
$(GUEST_PROBE): $(GUEST_PROBE_SRCS) daemon/mvmd/exec-client.h lib/proto/exec-frame.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(MUSL_CC) $(INIT_CFLAGS) -Idaemon/mvmd -static -o $@ $(GUEST_PROBE_SRCS)

EXTRA_ALL += $(MVM_INIT) $(INITRAMFS)
EXTRA_CHECK_DEPS += $(GUEST_PROBE)
-include $(shell find $(BUILD)/musl -name '*.d' 2>/dev/null)


# --- section: wasm32-wasi programs (tests/wasm-programs) — owned by wasm work
# Each tests/wasm-programs/X.c is built twice: for wasm32-wasi with Debian's
# clang + wasi-libc (build/wasm-programs/X.wasm) and natively with gcc -O2
# (X.native), so tests compare outputs and bench/wasm.sh compares speed.
# DWARF is stripped from the modules (wasi-libc ships it; 5x the size), the
# name section is kept so traps can name functions.
# No sanitizers here: the native build is the speed and output reference.
# -ffp-contract=off keeps both sides from fusing a*b+c differently.
WASM_CC ?= clang
WASM_LD ?= wasm-ld
WASI_SYSROOT ?= /usr
NATIVE_CC ?= gcc
WASM_PROG_FLAGS := -O2 -Wall -Wextra -Werror -ffp-contract=off
WASM_PROG_SRCS := $(wildcard tests/wasm-programs/*.c)
WASM_PROGS := $(patsubst tests/wasm-programs/%.c,$(BUILD)/wasm-programs/%.wasm,$(WASM_PROG_SRCS))
NATIVE_PROGS := $(patsubst tests/wasm-programs/%.c,$(BUILD)/wasm-programs/%.native,$(WASM_PROG_SRCS))

# Fail once, clearly, when the wasm32 toolchain is missing.
$(BUILD)/wasm-programs/.toolchain-ok:
	@mkdir -p $(@D)
	$(Q)command -v $(WASM_CC) >/dev/null || { echo "error: $(WASM_CC) not found (apt-get install clang)" >&2; exit 1; }
	$(Q)command -v $(WASM_LD) >/dev/null || { echo "error: $(WASM_LD) not found (apt-get install lld)" >&2; exit 1; }
	$(Q)test -f $(WASI_SYSROOT)/lib/wasm32-wasi/libc.a || { echo "error: no wasi-libc under $(WASI_SYSROOT)/lib/wasm32-wasi (apt-get install wasi-libc)" >&2; exit 1; }
	$(Q)ls $$($(WASM_CC) -print-resource-dir)/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || { echo "error: no compiler-rt for wasm32 (apt-get install libclang-rt-14-dev-wasm32)" >&2; exit 1; }
	$(Q)touch $@

$(BUILD)/wasm-programs/%.wasm: tests/wasm-programs/%.c | $(BUILD)/wasm-programs/.toolchain-ok
	@$(if $(Q),echo "  WASMCC  $@")
	$(Q)$(WASM_CC) --target=wasm32-wasi --sysroot=$(WASI_SYSROOT) $(WASM_PROG_FLAGS) -Wl,--strip-debug -o $@ $< -lm

$(BUILD)/wasm-programs/%.native: tests/wasm-programs/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NATIVE  $@")
	$(Q)$(NATIVE_CC) $(WASM_PROG_FLAGS) -Wl,--strip-debug -o $@ $< -lm

# X.simd.wasm: the same C with -msimd128, so clang's auto-vectorised code
# (v128 loads, lane ops, shuffles) runs real programs through the
# interpreter's SIMD too; the suite compares them with the native output.
WASM_SIMD_PROGS := $(patsubst tests/wasm-programs/%.c,$(BUILD)/wasm-programs/%.simd.wasm,$(WASM_PROG_SRCS))
$(BUILD)/wasm-programs/%.simd.wasm: tests/wasm-programs/%.c | $(BUILD)/wasm-programs/.toolchain-ok
	@$(if $(Q),echo "  WASMCC  $@")
	$(Q)$(WASM_CC) --target=wasm32-wasi --sysroot=$(WASI_SYSROOT) -msimd128 $(WASM_PROG_FLAGS) -Wl,--strip-debug -o $@ $< -lm

# tests/wasi/X.c: guest-side WASI checks, wasm only (no native twin).
WASI_TEST_SRCS := $(wildcard tests/wasi/*.c)
WASI_TEST_PROGS := $(patsubst tests/wasi/%.c,$(BUILD)/wasm-programs/wasi-%.wasm,$(WASI_TEST_SRCS))
$(BUILD)/wasm-programs/wasi-%.wasm: tests/wasi/%.c | $(BUILD)/wasm-programs/.toolchain-ok
	@$(if $(Q),echo "  WASMCC  $@")
	$(Q)$(WASM_CC) --target=wasm32-wasi --sysroot=$(WASI_SYSROOT) $(WASM_PROG_FLAGS) -Wl,--strip-debug -o $@ $<

# X.musl: the same C against musl (static), the libc wasi-libc derives
# from, so bench/wasm-ir.sh can separate interpreter cost from glibc-vs-
# musl differences (qsort, strstr, printf are different code). Built only
# where musl-gcc is installed (musl-tools).
MUSL_CC ?= musl-gcc
ifneq ($(shell command -v $(MUSL_CC) 2>/dev/null),)
MUSL_PROGS := $(patsubst tests/wasm-programs/%.c,$(BUILD)/wasm-programs/%.musl,$(WASM_PROG_SRCS))
endif
$(BUILD)/wasm-programs/%.musl: tests/wasm-programs/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSL    $@")
	$(Q)$(MUSL_CC) -static $(WASM_PROG_FLAGS) -o $@ $< -lm

EXTRA_ALL += $(WASM_PROGS) $(WASM_SIMD_PROGS) $(NATIVE_PROGS) $(WASI_TEST_PROGS) $(MUSL_PROGS)

# tests/workloads/X.c: Wasm workloads for micro-VMs (integration tests,
# bench/workload.sh, make demo), wasm only: build/wasm-programs/wl-X.wasm.
WL_PROG_SRCS := $(wildcard tests/workloads/*.c)
WL_PROGS := $(patsubst tests/workloads/%.c,$(BUILD)/wasm-programs/wl-%.wasm,$(WL_PROG_SRCS))
# Actors include lib/proto/mvm-actor.h, the C binding of docs/actors.md.
$(BUILD)/wasm-programs/wl-%.wasm: tests/workloads/%.c lib/proto/mvm-actor.h | $(BUILD)/wasm-programs/.toolchain-ok
	@$(if $(Q),echo "  WASMCC  $@")
	$(Q)$(WASM_CC) --target=wasm32-wasi --sysroot=$(WASI_SYSROOT) $(WASM_PROG_FLAGS) -Ilib/proto -Wl,--strip-debug -o $@ $<
EXTRA_ALL += $(WL_PROGS)
# tests/workloads/X.rs: Rust workloads (the Rust actor), built by Debian's
# rustc with libstd-rust-dev-wasm32 (its std for wasm32-wasi matches that
# compiler: a rustup toolchain earlier in PATH would not find it).
RUSTC_WASM ?= /usr/bin/rustc
WL_RS_SRCS := $(wildcard tests/workloads/*.rs)
WL_RS_PROGS := $(patsubst tests/workloads/%.rs,$(BUILD)/wasm-programs/wl-%.wasm,$(WL_RS_SRCS))
$(BUILD)/wasm-programs/wl-%.wasm: tests/workloads/%.rs
	@mkdir -p $(@D)
	@$(if $(Q),echo "  RUSTC   $@")
	$(Q)$(RUSTC_WASM) --edition 2021 --target wasm32-wasi -O -C strip=debuginfo -o $@ $<
EXTRA_ALL += $(WL_RS_PROGS)

# The WASI core must build freestanding (the micro-VM guest links it): no
# libc headers, and no undefined symbols but the interpreter's own and
# the four mem* functions the runtime contract allows (see wasm.h).
WASI_FREESTANDING_SRCS := $(filter lib/wasm/wasi%,$(WASM_CORE_SRCS))
WASI_FREESTANDING_OK := $(BUILD)/freestanding/wasi.ok
$(WASI_FREESTANDING_OK): $(WASI_FREESTANDING_SRCS) $(filter-out lib/wasm/wasi-posix.h,$(wildcard lib/wasm/wasi*.h)) lib/wasm/wasm.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FREESTD $(WASI_FREESTANDING_SRCS)")
	$(Q)for f in $(WASI_FREESTANDING_SRCS); do \
	  $(CC) -std=gnu11 -O2 -ffreestanding -nostdinc -isystem $$($(CC) -print-file-name=include) \
	    -fno-stack-protector -I lib $(WARNINGS) -c -o $(@D)/$$(basename $$f .c).o $$f || exit 1; done
	$(Q)ld -r -o $(@D)/wasi-core.o $(patsubst lib/wasm/%.c,$(@D)/%.o,$(WASI_FREESTANDING_SRCS))
	$(Q)bad=$$(nm -u $(@D)/wasi-core.o | awk '{print $$NF}' | sort -u | \
	  grep -vE '^(memcpy|memset|memmove|memcmp|wasm_[a-z_]+)$$'); \
	  if [ -n "$$bad" ]; then echo "error: WASI core is not freestanding, it needs: $$bad" >&2; exit 1; fi
	$(Q)touch $@

EXTRA_ALL += $(WASI_FREESTANDING_OK)

install: install-mvm-wasm-man
.PHONY: install-mvm-wasm-man
install-mvm-wasm-man:
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 docs/mvm-wasm.1 $(DESTDIR)$(PREFIX)/share/man/man1/

# --- section: bench programs (bench/*.c -> $(BUILD)/bench/*) — owned by rpc work
# Built with `all` so they cannot rot; run by `make bench` (bench/run).
# What several of them share (an RPC client, percentiles) is bench/lib/,
# linked into each.
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
BENCH_LIB_OBJS := $(call obj,$(wildcard bench/lib/*.c))
EXTRA_ALL += $(BENCH_BINS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCH_LIB_OBJS) $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(BENCH_LIB_OBJS) $(ALL_LIBS) $(PKG_LIBS) -lm -lpthread

# --- section: wasm interpreter (lib/wasm) — owned by wasm work ---------------
# -fno-math-errno keeps any sqrt a plain instruction (lib/wasm has no libm).
$(call obj,$(WASM_CORE_SRCS)): ALL_CFLAGS += -fno-math-errno
WASM_SPEC_SRCS := $(wildcard tests/wasm-spec/*.c)
WASM_SPEC_RUNNER := $(BUILD)/tests/wasm-spec-runner
$(WASM_SPEC_RUNNER): $(call obj,$(WASM_SPEC_SRCS)) $(LIBWASM)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(call obj,$(WASM_SPEC_SRCS)) $(LIBWASM) $(PKG_LIBS)
EXTRA_ALL += $(WASM_SPEC_RUNNER)

# Freestanding check: lib/wasm (but its POSIX binding, wasi-posix.c) must
# build for the micro-VM guest with no libc; only memcpy/memset/memmove/memcmp may remain undefined.
WASM_FREE_FLAGS := -std=gnu11 -O2 -ffreestanding -nostdlib -fno-builtin -fno-math-errno \
                   -fno-stack-protector -fno-pic -Wall -Wextra -Werror -Wno-unused-parameter \
                   -Wno-missing-field-initializers -Ilib
WASM_FREE_STAMP := $(BUILD)/wasm-freestanding.ok
$(WASM_FREE_STAMP): $(WASM_CORE_SRCS) $(wildcard lib/wasm/*.h lib/wasm/*.inc)
	@rm -rf $(BUILD)/wasm-free && mkdir -p $(BUILD)/wasm-free
	@$(if $(Q),echo "  FREE    lib/wasm")
	$(Q)for f in $(WASM_CORE_SRCS); do \
	  $(CC) $(WASM_FREE_FLAGS) -c -o $(BUILD)/wasm-free/$$(basename $$f .c).o $$f || exit 1; done
	$(Q)$(CC) $(WASM_FREE_FLAGS) -DWASM_SWITCH_DISPATCH -c -o $(BUILD)/wasm-free-switch.o lib/wasm/interp.c
	$(Q)ld -r -o $(BUILD)/wasm-free.o $(BUILD)/wasm-free/*.o
	$(Q)bad=$$(nm -u $(BUILD)/wasm-free.o | awk '{print $$2}' | grep -vxE 'memcpy|memset|memmove|memcmp'); \
	  if [ -n "$$bad" ]; then echo "lib/wasm is not freestanding, undefined: $$bad"; exit 1; fi
	$(Q)touch $@
EXTRA_CHECK_DEPS += $(WASM_FREE_STAMP)
# the fuzz rule only knows its .c file; rebuild when the library changes
$(BUILD)/fuzz/fuzz_wasm: $(WASM_SRCS) $(wildcard lib/wasm/*.h lib/wasm/*.inc)

# --- section: test doubles (tests/doubles) — owned by ch work ----------------
# Stand-ins for programs that cannot exist here (cloud-hypervisor is not
# packaged by Debian): each tests/doubles/X.c becomes $(BUILD)/tests/doubles/X
# through the test link rule. They are not suites (tests/run runs only
# tests/unit and tests/integration); suites start them.
DOUBLE_SRCS := $(wildcard tests/doubles/*.c)
DOUBLE_BINS := $(patsubst tests/doubles/%.c,$(BUILD)/tests/doubles/%,$(DOUBLE_SRCS))
EXTRA_ALL += $(DOUBLE_BINS)

# --- section: mvmctl (daemon/mvmctl/*.c) -------------------------------------
# The operator's client is a host tool that talks to mvmd only through its
# socket: it links json-c and lib/util (its base64), none of mvmd's libraries.
MVMCTL_OBJS := $(call obj,$(wildcard daemon/mvmctl/*.c))
$(BUILD)/obj/daemon/mvmctl/%.o: INC = $(INC_MVMCTL)
$(BUILD)/bin/mvmctl: $(MVMCTL_OBJS) $(LIBUTIL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $$(pkg-config --libs json-c)

install: install-mvmctl-man
.PHONY: install-mvmctl-man
install-mvmctl-man:
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 docs/mvmctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/

# --- section: fault injection (tests/fault) --------------------------------
# build/bin/mvmd-fault (beside mvmd, so it finds mvm-vmm and the guest the
# same way; never installed: install takes $(BINS) only) is mvmd with
# tests/fault/fault-inject.c linked in front of the
# libraries: its fault_point() kills the process at the points MVMD_FAULT
# names (lib/util/fault.h). The shipped mvmd keeps the empty one.
MVMD_FAULT_BIN := $(BUILD)/bin/mvmd-fault
$(MVMD_FAULT_BIN): $(BUILD)/obj/daemon/mvmd/main.o $(BUILD)/obj/tests/fault/fault-inject.o $(MVMD_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(MVMD_LIBS) $(PKG_LIBS) -lm -lpthread
EXTRA_ALL += $(MVMD_FAULT_BIN)

# --- section: chaos campaign (tests/chaos) ----------------------------------
# build/tests/chaos/mvm-chaos kills mvmd (and mvmd-fault at its fault points)
# at random moments under a random load and checks the invariants after every
# restart (docs/hacking.md, "The chaos campaign"). `make chaos ITER=N SEED=S`
# runs it; tests/suites/chaos.sh runs a short campaign in `make check`.
CHAOS_SRCS := $(wildcard tests/chaos/*.c)
CHAOS_BIN := $(BUILD)/tests/chaos/mvm-chaos
$(CHAOS_BIN): $(call obj,$(CHAOS_SRCS)) $(LIBTEST) $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(call obj,$(CHAOS_SRCS)) $(LIBTEST) $(ALL_LIBS) $(CHECK_LIBS) $(PKG_LIBS) -lm -lpthread
EXTRA_ALL += $(CHAOS_BIN)

ITER ?= 200
.PHONY: chaos
chaos: all $(EXTRA_ALL)
	$(Q)MVM_BUILD_DIR=$(CURDIR)/$(BUILD) ITER=$(ITER) SEED=$(SEED) $(CHAOS_BIN)

# --- section: fuzz targets (tests/fuzz/fuzz_*.c, clang libFuzzer) ----------
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CC ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -g -O1 -std=gnu11 -D_GNU_SOURCE \
              -DMVM_VERSION=\"$(VERSION)\" $(INC_ALL) -Wall -Wextra -Werror \
              -Wno-unused-parameter -Wno-missing-field-initializers
# Each fuzz target lists the sources it needs in a comment line of the form
#   /* fuzz-sources: rpc/jsonrpc.c lib/util/foo.c */
# The sources a target names in its comment are not prerequisites make can
# see, so every `make fuzz` rebuilds every target: a stale fuzzer is worse
# than a slow build (fuzzing is never part of check).
$(BUILD)/fuzz/%: tests/fuzz/%.c FORCE | $(BUILD)/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< \
	   $$(sed -n 's|.*fuzz-sources:\(.*\)\*/.*|\1|p' $<) $(PKG_LIBS) -lm -lpthread

fuzz: $(FUZZ_BINS)

.PHONY: FORCE
FORCE:

# --- check ---------------------------------------------------------------------
# tests/run runs every unit and integration binary (exit 77 = skip) plus
# any suite scripts, and ends with "N passed, M failed, K skipped".
check: all $(EXTRA_ALL) $(EXTRA_CHECK_DEPS)
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run

all: $(EXTRA_ALL)

# The KVM suites inside a QEMU (TCG) guest whose emulated AMD SVM gives it a
# /dev/kvm, for hosts that have none (docs/hacking.md). Not part of check.
check-kvm-in-qemu: all $(EXTRA_ALL)
	$(Q)BUILD=$(BUILD) tests/tools/kvm-in-qemu.sh

# --- bench ---------------------------------------------------------------------
bench: all $(EXTRA_ALL)
	$(Q)BUILD=$(BUILD) bench/run

# --- demo ----------------------------------------------------------------------
# Where /dev/kvm is not usable, the script runs tests/demo.sh in its QEMU
# guest (docs/hacking.md); where it is, it runs tests/demo.sh as is.
demo: all $(EXTRA_ALL)
	$(Q)BUILD=$(BUILD) tests/tools/kvm-in-qemu.sh --demo

# --- install -------------------------------------------------------------------
# The layout of the Debian package (debian/rules runs this with PREFIX=/usr):
# the daemon in sbin/, the operator's tools in bin/, what only mvmd runs
# (the worker, the guest images) in libexec/mvmd/, where mvmd finds it from
# its own directory (daemon/mvmd/backends.c). The unit's ExecStart= names
# $(SBINDIR)/mvmd. `install` builds only what it installs.
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/mvmd
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= /lib/systemd/system
TMPFILESDIR ?= /usr/lib/tmpfiles.d
INSTALL_PROGRAMS := $(BUILD)/bin/mvmd $(BUILD)/bin/mvmctl $(BUILD)/bin/mvm-wasm $(BUILD)/bin/mvm-vmm $(BUILD)/bin/mvm-fetch \
                    $(GUEST_DIR)/mvm-guest $(INITRAMFS)
.PHONY: programs
programs: $(INSTALL_PROGRAMS)

install: $(INSTALL_PROGRAMS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
	           $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man8 \
	           $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 $(BUILD)/bin/mvmd $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/bin/mvmctl $(BUILD)/bin/mvm-wasm $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/bin/mvm-vmm $(BUILD)/bin/mvm-fetch $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 $(GUEST_DIR)/mvm-guest $(INITRAMFS) $(INITRAMFS).kernel $(DESTDIR)$(LIBEXECDIR)/
	sed 's|^ExecStart=/usr/sbin/mvmd|ExecStart=$(SBINDIR)/mvmd|' packaging/mvmd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/mvmd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/mvmd.service
	install -m 0644 packaging/mvmd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 packaging/mvmd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/mvmd.conf
	install -m 0644 docs/mvmd.8 $(DESTDIR)$(MANDIR)/man8/
	# the drop-in a node that pulls from registries applies (docs/blobs.md)
	install -d $(DESTDIR)$(PREFIX)/share/doc/mvmd/examples
	install -m 0644 packaging/mvmd-blob-sources.conf $(DESTDIR)$(PREFIX)/share/doc/mvmd/examples/
	# the operator's flags: never overwrite an edited copy
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/mvmd ] || \
	   install -m 0644 packaging/mvmd.default $(DESTDIR)$(SYSCONFDIR)/default/mvmd

deps:
	packaging/install-deps

clean:
	rm -rf build build-san

distclean: clean

help:
	@sed -n '2,13p' Makefile

# Objects are kept between runs (pattern-rule intermediates otherwise are
# deleted). Not `.SECONDARY:` for everything: an archive whose member list
# grew (a file added or moved into its folder) would then not be rebuilt
# while the new member's object is missing.
.PRECIOUS: $(BUILD)/obj/%.o $(GUEST_DIR)/obj/%.o

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
