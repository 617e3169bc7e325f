// NetBSD kcore files and raw dumps on swap devices (netbsd-dump-format.md
// sections 1-3).  Only c_midmag is big-endian; every other field is in the
// dumped machine's byte order, which the MID's arch row gives.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/netbsd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

namespace kvm::netbsd {

namespace {

// Limits on what a header may declare before anything is allocated.  The
// kernel writes one segment per run of dumped pages, so sparse dumps can
// have long tables, but never a million runs of memory.
constexpr std::uint64_t max_cpu_segment = std::uint64_t{16} << 20;
constexpr std::uint64_t max_ram_segments = 1u << 20;
constexpr std::uint64_t max_kcore_header = 4096;

std::uint64_t align8(const ArchInfo& arch) {
    return kcore_align(arch, kcore_seg_size);
}

constexpr std::size_t max_rejected = 16;

// The kernel's cpu segment size is the header size, a multiple of 512, less
// ALIGN(sizeof(kcore_seg_t)) (8 on every port).  Its byte order is the
// dumped machine's, which an unknown MID does not tell, so both are tried.
// Random bytes pass this with odds of about 1 in 2^31.
bool plausible_cpu_segment_size(const std::byte* p) {
    for (const ByteOrder order : {ByteOrder::little, ByteOrder::big}) {
        const std::uint64_t c_size = load32(p, order);
        if (c_size <= max_cpu_segment && (c_size + kcore_seg_size) % dev_bsize == 0) return true;
    }
    return false;
}

// How a failed check ends.  Throw makes the error, naming the device when
// the check was a read that came up short.  Quiet only says no: a device
// scan may meet a stray header in every 512 bytes of an image built to be
// hostile, and must not make millions of messages nobody reads.
struct Throw {
    static constexpr bool quiet = false;
    const ByteSource* device = nullptr;
    template <typename Message>
    bool operator()(ErrorKind kind, const Message& message, bool names_device = false) const {
        Error e(kind, message());
        if (names_device && device != nullptr) e.with_path(device->name());
        throw e;
    }
};
struct Quiet {
    static constexpr bool quiet = true;
    template <typename Message>
    bool operator()(ErrorKind /*kind*/, const Message& /*message*/, bool /*names_device*/ = false) const {
        return false;
    }
};

// The count of a RAM table against the limit and the cpu segment holding it.
template <typename Fail>
bool check_table_size(std::uint64_t count, std::uint64_t table_offset, std::uint64_t cpu_size, const Fail& fail) {
    if (count == 0) return fail(ErrorKind::corrupt, [] { return std::string("cpu header lists no memory segments"); });
    if (count > max_ram_segments)
        return fail(ErrorKind::corrupt, [&] {
            return fmt::format("cpu header claims {} memory segments (at most {} accepted)", count, max_ram_segments);
        });
    const std::uint64_t table_bytes = count * ram_seg_size;
    if (table_offset > cpu_size || table_bytes > cpu_size - table_offset)
        return fail(ErrorKind::corrupt, [&] {
            return fmt::format(
                "memory segment table of {} entries ({:#x} bytes at offset {:#x}) does not fit in the {:#x}-byte cpu "
                "segment",
                count, table_bytes, table_offset, cpu_size);
        });
    return true;
}

// One RAM table entry; `total` sums the sizes so far.
template <typename Fail>
bool check_ram_segment(const ArchInfo& arch, std::uint64_t i, const RamSegment& seg, std::uint64_t& total,
                       const Fail& fail) {
    if (seg.size == 0)
        return fail(ErrorKind::corrupt,
                    [&] { return fmt::format("memory segment {} at pa {:#x} has size 0", i, seg.start); });
    if (seg.start % arch.page_size != 0 || seg.size % arch.page_size != 0)
        return fail(ErrorKind::corrupt, [&] {
            return fmt::format("memory segment {} (pa {:#x}, size {:#x}) is not page-aligned", i, seg.start, seg.size);
        });
    std::uint64_t end = 0;
    if (__builtin_add_overflow(seg.start, seg.size, &end))
        return fail(ErrorKind::corrupt, [&] {
            return fmt::format("memory segment {} end overflows: {:#x} + {:#x}", i, seg.start, seg.size);
        });
    const std::uint64_t before = total;
    if (__builtin_add_overflow(before, seg.size, &total))
        return fail(ErrorKind::corrupt,
                    [&] { return fmt::format("total dump size overflows: {:#x} + {:#x}", before, seg.size); });
    return true;
}

RamSegment load_ram_segment(const std::byte* p, ByteOrder order) {
    return {.start = load64(p, order), .size = load64(p + 8, order)};
}

CpuHeaderFields decode_amd64(Decoder& d) {
    CpuHeaderFields f;
    f.pt_root = d.u64();  // ptdpaddr
    f.nmemsegs = d.u64();
    return f;
}

void encode_amd64(Encoder& e, const CpuHeader& h) {
    e.u64(h.pt_root).u64(h.ram.size());
}

std::string_view translator_amd64(const CpuHeader& /*h*/) {
    return "amd64";
}

CpuHeaderFields decode_i386(Decoder& d) {
    CpuHeaderFields f;
    const std::uint32_t pdppaddr = d.u32();
    f.pae = (pdppaddr & i386_kcore_pae) != 0;
    f.pt_root = pdppaddr & 0xfffff000u;
    f.nmemsegs = d.u32();
    return f;
}

void encode_i386(Encoder& e, const CpuHeader& h) {
    e.u32(static_cast<std::uint32_t>(h.pt_root) | (h.pae ? i386_kcore_pae : 0))
        .u32(static_cast<std::uint32_t>(h.ram.size()));
}

std::string_view translator_i386(const CpuHeader& h) {
    return h.pae ? "i386-pae" : "i386";
}

constexpr std::array cpu_codecs{
    CpuHeaderCodec{
        .mid = 157, .size = 16, .decode = decode_amd64, .encode = encode_amd64, .translator = translator_amd64},
    CpuHeaderCodec{.mid = 134, .size = 8, .decode = decode_i386, .encode = encode_i386, .translator = translator_i386},
};

const CpuHeaderCodec& codec_for(const ArchInfo& arch) {
    const CpuHeaderCodec* c = find_cpu_codec(arch.netbsd_mid);
    if (c == nullptr) throw_unsupported(fmt::format("no NetBSD cpu header layout for {}", arch.name));
    return *c;
}

std::uint64_t sum_sizes(const std::vector<RamSegment>& ram) {
    std::uint64_t total = 0;
    for (const auto& s : ram)
        total += s.size;  // checked by check_ram_segment
    return total;
}

template <typename Fail>
bool check_cpu_header_size(const ArchInfo& arch, const CpuHeaderCodec& codec, std::uint64_t cpu_size,
                           const Fail& fail) {
    if (cpu_size >= codec.size) return true;
    return fail(ErrorKind::corrupt, [&] {
        return fmt::format("cpu segment is {} bytes, smaller than the {}-byte {} cpu header", cpu_size, codec.size,
                           arch.name);
    });
}

// The cpu data of a kcore file, in memory as a whole.
CpuHeader decode_cpu(const ArchInfo& arch, ByteSpan cpu_data) {
    const CpuHeaderCodec& codec = codec_for(arch);
    const Throw fail;
    check_cpu_header_size(arch, codec, cpu_data.size(), fail);
    Decoder d(cpu_data, arch.order, "cpu segment");
    const CpuHeaderFields fields = codec.decode(d);
    const std::uint64_t table_offset = kcore_align(arch, codec.size);
    check_table_size(fields.nmemsegs, table_offset, cpu_data.size(), fail);
    CpuHeader h{.pt_root = fields.pt_root, .pae = fields.pae, .ram = {}};
    h.ram.reserve(fields.nmemsegs);
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < fields.nmemsegs; ++i) {
        h.ram.push_back(load_ram_segment(cpu_data.data() + table_offset + i * ram_seg_size, arch.order));
        check_ram_segment(arch, i, h.ram.back(), total, fail);
    }
    return h;
}

std::string memory_past_end(const DumpLayout& layout, std::uint64_t device_size, std::string_view where) {
    return fmt::format(
        "truncated: the {} holds {:#x} bytes of memory from offset {:#x} (to {:#x}), but the file ends at {:#x}", where,
        layout.memory_size, layout.memory_offset, layout.memory_offset + layout.memory_size, device_size);
}

void check_memory_fits(const ByteSource& src, const DumpLayout& layout, std::string_view where) {
    const std::uint64_t end = checked_add(layout.memory_offset, layout.memory_size, "dump end");
    if (end > src.size()) throw_corrupt(memory_past_end(layout, src.size(), where));
}

// Reads a candidate header's bytes: from the chunk of the device a scan
// holds, when they are in it, else from the device.  The bytes read from
// the device are counted, so a scan can bound what its candidates cost.
class HeaderReader {
public:
    explicit HeaderReader(const ByteSource& src) : src_(src) {}
    const ByteSource& source() const { return src_; }
    void hold(std::uint64_t start, ByteSpan bytes) {
        start_ = start;
        held_ = bytes;
    }
    // Bytes of the held chunk from `offset` on (0 outside it).
    std::uint64_t held_from(std::uint64_t offset) const {
        return offset >= start_ && offset - start_ < held_.size() ? held_.size() - (offset - start_) : 0;
    }
    // `n` bytes at `offset`, fewer where the device ends; valid until the
    // next call.
    ByteSpan read(std::uint64_t offset, std::size_t n) {
        if (held_from(offset) >= n) return held_.subspan(offset - start_, n);
        scratch_.resize(n);
        const std::size_t got = src_.read_at(offset, scratch_);
        device_bytes_ += got;
        return {scratch_.data(), got};
    }
    std::uint64_t device_bytes() const { return device_bytes_; }

private:
    const ByteSource& src_;
    std::uint64_t start_ = 0;
    ByteSpan held_;
    Bytes scratch_;
    std::uint64_t device_bytes_ = 0;
};

// A RAM table that goes past the held chunk is read from the device in
// pieces that double from this size: a stray header's table is broken at
// the next header (a KCORE_MAGIC is never a page-aligned start or size),
// and the first pieces find that at little cost.
constexpr std::uint64_t first_table_piece = 4096;
constexpr std::uint64_t max_table_piece = 1u << 20;

// kvm_dump_mkheader's reading of the dump at `dump_start`, checked as it
// is read: the segment header, then the small cpu header, then the RAM
// table entry by entry, and the whole cpu segment only once all of that is
// sane.  A candidate therefore reads no further than its first bad field.
template <typename Fail>
bool read_device_header(HeaderReader& in, std::uint64_t dump_start, DumpLayout& layout, const Fail& fail) {
    const ByteSource& src = in.source();
    const std::uint64_t size = src.size();
    if (dump_start > size || size - dump_start < kcore_seg_size)
        return fail(ErrorKind::format, [&] {
            return fmt::format("no dump header at offset {:#x}: the device is only {:#x} bytes", dump_start, size);
        });
    const auto short_read = [&](std::string_view what, std::uint64_t n, std::uint64_t at) {
        return fail(
            ErrorKind::corrupt,
            [&] {
                return fmt::format("truncated: {} needs {} bytes at offset {:#x}, but the file has {:#x}", what, n, at,
                                   size);
            },
            true);
    };
    const ByteSpan seg = in.read(dump_start, kcore_seg_size);
    if (seg.size() < kcore_seg_size) return short_read("dump header", kcore_seg_size, dump_start);
    const Midmag m = decode_midmag(load32(seg.data(), ByteOrder::big));
    if (m.magic != kcore_magic || m.flag != core_cpu)
        return fail(ErrorKind::format, [&] {
            return fmt::format("no dump header at offset {:#x} (found magic {:#x} flag {})", dump_start, m.magic,
                               m.flag);
        });
    const ArchInfo* arch = find_arch_by_netbsd_mid(m.mid);
    const CpuHeaderCodec* codec = find_cpu_codec(m.mid);
    if (arch == nullptr || codec == nullptr)
        return fail(ErrorKind::unsupported, [&] {
            return fmt::format("dump header at offset {:#x} is for machine id {} (not a machine kvmkit reads)",
                               dump_start, m.mid);
        });
    const std::uint64_t cpu_size = load32(seg.data() + 4, arch->order);
    if (cpu_size > max_cpu_segment)
        return fail(ErrorKind::corrupt, [&] {
            return fmt::format("dump header at offset {:#x} claims a {:#x}-byte cpu segment (at most {:#x} accepted)",
                               dump_start, cpu_size, max_cpu_segment);
        });
    const std::uint64_t cpu_offset = dump_start + align8(*arch);
    if (cpu_offset > size || cpu_size > size - cpu_offset) return short_read("cpu segment", cpu_size, cpu_offset);

    // What the cpu header and its table say, with where they are.
    const auto in_header = [&](auto message) {
        return [message, dump_start] { return fmt::format("dump header at offset {:#x}: {}", dump_start, message()); };
    };
    const auto header_fail = [&](ErrorKind kind, const auto& message, bool names_device = false) {
        return fail(kind, in_header(message), names_device);
    };
    if (!check_cpu_header_size(*arch, *codec, cpu_size, header_fail)) return false;
    const ByteSpan fixed = in.read(cpu_offset, codec->size);
    if (fixed.size() < codec->size) return short_read("cpu segment", cpu_size, cpu_offset);
    Decoder d(fixed, arch->order, "cpu header");
    const CpuHeaderFields fields = codec->decode(d);
    const std::uint64_t table_offset = kcore_align(*arch, codec->size);
    if (!check_table_size(fields.nmemsegs, table_offset, cpu_size, header_fail)) return false;
    // The kernel fills the header with zeros to the end of its 512-byte
    // block, and no further.
    const std::uint64_t needed =
        align_up(align8(*arch) + table_offset + kcore_align(*arch, fields.nmemsegs * ram_seg_size), dev_bsize) -
        align8(*arch);
    if (cpu_size > needed)
        return header_fail(ErrorKind::corrupt, [&] {
            return fmt::format(
                "the {:#x}-byte cpu segment is larger than its header and {} memory segments fill ({:#x} bytes, to the "
                "end of their 512-byte block)",
                cpu_size, fields.nmemsegs, needed);
        });

    const std::uint64_t table_start = cpu_offset + table_offset;
    const std::uint64_t table_end = table_start + fields.nmemsegs * ram_seg_size;
    if constexpr (Fail::quiet) {
        // The verdict alone: a table that reaches the next block is broken
        // there when that block holds a header (its KCORE_MAGIC is never a
        // page-aligned start or size), as in an image built to slow the
        // scan; the entry-by-entry check below would find the same.
        const std::uint64_t next_block = dump_start + dev_bsize;
        if (next_block >= table_start && next_block + 8 <= table_end && (next_block - table_start) % 8 == 0 &&
            in.held_from(next_block) >= 8 && load64(in.read(next_block, 8).data(), arch->order) % arch->page_size != 0)
            return false;
    }
    std::uint64_t total = 0;
    std::uint64_t piece = first_table_piece;
    for (std::uint64_t i = 0; i < fields.nmemsegs;) {
        const std::uint64_t at = table_start + i * ram_seg_size;
        std::uint64_t entries = std::min(fields.nmemsegs - i, piece / ram_seg_size);
        if (const std::uint64_t held = in.held_from(at) / ram_seg_size; held != 0) {
            entries = std::min(entries, held);
        } else {
            piece = std::min(piece * 2, max_table_piece);  // for the next read from the device
        }
        const ByteSpan table = in.read(at, entries * ram_seg_size);
        if (table.size() < entries * ram_seg_size) return short_read("cpu segment", cpu_size, cpu_offset);
        for (std::uint64_t k = 0; k < entries; ++k, ++i)
            if (!check_ram_segment(*arch, i, load_ram_segment(table.data() + k * ram_seg_size, arch->order), total,
                                   header_fail))
                return false;
    }

    layout.arch = arch;
    layout.on_device = true;
    layout.header_offset = dump_start;
    const ByteSpan cpu_data = in.read(cpu_offset, cpu_size);
    if (cpu_data.size() < cpu_size) return short_read("cpu segment", cpu_size, cpu_offset);
    layout.cpu_segment.assign(cpu_data.begin(), cpu_data.end());
    layout.cpu = CpuHeader{.pt_root = fields.pt_root, .pae = fields.pae, .ram = {}};
    layout.cpu.ram.reserve(fields.nmemsegs);
    for (std::uint64_t i = 0; i < fields.nmemsegs; ++i)
        layout.cpu.ram.push_back(
            load_ram_segment(layout.cpu_segment.data() + table_offset + i * ram_seg_size, arch->order));
    layout.memory_offset = cpu_offset + cpu_size;
    layout.memory_size = total;
    if (layout.memory_offset + layout.memory_size < layout.memory_offset)
        return fail(ErrorKind::corrupt, [&] {
            return fmt::format("dump end overflows: {:#x} + {:#x}", layout.memory_offset, layout.memory_size);
        });
    if (layout.memory_offset + layout.memory_size > size)
        return fail(ErrorKind::corrupt,
                    [&] { return memory_past_end(layout, size, fmt::format("dump at offset {:#x}", dump_start)); });
    return true;
}

class NetbsdFormat final : public Format {
public:
    NetbsdFormat(std::shared_ptr<ByteSource> src, DumpLayout layout)
        : src_(std::move(src)), layout_(std::move(layout)) {
        state_.arch = layout_.arch;
        state_.os = "netbsd";
        state_.translator = std::string(codec_for(*layout_.arch).translator(layout_.cpu));
        state_.pt_root = layout_.cpu.pt_root;
        // Memory is stored segment after segment in table order.
        std::vector<PhysRun> runs;
        runs.reserve(layout_.cpu.ram.size());
        std::uint64_t offset = layout_.memory_offset;
        for (const auto& seg : layout_.cpu.ram) {
            // Only a file opened with allow_truncated can end early: keep
            // what it holds.
            const std::uint64_t held = offset >= src_->size() ? 0 : std::min(seg.size, src_->size() - offset);
            if (held != 0) runs.push_back({.pa = seg.start, .size = held, .offset = offset});
            offset += seg.size;
        }
        map_ = PhysMap(std::move(runs), src_->size());
    }

