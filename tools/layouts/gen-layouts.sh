#!/usr/bin/env bash
# Regenerates the shipped NetBSD 10 layout files from their sources:
#   netbsd10-types.c          the structures, declared as the NetBSD 10 headers declare them
#   netbsd-10-constants.json  flag bits, values and device names, with their sources
# Each architecture's object is compiled with gcc for that ABI and mklayout
# reads the offsets back from its DWARF.
#
# usage: tools/layouts/gen-layouts.sh [output-dir]   (default: share/kvmkit/layouts)
# MKLAYOUT names the mklayout binary (default: build/tools/mklayout).
set -euo pipefail
cd "$(dirname "$0")/../.."
mklayout=${MKLAYOUT:-build/tools/mklayout}
out=${1:-share/kvmkit/layouts}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$out"
for abi in amd64:-m64 i386:-m32; do
  arch=${abi%%:*}
  cflags=${abi#*:}
  gcc "$cflags" -g -ffreestanding -nostdlib -shared -o "$tmp/types-$arch.so" tools/layouts/netbsd10-types.c
  "$mklayout" --dwarf "$tmp/types-$arch.so" --constants tools/layouts/netbsd-10-constants.json \
    --os netbsd --release 10 --arch "$arch" --cflags "$cflags" -o "$out/netbsd-10-$arch.json"
done
