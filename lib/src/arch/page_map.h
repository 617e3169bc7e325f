// Page maps: flat tables of one paging level's entries that a dump carries
// in place of the tables above that level.  FreeBSD and DragonFly minidumps
// translate kernel addresses through one (freebsd-dragonfly-dump-format.md
// sections 3.4-3.6 and 4): entry i maps the range base + (i << shift) of
// its level, and a walk goes on below it through the dumped tables, so the
// lower levels are the scheme's own (paging_walk.h).  An "absolute" map
// covers the whole address space instead: entry i is the i-th range of
// that size, and `base` is only the lowest address it serves.
//
// The forms are rows of a table (all_page_map_forms()); a minidump names
// the one it carries, and that name is its MachineState::translator.
//
// Messages (kind fault, address() = the va), besides the walk's own and
// the scheme's address-space check (i386: "<va>: above the 32-bit virtual
// address space of i386"):
//   "<va>: below <base>, where the page map starts"
//   "<va>: beyond the page map (index <i> of <n> entries from <base>)"
//   "<va>: level <L> entry <raw> (index <i> of the page map) is not valid"
// A reader failure keeps its kind, with the context
//   "<va>: reading entry <i> of the page map".
#pragma once

#include "arch/paging_walk.h"

#include <kvm/arch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace kvm::paging {

struct PageMapForm {
    std::string_view name;  // "amd64-pde-map"
    const PagingForm& (*paging)();
    std::size_t level;  // index in paging().levels of the level whose entries the map holds
    bool absolute;      // entry i covers the i-th range of the address space
};

std::span<const PageMapForm> all_page_map_forms();
// nullptr when no row has that name.
const PageMapForm* find_page_map_form(std::string_view name);

// Reads the entry at `index` (entry_size bytes, in the dump's order).
using PageMapReader = std::function<void(std::uint64_t index, MutableByteSpan entry)>;

struct PageMapParams {
    ByteOrder order = ByteOrder::little;
    std::uint64_t base = 0;     // the va of entry 0; for an absolute map, the lowest va served
    std::uint64_t entries = 0;  // for an absolute map a power of two: indexes are masked to it
    PageMapReader read;
};

std::unique_ptr<Translator> make_page_map_translator(const PageMapForm& form, PageMapParams params);

}  // namespace kvm::paging
