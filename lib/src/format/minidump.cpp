// FreeBSD and DragonFly minidumps (kvm/minidump.h;
// freebsd-dragonfly-dump-format.md sections 3 and 4).  Every header field
// and table is in the dumped machine's byte order (little-endian on every
// kind read here).
//
// One file for the format, one row per kind: a row decodes its header into
// the fields every kind shares and names the page map it carries; the
// layout of the sections, the dump_avail ranges, the bitmap and the reads
// are common.  Translation is a page-map form of src/arch/page_map.h.
//
// Messages (kind corrupt unless said; open_format prefixes the file):
//   unsupported: "\"minidump FreeBSD/riscv\": a kind of minidump kvmkit does not read (it reads ...)"
//   unsupported: "\"minidump FreeBSD/amd64\" version 4: kvmkit reads versions 1 to 3"
//   unsupported: "\"minidump FreeBSD/arm64\" version 3: flags 0x2 give 64 KiB pages, which kvmkit does not read"
//   "\"minidump FreeBSD/arm64\" version 3: flags 0x3 name no page size (0: 4 KiB, 1: 16 KiB, 2: 64 KiB)"
//   "msgbufsize 0x8000000 is more than the 0x4000000 bytes this reader accepts"   (also dumpavailsize, bitmapsize)
//   "bitmapsize 0x100000: the bitmap at offset 0x3000 runs past the end of the file (0x5000 bytes)"
//   "pmapsize 0x...: the page map at offset 0x... runs past the end of the file (0x... bytes)"
//   "ptesize 0x1000 is not 0x200000 (one PDPT entry for each GiB of the 48-bit address space)"
//   "dump_avail pair 1 [0x2000, 0x1000) is empty"
//   "dump_avail pair 2 [0x1000, 0x3000) is out of order: it starts below pair 1 [0x100000, 0x200000)"
//   "dump_avail pair 2 [0x1ff000, 0x300000) overlaps pair 1 [0x100000, 0x200000)"
//   "dump_avail lists no memory"
//   "truncated: the bitmap marks 42 pages, which end at offset 0x..., but the file has 0x... bytes"
//   "<field> overflows: 0x... + 0x..." (checked_add) for sizes whose sum wraps
// Reads (kind fault, address() = the physical address):
//   "physical address 0x... is not in the dump"
//   "physical address 0x... is past the end of the truncated dump (page 17 of the 20 the bitmap marks)"
#include <kvm/error.h>
#include <kvm/minidump.h>
#include <kvm/namelist.h>

#include "arch/page_map.h"
#include "format/bsd_kernel.h"
#include "format/page_bitmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <functional>

