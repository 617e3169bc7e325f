#!/usr/bin/env bash
# Opt-in (KVMKIT_DEBUG_VMLINUX=1, or the vmlinux already cached): kvmps -N
# with the realdump kernel's debug vmlinux reads the structures from DWARF,
# flexible array members (pid.numbers) included, and lists what the
# kernel's own BTF lists.  tests/realdump/debug-vmlinux.sh fetches the
# vmlinux (about 280 MB) once into /tmp/realdump-cache.
source "$(dirname "$0")/lib.sh"
dir=${REALDUMP_DIR:-}
[[ -n $dir && -f $dir/vmcore.kdump && -f $dir/manifest.txt ]] || { echo "no realdump (REALDUMP_DIR)" >&2; exit 77; }
release=$(sed -n 's/^kernel_release=//p' "$dir/manifest.txt")
cache=${REALDUMP_CACHE:-/tmp/realdump-cache}
if [[ ! -s $cache/vmlinux-$release && ${KVMKIT_DEBUG_VMLINUX:-0} != 1 ]]; then
  echo "no debug vmlinux in $cache (KVMKIT_DEBUG_VMLINUX=1 fetches it)" >&2
  exit 77
fi
vmlinux=$("$(dirname "$0")/../realdump/debug-vmlinux.sh" "$dir" "$cache") || fail "fetching the debug vmlinux"

run_tool kvmps -N "$dir/System.map" -M "$dir/vmcore.kdump" -H -o pid,lid,ppid,pgid,sid,uid,gid,tt,stat,comm
expect_rc 0
cp "$T/out" "$T/btf"
run_tool kvmps -N "$vmlinux" -M "$dir/vmcore.kdump" -H -o pid,lid,ppid,pgid,sid,uid,gid,tt,stat,comm
expect_rc 0
expect_stderr ""
expect_stdout "$T/btf"
run_tool kvmps -N "$vmlinux" -M "$dir/vmcore.kdump" --print-layout
expect_rc 0
grep -q '"derived": "structure layouts read with libdw from the DWARF of ' "$T/out" || fail "the layouts are not DWARF's: $(head -c 300 "$T/out")"
python3 - "$T/out" <<'PY' || fail "pid.numbers"
import json, sys
numbers = json.load(open(sys.argv[1]))["structs"]["pid"]["members"]["numbers"]
assert numbers["size"] == 0 and numbers["type"] == "struct upid[]", numbers
PY
