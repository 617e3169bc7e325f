# Every tool says which kvmkit it is; kvmsynth's usage errors are its own
# (exit 2 and a usage line, never CLI11's bare text and exit 105/106).
source "$(dirname "$0")/lib.sh"

build=$(cd "$KVMKIT_BIN/.." && pwd)
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
[[ -n $version ]] || fail "no project version in the cache"
for tool in savecore kvmps kvmnm kvmdump kvmdmesg kvmsynth; do
  run_tool "$tool" --version
  expect_rc 0
  expect_stderr ""
  expect_stdout - <<<"$tool (kvmkit) $version"
done

run_tool kvmsynth --no-such-option
expect_rc 2
expect_stderr "kvmsynth: The following argument was not expected: --no-such-option
usage: kvmsynth --kernel file [--swap file] [--kcore file] [options] (kvmsynth --help lists them)"
run_tool kvmsynth --os plan9 --kernel "$T/k"
expect_rc 2
grep -q '^kvmsynth: --os: ' "$T/err" || fail "kvmsynth --os plan9: $(cat "$T/err")"
