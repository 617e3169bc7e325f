# cmake --install puts every tool (savecore in sbin, as a section 8 tool), the library, its headers, its CMake
# package, the layouts and the man pages under the prefix; a program built
# against that prefix alone reads a dump; the installed kvmps finds the
# installed layouts.
source "$(dirname "$0")/lib.sh"

build=$(cd "$KVMKIT_BIN/.." && pwd)
prefix=$T/prefix
cmake --install "$build" --prefix "$prefix" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "cmake --install"; }

for f in sbin/savecore bin/kvmps bin/kvmnm bin/kvmdump bin/kvmdmesg bin/kvmmod; do
  [[ -x $prefix/$f ]] || fail "$f not installed"
done
[[ ! -e $prefix/bin/kvmsynth ]] || fail "kvmsynth (a test tool) was installed"
libdir=$(cd "$prefix" && ls -d lib*/libkvmkit.a | head -n1)
[[ -n $libdir ]] || fail "libkvmkit.a not installed"
for h in kernel.h procs.h symbols.h target.h msgbuf.h; do
  [[ -f $prefix/include/kvm/$h ]] || fail "include/kvm/$h not installed"
done
for m in man1/kvmps.1 man1/kvmnm.1 man1/kvmdump.1 man1/kvmdmesg.1 man1/kvmmod.1 man3/kvmkit.3 man8/savecore.8; do
  [[ -f $prefix/share/man/$m ]] || fail "share/man/$m not installed"
done
ls "$prefix"/share/kvmkit/layouts/netbsd-10-amd64.json >/dev/null || fail "layouts not installed"

mkdump "$T/d" --procs

# The installed kvmps, with the build tree out of reach, uses the installed layouts.
env -i PATH=/usr/bin:/bin "$prefix/bin/kvmps" -N "$T/d/netbsd" -M "$T/d/netbsd.core" -o pid,comm >"$T/ps" ||
  fail "installed kvmps"
run_tool kvmps -N "$T/d/netbsd" -M "$T/d/netbsd.core" -o pid,comm
diff -u "$T/out" "$T/ps" >&2 || fail "installed kvmps differs from the built one"

# A consumer of the CMake package (built as the library was: a sanitized
# libkvmkit.a needs the sanitizer runtimes linked in, those of the
# library's compiler).
# Its generator is the build's: a machine set up by scripts/setup-deps.sh
# has ninja, not necessarily make.
flags=(-G "$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$build/CMakeCache.txt")"
       -DCMAKE_CXX_COMPILER="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")")
grep -q '^KVMKIT_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && flags+=(-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined)
cmake -S "$KVMKIT_TESTS/install" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$prefix" "${flags[@]}" >"$T/consumer.log" 2>&1 &&
  cmake --build "$T/consumer" >>"$T/consumer.log" 2>&1 || { cat "$T/consumer.log" >&2; fail "building against the installed kvmkit"; }
# Installed beside the tools, it finds the layouts the same way they do
# (a package configured for its real prefix finds them there too).
cp "$T/consumer/example" "$prefix/bin/kvmkit-example"
env -i PATH=/usr/bin:/bin "$prefix/bin/kvmkit-example" "$T/d/netbsd" "$T/d/netbsd.core" >"$T/example" || fail "example"
# The walker's order is the kernel's list order; kvmps sorts.
[[ $(head -n1 "$T/example") == "time_second $(fact crash_time)" ]] || fail "example: $(head -n1 "$T/example")"
diff -u <(tail -n +2 "$T/out" | awk '{ print $1, $2 }' | sort) <(tail -n +2 "$T/example" | sort) >&2 ||
  fail "the example's processes differ from kvmps's"

