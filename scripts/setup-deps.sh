#!/usr/bin/env bash
# Installs what kvmkit needs to build, test and benchmark on Debian 12, using
# apt-get only for packages that are missing.
set -euo pipefail

# --build: only what building the tools needs (the demo), not the tests,
# benchmarks, sanitizers and fuzzers.
build_packages=(g++ cmake ninja-build pkg-config libcli11-dev libfmt-dev zlib1g-dev nlohmann-json3-dev libdw-dev libbpf-dev
                liblzo2-dev libsnappy-dev libzstd-dev libdeflate-dev libisal-dev)
packages=(g++ cmake ninja-build pkg-config libcli11-dev libfmt-dev zlib1g-dev doctest-dev nlohmann-json3-dev mandoc pigz
          e2fsprogs util-linux xxd bsdextrautils binutils libdw-dev libbpf-dev zstd python3 time
          liblzo2-dev libsnappy-dev libzstd-dev libdeflate-dev libisal-dev  # kdump pages in lzo, snappy and zstd; FreeBSD's zstd dumps; compressed cores
          procps manpages-dev  # the pages the man pages' .Xr name: ps(1), vfork(2)
          clang libclang-rt-14-dev llvm)  # the sanitized build and libFuzzer; llvm-symbolizer for their reports
[[ ${1:-} == --build ]] && packages=("${build_packages[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
