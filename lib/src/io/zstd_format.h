// zstd's seekable format (contrib/seekable_format in the zstd repository):
// independent frames, then a skippable frame holding the seek table:
//
//   u32 0x184D2A5E        skippable frame magic
//   u32 frame size        bytes after this field: 8 or 12 per entry, + 9
//   entries               u32 compressed size, u32 decompressed size,
//                         [u32 checksum: low 32 bits of the frame's XXH64]
//   u32 number of frames  footer: the last 9 bytes of the file
//   u8  descriptor        bit 7: entries carry checksums; bits 2-6 reserved (0)
//   u32 0x8F92EAB1        seekable magic
//
// All little-endian.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvm::detail {

inline constexpr std::uint32_t zstd_frame_magic = 0xFD2FB528;
inline constexpr std::uint32_t zstd_skippable_magic_first = 0x184D2A50;  // 0x184D2A50-0x184D2A5F
inline constexpr std::uint32_t seek_table_skippable_magic = 0x184D2A5E;
inline constexpr std::uint32_t seekable_magic = 0x8F92EAB1;
inline constexpr std::size_t seek_table_footer_size = 9;
inline constexpr std::size_t skippable_header_size = 8;
inline constexpr std::uint8_t seek_table_checksum_flag = 0x80;
inline constexpr std::uint8_t seek_table_reserved_bits = 0x7c;
// The format's own limit on frames.
inline constexpr std::uint32_t seekable_max_frames = 0x8000000;

}  // namespace kvm::detail
