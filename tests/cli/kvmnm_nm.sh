# kvmnm with no arguments lists a kernel's symbols exactly as binutils'
# nm -n does (values, letters, order, locals and duplicates), on 64- and
# 32-bit kernels; --json lists the same symbols.
source "$KVMKIT_TESTS/cli/lib.sh"
command -v nm >/dev/null || { echo "nm (binutils) is not installed" >&2; exit 77; }

for arch in amd64 i386; do
  "$KVMKIT_BIN/kvmsynth" --arch $arch --extra-functions 3000 --kernel "$T/$arch" || fail "kvmsynth"
  nm -n "$T/$arch" >"$T/nm.out"
  [[ $(wc -l <"$T/nm.out") -gt 3000 ]] || fail "nm listed too little"
  run_tool kvmnm -N "$T/$arch"
  expect_rc 0
  expect_stdout "$T/nm.out"
  expect_stderr ""
  # From the symbol index, the same.
  [[ -f $T/$arch.symidx ]] || fail "no index"
  run_tool kvmnm -N "$T/$arch"
  expect_stdout "$T/nm.out"

  # nm's options give what nm gives: -S sizes, -P POSIX lines, -g external
  # symbols, -t o octal, and combinations.
  for opts in -S -P -g "-g -S" "-P -g" "-t o" "-t o -S" "-t x -P"; do
    # shellcheck disable=SC2086 # opts holds one or more options on purpose
    nm -n $opts "$T/$arch" >"$T/nm.opt"
    # shellcheck disable=SC2086
    run_tool kvmnm $opts -N "$T/$arch"
    expect_rc 0
    expect_stdout "$T/nm.opt"
  done
  # -a: the symbols naming a section or a source file too, as nm -a lists
  # them (the synthetic kernel has one per section and one file symbol);
  # in the C locale, whose order puts ".text" before "start".
  for opts in -a "-a -S" "-a -P" "-a -g" "-a -t o"; do
    # shellcheck disable=SC2086
    LC_ALL=C nm -n $opts "$T/$arch" >"$T/nm.opt"
    grep -q ' a kern_synth.c$' "$T/nm.opt" || [[ $opts == *-g* || $opts == *-P* ]] || fail "nm $opts: no file symbol"
    # shellcheck disable=SC2086
    run_tool kvmnm $opts -N "$T/$arch"
    expect_rc 0
    expect_stdout "$T/nm.opt"
  done
  # -u: a kernel has no undefined symbols.
  run_tool kvmnm -u -N "$T/$arch"
  expect_rc 0
  expect_stdout </dev/null
  # A pattern lists its matches in address order, as nm | grep would.
  nm -n "$T/$arch" | grep -E ' (dump[^ ]*)$' >"$T/nm.dump"
  [[ $(wc -l <"$T/nm.dump") -ge 2 ]] || fail "too few dump* symbols to test with"
  run_tool kvmnm -N "$T/$arch" 'dump*'
  expect_rc 0
  expect_stdout "$T/nm.dump"
  run_tool kvmnm -N "$T/$arch" 'nosuch*' main
  expect_rc 1
  expect_stdout <<<"$(nm -n "$T/$arch" | grep ' main$')"
  expect_stderr "kvmnm: nosuch*: no symbol matches"

  # JSON: the same names and values, in the same order.
  run_tool kvmnm -N "$T/$arch" --json
  expect_rc 0
  grep -o '"name":"[^"]*"' "$T/out" | cut -d'"' -f4 >"$T/json.names"
  awk '{print $NF}' "$T/nm.out" | diff -u - "$T/json.names" >&2 || fail "JSON names differ from nm's"
done

# -a lists; it answers no query, and a symbol list has no section or file symbols.
run_tool kvmnm -a -N "$T/amd64" main
expect_rc 2
expect_stderr "kvmnm: -a lists every symbol: it takes no names or addresses"
nm -n "$T/amd64" | awk '{print $1, $2, $3}' >"$T/System.map"
run_tool kvmnm -a -N "$T/System.map"
expect_rc 2
expect_stderr "kvmnm: -a: $T/System.map is a symbol list, without the section and file symbols of an ELF kernel: give the kernel's ELF file"
