#!/usr/bin/env bash
# A FIFO named as a dump (-M), a namelist (-N), a savecore device or a
# planted symbol index is refused at once with a message naming it: open(2)
# of a FIFO waits for a writer, which would hang savecore at boot.  Every
# run has a time limit, so a regression fails here instead of hanging.
source "$(dirname "$0")/lib.sh"

mkdump "$T/m"
kernel=$T/m/netbsd
swap=$T/m/swap.img
mkfifo "$T/fifo"
mkdir "$T/crash"

# run_limited TOOL ARGS...: run_tool with a time limit (exit 124 when hit).
run_limited() {
  local tool=$1
  shift
  rc=0
  timeout 30 "$KVMKIT_BIN/$tool" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

refused="$T/fifo: is a FIFO, not a regular file or a device"

for tool in kvmps kvmnm kvmdump; do
  args=()
  [[ $tool == kvmdump ]] && args=(_version)
  run_limited $tool -N "$kernel" -M "$T/fifo" "${args[@]}"
  expect_rc 1
  expect_stderr "$tool: $refused"
  run_limited $tool -N "$T/fifo" -M "$swap" "${args[@]}"
  expect_rc 1
  expect_stderr "$tool: $refused"
done

# savecore: the FIFO as a device (with -n and when saving), as -N.
run_limited savecore -n -N "$kernel" "$T/fifo"
expect_rc 1
expect_stderr "savecore: $refused"
run_limited savecore -N "$kernel" "$T/crash" "$T/fifo"
expect_rc 1
expect_stderr "savecore: $refused"
run_limited savecore -n -N "$T/fifo" "$swap"
expect_rc 1
expect_stderr "savecore: $refused"
[[ -z $(ls "$T/crash") ]] || fail "savecore wrote $(ls "$T/crash")"

# A FIFO planted where the kernel's symbol index goes is no index: the
# namelist is read from the kernel itself.
ln -s "$kernel" "$T/kernel"
mkfifo "$T/kernel.symidx"
run_limited kvmnm -N "$T/kernel" -M "$swap" _version
expect_rc 0
expect_stderr ""
[[ $(cat "$T/out") == "$(printf '%016x' "$(fact sym.version)") R version" ]] || fail "kvmnm printed: $(cat "$T/out")"
