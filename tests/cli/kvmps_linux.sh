#!/usr/bin/env bash
# kvmps on a real Linux vmcore (REALDUMP_DIR, made by
# tests/realdump/make-linux-vmcore.sh; scripts/test.sh always sets it):
# every user process the guest listed (truth/ps.txt) by PID, PPID, UID,
# GID, threads, state and command name, on the kdump and ELF files; the
# kernel threads by PID; threads, filters, JSON, layouts; and damaged
# copies, which end with a message, never a crash.  The only differences
# allowed are the README's: PID 1 in S rather than R, kworkers come or gone.
source "$(dirname "$0")/lib.sh"
usage="usage: kvmps [-AaceHjluvwx] [-M core ...] [-N system] [-O list] [-o list] [-p pids] [-t ttys]
             [-U users] [-u users] [-g pgrps] [-s sids] [--gid gids] [--rgid gids] [--json]
             [--layout file] [--zero-excluded]
       kvmps --print-layout -M core -N system [--layout file]"
if [[ -z ${REALDUMP_DIR:-} ]]; then
  echo "REALDUMP_DIR is not set: real-dump test not run (scripts/test.sh sets it)" >&2
  exit 77
fi
D=$REALDUMP_DIR
map=$D/System.map
squeeze() { sed -E 's/^ +//; s/ +/ /g' "$@"; }
# truth/ps.txt without its header: PID PPID UID GID STATE THREADS START COMM CMDLINE
rows() { tail -n +2 "$D/truth/ps.txt"; }

for core in vmcore.kdump vmcore.elf; do
  dump=$D/$core
  run_tool kvmps -N "$map" -M "$dump"
  expect_rc 0
  expect_stderr ""

  # Each user process, one row, every field the guest printed.
  n=0
  while IFS=$'\t' read -r pid ppid uid gid state threads _ comm _; do
    [[ $pid == 2 || $ppid == 2 ]] && continue
    [[ $pid == 1 && $state == R ]] && state=S # blocked opening a FIFO when the dump was taken
    [[ $comm == tty-sleeper ]] && state+=s+   # a session leader, in its terminal's foreground
    run_tool kvmps -N "$map" -M "$dump" -p "$pid" -o pid,ppid,uid,ruid,rgid,nlwp,stat,comm
    expect_rc 0
    got=$(tail -n +2 "$T/out" | squeeze)
    [[ $got == "$pid $ppid $uid $uid $gid $threads $state $comm" ]] ||
      fail "$core pid $pid: [$got], expected [$pid $ppid $uid $uid $gid $threads $state $comm]"
    n=$((n + 1))
  done < <(rows)
  ((n >= 10)) || fail "only $n user processes in truth/ps.txt"

  # Process group, session and terminal's foreground group as /proc/PID/stat
  # had them (truth/sessions.txt: PID PGID SID TTY_NR TPGID), for everyone.
  run_tool kvmps -N "$map" -M "$dump" -o pid,pgid,sid,tpgid
  tail -n +2 "$T/out" | squeeze | sort -k1,1 >"$T/dump.sessions"
  tail -n +2 "$D/truth/sessions.txt" | awk -F'\t' '{ print $1, $2, $3, $5 }' | sort -k1,1 >"$T/truth.sessions"
  join "$T/truth.sessions" "$T/dump.sessions" | awk '$2 != $5 || $3 != $6 || $4 != $7' >"$T/sessions.diff"
  [[ ! -s $T/sessions.diff ]] || fail "$core: PGID SID TPGID differ (pid, truth, dump): $(cat "$T/sessions.diff")"
  [[ $(join "$T/truth.sessions" "$T/dump.sessions" | wc -l) -ge 50 ]] || fail "$core: too few rows joined"

  # The whole list: the guest's PIDs, but for kworkers started or gone.
  run_tool kvmps -N "$map" -M "$dump" -o pid,comm
  tail -n +2 "$T/out" | squeeze | grep -v ' kworker/' | cut -d' ' -f1 | sort -n >"$T/dump.pids"
  rows | awk -F'\t' '$8 !~ /^kworker\// { print $1 }' | sort -n >"$T/truth.pids"
  diff -u "$T/truth.pids" "$T/dump.pids" >&2 || fail "$core: the process list differs from truth/ps.txt"
  # Kernel threads are marked K, user processes are not.
  run_tool kvmps -N "$map" -M "$dump" -o pid,stat -p 2
  [[ $(tail -n +2 "$T/out" | squeeze) == "2 SK" ]] || fail "$core: kthreadd is [$(tail -n +2 "$T/out")]"
done

dump=$D/vmcore.kdump
pid_of() { rows | awk -F'\t' -v c="$1" '!found && $8 == c { print $1; found = 1 }'; }
sleeper=$(pid_of uid1000-sleeper)
zombie=$(pid_of zombie-kid)
long=$(pid_of very-long-proce)