namespace kvm::minidump {

namespace {

constexpr std::size_t magic_size = 24;
constexpr std::string_view minidump_prefix = "minidump";
constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t map_block = 4096;  // bytes of the page map read at once

// The fields every kind's header comes down to.
struct Header {
    std::uint32_t version = 0;
    std::uint64_t header_size = 0;
    std::uint32_t page_size = 4096;
    std::uint64_t msgbufsize = 0;
    std::uint64_t bitmapsize = 0;
    std::uint64_t pmapsize = 0;
    std::uint64_t dumpavailsize = 0;
    std::uint64_t kernbase = 0;
    std::uint64_t dmapbase = 0;
    std::uint64_t dmapend = 0;
    std::uint64_t dmapphys = 0;
    bool pae = false;
    std::string_view page_map_form;
    std::string_view pmapsize_name = "pmapsize";  // the field's name in this kind's header
};

struct Kind {
    std::string_view magic;
    std::string_view arch;
    std::string_view os;
    std::uint32_t min_version;
    std::uint32_t max_version;
    std::uint64_t header_bytes;  // read before decoding (the largest header of the kind)
    Header (*decode)(Decoder& d, std::string_view magic, std::uint32_t version);
};

// "minidump FreeBSD/amd64" (section 3.1): v1 and v2 are 64 bytes, v3 adds
// dumpavailsize.  The page map holds PTEs in v1, PDEs since v2.
Header decode_amd64(Decoder& d, std::string_view /*magic*/, std::uint32_t version) {
    Header h;
    h.version = version;
    h.msgbufsize = d.u32();
    h.bitmapsize = d.u32();
    h.pmapsize = d.u32();
    h.kernbase = d.u64();
    h.dmapbase = d.u64();
    h.dmapend = d.u64();
    h.header_size = 64;
    if (version >= 3) {
        h.dumpavailsize = d.u32();
        h.header_size = 72;
    }
    if (version == 1) h.pmapsize_name = "ptesize";
    h.page_map_form = version == 1 ? "amd64-pte-map" : "amd64-pde-map";
    return h;
}

// "minidump FreeBSD/i386" (section 3.5): one PTE per 4 KiB, 4 or 8 bytes by
// paemode; no direct map.
Header decode_i386(Decoder& d, std::string_view /*magic*/, std::uint32_t version) {
    Header h;
    h.version = version;
    h.msgbufsize = d.u32();
    h.bitmapsize = d.u32();
    h.pmapsize = d.u32();
    h.pmapsize_name = "ptesize";
    h.kernbase = d.u32();
    h.pae = d.u32() != 0;
    h.header_size = 48;
    if (version >= 2) {
        h.dumpavailsize = d.u32();
        h.header_size = 52;
    }
    h.page_map_form = h.pae ? "i386-pae-pte-map" : "i386-pte-map";
    return h;
}

// "minidump FreeBSD/arm64" (section 3.6): the direct map first, then one
// level 3 descriptor per page from kernbase; v3's flags give the page size.
Header decode_arm64(Decoder& d, std::string_view magic, std::uint32_t version) {
    Header h;
    h.version = version;
    h.msgbufsize = d.u32();
    h.bitmapsize = d.u32();
    h.pmapsize = d.u32();
    h.kernbase = d.u64();
    h.dmapphys = d.u64();
    h.dmapbase = d.u64();
    h.dmapend = d.u64();
    h.header_size = 72;
    if (version >= 2) {
        h.dumpavailsize = d.u32();
        h.header_size = 80;
    }
    std::uint32_t flags = 0;
    if (version >= 3) flags = d.u32();
    switch (flags & 3) {
        case 0:
            h.page_size = 4 * kib;
            h.page_map_form = "arm64-l3-map-4k";
            break;
        case 1:
            h.page_size = 16 * kib;
            h.page_map_form = "arm64-l3-map-16k";
            break;
        case 2:
            throw_unsupported(fmt::format(
                "\"{}\" version {}: flags {:#x} give 64 KiB pages, which kvmkit does not read", magic, version, flags));
        default:
            throw_corrupt(
                fmt::format("\"{}\" version {}: flags {:#x} name no page size (0: 4 KiB, 1: 16 KiB, 2: 64 KiB)", magic,
                            version, flags));
    }
    return h;
}

// "minidump DFlyBSD/x86-64" (section 4): 64-bit sizes, and a page map of
// one PDPT entry per GiB of the whole 48-bit space, always 2 MiB.
Header decode_dragonfly(Decoder& d, std::string_view /*magic*/, std::uint32_t version) {
    constexpr std::uint64_t ptemap_bytes = std::uint64_t{512} * 512 * 8;
    Header h;
    h.version = version;
    d.skip(4);  // unused01
    h.msgbufsize = d.u64();
    h.bitmapsize = d.u64();
    h.pmapsize = d.u64();
    h.pmapsize_name = "ptesize";
    h.kernbase = d.u64();
    h.dmapbase = d.u64();
    h.dmapend = d.u64();
    h.header_size = 80;
    if (h.pmapsize != ptemap_bytes)
        throw_corrupt(
            fmt::format("ptesize {:#x} is not {:#x} (one PDPT entry for each GiB of the 48-bit address space)",
                        h.pmapsize, ptemap_bytes));
    h.page_map_form = "amd64-pdpe-map-absolute";
    return h;
}

constexpr std::array kinds{
    Kind{.magic = "minidump FreeBSD/amd64",
         .arch = "amd64",
         .os = "freebsd",
         .min_version = 1,
         .max_version = 3,
         .header_bytes = 72,
         .decode = &decode_amd64},
    Kind{.magic = "minidump FreeBSD/i386",
         .arch = "i386",
         .os = "freebsd",
         .min_version = 1,
         .max_version = 2,
         .header_bytes = 52,
         .decode = &decode_i386},
    Kind{.magic = "minidump FreeBSD/arm64",
         .arch = "arm64",
         .os = "freebsd",
         .min_version = 1,
         .max_version = 3,
         .header_bytes = 80,
         .decode = &decode_arm64},
    Kind{.magic = "minidump DFlyBSD/x86-64",
         .arch = "amd64",
         .os = "dragonfly",
         .min_version = 2,
         .max_version = 2,
         .header_bytes = 80,
         .decode = &decode_dragonfly},
};

// round_page() of a size read from the file, refusing one that wraps.
std::uint64_t round_page(std::uint64_t size, std::uint64_t page, std::string_view field) {
    return checked_add(size, (page - size % page) % page, field);
}

// ByteSource::read_exact, naming what was read only when it comes short:
// the walkers read pages by the hundred thousand, and formatting the name
// of each cost more than reading it.
template <typename What>
void read_exact_named_on_error(const ByteSource& source, std::uint64_t offset, MutableByteSpan out, What&& what) {
    if (source.read_at(offset, out) != out.size()) source.read_exact(offset, out, what());
}

void check_limit(std::uint64_t value, std::uint64_t limit, std::string_view field) {
    if (value > limit)
        throw_corrupt(fmt::format("{} {:#x} is more than the {:#x} bytes this reader accepts", field, value, limit));
}

void check_in_file(const Section& s, std::uint64_t file_size, std::string_view field, std::string_view what) {
    if (s.offset > file_size || s.size > file_size - s.offset)
        throw_corrupt(fmt::format("{} {:#x}: {} at offset {:#x} runs past the end of the file ({:#x} bytes)", field,
                                  s.size, what, s.offset, file_size));
}

std::string range_text(const AvailRange& r) {
    return fmt::format("[{:#x}, {:#x})", r.start, r.end);
}

// dump_avail: u64 pairs up to the first whose end is 0, sorted and apart.
std::vector<AvailRange> decode_dump_avail(ByteSpan raw, ByteOrder order, std::uint64_t page) {
    std::vector<AvailRange> avail;
    Decoder d(raw, order, "dump_avail");
    while (d.remaining() >= 16) {
        const AvailRange r{.start = d.u64(), .end = d.u64()};
        if (r.end == 0) break;
        const std::size_t n = avail.size() + 1;
        if (r.start >= r.end) throw_corrupt(fmt::format("dump_avail pair {} {} is empty", n, range_text(r)));
        if (!avail.empty()) {
            const AvailRange& prev = avail.back();
            if (r.start < prev.start)
                throw_corrupt(fmt::format("dump_avail pair {} {} is out of order: it starts below pair {} {}", n,
                                          range_text(r), n - 1, range_text(prev)));
            // Pages, not bytes: a page may not hold two bits.
            const std::uint64_t prev_end_page = prev.end / page + (prev.end % page != 0 ? 1 : 0);
            if (r.start / page < prev_end_page)
                throw_corrupt(fmt::format("dump_avail pair {} {} overlaps pair {} {}", n, range_text(r), n - 1,
                                          range_text(prev)));
        }
        avail.push_back(r);
    }
    if (avail.empty()) throw_corrupt("dump_avail lists no memory");
    return avail;
}

// Bit ids of physical pages: the page number, or, with dump_avail, the
// pages of its ranges counted one after another, the holes squeezed out.
class PageIds {
public:
    explicit PageIds(std::uint64_t page) : page_(page) {}
    PageIds(const std::vector<AvailRange>& avail, std::uint64_t page) : page_(page) {
        std::uint64_t next_id = 0;
        for (const AvailRange& r : avail) {
            const Range range{.first_page = r.start / page,
                              .end_page = r.end / page + (r.end % page != 0 ? 1 : 0),
                              .first_id = next_id};
            next_id += range.end_page - range.first_page;
            ranges_.push_back(range);
        }
    }

