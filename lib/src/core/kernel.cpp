#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>

#include "core/segment_map.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>

namespace kvm {

namespace {
constexpr std::uint64_t cache_page_shift = 12;

// A Linux dump's namelist at link-time addresses becomes a relocated copy;
// the caller's (a symbol index's, say) is left as loaded.
std::shared_ptr<const Namelist> adapt_namelist(std::shared_ptr<const Namelist> namelist, const Format& format) {
    const linux_kernel::CoreNotes* notes = linux_kernel::core_notes(format);
    if (notes == nullptr || !notes->vmcoreinfo) return namelist;
    const linux_kernel::NamelistRelocation r =
        linux_kernel::namelist_relocation(*namelist, format.machine(), *notes->vmcoreinfo);
    if (r.delta == 0) return namelist;
    auto copy = std::make_shared<Namelist>(*namelist);
    copy->symbols().relocate(r.delta, r.begin, r.end);
    return copy;
}
}  // namespace

std::unique_ptr<Kernel> Kernel::open(const OpenOptions& options) {
    if (options.core.empty()) throw Error(ErrorKind::usage, "no dump given (-M)");
    std::shared_ptr<const Namelist> namelist = options.loaded_namelist;
    if (!namelist && !options.namelist.empty()) namelist = Namelist::load(options.namelist);
    const OpenMode mode = options.writable ? OpenMode::read_write : OpenMode::read_only;
    auto source = open_file(options.core, mode);
    // The probes see the decompressed bytes: a compressed kcore, ELF vmcore
    // or kdump file is one more source.
    DecompressOptions decompress = options.decompress;
    decompress.path = options.core;
    source = open_decompressed(std::move(source), decompress);
    ProbeOptions probe{.dumplo_blocks = options.dumplo_blocks,
                       .namelist = namelist.get(),
                       .allow_truncated = options.allow_truncated,
                       .zero_excluded = options.zero_excluded,
                       .warn = options.warn};
    for (const std::string& part : options.core_parts)
        probe.split_parts.push_back(open_file(part, mode));
    // A split dump's other files, found next to the first: a name that is
    // not there is no error, just the end of the search.
    probe.open_sibling = [mode](const std::string& path) -> std::shared_ptr<ByteSource> {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return nullptr;
        return open_file(path, mode);
    };
    std::unique_ptr<Format> format = open_format(std::move(source), probe);
    if (namelist) namelist = adapt_namelist(std::move(namelist), *format);
    return std::make_unique<Kernel>(std::move(format), std::move(namelist));
}

Kernel::Kernel(std::unique_ptr<Format> format, std::shared_ptr<const Namelist> namelist)
    : format_(std::move(format)), namelist_(std::move(namelist)) {
    const MachineState& m = format_->machine();
    if (m.arch == nullptr)
        throw Error(ErrorKind::usage, fmt::format("{}: format names no architecture", format_->name()));
    translator_ = format_->make_own_translator();
    if (!translator_ && !m.translator.empty())
        translator_ = make_translator(m.translator, TranslatorParams{.root = m.pt_root,
                                                                     .order = m.arch->order,
                                                                     .encryption_mask = m.encryption_mask,
                                                                     .granule = m.granule,
                                                                     .va_bits = m.va_bits});
    phys_reader_ = [this](std::uint64_t pa, MutableByteSpan out) { format_->read_phys(pa, out); };

    // Earlier ranges win where they overlap; ranges that wrap or reach the
    // last address are dropped.
    std::vector<LinearRange> linear = m.linear;
    if (namelist_ && translator_)
        if (const auto image = linux_kernel::image_range(*format_, *namelist_); image && shortcut_agrees(*image))
            linear.push_back(*image);
    std::vector<detail::Segment> ranges;
    for (const LinearRange& r : linear)
        if (r.size != 0 && r.size <= ~r.va && r.size <= ~r.pa)
            ranges.push_back({.start = r.va, .size = r.size, .target = r.pa, .file_size = r.size});
    const detail::SegmentMap merged(ranges);  // named: segments() views it
    for (const detail::Segment& s : merged.segments())
        linear_.push_back({.va = s.start, .size = s.size, .pa = s.target});
}

Kernel::~Kernel() = default;

// A shortcut must answer as the walk would: its first and last pages are
// checked against the page tables, and one that disagrees (a namelist of
// another build, a relocated image) is not used.
bool Kernel::shortcut_agrees(const LinearRange& range) const {
    for (const std::uint64_t off : {std::uint64_t{0}, (range.size - 1) & ~std::uint64_t{4095}}) {
        try {
            if (translator_->translate(range.va + off, phys_reader_).pa != range.pa + off) return false;
        } catch (const Error&) {
            return false;
        }
    }
    return true;
}

const Namelist& Kernel::namelist() const {
    if (!namelist_) throw Error(ErrorKind::usage, "no namelist given (-N system)");
    return *namelist_;
}

std::uint64_t Kernel::symbol_value(std::string_view nlist_name) const {
    const Symbol* s = symbols().lookup(nlist_name);
    if (s == nullptr) throw_not_found(fmt::format("{}: no such symbol", nlist_name));
    return s->value;
}

Mapping Kernel::walk(std::uint64_t va) const {
    const auto it = std::upper_bound(linear_.begin(), linear_.end(), va,
                                     [](std::uint64_t a, const LinearRange& r) { return a < r.va; });
    if (it != linear_.begin() && va - std::prev(it)->va < std::prev(it)->size) {
        const LinearRange& r = *std::prev(it);
        const std::uint64_t off = va - r.va;
        // Linear ranges act as one page each; cap the chunk at 4 KiB so
        // the cache stays page-granular.
        const std::uint64_t page_off = va & ((1u << cache_page_shift) - 1);
        return {.va = va,
                .pa = r.pa + off,
                .length = std::min(r.size - off, (1u << cache_page_shift) - page_off),
                .page_size = 1u << cache_page_shift};
    }
    if (!translator_) {
        const auto source = machine().info.find("pt_root.source");
        throw_fault(va, fmt::format("{}: not in a linear range, and the dump names no page tables to walk{}", hex(va),
                                    source != machine().info.end() ? " (" + source->second + ")" : ""));
    }
    return translator_->translate(va, phys_reader_);
}

Mapping Kernel::translate(std::uint64_t va) const {
    const std::uint64_t va_page = va >> cache_page_shift;
    CacheEntry& slot = cache_[va_page % cache_entries];
    if (slot.va_page == va_page) {
        const std::uint64_t in_page_base = slot.pa_page;  // pa of the 4 KiB sub-page containing va
        const std::uint64_t off = va & ((1u << cache_page_shift) - 1);
        // Length to the end of the (possibly large) page.
        const std::uint64_t large_off = va & (slot.page_size - 1);
        return {.va = va, .pa = in_page_base + off, .length = slot.page_size - large_off, .page_size = slot.page_size};
    }
    const Mapping m = walk(va);
    // Cache the 4 KiB sub-page, when the mapping runs to the end of a
    // power-of-two page (a large page fills one slot per sub-page used).
    const std::uint64_t page = std::max<std::uint64_t>(m.page_size, 1u << cache_page_shift);
    if ((page & (page - 1)) == 0 && m.length == page - (va & (page - 1))) {
        slot.va_page = va_page;
        slot.pa_page = m.pa - (va & ((1u << cache_page_shift) - 1));
        slot.page_size = page;
    }
    return m;
}

void Kernel::flush_cache() const {
    cache_.fill(CacheEntry{});
}

PartialRead Kernel::read_partial(std::uint64_t va, MutableByteSpan out) const {
    PartialRead r;
    while (r.bytes < out.size()) {
        const std::uint64_t at = va + r.bytes;
        try {
            // Memory the dump keeps by virtual address comes first.
            if (const std::size_t direct = format_->read_virtual(at, out.subspan(r.bytes)); direct != 0) {
                r.bytes += direct;
                continue;
            }
            const Mapping m = translate(at);
            const std::size_t n = std::min<std::uint64_t>(out.size() - r.bytes, m.length);
            try {
                format_->read_phys(m.pa, out.subspan(r.bytes, n));
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::fault) throw;
                // A large page can span a hole in the dump: find the exact
                // readable prefix page by page, then fail where it ends.
                std::size_t ok = 0;
                while (ok < n) {
                    const std::size_t step = std::min<std::uint64_t>(n - ok, 4096 - ((m.pa + ok) & 4095));
                    try {
                        format_->read_phys(m.pa + ok, out.subspan(r.bytes + ok, step));
                    } catch (Error& inner) {
                        r.bytes += ok;
                        // Name the virtual address asked for, then the physical one missing.
                        if (inner.kind() == ErrorKind::fault) inner.add_context(hex(at + ok)).with_address(at + ok);
                        throw;
                    }
                    ok += step;
                }
                // Readable page by page after all (the fault was transient).
            }
            r.bytes += n;
        } catch (Error& e) {
            r.error = std::move(e);
            break;
        }
    }
    return r;
}

