// kvm::SymbolTable and kvm::nlist.
//
// symbols_ is sorted by (value, name) for by_address().  name_slots_ is an
// open-addressing hash of positions in symbols_, one per name: the symbol
// find() returns.  addressable_ lists the symbols nearest() may return,
// ordered by value and, at equal values, best first, so that nearest() is a
// binary search plus a short walk.
//
// Building the table is what a namelist load spends most of its time on
// (kvmnm on a 100,000-symbol kernel), so the sort works on (value, index)
// keys and compares names only between equal values, and the name index is
// one flat array rather than a node per name.

#include <kvm/error.h>
#include <kvm/symbols.h>

#include "symbols/symbol_classes.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <utility>

namespace kvm {
namespace {

// How far nearest() walks back from a sized symbol that ends below the
// address, looking for one that covers it.
constexpr std::size_t max_look_back = 256;

// Positions are stored + 1 in 32 bits, so one position stays unused.
constexpr std::size_t max_table_size = std::numeric_limits<std::uint32_t>::max() - 1;

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

std::uint64_t name_hash(std::string_view name) {
    return std::hash<std::string_view>{}(name);
}

// The permutation that sorts `symbols` by (value, name); equal keys keep
// their namelist order.  Values are nearly unique in a kernel, so the sort
// runs on compact (value, index) keys and names are compared only within a
// run of equal values.
std::vector<std::uint32_t> sorting_order(const std::vector<Symbol>& symbols) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keys(symbols.size());
    for (std::uint32_t i = 0; i < symbols.size(); ++i)
        keys[i] = {symbols[i].value, i};
    // Merge sort: symbol tables come in runs of ascending values (one per
    // object file), on which std::sort's pivots degrade to heap sort.
    std::stable_sort(keys.begin(), keys.end());
    std::vector<std::uint32_t> order(symbols.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
        order[i] = keys[i].second;
    for (std::size_t run = 0; run < keys.size();) {
        std::size_t end = run + 1;
        while (end < keys.size() && keys[end].first == keys[run].first)
            ++end;
        if (end - run > 1)
            std::stable_sort(
                order.begin() + static_cast<std::ptrdiff_t>(run), order.begin() + static_cast<std::ptrdiff_t>(end),
                [&symbols](std::uint32_t a, std::uint32_t b) { return symbols[a].name < symbols[b].name; });
        run = end;
    }
    return order;
}

std::vector<Symbol> permuted(std::vector<Symbol>& symbols, const std::vector<std::uint32_t>& order) {
    std::vector<Symbol> out;
    out.reserve(symbols.size());
    for (const std::uint32_t i : order)
        out.push_back(std::move(symbols[i]));
    return out;
}

void check_size(std::size_t count) {
    if (count > max_table_size)
        throw Error(ErrorKind::usage, fmt::format("{} symbols are more than a table holds", count));
}

}  // namespace

SymbolTable::SymbolTable(std::vector<Symbol> symbols) {
    check_size(symbols.size());
    const std::vector<std::uint32_t> order = sorting_order(symbols);
    std::vector<std::uint32_t> position(order.size());
    for (std::uint32_t k = 0; k < order.size(); ++k)
        position[order[k]] = k;
    symbols_ = permuted(symbols, order);

    // Visit the symbols in namelist order, so that among duplicates of
    // equal binding the first one stays.
    reset_name_index(symbols_.size());
    for (const std::uint32_t at : position) {
        const Symbol& s = symbols_[at];
        if (s.name.empty()) continue;
        const std::uint64_t hash = name_hash(s.name);
        Slot& slot = name_slot(s.name, hash);
        if (slot == 0) {
            slot = (hash >> 32 << 32) | (std::uint64_t{at} + 1);
        } else if (detail::is_local(symbols_[(slot & 0xffffffff) - 1]) && !detail::is_local(s)) {
            slot = (slot & ~std::uint64_t{0xffffffff}) | (std::uint64_t{at} + 1);
        }
    }
    index_addresses();
}

SymbolTable::SymbolTable(Indexed indexed) {
    if (indexed.chosen.size() != indexed.symbols.size())
        throw_corrupt(
            fmt::format("symbol index: {} symbols but {} name choices", indexed.symbols.size(), indexed.chosen.size()));
    check_size(indexed.symbols.size());
    symbols_ = std::move(indexed.symbols);
    for (std::size_t i = 1; i < symbols_.size(); ++i)
        if (by_value_then_name(symbols_[i], symbols_[i - 1]))
            throw_corrupt(fmt::format("symbol index: symbol {} ({}) is out of address order", i, symbols_[i].name));
    reset_name_index(symbols_.size());
    for (std::uint32_t at = 0; at < symbols_.size(); ++at) {
        const Symbol& s = symbols_[at];
        if (!indexed.chosen[at]) continue;
        if (s.name.empty()) throw_corrupt(fmt::format("symbol index: symbol {} has no name but is chosen", at));
        const std::uint64_t hash = name_hash(s.name);
        Slot& slot = name_slot(s.name, hash);
        if (slot != 0) throw_corrupt(fmt::format("symbol index: two symbols are chosen for the name {}", s.name));
        slot = (hash >> 32 << 32) | (std::uint64_t{at} + 1);
    }
    for (std::uint32_t at = 0; at < symbols_.size(); ++at)
        if (!indexed.chosen[at] && !symbols_[at].name.empty() && find_slot(symbols_[at].name) == nullptr)
            throw_corrupt(fmt::format("symbol index: no symbol is chosen for the name {}", symbols_[at].name));
    index_addresses();
}

SymbolTable::SymbolTable(SymbolTable&& other) noexcept
    : symbols_(std::move(other.symbols_)),
      name_slots_(std::move(other.name_slots_)),
      addressable_(std::move(other.addressable_)),
      relocation_(other.relocation_) {
    other.symbols_.clear();
    other.name_slots_.clear();
    other.addressable_.clear();
    other.relocation_ = 0;
}

SymbolTable& SymbolTable::operator=(SymbolTable&& other) noexcept {
    if (this != &other) {
        symbols_ = std::move(other.symbols_);
        name_slots_ = std::move(other.name_slots_);
        addressable_ = std::move(other.addressable_);
        relocation_ = other.relocation_;
        other.symbols_.clear();
        other.name_slots_.clear();
        other.addressable_.clear();
        other.relocation_ = 0;
    }
    return *this;
}

void SymbolTable::reset_name_index(std::size_t names) {
    // At most half full, so probe runs stay short.
    name_slots_.assign(std::bit_ceil(std::max<std::size_t>(16, names * 2)), 0);
}

SymbolTable::Slot& SymbolTable::name_slot(std::string_view name, std::uint64_t hash) {
    const std::size_t mask = name_slots_.size() - 1;
    const std::uint64_t tag = hash >> 32;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        Slot& slot = name_slots_[i];
        if (slot == 0) return slot;
        if (slot >> 32 == tag && symbols_[(slot & 0xffffffff) - 1].name == name) return slot;
    }
}