    std::optional<std::uint64_t> id_of(std::uint64_t page_number) const {
        if (ranges_.empty()) return page_number;
        const auto it = std::upper_bound(ranges_.begin(), ranges_.end(), page_number,
                                         [](std::uint64_t p, const Range& r) { return p < r.first_page; });
        if (it == ranges_.begin()) return std::nullopt;  // below the first range
        const Range& r = *std::prev(it);
        if (page_number >= r.end_page) return std::nullopt;  // in a hole
        return r.first_id + (page_number - r.first_page);
    }

    // Calls `run(pa, pages)` for the physical runs of ids [first, first + count).
    void for_each_pa_run(std::uint64_t first, std::uint64_t count,
                         const std::function<void(std::uint64_t pa, std::uint64_t pages)>& run) const {
        if (ranges_.empty()) {
            run(first * page_, count);
            return;
        }
        for (const Range& r : ranges_) {
            const std::uint64_t size = r.end_page - r.first_page;
            if (count == 0) return;
            if (first >= r.first_id + size) continue;
            const std::uint64_t in = first - r.first_id;
            const std::uint64_t n = std::min(count, size - in);
            run((r.first_page + in) * page_, n);
            first += n;
            count -= n;
        }
    }

private:
    struct Range {
        std::uint64_t first_page;
        std::uint64_t end_page;  // exclusive
        std::uint64_t first_id;
    };
    std::vector<Range> ranges_;  // empty: the id is the page number
    std::uint64_t page_ = 4096;
};

class MinidumpFormat final : public Format {
public:
    MinidumpFormat(std::shared_ptr<ByteSource> source, Layout layout, PageIds ids, detail::PageBitmap bitmap,
                   Bytes msgbuf, MachineState state)
        : source_(std::move(source)),
          layout_(std::move(layout)),
          ids_(std::move(ids)),
          bitmap_(std::move(bitmap)),
          msgbuf_(std::move(msgbuf)),
          state_(std::move(state)),
          page_shift_(static_cast<unsigned>(std::countr_zero(layout_.page_size))) {}