void Kernel::read(std::uint64_t va, MutableByteSpan out) const {
    PartialRead r = read_partial(va, out);
    if (r.error) throw *r.error;
}

PartialRead Kernel::read_phys_partial(std::uint64_t pa, MutableByteSpan out) const {
    PartialRead r;
    try {
        format_->read_phys(pa, out);
        r.bytes = out.size();
        return r;
    } catch (const Error&) {  // NOLINT(bugprone-empty-catch): found again below, at its page
    }
    // Page by page up to the first that cannot be read.
    while (r.bytes < out.size()) {
        const std::uint64_t at = pa + r.bytes;
        const std::size_t step = std::min<std::uint64_t>(out.size() - r.bytes, 4096 - (at & 4095));
        try {
            format_->read_phys(at, out.subspan(r.bytes, step));
        } catch (Error& e) {
            r.error = std::move(e);
            break;
        }
        r.bytes += step;
    }
    return r;
}

std::uint64_t Kernel::read_uint(std::uint64_t va, unsigned width) const {
    std::array<std::byte, 8> buf{};
    if (width != 1 && width != 2 && width != 4 && width != 8)
        throw Error(ErrorKind::usage, fmt::format("integer width {} is not 1, 2, 4 or 8", width));
    read(va, MutableByteSpan(buf.data(), width));
    return load_uint(buf.data(), width, order());
}

