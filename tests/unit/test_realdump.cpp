// Real Linux vmcores (REALDUMP_DIR, made by tests/realdump/make-linux-vmcore.sh)
// checked against what the guest kernel said about itself (truth/).  Every
// boot has a new KASLR offset, so every expected value is read from that
// run's truth files, never written here.  Without REALDUMP_DIR the tests say
// so and do nothing; scripts/test.sh always sets it.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>
#include <kvm/namelist.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"
#include "realdump_fixture.h"
#include "test_util.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

using namespace kvm;
using kvmtest::check_error;

namespace {

using kvmtest::DamagedSource;
using kvmtest::realdump_arch;
using kvmtest::realdump_dir;
using kvmtest::slurp;

// "address type name" lines of a truth file.
std::map<std::string, std::uint64_t> truth_symbols(const std::string& path) {
    std::map<std::string, std::uint64_t> out;
    std::istringstream in(slurp(path));
    std::string addr;
    std::string type;
    std::string name;
    while (in >> addr >> type >> name)
        out[name] = std::stoull(addr, nullptr, 16);
    return out;
}

// "name=hex" lines of a truth file (kaslr.txt).
std::map<std::string, std::uint64_t> truth_symbols_eq(const std::string& path) {
    std::map<std::string, std::uint64_t> out;
    std::istringstream in(slurp(path));
    std::string line;
    while (std::getline(in, line))
        if (const auto eq = line.find('='); eq != std::string::npos)
            out[line.substr(0, eq)] = std::stoull(line.substr(eq + 1), nullptr, 16);
    return out;
}

// The "System RAM" ranges of iomem.txt (first and last byte).
std::vector<std::pair<std::uint64_t, std::uint64_t>> system_ram(const std::string& dir) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    std::istringstream in(slurp(dir + "/truth/iomem.txt"));
    std::string line;
    while (std::getline(in, line))
        if (line.find(": System RAM") != std::string::npos && line[0] != ' ') {
            const auto dash = line.find('-');
            out.emplace_back(std::stoull(line.substr(0, dash), nullptr, 16),
                             std::stoull(line.substr(dash + 1, line.find(' ') - dash - 1), nullptr, 16));
        }
    return out;
}

// The start of the first "Kernel code" range of iomem.txt.
std::uint64_t kernel_code_start(const std::string& dir) {
    std::istringstream in(slurp(dir + "/truth/iomem.txt"));
    std::string line;
    while (std::getline(in, line))
        if (line.find(": Kernel code") != std::string::npos) {
            const auto start = line.find_first_not_of(' ');
            return std::stoull(line.substr(start, line.find('-') - start), nullptr, 16);
        }
    FAIL("no Kernel code in iomem.txt");
    return 0;
}

// The number of CPUs in truth/cpus.txt ("0-1", or "0").
std::size_t online_cpus(const std::string& dir) {
    const std::string s = slurp(dir + "/truth/cpus.txt");
    const auto dash = s.find('-');
    return dash == std::string::npos ? 1 : std::stoul(s.substr(dash + 1)) + 1;
}

struct Dumps {
    std::string dir;
    std::unique_ptr<Kernel> elf;
    std::unique_ptr<Kernel> kdump;
    std::unique_ptr<Kernel> flat;
    std::vector<const Kernel*> all() const { return {elf.get(), kdump.get(), flat.get()}; }
};

Dumps open_all(const std::string& dir, const std::string& namelist = "System.map") {
    Dumps d{.dir = dir};
    const std::string map = dir + "/" + namelist;
    d.elf = Kernel::open({.namelist = map, .core = dir + "/vmcore.elf"});
    d.kdump = Kernel::open({.namelist = map, .core = dir + "/vmcore.kdump"});
    d.flat = Kernel::open({.namelist = map, .core = dir + "/vmcore.kdump-flat"});
    return d;
}

Bytes read(const Kernel& k, std::uint64_t va, std::size_t n) {
    Bytes b(n);
    k.read(va, b);
    return b;
}

std::string open_error(const std::shared_ptr<ByteSource>& source) {
    return kvm::test::error_of([&] { open_format(source); });
}

}  // namespace

