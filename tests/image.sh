#!/usr/bin/env bash
# Build the nodetrail image here, where no registry is reachable: bootstrap a Debian 12 base with
# debootstrap (from the mirror apt is configured with), import it, build the Dockerfile on it with
# podman (or buildah), check that `nodetrail --version` runs in the image, and print its size.
#   sudo tests/image.sh            (installs podman and debootstrap from Debian if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=localhost/nodetrail-base:bookworm
TAG=localhost/nodetrail:${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
WORK=build/image

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need podman || ! need debootstrap; then
	[ "$(id -u)" -eq 0 ] || { echo "image: needs root to install podman and debootstrap" >&2; exit 1; }
	echo "image: installing podman and debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman debootstrap >/dev/null
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
	# the build stage runs apt-get: give it the same mirror
	echo "deb $mirror bookworm main" >"$WORK/rootfs/etc/apt/sources.list"
	tar -C "$WORK/rootfs" -c . | podman import - "$BASE" >/dev/null
	rm -rf "$WORK/rootfs"
fi

echo "image: building $TAG"
podman build --network host --build-arg BASE="$BASE" --build-arg VERSION="${TAG##*:}" -t "$TAG" . \
	>"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
# run it from the image's own files alone (chroot into an export): `podman run` itself needs rlimits
# raised that a host without CAP_SYS_RESOURCE in its bounding set refuses
rm -rf "$WORK/export" && mkdir -p "$WORK/export"
ctr=$(podman create "$TAG")
podman export "$ctr" | tar -C "$WORK/export" -x
podman rm "$ctr" >/dev/null
version=$(chroot "$WORK/export" /nodetrail --version | paste -sd " ")
echo "image: runs from its own files: $version ($(find "$WORK/export" -type f | wc -l) files)"
rm -rf "$WORK/export"
size=$(podman image inspect "$TAG" --format '{{.Size}}')
echo "image: $TAG is $size bytes ($((size / 1024 / 1024)) MiB)"
rm -f "$WORK/nodetrail.tar"
podman image save -o "$WORK/nodetrail.tar" "$TAG" >/dev/null && echo "image: saved as $WORK/nodetrail.tar (podman load / ctr images import)"
