# kvmdump on synthetic crashes of every arch: exact bytes across large-page
# boundaries (checked against the kernel file), exact hexdump -C layout
# (checked against hexdump -C itself), symbols per line, default lengths,
# and every way a read can stop.  Layout facts used: text starts at main -
# 0x100 on a large page; on amd64 RAM is [0x1000, 0x9f000) [0x100000,
# 0xe00000) [0x1000000, 0x1400000) and the direct map is at
# 0xffff800000000000; the panic message is the first thing on the heap.
source "$KVMKIT_TESTS/cli/lib.sh"
for tool in hexdump objcopy; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 77; }
done

hex() { printf "%0${2}x" "$(($1))"; }
# slice FILE OFFSET LENGTH: those bytes of FILE.
slice() { dd if="$1" bs=64k iflag=skip_bytes,count_bytes skip=$(($2)) count=$(($3)) status=none; }
addr() { printf '%#x' "$(($1))"; }

# hexdump -C of FILE with offsets replaced by START + offset in WIDTH digits:
# what kvmdump must print for those bytes outside every symbol.
# dline ADDR WIDTH SYMBOL BYTE...: the kvmdump line for up to 16 bytes
# (hex pairs) at ADDR that starts in SYMBOL (empty: none).
dline() {
  local a=$1 w=$2 sym=$3 hexes="" ascii="" i=0 b
  shift 3
  for b in "$@"; do
    ((i == 8)) && hexes+=" "
    hexes+="$b "
    if ((0x$b >= 0x20 && 0x$b <= 0x7e)); then ascii+=$(printf '%b' "\\x$b"); else ascii+=.; fi
    i=$((i + 1))
  done
  for ((; i < 16; i++)); do
    ((i == 8)) && hexes+=" "
    hexes+="   "
  done
  printf '%0*x  %s |%s|' "$w" $((a)) "$hexes" "$ascii"
  [[ -z $sym ]] || printf '%*s  %s' $((16 - ${#ascii})) "" "$sym"
  echo
}

# le VALUE BYTES: VALUE as BYTES little-endian hex pairs.
le() {
  local v=$1 n=$2 i out=()
  for ((i = 0; i < n; i++)); do out+=("$(printf '%02x' $(((v >> (8 * i)) & 0xff)))"); done
  echo "${out[@]}"
}

hexdump_at() {
  local file=$1 start=$2 width=$3 line off rest
  hexdump -C "$file" | while IFS= read -r line; do
    if [[ $line == "*" ]]; then
      echo "*"
    else
      off=${line%%  *}
      off=${off%% *}
      rest=${line:${#off}}
      printf '%0*x%s\n' "$width" $((start + 0x$off)) "$rest"
    fi
  done
}

for variant in amd64 i386 i386-pae; do
  case $variant in
    amd64) args=(--arch amd64) w=16 large=$((2 << 20)) ;;
    i386) args=(--arch i386) w=8 large=$((4 << 20)) ;;
    i386-pae) args=(--arch i386 --pae) w=8 large=$((2 << 20)) ;;
  esac
  d=$T/$variant
  # Enough functions that the text runs over a large-page boundary (two on
  # 2 MiB pages).
  mkdump "$d" "${args[@]}" --extra-functions 110000
  k=$d/netbsd
  M=(-N "$k" -M "$d/netbsd.core")
  main=$(fact sym.main)
  text=$((main - 0x100))
  objcopy -O binary --only-section=.text "$k" "$d/text.bin"

  # Raw bytes across each large-page boundary are the kernel file's bytes.
  boundaries=0
  for ((boundary = text + large; boundary - text + 0x1000 <= $(stat -c %s "$d/text.bin"); boundary += large)); do
    boundaries=$((boundaries + 1))
    run_tool kvmdump "${M[@]}" -r -n 0x2000 "$(addr $((boundary - 0x1000)))"
    expect_rc 0
    expect_stderr ""
    slice "$d/text.bin" $((boundary - 0x1000 - text)) 8192 >"$d/want"
    cmp "$d/want" "$T/out" || fail "$variant: bytes across $(addr "$boundary") differ from the kernel file"
  done
  ((boundaries >= 1)) || fail "$variant: the text does not cross a large page"

  # The same through the swap image, with and without --dumplo.
  run_tool kvmdump -N "$k" -M "$d/swap.img" --dumplo "$(fact dumplo)" -r -n 0x2000 "$(addr $((text + large - 0x1000)))"
  expect_rc 0
  slice "$d/text.bin" $((large - 0x1000)) 8192 | cmp - "$T/out" || fail "$variant: swap image"
  run_tool kvmdump -N "$k" -M "$d/swap.img" -r main
  expect_rc 0
  slice "$d/text.bin" 0x100 2048 | cmp - "$T/out" || fail "$variant: swap image, no --dumplo"

  # Default lengths: the symbol's size (from the offset on), else 256.
  for q in main:2048 main+0x700:256 main+0x7f0:16 main+0x800:256 main-0x10:256 "$main":256 dumpmag:4; do
    run_tool kvmdump "${M[@]}" -r "${q%%:*}"
    expect_rc 0
    [[ $(wc -c <"$T/out") -eq ${q##*:} ]] || fail "$variant: ${q%%:*} gave $(wc -c <"$T/out") bytes"
  done
  run_tool kvmdump "${M[@]}" -r -n 4k main
  [[ $(wc -c <"$T/out") -eq 4096 ]] || fail "$variant: -n 4k"
  run_tool kvmdump "${M[@]}" -n 0 main
  expect_rc 0
  expect_stdout </dev/null

  # Heap memory (no symbol) is exactly hexdump -C's layout, '*' included.
  run_tool kvmdump "${M[@]}" -r panicstr
  heap=$(od -A n -t x$((w / 2)) "$T/out" | tr -d ' ')
  run_tool kvmdump "${M[@]}" -r -n 4096 "0x$heap"
  expect_rc 0
  cp "$T/out" "$d/heap.bin"
  grep -q "kernel diagnostic assertion" "$d/heap.bin" || fail "$variant: no panic message on the heap"
  run_tool kvmdump "${M[@]}" -n 4096 "0x$heap"
  expect_rc 0
  hexdump_at "$d/heap.bin" "0x$heap" $w | expect_stdout -

  # A read that runs off the mapped heap prints what it read, then why.
  root=$(fact pt_root)
  index=$(((0x$heap >> 12) + 1))
  [[ $variant == i386 ]] && index=$((index & 0x3ff)) || index=$((index & 0x1ff))
  run_tool kvmdump "${M[@]}" -n 0x1010 "$(addr $((0x$heap + 0x10)))"
  expect_rc 1
  slice "$d/heap.bin" 16 4080 >"$d/heap.tail"
  hexdump_at "$d/heap.tail" "$((0x$heap + 0x10))" $w | expect_stdout -
  err=$(cat "$T/err")
  [[ $err == "kvmdump: $(addr $((0x$heap + 0x1000))): level 1 entry 0x0 (index $index of the table at pa 0x"*") is not valid" ]] ||
    fail "$variant: stderr is [$err]"
  # -r writes only the bytes, even then.
  run_tool kvmdump "${M[@]}" -r -n 0x1010 "$(addr $((0x$heap + 0x10)))"
  expect_rc 1
  cmp "$T/out" "$d/heap.tail" || fail "$variant: -r after a fault"
  [[ $(cat "$T/err") == "$err" ]] || fail "$variant: -r stderr"

  # Nothing mapped at the top level: the message names the root.
  case $variant in
    amd64) far=0xffffa00000000000 why="level 4 entry 0x0 (index 320 of the table at pa $root) is not valid" ;;
    i386) far=0xd0000000 why="level 2 entry 0x0 (index 832 of the table at pa $root) is not valid" ;;
    i386-pae) far=0xd0000000 why="level 2 entry 0x0 (index 1664 of the table at pa $root) is not valid" ;;
  esac
  # Several addresses: blank lines between blocks, a failure in the middle
  # does not stop the rest, and an unknown symbol is an error of its own.
  run_tool kvmdump "${M[@]}" -n 8 dumpmag $far nosuch _dumpmag
  expect_rc 1
  line=$(dline "$(fact sym.dumpmag)" $w dumpmag 01 01 ca 8f 00 00 00 00)
  [[ $line == "$(hex "$(fact sym.dumpmag)" $w)  01 01 ca 8f 00 00 00 00                           |........|          dumpmag" ]] ||
    fail "dline is wrong: [$line]"
  end=$(hex $(($(fact sym.dumpmag) + 8)) $w)
  expect_stdout <<EOF
$line
$end

$line
$end
EOF
  [[ $(cat "$T/err") == "kvmdump: $far: $why
kvmdump: nosuch: no such symbol" ]] || fail "$variant: stderr is [$(cat "$T/err")]"

  # JSON.
  run_tool kvmdump "${M[@]}" --json dumpmag $far
  expect_rc 1
  expect_stdout <<EOF
{"expression":"dumpmag","address":"$(addr "$(fact sym.dumpmag)")","length":4,"read":4,"data":"0101ca8f"}
{"expression":"$far","address":"$far","length":256,"read":0,"data":"","error":"$far: $why"}
EOF

  # Without -N: numbers only, lines without symbols.
  run_tool kvmdump -M "$d/netbsd.core" -n 4 "$(fact sym.dumpmag)"
  expect_rc 0
  expect_stdout <<EOF
$(hex "$(fact sym.dumpmag)" $w)  01 01 ca 8f                                       |....|
$(hex $(($(fact sym.dumpmag) + 4)) $w)
EOF
  # A symbol without -N is a usage error, before the dump is read.
  run_tool kvmdump -M "$d/netbsd.core" 0x1000 main
  expect_rc 2
  expect_stdout </dev/null
  expect_stderr "kvmdump: main: a symbol needs a namelist (-N system)"
done

# amd64: the data variables, one line per symbol, values from the facts
# (physmem counts all RAM pages, which this full dump holds: dumpsize).
d=$T/amd64
FACTS=$d/facts
dm=$(fact sym.dumpmag)
run_tool kvmdump -N "$d/netbsd" -M "$d/netbsd.core" -n 0x28 dumpmag
expect_rc 0
# shellcheck disable=SC2046 # the byte lists are meant to split
expect_stdout <<EOF
$(dline "$dm" 16 dumpmag 01 01 ca 8f 00 00 00 00 01 00 00 00 00 00 00 00)
$(dline $((dm + 0x10)) 16 dumplo $(le "$(fact dumplo)" 8) $(le "$(fact dumpsize)" 4) $(le "$(fact dumpsize)" 4))
$(dline $((dm + 0x20)) 16 counter 01 00 00 00 02 00 00 00)
$(hex $((dm + 0x28)) 16)
EOF

# The direct map crosses RAM holes byte for byte up to the hole, then stops.
core=$d/netbsd.core
mem=$(($(stat -c %s "$core") - $(fact dumpsize) * 4096)) # RAM is at the end of the core
run_tool kvmdump -M "$core" -r -n 0x200 0xffff80000009ef00
expect_rc 1
expect_stderr "kvmdump: 0xffff80000009f000: physical address 0x9f000 is not in the dump"
slice "$core" $((mem + 0x9ef00 - 0x1000)) 256 | cmp - "$T/out" || fail "bytes before the hole"
run_tool kvmdump -M "$core" -r -n 0x100 0xffff800001000000
expect_rc 0
slice "$core" $((mem + 0x9e000 + 0xd00000)) 256 | cmp - "$T/out" || fail "bytes after the hole"

# Real-looking memory through the direct map is hexdump -C's layout too.
run_tool kvmdump -M "$core" -r -n 64k 0xffff800000200000
cp "$T/out" "$T/dm.bin"
run_tool kvmdump -M "$core" -n 64k 0xffff800000200000
expect_rc 0
hexdump_at "$T/dm.bin" 0xffff800000200000 16 | expect_stdout -
grep -q '^\*$' "$T/out" || fail "no repeated lines in 64 KiB of direct map"

# Usage errors exit 2, before anything is opened.
run_tool kvmdump -N "$d/netbsd" -M "$core" main+
expect_rc 2
expect_stderr "kvmdump: main+: no offset after '+'"
run_tool kvmdump -N "$d/netbsd" -M "$core" -n 4t main
expect_rc 2
expect_stderr "kvmdump: 4t: not a length (a decimal or 0x number, with an optional k, m or g)"
run_tool kvmdump -N "$d/netbsd" -M "$core" -r --json main
expect_rc 2
expect_stderr "kvmdump: -r and --json exclude each other"
run_tool kvmdump -N "$d/netbsd" -M "$core"
expect_rc 2
expect_stderr "kvmdump: address is required
usage: kvmdump [-P] [-1 | -2 | -4 | -8] [-S] [-s] [-N system] [-M core ...] [--dumplo blocks] [-n length]
               [-r | --json] [--zero-excluded] [--no-index] [*]address|symbol[+offset] ..."
run_tool kvmdump -N "$d/netbsd" -M "$core" -n 16 0xfffffffffffffff8
expect_rc 1
expect_stderr "kvmdump: 0xfffffffffffffff8: 0x10 bytes run past the end of the address space"

# An argument that is not UTF-8: JSON prints it with U+FFFD, stderr as it is.
run_tool kvmdump -N "$d/netbsd" -M "$core" --json $'\xffx'
expect_rc 1
expect_stdout <<EOF
{"expression":"�x","error":"�x: no such symbol"}
EOF
expect_stderr "kvmdump: "$'\xff'"x: no such symbol"

# No -M: the running kernel's memory, where the host has it.
if [[ ! -e /proc/kcore ]]; then
  run_tool kvmdump -N "$d/netbsd" main
  expect_rc 1
  expect_stderr "kvmdump: /proc/kcore: not present on this host (a kernel without CONFIG_PROC_KCORE, or /proc not mounted); name a dump with -M"
fi