TEST_CASE("real dump: VMCOREINFO, KERNELOFFSET and phys_base are the guest's own") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const std::string truth = slurp(*dir + "/truth/vmcoreinfo.txt");
    const auto info = linux_kernel::VmcoreInfo::parse(truth);
    const std::string arch = realdump_arch(*dir);
    // The offset the guest saw: its _text (or _stext) less the link-time one.
    const auto kaslr = truth_symbols_eq(*dir + "/truth/kaslr.txt");
    const std::uint64_t kernel_offset = kaslr.at("KERNELOFFSET");
    const Dumps d = open_all(*dir);
    const std::vector<std::string> names = {"elf-vmcore", "kdump", "kdump-flattened"};
    for (std::size_t i = 0; i < 3; ++i) {
        const Kernel& k = *d.all()[i];
        CAPTURE(names[i]);
        CHECK(k.format().name() == names[i]);
        CHECK(k.arch().name == arch);
        CHECK(k.machine().os == "linux");
        const auto* notes = linux_kernel::core_notes(k.format());
        REQUIRE(notes != nullptr);
        REQUIRE(notes->vmcoreinfo);
        // The guest's grep leaves out lines with other prefixes (i386's CONFIG_X86_PAE=y).
        CHECK(notes->vmcoreinfo->entries().size() >= info.entries().size());
        for (const auto& entry : info.entries()) {
            CAPTURE(entry.first);
            CHECK(notes->vmcoreinfo->get(entry.first) == entry.second);
        }
        CHECK(notes->cpus.size() == online_cpus(*dir));
        // The relocation applied to System.map is KERNELOFFSET (i386's
        // VMCOREINFO names none; the guest's _text shows it all the same).
        CHECK(notes->vmcoreinfo->kernel_offset() == info.kernel_offset());
        CHECK(static_cast<std::uint64_t>(k.symbols().relocation()) == kernel_offset);
        // The kernel image is where the guest's iomem put "Kernel code"
        // (from _stext on arm64, past the image header; from _text on x86).
        CHECK(k.translate(k.symbols().find(arch == "arm64" ? "_stext" : "_text")->value).pa ==
              kernel_code_start(*dir));
        if (arch == "amd64") {
            CHECK(notes->vmcoreinfo->text() == truth);
            CHECK(k.machine().translator ==
                  (info.number("pgtable_l5_enabled").value_or(0) != 0 ? "amd64-la57" : "amd64"));
            CHECK(notes->vmcoreinfo->phys_base() == info.phys_base());
            CHECK(k.machine().pt_root == k.translate(*info.symbol("init_top_pgt")).pa);
        } else {
            CHECK(k.machine().translator == (arch == "arm64" ? "arm64" : "i386-pae-pdpt"));
            CHECK(k.machine().pt_root == k.translate(*info.symbol("swapper_pg_dir")).pa);
        }
    }
    if (arch != "amd64") return;
    // QEMU's sub-header phys_base is the decimal value read as hex: kept
    // for the record only.
    const std::int64_t pb = *info.phys_base();
    const std::uint64_t misread = std::stoull(std::to_string(pb < 0 ? -pb : pb), nullptr, 16);
    CHECK(d.kdump->machine().info.at("kdump.phys_base") ==
          fmt::format("{:#x} (sub-header; not used, VMCOREINFO's counts)", pb < 0 ? 0 - misread : misread));
}

TEST_CASE("real dump: linux_banner in memory is /proc/version") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const std::string version = slurp(*dir + "/truth/version.txt");
    const Dumps d = open_all(*dir);
    for (const Kernel* k : d.all()) {
        CAPTURE(k->format().name());
        CHECK(k->read_string(k->symbol_value("linux_banner"), 1024) == version);
    }
}

