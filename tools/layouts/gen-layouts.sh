#!/usr/bin/env bash
# Regenerates the shipped layout files from their sources:
#   <system>-types.c           the structures, declared as the release's headers declare them
#   <os>-<release>-constants.json  flag bits, values and device names, with their sources
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
# os release arch cflags declarations
while read -r os release arch cflags types; do
  gcc "$cflags" -g -ffreestanding -nostdlib -shared -o "$tmp/$os-$release-$arch.so" "tools/layouts/$types"
  "$mklayout" --dwarf "$tmp/$os-$release-$arch.so" --constants "tools/layouts/$os-$release-constants.json" \
    --os "$os" --release "$release" --arch "$arch" --cflags "$cflags" -o "$out/$os-$release-$arch.json"
done <<'LIST'
netbsd 10 amd64 -m64 netbsd10-types.c
netbsd 10 i386 -m32 netbsd10-types.c
dragonfly 5 amd64 -m64 dragonfly5-types.c
dragonfly 1 i386 -m32 dragonfly1-types.c
freebsd 14 amd64 -m64 freebsd14-types.c
LIST
