#!/usr/bin/env bash
# savecore end to end on FreeBSD and DragonFly dump devices made by
# kvmsynth --bsd-device: -C, save, the files and links, the device bytes it
# changes (the trailer's magic only), -f, -k, -m, -u with gzip and zstd, a
# textdump read back by tar, a DragonFly kernel copy; and kvmdump reading a
# dump in place on the device.
source "$(dirname "$0")/lib.sh"
export TZ=UTC
for tool in tar gzip zstd cmp; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 77; }
done

seq 1 40000 >"$T/body"
mkdir "$T/crash"
dev=$T/freebsd.img
"$KVMKIT_BIN/kvmsynth" --bsd-device "$dev" --body "$T/body" --facts "$T/facts" || fail "kvmsynth --bsd-device"
FACTS=$T/facts
cp "$dev" "$T/orig"
trailer=$(fact trailer)

# Device bytes that differ from the image as written, as "offset:byte".
changed() {
  cmp -l "$T/orig" "$dev" | awk '{ printf "%d:%s ", $1 - 1, $3 }' || true
}

run_tool savecore -C "$dev"
expect_rc 0
expect_stderr ""

run_tool savecore "$T/crash" "$dev"
expect_rc 0
expect_stderr "savecore: reboot after panic: vm_fault_lookup: fault on nofault entry, addr: 0xfffffe00f8a3c000
savecore: $T/crash/bounds: no such file; starting at 0
savecore: writing core to $T/crash/vmcore.0"
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds info.0 info.last vmcore.0 vmcore.last " ]] || fail "files: $(ls "$T/crash")"
cmp "$T/crash/vmcore.0" "$T/body" || fail "vmcore.0 differs from the body"
[[ $(readlink "$T/crash/vmcore.last") == vmcore.0 ]] || fail "vmcore.last -> $(readlink "$T/crash/vmcore.last")"
[[ $(readlink "$T/crash/info.last") == info.0 ]] || fail "info.last"
cat >"$T/info" <<EOF
Dump header from device: $dev
  Architecture: amd64
  Architecture Version: 2
  Dump Length: $(stat -c %s "$T/body")
  Blocksize: 512
  Compression: none
  Dumptime: 2024-11-21 14:40:00 +0000
  Hostname: $(fact hostname)
  Magic: FreeBSD Kernel Dump
  Version String: FreeBSD 14.1-RELEASE #0 releng/14.1-n267679-10e31f0946d8: Fri May 31 00:00:00 UTC 2024
    root@releng3.nyi.freebsd.org:/usr/obj/usr/src/amd64.amd64/sys/GENERIC
  Panic String: vm_fault_lookup: fault on nofault entry, addr: 0xfffffe00f8a3c000
  Dump Parity: $(fact parity)
  Bounds: 0
  Dump Status: good
EOF
diff -u "$T/info" "$T/crash/info.0" || fail "info.0 differs"
for f in vmcore.0 info.0 bounds; do
  [[ $(stat -c %a "$T/crash/$f") == 600 ]] || fail "$f has mode $(stat -c %a "$T/crash/$f")"
done
# "FreeBSD" became "Cleared" in the trailer's magic; nothing else changed.
expected=""
was=FreeBSD now=Cleared
for i in 0 1 2 3 4 5 6; do
  [[ ${was:$i:1} == "${now:$i:1}" ]] || expected+="$((trailer + i)):$(printf '%o' "'${now:$i:1}") "
done
[[ $(changed) == "$expected" ]] || fail "device changes: $(changed), expected $expected"

run_tool savecore -C "$dev"
expect_rc 1
expect_stderr "savecore: $dev: no core dump"

# -f -k saves the cleared dump again and leaves the device as it is.
cp "$dev" "$T/cleared"
run_tool savecore -f -k "$T/crash" "$dev"
expect_rc 0
cmp "$T/crash/vmcore.1" "$T/body" || fail "vmcore.1 differs"
cmp "$dev" "$T/cleared" || fail "-k wrote to the device"
[[ $(readlink "$T/crash/vmcore.last") == vmcore.1 ]] || fail "vmcore.last after -f"

# -m 2: bounds is 2, so the number wraps to 0 and dump 0 goes first.
run_tool savecore -f -k -m 2 "$T/crash" "$dev"
expect_rc 0
grep -qx "savecore: $T/crash/vmcore.0: removed: at most 2 dumps are kept (-m)" "$T/err" || fail "-m: $(cat "$T/err")"
[[ $(cat "$T/crash/bounds") == 1 ]] || fail "bounds after -m: $(cat "$T/crash/bounds")"
[[ $(ls "$T/crash" | tr '\n' ' ') == "bounds info.0 info.1 info.last vmcore.0 vmcore.1 vmcore.last " ]] ||
  fail "files after -m: $(ls "$T/crash")"

