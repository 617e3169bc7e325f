// kdump-compressed files: header, sub-header, bitmaps and page descriptors
// decoded field by field (layout in kdump.h); pages read on demand,
// inflated with zlib and kept in a bounded cache.
#include "format/kdump.h"
#include "format/kdump_bitmap.h"

#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/linux.h>

#include "format/linux_formats.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace kvm::kdump {

namespace {

constexpr std::size_t sysname_offset = 12;
constexpr std::size_t release_offset = sysname_offset + 2 * utsname_field;
constexpr std::size_t machine_offset = sysname_offset + 4 * utsname_field;
constexpr std::size_t status_offset = 424;
constexpr std::size_t nr_cpus_offset = 460;
constexpr std::uint32_t compression_mask = compressed_zlib | compressed_lzo | compressed_snappy | compressed_zstd;

std::string fixed_field(ByteSpan data, std::size_t offset, std::size_t size) {
    Decoder d(data, ByteOrder::little, "kdump header");
    d.seek(offset);
    return d.fixed_string(size);
}

}  // namespace

Header decode_header(ByteSpan data, ByteOrder order) {
    Header h;
    Decoder d(strict_subspan(data, 0, header_size, "kdump header"), order, "kdump header");
    h.signature = std::string(as_chars(d.bytes(8)));
    h.header_version = static_cast<std::int32_t>(d.u32());
    h.sysname = fixed_field(data, sysname_offset, utsname_field);
    h.release = fixed_field(data, release_offset, utsname_field);
    h.machine = fixed_field(data, machine_offset, utsname_field);
    d.seek(status_offset);
    h.status = d.u32();
    h.block_size = static_cast<std::int32_t>(d.u32());
    h.sub_hdr_size = static_cast<std::int32_t>(d.u32());
    h.bitmap_blocks = d.u32();
    h.max_mapnr = d.u32();
    d.seek(nr_cpus_offset);
    h.nr_cpus = static_cast<std::int32_t>(d.u32());
    return h;
}

std::size_t sub_header_bytes(std::int32_t header_version) {
    if (header_version >= 6) return 104;
    if (header_version >= 5) return 80;
    if (header_version >= 4) return 64;
    if (header_version >= 3) return 48;
    if (header_version >= 2) return 32;
    if (header_version >= 1) return 12;
    return 8;
}

SubHeader decode_sub_header(ByteSpan data, ByteOrder order, std::int32_t header_version) {
    SubHeader s;
    Decoder d(strict_subspan(data, 0, sub_header_bytes(header_version), "kdump sub-header"), order, "kdump sub-header");
    s.phys_base = d.u64();
    if (header_version < 1) return s;
    s.dump_level = static_cast<std::int32_t>(d.u32());
    if (header_version < 2) return s;
    s.split = static_cast<std::int32_t>(d.u32());
    s.start_pfn = d.u64();
    s.end_pfn = d.u64();
    if (header_version < 3) return s;
    s.offset_vmcoreinfo = static_cast<std::int64_t>(d.u64());
    s.size_vmcoreinfo = d.u64();
    if (header_version < 4) return s;
    s.offset_note = static_cast<std::int64_t>(d.u64());
    s.size_note = d.u64();
    if (header_version < 5) return s;
    s.offset_eraseinfo = static_cast<std::int64_t>(d.u64());
    s.size_eraseinfo = d.u64();
    if (header_version < 6) return s;
    s.start_pfn_64 = d.u64();
    s.end_pfn_64 = d.u64();
    s.max_mapnr_64 = d.u64();
    return s;
}

PageDesc decode_page_desc(ByteSpan data, ByteOrder order) {
    Decoder d(strict_subspan(data, 0, page_desc_size, "page descriptor"), order, "page descriptor");
    PageDesc p;
    p.offset = static_cast<std::int64_t>(d.u64());
    p.size = d.u32();
    p.flags = d.u32();
    p.page_flags = d.u64();
    return p;
}

std::string compression_name(std::uint32_t flags) {
    switch (flags & compression_mask) {
        case compressed_zlib:
            return "zlib";
        case compressed_lzo:
            return "lzo";
        case compressed_snappy:
            return "snappy";
        case compressed_zstd:
            return "zstd";
        default:
            return fmt::format("unknown compression {:#x}", flags & compression_mask);
    }
}

