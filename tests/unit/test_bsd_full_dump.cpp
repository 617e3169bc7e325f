// FreeBSD and DragonFly full dumps (debug.minidump=0): ELF cores with
// EI_OSABI 255 and physical PT_LOADs (freebsd-dragonfly-dump-format.md
// section 2), their OS from the namelist, and the page-table root found
// through it: KPML4phys, IdlePTD / IdlePDPT, dumppcb's pcb_cr3.
#include <kvm/elf.h>
#include <kvm/error.h>

#include "bsd_fixture.h"
#include "elf_fixture.h"
#include "test_util.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <optional>

using namespace kvm;
using kvmtest::check_error;
using kvmtest::full_dump_of;
using kvmtest::namelist_of;
using kvmtest::open_bsd_dump;
using synth::write_file;

namespace {

std::uint64_t ram_bytes(const synth::CrashedMachine& m) {
    std::uint64_t n = 0;
    for (const auto& seg : m.memory().ram())
        n += seg.size;
    return n;
}

}  // namespace

TEST_CASE("FreeBSD amd64 full dump: one PT_LOAD per RAM segment, the page tables from KPML4phys") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const Bytes dump = full_dump_of(m);
    // ELF header, three program headers, data from the next page on.
    CHECK(dump.size() == 0x1000 + ram_bytes(m));
    const auto k = open_bsd_dump(dump, namelist_of(m));
    CHECK(k->format().name() == "freebsd-elf-dump");
    const MachineState& s = k->machine();
    CHECK(s.os == "freebsd");
    CHECK(s.info.at("os.source") == "the namelist's ostype \"FreeBSD\"");
    CHECK(s.translator == "amd64");
    CHECK(s.pt_root == m.pt_root());
    CHECK(s.info.at("pt_root.source") == fmt::format("KPML4phys at pa {} holds {}",
                                                     hex(m.symbol("KPML4phys") - 0xffffffff80000000),
                                                     hex(m.pt_root())));
    const auto runs = k->format().phys_ranges();
    REQUIRE(runs.size() == 3);
    CHECK(runs[0].pa == 0x1000);
    CHECK(runs[0].offset == 0x1000);
    CHECK(runs[1].pa == 0x100000);
    CHECK(runs[1].offset == 0x1000 + 0x9e000);
    CHECK(runs[2].pa == 0x2000000);
    CHECK(runs[2].size == 0x800000);

    CHECK(k->read_string(k->symbol_value("version"), 256) == m.spec().version);
    const std::uint64_t message = k->read_pointer(k->symbol_value("panicstr"));
    CHECK(k->translate(message).pa == m.virt_to_phys(message));
    CHECK(k->read_string(message, 256) == m.spec().panic);
    CHECK(k->read_string(m.direct_map(m.virt_to_phys(message)), 256) == m.spec().panic);
    // Unwritten RAM is dumped too, as the machine's filler made it.
    Bytes page(4096);
    Bytes expected(4096);
    k->read_phys(0x2400000, page);
    m.memory().read(0x2400000, expected);
    CHECK(page == expected);
    check_error([&] { k->read_uint(0xfffff8000009f000, 8); }, ErrorKind::fault,
                "0xfffff8000009f000: physical address 0x9f000 is not in the dump");
    // No message buffer beside memory in a full dump.
    CHECK_FALSE(k->format().message_buffer().has_value());
}

TEST_CASE("a full dump without a namelist is FreeBSD's, and names no page tables") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const auto k = open_bsd_dump(full_dump_of(m), nullptr);
    CHECK(k->machine().os == "freebsd");
    CHECK(k->machine().info.at("os.source") == "a full dump does not say, and there is no namelist: read as FreeBSD");
    CHECK(k->machine().translator.empty());
    Bytes b(8);
    k->read_phys(m.virt_to_phys(m.symbol("version")), b);
    CHECK(std::string(as_chars(b)) == m.spec().version.substr(0, 8));
    check_error([&] { k->read_uint(m.symbol("version"), 8); }, ErrorKind::fault,
                fmt::format("{}: not in a linear range, and the dump names no page tables to walk (no namelist: a "
                            "full FreeBSD or DragonFly dump names no page tables; give the kernel (-N))",
                            hex(m.symbol("version"))));

    // A symbol list without KPML4phys or ostype: FreeBSD by default, and no root.
    std::vector<Symbol> symbols{{.name = "kernbase", .value = 0xffffffff80000000, .type = 'A'}};
    auto list = std::make_shared<Namelist>("kernel.syms", SymbolTable(symbols));
    const auto k2 = open_bsd_dump(full_dump_of(m), list);
    CHECK(k2->machine().info.at("os.source") == "a full dump does not say, nor does the namelist: read as FreeBSD");
    CHECK(k2->machine().info.at("pt_root.source") == "the namelist has no KPML4phys");
}

