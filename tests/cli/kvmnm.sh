# kvmnm on synthetic crashes of every arch: exact lines for names, addresses
# and failures, the dump check with -M, JSON, and the symbol index.
# Expected values come from kvmsynth's facts and the builder's fixed layout
# (main is 0x800 bytes, panic 0x60, start 0x100; dumpmag is the first .data
# object, two local "counter"s follow the data variables).
source "$KVMKIT_TESTS/cli/lib.sh"

# hex VALUE WIDTH: VALUE (0x...) zero-padded to WIDTH digits, no 0x.
hex() { printf "%0${2}x" "$(($1))"; }

for variant in amd64 i386 i386-pae; do
  case $variant in
    amd64) args=(--arch amd64) w=16 ;;
    i386) args=(--arch i386) w=8 ;;
    i386-pae) args=(--arch i386 --pae) w=8 ;;
  esac
  d=$T/$variant
  mkdump "$d" "${args[@]}"
  k=$d/netbsd
  main=$(fact sym.main)
  panic=$(fact sym.panic)
  dumpmag=$(fact sym.dumpmag)
  version=$(fact sym.version)
  time_second=$(fact sym.time_second)
  physmem=$(fact sym.physmem)
  counter=$((physmem + 4)) # the first local "counter", right after physmem

  # Names, with nlist's underscore rule; answers in argument order.
  run_tool kvmnm -N "$k" _dumpmag main panic version _time_second counter
  expect_rc 0
  expect_stdout <<EOF
$(hex "$dumpmag" $w) D dumpmag
$(hex "$main" $w) T main
$(hex "$panic" $w) T panic
$(hex "$version" $w) R version
$(hex "$time_second" $w) B time_second
$(hex "$counter" $w) d counter
EOF
  expect_stderr ""

  # Addresses: inside, at the start, symbol+offset, outside every symbol.
  run_tool kvmnm -N "$k" $(printf '%#x' $((main + 0x23))) "$main" panic+0x5f panic+0x60 _main-0xf8 0x10
  expect_rc 0
  expect_stdout <<EOF
$(printf '%#x' $((main + 0x23))): main+0x23 (size 0x800)
$(printf '%#x' $((main))): main (size 0x800)
$(printf '%#x' $((panic + 0x5f))): panic+0x5f (size 0x60)
$(printf '%#x' $((panic + 0x60))): vpanic (size 0x2c0)
$(printf '%#x' $((main - 0xf8))): start+0x8 (size 0x100)
0x10: not in any symbol
EOF

  # Not found: the rest is answered, the miss is on stderr, exit 1.
  run_tool kvmnm -N "$k" main nosuch _dumpmag nosuch+4
  expect_rc 1
  expect_stdout <<EOF
$(hex "$main" $w) T main
$(hex "$dumpmag" $w) D dumpmag
EOF
  [[ $(cat "$T/err") == "kvmnm: nosuch: no such symbol
kvmnm: nosuch: no such symbol" ]] || fail "$variant: stderr is [$(cat "$T/err")]"
  # Malformed: a usage error, found before anything is answered.
  for bad in "dumpmag+:dumpmag+: no offset after '+'" "0xzz:0xzz: 0xzz is not a number" \
    "0x1ffffffffffffffff:0x1ffffffffffffffff: does not fit in 64 bits"; do
    run_tool kvmnm -N "$k" main "${bad%%:*}"
    expect_rc 2
    expect_stdout </dev/null
    expect_stderr "kvmnm: ${bad#*:}"
  done

  # With the dump: same answers, nothing to warn about; the swap image
  # with and without --dumplo gives the same.
  for core in "-M $d/netbsd.core" "-M $d/swap.img" "-M $d/swap.img --dumplo $(fact dumplo)"; do
    # shellcheck disable=SC2086 # core holds two or three words on purpose
    run_tool kvmnm -N "$k" $core _dumpmag main
    expect_rc 0
    expect_stdout <<EOF
$(hex "$dumpmag" $w) D dumpmag
$(hex "$main" $w) T main
EOF
    expect_stderr ""
  done

  # An address the dump cannot give is still answered, with a warning.
  root=$(fact pt_root)
  case $variant in
    amd64) far=0xffffa00000000000 why="level 4 entry 0x0 (index 320 of the table at pa $root) is not valid" ;;
    i386) far=0xd0000000 why="level 2 entry 0x0 (index 832 of the table at pa $root) is not valid" ;;
    i386-pae) far=0xd0000000 why="level 2 entry 0x0 (index 1664 of the table at pa $root) is not valid" ;;
  esac
  if [[ $variant == amd64 ]]; then rel=main-$(printf '%#x' $((main - far))); else rel=main+$(printf '%#x' $((far - main))); fi
  run_tool kvmnm -N "$k" -M "$d/netbsd.core" $far "$rel"
  expect_rc 0
  expect_stdout <<EOF
