// Linux dumps on a synthetic machine: VMCOREINFO, core notes, the machine
// state they imply (paging, root, KASLR, phys_base), ELF cores of every kind
// kvmkit reads, symbol lists and their relocation, and reads through Kernel.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>
#include <kvm/namelist.h>
#include <kvm/synth.h>
#include <kvm/target.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"
#include "linux_fixture.h"
#include "test_util.h"

#include <unistd.h>
#include <cstring>
#include <fstream>

using namespace kvm;
using kvm::test::TempDir;
using kvmtest::check_error;
using kvmtest::LinuxMachine;

namespace {

std::unique_ptr<Format> open_bytes(Bytes b, std::string name = "vmcore") {
    return open_format(std::make_shared<MemorySource>(std::move(b), std::move(name)));
}

// A Kernel over dump bytes with the machine's namelist in `kind` form,
// opened the way Kernel::open does it (files on disk).
struct Opened {
    TempDir dir;
    std::unique_ptr<Kernel> kernel;
};
std::unique_ptr<Opened> open_dump(const Bytes& dump, const std::string& namelist_text) {
    auto o = std::make_unique<Opened>();
    synth::write_file(o->dir / "vmcore", dump);
    std::string namelist;
    if (!namelist_text.empty()) {
        namelist = o->dir / "System.map";
        synth::write_file(namelist, to_bytes(namelist_text));
    }
    o->kernel = Kernel::open({.namelist = namelist, .core = o->dir / "vmcore"});
    return o;
}

Bytes read(const Kernel& k, std::uint64_t va, std::size_t n) {
    Bytes b(n);
    k.read(va, b);
    return b;
}

}  // namespace

// ---------------------------------------------------------------- machine

TEST_CASE("machine state: KASLR kernel image at a negative phys_base, root from init_top_pgt") {
    const LinuxMachine m;
    CHECK(m.phys_base() == -0x3000000);
    const auto notes = linux_kernel::decode_core_notes(elf::File(std::make_shared<MemorySource>(m.elf_qemu())).notes(),
                                                       *find_arch("amd64"));
    const MachineState s = linux_kernel::machine_state(*find_arch("amd64"), notes);
    CHECK(s.os == "linux");
    CHECK(s.translator == "amd64");
    CHECK(s.pt_root == m.image_pa(m.symbol("init_top_pgt")));
    CHECK(s.info.at("pt_root.source") ==
          fmt::format("SYMBOL(init_top_pgt)={:x} at phys_base -50331648", m.symbol("init_top_pgt")));
    CHECK(s.info.at("paging.source") == "NUMBER(pgtable_l5_enabled)=0");
    CHECK(s.info.at("KERNELOFFSET") == "3000000");
    // With page tables, they decide: the KERNEL_IMAGE_SIZE window is no shortcut.
    CHECK(s.linear.empty());
    CHECK(s.encryption_mask == 0u);
}

TEST_CASE("machine state: without a page-table root, the kernel-image window is the linear answer") {
    const LinuxMachine m;
    linux_kernel::CoreNotes notes;
    notes.vmcoreinfo = linux_kernel::VmcoreInfo::parse(
        fmt::format("NUMBER(phys_base)={}\nKERNELOFFSET=3000000\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n",
                    m.phys_base()));
    const MachineState s = linux_kernel::machine_state(*find_arch("amd64"), notes);
    CHECK(s.translator.empty());
    // The window starts where physical address 0 is (phys_base < 0).
    REQUIRE(s.linear.size() == 1);
    CHECK(s.linear[0].va == 0xffffffff83000000u);
    CHECK(s.linear[0].pa == 0u);
    CHECK(s.linear[0].size == 0x40000000u - 0x3000000u);
}

