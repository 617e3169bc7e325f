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