namespace {

// utsname.machine to the arch table.  64-bit little-endian layouts only.
struct MachineRow {
    std::string_view uts_machine;
    std::string_view arch;
};
constexpr std::array machine_rows{MachineRow{"x86_64", "amd64"}};

constexpr std::size_t page_cache_pages = 1024;  // decompressed pages kept
constexpr std::size_t descs_per_chunk = 256;    // page descriptors read at once
constexpr std::size_t desc_chunks_cached = 8;

// Decompressed pages by pfn, least recently used dropped first.
class PageCache {
public:
    explicit PageCache(std::size_t capacity) : capacity_(capacity) {}

    const Bytes* find(std::uint64_t pfn) {
        const auto it = map_.find(pfn);
        if (it == map_.end()) return nullptr;
        lru_.splice(lru_.begin(), lru_, it->second.second);
        return &it->second.first;
    }

    const Bytes& insert(std::uint64_t pfn, Bytes page) {
        if (map_.size() >= capacity_) {
            map_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(pfn);
        auto [it, inserted] = map_.emplace(pfn, std::make_pair(std::move(page), lru_.begin()));
        return it->second.first;
    }

private:
    std::size_t capacity_;
    std::list<std::uint64_t> lru_;
    std::unordered_map<std::uint64_t, std::pair<Bytes, std::list<std::uint64_t>::iterator>> map_;
};

class KdumpFormat final : public Format, public linux_kernel::HasCoreNotes {
public:
    KdumpFormat(std::shared_ptr<ByteSource> source, std::string name)
        : source_(std::move(source)), name_(name.empty() ? "kdump" : std::move(name)), pages_(page_cache_pages) {
        const std::uint64_t file_size = source_->size();
        const Bytes head = source_->read_bytes(0, header_size, "kdump header");

        // The arch (from utsname.machine) fixes the byte order and layout.
        const std::string machine = fixed_field(head, machine_offset, utsname_field);
        if (machine.empty()) throw_unsupported("the kdump header names no machine (utsname.machine is empty)");
        for (const MachineRow& row : machine_rows)
            if (row.uts_machine == machine) arch_ = find_arch(row.arch);
        if (arch_ == nullptr)
            throw_unsupported(
                fmt::format("a kdump-compressed dump of a {} machine: kvmkit reads x86_64 ones only", machine));
        order_ = arch_->order;
        header_ = decode_header(head, order_);

        if (header_.header_version < 1)
            throw_corrupt(fmt::format("kdump header version {} is impossible", header_.header_version));
        const auto block = static_cast<std::int64_t>(header_.block_size);
        if (block < 1024 || block > (1 << 20) || (block & (block - 1)) != 0)
            throw_corrupt(fmt::format("kdump header: block size {} is not a power of two from 1 KiB to 1 MiB",
                                      header_.block_size));
        block_size_ = static_cast<std::uint64_t>(block);
        if (header_.sub_hdr_size < 0)
            throw_corrupt(fmt::format("kdump header: sub-header size {} blocks is negative", header_.sub_hdr_size));

        // Sub-header.
        const std::uint64_t sub_bytes =
            checked_mul(static_cast<std::uint64_t>(header_.sub_hdr_size), block_size_, "kdump sub-header size");
        const std::size_t sub_needed = sub_header_bytes(header_.header_version);
        if (sub_bytes < sub_needed)
            throw_corrupt(fmt::format("kdump header: the sub-header is {} bytes, version {} needs {}", sub_bytes,
                                      header_.header_version, sub_needed));
        sub_ = decode_sub_header(source_->read_bytes(block_size_, sub_needed, "kdump sub-header"), order_,
                                 header_.header_version);
        if (sub_.split != 0)
            throw_unsupported(fmt::format(
                "one part of a split dump (pfns {:#x}-{:#x}): join the parts with makedumpfile --reassemble first",
                header_.header_version >= 6 ? sub_.start_pfn_64 : sub_.start_pfn,
                header_.header_version >= 6 ? sub_.end_pfn_64 : sub_.end_pfn));

        // Bitmaps.
        max_mapnr_ = header_.header_version >= 6 && sub_.max_mapnr_64 != 0 ? sub_.max_mapnr_64 : header_.max_mapnr;
        const std::uint64_t bitmap_offset =
            checked_mul(checked_add(1, sub_bytes / block_size_, "kdump bitmap block"), block_size_, "bitmap offset");
        const std::uint64_t bitmap_bytes = checked_mul(header_.bitmap_blocks, block_size_, "kdump bitmap size");
        if (bitmap_bytes > max_bitmap_bytes)
            throw_corrupt(fmt::format("kdump bitmaps of {:#x} bytes, more than the {:#x} accepted", bitmap_bytes,
                                      max_bitmap_bytes));
        const std::uint64_t map_bytes = checked_add(max_mapnr_, 7, "max_mapnr") / 8;
        const std::uint64_t one_map = align_up(map_bytes, block_size_);
        two_bitmaps_ = bitmap_bytes >= 2 * one_map && one_map != 0;
        const std::uint64_t dump_map_offset = bitmap_offset + (two_bitmaps_ ? bitmap_bytes / 2 : 0);
        if (map_bytes > (two_bitmaps_ ? bitmap_bytes / 2 : bitmap_bytes))
            throw_corrupt(fmt::format("kdump bitmaps of {} blocks cannot hold the {:#x} pfns of max_mapnr",
                                      header_.bitmap_blocks, max_mapnr_));
        // Writers size the bitmaps by max_mapnr (two of them, each whole
        // blocks), and the file holds them: checked before a byte is read.
        if (bitmap_bytes > 2 * one_map)
            throw_corrupt(
                fmt::format("kdump bitmaps of {} blocks, more than the {} that two bitmaps of max_mapnr "
                            "{:#x} take",
                            header_.bitmap_blocks, 2 * one_map / block_size_, max_mapnr_));
        const std::uint64_t bitmap_end = checked_add(bitmap_offset, bitmap_bytes, "kdump bitmap end");
        if (bitmap_end > source_->size())
            throw_corrupt(
                fmt::format("truncated: the kdump bitmaps ({} blocks at offset {:#x}) need bytes up to "
                            "{:#x}, but the file has {:#x}",
                            header_.bitmap_blocks, bitmap_offset, bitmap_end, source_->size()));
        ram_map_offset_ = bitmap_offset;
        dump_map_.emplace(source_, dump_map_offset, max_mapnr_);
        dumped_pages_ = dump_map_->set_bits();

        // Page descriptors.
        desc_offset_ = checked_add(bitmap_offset, bitmap_bytes, "page descriptor table offset");
        const std::uint64_t desc_end =
            checked_add(desc_offset_, checked_mul(dumped_pages_, page_desc_size, "page descriptor table size"),
                        "page descriptor table end");
        if (desc_end > file_size)
            throw_corrupt(
                fmt::format("truncated: the {} page descriptors need bytes up to {:#x}, but the file has {:#x}",
                            dumped_pages_, desc_end, file_size));
        data_offset_ = desc_end;

        read_notes();
        machine_ = linux_kernel::machine_state(*arch_, notes_);
        machine_.info["kdump.header_version"] = std::to_string(header_.header_version);
        machine_.info["kdump.dump_level"] = std::to_string(sub_.dump_level);
        machine_.info["kdump.phys_base"] =
            fmt::format("{:#x} (sub-header; not used, VMCOREINFO's counts)", sub_.phys_base);
        machine_.info["kdump.compression"] = status_compression();
        if ((header_.status & status_incomplete) != 0) machine_.info["kdump.incomplete"] = "yes";
    }

