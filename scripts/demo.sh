#!/usr/bin/env bash
# The main job on a built-in example: a synthetic NetBSD/amd64 machine
# crashes and dumps to the end of its swap partition (an image file here);
# savecore saves the dump as a core file, as rc scripts do at boot; then
# kvmps, kvmnm and kvmdump look at the saved core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null

bin=build/tools
demo=build/demo
rm -rf "$demo"
mkdir -p "$demo/crash"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== a crashed machine: kernel $demo/netbsd, swap partition $demo/swap.img"
"$bin/kvmsynth" --kernel "$demo/netbsd" --swap "$demo/swap.img" --procs --crash-time "$(date +%s)"

step "$bin/savecore" -v -N "$demo/netbsd" "$demo/crash" "$demo/swap.img"
step ls -l "$demo/crash"
step "$bin/savecore" -n -N "$demo/netbsd" "$demo/swap.img" || echo "(exit $?: the dump was cleared after saving)"
step "$bin/kvmps" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core"
step "$bin/kvmnm" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core" _dumpmag panic 0xffffffff80200123
step "$bin/kvmdump" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core" version