TEST_CASE("real dump: System.map relocated to the dump equals the guest's kallsyms") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const Dumps d = open_all(*dir);
    const auto chosen = truth_symbols(*dir + "/truth/kallsyms.txt");
    // Without CONFIG_KALLSYMS_ALL (Debian's arm64 and i386 kernels) kallsyms
    // lists functions only: of the chosen symbols, _stext and _etext.
    REQUIRE(chosen.size() >= (realdump_arch(*dir) == "amd64" ? 20u : 2u));
    for (const Kernel* k : d.all())
        for (const auto& symbol : chosen) {
            // Not a structured binding: clang 14 cannot capture one (CAPTURE does).
            const auto& name = symbol.first;
            const auto& value = symbol.second;
            CAPTURE(name);
            REQUIRE(k->symbols().find(name) != nullptr);
            CHECK(k->symbols().find(name)->value == value);
        }
    // Every kernel symbol with a unique name in the full kallsyms and in
    // the namelist agrees.  (A kallsyms of functions only, without
    // CONFIG_KALLSYMS_ALL, has one "event_function" where the vmlinux has a
    // static function and a global variable: find() gives the global.)
    const auto full = Namelist::load(*dir + "/truth/kallsyms.full.txt");
    std::map<std::string_view, std::size_t> in_namelist;
    for (const Symbol& s : d.kdump->symbols().by_address())
        ++in_namelist[s.name];
    std::size_t compared = 0;
    std::size_t differ = 0;
    for (const Symbol& s : full->symbols().by_address()) {
        if (!s.module.empty()) continue;
        const Symbol* mine = d.kdump->symbols().find(s.name);
        if (mine == nullptr || full->symbols().find(s.name) != &s || in_namelist[s.name] != 1) continue;
        ++compared;
        if (mine->value != s.value) ++differ;
    }
    CHECK(compared > 30000);
    CHECK(differ == 0);
    // kallsyms itself is already at run-time addresses: opened with the
    // dump, it does not move.
    auto k = Kernel::open({.namelist = *dir + "/truth/kallsyms.full.txt", .core = *dir + "/vmcore.kdump"});
    CHECK(k->symbols().relocation() == 0);
    CHECK(k->symbol_value("_stext") == chosen.at("_stext"));
}

TEST_CASE("real dump: the BTF between __start_BTF and __stop_BTF is /sys/kernel/btf/vmlinux") {
    const auto dir = realdump_dir();
    if (!dir) return;
    if (slurp(*dir + "/truth/btf.txt") == "absent\n") {
        // Debian's 686-pae kernel is built without CONFIG_DEBUG_INFO_BTF.
        const Dumps d = open_all(*dir);
        CHECK(d.kdump->symbols().find("__start_BTF") == nullptr);
        return;
    }
    const std::string btf = slurp(*dir + "/truth/btf.vmlinux");
    const Dumps d = open_all(*dir);
    for (const Kernel* k : d.all()) {
        CAPTURE(k->format().name());
        const std::uint64_t start = k->symbols().find("__start_BTF")->value;
        const std::uint64_t stop = k->symbols().find("__stop_BTF")->value;
        REQUIRE(stop - start == btf.size());
        CHECK(read(*k, start, btf.size()) == to_bytes(btf));
    }
}

TEST_CASE("real dump: ELF, kdump and flattened files hold the same physical memory") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const Dumps d = open_all(*dir);
    const auto elf_runs = d.elf->format().phys_ranges();
    const auto kdump_runs = d.kdump->format().phys_ranges();
    REQUIRE(elf_runs.size() == kdump_runs.size());
    for (std::size_t i = 0; i < elf_runs.size(); ++i) {
        CHECK(elf_runs[i].pa == kdump_runs[i].pa);
        CHECK(elf_runs[i].size == kdump_runs[i].size);
    }
    // Every 7th page, and a read that crosses pages at an odd offset.
    Bytes a(4096);
    Bytes b(4096);
    Bytes c(4096);
    std::size_t pages = 0;
    std::size_t differ = 0;
    for (const PhysRun& r : elf_runs)
        for (std::uint64_t pa = r.pa; pa < r.pa + r.size; pa += std::uint64_t{7} * 4096) {
            d.elf->read_phys(pa, a);
            d.kdump->read_phys(pa, b);
            d.flat->read_phys(pa, c);
            differ += (a != b) + (a != c);
            ++pages;
        }
    CHECK(pages > 4000);
    CHECK(differ == 0);
    Bytes x(std::size_t{3} * 4096);
    Bytes y(std::size_t{3} * 4096);
    d.elf->read_phys(elf_runs[0].pa + 0x123456, x);
    d.kdump->read_phys(elf_runs[0].pa + 0x123456, y);
    CHECK(x == y);
}

