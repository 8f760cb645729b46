#!/usr/bin/env bash
# The kernel matrix (`make test-kernels`): tests/vm/run.sh once per kernel series in VM_KERNELS
# (default "6.1 6.12 6.1-arm64": Debian 12's 6.1 cloud kernel and its 6.12 backport on amd64, and its
# arm64 6.1 cloud kernel running the arm64 agent under emulation), one VM at a time. Every
# line says which kernel it belongs to ("vm <series>: ..."); at the end one summary line per kernel
# (kernel version, scenarios, passed, failed, seconds) and the overall "N passed, N failed" line that
# tests/run-all.sh counts.
#   VM_KERNELS="6.1 6.12 6.1-arm64" tests/vm/matrix.sh [AGENT [ARM64_AGENT]]   (root)
# ARM64_AGENT defaults to build-arm64/nodetrail (make ARCH=arm64).
# It fails if any kernel fails, or if the kernels that ran did not all report the same number of
# scenarios. A kernel that cannot run here (no qemu, no package) is skipped, and under REQUIRE_BPF=1
# (CI) that skip is a failure (tests/vm/run.sh decides).
set -uo pipefail
cd "$(dirname "$0")/../.."
AGENT=${1:-build/nodetrail}
ARM64_AGENT=${2:-build-arm64/nodetrail}
KERNELS=${VM_KERNELS:-6.1 6.12 6.1-arm64}

# every kernel of an architecture runs the same agent: a copy taken once, so a build running meanwhile
# cannot swap it between kernels (or hand a VM a half-written file). The arm64 agent's version is
# asked under user-mode emulation (qemu-user-static) when this machine has it.
mkdir -p build/vm
snapshot() { # $1: agent, $2: copy, $3: how to run it ("" or the qemu-user command)
	[ -x "$1" ] && cp "$1" "$2.tmp" && cmp -s "$1" "$2.tmp" &&
		version=$($3 "$2.tmp" --version 2>/dev/null | head -1) && [ -n "$version" ] && mv "$2.tmp" "$2" ||
		{ rm -f "$2.tmp"; return 1; }
	echo "vm: agent $version ($1, $(file -L "$2" | grep -o 'x86-64\|aarch64' | head -1), $(sha256sum "$2" | cut -c1-12))"
}
snap=build/vm/nodetrail-under-test
if ! snapshot "$AGENT" "$snap" ""; then
	echo "vm: FAIL: no runnable agent at $AGENT (make first; or a build was writing it)"
	echo "0 passed, 1 failed"
	exit 1
fi
snap_arm64=build/vm/nodetrail-arm64-under-test
case " $KERNELS " in *-arm64" "*)
	if ! snapshot "$ARM64_AGENT" "$snap_arm64" "qemu-aarch64-static -L /"; then
		echo "vm: FAIL: no arm64 agent at $ARM64_AGENT that runs under qemu-aarch64-static (make ARCH=arm64 first)"
		echo "0 passed, 1 failed"
		exit 1
	fi ;;
esac

total_pass=0 total_fail=0 total_skip=0
summary=() counts=()
for series in $KERNELS; do
	tag="vm $series"
	echo "== kernel $series (VM_KERNEL_SERIES=$series tests/vm/run.sh)"
	start=$(date +%s)
	agent=$snap
	case $series in *-arm64) agent=$snap_arm64 ;; esac
	out=$(VM_KERNEL_SERIES=$series ./tests/vm/run.sh "$agent" 2>&1)
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
	# the kernel the VM reported is the series asked for (a wrong or silent boot is not a pass)
	if [ "$skip" -eq 0 ] && [ "$pass" -gt 0 ]; then
		case "$kver" in
		"${series%-arm64}".*) ;;
		*) echo "$tag: FAIL: the VM reported kernel '${kver:-none}', not a $series one"; fail=$((fail + 1)) ;;
		esac
	fi
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
