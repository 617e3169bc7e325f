// Writes the seed corpus: tiny but valid dumps (NetBSD kcore and device
// forms for each paging scheme; Linux ELF and kdump-compressed vmcores with
// VMCOREINFO, KASLR and real page tables; FreeBSD and DragonFly minidumps
// of each kind and a full ELF dump; a few KiB each) and synthetic kernel
// namelists.  Run once; the outputs are committed under corpus/.
#include <kvm/elf.h>
#include <kvm/layout.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>
#include <kvm/synth_ctf.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace {

using namespace kvm;

void write_dump(const std::string& dir, const std::string& arch_name, const std::string& scheme, bool pae) {
    const ArchInfo& arch = *find_arch(arch_name);
    const std::vector<netbsd::RamSegment> ram{{0x0, 0x8000}, {0x10000, 0x4000}};
    synth::PhysMemory memory(ram);
    memory.set_seed(3);
    auto tables = synth::make_page_table_builder(scheme, memory, arch.order);
    const std::uint64_t text = arch.pointer_size == 8 ? 0xffffffff80200000ull : 0xc0400000ull;
    for (std::uint64_t i = 0; i < 3; ++i) {
        const std::uint64_t pa = memory.alloc_pages(1);
        memory.write(pa, to_bytes("kernel page " + std::to_string(i)));
        tables->map(text + i * 4096, pa, 4096);
    }
    const Bytes header = netbsd::device_dump_header(arch, {.pt_root = tables->root(), .pae = pae, .ram = ram});
    MemorySink device;
    device.write(header);
    Bytes mem(0xc000);
    memory.read(0x0, MutableByteSpan(mem.data(), 0x8000));
    memory.read(0x10000, MutableByteSpan(mem.data() + 0x8000, 0x4000));
    device.write(mem);
    synth::write_file(dir + "/device-" + scheme, device.data());

    netbsd::DumpLayout layout;
    layout.arch = &arch;
    layout.cpu_segment.assign(header.begin() + 8, header.end());
    Bytes kcore = netbsd::kcore_file_header(layout, mem.size());
    kcore.insert(kcore.end(), mem.begin(), mem.end());
    synth::write_file(dir + "/kcore-" + scheme, kcore);
}

// A Linux x86_64 machine of 64 KiB: the kernel image slid by KASLR to
// physical 0x1000 (a negative phys_base), its page tables, VMCOREINFO
// naming the root; written as QEMU's ELF core and as kdump-compressed.
void write_linux_dumps(const std::string& dir) {
    const std::vector<netbsd::RamSegment> ram{{0x0, 0x10000}};
    synth::PhysMemory memory(ram);
    memory.set_seed(5);
    constexpr std::uint64_t start_kernel_map = 0xffffffff80000000;
    constexpr std::uint64_t text = 0xffffffff84000000;  // KERNELOFFSET 0x3000000
    constexpr std::uint64_t text_pa = 0x1000;
    const auto phys_base = static_cast<std::int64_t>(text_pa) - static_cast<std::int64_t>(text - start_kernel_map);
    memory.reserve(text_pa, 0x4000);
    auto tables = synth::make_page_table_builder("amd64", memory, ByteOrder::little);
    for (std::uint64_t i = 0; i < 4; ++i) {
        memory.write(text_pa + i * 4096, to_bytes("Linux version 6.1.0-seed " + std::to_string(i)));
        tables->map(text + i * 4096, text_pa + i * 4096, 4096);
    }
    const std::uint64_t root_va =
        start_kernel_map + static_cast<std::uint64_t>(static_cast<std::int64_t>(tables->root()) - phys_base);
    const std::string vmcoreinfo = fmt::format(
        "OSRELEASE=6.1.0-seed\nPAGESIZE=4096\nSYMBOL(init_top_pgt)={:x}\nSYMBOL(_stext)={:x}\n"
        "NUMBER(phys_base)={}\nKERNELOFFSET=3000000\nNUMBER(pgtable_l5_enabled)=0\n",
        root_va, text, phys_base);
    Bytes mem(0x10000);
    memory.read(0x0, mem);

    synth::ElfWriter elf({.type = elf::et_core});
    elf.add_note("VMCOREINFO", 0, to_bytes(vmcoreinfo));
    elf.add_segment(elf::pt_load, 0, 0, 0, mem, mem.size(), 0);
    synth::write_file(dir + "/linux-elf", elf.build());

    synth::KdumpWriter kdump({.vmcoreinfo = vmcoreinfo});
    for (std::uint64_t pfn = 0; pfn < mem.size() / 4096; ++pfn)
        kdump.add_page(pfn, ByteSpan(mem.data() + pfn * 4096, 4096));
    synth::write_file(dir + "/linux-kdump", kdump.build());
}

