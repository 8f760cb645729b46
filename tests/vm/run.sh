#!/usr/bin/env bash
# The real-kernel scenarios on another kernel and a pure cgroup v2 host: boots one of Debian 12's cloud
# kernels (VM_KERNEL_SERIES: 6.1, the default, or 6.12, amd64; 6.1-arm64, Debian's arm64 cloud kernel)
# in qemu (software emulation) with an initramfs holding the agent, runc, busybox and
# tests/vm/init.sh, and prints a pass/fail line per scenario from the VM's serial console, each line
# prefixed "vm <series>:".
#   VM_KERNEL_SERIES=6.12 tests/vm/run.sh [AGENT]        (root; `make test-kernels` runs every series
#   VM_KERNEL_SERIES=6.1-arm64 tests/vm/run.sh AGENT     through tests/vm/matrix.sh)
# An arm64 series needs the arm64 agent (make ARCH=arm64: build-arm64/nodetrail); its runc and busybox
# are Debian's arm64 packages, fetched with apt and unpacked here, its libraries the :arm64 ones
# `tests/deps.sh` installs. Kernel packages are fetched from Debian's archive (apt) the first time and
# cached in build/vm. Without qemu it says why and exits 0, unless REQUIRE_BPF=1 (CI), where that is
# a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
AGENT=${1:-build/nodetrail}
VM=build/vm
SERIES=${VM_KERNEL_SERIES:-6.1}
TAG="vm $SERIES"
mkdir -p "$VM"
case "$SERIES" in
*-arm64) KVER=${SERIES%-arm64} DEBARCH=arm64 ;;
*) KVER=$SERIES DEBARCH=amd64 ;;
esac
case "$KVER" in *[!0-9.]* | "" | .* | *.) echo "$TAG: VM_KERNEL_SERIES must look like 6.1, 6.12 or 6.1-arm64"; exit 1 ;; esac
SERIAL="$VM/serial-$SERIES.log"

