# llmobs — see README.md. `make run` / `make test` on a fresh Debian 12 (./bootstrap
# first installs make itself). Root runs every step itself; any other user
# builds as themself and runs the steps that need root through sudo.
.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
# Debian installs bpftool in /usr/sbin, outside a normal user's PATH.
BPFTOOL   ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
PKGS      := libbpf libelf zlib libmicrohttpd libcjson libbrotlidec libhs libnghttp2 capstone sqlite3
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
CPPFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Idaemon -I$(BUILD) $(PKG_CFLAGS)
LIBS     := $(PKG_LIBS) -lcapstone -lhttp_parser -lpthread -lm
CLI_LIBS := $(shell pkg-config --libs libcurl libcjson ncursesw 2>/dev/null) -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# Installing packages, loading BPF and the tests need root.
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

# Debian packages the build, the daemon and the tests need.
DEPS_PKGS := make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev \
	libmicrohttpd-dev libcjson-dev libhttp-parser-dev libcmocka-dev libncurses-dev \
	libcurl4-openssl-dev libbrotli-dev libssl-dev libvectorscan-dev uthash-dev libnghttp2-dev libcapstone-dev curl openssl python3 ca-certificates \
	prometheus tmux nodejs libclang-rt-14-dev python3-h2 python3-httpx golang-go golang-golang-x-net-dev \
	gnutls-bin wget libcurl3-gnutls gdb python3-websockets libsqlite3-dev chromium

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
# daemon/ has one folder per stage (README "Source layout"). Only main.c and
# the capture/ files that include a libbpf skeleton need BPF; everything else
# is the BPF-free pipeline core that tests, fuzzers and --replay drive.
LAYERS      := core capture wire llm guard call sinks api
DAEMON_SRCS := $(wildcard daemon/*.c $(foreach l,$(LAYERS),daemon/$(l)/*.c daemon/$(l)/*/*.c))
DAEMON_BPF  := daemon/main.c $(shell grep -l '\.skel\.h"' daemon/capture/*.c)
CORE_SRCS   := $(filter-out $(DAEMON_BPF),$(DAEMON_SRCS))
CORE_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
DAEMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_BPF))
CLI_OBJS    := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/*.c))
ASAN_CORE   := $(patsubst %.c,$(BUILD)/asan/%.o,$(CORE_SRCS))
ASAN_BPF    := $(patsubst %.c,$(BUILD)/asan/%.o,$(DAEMON_BPF))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
BENCH_BINS  := $(BUILD)/bench/tls_reader $(BUILD)/bench/count_probes $(BUILD)/bench/loadgen \
	       $(BUILD)/bench/go_reader $(BUILD)/bench/store_bench
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CORE   := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(CORE_SRCS))
# libFuzzer needs clang; the core is instrumented for coverage too.
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_TIME   ?= 600

.PHONY: all deps vmlinux run test unit asan e2e bench fuzz fuzz-build format clean check-layers
all: $(BUILD)/llmobsd $(BUILD)/llmobs-cli

deps:
	@if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null; then \
		echo "llmobs: installing packages needs root: run this as root, or install sudo" >&2; exit 1; fi
	@missing=$$(for p in $(DEPS_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: all Debian packages present"; fi
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	@# The e2e Node clients (the official OpenAI SDK, ws), the BoringSSL
	@# executables (Bun, Claude Code), Codex (rustls) and puppeteer-core (the
	@# dashboard's browser tests drive Debian's Chromium), pinned by the lockfile.
	@n=tests/e2e/node/node_modules; [ -d $$n/openai ] && [ -d $$n/ws ] && [ -x $$n/bun/bin/bun.exe ] \
		&& [ -d $$n/@anthropic-ai/claude-code ] && [ -d $$n/@openai/codex-linux-x64 ] \
		&& [ -d $$n/puppeteer-core ] \
		|| (cd tests/e2e/node && npm ci --no-audit --no-fund --loglevel=error)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

# One BPF object per bpf/*.bpf.c, built from the headers of bpf/*/ (any
# header edit rebuilds it).
define bpf_cc
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ -Iinclude -I. -Ibpf \
		-Wall -Werror -c $< -o $@
	llvm-strip -g $@ 2>/dev/null || true
endef

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h bpf/*/*.h) $(wildcard include/llmobs/*.h) vmlinux.h | $(BUILD)/bpf
	$(bpf_cc)

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/obj/%.o: %.c | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c $< -o $@

$(DAEMON_OBJS): $(SKELS)

# The dashboard (web/) is built into api/assets.c as a table: a file's edit rebuilds it.
WEB_FILES := $(shell find web -type f ! -name '*.md' 2>/dev/null)
$(BUILD)/web_assets.h: $(WEB_FILES) daemon/api/embed_web.sh | $(BUILD)
	sh daemon/api/embed_web.sh web > $@.tmp && mv $@.tmp $@
$(foreach d,obj asan fuzz/obj,$(BUILD)/$(d)/daemon/api/assets.o): $(BUILD)/web_assets.h

# llm/prices_json.c builds llm/prices.json in (.incbin): a table edit rebuilds it.
$(foreach d,obj asan fuzz/obj,$(BUILD)/$(d)/daemon/llm/prices_json.o): daemon/llm/prices.json

# The sanitizer build (unit tests, and the daemon e2e tests can run) also
# has the test failpoints (daemon/call/pipeline.c).
$(BUILD)/asan/%.o: %.c | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DLLMOBS_FAILPOINTS -O1 -g $(SAN) $(WARN) -MMD -MP -c $< -o $@

$(ASAN_BPF): $(SKELS)

# llmobsd with ASan + UBSan: `make asan`, then LLMOBS_DAEMON=build/llmobsd-asan
# for the e2e suite; the tests of hostile input always use it.
asan: $(BUILD)/llmobsd-asan
$(BUILD)/llmobsd-asan: $(ASAN_BPF) $(BUILD)/asan/libcore.a
	$(CC) -O1 -g $(SAN) -o $@ $(ASAN_BPF) $(BUILD)/asan/libcore.a $(LIBS)

$(BUILD)/llmobsd: $(DAEMON_OBJS) $(CORE_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/llmobs-cli: $(CLI_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(CLI_LIBS)

# Tests link the core as an archive: each pulls in only the stages it uses.
$(BUILD)/asan/libcore.a: $(ASAN_CORE)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/asan/libcore.a $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit -O1 -g $(SAN) $(WARN) -o $@ $< $(BUILD)/asan/libcore.a $(LIBS) -lbrotlienc -lcmocka

# Executables the BoringSSL locator is tested on (test_boringssl.c):
# error sites like BoringSSL's, no symbols, with and without PIE, and one
# whose checks disagree.
BSSL_FIXTURES := $(patsubst %,$(BUILD)/tests/fixtures/bssl_%,nopie pie disagree)
$(BUILD)/tests/fixtures/bssl_nopie: tests/unit/bssl_fixture.c
	@mkdir -p $(@D)
	$(CC) -O2 -fno-pie -no-pie -s -o $@ $<
$(BUILD)/tests/fixtures/bssl_pie: tests/unit/bssl_fixture.c
	@mkdir -p $(@D)
	$(CC) -O2 -fpie -pie -s -o $@ $<
$(BUILD)/tests/fixtures/bssl_disagree: tests/unit/bssl_fixture.c
	@mkdir -p $(@D)
	$(CC) -O2 -fno-pie -no-pie -s -DDISAGREE -o $@ $<
$(BUILD)/tests/test_boringssl: $(BSSL_FIXTURES)

# Benchmarks (not part of `make test`): tests/bench/run.sh prints name=value.
bench: all $(BENCH_BINS)
	$(SUDO) tests/bench/run.sh

$(BUILD)/bench/tls_reader: tests/bench/tls_reader.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< -lssl -lcrypto

# Go's crypto/tls reader (the stack part): stripped, as Go programs ship.
$(BUILD)/bench/go_reader: tests/bench/go_reader.go
	@mkdir -p $(@D)
	cd tests/bench && GO111MODULE=off GOFLAGS= GOCACHE=$(abspath $(BUILD))/bench/gocache \
		go build -ldflags='-s -w' -o $(abspath $@) go_reader.go

$(BUILD)/bench/loadgen: tests/bench/loadgen.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< -lssl -lcrypto

# The bench's own BPF object: bare counting probes, the floor of probe cost.
$(BUILD)/bench/bench_count.bpf.o: tests/bench/bench_count.bpf.c vmlinux.h
	@mkdir -p $(@D)
	$(bpf_cc)

$(BUILD)/bench/bench_count.skel.h: $(BUILD)/bench/bench_count.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

COUNT_OBJS  := $(CORE_OBJS)
$(BUILD)/bench/count_probes: tests/bench/count_probes.c $(COUNT_OBJS) $(BUILD)/bench/bench_count.skel.h
	@mkdir -p $(@D)
	$(CC) -I$(BUILD)/bench $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(COUNT_OBJS) $(LIBS)

# The history store's backend alone, optimised as llmobsd is (the store part).
$(BUILD)/bench/store_bench: tests/bench/store_bench.c $(CORE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(CORE_OBJS) $(LIBS)

# libFuzzer harnesses (tests/fuzz/): `make fuzz` runs each for FUZZ_TIME
# seconds (FUZZ_TARGETS="http sse" picks some); `make test` runs each
# briefly on its seeds and the committed regression inputs.
fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh --time $(FUZZ_TIME) $(FUZZ_TARGETS)

$(BUILD)/fuzz/obj/%.o: %.c | $(BUILD)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) -O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(WARN) \
		-MMD -MP -c $< -o $@

$(BUILD)/fuzz/libcore.a: $(FUZZ_CORE)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(BUILD)/fuzz/libcore.a
	$(CLANG) $(CPPFLAGS) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) -o $@ $< \
		$(BUILD)/fuzz/libcore.a $(LIBS)

$(BUILD) $(BUILD)/bpf:
	mkdir -p $@

unit: $(UNIT_BINS)

# Each daemon/ folder includes only from the folders below it (README
# "Source layout"); make test runs it as its first suite.
check-layers:
	tests/check_layers.sh

# One command from a clean clone: dependencies, build, unit + e2e tests.
# The build is the caller's; the tests run as root (BPF).
test: deps
	$(MAKE) all unit asan fuzz-build $(BUILD)/bench/store_bench
	@mkdir -p $(BUILD)/test-logs
	$(SUDO) env CI="$${CI:-}" BUILD="$(BUILD)" tests/run.sh $(TESTS)

run: deps
	$(MAKE) all
	$(SUDO) $(BUILD)/llmobsd $(ARGS)

format:
	clang-format -i $(wildcard bpf/*.[ch] bpf/*/*.h tests/bench/*.bpf.c include/llmobs/*.h $(DAEMON_SRCS) $(shell find daemon -name "*.h") cli/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch])

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
