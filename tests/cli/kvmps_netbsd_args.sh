#!/usr/bin/env bash
# kvmps on synthetic NetBSD crashes whose user processes' arguments and
# environment are planted in their own address spaces (kvmsynth --procs
# --arguments, amd64 and i386, sparse dumps): COMMAND shows the argv read
# through each process's page tables, -e adds the environment, -c the
# command names only; sysctl's stack pages were never written, so the
# sparse dump lacks them: (sysctl) and one note.
source "$(dirname "$0")/lib.sh"

# kvm::synth::with_arguments(default_process_tree()) as NetBSD ps prints it.
cat >"$T/expected" <<'END'
PID TTY     STAT    TIME COMMAND
  0 ?       DKsl 1:13.41 [system]
  1 ?       Is   0:00.10 init
151 ?       Is   0:00.06 /usr/sbin/syslogd -s
185 ?       Isl  0:01.95 /usr/sbin/unbound
214 ?       Is   0:00.02 /usr/sbin/sshd
220 ?       Ss   0:00.01 /usr/sbin/cron
412 ?       Is   0:00.04 sshd: alice [priv]
415 ?       S    0:00.38 sshd: alice@pts/0
731 ?       DNs  1:01.34 pkg_admin audit
231 console Is+  0:00.00 /usr/libexec/getty Pc constty
416 pts/0   Ss   0:00.09 -ksh
530 pts/0   S+   0:02.35 make -j4 build
533 pts/0   T    0:00.15 vi kern_exec.c
541 pts/0   S+   0:00.01 cc -O2 -c kern_exec.c
542 pts/0   Z+   0:05.82 (cc1)
560 pts/0   S    0:00.64 gdb ./a.out
561 pts/0   TX   0:00.00 ./a.out
777 pts/0   O    0:00.00 (sysctl)
700 pts/1 - Is+  0:00.03 -ksh
END

for arch in amd64 i386; do
  d=$T/$arch
  mkdump "$d" --arch "$arch" --procs --arguments --sparse
  for core in netbsd.core swap.img; do
    run_tool kvmps -N "$d/netbsd" -M "$d/$core"
    expect_rc 0
    expect_stdout "$T/expected"
    grep -q "^kvmps: note: the user pages of 1 process are not in the dump (a sparse dump leaves them out): COMMAND shows the command name in parentheses (first: pid 777 (sysctl): ps_strings at " "$T/err" ||
      fail "$arch $core: no note about sysctl: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$arch $core: more than the note: $(cat "$T/err")"
  done

  # One process selected: only its pages are read, so no note.
  run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -e -o pid,command -p 530
  expect_rc 0
  printf '%s\n' "PID COMMAND" "530 make -j4 build HOME=/home/alice PATH=/bin:/usr/bin:/usr/pkg/bin TERM=xterm" \
    >"$T/expected-env"
  expect_stdout "$T/expected-env"
  expect_stderr ""

  # -c: the command names, no user page read, no note.
  run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -c -o pid,command -p 541,777
  expect_rc 0
  printf '%s\n' "PID COMMAND" "541 cc" "777 sysctl" >"$T/expected-c"
  expect_stdout "$T/expected-c"
  expect_stderr ""
done

# Arguments are planted in NetBSD dumps only, and with the process tree.
run_tool kvmsynth --kernel "$T/x" --kcore "$T/x.core" --arguments
expect_rc 1
expect_stderr "kvmsynth: --arguments plants with --procs"
run_tool kvmsynth --os freebsd --kernel "$T/x" --vmcore "$T/x.core" --procs --arguments
expect_rc 1
expect_stderr "kvmsynth: --swap, --kcore, --device-dump, --procs-fault, --ram-end and --arguments make NetBSD dumps"
