// kvm::SymbolTable and kvm::nlist.
//
// symbols_ is sorted by (value, name) for by_address().  by_name_ maps each
// name to the one symbol find() returns.  addressable_ lists the symbols
// nearest() may return, ordered by value and, at equal values, best first,
// so that nearest() is a binary search plus a short walk.

#include <kvm/error.h>
#include <kvm/symbols.h>

#include "symbols/symbol_classes.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

namespace kvm {
namespace {

// How far nearest() walks back from a sized symbol that ends below the
// address, looking for one that covers it.
constexpr std::size_t max_look_back = 256;

bool by_value_then_name(const Symbol& a, const Symbol& b) {
    if (a.value != b.value) return a.value < b.value;
    return a.name < b.name;
}

// nearest()'s preference among symbols of one value: global over local,
// sized over unsized, function or object over anything else.
int preference(const Symbol& s) {
    const bool typed = s.elf_type == elf::stt_func || s.elf_type == elf::stt_object;
    return (detail::is_local(s) ? 0 : 4) + (s.size != 0 ? 2 : 0) + (typed ? 1 : 0);
}

// The permutation that sorts `symbols` by (value, name); equal keys keep
// their namelist order.
std::vector<std::uint32_t> sorting_order(const std::vector<Symbol>& symbols) {
    std::vector<std::uint32_t> order(symbols.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&symbols](std::uint32_t a, std::uint32_t b) {
        return by_value_then_name(symbols[a], symbols[b]);
    });
    return order;
}

std::vector<Symbol> permuted(std::vector<Symbol>& symbols, const std::vector<std::uint32_t>& order) {
    std::vector<Symbol> out;
    out.reserve(symbols.size());
    for (const std::uint32_t i : order)
        out.push_back(std::move(symbols[i]));
    return out;
}

}  // namespace

SymbolTable::SymbolTable(std::vector<Symbol> symbols) {
    if (symbols.size() > std::numeric_limits<std::uint32_t>::max())
        throw Error(ErrorKind::usage, fmt::format("{} symbols are more than a table holds", symbols.size()));
    const std::vector<std::uint32_t> order = sorting_order(symbols);
    std::vector<std::uint32_t> position(order.size());
    for (std::uint32_t k = 0; k < order.size(); ++k)
        position[order[k]] = k;
    symbols_ = permuted(symbols, order);

    // Visit the symbols in namelist order, so that among duplicates of
    // equal binding the first one stays.
    by_name_.reserve(symbols_.size());
    for (const std::uint32_t at : position) {
        const Symbol& s = symbols_[at];
        if (s.name.empty()) continue;
        const auto [it, inserted] = by_name_.try_emplace(std::string_view(s.name), at);
        if (!inserted && detail::is_local(symbols_[it->second]) && !detail::is_local(s)) it->second = at;
    }
    index_addresses();
}

SymbolTable::SymbolTable(const SymbolTable& other)
    : symbols_(other.symbols_), addressable_(other.addressable_), relocation_(other.relocation_) {
    // The other table's keys view its own strings: re-key on ours.
    by_name_.reserve(other.by_name_.size());
    for (const auto& [name, at] : other.by_name_)
        by_name_.emplace(std::string_view(symbols_[at].name), at);
}

SymbolTable& SymbolTable::operator=(const SymbolTable& other) {
    if (this != &other) {
        SymbolTable copy(other);
        *this = std::move(copy);
    }
    return *this;
}

// Moving a vector hands over its buffer, so the names the index views stay
// where they are.  The source is left empty rather than half-moved.
SymbolTable::SymbolTable(SymbolTable&& other) noexcept
    : symbols_(std::move(other.symbols_)),
      by_name_(std::move(other.by_name_)),
      addressable_(std::move(other.addressable_)),
      relocation_(other.relocation_) {
    other.symbols_.clear();
    other.by_name_.clear();
    other.addressable_.clear();
    other.relocation_ = 0;
}

SymbolTable& SymbolTable::operator=(SymbolTable&& other) noexcept {
    if (this != &other) {
        symbols_ = std::move(other.symbols_);
        by_name_ = std::move(other.by_name_);
        addressable_ = std::move(other.addressable_);
        relocation_ = other.relocation_;
        other.symbols_.clear();
        other.by_name_.clear();
        other.addressable_.clear();
        other.relocation_ = 0;
    }
    return *this;
}

void SymbolTable::index_addresses() {
    addressable_.clear();
    for (std::uint32_t i = 0; i < symbols_.size(); ++i)
        if (detail::names_address(symbols_[i])) addressable_.push_back(i);
    // Already in value order; within one value, best first.
    std::stable_sort(addressable_.begin(), addressable_.end(), [this](std::uint32_t a, std::uint32_t b) {
        const Symbol& sa = symbols_[a];
        const Symbol& sb = symbols_[b];
        if (sa.value != sb.value) return sa.value < sb.value;
        return preference(sa) > preference(sb);
    });
}

