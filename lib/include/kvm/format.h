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
    std::string translator;                   // paging scheme, a row of all_translators(), or the name of
                                              // the format's own translation (a minidump's page map, see
                                              // Format::make_own_translator); empty when the dump names
                                              // neither (only linear ranges work)
    std::uint64_t pt_root = 0;                // physical address of the top-level table
    std::uint64_t encryption_mask = 0;        // see TranslatorParams::encryption_mask
    std::uint32_t granule = 0;                // see TranslatorParams::granule (arm64)
    unsigned va_bits = 0;                     // see TranslatorParams::va_bits (arm64)
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
    // Bytes of physical memory present: the sum of phys_ranges(), which a
    // format with many runs (a kdump bitmap) may know without making them.
    virtual std::uint64_t phys_bytes() const;
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

    // A dump that carries its own translation rather than a page-table
    // root (a FreeBSD or DragonFly minidump's page map, read from the file)
    // returns its translator here; Kernel uses it instead of making one
    // from MachineState::translator.  Linear ranges are still tried first.
    // The translator may refer to the format, which must outlive it.
    virtual std::unique_ptr<Translator> make_own_translator() const { return nullptr; }

    // The kernel message buffer as the dump carries it beside memory, or
    // nullopt when it carries none.  FreeBSD and DragonFly minidumps store
    // the kernel's ring (msgbufp->msg_ptr, msg_size bytes) as it was, with
    // no read or write position: the text starts after the write position
    // that struct msgbuf holds in memory.  Bounded by the format's own
    // limit on the size (a minidump's: 64 MiB).
    virtual std::optional<Bytes> message_buffer() const { return std::nullopt; }

    virtual const ByteSource& source() const = 0;
    virtual ByteSource& source() = 0;
    // The files the dump is read from: more than one for a split dump
    // (makedumpfile --split), whose first file is source().
    virtual std::size_t file_count() const { return 1; }
};

class Namelist;
namespace kerneldump {
struct DeviceDump;
}

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
    // Set while the body of a FreeBSD or DragonFly dump device is probed (a
    // slice of the device): its header, which names the OS (DragonFly's
    // first minidumps carry FreeBSD's magic).  Formats that look for their
    // own header on a whole device are not tried on a body.
    const kerneldump::DeviceDump* device = nullptr;
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
    bool whole_device = false;  // looks for a dump on a whole device: not tried on a device's body
};

std::span<const FormatInfo> all_formats();

// Tries every format in order.  Throws ErrorKind::format "<name>: not a
// recognised dump (tried: ...)" when none accepts, and passes through the
// corrupt error of the first format that recognised but rejected it.
std::unique_ptr<Format> open_format(std::shared_ptr<ByteSource> source, const ProbeOptions& options = {});

// Shared helper for raw formats: read `out` from `source` through `map`.
void read_phys_through_map(const PhysMap& map, const ByteSource& source, std::uint64_t pa, MutableByteSpan out);

}  // namespace kvm
