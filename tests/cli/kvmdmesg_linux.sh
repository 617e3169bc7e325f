#!/usr/bin/env bash
# kvmdmesg on a real Linux vmcore (REALDUMP_DIR, made by
# tests/realdump/make-linux-vmcore.sh; scripts/test.sh always sets it): the
# ELF, kdump and flattened files print the guest's own dmesg
# (truth/dmesg.txt: busybox dmesg, the kernel's syslog format without the
# <N> tags).  The guest ran dmesg a moment before the dump, so the dump's
# log may have grown since: truth is a prefix of the output, ending at a
# line.  -r, -t and --json show the same records.
source "$(dirname "$0")/lib.sh"
if [[ -z ${REALDUMP_DIR:-} ]]; then
  echo "REALDUMP_DIR is not set: real-dump test not run (scripts/test.sh sets it)" >&2
  exit 77
fi
D=$REALDUMP_DIR
truth=$D/truth/dmesg.txt
size=$(wc -c <"$truth")
(($(wc -l <"$truth") >= 100)) || fail "truth/dmesg.txt has only $(wc -l <"$truth") lines"

for core in vmcore.elf vmcore.kdump vmcore.kdump-flat; do
  run_tool kvmdmesg -M "$D/$core"
  expect_rc 0
  expect_stderr ""
  head -c "$size" "$T/out" | cmp -s - "$truth" || {
    diff -u "$truth" <(head -c "$size" "$T/out") | head -20 >&2
    fail "$core: the log differs from truth/dmesg.txt"
  }
  cp "$T/out" "$T/$core.txt"
done
# The formats agree byte for byte, and with a namelist too.
cmp -s "$T/vmcore.elf.txt" "$T/vmcore.kdump.txt" || fail "ELF and kdump logs differ"
cmp -s "$T/vmcore.elf.txt" "$T/vmcore.kdump-flat.txt" || fail "ELF and flattened logs differ"
run_tool kvmdmesg -N "$D/System.map" -M "$D/vmcore.kdump"
expect_rc 0
expect_stdout "$T/vmcore.elf.txt"

# -r: the same lines, each after its <N>; the banner is KERN_NOTICE.
run_tool kvmdmesg -r -M "$D/vmcore.kdump"
expect_rc 0
sed -E 's/^<[0-9]+>//' "$T/out" | diff -u "$T/vmcore.elf.txt" - >&2 || fail "-r differs beyond its tags"
[[ $(head -n1 "$T/out") == "<5>$(head -n1 "$truth")" ]] || fail "-r: first line [$(head -n1 "$T/out")]"
# -t: without the timestamps.
run_tool kvmdmesg -t -M "$D/vmcore.kdump"
expect_rc 0
sed -E 's/^\[ *[0-9]+\.[0-9]{6}\] //' "$T/vmcore.elf.txt" | diff -u - "$T/out" >&2 || fail "-t differs"
# --json: one object per record, sequence numbers from 0; its texts are the
# lines of the log (a multi-line record is one object).
run_tool kvmdmesg --json -M "$D/vmcore.kdump"
expect_rc 0
[[ $(head -n1 "$T/out") == '{"sequence":0,"time_usec":0,"level":5,"facility":0,"caller":"T0","text":"'"$(cut -c16- <<<"$(head -n1 "$truth")")"'"}' ]] ||
  fail "--json: first record [$(head -n1 "$T/out")]"
last=$(($(wc -l <"$T/out") - 1))
[[ $(tail -n1 "$T/out") == '{"sequence":'"$last"',"time_usec":'* ]] || fail "--json: last record [$(tail -n1 "$T/out")]"
