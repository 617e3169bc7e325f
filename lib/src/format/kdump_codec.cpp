// kdump page codecs (kdump_codec.h): thin wrappers that give every library
// the same shape and turn its error codes into words.  Decoders write into
// the caller's page-sized buffer and never allocate for the output, so a
// page that claims to inflate to more than a page fails instead.
#include "format/kdump_codec.h"

#include "format/kdump.h"

#include <fmt/format.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <kvm/error.h>

#include <array>
#include <memory>
#include <mutex>
#include <vector>

namespace kvm::kdump {

namespace {

// ---------------------------------------------------------------- zlib

DecodeResult zlib_decode(ByteSpan in, MutableByteSpan out) {
    auto len = static_cast<uLongf>(out.size());
    const int rc = ::uncompress(reinterpret_cast<Bytef*>(out.data()), &len, reinterpret_cast<const Bytef*>(in.data()),
                                static_cast<uLong>(in.size()));
    if (rc == Z_BUF_ERROR) return {.size = 0, .error = "it holds more than a page (Z_BUF_ERROR)"};
    if (rc == Z_DATA_ERROR) return {.size = 0, .error = "the stream is damaged or cut short (Z_DATA_ERROR)"};
    if (rc != Z_OK) return {.size = 0, .error = fmt::format("{} ({})", ::zError(rc), rc)};
    return {.size = static_cast<std::size_t>(len), .error = {}};
}

Bytes zlib_encode(ByteSpan page) {
    Bytes out(::compressBound(static_cast<uLong>(page.size())));
    auto len = static_cast<uLongf>(out.size());
    if (::compress2(reinterpret_cast<Bytef*>(out.data()), &len, reinterpret_cast<const Bytef*>(page.data()),
                    static_cast<uLong>(page.size()), Z_DEFAULT_COMPRESSION) != Z_OK)
        throw Error(ErrorKind::usage, "zlib compress2 failed");
    out.resize(len);
    return out;
}

// ---------------------------------------------------------------- lzo

void lzo_ready() {
    static std::once_flag once;
    static int rc = LZO_E_OK;
    std::call_once(once, [] { rc = ::lzo_init(); });
    if (rc != LZO_E_OK) throw Error(ErrorKind::unsupported, fmt::format("liblzo2 failed to start (error {})", rc));
}

std::string lzo_error(int rc) {
    switch (rc) {
        case LZO_E_INPUT_OVERRUN:
            return "the data ends in the middle of the stream (LZO_E_INPUT_OVERRUN)";
        case LZO_E_OUTPUT_OVERRUN:
            return "it holds more than a page (LZO_E_OUTPUT_OVERRUN)";
        case LZO_E_LOOKBEHIND_OVERRUN:
            return "a match points before the start of the page (LZO_E_LOOKBEHIND_OVERRUN)";
        case LZO_E_INPUT_NOT_CONSUMED:
            return "bytes follow the end of the stream (LZO_E_INPUT_NOT_CONSUMED)";
        case LZO_E_EOF_NOT_FOUND:
            return "no end-of-stream marker (LZO_E_EOF_NOT_FOUND)";
        default:
            return fmt::format("lzo1x_decompress_safe error {}", rc);
    }
}

DecodeResult lzo_decode(ByteSpan in, MutableByteSpan out) {
    lzo_ready();
    lzo_uint len = out.size();
    const int rc = ::lzo1x_decompress_safe(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                           reinterpret_cast<unsigned char*>(out.data()), &len, nullptr);
    if (rc != LZO_E_OK) return {.size = 0, .error = lzo_error(rc)};
    return {.size = len, .error = {}};
}

Bytes lzo_encode(ByteSpan page) {
    lzo_ready();
    // The worst case LZO1X documents for incompressible input.
    Bytes out(page.size() + page.size() / 16 + 64 + 3);
    std::vector<unsigned char> work(LZO1X_1_MEM_COMPRESS);
    lzo_uint len = out.size();
    if (::lzo1x_1_compress(reinterpret_cast<const unsigned char*>(page.data()), page.size(),
                           reinterpret_cast<unsigned char*>(out.data()), &len, work.data()) != LZO_E_OK)
        throw Error(ErrorKind::usage, "lzo1x_1_compress failed");
    out.resize(len);
    return out;
}

// ---------------------------------------------------------------- snappy

DecodeResult snappy_decode(ByteSpan in, MutableByteSpan out) {
    const auto* src = reinterpret_cast<const char*>(in.data());
    std::size_t claimed = 0;
    if (::snappy_uncompressed_length(src, in.size(), &claimed) != SNAPPY_OK)
        return {.size = 0, .error = "no valid length at its start"};
    if (claimed > out.size()) return {.size = 0, .error = fmt::format("its header claims {} bytes", claimed)};
    std::size_t len = out.size();
    if (::snappy_uncompress(src, in.size(), reinterpret_cast<char*>(out.data()), &len) != SNAPPY_OK)
        return {.size = 0, .error = "the stream is not valid snappy"};
    return {.size = len, .error = {}};
}

Bytes snappy_encode(ByteSpan page) {
    Bytes out(::snappy_max_compressed_length(page.size()));
    std::size_t len = out.size();
    if (::snappy_compress(reinterpret_cast<const char*>(page.data()), page.size(), reinterpret_cast<char*>(out.data()),
                          &len) != SNAPPY_OK)
        throw Error(ErrorKind::usage, "snappy_compress failed");
    out.resize(len);
    return out;
}

// ---------------------------------------------------------------- zstd

// One decompression context per thread: libzstd's one-shot call would
// allocate a new one for every page.
struct DCtxFree {
    void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};

DecodeResult zstd_decode(ByteSpan in, MutableByteSpan out) {
    thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
    if (!ctx) throw Error(ErrorKind::io, "libzstd could not allocate a decompression context");
    // A one-shot decompression into the page: the page is the window, so a
    // frame's window size asks for no memory.
    const std::size_t rc = ZSTD_decompressDCtx(ctx.get(), out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(rc) != 0U) return {.size = 0, .error = ZSTD_getErrorName(rc)};
    return {.size = rc, .error = {}};
}

Bytes zstd_encode(ByteSpan page) {
    Bytes out(ZSTD_compressBound(page.size()));
    // Level 1, as makedumpfile -z compresses.
    const std::size_t rc = ZSTD_compress(out.data(), out.size(), page.data(), page.size(), 1);
    if (ZSTD_isError(rc) != 0U) throw Error(ErrorKind::usage, fmt::format("ZSTD_compress: {}", ZSTD_getErrorName(rc)));
    out.resize(rc);
    return out;
}

constexpr std::array codec_table{
    Codec{compressed_zlib, "zlib", &zlib_decode, &zlib_encode},
    Codec{compressed_lzo, "lzo", &lzo_decode, &lzo_encode},
    Codec{compressed_snappy, "snappy", &snappy_decode, &snappy_encode},
    Codec{compressed_zstd, "zstd", &zstd_decode, &zstd_encode},
};

}  // namespace

std::span<const Codec> all_codecs() {
    return codec_table;
}

const Codec* find_codec(std::uint32_t flag) {
    for (const Codec& c : codec_table)
        if (c.flag == flag) return &c;
    return nullptr;
}

const Codec* find_codec(std::string_view name) {
    for (const Codec& c : codec_table)
        if (c.name == name) return &c;
    return nullptr;
}

}  // namespace kvm::kdump
