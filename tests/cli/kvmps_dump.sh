#!/usr/bin/env bash
# kvmps on synthetic NetBSD crashes with kvmsynth's default process tree:
# the exact default listing on amd64, i386 and i386 PAE, from the kcore and
# from the raw dump on the swap image; -o columns against the planted
# facts; -H; every filter option; --json.
source "$(dirname "$0")/lib.sh"

# The default tree as NetBSD ps prints it (tools/kvmsynth plants it from
# kvm::synth::default_process_tree(); this text follows from that tree, not
# from kvmps).
cat >"$T/expected" <<'END'
PID TTY     STAT    TIME COMMAND
  0 ?       DKsl 1:13.41 [system]
  1 ?       Is   0:00.10 (init)
151 ?       Is   0:00.06 (syslogd)
185 ?       Isl  0:01.95 (unbound)
214 ?       Is   0:00.02 (sshd)
220 ?       Ss   0:00.01 (cron)
412 ?       Is   0:00.04 (sshd)
415 ?       S    0:00.38 (sshd)
731 ?       DNs  1:01.34 (pkg_admin)
231 console Is+  0:00.00 (getty)
416 pts/0   Ss   0:00.09 (ksh)
530 pts/0   S+   0:02.35 (make)
533 pts/0   T    0:00.15 (vi)
541 pts/0   S+   0:00.01 (cc)
542 pts/0   Z+   0:05.82 (cc1)
560 pts/0   S    0:00.64 (gdb)
561 pts/0   TX   0:00.00 (a.out)
777 pts/0   O    0:00.00 (sysctl)
700 pts/1 - Is+  0:00.03 (ksh)
END

