// Linux/arm64 dumps on the synthetic machine of linux_fixture.h (arch
// "arm64"): what VMCOREINFO says about the machine (VA size, granule,
// kimage_voffset, PHYS_OFFSET, the page-table root), every dump format kvmkit
// reads of it, NT_PRSTATUS, namelist relocation, and the contradictions and
// impossible values that are errors.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>
#include <kvm/namelist.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"
#include "linux_fixture.h"
#include "test_util.h"

using namespace kvm;
using kvm::test::TempDir;
using kvmtest::check_error;
using kvmtest::LinuxMachine;

namespace {

const ArchInfo& arm64_arch() {
    return *find_arch("arm64");
}

MachineState machine_of(const std::string& vmcoreinfo) {
    linux_kernel::CoreNotes notes;
    notes.vmcoreinfo = linux_kernel::VmcoreInfo::parse(vmcoreinfo);
    return linux_kernel::machine_state(arm64_arch(), notes);
}

std::unique_ptr<Kernel> open_dump(const TempDir& dir, const Bytes& dump, const std::string& namelist_text) {
    synth::write_file(dir / "vmcore", dump);
    std::string namelist;
    if (!namelist_text.empty()) {
        namelist = dir / "System.map";
        synth::write_file(namelist, to_bytes(namelist_text));
    }
    return Kernel::open({.namelist = namelist, .core = dir / "vmcore"});
}

Bytes read(const Kernel& k, std::uint64_t va, std::size_t n) {
    Bytes b(n);
    k.read(va, b);
    return b;
}

// VMCOREINFO of a 6.1 kernel with `va_bits`, the MMU's T1SZ and `pagesize`.
std::string arm64_info(unsigned va_bits, std::uint64_t t1sz, unsigned pagesize, const std::string& more = "") {
    return fmt::format(
        "OSRELEASE=6.1.0\nPAGESIZE={}\nSYMBOL(swapper_pg_dir)=ffff80000a8c1000\nNUMBER(VA_BITS)={}\n"
        "NUMBER(kimage_voffset)=0xffff7fffc7a00000\nNUMBER(PHYS_OFFSET)=0x40000000\nNUMBER(TCR_EL1_T1SZ)={:#x}\n"
        "KERNELOFFSET=2200000\n{}",
        pagesize, va_bits, t1sz, more);
}

}  // namespace

TEST_CASE("arm64 machine state: swapper_pg_dir through kimage_voffset, the VA size and granule of VMCOREINFO") {
    const LinuxMachine m({.arch = "arm64"});
    const auto notes =
        linux_kernel::decode_core_notes(elf::File(std::make_shared<MemorySource>(m.elf_qemu())).notes(), arm64_arch());
    const MachineState s = linux_kernel::machine_state(arm64_arch(), notes);
    CHECK(s.os == "linux");
    CHECK(s.translator == "arm64");
    CHECK(s.granule == 4096u);
    CHECK(s.va_bits == 48u);
    CHECK(hex(s.pt_root) == hex(m.image_pa(m.symbol("swapper_pg_dir"))));
    CHECK(s.info.at("pt_root.source") == fmt::format("SYMBOL(swapper_pg_dir)={:x} less NUMBER(kimage_voffset)={:#x}",
                                                     m.symbol("swapper_pg_dir"), m.kimage_voffset()));
    CHECK(s.info.at("paging.source") == "NUMBER(VA_BITS)=48, NUMBER(TCR_EL1_T1SZ)=16, PAGESIZE=4096");
    CHECK(s.linear.empty());  // the page tables decide
    // NT_PRSTATUS: pr_pid, then sp and pc from pr_reg.
    REQUIRE(notes.cpus.size() == 2);
    CHECK(notes.cpus[1].pid == 2u);
    CHECK(hex(*notes.cpus[1].pc) == hex(m.text() + 0x40));
    CHECK(hex(*notes.cpus[1].sp) == hex(0xffff800009f53e70));
}

