#!/usr/bin/env bash
# The files a dynamically linked program needs to run: its interpreter (the dynamic loader) and every
# shared library it needs, recursively, one absolute path per line. Unlike ldd it runs nothing, so it
# also answers for another architecture's program (the cross-built arm64 agent on an amd64 host): the
# libraries are looked up in that architecture's Debian multiarch folders.
#   tests/elf-libs.sh PROGRAM...
# Used by the Dockerfile (what goes into the image beside the agent) and tests/vm/run.sh (the VM's
# initramfs).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: tests/elf-libs.sh PROGRAM..." >&2; exit 2; }
command -v readelf >/dev/null || { echo "elf-libs: readelf not found (Debian: binutils)" >&2; exit 1; }

triplet() {
	case $(readelf -h "$1" | sed -n 's/^ *Machine: *//p') in
	*X86-64*) echo x86_64-linux-gnu ;;
	*AArch64*) echo aarch64-linux-gnu ;;
	*) echo "elf-libs: $1: an architecture this script does not know" >&2; exit 1 ;;
	esac
}

declare -A seen=()
queue=()
for prog in "$@"; do
	[ -r "$prog" ] || { echo "elf-libs: cannot read $prog" >&2; exit 1; }
	t=$(triplet "$prog")
	interp=$(readelf -l "$prog" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
	[ -n "$interp" ] && [ -z "${seen[$interp]:-}" ] && { seen[$interp]=1 seen[interp:${interp##*/}]=1; echo "$interp"; }
	queue+=("$t:$prog")
done
while [ ${#queue[@]} -gt 0 ]; do
	item=${queue[0]}
	queue=("${queue[@]:1}")
	t=${item%%:*} file=${item#*:}
	for lib in $(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		# the loader, named again as a library (libc needs it): already there as the interpreter
		[ -n "${seen[interp:$lib]:-}" ] && continue
		path=""
		for dir in "/lib/$t" "/usr/lib/$t" /lib /usr/lib; do
			[ -e "$dir/$lib" ] && { path="$dir/$lib"; break; }
		done
		[ -n "$path" ] || { echo "elf-libs: $file needs $lib, not found for $t (its :${t%%-*} package installed?)" >&2; exit 1; }
		[ -n "${seen[$path]:-}" ] && continue
		seen[$path]=1
		echo "$path"
		queue+=("$t:$path")
	done
done
