// Address expressions and lengths as kvmnm and kvmdump take them.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/expr.h>

#include <doctest/doctest.h>

#include "test_util.h"

using namespace kvm;
using kvm::test::error_of;
using kvm::test::kind_of;

namespace {

Symbol function(std::string name, std::uint64_t value, std::uint64_t size) {
    Symbol s;
    s.name = std::move(name);
    s.value = value;
    s.size = size;
    s.type = 'T';
    s.elf_type = elf::stt_func;
    s.elf_binding = elf::stb_global;
    return s;
}

const SymbolTable& table() {
    static const SymbolTable t({function("main", 0xffffffff80200100, 0x800), function("_foo", 0x1000, 0x10),
                                function("top", 0xfffffffffffffff0, 0x10)});
    return t;
}

std::uint64_t address_of(std::string_view text) {
    return resolve_address(parse_address(text), &table()).address;
}

}  // namespace

TEST_CASE("numbers: decimal and 0x hex, 64 bits at most") {
    CHECK(parse_number("0") == 0u);
    CHECK(parse_number("1234") == 1234u);
    CHECK(parse_number("0010") == 10u);  // decimal, not octal
    CHECK(parse_number("0x10") == 16u);
    CHECK(parse_number("0XfFfF") == 0xffffu);
    CHECK(parse_number("0xffffffffffffffff") == 0xffffffffffffffffu);
    CHECK(parse_number("18446744073709551615") == 0xffffffffffffffffu);
    CHECK_FALSE(parse_number(""));
    CHECK_FALSE(parse_number("0x"));
    CHECK_FALSE(parse_number("0x12g"));
    CHECK_FALSE(parse_number("12a"));
    CHECK_FALSE(parse_number("main"));
    CHECK_FALSE(parse_number("-1"));
    CHECK_FALSE(parse_number("+1"));
    CHECK(error_of([] { parse_number("0x10000000000000000"); }) == "0x10000000000000000: does not fit in 64 bits");
    CHECK(error_of([] { parse_number("18446744073709551616"); }) == "18446744073709551616: does not fit in 64 bits");
    CHECK(kind_of([] { parse_number("99999999999999999999"); }) == ErrorKind::usage);
}

TEST_CASE("address expressions parse into base and offset") {
    const AddressExpr plain = parse_address("main");
    CHECK(plain.symbol == "main");
    CHECK_FALSE(plain.has_offset);
    CHECK(plain.text == "main");

    const AddressExpr plus = parse_address("_main+0x10");
    CHECK(plus.symbol == "_main");
    CHECK(plus.offset == 0x10);
    CHECK(plus.has_offset);
    CHECK_FALSE(plus.minus);

    const AddressExpr minus = parse_address("0xffffffff80200000-32");
    CHECK(minus.symbol.empty());
    CHECK(minus.number == 0xffffffff80200000u);
    CHECK(minus.offset == 32);
    CHECK(minus.minus);

    const AddressExpr zero = parse_address("main+0");
    CHECK(zero.has_offset);
    CHECK(zero.offset == 0);

    const AddressExpr dotted = parse_address("foo.cold.1+4");
    CHECK(dotted.symbol == "foo.cold.1");
    CHECK(dotted.offset == 4);
}

TEST_CASE("malformed address expressions are usage errors that quote them") {
    CHECK(error_of([] { parse_address(""); }) == "empty address");
    CHECK(error_of([] { parse_address("main+"); }) == "main+: no offset after '+'");
    CHECK(error_of([] { parse_address("main-"); }) == "main-: no offset after '-'");
    CHECK(error_of([] { parse_address("+0x10"); }) == "+0x10: no symbol or address before '+'");
    CHECK(error_of([] { parse_address("main+zz"); }) == "main+zz: offset zz is not a number");
    CHECK(error_of([] { parse_address("main+1+2"); }) == "main+1+2: offset 1+2 is not a number");
    CHECK(error_of([] { parse_address("0xzz"); }) == "0xzz: 0xzz is not a number");
    CHECK(error_of([] { parse_address("12ab+4"); }) == "12ab+4: 12ab is not a number");
    CHECK(error_of([] { parse_address("main +4"); }) ==
          "\"main +4\": white space or a control character in an address");
    CHECK(error_of([] { parse_address("0x1ffffffffffffffff"); }) == "0x1ffffffffffffffff: does not fit in 64 bits");
    CHECK(kind_of([] { parse_address("main+"); }) == ErrorKind::usage);
}