TEST_CASE("past the image's end the page tables decide, not the KERNEL_IMAGE_SIZE window") {
    const LinuxMachine m;
    const std::uint64_t past = m.text() + LinuxMachine::past_image_offset;
    const std::uint64_t unmapped = m.text() + LinuxMachine::unmapped_offset;
    Bytes pattern(4096);
    for (std::size_t j = 0; j < pattern.size(); ++j)
        pattern[j] = static_cast<std::byte>((j * 13 + 5) & 0xff);
    // The window would put both at image_pa(va); the tables say otherwise.
    REQUIRE(m.past_image_pa() != m.image_pa(past));
    for (const bool with_namelist : {false, true}) {
        CAPTURE(with_namelist);
        const auto o = open_dump(m.elf_qemu(), with_namelist ? m.system_map() : "");
        const Kernel& k = *o->kernel;
        CHECK(k.translate(past).pa == m.past_image_pa());
        CHECK(read(k, past, 4096) == pattern);
        // The level 2 table, found by hand from init_top_pgt.
        std::uint64_t table = m.image_pa(m.symbol("init_top_pgt"));
        for (const unsigned shift : {39u, 30u}) {
            const Bytes entry = m.read_phys(table + ((unmapped >> shift) & 511) * 8, 8);
            table = load64(entry.data(), ByteOrder::little) & 0x000ffffffffff000;
        }
        check_error([&] { (void)k.translate(unmapped); }, ErrorKind::fault,
                    fmt::format("{:#x}: level 2 entry 0x0 (index {} of the table at pa {:#x}) is not valid", unmapped,
                                (unmapped >> 21) & 511, table));
        // The image itself, [_text, _end) of a namelist, is a linear shortcut
        // (4 KiB granules); without a namelist its 2 MiB pages are walked.
        CHECK(k.translate(m.text()).pa == m.image_pa(m.text()));
        CHECK(k.translate(m.text()).page_size == (with_namelist ? 4096u : 2u << 20));
        CHECK(read(k, m.symbol("linux_banner"), m.banner().size()) == to_bytes(m.banner()));
    }
}

TEST_CASE("AMD memory encryption: NUMBER(sme_mask) is cleared from every entry and from CR3") {
    constexpr std::uint64_t c_bit = std::uint64_t{1} << 47;
    for (const bool la57 : {false, true}) {
        CAPTURE(la57);
        const LinuxMachine m({.la57 = la57, .sme_mask = c_bit});
        for (const Bytes& dump : {m.elf_qemu(), m.elf_qemu(true, /*with_qemu=*/false), m.kdump()}) {
            const auto o = open_dump(dump, m.system_map());
            const Kernel& k = *o->kernel;
            CHECK(k.machine().encryption_mask == c_bit);
            CHECK(read(k, m.symbol("linux_banner"), m.banner().size()) == to_bytes(m.banner()));
            CHECK(read(k, m.page_offset_base() + 0x200000, 64) == m.read_phys(0x200000, 64));
            CHECK(k.translate(m.vmalloc_va(1)).pa == m.vmalloc_pa(1));
            CHECK(k.translate(m.text() + LinuxMachine::past_image_offset).pa == m.past_image_pa());
        }
    }
    // A mask that is not one address bit would drop real address bits.
    for (const std::string_view bad : {"3", "4503599627370496", "-1"}) {
        CAPTURE(bad);
        linux_kernel::CoreNotes notes;
        notes.vmcoreinfo = linux_kernel::VmcoreInfo::parse(fmt::format("NUMBER(sme_mask)={}\n", bad));
        check_error([&] { (void)linux_kernel::machine_state(*find_arch("amd64"), notes); }, ErrorKind::corrupt,
                    fmt::format("VMCOREINFO: NUMBER(sme_mask)={} is not one address bit of a page-table entry", bad));
    }
}

TEST_CASE("machine state: without VMCOREINFO, CR3 and CR4.LA57 of the first CPU decide") {
    for (const bool la57 : {false, true}) {
        CAPTURE(la57);
        const LinuxMachine m({.la57 = la57});
        auto f = open_bytes(m.elf_qemu(/*with_vmcoreinfo=*/false));
        CHECK(f->name() == "elf-vmcore");
        CHECK(f->machine().os.empty());
        CHECK(f->machine().translator == (la57 ? "amd64-la57" : "amd64"));
        CHECK(f->machine().pt_root == m.process_root());
        CHECK(f->machine().linear.empty());
        CHECK(f->machine().info.at("pt_root.source") == fmt::format("CR3 {:#x}", m.process_root()));
        CHECK(f->machine().info.at("paging.source") == fmt::format("CR4 {:#x}", m.cr4()));
        // Everything, the kernel image included, is then read by walking CR3.
        Kernel k(std::move(f), nullptr);
        CHECK(read(k, m.symbol("linux_banner"), m.banner().size()) == to_bytes(m.banner()));
        CHECK(k.translate(m.symbol("linux_banner")).page_size == 2u << 20);
    }
}