TEST_CASE("arm64 dumps in every format read the image, the linear map and vmalloc through the page tables") {
    const LinuxMachine m({.arch = "arm64"});
    for (const auto& entry : {std::pair{"QEMU ELF", m.elf_qemu()}, std::pair{"/proc/vmcore", m.elf_vmcore()},
                              std::pair{"kdump", m.kdump()}}) {
        // Not a structured binding: clang 14 cannot capture one in CAPTURE.
        const char* name = entry.first;
        const auto& dump = entry.second;
        for (const bool with_namelist : {false, true}) {
            CAPTURE(name);
            CAPTURE(with_namelist);
            const TempDir dir;
            const auto k = open_dump(dir, dump, with_namelist ? m.system_map() : "");
            CHECK(k->machine().translator == "arm64");
            CHECK(k->arch().name == "arm64");
            CHECK(read(*k, m.symbol("linux_banner"), m.banner().size()) == to_bytes(m.banner()));
            CHECK(read(*k, m.direct(m.ram_base() + 0x200000), 64) == m.read_phys(m.ram_base() + 0x200000, 64));
            CHECK(hex(k->translate(m.vmalloc_va(2)).pa) == hex(m.vmalloc_pa(2)));
            CHECK(hex(k->translate(m.text() + LinuxMachine::past_image_offset).pa) == hex(m.past_image_pa()));
            if (with_namelist) {
                // System.map is at link time: moved by KERNELOFFSET onto the dump.
                CHECK(hex(k->symbol_value("linux_banner")) == hex(m.symbol("linux_banner")));
                CHECK(hex(k->symbol_value("runqueues")) == hex(LinuxMachine::per_cpu_runqueues));
            }
        }
    }
}

TEST_CASE("arm64 kdump whose header says \"Unknown\" (QEMU's for every machine but x86): the notes name it") {
    const LinuxMachine m({.arch = "arm64"});
    const TempDir dir;
    const auto k = open_dump(dir, m.kdump({.machine = "Unknown"}), m.system_map());
    CHECK(k->arch().name == "arm64");
    CHECK(k->machine().translator == "arm64");
    CHECK(read(*k, m.symbol("linux_banner"), m.banner().size()) == to_bytes(m.banner()));
    // An amd64 one so named: its 336-byte NT_PRSTATUS says amd64.
    const LinuxMachine amd64{kvmtest::LinuxSpec{}};
    const auto k64 = open_dump(dir, amd64.kdump({.machine = "Unknown"}), "");
    CHECK(k64->arch().name == "amd64");
    CHECK(read(*k64, amd64.symbol("linux_banner"), amd64.banner().size()) == to_bytes(amd64.banner()));
}

TEST_CASE("arm64: a 52-bit kernel on a 48-bit CPU keeps its 52-bit top table and starts TTBR1 inside it") {
    // 64 KiB pages: 1024 level 1 entries for 52 bits, 64 for 48; the walk
    // with 48 bits starts 960 entries in.
    const MachineState s64 = machine_of(arm64_info(52, 16, 65536));
    CHECK(s64.va_bits == 48u);
    CHECK(s64.granule == 65536u);
    CHECK(hex(s64.pt_root) == hex(0xffff80000a8c1000 - 0xffff7fffc7a00000 + 960 * 8));
    // 4 KiB pages: 52 bits need a level more; the kernel folds it and
    // swapper_pg_dir is the level 0 table itself.
    const MachineState s4 = machine_of(arm64_info(52, 16, 4096));
    CHECK(hex(s4.pt_root) == hex(0xffff80000a8c1000 - 0xffff7fffc7a00000));
    // And on a CPU with 52-bit VAs, nothing moves.
    const MachineState s52 = machine_of(arm64_info(52, 12, 65536));
    CHECK(s52.va_bits == 52u);
    CHECK(hex(s52.pt_root) == hex(0xffff80000a8c1000 - 0xffff7fffc7a00000));
    // Some 5.x kernels spell the key in lower case.
    const MachineState lower = machine_of(
        "PAGESIZE=16384\nSYMBOL(swapper_pg_dir)=ffff80000a8c1000\nNUMBER(VA_BITS)=47\n"
        "NUMBER(kimage_voffset)=0xffff7fffc7a00000\nNUMBER(tcr_el1_t1sz)=0x11\n");
    CHECK(lower.va_bits == 47u);
    CHECK(lower.info.at("paging.source") == "NUMBER(VA_BITS)=47, NUMBER(tcr_el1_t1sz)=17, PAGESIZE=16384");
}

