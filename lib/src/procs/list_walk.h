// Bounded walks of linked lists in kernel memory, shared by the dead-kernel
// process walkers.
//
// Every list a walker follows out of a dump goes through walk_list(): it
// stops with a warning (never a hang, never an exception out of the walk)
// at a cycle, at an entry over the limit, at an entry that overlaps another
// (with an EntrySet), and at an entry that cannot be read, and keeps what
// was read before.  `visited` may be shared between lists that must not
// overlap (allproc and zombproc).
//
// A dump is attacker-controlled: a legal, acyclic list of "processes" 32
// bytes apart would give millions of rows from a small dump.  So walkers
// keep the structures they meet in an EntrySet, which refuses an entry
// closer to another than the structure's size, and bound a list by what
// the dump's memory can hold (memory_holds), however its pages are mapped.
#pragma once

#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/procs.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

namespace kvm::detail {

// No list in a kernel this tool reads is longer; a larger count in a dump
// is corruption, and stopping here bounds time and memory.
inline constexpr std::uint64_t max_list_entries = 1u << 22;

// The structures of one type met by a walk, by address: a repeat is a
// cycle, and one closer to another than the structure's size overlaps it,
// which no allocator does.
//
// The entries kept are at least `size` bytes apart, so each cell of
// `size` bytes of the address space holds at most one: they are kept by
// cell in a hash table, and a neighbour is found by looking at the cells
// around an address.  (A tree of a walk's 100,000 processes met in hash
// order missed the CPU's caches at every level of every search.)
class EntrySet {
public:
    EntrySet(std::string structure, std::uint64_t size)
        : structure_(std::move(structure)), size_(std::max<std::uint64_t>(size, 1)) {}

    enum class Seen { fresh, repeat, overlap };
    struct Result {
        Seen seen = Seen::fresh;
        std::uint64_t other = 0;  // the entry overlapped
    };
    // Records `address` when it is fresh.
    Result insert(std::uint64_t address) {
        if (contains(address)) return {Seen::repeat, address};
        if (const auto other = overlapping(address, size_)) return {Seen::overlap, *other};
        cells_.emplace(address / size_, address);
        return {};
    }
    // The entry that `size` bytes at `address` (of this type or another)
    // would overlap: the one they start inside first, then one that starts
    // inside them.
    std::optional<std::uint64_t> overlapping(std::uint64_t address, std::uint64_t size) const {
        const std::uint64_t cell = address / size_;
        // The last entry at or below `address` is in its cell or the one before.
        if (const auto at = entry_in(cell); at && *at <= address) {
            if (address - *at < size_) return *at;
        } else if (cell != 0) {
            if (const auto before = entry_in(cell - 1); before && address - *before < size_) return *before;
        }
        // The first entry above `address`, within `size` bytes of it.
        if (size == 0) return std::nullopt;
        const std::uint64_t last = std::min(address, ~std::uint64_t{0} - (size - 1)) + (size - 1);
        const std::uint64_t cells = last / size_ - cell + 1;
        if (cells <= cells_.size()) {
            for (std::uint64_t c = cell; c - cell < cells; ++c)
                if (const auto e = entry_in(c); e && *e > address) return *e <= last ? e : std::nullopt;
            return std::nullopt;
        }
        // Wider than all the entries: look at each instead.
        std::optional<std::uint64_t> first;
        for (const auto& [c, e] : cells_)
            if (e > address && e <= last && (!first || e < *first)) first = e;
        return first;
    }
    bool contains(std::uint64_t address) const { return entry_in(address / size_) == address; }
    const std::string& structure() const { return structure_; }
    std::uint64_t size() const { return size_; }

private:
    std::optional<std::uint64_t> entry_in(std::uint64_t cell) const {
        const auto it = cells_.find(cell);
        if (it == cells_.end()) return std::nullopt;
        return it->second;
    }

