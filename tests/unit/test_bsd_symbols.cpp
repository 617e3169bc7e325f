// FreeBSD's and DragonFly's namelist rules on their kernels: a name as
// written or with one leading '_' removed, local symbols (the static
// dumppcb) found, and which of the two systems a namelist is.
#include <kvm/elf.h>
#include <kvm/symbols.h>

#include "bsd_fixture.h"
#include "format/bsd_kernel.h"

#include <doctest/doctest.h>

using namespace kvm;
using kvmtest::namelist_of;

TEST_CASE("FreeBSD namelist: names as written or without one '_', local symbols, absolute kernbase") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const auto nl = namelist_of(m, "kernel.debug");
    const SymbolTable& t = nl->symbols();
    const Symbol* pcb = t.lookup("_dumppcb");
    REQUIRE(pcb != nullptr);
    CHECK(pcb->name == "dumppcb");
    CHECK(pcb->type == 'b');
    CHECK(pcb->elf_binding == elf::stb_local);
    CHECK(pcb->value == m.symbol("dumppcb"));
    const Symbol* kernbase = t.lookup("kernbase");
    REQUIRE(kernbase != nullptr);
    CHECK(kernbase->type == 'A');
    CHECK(kernbase->value == 0xffffffff80000000);
    CHECK(nl->elf()->osabi() == elf::elfosabi_freebsd);

    // libkvm's own requests: "_nprocs" but "kernbase".
    std::vector<NlistEntry> entries{{"_nprocs"},   {"kernbase"},    {"_dumppcb"}, {"_KPML4phys"},   {"_allproc"},
                                    {"_zombproc"}, {"_pidhashtbl"}, {"msgbufp"},  {"_nosuchsymbol"}};
    CHECK(nlist(t, entries, NlistNames::freebsd) == 2);  // no zombproc on 13+, and the missing one
    CHECK(entries[0].n_value == m.symbol("nprocs"));
    CHECK(unsigned(entries[0].n_type) == unsigned(n_data | n_ext));
    CHECK(entries[1].n_value == 0xffffffff80000000);
    CHECK(unsigned(entries[1].n_type) == unsigned(n_abs | n_ext));
    CHECK(entries[2].n_value == m.symbol("dumppcb"));
    CHECK(unsigned(entries[2].n_type) == unsigned(n_data));  // local: no N_EXT
    CHECK(entries[3].n_value == m.symbol("KPML4phys"));
    CHECK(entries[4].n_value == m.symbol("allproc"));
    CHECK(entries[5].n_value == 0);
    CHECK(entries[6].n_value == m.symbol("pidhashtbl"));
    CHECK(entries[7].n_value == m.symbol("msgbufp"));
    // The rules differ only for a name whose ELF form starts with '_';
    // neither strips twice.
    std::vector<NlistEntry> strict{{"kernbase"}, {"_kernbase"}, {"__dumppcb"}};
    CHECK(nlist(t, strict, NlistNames::netbsd) == 1);
    std::vector<NlistEntry> free{{"kernbase"}, {"_kernbase"}, {"__dumppcb"}};
    CHECK(nlist(t, free, NlistNames::freebsd) == 1);
}

TEST_CASE("which BSD a namelist is: ostype, then the ELF OS/ABI, then DragonFly-only symbols") {
    const synth::CrashedMachine freebsd({.os = "freebsd"});
    const synth::CrashedMachine dragonfly({.os = "dragonfly"});
    CHECK(detail::bsd_os_of(*namelist_of(freebsd))->reason == "the namelist's ostype \"FreeBSD\"");
    CHECK(detail::bsd_os_of(*namelist_of(dragonfly))->os == "dragonfly");
    // Symbol lists have no data: the symbols decide.
    const auto list = [](const Namelist& nl) {
        return Namelist("syms", SymbolTable(std::vector<Symbol>(nl.symbols().by_address().begin(),
                                                                nl.symbols().by_address().end())));
    };
    const auto d = detail::bsd_os_of(list(*namelist_of(dragonfly)));
    REQUIRE(d.has_value());
    CHECK(d->os == "dragonfly");
    CHECK(d->reason == "the namelist's allprocs, which only DragonFly has");
    CHECK_FALSE(detail::bsd_os_of(list(*namelist_of(freebsd))).has_value());
    // A FreeBSD-branded ELF without ostype data still says FreeBSD.
    synth::ElfWriter w({.osabi = elf::elfosabi_freebsd});
    w.add_section(".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr, 0x1000, Bytes(16));
    auto file = std::make_shared<elf::File>(std::make_shared<MemorySource>(w.build(), "kernel"));
    const Namelist branded("kernel", SymbolTable(std::vector<Symbol>{}), file);
    CHECK(detail::bsd_os_of(branded)->reason == "the namelist's ELF OS/ABI (FreeBSD)");
}
