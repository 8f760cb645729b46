#!/usr/bin/env bash
# The real-kernel scenarios on another kernel and a pure cgroup v2 host: boots one of Debian 12's cloud
# kernels (VM_KERNEL_SERIES: 6.1, the default, or 6.12) in qemu (software emulation) with an initramfs
# holding the agent, runc, busybox and tests/vm/init.sh, and prints a pass/fail line per scenario from
# the VM's serial console, each line prefixed "vm <series>:".
#   VM_KERNEL_SERIES=6.12 tests/vm/run.sh [AGENT]   (root; `make test-kernels` runs every series
#                                                    through tests/vm/matrix.sh)
# The kernel package is fetched from Debian's archive (apt) the first time and cached in build/vm.
# Without qemu it says why and exits 0, unless REQUIRE_BPF=1 (CI), where that is a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
AGENT=${1:-build/nodetrail}
VM=build/vm
SERIES=${VM_KERNEL_SERIES:-6.1}
TAG="vm $SERIES"
mkdir -p "$VM"
case "$SERIES" in *[!0-9.]* | "" | .* | *.) echo "$TAG: VM_KERNEL_SERIES must look like 6.1 or 6.12"; exit 1 ;; esac
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

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
command -v cpio >/dev/null || skip "cpio not installed"
[ "$(uname -m)" = x86_64 ] || skip "the VM kernel is amd64; this machine is $(uname -m)"
[ -x "$AGENT" ] || { echo "$TAG: no agent at $AGENT (make first)"; exit 1; }

# the kernel: the newest linux-image-<SERIES>.*-cloud-amd64-unsigned apt can get, cached. Debian
# names 6.1 by its ABI (linux-image-6.1.0-57-cloud-amd64-unsigned) and the 6.12 backport by its
# version (linux-image-6.12.118+deb12-cloud-amd64-unsigned).
deb=$(ls -t "$VM"/linux-image-"$SERIES".[0-9]*-cloud-amd64-unsigned_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	re=${SERIES//./\\.}
	pkg=$(apt-cache search --names-only "^linux-image-$re\\.[0-9][0-9.+a-z-]*-cloud-amd64-unsigned\$" 2>/dev/null |
		awk '{print $1}' | sort -V | while read -r p; do
			# (no grep -q: under pipefail its early exit would fail the pipe)
			[ -n "$(apt-cache policy "$p" | sed -n 's/^ *Candidate: \([0-9]\)/\1/p')" ] && echo "$p"
		done | tail -1)
	[ -n "$pkg" ] || skip "no linux-image-$SERIES.*-cloud-amd64-unsigned package in the apt sources"
	echo "$TAG: fetching $pkg"
	(cd "$VM" && apt-get download "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed"
	deb=$(ls -t "$VM"/linux-image-"$SERIES".[0-9]*-cloud-amd64-unsigned_*.deb | head -1)
fi
kdir="$VM/kernel-$(basename "$deb" .deb)"
if [ ! -d "$kdir" ]; then
	dpkg-deb -x "$deb" "$kdir.tmp" && mv "$kdir.tmp" "$kdir"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
echo "$TAG: kernel $(basename "$vmlinuz" | sed 's/^vmlinuz-//') from $(basename "$deb")"

# the initramfs: busybox, the agent and runc with the libraries ldd names, the scenarios as /init
root="$VM/initramfs"
rm -rf "$root" && mkdir -p "$root"/{bin,vm/rootfs/bin,vm/rootfs/proc,vm/rootfs/dev,vm/rootfs/tmp,etc}
busybox=$(command -v busybox || echo /bin/busybox)
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
cp "$busybox" "$root/vm/rootfs/bin/busybox"
for a in sh sleep true dd; do ln -sf busybox "$root/vm/rootfs/bin/$a"; done
cp "$AGENT" "$root/vm/nodetrail"
cp "$(command -v runc || echo /usr/sbin/runc)" "$root/bin/runc"
for bin in "$AGENT" "$(command -v runc || echo /usr/sbin/runc)"; do
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$root/"; done
done
cp tests/vm/config.json.in "$root/vm/"
cp tests/vm/init.sh "$root/init" && chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$VM/initramfs.gz"
echo "$TAG: initramfs $(du -h "$VM/initramfs.gz" | cut -f1)"

# software emulation (-cpu max, no KVM: nested KVM is not dependable here)
echo "$TAG: booting (qemu, TCG, 1 CPU, 1 GiB)"
start=$(date +%s)
timeout "${VM_TIMEOUT:-900}" qemu-system-x86_64 -machine q35 -cpu max -smp 1 -m 1024 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$VM/initramfs.gz" \
	-append "console=ttyS0 rdinit=/init panic=-1 ${VM_APPEND:-quiet loglevel=3}" >"$SERIAL" 2>&1
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
