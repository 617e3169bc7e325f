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
