// A synthetic crashed machine: kernel image, variables, heap, page tables
// and the dump the kernel would write, with every byte known.  The OS
// (MachineSpec::os) picks the kernel's virtual layout, its variables and
// the dumps it writes: NetBSD's here, FreeBSD's and DragonFly's minidumps
// and full dumps in bsd_dumps.cpp.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/synth.h>

#include "synth/machine_layout.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
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

}  // namespace

namespace detail {

namespace {
constexpr std::uint64_t tib = 1024 * gib;

// FreeBSD/DragonFly minidump v1 kernels kept their kernel map above
// KERNBASE; later ones below it, from VM_MIN_KERNEL_ADDRESS.
bool old_kernel_map(const MachineSpec& spec) {
    return spec.os != "netbsd" && spec.arch == "amd64" && spec.minidump_version == 1;
}
}  // namespace

VaLayout layout_for(const MachineSpec& spec, const ArchInfo& arch, std::uint64_t small) {
    if (spec.os == "netbsd") {
        if (arch.name == "amd64")
            return {.text = 0xffffffff80200000,
                    .rodata = 0xffffffff81000000,
                    .data = 0xffffffff81800000,
                    .bss = 0xffffffff81c00000,
                    .bss_end = 0xffffffff82000000,
                    .heap = 0xffffc00000000000,
                    .heap_size = 1 * gib,
                    .large_page = 2 * mib,
                    .data_page = small_page,
                    .direct_map = 0xffff800000000000,
                    .direct_map_size = 64 * gib,
                    .direct_map_phys = 0,
                    .image_offset = 0};
        // i386: large pages are 4 MiB, or 2 MiB with PAE.
        return {.text = 0xc0400000,
                .rodata = 0xc0c00000,
                .data = 0xc1000000,
                .bss = 0xc1400000,
                .bss_end = 0xc1800000,
                .heap = 0xc8000000,
                .heap_size = 128 * mib,
                .large_page = spec.pae ? 2 * mib : 4 * mib,
                .data_page = small_page,
                .direct_map = 0,
                .direct_map_size = 0,
                .direct_map_phys = 0,
                .image_offset = 0};
    }
    if (arch.name == "amd64") {
        VaLayout l{.text = 0xffffffff80200000,
                   .rodata = 0xffffffff80a00000,
                   .data = 0xffffffff80c00000,
                   .bss = 0xffffffff80e00000,
                   .bss_end = 0xffffffff81000000,
                   .heap = 0xfffffe0000000000,  // FreeBSD's VM_MIN_KERNEL_ADDRESS
                   .heap_size = 1 * gib,
                   .large_page = 2 * mib,
                   .data_page = 2 * mib,
                   .direct_map = 0xfffff80000000000,  // FreeBSD's DMAP_MIN_ADDRESS
                   .direct_map_size = 4 * tib,
                   .direct_map_phys = 0,
                   .image_offset = 0xffffffff80000000};
        if (spec.os == "dragonfly") {
            l.heap = 0xffffff8000000000;  // the last PML4 slot
            l.direct_map = 0xffff800000000000;
            l.direct_map_size = 512 * gib;
        }
        if (old_kernel_map(spec)) {
            l.heap = 0xffffffff84000000;
            l.heap_size = 192 * mib;
            l.direct_map = 0xffffff0000000000;
            l.direct_map_size = 512 * gib;
        }
        return l;
    }
    if (arch.name == "i386")
        return {.text = 0xc0400000,
                .rodata = 0xc0c00000,
                .data = 0xc1000000,
                .bss = 0xc1400000,
                .bss_end = 0xc1800000,
                .heap = 0xc8000000,
                .heap_size = 128 * mib,
                .large_page = spec.pae ? 2 * mib : 4 * mib,
                .data_page = spec.pae ? 2 * mib : 4 * mib,
                .direct_map = 0,
                .direct_map_size = 0,
                .direct_map_phys = 0,
                .image_offset = 0xc0000000};
    // arm64: the image and the heap on pages of the granule; no page
    // tables are built, the minidump's map comes from the mappings.
    return {.text = 0xffff000000200000,
            .rodata = 0xffff000000a00000,
            .data = 0xffff000000c00000,
            .bss = 0xffff000000e00000,
            .bss_end = 0xffff000001000000,
            .heap = 0xffff000001000000,
            .heap_size = 64 * mib,
            .large_page = small,
            .data_page = small,
            .direct_map = 0xffffa00000000000,
            .direct_map_size = 0xffffff0000000000 - 0xffffa00000000000,
            .direct_map_phys = 0x40000000,
            .image_offset = 0xffff000000000000 - 0x40000000};
}

}  // namespace detail

