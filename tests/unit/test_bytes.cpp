#include <kvm/bytes.h>
#include <kvm/error.h>

#include <doctest/doctest.h>

using namespace kvm;

TEST_CASE("Decoder reads each width in both byte orders") {
    const Bytes b = {std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04},
                     std::byte{0x05}, std::byte{0x06}, std::byte{0x07}, std::byte{0x08}};
    Decoder le(b, ByteOrder::little);
    CHECK(le.u16() == 0x0201);
    CHECK(le.u16() == 0x0403);
    CHECK(le.u32() == 0x08070605u);
    Decoder be(b, ByteOrder::big);
    CHECK(be.u64() == 0x0102030405060708ull);
    Decoder mixed(b, ByteOrder::little);
    CHECK(mixed.u32be() == 0x01020304u);
    CHECK(mixed.uint(4) == 0x08070605u);
}

TEST_CASE("Decoder refuses to read past its span and says where") {
    const Bytes b(6);
    Decoder d(b, ByteOrder::little, "cpu header");
    d.u32();
    try {
        d.u32();
        FAIL("no exception");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::corrupt);
        CHECK(std::string(e.what()) == "cpu header is truncated: needs 4 bytes at offset 0x4, has 0x6 in all");
    }
}

TEST_CASE("Encoder writes fields and pads") {
    Encoder e(ByteOrder::little);
    e.u32be(0x009d8fca).u16(0x10).pad_to(8).u8(0xff);
    const Bytes expect = {std::byte{0x00}, std::byte{0x9d}, std::byte{0x8f}, std::byte{0xca}, std::byte{0x10},
                          std::byte{0x00}, std::byte{0x00}, std::byte{0x00}, std::byte{0xff}};
    CHECK(e.data() == expect);
}

TEST_CASE("checked arithmetic reports overflow with the quantity") {
    CHECK(checked_add(1, 2, "x") == 3);
    CHECK_THROWS_WITH_AS(checked_add(~0ull, 1, "segment end"), "segment end overflows: 0xffffffffffffffff + 0x1",
                         Error);
    CHECK_THROWS_AS(checked_mul(1ull << 40, 1ull << 40, "size"), Error);
    CHECK_THROWS_WITH_AS(strict_subspan(Bytes(4), 2, 4, "symbol table"),
                         "symbol table at offset 0x2, length 0x4 is outside the 0x4 bytes available", Error);
}
