// arm64 paging: AArch64 stage-1 translation of the kernel's half of the
// address space (TTBR1_EL1) as Linux sets it up, or of a process's half
// (TTBR0_EL1, make_user_translator) through its mm->pgd.  One scheme, "arm64",
// shaped by TranslatorParams::granule (4, 16 or 64 KiB) and ::va_bits
// (25 to 52; Linux uses 39 and 48 with 4 KiB pages, 36, 47 and 48 with
// 16 KiB, 42 and 48 with 64 KiB, and 52 with any of them).
//
// Facts (Arm ARM, VMSAv8-64 translation tables):
//   - A table is one granule of 8-byte descriptors, 2^(g-3) of them for a
//     granule of 2^g bytes; level 3 indexes va bits [2g-4 : g], each level
//     above g-3 bits more.  The walk starts at the level that covers
//     va_bits; its table holds only the entries the remaining bits index
//     (64 KiB pages with 48-bit VAs: 64 entries at level 1).  4 KiB pages
//     with 52-bit VAs start at level -1 (4 index bits).
//   - Bits 1..0: 0b11 a table (levels -1..2) or a page (level 3); 0b01 a
//     block (levels that allow one) and reserved at level 3; bit 0 clear:
//     invalid.  Blocks: level 1 (1 GiB) and 2 (2 MiB) with 4 KiB pages,
//     level 0 (512 GiB) too with 52-bit output addresses; level 2 (32 MiB)
//     with 16 KiB pages, level 1 (64 GiB) too with 52-bit output
//     addresses; level 2 (512 MiB) with 64 KiB pages, level 1 (4 TiB) too
//     with 52-bit output addresses (FEAT_LPA).
//   - Output and next-table addresses: bits 47..g of the descriptor.  With
//     64 KiB pages address bits 51..48 are descriptor bits 15..12 (FEAT_LPA;
//     RES0 without it, so always decoded).  With 4 or 16 KiB pages and
//     52-bit VAs, Linux runs with TCR_EL1.DS (FEAT_LPA2): address bits
//     49..g are descriptor bits 49..g and bits 51..50 are descriptor bits
//     9..8 (the shareability field otherwise; Linux sets DS exactly when
//     its VA size is 52 bits, as __cpu_setup does).  Descriptor bits 49..48
//     are RES0 where they are not address bits: set, the address is beyond
//     the physical address size (48 bits, or 52 with 64 KiB pages).  As
//     64 KiB descriptors are always read in their 52-bit form, level 1
//     blocks are accepted with them.
//   - The contiguous hint (bit 52) only says that neighbouring entries map
//     neighbouring memory alike: each descriptor maps its own page by
//     itself, so the hint is ignored.  The other upper and lower attributes
//     (AF, SH, AP, UXN, PXN, DBM, GP, the table attributes 63..59) are
//     ignored too.
//   - Linux never points a table at one of its own ancestors (no recursive
//     mapping on arm64), so a walk that comes back to a table it read is
//     corrupt and stops.
//
// Messages (kind fault, address() = the va); <L> is a signed level, -1 to 3:
//   "<va>: not in the kernel half of a 48-bit address space (bits 63..48 are not all ones)"
//   "<va>: not in the user half of a 48-bit address space (bits 63..48 are not all zeros)"
// (a root is one half's table: swapper_pg_dir the kernel's, mm->pgd a
// process's; both halves index their tables with the same bits)
//   "<va>: level <L> entry <raw> (index <i> of the table at pa <table>) is not valid"
//   "<va>: level 3 entry <raw> (index <i> of the table at pa <table>) is reserved (bits 1..0 are 0b01)"
//   "<va>: level <L> entry <raw> (index <i> of the table at pa <table>) is a block, which level <L> cannot hold with 4
//   KiB pages"
//   "<va>: level <L> entry <raw> (index <i> of the table at pa <table>) has an address beyond the 48-bit physical
//   address space"
//   "<va>: level <L> entry <raw> (index <i> of the table at pa <table>) points back at the level <M> table at pa <t>"
//   "<va>: level <L> table at pa <table> is not in the dump (from level <L-1> entry <raw>)"
//   "<va>: level <L> table at pa <table> is not in the dump (the page-table root)"
// A reader failure of another kind keeps it, with the context
// "<va>: reading level <L> table at pa <table>".
// make_arm64_translator, kind usage:
//   "arm64: a 0x2000-byte translation granule is not one of 0x1000, 0x4000, 0x10000"
//   "arm64: 53-bit virtual addresses are outside 25 to 52 bits"
#include <kvm/arch.h>
#include <kvm/error.h>

