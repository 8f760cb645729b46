# nodetrail build. `make help` lists the targets.
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
# another architecture's agent is cross-built (Debian's cross toolchain and its :arm64 / :amd64
# libraries, from `tests/deps.sh` on amd64 or `tests/deps.sh build arm64`) into its own folder:
# `make ARCH=arm64` builds build-arm64/nodetrail
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(if $(filter arm64,$(ARCH)),aarch64-linux-gnu-,x86_64-linux-gnu-)
BUILD ?= build-$(ARCH)
CURL_BUILD ?= $(BUILD)/curl
ifneq ($(origin CC),command line)
CC = $(CROSS_COMPILE)gcc
endif
endif
BUILD ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -I$(BUILD) \
	$(CURL_CFLAGS) -D_GNU_SOURCE -DNODETRAIL_VERSION='"$(VERSION)"'
# libcurl: by default built here from Debian's curl source (Debian's patches, OpenSSL, HTTP and HTTPS
# only) and linked statically; Debian's libcurl.so drags GnuTLS, Kerberos, LDAP, SSH, RTMP, IDN and
# PSL into every agent (4 MiB of RSS). `make CURL=system` links Debian's libcurl instead.
CURL ?= minimal
CURL_SRC ?= build/src/curl
CURL_BUILD ?= build/curl
ifeq ($(CURL),system)
CURL_LIB =
CURL_CFLAGS =
CURL_LIBS = -lcurl
else ifeq ($(CURL),minimal)
CURL_LIB = $(CURL_BUILD)/lib/libcurl.a
CURL_CFLAGS = -I$(CURL_SRC)/include -DCURL_STATICLIB
CURL_LIBS = $(CURL_LIB) -lssl -lcrypto -lz -lpthread
else
$(error CURL is minimal (the default) or system)
endif
CURL_CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=None -DCMAKE_C_COMPILER=$(CC) \
	-DCMAKE_C_FLAGS="-O2 -g -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2" \
	-DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DENABLE_MANUAL=OFF \
	-DCURL_ENABLE_EXPORT_TARGET=OFF -DHTTP_ONLY=ON -DCURL_USE_OPENSSL=ON \
	-DCURL_DISABLE_OPENSSL_AUTO_LOAD_CONFIG=ON -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none \
	-DUSE_LIBIDN2=OFF -DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_GSSAPI=OFF -DUSE_NGHTTP2=OFF \
	-DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON \
	-DCURL_DISABLE_COOKIES=ON -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON -DCURL_DISABLE_NETRC=ON \
	-DCURL_DISABLE_DOH=ON -DCURL_DISABLE_MIME=ON -DCURL_DISABLE_NTLM=ON \
	$(if $(CROSS_COMPILE),-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=$(if $(filter arm64,$(ARCH)),aarch64,x86_64))

LDLIBS = -lbpf -lelf -lz $(CURL_LIBS) -lcjson -luring -lcrypto -lm
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer

BPF_SRC = bpf/lifecycle.bpf.c
BPF_OBJ = $(BUILD)/bpf/$(ARCH)/lifecycle.bpf.o
SKEL = $(BUILD)/lifecycle.skel.h

# Real-world data the tests read (cgroup paths, Kubernetes objects, IMDS answers; see its SOURCES.md),
# kept in the repository so that a clone anywhere runs the tests; NODETRAIL_FIXTURES overrides.
NODETRAIL_FIXTURES ?= $(abspath tests/data/fixtures)
export NODETRAIL_FIXTURES

