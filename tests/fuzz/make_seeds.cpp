// Writes the seed corpus: tiny but valid dumps (kcore and device forms for
// each paging scheme, real page tables, a few KiB each) and synthetic
// kernel namelists.  Run once; the outputs are committed under corpus/.
#include <kvm/netbsd.h>
#include <kvm/synth.h>

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
    for (const char* arch : {"amd64", "i386"}) {
        kvm::synth::CrashedMachine m({.arch = arch, .realistic_memory = false});
        kvm::synth::write_file(corpus + "/namelist/kernel-" + arch, m.kernel_elf());
    }
    return 0;
}