TEST_CASE("real dump: the direct map and vmalloc'd memory read through the page tables") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const Dumps d = open_all(*dir);
    const std::string truth = slurp(*dir + "/truth/vmcoreinfo.txt");
    const auto info = linux_kernel::VmcoreInfo::parse(truth);
    const std::string arch = realdump_arch(*dir);
    for (const Kernel* k : d.all()) {
        CAPTURE(k->format().name());
        // Where the direct map puts pa 0: amd64's page_offset_base; arm64's
        // linear map starts at PAGE_OFFSET (-(1 << VA_BITS) since 5.4) with
        // PHYS_OFFSET; i386's lowmem at PAGE_OFFSET 0xc0000000.
        std::uint64_t pob = 0xc0000000;
        if (arch == "amd64") pob = k->read_pointer(k->symbol_value("page_offset_base"));
        if (arch == "arm64")
            pob = (~std::uint64_t{0} << *info.number("VA_BITS")) - *info.unsigned_number("PHYS_OFFSET");
        const std::uint64_t text = k->symbols().find(arch == "arm64" ? "_stext" : "_text")->value;
        const std::uint64_t text_pa = kernel_code_start(*dir);
        // The kernel image by its own address (linear at phys_base) and by
        // the direct map (a page-table walk) are the same bytes.
        CHECK(k->translate(pob + text_pa).pa == text_pa);
        // (arm64's rodata=full maps the linear map with pages only.)
        if (arch == "amd64") CHECK(k->translate(pob + text_pa).page_size > 4096u);
        CHECK(read(*k, pob + text_pa, 1u << 20) == read(*k, text, 1u << 20));

        // vmalloc: the vmap_area list from VMCOREINFO's offsets; each area
        // read by its address (4 KiB page-table entries) and by the direct
        // map of the page it translates to.
        // (Elsewhere vmalloc space is above the direct map's end.)
        const std::uint64_t vmalloc_base = arch == "amd64" ? k->read_pointer(k->symbol_value("vmalloc_base"))
                                                           : pob + system_ram(*dir).back().second + 1;
        const std::uint64_t list_off = static_cast<std::uint64_t>(*info.offset("vmap_area.list"));
        const std::uint64_t start_off = static_cast<std::uint64_t>(*info.offset("vmap_area.va_start"));
        const std::uint64_t head = *info.symbol("vmap_area_list");
        std::uint64_t next = k->read_pointer(head);
        std::size_t areas = 0;
        std::size_t vmalloc_pages = 0;
        const auto ram = system_ram(*dir);
        while (next != head && areas < 200) {
            const std::uint64_t va_start = k->read_pointer(next - list_off + start_off);
            ++areas;
            next = k->read_pointer(next);
            CHECK(va_start >= vmalloc_base);
            // arm64 keeps a vm area for each kernel segment, the init ones
            // too, which free_initmem() unmapped.
            if (arch == "arm64" && va_start >= k->symbol_value("__init_begin") &&
                va_start < k->symbol_value("__init_end")) {
                CHECK_THROWS_AS(k->translate(va_start), kvm::Error);
                continue;
            }
            const Mapping m = k->translate(va_start);
            // ioremap()s of reserved memory and MMIO are vmap areas too, but
            // neither in the dump nor in the direct map.
            const bool in_ram = std::any_of(ram.begin(), ram.end(),
                                            [&](const auto& r) { return m.pa >= r.first && m.pa + 4095 <= r.second; });
            if (m.page_size != 4096 || !in_ram) continue;
            ++vmalloc_pages;
            CHECK(read(*k, va_start, 4096) == read(*k, pob + m.pa, 4096));
        }
        CHECK(areas > 10);
        CHECK(vmalloc_pages > 10);
    }
    // A module (module space, 4 KiB pages): the same bytes in both files.
    const auto full = Namelist::load(*dir + "/truth/kallsyms.full.txt");
    const Symbol* probe = full->symbols().find("virtblk_probe");
    REQUIRE(probe != nullptr);
    CHECK(probe->module == "virtio_blk");
    CHECK(read(*d.elf, probe->value, 256) == read(*d.kdump, probe->value, 256));
    CHECK(d.elf->translate(probe->value).pa == d.kdump->translate(probe->value).pa);
}