# libkvm.so: its SONAME, only the calls of <kvm.h> exported (versioned),
# and the pkg-config files, relocated to where the tree was installed.
libkvm=$(cd "$prefix" && ls -d lib*/libkvm.so.0 | head -n1)
[[ -n $libkvm ]] || fail "libkvm.so.0 not installed"
pcdir=$prefix/$(dirname "$libkvm")/pkgconfig
[[ $(readelf -d "$prefix/$libkvm" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p') == libkvm.so.0 ]] || fail "SONAME"
exported=$(nm -D --defined-only "$prefix/$libkvm" | awk '{ print $3 }' | sort | paste -sd' ')
[[ $exported == "KVMKIT_0 kvm_close@@KVMKIT_0 kvm_dump_inval@@KVMKIT_0 kvm_dump_mkheader@@KVMKIT_0 kvm_dump_wrtheader@@KVMKIT_0 kvm_getargv2@@KVMKIT_0 kvm_getargv@@KVMKIT_0 kvm_getenvv2@@KVMKIT_0 kvm_getenvv@@KVMKIT_0 kvm_geterr@@KVMKIT_0 kvm_getlwps@@KVMKIT_0 kvm_getproc2@@KVMKIT_0 kvm_getprocs@@KVMKIT_0 kvm_nlist@@KVMKIT_0 kvm_open@@KVMKIT_0 kvm_openfiles@@KVMKIT_0 kvm_read@@KVMKIT_0 kvm_uread@@KVMKIT_0 kvm_write@@KVMKIT_0" ]] ||
  fail "libkvm.so exports: $exported"
for h in kvm.h nlist.h sys/sysctl.h; do
  [[ -f $prefix/include/libkvm/$h ]] || fail "include/libkvm/$h not installed"
done
# pkg-config ends its answers with a space: dropped.
pc() { PKG_CONFIG_PATH=$pcdir pkg-config --define-prefix "$@" | sed 's/ *$//'; }
[[ $(pc --cflags libkvm) == "-I$prefix/include/libkvm" ]] || fail "libkvm cflags: $(pc --cflags libkvm)"
[[ $(pc --libs libkvm) == "-L$prefix/$(dirname "$libkvm") -lkvm" ]] || fail "libkvm libs: $(pc --libs libkvm)"
pc --exists kvmkit || fail "kvmkit.pc"

# The C programs of tests/capi, unchanged, built against the installed
# tree through pkg-config alone and run from outside it: the library finds
# the layouts of its own prefix.
cflags=() ldextra=()
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
if grep -q '^KVMKIT_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  cflags+=(-fsanitize=address,undefined)
  # clang's C driver leaves out the C++ sanitizer runtime the library's vptr checks need.
  [[ $(basename "$cc") == clang* ]] && ldextra+=(-fsanitize-link-c++-runtime -lstdc++)
fi
mkdir "$T/capi"
for src in "$KVMKIT_TESTS"/capi/*.c; do
  # shellcheck disable=SC2046
  "$cc" "${cflags[@]}" $(pc --cflags libkvm) -o "$T/capi/$(basename "$src" .c)" "$src" $(pc --libs libkvm) "${ldextra[@]}" \
    -Wl,-rpath,"$prefix/$(dirname "$libkvm")" 2>"$T/cc.log" || { cat "$T/cc.log" >&2; fail "cc $src"; }
done
env -i PATH=/usr/bin:/bin "$T/capi/kvm_getproc2_test" "$T/d/netbsd" "$T/d/netbsd.core" pid 416 >"$T/capi.out" ||
  fail "installed kvm_getproc2_test"
[[ $(sed -n 2p "$T/capi.out") == "pid 416 ppid 415 pgid 416 sid 416 tpgid 530 uid 1000 ruid 1000 svuid 1000 gid 1000 rgid 1000 tdev 0x500 stat 3 realstat 2 nice 20 eflag 0x3 nlwps 1 paddr $(fact proc.416) wmesg \"wait\" comm \"ksh\"" ]] ||
  fail "installed kvm_getproc2_test: $(sed -n 2p "$T/capi.out")"
env -i PATH=/usr/bin:/bin "$T/capi/kvm_nlist_test" "$T/d/netbsd" "$T/d/netbsd.core" _time_second >"$T/capi.out" ||
  fail "installed kvm_nlist_test"
[[ $(head -n1 "$T/capi.out") == "_time_second type 0x07 value $(fact sym.time_second)" ]] || fail "installed kvm_nlist_test"
# Without the prefix's layouts, a library caller is told where they were
# looked for and how a program gives them (not a tool's flags).
mv "$prefix/share/kvmkit/layouts" "$prefix/share/kvmkit/layouts.away"
rc=0
env -i PATH=/usr/bin:/bin "$T/capi/kvm_getproc2_test" "$T/d/netbsd" "$T/d/netbsd.core" >"$T/out" 2>"$T/err" || rc=$?
mv "$prefix/share/kvmkit/layouts.away" "$prefix/share/kvmkit/layouts"
expect_rc 1
expect_stderr "kvm_getproc2: no structure layouts for netbsd 10 amd64: the namelist has no type information and there is no netbsd-10-amd64.json in $T/share/kvmkit/layouts, $prefix/share/kvmkit/layouts, $(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")/share/kvmkit/layouts; give a namelist with type information (OpenOptions::namelist, kvm_openfiles' execfile), a layout file (WalkTarget::layout_file) or a directory of layout files (\$KVMKIT_LAYOUTS)"
