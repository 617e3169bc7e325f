#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/namelist.h>
#include <kvm/symbols.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"
#include "test_util.h"

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

using namespace kvm;
using namespace kvmtest;

namespace {

// A symbol as a namelist would give it; the binding follows the letter
// (lower case local, W/V/w/v weak, otherwise global).
Symbol sym(std::string name, std::uint64_t value, std::uint64_t size, char letter,
           std::uint8_t elf_type = elf::stt_object) {
    Symbol s;
    s.name = std::move(name);
    s.value = value;
    s.size = size;
    s.type = letter;
    s.elf_type = elf_type;
    if (letter == 'W' || letter == 'V' || letter == 'w' || letter == 'v')
        s.elf_binding = elf::stb_weak;
    else if (letter >= 'a' && letter <= 'z')
        s.elf_binding = elf::stb_local;
    else
        s.elf_binding = elf::stb_global;
    return s;
}

std::vector<std::string> names_by_address(const SymbolTable& t) {
    std::vector<std::string> out;
    for (const Symbol& s : t.by_address())
        out.push_back(s.name);
    return out;
}

// The symbol name and offset nearest() gives, or "none".
std::string near(const SymbolTable& t, std::uint64_t address) {
    const auto n = t.nearest(address);
    if (!n) return "none";
    return fmt::format("{}+{:#x}", n->symbol->name, n->offset);
}

SymbolTable sample_table(unsigned elf_class, ByteOrder order) {
    const elf::File f(std::make_shared<MemorySource>(sample_kernel(elf_class, order)));
    return SymbolTable(f.symbols());
}

// A directory that is removed with everything in it when the test ends.
class TempDir {
public:
    TempDir() {
        path_ = std::filesystem::temp_directory_path() / fmt::format("kvmkit-test-{}-{}", ::getpid(), counter_++);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const Bytes& bytes) const {
        std::string p = (path_ / name).string();
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        REQUIRE(out.good());
        return p;
    }

private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

}  // namespace

TEST_CASE("SymbolTable orders by value, then name, and keeps locals and duplicates") {
    const SymbolTable t({sym("zeta", 0x300, 4, 'D'), sym("beta", 0x100, 4, 'd'), sym("alpha", 0x300, 4, 'd'),
                         sym("beta", 0x50, 4, 'b'), sym("k", 0x10, 0, 'A')});
    CHECK(t.size() == 5);
    CHECK_FALSE(t.empty());
    CHECK(names_by_address(t) == std::vector<std::string>{"k", "beta", "beta", "alpha", "zeta"});
    CHECK(t.by_address()[1].value == 0x50);
    CHECK(SymbolTable().empty());
    CHECK(SymbolTable().find("x") == nullptr);
}

TEST_CASE("find: with duplicate names the global wins, else the first in namelist order") {
    // Two local statics: the first listed wins although it sorts last.
    const SymbolTable locals({sym("counter", 0x300, 4, 'd'), sym("counter", 0x100, 4, 'b')});
    REQUIRE(locals.find("counter") != nullptr);
    CHECK(locals.find("counter")->value == 0x300);

    const SymbolTable with_global(
        {sym("counter", 0x300, 4, 'd'), sym("counter", 0x100, 4, 'b'), sym("counter", 0x200, 4, 'D')});
    CHECK(with_global.find("counter")->value == 0x200);

    // A weak definition is not local either.
    const SymbolTable weak({sym("hook", 0x10, 4, 't', elf::stt_func), sym("hook", 0x20, 4, 'W', elf::stt_func)});
    CHECK(weak.find("hook")->value == 0x20);

    // A namelist without ELF bindings (System.map): the letter decides.
    Symbol local_letter{"jiffies", 0x100, 0, 'd', 0, 0};
    Symbol global_letter{"jiffies", 0x200, 0, 'D', 0, 0};
    const SymbolTable map({local_letter, global_letter});
    CHECK(map.find("jiffies")->value == 0x200);
    CHECK(map.find("jiffie") == nullptr);
}

TEST_CASE("lookup: the exact name, else nlist's underscore rule") {
    const SymbolTable t({sym("dumpmag", 0x100, 4, 'D'), sym("_foo", 0x200, 4, 'D'), sym("bar", 0x300, 4, 'D'),
                         sym("__start_BTF", 0x400, 0, 'R'), sym("end", 0x500, 0, 'B'), sym("_end", 0x508, 0, 'B')});
    REQUIRE(t.lookup("_dumpmag") != nullptr);
    CHECK(t.lookup("_dumpmag")->name == "dumpmag");
    CHECK(t.lookup("dumpmag")->name == "dumpmag");
    REQUIRE(t.lookup("__foo") != nullptr);
    CHECK(t.lookup("__foo")->name == "_foo");
    // Linux names that start with '_' are found as written.
    REQUIRE(t.lookup("_foo") != nullptr);
    CHECK(t.lookup("_foo")->name == "_foo");
    REQUIRE(t.lookup("__start_BTF") != nullptr);
    CHECK(t.lookup("__start_BTF")->value == 0x400);
    CHECK(t.lookup("_end")->value == 0x508);
    CHECK(t.lookup("___foo") == nullptr);
    CHECK(t.lookup("") == nullptr);
    CHECK(t.lookup("_") == nullptr);
}

TEST_CASE("nearest: exact, inside and past sized symbols, below the first") {
    const SymbolTable t({
        sym("undefined", 0, 0, 'U', elf::stt_notype),
        sym("a_fn", 0x1000, 0x10, 'T', elf::stt_func),
        sym("abs", 0x1008, 0, 'A', elf::stt_notype),
        sym("label", 0x1010, 0, 't', elf::stt_notype),
        sym("big", 0x1200, 0x1000, 'D'),
        sym("small", 0x1300, 0x8, 'd'),
        sym("lonely", 0x3000, 0x10, 'D'),
        sym("far_abs", 0x5000, 0, 'A', elf::stt_notype),
    });
    CHECK(near(t, 0) == "none");
    CHECK(near(t, 0xfff) == "none");
    CHECK(near(t, 0x1000) == "a_fn+0x0");
    CHECK(near(t, 0x1008) == "a_fn+0x8");  // not the absolute symbol
    CHECK(near(t, 0x100f) == "a_fn+0xf");
    CHECK(near(t, 0x1010) == "label+0x0");
    CHECK(near(t, 0x11ff) == "label+0x1ef");  // unsized: no end to be past
    CHECK(near(t, 0x1304) == "small+0x4");
    CHECK(near(t, 0x1310) == "big+0x110");  // past small, still inside big
    CHECK(near(t, 0x21ff) == "big+0xfff");
    CHECK(near(t, 0x2200) == "none");  // past big's end, and small's
    CHECK(near(t, 0x300f) == "lonely+0xf");
    CHECK(near(t, 0x3010) == "none");
    CHECK(near(t, 0x5000) == "none");  // far_abs is a constant, not an address
    CHECK(near(SymbolTable(), 0x1000) == "none");
}

TEST_CASE("nearest: at equal values, global over local, then sized, then function or object") {
    CHECK(near(SymbolTable({sym("l_obj", 0x4000, 8, 'd'), sym("g_unsized", 0x4000, 0, 'D', elf::stt_notype)}),
               0x4004) == "g_unsized+0x4");
    CHECK(near(SymbolTable({sym("g_unsized", 0x4000, 0, 'D', elf::stt_notype),
                            sym("g_notype", 0x4000, 8, 'D', elf::stt_notype)}),
               0x4004) == "g_notype+0x4");
    CHECK(near(SymbolTable({sym("a_notype", 0x4000, 8, 'T', elf::stt_notype),
                            sym("z_fn", 0x4000, 8, 'T', elf::stt_func), sym("l_fn", 0x4000, 8, 't', elf::stt_func)}),
               0x4004) == "z_fn+0x4");
    // All equal: the first by name.
    CHECK(near(SymbolTable({sym("b", 0x4000, 8, 'D'), sym("a", 0x4000, 8, 'D')}), 0x4000) == "a+0x0");
    // The preferred symbol ends early; a same-valued local covers the address.
    CHECK(near(SymbolTable({sym("g_short", 0x4000, 4, 'D'), sym("l_long", 0x4000, 0x100, 'd')}), 0x4010) ==
          "l_long+0x10");
}

TEST_CASE("nearest: the look-back for a covering symbol is bounded") {
    // A huge object followed by more small ones than the look-back walks:
    // an address past the last small one is not attributed to the huge one.
    std::vector<Symbol> symbols = {sym("huge", 0x10000, 0x100000, 'D')};
    for (int i = 0; i < 1000; ++i)
        symbols.push_back(sym(fmt::format("s{}", i), 0x20000 + i * 0x10, 8, 'D'));
    const SymbolTable t(std::move(symbols));
    CHECK(near(t, 0x10008) == "huge+0x8");
    CHECK(near(t, 0x1ffff) == "huge+0xffff");
    // Past s10: eleven small symbols back, huge is within reach.
    CHECK(near(t, 0x200a8) == "huge+0x100a8");
    // Past s999: huge still covers the address, but is a thousand symbols
    // back; the bounded walk gives up rather than scan the table.
    CHECK(near(t, 0x23e78) == "none");
}

TEST_CASE("relocate moves address symbols only, and the table stays consistent") {
    SymbolTable t({sym("start", 0x1000, 0x10, 'T', elf::stt_func), sym("counter", 0x2000, 4, 'd'),
                   sym("counter", 0x2010, 4, 'b'), sym("const", 0x1800, 0, 'A', elf::stt_notype),
                   sym("ext", 0, 0, 'U', elf::stt_notype), sym("wext", 0, 0, 'w', elf::stt_notype),
                   sym("common", 8, 0x40, 'C')});
    const std::vector<Symbol> before(t.by_address().begin(), t.by_address().end());
    t.relocate(0x10000);
    CHECK(t.relocation() == 0x10000);
    CHECK(t.find("start")->value == 0x11000);
    CHECK(t.find("counter")->value == 0x12000);  // still the first in namelist order
    CHECK(t.find("const")->value == 0x1800);
    CHECK(t.find("ext")->value == 0);
    CHECK(t.find("wext")->value == 0);
    CHECK(t.find("common")->value == 8);
    CHECK(names_by_address(t) ==
          std::vector<std::string>{"ext", "wext", "common", "const", "start", "counter", "counter"});
    CHECK(near(t, 0x11004) == "start+0x4");
    CHECK(near(t, 0x1004) == "none");
    CHECK(near(t, 0x12012) == "counter+0x2");

    t.relocate(-0x10000);
    CHECK(t.relocation() == 0);
    CHECK(std::equal(before.begin(), before.end(), t.by_address().begin(), t.by_address().end()));
    CHECK(t.find("counter")->value == 0x2000);

    // Below zero wraps like addresses do, and the order follows.
    t.relocate(-0x1800);
    CHECK(t.find("start")->value == 0xfffffffffffff800ull);
    CHECK(t.by_address().back().name == "start");
    CHECK(near(t, 0xfffffffffffff808ull) == "start+0x8");
}

TEST_CASE("relocate over a range moves the image and leaves per-cpu offsets") {
    // A Linux namelist: per-cpu variables are small 'D' values, the image
    // is at 0xffffffff81000000 and up.
    SymbolTable t({sym("_text", 0xffffffff81000000, 0, 'T', elf::stt_func), sym("runqueues", 0x31980, 0x1000, 'D'),
                   sym("jiffies", 0xffffffff82a079c0, 8, 'D'), sym("__per_cpu_start", 0, 0, 'A', elf::stt_notype),
                   sym("last", 0xffffffffbfffffff, 1, 'b')});
    t.relocate(0x3000000, 0xffffffff80000000, 0xffffffffc0000000);
    CHECK(t.relocation() == 0x3000000);
    CHECK(t.find("_text")->value == 0xffffffff84000000);
    CHECK(t.find("jiffies")->value == 0xffffffff85a079c0);
    CHECK(t.find("last")->value == 0xffffffffc2ffffff);
    CHECK(t.find("runqueues")->value == 0x31980);
    CHECK(t.find("__per_cpu_start")->value == 0);
    CHECK(near(t, 0x31990) == "runqueues+0x10");
    CHECK(near(t, 0xffffffff85a079c4) == "jiffies+0x4");
}

TEST_CASE("SymbolTable copies re-key the name index and moves keep it") {
    // Short names live inside the std::string (SSO), so a copied index that
    // still viewed the original's strings would read freed memory.
    auto original = std::make_unique<SymbolTable>(
        std::vector<Symbol>{sym("a", 0x10, 4, 'D'), sym("b", 0x20, 4, 'd'), sym("b", 0x30, 4, 'D'),
                            sym("a_rather_long_name_that_is_on_the_heap", 0x40, 4, 'D')});
    SymbolTable copy(*original);
    original->relocate(0x1000);
    original.reset();
    REQUIRE(copy.find("a") != nullptr);
    CHECK(copy.find("a")->value == 0x10);
    CHECK(copy.find("b")->value == 0x30);
    CHECK(copy.find("a_rather_long_name_that_is_on_the_heap")->value == 0x40);
    CHECK(&copy.by_address()[0] == copy.find("a"));

    SymbolTable moved(std::move(copy));
    CHECK(moved.find("b")->value == 0x30);
    CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    CHECK(copy.find("b") == nullptr);

    SymbolTable assigned;
    assigned = moved;
    CHECK(assigned.find("b") != moved.find("b"));
    CHECK(assigned.find("b")->value == 0x30);
    SymbolTable move_assigned;
    move_assigned = std::move(assigned);
    CHECK(move_assigned.find("a")->value == 0x10);
    CHECK(near(move_assigned, 0x32) == "b+0x2");
    const SymbolTable& self = move_assigned;
    move_assigned = self;
    CHECK(move_assigned.find("a")->value == 0x10);
}

TEST_CASE("a table rebuilt from its sorted symbols and name choices equals the original") {
    const SymbolTable original({sym("counter", 0x300, 4, 'd'), sym("counter", 0x100, 4, 'b'),
                                sym("main", 0x1000, 0x800, 'T', elf::stt_func), sym("k", 0x10, 0, 'A'),
                                sym("hook", 0x20, 4, 't', elf::stt_func), sym("hook", 0x40, 4, 'W', elf::stt_func)});
    SymbolTable::Indexed indexed;
    for (const Symbol& s : original.by_address()) {
        indexed.symbols.push_back(s);
        indexed.chosen.push_back(original.find(s.name) == &s);
    }
    CHECK(indexed.chosen == std::vector<bool>{true, false, true, false, true, true});
    const SymbolTable rebuilt(indexed);
    CHECK(std::equal(rebuilt.by_address().begin(), rebuilt.by_address().end(), original.by_address().begin(),
                     original.by_address().end()));
    CHECK(rebuilt.find("counter")->value == 0x300);  // the first in namelist order, which sorting lost
    CHECK(rebuilt.find("hook")->value == 0x40);
    CHECK(rebuilt.lookup("_main")->value == 0x1000);
    CHECK(near(rebuilt, 0x1010) == "main+0x10");
    CHECK(near(rebuilt, 0x14) == "none");

    using kvm::test::error_of;
    SymbolTable::Indexed unsorted = indexed;
    std::swap(unsorted.symbols[2], unsorted.symbols[3]);
    std::vector<bool>::swap(unsorted.chosen[2], unsorted.chosen[3]);
    CHECK(error_of([&] { SymbolTable{unsorted}; }) == "symbol index: symbol 3 (hook) is out of address order");
    SymbolTable::Indexed two = indexed;
    two.chosen[1] = true;
    CHECK(error_of([&] { SymbolTable{two}; }) == "symbol index: two symbols are chosen for the name hook");
    SymbolTable::Indexed none = indexed;
    none.chosen[4] = false;
    CHECK(error_of([&] { SymbolTable{none}; }) == "symbol index: no symbol is chosen for the name counter");
    SymbolTable::Indexed short_choices = indexed;
    short_choices.chosen.pop_back();
    CHECK(error_of([&] { SymbolTable{short_choices}; }) == "symbol index: 6 symbols but 5 name choices");
    CHECK(kvm::test::kind_of([&] { SymbolTable{none}; }) == ErrorKind::corrupt);
}

TEST_CASE("nlist: underscore rule, n_type and n_value, and the not-found count") {
    for (const Variant& v : all_variants()) {
        INFO(std::string(v.label));
        const SymbolTable t = sample_table(v.elf_class, v.order);
        const Addresses a = addresses(v.elf_class);
        std::vector<NlistEntry> entries = {
            {"_dumpmag", 0xff, 0xdead},  // stale values are cleared
            {"dumpmag", 0, 0},
            {"__foo", 0, 0},
            {"_foo", 0xff, 0xdead},
            {"_local_fn", 0, 0},
            {"_start", 0, 0},
            {"_abs_const", 0, 0},
            {"_buffer", 0, 0},
            {"_weak_obj", 0, 0},
            {"_undef_fn", 0, 0},
            {"_counter", 0, 0},
            {"_nosuchsymbol", 0, 0},
            {"_dumpmag", 0, 0},
            {"", 0, 0},
        };
        CHECK(nlist(t, entries) == 3);
        const auto check = [&](std::size_t i, std::uint8_t type, std::uint64_t value) {
            INFO(entries[i].name);
            CHECK(unsigned(entries[i].n_type) == type);
            CHECK(entries[i].n_value == value);
        };
        check(0, n_data | n_ext, a.data);
        check(1, n_data | n_ext, a.data);
        check(2, n_undf | n_ext, a.data + 0x18);  // ELF "_foo", a NOTYPE label
        check(3, 0, 0);                           // looks for "foo"
        check(4, n_text, a.text + 0x10);          // local: no N_EXT
        check(5, n_text | n_ext, a.text);
        check(6, n_abs | n_ext, 0x1234);
        check(7, n_data | n_ext, a.bss + 0x10);  // .bss objects are N_DATA, as NetBSD reports them
        check(8, n_data | n_ext, a.data + 0x10);
        check(9, n_undf | n_ext, 0);
        check(10, n_data, a.data + 8);  // the first of the two local "counter"s
        check(11, 0, 0);
        check(12, n_data | n_ext, a.data);  // asked twice, found twice
        check(13, 0, 0);
    }
    CHECK(nlist(SymbolTable(), std::span<NlistEntry>()) == 0);
    CHECK(n_text == 0x04);
    CHECK(n_data == 0x06);
    CHECK(n_abs == 0x02);
    CHECK(n_ext == 0x01);
}

TEST_CASE("300,000 symbols: written, read back, indexed, found by name and by address") {
    constexpr std::size_t count = 300000;
    synth::ElfWriter w({});
    const std::uint64_t base = 0xffffffff80200000ull;
    const std::uint16_t text =
        w.add_section(".text", elf::sht_progbits, elf::shf_alloc | elf::shf_execinstr, base, Bytes(0x10), 16);
    for (std::size_t i = 0; i < count; ++i) {
        // Every 16th a local, so names repeat as local statics do.
        const bool local = i % 16 == 0;
        w.add_symbol({local ? fmt::format("static_{}", i % 1000) : fmt::format("fn_{}", i), base + i * 0x20,
                      i % 3 == 0 ? 0u : 0x18u, elf::stt_func, local ? elf::stb_local : elf::stb_global, text});
    }
    const elf::File f(std::make_shared<MemorySource>(w.build()));
    const SymbolTable t(f.symbols());
    REQUIRE(t.size() == count);
    CHECK(std::is_sorted(t.by_address().begin(), t.by_address().end(),
                         [](const Symbol& x, const Symbol& y) { return x.value < y.value; }));
    std::mt19937 random(7);
    std::uniform_int_distribution<std::size_t> pick(0, count - 1);
    for (int n = 0; n < 10000; ++n) {
        const std::size_t i = pick(random);
        if (i % 16 == 0) continue;
        const Symbol* s = t.lookup(fmt::format("_fn_{}", i));
        REQUIRE(s != nullptr);
        CHECK(s->value == base + i * 0x20);
        const auto at = t.nearest(base + i * 0x20 + 0x10);
        REQUIRE(at);
        CHECK(at->symbol == s);
        CHECK(at->offset == 0x10);
    }
    // static_0 is defined at i = 0, 2000, 4000, ...: the first one wins.
    CHECK(t.find("static_0")->value == base);
    CHECK(t.find("static_16")->value == base + 0x200);  // i = 16
}

// ---------------------------------------------------------------- Namelist

TEST_CASE("Namelist::load reads an ELF kernel from a file and initial_value its data") {
    TempDir dir;
    for (const Variant& v : all_variants()) {
        INFO(std::string(v.label));
        const std::string path = dir.write(fmt::format("netbsd.{}.{}", v.elf_class, static_cast<int>(v.order)),
                                           sample_kernel(v.elf_class, v.order));
        const auto namelist = Namelist::load(path);
        REQUIRE(namelist);
        CHECK(namelist->path() == path);
        REQUIRE(namelist->elf() != nullptr);
        CHECK(namelist->elf()->elf_class() == v.elf_class);
        CHECK(namelist->symbols().size() == expected_symbols(v.elf_class).size());

        const Bytes data = data_bytes();
        const Bytes rodata = rodata_bytes();
        CHECK(namelist->initial_value("_dumpmag", 4) == Bytes(data.begin(), data.begin() + 4));
        CHECK(namelist->initial_value("version", 16) == Bytes(rodata.begin(), rodata.begin() + 16));
        CHECK(namelist->initial_value("_buffer", 0x40) == Bytes(0x40));

        check_error([&] { (void)namelist->initial_value("_nosuch", 4); }, ErrorKind::not_found,
                    path + ": _nosuch: no such symbol");
        check_error([&] { (void)namelist->initial_value("_abs_const", 4); }, ErrorKind::not_found,
                    path + ": _abs_const: no allocated section holds the 4 bytes at 0x1234");
        const std::uint64_t etext = addresses(v.elf_class).text + text_size;
        check_error([&] { (void)namelist->initial_value("_etext", 8); }, ErrorKind::not_found,
                    fmt::format("{}: _etext: no allocated section holds the 8 bytes at {:#x}", path, etext));

        // After KASLR relocation the symbols move; the file's bytes do not.
        namelist->symbols().relocate(0x200000);
        CHECK(namelist->symbols().lookup("_dumpmag")->value == addresses(v.elf_class).data + 0x200000);
        CHECK(namelist->initial_value("_dumpmag", 4) == Bytes(data.begin(), data.begin() + 4));
    }
}

TEST_CASE("Namelist::load errors name the path") {
    TempDir dir;
    const std::string text = dir.write("notes.txt", to_bytes("kernel crashed at 12:00\n"));
    const std::string unknown =
        ": not a kernel namelist (neither an ELF kernel nor a System.map or /proc/kallsyms list)";
    check_error([&] { Namelist::load(text); }, ErrorKind::format, text + unknown);
    const std::string empty = dir.write("empty", {});
    check_error([&] { Namelist::load(empty); }, ErrorKind::format, empty + unknown);
    const std::string stripped =
        dir.write("stripped", sample_kernel(elf::elfclass64, ByteOrder::little, {.notes = false, .symbols = false}));
    check_error([&] { Namelist::load(stripped); }, ErrorKind::not_found, stripped + ": no symbol table (stripped?)");
    Bytes bad_class = sample_kernel(elf::elfclass64, ByteOrder::little);
    bad_class[4] = std::byte{9};
    const std::string corrupt = dir.write("corrupt", bad_class);
    check_error([&] { Namelist::load(corrupt); }, ErrorKind::corrupt,
                corrupt + ": ELF header: EI_CLASS is 9, neither 1 (ELF32) nor 2 (ELF64)");
    bool io_error = false;
    try {
        Namelist::load(dir.write("x", {}) + ".missing");
    } catch (const Error& e) {
        io_error = e.kind() == ErrorKind::io;
    }
    CHECK(io_error);
}

TEST_CASE("a Namelist made from a table alone has no initial values") {
    const Namelist n("System.map", SymbolTable({sym("dumpmag", 0x100, 4, 'D')}));
    CHECK(n.elf() == nullptr);
    CHECK(n.symbols().lookup("_dumpmag")->value == 0x100);
    check_error([&] { (void)n.initial_value("_dumpmag", 4); }, ErrorKind::unsupported,
                "System.map: _dumpmag: the namelist has no file data to read its initial value from");
}
