#!/usr/bin/env bash
# Compressed cores opened in place: a synthetic NetBSD crash with processes
# saved by savecore -z (gzip members) and --zstd (zstd seekable), the same
# core made by gzip -1 (a checkpoint index, kept beside it) and by zstd
# (one stream: a temporary file); kvmps, kvmnm and kvmdump print exactly
# what they print for the uncompressed core.  Then damaged files.
source "$KVMKIT_TESTS/cli/lib.sh"
for tool in gzip zstd od; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 77; }
done
export TZ=UTC
export TMPDIR=$T/tmp
mkdir "$TMPDIR"

mkdump "$T/m" --procs --crash-time "$(date +%s)"
k=$T/m/netbsd
core=$T/m/netbsd.core

# What every tool prints for the uncompressed core.
dumpmag=$(fact sym.dumpmag)
version=$(fact sym.version)
queries=(_dumpmag version allproc main)
run_tool kvmps -N "$k" -M "$core"
expect_rc 0
cp "$T/out" "$T/ps"
run_tool kvmps -N "$k" -M "$core" -H --json
expect_rc 0
cp "$T/out" "$T/ps.json"
run_tool kvmnm -N "$k" -M "$core" "${queries[@]}"
expect_rc 0
cp "$T/out" "$T/nm"
run_tool kvmdump -N "$k" -M "$core" version "$dumpmag" allproc
expect_rc 0
cp "$T/out" "$T/dump"
# 4 MiB of the direct map (RAM from 0x1000000), raw.
run_tool kvmdump -N "$k" -M "$core" -r -n 4m 0xffff800001000000
expect_rc 0
cp "$T/out" "$T/dump.raw"
[[ $(stat -c %s "$T/dump.raw") == 4194304 ]] || fail "the raw dump is not 4 MiB"

# same_output CORE [STDERR]: every tool prints what it printed for the
# uncompressed core, and exactly STDERR (empty by default) on stderr.
same_output() {
  local c=$1 err=${2:-}
  run_tool kvmps -N "$k" -M "$c"
  expect_rc 0
  expect_stdout "$T/ps"
  expect_stderr "${err/TOOL/kvmps}"
  err=${3-$err} # after the first run, what a tool says from then on
  run_tool kvmps -N "$k" -M "$c" -H --json
  expect_rc 0
  expect_stdout "$T/ps.json"
  expect_stderr "${err/TOOL/kvmps}"
  run_tool kvmnm -N "$k" -M "$c" "${queries[@]}"
  expect_rc 0
  expect_stdout "$T/nm"
  expect_stderr "${err/TOOL/kvmnm}"
  run_tool kvmdump -N "$k" -M "$c" version "$dumpmag" allproc
  expect_rc 0
  expect_stdout "$T/dump"
  expect_stderr "${err/TOOL/kvmdump}"
  run_tool kvmdump -N "$k" -M "$c" -r -n 4m 0xffff800001000000
  expect_rc 0
  expect_stdout "$T/dump.raw"
  expect_stderr "${err/TOOL/kvmdump}"
}

# savecore -z: gzip members, gzip -t passes, read in place.
cp "$T/m/swap.img" "$T/swap.img"
mkdir "$T/gz"
run_tool savecore -z -N "$k" "$T/gz" "$T/swap.img"
expect_rc 0
gz=$T/gz/netbsd.0.core.gz
gzip -t "$gz" || fail "gzip -t $gz"
zcat "$gz" | cmp - "$core" || fail "$gz does not inflate to the core"
same_output "$gz"
[[ ! -e $gz.gzidx ]] || fail "a member-indexed file got a checkpoint index"

# savecore --zstd: frames and a seek table, zstd -t passes, read in place.
cp "$T/m/swap.img" "$T/swap.img"
mkdir "$T/zst"
run_tool savecore --zstd -N "$k" "$T/zst" "$T/swap.img"
expect_rc 0
zs=$T/zst/netbsd.0.core.zst
zstd -q -t "$zs" || fail "zstd -t $zs"
zstd -q -d -c "$zs" | cmp - "$core" || fail "$zs does not decompress to the core"
same_output "$zs"
run_tool savecore --zstd -Z 0 -N "$k" "$T/zst" "$T/swap.img"
expect_rc 1
[[ $(head -1 "$T/err") == "savecore: Invalid compression \`0'" ]] || fail "--zstd -Z 0: $(cat "$T/err")"

# gzip -1 of the core: a checkpoint index, built on first use and saved
# beside it; then read from there.
gzip -1 -c "$core" >"$T/plain.gz"
same_output "$T/plain.gz"
[[ -s $T/plain.gz.gzidx ]] || fail "no checkpoint index beside plain.gz"
cp "$T/plain.gz.gzidx" "$T/saved.gzidx"
same_output "$T/plain.gz"
cmp "$T/plain.gz.gzidx" "$T/saved.gzidx" || fail "the saved index was rebuilt"
# A damaged index is said once and rebuilt.
printf 'XX' | dd of="$T/plain.gz.gzidx" bs=1 seek=0 conv=notrunc status=none
same_output "$T/plain.gz" \
  "TOOL: $T/plain.gz.gzidx: not a kvmkit gzip index (no KVMGZIDX magic); the index is ignored and rebuilt" ""
cmp "$T/plain.gz.gzidx" "$T/saved.gzidx" || fail "the rebuilt index differs"

# One zstd stream (as FreeBSD's kernel writes): decompressed into a
# temporary file, and said.
zstd -q -3 -c "$core" >"$T/vmcore.0.zst"
mib=$(awk -v n="$(stat -c %s "$core")" 'BEGIN { printf "%.1f MiB", n / 1048576 }')
same_output "$T/vmcore.0.zst" \
  "TOOL: $T/vmcore.0.zst: a zstd stream without a seek table: decompressed $mib into a temporary file in $TMPDIR"
[[ -z $(ls -A "$TMPDIR") ]] || fail "temporary files left: $(ls -A "$TMPDIR")"

# Damage: a member whose header puts its data in the wrong place.
cp "$gz" "$T/bad.gz"
first=$(od -An -tu4 -j16 -N4 "$T/bad.gz" | tr -d ' ')
printf '\001' | dd of="$T/bad.gz" bs=1 seek=$((first + 24)) conv=notrunc status=none
run_tool kvmps -N "$k" -M "$T/bad.gz"
expect_rc 1
expect_stderr "kvmps: $T/bad.gz: member 1 at offset $(printf '%#x' "$first"): its header puts its data at uncompressed offset 0x100001, but the members before it hold 0x100000 bytes"
# Cut short inside member 1: said, and then the kcore reader finds the
# memory it lists missing (an amd64 kcore's memory starts at 536).
size=$(stat -c %s "$core")
head -c $((first + 5000)) "$gz" >"$T/cut.gz"
second=$(od -An -tu4 -j$((first + 16)) -N4 "$T/cut.gz" | tr -d ' ')
run_tool kvmdump -N "$k" -M "$T/cut.gz" version
expect_rc 1
diff -u - "$T/err" <<END || fail "stderr for cut.gz"
kvmdump: $T/cut.gz: member 1 at offset $(printf '%#x' "$first") needs $second bytes, but the file ends at $(printf '%#x' $((first + 5000))): the data from uncompressed offset 0x100000 on is missing (the file was cut short?)
kvmdump: $T/cut.gz: truncated: the kcore file holds $(printf '%#x' $((size - 536))) bytes of memory from offset 0x218 (to $(printf '%#x' "$size")), but the file ends at 0x100000
END
echo ok
