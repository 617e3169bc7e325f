// VMCOREINFO, the CPU notes of Linux and QEMU cores, and the machine state
// they imply, from hand-made notes.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/linux.h>
#include <kvm/namelist.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"

using namespace kvm;
using kvmtest::check_error;

// ---------------------------------------------------------------- VMCOREINFO

TEST_CASE("VMCOREINFO: hex symbols, signed decimal numbers, first value wins") {
    const auto info = linux_kernel::VmcoreInfo::parse(
        "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff85a10000\nNUMBER(phys_base)=-123731968\n"
        "KERNELOFFSET=3000000\nOFFSET(list_head.next)=0\nSIZE(page)=64\nLENGTH(zone.free_area)=11\n"
        "no equals sign here\n\nNUMBER(phys_base)=5\nCRASHTIME=1700000000\r\n\0junk after the NUL=1");
    CHECK(info.osrelease() == "6.1.0");
    CHECK(info.page_size() == 4096u);
    CHECK(info.symbol("init_top_pgt") == 0xffffffff85a10000u);
    CHECK(info.phys_base() == -123731968);
    CHECK(info.kernel_offset() == 0x3000000u);
    CHECK(info.offset("list_head.next") == 0);
    CHECK(info.size("page") == 64);
    CHECK(info.length("zone.free_area") == 11);
    CHECK(info.get("CRASHTIME") == "1700000000");
    CHECK(!info.get("junk after the NUL"));
    CHECK(!info.symbol("swapper_pg_dir"));
    CHECK(info.entries().size() == 9);
}

