// What the dead-kernel process walkers share, so that each walker file
// holds only what its system does differently: the layout request's
// members, the checks every walker makes before its first read, the
// per-walk reading context (page cache, strings, wait channels, warnings
// about one process), caches of objects many processes point to, and the
// rows of one process (one, or one per LWP).
#pragma once

#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "procs/kernel_object.h"
#include "procs/list_walk.h"
#include "procs/page_cache.h"

#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kvm::detail {

inline MemberRequest member(std::string path, std::string meaning, bool required = true) {
    return MemberRequest{std::move(path), std::move(meaning), required};
}

// The layouts must describe the dump's pointers: usage error otherwise.
inline void check_abi(const StructLayouts& layouts, const Kernel& kernel) {
    if (layouts.pointer_size != kernel.pointer_size() || layouts.order != kernel.order())
        throw Error(ErrorKind::usage,
                    fmt::format("{}: has {}-byte {}-endian pointers, but the dump's are {}-byte {}-endian",
                                layouts.source, layouts.pointer_size, to_string(layouts.order), kernel.pointer_size(),
                                to_string(kernel.order())));
}

// not_found "NAME: no such symbol", naming the namelist, for the first
// symbol it lacks.
inline void require_symbols(const Namelist& namelist, std::initializer_list<std::string_view> names) {
    for (const std::string_view name : names)
        if (namelist.symbols().lookup(name) == nullptr) {
            Error e(ErrorKind::not_found, fmt::format("{}: no such symbol", name));
            e.with_path(namelist.path());
            throw e;
        }
}

// The major release of the dumped kernel, from its release string at
// `symbol` ("_osrelease"): what shipped layout files are named by.  When
// it cannot be read the error says to give --layout, unless one is given
// (then "" is returned).
inline std::string dumped_release(const Kernel& kernel, std::string_view symbol, std::string_view os_name,
                                  bool have_layout_file) {
    constexpr std::size_t max_osrelease = 64;
    try {
        std::string release = major_release(kernel.read_string(kernel.symbol_value(symbol), max_osrelease));
        if (release.empty()) throw_corrupt("osrelease does not start with a release number");
        return release;
    } catch (Error& e) {
        if (have_layout_file) return {};
        e.add_context(fmt::format("cannot tell the {} release (give --layout)", os_name));
        throw;
    }
}

// The layouts of `request` for a BSD dump, in resolve_layouts()'s order:
// the layout file given, the namelist's type information, the shipped file
// of the release its osrelease names (os_name says which system, for the
// message asking for --layout); checked against the dump's pointers.
// `search` brings what one OS adds (known flags and values).
inline StructLayouts bsd_dump_layouts(const Kernel& kernel, std::string_view os_name, const LayoutRequest& request,
                                      LayoutSearch search) {
    search.release = dumped_release(kernel, "_osrelease", os_name, search.file.has_value());
    search.arch = std::string(kernel.arch().name);
    search.namelist = &kernel.namelist();
    StructLayouts layouts = resolve_layouts(search, request);
    check_abi(layouts, kernel);
    return layouts;
}

// The kernel's process count as the bound of its process lists (all of
// them together): nprocs at `symbol`, never more than the dump's memory
// can hold of `proc_size`-byte structures (entries_bound), with a warning
// when it is over that or cannot be read.
inline std::uint64_t process_budget(const Kernel& kernel, std::string_view symbol, std::uint64_t proc_size,
                                    const ProcWarn& warn) {
    const std::uint64_t bound = entries_bound(kernel, proc_size);
    try {
        const std::uint64_t nprocs = kernel.read_uint(kernel.symbol_value(symbol), 4);
        if (nprocs <= bound) return nprocs;
        warn(Error(ErrorKind::corrupt,
                   bound == max_list_entries
                       ? fmt::format("nprocs is {}, over the limit of {}; reading at most that many", nprocs, bound)
                       : fmt::format("nprocs is {}, but the dump's {:#x} bytes of memory hold at most {} {}-byte "
                                     "struct proc; reading at most that many",
                                     nprocs, dump_memory_bytes(kernel), bound, proc_size)));
    } catch (Error& e) {
        e.add_context("nprocs");
        warn(e);
    }
    return bound;
}

// The first cr_ngroups entries of a credential's inline group array
// (cr_groups[], gid_t each), checked against the array's length.
inline std::vector<std::uint32_t> read_groups(const KernelObject& cred, const MemberLayout& ngroups,
                                              const MemberLayout& groups, ByteOrder order) {
    const std::uint64_t n = cred.u(&ngroups);
    const std::uint64_t cap = groups.count;
    if (n > cap) throw_corrupt(fmt::format("cr_ngroups is {}, but cr_groups holds {}", n, cap));
    MemberLayout element = groups;
    element.size = groups.size / cap;
    element.count = 0;
    std::vector<std::uint32_t> out;
    out.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        element.offset = groups.offset + i * element.size;
        out.push_back(static_cast<std::uint32_t>(load_member_unsigned(cred.bytes(), element, order)));
    }
    return out;
}

// The first entry of a list whose head is one pointer at `head` (as
// TAILQ_FIRST): nullopt, and a warning with `context`, when it cannot be read.
inline std::optional<std::uint64_t> read_list_head(PageCache& memory, const Kernel& kernel, std::uint64_t head,
                                                   const std::string& context, const ProcWarn& warn) {
    try {
        Bytes b(kernel.pointer_size());
        memory.read(head, b);
        return load_uint(b.data(), kernel.pointer_size(), kernel.order());
    } catch (Error& e) {
        e.add_context(context);
        warn(e);
        return std::nullopt;
    }
}

