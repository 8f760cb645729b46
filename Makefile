# nodetrail build. `make help` lists the targets.
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -I$(BUILD) \
	-D_GNU_SOURCE -DNODETRAIL_VERSION='"$(VERSION)"'
LDLIBS = -lbpf -lelf -lz -lcurl -lcjson -luring -lcrypto -lm
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer

BPF_SRC = bpf/lifecycle.bpf.c
BPF_OBJ = $(BUILD)/bpf/$(ARCH)/lifecycle.bpf.o
SKEL = $(BUILD)/lifecycle.skel.h

AGENT_SRC = $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJ = $(patsubst agent/%.c,$(BUILD)/obj/%.o,$(AGENT_SRC))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all bpf agent test unit integration bench deps clean help asan demo

all: $(BUILD)/nodetrail

help:
	@echo "make              build the BPF object, its skeleton and $(BUILD)/nodetrail"
	@echo "make bpf ARCH=x   build only the BPF object for x86 or arm64"
	@echo "make deps         install the Debian packages needed to build and test (root)"
	@echo "make test         unit tests, then real-kernel integration tests (root)"
	@echo "make unit         unit tests only"
	@echo "make asan         unit tests under AddressSanitizer + UBSan"
	@echo "make demo         the agent plus a few scripted runc containers (root)"
	@echo "make bench        benchmarks under tests/bench (root)"

deps:
	./tests/deps.sh

bpf: $(BPF_OBJ)

$(BUILD)/bpf/%/lifecycle.bpf.o: $(BPF_SRC) bpf/*.h include/nodetrail/events.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$* -Ibpf -Iinclude -Wall -Werror -c $< -o $@

$(SKEL): $(BUILD)/bpf/$(ARCH)/lifecycle.bpf.o
	$(BPFTOOL) gen skeleton $< name lifecycle > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: agent/%.c $(wildcard include/nodetrail/*.h) $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libnodetrail.a: $(AGENT_OBJ)
	ar rcs $@ $^

$(BUILD)/nodetrail: $(BUILD)/obj/main.o $(BUILD)/libnodetrail.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(BUILD)/libnodetrail.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -DFIXTURES_DIR='"$(abspath ../shared/fixtures)"' -DDATA_DIR='"$(abspath tests/data)"' \
		-o $@ $< $(BUILD)/libnodetrail.a $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	./tests/run-unit.sh $(UNIT_BIN)

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" unit all

integration: all
	./tests/integration/run.sh $(BUILD)/nodetrail

test: deps
	$(MAKE) all
	BUILD=$(BUILD) ./tests/run-all.sh

demo: deps
	$(MAKE) all
	./tests/demo.sh $(BUILD)/nodetrail

bench: $(BUILD)/nodetrail
	./tests/bench/exec_throughput.sh $(BUILD)/nodetrail
	python3 tests/bench/api_cost.py $(BUILD)/nodetrail

clean:
	rm -rf build build-asan
