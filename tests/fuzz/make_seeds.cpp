// Writes the seed corpus: tiny but valid dumps (NetBSD kcore and device
// forms for each paging scheme; Linux ELF and kdump-compressed vmcores with
// VMCOREINFO, KASLR and real page tables; a few KiB each), synthetic
// kernel namelists, and FreeBSD/DragonFly dump devices of each header
// version and kind.  Run once; the outputs are committed under corpus/.
#include <kvm/elf.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>
#include <kvm/synth_kerneldump.h>

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

// FreeBSD and DragonFly dump devices around a small ELF core, a textdump,
// compressed and encrypted bodies, and a cleared header.  The 64 KiB the
// kernel never writes are cut off: the layout counts from the device's end.
void write_kerneldump_devices(const std::string& dir) {
    Bytes memory(0x1000);
    for (std::size_t i = 0; i < memory.size(); ++i)
        memory[i] = static_cast<std::byte>(i * 7);
    synth::ElfWriter elf({.type = elf::et_core});
    elf.add_note("VMCOREINFO", 0, to_bytes("OSRELEASE=6.1.0-seed\nPAGESIZE=4096\n"));
    elf.add_segment(elf::pt_load, 4, 0, 0x100000, memory, memory.size(), 0);
    const Bytes core = elf.build();
    const auto write = [&](const std::string& name, const synth::DumpDeviceSpec& spec, const Bytes& body,
                           bool clear = false) {
        Bytes image = synth::dump_device(spec, body);
        const synth::DumpDeviceLayout l = synth::dump_device_layout(spec, body.size());
        image.erase(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(l.leader - 512));
        if (clear) {
            const std::string_view cleared = kerneldump::cleared_magic;
            std::copy(cleared.begin(), cleared.end(), reinterpret_cast<char*>(image.data() + image.size() - 512));
        }
        synth::write_file(dir + "/" + name, image);
    };
    for (std::uint32_t v = 1; v <= 4; ++v)
        write(fmt::format("freebsd-v{}", v), {.header = synth::freebsd_header(v)}, core);
    write("dragonfly-v1", {.header = synth::dragonfly_header()}, core);
    write("dragonfly-cleared", {.header = synth::dragonfly_header()}, core, true);
    const kerneldump::Header text = synth::freebsd_text_header(4);
    write("freebsd-textdump", {.header = text}, synth::ustar_archive({{"panic.txt", text.panicstring}}, 0));
    write("freebsd-encrypted", {.header = synth::freebsd_header(4), .key = synth::sample_key_area()}, core);
    kerneldump::Header gz = synth::freebsd_header(4);
    gz.compression = 1;
    write("freebsd-gzip", {.header = gz, .extent = 0x2000}, synth::gzip_body(core));
    kerneldump::Header zs = synth::freebsd_header(3);
    zs.compression = 2;
    write("freebsd-zstd-v3", {.header = zs}, synth::zstd_body(core));
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
    write_kerneldump_devices(corpus + "/kerneldump");
    for (const char* arch : {"amd64", "i386"}) {
        kvm::synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        kvm::synth::write_file(corpus + "/namelist/kernel-" + arch, m.kernel_elf());
    }
    return 0;
}