TEST_CASE("machine state: 5-level paging from VMCOREINFO") {
    const LinuxMachine m({.la57 = true});
    auto f = open_bytes(m.elf_qemu(true, /*with_qemu=*/false));
    CHECK(f->machine().translator == "amd64-la57");
    CHECK(f->machine().info.at("paging.source") == "NUMBER(pgtable_l5_enabled)=1");
    CHECK(f->machine().pt_root == m.image_pa(m.symbol("init_top_pgt")));
}

TEST_CASE("a kernel core without a page-table root reads linear memory only, and says why at the fault") {
    const LinuxMachine m;
    // Without any kernel-dump note the core is a process core...
    check_error([&] { open_bytes(m.elf_qemu(false, false)); }, ErrorKind::format,
                "vmcore: an ELF core without VMCOREINFO, QEMU CPU or /proc/kcore notes: a process core, not a kernel "
                "dump");
    // ...with VMCOREINFO but no phys_base and no CPU state, there is no root.
    synth::ElfWriter w({.type = elf::et_core});
    w.add_note("VMCOREINFO", 0, to_bytes("OSRELEASE=6.1.0\n"));
    for (const auto& seg : m.memory().ram())
        w.add_segment(elf::pt_load, 0, m.page_offset_base() + seg.start, seg.start, m.read_phys(seg.start, seg.size),
                      seg.size, 0);
    Kernel k(open_bytes(w.build()), nullptr);
    CHECK(k.machine().translator.empty());
    CHECK(read(k, m.page_offset_base() + 0x200000, 64) == m.read_phys(0x200000, 64));  // a PT_LOAD's own address
    check_error([&] { (void)k.translate(m.vmalloc_va(0)); }, ErrorKind::fault,
                fmt::format("{:#x}: not in a linear range, and the dump names no page tables to walk (none: no "
                            "VMCOREINFO with NUMBER(phys_base) and SYMBOL(init_top_pgt), and no QEMU CPU notes)",
                            m.vmalloc_va(0)));
}

// ---------------------------------------------------------------- ELF cores

TEST_CASE("QEMU's ELF layout: section headers first, program headers after, a wrong e_ehsize") {
    const LinuxMachine m;
    Bytes elf = m.elf_qemu();
    // Move the program header table to the end of the file, point e_phoff
    // at it, clear the old copy and set e_ehsize to QEMU's 8.
    const std::uint64_t phoff = load64(elf.data() + 32, ByteOrder::little);
    const std::uint16_t phnum = load16(elf.data() + 56, ByteOrder::little);
    const Bytes table(elf.begin() + static_cast<std::ptrdiff_t>(phoff),
                      elf.begin() + static_cast<std::ptrdiff_t>(phoff + phnum * std::uint64_t{56}));
    std::fill(elf.begin() + static_cast<std::ptrdiff_t>(phoff),
              elf.begin() + static_cast<std::ptrdiff_t>(phoff + phnum * std::uint64_t{56}), std::byte{0});
    const std::uint64_t moved = elf.size();
    elf.insert(elf.end(), table.begin(), table.end());
    store64(elf.data() + 32, moved, ByteOrder::little);
    store16(elf.data() + 52, 8, ByteOrder::little);
    Kernel k(open_bytes(elf), nullptr);
    CHECK(k.read_string(m.symbol("linux_banner"), 200) == m.banner());
}

TEST_CASE("physical ELF core: memory, holes and file offsets") {
    const LinuxMachine m;
    const Bytes elf = m.elf_qemu();
    auto f = open_bytes(elf);
    const auto runs = f->phys_ranges();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].pa == 0x1000u);
    CHECK(runs[0].size == LinuxMachine::low_ram_end - 0x1000);
    CHECK(runs[1].pa == LinuxMachine::high_ram_start);
    Bytes got(0x2000);
    f->read_phys(0x7f000, got);
    CHECK(got == m.read_phys(0x7f000, 0x2000));
    const auto offset = f->phys_to_offset(0x7f010);
    REQUIRE(offset);
    CHECK(Bytes(elf.begin() + static_cast<std::ptrdiff_t>(*offset),
                elf.begin() + static_cast<std::ptrdiff_t>(*offset + 16)) == m.read_phys(0x7f010, 16));
    check_error(
        [&] {
            Bytes b(16);
            f->read_phys(0x9eff8, b);
        },
        ErrorKind::fault, "physical address 0x9f000 is not in the dump");
    CHECK(!f->phys_to_offset(0));
    CHECK(f->read_virtual(m.text(), got) == 0u);  // no virtual segments
}

