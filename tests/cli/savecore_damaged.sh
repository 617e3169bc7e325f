#!/usr/bin/env bash
# Damaged, truncated and foreign dump headers are refused with the check
# that failed, and the device is not written.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

mkdump "$T/m" --crash-time "$(date +%s)"
kernel=$T/m/netbsd
dumplo=$(fact dumplo)
header=$((dumplo * 512))
hex() { printf '%#x' "$1"; }

# try NAME: saves $T/NAME.img (a damaged copy of the swap image); expects
# exit 1, stderr as given, no file written and the image unchanged.
try() {
  local img=$T/$1.img expected=$2
  cp "$img" "$T/before.img"
  rm -rf "$T/crash" && mkdir "$T/crash"
  run_tool savecore -N "$kernel" "$T/crash" "$img"
  expect_rc 1
  expect_stderr "$expected
savecore: $img: dump refused; nothing was saved or cleared"
  [[ -z $(ls "$T/crash") ]] || fail "$1: files written: $(ls "$T/crash")"
  cmp -s "$T/before.img" "$img" || fail "$1: the device was written"
  # Named by --dumplo, the same check fails.
  run_tool savecore -N "$kernel" --dumplo "$dumplo" "$T/crash" "$img"
  expect_rc 1
  grep -qxF -- "$expected" "$T/err" || fail "$1 with --dumplo: $(cat "$T/err")"
}

# A device that ends before the dump does.
cp "$T/m/swap.img" "$T/short.img"
truncate -s -1M "$T/short.img"
size=$(stat -c %s "$T/short.img")
try short "savecore: $T/short.img: truncated: the dump at offset $(hex $header) holds 0x119e000 bytes of memory from offset $(hex $((header + 512))) (to $(hex $((header + 512 + 0x119e000)))), but the file ends at $(hex "$size")"

# A machine kvmkit does not read (MID 156, sparc64).
cp "$T/m/swap.img" "$T/sparc64.img"
printf '\x9c' | dd of="$T/sparc64.img" bs=1 seek=$((header + 1)) conv=notrunc status=none
try sparc64 "savecore: $T/sparc64.img: dump header at offset $(hex $header) is for machine id 156 (not a machine kvmkit reads)"

# A cpu header whose RAM table cannot fit (1000 segments).
cp "$T/m/swap.img" "$T/table.img"
printf '\xe8\x03\x00\x00\x00\x00\x00\x00' | dd of="$T/table.img" bs=1 seek=$((header + 16)) conv=notrunc status=none
try table "savecore: $T/table.img: dump header at offset $(hex $header): memory segment table of 1000 entries (0x3e80 bytes at offset 0x10) does not fit in the 0x1f8-byte cpu segment"

# A RAM segment that is not page-aligned.
cp "$T/m/swap.img" "$T/unaligned.img"
printf '\x10' | dd of="$T/unaligned.img" bs=1 seek=$((header + 24)) conv=notrunc status=none
try unaligned "savecore: $T/unaligned.img: dump header at offset $(hex $header): memory segment 0 (pa 0x1010, size 0x9e000) is not page-aligned"

# A damaged magic is no header at all: no core dump.
cp "$T/m/swap.img" "$T/magic.img"
printf '\xcb' | dd of="$T/magic.img" bs=1 seek=$((header + 3)) conv=notrunc status=none
cp "$T/magic.img" "$T/before.img"
run_tool savecore -N "$kernel" "$T/crash" "$T/magic.img"
expect_rc 1
expect_stderr "savecore: $T/magic.img: no core dump"
run_tool savecore -v -N "$kernel" --dumplo "$dumplo" "$T/crash" "$T/magic.img"
expect_rc 1
expect_stderr "savecore: checking for a dump on $T/magic.img
savecore: $T/magic.img: no dump header at offset $(hex $header) (found magic 0x8fcb flag 1)
savecore: $T/magic.img: no core dump"
cmp -s "$T/before.img" "$T/magic.img" || fail "magic: the device was written"
