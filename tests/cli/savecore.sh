#!/usr/bin/env bash
# savecore end to end on a synthetic crash: save, the files it writes, the
# device bytes it changes, a second run, -n, -c, -f, -v, --dumplo, fstab
# devices, usage errors.
source "$(dirname "$0")/lib.sh"
export TZ=UTC

now=$(date +%s)
mkdump "$T/m" --crash-time "$now"
swap=$T/m/swap.img
kernel=$T/m/netbsd
cp "$swap" "$T/swap.orig"
mkdir "$T/crash"
down=$(date -u -d "@$now" '+%a %b %e %H:%M:%S %Y')
panic='reboot after panic: kernel diagnostic assertion "l->l_stat == LSONPROC" failed: file "/usr/src/sys/kern/kern_synch.c", line 735'

# Exactly these device bytes differ from the image as written: dumpmag.
changed_bytes() {
  cmp -l "$T/swap.orig" "$swap" | awk '{ printf "%d:%s ", $1 - 1, $3 }' || true
}

# Usage errors exit 1, as on NetBSD.
run_tool savecore -Z 12 -N "$kernel" "$T/crash" "$swap"
expect_rc 1
expect_stderr "savecore: Invalid compression \`12'
usage: savecore [-fkuvz] [--zstd] [-m maxdumps] [-N system] [-Z level] [--dumplo blocks] [directory [device ...]]
       savecore -c [-v] [-N system] [--dumplo blocks] [device ...]
       savecore -C | -n [-v] [-N system] [--dumplo blocks] [device ...]"
run_tool savecore --no-such-option
expect_rc 1
grep -q '^usage: savecore \[-fkuvz\]' "$T/err" || fail "no usage after a bad option"
run_tool savecore -h
expect_rc 0
grep -q -- '--dumplo' "$T/out" || fail "help does not list --dumplo"

# -n: a dump is there; nothing is written.
run_tool savecore -n -N "$kernel" "$swap"
expect_rc 0
expect_stderr ""
[[ -z $(changed_bytes) ]] || fail "-n wrote to the device"

# Save.
run_tool savecore -N "$kernel" "$T/crash" "$swap"
expect_rc 0
expect_stdout /dev/null
expect_stderr "savecore: $panic
savecore: system went down at $down
savecore: $T/crash/bounds: no such file; starting at 0
savecore: writing core to $T/crash/netbsd.0.core
savecore: writing kernel to $T/crash/netbsd.0"
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds netbsd.0 netbsd.0.core " ]] || fail "files: $(ls "$T/crash")"
cmp "$T/crash/netbsd.0.core" "$T/m/netbsd.core" || fail "the core differs from the kcore file kvmsynth wrote"
cmp "$T/crash/netbsd.0" "$kernel" || fail "the kernel copy differs"
[[ $(cat "$T/crash/bounds") == 1 ]] || fail "bounds is $(cat "$T/crash/bounds")"
for f in bounds netbsd.0 netbsd.0.core; do
  [[ $(stat -c %a "$T/crash/$f") == 600 ]] || fail "$f has mode $(stat -c %a "$T/crash/$f")"
done
# dumpmag (01 01 ca 8f on the device) is now zero, and nothing else changed.
changes=$(changed_bytes)
[[ $(wc -w <<<"$changes") -eq 4 ]] || fail "device changes: $changes"
first=${changes%%:*}
[[ $changes == "$first:0 $((first + 1)):0 $((first + 2)):0 $((first + 3)):0 " ]] || fail "device changes: $changes"
[[ $(od -An -tx1 -j "$first" -N4 "$T/swap.orig" | tr -d ' ') == 0101ca8f ]] || fail "the bytes cleared were not dumpmag"

# A second run finds no dump; so do -n and -c.
run_tool savecore -N "$kernel" "$T/crash" "$swap"
expect_rc 1
expect_stderr "savecore: $swap: no core dump"
run_tool savecore -n -N "$kernel" "$swap"
expect_rc 1
expect_stderr "savecore: $swap: no core dump"
run_tool savecore -c -N "$kernel" "$swap"
expect_rc 1

# -v says why; -f saves it anyway (as netbsd.1).
run_tool savecore -n -v -N "$kernel" "$swap"
expect_rc 1
dumplo=$(fact dumplo)
expect_stderr "savecore: checking for a dump on $swap
savecore: $swap: amd64 dump at offset $(printf '%#x' $((dumplo * 512))) (dumplo $dumplo): 18472960 bytes of memory in 3 segments
savecore: $swap: magic number mismatch (0x0 != 0x8fca0101)
savecore: $swap: no core dump"
run_tool savecore -f -N "$kernel" "$T/crash" "$swap"
expect_rc 0
[[ -f $T/crash/netbsd.1.core && $(cat "$T/crash/bounds") == 2 ]] || fail "-f did not save netbsd.1.core"

# -c on a live dump clears it, touching only dumpmag; --dumplo finds it
# without a scan, a wrong --dumplo finds nothing.
cp "$T/swap.orig" "$swap"
run_tool savecore -n --dumplo $((dumplo + 1)) -N "$kernel" "$swap"
expect_rc 1
expect_stderr "savecore: $swap: no core dump"
run_tool savecore -n --dumplo "$dumplo" -N "$kernel" "$swap"
expect_rc 0
run_tool savecore -c -v --dumplo "$dumplo" -N "$kernel" "$swap"
expect_rc 0
expect_stderr "savecore: checking for a dump on $swap
savecore: $swap: amd64 dump at offset $(printf '%#x' $((dumplo * 512))) (dumplo $dumplo): 18472960 bytes of memory in 3 segments
savecore: $swap: dump cleared"
[[ $(changed_bytes) == "$changes" ]] || fail "-c changed $(changed_bytes)"

# Devices from fstab when none is named; none at all is an error.
cp "$T/swap.orig" "$swap"
printf '# test fstab\n/dev/sda1 / ext4 defaults 0 1\n%s none swap sw 0 0\n' "$swap" >"$T/fstab"
mkdir "$T/crash2"
run_tool savecore --fstab "$T/fstab" -N "$kernel" "$T/crash2"
expect_rc 0
cmp "$T/crash2/netbsd.0.core" "$T/m/netbsd.core" || fail "the core saved from the fstab device differs"
printf '/dev/sda1 / ext4 defaults 0 1\n' >"$T/fstab"
run_tool savecore -n --fstab "$T/fstab" -N "$kernel"
expect_rc 1
expect_stderr "savecore: no dump device: none named, and $T/fstab lists no swap or dump device"

# Several devices: the one without a dump is reported, the other saved.
cp "$T/swap.orig" "$swap"
head -c 1048576 /dev/zero >"$T/empty.img"
mkdir "$T/crash3"
run_tool savecore -N "$kernel" "$T/crash3" "$T/empty.img" "$swap"
expect_rc 0
head -1 "$T/err" | grep -qx "savecore: $T/empty.img: no core dump" || fail "$(cat "$T/err")"
cmp "$T/crash3/netbsd.0.core" "$T/m/netbsd.core" || fail "the core saved from the second device differs"

# No namelist, no device.
run_tool savecore -n -N "$T/none" "$swap"
expect_rc 1
expect_stderr "savecore: $T/none: cannot open: No such file or directory"
run_tool savecore -n -N "$kernel" "$T/none.img"
expect_rc 1
expect_stderr "savecore: $T/none.img: cannot open: No such file or directory"
