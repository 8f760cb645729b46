#!/usr/bin/env bash
# The real-kernel scenarios on a second kernel and a pure cgroup v2 host: boots Debian 12's 6.1 cloud
# kernel in qemu (software emulation) with an initramfs holding the agent, runc, busybox and
# tests/vm/init.sh, and prints a pass/fail line per scenario from the VM's serial console.
#   tests/vm/run.sh [AGENT]        (root; `make test-kernels`)
# The kernel package is fetched from Debian's archive (apt) the first time and cached in build/vm.
# Without qemu it says why and exits 0, unless REQUIRE_BPF=1 (CI), where that is a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
AGENT=${1:-build/nodetrail}
VM=build/vm
SERIES=${VM_KERNEL_SERIES:-6.1}
mkdir -p "$VM"

skip() {
	if [ "${REQUIRE_BPF:-0}" = 1 ]; then
		echo "vm: FAIL (REQUIRE_BPF=1): $1"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "vm: skipped: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (Debian: qemu-system-x86)"
command -v cpio >/dev/null || skip "cpio not installed"
[ "$(uname -m)" = x86_64 ] || skip "the VM kernel is amd64; this machine is $(uname -m)"
[ -x "$AGENT" ] || { echo "vm: no agent at $AGENT (make first)"; exit 1; }

# the kernel: the newest linux-image-<SERIES>.*-cloud-amd64-unsigned apt can get, cached
deb=$(ls -t "$VM"/linux-image-"$SERIES".*-cloud-amd64-unsigned_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	pkg=$(apt-cache search --names-only "^linux-image-$SERIES\\.[0-9.-]+-cloud-amd64-unsigned\$" 2>/dev/null |
		awk '{print $1}' | sort -V | while read -r p; do
			# (no grep -q: under pipefail its early exit would fail the pipe)
			[ -n "$(apt-cache policy "$p" | sed -n 's/^ *Candidate: \([0-9]\)/\1/p')" ] && echo "$p"
		done | tail -1)
	[ -n "$pkg" ] || skip "no linux-image-$SERIES.*-cloud-amd64-unsigned package in the apt sources"
	echo "vm: fetching $pkg"
	(cd "$VM" && apt-get download "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed"
	deb=$(ls -t "$VM"/linux-image-"$SERIES".*-cloud-amd64-unsigned_*.deb | head -1)
fi
kdir="$VM/kernel-$(basename "$deb" .deb)"
if [ ! -d "$kdir" ]; then
	dpkg-deb -x "$deb" "$kdir.tmp" && mv "$kdir.tmp" "$kdir"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
echo "vm: kernel $(basename "$vmlinuz" | sed 's/^vmlinuz-//') from $(basename "$deb")"

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
echo "vm: initramfs $(du -h "$VM/initramfs.gz" | cut -f1)"

# software emulation (-cpu max, no KVM: nested KVM is not dependable here)
echo "vm: booting (qemu, TCG, 1 CPU, 1 GiB)"
start=$(date +%s)
timeout "${VM_TIMEOUT:-900}" qemu-system-x86_64 -machine q35 -cpu max -smp 1 -m 1024 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$VM/initramfs.gz" \
	-append "console=ttyS0 rdinit=/init panic=-1 ${VM_APPEND:-quiet loglevel=3}" >"$VM/serial.log" 2>&1
echo "vm: ran $(($(date +%s) - start)) s; console in $VM/serial.log"
tr -d '\r' <"$VM/serial.log" | grep -E '^NT-(KERNEL|CGROUP|STATUS|LOG)' | sed 's/^/vm: /'

pass=$(tr -d '\r' <"$VM/serial.log" | grep -c '^NT-SCENARIO .* PASS$')
fail=$(tr -d '\r' <"$VM/serial.log" | grep -c '^NT-SCENARIO .* FAIL')
tr -d '\r' <"$VM/serial.log" | grep '^NT-SCENARIO' | sed 's/^NT-SCENARIO /vm: /'
if ! tr -d '\r' <"$VM/serial.log" | grep -q '^NT-DONE'; then
	echo "vm: the VM did not finish its scenarios; the end of its console:"
	tail -30 "$VM/serial.log"
	fail=$((fail + 1))
fi
[ "$pass" -gt 0 ] || fail=$((fail + 1))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
