// A small synthetic Linux/x86_64 machine whose every byte is known, and its
// dumps in each format kvmkit reads: QEMU's physical ELF core, a kdump
// /proc/vmcore ELF, a /proc/kcore-like ELF, kdump-compressed and flattened
// files.  It has KASLR (a kernel offset and a negative phys_base), a
// randomised direct map, vmalloc pages, VMCOREINFO and QEMU CPU notes, and
// its namelist as a System.map (link-time) and a kallsyms (run-time).
//
// With LinuxSpec::arch "arm64" it is a Linux/arm64 machine instead, as
// QEMU's virt board and a 6.1 kernel make it: RAM from 0x40000000
// (PHYS_OFFSET), 4 KiB pages and 48-bit VAs, the image at its KASLR'd
// address and at kimage_voffset from its physical one, the linear map at
// 0xffff000000000000, swapper_pg_dir as the root, arm64's VMCOREINFO and
// NT_PRSTATUS notes (no QEMU CPU notes: QEMU writes none for arm64).
#pragma once

#include <kvm/bytes.h>
#include <kvm/elf.h>
#include <kvm/linux.h>
#include <kvm/symbols.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kvmtest {

struct LinuxSpec {
    bool la57 = false;
    std::uint64_t kernel_offset = 0x3000000;  // KASLR slide of the image
    std::uint64_t text_pa = 0x1000000;        // where _text is in RAM
    std::uint64_t seed = 11;
    std::uint64_t sme_mask = 0;  // AMD memory encryption's C-bit, set in every page-table entry and CR3
    std::string arch = "amd64";  // or "arm64"
};

class LinuxMachine {
public:
    static constexpr std::uint64_t link_text = 0xffffffff81000000;        // _text at link time
    static constexpr std::uint64_t arm64_link_text = 0xffff800008000000;  // KIMAGE_VADDR of 6.1
    static constexpr std::uint64_t arm64_ram_base = 0x40000000;           // QEMU virt's RAM, PHYS_OFFSET
    static constexpr std::uint64_t arm64_pac_mask = 0xffff000000000000;   // GENMASK(63, 48)
    static constexpr std::uint64_t image_size = 4u << 20;
    static constexpr std::uint64_t ram_top = 0x1800000;  // 24 MiB
    static constexpr std::uint64_t low_ram_end = 0x9f000;
    static constexpr std::uint64_t high_ram_start = 0x100000;
    static constexpr std::uint64_t vmalloc_pages = 3;
    static constexpr std::uint64_t per_cpu_runqueues = 0x31980;  // a per-cpu offset (type D)
    static constexpr std::uint64_t jiffies_value = 0x100004321;
    static constexpr std::uint64_t cr4_base = 0x6b0;
    // A page the tables map past the image's end, inside the KERNEL_IMAGE_SIZE
    // window but not linear with the image (as modules are); and an address
    // past the end that they leave unmapped.
    static constexpr std::uint64_t past_image_offset = 8u << 20;
    static constexpr std::uint64_t unmapped_offset = 16u << 20;

