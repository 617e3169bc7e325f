// The hexdump -C formatter, the symbol cursor that annotates its lines, and
// output buffering.  Expected layouts are written out by hand from
// hexdump -C's (util-linux 2.38) output for the same bytes.
#include <kvm/elf.h>
#include <kvm/hexdump.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <random>

using namespace kvm;

namespace {

std::string format(ByteSpan data, std::uint64_t start, unsigned digits, const SymbolTable* symbols = nullptr,
                   std::size_t chunk = 0) {
    HexdumpFormatter f(start, digits, symbols);
    std::string out;
    if (chunk == 0) chunk = std::max<std::size_t>(data.size(), 1);
    for (std::size_t i = 0; i < data.size(); i += chunk)
        f.add(data.subspan(i, std::min(chunk, data.size() - i)), out);
    f.finish(out);
    return out;
}

Bytes bytes_of(std::string_view s) {
    return to_bytes(s);
}

Symbol symbol(std::string name, std::uint64_t value, std::uint64_t size, char letter = 'D') {
    Symbol s;
    s.name = std::move(name);
    s.value = value;
    s.size = size;
    s.type = letter;
    s.elf_type = letter == 'T' || letter == 't' ? elf::stt_func : elf::stt_object;
    s.elf_binding = letter >= 'a' ? elf::stb_local : elf::stb_global;
    return s;
}

}  // namespace

TEST_CASE("hexdump -C layout: full and short lines, ascii, final address") {
    // printf 'abc\n' | hexdump -C
    CHECK(format(bytes_of("abc\n"), 0, 8) ==
          "00000000  61 62 63 0a                                       |abc.|\n"
          "00000004\n");
    // printf '\x00\x7f\x80\xff ~' | hexdump -C: 0x20 and 0x7e are printable, 0x7f is not
    CHECK(format(bytes_of(std::string_view("\x00\x7f\x80\xff ~", 6)), 0, 8) ==
          "00000000  00 7f 80 ff 20 7e                                 |.... ~|\n"
          "00000006\n");
    const Bytes alphabet = bytes_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij");
    CHECK(format(alphabet, 0xffffffff80200100, 16) ==
          "ffffffff80200100  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|\n"
          "ffffffff80200110  51 52 53 54 55 56 57 58  59 5a 61 62 63 64 65 66  |QRSTUVWXYZabcdef|\n"
          "ffffffff80200120  67 68 69 6a                                       |ghij|\n"
          "ffffffff80200124\n");
    // Lines start at the first address, as hexdump -C -s does.
    CHECK(format(ByteSpan(alphabet).first(17), 0xc0400003, 8) ==
          "c0400003  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|\n"
          "c0400013  51                                                |Q|\n"
          "c0400014\n");
    // Exactly eight bytes: the gap between the groups is still there.
    CHECK(format(ByteSpan(alphabet).first(8), 0, 8) ==
          "00000000  41 42 43 44 45 46 47 48                           |ABCDEFGH|\n"
          "00000008\n");
    // Nothing at all for no bytes, as hexdump prints nothing for an empty file.
    CHECK(format({}, 0x1000, 8).empty());
}

TEST_CASE("repeated lines become one '*', as hexdump -C does") {
    // head -c 64 /dev/zero | hexdump -C
    CHECK(format(Bytes(64), 0, 8) ==
          "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
          "*\n"
          "00000040\n");
    // 48 zeros then "xyz": the line after the run is shown.
    Bytes b(48);
    for (const char c : std::string_view("xyz"))
        b.push_back(static_cast<std::byte>(c));
    CHECK(format(b, 0, 8) ==
          "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
          "*\n"
          "00000030  78 79 7a                                          |xyz|\n"
          "00000033\n");
    // 40 zeros: a short last line equal in its bytes is still shown.
    CHECK(format(Bytes(40), 0, 8) ==
          "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
          "*\n"
          "00000020  00 00 00 00 00 00 00 00                           |........|\n"
          "00000028\n");
    // Two runs: one '*' each.
    Bytes two(std::size_t{16} * 3);
    two.resize(std::size_t{16} * 4, std::byte{1});
    two.resize(std::size_t{16} * 7, std::byte{0});
    CHECK(format(two, 0, 8) ==
          "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
          "*\n"
          "00000030  01 01 01 01 01 01 01 01  01 01 01 01 01 01 01 01  |................|\n"
          "00000040  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
          "*\n"
          "00000070\n");
}

TEST_CASE("the output does not depend on how the bytes arrive") {
    std::mt19937 random(11);
    Bytes data(5000);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = i % 700 < 300 ? std::byte{0} : static_cast<std::byte>(random());
    const SymbolTable t({symbol("a", 0x1000, 0x200), symbol("b", 0x1400, 0), symbol("c", 0x1e00, 0x10)});
    const std::string whole = format(data, 0x1003, 16, &t);
    for (const std::size_t chunk : {1u, 7u, 16u, 17u, 4096u})
        CHECK(format(data, 0x1003, 16, &t, chunk) == whole);
}

