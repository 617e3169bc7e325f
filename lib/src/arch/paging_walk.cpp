// The shared radix walk; message formats are listed in paging_walk.h.
#include "arch/paging_walk.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <array>

namespace kvm::paging {

namespace {

// One walk: the form, the byte order, the bits of an entry that may hold
// an address (no encryption bit) and the address being translated.
class Walk {
public:
    Walk(const PagingForm& form, ByteOrder order, std::uint64_t address_bits, std::uint64_t va,
         const PhysReader& read_phys)
        : form_(form), order_(order), address_bits_(address_bits), va_(va), read_phys_(read_phys) {}

    // Reads the levels from `first` down, starting with the table at
    // `table`; `parent` (nullptr: the root) and `parent_entry` say where
    // that table came from.
    Mapping descend(std::size_t first, std::uint64_t table, const PagingLevel* parent, std::uint64_t parent_entry) {
        const std::size_t last = form_.levels.size() - 1;
        for (std::size_t i = first; i < last; ++i) {
            const PagingLevel& level = form_.levels[i];
            const std::uint64_t entry = valid_entry(level, table, parent, parent_entry);
            if (maps_page(level, entry)) return map_page(level, entry);
            parent = &level;
            parent_entry = entry;
            table = entry & address_bits_ & form_.table_frame;
        }
        const PagingLevel& bottom = form_.levels[last];
        return map_page(bottom, valid_entry(bottom, table, parent, parent_entry));
    }

    // The rest of the walk below a valid entry found elsewhere.
    Mapping below(std::size_t level_index, std::uint64_t entry) {
        const PagingLevel& level = form_.levels[level_index];
        if (level_index + 1 == form_.levels.size() || maps_page(level, entry)) return map_page(level, entry);
        return descend(level_index + 1, entry & address_bits_ & form_.table_frame, &level, entry);
    }

private:
    bool maps_page(const PagingLevel& level, std::uint64_t entry) const {
        return level.page_frame != 0 && (entry & form_.large_bit) != 0;
    }

    // The entry for va_ in the level's table at `table`; throws unless it is valid.
    std::uint64_t valid_entry(const PagingLevel& level, std::uint64_t table, const PagingLevel* parent,
                              std::uint64_t parent_entry) const {
        const std::uint64_t index = (va_ >> level.shift) & ((std::uint64_t{1} << level.index_bits) - 1);
        std::array<std::byte, 8> raw{};
        try {
            read_phys_(table + index * form_.entry_size, MutableByteSpan(raw.data(), form_.entry_size));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::fault) {
                Error with_context(e);
                with_context.add_context(
                    fmt::format("{}: reading level {} table at pa {}", hex(va_), level.number, hex(table)));
                throw with_context;
            }
            const std::string from = parent == nullptr
                                         ? std::string("the page-table root")
                                         : fmt::format("from level {} entry {}", parent->number, hex(parent_entry));
            throw_fault(va_, fmt::format("{}: level {} table at pa {} is not in the dump ({})", hex(va_), level.number,
                                         hex(table), from));
        }
        const std::uint64_t entry = load_uint(raw.data(), form_.entry_size, order_);
        if ((entry & form_.valid_bits) != form_.valid_bits)
            throw_fault(va_, fmt::format("{}: level {} entry {} (index {} of the table at pa {}) is not valid", hex(va_),
                                         level.number, hex(entry), index, hex(table)));
        return entry;
    }

    // The rest of the page that `entry` maps at `level`.
    Mapping map_page(const PagingLevel& level, std::uint64_t entry) const {
        const std::uint64_t page_size = std::uint64_t{1} << level.shift;
        const std::uint64_t offset = va_ & (page_size - 1);
        return Mapping{.va = va_,
                       .pa = (entry & address_bits_ & level.page_frame) + offset,
                       .length = page_size - offset,
                       .page_size = page_size};
    }

    const PagingForm& form_;
    ByteOrder order_;
    std::uint64_t address_bits_;
    std::uint64_t va_;
    const PhysReader& read_phys_;
};

class PagingTranslator final : public Translator {
public:
    PagingTranslator(const PagingForm& form, const TranslatorParams& params)
        : form_(form),
          address_bits_(~params.encryption_mask),
          root_(params.root & address_bits_ & (form.root_frame != 0 ? form.root_frame : form.table_frame)),
          order_(params.order) {}

    std::string_view name() const override { return form_.name; }

    Mapping translate(std::uint64_t va, const PhysReader& read_phys) const override {
        form_.check_va(va);
        return Walk(form_, order_, address_bits_, va, read_phys).descend(0, root_, nullptr, 0);
    }

private:
    const PagingForm& form_;
    std::uint64_t address_bits_;  // the entry bits that may hold an address (no encryption bit)
    std::uint64_t root_;
    ByteOrder order_;
};

}  // namespace

std::unique_ptr<Translator> make_paging_translator(const PagingForm& form, const TranslatorParams& params) {
    return std::make_unique<PagingTranslator>(form, params);
}

Mapping walk_from_entry(const PagingForm& form, ByteOrder order, std::size_t level, std::uint64_t entry,
                        std::uint64_t va, const PhysReader& read_phys) {
    return Walk(form, order, ~std::uint64_t{0}, va, read_phys).below(level, entry);
}

}  // namespace kvm::paging
