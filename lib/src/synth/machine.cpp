// A synthetic crashed NetBSD machine: kernel image, variables, heap, page
// tables and the dump the kernel would write, with every byte known.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace kvm::synth {

struct CrashedMachine::Region {
    char section;
    std::string name;
    std::uint32_t type;
    std::uint64_t flags;
    std::uint64_t base;
    std::uint64_t limit;
    std::uint64_t next;
    std::uint64_t page_size;
    Bytes data;  // initial contents (not for bss)
};

namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t gib = 1024 * mib;
constexpr std::uint64_t small_page = 4 * kib;

// Section indexes kernel_elf() gives: .text, .rodata, .data, .bss.
constexpr std::uint16_t section_index(char section) {
    switch (section) {
        case 't':
            return 1;
        case 'r':
            return 2;
        case 'd':
            return 3;
        default:
            return 4;
    }
}

// Kernel virtual layout per arch, close to NetBSD's: the image above
// KERNBASE on large pages, data and bss on 4 KiB pages, a heap, and on
// amd64 a direct map of all RAM on 1 GiB pages.
struct VaLayout {
    std::uint64_t text, rodata, data, bss, bss_end;
    std::uint64_t heap, heap_size;
    std::uint64_t large_page;
    std::uint64_t direct_map;  // 0: none
};

VaLayout layout_for(const ArchInfo& arch, bool pae) {
    if (arch.name == "amd64")
        return {.text = 0xffffffff80200000,
                .rodata = 0xffffffff81000000,
                .data = 0xffffffff81800000,
                .bss = 0xffffffff81c00000,
                .bss_end = 0xffffffff82000000,
                .heap = 0xffffc00000000000,
                .heap_size = 1 * gib,
                .large_page = 2 * mib,
                .direct_map = 0xffff800000000000};
    // i386: large pages are 4 MiB, or 2 MiB with PAE.
    return {.text = 0xc0400000,
            .rodata = 0xc0c00000,
            .data = 0xc1000000,
            .bss = 0xc1400000,
            .bss_end = 0xc1800000,
            .heap = 0xc8000000,
            .heap_size = 128 * mib,
            .large_page = pae ? 2 * mib : 4 * mib,
            .direct_map = 0};
}

std::vector<netbsd::RamSegment> default_ram(const ArchInfo& arch) {
    if (arch.name == "amd64") return {{0x1000, 0x9e000}, {0x100000, 0xd00000}, {0x1000000, 0x400000}};
    return {{0x1000, 0x9e000}, {0x100000, 0xf00000}, {0x1400000, 0x800000}};
}

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (char c : s)
        h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h;
}

// Machine-code-like bytes: a frame-pointer prologue, a body that depends on
// the name, a return, and int3 padding.
Bytes function_body(std::string_view name, std::uint64_t size) {
    Bytes b(size, std::byte{0xcc});
    static constexpr std::array<unsigned char, 4> prologue{0x55, 0x48, 0x89, 0xe5};
    std::uint64_t h = fnv1a(name);
    for (std::size_t i = 0; i < size; ++i) {
        if (i < prologue.size()) {
            b[i] = static_cast<std::byte>(prologue[i]);
        } else if (i + 1 == size) {
            b[i] = std::byte{0xc3};
        } else {
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            b[i] = static_cast<std::byte>(h >> 56);
        }
    }
    return b;
}

}  // namespace