# Compressed by the kernel: kept as is, or uncompressed with -u.
for method in gzip zstd; do
  ext=$([[ $method == gzip ]] && echo gz || echo zst)
  d=$T/$method.img
  "$KVMKIT_BIN/kvmsynth" --bsd-device "$d" --body "$T/body" --bsd-compress $method || fail "kvmsynth $method"
  mkdir "$T/c-$method"
  run_tool savecore -k "$T/c-$method" "$d"
  expect_rc 0
  grep -qx "savecore: writing compressed core to $T/c-$method/vmcore.0.$ext" "$T/err" || fail "$method: $(cat "$T/err")"
  $method -dc "$T/c-$method/vmcore.0.$ext" | cmp - "$T/body" || fail "$method -dc vmcore.0.$ext differs"
  [[ $(readlink "$T/c-$method/vmcore.last.$ext") == vmcore.0.$ext ]] || fail "vmcore.last.$ext"
  run_tool savecore -u "$T/c-$method" "$d"
  expect_rc 0
  cmp "$T/c-$method/vmcore.1" "$T/body" || fail "-u of $method differs"
  grep -qx "  Compression: $method" "$T/c-$method/info.1" || fail "info.1 of $method"
done

# A textdump: the archive comes back in order.
t=$T/text.img
"$KVMKIT_BIN/kvmsynth" --bsd-device "$t" --textdump || fail "kvmsynth --textdump"
mkdir "$T/c-text"
run_tool savecore "$T/c-text" "$t"
expect_rc 0
[[ $(tar tf "$T/c-text/textdump.tar.0" | tr '\n' ' ') == "msgbuf.txt panic.txt version.txt ddb.txt config.txt " ]] ||
  fail "textdump files: $(tar tf "$T/c-text/textdump.tar.0")"
[[ $(tar xOf "$T/c-text/textdump.tar.0" panic.txt) == "vm_fault_lookup: fault on nofault entry, addr: 0xfffffe00f8a3c000" ]] ||
  fail "panic.txt"
[[ $(readlink "$T/c-text/textdump.tar.last") == textdump.tar.0 ]] || fail "textdump.tar.last"

# DragonFly: the kernel named by -N is copied to kern.N; no links.
printf 'a DragonFly kernel\n' >"$T/kernel"
f=$T/dfly.img
"$KVMKIT_BIN/kvmsynth" --bsd-device "$f" --bsd-os dragonfly --body "$T/body" || fail "kvmsynth dragonfly"
mkdir "$T/c-dfly"
run_tool savecore -N "$T/kernel" "$T/c-dfly" "$f"
expect_rc 0
expect_stderr "savecore: reboot after panic: assertion \"lp->lwp_stat == LSRUN\" failed in lwkt_schedule
savecore: $T/c-dfly/bounds: no such file; starting at 0
savecore: writing core to $T/c-dfly/vmcore.0
savecore: writing kernel to $T/c-dfly/kern.0"
[[ $(ls "$T/c-dfly" | tr '\n' ' ') == "bounds info.0 kern.0 vmcore.0 " ]] || fail "DragonFly files: $(ls "$T/c-dfly")"
cmp "$T/c-dfly/kern.0" "$T/kernel" || fail "kern.0 differs"
grep -qx "  Magic: DragonFly Kern Dump" "$T/c-dfly/info.0" || fail "DragonFly info.0"

# A damaged header: refused, nothing written.
cp "$T/orig" "$T/bad.img"
printf 'X' | dd of="$T/bad.img" bs=1 seek=$((trailer + 70)) conv=notrunc status=none
mkdir "$T/c-bad"
run_tool savecore "$T/c-bad" "$T/bad.img"
expect_rc 1
head -1 "$T/err" | grep -q "parity check failed" || fail "bad parity: $(cat "$T/err")"
[[ -z $(ls "$T/c-bad") ]] || fail "a refused dump wrote $(ls "$T/c-bad")"

# kvmdump reads a dump on the device in place: a NetBSD kcore as the body
# (any format the library reads will do).
mkdump "$T/m" --zero-memory
"$KVMKIT_BIN/kvmsynth" --bsd-device "$T/kcore.img" --body "$T/m/netbsd.core" || fail "kvmsynth around a kcore"
run_tool kvmdump -N "$T/m/netbsd" -M "$T/m/netbsd.core" -r -n 64 version
expect_rc 0
cp "$T/out" "$T/expected"
run_tool kvmdump -N "$T/m/netbsd" -M "$T/kcore.img" -r -n 64 version
expect_rc 0
expect_stdout "$T/expected"
# A compressed body cannot be read in place.
run_tool kvmdump -N "$T/m/netbsd" -M "$T/gzip.img" -r version
expect_rc 1
expect_stderr "kvmdump: $T/gzip.img: the dump body is compressed (gzip, kerneldumpheader compression 1) and cannot be read in place; save it with savecore -u, or uncompress the saved vmcore.N.gz"
