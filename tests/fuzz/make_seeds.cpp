// Writes the seed corpus: tiny but valid dumps (NetBSD kcore and device
// forms for each paging scheme; Linux ELF and kdump-compressed vmcores with
// VMCOREINFO, KASLR and real page tables; a few KiB each; kdump files in
// every codec and split) and synthetic kernel namelists.  Run once; the outputs are committed under corpus/.
#include <kvm/elf.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <cstdio>
#include <string>

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

// kdump-compressed files of 1 KiB pages (a few KiB each): one per codec,
// one whose pages mix them, and the files of a split dump (alone, a file
// whose others are missing; flattened too).
void write_kdump_codecs(const std::string& dir) {
    constexpr std::uint32_t block = 1024;
    const auto writer = [&](std::vector<std::string> codecs) {
        synth::KdumpWriter w({.block_size = block, .dump_level = 31, .codecs = std::move(codecs)});
        for (std::uint64_t pfn = 1; pfn < 6; ++pfn) {
            std::string text;
            while (text.size() < block)
                text += fmt::format("kdump seed page {} ", pfn);
            text.resize(block);
            w.add_page(pfn, to_bytes(text));
        }
        w.exclude_page(6);
        return w;
    };
    for (const char* codec : {"lzo", "snappy", "zstd"})
        synth::write_file(dir + "/kdump-" + codec, writer({codec}).build());
    synth::write_file(dir + "/kdump-mixed", writer({"zlib", "lzo", "snappy", "zstd"}).build());
    const std::vector<Bytes> split = writer({"zstd", "lzo"}).build_split(2);
    synth::write_file(dir + "/kdump-split.1", split[0]);
    synth::write_file(dir + "/kdump-split-flat.2", synth::flatten(split[1], 512));
}

}  // namespace

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
    write_kdump_codecs(corpus + "/dump");
    for (const char* arch : {"amd64", "i386"}) {
        kvm::synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        kvm::synth::write_file(corpus + "/namelist/kernel-" + arch, m.kernel_elf());
    }
    return 0;
}
