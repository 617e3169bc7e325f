#!/usr/bin/env bash
# The main job on a built-in example: a synthetic NetBSD/amd64 machine
# crashes and dumps to the end of its swap partition (an image file here);
# savecore saves the dump as a core file, as rc scripts do at boot; then
# kvmps, kvmnm and kvmdump look at the saved core.  When a real Linux vmcore
# made by tests/realdump/make-linux-vmcore.sh is at hand ($REALDUMP_DIR, else
# /tmp/realdump), the tools read it too; otherwise the demo says how to
# make one.
#
# It builds only the tools it runs (a Release build without the tests, in
# build-demo/, or $DEMO_BUILD), with the build's progress on the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bold commands on a terminal only: no escape codes in a file or a pipe.
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

build=${DEMO_BUILD:-build-demo}
realdump=${REALDUMP_DIR:-/tmp/realdump}
tools=(kvmsynth savecore kvmps kvmnm kvmdump)
[[ -f $realdump/vmcore.kdump && -f $realdump/System.map ]] && tools+=(kvmdmesg)

echo "== building ${tools[*]} in $build"
scripts/setup-deps.sh --build
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVMKIT_BUILD_TESTS=OFF -DKVMKIT_BUILD_BENCH=OFF \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" --target "${tools[@]}"

bin=$build/tools
demo=$build/demo
rm -rf "$demo"
mkdir -p "$demo/crash"

echo
echo "== a crashed machine: kernel $demo/netbsd, swap partition $demo/swap.img"
"$bin/kvmsynth" --kernel "$demo/netbsd" --swap "$demo/swap.img" --procs --crash-time "$(date +%s)"

step "$bin/savecore" -v -N "$demo/netbsd" "$demo/crash" "$demo/swap.img"
step ls -l "$demo/crash"
step "$bin/savecore" -n -N "$demo/netbsd" "$demo/swap.img" || echo "(exit $?: the dump was cleared after saving)"
step "$bin/kvmps" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core"
step "$bin/kvmps" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core" -j -t pts/0
step "$bin/kvmnm" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core" _dumpmag panic 0xffffffff80200123 'dump*'
step "$bin/kvmdump" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core" version
step "$bin/kvmdump" -N "$demo/netbsd" -M "$demo/crash/netbsd.0.core" -s '*panicstr'

echo
if [[ " ${tools[*]} " == *" kvmdmesg "* ]]; then
  echo "== a real Linux dump: $realdump"
  step "$bin/kvmps" -N "$realdump/System.map" -M "$realdump/vmcore.kdump" -o pid,ppid,stat,comm -p 1,2
  step "$bin/kvmnm" -N "$realdump/System.map" -M "$realdump/vmcore.kdump" init_task linux_banner
  step "$bin/kvmdump" -N "$realdump/System.map" -M "$realdump/vmcore.kdump" -s linux_banner
  printf '\n%s$ %s%s\n' "$bold" "$bin/kvmdmesg -M $realdump/vmcore.kdump | tail -n 5" "$plain"
  "$bin/kvmdmesg" -M "$realdump/vmcore.kdump" | tail -n 5
else
  echo "== no real Linux dump in $realdump; to make one (QEMU boots Debian's kernel and dumps it,"
  echo "   a few minutes and about 1 GiB), then run the demo again:"
  echo "   sudo tests/realdump/make-linux-vmcore.sh $realdump"
fi