    std::string_view name() const override { return layout_.on_device ? "netbsd-dumpdev" : "netbsd-kcore"; }
    const MachineState& machine() const override { return state_; }
    void read_phys(std::uint64_t pa, MutableByteSpan out) const override {
        read_phys_through_map(map_, *src_, pa, out);
    }
    std::vector<PhysRun> phys_ranges() const override { return {map_.runs().begin(), map_.runs().end()}; }
    std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const override {
        const PhysRun* r = map_.find(pa);
        if (r == nullptr) return std::nullopt;
        return r->offset + (pa - r->pa);
    }
    const ByteSource& source() const override { return *src_; }
    ByteSource& source() override { return *src_; }
    const DumpLayout& layout() const { return layout_; }

private:
    std::shared_ptr<ByteSource> src_;
    DumpLayout layout_;
    MachineState state_;
    PhysMap map_;
};

}  // namespace

Midmag decode_midmag(std::uint32_t v) {
    return {.magic = static_cast<std::uint16_t>(v & 0xffff),
            .mid = static_cast<std::uint16_t>((v >> 16) & 0x3ff),
            .flag = static_cast<std::uint8_t>((v >> 26) & 0x3f)};
}

std::uint32_t encode_midmag(const Midmag& m) {
    return (static_cast<std::uint32_t>(m.flag & 0x3f) << 26) | (static_cast<std::uint32_t>(m.mid & 0x3ff) << 16) |
           m.magic;
}

