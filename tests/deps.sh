#!/usr/bin/env bash
# Install what nodetrail needs to build and test, on Debian 12 / Ubuntu 22.04+.
# Elsewhere, print what is missing and how to get it.
#   tests/deps.sh                          build and test packages, then Debian's curl source (or a newer one)
#   tests/deps.sh build [arm64|amd64]      build packages and the curl source only (the image's build
#                                          stage), with the cross toolchain for the architecture named
#   tests/deps.sh curl-source DIR [update] only fetch and unpack Debian's curl source into DIR
# The agent links libcurl statically, built from Debian's own curl source (Debian's patches, the
# OpenSSL flavour, HTTP/HTTPS only): Debian's libcurl.so brings GnuTLS, Kerberos, LDAP, SSH, RTMP, IDN
# and PSL along, 4 MiB of resident memory the agent never uses. `make CURL=system` links it instead.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS="make gcc clang llvm libclang-rt-dev bpftool libbpf-dev libelf-dev zlib1g-dev libcurl4-openssl-dev libcjson-dev liburing-dev libssl-dev libcmocka-dev pkg-config cmake patch xz-utils ca-certificates"
TEST_PKGS="runc busybox-static python3 python3-yaml libbpf-tools openssl kubectl libcap2-bin qemu-system-x86 cpio valgrind fuse3 libfuse3-dev file"
# the other architecture's agent (make ARCH=arm64 on amd64, ARCH=x86 on arm64): Debian's cross
# toolchain and the build libraries of that architecture (multiarch; dpkg --add-architecture first).
# The tests add what boots and runs it: qemu for the arm64 VM and user-mode emulation, and runc's
# library for the VM (runc and busybox themselves are unpacked from their arm64 packages there).
cross_pkgs() { # $1: Debian architecture
	local t=aarch64-linux-gnu
	[ "$1" = amd64 ] && t=x86-64-linux-gnu
	echo "gcc-$t binutils-$t libc6-dev-$1-cross libbpf-dev:$1 libelf-dev:$1 zlib1g-dev:$1 libcjson-dev:$1 liburing-dev:$1 libssl-dev:$1"
}

# Debian's curl source: the deb-src twins of the configured deb entries, in a private apt state
# directory (the system's apt configuration is not changed), then the .orig tarball with Debian's
# patches applied except the last two, which only switch the build to GnuTLS and NSS. With
# "update", a source already unpacked is replaced when Debian has published a newer one (security
# fixes reach the agent's libcurl through this; make rebuilds libcurl.a when .ready changes).
curl_source() (
	dest=$1 mode=${2:-}
	[ -e "$dest/.ready" ] && [ "$mode" != update ] && exit 0
	command -v apt-get >/dev/null 2>&1 || { echo "deps: fetching curl's source needs apt (or build with: make CURL=system)" >&2; exit 1; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/src"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" >"$tmp/parts/$(basename "$f")"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] && sed -n 's/^deb[[:space:]]/deb-src /p' "$f" >>"$tmp/parts/from-lists.list"
	done
	apt=(apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$tmp/parts"
		-o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o APT::Sandbox::User=root)
	# an index that fails (a third-party repository without sources) is not fatal; no curl source is
	"${apt[@]}" update >"$tmp/update.log" 2>&1 || true
	latest=$(apt-cache -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$tmp/parts" \
		-o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" showsrc curl 2>/dev/null |
		sed -n 's/^Version: \(.*:\)\{0,1\}//p' | sort -V | tail -1)
	if [ -e "$dest/.ready" ]; then
		if [ -z "$latest" ]; then
			echo "deps: cannot tell whether $(cat "$dest/.ready") is Debian's latest curl source (apt unreachable?): keeping it" >&2
			exit 0
		fi
		[ "$(cat "$dest/.ready")" = "curl_$latest" ] && exit 0
		echo "deps: Debian has curl $latest (here: $(cat "$dest/.ready")): fetching it"
	else
		echo "deps: fetching Debian's curl source${latest:+ $latest} (into $dest)"
	fi
	(cd "$tmp/src" && "${apt[@]}" source --download-only curl >"$tmp/source.log" 2>&1) || {
		cat "$tmp/update.log" "$tmp/source.log" >&2
		echo "deps: could not fetch curl's source package; build with: make CURL=system" >&2
		exit 1
	}
	rm -rf "$dest" && mkdir -p "$dest"
	tar -C "$dest" --strip-components=1 -xf "$tmp"/src/curl_*.orig.tar.*[!c]
	tar -C "$dest" -xf "$tmp"/src/curl_*.debian.tar.*
	n=0
	while read -r p _; do
		case $p in '#'* | '' | 90_gnutls.patch | 99_nss.patch) continue ;; esac
		patch -d "$dest" -p1 -s --no-backup-if-mismatch <"$dest/debian/patches/$p" || {
			echo "deps: Debian's patch $p does not apply to curl's source" >&2; exit 1; }
		n=$((n + 1))
	done <"$dest/debian/patches/series"
	basename "$tmp"/src/curl_*.dsc .dsc >"$dest/.ready"
	echo "deps: $(cat "$dest/.ready") unpacked with $n of Debian's patches"
)

if [ "${1:-}" = curl-source ]; then
	curl_source "${2:?usage: deps.sh curl-source DIR [update]}" "${3:-}"
	exit
fi
host_arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
CROSS_ARCH=""
if [ "${1:-}" = build ]; then
	TEST_PKGS=""
	case "${2:-}" in "" | "$host_arch") ;; arm64 | amd64) CROSS_ARCH=$2 ;; *) echo "deps: build for arm64 or amd64" >&2; exit 2 ;; esac
elif [ "$host_arch" = amd64 ]; then
	# the kernel matrix boots the arm64 agent (make test-kernels)
	CROSS_ARCH=arm64
	TEST_PKGS="$TEST_PKGS qemu-system-arm qemu-user-static libseccomp2:arm64"
fi
[ -n "$CROSS_ARCH" ] && BUILD_PKGS="$BUILD_PKGS $(cross_pkgs "$CROSS_ARCH")"

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
		if [ -n "$CROSS_ARCH" ] && ! dpkg --print-foreign-architectures | grep -qx "$CROSS_ARCH"; then
			echo "deps: adding the $CROSS_ARCH architecture to dpkg (its libraries, for the cross-built agent)"
			dpkg --add-architecture "$CROSS_ARCH"
		fi
		apt-get update -qq
		# Ubuntu ships bpftool in linux-tools-* rather than a package of its own
		if echo " $pkgs " | grep -q " bpftool " && ! apt-cache show bpftool >/dev/null 2>&1; then
			pkgs=$(echo " $pkgs " | sed 's/ bpftool / linux-tools-common linux-tools-generic /')
		fi
		apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	fi
fi

curl_source build/src/curl update
[ "${1:-}" = build ] && { echo "deps: build ok"; exit 0; }

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
