#!/usr/bin/env bash
# kvmps on synthetic FreeBSD and DragonFly crashes with kvmsynth's trees
# (kvm::synth::freebsd::process_tree and dragonfly::process_tree, planted
# through the shipped layouts): the exact default listing from the
# minidumps of each era and from full dumps; PADDR against the planted
# facts; -H; DragonFly's scheduling and start columns; every filter option; --print-layout and --layout, with the
# shipped layouts and with layouts of a changed struct proc.
source "$(dirname "$0")/lib.sh"
usage="usage: kvmps [-AaceHjluvwx] [-M core ...] [-N system] [-O list] [-o list] [-p pids] [-t ttys]
             [-U users] [-u users] [-g pgrps] [-s sids] [--gid gids] [--rgid gids] [--json]
             [--layout file] [--zero-excluded]
       kvmps --print-layout -M core -N system [--layout file]"

# mkbsd DIR OS ARGS...: kvmsynth's crash of OS with its process tree in DIR
# (kernel, vmcore.0, facts).
mkbsd() {
  local dir=$1 os=$2
  shift 2
  mkdir -p "$dir"
  "$KVMKIT_BIN/kvmsynth" --os "$os" --procs --kernel "$dir/kernel" --vmcore "$dir/vmcore.0" \
    --facts "$dir/facts" "$@" || fail "kvmsynth --os $os $*"
  FACTS=$dir/facts
}