TEST_CASE("i386 full dumps: IdlePTD, or IdlePDPT's four page directories") {
    {
        const synth::CrashedMachine m({.arch = "i386", .os = "freebsd"});
        const auto k = open_bsd_dump(full_dump_of(m), namelist_of(m));
        CHECK(k->machine().translator == "i386");
        CHECK(k->machine().pt_root == m.pt_root());
        CHECK(k->machine().info.at("pt_root.source") ==
              fmt::format("IdlePTD at pa {} holds {}", hex(m.symbol("IdlePTD") - 0xc0000000), hex(m.pt_root())));
        const std::uint64_t message = k->read_pointer(k->symbol_value("panicstr"));
        CHECK(k->read_string(message, 256) == m.spec().panic);
        CHECK(k->translate(m.symbol("version")).page_size == 4u << 20);
    }
    synth::CrashedMachine m({.arch = "i386", .pae = true, .os = "freebsd"});
    const std::uint64_t pdpt = m.read_uint(m.symbol("IdlePDPT"), 4);
    {
        const auto k = open_bsd_dump(full_dump_of(m), namelist_of(m));
        CHECK(k->machine().translator == "i386-pae");
        CHECK(k->machine().pt_root == m.pt_root());
        CHECK(k->machine().info.at("pt_root.source") ==
              fmt::format("IdlePDPT at pa {} holds {}: PAE page directories at {}",
                          hex(m.symbol("IdlePDPT") - 0xc0000000), hex(pdpt), hex(m.pt_root())));
        CHECK(k->read_string(k->read_pointer(k->symbol_value("panicstr")), 256) == m.spec().panic);
        CHECK(k->translate(m.symbol("version")).page_size == 2u << 20);
    }
    // Page directories that are not one after another are not walked.
    Bytes entry(8);
    store64(entry.data(), (m.pt_root() + 0x5000) | 1, ByteOrder::little);
    m.memory().write(pdpt + 8, entry);
    const auto k = open_bsd_dump(full_dump_of(m), namelist_of(m));
    CHECK(k->machine().translator.empty());
    CHECK(k->machine().info.at("pt_root.source") ==
          fmt::format("IdlePDPT at pa {} holds {}, whose entries {}, {}, {}, {} are not four contiguous page "
                      "directories",
                      hex(m.symbol("IdlePDPT") - 0xc0000000), hex(pdpt), hex(m.pt_root() | 1),
                      hex((m.pt_root() + 0x5000) | 1), hex((m.pt_root() + 0x2000) | 1),
                      hex((m.pt_root() + 0x3000) | 1)));
}