    std::string_view name() const override { return name_; }
    const MachineState& machine() const override { return machine_; }
    const linux_kernel::CoreNotes& core_notes() const override { return notes_; }

    // Damaged pages name the file; faults (memory not in the dump) are
    // named by the reader, which knows the virtual address.
    void read_phys(std::uint64_t pa, MutableByteSpan out) const override {
        const std::lock_guard lock(mutex_);
        std::size_t done = 0;
        try {
            while (done < out.size()) {
                const std::uint64_t at = pa + done;
                const std::uint64_t in_page = at % block_size_;
                const std::size_t n = std::min<std::uint64_t>(out.size() - done, block_size_ - in_page);
                const Bytes& page = load_page(at / block_size_, at);
                std::memcpy(out.data() + done, page.data() + in_page, n);
                done += n;
            }
        } catch (Error& e) {
            if (e.kind() != ErrorKind::fault) e.with_path(source_->name());
            throw;
        }
    }

    std::vector<PhysRun> phys_ranges() const override {
        std::vector<PhysRun> runs;
        dump_map_->for_each_run([&](std::uint64_t pfn, std::uint64_t count) {
            runs.push_back({.pa = pfn * block_size_, .size = count * block_size_, .offset = 0});
        });
        return runs;
    }
    std::uint64_t phys_bytes() const override { return dumped_pages_ * block_size_; }

