#!/usr/bin/env bash
# What kvmps, kvmnm and kvmdump say about a dump they cannot read is what
# the other tools say about it: a kcore cut short, a kernel of another
# machine than the dump's, a swap image cut short (savecore's words).
source "$(dirname "$0")/lib.sh"
mkdump "$T/d" --procs
d=$T/d
"$KVMKIT_BIN/kvmsynth" --arch i386 --kernel "$T/k386" >/dev/null || fail "kvmsynth i386"
size=$(stat -c %s "$d/netbsd.core")
head -c $((size / 2)) "$d/netbsd.core" >"$T/cut.core"

# A kcore cut short: kvmdump names it, and so does kvmps when what it needs
# is past the end.
run_tool kvmdump -N "$d/netbsd" -M "$T/cut.core" panicstr
expect_rc 1
grep -q "^kvmdump: $T/cut.core: truncated: the kcore file holds 0x[0-9a-f]* bytes of memory from offset 0x[0-9a-f]* (to 0x[0-9a-f]*), but the file ends at $(printf '%#x' $((size / 2)))\$" "$T/err" ||
  fail "kvmdump: $(cat "$T/err")"
said=$(sed 's/^kvmdump: //' "$T/err")
run_tool kvmps -N "$d/netbsd" -M "$T/cut.core"
expect_rc 1
expect_stdout </dev/null
expect_stderr "kvmps: $said"

# A kernel of another machine.
for tool in kvmps kvmnm kvmdump; do
  run_tool $tool -N "$T/k386" -M "$d/netbsd.core" main
  [[ $tool == kvmps ]] && run_tool $tool -N "$T/k386" -M "$d/netbsd.core"
  expect_rc 1
  expect_stderr "$tool: $T/k386: an i386 kernel, but $d/netbsd.core is a dump of an amd64 machine: give the kernel that crashed"
done

# A swap image cut short: savecore's words, from every tool.
head -c $(($(stat -c %s "$d/swap.img") - 4096)) "$d/swap.img" >"$T/cut.swap"
mkdir "$T/crash"
run_tool savecore -N "$d/netbsd" "$T/crash" "$T/cut.swap"
expect_rc 1
said=$(head -n 1 "$T/err" | sed 's/^savecore: //')
[[ $said == "$T/cut.swap: truncated: the dump at offset "* ]] || fail "savecore: $(cat "$T/err")"
for tool in kvmps kvmnm kvmdump; do
  run_tool $tool -N "$d/netbsd" -M "$T/cut.swap" main
  [[ $tool == kvmps ]] && run_tool $tool -N "$d/netbsd" -M "$T/cut.swap"
  expect_rc 1
  expect_stderr "$tool: $said"
done
