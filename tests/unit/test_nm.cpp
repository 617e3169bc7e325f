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
using kvm::test::error_of;

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
    // Past main's end but below the next symbol: the nearest, its size noted.
    CHECK(answer("main+0x800") == "0xffffffff80200900: main+0x800 (size 0x800, past its end)");
    CHECK(answer("0xffffffff817fffff") == "0xffffffff817fffff: main+0x15ffeff (size 0x800, past its end)");
    // Past the last symbol, and below the first: in none.
    CHECK(answer("0xffffffff81800008") == "0xffffffff81800008: not in any symbol");
    CHECK(answer("0xffffffff801fffff") == "0xffffffff801fffff: not in any symbol");
    CHECK(answer("main-0x10") == "0xffffffff802000f0: start+0xf0");
    CHECK(answer("0x1234") == "0x1234: not in any symbol");  // absolute symbols are not places
    CHECK(answer("nosuch+4") == "error: nosuch: no such symbol");
    // Malformed numbers and expressions are usage errors, as in kvmdump.
    CHECK(answer("0x") == "error: 0x: 0x is not a number");
    CHECK(answer("0xzz") == "error: 0xzz: 0xzz is not a number");
    CHECK(answer("main+") == "error: main+: no offset after '+'");
    CHECK(nm_query(table(), "0xzz").error->kind() == ErrorKind::usage);
    CHECK(nm_query(table(), "nosuch").error->kind() == ErrorKind::not_found);
    CHECK(answer("0x10000000000000000") == "error: 0x10000000000000000: does not fit in 64 bits");
    CHECK(answer("main+0x") == "error: main+0x: offset 0x is not a number");

    const NmAnswer a = nm_query(table(), "main+4");
    CHECK(a.kind == NmAnswer::Kind::address);
    CHECK(a.address == 0xffffffff80200104u);
    CHECK(a.offset == 4);
    CHECK(a.symbol == table().find("main"));
    CHECK_FALSE(a.past_end);
    CHECK(nm_query(table(), "main+0x800").past_end);
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

TEST_CASE("nm's options: which symbols, sizes, POSIX lines, radix, patterns") {
    const auto line = [](std::string_view name, NmListOptions o, unsigned digits = 16) {
        std::string out;
        format_nm_symbol(*table().lookup(name), digits, o, out);
        return out;
    };
    CHECK(line("main", {}) == "ffffffff80200100 T main");
    CHECK(line("main", {.sizes = true}) == "ffffffff80200100 0000000000000800 T main");
    CHECK(line("start", {.sizes = true}) == "ffffffff80200000 T start");  // no size, none printed
    CHECK(line("main", {.posix = true}) == "main T ffffffff80200100 800");
    CHECK(line("ext", {.posix = true}) == "ext U");
    CHECK(line("main", {.radix = 'd'}) == "18446744071564165376 T main");
    CHECK(line("main", {.sizes = true, .radix = 'o'}) == "1777777777760010000400 0000000000004000 T main");
    CHECK(line("CONST", {.radix = 'd'}, 8) == "0000004660 A CONST");
    CHECK(line("ext", {.radix = 'd'}) == std::string(20, ' ') + " U ext");

    CHECK(nm_listed(*table().lookup("main"), {.external_only = true}));
    CHECK(nm_listed(*table().lookup("hook"), {.external_only = true}));  // weak
    CHECK_FALSE(nm_listed(*table().lookup("main"), {.undefined_only = true}));
    CHECK(nm_listed(*table().lookup("ext"), {.undefined_only = true}));
    CHECK(nm_radix("o") == 'o');
    CHECK(error_of([] { (void)nm_radix("z"); }) == "-t z: the radix is d, o or x");

    const std::vector<NmAnswer> matches = nm_answers(table(), "*a*", {});
    REQUIRE(matches.size() == 2);
    CHECK(matches[0].symbol->name == "start");  // address order
    CHECK(matches[1].symbol->name == "main");
    CHECK(nm_answers(table(), "[eh]*", {}).size() == 2);
    CHECK(nm_answers(table(), "[eh]*", {.undefined_only = true}).size() == 2);  // ext and the weak hook
    const std::vector<NmAnswer> none = nm_answers(table(), "zz*", {});
    REQUIRE(none.size() == 1);
    CHECK(none[0].error->message() == "zz*: no symbol matches");
}
