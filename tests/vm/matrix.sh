#!/usr/bin/env bash
# The kernel matrix (`make test-kernels`): tests/vm/run.sh once per kernel series in VM_KERNELS
# (default "6.1 6.12": Debian 12's 6.1 cloud kernel and its 6.12 backport), one VM at a time. Every
# line says which kernel it belongs to ("vm <series>: ..."); at the end one summary line per kernel
# (kernel version, scenarios, passed, failed, seconds) and the overall "N passed, N failed" line that
# tests/run-all.sh counts.
#   VM_KERNELS="6.1 6.12" tests/vm/matrix.sh [AGENT]   (root)
# It fails if any kernel fails, or if the kernels that ran did not all report the same number of
# scenarios. A kernel that cannot run here (no qemu, no package) is skipped, and under REQUIRE_BPF=1
# (CI) that skip is a failure (tests/vm/run.sh decides).
set -uo pipefail
cd "$(dirname "$0")/../.."
AGENT=${1:-build/nodetrail}
KERNELS=${VM_KERNELS:-6.1 6.12}

# every kernel runs the same agent: a copy taken once, so a build running meanwhile cannot swap it
# between kernels (or hand a VM a half-written file)
mkdir -p build/vm
snap=build/vm/nodetrail-under-test
if ! { [ -x "$AGENT" ] && cp "$AGENT" "$snap.tmp" && cmp -s "$AGENT" "$snap.tmp" &&
	version=$("$snap.tmp" --version 2>/dev/null | head -1) && mv "$snap.tmp" "$snap"; }; then
	rm -f "$snap.tmp"
	echo "vm: FAIL: no runnable agent at $AGENT (make first; or a build was writing it)"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "vm: agent $version ($AGENT, $(sha256sum "$snap" | cut -c1-12))"

total_pass=0 total_fail=0 total_skip=0
summary=() counts=()
for series in $KERNELS; do
	tag="vm $series"
	echo "== kernel $series (VM_KERNEL_SERIES=$series tests/vm/run.sh)"
	start=$(date +%s)
	out=$(VM_KERNEL_SERIES=$series ./tests/vm/run.sh "$snap" 2>&1)
	rc=$?
	secs=$(($(date +%s) - start))
	# every line names its kernel: run.sh prefixes its own, the console tail on a failure is not
	echo "$out" | grep -vE '^[0-9]+ passed, [0-9]+ failed' | sed -E "/^$tag: /! s/^/$tag: /"
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	if [ -z "$line" ]; then
		pass=0 fail=1 skip=0
	else
		pass=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
		skip=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
		skip=${skip:-0}
	fi
	[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
	kver=$(echo "$out" | sed -nE "s/^$tag: [0-9]+ scenarios on (.*) in [0-9]+ s\$/\\1/p" | tail -1)
	n=$(echo "$out" | sed -nE "s/^$tag: ([0-9]+) scenarios on .*/\\1/p" | tail -1)
	if [ "$skip" -gt 0 ]; then
		summary+=("kernel $series: skipped ($(echo "$out" | sed -n "s/^$tag: skipped: //p" | head -1)), ${secs} s")
	else
		summary+=("kernel $series (${kver:-did not run}): ${n:-0} scenarios, $pass passed, $fail failed, ${secs} s")
		[ -n "$n" ] && [ "$n" -gt 0 ] && counts+=("$series:$n")
	fi
	echo "$tag: $pass passed, $fail failed$([ "$skip" -gt 0 ] && echo ", $skip skipped") in ${secs} s"
	total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
done

echo "== kernel matrix"
for s in "${summary[@]}"; do echo "$s"; done
# the same scenarios on every kernel: a kernel that reported fewer lost some without saying so
if [ "$(printf '%s\n' "${counts[@]}" | cut -d: -f2 | sort -u | grep -c .)" -gt 1 ]; then
	echo "FAIL: the kernels reported different numbers of scenarios: ${counts[*]}"
	total_fail=$((total_fail + 1))
fi
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