CrashedMachine::CrashedMachine(MachineSpec spec) : spec_(std::move(spec)) {
    arch_ = find_arch(spec_.arch);
    if (arch_ == nullptr) throw Error(ErrorKind::usage, fmt::format("no such arch: {}", spec_.arch));
    if (spec_.pae && arch_->name != "i386") throw Error(ErrorKind::usage, "PAE is an i386 paging mode");
    const VaLayout va = layout_for(*arch_, spec_.pae);
    memory_ = std::make_unique<PhysMemory>(spec_.ram.empty() ? default_ram(*arch_) : spec_.ram, arch_->page_size);
    memory_->set_seed(spec_.seed);
    memory_->set_filler(spec_.realistic_memory ? realistic_filler(spec_.seed, va.heap) : zero_filler());
    tables_ = make_page_table_builder(translator(), *memory_, arch_->order);

    // Each region runs up to the next one.
    const auto add_region = [&](char section, std::string name, std::uint32_t type, std::uint64_t flags,
                                std::uint64_t base, std::uint64_t limit, std::uint64_t page_size) {
        regions_.push_back(
            std::make_unique<Region>(Region{section, std::move(name), type, flags, base, limit, base, page_size, {}}));
    };
    add_region('t', ".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr, va.text, va.rodata, va.large_page);
    add_region('r', ".rodata", elf::sht_progbits, elf::shf_alloc, va.rodata, va.data, va.large_page);
    add_region('d', ".data", elf::sht_progbits, elf::shf_alloc | elf::shf_write, va.data, va.bss, small_page);
    add_region('b', ".bss", elf::sht_nobits, elf::shf_alloc | elf::shf_write, va.bss, va.bss_end, small_page);
    heap_next_ = va.heap;
    heap_end_ = va.heap + va.heap_size;

    if (va.direct_map != 0) {
        // All RAM through 1 GiB pages; the holes between segments are
        // mapped too, as on real hardware, and read as "not in the dump".
        std::uint64_t top = 0;
        for (const auto& seg : memory_->ram())
            top = std::max(top, seg.start + seg.size);
        for (std::uint64_t pa = 0; pa < top; pa += gib)
            tables_->map(va.direct_map + pa, pa, gib);
    }
    define_standard_symbols();
}

CrashedMachine::~CrashedMachine() = default;

std::string_view CrashedMachine::translator() const {
    if (arch_->name == "amd64") return "amd64";
    return spec_.pae ? "i386-pae" : "i386";
}

std::uint64_t CrashedMachine::pt_root() const {
    return tables_->root();
}

CrashedMachine::Region& CrashedMachine::region(char section) {
    for (auto& r : regions_)
        if (r->section == section) return *r;
    throw Error(ErrorKind::usage, fmt::format("no section '{}'", section));
}

void CrashedMachine::map_page(std::uint64_t va, std::uint64_t page_size) {
    const std::uint64_t pa = memory_->alloc_pages(page_size / small_page, page_size);
    // Mapped pages hold what the kernel put there: zeros until written.
    static const Bytes zero_page(small_page);
    for (std::uint64_t off = 0; off < page_size; off += small_page)
        memory_->write(pa + off, zero_page);
    tables_->map(va, pa, page_size);
    mapped_[va] = {pa, page_size};
}

void CrashedMachine::ensure_mapped(std::uint64_t va, std::uint64_t size, std::uint64_t page_size) {
    const std::uint64_t end = va + std::max<std::uint64_t>(size, 1);
    for (std::uint64_t p = va & ~(page_size - 1); p < end; p += page_size) {
        auto it = mapped_.upper_bound(p);
        if (it != mapped_.begin() && p - std::prev(it)->first < std::prev(it)->second.second) continue;
        map_page(p, page_size);
    }
}

std::uint64_t CrashedMachine::virt_to_phys(std::uint64_t va) const {
    auto it = mapped_.upper_bound(va);
    if (it == mapped_.begin() || va - std::prev(it)->first >= std::prev(it)->second.second) {
        if (arch_->name == "amd64") {
            const VaLayout layout = layout_for(*arch_, false);
            if (va - layout.direct_map < 64 * gib) return va - layout.direct_map;
        }
        throw Error(ErrorKind::usage, fmt::format("synthetic machine: {} is not mapped", hex(va)));
    }
    --it;
    return it->second.first + (va - it->first);
}

std::uint64_t CrashedMachine::direct_map(std::uint64_t pa) const {
    const VaLayout layout = layout_for(*arch_, spec_.pae);
    if (layout.direct_map == 0) throw Error(ErrorKind::usage, fmt::format("{} has no direct map", arch_->name));
    return layout.direct_map + pa;
}

void CrashedMachine::write(std::uint64_t va, ByteSpan bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const std::uint64_t at = va + done;
        const std::size_t n = std::min<std::uint64_t>(bytes.size() - done, small_page - (at & (small_page - 1)));
        memory_->write(virt_to_phys(at), bytes.subspan(done, n));
        done += n;
    }
}

void CrashedMachine::read(std::uint64_t va, MutableByteSpan out) const {
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t at = va + done;
        const std::size_t n = std::min<std::uint64_t>(out.size() - done, small_page - (at & (small_page - 1)));
        memory_->read(virt_to_phys(at), out.subspan(done, n));
        done += n;
    }
}

