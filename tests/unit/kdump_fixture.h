// What the kdump tests read back from a file they wrote: the page
// descriptors' flags, so that a test proves which codec holds the pages.
#pragma once

#include <kvm/bytes.h>

#include "format/kdump.h"

#include <map>

namespace kvmtest {

// The flags of every page descriptor of a kdump-compressed file (64-bit
// little-endian layout), counted: 0 for raw pages, else the codec's flag.
inline std::map<std::uint32_t, std::size_t> descriptor_flags(kvm::ByteSpan file) {
    using kvm::ByteOrder;
    const std::uint64_t block = kvm::load32(file.data() + 428, ByteOrder::little);
    const std::uint64_t descs =
        (1 + kvm::load32(file.data() + 432, ByteOrder::little) + kvm::load32(file.data() + 436, ByteOrder::little)) *
        block;
    // The descriptors end where the first page's data starts.
    const std::uint64_t first_data = kvm::load64(file.data() + descs, ByteOrder::little);
    std::map<std::uint32_t, std::size_t> out;
    for (std::uint64_t at = descs; at < first_data; at += kvm::kdump::page_desc_size)
        ++out[kvm::kdump::decode_page_desc(file.subspan(at, kvm::kdump::page_desc_size), ByteOrder::little).flags];
    return out;
}

}  // namespace kvmtest
