#!/usr/bin/env bash
# Builds kvmkit and runs every test: the normal build (warnings are errors),
# then again under AddressSanitizer and UndefinedBehaviorSanitizer.
#
# The real-dump tests read a real Linux vmcore made by
# tests/realdump/make-linux-vmcore.sh (it boots Debian's cloud kernel under
# QEMU and installs what it needs with apt-get, so it runs as root or through
# sudo).  It is kept in build/realdump (or $REALDUMP_DIR) and made again only
# when a product is missing or fails its checksum.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

realdump=${REALDUMP_DIR:-$PWD/build/realdump}
realdump_ok() {
  local f
  for f in vmcore.elf vmcore.kdump vmcore.kdump-flat System.map SHA256SUMS truth/vmcoreinfo.txt truth/version.txt \
           truth/kallsyms.txt truth/kallsyms.full.txt truth/btf.vmlinux truth/iomem.txt truth/cpus.txt; do
    [[ -s $realdump/$f ]] || return 1
  done
  (cd "$realdump" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1)
}
if ! realdump_ok; then
  echo "test.sh: making a real Linux vmcore in $realdump (about a minute)" >&2
  mkdir -p "$realdump"
  "${sudo_cmd[@]}" tests/realdump/make-linux-vmcore.sh "$realdump" >"$realdump.log" 2>&1 || {
    tail -30 "$realdump.log" >&2
    echo "test.sh: make-linux-vmcore.sh failed (log: $realdump.log)" >&2
    exit 1
  }
fi
export REALDUMP_DIR=$realdump

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKVMKIT_SANITIZE=ON -DKVMKIT_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
echo "test.sh: all tests passed (normal and ASan+UBSan builds, real dumps in $realdump)"
