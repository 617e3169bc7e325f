#!/usr/bin/env bash
# A savecore killed (SIGKILL) while writing a big dump leaves the dump on
# the device and only a temporary file behind; the next run removes that
# and saves the dump.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

# 256 MiB of RAM-like memory compressed at -Z 9: many seconds of writing.
mkdump "$T/m" --crash-time "$(date +%s)" --ram-end $((256 << 20))
swap=$T/m/swap.img
kernel=$T/m/netbsd
cp "$swap" "$T/swap.orig"
mkdir "$T/crash"

# Waits (at most a minute) until the savecore $pid has written into $partial,
# or has ended.
wait_for_partial() {
  local i
  for ((i = 0; i < 6000; i++)); do
    [[ -s $partial ]] && return
    kill -0 "$pid" 2>/dev/null || return
    sleep 0.01
  done
}

"$KVMKIT_BIN/savecore" -z -Z 9 -N "$kernel" "$T/crash" "$swap" 2>"$T/killed.err" &
pid=$!
partial=$T/crash/netbsd.0.core.gz.tmp
wait_for_partial
kill -STOP "$pid" 2>/dev/null || fail "savecore ended before it could be killed: $(cat "$T/killed.err")"
[[ -s $partial && ! -e $T/crash/netbsd.0.core.gz ]] || fail "not caught while writing: $(ls -l "$T/crash")"
kill -KILL "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 137 ]] || fail "killed savecore exited $rc"

# What the killed run left: bounds, its temporary file; the dump intact.
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds netbsd.0.core.gz.tmp " ]] || fail "after the kill: $(ls "$T/crash")"
cmp -s "$T/swap.orig" "$swap" || fail "the killed run changed the device"

run_tool savecore -N "$kernel" "$T/crash" "$swap"
expect_rc 0
head -1 "$T/err" | grep -qxF "savecore: $partial: removed, left by an interrupted savecore" ||
  fail "stale file not reported: $(cat "$T/err")"
grep -qxF "savecore: writing core to $T/crash/netbsd.1.core" "$T/err" || fail "$(cat "$T/err")"
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds netbsd.1 netbsd.1.core " ]] || fail "after the rerun: $(ls "$T/crash")"
cmp "$T/crash/netbsd.1.core" "$T/m/netbsd.core" || fail "the core saved after the kill differs"
run_tool savecore -n -N "$kernel" "$swap"
expect_rc 1

# SIGTERM asks for a clean stop: the partial file goes, the dump stays.
cp "$T/swap.orig" "$swap"
"$KVMKIT_BIN/savecore" -z -Z 9 -N "$kernel" "$T/crash" "$swap" 2>"$T/term.err" &
pid=$!
partial=$T/crash/netbsd.2.core.gz.tmp
wait_for_partial
kill -TERM "$pid" 2>/dev/null || fail "savecore ended before SIGTERM: $(cat "$T/term.err")"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 1 ]] || fail "savecore exited $rc after SIGTERM"
tail -2 "$T/term.err" | diff -u - <(printf 'savecore: interrupted\nsavecore: %s: not saved; the partial file was removed and the dump left on %s\n' \
  "$T/crash/netbsd.2.core.gz" "$swap") || fail "messages after SIGTERM"
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds netbsd.1 netbsd.1.core " ]] || fail "after SIGTERM: $(ls "$T/crash")"
cmp -s "$T/swap.orig" "$swap" || fail "the interrupted run changed the device"

# Under nohup SIGHUP stays ignored: the save goes on and completes.
(trap '' HUP && exec "$KVMKIT_BIN/savecore" -z -Z 9 -N "$kernel" "$T/crash" "$swap" 2>"$T/hup.err") &
pid=$!
partial=$T/crash/netbsd.3.core.gz.tmp  # 2 went to the SIGTERM run
wait_for_partial
kill -HUP "$pid" 2>/dev/null || fail "savecore ended before SIGHUP: $(cat "$T/hup.err")"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 0 ]] || fail "savecore under nohup exited $rc after SIGHUP: $(cat "$T/hup.err")"
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds netbsd.1 netbsd.1.core netbsd.3.core.gz netbsd.3.gz " ]] ||
  fail "after SIGHUP under nohup: $(ls "$T/crash")"