void CrashedMachine::write_uint(std::uint64_t va, std::uint64_t value, unsigned width) {
    std::array<std::byte, 8> b{};
    store_uint(b.data(), value, width, order());
    write(va, ByteSpan(b.data(), width));
}

std::uint64_t CrashedMachine::read_uint(std::uint64_t va, unsigned width) const {
    std::array<std::byte, 8> b{};
    read(va, MutableByteSpan(b.data(), width));
    return load_uint(b.data(), width, order());
}

void CrashedMachine::write_string(std::uint64_t va, std::string_view s) {
    Bytes b = to_bytes(s);
    b.push_back(std::byte{0});
    write(va, b);
}

std::uint64_t CrashedMachine::define_function(std::string name, std::uint64_t size, bool global) {
    Region& r = region('t');
    const std::uint64_t addr = align_up(r.next, 16);
    if (size == 0 || addr + size > r.limit)
        throw Error(ErrorKind::usage, fmt::format("text region full at {} ({} bytes wanted)", hex(addr), size));
    ensure_mapped(addr, size, r.page_size);
    const Bytes body = function_body(name, size);
    r.data.resize(addr - r.base, std::byte{0xcc});
    r.data.insert(r.data.end(), body.begin(), body.end());
    write(addr, body);
    r.next = addr + size;
    symbol_values_.emplace(name, addr);
    symbols_.push_back({.name = std::move(name),
                        .value = addr,
                        .size = size,
                        .type = elf::stt_func,
                        .binding = global ? elf::stb_global : elf::stb_local,
                        .shndx = section_index('t')});
    return addr;
}

std::uint64_t CrashedMachine::define_object(std::string name, char section, Bytes initial, std::uint64_t align,
                                            bool global) {
    if (section == 't') throw Error(ErrorKind::usage, "objects go in r, d or b");
    Region& r = region(section);
    const std::uint64_t size = initial.size();
    const std::uint64_t addr = align_up(r.next, std::max<std::uint64_t>(align, 1));
    if (addr + std::max<std::uint64_t>(size, 1) > r.limit)
        throw Error(ErrorKind::usage, fmt::format("{} region full at {}", r.name, hex(addr)));
    ensure_mapped(addr, size, r.page_size);
    if (section == 'b') {
        if (std::any_of(initial.begin(), initial.end(), [](std::byte b) { return b != std::byte{0}; }))
            throw Error(ErrorKind::usage, fmt::format("bss object {} cannot have initial bytes", name));
    } else {
        r.data.resize(addr - r.base, std::byte{0});
        r.data.insert(r.data.end(), initial.begin(), initial.end());
    }
    write(addr, initial);
    r.next = addr + size;
    symbol_values_.emplace(name, addr);
    symbols_.push_back({.name = std::move(name),
                        .value = addr,
                        .size = size,
                        .type = elf::stt_object,
                        .binding = global ? elf::stb_global : elf::stb_local,
                        .shndx = section_index(section)});
    return addr;
}

std::uint64_t CrashedMachine::define_object(std::string name, char section, std::uint64_t size, std::uint64_t align,
                                            bool global) {
    return define_object(std::move(name), section, Bytes(size), align, global);
}

std::uint64_t CrashedMachine::symbol(std::string_view name) const {
    const auto it = symbol_values_.find(std::string(name));
    if (it == symbol_values_.end()) throw Error(ErrorKind::usage, fmt::format("synthetic kernel has no {}", name));
    return it->second;
}

std::uint64_t CrashedMachine::kmem_alloc(std::uint64_t size, std::uint64_t align) {
    const std::uint64_t addr = align_up(heap_next_, std::max<std::uint64_t>(align, 1));
    const std::uint64_t end = addr + std::max<std::uint64_t>(size, 1);
    if (end > heap_end_) throw Error(ErrorKind::usage, "synthetic kernel heap exhausted");
    ensure_mapped(addr, end - addr, small_page);
    heap_next_ = end;
    return addr;
}