$far: not in any symbol
$far: not in any symbol
EOF
  [[ $(cat "$T/err") == "kvmnm: warning: $far: $why
kvmnm: warning: $rel: $far: $why" ]] || fail "$variant: stderr is [$(cat "$T/err")]"

  # JSON: one array, values as hex strings, sizes as numbers.
  run_tool kvmnm -N "$k" -M "$d/netbsd.core" --json _main $(printf '%#x' $((panic + 4))) nosuch $far
  expect_rc 1
  expect_stdout <<EOF
{"query":"_main","symbol":{"name":"main","type":"T","value":"$(printf '%#x' $((main)))","size":2048},"in_dump":true}
{"query":"$(printf '%#x' $((panic + 4)))","address":"$(printf '%#x' $((panic + 4)))","symbol":{"name":"panic","type":"T","value":"$(printf '%#x' $((panic)))","size":96},"offset":4,"in_dump":true}
{"query":"nosuch","error":"nosuch: no such symbol"}
{"query":"$far","address":"$far","symbol":null,"in_dump":false,"dump_error":"$far: $why"}
EOF
  expect_stderr "kvmnm: nosuch: no such symbol"
done

# The symbol index: written on first use, used after, rebuilt when damaged
# or when the kernel changes; --no-index leaves none.
d=$T/amd64
k=$d/netbsd
FACTS=$d/facts
[[ -f $k.symidx ]] || fail "no index beside the kernel"
good=$(cksum <"$k.symidx")
run_tool kvmnm -N "$k" main
expect_stdout <<<"$(hex "$(fact sym.main)" 16) T main"
head -c 100 "$k.symidx" >"$T/cut" && cat "$T/cut" >"$k.symidx"
run_tool kvmnm -N "$k" main
expect_rc 0
expect_stdout <<<"$(hex "$(fact sym.main)" 16) T main"
[[ $(cksum <"$k.symidx") == "$good" ]] || fail "a damaged index was not rebuilt"
touch -d @1000000000 "$k"
run_tool kvmnm -N "$k" main
[[ $(cksum <"$k.symidx") != "$good" ]] || fail "the index of a changed kernel was not rebuilt"
cp "$k" "$T/plain"
run_tool kvmnm -N "$T/plain" --no-index main
expect_rc 0
[[ ! -e $T/plain.symidx ]] || fail "--no-index wrote an index"

# Usage errors exit 2.
run_tool kvmnm -M "$d/netbsd.core" main
expect_rc 2
expect_stderr "kvmnm: no namelist given (-N system)"
run_tool kvmnm -N "$k" -x
expect_rc 2
expect_stderr "kvmnm: The following argument was not expected: -x
usage: kvmnm [-agPSu] [-t d|o|x] [-N system] [-M core ...] [--dumplo blocks] [--json] [--no-index]
             [--zero-excluded] [name | pattern | address] ..."
run_tool kvmnm -N "$k" -t z
expect_rc 2
expect_stderr "kvmnm: -t z: the radix is d, o or x"
run_tool kvmnm -N "$k" --dumplo 8 main
expect_rc 2
expect_stderr "kvmnm: --dumplo applies to a dump device named with -M"
run_tool kvmnm -N "$T/nonexistent" main
expect_rc 1
expect_stderr "kvmnm: $T/nonexistent: cannot open: No such file or directory"

# A symbol name that is not UTF-8 (a namelist is the user's choice, but
# parsed as hostile): JSON prints it with U+FFFD, the text form as it is.
FACTS=$d/facts
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(d.replace(b"\0dumpmag\0", b"\0\xffumpmag\0"))' \
  "$k" "$T/latin"
run_tool kvmnm -N "$T/latin" --no-index --json $'\xffumpmag'
expect_rc 0
expect_stdout <<EOF
{"query":"�umpmag","symbol":{"name":"�umpmag","type":"D","value":"$(printf '%#x' $(($(fact sym.dumpmag))))","size":4}}
EOF
expect_stderr ""
run_tool kvmnm -N "$T/latin" --no-index $'\xffumpmag'
expect_rc 0
expect_stdout <<<"$(hex "$(fact sym.dumpmag)" 16) D "$'\xff'"umpmag"
