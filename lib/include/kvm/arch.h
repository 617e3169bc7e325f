// Architectures and address translators, as tables.
//
// An ArchInfo row says what a dumped machine is (byte order, pointer size,
// the ids that name it in NetBSD kcore headers and in ELF).  A Translator is
// one paging scheme (amd64 4-level, i386, i386 PAE, ...), created by name
// from a second table.  Translators read page tables only through a
// PhysReader callback and never see a file, so they are tested with planted
// page-table entries and no dump at all.
//
// Adding an arch: one ArchInfo row in src/arch/arch_table.cpp.  Adding a
// paging scheme: one file in src/arch/ and one row in its translator table.
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace kvm {

struct ArchInfo {
    std::string_view name;  // "amd64", "i386"
    ByteOrder order;
    unsigned pointer_size;      // bytes
    std::uint32_t page_size;    // bytes
    unsigned align_bytes;       // the port's __ALIGNBYTES (ALIGN() in kcore headers)
    std::uint32_t netbsd_mid;   // MID_MACHINE in kcore c_midmag, 0 if none
    std::uint16_t elf_machine;  // e_machine, 0 if none
};

// Lookups return nullptr when no row matches.
const ArchInfo* find_arch(std::string_view name);
const ArchInfo* find_arch_by_netbsd_mid(std::uint32_t mid);
const ArchInfo* find_arch_by_elf_machine(std::uint16_t machine, unsigned elf_class);
std::span<const ArchInfo> all_arches();

// ALIGN() of a kcore header size for this arch.
std::uint64_t kcore_align(const ArchInfo& arch, std::uint64_t size);

// Reads physical memory for a page-table walk.  Throws kvm::Error (fault)
// when the address is not in the dump.
using PhysReader = std::function<void(std::uint64_t pa, MutableByteSpan out)>;

// One translation: `length` bytes starting at `va` are contiguous in
// physical memory from `pa` (the rest of the page, whatever its size).
struct Mapping {
    std::uint64_t va = 0;
    std::uint64_t pa = 0;
    std::uint64_t length = 0;
    std::uint64_t page_size = 0;  // 4 KiB, 2 MiB, 4 MiB, 1 GiB, ...
};

class Translator {
public:
    virtual ~Translator() = default;
    virtual std::string_view name() const = 0;
    // Translates `va`.  Failures throw kvm::Error of kind fault whose address
    // is `va` and whose message names the level of the walk that failed, the
    // index, the table and the raw entry, e.g. "0xffff800000201000: level 2
    // entry 0x0 (index 0 of the table at pa 0x5000) is not valid".  All
    // formats: src/arch/paging_walk.h and the scheme files.
    virtual Mapping translate(std::uint64_t va, const PhysReader& read_phys) const = 0;
};

struct TranslatorParams {
    std::uint64_t root = 0;  // physical address of the top-level table
    ByteOrder order = ByteOrder::little;
    // Bits set in page-table entries (and in the root) that are not part of
    // the address they hold: AMD memory encryption's C-bit, which a kernel
    // booted with SME sets in every entry (Linux: NUMBER(sme_mask)).
    std::uint64_t encryption_mask = 0;
    // Schemes with a choice of page size and address-space size (arm64):
    // the translation granule in bytes and the virtual address bits it
    // translates; 0 picks the scheme's default (arm64: 4 KiB, 48 bits).
    // Other schemes ignore them.
    std::uint32_t granule = 0;
    unsigned va_bits = 0;
};

struct TranslatorInfo {
    std::string_view name;  // "amd64", "amd64-la57", "i386", "i386-pae", "arm64"
    std::unique_ptr<Translator> (*create)(const TranslatorParams&);
};

std::span<const TranslatorInfo> all_translators();
// Throws ErrorKind::unsupported naming the scheme when there is no such row.
std::unique_ptr<Translator> make_translator(std::string_view name, const TranslatorParams& params);

}  // namespace kvm