#include "arch/user_translator.h"

#include <fmt/format.h>

#include <array>

namespace kvm {

namespace {

constexpr std::uint64_t desc_valid = 0x1;
constexpr std::uint64_t desc_table = 0x2;  // with desc_valid: a table (or a level 3 page)
constexpr unsigned min_va_bits = 25;
constexpr unsigned max_va_bits = 52;
constexpr unsigned last_level = 3;

std::uint64_t bits(unsigned high, unsigned low) {
    return ((~std::uint64_t{0}) >> (63 - high)) & ~((std::uint64_t{1} << low) - 1);
}

class Arm64Translator final : public Translator {
public:
    Arm64Translator(const TranslatorParams& params, bool user_half)
        : order_(params.order),
          granule_shift_(granule_shift(params.granule == 0 ? 4096 : params.granule)),
          va_bits_(params.va_bits == 0 ? 48 : params.va_bits),
          index_bits_(granule_shift_ - 3),
          user_half_(user_half) {
        if (va_bits_ < min_va_bits || va_bits_ > max_va_bits)
            throw Error(ErrorKind::usage, fmt::format("arm64: {}-bit virtual addresses are outside {} to {} bits",
                                                      va_bits_, min_va_bits, max_va_bits));
        // 52-bit output addresses: always decoded with 64 KiB pages; LPA2's
        // form with smaller pages exactly when the VA size is 52 bits.
        lpa2_ = granule_shift_ != 16 && va_bits_ == 52;
        wide_pa_ = granule_shift_ == 16 || lpa2_;
        const unsigned levels = (va_bits_ - granule_shift_ + index_bits_ - 1) / index_bits_;
        first_level_ = static_cast<int>(last_level + 1) - static_cast<int>(levels);
        root_ = params.root;
    }

    std::string_view name() const override { return "arm64"; }

    Mapping translate(std::uint64_t va, const PhysReader& read_phys) const override {
        const std::uint64_t high_bits = ~((std::uint64_t{1} << va_bits_) - 1);
        if ((va & high_bits) != (user_half_ ? 0 : high_bits))
            throw_fault(va, fmt::format("{}: not in the {} half of a {}-bit address space (bits 63..{} are not "
                                        "all {})",
                                        hex(va), user_half_ ? "user" : "kernel", va_bits_, va_bits_,
                                        user_half_ ? "zeros" : "ones"));
        std::array<std::uint64_t, last_level + 2> seen{};  // the tables this walk read, a level each
        std::size_t seen_count = 0;
        std::uint64_t table = root_;
        std::uint64_t parent_entry = 0;
        for (int level = first_level_;; ++level) {
            const unsigned shift = level_shift(level);
            const unsigned width = level == first_level_ ? va_bits_ - shift : index_bits_;
            const std::uint64_t index = (va >> shift) & ((std::uint64_t{1} << width) - 1);
            const std::uint64_t entry = read_entry(va, level, table, index, parent_entry, read_phys);
            const auto where = [&] {
                return fmt::format("{}: level {} entry {} (index {} of the table at pa {})", hex(va), level, hex(entry),
                                   index, hex(table));
            };
            if ((entry & desc_valid) == 0) throw_fault(va, where() + " is not valid");
            if (!lpa2_ && (entry & bits(49, 48)) != 0)
                throw_fault(va, where() + fmt::format(" has an address beyond the {}-bit physical address space",
                                                      wide_pa_ ? 52 : 48));
            const bool table_bit = (entry & desc_table) != 0;
            if (level == static_cast<int>(last_level)) {
                if (!table_bit) throw_fault(va, where() + " is reserved (bits 1..0 are 0b01)");
                return map(va, shift, entry);
            }
            if (!table_bit) {
                if (!block_allowed(level))
                    throw_fault(va, where() + fmt::format(" is a block, which level {} cannot hold with {} KiB pages",
                                                          level, (std::uint64_t{1} << granule_shift_) / 1024));
                return map(va, shift, entry);
            }
            seen[seen_count++] = table;
            const std::uint64_t next = address_of(entry, granule_shift_);
            for (std::size_t i = 0; i < seen_count; ++i)
                if (seen[i] == next)
                    throw_fault(va, where() + fmt::format(" points back at the level {} table at pa {}",
                                                          first_level_ + static_cast<int>(i), hex(next)));
            table = next;
            parent_entry = entry;
        }
    }

private:
    static unsigned granule_shift(std::uint32_t granule) {
        switch (granule) {
            case 4096:
                return 12;
            case 16384:
                return 14;
            case 65536:
                return 16;
            default:
                throw Error(ErrorKind::usage,
                            fmt::format("arm64: a {:#x}-byte translation granule is not one of 0x1000, 0x4000, 0x10000",
                                        granule));
        }
    }