std::uint64_t Kernel::read_pointer(std::uint64_t va) const {
    return read_uint(va, pointer_size());
}

std::string Kernel::read_string(std::uint64_t va, std::size_t max) const {
    std::string s;
    std::array<std::byte, 256> buf{};
    while (s.size() < max) {
        // Stay within one page per read so a string ending just before an
        // unmapped page reads fine.
        const std::uint64_t at = va + s.size();
        const std::size_t to_page_end = 4096 - (at & 4095);
        const std::size_t n = std::min({buf.size(), max - s.size(), to_page_end});
        read(at, MutableByteSpan(buf.data(), n));
        const auto* begin = reinterpret_cast<const char*>(buf.data());
        const auto* nul = static_cast<const char*>(std::memchr(begin, 0, n));
        if (nul != nullptr) {
            s.append(begin, nul);
            return s;
        }
        s.append(begin, n);
    }
    return s;
}

std::uint64_t Kernel::kva_to_offset(std::uint64_t va) const {
    if (const auto direct = format_->virtual_to_offset(va)) return *direct;
    const Mapping m = translate(va);
    const auto off = format_->phys_to_offset(m.pa);
    if (!off)
        throw_fault(va, fmt::format("{}: physical address {:#x} is not stored raw in this {} dump", hex(va), m.pa,
                                    format_->name()));
    return *off;
}

}  // namespace kvm