const SymbolTable::Slot* SymbolTable::find_slot(std::string_view name) const {
    if (name_slots_.empty()) return nullptr;
    const std::uint64_t hash = name_hash(name);
    const std::size_t mask = name_slots_.size() - 1;
    const std::uint64_t tag = hash >> 32;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        const Slot& slot = name_slots_[i];
        if (slot == 0) return nullptr;
        if (slot >> 32 == tag && symbols_[(slot & 0xffffffff) - 1].name == name) return &slot;
    }
}

void SymbolTable::index_addresses() {
    addressable_.clear();
    for (std::uint32_t i = 0; i < symbols_.size(); ++i)
        if (detail::names_address(symbols_[i])) addressable_.push_back(i);
    // Already in value order; within one value, best first.
    for (std::size_t run = 0; run < addressable_.size();) {
        std::size_t end = run + 1;
        const std::uint64_t value = symbols_[addressable_[run]].value;
        while (end < addressable_.size() && symbols_[addressable_[end]].value == value)
            ++end;
        if (end - run > 1)
            std::stable_sort(
                addressable_.begin() + static_cast<std::ptrdiff_t>(run),
                addressable_.begin() + static_cast<std::ptrdiff_t>(end),
                [this](std::uint32_t a, std::uint32_t b) { return preference(symbols_[a]) > preference(symbols_[b]); });
        run = end;
    }
}

const Symbol* SymbolTable::find(std::string_view name) const {
    const Slot* slot = find_slot(name);
    return slot == nullptr ? nullptr : &symbols_[(*slot & 0xffffffff) - 1];
}

const Symbol* SymbolTable::lookup(std::string_view name) const {
    if (const Symbol* exact = find(name); exact != nullptr || !name.starts_with('_')) return exact;
    return find(name.substr(1));
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

std::optional<SymbolTable::Nearest> SymbolTable::preceding(std::uint64_t address) const {
    if (auto covered = nearest(address)) return covered;
    const auto value_of = [this](std::uint32_t at) { return symbols_[at].value; };
    const auto above = std::upper_bound(addressable_.begin(), addressable_.end(), address,
                                        [&](std::uint64_t a, std::uint32_t at) { return a < value_of(at); });
    if (above == addressable_.begin() || above == addressable_.end()) return std::nullopt;
    // The first of the symbols at that value: the one nearest() ranks best.
    const std::uint64_t value = value_of(*(above - 1));
    const auto run = std::lower_bound(addressable_.begin(), above, value,
                                      [&](std::uint32_t at, std::uint64_t v) { return value_of(at) < v; });
    return Nearest{&symbols_[*run], address - value};
}

void SymbolTable::relocate(std::int64_t delta) {
    relocate(delta, 0, std::numeric_limits<std::uint64_t>::max());
}

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
    // changed: re-sort and point the name index at the moved positions,
    // keeping each name's chosen symbol.
    if (!std::is_sorted(symbols_.begin(), symbols_.end(), by_value_then_name)) {
        const std::vector<std::uint32_t> order = sorting_order(symbols_);
        std::vector<std::uint32_t> position(order.size());
        for (std::uint32_t k = 0; k < order.size(); ++k)
            position[order[k]] = k;
        symbols_ = permuted(symbols_, order);
        for (Slot& slot : name_slots_)
            if (slot != 0)
                slot = (slot & ~std::uint64_t{0xffffffff}) | (std::uint64_t{position[(slot & 0xffffffff) - 1]} + 1);
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

int nlist(const SymbolTable& table, std::span<NlistEntry> entries, NlistNames names) {
    int missing = 0;
    for (NlistEntry& entry : entries) {
        entry.n_type = 0;
        entry.n_value = 0;
        const Symbol* symbol = nullptr;
        if (names == NlistNames::freebsd) {
            symbol = table.lookup(entry.name);
        } else {
            // libkvm's rule exactly: one '_' removed, no exact match first.
            std::string_view name = entry.name;
            if (name.starts_with('_')) name.remove_prefix(1);
            symbol = table.find(name);
        }
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
