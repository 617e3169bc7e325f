// i386 paging: "i386" (two levels of 4-byte entries) and "i386-pae" (8-byte
// entries).  Facts from netbsd-dump-format.md section 3.
//   i386:     page directory index va >> 22, page table index (va >> 12) & 0x3ff,
//             PG_FRAME 0xfffff000; PG_PS in a directory entry maps a 4 MiB page
//             (frame 0xffc00000).
//   i386-pae: the root is the physical address of four contiguous page
//             directory pages, walked as one 2048-entry table (the level 3
//             page is skipped, as NetBSD's libkvm does): index
//             (va >> 21) & 0x7ff, page table index (va >> 12) & 0x1ff; 2 MiB
//             frame 0x000fffffffe00000, 4 KiB and table frame 0x000ffffffffff000.
//   i386-pae-pdpt: the walk the CPU does, as Linux sets it up: the root
//             is the page-directory-pointer table (swapper_pg_dir, a CR3;
//             32-byte aligned), four entries indexed by va >> 30, each
//             pointing at a page directory (no large pages at that level).
// Levels are numbered as messages name them: 3 the pointer table, 2 the page
// directory, 1 the page table.  The root is masked with the table frame, so I386_KCORE_PAE
// (0x200) may be left in it.
//
// Messages (kind fault, address() = the va), besides the walk's own in
// paging_walk.h:
//   "<va>: above the 32-bit virtual address space of i386"
//   "<va>: above the 32-bit virtual address space of i386-pae"
#include "arch/paging_walk.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <array>

namespace kvm {

namespace {

constexpr std::uint64_t pg_v = 0x1;
constexpr std::uint64_t pg_ps = 0x80;

void check_i386_va(std::uint64_t va) {
    if (va > 0xffffffff) throw_fault(va, fmt::format("{}: above the 32-bit virtual address space of i386", hex(va)));
}

void check_i386_pae_va(std::uint64_t va) {
    if (va > 0xffffffff)
        throw_fault(va, fmt::format("{}: above the 32-bit virtual address space of i386-pae", hex(va)));
}

constexpr std::array<paging::PagingLevel, 2> i386_levels{{
    {.number = 2, .shift = 22, .index_bits = 10, .page_frame = 0xffc00000},
    {.number = 1, .shift = 12, .index_bits = 10, .page_frame = 0xfffff000},
}};

constexpr std::array<paging::PagingLevel, 2> i386_pae_levels{{
    {.number = 2, .shift = 21, .index_bits = 11, .page_frame = 0x000fffffffe00000},
    {.number = 1, .shift = 12, .index_bits = 9, .page_frame = 0x000ffffffffff000},
}};

constexpr std::array<paging::PagingLevel, 3> i386_pae_pdpt_levels{{
    {.number = 3, .shift = 30, .index_bits = 2, .page_frame = 0},
    {.number = 2, .shift = 21, .index_bits = 9, .page_frame = 0x000fffffffe00000},
    {.number = 1, .shift = 12, .index_bits = 9, .page_frame = 0x000ffffffffff000},
}};

constexpr paging::PagingForm i386_form{.name = "i386",
                                       .entry_size = 4,
                                       .valid_bits = pg_v,
                                       .large_bit = pg_ps,
                                       .table_frame = 0xfffff000,
                                       .levels = i386_levels,
                                       .check_va = &check_i386_va};

constexpr paging::PagingForm i386_pae_form{.name = "i386-pae",
                                           .entry_size = 8,
                                           .valid_bits = pg_v,
                                           .large_bit = pg_ps,
                                           .table_frame = 0x000ffffffffff000,
                                           .levels = i386_pae_levels,
                                           .check_va = &check_i386_pae_va};

constexpr paging::PagingForm i386_pae_pdpt_form{.name = "i386-pae-pdpt",
                                                .entry_size = 8,
                                                .valid_bits = pg_v,
                                                .large_bit = pg_ps,
                                                .table_frame = 0x000ffffffffff000,
                                                .root_frame = 0xffffffe0,
                                                .levels = i386_pae_pdpt_levels,
                                                .check_va = &check_i386_pae_va};

}  // namespace

const paging::PagingForm& paging::i386_paging() {
    return i386_form;
}

const paging::PagingForm& paging::i386_pae_paging() {
    return i386_pae_form;
}

std::unique_ptr<Translator> make_i386_translator(const TranslatorParams& params) {
    return paging::make_paging_translator(i386_form, params);
}

std::unique_ptr<Translator> make_i386_pae_translator(const TranslatorParams& params) {
    return paging::make_paging_translator(i386_pae_form, params);
}

std::unique_ptr<Translator> make_i386_pae_pdpt_translator(const TranslatorParams& params) {
    return paging::make_paging_translator(i386_pae_pdpt_form, params);
}

}  // namespace kvm