TEST_CASE("real dump: every vCPU's CR3 translates the kernel as init_top_pgt does") {
    const auto dir = realdump_dir();
    if (!dir) return;
    auto k = Kernel::open({.namelist = *dir + "/System.map", .core = *dir + "/vmcore.elf"});
    const auto* notes = linux_kernel::core_notes(k->format());
    REQUIRE(notes != nullptr);
    REQUIRE(!notes->cpus.empty());
    const std::string arch = realdump_arch(*dir);
    if (arch == "arm64") {
        // QEMU's arm64 notes hold no TTBR: the registers of NT_PRSTATUS only.
        for (const auto& cpu : notes->cpus) {
            CHECK(!cpu.cr3);
            CHECK(cpu.pc);
        }
        return;
    }
    const std::uint64_t text = k->symbols().find("_text")->value;
    // i386: lowmem at PAGE_OFFSET; a PAE CR3 keeps the table 32-byte aligned.
    const std::uint64_t pob = arch == "i386" ? 0xc0000000 : k->read_pointer(k->symbol_value("page_offset_base"));
    const std::uint64_t cr3_mask = arch == "i386" ? 0xffffffe0 : ~std::uint64_t{0xfff};
    const PhysReader phys = [&](std::uint64_t pa, MutableByteSpan out) { k->read_phys(pa, out); };
    for (const auto& cpu : notes->cpus) {
        REQUIRE(cpu.cr3);
        const auto t = make_translator(k->machine().translator, {.root = *cpu.cr3 & cr3_mask});
        CHECK(t->translate(text, phys).pa == kernel_code_start(*dir));
        CHECK(t->translate(pob + 0x1234, phys).pa == 0x1234u);
    }
}

