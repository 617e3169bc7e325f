// Page tables of the x86 paging schemes, and arm64's (further down), built
// in a PhysMemory.  The layouts
// here are a second, independent reading of netbsd-dump-format.md section 3
// (not the translators' tables), so a round trip through a Translator checks
// one against the other.
//
// Table pages come from PhysMemory::alloc_pages, are zeroed with
// PhysMemory::write, and are scattered over RAM.  Entries carry what a
// kernel writes for its own mappings: PG_V|PG_RW for table pointers and 4 KiB
// pages, PG_V|PG_RW|PG_PS for large pages.  i386 tables and frames lie below
// 4 GiB (4-byte entries); an i386 PAE root (four contiguous page directories)
// lies below 4 GiB because the kcore header holds it in 32 bits.
//
// Messages (kind usage unless said):
//   make_page_table_builder, kind unsupported:
//     "no page-table builder for paging scheme \"sparc64\" (known: amd64, amd64-la57, i386, i386-pae,
//     i386-pae-pdpt, arm64)"
//   make_page_table_builder("arm64", ...) is make_arm64_page_table_builder with 48-bit VAs;
//     with an encryption mask: "arm64 page-table entries have no encryption bit"
//   make_page_table_builder: "amd64 page tables need 4 KiB physical pages, not 0x2000"
//   map: "amd64 has no 0x3000-byte pages (it has 0x1000, 0x200000, 0x40000000)"
//        "cannot map va 0x... to pa 0x... with a 0x200000-byte page: both must be aligned to it"
//        "va 0x800000000000 is not a canonical amd64 address"
//        "va 0x100000000 is above the 32-bit address space of i386"
//        "pa 0x100000000 of a 0x1000-byte page is beyond the 0x100000000-byte physical address space of i386"
//        "va 0x... is already mapped by a 0x200000-byte page"
//        "va 0x... is already mapped by smaller pages"
//   map_range: "cannot map 0x1800 bytes from va 0x... to pa 0x...: va, pa and size must be multiples of 0x1000"
//   make_arm64_page_table_builder: "arm64 page tables need 4, 16 or 64 KiB physical pages, not 0x2000"
//        "arm64 has no 53-bit virtual address space (25 to 52 bits)"
//   its map: "arm64 with 0x1000-byte granules and 48-bit addresses has no 0x3000-byte pages (it has
//            0x1000, 0x200000, 0x40000000)" (one line)
//        "va 0x... is not in the kernel half of a 48-bit arm64 address space"
// Allocation failures (no RAM left, none below 4 GiB for i386) are PhysMemory::alloc_pages's.
#include <kvm/error.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <span>

