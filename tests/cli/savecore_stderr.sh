#!/usr/bin/env bash
# savecore saves the dump whatever became of its stderr: closed (with stdin
# and stdout, as a daemon or a stripped-down rc may start it), or a pipe
# whose reader has gone (the parent died), with SIGPIPE as inherited or
# ignored.  The messages still go to syslog; none may land in a file
# savecore writes, and the dump is cleared only once saved.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

mkdump "$T/m" --crash-time "$(date +%s)"
swap=$T/m/swap.img
kernel=$T/m/netbsd
cp "$swap" "$T/swap.orig"

# saved DIR [gz]: DIR holds exactly the saved files, which match the dump;
# the device is cleared.
saved() {
  local dir=$1 gz=${2:-}
  local files="bounds netbsd.0 netbsd.0.core "
  [[ -z $gz ]] || files="bounds netbsd.0.core.gz netbsd.0.gz "
  [[ $(ls "$dir" | tr '\n' ' ') == "$files" ]] || fail "$dir: $(ls "$dir")"
  if [[ -n $gz ]]; then
    zcat "$dir/netbsd.0.core.gz" | cmp - "$T/m/netbsd.core" || fail "$dir: the core differs"
    zcat "$dir/netbsd.0.gz" | cmp - "$kernel" || fail "$dir: the kernel copy differs"
  else
    cmp "$dir/netbsd.0.core" "$T/m/netbsd.core" || fail "$dir: the core differs"
    cmp "$dir/netbsd.0" "$kernel" || fail "$dir: the kernel copy differs"
  fi
  run_tool savecore -n -N "$kernel" "$swap"
  expect_rc 1
  cp "$T/swap.orig" "$swap"
}

# Descriptors 0, 1 and 2 closed; -v so that there is much to say.
for z in "" -z; do
  mkdir "$T/closed$z"
  rc=0
  "$KVMKIT_BIN/savecore" -v $z -N "$kernel" "$T/closed$z" "$swap" <&- >&- 2>&- || rc=$?
  [[ $rc -eq 0 ]] || fail "with 0, 1 and 2 closed: exit status $rc"
  saved "$T/closed$z" "${z:+.gz}"
done

# A pipe with no reader: every message fails with EPIPE.  The FIFO is
# opened for reading and writing, then for writing, and the first
# descriptor closed, which leaves a write end with no reader at all.
mkfifo "$T/fifo"
exec 3<>"$T/fifo" 4>"$T/fifo" 3<&-
for pipe in inherited ignored; do
  mkdir "$T/$pipe"
  rc=0
  if [[ $pipe == ignored ]]; then
    (trap '' PIPE && exec "$KVMKIT_BIN/savecore" -v -z -N "$kernel" "$T/$pipe" "$swap" 2>&4) || rc=$?
  else
    "$KVMKIT_BIN/savecore" -v -z -N "$kernel" "$T/$pipe" "$swap" 2>&4 || rc=$?
  fi
  [[ $rc -eq 0 ]] || fail "stderr a pipe without a reader, SIGPIPE $pipe: exit status $rc"
  saved "$T/$pipe" .gz
done
exec 4>&-