    std::string_view name() const override {
        return layout_.os == "dragonfly" ? "dragonfly-minidump" : "freebsd-minidump";
    }
    const MachineState& machine() const override { return state_; }
    const Layout& layout() const { return layout_; }

    void read_phys(std::uint64_t pa, MutableByteSpan out) const override {
        std::size_t done = 0;
        while (done < out.size()) {
            const std::uint64_t at = pa + done;
            const std::uint64_t in_page = at & (layout_.page_size - 1);
            std::size_t n = std::min<std::uint64_t>(out.size() - done, layout_.page_size - in_page);
            const std::uint64_t offset = offset_or_fault(at);
            // Pages that follow each other in memory and in the file are read at once.
            while (done + n < out.size()) {
                const std::uint64_t next = at + n;
                const auto next_offset = phys_to_offset(next);
                if (!next_offset || *next_offset != offset + n) break;
                n += std::min<std::uint64_t>(out.size() - done - n, layout_.page_size);
            }
            read_exact_named_on_error(*source_, offset, out.subspan(done, n),
                                      [at] { return fmt::format("physical page {:#x}", at); });
            done += n;
        }
    }

    std::vector<PhysRun> phys_ranges() const override {
        std::vector<PhysRun> runs;
        const std::uint64_t page = layout_.page_size;
        bitmap_.for_each_run([&](std::uint64_t first, std::uint64_t count) {
            std::uint64_t rank = bitmap_.rank(first);
            ids_.for_each_pa_run(first, count, [&](std::uint64_t pa, std::uint64_t pages) {
                if (rank >= layout_.file_pages) return;
                pages = std::min(pages, layout_.file_pages - rank);
                const std::uint64_t offset = layout_.pages_offset + rank * page;
                if (!runs.empty() && runs.back().pa + runs.back().size == pa &&
                    runs.back().offset + runs.back().size == offset) {
                    runs.back().size += pages * page;
                } else {
                    runs.push_back({.pa = pa, .size = pages * page, .offset = offset});
                }
                rank += pages;
            });
        });
        return runs;
    }