    std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const override {
        const std::uint64_t pfn = pa / block_size_;
        if (pfn >= max_mapnr_ || !dumped(pfn)) return std::nullopt;
        const std::lock_guard lock(mutex_);
        const PageDesc desc = descriptor(rank(pfn));
        if ((desc.flags & compression_mask) != 0 || desc.size != block_size_ || desc.offset < 0) return std::nullopt;
        return static_cast<std::uint64_t>(desc.offset) + pa % block_size_;
    }

    const ByteSource& source() const override { return *source_; }
    ByteSource& source() override { return *source_; }

private:
    bool dumped(std::uint64_t pfn) const { return dump_map_->test(pfn); }

    // The index of pfn's descriptor: the set bits before it.
    std::uint64_t rank(std::uint64_t pfn) const { return dump_map_->rank(pfn); }

    PageDesc descriptor(std::uint64_t index) const {
        const std::uint64_t chunk = index / descs_per_chunk;
        const Bytes* bytes = nullptr;
        for (const auto& [number, data] : desc_chunks_)
            if (number == chunk) bytes = &data;
        if (bytes == nullptr) {
            const std::uint64_t first = chunk * descs_per_chunk;
            const std::uint64_t count = std::min<std::uint64_t>(descs_per_chunk, dumped_pages_ - first);
            Bytes data =
                source_->read_bytes(desc_offset_ + first * page_desc_size, count * page_desc_size, "page descriptors");
            if (desc_chunks_.size() >= desc_chunks_cached) desc_chunks_.erase(desc_chunks_.begin());
            desc_chunks_.emplace_back(chunk, std::move(data));
            bytes = &desc_chunks_.back().second;
        }
        const std::uint64_t at = (index % descs_per_chunk) * page_desc_size;
        return decode_page_desc(ByteSpan(*bytes).subspan(at, page_desc_size), order_);
    }

    // Whether the RAM bitmap has the pfn (for messages only).
    bool in_ram(std::uint64_t pfn) const {
        if (!two_bitmaps_ || pfn >= max_mapnr_) return false;
        std::array<std::byte, 1> b{};
        if (source_->read_at(ram_map_offset_ + pfn / 8, b) != 1) return false;
        return (std::to_integer<unsigned>(b[0]) >> (pfn % 8) & 1u) != 0;
    }

    const Bytes& load_page(std::uint64_t pfn, std::uint64_t pa) const {
        if (const Bytes* cached = pages_.find(pfn)) return *cached;
        if (pfn >= max_mapnr_ || !dumped(pfn)) {
            if (in_ram(pfn))
                throw_fault(pa, fmt::format("physical address {:#x} was excluded from the dump (dump level {})", pa,
                                            sub_.dump_level));
            throw_fault(pa, fmt::format("physical address {:#x} is not in the dump", pa));
        }
        const std::uint64_t index = rank(pfn);
        const PageDesc desc = descriptor(index);
        const std::uint64_t page_pa = pfn * block_size_;
        const std::string what = fmt::format("page descriptor {} (pa {:#x})", index, page_pa);
        if (desc.size == 0) {
            if ((header_.status & status_incomplete) != 0)
                throw_fault(pa, fmt::format("physical address {:#x} was not written: the dump is incomplete", pa));
            throw_corrupt(fmt::format("{}: size 0", what));
        }
        if (desc.offset < 0 || static_cast<std::uint64_t>(desc.offset) < data_offset_)
            throw_corrupt(fmt::format("{}: data offset {:#x} is before the page data, which starts at {:#x}", what,
                                      desc.offset, data_offset_));
        const auto offset = static_cast<std::uint64_t>(desc.offset);
        if (desc.size > block_size_)
            throw_corrupt(fmt::format("{}: {} bytes of data for a {}-byte page", what, desc.size, block_size_));
        if (offset > source_->size() || desc.size > source_->size() - offset)
            throw_corrupt(fmt::format("truncated: {} needs {} bytes at offset {:#x}, but the file has {:#x}", what,
                                      desc.size, offset, source_->size()));
        const std::uint32_t compression = desc.flags & compression_mask;
        Bytes data = source_->read_bytes(offset, desc.size, what);
        if (compression == 0) {
            if (desc.size != block_size_)
                throw_corrupt(
                    fmt::format("{}: an uncompressed page of {} bytes, not {}", what, desc.size, block_size_));
            return pages_.insert(pfn, std::move(data));
        }
        if (compression != compressed_zlib) {
            if (std::popcount(compression) != 1)
                throw_corrupt(fmt::format("{}: flags {:#x} name more than one compression", what, desc.flags));
            throw_unsupported(
                fmt::format("{}-compressed page at pa {:#x}: not supported (kvmkit reads zlib-compressed "
                            "and uncompressed pages)",
                            compression_name(compression), page_pa));
        }
        Bytes page(block_size_);
        auto out_len = static_cast<uLongf>(block_size_);
        const int rc = ::uncompress(reinterpret_cast<Bytef*>(page.data()), &out_len,
                                    reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()));
        if (rc != Z_OK || out_len != block_size_) {
            const std::string why = rc != Z_OK ? std::string(::zError(rc)) : fmt::format("{} bytes", out_len);
            throw_corrupt(fmt::format("{}: the zlib data ({} bytes at offset {:#x}) does not inflate to a page: {}",
                                      what, desc.size, offset, why));
        }
        return pages_.insert(pfn, std::move(page));
    }

