// kdump-compressed ("diskdump") files, as makedumpfile and QEMU write them.
//
// Layout (64-bit machines; every field in the dumped machine's byte order):
//   block 0                  disk_dump_header (464 bytes used)
//     0   signature[8]       "KDUMP   " (or "DISKDUMP", the older writer)
//     8   header_version     i32; 1..6 and later
//     12  utsname            6 x 65 bytes: sysname, nodename, release,
//                            version, machine, domainname (machine at 272)
//     408 timestamp          tv_sec, tv_usec (i64 each; 402 padded to 408)
//     424 status             u32: the compression flags below, INCOMPLETE
//     428 block_size         i32: the page size
//     432 sub_hdr_size       i32: blocks of the sub-header
//     436 bitmap_blocks      u32: blocks of the bitmaps
//     440 max_mapnr          u32: pfns covered (32-bit; v6 has a 64-bit one)
//     444 total_ram_blocks, device_blocks, written_blocks, current_cpu (u32)
//     460 nr_cpus            i32
//   block 1...               kdump_sub_header (104 bytes in v6)
//     0   phys_base          u64 (QEMU writes a wrong one; never used here)
//     8   dump_level         i32 (v1+)
//     12  split              i32 (v2+)
//     16  start_pfn, end_pfn u64 (v2+, 32-bit values): a split dump's
//                            pfns [start, end) (split != 0; v6 uses the
//                            _64 fields)
//     32  offset_vmcoreinfo  i64, size_vmcoreinfo u64 (v3+)
//     48  offset_note        i64, size_note u64 (v4+): the ELF notes
//     64  offset_eraseinfo   i64, size_eraseinfo u64 (v5+)
//     80  start_pfn_64, end_pfn_64, max_mapnr_64 u64 (v6+)
//   block 1 + sub_hdr_size   the bitmaps, bitmap_blocks blocks: when that
//                            holds two bitmaps of max_mapnr bits, the first
//                            says which pfns are RAM and the second which
//                            are in the dump; otherwise the one bitmap is
//                            both.  Bit (pfn % 8) of byte (pfn / 8).
//   then                     page descriptors, 24 bytes each, one per set
//                            bit of the dump bitmap in pfn order:
//     0 offset i64, 8 size u32, 12 flags u32, 16 page_flags u64
//   then                     page data: raw pages (size == block_size, no
//                            compression flag) or compressed ones.
// A split dump (makedumpfile --split) is several such files with the same
// header and bitmaps; each holds the descriptors (from the same offset) and
// pages of the dumped pfns in its [start_pfn, end_pfn), and together they
// cover 0..max_mapnr without overlap (what makedumpfile --reassemble checks).
#pragma once

#include <kvm/bytes.h>
#include <kvm/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvm::kdump {

inline constexpr std::string_view kdump_signature = "KDUMP   ";
inline constexpr std::string_view diskdump_signature = "DISKDUMP";

inline constexpr std::uint32_t compressed_zlib = 0x1;
inline constexpr std::uint32_t compressed_lzo = 0x2;
inline constexpr std::uint32_t compressed_snappy = 0x4;
inline constexpr std::uint32_t status_incomplete = 0x8;
inline constexpr std::uint32_t excluded_vmemmap = 0x10;
inline constexpr std::uint32_t compressed_zstd = 0x20;

inline constexpr std::size_t utsname_field = 65;
inline constexpr std::size_t header_size = 464;      // 64-bit layout, without tasks[]
inline constexpr std::size_t sub_header_size = 104;  // version 6
inline constexpr std::size_t page_desc_size = 24;

// Limits on what a header may declare before anything is allocated for it.
inline constexpr std::uint64_t max_bitmap_bytes = 1ull << 30;
inline constexpr std::uint64_t max_notes_bytes = 64ull << 20;
// Files of one split dump (makedumpfile --split: one per CPU, as a rule).
inline constexpr std::size_t max_split_files = 1024;

struct Header {
    std::string signature;
    std::int32_t header_version = 0;
    std::string sysname;
    std::string release;
    std::string machine;
    std::uint32_t status = 0;
    std::int32_t block_size = 0;
    std::int32_t sub_hdr_size = 0;
    std::uint32_t bitmap_blocks = 0;
    std::uint32_t max_mapnr = 0;
    std::int32_t nr_cpus = 0;
};

struct SubHeader {
    std::uint64_t phys_base = 0;
    std::int32_t dump_level = 0;
    std::int32_t split = 0;
    std::uint64_t start_pfn = 0;
    std::uint64_t end_pfn = 0;
    std::int64_t offset_vmcoreinfo = 0;
    std::uint64_t size_vmcoreinfo = 0;
    std::int64_t offset_note = 0;
    std::uint64_t size_note = 0;
    std::int64_t offset_eraseinfo = 0;
    std::uint64_t size_eraseinfo = 0;
    std::uint64_t start_pfn_64 = 0;
    std::uint64_t end_pfn_64 = 0;
    std::uint64_t max_mapnr_64 = 0;
};

struct PageDesc {
    std::int64_t offset = 0;
    std::uint32_t size = 0;
    std::uint32_t flags = 0;
    std::uint64_t page_flags = 0;
};

// Decoders of the 64-bit layout above; `data` must hold the whole structure
// (header_size, the version's part of sub_header_size, page_desc_size).
Header decode_header(ByteSpan data, ByteOrder order);
SubHeader decode_sub_header(ByteSpan data, ByteOrder order, std::int32_t header_version);
PageDesc decode_page_desc(ByteSpan data, ByteOrder order);

// Bytes of the sub-header a version uses.
std::size_t sub_header_bytes(std::int32_t header_version);

// The name of a compression flag set in a page descriptor ("zlib", "lzo",
// "snappy", "zstd"), or "unknown compression 0x..".
std::string compression_name(std::uint32_t flags);

// "dump level 31: zero, cache, cache private, user data and free pages":
// the kinds of page makedumpfile -d leaves out, in its manual's words.
std::string dump_level_text(std::int32_t level);

// A file name ending in a number, as the files of a split dump are named
// ("vmcore.1", "vmcore.2", ...), so that the others can be found from one.
struct NumberedName {
    std::string stem;  // "vmcore."
    std::uint64_t number = 0;
    std::size_t width = 0;  // zero-padded width: "dump.01" counts on as "dump.02"
    std::string with(std::uint64_t n) const;
};
std::optional<NumberedName> numbered_name(const std::string& path);

}  // namespace kvm::kdump
