#!/usr/bin/env bash
# The shipped layout files are what tools/layouts/gen-layouts.sh makes from
# their sources: regenerating them changes nothing.
source "$(dirname "$0")/lib.sh"
root=$KVMKIT_TESTS/..
command -v gcc >/dev/null || { echo "no gcc" >&2; exit 77; }
MKLAYOUT=$KVMKIT_BIN/mklayout "$root/tools/layouts/gen-layouts.sh" "$T/layouts" || fail "gen-layouts.sh"
for f in "$root"/share/kvmkit/layouts/*.json; do
  diff -u "$f" "$T/layouts/$(basename "$f")" >&2 || fail "$(basename "$f") differs from its sources"
done