const CpuHeaderCodec* find_cpu_codec(std::uint32_t mid) {
    for (const auto& c : cpu_codecs)
        if (c.mid == mid) return &c;
    return nullptr;
}

namespace {
DumpLayout read_kcore(const ByteSource& src, bool require_all_memory) {
    DumpLayout layout;
    if (src.size() < 4) return layout;
    std::array<std::byte, 4> word{};
    src.read_exact(0, word, "kcore header");
    const Midmag hdr_magic = decode_midmag(load32(word.data(), ByteOrder::big));
    if (hdr_magic.magic != kcore_magic || hdr_magic.flag != 0) return layout;  // not a kcore file
    const ArchInfo* arch = find_arch_by_netbsd_mid(hdr_magic.mid);
    if (arch == nullptr || find_cpu_codec(hdr_magic.mid) == nullptr)
        throw_unsupported(fmt::format("kcore file for machine id {} (not a machine kvmkit reads)", hdr_magic.mid));

    const Bytes hdr = src.read_bytes(0, kcore_hdr_size, "kcore header");
    Decoder d(hdr, arch->order, "kcore header");
    d.skip(4);
    const std::uint64_t hdrsize = d.u16();
    const std::uint64_t seghdrsize = d.u16();
    const std::uint32_t nseg = d.u32();
    if (nseg != 2) throw_corrupt(fmt::format("kcore header has {} segments; a kernel core has 2 (cpu, data)", nseg));
    if (hdrsize < kcore_hdr_size || hdrsize > max_kcore_header)
        throw_corrupt(fmt::format("kcore header size {} is impossible", hdrsize));
    if (seghdrsize < kcore_seg_size || seghdrsize > max_kcore_header)
        throw_corrupt(fmt::format("kcore segment header size {} is impossible", seghdrsize));

    const Bytes cpu_seg = src.read_bytes(hdrsize, kcore_seg_size, "cpu segment header");
    Decoder cs(cpu_seg, arch->order, "cpu segment header");
    const Midmag cpu_magic = decode_midmag(cs.u32be());
    if (cpu_magic.magic != kcoreseg_magic || cpu_magic.flag != core_cpu)
        throw_corrupt(fmt::format("cpu segment header at offset {:#x} has magic {:#x} flag {} (expected {:#x} flag {})",
                                  hdrsize, cpu_magic.magic, cpu_magic.flag, kcoreseg_magic, core_cpu));
    const std::uint64_t cpu_size = cs.u32();
    if (cpu_size > max_cpu_segment)
        throw_corrupt(
            fmt::format("cpu segment claims {:#x} bytes (at most {:#x} accepted)", cpu_size, max_cpu_segment));

    layout.arch = arch;
    layout.on_device = false;
    layout.header_offset = 0;
    layout.cpu_segment = src.read_bytes(hdrsize + seghdrsize, cpu_size, "cpu segment");
    layout.cpu = decode_cpu(*arch, layout.cpu_segment);

    const std::uint64_t data_hdr_offset = hdrsize + seghdrsize + cpu_size;
    const Bytes data_seg = src.read_bytes(data_hdr_offset, kcore_seg_size, "data segment header");
    const Midmag data_magic = decode_midmag(load32(data_seg.data(), ByteOrder::big));
    if (data_magic.magic != kcoreseg_magic || data_magic.flag != core_data)
        throw_corrupt(
            fmt::format("data segment header at offset {:#x} has magic {:#x} flag {} (expected {:#x} flag {})",
                        data_hdr_offset, data_magic.magic, data_magic.flag, kcoreseg_magic, core_data));
    // The data segment's c_size is ignored: it is truncated to 32 bits for
    // dumps of 4 GiB or more.  The RAM table is the truth.
    layout.memory_offset = data_hdr_offset + seghdrsize;
    layout.memory_size = sum_sizes(layout.cpu.ram);
    if (require_all_memory) check_memory_fits(src, layout, "kcore file");
    return layout;
}
}  // namespace

