// libFuzzer target: any bytes as a gzip core.  savecore -z's 'KV' members
// are indexed by their headers, anything else by one pass that builds
// checkpoints; then everything is read back in pieces.  A crash, hang,
// leak or unbounded allocation is a bug; kvm::Error is not.
#include <kvm/compress.h>
#include <kvm/error.h>

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
    const auto file = std::make_shared<kvm::MemorySource>(std::move(bytes), "fuzz.gz");
    if (kvm::detect_compression(*file) != kvm::Compression::gzip) return 0;
    try {
        const auto src = kvm::open_decompressed(file, {.cache_bytes = 1u << 20});
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