TEST_CASE("real dump: truncated and damaged copies fail with the file and the problem named") {
    const auto dir = realdump_dir();
    if (!dir) return;
    // The offsets below are those of amd64's layout (4 KiB kdump blocks,
    // RAM from pa 0); the other arches' files are the same formats.
    if (realdump_arch(*dir) != "amd64") return;
    const std::string elf_path = *dir + "/vmcore.elf";
    const std::string kdump_path = *dir + "/vmcore.kdump";
    const std::string flat_path = *dir + "/vmcore.kdump-flat";
    const auto elf_file = open_file(elf_path);
    const auto kdump_file = open_file(kdump_path);
    const auto flat_file = open_file(flat_path);
    const elf::File parsed(elf_file);
    const auto cut = [](const std::shared_ptr<ByteSource>& f, std::uint64_t size) {
        return std::make_shared<DamagedSource>(f, size);
    };

    // ELF: in the program headers (after the section headers, where QEMU
    // puts them), in the notes, in memory.
    const std::uint64_t phoff = load64(elf_file->read_bytes(32, 8, "e_phoff").data(), ByteOrder::little);
    CHECK(phoff > 64);
    CHECK(open_error(cut(elf_file, phoff + 10)) ==
          fmt::format("{}: program header table at offset {:#x}, {} entries of 56 bytes, is past the end of the file "
                      "(size {:#x})",
                      elf_path, phoff, parsed.segments().size(), phoff + 10));
    const elf::Segment& note = parsed.segments()[0];
    REQUIRE(note.type == elf::pt_note);
    CHECK(open_error(cut(elf_file, note.offset + 16)) ==
          fmt::format("{}: PT_NOTE segment 0 at offset {:#x}, size {:#x}, is past the end of the file (size {:#x})",
                      elf_path, note.offset, note.filesz, note.offset + 16));
    const elf::Segment& ram = parsed.segments()[1];
    CHECK(open_error(cut(elf_file, 64u << 20)) ==
          fmt::format("{}: truncated: PT_LOAD 1 (vaddr {:#x}, paddr {:#x}) needs file bytes up to {:#x}, but the file "
                      "has 0x4000000",
                      elf_path, ram.vaddr, ram.paddr, ram.offset + ram.filesz));
    // e_phentsize wrong, e_phnum too large (the table then runs into
    // memory, and whatever it finds there is checked), e_phoff far away.
    auto phentsize = cut(elf_file, elf_file->size());
    phentsize->patch(54, 57, 2);
    CHECK(open_error(phentsize) ==
          elf_path + ": ELF header: e_phentsize is 57, but an ELF64 program header is 56 bytes");
    auto phnum = cut(elf_file, elf_file->size());
    phnum->patch(56, 0xfff0, 2);
    CHECK(kvm::test::kind_of([&] { open_format(phnum); }) == ErrorKind::corrupt);
    CHECK(open_error(phnum).find(elf_path + ": ") == 0);
    auto far_phoff = cut(elf_file, elf_file->size());
    far_phoff->patch(32, 1ull << 62, 8);
    CHECK(open_error(far_phoff) ==
          fmt::format("{}: program header table at offset 0x4000000000000000, {} entries of 56 bytes, is past the end "
                      "of the file (size {:#x})",
                      elf_path, parsed.segments().size(), elf_file->size()));
    // A note whose descsz runs off the notes.
    auto notes = cut(elf_file, elf_file->size());
    notes->patch(note.offset + 4, 0x7fffffff, 4);
    CHECK(open_error(notes) == fmt::format("{}: PT_NOTE segment 0: note 0 at offset 0x0: descsz 0x7fffffff runs past "
                                           "the end of the notes ({:#x} bytes)",
                                           elf_path, note.filesz));

    // kdump: in the header, the notes, the bitmaps, the descriptors.
    CHECK(open_error(cut(kdump_file, 300)) ==
          kdump_path + ": truncated: kdump header needs 464 bytes at offset 0x0, but the file has 0x12c");
    const Bytes sub = kdump_file->read_bytes(4096, 104, "sub-header");
    const std::uint64_t note_off = load64(sub.data() + 48, ByteOrder::little);
    const std::uint64_t note_size = load64(sub.data() + 56, ByteOrder::little);
    CHECK(note_off < 8192);
    auto note_block = cut(kdump_file, kdump_file->size());
    note_block->patch(4096 + 48, kdump_file->size() - 10, 8);
    CHECK(open_error(note_block) ==
          fmt::format("{}: truncated: note block needs {} bytes at offset {:#x}, but the file has {:#x}", kdump_path,
                      note_size, kdump_file->size() - 10, kdump_file->size()));
    const std::uint64_t sub_blocks = load32(kdump_file->read_bytes(432, 4, "sub_hdr_size").data(), ByteOrder::little);
    const std::uint64_t bitmap_blocks =
        load32(kdump_file->read_bytes(436, 4, "bitmap_blocks").data(), ByteOrder::little);
    // The bitmaps are checked against the file before they are read.
    const std::uint64_t bitmaps_at = (1 + sub_blocks) * 4096;
    const std::uint64_t dump_map = bitmaps_at + bitmap_blocks * 4096 / 2;
    CHECK(open_error(cut(kdump_file, dump_map + 100)) ==
          fmt::format("{}: truncated: the kdump bitmaps ({} blocks at offset {:#x}) need bytes up to {:#x}, but the "
                      "file has {:#x}",
                      kdump_path, bitmap_blocks, bitmaps_at, bitmaps_at + bitmap_blocks * 4096, dump_map + 100));
    const std::uint64_t descs = (1 + sub_blocks + bitmap_blocks) * 4096;
    CHECK(open_error(cut(kdump_file, descs + 1000)).find(fmt::format("{}: truncated: the ", kdump_path)) == 0);
    // Flipped fields.
    auto block = cut(kdump_file, kdump_file->size());
    block->patch(428, 1000, 4);
    CHECK(open_error(block) ==
          kdump_path + ": kdump header: block size 1000 is not a power of two from 1 KiB to 1 MiB");
    auto bitmaps = cut(kdump_file, kdump_file->size());
    bitmaps->patch(436, 0xffffffff, 4);
    CHECK(open_error(bitmaps) ==
          kdump_path + ": kdump bitmaps of 0xffffffff000 bytes, more than the 0x40000000 accepted");
    auto mapnr = cut(kdump_file, kdump_file->size());
    mapnr->patch(4096 + 96, 1ull << 40, 8);
    CHECK(open_error(mapnr) == fmt::format("{}: kdump bitmaps of {} blocks cannot hold the 0x10000000000 pfns of "
                                           "max_mapnr",
                                           kdump_path, bitmap_blocks));
    // A descriptor pointing past the end: the file opens, that page fails.
    auto desc = cut(kdump_file, kdump_file->size());
    desc->patch(descs + std::uint64_t{24} * 100, 1ull << 40, 8);
    {
        Kernel k(open_format(desc), nullptr);
        Bytes page(4096);
        std::string err;
        for (std::uint64_t pa = 0; pa < (1u << 20) && err.empty(); pa += 4096) {
            const std::string e = kvm::test::error_of([&] { k.read_phys(pa, page); });
            if (e != "no error") err = e;
        }
        CHECK(err == fmt::format("{}: truncated: pfn 0x64 (page descriptor 100) needs 4096 bytes at offset "
                                 "0x10000000000, but the file has {:#x}",
                                 kdump_path, kdump_file->size()));
    }
    // Cut in the page data: early memory reads, the tail does not.
    {
        Kernel k(open_format(cut(kdump_file, kdump_file->size() / 2)), nullptr);
        std::size_t read = 0;
        std::size_t failed = 0;
        Bytes page(4096);
        for (std::uint64_t pa = 0; pa < (128u << 20); pa += std::uint64_t{64} * 4096) {
            const std::string e = kvm::test::error_of([&] { k.read_phys(pa, page); });
            if (e == "no error")
                ++read;
            else if (e.find(kdump_path + ": truncated: pfn ") == 0)
                ++failed;
        }
        CHECK(read > 0);
        CHECK(failed > 0);
        CHECK(read + failed == 512u);
    }

    // Flattened: no end marker, and a record that claims too much.
    CHECK(open_error(cut(flat_file, 10)) == flat_path +
                                                ": not a recognised crash dump (tried netbsd-kcore, elf-core, kdump, "
                                                "kdump-flattened, minidump, freebsd-dumpdev, netbsd-dumpdev)");
    CHECK(open_error(cut(flat_file, 2u << 20)).find(flat_path + ": truncated: ") == 0);
    auto record = cut(flat_file, flat_file->size());
    Bytes huge(8);
    store64(huge.data(), 1ull << 40, ByteOrder::big);
    record->patch(4096 + 8, load64(huge.data(), ByteOrder::little), 8);
    CHECK(open_error(record) ==
          fmt::format("{}: truncated: flattened record 0 at offset 0x1000 needs 0x10000000000 bytes of data at offset "
                      "0x1010, but the file has {:#x}",
                      flat_path, flat_file->size()));
}

