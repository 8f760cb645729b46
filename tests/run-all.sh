#!/usr/bin/env bash
# The whole suite: unit tests, then the real-kernel integration tests.
# Prints one closing line "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
total_pass=0 total_fail=0 total_skip=0

count() { # $1: output; add its "N passed, N failed[, N skipped]" line
	local line
	line=$(echo "$1" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
	[ -z "$line" ] && { total_fail=$((total_fail + 1)); return; }
	total_pass=$((total_pass + $(echo "$line" | sed -E 's/.*\b([0-9]+) passed.*/\1/')))
	total_fail=$((total_fail + $(echo "$line" | sed -E 's/.*\b([0-9]+) failed.*/\1/')))
	if echo "$line" | grep -q skipped; then
		total_skip=$((total_skip + $(echo "$line" | sed -E 's/.*\b([0-9]+) skipped.*/\1/')))
	fi
}

echo "== build checks"
checks=0
# the arm64 (Graviton) agent, cross-built; the kernel matrix boots it in an arm64 VM
if [ "$(uname -m)" = x86_64 ]; then
	if out=$(make -s arm64 2>&1) && file -L build-arm64/nodetrail | grep -q 'ELF 64-bit.*aarch64' &&
		v=$(qemu-aarch64-static -L / build-arm64/nodetrail --version 2>&1 | head -1) && [ -n "$v" ]; then
		echo "ok: the agent cross-builds for arm64 (Graviton): $v, aarch64 ELF, runs under qemu-user"
		checks=$((checks + 1))
	else
		echo "$out" | tail -10; echo "FAIL: make arm64"; total_fail=$((total_fail + 1))
	fi
fi
if python3 tests/layering.py --self-test && python3 tests/layering.py; then
	checks=$((checks + 1))
else
	echo "FAIL: the layering check (tests/layering.py)"; total_fail=$((total_fail + 1))
fi
if ./tests/readme-options.sh check "$BUILD/nodetrail"; then
	echo "ok: README option table matches nodetrail --help-markdown"; checks=$((checks + 1))
else
	total_fail=$((total_fail + 1))
fi
# the correlator benchmark checks what holds on any machine (every lifecycle's records out, RSS flat
# over 10,000 pod lifecycles); its timings are for `make bench` and the README, not asserted here
if out=$(make -s BUILD="$BUILD" "$BUILD/bench-correlator" 2>&1 && "$BUILD/bench-correlator" 2>&1); then
	echo "ok: 10,000 pod lifecycles through the correlator, RSS flat ($(echo "$out" | grep 'after 10000'))"
	checks=$((checks + 1))
else
	echo "$out" | tail -5; echo "FAIL: bench-correlator"; total_fail=$((total_fail + 1))
fi
total_pass=$((total_pass + checks))

echo "== unit tests"
out=$(make -s BUILD="$BUILD" unit 2>&1); rc=$?
echo "$out"
count "$out"
[ $rc -ne 0 ] && [ "$total_fail" -eq 0 ] && total_fail=1

echo "== integration tests (real kernel, runc)"
out=$(./tests/integration/run.sh "$BUILD/nodetrail" 2>&1); rc=$?
echo "$out"
before=$total_fail
count "$out"
[ $rc -ne 0 ] && [ "$total_fail" -eq "$before" ] && total_fail=$((total_fail + 1))

echo "== kernel matrix: Debian's ${VM_KERNELS:-6.1 6.12 6.1-arm64} kernels on pure cgroup v2, one qemu VM each (make test-kernels)"
out=$(./tests/vm/matrix.sh "$BUILD/nodetrail" 2>&1); rc=$?
echo "$out" | grep -vE ' PASS$'
before=$total_fail
count "$out"
[ $rc -ne 0 ] && [ "$total_fail" -eq "$before" ] && total_fail=$((total_fail + 1))

echo "== the README's first command (make demo)"
out=$(./tests/demo.sh "$BUILD/nodetrail" 2>&1); rc=$?
echo "$out" | tail -25
if [ $rc -eq 0 ] && echo "$out" | grep -q "container.oom_killed  kernel+api" && echo "$out" | grep -q "node.interruption"; then
	echo "ok: the demo shows joined records"; total_pass=$((total_pass + 1))
else
	echo "FAIL: the demo (exit $rc) did not show its records"; total_fail=$((total_fail + 1))
fi

echo "== memory: the whole agent over 10,000 pod lifecycles on the real kernel (tests/bench/lifecycles.py)"
out=$(CHECK=1 python3 tests/bench/lifecycles.py "$BUILD/nodetrail" 2>&1); rc=$?
echo "$out" | grep -E "^\| (idle|[0-9]+ pods|after 10000)|^flat|^RSS target|FAIL|skipped|Error"
if [ $rc -eq 0 ]; then
	echo "ok: every lifecycle joined, RSS flat and within 16 MiB"; total_pass=$((total_pass + 1))
else
	echo "$out" | tail -5; echo "FAIL: lifecycles"; total_fail=$((total_fail + 1))
fi

echo "== unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
out=$(make -s asan 2>&1); rc=$?
echo "$out" | tail -3
before=$total_fail
count "$out"
[ $rc -ne 0 ] && [ "$total_fail" -eq "$before" ] && total_fail=$((total_fail + 1))
out=$(./tests/integration/run.sh build-asan/nodetrail 2>&1); rc=$?
echo "$out" | grep -vE '\.\.\. ok$'
before=$total_fail
count "$out"
[ $rc -ne 0 ] && [ "$total_fail" -eq "$before" ] && total_fail=$((total_fail + 1))

echo "== fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-10} s per target)"
if make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}"; then
	echo "ok: no fuzz target crashed"; total_pass=$((total_pass + 1))
else
	echo "FAIL: a fuzz target crashed"; total_fail=$((total_fail + 1))
fi

if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
