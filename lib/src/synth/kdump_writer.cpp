// kvm::synth::KdumpWriter and flatten: kdump-compressed and flattened files
// laid out as makedumpfile and QEMU lay them out (format: src/format/kdump.h
// and src/format/flattened.cpp).
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/synth.h>

#include "format/kdump.h"
#include "format/kdump_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace kvm::synth {

namespace {

constexpr std::uint32_t ts_seconds = 1732200000;

void put_fixed(Encoder& e, std::string_view s, std::size_t width) {
    if (s.size() >= width) throw Error(ErrorKind::usage, fmt::format("\"{}\" does not fit in {} bytes", s, width));
    e.string(s).zeros(width - s.size());
}

bool all_zero(ByteSpan b) {
    return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

}  // namespace

KdumpWriter::KdumpWriter(KdumpOptions options) : options_(std::move(options)) {
    if (options_.signature.size() != 8) throw Error(ErrorKind::usage, "a kdump signature is 8 bytes");
    set_codecs(std::move(options_.codecs));
}

void KdumpWriter::set_codecs(std::vector<std::string> codecs) {
    for (const std::string& name : codecs)
        if (kdump::find_codec(name) == nullptr)
            throw Error(ErrorKind::usage, fmt::format("no kdump page compression is called \"{}\"", name));
    options_.codecs = std::move(codecs);
}

void KdumpWriter::add_page(std::uint64_t pfn, ByteSpan data) {
    if (data.size() != options_.block_size)
        throw Error(ErrorKind::usage, fmt::format("a page is {} bytes, not {}", options_.block_size, data.size()));
    pages_[pfn] = Bytes(data.begin(), data.end());
}

void KdumpWriter::add_stored_page(std::uint64_t pfn, Bytes stored, std::uint32_t flags) {
    stored_[pfn] = Stored{std::move(stored), flags};
}

void KdumpWriter::exclude_page(std::uint64_t pfn) {
    pages_.erase(pfn);
    stored_.erase(pfn);
    excluded_.push_back(pfn);
}

std::uint64_t KdumpWriter::max_mapnr() const {
    if (options_.max_mapnr != 0) return options_.max_mapnr;
    std::uint64_t top = 0;
    if (!pages_.empty()) top = std::max(top, pages_.rbegin()->first + 1);
    if (!stored_.empty()) top = std::max(top, stored_.rbegin()->first + 1);
    for (const std::uint64_t pfn : excluded_)
        top = std::max(top, pfn + 1);
    return top;
}

KdumpWriter::Layout KdumpWriter::layout() const {
    const std::uint64_t block = options_.block_size;
    Layout l;
    l.sub_header = block;
    const std::uint64_t sub_bytes = kdump::sub_header_bytes(options_.header_version);
    l.vmcoreinfo = l.sub_header + sub_bytes;
    l.notes = l.vmcoreinfo + options_.vmcoreinfo.size();
    const std::uint64_t sub_end = l.notes + options_.notes.size();
    l.bitmaps = align_up(sub_end, block);
    const std::uint64_t one_map = align_up((max_mapnr() + 7) / 8, block);
    l.bitmap_bytes = options_.single_bitmap ? one_map : 2 * one_map;
    l.descriptors = l.bitmaps + l.bitmap_bytes;
    const std::uint64_t dumped = pages_.size() + stored_.size();
    l.data = l.descriptors + dumped * kdump::page_desc_size;
    return l;
}

Bytes KdumpWriter::build() const {
    return build_file(std::nullopt);
}

std::vector<Bytes> KdumpWriter::build_split(std::size_t files) const {
    if (files < 2) throw Error(ErrorKind::usage, "a split dump has two files or more");
    // Cut where the dumped pages divide evenly, as makedumpfile --split does.
    std::vector<std::uint64_t> dumped;
    for (const auto& entry : pages_)
        dumped.push_back(entry.first);
    for (const auto& entry : stored_)
        dumped.push_back(entry.first);
    std::sort(dumped.begin(), dumped.end());
    std::vector<Bytes> out;
    std::uint64_t start = 0;
    for (std::size_t i = 0; i < files; ++i) {
        const std::size_t cut = (i + 1) * dumped.size() / files;
        const std::uint64_t end = i + 1 == files ? max_mapnr() : cut < dumped.size() ? dumped[cut] : max_mapnr();
        if (end <= start) throw Error(ErrorKind::usage, fmt::format("too few pages for {} files", files));
        out.push_back(build_file(Split{.start_pfn = start, .end_pfn = end}));
        start = end;
    }
    return out;
}

Bytes KdumpWriter::build_file(const std::optional<Split>& part) const {
    const ByteOrder order = ByteOrder::little;
    const std::uint64_t block = options_.block_size;
    const std::uint64_t mapnr = max_mapnr();
    const auto in_file = [&](std::uint64_t pfn) { return !part || (pfn >= part->start_pfn && pfn < part->end_pfn); };
    std::uint64_t file_pages = 0;
    for (const auto& entry : pages_)
        file_pages += in_file(entry.first) ? 1 : 0;
    for (const auto& entry : stored_)
        file_pages += in_file(entry.first) ? 1 : 0;
    Layout l = layout();
    l.data = l.descriptors + file_pages * kdump::page_desc_size;

    // Page data, and the descriptors that point at it.  Codecs take turns
    // over the pages of the whole dump, so the files of a split dump hold
    // the bytes the single file would.
    struct Desc {
        std::uint64_t offset;
        std::uint32_t size;
        std::uint32_t flags;
    };
    std::map<std::uint64_t, Desc> descs;
    Encoder data(order);
    std::optional<std::uint64_t> zero_page;
    std::size_t turn = 0;
    for (const auto& [pfn, page] : pages_) {
        if (options_.share_zero_page && all_zero(page)) {
            if (!in_file(pfn)) continue;
            if (!zero_page) {
                zero_page = l.data + data.size();
                data.bytes(page);
            }
            descs[pfn] = Desc{*zero_page, static_cast<std::uint32_t>(block), 0};
            continue;
        }
        const kdump::Codec* codec =
            options_.codecs.empty() ? nullptr : kdump::find_codec(options_.codecs[turn++ % options_.codecs.size()]);
        if (!in_file(pfn)) continue;
        if (codec != nullptr) {
            const Bytes packed = codec->encode(page);
            if (packed.size() < block) {
                descs[pfn] = Desc{l.data + data.size(), static_cast<std::uint32_t>(packed.size()), codec->flag};
                data.bytes(packed);
                continue;
            }
        }
        descs[pfn] = Desc{l.data + data.size(), static_cast<std::uint32_t>(block), 0};
        data.bytes(page);
    }
    for (const auto& [pfn, stored] : stored_) {
        if (!in_file(pfn)) continue;
        descs[pfn] = Desc{l.data + data.size(), static_cast<std::uint32_t>(stored.bytes.size()), stored.flags};
        data.bytes(stored.bytes);
    }
    std::uint32_t status = options_.extra_status;
    for (const std::string& name : options_.codecs)
        status |= kdump::find_codec(name)->flag;

    Encoder e(order);
    // disk_dump_header
    e.string(options_.signature).u32(static_cast<std::uint32_t>(options_.header_version));
    put_fixed(e, "Linux", kdump::utsname_field);
    put_fixed(e, "synth", kdump::utsname_field);
    put_fixed(e, options_.release, kdump::utsname_field);
    put_fixed(e, "#1 SMP", kdump::utsname_field);
    put_fixed(e, options_.machine, kdump::utsname_field);
    put_fixed(e, "(none)", kdump::utsname_field);
    e.zeros(6);  // 402 -> 408: timeval is 8-aligned
    e.u64(ts_seconds).u64(0);
    e.u32(status);
    e.u32(static_cast<std::uint32_t>(block));
    e.u32(static_cast<std::uint32_t>((l.bitmaps - block) / block));  // sub_hdr_size
    e.u32(static_cast<std::uint32_t>(l.bitmap_bytes / block));
    e.u32(static_cast<std::uint32_t>(std::min<std::uint64_t>(mapnr, 0xffffffffu)));
    e.u32(0).u32(0).u32(0).u32(0);  // total_ram_blocks, device_blocks, written_blocks, current_cpu
    e.u32(2);                       // nr_cpus
    e.zeros(block - e.size());

    // kdump_sub_header, then VMCOREINFO and the notes.  A split file's
    // pfns are in both the 32-bit fields (cut at 4 G) and the 64-bit ones.
    const std::uint64_t start = part ? part->start_pfn : 0;
    const std::uint64_t end = part ? part->end_pfn : 0;
    Encoder sub(order);
    sub.u64(options_.sub_phys_base).u32(static_cast<std::uint32_t>(options_.dump_level));
    sub.u32(part ? 1 : 0)
        .u64(std::min<std::uint64_t>(start, 0xffffffffu))
        .u64(std::min<std::uint64_t>(end, 0xffffffffu));
    sub.u64(options_.vmcoreinfo.empty() ? 0 : l.vmcoreinfo).u64(options_.vmcoreinfo.size());
    sub.u64(options_.notes.empty() ? 0 : l.notes).u64(options_.notes.size());
    sub.u64(0).u64(0);
    sub.u64(start).u64(end).u64(mapnr);
    Bytes sub_bytes = sub.take();
    sub_bytes.resize(kdump::sub_header_bytes(options_.header_version));
    e.bytes(sub_bytes).string(options_.vmcoreinfo).bytes(options_.notes);
    e.zeros(l.bitmaps - e.size());

    // Bitmaps: RAM (dumped and excluded), then dumped; or the one bitmap.
    // Every file of a split dump has them whole.
    const std::uint64_t half = options_.single_bitmap ? l.bitmap_bytes : l.bitmap_bytes / 2;
    Bytes ram(half);
    Bytes dumped(half);
    const auto set = [](Bytes& map, std::uint64_t pfn) { map[pfn / 8] |= static_cast<std::byte>(1u << (pfn % 8)); };
    const auto mark = [&](std::uint64_t pfn) {
        if (pfn >= mapnr) throw Error(ErrorKind::usage, fmt::format("pfn {:#x} is past max_mapnr {:#x}", pfn, mapnr));
        set(ram, pfn);
        set(dumped, pfn);
    };
    for (const auto& entry : pages_)
        mark(entry.first);
    for (const auto& entry : stored_)
        mark(entry.first);
    for (const std::uint64_t pfn : excluded_)
        if (pfn < mapnr) set(ram, pfn);
    if (options_.single_bitmap) {
        if (!excluded_.empty()) throw Error(ErrorKind::usage, "a single bitmap cannot mark excluded pages");
        e.bytes(dumped);
    } else {
        e.bytes(ram).bytes(dumped);
    }

    for (const auto& [pfn, d] : descs)
        e.u64(d.offset).u32(d.size).u32(d.flags).u64(0);
    e.bytes(data.data());
    return e.take();
}

KdumpWriter kdump_writer(const PhysMemory& memory, const std::vector<netbsd::RamSegment>& segments,
                         KdumpOptions options, const std::vector<std::uint64_t>& excluded) {
    const std::uint64_t block = options.block_size;
    KdumpWriter w(std::move(options));
    Bytes page(block);
    for (const netbsd::RamSegment& seg : segments)
        for (std::uint64_t pa = seg.start; pa + block <= seg.start + seg.size; pa += block) {
            if (std::find(excluded.begin(), excluded.end(), pa / block) != excluded.end()) {
                w.exclude_page(pa / block);
                continue;
            }
            memory.read(pa, page);
            w.add_page(pa / block, page);
        }
    return w;
}

KdumpWriter copy_kdump(const std::shared_ptr<ByteSource>& file) {
    const auto format = open_format(file);
    if (format->name() != "kdump")
        throw Error(ErrorKind::usage,
                    fmt::format("{}: a {} dump, not a kdump-compressed file", file->name(), format->name()));
    const kdump::Header h =
        kdump::decode_header(file->read_bytes(0, kdump::header_size, "kdump header"), ByteOrder::little);
    const kdump::SubHeader sub =
        kdump::decode_sub_header(file->read_bytes(static_cast<std::uint64_t>(h.block_size),
                                                  kdump::sub_header_bytes(h.header_version), "kdump sub-header"),
                                 ByteOrder::little, h.header_version);
    const auto block = static_cast<std::uint64_t>(h.block_size);
    KdumpOptions options{.machine = h.machine,
                         .release = h.release,
                         .header_version = h.header_version,
                         .block_size = static_cast<std::uint32_t>(block),
                         .dump_level = sub.dump_level,
                         .sub_phys_base = sub.phys_base};
    if (sub.size_vmcoreinfo != 0)
        options.vmcoreinfo = std::string(as_chars(
            file->read_bytes(static_cast<std::uint64_t>(sub.offset_vmcoreinfo), sub.size_vmcoreinfo, "VMCOREINFO")));
    if (sub.size_note != 0)
        options.notes = file->read_bytes(static_cast<std::uint64_t>(sub.offset_note), sub.size_note, "note block");
    KdumpWriter w(std::move(options));
    Bytes page(block);
    for (const PhysRun& run : format->phys_ranges())
        for (std::uint64_t pa = run.pa; pa < run.pa + run.size; pa += block) {
            format->read_phys(pa, page);
            w.add_page(pa / block, page);
        }
    return w;
}

Bytes flatten(ByteSpan file, std::size_t record_size, std::size_t rewrite_header) {
    if (record_size == 0) throw Error(ErrorKind::usage, "flatten: record size 0");
    Encoder e(ByteOrder::big);
    e.string("makedumpfile").zeros(4).u64(1).u64(1);
    e.zeros(4096 - e.size());
    const auto record = [&e, file](std::uint64_t at, std::uint64_t n) { e.u64(at).u64(n).bytes(file.subspan(at, n)); };
    for (std::uint64_t at = 0; at < file.size(); at += record_size)
        record(at, std::min<std::uint64_t>(record_size, file.size() - at));
    if (rewrite_header != 0) record(0, std::min<std::uint64_t>(rewrite_header, file.size()));
    e.u64(~std::uint64_t{0}).u64(~std::uint64_t{0});
    return e.take();
}

}  // namespace kvm::synth
