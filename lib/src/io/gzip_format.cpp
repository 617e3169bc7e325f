#include "io/gzip_format.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <algorithm>

namespace kvm::detail {

namespace {

constexpr std::uint8_t flag_hcrc = 0x02;
constexpr std::uint8_t flag_extra = 0x04;
constexpr std::uint8_t flag_name = 0x08;
constexpr std::uint8_t flag_comment = 0x10;
constexpr std::uint8_t flag_reserved = 0xe0;
// A file name or comment longer than this is not a header we accept.
constexpr std::size_t max_header_string = 4096;

std::uint8_t xfl_for(int level) {
    return level == 9 ? 2 : (level < 2 ? 4 : 0);
}

[[noreturn]] void bad_header(const ByteSource& source, const std::string& what, std::uint64_t offset,
                             const std::string& why) {
    Error e(ErrorKind::corrupt, fmt::format("{} at offset {:#x}: {}", what, offset, why));
    e.with_path(source.name());
    throw e;
}

}  // namespace

Bytes kv_member_header(std::uint32_t member_size, std::uint32_t data_size, std::uint64_t data_offset, int level) {
    Encoder e(ByteOrder::little);
    e.u8(0x1f).u8(0x8b).u8(8).u8(flag_extra).u32(0).u8(xfl_for(level)).u8(3);
    e.u16(kv_xlen).u8(static_cast<std::uint8_t>(kv_si1)).u8(static_cast<std::uint8_t>(kv_si2)).u16(kv_len);
    e.u32(member_size).u32(data_size).u64(data_offset);
    return e.take();
}

Bytes kv_end_member(std::uint64_t total, int level) {
    Bytes m = kv_member_header(static_cast<std::uint32_t>(kv_end_member_size), 0, total, level);
    Encoder tail(ByteOrder::little);
    tail.u8(0x03).u8(0x00);  // final block, fixed Huffman codes, end of block
    tail.u32(0).u32(0);      // CRC-32 and size of nothing
    m.insert(m.end(), tail.data().begin(), tail.data().end());
    return m;
}

std::optional<GzipHeader> parse_gzip_header(const ByteSource& source, std::uint64_t offset, const std::string& what) {
    const std::uint64_t file_size = source.size();
    if (offset > file_size || file_size - offset < gzip_fixed_header) return std::nullopt;
    std::array<std::byte, gzip_fixed_header> fixed{};
    source.read_exact(offset, fixed, "gzip header");
    if (fixed[0] != std::byte{0x1f} || fixed[1] != std::byte{0x8b}) return std::nullopt;
    if (fixed[2] != std::byte{8})
        bad_header(source, what, offset, fmt::format("compression method {} is not deflate (8)", unsigned(fixed[2])));
    const auto flags = static_cast<std::uint8_t>(fixed[3]);
    if ((flags & flag_reserved) != 0)
        bad_header(source, what, offset, fmt::format("reserved flags set ({:#04x})", flags));

    GzipHeader h;
    std::uint64_t pos = offset + gzip_fixed_header;
    const auto need = [&](std::uint64_t n, std::string_view field) {
        if (file_size - pos < n)
            bad_header(source, what, offset,
                       fmt::format("the {} needs {} bytes at offset {:#x}, but the file ends at {:#x}", field, n, pos,
                                   file_size));
    };
    if ((flags & flag_extra) != 0) {
        need(2, "extra field length");
        std::array<std::byte, 2> xlen_bytes{};
        source.read_exact(pos, xlen_bytes, "gzip extra length");
        const std::uint16_t xlen = load16(xlen_bytes.data(), ByteOrder::little);
        pos += 2;
        need(xlen, "extra field");
        const Bytes extra = source.read_bytes(pos, xlen, "gzip extra field");
        pos += xlen;
        std::size_t at = 0;
        while (at < extra.size()) {
            if (extra.size() - at < 4)
                bad_header(source, what, offset,
                           fmt::format("the extra field's subfield at byte {} has no room for its 4-byte header", at));
            const std::uint16_t len = load16(extra.data() + at + 2, ByteOrder::little);
            if (extra.size() - at - 4 < len)
                bad_header(source, what, offset,
                           fmt::format("the extra field's subfield at byte {} is {} bytes, past the field's {}", at,
                                       len, extra.size()));
            if (extra[at] == kv_si1 && extra[at + 1] == kv_si2) {
                if (len != kv_len)
                    bad_header(source, what, offset, fmt::format("its 'KV' subfield is {} bytes, not {}", len, kv_len));
                const std::byte* p = extra.data() + at + 4;
                h.kv = GzipHeader::Sizes{.member_size = load32(p, ByteOrder::little),
                                         .data_size = load32(p + 4, ByteOrder::little),
                                         .data_offset = load64(p + 8, ByteOrder::little)};
            }
            at += 4 + len;
        }
    }
    for (const std::uint8_t flag : {flag_name, flag_comment}) {
        if ((flags & flag) == 0) continue;
        // Up to its NUL, read in pieces.
        const std::string_view field = flag == flag_name ? "file name" : "comment";
        std::size_t length = 0;
        for (;;) {
            std::array<std::byte, 256> piece{};
            const std::size_t got = source.read_at(pos + length, piece);
            const auto nul = std::find(piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(got), std::byte{0});
            length += static_cast<std::size_t>(nul - piece.begin());
            if (length > max_header_string)
                bad_header(source, what, offset,
                           fmt::format("its {} is longer than {} bytes", field, max_header_string));
            if (nul != piece.begin() + static_cast<std::ptrdiff_t>(got)) break;
            if (got < piece.size())
                bad_header(source, what, offset, fmt::format("its {} runs to the end of the file", field));
        }
        pos += length + 1;
    }
    if ((flags & flag_hcrc) != 0) {
        need(2, "header CRC");
        pos += 2;
    }
    h.size = static_cast<std::size_t>(pos - offset);
    return h;
}

}  // namespace kvm::detail
