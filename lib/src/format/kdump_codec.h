// The page compressions of kdump-compressed files, one row each: the flag a
// page descriptor carries, the name messages use, and the library that
// reads (and, for the synthetic writer, writes) it:
//   0x01 zlib    makedumpfile -c, QEMU kdump-zlib      zlib's compress2/uncompress
//   0x02 lzo     makedumpfile -l, QEMU kdump-lzo       liblzo2's LZO1X-1
//   0x04 snappy  makedumpfile -p, QEMU kdump-snappy    libsnappy
//   0x20 zstd    makedumpfile -z                       libzstd, one frame per page
// A page is compressed on its own; a descriptor without any of these flags
// holds the raw page.
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kvm::kdump {

// What a decoder made of one page's data: the bytes it wrote to `out`, or
// why it failed (the library's own words), never more than out.size().
struct DecodeResult {
    std::size_t size = 0;
    std::string error;  // empty: success
};

struct Codec {
    std::uint32_t flag;
    std::string_view name;
    // Decompresses `in` into `out`; output that would not fit is an error.
    DecodeResult (*decode)(ByteSpan in, MutableByteSpan out);
    // Compresses one page (the result may be larger than the page).
    Bytes (*encode)(ByteSpan page);
};

std::span<const Codec> all_codecs();
// The codec of a descriptor flag or a name; nullptr when there is none.
const Codec* find_codec(std::uint32_t flag);
const Codec* find_codec(std::string_view name);

}  // namespace kvm::kdump
