# mvmd — one top-level Makefile (kvmtool style).
#
#   make                 build everything into build/
#   make check           build, then run every test suite (tests/run)
#   make check SANITIZE=1  the same under ASan+UBSan, in build-san/
#   make bench           benchmarks under bench/ (never part of check)
#   make fuzz            libFuzzer targets (clang) into build/fuzz/
#   make demo            start mvmd on temporary paths and drive a VM
#   make install         install binaries, units and man pages (DESTDIR, PREFIX)
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
# packaging/install-deps made sure the Debian packages are present, so a
# fresh machine needs only `make check` as root.
PKGS := json-c libsystemd libseccomp libcap-ng libcurl libcrypto
NODEPS_GOALS := clean distclean help
ifeq ($(filter $(NODEPS_GOALS),$(MAKECMDGOALS)),)
-include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: packaging/build-deps packaging/install-deps
	@mkdir -p $(@D)
	$(Q)packaging/install-deps
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "CHECK_CFLAGS := $$(pkg-config --cflags check)"; \
	   echo "CHECK_LIBS := $$(pkg-config --libs check)"; } > $@.tmp && mv $@.tmp $@

CPPFLAGS_BASE := -D_GNU_SOURCE -DMVM_VERSION=\"$(VERSION)\" -I. -Ilib -Irpc
CFLAGS_BASE := -std=gnu11 $(OPT) -g -pipe -fno-strict-aliasing $(WARNINGS) $(SAN_FLAGS)
DEPFLAGS = -MMD -MP
ALL_CFLAGS = $(CPPFLAGS_BASE) $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# --- components --------------------------------------------------------------
# libmvm.a:      lib/*.c lib/util/*.c lib/kvm/*.c lib/ch/*.c lib/sandbox/*.c lib/exec/*.c
# libmvmwasm.a:  lib/wasm/*.c (host build; the guest build is in its section)
# libmvmrpc.a:   rpc/*.c
LIB_SRCS := $(wildcard lib/*.c lib/util/*.c lib/kvm/*.c lib/ch/*.c lib/sandbox/*.c lib/exec/*.c)
WASM_SRCS := $(wildcard lib/wasm/*.c)
RPC_SRCS := $(wildcard rpc/*.c)
BIN_SRCS := $(wildcard daemon/*.c)
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
INTEG_SRCS := $(wildcard tests/integration/check_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBMVM := $(BUILD)/lib/libmvm.a
LIBWASM := $(BUILD)/lib/libmvmwasm.a
LIBRPC := $(BUILD)/lib/libmvmrpc.a
LIBTEST := $(BUILD)/lib/libmvmtest.a
ALL_LIBS := $(LIBRPC) $(LIBMVM) $(LIBWASM)

BINS := $(patsubst daemon/%.c,$(BUILD)/bin/%,$(BIN_SRCS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRCS))

# Extra artefacts that special sections append to (guest images, init, ...).
EXTRA_ALL :=
EXTRA_CHECK_DEPS :=

.PHONY: all check bench fuzz demo install clean distclean help deps

all: $(BINS) $(UNIT_TESTS) $(INTEG_TESTS)

$(BUILD)/obj/%.o: %.c | $(BUILD)/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

define archive
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^
endef

$(LIBMVM): $(call obj,$(LIB_SRCS)) ; $(archive)
$(LIBWASM): $(call obj,$(WASM_SRCS)) ; $(archive)
$(LIBRPC): $(call obj,$(RPC_SRCS)) ; $(archive)
$(LIBTEST): $(call obj,$(TESTLIB_SRCS)) ; $(archive)

# Empty components still produce a (empty) archive so links stay uniform.
$(BUILD)/lib/%.a:
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@

$(BUILD)/bin/%: $(BUILD)/obj/daemon/%.o $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(ALL_LIBS) $(PKG_LIBS) -lm -lpthread

$(BUILD)/obj/tests/%.o: ALL_CFLAGS += $(CHECK_CFLAGS) -Itests/lib

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBTEST) $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBTEST) $(ALL_LIBS) $(CHECK_LIBS) $(PKG_LIBS) -lm -lpthread

# --- section: micro-VM guest (init/guest, tests/guests) — owned by kvm work --

# --- section: mvm-init (musl static) and initramfs — owned by Linux-guest work

# --- section: wasm32-wasi programs (tests/wasm-programs) — owned by wasm work

# --- section: wasm interpreter (lib/wasm) — owned by wasm work ---------------
# -fno-math-errno keeps any sqrt a plain instruction (lib/wasm has no libm).
$(BUILD)/obj/lib/wasm/%.o: ALL_CFLAGS += -fno-math-errno
WASM_SPEC_SRCS := $(wildcard tests/wasm-spec/*.c)
WASM_SPEC_RUNNER := $(BUILD)/tests/wasm-spec-runner
$(WASM_SPEC_RUNNER): $(call obj,$(WASM_SPEC_SRCS)) $(LIBWASM)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(call obj,$(WASM_SPEC_SRCS)) $(LIBWASM) $(PKG_LIBS)
EXTRA_ALL += $(WASM_SPEC_RUNNER)

# Freestanding check: lib/wasm must build for the micro-VM guest with no
# libc; only memcpy/memset/memmove/memcmp may remain undefined.
WASM_FREE_FLAGS := -std=gnu11 -O2 -ffreestanding -nostdlib -fno-builtin -fno-math-errno \
                   -fno-stack-protector -fno-pic -Wall -Wextra -Werror -Wno-unused-parameter \
                   -Wno-missing-field-initializers -Ilib
WASM_FREE_STAMP := $(BUILD)/wasm-freestanding.ok
$(WASM_FREE_STAMP): $(WASM_SRCS) $(wildcard lib/wasm/*.h lib/wasm/*.inc)
	@rm -rf $(BUILD)/wasm-free && mkdir -p $(BUILD)/wasm-free
	@$(if $(Q),echo "  FREE    lib/wasm")
	$(Q)for f in $(WASM_SRCS); do \
	  $(CC) $(WASM_FREE_FLAGS) -c -o $(BUILD)/wasm-free/$$(basename $$f .c).o $$f || exit 1; done
	$(Q)$(CC) $(WASM_FREE_FLAGS) -DWASM_SWITCH_DISPATCH -c -o $(BUILD)/wasm-free-switch.o lib/wasm/interp.c
	$(Q)ld -r -o $(BUILD)/wasm-free.o $(BUILD)/wasm-free/*.o
	$(Q)bad=$$(nm -u $(BUILD)/wasm-free.o | awk '{print $$2}' | grep -vxE 'memcpy|memset|memmove|memcmp'); \
	  if [ -n "$$bad" ]; then echo "lib/wasm is not freestanding, undefined: $$bad"; exit 1; fi
	$(Q)touch $@
EXTRA_CHECK_DEPS += $(WASM_FREE_STAMP)
# the fuzz rule only knows its .c file; rebuild when the library changes
$(BUILD)/fuzz/fuzz_wasm: $(WASM_SRCS) $(wildcard lib/wasm/*.h lib/wasm/*.inc)

# --- section: fuzz targets (tests/fuzz/fuzz_*.c, clang libFuzzer) ----------
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CC ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -g -O1 -std=gnu11 -D_GNU_SOURCE \
              -DMVM_VERSION=\"$(VERSION)\" -I. -Ilib -Irpc -Wall -Wextra -Werror \
              -Wno-unused-parameter -Wno-missing-field-initializers
# Each fuzz target lists the sources it needs in a comment line of the form
#   /* fuzz-sources: rpc/jsonrpc.c lib/util/foo.c */
$(BUILD)/fuzz/%: tests/fuzz/%.c | $(BUILD)/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< \
	   $$(sed -n 's|.*fuzz-sources:\(.*\)\*/.*|\1|p' $<) $(PKG_LIBS) -lm -lpthread

fuzz: $(FUZZ_BINS)

# --- check ---------------------------------------------------------------------
# tests/run runs every unit and integration binary (exit 77 = skip) plus
# any suite scripts, and ends with "N passed, M failed, K skipped".
check: all $(EXTRA_ALL) $(EXTRA_CHECK_DEPS)
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run

all: $(EXTRA_ALL)

# --- bench ---------------------------------------------------------------------
bench: all $(EXTRA_ALL)
	$(Q)BUILD=$(BUILD) bench/run

# --- demo ----------------------------------------------------------------------
demo: all $(EXTRA_ALL)
	$(Q)BUILD=$(BUILD) tests/demo.sh

# --- install -------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/lib/systemd/system \
	           $(DESTDIR)/usr/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 packaging/mvmd.service packaging/mvmd.socket $(DESTDIR)/lib/systemd/system/
	install -m 0644 packaging/mvmd.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/mvmd.conf
	install -m 0644 docs/mvmd.8 $(DESTDIR)$(PREFIX)/share/man/man8/

deps:
	packaging/install-deps

clean:
	rm -rf build build-san

distclean: clean

help:
	@sed -n '2,12p' Makefile

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
