// kdump-compressed files: header, sub-header, bitmaps and page descriptors
// decoded field by field (layout in kdump.h); pages read on demand,
// decompressed by their descriptor's codec (kdump_codec.h) and kept in a
// bounded cache.  A split dump (makedumpfile --split) is one bitmap, the
// first file's, over several files that each hold the descriptors and pages
// of their own pfn range.
#include "format/kdump.h"
#include "format/kdump_bitmap.h"

#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/linux.h>

#include "format/kdump_codec.h"
#include "format/linux_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <functional>
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
    const std::uint32_t compression = flags & compression_mask;
    if (const Codec* c = find_codec(compression)) return std::string(c->name);
    return fmt::format("unknown compression {:#x}", compression);
}

std::string dump_level_text(std::int32_t level) {
    // makedumpfile -d: each bit leaves out one kind of page.
    static constexpr std::array<std::string_view, 5> kinds{"zero", "cache", "cache private", "user data", "free"};
    std::vector<std::string_view> out;
    for (std::size_t bit = 0; bit < kinds.size(); ++bit)
        if ((static_cast<std::uint32_t>(level) >> bit & 1u) != 0) out.push_back(kinds[bit]);
    std::string s = fmt::format("dump level {}", level);
    for (std::size_t i = 0; i < out.size(); ++i)
        s += fmt::format("{}{}", i == 0 ? ": " : i + 1 == out.size() ? " and " : ", ", out[i]);
    return out.empty() ? s : s + " pages";
}

std::optional<NumberedName> numbered_name(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    const std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
    std::size_t digits = path.size();
    while (digits > name_start && path[digits - 1] >= '0' && path[digits - 1] <= '9')
        --digits;
    const std::size_t count = path.size() - digits;
    if (count == 0 || count > 9) return std::nullopt;
    return NumberedName{.stem = path.substr(0, digits),
                        .number = std::stoull(path.substr(digits)),
                        .width = path[digits] == '0' && count > 1 ? count : 0};
}

std::string NumberedName::with(std::uint64_t n) const {
    return fmt::format("{}{:0{}}", stem, n, width);
}

namespace {

// utsname.machine to the arch table.  64-bit little-endian layouts only:
// QEMU writes its i386 ("i686") dumps in them too, as it writes ELF64 cores
// for that guest; a 32-bit makedumpfile's i386 layout is not read.
struct MachineRow {
    std::string_view uts_machine;
    std::string_view arch;
};
constexpr std::array machine_rows{MachineRow{"x86_64", "amd64"}, MachineRow{"aarch64", "arm64"},
                                  MachineRow{"i686", "i386"}};
constexpr std::string_view qemu_unnamed_machine = "Unknown";

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
    KdumpFormat(std::shared_ptr<ByteSource> source, std::string name, const ProbeOptions& options)
        : source_(std::move(source)),
          name_(name.empty() ? "kdump" : std::move(name)),
          zero_excluded_(options.zero_excluded),
          warn_(options.warn),
          pages_(page_cache_pages) {
        const Bytes head = source_->read_bytes(0, header_size, "kdump header");

        // The arch (from utsname.machine) fixes the byte order and layout.
        // QEMU names only x86 machines and writes "Unknown" for the others
        // (its arm64 dumps); such a dump's arch is the one whose NT_PRSTATUS
        // its notes hold (read_notes), its layout the 64-bit little-endian one.
        const std::string machine = fixed_field(head, machine_offset, utsname_field);
        if (machine.empty()) throw_unsupported("the kdump header names no machine (utsname.machine is empty)");
        for (const MachineRow& row : machine_rows)
            if (row.uts_machine == machine) arch_ = find_arch(row.arch);
        if (arch_ == nullptr && machine != qemu_unnamed_machine)
            throw_unsupported(fmt::format(
                "a kdump-compressed dump of a {} machine: kvmkit reads x86_64, aarch64 and i686 ones only", machine));
        order_ = arch_ != nullptr ? arch_->order : ByteOrder::little;
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

        // Page descriptors: in each file of a split dump, at the same offset.
        desc_offset_ = checked_add(bitmap_offset, bitmap_bytes, "page descriptor table offset");
        if (sub_.split != 0)
            find_split_files(options);
        else
            files_.push_back({.source = source_, .start_pfn = 0, .end_pfn = max_mapnr_});
        for (File& f : files_)
            index_file(f);

        read_notes();
        machine_ = linux_kernel::machine_state(*arch_, notes_);
        machine_.info["kdump.header_version"] = std::to_string(header_.header_version);
        machine_.info["kdump.dump_level"] = std::to_string(sub_.dump_level);
        machine_.info["kdump.phys_base"] =
            fmt::format("{:#x} (sub-header; not used, VMCOREINFO's counts)", sub_.phys_base);
        machine_.info["kdump.compression"] = status_compression();
        if ((header_.status & status_incomplete) != 0) machine_.info["kdump.incomplete"] = "yes";
        if (sub_.split != 0) {
            std::string names;
            for (const File& f : files_)
                names += fmt::format("{}{} (pfns {:#x}-{:#x})", names.empty() ? "" : ", ", f.source->name(),
                                     f.start_pfn, f.end_pfn);
            machine_.info["kdump.split"] = names;
        }
    }

