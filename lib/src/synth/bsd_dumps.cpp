// FreeBSD and DragonFly dumps of a synthetic crashed machine: minidumps of
// every kind kvmkit reads and full ELF dumps, laid out from
// freebsd-dragonfly-dump-format.md sections 2-4 independently of the
// reader (src/format/minidump.cpp), so that a round trip checks one
// against the other.
//
// What the kernel dumps: the pages written explicitly (image, variables,
// heap, page tables, the message buffer), or all RAM (MinidumpOptions).
// The page maps come from the machine's own page tables where the kernel
// copies its tables (amd64 v2 and v3 PDEs, DragonFly v2 PDPT entries) and
// from its mappings where the kernel writes one entry per page (amd64 v1,
// i386, arm64 PTEs; large pages split into their small pages).
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/synth.h>

#include "synth/machine_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm::synth {

namespace {

constexpr std::uint64_t pg_v = 0x1;
constexpr std::uint64_t pg_rw = 0x2;
constexpr std::uint64_t pg_ps = 0x80;
constexpr std::uint64_t pg_frame = 0x000ffffffffff000;
constexpr std::uint64_t pg_1gframe = 0x000fffffc0000000;
constexpr std::uint64_t two_mib = 2ull << 20;
constexpr std::uint64_t one_gib = 1ull << 30;
// arm64 level 3 page descriptor bits for a kernel page: page (0b11),
// inner shareable (3 << 8), access flag (1 << 10), UXN (1 << 54).
constexpr std::uint64_t arm64_l3_kernel_page = 0x3 | (3u << 8) | (1u << 10) | (1ull << 54);

[[noreturn]] void throw_usage(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

// Bytes written through a Sink, whose all-zero pages become holes.
class PageWriter {
public:
    PageWriter(Sink& out, std::uint64_t page) : out_(out), page_(page) {}

    void write(ByteSpan bytes) {
        for (std::size_t at = 0; at < bytes.size(); at += page_) {
            const ByteSpan chunk = bytes.subspan(at, std::min<std::size_t>(page_, bytes.size() - at));
            if (std::all_of(chunk.begin(), chunk.end(), [](std::byte b) { return b == std::byte{0}; })) {
                out_.zeros(chunk.size());
            } else {
                out_.write(chunk);
            }
        }
    }
    // Zero-pads to the next page boundary.
    void pad() {
        const std::uint64_t rest = out_.position() % page_;
        if (rest != 0) out_.zeros(page_ - rest);
    }

private:
    Sink& out_;
    std::uint64_t page_;
};

std::vector<netbsd::RamSegment> sorted_ram(const PhysMemory& memory) {
    std::vector<netbsd::RamSegment> ram = memory.ram();
    std::sort(ram.begin(), ram.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
    return ram;
}

}  // namespace

void write_minidump_image(Sink& out, const MinidumpImage& image) {
    const std::uint64_t page = image.page_size;
    const std::uint32_t version = image.version;
    const bool dragonfly_v2 = image.os == "dragonfly" && version == 2;
    const bool has_avail =
        image.os == "freebsd" && ((image.arch == "amd64" && version >= 3) || (image.arch == "i386" && version >= 2) ||
                                  (image.arch == "arm64" && version >= 2));
    const std::uint64_t entry_size = image.arch == "i386" && !image.pae ? 4 : 8;
    if (page != 4096 && !(image.arch == "arm64" && version >= 3 && page == 16384))
        throw_usage(fmt::format("a {} minidump version {} has no {:#x}-byte pages", image.arch, version, page));

    // Bit ids: over dump_avail with the holes squeezed out, else pa / page.
    std::vector<std::uint64_t> first_id;
    std::uint64_t bits = 0;
    for (const auto& seg : image.ram) {
        first_id.push_back(bits);
        bits = has_avail ? bits + seg.size / page : std::max(bits, (seg.start + seg.size) / page);
    }
    const auto id_of = [&](std::uint64_t pa) {
        if (!has_avail) return pa / page;
        for (std::size_t i = 0; i < image.ram.size(); ++i)
            if (pa >= image.ram[i].start && pa - image.ram[i].start < image.ram[i].size)
                return first_id[i] + (pa - image.ram[i].start) / page;
        throw_usage(fmt::format("dumped page {} is not in RAM", hex(pa)));
    };
    const std::uint64_t bitmap_raw = (bits + 63) / 64 * 8;
    Bytes bitmap(bitmap_raw);
    for (const std::uint64_t pa : image.pages) {
        const std::uint64_t id = id_of(pa);
        bitmap[id / 8] |= static_cast<std::byte>(1u << (id % 8));  // u64 words, little-endian
    }
    // FreeBSD's bitmapsize is already page-rounded; DragonFly's is not.
    const std::uint64_t bitmapsize = image.os == "freebsd" ? align_up(bitmap_raw, page) : bitmap_raw;
    const std::uint64_t pmapsize = image.map_entries * entry_size;
    const auto msgbufsize = static_cast<std::uint32_t>(image.msgbuf.size());

    Bytes dump_avail;
    if (has_avail) {
        Encoder e(ByteOrder::little);
        for (const auto& seg : image.ram)
            e.u64(seg.start).u64(seg.start + seg.size);
        e.u64(0).u64(0);
        e.pad_to(page);
        dump_avail = e.take();
    }
    const auto dumpavailsize = static_cast<std::uint32_t>(dump_avail.size());

    // The header, every kind little-endian, zero-padded to a page.
    Encoder h(ByteOrder::little);
    const auto magic = [&](std::string_view m) { h.string(m).zeros(24 - m.size()); };
    if (dragonfly_v2) {
        magic("minidump DFlyBSD/x86-64");
        h.u32(version).u32(0).u64(msgbufsize).u64(bitmapsize).u64(pmapsize);
        h.u64(image.kernbase).u64(image.dmapbase).u64(image.dmapend);
    } else if (image.arch == "amd64") {
        magic("minidump FreeBSD/amd64");
        h.u32(version)
            .u32(msgbufsize)
            .u32(static_cast<std::uint32_t>(bitmapsize))
            .u32(static_cast<std::uint32_t>(pmapsize));
        h.u64(image.kernbase).u64(image.dmapbase).u64(image.dmapend);
        if (version >= 3) h.u32(dumpavailsize);
    } else if (image.arch == "i386") {
        magic("minidump FreeBSD/i386");
        h.u32(version)
            .u32(msgbufsize)
            .u32(static_cast<std::uint32_t>(bitmapsize))
            .u32(static_cast<std::uint32_t>(pmapsize));
        h.u32(static_cast<std::uint32_t>(image.kernbase)).u32(image.pae ? 1 : 0);
        if (version >= 2) h.u32(dumpavailsize);
    } else {
        magic("minidump FreeBSD/arm64");
        h.u32(version)
            .u32(msgbufsize)
            .u32(static_cast<std::uint32_t>(bitmapsize))
            .u32(static_cast<std::uint32_t>(pmapsize));
        h.u64(image.kernbase).u64(image.dmapphys).u64(image.dmapbase).u64(image.dmapend);
        if (version >= 2) h.u32(dumpavailsize);
        if (version >= 3) h.u32(page == 16384 ? 1 : 0);
    }
    h.pad_to(page);
    PageWriter w(out, page);
    w.write(h.data());
    w.write(image.msgbuf);
    w.pad();
    w.write(dump_avail);
    w.write(bitmap);
    w.pad();

    // The page map, a page of entries at a time.
    const std::uint64_t per_page = page / entry_size;
    std::vector<std::uint64_t> entries(per_page);
    Bytes chunk(page);
    for (std::uint64_t first = 0; first < image.map_entries; first += per_page) {
        const std::uint64_t n = std::min(per_page, image.map_entries - first);
        std::fill(entries.begin(), entries.end(), 0);
        if (image.map) image.map(first, std::span(entries).first(n));
        for (std::uint64_t i = 0; i < n; ++i)
            store_uint(chunk.data() + i * entry_size, entries[i], static_cast<unsigned>(entry_size), ByteOrder::little);
        w.write(ByteSpan(chunk.data(), n * entry_size));
    }
    w.pad();

    Bytes content(page);
    for (const std::uint64_t pa : image.pages) {
        if (image.page_is_zero && image.page_is_zero(pa)) {
            out.zeros(page);
            continue;
        }
        image.page_content(pa, content);
        w.write(content);
    }
}

std::vector<std::uint64_t> CrashedMachine::dumped_pages(const MinidumpOptions& options) const {
    std::vector<std::uint64_t> pages;
    for (const auto& seg : sorted_ram(*memory_))
        for (std::uint64_t pa = seg.start; pa < seg.start + seg.size; pa += page_)
            if (options.all_ram || memory_->is_written(pa)) pages.push_back(pa);
    return pages;
}

void CrashedMachine::write_minidump(Sink& out, const MinidumpOptions& options) const {
    if (spec_.os == "netbsd") throw_usage("NetBSD kernels write no minidumps");
    const detail::VaLayout va = detail::layout_for(spec_, *arch_, page_);
    const std::uint32_t version = spec_.minidump_version;
    const bool amd64 = arch_->name == "amd64";
    MinidumpImage image{.os = spec_.os,
                        .arch = std::string(arch_->name),
                        .version = version,
                        .page_size = static_cast<std::uint32_t>(page_),
                        .pae = spec_.pae,
                        .dmapbase = va.direct_map,
                        .dmapend = va.direct_map + va.direct_map_size,
                        .dmapphys = va.direct_map_phys,
                        .msgbuf = Bytes(msgbuf_.size),
                        .ram = sorted_ram(*memory_),
                        .pages = dumped_pages(options)};
    read(msgbuf_.ring, image.msgbuf);
    image.page_content = [this](std::uint64_t pa, MutableByteSpan page) { memory_->read(pa, page); };
    if (is_zero_filler(memory_->filler()))
        image.page_is_zero = [this](std::uint64_t pa) { return !memory_->is_written(pa); };

    const auto read_entry = [this](std::uint64_t pa) {
        std::array<std::byte, 8> b{};
        memory_->read(pa, b);
        return load64(b.data(), order());
    };
    if (spec_.os == "dragonfly" && version == 2) {
        // Entry i is the PDPT entry of the i-th GiB of the 48-bit space,
        // copied from the kernel's own tables in its range.
        image.kernbase = va.heap;  // VM_MIN_KERNEL_ADDRESS
        image.map_entries = std::uint64_t{512} * 512;
        image.map = [this, read_entry, first_slot = (va.heap >> 39) & 511](std::uint64_t first,
                                                                           std::span<std::uint64_t> entries) {
            const std::uint64_t slot = first / 512;
            if (slot < first_slot) return;
            const std::uint64_t pml4e = read_entry(pt_root() + slot * 8);
            if ((pml4e & pg_v) == 0) return;
            for (std::size_t i = 0; i < entries.size(); ++i)
                entries[i] = read_entry((pml4e & pg_frame) + (first % 512 + i) * 8);
        };
    } else if (amd64 && version >= 2) {
        // The PDEs of each GiB from VM_MIN_KERNEL_ADDRESS to the end of the
        // image; a 1 GiB page becomes 512 2 MiB entries.
        image.kernbase = va.heap;
        image.map_entries = (va.bss_end - image.kernbase + one_gib - 1) / one_gib * 512;
        image.map = [this, read_entry, kernbase = image.kernbase](std::uint64_t first,
                                                                  std::span<std::uint64_t> entries) {
            const std::uint64_t gib_va = kernbase + first / 512 * one_gib;
            const std::uint64_t pml4e = read_entry(pt_root() + ((gib_va >> 39) & 511) * 8);
            if ((pml4e & pg_v) == 0) return;
            const std::uint64_t pdpe = read_entry((pml4e & pg_frame) + ((gib_va >> 30) & 511) * 8);
            if ((pdpe & pg_v) == 0) return;
            for (std::size_t i = 0; i < entries.size(); ++i)
                entries[i] = (pdpe & pg_ps) != 0
                                 ? ((pdpe & pg_1gframe) + (first % 512 + i) * two_mib) | pg_v | pg_rw | pg_ps
                                 : read_entry((pdpe & pg_frame) + (first % 512 + i) * 8);
        };
    } else {
        // One entry per page from kernbase to kernel_vm_end, the heap's end,
        // from the mappings (large pages split into small ones).
        image.kernbase = arch_->name == "arm64" ? 0xffff000000000000 : va.image_offset;
        image.map_entries = (va.heap + va.heap_size - image.kernbase) / page_;
        image.map = [this, kernbase = image.kernbase](std::uint64_t first, std::span<std::uint64_t> entries) {
            const std::uint64_t lo = kernbase + first * page_;
            const std::uint64_t hi = lo + entries.size() * page_;
            auto it = mapped_.upper_bound(lo);
            if (it != mapped_.begin()) --it;
            for (; it != mapped_.end() && it->first < hi; ++it) {
                const auto [pa, size] = it->second;
                for (std::uint64_t off = 0; off < size; off += page_) {
                    const std::uint64_t at = it->first + off;
                    if (at < lo || at >= hi) continue;
                    entries[(at - lo) / page_] =
                        arch_->name == "arm64" ? (pa + off) | arm64_l3_kernel_page : (pa + off) | pg_v | pg_rw;
                }
            }
        };
    }
    write_minidump_image(out, image);
}

void CrashedMachine::write_full_dump(Sink& out) const {
    if (spec_.os == "netbsd") throw_usage("NetBSD kernels write no full ELF dumps");
    if (arch_->name == "arm64") throw_usage("full dumps are built for amd64 and i386 only");
    const bool is64 = arch_->pointer_size == 8;
    const std::uint64_t ehsize = is64 ? 64 : 52;
    const std::uint64_t phentsize = is64 ? 56 : 32;
    const std::vector<netbsd::RamSegment> ram = sorted_ram(*memory_);
    const std::uint64_t data_start = align_up(ehsize + ram.size() * phentsize, page_);

    Encoder e(order());
    e.u8(0x7f).string("ELF").u8(is64 ? elf::elfclass64 : elf::elfclass32).u8(elf::elfdata2lsb).u8(1);
    e.u8(elf::elfosabi_standalone).zeros(8);
    e.u16(elf::et_core).u16(arch_->elf_machine).u32(1);
    e.uint(0, arch_->pointer_size)
        .uint(ehsize, arch_->pointer_size)
        .uint(0, arch_->pointer_size);  // entry, phoff, shoff
    e.u32(0).u16(static_cast<std::uint16_t>(ehsize)).u16(static_cast<std::uint16_t>(phentsize));
    e.u16(static_cast<std::uint16_t>(ram.size())).u16(0).u16(0).u16(0);
    std::uint64_t offset = data_start;
    constexpr std::uint32_t pf_r = 4;
    for (const auto& seg : ram) {
        if (is64) {
            e.u32(elf::pt_load)
                .u32(pf_r)
                .u64(offset)
                .u64(seg.start)
                .u64(seg.start)
                .u64(seg.size)
                .u64(seg.size)
                .u64(page_);
        } else {
            e.u32(elf::pt_load).u32(static_cast<std::uint32_t>(offset)).u32(static_cast<std::uint32_t>(seg.start));
            e.u32(static_cast<std::uint32_t>(seg.start)).u32(static_cast<std::uint32_t>(seg.size));
            e.u32(static_cast<std::uint32_t>(seg.size)).u32(pf_r).u32(static_cast<std::uint32_t>(page_));
        }
        offset += seg.size;
    }
    e.pad_to(page_);
    PageWriter w(out, page_);
    w.write(e.data());
    Bytes chunk(1u << 20);
    for (const auto& seg : ram) {
        for (std::uint64_t at = 0; at < seg.size; at += chunk.size()) {
            const std::size_t n = std::min<std::uint64_t>(chunk.size(), seg.size - at);
            memory_->read(seg.start + at, MutableByteSpan(chunk.data(), n));
            w.write(ByteSpan(chunk.data(), n));
        }
    }
}

}  // namespace kvm::synth