    unsigned level_shift(int level) const {
        return granule_shift_ + static_cast<unsigned>(static_cast<int>(last_level) - level) * index_bits_;
    }

    // Levels 1 and 2 with 4 KiB pages, level 2 otherwise; one level higher
    // with 52-bit output addresses.  Never the first level of a 52-bit
    // 4 KiB walk (level -1), never level 3.
    bool block_allowed(int level) const {
        const int highest = (granule_shift_ == 12 ? 1 : 2) - (wide_pa_ ? 1 : 0);
        return level >= highest && level >= 0 && level < static_cast<int>(last_level);
    }

    // The address a descriptor holds, from bit `low` up (the page or table
    // alignment): the 52-bit forms move the top bits into low descriptor bits.
    std::uint64_t address_of(std::uint64_t entry, unsigned low) const {
        if (granule_shift_ == 16) return (entry & bits(47, low)) | ((entry & bits(15, 12)) << 36);
        if (lpa2_) return (entry & bits(49, low)) | ((entry & bits(9, 8)) << 42);
        return entry & bits(47, low);
    }

    Mapping map(std::uint64_t va, unsigned shift, std::uint64_t entry) const {
        const std::uint64_t page_size = std::uint64_t{1} << shift;
        const std::uint64_t offset = va & (page_size - 1);
        return Mapping{
            .va = va, .pa = address_of(entry, shift) + offset, .length = page_size - offset, .page_size = page_size};
    }

    std::uint64_t read_entry(std::uint64_t va, int level, std::uint64_t table, std::uint64_t index,
                             std::uint64_t parent_entry, const PhysReader& read_phys) const {
        std::array<std::byte, 8> raw{};
        try {
            read_phys(table + index * 8, MutableByteSpan(raw.data(), raw.size()));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::fault) {
                Error with_context(e);
                with_context.add_context(
                    fmt::format("{}: reading level {} table at pa {}", hex(va), level, hex(table)));
                throw with_context;
            }
            const std::string from = level == first_level_
                                         ? std::string("the page-table root")
                                         : fmt::format("from level {} entry {}", level - 1, hex(parent_entry));
            throw_fault(va, fmt::format("{}: level {} table at pa {} is not in the dump ({})", hex(va), level,
                                        hex(table), from));
        }
        return load64(raw.data(), order_);
    }

    ByteOrder order_;
    unsigned granule_shift_;
    unsigned va_bits_;
    unsigned index_bits_;
    bool user_half_;
    bool lpa2_ = false;
    bool wide_pa_ = false;
    int first_level_ = 0;
    std::uint64_t root_ = 0;
};

}  // namespace

std::unique_ptr<Translator> make_arm64_translator(const TranslatorParams& params) {
    return std::make_unique<Arm64Translator>(params, false);
}

std::unique_ptr<Translator> make_user_translator(std::string_view name, const TranslatorParams& params) {
    if (name == "arm64") return std::make_unique<Arm64Translator>(params, true);
    return make_translator(name, params);
}

}  // namespace kvm
