// Dump containers.
//
// A Format turns a ByteSource into physical memory plus what the dump says
// about the machine (arch, paging scheme, page-table root).  Formats are rows
// in a table of probe functions, tried in order:
//   - a probe returns nullptr when the bytes are not its format;
//   - it throws kvm::Error when they are its format but broken (truncated,
//     impossible sizes), so "truncated kcore" is never reported as
//     "unknown format" (libkdumpfile's three-way probe).
#pragma once

#include <kvm/arch.h>
#include <kvm/bytes.h>
#include <kvm/io.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

// A run of physical memory stored contiguously in the source.
struct PhysRun {
    std::uint64_t pa = 0;
    std::uint64_t size = 0;
    std::uint64_t offset = 0;  // byte offset in the source
};

// Sorted, non-overlapping runs with binary-search lookup.
class PhysMap {
public:
    PhysMap() = default;
    // Validates: no zero-size run, no overflow, no overlap in pa, every run
    // inside a source of `source_size` bytes.  Violations throw corrupt.
    PhysMap(std::vector<PhysRun> runs, std::uint64_t source_size);

    // The run containing `pa`, or nullptr.
    const PhysRun* find(std::uint64_t pa) const;
    std::span<const PhysRun> runs() const noexcept { return runs_; }
    std::uint64_t total_size() const noexcept { return total_; }

private:
    std::vector<PhysRun> runs_;  // sorted by pa
    std::uint64_t total_ = 0;
};

// A virtual range whose physical address is known without a walk
// (ELF vmcore PT_LOAD vaddrs, a Linux kernel image at phys_base).
struct LinearRange {
    std::uint64_t va = 0;
    std::uint64_t size = 0;
    std::uint64_t pa = 0;
};

// What a dump says about the machine that wrote it.
struct MachineState {
    const ArchInfo* arch = nullptr;
    std::string os;                           // "netbsd", "linux"
    std::string translator;                   // paging scheme, a row of all_translators(); empty when
                                              // the dump names no page tables (only linear ranges work)
    std::uint64_t pt_root = 0;                // physical address of the top-level table
    std::uint64_t encryption_mask = 0;        // see TranslatorParams::encryption_mask
    std::vector<LinearRange> linear;          // consulted before the page-table walk
    std::map<std::string, std::string> info;  // format-specific facts (VMCOREINFO keys, ...)
};

class Format {
public:
    virtual ~Format() = default;
    virtual std::string_view name() const = 0;  // "netbsd-kcore", "netbsd-dumpdev", ...
    virtual const MachineState& machine() const = 0;
    // Reads out.size() bytes of physical memory starting at `pa`, crossing
    // runs as needed.  Memory that is not in the dump throws a fault naming
    // the first missing physical address.
    virtual void read_phys(std::uint64_t pa, MutableByteSpan out) const = 0;
    // The physical ranges present (pa, size; offset is meaningful only for
    // formats that store memory uncompressed).
    virtual std::vector<PhysRun> phys_ranges() const = 0;
    // File offset of `pa` for formats that store it raw; nullopt otherwise
    // (compressed pages, or not in the dump).
    virtual std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const = 0;

    // Kernel virtual memory that the dump stores by virtual address (ELF
    // vmcores whose PT_LOADs carry kernel addresses, /proc/kcore).  Kernel
    // reads these before any translation, as the dump's own view of the
    // address.  Reads from `va` up to out.size() bytes, stopping at the end of
    // the segment that holds `va`; returns the bytes read, 0 when no such
    // segment holds `va`.  Formats that store only physical memory keep the
    // default.
    virtual std::size_t read_virtual(std::uint64_t /*va*/, MutableByteSpan /*out*/) const { return 0; }
    // File offset of a virtual address stored raw by read_virtual's segments.
    virtual std::optional<std::uint64_t> virtual_to_offset(std::uint64_t /*va*/) const { return std::nullopt; }

    virtual const ByteSource& source() const = 0;
    virtual ByteSource& source() = 0;
    // The files the dump is read from: more than one for a split dump
    // (makedumpfile --split), whose first file is source().
    virtual std::size_t file_count() const { return 1; }
};

class Namelist;

struct ProbeOptions {
    // NetBSD raw dump device: start of the dump in 512-byte blocks.  When
    // absent, the device is scanned for a valid header.
    std::optional<std::uint64_t> dumplo_blocks;
    // The kernel that crashed, when known: lets a probe tell a live dump
    // from a stale or cleared one (its dumpmag) when a device holds several.
    const Namelist* namelist = nullptr;
    // A kcore file cut short (a disk that filled while savecore wrote it)
    // opens, and memory past its end reads as not in the dump, as libkvm's
    // reads past the end fail; otherwise such a file is refused as truncated.
    bool allow_truncated = false;
    // The other files of a split kdump-compressed dump (makedumpfile
    // --split), in any order, when the source is one of them.  Given to a
    // dump that is not split, they are a usage error.
    std::vector<std::shared_ptr<ByteSource>> split_parts;
    // Opens a file named like the source for a split dump's other files
    // when split_parts is empty ("dump.1" finds "dump.2", "dump.3" ... next
    // to it), or returns nullptr when there is no such file.  Unset: a split
    // dump must be given whole.
    std::function<std::shared_ptr<ByteSource>(const std::string& path)> open_sibling;
    // Pages a kdump-compressed dump leaves out on purpose (makedumpfile's
    // dump level: zero, cache, user and free pages) read as zeros, as crash's
    // --zero_excluded reads them, instead of failing; `warn` hears of it once.
    bool zero_excluded = false;
    // Told what a person should know about the dump while it is read
    // (the tools print it on stderr).  Unset: nobody is told.
    std::function<void(const std::string&)> warn;
};

struct FormatInfo {
    std::string_view name;
    std::unique_ptr<Format> (*probe)(std::shared_ptr<ByteSource> source, const ProbeOptions& options);
};

std::span<const FormatInfo> all_formats();

// Tries every format in order.  Throws ErrorKind::format "<name>: not a
// recognised dump (tried: ...)" when none accepts, and passes through the
// corrupt error of the first format that recognised but rejected it.
std::unique_ptr<Format> open_format(std::shared_ptr<ByteSource> source, const ProbeOptions& options = {});

// Shared helper for raw formats: read `out` from `source` through `map`.
void read_phys_through_map(const PhysMap& map, const ByteSource& source, std::uint64_t pa, MutableByteSpan out);

}  // namespace kvm