    std::string structure_;
    std::uint64_t size_;
    std::unordered_map<std::uint64_t, std::uint64_t> cells_;  // address / size_ -> the entry there
};

inline EntrySet::Result note_entry(EntrySet& seen, std::uint64_t address) {
    return seen.insert(address);
}
inline EntrySet::Result note_entry(std::unordered_set<std::uint64_t>& seen, std::uint64_t address) {
    return {seen.insert(address).second ? EntrySet::Seen::fresh : EntrySet::Seen::repeat, address};
}
inline std::string overlap_detail(const EntrySet& seen, std::uint64_t address, std::uint64_t other) {
    return fmt::format("overlaps the {} at {} ({} bytes apart; each is at least {} bytes)", seen.structure(),
                       hex(other), address > other ? address - other : other - address, seen.size());
}
inline std::string overlap_detail(const std::unordered_set<std::uint64_t>&, std::uint64_t, std::uint64_t) {
    return {};  // never: an unordered_set knows no sizes
}

// Bytes of physical memory the dump holds (0 when it lists none, as a
// dump by virtual address may).
inline std::uint64_t dump_memory_bytes(const Kernel& kernel) {
    return kernel.format().phys_bytes();
}

// The most entries a list of `size`-byte structures may have: what the
// dump's memory can hold, however its pages are mapped (aliases give no
// more), and never more than max_list_entries.
inline std::uint64_t entries_bound(const Kernel& kernel, std::uint64_t size) {
    const std::uint64_t holds = dump_memory_bytes(kernel) / std::max<std::uint64_t>(size, 1);
    return holds == 0 ? max_list_entries : std::min(holds, max_list_entries);
}

struct ListStep {
    std::uint64_t next = 0;  // 0 ends the list
    bool counted = true;     // false for entries the limit ignores (markers)
};

struct ListResult {
    std::uint64_t entries = 0;  // entries read
    std::uint64_t counted = 0;  // those that counted against the limit
    bool complete = true;       // the list ended at a null pointer
};

// The name of a list in warnings: a string, or a function that makes it
// (only called when there is something to warn about).
inline std::string list_name(std::string_view name) {
    return std::string(name);
}
template <typename F>
requires std::is_invocable_r_v<std::string, F> std::string list_name(const F& make) {
    return make();
}

// visit(address, index) reads one entry and returns the next address; an
// Error it throws ends the list with a warning that names the list, the
// entry's index and address.
template <typename Name, typename Visited, typename Visit>
ListResult walk_list(const Name& list, std::uint64_t first, std::uint64_t limit, Visited& visited, const ProcWarn& warn,
                     Visit&& visit) {
    ListResult result;
    std::uint64_t index = 0;
    for (std::uint64_t address = first; address != 0; ++index) {
        if (result.counted >= limit || index >= max_list_entries) {
            warn(Error(ErrorKind::corrupt,
                       fmt::format("{}: more than {} entries; stopped at entry {} ({})", list_name(list),
                                   result.counted >= limit ? limit : max_list_entries, index, hex(address))));
            result.complete = false;
            return result;
        }
        const EntrySet::Result seen = note_entry(visited, address);
        if (seen.seen == EntrySet::Seen::repeat) {
            warn(Error(ErrorKind::corrupt, fmt::format("{}: entry {} ({}) was already visited: the list has a "
                                                       "cycle; stopped there",
                                                       list_name(list), index, hex(address))));
            result.complete = false;
            return result;
        }
        if (seen.seen == EntrySet::Seen::overlap) {
            warn(Error(ErrorKind::corrupt,
                       fmt::format("{}: entry {} ({}) {}: the list is corrupt; stopped there", list_name(list), index,
                                   hex(address), overlap_detail(visited, address, seen.other))));
            result.complete = false;
            return result;
        }
        try {
            const ListStep step = visit(address, index);
            ++result.entries;
            if (step.counted) ++result.counted;
            address = step.next;
        } catch (Error& e) {
            e.add_context(fmt::format("{}: entry {} ({})", list_name(list), index, hex(address)));
            warn(e);
            result.complete = false;
            return result;
        }
    }
    return result;
}

}  // namespace kvm::detail