namespace {

using detail::layout_for;
using detail::VaLayout;

std::vector<netbsd::RamSegment> default_ram(const MachineSpec& spec, const ArchInfo& arch) {
    if (spec.os == "netbsd") {
        if (arch.name == "amd64") return {{0x1000, 0x9e000}, {0x100000, 0xd00000}, {0x1000000, 0x400000}};
        return {{0x1000, 0x9e000}, {0x100000, 0xf00000}, {0x1400000, 0x800000}};
    }
    // Room for the image at its physical address, with holes around.
    if (arch.name == "amd64") return {{0x1000, 0x9e000}, {0x100000, 0x1700000}, {0x2000000, 0x800000}};
    if (arch.name == "i386") return {{0x1000, 0x9e000}, {0x100000, 0x1f00000}, {0x2400000, 0x800000}};
    return {{0x40000000, 0x2000000}, {0x42800000, 0x800000}};
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

namespace {

// The newest minidump version a kernel of the OS and arch writes, and the
// oldest kvmkit reads.
std::pair<std::uint32_t, std::uint32_t> minidump_versions(const MachineSpec& spec) {
    if (spec.os == "dragonfly") return {1, 2};
    if (spec.arch == "i386") return {1, 2};
    return {1, 3};
}

void check_spec(MachineSpec& spec, const ArchInfo& arch) {
    const auto usage = [](const std::string& message) { throw Error(ErrorKind::usage, message); };
    if (spec.os != "netbsd" && spec.os != "freebsd" && spec.os != "dragonfly")
        usage(fmt::format("no such os: {} (netbsd, freebsd or dragonfly)", spec.os));
    if (spec.pae && arch.name != "i386") usage("PAE is an i386 paging mode");
    if (arch.name == "arm64" && spec.os != "freebsd")
        usage(fmt::format("{} machines are not built for arm64", spec.os));
    if (spec.os == "dragonfly" && arch.name != "amd64") usage("DragonFly machines are amd64 (x86_64) only");
    if (spec.page_size == 0) spec.page_size = arch.page_size;
    if (spec.page_size != arch.page_size && !(arch.name == "arm64" && spec.page_size == 16 * kib))
        usage(fmt::format("{} pages of {:#x} bytes are not built (arm64 has 0x1000 or 0x4000)", arch.name,
                          spec.page_size));
    if (spec.os == "netbsd") {
        if (spec.minidump_version != 0) usage("NetBSD kernels write no minidumps");
    } else {
        const auto [oldest, newest] = minidump_versions(spec);
        if (spec.minidump_version == 0) spec.minidump_version = newest;
        if (spec.minidump_version < oldest || spec.minidump_version > newest)
            usage(fmt::format("{} {} kernels write minidump versions {} to {}, not {}", spec.os, arch.name, oldest,
                              newest, spec.minidump_version));
        if (spec.page_size != 4 * kib && spec.minidump_version < 3)
            usage(fmt::format("only minidump version 3 has pages of {:#x} bytes", spec.page_size));
    }
    if (spec.version.empty()) {
        if (spec.os == "netbsd")
            spec.version =
                "NetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024\n"
                "\tmkrepro@mkrepro.NetBSD.org:/usr/src/sys/arch/amd64/compile/GENERIC\n";
        else if (spec.os == "freebsd")
            spec.version = "FreeBSD 14.1-RELEASE releng/14.1-n267679-10e31f0946d8 GENERIC\n";
        else
            spec.version =
                "DragonFly v6.4.0-RELEASE #0: Sat Dec 30 12:00:00 UTC 2023\n"
                "    root@builder:/usr/obj/usr/src/sys/X86_64_GENERIC\n";
    }
    if (spec.panic.empty()) {
        if (spec.os == "netbsd")
            spec.panic =
                "kernel diagnostic assertion \"l->l_stat == LSONPROC\" failed: file "
                "\"/usr/src/sys/kern/kern_synch.c\", line 735";
        else if (spec.os == "freebsd")
            spec.panic = "page fault while in kernel mode";
        else
            spec.panic = "vm_fault: fault on nofault entry, addr: 0xffff800000000000";
    }
}

}  // namespace

CrashedMachine::CrashedMachine(MachineSpec spec) : spec_(std::move(spec)) {
    arch_ = find_arch(spec_.arch);
    if (arch_ == nullptr) throw Error(ErrorKind::usage, fmt::format("no such arch: {}", spec_.arch));
    check_spec(spec_, *arch_);
    page_ = spec_.page_size;
    const VaLayout va = layout_for(spec_, *arch_, page_);
    memory_ = std::make_unique<PhysMemory>(spec_.ram.empty() ? default_ram(spec_, *arch_) : spec_.ram,
                                           static_cast<std::uint32_t>(page_));
    memory_->set_seed(spec_.seed);
    memory_->set_filler(spec_.realistic_memory ? realistic_filler(spec_.seed, va.heap) : zero_filler());
    // The image's physical home is kept from every other allocation.
    if (va.image_offset != 0) memory_->reserve(va.text - va.image_offset, va.bss_end - va.text);
    if (!translator().empty()) tables_ = make_page_table_builder(translator(), *memory_, arch_->order);

    // Each region runs up to the next one.
    const auto add_region = [&](char section, std::string name, std::uint32_t type, std::uint64_t flags,
                                std::uint64_t base, std::uint64_t limit, std::uint64_t page_size) {
        regions_.push_back(
            std::make_unique<Region>(Region{section, std::move(name), type, flags, base, limit, base, page_size, {}}));
    };
    add_region('t', ".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr, va.text, va.rodata, va.large_page);
    add_region('r', ".rodata", elf::sht_progbits, elf::shf_alloc, va.rodata, va.data, va.large_page);
    add_region('d', ".data", elf::sht_progbits, elf::shf_alloc | elf::shf_write, va.data, va.bss, va.data_page);
    add_region('b', ".bss", elf::sht_nobits, elf::shf_alloc | elf::shf_write, va.bss, va.bss_end, va.data_page);
    heap_next_ = va.heap;
    heap_end_ = va.heap + va.heap_size;

    if (va.direct_map != 0 && tables_) {
        // All RAM through 1 GiB pages; the holes between segments are
        // mapped too, as on real hardware, and read as "not in the dump".
        std::uint64_t top = 0;
        for (const auto& seg : memory_->ram())
            top = std::max(top, seg.start + seg.size);
        for (std::uint64_t pa = 0; pa < top; pa += gib)
            tables_->map(va.direct_map + pa, pa, gib);
    }
    if (spec_.os == "netbsd") {
        define_standard_symbols();
    } else {
        define_bsd_symbols();
    }
}

CrashedMachine::~CrashedMachine() = default;

std::string_view CrashedMachine::translator() const {
    if (arch_->name == "amd64") return "amd64";
    if (arch_->name == "i386") return spec_.pae ? "i386-pae" : "i386";
    return {};
}

std::uint64_t CrashedMachine::pt_root() const {
    if (!tables_)
        throw Error(ErrorKind::usage,
                    fmt::format("{} machines have no page tables (their minidumps carry a page map)", arch_->name));
    return tables_->root();
}

CrashedMachine::Region& CrashedMachine::region(char section) {
    for (auto& r : regions_)
        if (r->section == section) return *r;
    throw Error(ErrorKind::usage, fmt::format("no section '{}'", section));
}

void CrashedMachine::map_page(std::uint64_t va, std::uint64_t page_size) {
    const VaLayout layout = layout_for(spec_, *arch_, page_);
    const bool in_image = layout.image_offset != 0 && va >= layout.text && va < layout.bss_end;
    const std::uint64_t pa = in_image ? va - layout.image_offset : memory_->alloc_pages(page_size / page_, page_size);
    // Mapped pages hold what the kernel put there: zeros until written.
    const Bytes zero_page(page_);
    for (std::uint64_t off = 0; off < page_size; off += page_)
        memory_->write(pa + off, zero_page);
    if (tables_) tables_->map(va, pa, page_size);
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
        const VaLayout layout = layout_for(spec_, *arch_, page_);
        if (layout.direct_map != 0 && va - layout.direct_map < layout.direct_map_size)
            return va - layout.direct_map + layout.direct_map_phys;
        throw Error(ErrorKind::usage, fmt::format("synthetic machine: {} is not mapped", hex(va)));
    }
    --it;
    return it->second.first + (va - it->first);
}

std::uint64_t CrashedMachine::direct_map(std::uint64_t pa) const {
    const VaLayout layout = layout_for(spec_, *arch_, page_);
    if (layout.direct_map == 0) throw Error(ErrorKind::usage, fmt::format("{} has no direct map", arch_->name));
    return layout.direct_map + (pa - layout.direct_map_phys);
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

void CrashedMachine::define_absolute(std::string name, std::uint64_t value) {
    symbol_values_.emplace(name, value);
    symbols_.push_back({.name = std::move(name),
                        .value = value,
                        .size = 0,
                        .type = elf::stt_notype,
                        .binding = elf::stb_global,
                        .shndx = elf::shn_abs});
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
    ensure_mapped(addr, end - addr, page_);
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

namespace {

// The release a FreeBSD kernel writing this minidump version would be.
std::string freebsd_release(const MachineSpec& spec) {
    if (spec.minidump_version == 1) return spec.arch == "amd64" ? "8.4-RELEASE" : "12.4-RELEASE";
    if (spec.minidump_version == 2) return spec.arch == "amd64" ? "12.4-RELEASE" : "13.2-RELEASE";
    return "14.1-RELEASE";
}

// zombproc went away in FreeBSD 13.0, with the minidump versions that
// came with it (amd64 v3, i386 v2, arm64 v2).
bool freebsd_has_zombproc(const MachineSpec& spec) {
    return spec.minidump_version < (spec.arch == "amd64" ? 3u : 2u);
}

constexpr std::uint64_t pidhash_mask = 0xff;
constexpr std::uint64_t dragonfly_allproc_hsize = 256;  // ALLPROC_HSIZE
constexpr std::uint64_t pcb_bytes = 0x400;
constexpr std::uint32_t msg_magic = 0x063062;
constexpr std::uint32_t dragonfly_msg_magic = 0x063064;  // with msg_bufl and free-running indexes
constexpr std::uint64_t msgbuf_bytes = 0x5f00;           // not a page multiple: minidumps round the section up

}  // namespace

void CrashedMachine::define_bsd_symbols() {
    const unsigned ptr = arch_->pointer_size;
    const bool freebsd = spec_.os == "freebsd";
    const bool x86 = arch_->name != "arm64";
    const VaLayout va = layout_for(spec_, *arch_, page_);
    const auto uint_bytes = [this](std::uint64_t v, unsigned width) {
        Bytes b(width);
        store_uint(b.data(), v, width, order());
        return b;
    };
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 15> functions{{
        {"btext", 0x100},
        {"mi_startup", 0x400},
        {"panic", 0x60},
        {"vpanic", 0x2c0},
        {"kern_reboot", 0x300},
        {"doadump", 0x80},
        {"dumpsys", 0x200},
        {"minidumpsys", 0x600},
        {"mi_switch", 0x300},
        {"sched_switch", 0x500},
        {"cpu_switch", 0x200},
        {"trap", 0x900},
        {"trap_pfault", 0x400},
        {"vm_fault", 0x1800},
        {"sys_open", 0x200},
    }};
    for (const auto& [name, size] : functions)
        define_function(std::string(name), size);
    define_function("fork_trampoline", 0x40, false);
    for (std::size_t i = 0; i < spec_.extra_functions; ++i)
        define_function(fmt::format("fn_{:06}", i), 16 + (i % 4) * 16);

    // locore's `.set kernbase, KERNBASE`; arm64's is VM_MIN_KERNEL_ADDRESS.
    define_absolute("kernbase", x86 ? va.image_offset : 0xffff000000000000);

    Bytes version = to_bytes(spec_.version);
    version.push_back(std::byte{0});
    define_object("version", 'r', std::move(version), 32);
    define_object("ostype", 'r',
                  to_bytes(freebsd ? std::string_view("FreeBSD\0", 8) : std::string_view("DragonFly\0", 10)), 8);
    const std::string release =
        freebsd ? freebsd_release(spec_) : (spec_.dragonfly_pcb_cr3 == 0 ? "2.10-RELEASE" : "6.4-RELEASE");
    Bytes osrelease = to_bytes(release);
    osrelease.push_back(std::byte{0});
    define_object("osrelease", 'r', std::move(osrelease), 8);

    // Where the page tables are, as the kernel keeps it.
    if (arch_->name == "amd64") define_object("KPML4phys", 'd', uint_bytes(pt_root(), 8), 8);
    if (arch_->name == "i386") {
        define_object("IdlePTD", 'd', uint_bytes(pt_root(), 4), 4);
        if (spec_.pae) {
            // The PDPT: four entries for the four page directories.
            pdpt_ = memory_->alloc_pages(1, page_, std::uint64_t{1} << 32);
            Bytes table(page_);
            for (std::uint64_t i = 0; i < 4; ++i)
                store64(table.data() + i * 8, (pt_root() + i * page_) | 0x1, order());
            memory_->write(pdpt_, table);
            define_object("IdlePDPT", 'd', uint_bytes(pdpt_, 4), 4);
        }
    }
    if (freebsd) {
        define_object("pidhash", 'd', uint_bytes(pidhash_mask, ptr), ptr);
        // kern_tc.c's static: the rate cpu ticks (p_rux.rux_runtime, td_runtime) count at.
        define_object("cpu_tick_frequency", 'd', uint_bytes(freebsd_cpu_tick_frequency, 8), 8, false);
    } else {
        define_object("allproc_hsize", 'd', uint_bytes(dragonfly_allproc_hsize, 4), 4);
    }
    std::uint64_t ram_pages = 0;
    for (const auto& seg : memory_->ram())
        ram_pages += seg.size / arch_->page_size;
    define_object("physmem", 'd', uint_bytes(ram_pages, ptr), ptr);  // a long

    const std::uint64_t time_second = define_object("time_second", 'b', 8, 8);
    const std::uint64_t time_uptime = define_object("time_uptime", 'b', ptr, ptr);  // a time_t
    const std::uint64_t panicstr = define_object("panicstr", 'b', ptr, ptr);
    define_object("nprocs", 'b', 4, 4);
    if (freebsd) {
        define_object("allproc", 'b', ptr, ptr);
        if (freebsd_has_zombproc(spec_)) define_object("zombproc", 'b', ptr, ptr);
        const std::uint64_t pidhashtbl = define_object("pidhashtbl", 'b', ptr, ptr);
        define_object("dumptid", 'b', 4, 4);
        const std::uint64_t buckets = kmem_alloc((pidhash_mask + 1) * ptr, 64);
        write(buckets, Bytes((pidhash_mask + 1) * ptr));
        write_pointer(pidhashtbl, buckets);
        write_uint(symbol("dumptid"), 100102, 4);
    } else {
        define_object("allprocs", 'b', dragonfly_allproc_hsize * ptr, ptr, false);
        define_object("dumpthread", 'b', ptr, ptr);
    }
    define_object("msgbufp", 'b', ptr, ptr);
    const std::uint64_t dumppcb = define_object("dumppcb", 'b', pcb_bytes, 64, false);

    write_uint(time_second, static_cast<std::uint64_t>(spec_.crash_time), 8);
    write_uint(time_uptime, static_cast<std::uint64_t>(spec_.uptime), ptr);
    const std::uint64_t message = kmem_alloc(spec_.panic.size() + 1);
    write_string(message, spec_.panic);
    write_pointer(panicstr, message);

    // The context doadump saved.  FreeBSD amd64: r15..rip at 0-56, cr3 at
    // 104; DragonFly: cr3 at its release's offset, r15..rip after it.
    if (arch_->name == "amd64") {
        const std::uint64_t stack = kmem_alloc(4 * page_, page_);
        const std::uint64_t rsp = stack + 4 * page_ - 0x100;
        const std::uint64_t rip = symbol("doadump") + 0x2a;
        const std::uint64_t regs = freebsd ? dumppcb : dumppcb + spec_.dragonfly_pcb_cr3 + 8;
        write_uint(regs + 32, rsp + 0x40, 8);  // rbp
        write_uint(regs + 40, rsp, 8);
        write_uint(regs + 56, rip, 8);
        write_uint(freebsd ? dumppcb + 104 : dumppcb + spec_.dragonfly_pcb_cr3, pt_root(), 8);
    }
    plant_message_buffer();
}

// FreeBSD's struct msgbuf (sys/sys/msgbuf.h, 7.0 and later): msg_ptr,
// then u_int msg_magic, msg_size, msg_wseq, msg_rseq (sequence numbers
// modulo msg_seqmod = 16 * msg_size), msg_cksum, msg_seqmod.  DragonFly's
// older one (the 2008 port): u_int msg_magic (0x063062), msg_size,
// msg_bufx, msg_bufr (indexes into the ring), then msg_ptr; its newer one
// (6.4) the same with MSG_MAGIC 0x063064, the indexes free-running (the
// text is msg_bufr..msg_bufx), then msg_bufl and msg_unused01.
void CrashedMachine::plant_message_buffer() {
    const unsigned ptr = arch_->pointer_size;
    const bool freebsd = spec_.os == "freebsd";
    const bool dragonfly_free_running = !freebsd && spec_.dragonfly_pcb_cr3 != 0;
    const std::uint64_t size = spec_.msgbuf_size != 0 ? spec_.msgbuf_size : msgbuf_bytes;
    if (dragonfly_free_running && size < 4096)
        throw Error(ErrorKind::usage, fmt::format("a DragonFly message buffer of {} bytes: its base trails the write "
                                                  "index by up to 2 KiB less than the size, so at least 4096",
                                                  size));
    std::string text;
    if (spec_.msgbuf_text) {
        text = *spec_.msgbuf_text;
    } else {
        text = freebsd ? "---<<BOOT>>---\nCopyright (c) 1992-2024 The FreeBSD Project.\n"
                       : "Copyright (c) 2003-2023 The DragonFly Project.\n";
        text += spec_.version;
        for (int line = 1; text.size() < size * 3 / 2; ++line)
            text += fmt::format("kvmsynth{}: probe {:04} at pci0 dev {} func 0 irq {}\n", line % 7, line, line % 32,
                                16 + line % 8);
        text += fmt::format("\n\nFatal trap 12: {}\ncpuid = 0; apic id = 00\npanic: {}\ncpuid = 0\ntime = {}\n",
                            spec_.panic, spec_.panic, spec_.crash_time);
    }

    const std::uint64_t total = text.size();
    Bytes ring(size);
    for (std::uint64_t i = 0; i < total; ++i)
        ring[i % size] = static_cast<std::byte>(text[i]);
    const std::uint64_t ring_va = kmem_alloc(size, page_);
    write(ring_va, ring);

    const std::uint64_t header_bytes = freebsd ? ptr + 24 : 16 + ptr + 8;
    const std::uint64_t header = kmem_alloc(header_bytes, 64);
    const std::uint64_t next = total % size;
    std::uint64_t kept = std::min(total, size);  // bytes of text the ring holds
    if (freebsd) {
        const std::uint64_t seqmod = 16 * size;
        const std::uint64_t seq = total % seqmod;
        write_pointer(header, ring_va);
        write_uint(header + ptr, msg_magic, 4);
        write_uint(header + ptr + 4, size, 4);
        write_uint(header + ptr + 8, seq, 4);
        write_uint(header + ptr + 12, seq, 4);
        write_uint(header + ptr + 20, seqmod, 4);
    } else if (dragonfly_free_running) {
        // Each character written moves the base (and the log device's
        // index) along once the text since it is within 1 KiB of the size,
        // to 2 KiB short of it, as the kernel's msgaddchar does.
        std::uint64_t base = 0;
        for (std::uint64_t x = 0; x < total; ++x)
            if (x - base + 1024 > size) base = x + 2048 - size;
        write_uint(header, dragonfly_msg_magic, 4);
        write_uint(header + 4, size, 4);
        write_uint(header + 8, total, 4);
        write_uint(header + 12, base, 4);
        write_pointer(header + 16, ring_va);
        write_uint(header + 16 + ptr, base, 4);
        kept = total - base;
    } else {
        write_uint(header, msg_magic, 4);
        write_uint(header + 4, size, 4);
        write_uint(header + 8, next, 4);
        write_uint(header + 12, next, 4);
        write_pointer(header + 16, ring_va);
    }
    write_pointer(symbol("msgbufp"), header);
    std::string held = text.substr(total - kept);
    std::erase(held, '\0');
    msgbuf_ = {.msgbufp = header,
               .ring = ring_va,
               .size = size,
               .write_offset = next,
               .text = std::move(held),
               .written = total};
}

void CrashedMachine::set_msgbuf_field(std::string_view member, std::uint64_t value) {
    const unsigned ptr = arch_->pointer_size;
    const bool freebsd = spec_.os == "freebsd";
    static constexpr std::array<std::string_view, 6> freebsd_members{"msg_magic", "msg_size",  "msg_wseq",
                                                                     "msg_rseq",  "msg_cksum", "msg_seqmod"};
    static constexpr std::array<std::string_view, 4> dragonfly_members{"msg_magic", "msg_size", "msg_bufx", "msg_bufr"};
    const auto find = [member](const auto& members) {
        const auto it = std::find(members.begin(), members.end(), member);
        return it == members.end() ? std::nullopt : std::optional<std::uint64_t>(4 * (it - members.begin()));
    };
    const auto offset = freebsd ? find(freebsd_members) : find(dragonfly_members);
    if (spec_.os == "netbsd" || !offset)
        throw Error(ErrorKind::usage, fmt::format("the {} machine's struct msgbuf has no u_int {}", spec_.os, member));
    write_uint(message_buffer().msgbufp + (freebsd ? ptr : 0) + *offset, value, 4);
}

const CrashedMachine::MessageBuffer& CrashedMachine::message_buffer() const {
    if (spec_.os == "netbsd") throw Error(ErrorKind::usage, "the NetBSD machine plants no message buffer");
    return msgbuf_;
}

Bytes CrashedMachine::kernel_elf() const {
    ElfWriter w({.elf_class = arch_->pointer_size == 8 ? elf::elfclass64 : elf::elfclass32,
                 .order = order(),
                 .machine = arch_->elf_machine,
                 .type = elf::et_exec,
                 .osabi = spec_.os == "freebsd" ? elf::elfosabi_freebsd : elf::elfosabi_none});
    for (const auto& r : regions_) {
        const std::uint16_t index =
            r->type == elf::sht_nobits
                ? w.add_section(r->name, r->type, r->flags, r->base, {}, page_, r->next - r->base)
                : w.add_section(r->name, r->type, r->flags, r->base, r->data, r->section == 't' ? 16 : 32);
        if (index != section_index(r->section))
            throw Error(ErrorKind::usage, fmt::format("section {} got index {}", r->name, index));
        // The symbol naming the section, as a linked kernel has one per section (nm -a lists them).
        w.add_symbol({.value = r->base, .type = elf::stt_section, .binding = elf::stb_local, .shndx = index});
    }
    // And one naming a source file, as every object the kernel is linked from has.
    w.add_symbol({.name = "kern_synth.c", .type = elf::stt_file, .binding = elf::stb_local, .shndx = elf::shn_abs});
    for (const auto& s : symbols_)
        w.add_symbol(s);
    for (const auto& [name, data] : extra_sections_)
        w.add_section(name, elf::sht_progbits, 0, 0, data);
    return w.build();
}

void CrashedMachine::add_kernel_section(std::string name, Bytes data) {
    extra_sections_.emplace_back(std::move(name), std::move(data));
}

std::vector<netbsd::RamSegment> CrashedMachine::prepare_dump(const DumpOptions& options, std::int64_t dumplo_blocks) {
    if (spec_.os != "netbsd")
        throw Error(ErrorKind::usage,
                    fmt::format("a {} kernel writes minidumps and full dumps, not NetBSD dumps", spec_.os));
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
    const PageFiller junk = realistic_filler(spec_.seed ^ 0x5a5a5a5a5a5a5a5aull, layout_for(spec_, *arch_, page_).heap);
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

void write_sparse_file(const std::string& path, const std::function<void(Sink&)>& fill) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_os("cannot create", errno, path);
    try {
        auto out = create_fd_sink(fd, path, {.sparse = true});
        fill(*out);
        out->finish();
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (::close(fd) != 0) throw_os("close failed", errno, path);
}

}  // namespace kvm::synth