DumpLayout read_kcore_file(const ByteSource& src) {
    return read_kcore(src, true);
}

DumpLayout read_device_dump(const ByteSource& src, std::uint64_t dump_start) {
    if (dump_start % dev_bsize != 0)
        throw Error(ErrorKind::usage, fmt::format("dump offset {:#x} is not a multiple of 512", dump_start));
    HeaderReader in(src);
    DumpLayout layout;
    read_device_header(in, dump_start, layout, Throw{&src});
    return layout;
}

std::vector<DumpCandidate> scan_device(const std::shared_ptr<ByteSource>& src, const DumpLivenessCheck& is_live,
                                       std::size_t max_candidates, std::vector<RejectedHeader>* rejected) {
    constexpr std::size_t chunk = 1u << 20;  // a multiple of 512: headers never straddle a chunk's check
    std::vector<DumpCandidate> found;
    Bytes buf(chunk);
    HeaderReader in(*src);
    std::uint64_t pos = 0;
    const std::uint64_t size = src->size();
    // What candidates may read beyond the chunk in hand.  A header's table
    // ends at the next header, so no two candidates read the same table
    // bytes and the scan stays linear; this says so, whatever the image.
    const std::uint64_t budget = 2 * size + 2 * max_cpu_segment;
    while (pos < size && found.size() < max_candidates) {
        const std::size_t got =
            src->read_at(pos, MutableByteSpan(buf.data(), std::min<std::uint64_t>(chunk, size - pos)));
        if (got < kcore_seg_size) break;
        in.hold(pos, ByteSpan(buf.data(), got));
        std::uint64_t next = pos + (got / dev_bsize) * dev_bsize;
        for (std::size_t at = 0; at + 4 <= got; at += dev_bsize) {
            const Midmag m = decode_midmag(load32(buf.data() + at, ByteOrder::big));
            if (m.magic != kcore_magic || m.flag != core_cpu) continue;
            if (find_cpu_codec(m.mid) == nullptr && rejected == nullptr) continue;
            const std::uint64_t offset = pos + at;
            DumpLayout layout;
            const bool sane = read_device_header(in, offset, layout, Quiet{});
            if (in.device_bytes() > budget)
                throw_corrupt(fmt::format(
                    "device scan stopped at offset {:#x}: its candidate headers read {:#x} bytes past the chunks "
                    "scanned, more than twice the device's {:#x}",
                    offset, in.device_bytes(), size));
            if (!sane) {
                // A stray magic, or a damaged header: not a candidate.  Say
                // why (the same checks again, making the message) only when
                // it has the shape of a real header.
                if (rejected != nullptr && rejected->size() < max_rejected && at + kcore_seg_size <= got &&
                    plausible_cpu_segment_size(buf.data() + at + 4)) {
                    try {
                        read_device_dump(*src, offset);
                    } catch (const Error& e) {
                        rejected->push_back({.offset = offset, .error = e});
                    }
                }
                continue;
            }
            const bool live = !is_live || is_live(src, layout);
            found.push_back({.offset = offset, .live = live, .end = layout.memory_offset + layout.memory_size});
            if (live) {
                // Skip this dump's memory: it holds copies of the header.
                next = align_up(layout.memory_offset + layout.memory_size, dev_bsize);
                break;
            }
            if (found.size() >= max_candidates) break;
        }
        if (got == 0 || next <= pos) break;
        pos = next;
    }
    return found;
}

