// Namelists: symbol lookup by name (as written, else with nlist's underscore rule) and by
// address (nearest symbol at or below).
//
// The table is built once: an address-sorted array and a name index.  Loaders
// for ELF kernels live here; other namelist kinds (System.map, kallsyms, a
// symbol index file) add a loader and reuse the table.
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

struct Symbol {
    std::string name;
    std::uint64_t value = 0;
    std::uint64_t size = 0;        // 0 when unknown
    char type = '?';               // nm letter: T t D d R r B b A U W w V v C N ...
    std::uint8_t elf_type = 0;     // STT_*; for symbol lists, derived from the letter
    std::uint8_t elf_binding = 0;  // STB_*; likewise
    std::string module;            // /proc/kallsyms: the module that defines it; empty for the kernel
    bool operator==(const Symbol&) const = default;
};

class SymbolTable {
public:
    SymbolTable() = default;
    explicit SymbolTable(std::vector<Symbol> symbols);

    // A table whose symbols are already in by_address() order, with, for
    // each, whether find() returns it for its name: what a symbol index
    // file stores, so that loading one needs no sort and no duplicate
    // resolution.  Nothing is trusted: the order, one choice per name and a
    // choice for every name are checked, and a violation throws corrupt.
    struct Indexed {
        std::vector<Symbol> symbols;
        std::vector<bool> chosen;  // same length as symbols
    };
    explicit SymbolTable(Indexed indexed);

    // The name index holds positions in the address-sorted array, so copies
    // and moves need no re-keying.  A moved-from table is empty.
    SymbolTable(const SymbolTable& other) = default;
    SymbolTable& operator=(const SymbolTable& other) = default;
    SymbolTable(SymbolTable&& other) noexcept;
    SymbolTable& operator=(SymbolTable&& other) noexcept;
    ~SymbolTable() = default;

    // Exact-name lookup.  With duplicates (local statics), the global one
    // wins, else the first in the namelist.
    const Symbol* find(std::string_view name) const;
    // What the tools look names up with: the name as given when the table
    // has it (Linux's "_text", "__start_BTF"), else nlist's rule, one
    // leading '_' removed ("_dumpmag" finds "dumpmag").
    const Symbol* lookup(std::string_view name) const;

    struct Nearest {
        const Symbol* symbol = nullptr;
        std::uint64_t offset = 0;
    };
    // The symbol at or below `address` (preferring, at equal values, a sized
    // global data/text symbol).  nullopt below the first symbol, and past the
    // end of a symbol whose size is known when no other symbol covers it.
    std::optional<Nearest> nearest(std::uint64_t address) const;
    // The symbol at or below `address` whatever its size, when a symbol lies
    // above the address too: what nm users and crash's `sym` answer for an
    // address between the end of one symbol and the start of the next.
    // nullopt below the first symbol and at or past the last one's value
    // when nearest() has no answer there.
    std::optional<Nearest> preceding(std::uint64_t address) const;

    // Symbols sorted by value (then name), as nm -n lists them.
    std::span<const Symbol> by_address() const noexcept { return symbols_; }
    std::size_t size() const noexcept { return symbols_.size(); }
    bool empty() const noexcept { return symbols_.empty(); }

    // Adds `delta` to every symbol whose value is an address in the image
    // (KASLR); absolute, undefined, common and debug-section symbols keep
    // their values.
    void relocate(std::int64_t delta);
    // The same, for only the symbols whose value is in [begin, end): a Linux
    // kernel image moves, its per-cpu offsets (small values of type D in a
    // System.map or vmlinux) stay.
    void relocate(std::int64_t delta, std::uint64_t begin, std::uint64_t end);
    // The sum of the deltas relocate() applied: a relocated symbol's value
    // minus this is its value in the namelist file.
    std::int64_t relocation() const noexcept { return relocation_; }

private:
    // A slot of the name index: 0 when empty, else the high 32 bits of the
    // name's hash above (position in symbols_ + 1).
    using Slot = std::uint64_t;

    void index_addresses();
    // Sizes the name index for `names` names, all slots empty.
    void reset_name_index(std::size_t names);
    // The slot holding `name`, or the empty slot where it would go.
    Slot& name_slot(std::string_view name, std::uint64_t hash);
    const Slot* find_slot(std::string_view name) const;

    std::vector<Symbol> symbols_;
    std::vector<Slot> name_slots_;  // open addressing, linear probing; size a power of two
    // Positions in symbols_ of the symbols nearest() may return, in address order.
    std::vector<std::uint32_t> addressable_;
    std::int64_t relocation_ = 0;
};

// libkvm-compatible nlist over a table.
inline constexpr std::uint8_t n_undf = 0x00;
inline constexpr std::uint8_t n_abs = 0x02;
inline constexpr std::uint8_t n_text = 0x04;
inline constexpr std::uint8_t n_data = 0x06;
inline constexpr std::uint8_t n_bss = 0x08;
inline constexpr std::uint8_t n_fn = 0x1e;
inline constexpr std::uint8_t n_ext = 0x01;

struct NlistEntry {
    std::string name;
    std::uint8_t n_type = 0;
    std::uint64_t n_value = 0;
};

// How nlist names map to ELF symbol names.
enum class NlistNames {
    // NetBSD's libkvm, strictly: one leading '_' is removed ("_foo" means
    // "foo"; an ELF "_foo" is "__foo").
    netbsd,
    // FreeBSD's ELF nlist (and DragonFly's): the name as written, else with
    // one leading '_' removed, so both "_nprocs" and "kernbase" are found.
    freebsd,
};

// Fills every entry (n_type 0 and n_value 0 when not found) and returns the
// number of entries not found.  Local symbols are found too (FreeBSD's
// static dumppcb); of several with one name, the global one, else the
// first.  Unlike NetBSD's nlist, a name that occurs twice in the symbol
// table is counted once.
int nlist(const SymbolTable& table, std::span<NlistEntry> entries, NlistNames names = NlistNames::netbsd);

}  // namespace kvm
