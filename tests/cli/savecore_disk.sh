#!/usr/bin/env bash
# savecore against real filesystems: a full disk (a small tmpfs this test
# mounts), zero pages left as holes, and gzip output checked with gzip(1).
source "$(dirname "$0")/lib.sh"
export TZ=UTC

mkdir "$T/small"
mount -t tmpfs -o size=8m,mode=0700 kvmkit-test "$T/small" 2>/dev/null || {
  echo "SKIP: cannot mount a tmpfs (not root, or no mount namespace)" >&2
  exit 77
}
trap 'umount "$T/small" 2>/dev/null; rm -rf "$T"' EXIT

now=$(date +%s)
mkdump "$T/m" --crash-time "$now"
swap=$T/m/swap.img
kernel=$T/m/netbsd
cp "$swap" "$T/swap.orig"
down=$(date -u -d "@$now" '+%a %b %e %H:%M:%S %Y')
panic='reboot after panic: kernel diagnostic assertion "l->l_stat == LSONPROC" failed: file "/usr/src/sys/kern/kern_synch.c", line 735'

# An 18 MiB dump on an 8 MiB filesystem: NetBSD only warns when minfree is
# 0, the write fails, the partial file goes, the dump stays.
run_tool savecore -N "$kernel" "$T/small" "$swap"
expect_rc 1
sed -n 1,5p "$T/err" >"$T/head"
diff -u - "$T/head" <<END || fail "stderr before the failure"
savecore: $panic
savecore: system went down at $down
savecore: dump performed, but free space threshold crossed
savecore: $T/small/bounds: no such file; starting at 0
savecore: writing core to $T/small/netbsd.0.core
END
sed -n 6p "$T/err" | grep -Eqx "savecore: $T/small/netbsd\.0\.core\.tmp: write of [0-9]+ bytes at offset 0x[0-9a-f]+ failed: No space left on device" ||
  fail "no ENOSPC message: $(cat "$T/err")"
sed -n '7,$p' "$T/err" | diff -u - <(echo "savecore: $T/small/netbsd.0.core: not saved; the partial file was removed and the dump left on $swap") ||
  fail "stderr after the failure"
[[ $(ls -A "$T/small") == bounds ]] || fail "left behind: $(ls -A "$T/small")"
cmp -s "$T/swap.orig" "$swap" || fail "the dump was cleared although it was not saved"

# With room, the next run saves it (bounds moved on to 1 before the failure).
mount -o remount,size=64m "$T/small"
run_tool savecore -N "$kernel" "$T/small" "$swap"
expect_rc 0
cmp "$T/small/netbsd.1.core" "$T/m/netbsd.core" || fail "the core saved after the full disk differs"
run_tool savecore -n -N "$kernel" "$swap"
expect_rc 1

# A machine whose free RAM is zero: the core is mostly holes, on tmpfs and
# on the test's own filesystem when it reports holes.
mkdump "$T/z" --crash-time "$now" --zero-memory
rm -rf "$T/small"/*
mkdir "$T/disk"
for dir in "$T/small" "$T/disk"; do
  cp "$T/z/swap.img" "$T/zswap.img"
  run_tool savecore -N "$T/z/netbsd" "$dir" "$T/zswap.img"
  expect_rc 0
  core=$dir/netbsd.0.core
  cmp "$core" "$T/z/netbsd.core" || fail "sparse core in $dir differs"
  size=$(stat -c %s "$core")
  allocated=$(($(stat -c %b "$core") * $(stat -c %B "$core")))
  echo "$dir: $size bytes, $allocated allocated"
  # Does this filesystem keep holes?  A file with a 1 MiB hole says.
  printf x | dd of="$dir/probe" bs=1 seek=1048576 status=none
  if (($(stat -c %b "$dir/probe") * $(stat -c %B "$dir/probe") < 1048576)); then
    ((allocated * 8 < size)) || fail "$core: $allocated of $size bytes allocated; zero pages were written"
  else
    [[ $dir != "$T/small" ]] || fail "tmpfs keeps no holes?"
    echo "$dir: the filesystem keeps no holes; not checked"
  fi
done

# -z: gzip members; gzip -t agrees, and it inflates to the core.
cp "$T/swap.orig" "$swap"
mkdir "$T/gz"
run_tool savecore -z -N "$kernel" "$T/gz" "$swap"
expect_rc 0
[[ $(ls "$T/gz" | tr '\n' ' ') == "bounds netbsd.0.core.gz netbsd.0.gz " ]] || fail "files: $(ls "$T/gz")"
gzip -t "$T/gz/netbsd.0.core.gz" "$T/gz/netbsd.0.gz" || fail "gzip -t"
zcat "$T/gz/netbsd.0.core.gz" | cmp - "$T/m/netbsd.core" || fail "netbsd.0.core.gz does not inflate to the core"
zcat "$T/gz/netbsd.0.gz" | cmp - "$kernel" || fail "netbsd.0.gz does not inflate to the kernel"
# Header: deflate, FEXTRA, no mtime, XFL 4 (level 1), Unix, XLEN 20, the
# 'KV' subfield of 16 bytes; the last member holds no data and records the
# core's size.
[[ $(head -c 16 "$T/gz/netbsd.0.core.gz" | od -An -tx1 | tr -d ' \n') == 1f8b080400000000040314004b561000 ]] || fail "gzip header"
gzsize=$(stat -c %s "$T/gz/netbsd.0.core.gz")
total=$(od -An -tu8 -j$((gzsize - 42 + 24)) -N8 "$T/gz/netbsd.0.core.gz" | tr -d ' ')
[[ $total == $(stat -c %s "$T/m/netbsd.core") ]] || fail "end member's size $total"
[[ $(stat -c %a "$T/gz/netbsd.0.core.gz") == 600 ]] || fail "mode of netbsd.0.core.gz"
cp "$T/swap.orig" "$swap"
mkdir "$T/gz9"
run_tool savecore -z -Z 9 -N "$kernel" "$T/gz9" "$swap"
expect_rc 0
[[ $(head -c 10 "$T/gz9/netbsd.0.core.gz" | od -An -tx1 | tr -d ' \n') == 1f8b0804000000000203 ]] || fail "gzip -9 header"
zcat "$T/gz9/netbsd.0.core.gz" | cmp - "$T/m/netbsd.core" || fail "netbsd.0.core.gz (-Z 9) does not inflate to the core"
((($(stat -c %s "$T/gz9/netbsd.0.core.gz")) < $(stat -c %s "$T/gz/netbsd.0.core.gz"))) || fail "-Z 9 is not smaller than -Z 1"