CandidateChoice choose_candidate(const std::shared_ptr<ByteSource>& src, const std::vector<DumpCandidate>& candidates,
                                 const Namelist* namelist) {
    CandidateChoice choice;
    if (candidates.empty()) return choice;
    std::vector<const DumpCandidate*> live;
    for (const DumpCandidate& c : candidates)
        if (c.live) live.push_back(&c);
    choice.live = live.size();
    if (live.empty()) {
        choice.offset = candidates.front().offset;
        choice.reason = "none is live; the first";
        return choice;
    }
    if (live.size() == 1) {
        choice.offset = live.front()->offset;
        choice.reason = "the only live one";
        return choice;
    }
    const auto nearest_end = [](const std::vector<const DumpCandidate*>& among) {
        return (*std::max_element(among.begin(), among.end(),
                                  [](const DumpCandidate* a, const DumpCandidate* b) { return a->end < b->end; }))
            ->offset;
    };
    std::vector<const DumpCandidate*> at_dumplo;
    bool dumplo_known = false;
    if (namelist != nullptr) {
        for (const DumpCandidate* c : live) {
            const std::optional<std::int64_t> lo = recorded_dumplo(src, read_device_dump(*src, c->offset), *namelist);
            dumplo_known = dumplo_known || lo.has_value();
            if (lo && *lo >= 0 && static_cast<std::uint64_t>(*lo) * dev_bsize == c->offset) at_dumplo.push_back(c);
        }
    }
    if (at_dumplo.size() == 1) {
        choice.offset = at_dumplo.front()->offset;
        choice.reason = fmt::format("its kernel's dumplo ({}) puts the dump there", *choice.offset / dev_bsize);
    } else if (at_dumplo.size() > 1) {
        for (const DumpCandidate* c : at_dumplo)
            choice.tied.push_back(c->offset);
        choice.nearest_end = nearest_end(at_dumplo);
        choice.reason = "each lies at the dumplo its own kernel recorded";
    } else {
        choice.offset = nearest_end(live);
        choice.reason = fmt::format(
            "{}; the one ending nearest the end of the device, where the kernel puts its dump",
            dumplo_known ? "none lies at the dumplo its kernel recorded" : "without the dumplo its kernel recorded");
    }
    return choice;
}