TEST_CASE("each line names its symbol; a new symbol breaks a run of repeats") {
    const SymbolTable t({symbol("zeros", 0xffffffff81c00000, 0x30, 'B'), symbol("small", 0xffffffff81c00030, 4, 'b'),
                         symbol("next", 0xffffffff81c00040, 0x100, 'B')});
    const std::string out = format(Bytes(0x80), 0xffffffff81c00000, 16, &t);
    CHECK(out ==
          "ffffffff81c00000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|  zeros\n"
          "*\n"
          "ffffffff81c00030  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|  small\n"
          "ffffffff81c00040  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|  next\n"
          "*\n"
          "ffffffff81c00080\n");
    // Offsets, a short line padded so the names line up, and no name past
    // the end of a sized symbol.
    const std::string tail = format(Bytes(0x25), 0xffffffff81c00010, 16, &t);
    CHECK(tail ==
          "ffffffff81c00010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|  zeros+0x10\n"
          "*\n"
          "ffffffff81c00030  00 00 00 00 00                                    |.....|             small\n"
          "ffffffff81c00035\n");
    const std::string gap = format(Bytes(0x10), 0xffffffff81c00034, 16, &t);
    CHECK(gap ==
          "ffffffff81c00034  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
          "ffffffff81c00044\n");
    // Without a table, or with an empty one, lines are exactly hexdump's.
    const SymbolTable empty;
    CHECK(format(Bytes(0x25), 0xffffffff81c00010, 16, &empty) == format(Bytes(0x25), 0xffffffff81c00010, 16));
}

TEST_CASE("the final address of a range that ends at the top of the address space") {
    CHECK(format(Bytes(16, std::byte{0x41}), 0xfffffffffffffff0, 16) ==
          "fffffffffffffff0  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|\n"
          "10000000000000000\n");
    // A 32-bit address column widens rather than drop digits.
    CHECK(format(Bytes(1), 0x100000000, 8) ==
          "100000000  00                                                |.|\n"
          "100000001\n");
}

TEST_CASE("SymbolCursor gives exactly nearest()'s answers at a fraction of the lookups") {
    // Nested, overlapping, unsized, equal-valued, absolute and local symbols.
    const SymbolTable t({symbol("outer", 0x1000, 0x1000), symbol("inner", 0x1100, 0x20, 't'),
                         symbol("label", 0x1180, 0, 't'), symbol("twin_a", 0x1400, 0x10),
                         symbol("twin_b", 0x1400, 0x40), symbol("tail", 0x2ff0, 0x100), symbol("after", 0x3200, 0),
                         symbol("abs", 0x1234, 0, 'A'), symbol("top", 0xffffffffffffff00, 0x100)});
    SymbolCursor cursor(t);
    for (std::uint64_t a = 0xf00; a < 0x3400; a += 4) {
        CAPTURE(a);
        const auto want = t.nearest(a);
        const auto got = cursor.at(a);
        REQUIRE(got.has_value() == want.has_value());
        if (want) {
            CHECK(got->symbol == want->symbol);
            CHECK(got->offset == want->offset);
        }
    }
    // Going backwards and to the top of the address space.
    for (const std::uint64_t a :
         {0x1104ull, 0x1000ull, 0x3300ull, 0xfffffffffffffff0ull, 0xffffffffffffffffull, 0ull}) {
        CAPTURE(a);
        const auto want = t.nearest(a);
        const auto got = cursor.at(a);
        REQUIRE(got.has_value() == want.has_value());
        if (want) CHECK(got->symbol == want->symbol);
    }
}

TEST_CASE("OutputBuffer writes everything to a descriptor, in order") {
    kvm::test::TempDir dir;
    const std::string path = dir / "out";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string want;
    {
        OutputBuffer out(fd, 100);
        for (int i = 0; i < 1000; ++i) {
            const std::string line = fmt::format("line {}\n", i);
            out.write(line);
            want += line;
        }
        out.write(ByteSpan(bytes_of("end")));
        want += "end";
        out.flush();
    }
    ::close(fd);
    CHECK(as_chars(read_whole_file(path, 1 << 20)) == want);

    std::string target;
    {
        OutputBuffer out(target);
        out.buffer() += "direct ";
        out.write("written");
    }
    CHECK(target == "direct written");

    OutputBuffer bad(-1);
    bad.write("x");
    CHECK(kvm::test::error_of([&] { bad.flush(); }) == "writing the output: Bad file descriptor");
}

// kvmdump -1 -2 -4 -8 read words in the dumped machine's byte order; no
// arch of the table is big-endian, so the formatter is given the order.
TEST_CASE("word views read words in the machine's byte order, big-endian too") {
    Bytes bytes;
    for (const unsigned b : {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                             0x18, 0xa1, 0xa2, 0xa3})
        bytes.push_back(static_cast<std::byte>(b));
    const auto words = [&](unsigned size, ByteOrder order) {
        return format_words(0x1000, bytes, 8, {.word_size = size}, order);
    };
    CHECK(words(8, ByteOrder::big) == "00001000:  0102030405060708 1112131415161718\n");
    CHECK(words(8, ByteOrder::little) == "00001000:  0807060504030201 1817161514131211\n");
    // The last three bytes make no 4-byte word.
    CHECK(words(4, ByteOrder::big) == "00001000:  01020304 05060708 11121314 15161718\n");
    CHECK(words(4, ByteOrder::little) == "00001000:  04030201 08070605 14131211 18171615\n");
    CHECK(words(2, ByteOrder::big) ==
          "00001000:  0102 0304 0506 0708 1112 1314 1516 1718\n"
          "00001010:  a1a2\n");
    CHECK(words(2, ByteOrder::little) ==
          "00001000:  0201 0403 0605 0807 1211 1413 1615 1817\n"
          "00001010:  a2a1\n");
    CHECK(words(1, ByteOrder::big) ==
          "00001000:  01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18\n"
          "00001010:  a1 a2 a3\n");
    CHECK(words(1, ByteOrder::little) == words(1, ByteOrder::big));
    CHECK(kvm::test::error_of([&] { (void)format_words(0, bytes, 8, {.word_size = 3}, ByteOrder::big); }) ==
          "a word is 1, 2, 4 or 8 bytes, not 3");
}