    std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const override {
        const auto rank = rank_of(pa);
        if (!rank || *rank >= layout_.file_pages) return std::nullopt;
        return layout_.pages_offset + (*rank << page_shift_) + (pa & (layout_.page_size - 1));
    }

    std::unique_ptr<Translator> make_own_translator() const override {
        const paging::PageMapForm* form = paging::find_page_map_form(layout_.page_map_form);
        if (form == nullptr) throw Error(ErrorKind::usage, fmt::format("no page-map form {}", layout_.page_map_form));
        const unsigned entry_size = form->paging().entry_size;
        const std::uint64_t map_offset = layout_.page_map.offset;
        const std::uint64_t map_size = layout_.page_map.size;
        // The map's last block read, kept: a translation reads one entry,
        // and the entries a walk needs sit together (DragonFly's map has
        // one per GiB).  The map is in the file (checked at the probe).
        struct Block {
            std::uint64_t offset = ~std::uint64_t{0};
            Bytes bytes;
        };
        auto block = std::make_shared<Block>();
        return paging::make_page_map_translator(
            *form, {.order = layout_.arch->order,
                    .base = layout_.kernbase,
                    .entries = layout_.page_map_entries,
                    .read = [this, entry_size, map_offset, map_size, block](std::uint64_t index,
                                                                            MutableByteSpan entry) {
                        const std::uint64_t at = index * entry_size;
                        const std::uint64_t start = at & ~(map_block - 1);
                        if (at + entry.size() <= map_size && at + entry.size() <= start + map_block) {
                            if (block->offset != start) {
                                block->offset = ~std::uint64_t{0};
                                block->bytes.resize(std::min(map_block, map_size - start));
                                if (source_->read_at(map_offset + start, block->bytes) == block->bytes.size())
                                    block->offset = start;
                            }
                            if (block->offset == start) {
                                std::memcpy(entry.data(), block->bytes.data() + (at - start), entry.size());
                                return;
                            }
                        }
                        read_exact_named_on_error(*source_, map_offset + at, entry,
                                                  [index] { return fmt::format("page map entry {}", index); });
                    }});
    }

    std::optional<Bytes> message_buffer() const override { return msgbuf_; }

    const ByteSource& source() const override { return *source_; }
    ByteSource& source() override { return *source_; }

private:
    // The page's rank among the dumped pages, or nullopt when its bit is
    // clear or it has none.
    std::optional<std::uint64_t> rank_of(std::uint64_t pa) const {
        const auto id = ids_.id_of(pa >> page_shift_);
        if (!id || !bitmap_.test(*id)) return std::nullopt;
        return bitmap_.rank(*id);
    }