std::string tied_candidates(const CandidateChoice& choice) {
    std::vector<std::string> offsets;
    for (const std::uint64_t o : choice.tied)
        offsets.push_back(fmt::format("{:#x}", o));
    return fmt::format("{} live dump headers, at offsets {}: {}, so which one the kernel wrote cannot be told",
                       choice.tied.size(), fmt::join(offsets, ", "), choice.reason);
}

Bytes kcore_file_header(const DumpLayout& layout, std::uint64_t memory_bytes) {
    const ArchInfo& arch = *layout.arch;
    const std::uint64_t hdrsize = kcore_align(arch, kcore_hdr_size);
    const std::uint64_t seghdrsize = kcore_align(arch, kcore_seg_size);
    const std::uint64_t cpu_size = kcore_align(arch, layout.cpu_segment.size());
    Encoder e(arch.order);
    e.u32be(encode_midmag({.magic = kcore_magic, .mid = static_cast<std::uint16_t>(arch.netbsd_mid), .flag = 0}))
        .u16(static_cast<std::uint16_t>(hdrsize))
        .u16(static_cast<std::uint16_t>(seghdrsize))
        .u32(2)
        .zeros(hdrsize - kcore_hdr_size);
    e.u32be(encode_midmag({.magic = kcoreseg_magic, .mid = 0, .flag = core_cpu}))
        .u32(static_cast<std::uint32_t>(cpu_size))
        .zeros(seghdrsize - kcore_seg_size);
    e.bytes(layout.cpu_segment).zeros(cpu_size - layout.cpu_segment.size());
    // c_size is 32 bits: NetBSD truncates dumps of 4 GiB or more, and readers
    // ignore it in favour of the RAM table, as libkvm does.
    e.u32be(encode_midmag({.magic = kcoreseg_magic, .mid = 0, .flag = core_data}))
        .u32(static_cast<std::uint32_t>(memory_bytes))
        .zeros(seghdrsize - kcore_seg_size);
    return e.take();
}

