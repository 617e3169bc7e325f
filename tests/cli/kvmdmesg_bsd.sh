#!/usr/bin/env bash
# kvmdmesg on FreeBSD and DragonFly crashes made by kvmsynth from a text the
# test wrote: the ring a minidump carries (amd64, i386 PAE, arm64 with 16 KiB
# pages, DragonFly) and the one a full dump holds, unwrapped from the write
# position in struct msgbuf; as their dmesg prints it (<N> left out, other
# facilities only with -a, vis(3) with backslashes); a wrapped, an empty and
# damaged buffers (exact warnings and exit status); no namelist.
source "$(dirname "$0")/lib.sh"

# bsddump DIR ARGS...: kernel, vmcore.0 and facts of a kvmsynth --os crash.
bsddump() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$KVMKIT_BIN/kvmsynth" --kernel "$dir/kernel" --vmcore "$dir/vmcore.0" --facts "$dir/facts" "$@" ||
    fail "kvmsynth $*"
  FACTS=$dir/facts
}

# A boot log with a kernel priority, a line syslogd wrote (LOG_USER), a
# control character, a byte with the top bit set and a backslash.
printf '%s\n' \
  '---<<BOOT>>---' \
  'FreeBSD 14.1-RELEASE releng/14.1-n267679-10e31f0946d8 GENERIC amd64' \
  '<4>pid 812 (sshd), jid 0, uid 0: exited on signal 11' \
  '<13>Nov 21 14:40:00 host root: a line from logger' \
  'panic: bell '$'\a'' and '$'\xe9'' and back\slash' \
  'cpuid = 0' >"$T/boot.txt"
cat >"$T/expected" <<'END'
---<<BOOT>>---
FreeBSD 14.1-RELEASE releng/14.1-n267679-10e31f0946d8 GENERIC amd64
pid 812 (sshd), jid 0, uid 0: exited on signal 11
panic: bell \^G and \M-i and back\\slash
cpuid = 0
END

for variant in freebsd-amd64 freebsd-amd64-full freebsd-i386-pae freebsd-arm64-16k dragonfly-amd64 \
  dragonfly-amd64-full; do
  case $variant in
    freebsd-amd64) args=(--os freebsd) ;;
    freebsd-amd64-full) args=(--os freebsd --full) ;;
    freebsd-i386-pae) args=(--os freebsd --arch i386 --pae) ;;
    freebsd-arm64-16k) args=(--os freebsd --arch arm64 --page-size 16384) ;;
    dragonfly-amd64) args=(--os dragonfly) ;;
    dragonfly-amd64-full) args=(--os dragonfly --full) ;;
  esac
  d=$T/$variant
  bsddump "$d" "${args[@]}" --msgbuf-text "$T/boot.txt" --msgbuf-size 8192
  [[ $(fact msgbuf.written) == "$(wc -c <"$T/boot.txt")" ]] || fail "$variant: written $(fact msgbuf.written)"
  run_tool kvmdmesg -N "$d/kernel" -M "$d/vmcore.0"
  expect_rc 0
  expect_stderr ""
  expect_stdout "$T/expected"
done
d=$T/freebsd-amd64

# -a keeps syslog's line; -r the priorities.
run_tool kvmdmesg -a -N "$d/kernel" -M "$d/vmcore.0"
expect_rc 0
sed '4i Nov 21 14:40:00 host root: a line from logger' "$T/expected" | expect_stdout -
run_tool kvmdmesg -r -N "$d/kernel" -M "$d/vmcore.0"
expect_rc 0
sed 's/^pid 812/<4>&/' "$T/expected" | expect_stdout -