    std::string_view name() const override { return name_; }
    const MachineState& machine() const override { return machine_; }
    const linux_kernel::CoreNotes& core_notes() const override { return notes_; }
    std::size_t file_count() const override { return files_.size(); }

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
            if (e.kind() != ErrorKind::fault && e.path().empty()) e.with_path(source_->name());
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
        const File& f = file_of(pfn);
        if (f.source != source_) return std::nullopt;  // offsets are source()'s
        const std::lock_guard lock(mutex_);
        const PageDesc desc = descriptor(f, rank(pfn) - f.first_index);
        if ((desc.flags & compression_mask) != 0 || desc.size != block_size_ || desc.offset < 0) return std::nullopt;
        return static_cast<std::uint64_t>(desc.offset) + pa % block_size_;
    }

    const ByteSource& source() const override { return *source_; }
    ByteSource& source() override { return *source_; }

private:
    // One file of the dump and the pfns whose descriptors it holds.
    struct File {
        std::shared_ptr<ByteSource> source;
        std::uint64_t start_pfn = 0;
        std::uint64_t end_pfn = 0;
        std::uint64_t first_index = 0;  // descriptors before its first one, over the whole dump
        std::uint64_t pages = 0;        // descriptors it holds
        std::uint64_t data_offset = 0;  // where its page data starts
    };

    bool dumped(std::uint64_t pfn) const { return dump_map_->test(pfn); }

    // The index of pfn's descriptor: the set bits before it.
    std::uint64_t rank(std::uint64_t pfn) const { return dump_map_->rank(pfn); }

    // ------------------------------------------------------------ split dumps

    // A split dump's other files: those given, else those named like the
    // first (numbers below it, then above it) until every pfn is covered.
    void find_split_files(const ProbeOptions& options) {
        files_.push_back(*split_file(source_, true));
        const bool given = !options.split_parts.empty();
        if (given) {
            if (options.split_parts.size() + 1 > max_split_files)
                throw Error(ErrorKind::usage,
                            fmt::format("{} files given for one split dump, more than the {} accepted",
                                        options.split_parts.size() + 1, max_split_files));
            for (const auto& part : options.split_parts)
                files_.push_back(*split_file(as_kdump(part), true));
        } else if (const auto numbered = numbered_name(source_->name()); numbered && options.open_sibling) {
            for (const bool down : {true, false})
                for (std::uint64_t n = numbered->number; !covered() && files_.size() < max_split_files;) {
                    if (down && n == 0) break;
                    n = down ? n - 1 : n + 1;
                    const auto sibling = options.open_sibling(numbered->with(n));
                    // A file of another dump next to the set ends the search.
                    const auto file = sibling ? split_file(as_kdump(sibling), false) : std::nullopt;
                    if (!file) break;
                    files_.push_back(*file);
                }
        }
        std::sort(files_.begin(), files_.end(), [](const File& a, const File& b) { return a.start_pfn < b.start_pfn; });
        std::uint64_t next = 0;
        for (std::size_t i = 0; i < files_.size() && files_[i].start_pfn <= next; ++i) {
            if (files_[i].start_pfn < next)
                throw_corrupt(fmt::format("the files of the split dump overlap: {} and {} both hold pfn {:#x}",
                                          files_[i - 1].source->name(), files_[i].source->name(), files_[i].start_pfn));
            next = files_[i].end_pfn;
        }
        if (next == max_mapnr_) return;
        std::string names;
        std::uint64_t resume = max_mapnr_;
        for (const File& f : files_) {
            names += fmt::format("{}{} (pfns {:#x}-{:#x})", names.empty() ? "" : ", ", f.source->name(), f.start_pfn,
                                 f.end_pfn);
            if (f.start_pfn > next) resume = std::min(resume, f.start_pfn);
        }
        throw_not_found(
            fmt::format("a split dump (makedumpfile --split) whose files {} leave pfns {:#x}-{:#x} out: "
                        "name every file of the set with -M{}",
                        names, next, resume, given ? "" : ", or keep them beside it as NAME.1, NAME.2, ..."));
    }

    // True when the files found so far cover every pfn.
    bool covered() const {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
        for (const File& f : files_)
            ranges.emplace_back(f.start_pfn, f.end_pfn);
        std::sort(ranges.begin(), ranges.end());
        std::uint64_t next = 0;
        for (const auto& [start, end] : ranges) {
            if (start != next) return false;
            next = end;
        }
        return next == max_mapnr_;
    }

    // A split dump's file as written by makedumpfile -F reads through its
    // reassembled view, as the first one does.
    static std::shared_ptr<ByteSource> as_kdump(std::shared_ptr<ByteSource> part) {
        return detail::is_flattened(*part) ? detail::open_flattened_source(std::move(part)) : part;
    }

    // One file of a split dump: the same header as the first (what
    // makedumpfile --reassemble checks), and the pfns it holds.  A file
    // that is not one is an error when `required`, else nullopt.
    std::optional<File> split_file(const std::shared_ptr<ByteSource>& part, bool required) const {
        try {
            std::array<std::byte, 8> sig{};
            if (part->read_at(0, sig) != sig.size() || as_chars(sig) != header_.signature) {
                if (!required) return std::nullopt;
                throw_format("not a file of the split dump: not a kdump-compressed file");
            }
            const Header h = decode_header(part->read_bytes(0, header_size, "kdump header"), order_);
            std::string mismatch;
            const auto differs = [&mismatch](std::string_view field, auto mine, auto first) {
                if (mine != first && mismatch.empty())
                    mismatch = fmt::format("not a file of the same split dump: {} is {}, the first file's {}", field,
                                           mine, first);
            };
            differs("the header version", h.header_version, header_.header_version);
            differs("utsname.machine", h.machine, header_.machine);
            differs("utsname.release", h.release, header_.release);
            differs("the block size", h.block_size, header_.block_size);
            differs("the sub-header size", h.sub_hdr_size, header_.sub_hdr_size);
            differs("the bitmap size", h.bitmap_blocks, header_.bitmap_blocks);
            differs("max_mapnr", h.max_mapnr, header_.max_mapnr);
            SubHeader sub;
            if (mismatch.empty()) {
                sub = decode_sub_header(
                    part->read_bytes(block_size_, sub_header_bytes(h.header_version), "kdump sub-header"), order_,
                    h.header_version);
                differs("max_mapnr_64", sub.max_mapnr_64, sub_.max_mapnr_64);
                if (sub.split == 0 && mismatch.empty())
                    mismatch = "not a file of a split dump: its sub-header's split is 0";
            }
            if (!mismatch.empty()) {
                if (!required) return std::nullopt;
                throw_format(mismatch);
            }
            const bool wide = h.header_version >= 6;
            File f{.source = part,
                   .start_pfn = wide ? sub.start_pfn_64 : sub.start_pfn,
                   .end_pfn = wide ? sub.end_pfn_64 : sub.end_pfn};
            if (f.start_pfn >= f.end_pfn || f.end_pfn > max_mapnr_)
                throw_corrupt(
                    fmt::format("kdump sub-header: split pfns {:#x}-{:#x} are not a range within max_mapnr "
                                "{:#x}",
                                f.start_pfn, f.end_pfn, max_mapnr_));
            return f;
        } catch (Error& e) {
            e.with_path(part->name());
            throw;
        }
    }

    // The descriptors of a file's pfns: where they start in the dump's
    // order, and that the file holds them.
    void index_file(File& f) const {
        f.first_index = rank(f.start_pfn);
        f.pages = rank(f.end_pfn) - f.first_index;
        const std::uint64_t desc_end =
            checked_add(desc_offset_, checked_mul(f.pages, page_desc_size, "page descriptor table size"),
                        "page descriptor table end");
        if (desc_end > f.source->size()) {
            Error e(ErrorKind::corrupt,
                    fmt::format("truncated: the {} page descriptors need bytes up to {:#x}, but the file has {:#x}",
                                f.pages, desc_end, f.source->size()));
            e.with_path(f.source->name());
            throw e;
        }
        f.data_offset = desc_end;
    }

    const File& file_of(std::uint64_t pfn) const {
        const auto it = std::upper_bound(files_.begin(), files_.end(), pfn,
                                         [](std::uint64_t p, const File& f) { return p < f.start_pfn; });
        return *std::prev(it);  // the files cover every pfn from 0
    }

    // ------------------------------------------------------------ pages

    // Descriptor `index` of a file (counted from its first).
    PageDesc descriptor(const File& f, std::uint64_t index) const {
        const std::uint64_t chunk = index / descs_per_chunk;
        const Bytes* bytes = nullptr;
        for (const auto& [key, data] : desc_chunks_)
            if (key.first == &f && key.second == chunk) bytes = &data;
        if (bytes == nullptr) {
            const std::uint64_t first = chunk * descs_per_chunk;
            const std::uint64_t count = std::min<std::uint64_t>(descs_per_chunk, f.pages - first);
            Bytes data =
                f.source->read_bytes(desc_offset_ + first * page_desc_size, count * page_desc_size, "page descriptors");
            if (desc_chunks_.size() >= desc_chunks_cached) desc_chunks_.erase(desc_chunks_.begin());
            desc_chunks_.emplace_back(std::make_pair(&f, chunk), std::move(data));
            bytes = &desc_chunks_.back().second;
        }
        const std::uint64_t at = (index % descs_per_chunk) * page_desc_size;
        return decode_page_desc(ByteSpan(*bytes).subspan(at, page_desc_size), order_);
    }

    // Whether the RAM bitmap has the pfn: one the dump bitmap lacks was
    // left out by the dump level.
    bool in_ram(std::uint64_t pfn) const {
        if (!two_bitmaps_ || pfn >= max_mapnr_) return false;
        std::array<std::byte, 1> b{};
        if (source_->read_at(ram_map_offset_ + pfn / 8, b) != 1) return false;
        return (std::to_integer<unsigned>(b[0]) >> (pfn % 8) & 1u) != 0;
    }

    const Bytes& load_page(std::uint64_t pfn, std::uint64_t pa) const {
        if (const Bytes* cached = pages_.find(pfn)) return *cached;
        if (pfn >= max_mapnr_ || !dumped(pfn)) {
            if (!in_ram(pfn)) throw_fault(pa, fmt::format("physical address {:#x} is not in the dump", pa));
            const std::string excluded =
                fmt::format("physical address {:#x} (pfn {:#x}) was excluded from the dump ({})", pa, pfn,
                            dump_level_text(sub_.dump_level));
            if (!zero_excluded_) throw_fault(pa, excluded);
            if (zero_page_.empty()) {
                zero_page_.assign(block_size_, std::byte{0});
                if (warn_)
                    warn_(fmt::format("{}: {}: read as zeros, as is every excluded page (--zero-excluded)",
                                      source_->name(), excluded));
            }
            return zero_page_;
        }
        const File& f = file_of(pfn);
        try {
            return pages_.insert(pfn, read_page(f, pfn, pa));
        } catch (Error& e) {
            if (e.kind() != ErrorKind::fault) e.with_path(f.source->name());
            throw;
        }
    }

    // The page of a dumped pfn, from its descriptor in file `f`.
    Bytes read_page(const File& f, std::uint64_t pfn, std::uint64_t pa) const {
        const std::uint64_t index = rank(pfn) - f.first_index;
        const PageDesc desc = descriptor(f, index);
        const std::string what = fmt::format("pfn {:#x} (page descriptor {})", pfn, index);
        if (desc.size == 0) {
            if ((header_.status & status_incomplete) != 0)
                throw_fault(pa, fmt::format("physical address {:#x} was not written: the dump is incomplete", pa));
            throw_corrupt(fmt::format("{}: size 0", what));
        }
        if (desc.offset < 0 || static_cast<std::uint64_t>(desc.offset) < f.data_offset)
            throw_corrupt(fmt::format("{}: data offset {:#x} is before the page data, which starts at {:#x}", what,
                                      desc.offset, f.data_offset));
        const auto offset = static_cast<std::uint64_t>(desc.offset);
        const std::uint32_t compression = desc.flags & compression_mask;
        const std::string data_name =
            compression == 0 ? std::string("data") : fmt::format("{} data", compression_name(compression));
        if (desc.size > block_size_)
            throw_corrupt(fmt::format("{}: {} bytes of {} at offset {:#x} for a {}-byte page", what, desc.size,
                                      data_name, offset, block_size_));
        if (offset > f.source->size() || desc.size > f.source->size() - offset)
            throw_corrupt(fmt::format("truncated: {} needs {} bytes at offset {:#x}, but the file has {:#x}", what,
                                      desc.size, offset, f.source->size()));
        Bytes data = f.source->read_bytes(offset, desc.size, what);
        if (compression == 0) {
            if (desc.size != block_size_)
                throw_corrupt(fmt::format("{}: an uncompressed page of {} bytes at offset {:#x}, not {}", what,
                                          desc.size, offset, block_size_));
            return data;
        }
        if (std::popcount(compression) != 1)
            throw_corrupt(fmt::format("{}: flags {:#x} name more than one compression", what, desc.flags));
        const Codec* codec = find_codec(compression);
        Bytes page(block_size_);
        const DecodeResult r = codec->decode(data, page);
        if (!r.error.empty())
            throw_corrupt(fmt::format("{}: the {} ({} bytes at offset {:#x}) does not decompress to a page: {}", what,
                                      data_name, desc.size, offset, r.error));
        if (r.size != block_size_)
            throw_corrupt(
                fmt::format("{}: the {} ({} bytes at offset {:#x}) decompresses to {} bytes, not a {}-byte "
                            "page",
                            what, data_name, desc.size, offset, r.size, block_size_));
        return page;
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
            const auto parsed = elf::parse_notes(notes, order_, 4, "kdump note block");
            if (arch_ == nullptr) arch_ = detail::arch_of_prstatus(parsed, 8);
            if (arch_ == nullptr)
                throw_unsupported(
                    fmt::format("the kdump header names the machine \"{}\" and no NT_PRSTATUS note "
                                "is one of a 64-bit machine kvmkit reads (x86_64, aarch64)",
                                qemu_unnamed_machine));
            notes_ = linux_kernel::decode_core_notes(parsed, *arch_);
        }
        if (arch_ == nullptr)
            throw_unsupported(fmt::format("the kdump header names the machine \"{}\" and holds no notes to tell it by",
                                          qemu_unnamed_machine));
        if (header_.header_version >= 3 && sub_.size_vmcoreinfo != 0) {
            const Bytes text = read_block(sub_.offset_vmcoreinfo, sub_.size_vmcoreinfo,
                                          linux_kernel::max_vmcoreinfo_bytes, "VMCOREINFO");
            notes_.vmcoreinfo = linux_kernel::VmcoreInfo::parse(as_chars(text));
        }
    }

    std::string status_compression() const {
        std::string s;
        for (const Codec& c : all_codecs())
            if ((header_.status & c.flag) != 0) s += (s.empty() ? "" : ",") + std::string(c.name);
        return s.empty() ? "none" : s;
    }

    std::shared_ptr<ByteSource> source_;
    std::string name_;
    bool zero_excluded_ = false;
    std::function<void(const std::string&)> warn_;
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
    std::vector<File> files_;  // sorted by start_pfn; one unless the dump is split
    linux_kernel::CoreNotes notes_;
    MachineState machine_;

    mutable std::mutex mutex_;
    mutable PageCache pages_;
    mutable std::vector<std::pair<std::pair<const File*, std::uint64_t>, Bytes>> desc_chunks_;
    mutable Bytes zero_page_;  // excluded pages read as zeros; empty until the first
};

bool has_signature(const ByteSource& source) {
    std::array<std::byte, 8> sig{};
    if (source.size() < sig.size() || source.read_at(0, sig) != sig.size()) return false;
    return as_chars(sig) == kdump_signature || as_chars(sig) == diskdump_signature;
}

}  // namespace

}  // namespace kvm::kdump

namespace kvm::detail {

std::unique_ptr<Format> open_kdump(std::shared_ptr<ByteSource> source, std::string name, const ProbeOptions& options) {
    return std::make_unique<kdump::KdumpFormat>(std::move(source), std::move(name), options);
}

std::unique_ptr<Format> probe_kdump(std::shared_ptr<ByteSource> source, const ProbeOptions& options) {
    if (!kdump::has_signature(*source)) return nullptr;
    return open_kdump(std::move(source), {}, options);
}

}  // namespace kvm::detail
