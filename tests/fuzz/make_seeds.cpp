// Writes the seed corpus: tiny but valid dumps (NetBSD kcore and device
// forms for each paging scheme; Linux ELF and kdump-compressed vmcores with
// VMCOREINFO, KASLR and real page tables; a few KiB each), synthetic
// kernel namelists, and compressed cores (gzip members, gzip streams, zstd
// seekable files, a checkpoint index).  Run once; the outputs are committed
// under corpus/.
#include <kvm/compress.h>
#include <kvm/elf.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>

#include "fixed_gzip.h"
#include "io/gzip_index.h"
#include "io/zstd_format.h"

#include <fmt/format.h>

#include <algorithm>
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

// Text that compresses well, so that seeds of several 64 KiB blocks stay
// a few KiB.
std::string page_text(std::size_t n, int seed) {
    std::string text;
    for (int i = 0; text.size() < n; ++i)
        text += fmt::format("page {} of pool {}\n", i % 16, seed);
    text.resize(n);
    return text;
}

// savecore -z and --zstd files of three 64 KiB blocks (one of them zeros),
// a gzip -6 stream, members of both kinds together, a file cut short; the
// fixed gzip file's checkpoint index.
void write_compressed(const std::string& corpus) {
    constexpr std::size_t block = 64u << 10;
    Bytes data = to_bytes(page_text(2 * block + 1000, 1));
    std::fill_n(data.begin() + block, block, std::byte{0});
    const auto compress = [&](bool zstd) {
        MemorySink out;
        const std::unique_ptr<Sink> c = zstd ? create_zstd_sink(out, {.threads = 1, .block_size = block})
                                             : create_gzip_sink(out, {.threads = 1, .block_size = block});
        c->write(data);
        c->finish();
        return out.data();
    };
    const Bytes members = compress(false);
    synth::write_file(corpus + "/gzip/kv-members", members);
    synth::write_file(corpus + "/gzip/kv-cut",
                      Bytes(members.begin(), members.begin() + static_cast<std::ptrdiff_t>(members.size() / 2)));
    Bytes stream = fuzz::gzip_stream(page_text(20000, 2));
    synth::write_file(corpus + "/gzip/stream", stream);
    stream.insert(stream.end(), members.begin(), members.end());
    synth::write_file(corpus + "/gzip/mixed-members", stream);

    const Bytes zst = compress(true);
    synth::write_file(corpus + "/zstd/seekable", zst);
    // The same frames with a seek table that has (zero) checksums.
    Encoder table(ByteOrder::little);
    const std::size_t entries = 3;  // text, zeros, the last 1000 bytes
    const std::size_t old_table = 8 + entries * 8 + 9;
    table.u32(detail::seek_table_skippable_magic).u32(static_cast<std::uint32_t>(entries * 12 + 9));
    for (std::size_t i = 0; i < entries; ++i) {
        const std::byte* e = zst.data() + zst.size() - old_table + 8 + i * 8;
        table.u32(load32(e, ByteOrder::little)).u32(load32(e + 4, ByteOrder::little)).u32(0);
    }
    table.u32(entries).u8(detail::seek_table_checksum_flag).u32(detail::seekable_magic);
    Bytes checksummed(zst.begin(), zst.end() - static_cast<std::ptrdiff_t>(old_table));
    checksummed.insert(checksummed.end(), table.data().begin(), table.data().end());
    synth::write_file(corpus + "/zstd/seekable-checksums", checksummed);

    const auto gz = fuzz::fixed_gzip();
    const detail::GzipIndex index = detail::build_gzip_index(*gz, {}, fuzz::fixed_gzip_span);
    synth::write_file(corpus + "/gzip_index/fixed",
                      detail::encode_gzip_index(index, {.size = gz->size(), .mtime_sec = 1700000000, .mtime_nsec = 5}));
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
    write_compressed(corpus);
    for (const char* arch : {"amd64", "i386"}) {
        kvm::synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        kvm::synth::write_file(corpus + "/namelist/kernel-" + arch, m.kernel_elf());
    }
    return 0;
}