Bytes device_dump_header(const ArchInfo& arch, const CpuHeader& cpu) {
    const CpuHeaderCodec& codec = codec_for(arch);
    const std::uint64_t header_size = align_up(
        align8(arch) + kcore_align(arch, codec.size) + kcore_align(arch, cpu.ram.size() * ram_seg_size), dev_bsize);
    Encoder e(arch.order);
    e.u32be(encode_midmag({.magic = kcore_magic, .mid = static_cast<std::uint16_t>(arch.netbsd_mid), .flag = core_cpu}))
        .u32(static_cast<std::uint32_t>(header_size - align8(arch)))
        .zeros(align8(arch) - kcore_seg_size);
    codec.encode(e, cpu);
    e.zeros(align8(arch) + kcore_align(arch, codec.size) - e.size());
    for (const auto& seg : cpu.ram)
        e.u64(seg.start).u64(seg.size);
    e.zeros(header_size - e.size());
    return e.take();
}

std::unique_ptr<Format> make_format(std::shared_ptr<ByteSource> src, DumpLayout layout) {
    return std::make_unique<NetbsdFormat>(std::move(src), std::move(layout));
}

const DumpLayout* layout_of(const Format& format) {
    const auto* nb = dynamic_cast<const NetbsdFormat*>(&format);
    return nb != nullptr ? &nb->layout() : nullptr;
}

