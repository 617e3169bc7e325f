#!/usr/bin/env bash
# The real-dump tests once more, on the vmcore of an arm64 or i386 guest
# (REALDUMP_ARM64_DIR or REALDUMP_I386_DIR, made by scripts/test.sh with
# REALDUMP_ARCH): the same truth checks, through that arch's page tables,
# notes and namelist.  The cases that only an amd64 guest has the facts for
# (phys_base, the kernel-image window) say so and check what the arch has.
# Usage: other-arch.sh ARCH UNIT_TEST_BINARY CLI_SCRIPT...
set -euo pipefail
arch=$1
unit_tests=$2
shift 2
var=REALDUMP_${arch^^}_DIR
dir=${!var:-}
if [[ -z $dir ]]; then
  echo "$var is not set: $arch real-dump test not run (scripts/test.sh sets it)" >&2
  exit 77
fi
grep -qx "arch=$arch" "$dir/manifest.txt" || {
  echo "$dir: not the dump of an $arch guest (manifest.txt has no arch=$arch)" >&2
  exit 1
}
export REALDUMP_DIR=$dir
out=$("$unit_tests" --test-case='real dump*' 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -3
# Every real-dump case ran (none skipped for a missing directory) and passed.
echo "$out" | grep -Eq 'test cases: +[1-9][0-9]* \| +[1-9][0-9]* passed \| +0 failed' || exit 1
if echo "$out" | grep -q 'is not set'; then exit 1; fi
for script in "$@"; do
  bash "$script"
done
