// amd64 paging: "amd64" (4 levels, 48-bit virtual addresses, what NetBSD
// uses) and "amd64-la57" (5 levels, 57-bit, Linux with LA57).  Facts from
// netbsd-dump-format.md section 3: 9-bit indices at shifts (48,) 39, 30, 21,
// 12; 8-byte entries; PG_V 0x1; PG_PS 0x80 makes a level 3 entry a 1 GiB
// page (frame 0x000fffffc0000000) and a level 2 entry a 2 MiB page (frame
// 0x000fffffffe00000); tables and 4 KiB pages use PG_FRAME
// 0x000ffffffffff000, which also drops NX (bit 63) and the PAT bit of
// large pages (bit 12).  PG_PS at level 4 or 5 is not a page size and is
// ignored.
//
// Messages (kind fault, address() = the va), besides the walk's own in
// paging_walk.h:
//   "<va>: non-canonical address (bits 63..48 are not all copies of bit 47)"   amd64
//   "<va>: non-canonical address (bits 63..57 are not all copies of bit 56)"   amd64-la57
#include "arch/paging_walk.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <array>

namespace kvm {

namespace {

constexpr std::uint64_t pg_v = 0x1;
constexpr std::uint64_t pg_ps = 0x80;
constexpr std::uint64_t pg_frame = 0x000ffffffffff000;
constexpr std::uint64_t pg_2mframe = 0x000fffffffe00000;
constexpr std::uint64_t pg_1gframe = 0x000fffffc0000000;

// A va is canonical when the bits above the top translated bit repeat it.
template <unsigned TopBit>
void check_canonical(std::uint64_t va) {
    const auto above = static_cast<std::int64_t>(va) >> TopBit;
    if (above != 0 && above != -1)
        throw_fault(va, fmt::format("{}: non-canonical address (bits 63..{} are not all copies of bit {})", hex(va),
                                    TopBit + 1, TopBit));
}

constexpr std::array<paging::PagingLevel, 4> levels_4{{
    {.number = 4, .shift = 39, .index_bits = 9, .page_frame = 0},
    {.number = 3, .shift = 30, .index_bits = 9, .page_frame = pg_1gframe},
    {.number = 2, .shift = 21, .index_bits = 9, .page_frame = pg_2mframe},
    {.number = 1, .shift = 12, .index_bits = 9, .page_frame = pg_frame},
}};

constexpr std::array<paging::PagingLevel, 5> levels_5{{
    {.number = 5, .shift = 48, .index_bits = 9, .page_frame = 0},
    levels_4[0],
    levels_4[1],
    levels_4[2],
    levels_4[3],
}};

constexpr paging::PagingForm amd64_form{.name = "amd64",
                                        .entry_size = 8,
                                        .valid_bits = pg_v,
                                        .large_bit = pg_ps,
                                        .table_frame = pg_frame,
                                        .levels = levels_4,
                                        .check_va = &check_canonical<47>};

constexpr paging::PagingForm amd64_la57_form{.name = "amd64-la57",
                                             .entry_size = 8,
                                             .valid_bits = pg_v,
                                             .large_bit = pg_ps,
                                             .table_frame = pg_frame,
                                             .levels = levels_5,
                                             .check_va = &check_canonical<56>};

}  // namespace

const paging::PagingForm& paging::amd64_paging() {
    return amd64_form;
}

std::unique_ptr<Translator> make_amd64_translator(const TranslatorParams& params) {
    return paging::make_paging_translator(amd64_form, params);
}

std::unique_ptr<Translator> make_amd64_la57_translator(const TranslatorParams& params) {
    return paging::make_paging_translator(amd64_la57_form, params);
}

}  // namespace kvm
