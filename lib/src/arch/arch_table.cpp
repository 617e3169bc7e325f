// The machines kvmkit knows.  One row per arch; MIDs from NetBSD's
// aout_mids.h (current numbering: 157 is x86_64, not the 2001 value 152),
// e_machine from the ELF gABI.
#include <kvm/arch.h>
#include <kvm/elf.h>

#include <array>

namespace kvm {

namespace {
constexpr std::array arch_table{
    ArchInfo{.name = "amd64",
             .order = ByteOrder::little,
             .pointer_size = 8,
             .page_size = 4096,
             .align_bytes = 7,
             .netbsd_mid = 157,
             .elf_machine = elf::em_x86_64},
    ArchInfo{.name = "i386",
             .order = ByteOrder::little,
             .pointer_size = 4,
             .page_size = 4096,
             .align_bytes = 3,
             .netbsd_mid = 134,
             .elf_machine = elf::em_386},
    // No NetBSD MID yet: NetBSD/arm64 kcores are not read, so their
    // ALIGNBYTES is not used either.  page_size is the 4 KiB granule; a
    // dump with 16 KiB pages says so itself (FreeBSD arm64 minidump v3).
    ArchInfo{.name = "arm64",
             .order = ByteOrder::little,
             .pointer_size = 8,
             .page_size = 4096,
             .align_bytes = 7,
             .netbsd_mid = 0,
             .elf_machine = elf::em_aarch64},
};
}  // namespace

std::span<const ArchInfo> all_arches() {
    return arch_table;
}

const ArchInfo* find_arch(std::string_view name) {
    for (const auto& a : arch_table)
        if (a.name == name) return &a;
    return nullptr;
}

const ArchInfo* find_arch_by_netbsd_mid(std::uint32_t mid) {
    for (const auto& a : arch_table)
        if (a.netbsd_mid != 0 && a.netbsd_mid == mid) return &a;
    return nullptr;
}

const ArchInfo* find_arch_by_elf_machine(std::uint16_t machine, unsigned elf_class) {
    for (const auto& a : arch_table)
        if (a.elf_machine == machine && (elf_class == 0 || (a.pointer_size == 8) == (elf_class == elf::elfclass64)))
            return &a;
    return nullptr;
}

std::uint64_t kcore_align(const ArchInfo& arch, std::uint64_t size) {
    return align_up(size, arch.align_bytes + 1);
}

}  // namespace kvm
