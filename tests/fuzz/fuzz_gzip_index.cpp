// libFuzzer target: any bytes as a saved checkpoint index (FILE.gzidx) of a
// fixed gzip file.  The file stamp is taken from the input, so that the
// decoder gets past the staleness check; an index it accepts is then used
// to read the file.  A crash, hang, leak or unbounded allocation is a bug;
// kvm::Error is not.
#include <kvm/compress.h>
#include <kvm/error.h>

#include "fixed_gzip.h"
#include "io/gzip_index.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto gz = kvm::fuzz::fixed_gzip();
    kvm::detail::FileStamp stamp{.size = gz->size()};
    if (size >= 36) {
        std::memcpy(&stamp.mtime_sec, data + 24, sizeof stamp.mtime_sec);
        std::memcpy(&stamp.mtime_nsec, data + 32, sizeof stamp.mtime_nsec);
    }
    try {
        const kvm::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
        std::optional<kvm::detail::GzipIndex> index = kvm::detail::decode_gzip_index(bytes, stamp, "fuzz.gzidx");
        if (!index) return 0;
        const auto src = kvm::detail::gzip_index_source(gz, std::move(*index), 1u << 20);
        kvm::Bytes chunk(40000);
        for (std::uint64_t at = 0; at < src->size() && at < (8u << 20); at += chunk.size()) {
            try {
                (void)src->read_at(at, chunk);
            } catch (const kvm::Error&) {
            }
        }
    } catch (const kvm::Error&) {
    }
    return 0;
}