namespace kvm::synth {

namespace {

constexpr std::uint64_t pg_v = 0x1;
constexpr std::uint64_t pg_rw = 0x2;
constexpr std::uint64_t pg_ps = 0x80;
constexpr std::uint64_t table_page = 4096;

[[noreturn]] void throw_usage(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

struct LevelShape {
    unsigned shift;       // lowest va bit of the index; an entry here spans 1 << shift bytes
    unsigned index_bits;  // 9, 10 or 11
    bool large_pages;     // an entry here may map a page (with PG_PS); the last level always does
};

struct SchemeShape {
    std::string_view name;
    unsigned entry_size;
    std::span<const LevelShape> levels;  // top level first
    std::uint64_t root_pages;            // i386 PAE: four page directories walked as one table
    std::uint64_t table_frame;           // bits of an entry that address the next table
    unsigned va_bits;                    // virtual address bits translated
    bool sign_extended;                  // amd64: the bits above va_bits repeat the top one
    std::uint64_t phys_limit;            // tables and pages lie below this
    std::uint64_t root_limit;            // the root lies below this
};

constexpr std::array<LevelShape, 5> amd64_la57_levels{{
    {.shift = 48, .index_bits = 9, .large_pages = false},
    {.shift = 39, .index_bits = 9, .large_pages = false},
    {.shift = 30, .index_bits = 9, .large_pages = true},
    {.shift = 21, .index_bits = 9, .large_pages = true},
    {.shift = 12, .index_bits = 9, .large_pages = true},
}};
constexpr std::array<LevelShape, 2> i386_levels{{
    {.shift = 22, .index_bits = 10, .large_pages = true},
    {.shift = 12, .index_bits = 10, .large_pages = true},
}};
constexpr std::array<LevelShape, 3> i386_pae_pdpt_levels{{
    {.shift = 30, .index_bits = 2, .large_pages = false},
    {.shift = 21, .index_bits = 9, .large_pages = true},
    {.shift = 12, .index_bits = 9, .large_pages = true},
}};
constexpr std::array<LevelShape, 2> i386_pae_levels{{
    {.shift = 21, .index_bits = 11, .large_pages = true},
    {.shift = 12, .index_bits = 9, .large_pages = true},
}};

constexpr std::uint64_t four_gib = std::uint64_t{1} << 32;
constexpr std::uint64_t amd64_phys_limit = std::uint64_t{1} << 52;
constexpr std::uint64_t no_limit = ~std::uint64_t{0};

constexpr std::array schemes{
    SchemeShape{.name = "amd64",
                .entry_size = 8,
                .levels = std::span(amd64_la57_levels).subspan(1),
                .root_pages = 1,
                .table_frame = 0x000ffffffffff000,
                .va_bits = 48,
                .sign_extended = true,
                .phys_limit = amd64_phys_limit,
                .root_limit = no_limit},
    SchemeShape{.name = "amd64-la57",
                .entry_size = 8,
                .levels = amd64_la57_levels,
                .root_pages = 1,
                .table_frame = 0x000ffffffffff000,
                .va_bits = 57,
                .sign_extended = true,
                .phys_limit = amd64_phys_limit,
                .root_limit = no_limit},
    SchemeShape{.name = "i386",
                .entry_size = 4,
                .levels = i386_levels,
                .root_pages = 1,
                .table_frame = 0xfffff000,
                .va_bits = 32,
                .sign_extended = false,
                .phys_limit = four_gib,
                .root_limit = four_gib},
    SchemeShape{.name = "i386-pae",
                .entry_size = 8,
                .levels = i386_pae_levels,
                .root_pages = 4,
                .table_frame = 0x000ffffffffff000,
                .va_bits = 32,
                .sign_extended = false,
                .phys_limit = amd64_phys_limit,
                .root_limit = four_gib},
    SchemeShape{.name = "i386-pae-pdpt",
                .entry_size = 8,
                .levels = i386_pae_pdpt_levels,
                .root_pages = 1,
                .table_frame = 0x000ffffffffff000,
                .va_bits = 32,
                .sign_extended = false,
                .phys_limit = amd64_phys_limit,
                .root_limit = four_gib},
};

std::string hex_list(const std::vector<std::uint64_t>& values) {
    std::string out;
    for (const auto v : values)
        out += fmt::format("{}{}", out.empty() ? "" : ", ", hex(v));
    return out;
}

class RadixTableBuilder final : public PageTableBuilder {
public:
    RadixTableBuilder(const SchemeShape& shape, PhysMemory& memory, ByteOrder order, std::uint64_t encryption_mask)
        : shape_(shape),
          memory_(memory),
          order_(order),
          encryption_mask_(encryption_mask),
          root_(new_table(shape.root_pages, shape.root_limit)) {}

    std::uint64_t root() const override { return root_; }

    std::vector<std::uint64_t> page_sizes() const override {
        std::vector<std::uint64_t> sizes;
        for (auto it = shape_.levels.rbegin(); it != shape_.levels.rend(); ++it)
            if (it->large_pages) sizes.push_back(std::uint64_t{1} << it->shift);
        return sizes;
    }

    void map(std::uint64_t va, std::uint64_t pa, std::uint64_t page_size) override {
        const auto sizes = page_sizes();
        if (std::find(sizes.begin(), sizes.end(), page_size) == sizes.end())
            throw_usage(fmt::format("{} has no {:#x}-byte pages (it has {})", shape_.name, page_size, hex_list(sizes)));
        if (va % page_size != 0 || pa % page_size != 0)
            throw_usage(fmt::format("cannot map va {} to pa {} with a {:#x}-byte page: both must be aligned to it",
                                    hex(va), hex(pa), page_size));
        check_va(va);
        if (pa > shape_.phys_limit - page_size)
            throw_usage(fmt::format("pa {} of a {:#x}-byte page is beyond the {:#x}-byte physical address space of {}",
                                    hex(pa), page_size, shape_.phys_limit, shape_.name));

        std::uint64_t table = root_;
        for (const LevelShape& level : shape_.levels) {
            const std::uint64_t index = (va >> level.shift) & ((std::uint64_t{1} << level.index_bits) - 1);
            const std::uint64_t entry_pa = table + index * shape_.entry_size;
            const std::uint64_t entry = read_entry(entry_pa);
            const bool last = &level == &shape_.levels.back();
            const bool present = (entry & pg_v) != 0;
            if ((std::uint64_t{1} << level.shift) == page_size) {
                // Replacing a page of the same size is allowed; replacing a table is not.
                if (present && !last && (entry & pg_ps) == 0)
                    throw_usage(fmt::format("va {} is already mapped by smaller pages", hex(va)));
                write_entry(entry_pa, pa | encryption_mask_ | pg_v | pg_rw | (last ? 0 : pg_ps));
                return;
            }
            if (present && level.large_pages && (entry & pg_ps) != 0)
                throw_usage(fmt::format("va {} is already mapped by a {:#x}-byte page", hex(va),
                                        std::uint64_t{1} << level.shift));
            if (present) {
                table = entry & ~encryption_mask_ & shape_.table_frame;
            } else {
                table = new_table(1, shape_.phys_limit);
                write_entry(entry_pa, table | encryption_mask_ | pg_v | pg_rw);
            }
        }
    }

private:
    void check_va(std::uint64_t va) const {
        if (shape_.sign_extended) {
            const auto above = static_cast<std::int64_t>(va) >> (shape_.va_bits - 1);
            if (above != 0 && above != -1)
                throw_usage(fmt::format("va {} is not a canonical {} address", hex(va), shape_.name));
        } else if (va >> shape_.va_bits != 0) {
            throw_usage(
                fmt::format("va {} is above the {}-bit address space of {}", hex(va), shape_.va_bits, shape_.name));
        }
    }

    std::uint64_t new_table(std::uint64_t pages, std::uint64_t limit) {
        const std::uint64_t pa = memory_.alloc_pages(pages, table_page, limit);
        memory_.write(pa, Bytes(pages * table_page));
        return pa;
    }

    std::uint64_t read_entry(std::uint64_t pa) const {
        std::array<std::byte, 8> raw{};
        memory_.read(pa, MutableByteSpan(raw.data(), shape_.entry_size));
        return load_uint(raw.data(), shape_.entry_size, order_);
    }

    void write_entry(std::uint64_t pa, std::uint64_t value) {
        std::array<std::byte, 8> raw{};
        store_uint(raw.data(), value, shape_.entry_size, order_);
        memory_.write(pa, ByteSpan(raw.data(), shape_.entry_size));
    }

    const SchemeShape& shape_;
    PhysMemory& memory_;
    ByteOrder order_;
    std::uint64_t encryption_mask_;
    std::uint64_t root_;
};

// AArch64 tables of the kernel half (TTBR1), read afresh from the Arm ARM's
// VMSAv8-64 description: a granule of 2^g bytes holds 2^(g-3) descriptors;
// the lowest level (3) maps pages of the granule, each level up g-3 va bits
// more; the walk starts where the levels cover va_bits.  Blocks: 2 MiB and
// 1 GiB with 4 KiB granules, 32 MiB with 16 KiB, 512 MiB with 64 KiB; one
// level higher with 52-bit output addresses (512 GiB, 64 GiB, 4 TiB).
// Output addresses: bits 47..g; with 64 KiB granules bits 51..48 go into
// descriptor bits 15..12; with 4 or 16 KiB granules and 52-bit VAs (LPA2),
// bits 49..g stay and 51..50 go into descriptor bits 9..8.  Descriptors carry
// what Linux's PAGE_KERNEL and its table entries carry: AF, inner
// shareability (not with LPA2: those bits are address bits then), PXN, UXN,
// DBM, and UXNTable on tables, which a walk ignores.
constexpr std::uint64_t arm64_valid = 0x1;
constexpr std::uint64_t arm64_table_or_page = 0x2;
constexpr std::uint64_t arm64_af = std::uint64_t{1} << 10;
constexpr std::uint64_t arm64_sh_inner = std::uint64_t{3} << 8;
constexpr std::uint64_t arm64_dbm = std::uint64_t{1} << 51;
constexpr std::uint64_t arm64_pxn = std::uint64_t{1} << 53;
constexpr std::uint64_t arm64_uxn = std::uint64_t{1} << 54;
constexpr std::uint64_t arm64_uxn_table = std::uint64_t{1} << 60;

class Arm64TableBuilder final : public PageTableBuilder {
public:
    Arm64TableBuilder(PhysMemory& memory, unsigned va_bits, ByteOrder order)
        : memory_(memory), order_(order), granule_(memory.page_size()), va_bits_(va_bits) {
        for (unsigned g = 12; g <= 16; g += 2)
            if (granule_ == std::uint64_t{1} << g) granule_shift_ = g;
        if (granule_shift_ == 0)
            throw_usage(fmt::format("arm64 page tables need 4, 16 or 64 KiB physical pages, not {:#x}", granule_));
        if (va_bits < 25 || va_bits > 52)
            throw_usage(fmt::format("arm64 has no {}-bit virtual address space (25 to 52 bits)", va_bits));
        wide_ = va_bits == 52;
        // Levels from the bottom: level 3 maps granules; add levels until
        // the va bits are covered.
        unsigned covered = granule_shift_;
        int level = 3;
        while (true) {
            const unsigned width = std::min(granule_shift_ - 3, va_bits - covered);
            shifts_.insert(shifts_.begin(), covered);
            widths_.insert(widths_.begin(), width);
            covered += width;
            if (covered == va_bits) break;
            --level;
        }
        first_level_ = level;
        phys_limit_ = std::uint64_t{1} << (wide_ || granule_shift_ == 16 ? 52 : 48);
        root_ = new_table();
    }

    std::uint64_t root() const override { return root_; }

    std::vector<std::uint64_t> page_sizes() const override {
        std::vector<std::uint64_t> sizes{granule_};
        // Block levels counted down from level 2 (level 1 with 4 KiB granules).
        const int lowest_block = 2;
        const int highest_block = (granule_shift_ == 12 ? 1 : 2) - (wide_ ? 1 : 0);
        for (int level = lowest_block; level >= std::max(highest_block, first_level_); --level)
            if (level >= 0) sizes.push_back(std::uint64_t{1} << shift_of(level));
        return sizes;
    }

    void map(std::uint64_t va, std::uint64_t pa, std::uint64_t page_size) override {
        const auto sizes = page_sizes();
        if (std::find(sizes.begin(), sizes.end(), page_size) == sizes.end())
            throw_usage(
                fmt::format("arm64 with {:#x}-byte granules and {}-bit addresses has no {:#x}-byte pages (it "
                            "has {})",
                            granule_, va_bits_, page_size, hex_list(sizes)));
        if (va % page_size != 0 || pa % page_size != 0)
            throw_usage(fmt::format("cannot map va {} to pa {} with a {:#x}-byte page: both must be aligned to it",
                                    hex(va), hex(pa), page_size));
        if ((va >> va_bits_) != (~std::uint64_t{0} >> va_bits_))
            throw_usage(
                fmt::format("va {} is not in the kernel half of a {}-bit arm64 address space", hex(va), va_bits_));
        if (pa > phys_limit_ - page_size)
            throw_usage(
                fmt::format("pa {} of a {:#x}-byte page is beyond the {:#x}-byte physical address space of "
                            "arm64",
                            hex(pa), page_size, phys_limit_));
        std::uint64_t table = root_;
        for (std::size_t i = 0; i < shifts_.size(); ++i) {
            const std::uint64_t index = (va >> shifts_[i]) & ((std::uint64_t{1} << widths_[i]) - 1);
            const std::uint64_t entry_pa = table + index * 8;
            const std::uint64_t entry = read_entry(entry_pa);
            const bool last = i + 1 == shifts_.size();
            const bool valid = (entry & arm64_valid) != 0;
            const bool is_table = valid && !last && (entry & arm64_table_or_page) != 0;
            if ((std::uint64_t{1} << shifts_[i]) == page_size) {
                if (is_table) throw_usage(fmt::format("va {} is already mapped by smaller pages", hex(va)));
                write_entry(entry_pa, encode(pa) | arm64_valid | (last ? arm64_table_or_page : 0) | arm64_af |
                                          (wide_ && granule_shift_ != 16 ? 0 : arm64_sh_inner) | arm64_dbm | arm64_pxn |
                                          arm64_uxn);
                return;
            }
            if (valid && !is_table)
                throw_usage(fmt::format("va {} is already mapped by a {:#x}-byte page", hex(va),
                                        std::uint64_t{1} << shifts_[i]));
            if (valid) {
                table = decode(entry);
            } else {
                table = new_table();
                write_entry(entry_pa, encode(table) | arm64_valid | arm64_table_or_page | arm64_uxn_table);
            }
        }
    }

private:
    unsigned shift_of(int level) const { return shifts_[static_cast<std::size_t>(level - first_level_)]; }

    std::uint64_t encode(std::uint64_t pa) const {
        const std::uint64_t top = pa >> 48;  // bits 51..48
        const std::uint64_t low = pa & ((std::uint64_t{1} << 48) - 1);
        if (granule_shift_ == 16) return low | (top << 12);
        if (wide_) return (pa & ((std::uint64_t{1} << 50) - 1)) | ((pa >> 50) << 8);
        return low;
    }
    std::uint64_t decode(std::uint64_t entry) const {
        const std::uint64_t frame = ~(granule_ - 1);
        if (granule_shift_ == 16)
            return (entry & ((std::uint64_t{1} << 48) - 1) & frame) | (((entry >> 12) & 0xf) << 48);
        if (wide_) return (entry & ((std::uint64_t{1} << 50) - 1) & frame) | (((entry >> 8) & 3) << 50);
        return entry & ((std::uint64_t{1} << 48) - 1) & frame;
    }

    std::uint64_t new_table() {
        const std::uint64_t pa = memory_.alloc_pages(1, granule_, phys_limit_);
        memory_.write(pa, Bytes(granule_));
        return pa;
    }
    std::uint64_t read_entry(std::uint64_t pa) const {
        std::array<std::byte, 8> raw{};
        memory_.read(pa, raw);
        return load64(raw.data(), order_);
    }
    void write_entry(std::uint64_t pa, std::uint64_t value) {
        std::array<std::byte, 8> raw{};
        store64(raw.data(), value, order_);
        memory_.write(pa, raw);
    }

    PhysMemory& memory_;
    ByteOrder order_;
    std::uint64_t granule_;
    unsigned granule_shift_ = 0;
    unsigned va_bits_;
    bool wide_ = false;
    int first_level_ = 0;
    std::vector<unsigned> shifts_;  // top level first
    std::vector<unsigned> widths_;
    std::uint64_t phys_limit_ = 0;
    std::uint64_t root_ = 0;
};

}  // namespace

void PageTableBuilder::map_range(std::uint64_t va, std::uint64_t pa, std::uint64_t size) {
    const auto sizes = page_sizes();  // smallest first
    const std::uint64_t smallest = sizes.front();
    if (va % smallest != 0 || pa % smallest != 0 || size % smallest != 0)
        throw_usage(
            fmt::format("cannot map {:#x} bytes from va {} to pa {}: va, pa and size must be multiples of {:#x}", size,
                        hex(va), hex(pa), smallest));
    while (size > 0) {
        // The smallest page always fits, so the search cannot come back empty.
        const auto largest = std::find_if(sizes.rbegin(), sizes.rend(), [&](std::uint64_t page) {
            return va % page == 0 && pa % page == 0 && page <= size;
        });
        map(va, pa, *largest);
        va += *largest;
        pa += *largest;
        size -= *largest;
    }
}

std::unique_ptr<PageTableBuilder> make_page_table_builder(std::string_view translator, PhysMemory& memory,
                                                          ByteOrder order, std::uint64_t encryption_mask) {
    for (const auto& shape : schemes) {
        if (shape.name != translator) continue;
        if (memory.page_size() != table_page)
            throw_usage(
                fmt::format("{} page tables need 4 KiB physical pages, not {:#x}", shape.name, memory.page_size()));
        if ((encryption_mask & ~shape.table_frame) != 0)
            throw_usage(fmt::format("encryption mask {} is not an address bit of {} entries", hex(encryption_mask),
                                    shape.name));
        return std::make_unique<RadixTableBuilder>(shape, memory, order, encryption_mask);
    }
    if (translator == "arm64") {
        if (encryption_mask != 0) throw_usage("arm64 page-table entries have no encryption bit");
        return make_arm64_page_table_builder(memory, 48, order);
    }
    std::string known;
    for (const auto& shape : schemes)
        known += fmt::format("{}{}", known.empty() ? "" : ", ", shape.name);
    known += ", arm64";
    throw_unsupported(fmt::format("no page-table builder for paging scheme \"{}\" (known: {})", translator, known));
}

std::unique_ptr<PageTableBuilder> make_arm64_page_table_builder(PhysMemory& memory, unsigned va_bits, ByteOrder order) {
    return std::make_unique<Arm64TableBuilder>(memory, va_bits, order);
}

}  // namespace kvm::synth
