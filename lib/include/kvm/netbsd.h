// NetBSD kernel core dumps: the kcore header of a savecore'd file, the raw
// dump on a swap device, and the conversion between the two (libkvm's
// kvm_dump_mkheader / kvm_dump_wrtheader).  Facts: netbsd-dump-format.md
// sections 1-3.
#pragma once

#include <kvm/arch.h>
#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/io.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvm {
class Kernel;
class Namelist;
}  // namespace kvm

namespace kvm::netbsd {

inline constexpr std::uint16_t kcore_magic = 0x8fca;        // KCORE_MAGIC
inline constexpr std::uint16_t kcoreseg_magic = 0x8fac;     // KCORESEG_MAGIC
inline constexpr std::uint8_t core_cpu = 1;                 // CORE_CPU
inline constexpr std::uint8_t core_data = 2;                // CORE_DATA
inline constexpr std::uint32_t dumpmag_value = 0x8fca0101;  // the kernel's dumpmag
inline constexpr std::uint64_t dev_bsize = 512;             // DEV_BSIZE
inline constexpr std::uint32_t i386_kcore_pae = 0x200;      // I386_KCORE_PAE in pdppaddr

// c_midmag: flag << 26 | mid << 16 | magic, stored big-endian on every host.
struct Midmag {
    std::uint16_t magic = 0;
    std::uint16_t mid = 0;
    std::uint8_t flag = 0;
    bool operator==(const Midmag&) const = default;
};
Midmag decode_midmag(std::uint32_t host_value);
std::uint32_t encode_midmag(const Midmag& m);

// Sizes of the fixed headers.
inline constexpr std::uint64_t kcore_hdr_size = 12;  // sizeof(kcore_hdr_t)
inline constexpr std::uint64_t kcore_seg_size = 8;   // sizeof(kcore_seg_t)
inline constexpr std::uint64_t ram_seg_size = 16;    // sizeof(phys_ram_seg_t)

struct RamSegment {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    bool operator==(const RamSegment&) const = default;
};

// The machine-dependent cpu_kcore_hdr_t plus the RAM segment table.
struct CpuHeader {
    std::uint64_t pt_root = 0;  // PML4 / page directory physical address
    bool pae = false;           // i386 only
    std::vector<RamSegment> ram;
};

// The fields of cpu_kcore_hdr_t; the RAM table follows the structure at
// kcore_align(arch, sizeof).
struct CpuHeaderFields {
    std::uint64_t pt_root = 0;
    bool pae = false;
    std::uint64_t nmemsegs = 0;
};

// Per-arch layout of cpu_kcore_hdr_t (a table row per MID).
struct CpuHeaderCodec {
    std::uint32_t mid;
    std::uint64_t size;  // sizeof(cpu_kcore_hdr_t)
    CpuHeaderFields (*decode)(Decoder& d);
    void (*encode)(Encoder& e, const CpuHeader& h);
    std::string_view (*translator)(const CpuHeader& h);
};
const CpuHeaderCodec* find_cpu_codec(std::uint32_t mid);

// Everything needed to read memory from either form, and to write a kcore
// file from the device form.
struct DumpLayout {
    const ArchInfo* arch = nullptr;
    bool on_device = false;           // raw dump on a swap device (no kcore_hdr_t)
    std::uint64_t header_offset = 0;  // device: dumplo*512; file: 0
    Bytes cpu_segment;                // the cpu data exactly as stored (header, segments, fill)
    CpuHeader cpu;
    std::uint64_t memory_offset = 0;  // libkvm's dump_off
    std::uint64_t memory_size = 0;    // sum of the RAM segment sizes
};

// _kvm_get_header: a savecore'd file.  Returns nullopt-like empty layout
// (arch == nullptr) when offset 0 does not hold a kcore header for a known
// machine; throws corrupt when it does but the rest is broken.
DumpLayout read_kcore_file(const ByteSource& src);
// kvm_dump_mkheader: the dump at byte offset `dump_start` of a device.
// Throws format "no dump header at offset X" when the magic is not there and
// corrupt when the header is there but impossible.
DumpLayout read_device_dump(const ByteSource& src, std::uint64_t dump_start);

// Says whether a candidate dump is live (its dumpmag intact) or stale.
using DumpLivenessCheck = std::function<bool(std::shared_ptr<ByteSource>, const DumpLayout&)>;

// Plausible dump headers on a device, in ascending order: a
// cpu segment with KCORE_MAGIC and a known MID at a 512-byte boundary whose
// cpu header and RAM table are sane and whose memory fits in the device.
// The memory of a live candidate is skipped (it holds copies of its own
// header); the memory of a stale one (is_live says false) is scanned, since
// a newer, smaller dump can start inside it.  Without is_live every
// candidate counts as live.  Reads the device forward in large chunks and
// stops after max_candidates.
struct DumpCandidate {
    std::uint64_t offset = 0;  // byte offset of the on-device header
    bool live = true;          // is_live's verdict (true without a check)
    std::uint64_t end = 0;     // byte offset where its memory ends
};
// A header that looks like one the kernel writes (KCORE_MAGIC, CORE_CPU and
// a cpu segment size that ends the header on a 512-byte boundary) but fails
// a check of read_device_dump: damaged, truncated, or from a machine kvmkit
// does not read.  `error` says which check failed.
struct RejectedHeader {
    std::uint64_t offset = 0;
    Error error;
};
// `rejected`, when given, collects up to 16 such headers.
std::vector<DumpCandidate> scan_device(const std::shared_ptr<ByteSource>& src, const DumpLivenessCheck& is_live = {},
                                       std::size_t max_candidates = 64,
                                       std::vector<RejectedHeader>* rejected = nullptr);

// Which of a scan's candidates is the dump the kernel wrote.  The kernel
// writes its dump at dumplo, which cpu_dumpconf puts at the end of the
// device; a header elsewhere may be planted (a user's swapped-out pages
// can hold anything) or a stale copy.  Among live candidates, the one
// whose own memory records its place (the kernel's dumplo, read through
// the namelist) is chosen; when none does, the one ending nearest the end
// of the device; when several do, none: `tied` lists them and
// `nearest_end` is the one -f takes.  Without a live candidate, the first.
struct CandidateChoice {
    std::optional<std::uint64_t> offset;  // the chosen header; empty when tied
    std::string reason;                   // why, for savecore -v and errors
    std::size_t live = 0;                 // live candidates
    std::vector<std::uint64_t> tied;      // live candidates that could not be told apart
    std::uint64_t nearest_end = 0;        // of the tied ones, the one ending nearest the end
};
CandidateChoice choose_candidate(const std::shared_ptr<ByteSource>& src, const std::vector<DumpCandidate>& candidates,
                                 const Namelist* namelist);
// "2 live dump headers, at offsets 0x1000, 0x2400000: each lies at ..., so
// which one the kernel wrote cannot be told": the error for a tie.
std::string tied_candidates(const CandidateChoice& choice);

// The dumplo (in 512-byte blocks) a dump's kernel recorded in its memory,
// read through the namelist's _dumplo; nullopt when it cannot be read.
std::optional<std::int64_t> recorded_dumplo(const std::shared_ptr<ByteSource>& src, const DumpLayout& layout,
                                            const Namelist& namelist);

// The check Kernel::open uses: the dump's dumpmag (read through the dump's
// own page tables at the namelist's _dumpmag) equals the namelist's
// initialised dumpmag, or the kernel's constant 0x8fca0101.
DumpLivenessCheck dumpmag_check(const Namelist& namelist);

// kvm_dump_wrtheader: everything of a kcore file that precedes memory, for
// a dump of `layout` whose memory is `memory_bytes` long.
Bytes kcore_file_header(const DumpLayout& layout, std::uint64_t memory_bytes);

// The on-device header the kernel writes (cpu segment with KCORE_MAGIC and
// the MID, cpu header, RAM table, zero fill to 512).  Used by the synthetic
// dump builder and tests.
Bytes device_dump_header(const ArchInfo& arch, const CpuHeader& cpu);

// A Format over either form.
std::unique_ptr<Format> make_format(std::shared_ptr<ByteSource> src, DumpLayout layout);

// Probe functions for the format table.
std::unique_ptr<Format> probe_kcore(std::shared_ptr<ByteSource> src, const ProbeOptions& options);
std::unique_ptr<Format> probe_device(std::shared_ptr<ByteSource> src, const ProbeOptions& options);

// The layout behind a NetBSD format (nullptr for other formats).
const DumpLayout* layout_of(const Format& format);

// kvm_dump_inval: zeroes the dump's dumpmag in place, through the dump's own
// address translation, touching no other byte of the device (devices that
// need whole-sector writes get a read-modify-write of that sector).  The
// kernel must have been opened writable.  Verifies by reading it back.
void invalidate_dump(Kernel& kernel);

// Reads the dump's dumpmag (0 once invalidated).
std::uint64_t read_dumpmag(const Kernel& kernel);

}  // namespace kvm::netbsd