for variant in "amd64" "i386" "i386 --pae"; do
  d=$T/${variant// /}
  # shellcheck disable=SC2086
  mkdump "$d" --arch $variant --procs
  run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core"
  expect_rc 0
  expect_stdout "$T/expected"
  expect_stderr ""
  run_tool kvmps -N "$d/netbsd" -M "$d/swap.img"
  expect_rc 0
  expect_stdout "$T/expected"

  # PADDR is where the builder put each struct proc.
  run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -o pid -o paddr -p 530
  expect_rc 0
  addr=$(fact proc.530)
  addr=${addr#0x}
  printf 'PID %*s\n530 %s\n' "$(( ${#addr} > 5 ? ${#addr} : 5 ))" PADDR "$addr" | expect_stdout
done

# Facts of the amd64 dump from here on.
FACTS=$T/amd64/facts
d=$T/amd64

# Columns.
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -o pid,ppid,pgid,sid,tpgid,uid,ruid,gid,rgid,tty,nlwp,nice,vsz,rss,comm -s 416
expect_rc 0
expect_stdout - <<'END'
PID PPID PGID SID TPGID  UID RUID  GID RGID TTY   NLWP NI    VSZ   RSS COMMAND
416  415  416 416   530 1000 1000 1000 1000 pts/0    1  0  11936  1840 ksh
530  416  530 416   530 1000 1000 1000 1000 pts/0    1  0  21072  5600 make
533  416  533 416   530 1000 1000 1000 1000 pts/0    1  0  13616  2800 vi
541  530  530 416   530 1000 1000 1000 1000 pts/0    1  0  16432  3200 cc
542  541  530 416   530 1000 1000 1000 1000 pts/0    0  0      0     0 cc1
560  416  560 416   530 1000 1000 1000 1000 pts/0    1  0 122064 39200 gdb
561  560  560 416   530 1000 1000 1000 1000 pts/0    1  0   4816   840 a.out
777  416  777 416   530    0 1000 1000 1000 pts/0    1  0   8816  1200 sysctl
END

# Scheduling and accounting from the dump: PRI is l_priority, CPU p_estcpu,
# %CPU p_pctcpu (l_pctcpu per LWP) over FSCALE 2048, START p_stats->p_start,
# ETIME up to time_second, %MEM the RSS over physmem (4510 pages of 4 KiB),
# EMUL p_emul->e_name.  The tree plants init started 3 days and 2 hours and
# make 125 s before the crash, make at p_pctcpu 512 (25%), its LWP at 1024.
TZ=UTC run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -o pid,pri,cpu,%cpu,%mem,lstart,etime,emul,comm -p 1,530,542
expect_rc 0
expect_stdout - <<'END'
PID PRI CPU %CPU %MEM STARTED                     ELAPSED EMUL   COMMAND
  1  43   0  0.0  8.4 Mon Nov 18 12:40:00 2024 3-02:00:00 netbsd init
530  85  12 25.0 31.0 Thu Nov 21 14:37:55 2024      02:05 netbsd make
542   -   0  0.0  0.0 -                                 - netbsd cc1
END
TZ=UTC run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -H -o pid,lid,pri,%cpu,start -p 530
expect_rc 0
expect_stdout - <<'END'
PID LID PRI %CPU STARTED
530   1  85 50.0 2:37PM
END

# One row per LWP, with wait channels as namelist symbols.
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -H -o pid,lid,stat,wchan,wmesg,time,lname -p 0
expect_rc 0
expect_stdout - <<'END'
PID LID STAT WCHAN        WMESG       TIME LNAME
  0   1 DKsl uvm_pageout  pgdaemon 0:01.22 pgdaemon
  0   2 DKsl sched_pstats xcall    0:00.31 xcall/0
  0   3 DKsl lbolt        ioflush  0:02.10 ioflush
  0   4 DKsl vdrain_cv    vdrain   0:00.09 vdrain
  0   5 DKsl sysmon_cv    smtaskq  0:00.01 sysmon
END
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -H -o pid,lid,stat,wchan -p 185
expect_stdout - <<'END'
PID LID STAT WCHAN
185   1 Ssl  kq_cv
185   2 Isl  kq_cv
185   3 Isl  kq_cv
185   4 Isl  kq_cv
END

# Each selection, and several together.
# Nothing selected exits 1, as ps does.
pids() { run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -o pid "$@"; [[ -s $T/err ]] && fail "$(cat "$T/err")"; tail -n +2 "$T/out" | tr -d ' ' | paste -sd, -; }
check_pids() {
  local want=$1
  shift
  local got
  got=$(pids "$@")
  [[ "$got" == "$want" ]] || fail "kvmps $*: pids [$got], expected [$want]"
}
check_pids 530 -p 530
check_pids 530,541,542 -g 530
check_pids 416,530,533,541,542,560,561,777 -s 416
check_pids 416,530,533,541,542,560,561,777 -t pts/0
check_pids 416,530,533,541,542,560,561,777 -t /dev/pts/0
check_pids 700 -t pts/1
check_pids 231 -t console
check_pids 231 -t co
check_pids 0,1,151,185,214,220,412,415,731 -t '?'
check_pids 700 -t -
check_pids 185 -u 998
check_pids 415,416,530,533,541,542,560,561,777 -U 1000
check_pids 415,416,530,533,541,542,560,561 -u 1000
check_pids 700 --gid 100
check_pids 700 --rgid 100
check_pids 777 -s 416 -u 0
check_pids "" -s 416 -u 998
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -s 416 -u 998
expect_rc 1

# JSON: one object per line, every field.  The wait channel is the
# address nm(1) gives the symbol the planter defined.
wchan=0x$(nm "$d/netbsd" | awk '$3 == "ttyraw_cv" {print $1}')
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" --json -p 700
expect_rc 0
expect_stdout - <<END
{"pid":700,"ppid":415,"pgid":700,"sid":700,"tpgid":700,"uid":1001,"ruid":1001,"svuid":1001,"gid":100,"rgid":100,"svgid":100,"groups":[100],"tdev":1281,"tty":"pts/1","ctty_vnode":false,"session_leader":true,"login":"bob","stat":"Is+","state":2,"lwp_state":3,"flags":0,"raw":{"p_sflag":0,"p_slflag":0,"p_lflag":2,"l_flag":128},"nice":0,"zombie":false,"system":false,"lid":1,"nlwp":1,"lwp_row":false,"lname":"","wchan":"$wchan","wchan_symbol":"ttyraw_cv","wmesg":"ttyraw","time":"0:00.03","rtime_usec":31000,"vsz":11936,"rss":1820,"start_usec":null,"pctcpu_tenths":0,"priority":0,"cpu":0,"cpuid":null,"emul":"netbsd","paddr":"$(fact proc.700)","laddr":"$(fact lwp.700.1)","comm":"ksh","command":"(ksh)","argv":[],"live":false}
END
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" --json -H -s 416
expect_rc 0
[[ $(wc -l <"$T/out") -eq 8 ]] || fail "--json -H -s 416: $(wc -l <"$T/out") lines, expected 8"
