// Page-map translators and their forms (page_map.h).
//
// The forms, from freebsd-dragonfly-dump-format.md:
//   amd64-pte-map           amd64 level 1 entries, one per 4 KiB from kernbase (FreeBSD and
//                           DragonFly v1)
//   amd64-pde-map           amd64 level 2 entries, one per 2 MiB from kernbase (FreeBSD v2, v3);
//                           PG_PS maps 2 MiB, else the level 1 table is read from the dump
//   amd64-pdpe-map-absolute amd64 level 3 entries, one per 1 GiB of the whole 48-bit space,
//                           indexed by (va >> 30) & 0x3ffff (DragonFly v2); the level 2 and 1
//                           tables are read from the dump
//   i386-pte-map            i386 4-byte level 1 entries, one per 4 KiB from kernbase
//   i386-pae-pte-map        i386 PAE 8-byte level 1 entries, one per 4 KiB from kernbase
//   arm64-l3-map-4k         arm64 level 3 descriptors, one per 4 KiB page from kernbase: valid
//                           when bits 1..0 are 0b11, the page at bits 49..12
//   arm64-l3-map-16k        the same with 16 KiB pages (bits 49..14)
#include "arch/page_map.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <array>

namespace kvm::paging {

namespace {

void no_check(std::uint64_t /*va*/) {}

// arm64 level 3 page descriptors.  The frame is ~0xfffc000000000fff (the
// output address, bits 49..12) less the bits inside a 16 KiB page.
constexpr std::array<PagingLevel, 1> arm64_l3_4k_level{{
    {.number = 3, .shift = 12, .index_bits = 9, .page_frame = 0x0003fffffffff000},
}};
constexpr std::array<PagingLevel, 1> arm64_l3_16k_level{{
    {.number = 3, .shift = 14, .index_bits = 11, .page_frame = 0x0003ffffffffc000},
}};
constexpr PagingForm arm64_l3_4k{.name = "arm64-l3-4k",
                                 .entry_size = 8,
                                 .valid_bits = 0x3,
                                 .large_bit = 0,
                                 .table_frame = 0,
                                 .levels = arm64_l3_4k_level,
                                 .check_va = &no_check};
constexpr PagingForm arm64_l3_16k{.name = "arm64-l3-16k",
                                  .entry_size = 8,
                                  .valid_bits = 0x3,
                                  .large_bit = 0,
                                  .table_frame = 0,
                                  .levels = arm64_l3_16k_level,
                                  .check_va = &no_check};

const PagingForm& arm64_l3_4k_paging() {
    return arm64_l3_4k;
}
const PagingForm& arm64_l3_16k_paging() {
    return arm64_l3_16k;
}

constexpr std::array page_map_forms{
    PageMapForm{.name = "amd64-pte-map", .paging = &amd64_paging, .level = 3, .absolute = false},
    PageMapForm{.name = "amd64-pde-map", .paging = &amd64_paging, .level = 2, .absolute = false},
    PageMapForm{.name = "amd64-pdpe-map-absolute", .paging = &amd64_paging, .level = 1, .absolute = true},
    PageMapForm{.name = "i386-pte-map", .paging = &i386_paging, .level = 1, .absolute = false},
    PageMapForm{.name = "i386-pae-pte-map", .paging = &i386_pae_paging, .level = 1, .absolute = false},
    PageMapForm{.name = "arm64-l3-map-4k", .paging = &arm64_l3_4k_paging, .level = 0, .absolute = false},
    PageMapForm{.name = "arm64-l3-map-16k", .paging = &arm64_l3_16k_paging, .level = 0, .absolute = false},
};

class PageMapTranslator final : public Translator {
public:
    PageMapTranslator(const PageMapForm& form, PageMapParams params)
        : form_(form), paging_(form.paging()), params_(std::move(params)) {
        if (form_.absolute && (params_.entries & (params_.entries - 1)) != 0)
            throw Error(ErrorKind::usage,
                        fmt::format("an absolute page map has {} entries, not a power of two", params_.entries));
    }

    std::string_view name() const override { return form_.name; }

    Mapping translate(std::uint64_t va, const PhysReader& read_phys) const override {
        const PagingLevel& level = paging_.levels[form_.level];
        paging_.check_va(va);  // i386: nothing above 32 bits
        if (va < params_.base)
            throw_fault(va, fmt::format("{}: below {}, where the page map starts", hex(va), hex(params_.base)));
        const std::uint64_t index =
            form_.absolute ? (va >> level.shift) & (params_.entries - 1) : (va - params_.base) >> level.shift;
        if (index >= params_.entries)
            throw_fault(va, fmt::format("{}: beyond the page map (index {} of {} entries from {})", hex(va), index,
                                        params_.entries, hex(params_.base)));
        std::array<std::byte, 8> raw{};
        try {
            params_.read(index, MutableByteSpan(raw.data(), paging_.entry_size));
        } catch (Error& e) {
            e.add_context(fmt::format("{}: reading entry {} of the page map", hex(va), index));
            throw;
        }
        const std::uint64_t entry = load_uint(raw.data(), paging_.entry_size, params_.order);
        if ((entry & paging_.valid_bits) != paging_.valid_bits)
            throw_fault(va, fmt::format("{}: level {} entry {} (index {} of the page map) is not valid", hex(va),
                                        level.number, hex(entry), index));
        return walk_from_entry(paging_, params_.order, form_.level, entry, va, read_phys);
    }

private:
    const PageMapForm& form_;
    const PagingForm& paging_;
    PageMapParams params_;
};

}  // namespace

std::span<const PageMapForm> all_page_map_forms() {
    return page_map_forms;
}

const PageMapForm* find_page_map_form(std::string_view name) {
    for (const auto& f : page_map_forms)
        if (f.name == name) return &f;
    return nullptr;
}

std::unique_ptr<Translator> make_page_map_translator(const PageMapForm& form, PageMapParams params) {
    return std::make_unique<PageMapTranslator>(form, std::move(params));
}

}  // namespace kvm::paging
