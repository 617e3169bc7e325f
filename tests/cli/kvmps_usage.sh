#!/usr/bin/env bash
# kvmps usage errors exit 2 with "kvmps: ..." and the usage line on stderr;
# failures exit 1 with one line.
source "$(dirname "$0")/lib.sh"
usage="usage: kvmps [-AaceHjluvwx] [-M core ...] [-N system] [-O list] [-o list] [-p pids] [-t ttys]
             [-U users] [-u users] [-g pgrps] [-s sids] [--gid gids] [--rgid gids] [--json]
             [--layout file] [--zero-excluded]
       kvmps --print-layout -M core -N system [--layout file]"
mkdump "$T/d" --procs
d=$T/d

run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -o pid,foo
expect_rc 2
expect_stderr "kvmps: foo: keyword not found
$usage"
run_tool kvmps -N "$d/netbsd"
expect_rc 2
expect_stderr "kvmps: -N needs -M: without a dump kvmps lists the running host
$usage"
run_tool kvmps -M "$d/netbsd.core"
expect_rc 2
expect_stderr "kvmps: no namelist given (-N system)
$usage"
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -t pts/x
expect_rc 2
expect_stderr "kvmps: pts/x: no such terminal
$usage"
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" -p notanumber
expect_rc 2
run_tool kvmps --bogus
expect_rc 2
run_tool kvmps --print-layout
expect_rc 2
expect_stderr "kvmps: --print-layout: the running host is read through /proc, without structure layouts
$usage"
run_tool kvmps --layout "$T/x.json"
expect_rc 2
expect_stderr "kvmps: --layout applies to dumps: the running host is read through /proc
$usage"
run_tool kvmps -N "$d/netbsd" -M "$T/missing.core"
expect_rc 1
expect_stderr "kvmps: $T/missing.core: cannot open: No such file or directory"
# A kernel without the process lists.
"$KVMKIT_BIN/kvmsynth" --kernel "$T/bare" --kcore "$T/bare.core"
run_tool kvmps -N "$T/bare" -M "$T/bare.core"
expect_rc 1
expect_stderr "kvmps: $T/bare: _nprocs: no such symbol"
run_tool kvmps --help
expect_rc 0
grep -q -- '--print-layout' "$T/out" || fail "--help does not list --print-layout"
