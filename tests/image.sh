#!/usr/bin/env bash
# Build the nodetrail image here, where no registry is reachable: bootstrap a Debian 12 base with
# debootstrap (from the mirror apt is configured with), import it, build the Dockerfile on it with
# podman for every platform in PLATFORMS (the build stage cross-compiles: no emulation), join them in
# one manifest list (an OCI index), and check each image from its own files: every ELF in it is a
# program of its architecture, `nodetrail --version` runs (the arm64 one under qemu-user emulation),
# and the index lists every platform. Prints each image's size; saves the index as an OCI archive.
#   sudo tests/image.sh            (installs podman, debootstrap and qemu-user-static if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# (":bookworm-updates": an earlier base of this script had no updates or security sources)
BASE=localhost/nodetrail-base:bookworm-updates
TAG=localhost/nodetrail:${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
WORK=build/image
# the platforms of the image index; daemonset/daemonset.yaml's kubernetes.io/arch affinity lists the
# same (tests/integration/test_deploy.py compares them)
PLATFORMS="linux/amd64 linux/arm64"

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need podman || ! need debootstrap || ! need qemu-aarch64-static; then
	[ "$(id -u)" -eq 0 ] || { echo "image: needs root to install podman, debootstrap and qemu-user-static" >&2; exit 1; }
	echo "image: installing podman, debootstrap and qemu-user-static"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman debootstrap qemu-user-static >/dev/null
fi

# the mirror apt uses (deb822 sources or a sources.list line), so this works wherever apt does
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "image: no Debian mirror found in the apt sources" >&2; exit 1; }

if ! podman image exists "$BASE"; then
	echo "image: bootstrapping Debian 12 (minbase) into $WORK/rootfs"
	rm -rf "$WORK/rootfs" && mkdir -p "$WORK"
	debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
		{ tail -20 "$WORK/debootstrap.log"; exit 1; }
	# the build stage runs apt-get: give it this machine's apt sources (updates and security included:
	# the image ships the libraries of that stage, OpenSSL among them), else the mirror's main
	if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
		cp /etc/apt/sources.list.d/*.sources "$WORK/rootfs/etc/apt/sources.list.d/"
		: >"$WORK/rootfs/etc/apt/sources.list"
	elif grep -q '^deb ' /etc/apt/sources.list 2>/dev/null; then
		grep '^deb ' /etc/apt/sources.list >"$WORK/rootfs/etc/apt/sources.list"
	else
		echo "deb $mirror bookworm main" >"$WORK/rootfs/etc/apt/sources.list"
	fi
	tar -C "$WORK/rootfs" -c . | podman import -q - "$BASE" >/dev/null
	rm -rf "$WORK/rootfs"
fi

echo "image: building $TAG for ${PLATFORMS// /, } (log in $WORK/build.log)"
podman manifest rm "$TAG" >/dev/null 2>&1 || true
podman image rm "$TAG" >/dev/null 2>&1 || true
: >"$WORK/build.log"
# one image per platform, tagged <tag>-<arch>, then the index of them (podman 4.3's `build --manifest`
# leaves its store inconsistent when an instance is rebuilt)
images=()
for platform in $PLATFORMS; do
	echo "image: $platform"
	# (podman before 4.4 does not set BUILDPLATFORM itself: the build stage runs on this machine's)
	podman build --network host --pull=never --platform "$platform" --build-arg BASE="$BASE" \
		--build-arg BUILDPLATFORM="linux/$(dpkg --print-architecture)" \
		--build-arg VERSION="${TAG##*:}" -t "$TAG-${platform#*/}" . >>"$WORK/build.log" 2>&1 ||
		{ tail -30 "$WORK/build.log"; exit 1; }
	images+=("$TAG-${platform#*/}")
done
podman manifest create "$TAG" >/dev/null
for img in "${images[@]}"; do podman manifest add "$TAG" "containers-storage:$img" >/dev/null; done

# every image from its own files alone (an export): `podman run` itself needs rlimits raised that a
# host without CAP_SYS_RESOURCE in its bounding set refuses, and an arm64 image needs emulation
fail=0
for img in "${images[@]}"; do
	arch=$(podman image inspect "$img" --format '{{.Architecture}}')
	case $arch in amd64) elf=x86-64 run="" ;; arm64) elf=aarch64 run="qemu-aarch64-static -L ." ;; *) elf=unknown run="" ;; esac
	rm -rf "$WORK/export" && mkdir -p "$WORK/export"
	ctr=$(podman create --platform "linux/$arch" "$img" 2>/dev/null)
	podman export "$ctr" | tar -C "$WORK/export" -x
	podman rm "$ctr" >/dev/null
	n=0 bad=""
	while read -r f; do
		n=$((n + 1))
		file -L "$f" | grep -q "ELF 64-bit.*$elf" || bad="$bad ${f#"$WORK/export"}"
	done < <(find "$WORK/export" -type f -exec sh -c 'head -c4 "$1" | grep -q "^.ELF"' _ {} \; -print)
	if [ -n "$bad" ]; then
		echo "image: FAIL: linux/$arch has programs of another architecture:$bad"; fail=1
	else
		echo "image: linux/$arch: all $n ELF files are $elf"
	fi
	if [ -n "$run" ]; then
		version=$(cd "$WORK/export" && $run ./nodetrail --version 2>&1 | paste -sd " ")
	else
		version=$(chroot "$WORK/export" /nodetrail --version 2>&1 | paste -sd " ")
	fi
	case $version in nodetrail\ *) echo "image: linux/$arch runs from its own files${run:+ (under qemu-user)}: $version ($(find "$WORK/export" -type f | wc -l) files)" ;;
	*) echo "image: FAIL: linux/$arch: nodetrail --version: $version"; fail=1 ;; esac
	size=$(podman image inspect "$img" --format '{{.Size}}')
	echo "image: linux/$arch is $size bytes ($((size / 1024 / 1024)) MiB)"
	rm -rf "$WORK/export"
done

# the index as a registry would get it: an OCI archive whose index lists every platform
rm -f "$WORK/nodetrail.oci.tar" "$WORK/nodetrail.tar"
podman manifest push --all "$TAG" "oci-archive:$WORK/nodetrail.oci.tar:${TAG##*/}" >/dev/null 2>>"$WORK/build.log" ||
	{ tail -5 "$WORK/build.log"; echo "image: FAIL: could not save the index"; exit 1; }
listed=$(python3 - "$WORK/nodetrail.oci.tar" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
def blob(digest):
    return json.load(t.extractfile("blobs/" + digest.replace(":", "/")))
def platforms(index):
    for m in index["manifests"]:
        if m.get("mediaType", "").endswith(("image.index.v1+json", "manifest.list.v2+json")):
            yield from platforms(blob(m["digest"]))
        elif "platform" in m:
            yield "%s/%s" % (m["platform"]["os"], m["platform"]["architecture"])
print(" ".join(sorted(platforms(json.load(t.extractfile("index.json"))))))
PY
)
if [ "$listed" = "$(echo $PLATFORMS | tr ' ' '\n' | sort | paste -sd ' ')" ]; then
	echo "image: the index lists $listed; saved as $WORK/nodetrail.oci.tar (skopeo copy oci-archive:... docker://<registry>/nodetrail:<tag>)"
else
	echo "image: FAIL: the index lists '$listed', not '$PLATFORMS'"; fail=1
fi
[ "$fail" -eq 0 ] && echo "image: ok" || { echo "image: FAILED"; exit 1; }
