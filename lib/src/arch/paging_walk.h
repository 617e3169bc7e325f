// The radix page-table walk that the x86 translators share, described as
// data: a scheme file (amd64.cpp, i386.cpp) fills in a PagingForm and hands
// it to make_paging_translator.  The walk reads one entry per level through
// the PhysReader and nothing else, so it is bounded by the level count even
// when an entry points back at its own table.
//
// Messages (kind fault, address() = the va), the formats tests rely on:
//   "<va>: level <L> entry <raw> (index <i> of the table at pa <table>) is not valid"
//   "<va>: level <L> table at pa <table> is not in the dump (from level <L+1> entry <raw>)"
//   "<va>: level <L> table at pa <table> is not in the dump (the page-table root)"
// <va>, <raw> and <table> are hex() ("0x..."), <L> and <i> decimal.  <table>
// is the table's base address; for i386 PAE's level 2 that is the first of
// its four page-directory pages and <i> runs over all 2048 entries.
// A PhysReader failure of another kind than fault (an i/o error, say) keeps
// its kind and gets the context "<va>: reading level <L> table at pa <table>".
// Address-space checks (non-canonical, beyond 32 bits) are the scheme's own
// and documented in its file.
#pragma once

#include <kvm/arch.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace kvm::paging {

struct PagingLevel {
    unsigned number;      // as messages name it: 4 is amd64's PML4, 1 the page table
    unsigned shift;       // lowest va bit of this level's index; a page here is 1 << shift bytes
    unsigned index_bits;  // 9, 10 or 11
    // Frame mask of the page an entry maps at this level: on the last level
    // always, above it only when the entry has the large-page bit.  0 above
    // the last level means the large-page bit is not a page size here (it is
    // ignored, as libkvm does).
    std::uint64_t page_frame;
};

struct PagingForm {
    std::string_view name;
    unsigned entry_size;                  // 4 or 8 bytes
    std::uint64_t valid_bits;             // an entry is valid when all of these are set (x86 PG_V; arm64 0b11)
    std::uint64_t large_bit;              // PG_PS
    std::uint64_t table_frame;            // frame mask of an entry (and of the root) that points at a table
    std::uint64_t root_frame = 0;         // the root's own mask when it differs (PAE's 32-byte PDPT)
    std::span<const PagingLevel> levels;  // top level first; never empty
    // Throws a fault for a va outside the scheme's address space.
    void (*check_va)(std::uint64_t va);
};

// `form` must outlive the translator (scheme files pass a static constant).
// The root is masked with form.table_frame, which drops flag bits such as
// i386's I386_KCORE_PAE (0x200) and a CR3's low bits.  params.encryption_mask
// is cleared from the root and from every entry before its address is used;
// messages show entries as they are in memory.
std::unique_ptr<Translator> make_paging_translator(const PagingForm& form, const TranslatorParams& params);

// The schemes' forms (amd64.cpp, i386.cpp), for walks that start below
// the root.
const PagingForm& amd64_paging();
const PagingForm& i386_paging();
const PagingForm& i386_pae_paging();

// Finishes a walk whose entry at form.levels[level] was found without
// reading a table (a minidump's page map holds it): `entry` must be valid.
// The page it maps, or the tables below it read through `read_phys`, give
// the mapping; messages are the walk's own, naming `entry` as the parent of
// the next level.  No encryption mask: no page map kvmkit reads has one.
Mapping walk_from_entry(const PagingForm& form, ByteOrder order, std::size_t level, std::uint64_t entry,
                        std::uint64_t va, const PhysReader& read_phys);

}  // namespace kvm::paging
