#!/usr/bin/env bash
# kvmps takes BSD ps's options as people type them: -a -x -A and "aux",
# lists (-p 1,416), -o with headers after '=', -O, the -u -j -l -v formats,
# -w and COLUMNS, users by number on a dump, exit 1 when nothing is
# selected, and usage errors with the usage line.  The expected text
# follows from kvmsynth's default process tree (see kvmps_dump.sh).
source "$(dirname "$0")/lib.sh"
mkdump "$T/d" --procs
d=$T/d
ps() { run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" "$@"; }

# What to show: everything, whichever way it is asked for.
ps
expect_rc 0
cp "$T/out" "$T/all"
[[ $(wc -l <"$T/all") == 20 ]] || fail "the default listing has $(wc -l <"$T/all") lines"
for how in -a -x -ax -A -Ax; do
  ps "$how"
  expect_rc 0
  expect_stdout "$T/all"
done
run_tool kvmps ax -N "$d/netbsd" -M "$d/netbsd.core"
expect_rc 0
expect_stdout "$T/all"

# Lists: any of the pids, in ps's order whatever the order asked.
ps -p 416,1
expect_rc 0
expect_stdout - <<'END'
PID TTY   STAT    TIME COMMAND
  1 ?     Is   0:00.10 (init)
416 pts/0 Ss   0:00.09 (ksh)
END
ps -p 416 -p '1 9999'
expect_rc 0
expect_stdout - <<'END'
PID TTY   STAT    TIME COMMAND
  1 ?     Is   0:00.10 (init)
416 pts/0 Ss   0:00.09 (ksh)
END
# Lists of different options: both must hold.
ps -p 1,416,777 -u 0
expect_rc 0
expect_stdout - <<'END'
PID TTY   STAT    TIME COMMAND
  1 ?     Is   0:00.10 (init)
777 pts/0 O    0:00.00 (sysctl)
END
ps -U 1000 -t console,pts/1 -o pid,ruid,tt
expect_rc 1
expect_stdout <<<"PID RUID TTY"
ps -t console,pts/1 -o pid,tt
expect_rc 0
expect_stdout - <<'END'
PID TTY
231 console
700 pts/1 -
END
ps -g 530,560 -o pid,pgid
expect_rc 0
expect_stdout - <<'END'
PID PGID
530  530
541  530
542  530
560  560
561  560
END

# Headers: '=' names one, or none; with every header empty, no header line.
ps -p 1,416 -o pid=
expect_rc 0
printf '  1\n416\n' | expect_stdout
ps -p 416 -o pid,comm=NAME
expect_rc 0
printf 'PID NAME\n416 ksh\n' | expect_stdout
# The header runs to the end of the list, commas and all.
ps -p 416 -o 'pid=ID,comm'
expect_rc 0
printf 'ID,comm\n    416\n' | expect_stdout

# -O: after PID in the default format, or in the format so far.
ps -p 416,530 -O ppid
expect_rc 0
expect_stdout - <<'END'
PID PPID TTY   STAT    TIME COMMAND
416  415 pts/0 Ss   0:00.09 (ksh)
530  416 pts/0 S+   0:02.35 (make)
END
ps -p 416 -o pid,comm -O sid,pgid
expect_rc 0
printf 'PID SID PGID COMMAND\n416 416  416 ksh\n' | expect_stdout

# The named formats.  A dump's users are numbers; CPU, PRI and %CPU are
# what the tree planted for ksh (zeros), START "-" (no struct pstats planted
# for it), %MEM its 1840 KiB of physmem's 4510 pages.
ps -p 416 -j
expect_rc 0
expect_stdout - <<'END'
USER PID PPID PGID SID STAT TTY      TIME COMMAND
1000 416  415  416 416 Ss   pts/0 0:00.09 (ksh)
END
ps -p 416 -l
expect_rc 0
expect_stdout - <<'END'
 UID PID PPID CPU PRI NI   VSZ  RSS WCHAN     STAT TTY      TIME COMMAND
1000 416  415   0   0  0 11936 1840 init_wait Ss   pts/0 0:00.09 (ksh)
END
ps -p 416 -u
expect_rc 0
expect_stdout - <<'END'
USER PID %CPU %MEM   VSZ  RSS TTY   STAT STARTED    TIME COMMAND
1000 416  0.0 10.2 11936 1840 pts/0 Ss   -       0:00.09 (ksh)
END
ps -p 416 -v
expect_rc 0
expect_stdout - <<'END'
PID STAT    TIME   VSZ  RSS %CPU %MEM COMMAND
416 Ss   0:00.09 11936 1840  0.0 10.2 (ksh)
END
# In a cluster, -u is the format; "aux" is "-aux".
run_tool kvmps -aux -N "$d/netbsd" -M "$d/netbsd.core" -p 416
cp "$T/out" "$T/u"
ps -p 416 -u
expect_stdout "$T/u"
run_tool kvmps aux -N "$d/netbsd" -M "$d/netbsd.core" -p 416
expect_stdout "$T/u"
# Formats add up, in the order given.
ps -p 416 -o pid -o uid,comm
expect_rc 0
printf 'PID  UID COMMAND\n416 1000 ksh\n' | expect_stdout
# F is p_flag in hexadecimal: the system process has PK_SYSTEM (0x2); EMUL is p_emul->e_name.
ps -p 0 -o pid,flags,emul
expect_rc 0
printf 'PID F EMUL\n  0 2 netbsd\n' | expect_stdout

# Width: COLUMNS cuts lines, -w makes it 132 at least, -ww lifts the limit.
COLUMNS=20 ps -p 416,530
expect_rc 0
expect_stdout - <<'END'
PID TTY   STAT    TI
416 pts/0 Ss   0:00.
530 pts/0 S+   0:02.
END
COLUMNS=20 ps -p 416,530 -w
expect_rc 0
expect_stdout - <<'END'
PID TTY   STAT    TIME COMMAND
416 pts/0 Ss   0:00.09 (ksh)
530 pts/0 S+   0:02.35 (make)
END
COLUMNS=20 ps -p 416,530 -ww
expect_rc 0
expect_stdout - <<'END'
PID TTY   STAT    TIME COMMAND
416 pts/0 Ss   0:00.09 (ksh)
530 pts/0 S+   0:02.35 (make)
END

# Nothing selected: the header alone (none in JSON), exit 1, as ps.
ps -p 9999
expect_rc 1
expect_stdout <<<"PID TTY STAT TIME COMMAND"
expect_stderr ""
ps -p 9999 --json
expect_rc 1
expect_stdout </dev/null

# Usage errors: "kvmps: ..." and the usage line, exit 2.
usage="usage: kvmps [-AaceHjluvwx] [-M core ...] [-N system] [-O list] [-o list] [-p pids] [-t ttys]
             [-U users] [-u users] [-g pgrps] [-s sids] [--gid gids] [--rgid gids] [--json]
             [--layout file] [--zero-excluded]
       kvmps --print-layout -M core -N system [--layout file]"
ps -U root
expect_rc 2
expect_stderr "kvmps: root: no such user (a dump's users are another machine's: give the number)
$usage"
ps -p 1,x
expect_rc 2
expect_stderr "kvmps: x: not a process id
$usage"
ps -o pid,foo
expect_rc 2
expect_stderr "kvmps: foo: keyword not found
$usage"
ps -O ''
expect_rc 2
expect_stderr "kvmps: no valid keywords
$usage"
ps junk
expect_rc 2
expect_stderr "kvmps: The following argument was not expected: junk
$usage"
ps -p
expect_rc 2
expect_stderr "kvmps: -p: 1 required TEXT missing
$usage"