TEST_CASE("VMCOREINFO: malformed values are corrupt when asked for") {
    const auto info = linux_kernel::VmcoreInfo::parse(
        "SYMBOL(x)=ffffzz\nNUMBER(phys_base)=0x400000\nKERNELOFFSET=\nPAGESIZE=4095\nNUMBER(big)="
        "99999999999999999999\n");
    check_error([&] { (void)info.symbol("x"); }, ErrorKind::corrupt,
                "VMCOREINFO: SYMBOL(x)=ffffzz is not a hex number");
    check_error([&] { (void)info.phys_base(); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(phys_base)=0x400000 is not a decimal number");
    check_error([&] { (void)info.kernel_offset(); }, ErrorKind::corrupt,
                "VMCOREINFO: KERNELOFFSET= is not a hex number");
    check_error([&] { (void)info.page_size(); }, ErrorKind::corrupt, "VMCOREINFO: PAGESIZE=4095 is not a power of two");
    check_error([&] { (void)info.number("big"); }, ErrorKind::corrupt,
                "VMCOREINFO: NUMBER(big)=99999999999999999999 is not a decimal number");
}

// ---------------------------------------------------------------- notes

TEST_CASE("core notes: NT_PRSTATUS and QEMU CPU state at their offsets") {
    // Hand-placed bytes: pr_pid at 32, rip at 112 + 16*8, rsp at 112 + 19*8;
    // QEMUCPUState cr0 at 392, cr3 at 416, cr4 at 424.
    Bytes prs(336);
    prs[32] = std::byte{0x07};
    prs[240] = std::byte{0x0b};
    prs[247] = std::byte{0xff};
    prs[264] = std::byte{0x98};
    prs[271] = std::byte{0xff};
    Bytes qemu(440);
    qemu[392] = std::byte{0x33};
    qemu[417] = std::byte{0x10};
    qemu[418] = std::byte{0xf1};
    qemu[425] = std::byte{0x16};
    const std::vector<elf::Note> notes = {
        {.name = "CORE", .type = 1, .desc = prs},
        {.name = "QEMU", .type = 0, .desc = qemu},
        {.name = "VMCOREINFO", .type = 0, .desc = to_bytes("KERNELOFFSET=0\n")},
        {.name = "GNU", .type = 1, .desc = Bytes(4)},  // not ours: skipped
    };
    const auto core = linux_kernel::decode_core_notes(notes, *find_arch("amd64"));
    REQUIRE(core.cpus.size() == 1);
    CHECK(core.cpus[0].pid == 7u);
    CHECK(core.cpus[0].pc == 0xff0000000000000bu);
    CHECK(core.cpus[0].sp == 0xff00000000000098u);
    CHECK(core.cpus[0].cr0 == 0x33u);
    CHECK(core.cpus[0].cr3 == 0xf11000u);
    CHECK(core.cpus[0].cr4 == 0x1600u);
    CHECK(core.qemu);
    CHECK(!core.kcore);
    REQUIRE(core.vmcoreinfo);
    CHECK(core.vmcoreinfo->kernel_offset() == 0u);

    check_error(
        [&] {
            linux_kernel::decode_core_notes(std::vector<elf::Note>{{.name = "QEMU", .type = 0, .desc = Bytes(431)}},
                                            *find_arch("amd64"));
        },
        ErrorKind::corrupt, "QEMU CPU note 0 is 431 bytes, fewer than the 432 of QEMUCPUState");
    check_error(
        [&] {
            linux_kernel::decode_core_notes(std::vector<elf::Note>{{.name = "CORE", .type = 1, .desc = Bytes(200)}},
                                            *find_arch("amd64"));
        },
        ErrorKind::corrupt, "NT_PRSTATUS note 0 is 200 bytes; an amd64 one is 336");
}

namespace {

linux_kernel::CoreNotes notes_with(const std::string& vmcoreinfo, std::vector<linux_kernel::CpuState> cpus = {}) {
    linux_kernel::CoreNotes n;
    if (!vmcoreinfo.empty()) n.vmcoreinfo = linux_kernel::VmcoreInfo::parse(vmcoreinfo);
    n.cpus = std::move(cpus);
    n.qemu = !n.cpus.empty();
    return n;
}

}  // namespace

TEST_CASE("machine state: the kernel image at phys_base, the root through it") {
    // _text at 0xffffffff84000000 (KERNELOFFSET 0x3000000) loaded at
    // physical 0x4400000: phys_base = 0x4400000 - 0x4000000 = 0x400000.
    const auto s = linux_kernel::machine_state(
        *find_arch("amd64"),
        notes_with("KERNELOFFSET=3000000\nNUMBER(phys_base)=4194304\nSYMBOL(init_top_pgt)=ffffffff85a10000\n"
                   "NUMBER(pgtable_l5_enabled)=0\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n",
                   {{.cr3 = 0x1f10000, .cr4 = 0x6b0}}));
    CHECK(s.os == "linux");
    CHECK(s.translator == "amd64");
    CHECK(s.pt_root == 0x5e10000u);
    CHECK(s.info.at("pt_root.source") == "SYMBOL(init_top_pgt)=ffffffff85a10000 at phys_base 4194304");
    CHECK(s.info.at("paging.source") == "NUMBER(pgtable_l5_enabled)=0");
    // With a root the tables decide; the image window is only the answer
    // when there is none.
    CHECK(s.linear.empty());
    const auto no_root =
        linux_kernel::machine_state(*find_arch("amd64"), notes_with("KERNELOFFSET=3000000\nNUMBER(phys_base)=4194304\n"
                                                                    "NUMBER(KERNEL_IMAGE_SIZE)=1073741824\n"));
    CHECK(no_root.translator.empty());
    REQUIRE(no_root.linear.size() == 1);
    CHECK(no_root.linear[0].va == 0xffffffff80000000u);
    CHECK(no_root.linear[0].size == 0x40000000u);
    CHECK(no_root.linear[0].pa == 0x400000u);
}

TEST_CASE("machine state: i386, PAE from VMCOREINFO or CR4, swapper_pg_dir at PAGE_OFFSET, else CR3") {
    // Debian's 686-pae kernel under QEMU, relocated by 0x2000000: its
    // VMCOREINFO has CONFIG_X86_PAE=y and SYMBOL(swapper_pg_dir), no
    // KERNELOFFSET; the QEMU notes' CR4 0x6b0 has PAE (bit 5) set.
    const auto i386_arch = find_arch("i386");
    const auto s = linux_kernel::machine_state(
        *i386_arch, notes_with("SYMBOL(swapper_pg_dir)=c3ea6000\nSYMBOL(_stext)=c3000000\nCONFIG_X86_PAE=y\n",
                               {{.cr3 = 0x1d4c000, .cr4 = 0x6b0}}));
    CHECK(s.os == "linux");
    CHECK(s.translator == "i386-pae-pdpt");
    CHECK(s.pt_root == 0x3ea6000u);
    CHECK(s.info.at("pt_root.source") == "SYMBOL(swapper_pg_dir)=c3ea6000 less PAGE_OFFSET 0xc0000000");
    CHECK(s.info.at("paging.source") == "CONFIG_X86_PAE=y");
    CHECK(s.linear.empty());
    // No VMCOREINFO: the CPU says.  A PAE CR3 is 32-byte aligned; a
    // two-level one 4 KiB aligned.
    const auto pae_cpu = linux_kernel::machine_state(*i386_arch, notes_with("", {{.cr3 = 0x1d4c020, .cr4 = 0x6b0}}));
    CHECK(pae_cpu.os.empty());
    CHECK(pae_cpu.translator == "i386-pae-pdpt");
    CHECK(pae_cpu.pt_root == 0x1d4c020u);
    CHECK(pae_cpu.info.at("pt_root.source") == "CR3 0x1d4c020");
    CHECK(pae_cpu.info.at("paging.source") == "CR4 0x6b0");
    const auto flat_cpu = linux_kernel::machine_state(*i386_arch, notes_with("", {{.cr3 = 0x1d4c018, .cr4 = 0x690}}));
    CHECK(flat_cpu.translator == "i386");
    CHECK(flat_cpu.pt_root == 0x1d4c000u);
    // A 2G/2G split's swapper_pg_dir is below the 3G/1G PAGE_OFFSET: CR3.
    const auto split = linux_kernel::machine_state(
        *i386_arch,
        notes_with("SYMBOL(swapper_pg_dir)=81ea6000\nCONFIG_X86_PAE=y\n", {{.cr3 = 0x1ea6000, .cr4 = 0x6b0}}));
    CHECK(split.pt_root == 0x1ea6000u);
    CHECK(split.info.at("pt_root.source") == "CR3 0x1ea6000");
    // Neither: no tables, lowmem linear from PAGE_OFFSET.
    const auto none = linux_kernel::machine_state(*i386_arch, notes_with("OSRELEASE=6.1.0-57-686-pae\n"));
    CHECK(none.translator.empty());
    CHECK(none.info.at("pt_root.source") ==
          "none: no VMCOREINFO with SYMBOL(swapper_pg_dir) in lowmem, and no QEMU CPU notes");
    REQUIRE(none.linear.size() == 1);
    CHECK(none.linear[0].va == 0xc0000000u);
    CHECK(none.linear[0].size == 0x38000000u);
    CHECK(none.linear[0].pa == 0u);
}

TEST_CASE("machine state: a negative phys_base starts the window where physical 0 is") {
    // _text at 0xffffffff88000000 loaded at 0x1000000: phys_base = -0x7000000.
    const auto window = linux_kernel::machine_state(*find_arch("amd64"), notes_with("NUMBER(phys_base)=-117440512\n"));
    REQUIRE(window.linear.size() == 1);
    CHECK(window.linear[0].va == 0xffffffff87000000u);
    CHECK(window.linear[0].pa == 0u);
    CHECK(window.linear[0].size == (512u << 20) - 0x7000000u);  // the default image size
    const auto s = linux_kernel::machine_state(
        *find_arch("amd64"), notes_with("NUMBER(phys_base)=-117440512\nSYMBOL(swapper_pg_dir)=ffffffff89a10000\n"));
    CHECK(s.pt_root == 0x2a10000u);
    CHECK(s.info.at("pt_root.source") == "SYMBOL(swapper_pg_dir)=ffffffff89a10000 at phys_base -117440512");
    CHECK(s.info.at("paging.source") == "default (4-level)");
}

TEST_CASE("machine state: without NUMBER(KERNEL_IMAGE_SIZE), KASLR means a 1 GiB image") {
    // An older KASLR kernel placed 0x30000000 up: past 512 MiB.
    const auto s = linux_kernel::machine_state(*find_arch("amd64"),
                                               notes_with("KERNELOFFSET=30000000\nNUMBER(phys_base)=16777216\n"));
    REQUIRE(s.linear.size() == 1);
    CHECK(s.linear[0].size == 0x40000000u);
    const auto rooted = linux_kernel::machine_state(
        *find_arch("amd64"),
        notes_with("KERNELOFFSET=30000000\nNUMBER(phys_base)=16777216\nSYMBOL(init_top_pgt)=ffffffffb2a10000\n"));
    CHECK(rooted.pt_root == 0x33a10000u);
    const auto nokaslr =
        linux_kernel::machine_state(*find_arch("amd64"), notes_with("KERNELOFFSET=0\nNUMBER(phys_base)=0\n"));
    CHECK(nokaslr.linear[0].size == 0x20000000u);
}

TEST_CASE("machine state: without VMCOREINFO the first CPU's CR3 and CR4.LA57 decide") {
    const auto s = linux_kernel::machine_state(
        *find_arch("amd64"), notes_with("", {{.cr3 = 0x8000000000abc000 | 0x5, .cr4 = 0x1000 | 0x6b0}}));
    CHECK(s.os.empty());
    CHECK(s.translator == "amd64-la57");
    CHECK(s.pt_root == 0xabc000u);
    CHECK(s.linear.empty());
    CHECK(s.info.at("pt_root.source") == "CR3 0x8000000000abc005");
    CHECK(s.info.at("paging.source") == "CR4 0x16b0");
    // VMCOREINFO's word on paging beats CR4's; a root outside the image
    // window falls back to CR3.
    const auto t = linux_kernel::machine_state(
        *find_arch("amd64"),
        notes_with("NUMBER(pgtable_l5_enabled)=0\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=ffff888000001000\n",
                   {{.cr3 = 0x3000, .cr4 = 0x1000}}));
    CHECK(t.translator == "amd64");
    CHECK(t.pt_root == 0x3000u);
}

TEST_CASE("machine state: no root at all leaves no paging scheme, and says why") {
    const auto s = linux_kernel::machine_state(*find_arch("amd64"), notes_with("OSRELEASE=6.1\n"));
    CHECK(s.os == "linux");
    CHECK(s.translator.empty());
    CHECK(s.info.at("pt_root.source") ==
          "none: no VMCOREINFO with NUMBER(phys_base) and SYMBOL(init_top_pgt), and no QEMU CPU notes");
    check_error([] { linux_kernel::machine_state(*find_arch("amd64"), notes_with("NUMBER(KERNEL_IMAGE_SIZE)=-1\n")); },
                ErrorKind::corrupt, "VMCOREINFO: NUMBER(KERNEL_IMAGE_SIZE)=-1 is impossible");
}

namespace {

Symbol list_symbol(std::string name, std::uint64_t value, char type, std::string module = {}) {
    Symbol s;
    s.name = std::move(name);
    s.value = value;
    s.type = type;
    s.module = std::move(module);
    return s;
}

}  // namespace

TEST_CASE("relocate_namelist: link-time lists move by KERNELOFFSET, run-time ones stay, strangers are refused") {
    const auto info = linux_kernel::VmcoreInfo::parse(
        "KERNELOFFSET=3000000\nSYMBOL(_stext)=ffffffff84000000\nSYMBOL(init_uts_ns)=ffffffff85bf9b60\n"
        "SYMBOL(mem_section)=ffff8ad847fd9000\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n");
    MachineState machine;
    machine.arch = find_arch("amd64");
    const std::vector<Symbol> link_time = {
        list_symbol("_stext", 0xffffffff81000000, 'T'), list_symbol("init_uts_ns", 0xffffffff82bf9b60, 'D'),
        list_symbol("mem_section", 0xffffffff833aa798, 'B'), list_symbol("runqueues", 0x31980, 'D')};

    Namelist map("System.map", SymbolTable(link_time));
    CHECK(linux_kernel::relocate_namelist(map, machine, info) == 0x3000000);
    CHECK(map.symbols().find("_stext")->value == 0xffffffff84000000u);
    // SYMBOL(mem_section) is the pointer's value, not the symbol's address:
    // not compared, and the symbol moves like the rest of the image.
    CHECK(map.symbols().find("mem_section")->value == 0xffffffff863aa798u);
    CHECK(map.symbols().find("runqueues")->value == 0x31980u);

    Namelist kallsyms("/proc/kallsyms", SymbolTable({list_symbol("_stext", 0xffffffff84000000, 'T'),
                                                     list_symbol("init_uts_ns", 0xffffffff85bf9b60, 'D')}));
    CHECK(linux_kernel::relocate_namelist(kallsyms, machine, info) == 0);
    CHECK(kallsyms.symbols().find("_stext")->value == 0xffffffff84000000u);

    Namelist other("other.map", SymbolTable({list_symbol("_stext", 0xffffffff81000000, 'T'),
                                             list_symbol("init_uts_ns", 0xffffffff82bf9c00, 'D')}));
    check_error([&] { linux_kernel::relocate_namelist(other, machine, info); }, ErrorKind::usage,
                "other.map: does not match the dump: init_uts_ns is 0xffffffff82bf9c00 in the namelist, "
                "0xffffffff85bf9b60 in VMCOREINFO (KERNELOFFSET 0x3000000)");
}

TEST_CASE("relocate_namelist: with no symbol to compare, a list with modules is run-time, without is link-time") {
    const auto info = linux_kernel::VmcoreInfo::parse("KERNELOFFSET=200000\n");
    MachineState machine;
    machine.arch = find_arch("amd64");
    Namelist with_modules("kallsyms",
                          SymbolTable({list_symbol("printk", 0xffffffff81200000, 'T'),
                                       list_symbol("virtblk_probe", 0xffffffffc0a01000, 't', "virtio_blk")}));
    CHECK(linux_kernel::relocate_namelist(with_modules, machine, info) == 0);
    CHECK(with_modules.symbols().find("printk")->value == 0xffffffff81200000u);
    Namelist plain("System.map", SymbolTable({list_symbol("printk", 0xffffffff81000000, 'T')}));
    CHECK(linux_kernel::relocate_namelist(plain, machine, info) == 0x200000);
    CHECK(plain.symbols().find("printk")->value == 0xffffffff81200000u);
    // KERNELOFFSET 0 (nokaslr): nothing to do either way.
    Namelist nokaslr("System.map", SymbolTable({list_symbol("printk", 0xffffffff81000000, 'T')}));
    CHECK(linux_kernel::relocate_namelist(nokaslr, machine, linux_kernel::VmcoreInfo::parse("KERNELOFFSET=0\n")) == 0);
}
