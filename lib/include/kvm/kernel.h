// Kernel: an opened dump plus its namelist (libkvm's kvm_t).
//
// kvm::Kernel::open probes the core with every registered format, picks the
// translator the dump names, and loads the namelist.  Consumers (symbols,
// process walkers, savecore) read kernel virtual memory through it and never
// touch files themselves.
#pragma once

#include <kvm/arch.h>
#include <kvm/bytes.h>
#include <kvm/compress.h>
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/namelist.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

struct OpenOptions {
    std::string namelist;                        // kernel file, System.map or kallsyms; empty: none
    std::string core;                            // dump file or device
    std::optional<std::uint64_t> dumplo_blocks;  // raw NetBSD dump device
    bool writable = false;                       // open the core read-write (dump invalidation)
    bool allow_truncated = false;                // see ProbeOptions::allow_truncated
    // The other files of a split dump (makedumpfile --split) when `core` is
    // one of them; empty: they are looked for next to `core` ("vmcore.1"
    // finds "vmcore.2" ...).
    std::vector<std::string> core_parts;
    bool zero_excluded = false;                    // see ProbeOptions::zero_excluded
    std::function<void(const std::string&)> warn;  // see ProbeOptions::warn
    // A namelist already loaded (through a symbol index, say): used
    // instead of loading `namelist`.
    std::shared_ptr<const Namelist> loaded_namelist;
    // How a compressed core (gzip, zstd) is read in place: what is said,
    // progress, the index cache.  Its `path` is set from `core`.
    DecompressOptions decompress;
};

// The result of a read that may stop early.
struct PartialRead {
    std::size_t bytes = 0;       // bytes read from the start of the request
    std::optional<Error> error;  // why it stopped, when bytes < requested
};

class Kernel {
public:
    // Opens the core of `options` (required here; the live host is
    // kvm::open_target's) and the namelist when one is named.  A Linux dump's
    // namelist is moved to the dump's run-time addresses when it holds
    // link-time ones (System.map, vmlinux under KASLR; see
    // linux_kernel::relocate_namelist), so symbol values are the addresses
    // to read.
    static std::unique_ptr<Kernel> open(const OpenOptions& options);
    Kernel(std::unique_ptr<Format> format, std::shared_ptr<const Namelist> namelist);
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    const Format& format() const noexcept { return *format_; }
    Format& format() noexcept { return *format_; }
    const MachineState& machine() const noexcept { return format_->machine(); }
    const ArchInfo& arch() const noexcept { return *format_->machine().arch; }
    ByteOrder order() const noexcept { return arch().order; }
    unsigned pointer_size() const noexcept { return arch().pointer_size; }

    bool has_namelist() const noexcept { return namelist_ != nullptr; }
    // Throws usage "no namelist given (-N)" when there is none.
    const Namelist& namelist() const;
    // The namelist as shared (null when there is none): a Linux dump's
    // relocated copy, not the one given in OpenOptions::loaded_namelist.
    std::shared_ptr<const Namelist> shared_namelist() const noexcept { return namelist_; }
    const SymbolTable& symbols() const { return namelist().symbols(); }
    // A symbol's value by nlist name; throws not_found "NAME: no such symbol".
    std::uint64_t symbol_value(std::string_view nlist_name) const;

    // Translation through the dump's linear ranges, then the page tables,
    // with a cache of recent translations.  Throws a fault naming the
    // address and the level of the walk that failed.
    Mapping translate(std::uint64_t va) const;

    // Reads kernel virtual memory, crossing pages of any size.  Memory the
    // dump stores by virtual address (Format::read_virtual) is read as
    // stored; the rest is translated.
    void read(std::uint64_t va, MutableByteSpan out) const;
    // Reads as much as can be read from `va` onwards.
    PartialRead read_partial(std::uint64_t va, MutableByteSpan out) const;
    std::uint64_t read_uint(std::uint64_t va, unsigned width) const;
    std::uint64_t read_pointer(std::uint64_t va) const;
    // A NUL-terminated string of at most `max` bytes (without the NUL).
    std::string read_string(std::uint64_t va, std::size_t max) const;

    void read_phys(std::uint64_t pa, MutableByteSpan out) const { format_->read_phys(pa, out); }
    // Reads as much physical memory as can be read from `pa` onwards
    // (crash's rd -p): no namelist or page tables needed.
    PartialRead read_phys_partial(std::uint64_t pa, MutableByteSpan out) const;
    // The byte offset in the core that holds `va` (raw formats only).
    std::uint64_t kva_to_offset(std::uint64_t va) const;

    // Drops cached translations (after the core was written in place).
    void flush_cache() const;

private:
    struct CacheEntry {
        std::uint64_t va_page = ~std::uint64_t{0};  // va >> 12, all ones when empty
        std::uint64_t pa_page = 0;
        std::uint64_t page_size = 0;
    };
    static constexpr std::size_t cache_entries = 4096;

    Mapping walk(std::uint64_t va) const;
    bool shortcut_agrees(const LinearRange& range) const;

    std::unique_ptr<Format> format_;
    std::shared_ptr<const Namelist> namelist_;
    std::unique_ptr<Translator> translator_;  // nullptr when the dump names no page tables
    std::vector<LinearRange> linear_;         // machine().linear without overlaps, sorted by va
    PhysReader phys_reader_;
    mutable std::array<CacheEntry, cache_entries> cache_{};
};

// Another address space of the dumped machine (a process's): the dump's
// paging scheme walked from another top-level table, read through physical
// memory only (the linear ranges and virtual segments are the kernel's).
// libkvm reads no user memory of a dead kernel; a full dump has it, and a
// filtered one says which pages it left out.
class ProcessAddressSpace {
public:
    // `root` is the physical address of the top-level table.  Throws
    // unsupported when the dump names no paging scheme to walk (a minidump's
    // page map covers only the kernel).
    ProcessAddressSpace(const Kernel& kernel, std::uint64_t root);
    // As much as can be read from `va` onwards; the error names the
    // address, and the level of the walk or the physical page that failed.
    PartialRead read_partial(std::uint64_t va, MutableByteSpan out) const;
    // The page that holds `va`; throws a fault naming the level that failed.
    Mapping translate(std::uint64_t va) const;

private:
    const Kernel& kernel_;
    std::unique_ptr<Translator> translator_;
};

}  // namespace kvm
