# The C programs of tests/capi, written from BSD libkvm's manual pages,
# on a synthetic NetBSD crash whose every value is known (the facts of
# kvmsynth) and, with REALDUMP_DIR, on a real Linux vmcore against the
# guest's truth files.  They run against the built libkvm.so, which finds
# the layouts the build copies to share/ from where it lies.
source "$(dirname "$0")/lib.sh"

capi=$(cd "$KVMKIT_BIN/../tests/capi" && pwd)
# run_capi PROGRAM ARGS...: as run_tool, for the C programs.
run_capi() {
  local program=$1
  shift
  rc=0
  "$capi/$program" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

mkdump "$T/d" --procs
N=$T/d/netbsd
M=$T/d/netbsd.core

# kvm_nlist: NetBSD's underscore rule, n_type N_DATA|N_EXT and N_TEXT|N_EXT,
# and the count of names not found ("__time_second" is "_time_second").
run_capi kvm_nlist_test "$N" "$M" _time_second _dumpmag _no_such_symbol __time_second _main
expect_rc 0
expect_stdout - <<OUT
_time_second type 0x07 value $(fact sym.time_second)
_dumpmag type 0x07 value $(fact sym.dumpmag)
_no_such_symbol type 0x00 value 0x0
__time_second type 0x00 value 0x0
_main type 0x05 value $(fact sym.main)
not found: 2
OUT

# kvm_read: the crash time, little-endian; kvm_write refuses a dead kernel.
time_bytes=$(printf '%016x\n' "$(fact crash_time)" | fold -w2 | tac | paste -sd' ')
run_capi kvm_read_test "$N" "$M" _time_second 8
expect_rc 0
expect_stdout - <<OUT
$time_bytes
kvm_write: kvm_write not implemented for dead kernels
OUT
# An address the dump cannot translate: -1 and the reason, in kvm_geterr
# for kvm_openfiles, on stderr after errstr for kvm_open.
fault="0x1000: level 4 entry 0x0 (index 0 of the table at pa $(fact pt_root)) is not valid"
run_capi kvm_read_test "$N" "$M" 0x1000 8
expect_rc 1
expect_stderr "kvm_read: $fault"
run_capi kvm_read_test -e progname "$N" "$M" 0x1000 8
expect_rc 1
expect_stderr "progname: $fault"
[[ ! -s $T/out ]] || fail "stdout after a failed read"
# Open errors: into the caller's buffer (kvm_openfiles), on stderr (kvm_open).
run_capi kvm_read_test "$N" "$T/none" _time_second 8
expect_rc 1
expect_stderr "kvm_openfiles: $T/none: cannot open: No such file or directory"
run_capi kvm_read_test -e progname "$N" "$T/none" _time_second 8
expect_rc 1
expect_stderr "progname: $T/none: cannot open: No such file or directory"
# kvm_nlist without a namelist fails (-1) and says why.
run_capi kvm_nlist_test "" "$M" _time_second
expect_rc 1
expect_stderr "kvm_nlist: kvm_nlist: no namelist was opened"

# kvm_getproc2 / kvm_getlwps: every process and LWP the builder planted,
# at the addresses it planted them, in the kernel's list order.
run_capi kvm_getproc2_test "$N" "$M"
expect_rc 0
[[ $(head -n1 "$T/out") == "$(fact nprocs) processes" ]] || fail "count: $(head -n1 "$T/out")"
while read -r _ pid _; do
  grep -q "^pid $pid .* paddr $(fact "proc.$pid") " "$T/out" || fail "process $pid not at $(fact "proc.$pid")"
done < <(grep '^proc\.' "$FACTS" | tr '.=' '  ')
while read -r _ pid lid addr; do
  grep -q "^lwp $pid\.$lid .* laddr $addr " "$T/out" || fail "LWP $pid.$lid not at $addr"
done < <(grep '^lwp\.' "$FACTS" | tr '.=' '   ')
[[ $(grep -c '^lwp ' "$T/out") == $(grep -c '^lwp\.' "$FACTS") ]] || fail "LWP count"
# Fields of NetBSD's kinfo_proc2, as the dead-kernel path fills them: the
# stopped vi (LSSTOP, SSTOP), the session leader with its terminal
# (EPROC_CTTY|EPROC_SLEADER), the niced pkg_admin (NZERO+10) without one
# (tdev NODEV), the zombie without LWPs (LSZOMB, SZOMB), the setuid sysctl
# on a CPU (LSONPROC).
for want in \
  "pid 533 ppid 416 pgid 533 sid 416 tpgid 530 uid 1000 ruid 1000 svuid 1000 gid 1000 rgid 1000 tdev 0x500 stat 4 realstat 4 nice 20 eflag 0x1 nlwps 1 paddr $(fact proc.533) wmesg \"\" comm \"vi\"" \
  "pid 416 ppid 415 pgid 416 sid 416 tpgid 530 uid 1000 ruid 1000 svuid 1000 gid 1000 rgid 1000 tdev 0x500 stat 3 realstat 2 nice 20 eflag 0x3 nlwps 1 paddr $(fact proc.416) wmesg \"wait\" comm \"ksh\"" \
  "pid 731 ppid 1 pgid 731 sid 731 tpgid -1 uid 0 ruid 0 svuid 0 gid 0 rgid 0 tdev 0xffffffff stat 3 realstat 2 nice 30 eflag 0x2 nlwps 1 paddr $(fact proc.731) wmesg \"biowait\" comm \"pkg_admin\"" \
  "pid 542 ppid 541 pgid 530 sid 416 tpgid 530 uid 1000 ruid 1000 svuid 1000 gid 1000 rgid 1000 tdev 0x500 stat 5 realstat 5 nice 20 eflag 0x1 nlwps 0 paddr $(fact proc.542) wmesg \"\" comm \"cc1\"" \
  "pid 777 ppid 416 pgid 777 sid 416 tpgid 530 uid 0 ruid 1000 svuid 1000 gid 1000 rgid 1000 tdev 0x500 stat 7 realstat 2 nice 20 eflag 0x1 nlwps 1 paddr $(fact proc.777) wmesg \"\" comm \"sysctl\"" \
  "lwp 0.1 stat 3 laddr $(fact lwp.0.1) wchan 0xffffffff81c00010 wmesg \"pgdaemo\" name \"pgdaemon\""; do
  grep -qxF "$want" "$T/out" || fail "no line: $want"
done
# A dump holds no user memory: kvm_getargv2 fails and says so.
[[ $(tail -n1 "$T/out") == "kvm_getargv2: pid 777: a crash dump holds no user memory to read arguments from" ]] ||
  fail "argv: $(tail -n1 "$T/out")"

# The KERN_PROC operations select as NetBSD's sysctl does.
selected() {
  run_capi kvm_getproc2_test "$N" "$M" "$@"
  expect_rc 0
  grep '^pid ' "$T/out" | cut -d' ' -f2 | sort -n | tr '\n' ' '
}
[[ $(selected pid 416) == "416 " ]] || fail "pid 416"
[[ $(selected pgrp 530) == "530 541 542 " ]] || fail "pgrp 530: $(selected pgrp 530)"
[[ $(selected session 416) == "416 530 533 541 542 560 561 777 " ]] || fail "session 416"
[[ $(selected tty 0x501) == "700 " ]] || fail "tty 0x501"
[[ $(selected tty -1) == "0 1 151 185 214 220 412 415 731 " ]] || fail "tty NODEV: $(selected tty -1)"
[[ $(selected uid 0) == "0 1 151 214 220 231 412 731 777 " ]] || fail "uid 0: $(selected uid 0)"
[[ $(selected ruid 1000) == "415 416 530 533 541 542 560 561 777 " ]] || fail "ruid 1000: $(selected ruid 1000)"
[[ $(selected gid 100) == "700 " ]] || fail "gid 100"
[[ $(selected rgid 998) == "185 " ]] || fail "rgid 998"

# kvm_dump: the kcore header savecore writes, to a pipe (no seeking), is
# the one the builder wrote; invalidation clears dumpmag and nothing else.
dumpoff=$(($(fact dumplo) * 512))
dumpbytes=$(($(fact dumpsize) * 4096))
rc=0
"$capi/kvm_dump_test" "$N" "$T/d/swap.img" "$dumpoff" "$dumpbytes" 2>"$T/err" | cat >"$T/hdr" || rc=$?
expect_rc 0
expect_stderr "header size 512
dumpmag 0x8fca0101"
[[ $(stat -c %s "$T/hdr") == 536 ]] || fail "header of $(stat -c %s "$T/hdr") bytes"
cmp -n 536 "$T/hdr" "$M" || fail "the header differs from the kcore file's"
cp "$T/d/swap.img" "$T/swap.orig"
rc=0
"$capi/kvm_dump_test" -i "$N" "$T/d/swap.img" "$dumpoff" "$dumpbytes" 2>"$T/err" >/dev/null || rc=$?
expect_rc 0
expect_stderr "header size 512
dumpmag 0x8fca0101
dumpmag 0x0"
changed=$(cmp -l "$T/swap.orig" "$T/d/swap.img" | awk '{ printf "%d ", $1 - 1 }' || true)
# dumpmag is the first variable of the kernel's data page, stored in the
# dump right after the header
[[ $(echo "$changed" | wc -w) == 4 ]] || fail "bytes changed: $changed"
run_tool savecore -n -N "$N" "$T/d/swap.img"
expect_rc 1
# No header at an offset: 0, not an error.
run_capi kvm_dump_test "$N" "$T/d/swap.img" 512 0
expect_rc 3
expect_stderr "no dump: $T/d/swap.img: dumplo 1: no dump header at offset 0x200 (found magic 0x0 flag 0)"

# A real Linux vmcore, against what the guest said of itself.
[[ -n ${REALDUMP_DIR:-} ]] || exit 0
R=$REALDUMP_DIR
kallsyms() { awk -v n="$1" '$3 == n { print "0x" $1; exit }' "$R/truth/kallsyms.txt" | sed 's/0x0*/0x/'; }
run_capi kvm_nlist_test "$R/System.map" "$R/vmcore.elf" linux_banner init_task _text _linux_banner
expect_rc 0
expect_stdout - <<OUT
linux_banner type 0x07 value $(kallsyms linux_banner)
init_task type 0x07 value $(kallsyms init_task)
_text type 0x05 value $(kallsyms _text)
_linux_banner type 0x07 value $(kallsyms linux_banner)
not found: 0
OUT
version=$(cat "$R/truth/version.txt")
run_capi kvm_read_test -s "$R/System.map" "$R/vmcore.elf" linux_banner "${#version}"
expect_rc 0
expect_stdout - <<OUT
$version
kvm_write: kvm_write not implemented for dead kernels
OUT
# Every process of ps.txt with its parent, credentials and command (the
# kworkers' names in /proc carry their workqueue); process groups and
# sessions from sessions.txt.
run_capi kvm_getproc2_test "$R/System.map" "$R/vmcore.elf"
expect_rc 0
tail -n +2 "$R/truth/ps.txt" | while IFS=$'\t' read -r pid ppid uid gid _ _ _ comm _; do
  [[ $comm == kworker/* ]] && continue
  grep -q "^pid $pid ppid $ppid .* uid $uid ruid $uid .* gid $gid .* comm \"$comm\"$" "$T/out" ||
    fail "process $pid ($comm) differs"
done
tail -n +2 "$R/truth/sessions.txt" | while IFS=$'\t' read -r pid pgid sid _ _; do
  grep -q "^pid $pid ppid [0-9]* pgid $pgid sid $sid " "$T/out" || fail "process $pid: pgid or sid differs"
done
# The guest numbers its processes as its boot goes: the pids come from ps.txt.
truth_pid() { awk -F'\t' -v c="$1" '$8 == c { print $1 }' "$R/truth/ps.txt"; }
zombie=$(truth_pid zombie-kid) stopped=$(truth_pid stopped-proc)
[[ -n $zombie && -n $stopped ]] || fail "ps.txt lacks zombie-kid or stopped-proc"
grep -q "^pid $zombie .* stat 5 realstat 5 .* comm \"zombie-kid\"\$" "$T/out" || fail "zombie-kid is not a zombie"
grep -q "^pid $stopped .* stat 4 realstat 4 .* comm \"stopped-proc\"\$" "$T/out" || fail "stopped-proc is not stopped"
