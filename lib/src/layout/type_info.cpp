// The table of type-information readers (layout.h): one row per format a
// namelist may carry its types in, tried in order.
#include <kvm/elf.h>
#include <kvm/layout.h>

namespace kvm {

namespace detail {
// Rows, one per file in src/layout/.
bool has_dwarf(const elf::File& file);
StructLayouts read_dwarf(const std::string& path, const elf::File& file, const LayoutRequest& request);
bool has_btf(const elf::File& file);
StructLayouts read_btf(const std::string& path, const elf::File& file, const LayoutRequest& request);
bool has_ctf(const elf::File& file);
StructLayouts read_ctf(const std::string& path, const elf::File& file, const LayoutRequest& request);
}  // namespace detail

namespace {

// DWARF first, so that a debug vmlinux (which has both) reads as it did
// before BTF was a row, and a FreeBSD kernel.debug (DWARF, and the CTF
// ctfmerge put there too) reads its fuller DWARF; then a stock FreeBSD
// kernel's .SUNW_ctf.
constexpr TypeInfoReader readers[] = {
    {"dwarf", detail::has_dwarf, detail::read_dwarf},
    {"btf", detail::has_btf, detail::read_btf},
    {"ctf", detail::has_ctf, detail::read_ctf},
};

}  // namespace

std::span<const TypeInfoReader> all_type_info_readers() {
    return readers;
}

}  // namespace kvm
