# Shared by the CLI tests (tests/cli/*.sh), which ctest runs with KVMKIT_BIN
# pointing at the built tools.  Each test sources this file, makes what it
# needs in $T (removed on exit) and checks exact output.
set -euo pipefail

: "${KVMKIT_BIN:?run through ctest, or set KVMKIT_BIN to build/tools}"
T=$(mktemp -d "${TMPDIR:-/tmp}/kvmkit-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run_tool NAME ARGS...: runs a built tool; stdout in $T/out, stderr in $T/err,
# exit status in $rc.  Never aborts the test.
run_tool() {
  local tool=$1
  shift
  rc=0
  "$KVMKIT_BIN/$tool" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

# expect_rc N: the last run_tool exited with N.
expect_rc() {
  [[ $rc -eq $1 ]] || { cat "$T/err" >&2; fail "exit status $rc, expected $1"; }
}

# expect_stdout FILE|-: stdout of the last run equals the file (or stdin).
expect_stdout() {
  diff -u "${1:--}" "$T/out" >&2 || fail "stdout differs"
}

# expect_stderr TEXT: stderr of the last run is exactly TEXT (one line).
expect_stderr() {
  local got
  got=$(cat "$T/err")
  [[ "$got" == "$1" ]] || fail "stderr is [$got], expected [$1]"
}

# mkdump DIR ARGS...: a synthetic crash in DIR (kernel, swap.img, kcore,
# facts) made by kvmsynth with ARGS; facts are then readable with fact KEY.
mkdump() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$KVMKIT_BIN/kvmsynth" --kernel "$dir/netbsd" --swap "$dir/swap.img" --kcore "$dir/netbsd.core" \
    --facts "$dir/facts" "$@" || fail "kvmsynth $*"
  FACTS=$dir/facts
}

# fact KEY: a value the synthetic dump builder recorded.
fact() {
  grep -m1 "^$1=" "$FACTS" | cut -d= -f2-
}