TEST_CASE("kdump /proc/vmcore ELF: virtual PT_LOADs read as stored, overlapping text counted once") {
    const LinuxMachine m;
    const Bytes elf = m.elf_vmcore();
    auto f = open_bytes(elf);
    CHECK(f->name() == "elf-vmcore");
    // Physical: the text PT_LOAD overlaps RAM; one run stays for each part.
    std::uint64_t total = 0;
    for (const PhysRun& r : f->phys_ranges())
        total += r.size;
    CHECK(total == (LinuxMachine::low_ram_end - 0x1000) + (LinuxMachine::ram_top - LinuxMachine::high_ram_start));
    // Linear ranges: the segments' own (the page tables decide the rest of
    // the image window).
    REQUIRE(f->machine().linear.size() == 3);
    CHECK(f->machine().linear[0].va == m.text());
    CHECK(f->machine().linear[1].va == m.page_offset_base() + 0x1000);

    Kernel k(std::move(f), nullptr);
    const std::uint64_t direct = m.page_offset_base() + 0x123450;
    CHECK(read(k, direct, 0x3000) == m.read_phys(0x123450, 0x3000));
    CHECK(k.kva_to_offset(m.symbol("linux_banner")) ==
          *k.format().phys_to_offset(m.image_pa(m.symbol("linux_banner"))));
    // vmalloc is not in any segment: through the page tables.
    CHECK(read(k, m.vmalloc_va(1), 4096) == m.read_phys(m.vmalloc_pa(1), 4096));
}

TEST_CASE("/proc/kcore: vmalloc without a physical address, zero tail, VMCOREINFO") {
    const LinuxMachine m;
    auto f = open_bytes(m.elf_kcore(), "/proc/kcore");
    CHECK(f->name() == "linux-kcore");
    CHECK(f->machine().os == "linux");
    Bytes page(4096);
    CHECK(f->read_virtual(m.vmalloc_va(2), page) == 4096u);
    CHECK(page == m.read_phys(m.vmalloc_pa(2), 4096));
    // p_memsz beyond p_filesz reads as zeros.
    CHECK(f->read_virtual(m.vmalloc_va(2) + 4096, page) == 4096u);
    CHECK(page == Bytes(4096));
    CHECK(!f->virtual_to_offset(m.vmalloc_va(2) + 4096));
    CHECK(f->virtual_to_offset(m.vmalloc_va(0)).has_value());
    // A read crossing from the window into the zero tail.
    Kernel k(std::move(f), nullptr);
    Bytes two(8192);
    k.read(m.vmalloc_va(2), two);
    CHECK(Bytes(two.begin(), two.begin() + 4096) == m.read_phys(m.vmalloc_pa(2), 4096));
    CHECK(Bytes(two.begin() + 4096, two.end()) == Bytes(4096));
    CHECK(k.read_uint(m.symbol("jiffies"), 8) == LinuxMachine::jiffies_value);
}