# pids ARGS...: the PID column of kvmps -o pid ARGS on $d, on one line.
pids() {
  run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -o pid "$@"
  [[ $rc == 0 || ($rc == 1 && $(wc -l <"$T/out") == 1) ]] || fail "kvmps $*: exit $rc"  # 1: none selected
  tail -n +2 "$T/out" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# The trees as each system's ps prints them (these texts follow from the
# trees, not from kvmps: DragonFly 5.8's STAT has the CPU after the state).
cat >"$T/expected-dragonfly" <<'END'
PID TTY    STAT        TIME COMMAND
  0 ?      D0s      0:01.50 [swapper]
  1 ?      I1s      0:00.01 (init)
 10 ?      S1<s     0:00.00 (syslogd)
 31 ?      I0s      0:00.00 (daemon)
 20 pts/0  S0s      0:00.00 (sh)
 21 pts/0  R2N+     0:00.00 (cc)
 22 pts/0  TX       0:00.00 (prog)
 23 pts/0  S0+      0:00.25 (threads)
 24 pts/0  Z+       0:00.00 (zombie)
 25 pts/0  I0       0:00.00 (su)
 26 pts/0  S0       0:00.00 (gdb)
 30 ttyv1- S3WEVJs+ 0:00.00 (ksh)
END
cat >"$T/expected-freebsd" <<'END'
PID TTY    STAT         TIME COMMAND
  0 ?      DLs       1:35.12 [kernel]
  1 ?      Is        0:00.31 (init)
 10 ?      S<s       0:00.00 (syslogd)
 11 ?      SNs       0:00.00 (idled)
 12 ?      S<s       0:00.00 (rtd)
 13 ?      WL        0:00.00 [intr]
 31 ?      Is        0:00.00 (daemon)
 30 ttyv1- SWEVLCs+J 0:00.00 (ksh)
 20 pts/0  Ss        0:00.04 (sh)
 21 pts/0  RN+       2:03.46 (cc)
 22 pts/0  TX        0:00.00 (prog)
 23 pts/0  S+        0:07.50 (threads)
 24 pts/0  Z+        0:00.00 (zombie)
 25 pts/0  I         0:00.00 (su)
 26 pts/0  S         0:00.00 (gdb)
 27 pts/0  R+        0:00.00 (cc)
END

# Every era: FreeBSD minidumps v1 and v2 (zombproc) and v3 (the zombie in
# the pid hash alone), DragonFly's v1 and v2, and full dumps.
for variant in "freebsd" "freebsd --minidump-version 2" "freebsd --minidump-version 1" "freebsd --full" \
  "dragonfly" "dragonfly --minidump-version 1" "dragonfly --full"; do
  d=$T/${variant// /}
  # shellcheck disable=SC2086
  mkbsd "$d" $variant
  run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0"
  expect_rc 0
  expect_stdout "$T/expected-${variant%% *}"
  expect_stderr ""

  # PADDR is where the builder put each struct proc.
  run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -o pid,paddr -p 23
  expect_rc 0
  addr=$(fact proc.23)
  printf '%s\n' "PID            PADDR" " 23 ${addr#0x}" | expect_stdout
done

# FreeBSD's clocks and priorities: TIME from p_rux and the threads'
# td_incruntime, ELAPSED up to time_second from p_start plus the boot time,
# PRI td_priority - PZERO, EMUL sv_name; -H gives each thread's own TIME.
d=$T/freebsd
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -o pid,pri,etime,emul,time -p 0,1,13,21,23
expect_rc 0
expect_stdout <<'END'
PID PRI    ELAPSED EMUL             TIME
  0 -28 3-02:01:00 null          1:35.12
  1  52 3-02:00:00 FreeBSD ELF64 0:00.31
 13 -58          - null          0:00.00
 21  65      02:05 FreeBSD ELF64 2:03.46
 23  20 2-00:00:00 FreeBSD ELF64 0:07.50
END
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -H -o pid,lid,time -p 23
expect_rc 0
expect_stdout <<'END'
PID    LID    TIME
 23 100012 0:01.00
 23 100013 0:02.00
 23 100014 0:03.00
END
# VSZ from vm_map.size; RSS the pmap's resident pages plus each thread's
# 4-page kernel stack not swapped out (ksh's is); a zombie has neither.
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -o pid,vsz,rss -p 0,21,23,24,30
expect_rc 0
expect_stdout <<'END'
PID    VSZ  RSS
  0      0   32
 30  12800   48
 21 102400 8016
 23  24000 3648
 24      0    0
END

# DragonFly from here on: filters, -H, layouts.
d=$T/dragonfly
[[ "$(pids)" == "0 1 10 31 20 21 22 23 24 25 26 30" ]] || fail "all: $(pids)"
[[ "$(pids -p 23)" == "23" ]] || fail "-p 23: $(pids -p 23)"
[[ "$(pids -p 99)" == "" ]] || fail "-p 99: $(pids -p 99)"
[[ "$(pids -g 21)" == "21 23 24" ]] || fail "-g 21: $(pids -g 21)"
[[ "$(pids -s 20)" == "20 21 22 23 24 25 26" ]] || fail "-s 20: $(pids -s 20)"
[[ "$(pids -t pts/0)" == "20 21 22 23 24 25 26" ]] || fail "-t pts/0: $(pids -t pts/0)"
[[ "$(pids -t /dev/ttyv1)" == "30" ]] || fail "-t /dev/ttyv1: $(pids -t /dev/ttyv1)"
[[ "$(pids -u 0)" == "0 1 10 31 25" ]] || fail "-u 0: $(pids -u 0)"
[[ "$(pids -U 1000)" == "20 21 22 23 24 25 26" ]] || fail "-U 1000: $(pids -U 1000)"
[[ "$(pids --gid 100)" == "20 21 22 23 24 26 30" ]] || fail "--gid 100: $(pids --gid 100)"
[[ "$(pids --rgid 1000)" == "25" ]] || fail "--rgid 1000: $(pids --rgid 1000)"
[[ "$(pids -s 20 -u 0)" == "25" ]] || fail "-s 20 -u 0: $(pids -s 20 -u 0)"

# One row per LWP: the five of pid 23, each with its own state and CPU.
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -H -p 23 -o pid,lid,stat,wchan,wmesg,lname
expect_rc 0
expect_stdout <<'END'
PID LID STAT WCHAN               WMESG  LNAME
 23   1 S0+  kvmkit_wchan_kqread kqread -
 23   2 R1+  -                   -      -
 23   3 RQ3+ -                   -      -
 23   4 D2+  -                   -      -
 23   5 S1+  kvmkit_wchan_lwkt   lwkt   worker
END

# The kinfo_lwp columns (the first LWP's for a process row) and ETIME up to
# time_second; %MEM unknown, as RSS is not read.  START in UTC: the tree's
# cc started 95 seconds before the crash.
TZ=UTC run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -o pid,pri,cpuid,etime,%cpu,cpu,%mem,lstart -p 21,23,30
expect_rc 0
expect_stdout <<'END'
PID PRI CPUID    ELAPSED %CPU CPU %MEM STARTED
 21 200     2      01:35 90.0  32    - Thu Nov 21 14:38:25 2024
 23 168     0 1-01:00:00  0.0  15    - Wed Nov 20 13:40:00 2024
 30 156     3 3-02:00:00  0.0   0    - Mon Nov 18 12:40:00 2024
END
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -H -p 23 -o pid,lid,cpuid,%cpu
expect_rc 0
expect_stdout <<'END'
PID LID CPUID %CPU
 23   1     0  0.0
 23   2     1 25.0
 23   3     3 10.0
 23   4     2  0.0
 23   5     1  0.0
END

# A terminal no process has.
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -t ttyv9
expect_rc 2
expect_stderr "kvmps: ttyv9: no such terminal
$usage"

# The layouts in use, printed, are a layout file kvmps takes back.
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" --print-layout
expect_rc 0
cp "$T/out" "$T/dragonfly.json"
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" --layout "$T/dragonfly.json"
expect_rc 0
expect_stdout "$T/expected-dragonfly"

# FreeBSD: filters of its own tree, threads.
d=$T/freebsd
[[ "$(pids -g 21)" == "21 23 24 27" ]] || fail "freebsd -g 21: $(pids -g 21)"
[[ "$(pids -t pts/0)" == "20 21 22 23 24 25 26 27" ]] || fail "freebsd -t pts/0: $(pids -t pts/0)"
[[ "$(pids -u 0)" == "0 1 10 11 12 13 31 25" ]] || fail "freebsd -u 0: $(pids -u 0)"
[[ "$(pids -U 1000)" == "20 21 22 23 24 25 26 27" ]] || fail "freebsd -U 1000: $(pids -U 1000)"
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -H -g 0 -o pid,lid,stat,wmesg,lname
expect_rc 0
expect_stdout <<'END'
PID    LID STAT WMESG  LNAME
  0 100000 DLs  swapin swapper
  0 100001 ILs  -      thread taskq
 13 100006 WL   -      swi4: clock (0)
END

# Kernels whose struct proc differs from the shipped release's: three more
# ints before p_pid.  Their layouts come from compiling the changed
# declarations; each tree is planted through them and read back with
# --layout, a layout no walker has seen.
root=$KVMKIT_TESTS/..
if command -v gcc >/dev/null; then
  for os in dragonfly freebsd; do
    release=$([[ $os == dragonfly ]] && echo 5 || echo 14)
    sed 's/^    pid_t p_pid;$/    int p_extra[3];\n    pid_t p_pid;/' "$root/tools/layouts/$os$release-types.c" >"$T/$os-types.c"
    grep -q p_extra "$T/$os-types.c" || fail "could not change the $os declarations"
    gcc -m64 -g -ffreestanding -nostdlib -shared -o "$T/$os-types.so" "$T/$os-types.c"
    "$KVMKIT_BIN/mklayout" --dwarf "$T/$os-types.so" --constants "$root/tools/layouts/$os-$release-constants.json" \
      --os "$os" --release "$release" --arch amd64 --cflags -m64 -o "$T/$os-changed.json"
    mkbsd "$T/$os-changed" "$os" --layout "$T/$os-changed.json"
    d=$T/$os-changed
    run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" --layout "$T/$os-changed.json"
    expect_rc 0
    expect_stderr ""
    expect_stdout "$T/expected-$os"
    # The shipped layouts read the pids at the wrong place.
    run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" -o pid -p 23
    [[ $rc -ne 0 || "$(cat "$T/out")" != "$(printf 'PID\n 23')" ]] || fail "$os: the shipped layouts read the changed kernel"
  done
fi

# DragonFly's layouts for a FreeBSD dump.
run_tool kvmps -N "$d/kernel" -M "$d/vmcore.0" --layout "$T/dragonfly.json"
expect_rc 2
expect_stderr "kvmps: $T/dragonfly.json: describes dragonfly 5 amd64, but the dump is freebsd amd64
$usage"
