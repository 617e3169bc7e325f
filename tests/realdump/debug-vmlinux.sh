#!/usr/bin/env bash
# Fetches the realdump kernel's debug vmlinux (DWARF) once and prints its
# path: the -dbg package of the kernel tests/realdump/manifest.txt names
# (about 280 MB), downloaded with apt-get into CACHE (default
# /tmp/realdump-cache) and reduced to the one file the tests need.
#   tests/realdump/debug-vmlinux.sh REALDUMP_DIR [CACHE]
set -euo pipefail
realdump=${1:?usage: debug-vmlinux.sh REALDUMP_DIR [CACHE]}
cache=${2:-/tmp/realdump-cache}
release=$(sed -n 's/^kernel_release=//p' "$realdump/manifest.txt")
version=$(sed -n 's/^kernel_package_version=//p' "$realdump/manifest.txt")
[[ -n $release && -n $version ]] || { echo "debug-vmlinux: $realdump/manifest.txt names no kernel" >&2; exit 1; }
vmlinux=$cache/vmlinux-$release
if [[ ! -s $vmlinux ]]; then
  mkdir -p "$cache"
  deb=$cache/linux-image-$release-dbg_${version}_amd64.deb
  if [[ ! -s $deb ]]; then
    (cd "$cache" && apt-get download "linux-image-$release-dbg=$version" >&2)
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -O "./usr/lib/debug/boot/vmlinux-$release" >"$vmlinux.tmp"
  mv "$vmlinux.tmp" "$vmlinux"
  rm -f "$deb"
fi
echo "$vmlinux"