void CrashedMachine::define_standard_symbols() {
    const unsigned ptr = arch_->pointer_size;
    const auto uint_bytes = [this](std::uint64_t v, unsigned width) {
        Bytes b(width);
        store_uint(b.data(), v, width, order());
        return b;
    };
    // Text: the functions a panic backtrace walks through, and more.
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 14> functions{{
        {"start", 0x100},
        {"main", 0x800},
        {"panic", 0x60},
        {"vpanic", 0x2c0},
        {"cpu_reboot", 0x180},
        {"dumpsys", 0x40},
        {"dodumpsys", 0x3a0},
        {"cpu_dump", 0x1d0},
        {"mi_switch", 0x4e0},
        {"sleepq_block", 0x300},
        {"uvm_fault_internal", 0x1800},
        {"trap", 0x900},
        {"syscall", 0x2a0},
        {"sys_open", 0x200},
    }};
    for (const auto& [name, size] : functions)
        define_function(std::string(name), size);
    define_function("lwp_exit_switchaway", 0x140, false);
    for (std::size_t i = 0; i < spec_.extra_functions; ++i)
        define_function(fmt::format("fn_{:06}", i), 16 + (i % 4) * 16);

    // Read-only data.
    Bytes version = to_bytes(spec_.version);
    version.push_back(std::byte{0});
    define_object("version", 'r', std::move(version), 32);
    define_object("ostype", 'r', to_bytes(std::string_view("NetBSD\0", 7)), 8);
    define_object("osrelease", 'r', to_bytes(std::string_view("10.0\0", 5)), 8);

    // Data, with the values the kernel file holds.
    define_object("dumpmag", 'd', uint_bytes(netbsd::dumpmag_value, 4), 4);
    define_object("dumpdev", 'd', uint_bytes(~std::uint64_t{0}, 8), 8);  // NODEV until configured
    define_object("dumplo", 'd', uint_bytes(0, ptr), ptr);
    define_object("dumpsize", 'd', uint_bytes(0, 4), 4);
    std::uint64_t ram_pages = 0;
    for (const auto& seg : memory_->ram())
        ram_pages += seg.size / arch_->page_size;
    define_object("physmem", 'd', uint_bytes(ram_pages, 4), 4);
    // Two file-static variables with one name, as real kernels have.
    define_object("counter", 'd', uint_bytes(1, 4), 4, false);
    define_object("counter", 'd', uint_bytes(2, 4), 4, false);

    // Bss, and the values it held at the crash.
    const std::uint64_t time_second = define_object("time_second", 'b', 8, 8);
    const std::uint64_t panicstr = define_object("panicstr", 'b', ptr, ptr);
    write_uint(time_second, static_cast<std::uint64_t>(spec_.crash_time), 8);
    const std::uint64_t message = kmem_alloc(spec_.panic.size() + 1);
    write_string(message, spec_.panic);
    write_pointer(panicstr, message);
    write_uint(symbol("dumpdev"), 0x1, 8);  // wd0b: makedev(0, 1)
}

Bytes CrashedMachine::kernel_elf() const {
    ElfWriter w({.elf_class = arch_->pointer_size == 8 ? elf::elfclass64 : elf::elfclass32,
                 .order = order(),
                 .machine = arch_->elf_machine,
                 .type = elf::et_exec});
    for (const auto& r : regions_) {
        const std::uint16_t index =
            r->type == elf::sht_nobits
                ? w.add_section(r->name, r->type, r->flags, r->base, {}, small_page, r->next - r->base)
                : w.add_section(r->name, r->type, r->flags, r->base, r->data, r->section == 't' ? 16 : 32);
        if (index != section_index(r->section))
            throw Error(ErrorKind::usage, fmt::format("section {} got index {}", r->name, index));
    }
    for (const auto& s : symbols_)
        w.add_symbol(s);
    return w.build();
}

std::vector<netbsd::RamSegment> CrashedMachine::prepare_dump(const DumpOptions& options, std::int64_t dumplo_blocks) {
    std::vector<netbsd::RamSegment> segments;
    if (!options.sparse) {
        segments = memory_->ram();
    } else {
        for (const auto& seg : memory_->ram()) {
            for (std::uint64_t pa = seg.start; pa < seg.start + seg.size; pa += arch_->page_size) {
                if (!memory_->is_written(pa)) continue;
                if (!segments.empty() && segments.back().start + segments.back().size == pa) {
                    segments.back().size += arch_->page_size;
                } else {
                    segments.push_back({pa, arch_->page_size});
                }
            }
        }
    }
    std::uint64_t pages = 0;
    for (const auto& s : segments)
        pages += s.size / arch_->page_size;
    // dump_seg_prep sets dumpsize to the real page count before memory is
    // written, so the dump holds it.
    write_uint(symbol("dumpsize"), pages, 4);
    if (dumplo_blocks >= 0)
        write_uint(symbol("dumplo"), static_cast<std::uint64_t>(dumplo_blocks), arch_->pointer_size);
    return segments;
}