TEST_CASE("arm64: contradicting or impossible VMCOREINFO values are errors naming them") {
    check_error([] { (void)machine_of(arm64_info(39, 16, 4096)); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(TCR_EL1_T1SZ)=0x10 (48-bit addresses) contradicts NUMBER(VA_BITS)=39");
    check_error([] { (void)machine_of(arm64_info(48, 12, 4096)); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(TCR_EL1_T1SZ)=0xc (52-bit addresses) contradicts NUMBER(VA_BITS)=48");
    check_error([] { (void)machine_of(arm64_info(57, 7, 4096)); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(VA_BITS)=57 is not an arm64 VA size (36 to 52 bits)");
    check_error([] { (void)machine_of(arm64_info(48, 16, 8192)); }, ErrorKind::corrupt,
                "VMCOREINFO: PAGESIZE=8192 is not an arm64 translation granule (4096, 16384, 65536)");
    check_error([] { (void)machine_of(arm64_info(48, 16, 4096, "NUMBER(KERNELPACMASK)=0xfff8000000000000\n")); },
                ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(KERNELPACMASK)=0xfff8000000000000 does not cover bits 63..48 of 48-bit addresses");
    check_error([] { (void)machine_of(arm64_info(48, 16, 4096, "NUMBER(KERNELPACMASK)=0xff\n")); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(KERNELPACMASK)=0xff does not cover bits 63..48 of 48-bit addresses");
    check_error([] { (void)machine_of("NUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0xzz\n"); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(kimage_voffset)=0xzz is not a number");
    // Both masks the kernel has written are accepted: GENMASK(63, 48), and
    // the early one without bit 55.
    for (const char* pac : {"0xffff000000000000", "0xff7f000000000000", "0x0"})
        CHECK(machine_of(arm64_info(48, 16, 4096, fmt::format("NUMBER(KERNELPACMASK)={}\n", pac))).translator ==
              "arm64");
}

TEST_CASE("arm64 without a page-table root: the linear map from PHYS_OFFSET, placed by the kernel's layout") {
    // 5.4 and later: the image in the upper half, the linear map at -(1 << VA_BITS).
    const MachineState flipped =
        machine_of("NUMBER(VA_BITS)=48\nNUMBER(PHYS_OFFSET)=0x40000000\nSYMBOL(_stext)=ffff800008010000\n");
    CHECK(flipped.translator.empty());
    CHECK(flipped.info.at("pt_root.source") ==
          "none: no VMCOREINFO with NUMBER(kimage_voffset) and SYMBOL(swapper_pg_dir)");
    REQUIRE(flipped.linear.size() == 1);
    CHECK(hex(flipped.linear[0].va) == "0xffff000000000000");
    CHECK(hex(flipped.linear[0].pa) == "0x40000000");
    CHECK(hex(flipped.linear[0].size) == "0x800000000000");
    CHECK(flipped.info.at("linear.source") ==
          "PAGE_OFFSET 0xffff000000000000 (5.4 layout, from the image at 0xffff800008010000)");
    // Before 5.4: the image in the lower half, the linear map at -(1 << (VA_BITS - 1)).
    const MachineState old =
        machine_of("NUMBER(VA_BITS)=39\nNUMBER(PHYS_OFFSET)=0x80000000\nSYMBOL(_stext)=ffffff8008080000\n");
    REQUIRE(old.linear.size() == 1);
    CHECK(hex(old.linear[0].va) == "0xffffffc000000000");
    CHECK(hex(old.linear[0].pa) == "0x80000000");
    CHECK(old.info.at("linear.source") ==
          "PAGE_OFFSET 0xffffffc000000000 (pre-5.4 layout, from the image at 0xffffff8008080000)");
    // A 52-bit kernel on a 48-bit CPU: PHYS_OFFSET below 0, the map starts at pa 0.
    const MachineState wide = machine_of(
        "NUMBER(VA_BITS)=52\nNUMBER(TCR_EL1_T1SZ)=0x10\nNUMBER(PHYS_OFFSET)=0xfff1000040000000\n"
        "SYMBOL(_stext)=ffff800008010000\n");
    REQUIRE(wide.linear.size() == 1);
    CHECK(hex(wide.linear[0].va) == hex(0xfff0000000000000 + 0x000effffc0000000));
    CHECK(hex(wide.linear[0].pa) == "0x0");
    // It ends where the 48-bit half of the image starts (PAGE_END).
    CHECK(hex(wide.linear[0].va + wide.linear[0].size) == "0xffff800000000000");
}

TEST_CASE("arm64 cores without VMCOREINFO say why they cannot be translated") {
    const MachineState s = linux_kernel::machine_state(arm64_arch(), {});
    CHECK(s.translator.empty());
    CHECK(s.info.at("pt_root.source") ==
          "none: no VMCOREINFO (an arm64 core's CPU notes hold no translation table base)");
}