# Filters: -u, -U, --gid, --rgid pick the uid-1000 process; -g 0 and -s 0
# everything but tty-sleeper (no job control in the guest: all in init's
# session 0), which leads a session of its own on ttyS0.
for f in "-u 1000" "-U 1000" "--gid 1000" "--rgid 1000"; do
  # shellcheck disable=SC2086
  run_tool kvmps -N "$map" -M "$dump" $f -o pid,uid,comm
  expect_rc 0
  [[ $(tail -n +2 "$T/out" | squeeze) == "$sleeper 1000 uid1000-sleeper" ]] || fail "$f: $(cat "$T/out")"
done
leader=$(pid_of tty-sleeper)
run_tool kvmps -N "$map" -M "$dump"
all=$(wc -l <"$T/out")
for f in "-g 0" "-s 0" "-t ?"; do
  # shellcheck disable=SC2086
  set -f # "?" is not a pattern here
  run_tool kvmps -N "$map" -M "$dump" $f -o pid
  set +f
  [[ $(wc -l <"$T/out") -eq $((all - 1)) ]] || fail "$f: $(wc -l <"$T/out") lines, expected $((all - 1))"
  ! grep -qx " *$leader" "$T/out" || fail "$f lists tty-sleeper"
done
for f in "-g $leader" "-s $leader" "-t ttyS0" "-t S0" "-t /dev/ttyS0"; do
  # shellcheck disable=SC2086
  run_tool kvmps -N "$map" -M "$dump" $f
  expect_rc 0
  [[ $(wc -l <"$T/out") -eq 2 && $(tail -n +2 "$T/out" | squeeze | cut -d' ' -f1-3,5-) == \
    "$leader ttyS0 Ss+ sleep 1000007" ]] || fail "$f: $(cat "$T/out")"
done
# Nothing selected: the header alone, exit 1.
run_tool kvmps -N "$map" -M "$dump" -s 1
expect_rc 1
expect_stdout - <<<"PID TTY STAT TIME COMMAND"
run_tool kvmps -N "$map" -M "$dump" -t -  # revoked terminals: none
expect_rc 1
expect_stdout - <<<"PID TTY STAT TIME COMMAND"
run_tool kvmps -N "$map" -M "$dump" -t ttyS1
expect_rc 1
expect_stdout - <<<"PID TTY STAT TIME COMMAND"
run_tool kvmps -N "$map" -M "$dump" -t nosuch
expect_rc 2
expect_stderr "kvmps: nosuch: no such terminal
$usage"

# COMMAND: each user process's command line as the guest's /proc had it,
# read through the process's own page tables (the long one spans pages);
# -c gives the command name instead.
for core in vmcore.kdump vmcore.elf vmcore.kdump-flat; do
  n=0
  while IFS=$'\t' read -r pid ppid _ _ _ _ _ comm cmdline; do
    [[ $pid == 2 || $ppid == 2 || -z $cmdline ]] && continue
    run_tool kvmps -N "$map" -M "$D/$core" -p "$pid" -o command
    expect_rc 0
    expect_stderr ""
    [[ $(tail -n +2 "$T/out") == "$cmdline" ]] || fail "$core pid $pid: COMMAND [$(tail -n +2 "$T/out")], expected [$cmdline]"
    run_tool kvmps -N "$map" -M "$D/$core" -c -p "$pid" -o pid,command
    [[ $(tail -n +2 "$T/out" | squeeze) == "$pid $comm" ]] || fail "$core -c pid $pid: $(cat "$T/out")"
    n=$((n + 1))
  done < <(rows)
  ((n == 10)) || fail "$core: $n command lines compared, expected 10"
done
# -e: the environment after the arguments (the kernel gives init HOME=/ and TERM=linux).
run_tool kvmps -N "$map" -M "$dump" -e -p 1 -o command
expect_rc 0
[[ $(tail -n +2 "$T/out") == "/bin/busybox sh /init "* ]] || fail "-e: $(cat "$T/out")"
for var in HOME=/ TERM=linux; do
  tail -n +2 "$T/out" | tr ' ' '\n' | grep -qx "$var" || fail "-e: no $var in $(cat "$T/out")"
done

# -H: one row per thread.
run_tool kvmps -N "$map" -M "$dump" -H -p "$long" -o pid,lid,nlwp,comm
expect_rc 0
[[ $(tail -n +2 "$T/out" | squeeze) == "$long $long 1 very-long-proce" ]] || fail "-H: $(cat "$T/out")"
run_tool kvmps -N "$map" -M "$dump" -H -o lid
[[ $(wc -l <"$T/out") -eq $all ]] || fail "-H: $(wc -l <"$T/out") lines, expected $all (one thread each)"

