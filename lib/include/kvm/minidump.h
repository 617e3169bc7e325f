// FreeBSD and DragonFly minidumps: the vmcore body a kernel writes with
// debug.minidump=1 (freebsd-dragonfly-dump-format.md sections 3 and 4).
//
// One format row ("minidump") reads every kind; the kinds are rows of its
// own table, picked by the 24-byte magic at offset 0:
//   "minidump FreeBSD/amd64"   versions 1-3 (1 is also DragonFly's v1)
//   "minidump FreeBSD/i386"    versions 1-2, PAE or not
//   "minidump FreeBSD/arm64"   versions 1-3, 4 KiB or (v3) 16 KiB pages
//   "minidump DFlyBSD/x86-64"  version 2
// Memory is the pages the bitmap marks, stored in bit order after the
// header, message buffer, dump_avail, bitmap and page map; kernel
// addresses translate through the page map (src/arch/page_map.h) and the
// direct map the header names (a linear range).  The message buffer is
// Format::message_buffer().
#pragma once

#include <kvm/arch.h>
#include <kvm/format.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::minidump {

// Named limits on what a header may declare before anything is read into
// memory for it.
inline constexpr std::uint64_t max_msgbuf_bytes = 64ull << 20;
inline constexpr std::uint64_t max_dump_avail_bytes = 1ull << 20;
inline constexpr std::uint64_t max_bitmap_bytes = 256ull << 20;  // 8 TiB of 4 KiB pages

// A part of the file: `size` bytes as the header gives them at `offset`;
// the next part starts at the next page boundary after them.
struct Section {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    bool operator==(const Section&) const = default;
};

// A dump_avail pair: physical memory [start, end).
struct AvailRange {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    bool operator==(const AvailRange&) const = default;
};

struct Layout {
    std::string magic;  // "minidump FreeBSD/amd64"
    std::string os;     // "freebsd" or "dragonfly"
    const ArchInfo* arch = nullptr;
    std::uint32_t version = 0;
    std::uint32_t page_size = 0;
    bool pae = false;  // i386
    std::uint64_t kernbase = 0;
    std::uint64_t dmapbase = 0;  // [dmapbase, dmapend): the direct map; empty when equal
    std::uint64_t dmapend = 0;
    std::uint64_t dmapphys = 0;  // arm64: the physical address at dmapbase
    std::string page_map_form;   // a row of the page-map forms ("amd64-pde-map")
    std::uint64_t page_map_entries = 0;
    Section msgbuf, dump_avail, bitmap, page_map;
    std::uint64_t pages_offset = 0;  // the first dumped page
    std::vector<AvailRange> avail;   // empty: a page's bit is its pa / page_size
    std::uint64_t bitmap_pages = 0;  // set bits
    std::uint64_t file_pages = 0;    // of those, the pages the file holds (fewer only when truncated)
};

// The layout behind a minidump format (nullptr for other formats).
const Layout* layout_of(const Format& format);

// The format table's probe: nullptr unless the file starts with
// "minidump"; an unknown kind or version is unsupported, a broken one
// corrupt.  ProbeOptions::namelist tells DragonFly's v1 from FreeBSD's
// (the same magic), and allow_truncated opens a file cut short.
std::unique_ptr<Format> probe(std::shared_ptr<ByteSource> source, const ProbeOptions& options);

}  // namespace kvm::minidump