    explicit LinuxMachine(LinuxSpec spec = {})
        : spec_(spec),
          arm64_(spec.arch == "arm64"),
          ram_base_(arm64_ ? arm64_ram_base : 0),
          text_pa_(ram_base_ + spec.text_pa),
          memory_(
              {{ram_base_ + 0x1000, low_ram_end - 0x1000}, {ram_base_ + high_ram_start, ram_top - high_ram_start}}) {
        using kvm::synth::make_page_table_builder;
        memory_.set_filler(kvm::synth::realistic_filler(spec.seed, arm64_ ? 0xffff000000000000 : 0xffff888000000000));
        memory_.set_seed(spec.seed);
        memory_.reserve(text_pa_, image_size);
        tables_ = arm64_ ? kvm::synth::make_arm64_page_table_builder(memory_, 48)
                         : make_page_table_builder(spec.la57 ? "amd64-la57" : "amd64", memory_, kvm::ByteOrder::little,
                                                   spec.sme_mask);

        text_ = (arm64_ ? arm64_link_text : link_text) + spec.kernel_offset;
        phys_base_ = static_cast<std::int64_t>(text_pa_) - static_cast<std::int64_t>(text_ - 0xffffffff80000000);
        kimage_voffset_ = text_ - text_pa_;
        page_offset_base_ = arm64_ ? 0xffff000000000000 : spec.la57 ? 0xff11000000000000 : 0xffff8ad840000000;
        vmalloc_base_ = arm64_ ? 0xffff800080000000 : spec.la57 ? 0xffa0000000000000 : 0xffffd34f00000000;

        tables_->map_range(text_, text_pa_, image_size);
        tables_->map_range(page_offset_base_, ram_base_, ram_top);

        define("_text", 'T', 0);
        define("_stext", 'T', 0);
        define("startup_64", 'T', 0x40);
        data_ = text_ + 0x100000;
        banner_ = "Linux version 6.1.0-synthetic (kvmkit@test) #1 SMP PREEMPT_DYNAMIC";
        write_string(define("linux_banner", 'D', banner_.size() + 1), banner_);
        write_u64(define("page_offset_base", 'D', 8), page_offset_base_);
        write_u64(define("vmalloc_base", 'D', 8), vmalloc_base_);
        write_u64(define("jiffies", 'D', 8), jiffies_value);
        define("init_uts_ns", 'D', 0x190);
        define("local_counter", 'd', 8);
        data_ = text_ + 0x200000;
        define(root_symbol(), 'D', 4096);
        define("_end", 'B', 0);
        symbols_.push_back({"runqueues", per_cpu_runqueues, 'D'});
        symbols_.push_back({"__per_cpu_start", 0, 'A'});

        // vmalloc: scattered 4 KiB pages with a known pattern.
        for (std::uint64_t i = 0; i < vmalloc_pages; ++i) {
            const std::uint64_t pa = memory_.alloc_pages(1);
            tables_->map(vmalloc_va(i), pa, 4096);
            kvm::Bytes page(4096);
            for (std::size_t j = 0; j < page.size(); ++j)
                page[j] = static_cast<std::byte>((i * 31 + j * 7) & 0xff);
            memory_.write(pa, page);
            vmalloc_pa_.push_back(pa);
        }

        past_image_pa_ = memory_.alloc_pages(1);
        tables_->map(text_ + past_image_offset, past_image_pa_, 4096);
        kvm::Bytes past(4096);
        for (std::size_t j = 0; j < past.size(); ++j)
            past[j] = static_cast<std::byte>((j * 13 + 5) & 0xff);
        memory_.write(past_image_pa_, past);

        // init_top_pgt (swapper_pg_dir on arm64) is a copy of the top table,
        // inside the image; the builder's own root plays a process's page
        // directory (CPU 0's CR3).
        kvm::Bytes top(4096);
        memory_.read(tables_->root(), top);
        memory_.write(image_pa(symbol(root_symbol())), top);
    }

    const LinuxSpec& spec() const { return spec_; }
    kvm::synth::PhysMemory& memory() { return memory_; }
    const kvm::synth::PhysMemory& memory() const { return memory_; }
    std::uint64_t text() const { return text_; }
    std::int64_t phys_base() const { return phys_base_; }
    std::uint64_t page_offset_base() const { return page_offset_base_; }
    std::uint64_t vmalloc_va(std::uint64_t i) const { return vmalloc_base_ + 0x10000 + i * 4096; }
    std::uint64_t vmalloc_pa(std::uint64_t i) const { return vmalloc_pa_.at(i); }
    std::uint64_t past_image_pa() const { return past_image_pa_; }
    const std::string& banner() const { return banner_; }
    std::uint64_t image_pa(std::uint64_t va) const {
        if (arm64_) return va - kimage_voffset_;
        return va - 0xffffffff80000000 + static_cast<std::uint64_t>(phys_base_);
    }
    bool arm64() const { return arm64_; }
    std::uint64_t ram_base() const { return ram_base_; }
    std::uint64_t text_pa() const { return text_pa_; }
    std::uint64_t kimage_voffset() const { return kimage_voffset_; }
    // The direct (x86) or linear (arm64) map's address of a physical one.
    std::uint64_t direct(std::uint64_t pa) const { return page_offset_base_ + (pa - ram_base_); }
    // The kernel's own top-level page table.
    std::string root_symbol() const { return arm64_ ? "swapper_pg_dir" : "init_top_pgt"; }
    std::uint64_t process_root() const { return tables_->root(); }

