#!/usr/bin/env bash
# kvmdump's crash habits: -1 -2 -4 -8 words in the dumped machine's byte
# order (od, on this little-endian host, reads the same bytes the same way),
# -S words that point into symbols, '*' following a pointer, -s strings.
source "$(dirname "$0")/lib.sh"
command -v od >/dev/null || { echo "no od" >&2; exit 77; }

for arch in amd64 i386; do
  d=$T/$arch
  mkdump "$d" --arch $arch --procs
  k=$d/netbsd core=$d/netbsd.core
  w=$([[ $arch == amd64 ]] && echo 16 || echo 8)
  dumpmag=$(fact sym.dumpmag)

  # Each width: the address, then the words od reads from the raw bytes.
  run_tool kvmdump -N "$k" -M "$core" -r -n 40 dumpmag
  cp "$T/out" "$T/raw"
  for size in 1 2 4 8; do
    od -A x -t x$size -v -w16 "$T/raw" | sed '$d' | while read -r off words; do
      printf '%0*x:  %s\n' "$w" $((dumpmag + 0x$off)) "$words"
    done >"$T/want"
    run_tool kvmdump -N "$k" -M "$core" -$size -n 40 dumpmag
    expect_rc 0
    expect_stderr ""
    expect_stdout "$T/want"
  done
  # A length that is not whole words is a usage error; the default length
  # (the symbol's size) is cut to whole words.
  run_tool kvmdump -N "$k" -M "$core" -8 -n 12 dumpmag
  expect_rc 2
  expect_stderr "kvmdump: -n 12: not a whole number of 8-byte words"
  run_tool kvmdump -N "$k" -M "$core" -8 dumpmag
  expect_rc 0
  printf '%0*x:  %016x\n' "$w" "$dumpmag" $((0x8fca0101)) | expect_stdout

  # '*': the string panicstr points to, and its first words.
  panic='kernel diagnostic assertion "l->l_stat == LSONPROC" failed: file "/usr/src/sys/kern/kern_synch.c", line 735'
  run_tool kvmdump -N "$k" -M "$core" -s '*panicstr' '*_panicstr'
  expect_rc 0
  printf '%s\n%s\n' "$panic" "$panic" | expect_stdout
  run_tool kvmdump -N "$k" -M "$core" -r -n 8 '*panicstr'
  expect_rc 0
  [[ $(cat "$T/out") == "${panic:0:8}" ]] || fail "*panicstr -r: $(cat "$T/out")"
  run_tool kvmdump -N "$k" -M "$core" -s -n 6 '*panicstr'
  expect_rc 0
  expect_stdout <<<"kernel"
  run_tool kvmdump -N "$k" -M "$core" --json -s '*panicstr'
  expect_rc 0
  grep -q "^{\"expression\":\"\*panicstr\",\"address\":\"0x[0-9a-f]*\",\"string\":\"kernel diagnostic assertion \\\\\"l->l_stat" "$T/out" ||
    fail "json: $(cat "$T/out")"

  # -S: the LWP of pid 700 sleeps on ttyraw_cv; its l_wchan word names it.
  run_tool kvmps -N "$k" -M "$core" -p 700 --json
  laddr=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["laddr"])' <"$T/out")
  wchan=$(printf '%0*x' "$w" "$(python3 -c 'import json, sys; print(json.load(sys.stdin)["wchan"])' <"$T/out")")
  run_tool kvmdump -N "$k" -M "$core" -n 512 "$laddr"
  run_tool kvmdump -N "$k" -M "$core" -$((w / 2)) -n 512 "$laddr"
  cp "$T/out" "$T/plain"
  grep -q " $wchan" "$T/plain" || fail "l_wchan $wchan not among the words"
  run_tool kvmdump -N "$k" -M "$core" -S -n 512 "$laddr"
  expect_rc 0
  sed "s/ $wchan/ ttyraw_cv/" "$T/plain" | expect_stdout
  [[ $(grep -c ttyraw_cv "$T/out") == 1 ]] || fail "-S: $(grep ttyraw_cv "$T/out")"
done

# Usage errors.
run_tool kvmdump -N "$k" -M "$core" -8 -r dumpmag
expect_rc 2
expect_stderr "kvmdump: a word view (-1 -2 -4 -8 -S), -s and -r exclude each other"
run_tool kvmdump -N "$k" -M "$core" -8 --json dumpmag
expect_rc 2
expect_stderr "kvmdump: --json holds the bytes: a word view (-1 -2 -4 -8 -S) does not apply"
run_tool kvmdump -M "$core" -P '*0x1000'
expect_rc 2
expect_stderr "kvmdump: *0x1000: -P reads physical memory, which holds no kernel pointers to follow"
