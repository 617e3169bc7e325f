#!/usr/bin/env bash
# savecore's messages reach syslog with facility daemon and NetBSD's
# priorities.  syslog(3) writes to /dev/log: in a private mount namespace
# the test binds a directory holding its own socket over /dev.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

command -v python3 >/dev/null && command -v unshare >/dev/null || {
  echo "SKIP: needs python3 and unshare" >&2
  exit 77
}
unshare -m true 2>/dev/null || {
  echo "SKIP: cannot make a mount namespace" >&2
  exit 77
}

mkdump "$T/m" --crash-time "$(date +%s)"
mkdir "$T/crash" "$T/dev"

# Collects datagrams on $T/dev/log until savecore is done.
python3 - "$T/dev/log" "$T/syslog" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w") as out:
    while True:
        try:
            msg = s.recv(65536).decode()
        except socket.timeout:
            break
        if msg == "done":
            break
        out.write(msg + "\n")
PY
listener=$!
for ((i = 0; i < 500; i++)); do [[ -S $T/dev/log ]] && break; sleep 0.02; done
[[ -S $T/dev/log ]] || fail "the listener did not start"

rc=0
unshare -m sh -c 'mount --bind "$1" /dev && shift && exec "$@"' sh "$T/dev" \
  "$KVMKIT_BIN/savecore" -N "$T/m/netbsd" "$T/crash" "$T/m/swap.img" 2>"$T/err" || rc=$?
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"done", sys.argv[1])' "$T/dev/log"
wait "$listener"
[[ $rc -eq 0 ]] || fail "savecore exited $rc: $(cat "$T/err")"

# "<PRI>Mmm dd hh:mm:ss savecore: message": PRI = 3 (daemon) * 8 + level.
sed -E 's/^<([0-9]+)>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} /\1 /' "$T/syslog" >"$T/got"
diff -u - "$T/got" <<END || fail "syslog differs"
25 savecore: reboot after panic: kernel diagnostic assertion "l->l_stat == LSONPROC" failed: file "/usr/src/sys/kern/kern_synch.c", line 735
29 savecore: system went down at $(date -u -d "@$(fact crash_time)" '+%a %b %e %H:%M:%S %Y')
28 savecore: $T/crash/bounds: no such file; starting at 0
29 savecore: writing core to $T/crash/netbsd.0.core
29 savecore: writing kernel to $T/crash/netbsd.0
END
# And the same messages on stderr.
sed -E 's/^[0-9]+ //' "$T/got" | diff -u - "$T/err" || fail "stderr differs from syslog"
