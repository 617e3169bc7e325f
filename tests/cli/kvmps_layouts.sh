#!/usr/bin/env bash
# Where kvmps takes structure layouts from: the shipped file of the release
# (--print-layout shows it), a file named with --layout, and the DWARF of a
# debug kernel, which wins over the shipped file.
source "$(dirname "$0")/lib.sh"
usage="usage: kvmps [-AaceHjluvwx] [-M core ...] [-N system] [-O list] [-o list] [-p pids] [-t ttys]
             [-U users] [-u users] [-g pgrps] [-s sids] [--gid gids] [--rgid gids] [--json]
             [--layout file] [--zero-excluded]
       kvmps --print-layout -M core -N system [--layout file]"
root=$KVMKIT_TESTS/..
command -v gcc >/dev/null && command -v objcopy >/dev/null || { echo "no gcc or objcopy" >&2; exit 77; }

for arch in amd64 i386; do
  mkdump "$T/$arch" --arch "$arch" --procs
  run_tool kvmps -N "$T/$arch/netbsd" -M "$T/$arch/netbsd.core" --print-layout
  expect_rc 0
  expect_stdout "$root/share/kvmkit/layouts/netbsd-10-$arch.json"
done
d=$T/amd64

# --layout: a file the user names, checked against what the walker needs.
cp "$root/share/kvmkit/layouts/netbsd-10-amd64.json" "$T/mine.json"
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" --layout "$T/mine.json" -o pid -p 1
expect_rc 0
expect_stdout - <<<"PID
  1"
sed '/"p_nice": {/,/}/d' "$T/mine.json" >"$T/no-nice.json"
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" --layout "$T/no-nice.json"
expect_rc 1
expect_stderr "kvmps: $T/no-nice.json lacks proc.p_nice"
run_tool kvmps -N "$T/i386/netbsd" -M "$T/i386/netbsd.core" --layout "$T/mine.json"
expect_rc 2
expect_stderr "kvmps: $T/mine.json: describes netbsd 10 amd64, but the dump is netbsd i386
$usage"
printf '{"format": "kvmkit-layout-1", "os": 3}' >"$T/broken.json"
run_tool kvmps -N "$d/netbsd" -M "$d/netbsd.core" --layout "$T/broken.json"
expect_rc 1
expect_stderr "kvmps: $T/broken.json: os is not a string"

# A kernel whose struct proc differs from NetBSD 10's: three more ints
# before p_pid.  Its layout comes from compiling the changed declarations;
# the tree is planted through it; the kernel file gets that DWARF, as a
# debug kernel (netbsd.gdb) has.
sed 's/^    pid_t p_pid;$/    int p_extra[3];\n    pid_t p_pid;/' "$root/tools/layouts/netbsd10-types.c" >"$T/types.c"
grep -q p_extra "$T/types.c" || fail "could not change the declarations"
gcc -m64 -g -ffreestanding -nostdlib -shared -o "$T/types.so" "$T/types.c"
"$KVMKIT_BIN/mklayout" --dwarf "$T/types.so" --constants "$root/tools/layouts/netbsd-10-constants.json" \
  --arch amd64 --cflags -m64 -o "$T/changed.json"
mkdump "$T/changed" --procs --layout "$T/changed.json"
args=()
for s in debug_info debug_abbrev debug_str debug_line debug_line_str; do
  objcopy --dump-section ".$s=$T/$s.bin" "$T/types.so" "$T/scratch.so" 2>/dev/null && args+=(--add-section ".$s=$T/$s.bin")
done
objcopy "${args[@]}" "$T/changed/netbsd" "$T/changed/netbsd.gdb"

run_tool kvmps -N "$T/amd64/netbsd" -M "$T/amd64/netbsd.core"
cp "$T/out" "$T/expected"
run_tool kvmps -N "$T/changed/netbsd.gdb" -M "$T/changed/netbsd.core"
expect_rc 0
expect_stderr ""
expect_stdout "$T/expected"
run_tool kvmps -N "$T/changed/netbsd.gdb" -M "$T/changed/netbsd.core" --print-layout
grep -q "\"derived\": \"structure layouts read with libdw from the DWARF of $T/changed/netbsd.gdb; flags, values and device names from " "$T/out" ||
  fail "--print-layout does not say the layouts came from DWARF"
grep -A1 '"p_pid": {' "$T/out" | grep -q '"offset": 184' || fail "p_pid is not at 184 in the DWARF layouts"
# The shipped layouts do not fit that kernel: its pids read from the wrong place.
run_tool kvmps -N "$T/changed/netbsd" -M "$T/changed/netbsd.core" -o pid
cmp -s "$T/out" <(cut -c1-3 "$T/expected" | sed 's/ *$//') && fail "shipped layouts read the changed kernel correctly"
exit 0