    std::uint64_t offset_or_fault(std::uint64_t pa) const {
        const auto rank = rank_of(pa);
        if (!rank) throw_fault(pa, fmt::format("physical address {:#x} is not in the dump", pa));
        if (*rank >= layout_.file_pages)
            throw_fault(pa, fmt::format("physical address {:#x} is past the end of the truncated dump (page {} of "
                                        "the {} the bitmap marks)",
                                        pa, *rank + 1, layout_.bitmap_pages));
        return layout_.pages_offset + (*rank << page_shift_) + (pa & (layout_.page_size - 1));
    }

    std::shared_ptr<ByteSource> source_;
    Layout layout_;
    PageIds ids_;
    detail::PageBitmap bitmap_;
    Bytes msgbuf_;
    MachineState state_;
    unsigned page_shift_;
};

}  // namespace

const Layout* layout_of(const Format& format) {
    const auto* m = dynamic_cast<const MinidumpFormat*>(&format);
    return m == nullptr ? nullptr : &m->layout();
}

std::unique_ptr<Format> probe(std::shared_ptr<ByteSource> source, const ProbeOptions& options) {
    std::array<std::byte, magic_size + 4> start{};
    const std::size_t got = source->read_at(0, start);
    if (got < minidump_prefix.size() || std::memcmp(start.data(), minidump_prefix.data(), minidump_prefix.size()) != 0)
        return nullptr;
    source->read_exact(0, start, "minidump header");
    const std::string magic = Decoder(start, ByteOrder::little).fixed_string(magic_size);
    const auto kind = std::find_if(kinds.begin(), kinds.end(), [&](const Kind& k) { return k.magic == magic; });
    if (kind == kinds.end()) {
        std::string known;
        for (const Kind& k : kinds)
            known += fmt::format("{}\"{}\"", known.empty() ? "" : ", ", k.magic);
        throw_unsupported(fmt::format("\"{}\": a kind of minidump kvmkit does not read (it reads {})", magic, known));
    }
    const ArchInfo* arch = find_arch(kind->arch);
    const std::uint32_t version = load32(start.data() + magic_size, arch->order);
    if (version < kind->min_version || version > kind->max_version)
        throw_unsupported(
            kind->min_version == kind->max_version
                ? fmt::format("\"{}\" version {}: kvmkit reads version {}", magic, version, kind->min_version)
                : fmt::format("\"{}\" version {}: kvmkit reads versions {} to {}", magic, version, kind->min_version,
                              kind->max_version));

    const Bytes raw =
        source->read_bytes(0, std::min<std::uint64_t>(kind->header_bytes, source->size()), "minidump header");
    Decoder d(raw, arch->order, "minidump header");
    d.skip(magic_size + 4);
    const Header h = kind->decode(d, kind->magic, version);
    const std::uint64_t page = h.page_size;
    const std::uint64_t file_size = source->size();

    Layout layout;
    layout.magic = magic;
    layout.os = std::string(kind->os);
    layout.arch = arch;
    layout.version = version;
    layout.page_size = h.page_size;
    layout.pae = h.pae;
    layout.kernbase = h.kernbase;
    layout.dmapbase = h.dmapbase;
    layout.dmapend = h.dmapend;
    layout.dmapphys = h.dmapphys;
    layout.page_map_form = std::string(h.page_map_form);

    // The sections, each starting on a page boundary (section 3.2).
    check_limit(h.msgbufsize, max_msgbuf_bytes, "msgbufsize");
    check_limit(h.dumpavailsize, max_dump_avail_bytes, "dumpavailsize");
    check_limit(h.bitmapsize, max_bitmap_bytes, "bitmapsize");
    std::uint64_t at = round_page(h.header_size, page, "header size");
    layout.msgbuf = {.offset = at, .size = h.msgbufsize};
    at = checked_add(at, round_page(h.msgbufsize, page, "msgbufsize"), "dump_avail offset");
    layout.dump_avail = {.offset = at, .size = h.dumpavailsize};
    at = checked_add(at, round_page(h.dumpavailsize, page, "dumpavailsize"), "bitmap offset");
    layout.bitmap = {.offset = at, .size = h.bitmapsize};
    at = checked_add(at, round_page(h.bitmapsize, page, "bitmapsize"), "page map offset");
    layout.page_map = {.offset = at, .size = h.pmapsize};
    layout.pages_offset = checked_add(at, round_page(h.pmapsize, page, h.pmapsize_name), "first page offset");
    check_in_file(layout.msgbuf, file_size, "msgbufsize", "the message buffer");
    check_in_file(layout.dump_avail, file_size, "dumpavailsize", "dump_avail");
    check_in_file(layout.bitmap, file_size, "bitmapsize", "the bitmap");
    check_in_file(layout.page_map, file_size, h.pmapsize_name, "the page map");
    const paging::PageMapForm* form = paging::find_page_map_form(layout.page_map_form);
    layout.page_map_entries = h.pmapsize / form->paging().entry_size;

    PageIds ids(page);
    if (h.dumpavailsize != 0) {
        const Bytes raw_avail = source->read_bytes(layout.dump_avail.offset, h.dumpavailsize, "dump_avail");
        layout.avail = decode_dump_avail(raw_avail, arch->order, page);
        ids = PageIds(layout.avail, page);
    }
    const Bytes raw_bitmap = source->read_bytes(layout.bitmap.offset, h.bitmapsize, "bitmap");
    detail::PageBitmap bitmap(raw_bitmap, arch->order);
    layout.bitmap_pages = bitmap.count();
    const std::uint64_t room = file_size > layout.pages_offset ? (file_size - layout.pages_offset) / page : 0;
    if (bitmap.count() > room && !options.allow_truncated)
        throw_corrupt(
            fmt::format("truncated: the bitmap marks {} pages, which end at offset {:#x}, but the file has "
                        "{:#x} bytes",
                        bitmap.count(), layout.pages_offset + bitmap.count() * page, file_size));
    layout.file_pages = std::min(bitmap.count(), room);
    Bytes msgbuf = source->read_bytes(layout.msgbuf.offset, h.msgbufsize, "message buffer");

    MachineState state;
    state.arch = arch;
    state.os = layout.os;
    state.translator = layout.page_map_form;
    if (layout.dmapend > layout.dmapbase)
        state.linear.push_back(
            {.va = layout.dmapbase, .size = layout.dmapend - layout.dmapbase, .pa = layout.dmapphys});
    // DragonFly's first minidumps carry FreeBSD's magic and version 1.
    if (kind->magic == "minidump FreeBSD/amd64" && version == 1) {
        const std::optional<detail::BsdOs> os =
            options.namelist != nullptr ? detail::bsd_os_of(*options.namelist) : std::nullopt;
        if (os) {
            layout.os = state.os = os->os;
            state.info["os.source"] = os->reason;
        } else {
            state.info["os.source"] =
                "\"minidump FreeBSD/amd64\" version 1 is DragonFly's too, and no namelist tells them apart: "
                "read as FreeBSD";
        }
    }
    state.info["minidump.magic"] = layout.magic;
    state.info["minidump.version"] = std::to_string(version);
    state.info["minidump.page_size"] = std::to_string(page);
    state.info["minidump.kernbase"] = hex(layout.kernbase);
    if (!state.linear.empty())
        state.info["minidump.dmap"] =
            fmt::format("[{}, {}) at pa {}", hex(layout.dmapbase), hex(layout.dmapend), hex(layout.dmapphys));
    state.info["minidump.pages"] = std::to_string(layout.bitmap_pages);
    if (layout.file_pages < layout.bitmap_pages)
        state.info["minidump.truncated"] =
            fmt::format("the file holds {} of the {} pages the bitmap marks", layout.file_pages, layout.bitmap_pages);
    return std::make_unique<MinidumpFormat>(std::move(source), std::move(layout), std::move(ids), std::move(bitmap),
                                            std::move(msgbuf), std::move(state));
}

}  // namespace kvm::minidump