skip() {
	if [ "${REQUIRE_BPF:-0}" = 1 ]; then
		echo "$TAG: FAIL (REQUIRE_BPF=1): $1"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "$TAG: skipped: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

if [ "$DEBARCH" = arm64 ]; then
	QEMU=qemu-system-aarch64 QEMU_PKG=qemu-system-arm ELF=aarch64
else
	QEMU=qemu-system-x86_64 QEMU_PKG=qemu-system-x86 ELF=x86-64
fi
command -v $QEMU >/dev/null || skip "$QEMU not installed (Debian: $QEMU_PKG)"
command -v cpio >/dev/null || skip "cpio not installed"
[ "$(uname -m)" = x86_64 ] || skip "this script boots its VMs from an amd64 host; this machine is $(uname -m)"
[ -x "$AGENT" ] || { echo "$TAG: no agent at $AGENT (make first)"; exit 1; }
file -L "$AGENT" | grep -q "$ELF" || { echo "$TAG: $AGENT is not an $ELF program: $(file -L "$AGENT" | cut -d: -f2)"; echo "0 passed, 1 failed"; exit 1; }

# the kernel: the newest linux-image-<KVER>.*-cloud-<DEBARCH>-unsigned apt can get, cached. Debian
# names 6.1 by its ABI (linux-image-6.1.0-57-cloud-amd64-unsigned) and the 6.12 backport by its
# version (linux-image-6.12.118+deb12-cloud-amd64-unsigned).
deb=$(ls -t "$VM"/linux-image-"$KVER".[0-9]*-cloud-$DEBARCH-unsigned_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	re=${KVER//./\\.}
	pkg=$(apt-cache search --names-only "^linux-image-$re\\.[0-9][0-9.+a-z-]*-cloud-$DEBARCH-unsigned\$" 2>/dev/null |
		awk '{print $1}' | sort -V | while read -r p; do
			# (no grep -q: under pipefail its early exit would fail the pipe)
			[ -n "$(apt-cache policy "$p:$DEBARCH" | sed -n 's/^ *Candidate: \([0-9]\)/\1/p')" ] && echo "$p"
		done | tail -1)
	[ -n "$pkg" ] || skip "no linux-image-$KVER.*-cloud-$DEBARCH-unsigned package in the apt sources$([ "$DEBARCH" = arm64 ] && echo " (dpkg --add-architecture arm64; tests/deps.sh does)")"
	echo "$TAG: fetching $pkg"
	(cd "$VM" && apt-get download "$pkg:$DEBARCH" >/dev/null 2>&1) || skip "apt-get download $pkg:$DEBARCH failed"
	deb=$(ls -t "$VM"/linux-image-"$KVER".[0-9]*-cloud-$DEBARCH-unsigned_*.deb | head -1)
fi
kdir="$VM/kernel-$(basename "$deb" .deb)"
if [ ! -d "$kdir" ]; then
	dpkg-deb -x "$deb" "$kdir.tmp" && mv "$kdir.tmp" "$kdir"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
echo "$TAG: kernel $(basename "$vmlinuz" | sed 's/^vmlinuz-//') from $(basename "$deb")"

# runc and busybox of the VM's architecture: this machine's own for amd64; for arm64 Debian's arm64
# packages, unpacked (they cannot be installed beside the amd64 ones)
if [ "$DEBARCH" = arm64 ]; then
	userland="$VM/userland-arm64"
	if [ ! -x "$userland/usr/sbin/runc" ] || [ ! -x "$userland/bin/busybox" ]; then
		rm -rf "$userland" "$userland.debs" && mkdir -p "$userland.debs"
		(cd "$userland.debs" && apt-get download runc:arm64 busybox-static:arm64 >/dev/null 2>&1) ||
			skip "apt-get download runc:arm64 busybox-static:arm64 failed"
		for d in "$userland.debs"/*.deb; do dpkg-deb -x "$d" "$userland.tmp"; done
		mv "$userland.tmp" "$userland" && rm -rf "$userland.debs"
	fi
	RUNC=$userland/usr/sbin/runc BUSYBOX=$userland/bin/busybox
else
	RUNC=$(command -v runc || echo /usr/sbin/runc) BUSYBOX=$(command -v busybox || echo /bin/busybox)
fi

# the initramfs: busybox, the agent and runc with the libraries ldd names, the scenarios as /init
root="$VM/initramfs"
rm -rf "$root" && mkdir -p "$root"/{bin,vm/rootfs/bin,vm/rootfs/proc,vm/rootfs/dev,vm/rootfs/tmp,etc}
cp "$BUSYBOX" "$root/bin/busybox"
# (the list of applets from this machine's busybox: the arm64 one does not run here)
for a in $("$(command -v busybox || echo /bin/busybox)" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
cp "$BUSYBOX" "$root/vm/rootfs/bin/busybox"
for a in sh sleep true dd; do ln -sf busybox "$root/vm/rootfs/bin/$a"; done
cp "$AGENT" "$root/vm/nodetrail"
cp "$RUNC" "$root/bin/runc"
libs=$(./tests/elf-libs.sh "$AGENT" "$RUNC") || { echo "$TAG: the libraries of the agent and runc: see above"; echo "0 passed, 1 failed"; exit 1; }
for lib in $libs; do cp -L --parents "$lib" "$root/"; done
cp tests/vm/config.json.in "$root/vm/"
cp tests/vm/init.sh "$root/init" && chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$VM/initramfs.gz"
echo "$TAG: initramfs $(du -h "$VM/initramfs.gz" | cut -f1)"

# software emulation (no KVM: nested KVM is not dependable here, and arm64 is another architecture);
# for arm64 a Cortex-A72, whose emulation is much cheaper than -cpu max's pointer authentication
if [ "$DEBARCH" = arm64 ]; then
	machine=(-machine virt -cpu cortex-a72) console=ttyAMA0
else
	machine=(-machine q35 -cpu max) console=ttyS0
fi
echo "$TAG: booting (qemu ${machine[*]}, TCG, 1 CPU, 1 GiB)"
start=$(date +%s)
timeout "${VM_TIMEOUT:-900}" $QEMU "${machine[@]}" -smp 1 -m 1024 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$VM/initramfs.gz" \
	-append "console=$console rdinit=/init panic=-1 ${VM_APPEND:-quiet loglevel=3}" >"$SERIAL" 2>&1
secs=$(($(date +%s) - start))
# the console without carriage returns and the terminal resets the firmware writes (they would hide
# the first line, NT-KERNEL)
console() { tr -d '\r' <"$SERIAL" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[A-Za-z]//g'; }
echo "$TAG: ran $secs s; console in $SERIAL"
console | grep -E '^NT-(KERNEL|CGROUP|TRACEPOINT|STATUS|LOG)' | sed "s/^/$TAG: /"

pass=$(console | grep -c '^NT-SCENARIO .* PASS$')
fail=$(console | grep -c '^NT-SCENARIO .* FAIL')
console | grep '^NT-SCENARIO' | sed "s/^NT-SCENARIO /$TAG: /"
if [ "$(console | grep -c '^NT-DONE')" -eq 0 ]; then
	echo "$TAG: the VM did not finish its scenarios; the end of its console:"
	console | tail -30
	fail=$((fail + 1))
fi
[ "$pass" -gt 0 ] || fail=$((fail + 1))
# what tests/vm/matrix.sh compares between kernels: how many scenarios reported, on which kernel
kver=$(console | sed -n 's/^NT-KERNEL //p' | head -1)
echo "$TAG: $((pass + $(console | grep -c '^NT-SCENARIO .* FAIL'))) scenarios on ${kver:-no kernel reported} in $secs s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