    // More of the kernel: a data object in the image, bytes written through
    // the image mapping, and VMCOREINFO lines the kernel would add for it.
    std::uint64_t define_data(const std::string& name, std::uint64_t size) { return define(name, 'D', size); }
    void write_image(std::uint64_t va, kvm::ByteSpan bytes) { memory_.write(image_pa(va), bytes); }
    std::string extra_vmcoreinfo;

    std::uint64_t symbol(const std::string& name) const {
        for (const Sym& s : symbols_)
            if (s.name == name) return s.value;
        throw std::runtime_error("no symbol " + name);
    }

    // A kernel variable of `size` bytes ('D' data, 'B' bss), placed after
    // the previous one in the image.
    std::uint64_t define_variable(const std::string& name, char type, std::uint64_t size) {
        return define(name, type, size);
    }
    // Kernel heap (kmalloc): fresh memory on scattered pages, read through
    // the direct map.  Objects of a page or more start on a page.
    std::uint64_t kmalloc(std::uint64_t size) {
        size = kvm::align_up(std::max<std::uint64_t>(size, 1), 64);
        if (size > heap_left_) {
            const std::uint64_t pages = kvm::align_up(size, 4096) / 4096;
            heap_pa_ = memory_.alloc_pages(pages);
            heap_left_ = pages * 4096;
        }
        const std::uint64_t va = direct(heap_pa_);
        heap_pa_ += size;
        heap_left_ -= size;
        return va;
    }
    // Writes kernel memory at an address of the image or of the direct map.
    void write(std::uint64_t va, kvm::ByteSpan bytes) { memory_.write(phys_of(va), bytes); }
    void write_uint(std::uint64_t va, std::uint64_t value, unsigned width) {
        kvm::Bytes b(width);
        kvm::store_uint(b.data(), value, width, kvm::ByteOrder::little);
        write(va, b);
    }
    std::uint64_t phys_of(std::uint64_t va) const {
        if (image_symbol(va)) return image_pa(va);
        if (va >= page_offset_base_ && va - page_offset_base_ < ram_top) return va - page_offset_base_ + ram_base_;
        throw std::runtime_error(fmt::format("{:#x} is neither in the image nor in the direct map", va));
    }

    // The symbols at run-time addresses, as a namelist relocated to the
    // dump has them.
    kvm::SymbolTable symbol_table() const {
        std::vector<kvm::Symbol> out;
        for (const Sym& s : sorted())
            out.push_back({.name = s.name, .value = s.value, .type = s.type});
        return kvm::SymbolTable(std::move(out));
    }

    kvm::Bytes read_phys(std::uint64_t pa, std::size_t n) const {
        kvm::Bytes b(n);
        memory_.read(pa, b);
        return b;
    }

    // ------------------------------------------------------------ namelists

    // System.map: link-time addresses for the image, as nm -n prints them.
    std::string system_map() const {
        std::string out;
        for (const Sym& s : sorted()) {
            out += fmt::format("{:016x} {} {}\n", image_symbol(s.value) ? s.value - spec_.kernel_offset : s.value,
                               s.type, s.name);
        }
        return out;
    }

    // /proc/kallsyms: run-time addresses, and a module.
    std::string kallsyms() const {
        std::string out;
        for (const Sym& s : sorted())
            out += fmt::format("{:016x} {} {}\n", s.value, s.type, s.name);
        const std::uint64_t modules = arm64_ ? 0xffff800000a01000 : 0xffffffffc0a01000;
        out += fmt::format("{:016x} t virtblk_probe\t[virtio_blk]\n", modules);
        out += fmt::format("{:016x} d virtblk_driver\t[virtio_blk]\n", modules + 0x2000);
        return out;
    }

    // ------------------------------------------------------------ notes

