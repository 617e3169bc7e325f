// kvmnm's lookups and text forms on tables whose every symbol is known,
// including the kinds a synthetic kernel lacks (undefined, absolute, weak)
// and namelists without ELF data.
#include <kvm/elf.h>
#include <kvm/kernel.h>
#include <kvm/nm.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

using namespace kvm;

namespace {

Symbol sym(std::string name, std::uint64_t value, std::uint64_t size, char letter, std::uint8_t type,
           std::uint8_t binding = elf::stb_global) {
    Symbol s;
    s.name = std::move(name);
    s.value = value;
    s.size = size;
    s.type = letter;
    s.elf_type = type;
    s.elf_binding = binding;
    return s;
}

const SymbolTable& table() {
    static const SymbolTable t({
        sym("main", 0xffffffff80200100, 0x800, 'T', elf::stt_func),
        sym("start", 0xffffffff80200000, 0, 'T', elf::stt_func),
        sym("ext", 0, 0, 'U', elf::stt_notype),
        sym("hook", 0, 0, 'w', elf::stt_notype, elf::stb_weak),
        sym("CONST", 0x1234, 0, 'A', elf::stt_notype),
        sym("_under", 0xffffffff81800000, 8, 'D', elf::stt_object),
    });
    return t;
}

std::string answer(std::string_view query, unsigned digits = 16) {
    const NmAnswer a = nm_query(table(), query);
    if (a.error) return "error: " + a.error->message();
    std::string out;
    format_nm_answer(a, digits, out);
    return out;
}

}  // namespace

TEST_CASE("kvmnm answers: names, addresses, expressions and misses") {
    CHECK(answer("main") == "ffffffff80200100 T main");
    CHECK(answer("_main") == "ffffffff80200100 T main");
    CHECK(answer("__under") == "ffffffff81800000 D _under");
    CHECK(answer("_under") == "ffffffff81800000 D _under");  // as written first
    CHECK(answer("___under") == "error: ___under: no such symbol");
    CHECK(answer("ext") == "                 U ext");
    CHECK(answer("hook", 8) == "         w hook");
    CHECK(answer("CONST") == "0000000000001234 A CONST");
    CHECK(answer("CONST", 8) == "00001234 A CONST");

    CHECK(answer("0xffffffff80200123") == "0xffffffff80200123: main+0x23 (size 0x800)");
    CHECK(answer("18446744071564165376") == "0xffffffff80200100: main (size 0x800)");
    CHECK(answer("main+0x7ff") == "0xffffffff802008ff: main+0x7ff (size 0x800)");
    CHECK(answer("main+0x800") == "0xffffffff80200900: not in any symbol");
    CHECK(answer("main-0x10") == "0xffffffff802000f0: start+0xf0");
    CHECK(answer("0x1234") == "0x1234: not in any symbol");  // absolute symbols are not places
    CHECK(answer("nosuch+4") == "error: nosuch: no such symbol");
    CHECK(answer("0x") == "error: 0x: no such symbol");  // not a number, so a name
    CHECK(answer("0x10000000000000000") == "error: 0x10000000000000000: does not fit in 64 bits");
    CHECK(answer("main+0x") == "error: main+0x: no such symbol");

    const NmAnswer a = nm_query(table(), "main+4");
    CHECK(a.kind == NmAnswer::Kind::address);
    CHECK(a.address == 0xffffffff80200104u);
    CHECK(a.offset == 4);
    CHECK(a.symbol == table().find("main"));
    CHECK(nm_query(table(), "main").kind == NmAnswer::Kind::name);
}

TEST_CASE("nm_value_digits: the dump's width, else the namelist's") {
    const Namelist no_elf("System.map", table());
    CHECK(nm_value_digits(no_elf, nullptr) == 16);
    const Namelist low("System.map", SymbolTable({sym("a", 0xc0100000, 4, 'T', elf::stt_func)}));
    CHECK(nm_value_digits(low, nullptr) == 8);
    CHECK(nm_value_digits(Namelist("empty", SymbolTable()), nullptr) == 8);

    kvm::test::TempDir dir;
    synth::CrashedMachine m({.arch = "i386"});
    synth::write_file(dir / "netbsd", m.kernel_elf());
    const auto elf32 = Namelist::load(dir / "netbsd");
    CHECK(nm_value_digits(*elf32, nullptr) == 8);
    MemorySink core;
    m.write_kcore(core, m.prepare_dump({}));
    const Kernel k(open_format(std::make_shared<MemorySource>(core.data())), nullptr);
    CHECK(nm_value_digits(no_elf, &k) == 8);  // the dump decides

    // Values that are no addresses are not looked for in the dump.
    NmAnswer absolute = nm_query(table(), "CONST");
    nm_check_dump(k, absolute);
    CHECK_FALSE(absolute.dump_error);
    NmAnswer far = nm_query(table(), "0xd0000000");
    nm_check_dump(k, far);
    REQUIRE(far.dump_error);
    CHECK(
        far.dump_error->message() ==
        fmt::format("0xd0000000: level 2 entry 0x0 (index 832 of the table at pa {}) is not valid", hex(m.pt_root())));
    NmAnswer missing = nm_query(table(), "nosuch");
    nm_check_dump(k, missing);
    CHECK_FALSE(missing.dump_error);
}
