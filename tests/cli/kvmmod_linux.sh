#!/usr/bin/env bash
# kvmmod on a real Linux vmcore (REALDUMP_DIR; scripts/test.sh sets it): the
# module list as the guest's /proc/modules had it (truth/modules.txt), on
# the ELF, kdump and flattened files; -s against the module lines of
# truth/kallsyms.full.txt; kvmnm naming addresses inside modules; usage.
source "$(dirname "$0")/lib.sh"
if [[ -z ${REALDUMP_DIR:-} ]]; then
  echo "REALDUMP_DIR is not set: real-dump test not run (scripts/test.sh sets it)" >&2
  exit 77
fi
D=$REALDUMP_DIR
map=$D/System.map

for core in vmcore.kdump vmcore.elf vmcore.kdump-flat; do
  run_tool kvmmod -N "$map" -M "$D/$core" --json
  expect_rc 0
  expect_stderr ""
  # /proc/modules' line from each JSON object: name size refs users, state address.
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    users = "".join(u + "," for u in m["used_by"]) or "-"
    print(m["name"], m["size"], m["refs"], users, m["state"], m["base"])
' <"$T/out" >"$T/modules"
  diff -u "$D/truth/modules.txt" "$T/modules" >&2 || fail "$core: the module list differs from truth/modules.txt"
done

# The table: a header, then one line per module in the same order.
run_tool kvmmod -N "$map" -M "$D/vmcore.kdump"
expect_rc 0
[[ $(head -1 "$T/out" | tr -s ' ') == "Module Address Size Used State by" ]] || fail "header: $(head -1 "$T/out")"
[[ $(tail -n +2 "$T/out" | awk '{ print $1 }') == $(awk '{ print $1 }' "$D/truth/modules.txt") ]] ||
  fail "table order: $(cat "$T/out")"
line=$(grep '^virtio_ring ' "$T/out" | tr -s ' ')
want=$(awk '$1 == "virtio_ring" { sub(/,$/, "", $4); print $1, $6, $2, $3, $5, $4 }' "$D/truth/modules.txt")
[[ $line == "$want" ]] || fail "virtio_ring: [$line], expected [$want]"

# -s: every module symbol as /proc/kallsyms lists it.
run_tool kvmmod -N "$map" -M "$D/vmcore.kdump" -s
expect_rc 0
grep -P '\t\[' "$D/truth/kallsyms.full.txt" | sort >"$T/truth.syms"
sort "$T/out" >"$T/dump.syms"
diff -u "$T/truth.syms" "$T/dump.syms" >&2 || fail "-s differs from the module lines of kallsyms.full.txt"

# kvmnm: an address inside a module, and a module symbol by name.
sym=$(awk -F'[ \t]' '$3 == "fw_cfg_showrev" { print $1 }' "$D/truth/kallsyms.full.txt")
[[ -n $sym ]] || fail "no fw_cfg_showrev in kallsyms.full.txt"
addr=$(printf '%#x' $((16#$sym + 6)))
run_tool kvmnm -N "$map" -M "$D/vmcore.kdump" "$addr" fw_cfg_showrev
expect_rc 0
expect_stderr ""
size=$(awk '$0 ~ /fw_cfg_showrev/' "$T/out" | head -1 | grep -o '(size 0x[0-9a-f]*)' || true)
[[ $(head -1 "$T/out") == "$addr: fw_cfg_showrev+0x6 [qemu_fw_cfg] $size" ]] || fail "kvmnm address: $(cat "$T/out")"
[[ $(sed -n 2p "$T/out") == "$sym t fw_cfg_showrev [qemu_fw_cfg]" ]] || fail "kvmnm name: $(cat "$T/out")"

# Usage: a dump is needed, and its kernel's symbols.
run_tool kvmmod -N "$map"
expect_rc 2
expect_stderr "kvmmod: no dump given (-M): the running host's modules are in /proc/modules"
run_tool kvmmod -M "$D/vmcore.kdump"
expect_rc 2
expect_stderr "kvmmod: listing the modules of a Linux dump needs the kernel's symbols (modules, and __start_BTF and __stop_BTF for its type information): give -N System.map, the crashed kernel's /proc/kallsyms, or its vmlinux"
exit 0