    std::string vmcoreinfo() const {
        if (arm64_)
            return fmt::format(
                       "OSRELEASE=6.1.0-synthetic\nPAGESIZE=4096\nSYMBOL(init_uts_ns)={:x}\n"
                       "SYMBOL(swapper_pg_dir)={:x}\nSYMBOL(_stext)={:x}\nNUMBER(VA_BITS)=48\n"
                       "NUMBER(kimage_voffset)={:#x}\nNUMBER(PHYS_OFFSET)={:#x}\nNUMBER(TCR_EL1_T1SZ)=0x10\n"
                       "KERNELOFFSET={:x}\nNUMBER(KERNELPACMASK)={:#x}\n",
                       symbol("init_uts_ns"), symbol("swapper_pg_dir"), symbol("_stext"), kimage_voffset_, ram_base_,
                       spec_.kernel_offset, arm64_pac_mask) +
                   extra_vmcoreinfo;
        const std::string base = fmt::format(
            "OSRELEASE=6.1.0-synthetic\nPAGESIZE=4096\nSYMBOL(init_uts_ns)={:x}\nSYMBOL(swapper_pg_dir)={:x}\n"
            "SYMBOL(_stext)={:x}\nSYMBOL(mem_section)=ffff8ad847fd9000\nLENGTH(mem_section)=2048\n"
            "SIZE(page)=64\nOFFSET(page.flags)=0\nNUMBER(phys_base)={}\nSYMBOL(init_top_pgt)={:x}\n"
            "NUMBER(pgtable_l5_enabled)={}\nKERNELOFFSET={:x}\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n"
            "NUMBER(sme_mask)={}\n",
            symbol("init_uts_ns"), symbol("init_top_pgt"), symbol("_stext"), phys_base_, symbol("init_top_pgt"),
            spec_.la57 ? 1 : 0, spec_.kernel_offset, spec_.sme_mask);
        return base + extra_vmcoreinfo;
    }

    // NT_PRSTATUS for x86_64: 336 bytes, pr_pid at 32, pr_reg at 112 (rip is
    // register 16, rsp register 19).
    static kvm::Bytes prstatus(std::uint32_t pid, std::uint64_t rip, std::uint64_t rsp) {
        kvm::Bytes d(336);
        kvm::store32(d.data() + 32, pid, kvm::ByteOrder::little);
        kvm::store64(d.data() + 112 + 16 * 8, rip, kvm::ByteOrder::little);
        kvm::store64(d.data() + 112 + 19 * 8, rsp, kvm::ByteOrder::little);
        return d;
    }

    // QEMUCPUState version 1, 440 bytes: cr[0..4] at 392.
    static kvm::Bytes qemu_cpu(std::uint64_t cr0, std::uint64_t cr3, std::uint64_t cr4) {
        kvm::Bytes d(440);
        kvm::store32(d.data(), 1, kvm::ByteOrder::little);
        kvm::store32(d.data() + 4, 440, kvm::ByteOrder::little);
        kvm::store64(d.data() + 392, cr0, kvm::ByteOrder::little);
        kvm::store64(d.data() + 392 + 3 * 8, cr3, kvm::ByteOrder::little);
        kvm::store64(d.data() + 392 + 4 * 8, cr4, kvm::ByteOrder::little);
        return d;
    }

    // NT_PRSTATUS for arm64: 392 bytes, pr_pid at 32, pr_reg at 112 (x0..x30,
    // then sp, pc and pstate).
    static kvm::Bytes arm64_prstatus(std::uint32_t pid, std::uint64_t pc, std::uint64_t sp) {
        kvm::Bytes d(392);
        kvm::store32(d.data() + 32, pid, kvm::ByteOrder::little);
        kvm::store64(d.data() + 112 + 31 * 8, sp, kvm::ByteOrder::little);
        kvm::store64(d.data() + 112 + 32 * 8, pc, kvm::ByteOrder::little);
        return d;
    }

    std::uint64_t cr4() const { return cr4_base | (spec_.la57 ? kvm::linux_kernel::x86_64::cr4_la57 : 0); }

