// The gzip file fuzz_gzip_index reads through fuzzed indexes, and whose
// real index make_seeds writes as the seed: 256 KiB of text in one zlib
// stream.
#pragma once

#include <kvm/io.h>

#include <zlib.h>

#include <memory>
#include <string>
#include <string_view>

namespace kvm::fuzz {

// `text` as one gzip stream, as gzip -6 writes it.
inline Bytes gzip_stream(std::string_view text) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
    Bytes out(deflateBound(&z, text.size()) + 64);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

inline std::shared_ptr<ByteSource> fixed_gzip() {
    static const std::shared_ptr<ByteSource> file = [] {
        std::string text;
        for (int i = 0; text.size() < (256u << 10); ++i)
            text += "kernel page " + std::to_string(i * 7919 % 100003) + " vnode mutex\n";
        text.resize(256u << 10);
        return std::make_shared<MemorySource>(gzip_stream(text), "fixed.gz");
    }();
    return file;
}

// Checkpoints of the fixed file: every 64 KiB of output.
inline constexpr std::uint64_t fixed_gzip_span = 64u << 10;

}  // namespace kvm::fuzz
