#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>

#include "arch/user_translator.h"
#include "core/segment_map.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <vector>

namespace kvm {

namespace {
constexpr std::uint64_t cache_page_shift = 12;

// The translation cache's slot for a page: hashed, because a walk that
// strides through memory (a process list in hash order, structures a
// multiple of 4096 pages apart) would otherwise keep hitting the same few
// slots and miss on every read.
template <std::size_t Entries>
std::size_t hashed_slot(std::uint64_t va_page) {
    return static_cast<std::size_t>((va_page * 0x9e3779b97f4a7c15ull) >> 32) % Entries;
}

// What the translator reads page-table entries with: the dump's physical
// memory, with the last pages of tables kept whole.  A translation reads
// an entry of each level, and the tables are few (one level 1 table maps
// 2 MiB on amd64), so a walk that misses the translation cache on every
// structure would otherwise read the same table pages again and again,
// a read each.  Only small reads within one page (entries) are cached; a
// page that cannot be read whole is read as asked, so errors are the
// format's own.
class TablePageReader {
public:
    explicit TablePageReader(const Format& format) : format_(&format), slots_(std::make_shared<Slots>(slot_count)) {}

    void operator()(std::uint64_t pa, MutableByteSpan out) const {
        const std::uint64_t in_page = pa & (table_page - 1);
        if (out.size() > max_cached_read || in_page + out.size() > table_page) return format_->read_phys(pa, out);
        const std::uint64_t base = pa - in_page;
        Slot& slot =
            (*slots_)[static_cast<std::size_t>(((base / table_page) * 0x9e3779b97f4a7c15ull) >> 32) % slot_count];
        if (slot.base != base) {
            slot.base = empty;
            if (!slot.bytes) slot.bytes = std::make_unique_for_overwrite<std::byte[]>(table_page);
            try {
                format_->read_phys(base, MutableByteSpan(slot.bytes.get(), table_page));
            } catch (const Error&) {
                return format_->read_phys(pa, out);  // the entry alone, or the format's error for it
            }
            slot.base = base;
        }
        std::memcpy(out.data(), slot.bytes.get() + in_page, out.size());
    }

    // Forgets every page (the core was written in place).
    void clear() const {
        for (Slot& s : *slots_)
            s.base = empty;
    }

private:
    static constexpr std::uint64_t table_page = 4096;
    static constexpr std::size_t max_cached_read = 16;
    // A walk across 1 GiB of kernel memory meets 512 level 1 tables;
    // fewer slots than the tables a walk cycles through would miss on
    // every one.  A slot's page is allocated when it is first filled.
    static constexpr std::size_t slot_count = 2048;
    static constexpr std::uint64_t empty = ~std::uint64_t{0};
    struct Slot {
        std::uint64_t base = empty;
        std::unique_ptr<std::byte[]> bytes;
    };
    using Slots = std::vector<Slot>;

    const Format* format_;
    std::shared_ptr<Slots> slots_;  // shared: a PhysReader is copyable
};

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
struct ElfMachine {
    std::uint16_t machine = 0;
    unsigned elf_class = 0;
};

// The namelist's ELF machine and class: from its loaded ELF, else from the
// header of its file (a namelist read through a symbol index has no ELF);
// nullopt for a symbol list (System.map, kallsyms), which names no machine.
std::optional<ElfMachine> namelist_machine(const Namelist& namelist) {
    if (const elf::File* elf = namelist.elf()) return ElfMachine{elf->machine(), elf->elf_class()};
    std::array<std::byte, 20> header{};
    try {
        if (open_file(namelist.path())->read_at(0, header) != header.size()) return std::nullopt;
    } catch (const Error&) {
        return std::nullopt;  // gone since it was loaded: the symbols are what matters
    }
    constexpr std::array<char, 4> magic{'\x7f', 'E', 'L', 'F'};
    for (std::size_t i = 0; i < magic.size(); ++i)
        if (header[i] != std::byte(magic[i])) return std::nullopt;
    const auto data = std::to_integer<unsigned>(header[5]);
    if (data != 1 && data != 2) return std::nullopt;
    return ElfMachine{load16(header.data() + 18, data == 1 ? ByteOrder::little : ByteOrder::big),
                      std::to_integer<unsigned>(header[4])};
}

// A kernel of another machine than the dump's reads as a page-table fault
// at its first symbol; say what is wrong instead.
void check_namelist_machine(const Namelist& namelist, const Format& format, const std::string& core) {
    const ArchInfo* arch = format.machine().arch;
    if (arch == nullptr || arch->elf_machine == 0) return;
    const std::optional<ElfMachine> m = namelist_machine(namelist);
    if (!m) return;
    const bool wide = m->elf_class == elf::elfclass64;
    if (m->machine == arch->elf_machine && wide == (arch->pointer_size == 8)) return;
    const ArchInfo* named = find_arch_by_elf_machine(m->machine, m->elf_class);
    const std::string what = named != nullptr
                                 ? fmt::format("an {} kernel", named->name)
                                 : fmt::format("a kernel for ELF machine {} ({}-bit)", m->machine, wide ? 64 : 32);
    Error e(ErrorKind::format,
            fmt::format("{}, but {} is a dump of an {} machine: give the kernel that crashed", what, core, arch->name));
    e.with_path(namelist.path());
    throw e;
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
    if (namelist) check_namelist_machine(*namelist, *format, options.core);
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
    phys_reader_ = TablePageReader(*format_);

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
    CacheEntry& slot = cache_[hashed_slot<cache_entries>(va_page)];
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
    if (const auto* tables = phys_reader_.target<TablePageReader>()) tables->clear();
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

ProcessAddressSpace::ProcessAddressSpace(const Kernel& kernel, std::uint64_t root) : kernel_(kernel) {
    const MachineState& m = kernel.machine();
    const bool known = std::any_of(all_translators().begin(), all_translators().end(),
                                   [&](const TranslatorInfo& t) { return t.name == m.translator; });
    if (!known)
        throw_unsupported(fmt::format("{}: the dump names no paging scheme to walk another address space with{}",
                                      kernel.format().name(),
                                      m.translator.empty() ? "" : fmt::format(" ({})", m.translator)));
    translator_ = make_user_translator(m.translator, TranslatorParams{.root = root,
                                                                      .order = m.arch->order,
                                                                      .encryption_mask = m.encryption_mask,
                                                                      .granule = m.granule,
                                                                      .va_bits = m.va_bits});
}

Mapping ProcessAddressSpace::translate(std::uint64_t va) const {
    return translator_->translate(va,
                                  [this](std::uint64_t pa, MutableByteSpan b) { kernel_.format().read_phys(pa, b); });
}

PartialRead ProcessAddressSpace::read_partial(std::uint64_t va, MutableByteSpan out) const {
    PartialRead r;
    while (r.bytes < out.size()) {
        const std::uint64_t at = va + r.bytes;
        try {
            const Mapping m = translate(at);
            // A page at a time: a large page may span a hole in the dump.
            const std::size_t n = std::min<std::uint64_t>({out.size() - r.bytes, m.length, 4096 - (m.pa & 4095)});
            try {
                kernel_.format().read_phys(m.pa, out.subspan(r.bytes, n));
            } catch (Error& e) {
                if (e.kind() == ErrorKind::fault) e.add_context(hex(at)).with_address(at);
                throw;
            }
            r.bytes += n;
        } catch (Error& e) {
            r.error = std::move(e);
            break;
        }
    }
    return r;
}

}  // namespace kvm