TEST_CASE("real dump: the image shortcut agrees with the page tables on every page, and past _end they decide") {
    const auto dir = realdump_dir();
    if (!dir) return;
    if (realdump_arch(*dir) != "amd64") return;  // amd64's kernel-image window only
    const Dumps d = open_all(*dir);
    for (const Kernel* k : d.all()) {
        CAPTURE(k->format().name());
        const auto image = linux_kernel::image_range(k->format(), k->namelist());
        REQUIRE(image);
        CHECK(image->va == k->symbols().find("_text")->value);
        CHECK(image->pa == kernel_code_start(*dir));
        const auto walker = make_translator(
            k->machine().translator, {.root = k->machine().pt_root, .encryption_mask = k->machine().encryption_mask});
        const PhysReader phys = [&](std::uint64_t pa, MutableByteSpan out) { k->read_phys(pa, out); };
        // Every page of [_text, _end): the shortcut's answer is the walk's.
        std::size_t pages = 0;
        for (std::uint64_t off = 0; off < image->size; off += 4096, ++pages) {
            const std::uint64_t va = image->va + off;
            if (walker->translate(va, phys).pa != image->pa + off || k->translate(va).pa != image->pa + off) {
                FAIL_CHECK(fmt::format("{:#x}: walk {:#x}, shortcut {:#x}", va, walker->translate(va, phys).pa,
                                       image->pa + off));
                break;
            }
        }
        CHECK(pages == image->size / 4096);
        // The rest of the KERNEL_IMAGE_SIZE window, every 2 MiB: what the
        // kernel reads there is what the tables say, mapped or not.
        const std::uint64_t window_end =
            linux_kernel::x86_64::start_kernel_map +
            static_cast<std::uint64_t>(*linux_kernel::VmcoreInfo::parse(slurp(*dir + "/truth/vmcoreinfo.txt"))
                                            .number("KERNEL_IMAGE_SIZE"));
        std::size_t unmapped = 0, slots = 0;
        for (std::uint64_t va = (image->va + image->size + (2u << 20)) & ~std::uint64_t{(2u << 20) - 1};
             va < window_end; va += 2u << 20, ++slots) {
            const std::string walked = kvm::test::error_of([&] { (void)walker->translate(va, phys); });
            const std::string read = kvm::test::error_of([&] { (void)k->translate(va); });
            CHECK(walked == read);
            if (walked == "no error") CHECK(k->translate(va).pa == walker->translate(va, phys).pa);
            unmapped += walked.find("is not valid") != std::string::npos ? 1 : 0;
        }
        // Most of the window past the image is a hole, however much of it
        // KASLR left (a guest whose image landed high has 60 slots, not 400).
        CAPTURE(slots);
        CHECK(unmapped * 2 > slots);
    }
}
