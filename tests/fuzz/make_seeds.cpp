// Writes the seed corpus: tiny but valid dumps (NetBSD kcore and device
// forms for each paging scheme; Linux ELF and kdump-compressed vmcores with
// VMCOREINFO, KASLR and real page tables; a few KiB each) and synthetic
// kernel namelists.  Run once; the outputs are committed under corpus/.
#include <kvm/elf.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>
#include <kvm/synth_klog.h>

#include "klog_layout.h"

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

// A seed of fuzz_klog: the reader's byte, then the image from its base.
void write_klog_seed(const std::string& path, klog_fuzz::Reader reader,
                     const std::vector<std::pair<std::uint64_t, Bytes>>& parts) {
    const std::uint64_t at = klog_fuzz::base(reader);
    Bytes seed{std::byte{reader}};
    for (const auto& [va, bytes] : parts) {
        const std::uint64_t offset = va - at + 1;
        if (seed.size() < offset + bytes.size()) seed.resize(offset + bytes.size());
        std::copy(bytes.begin(), bytes.end(), seed.begin() + static_cast<std::ptrdiff_t>(offset));
    }
    synth::write_file(path, seed);
}

Bytes word(std::uint64_t v, unsigned width) {
    Bytes b(width);
    store_uint(b.data(), v, width, ByteOrder::little);
    return b;
}

void write_printk_ring(const std::string& path, klog_fuzz::Reader reader, std::size_t messages) {
    const unsigned long_size = reader == klog_fuzz::prb32 ? 4 : 8;
    synth::PrintkRing ring(4, 10, long_size);
    for (std::size_t i = 0; i < messages; ++i)
        ring.append({.text = fmt::format("message {} {}", i, std::string(i * 7 % 40, 'x')),
                     .ts_nsec = i * 1000003,
                     .level = static_cast<std::uint8_t>(i % 8),
                     .caller_id = static_cast<std::uint32_t>(i),
                     .subsystem = i % 5 == 0 ? "pci" : "",
                     .device = i % 5 == 0 ? "+pci:0000:00:01.0" : ""});
    const auto at = klog_fuzz::prb_placement(klog_fuzz::base(reader));
    write_klog_seed(path, reader,
                    {{at.prb, word(at.ring, long_size)},
                     {at.ring, ring.ring_struct(at)},
                     {at.descs, ring.descs_bytes()},
                     {at.infos, ring.infos_bytes()},
                     {at.data, ring.data()}});
}

void write_klog_seeds(const std::string& dir) {
    write_printk_ring(dir + "/prb64", klog_fuzz::prb64, 6);
    write_printk_ring(dir + "/prb64-wrapped", klog_fuzz::prb64, 60);
    write_printk_ring(dir + "/prb32-wrapped", klog_fuzz::prb32, 40);

    synth::PrintkLogBuffer log(512);
    for (std::size_t i = 0; i < 40; ++i)
        log.append({.text = fmt::format("record {} {}", i, std::string(i * 5 % 30, 'y')), .ts_nsec = i});
    const auto at = klog_fuzz::log_placement(klog_fuzz::base(klog_fuzz::log_buf));
    write_klog_seed(dir + "/log_buf-wrapped", klog_fuzz::log_buf,
                    {{at.log_buf, word(at.buffer, 8)},
                     {at.log_buf_len, word(512, 4)},
                     {at.log_first_idx, word(log.first_idx, 4)},
                     {at.log_next_idx, word(log.next_idx, 4)},
                     {at.buffer, log.buffer()}});

    // NetBSD: 256 ring bytes that have wrapped (the write index is the oldest byte).
    const std::uint64_t nb = klog_fuzz::base(klog_fuzz::netbsd64);
    const std::uint64_t msgbuf = nb + klog_fuzz::netbsd_msgbuf_offset;
    std::string text;
    for (int i = 0; i < 30; ++i)
        text += fmt::format("{}[ {}.000000] line {}\n", i % 7 == 0 ? "<4>" : "", i, i);
    Bytes ring(256);
    std::uint64_t bufx = 0;
    for (const char c : text) {
        ring[bufx] = static_cast<std::byte>(c);
        bufx = (bufx + 1) % ring.size();
    }
    Bytes header;
    for (const std::uint64_t v : {std::uint64_t{0x63061}, bufx, (bufx + 1) % 256, std::uint64_t{256}}) {
        const Bytes w = word(v, 8);
        header.insert(header.end(), w.begin(), w.end());
    }
    write_klog_seed(dir + "/netbsd-wrapped", klog_fuzz::netbsd64,
                    {{nb, word(msgbuf, 8)}, {msgbuf, header}, {msgbuf + 32, ring}});

    const std::string kmsg =
        "5,0,0,-;Linux version 6.1.0\n6,1,1506726,-,caller=T1;Unstable clock\\x0aIf you want\n"
        "4,2,1998665,-;virtio_blk \\x5c\\x01 x\n SUBSYSTEM=virtio\n DEVICE=+virtio:virtio0\n14,3,2000000,c;user\n";
    Bytes kmsg_seed{std::byte{klog_fuzz::kmsg}};
    const Bytes k = to_bytes(kmsg);
    kmsg_seed.insert(kmsg_seed.end(), k.begin(), k.end());
    synth::write_file(dir + "/kmsg", kmsg_seed);
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
    write_klog_seeds(corpus + "/klog");
    for (const char* arch : {"amd64", "i386"}) {
        kvm::synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        kvm::synth::write_file(corpus + "/namelist/kernel-" + arch, m.kernel_elf());
    }
    return 0;
}
