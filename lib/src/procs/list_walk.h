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
#include <string_view>
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

// visit(address, index) reads one entry and returns the next address; an
// Error it throws ends the list with a warning that names the list, the
// entry's index and address.
template <typename Visit>
ListResult walk_list(std::string_view list, std::uint64_t first, std::uint64_t limit,
                     std::unordered_set<std::uint64_t>& visited, const ProcWarn& warn, Visit&& visit) {
    ListResult result;
    std::uint64_t index = 0;
    for (std::uint64_t address = first; address != 0; ++index) {
        if (result.counted >= limit || index >= max_list_entries) {
            warn(Error(ErrorKind::corrupt,
                       fmt::format("{}: more than {} entries; stopped at entry {} ({})", list,
                                   result.counted >= limit ? limit : max_list_entries, index, hex(address))));
            result.complete = false;
            return result;
        }
        if (!visited.insert(address).second) {
            warn(Error(ErrorKind::corrupt, fmt::format("{}: entry {} ({}) was already visited: the list has a "
                                                       "cycle; stopped there",
                                                       list, index, hex(address))));
            result.complete = false;
            return result;
        }
        try {
            const ListStep step = visit(address, index);
            if (step.counted) ++result.counted;
            address = step.next;
        } catch (Error& e) {
            e.add_context(fmt::format("{}: entry {} ({})", list, index, hex(address)));
            warn(e);
            result.complete = false;
            return result;
        }
    }
    return result;
}

}  // namespace kvm::detail