# the agent's folders, in the order the data flows (docs/architecture.md)
STAGES = base kernel api join out
AGENT_SRC = $(foreach s,$(STAGES),$(wildcard agent/$(s)/*.c)) agent/agent.c
AGENT_OBJ = $(patsubst agent/%.c,$(BUILD)/obj/%.o,$(AGENT_SRC))
HEADERS = $(wildcard include/nodetrail/*.h include/nodetrail/*/*.h)
UNIT_SRC = $(wildcard tests/unit/*/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all bpf agent test unit integration bench bench-compare deps clean distclean help asan demo fuzz test-kernels arm64

all: $(BUILD)/nodetrail

help:
	@echo "make              build the BPF object, its skeleton and $(BUILD)/nodetrail"
	@echo "make bpf ARCH=x   build only the BPF object for x86 or arm64"
	@echo "make deps         install the Debian packages needed to build and test (root)"
	@echo "make test         unit tests, then real-kernel integration tests (root)"
	@echo "make unit         unit tests only"
	@echo "make asan         unit tests under AddressSanitizer + UBSan"
	@echo "make demo         the agent plus a few scripted runc containers (root)"
	@echo "make arm64        the agent cross-built for arm64 (Graviton) into build-arm64/nodetrail"
	@echo "make test-kernels the kernel scenarios in a qemu VM per kernel in VM_KERNELS (default: Debian's 6.1 and 6.12 on amd64, 6.1 on arm64), pure cgroup v2 (root)"
	@echo "make bench        benchmarks under tests/bench (root)"
	@echo "make bench-compare OLD=rev  the agent of git revision rev and this one through the benchmarks (root)"
	@echo "make fuzz         libFuzzer targets under tests/fuzz, FUZZ_SECONDS each (default 60)"
	@echo "make clean        remove build outputs, keeping the fetched curl source and its build"
	@echo "make distclean    remove everything built or fetched"
	@echo "CURL=system       link Debian's libcurl.so instead of the static one built from Debian's source"

deps:
	./tests/deps.sh

bpf: $(BPF_OBJ)

$(BUILD)/bpf/%/lifecycle.bpf.o: $(BPF_SRC) bpf/*.h include/nodetrail/kernel/events.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$* -Ibpf -Iinclude -Wall -Werror -c $< -o $@

$(SKEL): $(BUILD)/bpf/$(ARCH)/lifecycle.bpf.o
	$(BPFTOOL) gen skeleton $< name lifecycle > $@.tmp && mv $@.tmp $@

$(CURL_SRC)/.ready:
	./tests/deps.sh curl-source $(CURL_SRC)

# a static libcurl with only what the agent uses; cmake's own make, not this one's flags
$(CURL_BUILD)/lib/libcurl.a: $(CURL_SRC)/.ready
	@mkdir -p $(CURL_BUILD)
	@echo "  CURL    libcurl.a from $$(cat $(CURL_SRC)/.ready) (HTTP/HTTPS, OpenSSL; log in $(CURL_BUILD)/build.log)"
	@env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL sh -c 'cmake -S $(CURL_SRC) -B $(CURL_BUILD) $(CURL_CMAKE_FLAGS) && \
		cmake --build $(CURL_BUILD) --target libcurl -j 2' >$(CURL_BUILD)/build.log 2>&1 || \
		{ tail -30 $(CURL_BUILD)/build.log; echo "libcurl build failed (or build with: make CURL=system)"; exit 1; }

$(BUILD)/obj/%.o: agent/%.c $(HEADERS) $(SKEL) | $(CURL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libnodetrail.a: $(AGENT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/nodetrail: $(BUILD)/obj/main.o $(BUILD)/libnodetrail.a $(CURL_LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BUILD)/obj/main.o $(BUILD)/libnodetrail.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libnodetrail.a $(CURL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit -DFIXTURES_DIR='"$(NODETRAIL_FIXTURES)"' \
		-DDATA_DIR='"$(abspath tests/data)"' -o $@ $< $(BUILD)/libnodetrail.a $(LDLIBS) -lcmocka

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

# the kernel series booted by test-kernels, one VM after the other (make test-kernels VM_KERNELS=6.12)
VM_KERNELS ?= 6.1 6.12 6.1-arm64

test-kernels: $(BUILD)/nodetrail $(if $(filter %-arm64,$(VM_KERNELS)),arm64)
	VM_KERNELS="$(VM_KERNELS)" ./tests/vm/matrix.sh $(BUILD)/nodetrail build-arm64/nodetrail

# the arm64 agent, cross-built on amd64 (make ARCH=arm64 on any other target works the same way)
arm64:
	$(MAKE) ARCH=arm64 BUILD=build-arm64 build-arm64/nodetrail

$(BUILD)/bench-correlator: tests/bench/correlator.c $(BUILD)/libnodetrail.a $(CURL_LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libnodetrail.a $(LDLIBS)

bench: $(BUILD)/nodetrail $(BUILD)/bench-correlator
	./tests/bench/exec_throughput.sh $(BUILD)/nodetrail
	python3 tests/bench/kernel_cost.py $(BUILD)/nodetrail
	python3 tests/bench/api_cost.py $(BUILD)/nodetrail
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench-correlator $(BUILD)/bench/correlator.json
	python3 tests/bench/churn.py $(BUILD)/nodetrail
	python3 tests/bench/ringbuf_burst.py $(BUILD)/nodetrail
	python3 tests/bench/startup.py $(BUILD)/nodetrail
	python3 tests/bench/lifecycles.py $(BUILD)/nodetrail
	python3 tests/bench/soak.py $(BUILD)/nodetrail
	python3 tests/bench/node_day.py $(BUILD)/nodetrail

# the agent of an earlier revision (OLD, default: the one before the stage folders) built beside this one,
# and both through the benchmarks in one run (tests/bench/compare.py)
OLD ?= 24b6129
bench-compare: $(BUILD)/nodetrail
	@rm -rf $(BUILD)/bench/old-src && mkdir -p $(BUILD)/bench
	git worktree prune && git worktree add --detach $(BUILD)/bench/old-src $(OLD) >/dev/null
	$(MAKE) -C $(BUILD)/bench/old-src CURL_SRC=$(abspath $(CURL_SRC)) CURL_BUILD=$(abspath $(CURL_BUILD)) build/nodetrail
	python3 tests/bench/compare.py $(BUILD)/bench/old-src/build/nodetrail $(BUILD)/nodetrail
	git worktree remove --force $(BUILD)/bench/old-src

# libFuzzer: the agent's sources built again with clang's coverage instrumentation
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -Iinclude -I$(BUILD) $(CURL_CFLAGS) -D_GNU_SOURCE \
	-DNODETRAIL_VERSION='"fuzz"'
# every stage but the probes (no kernel here: tests/fuzz/probes_stub.c stands in), the stats that read
# them and the agent that wires them
FUZZ_SRC = $(filter-out agent/kernel/probes.c agent/out/stats.c agent/agent.c,$(AGENT_SRC)) tests/fuzz/probes_stub.c
FUZZ_TARGETS = $(patsubst tests/fuzz/fuzz_%.c,build-fuzz/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(HEADERS) $(CURL_LIB)
	@mkdir -p build-fuzz
	$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRC) -lcjson $(CURL_LIBS) -luring -lcrypto -lm

fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
		name=$${t#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$name; \
		echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
		UBSAN_OPTIONS=halt_on_error=1 $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
			build-fuzz/corpus-$$name tests/fuzz/corpus/$$name 2>build-fuzz/$$name.log \
			|| { tail -40 build-fuzz/$$name.log; echo "fuzz: $$name FAILED (crash input in build-fuzz/)"; exit 1; }; \
		grep -E "stat::number_of_executed_units" build-fuzz/$$name.log | sed "s/^/fuzz: $$name /"; \
	done

# clean keeps the curl source and its build (build/src, build/curl): `make distclean` drops them too
clean:
	find build -mindepth 1 -maxdepth 1 ! -name src ! -name curl -exec rm -rf {} + 2>/dev/null || true
	rm -rf build-asan build-fuzz build-arm64

distclean:
	rm -rf build build-asan build-fuzz build-arm64
