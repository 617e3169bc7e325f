// Compressed cores: the writers savecore -z and --zstd use, and the readers
// that let every tool open a compressed core in place, with random access.
//
// Writers (forward-only Sinks, never seeking, so they may write to a pipe):
//   - gzip: independent members of a fixed uncompressed size, each header
//     carrying the member's sizes in a FEXTRA subfield ('K','V'), then an
//     empty end-of-file member; any gunzip reads it (docs/compressed-cores.md).
//   - zstd: independent frames and the seek table of zstd's seekable format.
//   Both compress blocks on several threads and write them in order.
//
// Readers (ByteSources of the decompressed bytes, opened by
// open_decompressed, which Kernel::open calls for every core):
//   - gzip with 'KV' members: indexed by hopping from header to header;
//   - any other gzip file (gzip, pigz, FreeBSD's kernel): a checkpoint index
//     (a 32 KiB window every few MiB, zran's method) built by one pass on
//     first open and kept beside the file as "<file>.gzidx";
//   - zstd with a seek table: indexed by the table;
//   - any other zstd file (FreeBSD's kernel writes one stream): decompressed
//     once into a sparse temporary file, which is then read.
// Each keeps a small LRU cache of decompressed blocks.  Sizes that lie,
// truncated members and frames, and a damaged index are errors naming the
// file, the member or frame and its offset, or (a saved index) a notice and
// a rebuild; nothing read from the file is allocated before it is checked
// against the file size and a named limit.
#pragma once

#include <kvm/io.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace kvm {

// ------------------------------------------------------------------ writers

// gzip members as savecore -z writes them.  Levels 1-3 use ISA-L's igzip
// (several times zlib's speed, within 10% of gzip -1's size), 0 and 4-9
// libdeflate (stored blocks, or better ratios than zlib at its speed); see
// bench/deflate_bench.cpp for the measurements.  All-zero members (free
// RAM) reuse one precompressed member body.  Blocks in flight are bounded
// by max_memory.  finish() writes the end-of-file member and then finishes
// `out`, which must outlive the gzip sink.  After write() or finish() has
// thrown, the stream is over: both throw ErrorKind::usage, so a failed
// stream is never made to look whole.
struct GzipOptions {
    int level = 1;                       // 0-9, as gzip's
    unsigned threads = 0;                // compressing threads; 0: one per CPU, at most 16
    std::size_t block_size = 1u << 20;   // uncompressed bytes per member, 64 KiB to 16 MiB
    std::size_t max_memory = 32u << 20;  // bound on the blocks in flight (input + output)
};
std::unique_ptr<Sink> create_gzip_sink(Sink& out, const GzipOptions& options = {});

// zstd frames of a fixed uncompressed size, each independent and with its
// content checksum, then the seekable format's seek table (a skippable
// frame: entries without checksums, footer with 0x8F92EAB1).  `zstd -d`
// reads it as any zstd file.  Otherwise as GzipOptions.
struct ZstdOptions {
    int level = 1;  // zstd's levels, 1-19
    unsigned threads = 0;
    std::size_t block_size = 1u << 20;  // uncompressed bytes per frame, 64 KiB to 16 MiB
    std::size_t max_memory = 32u << 20;
};
std::unique_ptr<Sink> create_zstd_sink(Sink& out, const ZstdOptions& options = {});

// ------------------------------------------------------------------ readers

enum class Compression {
    none,
    gzip,  // 1f 8b 08
    zstd,  // a zstd frame (28 b5 2f fd) or a skippable frame first
};
std::string_view to_string(Compression compression);

// By the magic at offset 0.
Compression detect_compression(const ByteSource& source);

struct DecompressProgress {
    std::string_view file;    // the compressed file's name
    std::string_view what;    // "indexing", "decompressing"
    std::uint64_t done = 0;   // compressed bytes read so far
    std::uint64_t total = 0;  // compressed bytes in all
};

struct DecompressOptions {
    // The compressed file on disk, when it is one: a checkpoint index is
    // kept beside it as "<path>.gzidx" (written when the directory is
    // writable and the file did not change while it was built).  Empty:
    // the index lives in memory only.
    std::string path;
    bool use_saved_index = true;  // false: neither read nor write "<path>.gzidx"
    // Said once each: a saved index that was stale or damaged (and is
    // rebuilt), a stream decompressed into a temporary file, a file that
    // looks cut short.  Empty: not said.
    std::function<void(const std::string& message)> notice;
    // Long one-time work (building an index, decompressing a stream), after
    // every few MiB.
    std::function<void(const DecompressProgress&)> progress;
    // Where a zstd stream without a seek table is decompressed; empty:
    // $TMPDIR, else /var/tmp.
    std::string temp_dir;
    // Decompressed blocks kept (LRU).  0: as much as the core holds, up to
    // an eighth of the machine's RAM (at least 32 MiB): tools that walk a
    // dump (kvmps) touch pages all over it, and each miss inflates a whole
    // block, so the cache plays the page cache's part for a plain core.
    std::size_t cache_bytes = 0;
};

// The decompressed bytes of `source` as a ByteSource with the same name, or
// `source` itself when it is not compressed.  Throws corrupt (naming the
// file, member or frame, and offset) when the compressed file is damaged
// in a way that stops indexing; damage found later is thrown by read_at.
std::shared_ptr<ByteSource> open_decompressed(std::shared_ptr<ByteSource> source,
                                              const DecompressOptions& options = {});

// "<path>.gzidx": where the checkpoint index of `path` is kept.
std::string gzip_index_path(const std::string& path);

}  // namespace kvm
