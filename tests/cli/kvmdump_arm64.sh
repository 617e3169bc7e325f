#!/usr/bin/env bash
# kvmdump on Linux arm64 dumps: the QEMU ELF and kdump-compressed seeds of
# tests/fuzz/corpus/dump (make_seeds writes "Linux version 6.1.0-seed N" in
# the Nth page of a kernel image at 0xffff80000b000000, mapped through
# swapper_pg_dir's 4 KiB, 48-bit tables), read through the page tables;
# an unmapped page and a user address end with the translator's message.
source "$KVMKIT_TESTS/cli/lib.sh"
C=$KVMKIT_TESTS/fuzz/corpus/dump

for core in linux-arm64-elf linux-arm64-kdump; do
  for n in 0 1 2 3; do
    run_tool kvmdump -M "$C/$core" -n 26 -r "0xffff80000b00${n}000"
    expect_rc 0
    expect_stderr ""
    printf 'Linux version 6.1.0-seed %s' "$n" | expect_stdout -
  done
  run_tool kvmdump -M "$C/$core" -n 16 0xffff80000b000ff8
  expect_rc 0
  expect_stdout - <<'OUT'
ffff80000b000ff8  00 00 00 00 00 00 00 00  4c 69 6e 75 78 20 76 65  |........Linux ve|
ffff80000b001008
OUT
  run_tool kvmdump -M "$C/$core" -n 16 0xffff80000b004000
  expect_rc 1
  [[ $(cat "$T/err") =~ ^"kvmdump: 0xffff80000b004000: level 3 entry 0x0 (index 4 of the table at pa 0x"[0-9a-f]+") is not valid"$ ]] ||
    fail "$core: unmapped page: $(cat "$T/err")"
  run_tool kvmdump -M "$C/$core" -n 16 0x1000
  expect_rc 1
  expect_stderr "kvmdump: 0x1000: not in the kernel half of a 48-bit address space (bits 63..48 are not all ones)"
done