    struct NoteSpec {
        std::string name;
        std::uint32_t type;
        kvm::Bytes desc;
    };
    // What QEMU writes: PRSTATUS per vCPU, QEMU state per vCPU, VMCOREINFO.
    std::vector<NoteSpec> notes(bool with_vmcoreinfo = true, bool with_qemu = true) const {
        std::vector<NoteSpec> n;
        if (arm64_) {
            n.push_back({"CORE", 1, arm64_prstatus(1, text_ + 0x40, 0xffff800009f43e70)});
            n.push_back({"CORE", 1, arm64_prstatus(2, text_ + 0x40, 0xffff800009f53e70)});
            if (with_vmcoreinfo) n.push_back({"VMCOREINFO", 0, kvm::to_bytes(vmcoreinfo())});
            return n;
        }
        n.push_back({"CORE", 1, prstatus(1, text_ + 0x40, 0xffffc90000003e98)});
        n.push_back({"CORE", 1, prstatus(2, text_ + 0x40, 0xffffc90000013ed8)});
        if (with_qemu) {
            n.push_back({"QEMU", 0, qemu_cpu(0x80050033, process_root() | spec_.sme_mask, cr4())});
            n.push_back({"QEMU", 0, qemu_cpu(0x80050033, image_pa(symbol("init_top_pgt")) | spec_.sme_mask, cr4())});
        }
        if (with_vmcoreinfo) n.push_back({"VMCOREINFO", 0, kvm::to_bytes(vmcoreinfo())});
        return n;
    }

    // The notes as a note block (kdump files keep one).
    kvm::Bytes note_block(bool with_vmcoreinfo = true) const {
        kvm::Encoder e(kvm::ByteOrder::little);
        for (const NoteSpec& n : notes(with_vmcoreinfo)) {
            e.u32(static_cast<std::uint32_t>(n.name.size() + 1))
                .u32(static_cast<std::uint32_t>(n.desc.size()))
                .u32(n.type);
            e.string(n.name).u8(0).pad_to(4);
            e.bytes(n.desc).pad_to(4);
        }
        return e.take();
    }

    // ------------------------------------------------------------ dumps

    // QEMU dump-guest-memory, paging=false: physical PT_LOADs (vaddr == paddr).
    kvm::Bytes elf_qemu(bool with_vmcoreinfo = true, bool with_qemu = true) const {
        kvm::synth::ElfWriter w(elf_options());
        for (const NoteSpec& n : notes(with_vmcoreinfo, with_qemu))
            w.add_note(n.name, n.type, n.desc);
        for (const auto& seg : memory_.ram())
            w.add_segment(kvm::elf::pt_load, 0, seg.start, seg.start, read_phys(seg.start, seg.size), seg.size, 0);
        return w.build();
    }

    // A kdump /proc/vmcore: the kernel text by its virtual address (it is
    // also inside a RAM segment), then RAM by direct-map address.
    kvm::Bytes elf_vmcore() const {
        kvm::synth::ElfWriter w(elf_options());
        for (const NoteSpec& n : notes(true, false))
            w.add_note(n.name, n.type, n.desc);
        w.add_segment(kvm::elf::pt_load, 0, text_, text_pa_, read_phys(text_pa_, image_size), image_size, 0);
        for (const auto& seg : memory_.ram())
            w.add_segment(kvm::elf::pt_load, 0, direct(seg.start), seg.start, read_phys(seg.start, seg.size), seg.size,
                          0);
        return w.build();
    }

    // /proc/kcore: text, direct map, and a vmalloc window with no physical
    // address (p_paddr all ones) whose last page is only in p_memsz.
    kvm::Bytes elf_kcore() const {
        kvm::synth::ElfWriter w(elf_options());
        w.add_note("CORE", 1, prstatus(0, 0, 0));
        w.add_note("CORE", kvm::linux_kernel::nt_taskstruct, kvm::Bytes(64));
        w.add_note("VMCOREINFO", 0, kvm::to_bytes(vmcoreinfo()));
        w.add_segment(kvm::elf::pt_load, 7, text_, text_pa_, read_phys(text_pa_, image_size), image_size, 0);
        kvm::Bytes window(vmalloc_pages * 4096);
        for (std::uint64_t i = 0; i < vmalloc_pages; ++i)
            memory_.read(vmalloc_pa(i), kvm::MutableByteSpan(window.data() + i * 4096, 4096));
        w.add_segment(kvm::elf::pt_load, 7, vmalloc_va(0), ~std::uint64_t{0}, window, window.size() + 4096, 0);
        for (const auto& seg : memory_.ram())
            w.add_segment(kvm::elf::pt_load, 7, direct(seg.start), seg.start, read_phys(seg.start, seg.size), seg.size,
                          0);
        return w.build();
    }