# --json: every field of the zombie.
run_tool kvmps -N "$map" -M "$dump" --json -p "$zombie"
expect_rc 0
[[ $(wc -l <"$T/out") -eq 1 ]] || fail "--json: $(wc -l <"$T/out") lines"
for want in "\"pid\":$zombie," "\"ppid\":$(pid_of zombie-parent)," '"stat":"Z"' '"zombie":true' \
  '"comm":"zombie-kid"' '"uid":0,' '"tty":null' '"live":false'; do
  grep -qF "$want" "$T/out" || fail "--json lacks $want: $(cat "$T/out")"
done

# The layouts in use print as a layout file that reads back the same.
run_tool kvmps -N "$map" -M "$dump" --print-layout
expect_rc 0
cp "$T/out" "$T/layout.json"
grep -q '"os": "linux"' "$T/layout.json" || fail "--print-layout: no os"
grep -q '"task_struct": {' "$T/layout.json" || fail "--print-layout: no task_struct"
run_tool kvmps -N "$map" -M "$dump" -o pid,ppid,uid,stat,comm
cp "$T/out" "$T/listing"
run_tool kvmps -N "$map" -M "$dump" --layout "$T/layout.json" -o pid,ppid,uid,stat,comm
expect_rc 0
expect_stdout "$T/listing"

# Without the kernel's symbols there is no init_task and no BTF.
run_tool kvmps -M "$dump"
expect_rc 2
expect_stderr "kvmps: listing the processes of a Linux dump needs the kernel's symbols (init_task, and __start_BTF and __stop_BTF for its type information): give -N System.map, the crashed kernel's /proc/kallsyms, or its vmlinux
$usage"
# A kernel without BTF: its System.map has no __start_BTF.
grep -v ' __st[a-z]*_BTF$' "$map" >"$T/nobtf.map"
run_tool kvmps -N "$T/nobtf.map" -M "$dump"
expect_rc 1
expect_stderr "kvmps: $T/nobtf.map: no __start_BTF and __stop_BTF: the kernel was built without CONFIG_DEBUG_INFO_BTF and carries no type information of its own; give its vmlinux with debug information (-N) or a layout file (--layout)"
# The guest's own kallsyms does as well as System.map.
run_tool kvmps -N "$D/truth/kallsyms.full.txt" -M "$dump" -o pid,ppid,uid,stat,comm
expect_rc 0
expect_stdout "$T/listing"

# A copy of the ELF vmcore with the BTF zeroed: its physical address is
# _text's ("Kernel code" in iomem) plus the distance from _text.
sym() { awk -v s="$1" '$3 == s { print $1; exit }' "$D/truth/kallsyms.txt"; }
start=$((16#$(sym __start_BTF)))
stop=$((16#$(sym __stop_BTF)))
text_pa=$((16#$(awk '/: Kernel code/ { sub(/^ +/, ""); split($1, r, "-"); print r[1]; exit }' "$D/truth/iomem.txt")))
pa=$((text_pa + start - 16#$(sym _text)))
offset=
while read -r type off _ paddr filesz _; do
  [[ $type == LOAD ]] || continue
  if ((pa >= paddr && pa < paddr + filesz)); then
    offset=$((off + pa - paddr))
    break
  fi
done < <(readelf -lW "$D/vmcore.elf")
[[ -n $offset ]] || fail "no PT_LOAD holds the BTF at physical $pa"
cp "$D/vmcore.elf" "$T/zeroed.elf"
dd if=/dev/zero of="$T/zeroed.elf" bs=1 seek="$offset" count=$((stop - start)) conv=notrunc status=none
run_tool kvmps -N "$map" -M "$T/zeroed.elf"
expect_rc 1
expect_stderr "kvmps: kernel memory at __start_BTF ($(printf '%#x' "$start")): BTF: bad magic 0x0000 (expected 0xeb9f): not BTF data"
rm -f "$T/zeroed.elf"

# Truncated copies: each ends with exit status 0 or 1 and, when 1, a
# message on stderr; never a crash.
for cut in 10 35 60 85 91; do
  for core in vmcore.kdump vmcore.elf; do
    size=$(stat -c %s "$D/$core")
    head -c $((size * cut / 100)) "$D/$core" >"$T/cut"
    run_tool kvmps -N "$map" -M "$T/cut"
    [[ $rc -eq 0 || $rc -eq 1 ]] || fail "$core cut at $cut%: exit status $rc: $(head -3 "$T/err")"
    if [[ $rc -eq 1 ]]; then
      [[ -s $T/err ]] && ! grep -qv '^kvmps: ' "$T/err" || fail "$core cut at $cut%: stderr [$(head -3 "$T/err")]"
    fi
  done
done
rm -f "$T/cut"
exit 0
