#!/usr/bin/env bash
# kvmdmesg without a dump reads the running Linux kernel's log from
# /dev/kmsg: a line written to the log reads back with its priority, the
# records agree with util-linux's dmesg -r, and a reader without CAP_SYSLOG
# is told what it lacks.
source "$(dirname "$0")/lib.sh"
[[ -e /dev/kmsg ]] || { echo "no /dev/kmsg" >&2; exit 77; }
if [[ ! -r /dev/kmsg ]] || ! head -c 0 /dev/kmsg 2>/dev/null; then
  echo "/dev/kmsg is not readable here" >&2
  exit 77
fi

# A line of our own, as facility user (1) and level notice (5): <13>.
marker="kvmkit kvmdmesg test $$ $RANDOM"
if echo "<13>$marker" >/dev/kmsg 2>/dev/null; then
  run_tool kvmdmesg -r
  expect_rc 0
  expect_stderr ""
  grep -Eq "^<13>\[ *[0-9]+\.[0-9]{6}\] $marker\$" "$T/out" || fail "the marker is not in kvmdmesg -r"
  run_tool kvmdmesg --json
  expect_rc 0
  grep -Eq "^\{\"sequence\":[0-9]+,\"time_usec\":[0-9]+,\"level\":5,\"facility\":1,(\"caller\":\"[TC][0-9]+\",)?\"text\":\"$marker\"\}\$" "$T/out" ||
    fail "the marker is not in kvmdmesg --json: $(grep -F "$marker" "$T/out")"
fi

# Every line is a record's line with its time.
run_tool kvmdmesg
expect_rc 0
expect_stderr ""
[[ -s $T/out ]] || fail "no log"
if grep -Evq '^\[ *[0-9]+\.[0-9]{6}\] ' "$T/out"; then fail "a line without a time: $(grep -Ev '^\[ *[0-9]+\.[0-9]{6}\] ' "$T/out" | head -1)"; fi

# util-linux's dmesg -r shows the same records, times and texts (its <N> is
# the level alone, the kernel's the facility too; it indents the lines
# after the first of a multi-line record where the kernel repeats the
# prefix, so the comparison stops at the first such line; the log may grow
# between the two runs, so only the lines both have are compared).
if command -v dmesg >/dev/null && dmesg -r >"$T/util" 2>/dev/null; then
  run_tool kvmdmesg -r
  n=$( (grep -nv '^<' "$T/util" || true) | head -1 | cut -d: -f1)
  n=$((${n:-$(($(wc -l <"$T/util") + 1))} - 1))
  m=$(wc -l <"$T/out")
  ((n > m)) && n=$m
  ((n > 0)) || fail "nothing to compare with dmesg -r"
  untag() { head -n "$n" "$1" | sed -E 's/^<[0-9]+>//'; }
  diff -u <(untag "$T/util") <(untag "$T/out") >&2 || fail "kvmdmesg -r differs from dmesg -r"
fi

# Without CAP_SYSLOG, when the kernel restricts its log to it.
if [[ $(id -u) == 0 && $(cat /proc/sys/kernel/dmesg_restrict) == 1 ]] && command -v setpriv >/dev/null; then
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$KVMKIT_BIN/kvmdmesg" >"$T/out" 2>"$T/err" || rc=$?
  expect_rc 1
  expect_stderr "kvmdmesg: /dev/kmsg: Operation not permitted: reading the kernel log needs CAP_SYSLOG (kernel.dmesg_restrict is 1)"
fi