// Objects many processes point to (credentials, process groups,
// sessions, terminals) are read once per walk.
template <typename T>
class AddressCache {
public:
    template <typename Load>
    const T& get(std::uint64_t address, Load&& load) {
        if (auto it = map_.find(address); it != map_.end()) return it->second;
        return map_.emplace(address, load(address)).first->second;
    }

private:
    std::unordered_map<std::uint64_t, T> map_;
};

// One walk's reads and warnings.
class WalkContext {
public:
    // `cache_pages`: the page cache's size (PageCache::default_slots).
    WalkContext(const Kernel& kernel, const ProcWarn& warn, std::size_t cache_pages = PageCache::default_slots)
        : kernel_(kernel), warn_(warn), memory_(kernel, cache_pages) {}

    const Kernel& kernel() const noexcept { return kernel_; }
    const ProcWarn& warn() const noexcept { return warn_; }
    PageCache& memory() noexcept { return memory_; }

    KernelObject read(const StructLayout& layout, std::uint64_t address) {
        return KernelObject(memory_, kernel_.order(), layout, address);
    }
    KernelObject read(std::uint64_t bytes, std::uint64_t address) {
        return KernelObject(memory_, kernel_.order(), bytes, address);
    }
    std::uint64_t pointer(std::uint64_t address) {
        Bytes b(kernel_.pointer_size());
        memory_.read(address, b);
        return load_uint(b.data(), kernel_.pointer_size(), kernel_.order());
    }

    // Wait messages and names are shared kernel strings: each is read once.
    const std::string& string(std::uint64_t address, std::size_t max) {
        if (auto it = strings_.find(address); it != strings_.end()) return it->second;
        return strings_.emplace(address, memory_.read_string(address, max)).first->second;
    }

    // A wait channel as a namelist symbol ("lbolt", "sleepq+0x10").
    const std::string& wchan_name(std::uint64_t address) {
        if (auto it = wchan_names_.find(address); it != wchan_names_.end()) return it->second;
        std::string name;
        if (const auto n = kernel_.symbols().nearest(address))
            name = n->offset == 0 ? n->symbol->name : fmt::format("{}+{:#x}", n->symbol->name, n->offset);
        return wchan_names_.emplace(address, std::move(name)).first->second;
    }

    // One problem with one process: a warning naming it, and the walk goes on.
    void problem(const ProcInfo& p, std::string_view what, std::uint64_t address, Error& e) const {
        e.add_context(fmt::format("pid {} ({}): {} at {}", p.pid, hex(p.paddr), what, hex(address)));
        warn_(e);
    }

private:
    const Kernel& kernel_;
    const ProcWarn& warn_;
    PageCache memory_;
    std::unordered_map<std::uint64_t, std::string> strings_;
    std::unordered_map<std::uint64_t, std::string> wchan_names_;
};

// The rows of one process: with per-LWP output one per LWP (or the
// process alone when it has none left, a zombie), else one row with the
// LWP that stands for the process (nullptr: none).  `fill(row, lwp)`
// completes a row (lwp == nullptr: the process alone); rows that pass
// every filter are emitted.
template <typename Lwp, typename Fill>
void emit_process(ProcInfo& p, const std::vector<Lwp>& lwps, const Lwp* representative, const WalkOptions& options,
                  const ProcEmit& emit, Fill&& fill) {
    if (!options.per_lwp || lwps.empty()) {
        fill(p, representative);
        if (matches_all(p, options.filters)) emit(p);
        return;
    }
    for (const Lwp& l : lwps) {
        ProcInfo row = p;
        row.lwp_row = true;
        fill(row, &l);
        if (matches_all(row, options.filters)) emit(row);
    }
}

// A time_t of `size` bytes (4 or 8) at `address`, sign-extended.
inline std::int64_t read_time_t(const Kernel& kernel, std::uint64_t address, unsigned size) {
    const std::uint64_t v = kernel.read_uint(address, size);
    return size == 4 ? static_cast<std::int32_t>(v) : static_cast<std::int64_t>(v);
}

// The crash time and the memory size of a BSD dump, for ETIME and %MEM:
// the first of `clock_symbols` the namelist has (the wall clock in
// seconds, a time_t of `time_size` bytes) and physmem (pages,
// `physmem_size` bytes).  What cannot be read stays unknown, and those
// columns print "-".
inline SystemFacts bsd_system_facts(const Kernel& kernel, std::initializer_list<std::string_view> clock_symbols,
                                    unsigned time_size, unsigned physmem_size) {
    SystemFacts facts;
    for (const std::string_view name : clock_symbols) {
        const Symbol* s = kernel.symbols().lookup(name);
        if (s == nullptr) continue;
        try {
            facts.now_sec = read_time_t(kernel, s->value, time_size);
        } catch (const Error&) {
            // ETIME prints "-".
        }
        break;
    }
    if (const Symbol* s = kernel.symbols().lookup("_physmem")) {
        try {
            facts.physmem_kib = kernel.read_uint(s->value, physmem_size) * kernel.arch().page_size / 1024;
        } catch (const Error&) {
            // %MEM prints "-".
        }
    }
    return facts;
}

// A terminal by the name its device has in the dump (si_name: "pts/0",
// "ttyv1", "/dev/ttyv1"), for systems that name devices themselves: the
// first process whose controlling terminal has that name gives its number.
inline std::optional<std::uint64_t> terminal_by_name(const ProcessWalker& walker, std::string_view name) {
    if (name.starts_with("/dev/")) name.remove_prefix(5);
    std::optional<std::uint64_t> found;
    walker.walk(
        {},
        [&](const ProcInfo& p) {
            if (!found && p.tdev != no_dev && p.tty == name) found = p.tdev;
        },
        [](const Error&) {});
    return found;
}

}  // namespace kvm::detail
