#!/usr/bin/env bash
# kvmmod on BSD crashes made by kvmsynth --modules: FreeBSD's and
# DragonFly's loaded files (linker_files) as kldstat prints them, from a
# minidump and a full dump, a file still being linked left out; NetBSD's
# module_list as modstat -k prints it (amd64 and i386); at the addresses
# the builder reports (--facts); --json; -s refused; no such list in a
# kernel without one.
source "$(dirname "$0")/lib.sh"

# bsddump DIR ARGS...: kernel, vmcore.0 and facts of a kvmsynth --os crash.
bsddump() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$KVMKIT_BIN/kvmsynth" --kernel "$dir/kernel" --vmcore "$dir/vmcore.0" --facts "$dir/facts" "$@" ||
    fail "kvmsynth $*"
  FACTS=$dir/facts
}

for full in "" --full; do
  bsddump "$T/fb$full" --os freebsd --procs --modules $full
  run_tool kvmmod -N "$T/fb$full/kernel" -M "$T/fb$full/vmcore.0"
  expect_rc 0
  expect_stderr ""
  printf '%s\n' \
    "Id Refs Address                Size Name" \
    " 1   23 $(fact linker_file.0.address)  1f3e2d0 kernel" \
    " 2    1 $(fact linker_file.1.address)    5d598 zfs.ko" \
    " 3    2 $(fact linker_file.2.address)     7178 cryptodev.ko" \
    " 6    1 $(fact linker_file.4.address)     31a8 accf_http.ko" | expect_stdout -
done

run_tool kvmmod -N "$T/fb/kernel" -M "$T/fb/vmcore.0" --json
expect_rc 0
printf '%s\n' \
  "{\"name\":\"kernel\",\"base\":\"$(fact linker_file.0.address)\",\"size\":32760528,\"refs\":23,\"state\":\"\",\"used_by\":[],\"address\":\"$(fact linker_file.0)\",\"id\":1,\"path\":\"/boot/kernel/kernel\"}" \
  "{\"name\":\"zfs.ko\",\"base\":\"$(fact linker_file.1.address)\",\"size\":382360,\"refs\":1,\"state\":\"\",\"used_by\":[],\"address\":\"$(fact linker_file.1)\",\"id\":2,\"path\":\"/boot/kernel/zfs.ko\"}" \
  "{\"name\":\"cryptodev.ko\",\"base\":\"$(fact linker_file.2.address)\",\"size\":29048,\"refs\":2,\"state\":\"\",\"used_by\":[],\"address\":\"$(fact linker_file.2)\",\"id\":3,\"path\":\"/boot/kernel/cryptodev.ko\"}" \
  "{\"name\":\"accf_http.ko\",\"base\":\"$(fact linker_file.4.address)\",\"size\":12712,\"refs\":1,\"state\":\"\",\"used_by\":[],\"address\":\"$(fact linker_file.4)\",\"id\":6,\"path\":\"/boot/modules/accf_http.ko\"}" |
  expect_stdout -

# The layouts in use: the shipped file of the release.
run_tool kvmmod -N "$T/fb/kernel" -M "$T/fb/vmcore.0" --print-layout
expect_rc 0
grep -q '"linker_file"' "$T/out" || fail "--print-layout has no struct linker_file"

# -s: FreeBSD modules' symbols are not read.
run_tool kvmmod -N "$T/fb/kernel" -M "$T/fb/vmcore.0" -s
expect_rc 1
expect_stderr "kvmmod: -s: the symbols of freebsd modules are not read (only Linux's are)"

# DragonFly 5.8 (its process tree sets the release): no pathnames.
bsddump "$T/df" --os dragonfly --procs --modules
run_tool kvmmod -N "$T/df/kernel" -M "$T/df/vmcore.0"
expect_rc 0
expect_stderr ""
printf '%s\n' \
  "Id Refs Address                Size Name" \
  " 1    4 $(fact linker_file.0.address)   1a2b3c kernel" \
  " 2    1 $(fact linker_file.1.address)     9000 ahci.ko" \
  " 3    2 $(fact linker_file.2.address)     5000 tmpfs.ko" \
  " 6    1 $(fact linker_file.4.address)     2800 nullfs.ko" | expect_stdout -

# A kernel without linker_files.
bsddump "$T/none" --os freebsd --procs
run_tool kvmmod -N "$T/none/kernel" -M "$T/none/vmcore.0"
expect_rc 1
expect_stderr "kvmmod: $T/none/kernel: _linker_files: no such symbol"

# NetBSD 10: modstat's columns, the text segments at the planted addresses.
for arch in amd64 i386; do
  mkdump "$T/nb-$arch" --arch $arch --procs --modules
  run_tool kvmmod -N "$T/nb-$arch/netbsd" -M "$T/nb-$arch/netbsd.core"
  expect_rc 0
  expect_stderr ""
  w=16
  [[ $arch == i386 ]] && w=8
  t2=$(fact module.2.text) t3=$(fact module.3.text) t4=$(fact module.4.text)
  {
    printf "NAME        CLASS  SOURCE  FLAG REFS %${w}s   SIZE REQUIRES\n" ADDRESS
    printf "ffs         vfs    builtin -       1 %${w}s      0 -\n" 0
    printf "compat_util misc   builtin -      -1 %${w}s      0 -\n" 0
    printf "nfs         vfs    boot    -       2 %${w}s 127424 -\n" "${t2#0x}"
    printf "compat_50   misc   filesys a       0 %${w}s  23096 compat_60,compat_util\n" "${t3#0x}"
    printf "drmkms      driver filesys af      1 %${w}s 246864 agp\n" "${t4#0x}"
  } | expect_stdout -
done

run_tool kvmmod -N "$T/nb-amd64/netbsd" -M "$T/nb-amd64/netbsd.core" --json
expect_rc 0
FACTS=$T/nb-amd64/facts
[[ $(sed -n 4p "$T/out") == "{\"name\":\"compat_50\",\"base\":\"$(fact module.3.text)\",\"size\":23096,\"refs\":0,\"state\":\"filesys\",\"used_by\":[],\"address\":\"$(fact module.3)\",\"class\":\"misc\",\"flags\":\"a\",\"requires\":[\"compat_60\",\"compat_util\"]}" ]] ||
  fail "NetBSD --json: $(cat "$T/out")"

# A NetBSD kernel without module_list.
mkdump "$T/nb-none" --procs
run_tool kvmmod -N "$T/nb-none/netbsd" -M "$T/nb-none/netbsd.core"
expect_rc 1
expect_stderr "kvmmod: $T/nb-none/netbsd: _module_list: no such symbol"