# A wrapped ring: 500 lines of 9 bytes in 4096 bytes keep the last 4096,
# from the oldest (the write position, msg_wseq modulo the size) on.
for i in $(seq -w 1 500); do echo "line $i"; done >"$T/long.txt"
for variant in freebsd-amd64 freebsd-amd64-full dragonfly-amd64; do
  case $variant in
    freebsd-amd64) args=(--os freebsd) keep=4096 ;;
    freebsd-amd64-full) args=(--os freebsd --full) keep=4096 ;;
    # DragonFly keeps msg_bufr..msg_bufx: the kernel moved msg_bufr to
    # 1025 at the 3074th byte and to 2050 at the 4099th, 2450 bytes ago.
    dragonfly-amd64) args=(--os dragonfly) keep=2450 ;;
  esac
  w=$T/wrapped-$variant
  bsddump "$w" "${args[@]}" --msgbuf-text "$T/long.txt" --msgbuf-size 4096
  [[ $(fact msgbuf.write_offset) == 0x194 ]] || fail "$variant: write offset $(fact msgbuf.write_offset)"
  run_tool kvmdmesg -N "$w/kernel" -M "$w/vmcore.0"
  expect_rc 0
  expect_stderr ""
  tail -c $keep "$T/long.txt" | expect_stdout -
done

# An empty ring prints nothing.
bsddump "$T/empty" --os freebsd --msgbuf-text /dev/null
run_tool kvmdmesg -N "$T/empty/kernel" -M "$T/empty/vmcore.0"
expect_rc 0
expect_stderr ""
expect_stdout /dev/null

# Without -N the write position is unknown: the ring from its start, and a
# warning.
w=$T/wrapped-freebsd-amd64
run_tool kvmdmesg -M "$w/vmcore.0"
expect_rc 1
expect_stderr "kvmdmesg: warning: no namelist (-N) names msgbufp, so the write position is unknown: printing the minidump's ring from its start, whose oldest lines may follow its newest"
# The ring from its start: the last 404 bytes written, then bytes 404 to
# 4096 (ending mid-line: dmesg adds the newline).
{
  tail -c 404 "$T/long.txt"
  head -c 4096 "$T/long.txt" | tail -c +405
  echo
} >"$T/from-start"
expect_stdout "$T/from-start"
# A full dump holds no ring of its own: msgbufp is needed.
run_tool kvmdmesg -M "$T/wrapped-freebsd-amd64-full/vmcore.0"
expect_rc 2
expect_stderr "kvmdmesg: no namelist given (-N system)"

# Damaged: a bad magic leaves a minidump's ring printed from its start and
# a full dump's unread; a write position past the ring is a warning.
bsddump "$T/magic" --os freebsd --msgbuf-text "$T/long.txt" --msgbuf-size 4096 --msgbuf-fault bad-magic
run_tool kvmdmesg -N "$T/magic/kernel" -M "$T/magic/vmcore.0"
expect_rc 1
expect_stderr "kvmdmesg: warning: msgbufp: struct msgbuf at $(fact msgbuf.struct): msg_magic is 0xbad0bad, not MSG_MAGIC 0x63062: printing the minidump's ring from its start, whose oldest lines may follow its newest"
expect_stdout "$T/from-start"
bsddump "$T/magic-full" --os freebsd --full --msgbuf-text "$T/long.txt" --msgbuf-fault bad-magic
run_tool kvmdmesg -N "$T/magic-full/kernel" -M "$T/magic-full/vmcore.0"
expect_rc 1
expect_stderr "kvmdmesg: msgbufp: struct msgbuf at $(fact msgbuf.struct): msg_magic is 0xbad0bad, not MSG_MAGIC 0x63062"
expect_stdout /dev/null

bsddump "$T/wseq" --os freebsd --msgbuf-text "$T/boot.txt" --msgbuf-fault bufx-past-end
run_tool kvmdmesg -N "$T/wseq/kernel" -M "$T/wseq/vmcore.0"
expect_rc 1
expect_stderr "kvmdmesg: warning: msgbufp: struct msgbuf at $(fact msgbuf.struct): msg_wseq $((16 * 0x5f00 + 5)) is past msg_seqmod $((16 * 0x5f00)): reading from the ring's start"
expect_stdout "$T/expected"

bsddump "$T/bufx" --os dragonfly --full --msgbuf-text "$T/long.txt" --msgbuf-size 4096 --msgbuf-fault bufx-past-end
run_tool kvmdmesg -N "$T/bufx/kernel" -M "$T/bufx/vmcore.0"
expect_rc 1
expect_stderr "kvmdmesg: warning: msgbufp: struct msgbuf at $(fact msgbuf.struct): msg_bufr 399 to msg_bufx 4500 is 4101 bytes, more than the 4096-byte ring: reading its last 4096"
tail -c 4096 "$T/long.txt" | expect_stdout -
