# cpack -G DEB: a package whose binaries are stripped, whose debug
# information is in the -dbgsym package, and whose savecore runs from the
# unpacked tree (dpkg-deb -x into a scratch root, nothing of the build at
# hand).
source "$(dirname "$0")/lib.sh"
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || exit 77

build=$(cd "$KVMKIT_BIN/.." && pwd)
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
(cd "$build" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$T"/pkg/kvmkit_*.deb)
ddeb=$(ls "$T"/pkg/kvmkit-dbgsym_*.ddeb)
dpkg-deb -f "$deb" Package | grep -qx kvmkit || fail "package name"
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "no shared-library dependencies: $(dpkg-deb -f "$deb" Depends)"

dpkg-deb -x "$deb" "$T/root"
for f in sbin/savecore bin/kvmps bin/kvmnm bin/kvmdump bin/kvmdmesg; do
  [[ -x $T/root$prefix/$f ]] || fail "$f not in the package"
  ! readelf -S "$T/root$prefix/$f" | grep -q '\.debug_info' || fail "$f is not stripped"
done
[[ -f $T/root$prefix/share/kvmkit/examples/savecore.service ]] || fail "the systemd unit is not in the package"
dpkg-deb -x "$ddeb" "$T/dbg"
id=$(readelf -n "$T/root$prefix/sbin/savecore" | sed -n 's/.*Build ID: //p')
[[ -n $id ]] || fail "savecore has no build id"
readelf -S "$T/dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" | grep -q '\.debug_info' ||
  fail "no debug information for savecore in the dbgsym package"

now=$(date +%s)
mkdump "$T/m" --crash-time "$now"
rc=0
env -i PATH=/usr/bin:/bin "$T/root$prefix/sbin/savecore" -n -N "$T/m/netbsd" "$T/m/swap.img" >"$T/out" 2>"$T/err" || rc=$?
expect_rc 0
expect_stderr ""
