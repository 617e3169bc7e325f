# kvmnm with neither -N nor -M: the running kernel's symbols, from
# /proc/kallsyms, checked against that file as it reads at the same time.
source "$(dirname "$0")/lib.sh"

kallsyms=/proc/kallsyms
if [[ ! -r $kallsyms ]]; then
  echo "SKIP: no readable $kallsyms on this host" >&2
  exit 77
fi
cp "$kallsyms" "$T/kallsyms"

# kptr_restrict hides the addresses: every one reads 0, and kvmnm refuses.
if ! awk '$1 !~ /^0+$/ { found = 1; exit } END { exit !found }' "$T/kallsyms"; then
  run_tool kvmnm _text
  expect_rc 1
  grep -q "kptr_restrict" "$T/err" || fail "no word of kptr_restrict: $(cat "$T/err")"
  exit 0
fi

# Kernel (not module) text and data symbols whose name and address are each
# unique in the file: the answer to both questions is then known.
awk 'NF == 3 && $2 ~ /^[TtDdRrBb]$/' "$T/kallsyms" >"$T/kernel"
awk '{ n[$3]++; a[$1]++ } END { for (s in n) if (n[s] == 1) print s }' "$T/kallsyms" | sort >"$T/unique-names"
awk 'NF == 3 { a[$1]++ } END { for (x in a) if (a[x] == 1) print x }' "$T/kallsyms" | sort >"$T/unique-addresses"
awk 'NR == FNR { name[$1] = 1; next } ($3 in name)' "$T/unique-names" "$T/kernel" |
  awk 'NR == FNR { addr[$1] = 1; next } ($1 in addr)' "$T/unique-addresses" - |
  awk 'NR % 997 == 1 && ++n <= 20' >"$T/picked"
[[ $(wc -l <"$T/picked") -ge 5 ]] || fail "fewer than 5 unique kernel symbols in $kallsyms"

# By name: "value type name", as the file has them (kallsyms prints the
# full 16 digits too).
mapfile -t names < <(awk '{ print $3 }' "$T/picked")
run_tool kvmnm "${names[@]}"
expect_rc 0
awk '{ print $1, $2, $3 }' "$T/picked" | expect_stdout -

# By address: one byte in, the symbol's name and offset (picked symbols
# with another symbol at that byte are left out).
awk '{ print $1 }' "$T/kallsyms" | sort -u >"$T/all-addresses"
while read -r value type name; do
  next=$(printf '%016x' $((16#$value + 1)))
  grep -qx "$next" "$T/all-addresses" || echo "0x$next $name"
done <"$T/picked" | sed 's/^0x0*/0x/' >"$T/by-address"
[[ $(wc -l <"$T/by-address") -ge 3 ]] || fail "fewer than 3 addresses to ask about"
mapfile -t addresses < <(awk '{ print $1 }' "$T/by-address")
run_tool kvmnm "${addresses[@]}"
expect_rc 0
awk '{ print $1 ": " $2 "+0x1" }' "$T/by-address" | expect_stdout -

# A name the running kernel does not have.
run_tool kvmnm kvmkit_no_such_symbol_here
expect_rc 1
expect_stderr "kvmnm: kvmkit_no_such_symbol_here: no such symbol"