std::unique_ptr<Format> probe_kcore(std::shared_ptr<ByteSource> src, const ProbeOptions& options) {
    DumpLayout layout = read_kcore(*src, !options.allow_truncated);
    if (layout.arch == nullptr) return nullptr;
    return make_format(std::move(src), std::move(layout));
}

std::unique_ptr<Format> probe_device(std::shared_ptr<ByteSource> src, const ProbeOptions& options) {
    if (options.dumplo_blocks) {
        const std::uint64_t start = checked_mul(*options.dumplo_blocks, dev_bsize, "dumplo");
        try {
            DumpLayout layout = read_device_dump(*src, start);
            return make_format(std::move(src), std::move(layout));
        } catch (Error& e) {
            e.add_context(fmt::format("dumplo {}", *options.dumplo_blocks));
            throw;
        }
    }
    const DumpLivenessCheck check =
        options.namelist != nullptr ? dumpmag_check(*options.namelist) : DumpLivenessCheck{};
    std::vector<RejectedHeader> rejected;
    const std::vector<DumpCandidate> candidates = scan_device(src, check, 64, &rejected);
    // A header the kernel wrote but that fails a check (a swap image cut
    // short, most often) is this format's and broken: say why, as savecore
    // does, rather than "not a recognised crash dump".
    if (candidates.empty() && !rejected.empty()) throw rejected.front().error;
    if (candidates.empty()) return nullptr;
    const CandidateChoice choice = choose_candidate(src, candidates, options.namelist);
    if (!choice.offset) throw_corrupt(fmt::format("{}; name one with --dumplo", tied_candidates(choice)));
    DumpLayout layout = read_device_dump(*src, *choice.offset);
    return make_format(std::move(src), std::move(layout));
}

}  // namespace kvm::netbsd