// A minidump of each kind with three dumped pages and a page map of eight
// entries whose kernbase is the fuzz target's first address, so that its
// reads go through the map (and, on amd64 and arm64, the direct map at
// 0xffff800000000000).  DragonFly's v2 page map is always 2 MiB: its seed
// keeps the header and the first page of the map only, so it is refused
// as cut short, but reaches every header check.
void write_minidumps(const std::string& dir) {
    struct Kind {
        const char* file;
        const char* os;
        const char* arch;
        std::uint32_t version;
        std::uint32_t page;
        bool pae;
    };
    constexpr Kind kinds[] = {
        {"minidump-amd64-v1", "freebsd", "amd64", 1, 4096, false},
        {"minidump-amd64-v2", "freebsd", "amd64", 2, 4096, false},
        {"minidump-amd64-v3", "freebsd", "amd64", 3, 4096, false},
        {"minidump-i386-v1", "freebsd", "i386", 1, 4096, false},
        {"minidump-i386-pae-v2", "freebsd", "i386", 2, 4096, true},
        {"minidump-arm64-v2", "freebsd", "arm64", 2, 4096, false},
        {"minidump-arm64-v3-16k", "freebsd", "arm64", 3, 16384, false},
        {"minidump-dragonfly-v2", "dragonfly", "amd64", 2, 4096, false},
    };
    for (const Kind& k : kinds) {
        const std::uint64_t page = k.page;
        const bool x86 = std::string_view(k.arch) != "arm64";
        const bool pde_map = std::string_view(k.arch) == "amd64" && k.version >= 2;
        synth::MinidumpImage image{.os = k.os,
                                   .arch = k.arch,
                                   .version = k.version,
                                   .page_size = k.page,
                                   .pae = k.pae,
                                   .kernbase = std::string_view(k.arch) == "i386" ? 0xc0400000 : 0xffffffff80200000,
                                   .msgbuf = to_bytes("<6>seed: boot\n<0>panic: seed\n"),
                                   .ram = {{0x0, 8 * page}},
                                   .pages = {page, 2 * page, 3 * page},
                                   .map_entries = 8};
        if (std::string_view(k.arch) != "i386") {
            image.dmapbase = 0xffff800000000000;
            image.dmapend = image.dmapbase + (1u << 30);
        }
        if (std::string_view(k.os) == "dragonfly") {
            image.kernbase = 0xffffff8000000000;
            image.map_entries = 512 * 512;
        }
        image.page_content = [](std::uint64_t pa, MutableByteSpan out) {
            std::fill(out.begin(), out.end(), std::byte{0});
            const Bytes text = to_bytes(fmt::format("kernel page at {:#x}", pa));
            std::copy(text.begin(), text.end(), out.begin());
        };
        image.map = [&](std::uint64_t first, std::span<std::uint64_t> out) {
            for (std::size_t i = 0; i < out.size(); ++i) {
                const std::uint64_t n = first + i;
                if (pde_map) {
                    out[i] = n == 0 ? 0x83 : n == 1 ? (3 * page) | 0x3 : 0;  // 2 MiB at 0, then a page table
                } else if (std::string_view(k.os) == "dragonfly") {
                    out[i] = n == 511 * 512 + 510 ? 0x83 : 0;  // 1 GiB at 0 for 0xffffffff80000000
                } else {
                    out[i] = (page * (1 + n % 3)) | (x86 ? 0x3 : 0x403);
                }
            }
        };
        MemorySink out;
        synth::write_minidump_image(out, image);
        Bytes bytes = out.data();
        if (std::string_view(k.os) == "dragonfly") bytes.resize(6 * page);
        synth::write_file(dir + "/" + k.file, bytes);
    }

    // A full dump: EI_OSABI 255, two physical PT_LOADs.
    synth::ElfWriter elf({.type = elf::et_core, .osabi = elf::elfosabi_standalone});
    Bytes low(0x2000);
    const Bytes text = to_bytes("FreeBSD full dump seed");
    std::copy(text.begin(), text.end(), low.begin());
    elf.add_segment(elf::pt_load, 4, 0x1000, 0x1000, low, low.size());
    elf.add_segment(elf::pt_load, 4, 0x200000, 0x200000, Bytes(0x1000, std::byte{0x5a}), 0x1000);
    synth::write_file(dir + "/freebsd-full", elf.build());
}

}  // namespace

