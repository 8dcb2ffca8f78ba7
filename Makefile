# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice: XDP edge rate limiter and filter. `make help` lists the targets.

# SANITIZE=1 builds into a directory of its own, so sanitized and plain objects never mix.
SAN_BUILD ?= build/san
ifeq ($(SANITIZE),1)
BUILD ?= $(SAN_BUILD)
else
BUILD ?= build
endif
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH_INCLUDE := /usr/include/$(shell $(CC) -print-multiarch)
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -Wall -Werror -Iinclude -Ibpf -I$(ARCH_INCLUDE)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Werror=undef -Wno-missing-field-initializers
CFLAGS += -D_GNU_SOURCE -Iinclude -Iuser/core -I$(BUILD) -MMD -MP
# The libraries found through pkg-config; scripts/deps.sh installs their -dev packages.
PKGS := libbpf jansson libmicrohttpd yaml-0.1 libcrypt gnutls hiredis
CFLAGS += $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) \
	-lelf -lz -lpthread

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/*.h)

# user/core: the library every front end links (no output of its own); user/exporter: the
# Prometheus exporter, on the core alone; user/cli: the `sluice` command, on both.
CORE_SRCS := $(wildcard user/core/*.c)
CORE_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(CORE_SRCS))
CORE_LIB := $(BUILD)/libsluice-core.a
EXPORTER_SRCS := $(wildcard user/exporter/*.c)
EXPORTER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(EXPORTER_SRCS))
EXPORTER_LIB := $(BUILD)/libsluice-exporter.a
# user/fleet: the agent and the fleet verbs' Redis side, on the core.
FLEET_SRCS := $(wildcard user/fleet/*.c)
FLEET_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(FLEET_SRCS))
FLEET_LIB := $(BUILD)/libsluice-fleet.a
CLI_SRCS := $(wildcard user/cli/*.c)
CLI_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(CLI_SRCS))
LIBS := $(FLEET_LIB) $(EXPORTER_LIB) $(CORE_LIB)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BPFTEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFTEST_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))

# libFuzzer targets: each links only the parsers it fuzzes, built with coverage and sanitizers.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst %,$(BUILD)/fuzz/user/%.o,text values grammar compile document import)
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -std=gnu11 -Wall -Wextra
FUZZ_CFLAGS += -Werror -Werror=undef -Wno-missing-field-initializers -D_GNU_SOURCE -Iinclude
FUZZ_CFLAGS += -Iuser/core -MMD -MP

# Under CI=true, `make test` also runs the unit and integration tests built with SANITIZE=1
# (SANITIZE=0 opts out).
ifeq ($(CI)-$(SANITIZE),true-)
TEST_SAN_BUILD := $(SAN_BUILD)
endif

.DELETE_ON_ERROR:
# Objects and skeletons made along pattern chains are kept, not removed as intermediates.
.SECONDARY:
.PHONY: all test test-progs fuzz check-deps demo fleet-demo bench clean help install man format format-check

all: $(BUILD)/sluice

help:
	@echo 'make            build $(BUILD)/sluice (V=1 shows commands, SANITIZE=1 adds ASan/UBSan)'
	@echo 'make test       install missing packages, build, run every test (root for BPF and netns tests)'
	@echo '                and the fuzzers; under CI=true fuzzers for 60 s each and a SANITIZE=1 pass'
	@echo 'make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS (default 10)'
	@echo 'make demo       run the demo: two namespaces, a veth pair, sluice and an HTTP server'
	@echo 'make fleet-demo the fleet demo: Redis, three hosts with sluice and an agent each'
	@echo 'make bench      run the benchmarks (not part of make test), bench/fleet.sh last'
	@echo 'make format     rewrite the C files as .clang-format says'
	@echo 'make format-check  check them, as make test does'
	@echo 'make install    install sluice, its man page and systemd units under $(PREFIX)'
	@echo 'make check-deps install the Debian packages that are missing (scripts/deps.sh)'
	@echo 'make clean      remove $(BUILD)'

$(BUILD) $(BUILD)/user/core $(BUILD)/user/cli $(BUILD)/user/exporter $(BUILD)/user/fleet \
		$(BUILD)/tests/unit \
		$(BUILD)/tests/bpf $(BUILD)/tests/tools $(BUILD)/fuzz/user:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	$(Q)rm -f $@.tmp

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/user/core/%.o: user/core/%.c $(SKELS) | $(BUILD)/user/core
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/user/exporter/%.o: user/exporter/%.c | $(BUILD)/user/exporter
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/exporter -c $< -o $@

$(BUILD)/user/fleet/%.o: user/fleet/%.c $(SKELS) | $(BUILD)/user/fleet
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/user/cli/%.o: user/cli/%.c $(SKELS) | $(BUILD)/user/cli
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/cli -Iuser/exporter -Iuser/fleet -c $< -o $@

$(CORE_LIB): $(CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FLEET_LIB): $(FLEET_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(EXPORTER_LIB): $(EXPORTER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sluice: $(CLI_OBJS) $(LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBS) | $(BUILD)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/exporter -Iuser/fleet -Itests $(LDFLAGS) $< $(LIBS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(LIBS) $(SKELS) | $(BUILD)/tests/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/exporter -Itests $(LDFLAGS) $< $(LIBS) $(LDLIBS) -o $@

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBS) $(SKELS) | $(BUILD)/tests/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/exporter -Iuser/fleet -Itests $(LDFLAGS) $< $(LIBS) $(LDLIBS) -o $@

$(BUILD)/fuzz/user/%.o: user/core/%.c | $(BUILD)/fuzz/user
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB_OBJS) -ljansson -lz -o $@

# After the packages, every library the build links must be known to pkg-config: a
# library added here but not to deps.sh fails now, by name, not at the link.
check-deps:
	$(Q)scripts/deps.sh
	$(Q)$(PKG_CONFIG) --print-errors --exists $(PKGS)

test-progs: all $(UNIT_BINS) $(BPFTEST_BINS) $(TOOL_BINS)

# The dependency check runs first so a fresh machine needs nothing but `make test`.
test: check-deps
	$(Q)$(MAKE) --no-print-directory test-progs $(FUZZ_BINS)
	$(if $(TEST_SAN_BUILD),$(Q)$(MAKE) --no-print-directory SANITIZE=1 \
		BUILD=$(TEST_SAN_BUILD) test-progs)
	$(Q)BUILD=$(BUILD) SAN_BUILD=$(TEST_SAN_BUILD) tests/run.sh

fuzz: $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) tests/fuzz/run.sh

demo: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

fleet-demo: check-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/fleet-demo.sh

bench: check-deps
	$(Q)$(MAKE) --no-print-directory all $(TOOL_BINS)
	$(Q)BUILD=$(BUILD) scripts/bench.sh
	$(Q)BUILD=$(BUILD) bench/fleet.sh

format:
	$(Q)clang-format --style=file -i $$(git ls-files '*.c' '*.h')

format-check:
	$(Q)scripts/format-check.sh

man: doc/sluice.8
	$(Q)man -l doc/sluice.8 >/dev/null

install: all
	install -D -m 0755 $(BUILD)/sluice $(DESTDIR)$(PREFIX)/sbin/sluice
	install -D -m 0644 doc/sluice.8 $(DESTDIR)$(PREFIX)/share/man/man8/sluice.8
	install -D -m 0755 dist/sluice-set-refresh $(DESTDIR)$(PREFIX)/sbin/sluice-set-refresh
	install -D -m 0755 dist/sluice-service $(DESTDIR)$(PREFIX)/sbin/sluice-service
	install -D -m 0644 dist/sluice@.service $(DESTDIR)$(PREFIX)/lib/systemd/system/sluice@.service
	install -D -m 0644 dist/sluice-set@.service $(DESTDIR)$(PREFIX)/lib/systemd/system/sluice-set@.service
	install -D -m 0644 dist/sluice-set@.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/sluice-set@.timer
	install -D -m 0644 dist/sets/drop-v4.conf.example \
		$(DESTDIR)$(PREFIX)/share/doc/sluice/sets/drop-v4.conf.example
	install -D -m 0644 dist/sluice-exporter.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/sluice-exporter.service
	install -D -m 0644 dist/sluice-agent.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/sluice-agent.service
	test -e $(DESTDIR)/etc/default/sluice || \
		install -D -m 0644 dist/sluice.default $(DESTDIR)/etc/default/sluice

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/user/*/*.d $(BUILD)/tests/*/*.d $(BUILD)/fuzz/*.d $(BUILD)/fuzz/user/*.d)
