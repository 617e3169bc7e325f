#!/usr/bin/env bash
# Builds kvmkit and runs every test twice: in the normal build (g++,
# warnings are errors), then in one clang build with AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage (build-fuzz), from
# which every fuzz target then runs for FUZZ_SECONDS (default 30), two at a
# time on two CPUs, after replaying its seeds (scripts/fuzz.sh; a crash
# fails the run and leaves its reproducer in build-fuzz/fuzz/<target>/).
#
# The real-dump tests read a real Linux vmcore made by
# tests/realdump/make-linux-vmcore.sh (it boots Debian's cloud kernel under
# QEMU and installs what it needs with apt-get, so it runs as root or through
# sudo).  It is kept in build/realdump (or $REALDUMP_DIR) and made again only
# when a product is missing or fails its checksum; a second one, of a guest
# with 5-level paging, in build/realdump-la57 (or $REALDUMP_LA57_DIR), and
# one each of an arm64 and an i386 guest (Debian's arm64 cloud and 686-pae
# kernels under qemu-system-aarch64 and qemu-system-i386) in
# build/realdump-arm64 and build/realdump-i386 (or $REALDUMP_ARM64_DIR,
# $REALDUMP_I386_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

realdump=${REALDUMP_DIR:-$PWD/build/realdump}
realdump_la57=${REALDUMP_LA57_DIR:-$PWD/build/realdump-la57}
realdump_arm64=${REALDUMP_ARM64_DIR:-$PWD/build/realdump-arm64}
realdump_i386=${REALDUMP_I386_DIR:-$PWD/build/realdump-i386}
realdump_ok() {
  local dir=$1 f
  for f in vmcore.elf vmcore.kdump vmcore.kdump-flat System.map SHA256SUMS truth/vmcoreinfo.txt truth/version.txt \
           truth/kallsyms.txt truth/kallsyms.full.txt truth/btf.txt truth/iomem.txt truth/cpus.txt truth/sessions.txt; do
    [[ -s $dir/$f ]] || return 1
  done
  # 686-pae has no BTF: its DWARF (vmlinux) instead
  if grep -qx absent "$dir/truth/btf.txt"; then [[ -s $dir/vmlinux ]] || return 1; else [[ -s $dir/truth/btf.vmlinux ]] || return 1; fi
  (cd "$dir" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1)
}
# make_realdump DIR FILE LINE [VAR=VALUE...]: the dump in DIR, whose FILE
# holds LINE (the guest's paging, its arch), made again when needed.
make_realdump() {
  local dir=$1 file=$2 line=$3
  shift 3
  realdump_ok "$dir" && grep -qx "$line" "$dir/$file" && return 0
  echo "test.sh: making a real Linux vmcore in $dir (one to three minutes)" >&2
  mkdir -p "$dir"
  "${sudo_cmd[@]}" env "$@" tests/realdump/make-linux-vmcore.sh "$dir" >"$dir.log" 2>&1 || {
    tail -30 "$dir.log" >&2
    echo "test.sh: make-linux-vmcore.sh failed (log: $dir.log)" >&2
    exit 1
  }
}
make_realdump "$realdump" truth/vmcoreinfo.txt "NUMBER(pgtable_l5_enabled)=0"
# The same tests once more on a guest that ran with 5-level paging (LA57),
# and on an arm64 and an i386 guest.
make_realdump "$realdump_la57" truth/vmcoreinfo.txt "NUMBER(pgtable_l5_enabled)=1" REALDUMP_CPU=max,la57=on
make_realdump "$realdump_arm64" manifest.txt arch=arm64 REALDUMP_ARCH=arm64
make_realdump "$realdump_i386" manifest.txt arch=i386 REALDUMP_ARCH=i386
export REALDUMP_DIR=$realdump REALDUMP_LA57_DIR=$realdump_la57 REALDUMP_ARM64_DIR=$realdump_arm64 \
  REALDUMP_I386_DIR=$realdump_i386

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

# One build for the sanitizers and the fuzzers, so that CI pays for two
# builds, not three.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVMKIT_SANITIZE=ON \
  -DKVMKIT_FUZZ=ON -DKVMKIT_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz
# Under the sanitizers, all but six tests that only cost time there:
# savecore_kill times signals against a compressor, the LA57, arm64 and
# i386 dumps and kvmps_linux repeat, on more real-dump bytes, what other
# tests run, and
# deb packs the install tree with cpack.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-fuzz --output-on-failure -j "$jobs" -E '^(cli\.savecore_kill|realdump\.(la57|arm64|i386)|cli\.kvmps_linux|cli\.deb)$'
FUZZ_BUILD=build-fuzz FUZZ_JOBS=$jobs scripts/fuzz.sh all "${FUZZ_SECONDS:-30}"
echo "test.sh: all tests passed (g++ and clang ASan+UBSan builds, real dumps in $realdump, $realdump_la57," \
  "$realdump_arm64 and $realdump_i386)," \
  "every fuzz target ran ${FUZZ_SECONDS:-30} s without a crash"