namespace {
void stream_memory(const PhysMemory& memory, Sink& out, const std::vector<netbsd::RamSegment>& segments) {
    constexpr std::uint64_t chunk = 1 * mib;
    Bytes buf(chunk);
    for (const auto& seg : segments) {
        for (std::uint64_t off = 0; off < seg.size; off += chunk) {
            const std::size_t n = std::min(chunk, seg.size - off);
            memory.read(seg.start + off, MutableByteSpan(buf.data(), n));
            out.write(ByteSpan(buf.data(), n));
        }
    }
}
}  // namespace

void CrashedMachine::write_device_dump(Sink& out, const std::vector<netbsd::RamSegment>& segments) const {
    out.write(netbsd::device_dump_header(*arch_, {.pt_root = pt_root(), .pae = spec_.pae, .ram = segments}));
    stream_memory(*memory_, out, segments);
}

void CrashedMachine::write_kcore(Sink& out, const std::vector<netbsd::RamSegment>& segments) const {
    const Bytes device_header =
        netbsd::device_dump_header(*arch_, {.pt_root = pt_root(), .pae = spec_.pae, .ram = segments});
    netbsd::DumpLayout layout;
    layout.arch = arch_;
    const std::uint64_t seg_header = kcore_align(*arch_, netbsd::kcore_seg_size);
    layout.cpu_segment.assign(device_header.begin() + static_cast<std::ptrdiff_t>(seg_header), device_header.end());
    for (const auto& s : segments)
        layout.memory_size += s.size;
    out.write(netbsd::kcore_file_header(layout, layout.memory_size));
    stream_memory(*memory_, out, segments);
}

std::uint64_t CrashedMachine::device_dump_size(const std::vector<netbsd::RamSegment>& segments) const {
    std::uint64_t size =
        netbsd::device_dump_header(*arch_, {.pt_root = pt_root(), .pae = spec_.pae, .ram = segments}).size();
    for (const auto& s : segments)
        size += s.size;
    return size;
}

std::uint64_t CrashedMachine::write_swap_image(const std::string& path, const DumpOptions& options,
                                               std::uint64_t device_size) {
    // cpu_dumpconf: room for a full dump of all RAM, placed at the end of
    // the partition, or at block 8 when it does not fit.
    const std::uint64_t full_dump = device_dump_size(memory_->ram());
    if (device_size == 0) device_size = align_up(full_dump + 4 * mib, mib);
    if (device_size % netbsd::dev_bsize != 0)
        throw Error(ErrorKind::usage, "swap image size must be a multiple of 512");
    const std::uint64_t nblks = device_size / netbsd::dev_bsize;
    const std::uint64_t dumpblks = align_up(full_dump, netbsd::dev_bsize) / netbsd::dev_bsize;
    const std::uint64_t dumplo = dumpblks > nblks - 8 ? 8 : nblks - dumpblks;
    const std::vector<netbsd::RamSegment> segments = prepare_dump(options, static_cast<std::int64_t>(dumplo));
    if (dumplo * netbsd::dev_bsize + device_dump_size(segments) > device_size)
        throw Error(ErrorKind::usage, fmt::format("a {}-byte swap image is too small for this dump", device_size));

    auto out = create_file_sink(path);
    // Old swap contents before the dump.
    const PageFiller junk = realistic_filler(spec_.seed ^ 0x5a5a5a5a5a5a5a5aull, layout_for(*arch_, spec_.pae).heap);
    Bytes page(small_page);
    std::uint64_t pos = 0;
    for (; pos + small_page <= dumplo * netbsd::dev_bsize; pos += small_page) {
        junk(pos, page);
        out->write(page);
    }
    out->zeros(dumplo * netbsd::dev_bsize - pos);
    write_device_dump(*out, segments);
    out->zeros(device_size - out->position());
    out->finish();
    return dumplo;
}

void write_file(const std::string& path, ByteSpan data) {
    auto out = create_file_sink(path);
    out->write(data);
    out->finish();
}

}  // namespace kvm::synth