    // kdump-compressed, as QEMU writes it (the sub-header's phys_base is
    // QEMU's misreading of the decimal VMCOREINFO value as hex); the pages
    // in `excluded` are left out as makedumpfile's dump levels do.
    kvm::Bytes kdump(kvm::synth::KdumpOptions options = {}, const std::vector<std::uint64_t>& excluded = {}) const {
        return kdump_writer(std::move(options), excluded).build();
    }

    // The writer kdump() builds with (split dumps: build_split).
    kvm::synth::KdumpWriter kdump_writer(kvm::synth::KdumpOptions options = {},
                                         const std::vector<std::uint64_t>& excluded = {}) const {
        options.vmcoreinfo = vmcoreinfo();
        options.notes = note_block();
        // QEMU reads arm64's hex NUMBER(PHYS_OFFSET) right.
        options.sub_phys_base = arm64_ ? ram_base_ : misread_phys_base();
        // An arm64 machine's name unless the test chose one (QEMU's "Unknown").
        if (arm64_ && options.machine == kvm::synth::KdumpOptions{}.machine) options.machine = "aarch64";
        return kvm::synth::kdump_writer(memory_, memory_.ram(), std::move(options), excluded);
    }

    // QEMU's mistake: the decimal digits of phys_base read as hex.
    std::uint64_t misread_phys_base() const {
        return std::stoull(std::to_string(phys_base_ < 0 ? -phys_base_ : phys_base_), nullptr, 16);
    }

private:
    kvm::synth::ElfWriterOptions elf_options() const {
        return {.machine = arm64_ ? kvm::elf::em_aarch64 : kvm::elf::em_x86_64, .type = kvm::elf::et_core};
    }
    // A symbol of the kernel image (System.map gives it at its link-time address).
    bool image_symbol(std::uint64_t value) const {
        return arm64_ ? value >= text_ && value - text_ < (64u << 20) : value >= 0xffffffff80000000;
    }

    struct Sym {
        std::string name;
        std::uint64_t value;
        char type;
    };

    std::uint64_t define(const std::string& name, char type, std::uint64_t size) {
        std::uint64_t at = text_;
        if (type != 'T') {
            at = kvm::align_up(data_, size >= 4096 ? 4096 : 8);
            data_ = at + size;
        } else if (size != 0) {
            at = text_ + 0x1000;
        }
        symbols_.push_back({name, at, type});
        return at;
    }

    std::vector<Sym> sorted() const {
        std::vector<Sym> s = symbols_;
        std::stable_sort(s.begin(), s.end(), [](const Sym& a, const Sym& b) { return a.value < b.value; });
        return s;
    }

    void write_string(std::uint64_t va, const std::string& s) {
        kvm::Bytes b = kvm::to_bytes(s);
        b.push_back(std::byte{0});
        memory_.write(image_pa(va), b);
    }
    void write_u64(std::uint64_t va, std::uint64_t v) {
        kvm::Bytes b(8);
        kvm::store64(b.data(), v, kvm::ByteOrder::little);
        memory_.write(image_pa(va), b);
    }

    LinuxSpec spec_;
    bool arm64_;
    std::uint64_t ram_base_;
    std::uint64_t text_pa_;
    kvm::synth::PhysMemory memory_;
    std::unique_ptr<kvm::synth::PageTableBuilder> tables_;
    std::uint64_t text_ = 0;
    std::int64_t phys_base_ = 0;
    std::uint64_t kimage_voffset_ = 0;
    std::uint64_t page_offset_base_ = 0;
    std::uint64_t vmalloc_base_ = 0;
    std::uint64_t data_ = 0;
    std::string banner_;
    std::vector<Sym> symbols_;
    std::vector<std::uint64_t> vmalloc_pa_;
    std::uint64_t past_image_pa_ = 0;
    std::uint64_t heap_pa_ = 0;
    std::uint64_t heap_left_ = 0;
};

}  // namespace kvmtest