const Symbol* SymbolTable::find(std::string_view name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &symbols_[it->second];
}

const Symbol* SymbolTable::lookup(std::string_view nlist_name) const {
    if (!nlist_name.empty() && nlist_name.front() == '_') nlist_name.remove_prefix(1);
    return find(nlist_name);
}

std::optional<SymbolTable::Nearest> SymbolTable::nearest(std::uint64_t address) const {
    const auto value_of = [this](std::uint32_t at) { return symbols_[at].value; };
    const auto above = std::upper_bound(addressable_.begin(), addressable_.end(), address,
                                        [&](std::uint64_t a, std::uint32_t at) { return a < value_of(at); });
    if (above == addressable_.begin()) return std::nullopt;  // below the first symbol

    const std::uint64_t value = value_of(*(above - 1));
    const auto run = std::lower_bound(addressable_.begin(), above, value,
                                      [&](std::uint32_t at, std::uint64_t v) { return value_of(at) < v; });
    const Symbol& best = symbols_[*run];
    if (best.size == 0 || address - best.value < best.size) return Nearest{&best, address - best.value};

    // The best symbol ends below the address: an earlier, larger one may
    // still cover it.  Walking backwards, the first cover found has the
    // greatest value; later covers of that same value rank higher.
    const Symbol* cover = nullptr;
    std::size_t steps = 0;
    for (auto it = above; it != addressable_.begin() && steps < max_look_back; ++steps) {
        --it;
        const Symbol& s = symbols_[*it];
        if (cover != nullptr && s.value != cover->value) break;
        if (s.size != 0 && address - s.value < s.size) cover = &s;
    }
    if (cover == nullptr) return std::nullopt;
    return Nearest{cover, address - cover->value};
}

void SymbolTable::relocate(std::int64_t delta) { relocate(delta, 0, std::numeric_limits<std::uint64_t>::max()); }

void SymbolTable::relocate(std::int64_t delta, std::uint64_t begin, std::uint64_t end) {
    if (delta == 0) return;
    const auto shift = static_cast<std::uint64_t>(delta);
    // The full range includes the last address, too.
    const bool everything = begin == 0 && end == std::numeric_limits<std::uint64_t>::max();
    for (Symbol& s : symbols_)
        if (detail::names_address(s) && (everything || (s.value >= begin && s.value < end)))
            s.value += shift;  // wraps like the kernel's address arithmetic
    relocation_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(relocation_) + shift);

    // Absolute and undefined symbols stayed put, so the order may have
    // changed: re-sort and re-key the index on the moved names, keeping
    // each name's chosen symbol.
    if (!std::is_sorted(symbols_.begin(), symbols_.end(), by_value_then_name)) {
        const std::vector<std::uint32_t> order = sorting_order(symbols_);
        std::vector<std::uint32_t> position(order.size());
        for (std::uint32_t k = 0; k < order.size(); ++k)
            position[order[k]] = k;
        std::vector<Symbol> sorted = permuted(symbols_, order);
        std::unordered_map<std::string_view, std::uint32_t> by_name;
        by_name.reserve(by_name_.size());
        for (const auto& [name, at] : by_name_) {
            const std::uint32_t moved_to = position[at];
            by_name.emplace(std::string_view(sorted[moved_to].name), moved_to);
        }
        symbols_ = std::move(sorted);
        by_name_ = std::move(by_name);
    }
    index_addresses();
}

namespace {

// n_type as NetBSD's ELF nlist computes it (from the symbol type and
// binding), with one addition: absolute symbols are N_ABS, which NetBSD
// leaves to the type mapping.  Symbols in NOBITS sections stay N_DATA
// rather than N_BSS, as NetBSD reports them; callers written against it
// test for N_DATA.  A namelist without ELF types (elf_type 0) reads as
// STT_NOTYPE, so its symbols are N_UNDF unless absolute.
std::uint8_t nlist_type(const Symbol& s) {
    std::uint8_t type = n_undf;
    if (s.type == 'A' || s.type == 'a') {
        type = n_abs;
    } else {
        switch (s.elf_type) {
            case elf::stt_notype:
                type = n_undf;
                break;
            case elf::stt_object:
            case elf::stt_common:
                type = n_data;
                break;
            case elf::stt_func:
                type = n_text;
                break;
            case elf::stt_file:
                type = n_fn;
                break;
            default:
                type = 0;
                break;  // NetBSD leaves other types at 0
        }
    }
    if (!detail::is_local(s)) type |= n_ext;
    return type;
}

}  // namespace

int nlist(const SymbolTable& table, std::span<NlistEntry> entries) {
    int missing = 0;
    for (NlistEntry& entry : entries) {
        entry.n_type = 0;
        entry.n_value = 0;
        const Symbol* symbol = table.lookup(entry.name);
        if (symbol == nullptr) {
            ++missing;
            continue;
        }
        entry.n_type = nlist_type(*symbol);
        entry.n_value = symbol->value;
    }
    return missing;
}

}  // namespace kvm
