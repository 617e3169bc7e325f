// gzip (RFC 1952) member headers, and the 'KV' FEXTRA subfield in which
// savecore -z records each member's sizes (docs/compressed-cores.md):
//
//   offset size
//     0     3   1f 8b 08          magic, deflate
//     3     1   04                FLG: FEXTRA only
//     4     4   0                 MTIME: none
//     8     1   XFL               4 at levels 0-1, 2 at 9, else 0 (as zlib sets it)
//     9     1   03                OS: Unix
//    10     2   20                XLEN
//    12     2   'K' 'V'           SI1 SI2
//    14     2   16                LEN
//    16     4   member size       bytes of this member, header to trailer
//    20     4   data size         uncompressed bytes of this member
//    24     8   data offset       uncompressed offset of its first byte
//    32         raw deflate data, then CRC-32 and ISIZE
//
// All little-endian.  The last member holds no data (an empty deflate
// block): its data offset is the file's uncompressed size, and it tells a
// whole file from one cut at a member boundary.
#pragma once

#include <kvm/bytes.h>
#include <kvm/io.h>

#include <cstdint>
#include <optional>
#include <string>

namespace kvm::detail {

inline constexpr std::size_t gzip_fixed_header = 10;
inline constexpr std::size_t gzip_trailer = 8;
inline constexpr std::size_t kv_header_size = 32;
inline constexpr std::uint16_t kv_xlen = 20;
inline constexpr std::uint16_t kv_len = 16;
inline constexpr std::byte kv_si1{'K'};
inline constexpr std::byte kv_si2{'V'};
// The largest member data a reader accepts (writers use at most this).
inline constexpr std::uint32_t kv_max_data = 16u << 20;
// An empty deflate stream: one final fixed-Huffman block with only the
// end-of-block code.
inline constexpr std::size_t empty_deflate_size = 2;
inline constexpr std::size_t kv_end_member_size = kv_header_size + empty_deflate_size + gzip_trailer;

// The 32-byte header of a 'KV' member.
Bytes kv_member_header(std::uint32_t member_size, std::uint32_t data_size, std::uint64_t data_offset, int level);
// The end-of-file member that follows `total` bytes of data.
Bytes kv_end_member(std::uint64_t total, int level);

// What a member header says.
struct GzipHeader {
    std::size_t size = 0;  // bytes up to the deflate data
    struct Sizes {
        std::uint32_t member_size = 0;
        std::uint32_t data_size = 0;
        std::uint64_t data_offset = 0;
    };
    std::optional<Sizes> kv;  // the 'KV' subfield, when present
};

// Parses the member header at `offset` of `source`.  nullopt when the bytes
// there are not a gzip header (wrong magic, or fewer than 10 bytes); throws
// corrupt naming `what` (e.g. "member 3") and the offset when they are one
// but damaged: a reserved flag set, an extra field, name or comment that
// runs past the end of the file or past a bound, a 'KV' subfield of the
// wrong length.
std::optional<GzipHeader> parse_gzip_header(const ByteSource& source, std::uint64_t offset, const std::string& what);

}  // namespace kvm::detail
