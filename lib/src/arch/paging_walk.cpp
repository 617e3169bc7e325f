// The shared radix walk; message formats are listed in paging_walk.h.
#include "arch/paging_walk.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <array>

namespace kvm::paging {

namespace {

class PagingTranslator final : public Translator {
public:
    PagingTranslator(const PagingForm& form, const TranslatorParams& params)
        : form_(form),
          address_bits_(~params.encryption_mask),
          root_(params.root & address_bits_ & form.table_frame),
          order_(params.order) {}

    std::string_view name() const override { return form_.name; }

    Mapping translate(std::uint64_t va, const PhysReader& read_phys) const override {
        form_.check_va(va);
        const std::span<const PagingLevel> upper = form_.levels.first(form_.levels.size() - 1);
        std::uint64_t table = root_;
        const PagingLevel* parent = nullptr;
        std::uint64_t parent_entry = 0;
        for (const PagingLevel& level : upper) {
            const std::uint64_t entry = valid_entry(va, level, table, parent, parent_entry, read_phys);
            if (level.page_frame != 0 && (entry & form_.large_bit) != 0)
                return map_page(va, level, entry & address_bits_);
            parent = &level;
            parent_entry = entry;
            table = entry & address_bits_ & form_.table_frame;
        }
        const PagingLevel& last = form_.levels.back();
        return map_page(va, last, valid_entry(va, last, table, parent, parent_entry, read_phys) & address_bits_);
    }

private:
    // The entry for `va` in the level's table at `table`; throws unless it is valid.
    std::uint64_t valid_entry(std::uint64_t va, const PagingLevel& level, std::uint64_t table,
                              const PagingLevel* parent, std::uint64_t parent_entry,
                              const PhysReader& read_phys) const {
        const std::uint64_t index = (va >> level.shift) & ((std::uint64_t{1} << level.index_bits) - 1);
        std::array<std::byte, 8> raw{};
        try {
            read_phys(table + index * form_.entry_size, MutableByteSpan(raw.data(), form_.entry_size));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::fault) {
                Error with_context(e);
                with_context.add_context(
                    fmt::format("{}: reading level {} table at pa {}", hex(va), level.number, hex(table)));
                throw with_context;
            }
            const std::string from = parent == nullptr
                                         ? std::string("the page-table root")
                                         : fmt::format("from level {} entry {}", parent->number, hex(parent_entry));
            throw_fault(va, fmt::format("{}: level {} table at pa {} is not in the dump ({})", hex(va), level.number,
                                        hex(table), from));
        }
        const std::uint64_t entry = load_uint(raw.data(), form_.entry_size, order_);
        if ((entry & form_.valid_bit) == 0)
            throw_fault(va, fmt::format("{}: level {} entry {} (index {} of the table at pa {}) is not valid", hex(va),
                                        level.number, hex(entry), index, hex(table)));
        return entry;
    }

    // The rest of the page that `entry` maps at `level`.
    static Mapping map_page(std::uint64_t va, const PagingLevel& level, std::uint64_t entry) {
        const std::uint64_t page_size = std::uint64_t{1} << level.shift;
        const std::uint64_t offset = va & (page_size - 1);
        return Mapping{
            .va = va, .pa = (entry & level.page_frame) + offset, .length = page_size - offset, .page_size = page_size};
    }

    const PagingForm& form_;
    std::uint64_t address_bits_;  // the entry bits that may hold an address (no encryption bit)
    std::uint64_t root_;
    ByteOrder order_;
};

}  // namespace

std::unique_ptr<Translator> make_paging_translator(const PagingForm& form, const TranslatorParams& params) {
    return std::make_unique<PagingTranslator>(form, params);
}

}  // namespace kvm::paging
