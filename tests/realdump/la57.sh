#!/usr/bin/env bash
# The real-dump tests once more, on a vmcore of a guest that ran with 5-level
# paging (REALDUMP_LA57_DIR, made by scripts/test.sh with
# REALDUMP_CPU=max,la57=on): the same truth checks, through five levels.
# Usage: la57.sh UNIT_TEST_BINARY CLI_SCRIPT...  (kvmps_linux.sh, kvmdmesg_linux.sh)
set -euo pipefail
unit_tests=$1
shift
if [[ -z ${REALDUMP_LA57_DIR:-} ]]; then
  echo "REALDUMP_LA57_DIR is not set: 5-level real-dump test not run (scripts/test.sh sets it)" >&2
  exit 77
fi
grep -qx 'NUMBER(pgtable_l5_enabled)=1' "$REALDUMP_LA57_DIR/truth/vmcoreinfo.txt" || {
  echo "$REALDUMP_LA57_DIR: the guest did not run with 5-level paging (no NUMBER(pgtable_l5_enabled)=1)" >&2
  exit 1
}
export REALDUMP_DIR=$REALDUMP_LA57_DIR
out=$("$unit_tests" --test-case='real dump*' 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -3
# Every real-dump case ran (none skipped for a missing directory) and passed.
echo "$out" | grep -Eq 'test cases: +[1-9][0-9]* \| +[1-9][0-9]* passed \| +0 failed' || exit 1
if echo "$out" | grep -q 'is not set'; then exit 1; fi
for script in "$@"; do
  bash "$script"
done
