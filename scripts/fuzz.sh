#!/usr/bin/env bash
# Runs libFuzzer targets under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh TARGET [SECONDS]   one target (dump, savecore, ...: the list
#                                      in tests/fuzz/CMakeLists.txt), 600 s by default
#   scripts/fuzz.sh all [SECONDS]      every target, FUZZ_JOBS (default: the
#                                      number of CPUs) at a time; scripts/test.sh
#                                      runs this for FUZZ_SECONDS (30) each
#
# The targets are built with clang in $FUZZ_BUILD (default build-fuzz; it is
# configured when missing, with the ctest suite, which scripts/test.sh runs from
# the same build).  Each target first runs its checked-in seeds
# (tests/fuzz/corpus/TARGET, never written to), then fuzzes; inputs it finds
# go to $FUZZ_BUILD/fuzz/TARGET/corpus, its log to $FUZZ_BUILD/fuzz/TARGET/log,
# and an input that crashes, leaks, times out or runs out of memory to
# $FUZZ_BUILD/fuzz/TARGET/ (crash-*, leak-*, timeout-*, oom-*).  Any of these
# fails the run, naming the file and how to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/fuzz.sh TARGET|all [SECONDS]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
target=$1
seconds=${2:-600}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || usage
build=${FUZZ_BUILD:-build-fuzz}

if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVMKIT_FUZZ=ON \
    -DKVMKIT_SANITIZE=ON -DKVMKIT_BUILD_BENCH=OFF >/dev/null
fi
# targets.txt is the list in tests/fuzz/CMakeLists.txt, written when cmake runs.
cmake -S . -B "$build" >/dev/null
mapfile -t all_targets <"$build/tests/fuzz/targets.txt"
if [[ $target == all ]]; then
  targets=("${all_targets[@]}")
else
  printf '%s\n' "${all_targets[@]}" | grep -qx -- "$target" || {
    echo "fuzz.sh: no fuzz target '$target' (have: ${all_targets[*]})" >&2
    exit 2
  }
  targets=("$target")
fi
cmake --build "$build" --target "${targets[@]/#/fuzz_}"
# Two runs in one build would remove each other's outputs.
mkdir -p "$build/fuzz"
exec 9>"$build/fuzz/.lock"
flock -n 9 || {
  echo "fuzz.sh: another fuzz.sh is running in $build" >&2
  exit 1
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_target NAME: fuzzes NAME for $seconds; prints one line, and returns
# non-zero with the reproducer named when it found something.
run_target() {
  local name=$1
  local out=$build/fuzz/$name
  rm -rf "$out"
  mkdir -p "$out/corpus"
  local rc=0
  "$build/tests/fuzz/fuzz_$name" "$out/corpus" "tests/fuzz/corpus/$name" -max_total_time="$seconds" \
    -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" >"$out/log" 2>&1 || rc=$?
  local found
  found=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
    head -1)
  local stats
  stats=$(awk '/^stat::number_of_executed_units:/ { e = $2 } /^#[0-9]+.*(DONE|pulse)/ { c = $0 }
    END { sub(/^.*cov: /, "cov: ", c); sub(/ exec\/s.*/, "", c); printf "%s runs, %s", e, c }' "$out/log")
  if ((rc != 0)) || [[ -n $found ]]; then
    echo "fuzz.sh: fuzz_$name FAILED (exit $rc): ${found:-no reproducer written; see the log}" >&2
    grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)' "$out/log" >&2 || true
    echo "fuzz.sh:   log: $out/log" >&2
    [[ -n $found ]] && echo "fuzz.sh:   replay: $build/tests/fuzz/fuzz_$name $found" >&2
    return 1
  fi
  echo "fuzz.sh: fuzz_$name: ${seconds}s, $stats, no crash"
}

jobs=${FUZZ_JOBS:-$(nproc)}
failed=()
running=()
names=()
wait_one() {
  # Waits for the oldest job still running.
  local pid=${running[0]} name=${names[0]}
  running=("${running[@]:1}")
  names=("${names[@]:1}")
  wait "$pid" || failed+=("$name")
}
for name in "${targets[@]}"; do
  ((${#running[@]} < jobs)) || wait_one
  run_target "$name" &
  running+=($!)
  names+=("$name")
done
while ((${#running[@]})); do wait_one; done
if ((${#failed[@]})); then
  echo "fuzz.sh: ${#failed[@]} target(s) found a bug: ${failed[*]} (reproducers in $build/fuzz/<target>/)" >&2
  exit 1
fi