TEST_CASE("DragonFly full dumps: dumppcb's pcb_cr3 by release, checked by walking back to dumppcb") {
    const synth::CrashedMachine current({.os = "dragonfly"});
    const std::uint64_t pcb_pa = current.symbol("dumppcb") - 0xffffffff80000000;
    {
        const auto k = open_bsd_dump(full_dump_of(current), namelist_of(current));
        CHECK(k->format().name() == "dragonfly-elf-dump");
        CHECK(k->machine().os == "dragonfly");
        CHECK(k->machine().translator == "amd64");
        CHECK(k->machine().pt_root == current.pt_root());
        CHECK(k->machine().info.at("pt_root.source") ==
              fmt::format("dumppcb's pcb_cr3 at offset 64 (the offset of DragonFly 6.4-RELEASE) holds {}",
                          hex(current.pt_root())));
        CHECK(k->read_string(k->read_pointer(k->symbol_value("panicstr")), 256) == current.spec().panic);
    }
    // The 2008 port's pcb: cr3 first.
    const synth::CrashedMachine old({.os = "dragonfly", .dragonfly_pcb_cr3 = 0});
    {
        const auto k = open_bsd_dump(full_dump_of(old), namelist_of(old));
        CHECK(k->machine().pt_root == old.pt_root());
        CHECK(k->machine().info.at("pt_root.source") ==
              fmt::format("dumppcb's pcb_cr3 at offset 0 (the offset of DragonFly 2.10-RELEASE) holds {}",
                          hex(old.pt_root())));
    }
    // A release the table places wrongly: the other offset is the one
    // whose page tables map dumppcb back to where it was read.
    {
        const auto k = open_bsd_dump(full_dump_of(old), namelist_of(current));
        CHECK(k->machine().pt_root == old.pt_root());
        CHECK(k->machine().info.at("pt_root.source") ==
              fmt::format("dumppcb's pcb_cr3 at offset 0 (the one whose page tables map dumppcb back) holds {}",
                          hex(old.pt_root())));
    }
    // Neither offset gives such tables: no translation, and why.
    synth::CrashedMachine broken({.os = "dragonfly"});
    broken.write_uint(broken.symbol("dumppcb") + 64, 0x5000, 8);
    const auto k = open_bsd_dump(full_dump_of(broken), namelist_of(broken));
    CHECK(k->machine().translator.empty());
    CHECK(k->machine().info.at("pt_root.source") ==
          fmt::format("dumppcb's pcb_cr3: the offset of DragonFly 6.4-RELEASE; no offset of 64, 0 gives page tables "
                      "that map dumppcb ({}) to its physical address {}",
                      hex(broken.symbol("dumppcb")), hex(pcb_pa)));
}

TEST_CASE("DragonFly full dump: pcb_cr3's offset from the kernel's DWARF, or its absence") {
    const kvm::test::TempDir dir;
    // The kernel's type information, as gcc describes these declarations.
    const auto debug_sections = [&](const std::string& pcb) -> std::optional<std::vector<std::pair<std::string, Bytes>>> {
        const std::string c = dir / "pcb.c";
        const std::string so = dir / "pcb.so";
        write_file(c, to_bytes(pcb + " dumppcb_type;\n"));
        const std::string cmd = fmt::format("gcc -m64 -g -ffreestanding -nostdlib -shared -o '{}' '{}' 2>/dev/null", so, c);
        if (std::system(cmd.c_str()) != 0) return std::nullopt;
        const elf::File file(open_file(so));
        std::vector<std::pair<std::string, Bytes>> out;
        for (const elf::Section& s : file.sections())
            if (s.name.starts_with(".debug_")) out.emplace_back(s.name, file.section_data(s));
        return out;
    };
    const auto kernel_with = [&](synth::CrashedMachine& m, const std::string& pcb) -> std::shared_ptr<Namelist> {
        const auto sections = debug_sections(pcb);
        if (!sections) return nullptr;
        for (const auto& [name, data] : *sections)
            m.add_kernel_section(name, data);
        const std::string path = dir / "kernel.debug";
        synth::write_file(path, m.kernel_elf());
        return Namelist::load(path);
    };

    synth::CrashedMachine m({.os = "dragonfly"});
    const auto nl = kernel_with(m, "struct pcb { long padxx[7]; long pcb_cr3_iso; long pcb_cr3; long pcb_r15; }");
    if (!nl) {
        MESSAGE("no gcc for x86-64: DragonFly's pcb from DWARF not checked");
        return;
    }
    const auto k = open_bsd_dump(full_dump_of(m), nl);
    CHECK(k->machine().pt_root == m.pt_root());
    CHECK(k->machine().info.at("pt_root.source") ==
          fmt::format("dumppcb's pcb_cr3 at offset 64 (from DWARF in {}) holds {}", dir / "kernel.debug",
                      hex(m.pt_root())));

    // A virtual kernel's pcb has no pcb_cr3: nothing to walk.
    synth::CrashedMachine vk({.os = "dragonfly"});
    const auto vnl = kernel_with(vk, "struct pcb { long padxx[8]; long pcb_unused01; long pcb_r15; }");
    REQUIRE(vnl != nullptr);
    const auto v = open_bsd_dump(full_dump_of(vk), vnl);
    CHECK(v->machine().translator.empty());
    CHECK(v->machine().info.at("pt_root.source") ==
          fmt::format("dumppcb's pcb_cr3: struct pcb in DWARF in {} has no pcb_cr3", dir / "kernel.debug"));
}
