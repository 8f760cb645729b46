#!/usr/bin/env bash
# Install what nodetrail needs to build and test, on Debian 12 / Ubuntu 22.04+.
# Elsewhere, print what is missing and how to get it.
set -euo pipefail

BUILD_PKGS="make gcc clang llvm libclang-rt-dev bpftool libbpf-dev libelf-dev zlib1g-dev libcurl4-openssl-dev libcjson-dev liburing-dev libssl-dev libcmocka-dev pkg-config"
TEST_PKGS="runc busybox-static python3 python3-yaml libbpf-tools openssl kubectl libcap2-bin qemu-system-x86 cpio valgrind"

missing_cmds() {
	local m=""
	for c in make gcc clang bpftool runc busybox python3; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || m="$m $c"
	done
	for h in bpf/libbpf.h cjson/cJSON.h liburing.h curl/curl.h cmocka.h openssl/evp.h; do
		[ -e "/usr/include/$h" ] || [ -e "/usr/include/x86_64-linux-gnu/$h" ] || [ -e "/usr/include/aarch64-linux-gnu/$h" ] || m="$m <$h>"
	done
	echo "$m"
}

if command -v apt-get >/dev/null 2>&1 && [ -r /etc/debian_version ]; then
	pkgs=""
	for p in $BUILD_PKGS $TEST_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || pkgs="$pkgs $p"
	done
	if [ -n "$pkgs" ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "deps: missing Debian packages:$pkgs" >&2
			echo "deps: run as root (or: sudo apt-get install$pkgs)" >&2
			exit 1
		fi
		echo "deps: installing$pkgs"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# Ubuntu ships bpftool in linux-tools-* rather than a package of its own
		if echo " $pkgs " | grep -q " bpftool " && ! apt-cache show bpftool >/dev/null 2>&1; then
			pkgs=$(echo " $pkgs " | sed 's/ bpftool / linux-tools-common linux-tools-generic /')
		fi
		apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	fi
fi

m=$(missing_cmds)
# the python3 first on PATH may not be Debian's (pyenv): it needs PyYAML for the manifest tests
python3 -c "import yaml" 2>/dev/null || m="$m python3-yaml(PyYAML for $(command -v python3))"
command -v capsh >/dev/null 2>&1 || [ -x /usr/sbin/capsh ] || m="$m capsh"
if [ -n "$m" ]; then
	echo "deps: still missing:$m" >&2
	echo "deps: on other systems install: clang/llvm (BPF target), bpftool, libbpf >= 1.0, libelf, zlib," >&2
	echo "      libcurl (OpenSSL), cJSON, liburing, OpenSSL, cmocka; runc and a static busybox for the tests" >&2
	exit 1
fi
echo "deps: ok"