TEST_CASE("resolving: symbols as written or by nlist's underscore rule, numbers, offsets") {
    CHECK(address_of("main") == 0xffffffff80200100u);
    CHECK(address_of("_main") == 0xffffffff80200100u);
    CHECK(address_of("main+0x23") == 0xffffffff80200123u);
    CHECK(address_of("main-0x100") == 0xffffffff80200000u);
    CHECK(address_of("__foo+16") == 0x1010u);
    CHECK(address_of("0x1234") == 0x1234u);
    CHECK(address_of("4096+1") == 0x1001u);
    CHECK(address_of("top+0xf") == 0xffffffffffffffffu);

    const ResolvedAddress r = resolve_address(parse_address("main+8"), &table());
    REQUIRE(r.symbol != nullptr);
    CHECK(r.symbol->name == "main");
    CHECK(resolve_address(parse_address("0x10"), &table()).symbol == nullptr);
    CHECK(resolve_address(parse_address("0x10"), nullptr).address == 0x10u);

    CHECK(error_of([] { address_of("nosuch+4"); }) == "nosuch: no such symbol");
    CHECK(kind_of([] { address_of("nosuch"); }) == ErrorKind::not_found);
    CHECK(address_of("_foo") == 0x1000u);  // as written first: ELF "_foo"
    CHECK(error_of([] { address_of("___foo"); }) == "___foo: no such symbol");
    CHECK(error_of([] { address_of("top+0x10"); }) ==
          "top+0x10: the offset carries 0xfffffffffffffff0 past the end of the address space");
    CHECK(error_of([] { address_of("0x10-0x11"); }) ==
          "0x10-0x11: the offset carries 0x10 past the start of the address space");
    CHECK(error_of([] { resolve_address(parse_address("main"), nullptr); }) ==
          "main: a symbol needs a namelist (-N system)");
    CHECK(kind_of([] { resolve_address(parse_address("main"), nullptr); }) == ErrorKind::usage);
}

TEST_CASE("lengths: decimal, hex, and k, m, g suffixes") {
    CHECK(parse_length("0") == 0u);
    CHECK(parse_length("256") == 256u);
    CHECK(parse_length("0x100") == 256u);
    CHECK(parse_length("4k") == 4096u);
    CHECK(parse_length("4K") == 4096u);
    CHECK(parse_length("64m") == 64u << 20);
    CHECK(parse_length("2M") == 2u << 20);
    CHECK(parse_length("1g") == 1u << 30);
    CHECK(parse_length("0x10k") == 16u << 10);
    CHECK(parse_length("17179869183g") == 0xffffffffc0000000u);

    const std::string what = ": not a length (a decimal or 0x number, with an optional k, m or g)";
    CHECK(error_of([] { parse_length(""); }) == what);
    CHECK(error_of([] { parse_length("k"); }) == "k" + what);
    CHECK(error_of([] { parse_length("4t"); }) == "4t" + what);
    CHECK(error_of([] { parse_length("4kb"); }) == "4kb" + what);
    CHECK(error_of([] { parse_length("-1"); }) == "-1" + what);
    CHECK(error_of([] { parse_length("0x"); }) == "0x" + what);
    CHECK(error_of([] { parse_length("17179869184g"); }) == "17179869184g: does not fit in 64 bits");
    CHECK(kind_of([] { parse_length("4t"); }) == ErrorKind::usage);
}
