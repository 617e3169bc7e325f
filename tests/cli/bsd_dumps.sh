# kvmnm and kvmdump on FreeBSD and DragonFly crashes made by kvmsynth: the
# vmcore body (a minidump of each kind named below, or a full ELF dump)
# with its kernel.  Names follow FreeBSD's nlist rule (as written, else
# without one '_'), local symbols count, kernbase is absolute; bytes read
# through the kernel map, the heap and the direct map are the kernel
# file's and the builder's; an address the dump cannot translate is a
# warning (kvmnm) or an error (kvmdump) naming why.
source "$KVMKIT_TESTS/cli/lib.sh"
for tool in hexdump objcopy; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 77; }
done

hex() { printf "%0${2}x" "$(($1))"; }

# bsddump DIR ARGS...: kernel, vmcore.0 and facts of a kvmsynth --os crash.
bsddump() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$KVMKIT_BIN/kvmsynth" --kernel "$dir/kernel" --vmcore "$dir/vmcore.0" --facts "$dir/facts" "$@" ||
    fail "kvmsynth $*"
  FACTS=$dir/facts
}

for variant in freebsd-amd64 freebsd-amd64-full dragonfly-amd64 freebsd-i386-pae freebsd-arm64-16k; do
  case $variant in
    freebsd-amd64) args=(--os freebsd) w=16 why="below 0xfffffe0000000000, where the page map starts" ;;
    freebsd-amd64-full) args=(--os freebsd --full) w=16 why="" ;;
    dragonfly-amd64) args=(--os dragonfly) w=16 why="below 0xffffff8000000000, where the page map starts" ;;
    freebsd-i386-pae) args=(--os freebsd --arch i386 --pae) w=8 why="below 0xc0000000, where the page map starts" ;;
    freebsd-arm64-16k)
      args=(--os freebsd --arch arm64 --page-size 16384) w=16
      why="below 0xffff000000000000, where the page map starts"
      ;;
  esac
  d=$T/$variant
  bsddump "$d" "${args[@]}"
  [[ -n $why ]] || why="level 4 entry 0x0 (index 0 of the table at pa $(fact pt_root)) is not valid"
  k=$d/kernel
  v=$d/vmcore.0

  # Names: libkvm's "_nprocs" and "kernbase" alike; dumppcb is static.
  run_tool kvmnm -N "$k" _dumppcb kernbase _nprocs panic _msgbufp
  expect_rc 0
  expect_stdout <<EOF
$(hex "$(fact sym.dumppcb)" $w) b dumppcb
$(hex "$(fact sym.kernbase)" $w) A kernbase
$(hex "$(fact sym.nprocs)" $w) B nprocs
$(hex "$(fact sym.panic)" $w) T panic
$(hex "$(fact sym.msgbufp)" $w) B msgbufp
EOF
  expect_stderr ""

  # The same kernel as kernel.debug, with the dump: every symbol is in it.
  cp "$k" "$d/kernel.debug"
  run_tool kvmnm -N "$d/kernel.debug" -M "$v" _dumppcb panic version panic+0x5f
  expect_rc 0
  expect_stdout <<EOF
$(hex "$(fact sym.dumppcb)" $w) b dumppcb
$(hex "$(fact sym.panic)" $w) T panic
$(hex "$(fact sym.version)" $w) R version
$(printf '%#x' $(($(fact sym.panic) + 0x5f))): panic+0x5f (size 0x60)
EOF
  expect_stderr ""

  # An address below the kernel: answered, with the reason it is not in the dump.
  run_tool kvmnm -N "$k" -M "$v" 0x1000
  expect_rc 0
  expect_stdout <<EOF
0x1000: not in any symbol
EOF
  expect_stderr "kvmnm: warning: 0x1000: $why"

  # The version string as the kernel file holds it: the first .rodata object
  # (read as a generic ELF, which binutils for any host can).
  objcopy -I "elf$((w * 4))-little" -O binary --only-section=.rodata "$k" "$d/rodata.bin"
  run_tool kvmdump -N "$k" -M "$v" -r -n 48 _version
  expect_rc 0
  head -c 48 "$d/rodata.bin" | cmp - "$T/out" || fail "$variant: version bytes differ"

  # The panic message on the heap, and through the direct map.
  printf '%s' "$(fact panic_text)" >"$d/panic.txt"
  n=$(stat -c %s "$d/panic.txt")
  run_tool kvmdump -N "$k" -M "$v" -r -n "$n" "$(fact panic_message)"
  expect_rc 0
  cmp "$d/panic.txt" "$T/out" || fail "$variant: panic message differs"
  dmap=$(fact panic_message.dmap || true)
  if [[ -n $dmap ]]; then
    run_tool kvmdump -N "$k" -M "$v" -r -n "$n" "$dmap"
    expect_rc 0
    cmp "$d/panic.txt" "$T/out" || fail "$variant: panic message through the direct map differs"
  fi

  # The same bytes as hexdump -C lays them out, at the message's address
  # (the heap is in no symbol).
  run_tool kvmdump -N "$k" -M "$v" -n 16 "$(fact panic_message)"
  expect_rc 0
  {
    hexdump -C -n 16 "$d/panic.txt" | head -1 | sed "s/^00000000/$(hex "$(fact panic_message)" $w)/"
    hex $(($(fact panic_message) + 16)) $w
    echo
  } >"$d/lines"
  expect_stdout "$d/lines"

  # What cannot be read is an error naming why, exit 1.
  run_tool kvmdump -N "$k" -M "$v" -n 16 0x1000
  expect_rc 1
  expect_stdout /dev/null
  expect_stderr "kvmdump: 0x1000: $why"
done
