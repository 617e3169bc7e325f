#!/usr/bin/env bash
# kvmdmesg on synthetic NetBSD crashes whose message buffer kvmsynth planted
# from a text the test wrote: the exact output from the kcore and from the
# raw dump on the swap image, on amd64, i386 and i386 PAE; a wrapped ring,
# an empty one, a bad magic and pointers past the end (exact warnings and
# exit status); -r, -t and --json; usage errors.
source "$(dirname "$0")/lib.sh"

# A boot log with a log(9) priority tag, a control character and a byte
# with the top bit set, as NetBSD's dmesg (9 and later: vis(3) with
# VIS_NOSLASH) shows them.
printf '%s\n' \
  '[     1.000000] NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024' \
  '[     1.000000] total memory = 16 MB' \
  '<4>[     2.500000] kern.maxfiles: table is full' \
  '[     3.141592] panic: bell '$'\a'' and '$'\xe9''' \
  '[     3.141592] cpu0: Begin traceback...' >"$T/boot.txt"
cat >"$T/expected" <<'END'
[     1.000000] NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024
[     1.000000] total memory = 16 MB
[     2.500000] kern.maxfiles: table is full
[     3.141592] panic: bell ^G and M-i
[     3.141592] cpu0: Begin traceback...
END

for variant in "amd64" "i386" "i386 --pae"; do
  d=$T/${variant// /}
  # shellcheck disable=SC2086
  mkdump "$d" --arch $variant --msgbuf-text "$T/boot.txt"
  [[ $(fact msgbuf.bufx) == "$(wc -c <"$T/boot.txt")" ]] || fail "$variant: bufx $(fact msgbuf.bufx)"
  run_tool kvmdmesg -N "$d/netbsd" -M "$d/netbsd.core"
  expect_rc 0
  expect_stderr ""
  expect_stdout "$T/expected"
  # The raw dump on the swap device gives the same.
  run_tool kvmdmesg -N "$d/netbsd" -M "$d/swap.img"
  expect_rc 0
  expect_stdout "$T/expected"
done
d=$T/amd64

# -r keeps the priority tags.
run_tool kvmdmesg -r -N "$d/netbsd" -M "$d/netbsd.core"
expect_rc 0
sed 's/^\[     2.500000\]/<4>&/' "$T/expected" | expect_stdout -

# -t leaves the timestamps out, as NetBSD's dmesg -t does.
run_tool kvmdmesg -t -N "$d/netbsd" -M "$d/netbsd.core"
expect_rc 0
sed 's/^\[ *[0-9.]*\] //' "$T/expected" | expect_stdout -

# --json: one object per line, the timestamp as time_usec, the tag as
# level and facility.
run_tool kvmdmesg --json -N "$d/netbsd" -M "$d/netbsd.core"
expect_rc 0
expect_stdout - <<'END'
{"time_usec":1000000,"text":"NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024"}
{"time_usec":1000000,"text":"total memory = 16 MB"}
{"time_usec":2500000,"level":4,"facility":0,"text":"kern.maxfiles: table is full"}
{"time_usec":3141592,"text":"panic: bell \u0007 and \ufffd"}
{"time_usec":3141592,"text":"cpu0: Begin traceback..."}
END

# A wrapped ring: 200 lines of 9 bytes in 1000 bytes keep the last 1000
# bytes, from the oldest (the write index) on.
for i in $(seq -w 1 200); do echo "line $i"; done >"$T/long.txt"
mkdump "$T/wrapped" --msgbuf-text "$T/long.txt" --msgbuf-size 1000
[[ $(fact msgbuf.bufx) == 800 ]] || fail "wrapped: bufx $(fact msgbuf.bufx)"
run_tool kvmdmesg -N "$T/wrapped/netbsd" -M "$T/wrapped/netbsd.core"
expect_rc 0
expect_stderr ""
tail -c 1000 "$T/long.txt" | expect_stdout -
[[ $(head -n 2 "$T/out") == $'\nline 090' ]] || fail "wrapped: starts with [$(head -n 2 "$T/out")]"

# An empty ring prints nothing.
mkdump "$T/empty" --msgbuf-text /dev/null
run_tool kvmdmesg -N "$T/empty/netbsd" -M "$T/empty/netbsd.core"
expect_rc 0
expect_stderr ""
expect_stdout /dev/null

# Corrupted: a bad magic is an error; pointers past the end are warnings
# and the text is still printed.
mkdump "$T/magic" --msgbuf-text "$T/boot.txt" --msgbuf-fault bad-magic
run_tool kvmdmesg -N "$T/magic/netbsd" -M "$T/magic/netbsd.core"
expect_rc 1
expect_stderr "kvmdmesg: msgbufp: struct kern_msgbuf at $(fact msgbuf): msg_magic is 0xbad0bad, not MSG_MAGIC 0x63061: not a message buffer"
expect_stdout /dev/null

mkdump "$T/bufx" --msgbuf-text "$T/boot.txt" --msgbuf-fault bufx-past-end
run_tool kvmdmesg -N "$T/bufx/netbsd" -M "$T/bufx/netbsd.core"
expect_rc 1
expect_stderr "kvmdmesg: warning: msgbufp: struct kern_msgbuf at $(fact msgbuf): msg_bufx 16389 is outside the 16384-byte ring: reading from its start"
expect_stdout "$T/expected"

mkdump "$T/bufr" --msgbuf-text "$T/boot.txt" --msgbuf-fault bufr-past-end
run_tool kvmdmesg -N "$T/bufr/netbsd" -M "$T/bufr/netbsd.core"
expect_rc 1
expect_stderr "kvmdmesg: warning: msgbufp: struct kern_msgbuf at $(fact msgbuf): msg_bufr -1 is outside the 16384-byte ring: the buffer's pointers are damaged"
expect_stdout "$T/expected"

# A dump without a message buffer, and usage errors.
mkdump "$T/none"
run_tool kvmdmesg -N "$T/none/netbsd" -M "$T/none/netbsd.core"
expect_rc 1
expect_stderr "kvmdmesg: $T/none/netbsd: _msgbufp: no such symbol"
run_tool kvmdmesg -M "$d/netbsd.core"
expect_rc 2
expect_stderr "kvmdmesg: no namelist given (-N system)"
run_tool kvmdmesg -N "$d/netbsd"
expect_rc 2
expect_stderr "kvmdmesg: -N needs -M: without a dump kvmdmesg reads the running host's log"
run_tool kvmdmesg -x
expect_rc 2
run_tool kvmdmesg -N "$d/netbsd" -M "$T/nonexistent"
expect_rc 1
expect_stderr "kvmdmesg: $T/nonexistent: cannot open: No such file or directory"
