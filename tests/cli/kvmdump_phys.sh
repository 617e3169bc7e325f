#!/usr/bin/env bash
# kvmdump -P (physical addresses) on kdump-compressed files of a synthetic
# machine, checked byte for byte against dd and hexdump -C of a plain image
# of the same memory (kvmsynth --phys-image, offset = physical address): in
# each codec, with the four mixed, as a split set found from its first file
# or named with repeated -M, flattened; pages excluded by the dump level
# named, or read as zeros with --zero-excluded, which says so once.
# amd64 RAM is [0x1000, 0x9f000) [0x100000, 0xe00000) [0x1000000, 0x1400000).
source "$KVMKIT_TESTS/cli/lib.sh"
command -v hexdump >/dev/null || { echo "hexdump is not installed" >&2; exit 77; }
D=$T/d
mkdir -p "$D"

# slice FILE OFFSET LENGTH: those bytes of FILE.
slice() { dd if="$1" bs=64k iflag=skip_bytes,count_bytes skip=$(($2)) count=$(($3)) status=none; }
# synth ARGS...: the synthetic machine's memory as a kdump file, and $D/phys.img.
synth() { "$KVMKIT_BIN/kvmsynth" --kernel "$D/netbsd" --phys-image "$D/phys.img" "$@" || fail "kvmsynth $*"; }
# same BYTES_FILE PA LENGTH: the bytes are the image's at PA.
same() { cmp "$1" <(slice "$D/phys.img" "$2" "$3") || fail "bytes at $2+$3 differ from the image"; }
# hexdump -C of the image from PA, with 16-digit addresses: what kvmdump -P prints.
hexdump_at() {
  slice "$D/phys.img" "$1" "$2" | hexdump -C | while IFS= read -r line; do
    if [[ $line == "*" ]]; then echo "*"; else
      off=${line%%  *}
      off=${off%% *}
      printf '%016x%s\n' $(($1 + 0x$off)) "${line:${#off}}"
    fi
  done
}
# check_dump -M ARGS...: every RAM segment and reads across pages and segment ends.
check_dump() {
  run_tool kvmdump "$@" -P -r -n 0x9e000 0x1000
  expect_rc 0
  same "$T/out" 0x1000 0x9e000
  run_tool kvmdump "$@" -P -r -n 0xd00000 0x100000
  expect_rc 0
  same "$T/out" 0x100000 0xd00000
  run_tool kvmdump "$@" -P -r -n 0x400000 0x1000000
  expect_rc 0
  same "$T/out" 0x1000000 0x400000
  run_tool kvmdump "$@" -P -n 0x1234 0x100f00
  expect_rc 0
  expect_stderr ""
  hexdump_at 0x100f00 0x1234 | expect_stdout -
  # Into the hole after the first segment: what was there, then why not more.
  run_tool kvmdump "$@" -P -r -n 0x200 0x9ef00
  expect_rc 1
  same "$T/out" 0x9ef00 0x100
  expect_stderr "kvmdump: physical address 0x9f000 is not in the dump"
}

for codecs in zlib lzo snappy zstd lzo,snappy,zstd,zlib none; do
  synth --kdump "$D/vmcore" --kdump-codecs "$codecs"
  check_dump -M "$D/vmcore"
done

# A split set of three files, found from any one or named with -M in any
# order; then flattened.
synth --kdump "$D/split" --kdump-split 3 --kdump-codecs zstd,lzo
check_dump -M "$D/split.1"
check_dump -M "$D/split.3"
check_dump -M "$D/split.2" -M "$D/split.3" -M "$D/split.1"
synth --kdump "$D/flat" --kdump-split 3 --kdump-flat
check_dump -M "$D/flat.2"
# The middle file missing: which pfns no file holds.
rm "$D/split.2"
# pfns FILE: the pfns a split file holds (start_pfn_64, end_pfn_64 of its sub-header).
pfns() {
  local start end
  read -r start end < <(od -An -tx8 -j $((4096 + 80)) -N 16 "$1")
  printf '0x%x-0x%x' $((16#$start)) $((16#$end))
}
first=$(pfns "$D/split.1")
third=$(pfns "$D/split.3")
run_tool kvmdump -M "$D/split.1" -P 0x1000
expect_rc 1
expect_stderr "kvmdump: $D/split.1: a split dump (makedumpfile --split) whose files $D/split.1 (pfns $first) leave pfns ${first#*-}-0x1400 out: name every file of the set with -M, or keep them beside it as NAME.1, NAME.2, ..."
run_tool kvmdump -M "$D/split.1" -M "$D/split.3" -P 0x1000
expect_rc 1
expect_stderr "kvmdump: $D/split.1: a split dump (makedumpfile --split) whose files $D/split.1 (pfns $first), $D/split.3 (pfns $third) leave pfns ${first#*-}-${third%-*} out: name every file of the set with -M"
# kvmnm takes the files the same way.
run_tool kvmnm -N "$D/netbsd" -M "$D/flat.1" -M "$D/flat.2" -M "$D/flat.3" main
expect_rc 0
[[ $(cut -d' ' -f2- "$T/out") == "T main" ]] || fail "kvmnm main: $(cat "$T/out")"

# Pages 0x105 and 0x106 excluded at dump level 31.
synth --kdump "$D/excluded" --kdump-exclude 0x105,0x106 --kdump-dump-level 31
level="dump level 31: zero, cache, cache private, user data and free pages"
run_tool kvmdump -M "$D/excluded" -P -r -n 0x3000 0x104000
expect_rc 1
same "$T/out" 0x104000 0x1000
expect_stderr "kvmdump: physical address 0x105000 (pfn 0x105) was excluded from the dump ($level)"
run_tool kvmdump -M "$D/excluded" -P --json -n 8 0x106ff8
expect_rc 1
[[ $(tr -d ' \n' <"$T/out") == '{"expression":"0x106ff8","address":"0x106ff8","length":8,"read":0,"data":"","error":"physicaladdress0x106ff8(pfn0x106)wasexcludedfromthedump(dumplevel31:zero,cache,cacheprivate,userdataandfreepages)"}' ]] ||
  fail "json: $(cat "$T/out")"
# --zero-excluded: zeros, said once however many excluded pages are read.
run_tool kvmdump -M "$D/excluded" -P -r --zero-excluded -n 0x4000 0x104000 0x105800
expect_rc 0
{ slice "$D/phys.img" 0x104000 0x1000; head -c $((0x2000)) /dev/zero; slice "$D/phys.img" 0x107000 0x1000
  head -c $((0x1800)) /dev/zero; slice "$D/phys.img" 0x107000 0x2800; } >"$T/expected"
cmp "$T/out" "$T/expected" || fail "--zero-excluded bytes differ"
expect_stderr "kvmdump: $D/excluded: physical address 0x105000 (pfn 0x105) was excluded from the dump ($level): read as zeros, as is every excluded page (--zero-excluded)"

# Usage: -P takes numbers and needs -M; --zero-excluded needs -M.
run_tool kvmdump -M "$D/vmcore" -P main
expect_rc 2
expect_stderr "kvmdump: main: -P takes physical addresses, and main is a symbol"
run_tool kvmdump -P 0x1000
expect_rc 2
expect_stderr "kvmdump: -P reads the physical memory of a dump named with -M"
run_tool kvmdump --zero-excluded -N "$D/netbsd" main
expect_rc 2
expect_stderr "kvmdump: --zero-excluded applies to a dump named with -M"