TEST_CASE("ELF cores that are not kernel dumps, or are broken, say so") {
    const LinuxMachine m;
    synth::ElfWriter exe({.type = elf::et_exec});
    exe.add_section(".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr, 0x1000, Bytes(16));
    check_error([&] { open_bytes(exe.build()); }, ErrorKind::format,
                "vmcore: an ELF file of type 2 (an executable), not a core dump: is this the kernel (-N) rather than "
                "the dump (-M)?");

    synth::ElfWriter sparc({.order = ByteOrder::big, .machine = elf::em_sparcv9, .type = elf::et_core});
    sparc.add_note("VMCOREINFO", 0, to_bytes("OSRELEASE=6.1\n"));
    check_error([&] { open_bytes(sparc.build()); }, ErrorKind::unsupported,
                "vmcore: an ELF core of machine 43 (ELF64): not an architecture kvmkit reads");

    // Cut in half: the PT_LOAD that runs past the end is named.  The
    // section headers, which ElfWriter (and QEMU, for its name table) puts
    // at the end, are not what a core is judged by.
    const Bytes elf = m.elf_qemu();
    const Bytes cut(elf.begin(), elf.begin() + static_cast<std::ptrdiff_t>(elf.size() / 2));
    const elf::File parsed(std::make_shared<MemorySource>(elf));
    const auto& loads = parsed.segments();
    check_error([&] { open_bytes(cut); }, ErrorKind::corrupt,
                fmt::format("vmcore: truncated: PT_LOAD 2 (vaddr 0x100000, paddr 0x100000) needs file bytes up to "
                            "{:#x}, but the file has {:#x}",
                            loads[2].offset + loads[2].filesz, cut.size()));

    synth::ElfWriter bad({.type = elf::et_core});
    bad.add_note("VMCOREINFO", 0, to_bytes("NUMBER(phys_base)=oops\n"));
    bad.add_segment(elf::pt_load, 0, 0, 0, Bytes(4096), 4096, 0);
    check_error([&] { open_bytes(bad.build()); }, ErrorKind::corrupt,
                "vmcore: VMCOREINFO: NUMBER(phys_base)=oops is not a decimal number");
}

// ---------------------------------------------------------------- namelists

TEST_CASE("a link-time System.map moves by KERNELOFFSET; per-cpu offsets and absolutes stay") {
    const LinuxMachine m;
    auto o = open_dump(m.elf_qemu(), m.system_map());
    const Kernel& k = *o->kernel;
    CHECK(k.symbols().relocation() == 0x3000000);
    CHECK(k.symbols().find("_text")->value == m.text());
    CHECK(k.symbol_value("_linux_banner") == m.symbol("linux_banner"));
    CHECK(k.symbols().find("runqueues")->value == LinuxMachine::per_cpu_runqueues);
    CHECK(k.symbols().find("__per_cpu_start")->value == 0u);
    CHECK(k.read_string(k.symbol_value("linux_banner"), 200) == m.banner());
    CHECK(k.read_uint(k.symbol_value("jiffies"), 8) == LinuxMachine::jiffies_value);
}

TEST_CASE("kallsyms is at run-time addresses already and stays") {
    const LinuxMachine m;
    auto o = open_dump(m.elf_qemu(), m.kallsyms());
    const Kernel& k = *o->kernel;
    CHECK(k.symbols().relocation() == 0);
    CHECK(k.symbol_value("linux_banner") == m.symbol("linux_banner"));
    CHECK(k.symbols().find("virtblk_probe")->value == 0xffffffffc0a01000u);
    CHECK(k.read_string(k.symbol_value("linux_banner"), 200) == m.banner());
}

TEST_CASE("a namelist of another kernel is refused, naming the symbol") {
    const LinuxMachine m;
    const LinuxMachine other({.kernel_offset = 0x5000000});
    std::string map = m.system_map();
    // The same kernel relinked: _stext moved by 0x1000.
    const std::string stext = fmt::format("{:016x} T _stext", m.symbol("_stext") - 0x3000000);
    map.replace(map.find(stext), stext.size(),
                fmt::format("{:016x} T _stext", m.symbol("_stext") - 0x3000000 + 0x1000));
    TempDir dir;
    synth::write_file(dir / "vmcore", m.elf_qemu());
    synth::write_file(dir / "System.map", to_bytes(map));
    check_error([&] { Kernel::open({.namelist = dir / "System.map", .core = dir / "vmcore"}); }, ErrorKind::usage,
                dir / "System.map" +
                    fmt::format(": does not match the dump: _stext is {:#x} in the namelist, {:#x} in VMCOREINFO "
                                "(KERNELOFFSET 0x3000000)",
                                m.symbol("_stext") - 0x3000000 + 0x1000, m.symbol("_stext")));
    // Another boot of the same kernel (another KASLR offset) is fine.
    auto o = open_dump(other.elf_qemu(), m.system_map());
    CHECK(o->kernel->symbol_value("linux_banner") == other.symbol("linux_banner"));
}

TEST_CASE("a vmlinux ELF namelist moves like a System.map") {
    const LinuxMachine m;
    synth::ElfWriter w({});
    const std::uint64_t link = LinuxMachine::link_text;
    const auto text =
        w.add_section(".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr, link, Bytes(0x100));
    const auto data =
        w.add_section(".data", elf::sht_progbits, elf::shf_alloc | elf::shf_write, link + 0x100000, Bytes(0x1000));
    const auto percpu =
        w.add_section(".data..percpu", elf::sht_progbits, elf::shf_alloc | elf::shf_write, 0, Bytes(0x40000));
    w.add_symbol({.name = "_stext", .value = link, .type = elf::stt_notype, .shndx = text});
    w.add_symbol({.name = "linux_banner",
                  .value = m.symbol("linux_banner") - 0x3000000,
                  .size = 64,
                  .type = elf::stt_object,
                  .shndx = data});
    w.add_symbol({.name = "runqueues",
                  .value = LinuxMachine::per_cpu_runqueues,
                  .size = 0x100,
                  .type = elf::stt_object,
                  .shndx = percpu});
    TempDir dir;
    synth::write_file(dir / "vmcore", m.elf_qemu());
    synth::write_file(dir / "vmlinux", w.build());
    auto k = Kernel::open({.namelist = dir / "vmlinux", .core = dir / "vmcore"});
    CHECK(k->namelist().kind() == NamelistKind::elf);
    CHECK(k->symbols().find("_stext")->value == m.text());
    CHECK(k->symbols().find("runqueues")->value == LinuxMachine::per_cpu_runqueues);  // type D, but per-cpu
    CHECK(k->read_string(k->symbol_value("linux_banner"), 200) == m.banner());
}

// ---------------------------------------------------------------- end to end

TEST_CASE("every dump form of one machine reads the same kernel, direct map and vmalloc memory") {
    for (const bool la57 : {false, true}) {
        CAPTURE(la57);
        const LinuxMachine m({.la57 = la57});
        const std::vector<std::pair<std::string, Bytes>> dumps = {
            {"elf-vmcore", m.elf_qemu()},
            {"elf-vmcore", m.elf_vmcore()},
            {"linux-kcore", m.elf_kcore()},
            {"kdump", m.kdump()},
            {"kdump-flattened", synth::flatten(m.kdump(), 4096, 464)},
        };
        for (const auto& entry : dumps) {
            // Not a structured binding: clang 14 cannot capture one (CAPTURE does).
            const std::string& name = entry.first;
            const Bytes& dump = entry.second;
            CAPTURE(name);
            auto o = open_dump(dump, m.system_map());
            const Kernel& k = *o->kernel;
            CHECK(k.format().name() == name);
            CHECK(k.machine().translator == (la57 ? "amd64-la57" : "amd64"));
            CHECK(k.read_string(k.symbol_value("linux_banner"), 200) == m.banner());
            const std::uint64_t pob = k.read_pointer(k.symbol_value("page_offset_base"));
            CHECK(pob == m.page_offset_base());
            // 2 MiB of the direct map across a 2 MiB page boundary.
            CHECK(read(k, pob + 0x3ff000, 0x200000) == m.read_phys(0x3ff000, 0x200000));
            CHECK(k.translate(pob + 0x400000).pa == 0x400000u);
            // vmalloc: two 4 KiB pages that are not contiguous physically.
            Bytes two = read(k, m.vmalloc_va(0) + 0x800, 0x1000);
            Bytes want = m.read_phys(m.vmalloc_pa(0) + 0x800, 0x800);
            const Bytes second = m.read_phys(m.vmalloc_pa(1), 0x800);
            want.insert(want.end(), second.begin(), second.end());
            CHECK(two == want);
            CHECK(k.translate(m.vmalloc_va(1)).page_size == 4096u);
        }
    }
}

TEST_CASE("the live host: /proc/kcore with /proc/kallsyms, or a clear refusal") {
    if (::access("/proc/kcore", F_OK) != 0) {
        check_error([] { open_target({}); }, ErrorKind::unsupported,
                    "/proc/kcore: not present on this host (a kernel without CONFIG_PROC_KCORE, or /proc not "
                    "mounted); name a dump with -M");
        return;
    }
    // A host with /proc/kcore: the banner in memory is /proc/version.
    Target t;
    try {
        t = open_target({});
    } catch (const Error& e) {
        // Without the privilege, the message says what is needed.
        CHECK(std::string(e.what()).find("needs root") != std::string::npos);
        return;
    }
    std::ifstream in("/proc/version");
    std::string version;
    std::getline(in, version);
    CHECK(t.live);
    CHECK(t.kernel->format().name() == "linux-kcore");
    CHECK(t.kernel->read_string(t.kernel->symbol_value("linux_banner"), 1024) == version + "\n");
}
