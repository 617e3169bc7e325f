// Bounded walks of linked lists in kernel memory, shared by the dead-kernel
// process walkers.
//
// Every list a walker follows out of a dump goes through walk_list(): it
// stops with a warning (never a hang, never an exception out of the walk)
// at a cycle, at an entry over the limit, and at an entry that cannot be
// read, and keeps what was read before.  `visited` may be shared between
// lists that must not overlap (allproc and zombproc).
#pragma once

#include <kvm/error.h>
#include <kvm/procs.h>

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>

namespace kvm::detail {

// No list in a kernel this tool reads is longer; a larger count in a dump
// is corruption, and stopping here bounds time and memory.
inline constexpr std::uint64_t max_list_entries = 1u << 22;

struct ListStep {
    std::uint64_t next = 0;  // 0 ends the list
    bool counted = true;     // false for entries the limit ignores (markers)
};

struct ListResult {
    std::uint64_t counted = 0;  // entries that counted against the limit
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
template <typename Name, typename Visit>
ListResult walk_list(const Name& list, std::uint64_t first, std::uint64_t limit,
                     std::unordered_set<std::uint64_t>& visited, const ProcWarn& warn, Visit&& visit) {
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
        if (!visited.insert(address).second) {
            warn(Error(ErrorKind::corrupt, fmt::format("{}: entry {} ({}) was already visited: the list has a "
                                                       "cycle; stopped there",
                                                       list_name(list), index, hex(address))));
            result.complete = false;
            return result;
        }
        try {
            const ListStep step = visit(address, index);
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
