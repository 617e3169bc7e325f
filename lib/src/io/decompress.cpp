// open_decompressed: which reader a compressed core gets.
#include <kvm/compress.h>
#include <kvm/error.h>

#include "io/decompress.h"
#include "io/zstd_format.h"

#include <array>

namespace kvm {

std::string_view to_string(Compression compression) {
    switch (compression) {
        case Compression::none:
            return "none";
        case Compression::gzip:
            return "gzip";
        case Compression::zstd:
            return "zstd";
    }
    return "none";
}

Compression detect_compression(const ByteSource& source) {
    std::array<std::byte, 4> magic{};
    if (source.read_at(0, magic) != magic.size()) return Compression::none;
    if (magic[0] == std::byte{0x1f} && magic[1] == std::byte{0x8b} && magic[2] == std::byte{8})
        return Compression::gzip;
    const std::uint32_t word = load32(magic.data(), ByteOrder::little);
    if (word == detail::zstd_frame_magic || (word & 0xfffffff0u) == detail::zstd_skippable_magic_first)
        return Compression::zstd;
    return Compression::none;
}

std::shared_ptr<ByteSource> open_decompressed(std::shared_ptr<ByteSource> source, const DecompressOptions& options) {
    switch (detect_compression(*source)) {
        case Compression::none:
            return source;
        case Compression::gzip:
            if (auto members = detail::open_gzip_members(source, options)) return members;
            return detail::open_gzip_checkpointed(std::move(source), options);
        case Compression::zstd:
            return detail::open_zstd(std::move(source), options);
    }
    return source;
}

namespace detail {

void notify(const DecompressOptions& options, const std::string& message) {
    if (options.notice) options.notice(message);
}

}  // namespace detail

}  // namespace kvm
