// Random access into any gzip file through checkpoints (the method of
// zlib's examples/zran.c): one pass inflates the whole file and, at a
// deflate block boundary every `span` bytes of output, records where the
// next block starts (byte and bit) and the 32 KiB of output before it,
// which is all inflate needs to start there (inflatePrime, then
// inflateSetDictionary).  A read inflates from the checkpoint before it.
// Multi-member files (cat a.gz b.gz, pigz -i) work too: a member's start is
// a checkpoint that needs no history.
//
// The index is kept beside the file as "<file>.gzidx", version 1, all
// little-endian, 64-byte header:
//
//   offset size
//     0     8   magic "KVMGZIDX"
//     8     4   version (1)
//    12     4   header size (64)
//    16     8   gzip file size              -- the file the index was built
//    24     8   gzip file mtime, seconds       from: any difference makes
//    32     4   gzip file mtime, nanoseconds   the index stale
//    36     4   checkpoint count N (1 to 65536)
//    40     8   uncompressed size
//    48     8   span (informational)
//    56     4   CRC-32 of everything after the header
//    60     4   reserved (0)
//    64   32*N  checkpoints, by uncompressed offset:
//                 u64 uncompressed offset, u64 compressed offset of the
//                 first whole byte, u32 history bytes (at most 32768),
//                 u32 stored history bytes, u8 bits of the byte before
//                 that belong to the block (0-7), 7 reserved bytes (0)
//   ...         each checkpoint's history, raw deflate, back to back
#pragma once

#include <kvm/compress.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvm::detail {

inline constexpr std::uint32_t gzip_window = 32768;
inline constexpr std::uint64_t gzip_index_span = 4u << 20;
// Checkpoints kept in memory; past this, every other one is dropped and
// the span doubles (a 16 GiB file: 4096 checkpoints 4 MiB apart).
inline constexpr std::size_t gzip_index_max_points = 4096;
// What a saved index may hold.
inline constexpr std::size_t gzip_index_max_saved_points = 65536;

struct GzipCheckpoint {
    std::uint64_t out = 0;      // uncompressed offset
    std::uint64_t in = 0;       // compressed offset of the first whole byte after it
    std::uint8_t bits = 0;      // bits of the byte at in - 1 that come after it (0-7)
    std::uint32_t history = 0;  // bytes of output before it that it needs (0 at a member's start)
    Bytes stored;               // that output, deflated
};

struct GzipIndex {
    std::uint64_t size = 0;  // uncompressed
    std::uint64_t span = gzip_index_span;
    std::vector<GzipCheckpoint> points;  // the first at offset 0
};

// What identifies the gzip file an index was built from.
struct FileStamp {
    std::uint64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::uint32_t mtime_nsec = 0;
    bool operator==(const FileStamp&) const = default;
};

// One pass over `source`: checks every member's CRC-32 and size, and says
// through options.notice when the file ends inside a member or has bytes
// after its last member that are not gzip (both keep what came before).
// Damaged deflate data or trailers throw corrupt naming the member and its
// offset.
// `span`: the output between checkpoints (smaller in tests and seeds).
GzipIndex build_gzip_index(const ByteSource& source, const DecompressOptions& options,
                           std::uint64_t span = gzip_index_span);

Bytes encode_gzip_index(const GzipIndex& index, const FileStamp& stamp);
// nullopt when the index was built from a file of another size or mtime;
// corrupt naming `index_name` when anything in it is impossible for a gzip
// file of `stamp.size` bytes.
std::optional<GzipIndex> decode_gzip_index(ByteSpan bytes, const FileStamp& stamp, const std::string& index_name);

// The decompressed bytes of `source` through `index`.
std::shared_ptr<ByteSource> gzip_index_source(std::shared_ptr<ByteSource> source, GzipIndex index,
                                              std::size_t cache_bytes);

}  // namespace kvm::detail