// CTF containers: the shipped FreeBSD 14 and NetBSD 10 i386 layouts as a
// compiler would describe them (version 3 compressed, version 2 plain),
// and a small one of every kind of type in big-endian version 2.
void write_ctf(const std::string& dir, const std::string& layouts_dir) {
    std::filesystem::create_directories(dir);
    const StructLayouts freebsd = load_layouts_file(layouts_dir + "/freebsd-14-amd64.json");
    synth::write_file(dir + "/freebsd-14-v3-zlib", synth::ctf_from_layouts(freebsd, 3, true));
    const StructLayouts netbsd = load_layouts_file(layouts_dir + "/netbsd-10-i386.json");
    synth::write_file(dir + "/netbsd-10-i386-v2", synth::ctf_from_layouts(netbsd, 2, false));

    synth::CtfWriter w(2, ByteOrder::big);
    const std::uint32_t i32 = w.integer("int", 4, 32);
    const std::uint32_t ch = w.integer("char", 1, 8, 0, 3);
    const std::uint32_t pid = w.typedef_("pid_t", w.typedef_("__int32_t", i32));
    const std::uint32_t state = w.enumeration("p_states", 4, {{"PRS_NEW", 0}, {"PRS_NORMAL", 1}, {"PRS_ZOMBIE", 2}});
    const std::uint32_t fwd = w.forward("thread");
    const std::uint32_t comm = w.array(ch, i32, 20);
    const std::uint32_t threads = w.pointer(fwd);
    const std::uint32_t bits = w.integer("unsigned int", 4, 3, 4, 0);
    // p_list's pointers lead back to proc, three types on.
    const std::uint32_t self = w.pointer(w.next_id() + 3);
    const std::uint32_t self_ref = w.pointer(self);
    const std::uint32_t link = w.structure("", 8, {{"le_next", self, 0}, {"le_prev", self_ref, 32}});
    w.structure("proc", 48,
                {{"p_list", link, 0},
                 {"p_threads", threads, 64},
                 {"p_state", state, 96},
                 {"p_pid", pid, 128},
                 {"p_comm", comm, 160},
                 {"p_flag", bits, 352}});
    w.structure("thread", 8, {{"td_tid", w.qualifier(ctf::Kind::volatile_, pid), 0}});
    synth::write_file(dir + "/kinds-v2-big", w.build(false));
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    const std::string corpus = argv[1];
    write_dump(corpus + "/dump", "amd64", "amd64", false);
    write_dump(corpus + "/dump", "i386", "i386", false);
    write_dump(corpus + "/dump", "i386", "i386-pae", true);
    write_linux_dumps(corpus + "/dump");
    write_minidumps(corpus + "/dump");
    for (const char* arch : {"amd64", "i386"}) {
        kvm::synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        kvm::synth::write_file(corpus + "/namelist/kernel-" + arch, m.kernel_elf());
    }
    write_ctf(corpus + "/ctf", corpus + "/../../../share/kvmkit/layouts");
    return 0;
}
