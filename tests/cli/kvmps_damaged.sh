#!/usr/bin/env bash
# Damaged process lists end cleanly: a warning on stderr naming the list
# and the address, the rows read before it, exit status 1, never a hang.
source "$(dirname "$0")/lib.sh"

# allproc holds the default tree newest first: 777, 731, 700, 561, ...;
# zombproc holds 542.
mkdump "$T/cycle" --procs --procs-fault cycle --procs-fault-at 2
run_tool kvmps -N "$T/cycle/netbsd" -M "$T/cycle/netbsd.core"
expect_rc 1
expect_stderr "kvmps: warning: allproc: entry 3 ($(fact allproc.0)) was already visited: the list has a cycle; stopped there"
expect_stdout - <<'END'
PID TTY    STAT    TIME COMMAND
731 ?      DNs  1:01.34 (pkg_admin)
542 pts/0  Z+   0:05.82 (cc1)
777 pts/0  O    0:00.00 (sysctl)
700 pts/1- Is+  0:00.03 (ksh)
END

mkdump "$T/bad" --procs --procs-fault bad-pointer --procs-fault-at 1
run_tool kvmps -N "$T/bad/netbsd" -M "$T/bad/netbsd.core"
expect_rc 1
[[ $(cat "$T/err") == "kvmps: warning: allproc: entry 2 (0xffffc0003ff00000): 0xffffc0003ff00000: "*" is not valid" ]] ||
  fail "stderr: $(cat "$T/err")"
expect_stdout - <<'END'
PID TTY   STAT    TIME COMMAND
731 ?     DNs  1:01.34 (pkg_admin)
542 pts/0 Z+   0:05.82 (cc1)
777 pts/0 O    0:00.00 (sysctl)
END

mkdump "$T/short" --arch i386 --procs --procs-fault short-count --procs-fault-at 2
run_tool kvmps -N "$T/short/netbsd" -M "$T/short/netbsd.core" --json
expect_rc 1
expect_stderr "kvmps: warning: allproc: more than 2 entries; stopped at entry 2 ($(fact allproc.2))
kvmps: warning: zombproc: more than 0 entries; stopped at entry 0 ($(fact proc.542))"
[[ $(wc -l <"$T/out") -eq 2 ]] || fail "--json: $(wc -l <"$T/out") lines, expected 2"
grep -q '^{"pid":731,' "$T/out" && grep -q '^{"pid":777,' "$T/out" || fail "rows 731 and 777 expected"

# A kcore cut short (savecore's disk filled) at a range of sizes: every
# cut ends cleanly.  kvmps either lists a subset of the whole dump's rows
# with a warning for each loss (exit 1), fails with one message when the
# cut took the kernel's own tables (exit 1), or, when the cut only took
# memory nothing points to, lists everything (exit 0).  The exact rows
# around a cut are the unit tests' business (test_procs.cpp).
mkdump "$T/cut" --procs
run_tool kvmps -N "$T/cut/netbsd" -M "$T/cut/netbsd.core" -o pid,stat,comm
expect_rc 0
# Rows compared without the padding, which depends on the widest value.
squeeze() { sed -E 's/^ +//; s/ +/ /g' "$@"; }
squeeze "$T/out" >"$T/whole"
size=$(stat -c %s "$T/cut/netbsd.core")
lists_rows=0
cuts=()
for ((k = 1; k <= 48; k++)); do cuts+=($((size - k * 65536))); done
for ((k = 2; k <= 8; k++)); do cuts+=($((size * k / 10))); done
for cut in "${cuts[@]}"; do
  cp "$T/cut/netbsd.core" "$T/cut/short.core"
  truncate -s "$cut" "$T/cut/short.core"
  rc=0
  timeout 60 "$KVMKIT_BIN/kvmps" -N "$T/cut/netbsd" -M "$T/cut/short.core" -o pid,stat,comm >"$T/out" 2>"$T/err" || rc=$?
  case $rc in
  0) squeeze "$T/out" | cmp -s - "$T/whole" || fail "cut at $cut: exit 0 but not the whole listing" ;;
  1)
    [[ -s "$T/err" ]] || fail "cut at $cut: exit 1 without a message"
    grep -v '^kvmps: ' "$T/err" >&2 && fail "cut at $cut: stray stderr"
    # Processes listed are processes of the whole dump (a damaged one may
    # show less: "?" for a state whose LWPs were lost).
    if [[ -s "$T/out" ]]; then
      squeeze "$T/out" | head -1 | cmp -s - <(head -1 "$T/whole") || fail "cut at $cut: header differs"
      squeeze "$T/out" | tail -n +2 | while read -r pid _; do
        grep -q "^$pid " "$T/whole" || fail "cut at $cut: pid $pid"
      done
      (($(wc -l <"$T/out") > 1)) && lists_rows=1
      grep -q '^kvmps: warning: ' "$T/err" || fail "cut at $cut: rows without a warning"
    fi
    ;;
  *) fail "cut at $cut: exit status $rc" ;;
  esac
done
((lists_rows)) || fail "no cut kept any row"
