// The readers open_decompressed chooses from (kvm/compress.h).
#pragma once

#include <kvm/compress.h>

#include <memory>

namespace kvm::detail {

// A gzip file of 'KV' members (savecore -z), indexed by hopping from header
// to header; nullptr when a member has no 'KV' subfield (any other gzip).
std::shared_ptr<ByteSource> open_gzip_members(std::shared_ptr<ByteSource> source, const DecompressOptions& options);

// Any gzip file, through a checkpoint index (io/gzip_index.h).
std::shared_ptr<ByteSource> open_gzip_checkpointed(std::shared_ptr<ByteSource> source,
                                                   const DecompressOptions& options);

// A zstd file: through its seek table, or decompressed once into a sparse
// temporary file when it has none.
std::shared_ptr<ByteSource> open_zstd(std::shared_ptr<ByteSource> source, const DecompressOptions& options);
// Through its seek table; nullptr when it has none.
std::shared_ptr<ByteSource> open_zstd_seekable(std::shared_ptr<ByteSource> source, const DecompressOptions& options);

// Says `message` through options.notice, when there is one.
void notify(const DecompressOptions& options, const std::string& message);

}  // namespace kvm::detail