    Bytes read_block(std::int64_t offset, std::uint64_t size, std::uint64_t limit, std::string_view what) const {
        if (offset < 0) throw_corrupt(fmt::format("kdump sub-header: the {} offset {} is negative", what, offset));
        if (size > limit)
            throw_corrupt(fmt::format("kdump sub-header: the {} is {:#x} bytes, more than the {:#x} accepted", what,
                                      size, limit));
        return source_->read_bytes(static_cast<std::uint64_t>(offset), size, what);
    }

    void read_notes() {
        if (header_.header_version >= 4 && sub_.size_note != 0) {
            const Bytes notes = read_block(sub_.offset_note, sub_.size_note, max_notes_bytes, "note block");
            notes_ = linux_kernel::decode_core_notes(elf::parse_notes(notes, order_, 4, "kdump note block"), *arch_);
        }
        if (header_.header_version >= 3 && sub_.size_vmcoreinfo != 0) {
            const Bytes text = read_block(sub_.offset_vmcoreinfo, sub_.size_vmcoreinfo,
                                          linux_kernel::max_vmcoreinfo_bytes, "VMCOREINFO");
            notes_.vmcoreinfo = linux_kernel::VmcoreInfo::parse(as_chars(text));
        }
    }

    std::string status_compression() const {
        std::string s;
        for (const std::uint32_t flag : {compressed_zlib, compressed_lzo, compressed_snappy, compressed_zstd})
            if ((header_.status & flag) != 0) s += (s.empty() ? "" : ",") + compression_name(flag);
        return s.empty() ? "none" : s;
    }

    std::shared_ptr<ByteSource> source_;
    std::string name_;
    const ArchInfo* arch_ = nullptr;
    ByteOrder order_ = ByteOrder::little;
    Header header_;
    SubHeader sub_;
    std::uint64_t block_size_ = 0;
    std::uint64_t max_mapnr_ = 0;
    bool two_bitmaps_ = false;
    std::uint64_t ram_map_offset_ = 0;
    std::optional<DumpBitmap> dump_map_;
    std::uint64_t dumped_pages_ = 0;
    std::uint64_t desc_offset_ = 0;
    std::uint64_t data_offset_ = 0;
    linux_kernel::CoreNotes notes_;
    MachineState machine_;

    mutable std::mutex mutex_;
    mutable PageCache pages_;
    mutable std::vector<std::pair<std::uint64_t, Bytes>> desc_chunks_;
};

bool has_signature(const ByteSource& source) {
    std::array<std::byte, 8> sig{};
    if (source.size() < sig.size() || source.read_at(0, sig) != sig.size()) return false;
    return as_chars(sig) == kdump_signature || as_chars(sig) == diskdump_signature;
}

}  // namespace

}  // namespace kvm::kdump

namespace kvm::detail {

std::unique_ptr<Format> open_kdump(std::shared_ptr<ByteSource> source, std::string name) {
    return std::make_unique<kdump::KdumpFormat>(std::move(source), std::move(name));
}

std::unique_ptr<Format> probe_kdump(std::shared_ptr<ByteSource> source, const ProbeOptions& /*options*/) {
    if (!kdump::has_signature(*source)) return nullptr;
    return open_kdump(std::move(source), {});
}

}  // namespace kvm::detail
