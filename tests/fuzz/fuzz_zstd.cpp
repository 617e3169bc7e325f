// libFuzzer target: any bytes as a zstd core with a seek table (the
// seekable format savecore --zstd writes): the table is checked, then
// every frame is read.  (A file without a table goes to libzstd's own
// streaming decoder, which is fuzzed upstream.)  A crash, hang, leak or
// unbounded allocation is a bug; kvm::Error is not.
#include <kvm/compress.h>
#include <kvm/error.h>

#include "io/decompress.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {
constexpr std::uint64_t max_read = 32u << 20;  // a small file may say it holds much more
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kvm::Bytes bytes(size);
    if (size > 0) std::memcpy(bytes.data(), data, size);
    try {
        const auto src = kvm::detail::open_zstd_seekable(
            std::make_shared<kvm::MemorySource>(std::move(bytes), "fuzz.zst"), {.cache_bytes = 1u << 20});
        if (!src) return 0;
        kvm::Bytes chunk(100000);
        for (std::uint64_t at = 0; at < std::min(src->size(), max_read); at += chunk.size()) {
            try {
                (void)src->read_at(at, chunk);
            } catch (const kvm::Error&) {
            }
        }
    } catch (const kvm::Error&) {
    }
    return 0;
}
