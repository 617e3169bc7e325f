#!/usr/bin/env bash
# A progress line (bytes, rate, time left) only when stderr is a terminal.
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || {
  echo "SKIP: script(1) is needed for a terminal" >&2
  exit 77
}
mkdump "$T/m" --crash-time "$(date +%s)"
mkdir "$T/tty" "$T/pipe"

cp "$T/m/swap.img" "$T/swap.img"
script -qec "'$KVMKIT_BIN/savecore' -N '$T/m/netbsd' '$T/tty' '$T/swap.img'" /dev/null >"$T/typescript" ||
  fail "savecore on a terminal failed: $(cat "$T/typescript")"
tr '\r' '\n' <"$T/typescript" | sed 's/\x1b\[K//' >"$T/lines"
grep -Eq '^17\.6 MiB of 17\.6 MiB \(100%\), [0-9.]+ [KMG]?i?B/s, 0:00 left$' "$T/lines" ||
  fail "no final progress line for the core: $(cat "$T/lines")"
grep -Eq '^[0-9.]+ KiB of [0-9.]+ KiB \(100%\), ' "$T/lines" || fail "no progress line for the kernel copy"
# The line is ended before the next message.
# (The terminal turns the newline into CR LF.)
typescript=$(<"$T/typescript")
[[ $typescript == *$'left\e[K\r\nsavecore: writing kernel to'* ]] || fail "progress line not ended before a message"

cp "$T/m/swap.img" "$T/swap.img"
run_tool savecore -N "$T/m/netbsd" "$T/pipe" "$T/swap.img"
expect_rc 0
! grep -q 'left' "$T/err" || fail "progress written to a pipe"
