// struct kerneldumpheader v1-v4, the key area, and FreeBSD/DragonFly dump
// devices read in place (the format row freebsd-dumpdev): offsets are
// computed here from the layout rules, never taken from the builder.
#include <kvm/elf.h>
#include <kvm/format.h>
#include <kvm/kerneldump.h>
#include <kvm/synth.h>
#include <kvm/synth_kerneldump.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

#include <algorithm>

using namespace kvm;
namespace kd = kvm::kerneldump;
using kvm::test::error_of;

namespace {

constexpr std::uint64_t body_pa = 0x100000;

// A small memory image with a known pattern.
Bytes pattern(std::size_t n, unsigned seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
    return b;
}

// A body the existing formats read: an ELF core with VMCOREINFO and one
// PT_LOAD of `memory` at body_pa.
Bytes elf_core(const Bytes& memory) {
    synth::ElfWriter w({.type = elf::et_core});
    w.add_note("VMCOREINFO", 0, to_bytes("OSRELEASE=6.1.0-body\nPAGESIZE=4096\n"));
    w.add_segment(elf::pt_load, 4, 0, body_pa, memory, memory.size(), 4096);
    return w.build();
}

std::shared_ptr<MemorySource> device(Bytes image) {
    return std::make_shared<MemorySource>(std::move(image), "dump.dev");
}

std::uint32_t be32(const Bytes& b, std::size_t at) {
    return load32(b.data() + at, ByteOrder::big);
}
std::uint64_t be64(const Bytes& b, std::size_t at) {
    return load64(b.data() + at, ByteOrder::big);
}
std::string text_at(const Bytes& b, std::size_t at) {
    return std::string(reinterpret_cast<const char*>(b.data() + at));
}

// Re-encodes the trailer (and leader) of an image with a changed header:
// its parity stays right.
Bytes with_header(Bytes image, std::uint64_t offset, const kd::Header& h) {
    const Bytes enc = kd::encode(h);
    std::copy(enc.begin(), enc.end(), image.begin() + static_cast<std::ptrdiff_t>(offset));
    return image;
}

// "tried ..." of a body no format reads: every row but the device ones.
std::string tried_on_a_body() {
    std::string tried;
    for (const FormatInfo& f : all_formats()) {
        if (f.whole_device) continue;
        tried += tried.empty() ? "" : ", ";
        tried += f.name;
    }
    return tried;
}

}  // namespace

TEST_CASE("kerneldumpheader: each version's fields at its offsets, big-endian, with parity") {
    kd::Header h = synth::freebsd_header(4);
    h.dumplength = 0x123456789a;
    h.dumpextent = 0x123456a000;
    h.dumpkeysize = 0x400;
    h.blocksize = 4096;
    h.compression = 2;
    h.dumptime = 0x11223344556677;

    const Bytes v4 = kd::encode(h);
    REQUIRE(v4.size() == 512);
    CHECK(kd::parity_xor(v4) == 0);
    CHECK(text_at(v4, 0) == "FreeBSD Kernel Dump");
    CHECK(text_at(v4, 20) == "amd64");
    CHECK(be32(v4, 32) == 4);
    CHECK(be32(v4, 36) == 2);
    CHECK(be64(v4, 40) == 0x123456789a);
    CHECK(be64(v4, 48) == 0x11223344556677);
    CHECK(be32(v4, 56) == 0x400);
    CHECK(be32(v4, 60) == 4096);
    CHECK(text_at(v4, 64) == "crashbox.example.org");
    CHECK(text_at(v4, 128) == h.versionstring);
    CHECK(text_at(v4, 320) == h.panicstring);
    CHECK(static_cast<unsigned>(v4[495]) == 2);
    CHECK(be64(v4, 496) == 0x123456a000);

    h.version = 3;
    const Bytes v3 = kd::encode(h);
    CHECK(kd::parity_xor(v3) == 0);
    CHECK(be64(v3, 40) == 0x123456789a);
    CHECK(be64(v3, 48) == 0x123456a000);
    CHECK(be64(v3, 56) == 0x11223344556677);
    CHECK(be32(v3, 64) == 0x400);
    CHECK(be32(v3, 68) == 4096);
    CHECK(static_cast<unsigned>(v3[72]) == 2);
    CHECK(text_at(v3, 73) == "crashbox.example.org");
    CHECK(text_at(v3, 137) == h.versionstring);
    CHECK(text_at(v3, 329) == h.panicstring);

    h.version = 2;
    h.compression = 0;
    h.dumpextent = 0;
    const Bytes v2 = kd::encode(h);
    CHECK(be64(v2, 48) == 0x11223344556677);
    CHECK(be32(v2, 56) == 0x400);
    CHECK(be32(v2, 60) == 4096);
    CHECK(text_at(v2, 64) == "crashbox.example.org");
    CHECK(text_at(v2, 320) == h.panicstring);

    h.version = 1;
    h.dumpkeysize = 0;
    const Bytes v1 = kd::encode(h);
    CHECK(be64(v1, 40) == 0x123456789a);
    CHECK(be64(v1, 48) == 0x11223344556677);
    CHECK(be32(v1, 56) == 4096);
    CHECK(text_at(v1, 60) == "crashbox.example.org");
    CHECK(text_at(v1, 124) == h.versionstring);
    CHECK(text_at(v1, 316) == h.panicstring);

    // Decoding gives back every field; versions without an extent report
    // dumplength as the extent.
    for (const Bytes* b : {&v1, &v2, &v3, &v4}) {
        const kd::Header d = kd::decode(*b);
        CAPTURE(d.version);
        CHECK(d.magic == "FreeBSD Kernel Dump");
        CHECK(d.architecture == "amd64");
        CHECK(d.architecture_version == 2);
        CHECK(d.dumplength == 0x123456789a);
        CHECK(d.dumpextent == (d.version >= 3 ? 0x123456a000u : 0x123456789au));
        CHECK(d.dumptime == 0x11223344556677);
        CHECK(d.dumpkeysize == (d.version >= 2 ? 0x400u : 0u));
        CHECK(d.blocksize == 4096);
        CHECK(d.compression == (d.version >= 3 ? 2 : 0));
        CHECK(d.hostname == "crashbox.example.org");
        CHECK(d.versionstring == h.versionstring);
        CHECK(d.panicstring == h.panicstring);
        CHECK(d.parity == load32(b->data() + 508, ByteOrder::little));
    }
}

TEST_CASE("kerneldumpheader: magics, unknown versions and fields a version lacks") {
    for (const auto& [text, magic] :
         std::vector<std::pair<std::string, kd::Magic>>{{"FreeBSD Kernel Dump", kd::Magic::freebsd_kernel},
                                                        {"FreeBSD Text Dump", kd::Magic::freebsd_text},
                                                        {"DragonFly Kern Dump", kd::Magic::dragonfly_kernel},
                                                        {"DragonFly Text Dump", kd::Magic::dragonfly_text},
                                                        {"Cleared Kernel Dump", kd::Magic::cleared}}) {
        Bytes b(512);
        std::copy(text.begin(), text.end(), reinterpret_cast<char*>(b.data()));
        CHECK(kd::identify_magic(b) == magic);
        b[text.size()] = std::byte{'x'};  // strncmp: the NUL counts
        CHECK_FALSE(kd::identify_magic(b).has_value());
    }
    Bytes b = kd::encode(synth::freebsd_header(4));
    store32(b.data() + 32, 9, ByteOrder::big);
    CHECK(error_of([&] { kd::decode(b); }) == "kerneldumpheader version 9 (kvmkit reads versions 1 to 4)");
    CHECK(error_of([&] { kd::decode(ByteSpan(b.data(), 100)); }) ==
          "truncated: a kerneldumpheader needs 512 bytes, got 100");

    kd::Header h = synth::freebsd_header(1);
    h.dumpkeysize = 512;
    CHECK(error_of([&] { kd::encode(h); }) == "kerneldumpheader version 1 has no dumpkeysize (set to 512)");
    h = synth::freebsd_header(2);
    h.compression = 1;
    CHECK(error_of([&] { kd::encode(h); }) == "kerneldumpheader version 2 has no compression (set to 1)");
    h = synth::freebsd_header(4);
    h.panicstring = std::string(175, 'p');
    CHECK(error_of([&] { kd::encode(h); }) ==
          "kerneldumpheader panicstring of 175 bytes does not fit in its 175-byte field");
}

TEST_CASE("kerneldumpkey: encoded BE and padded to the blocksize; sizes checked") {
    const Bytes area = synth::sample_key_area(512);
    CHECK(area.size() == 512);
    CHECK(static_cast<unsigned>(area[0]) == 1);
    CHECK(static_cast<unsigned>(area[1]) == 0xa0);
    CHECK(be32(area, 33) == 256);
    const kd::DumpKey key = kd::decode_key(area);
    CHECK(kd::encryption_name(key.encryption) == "AES-256-CBC");
    CHECK(key.iv.size() == 32);
    CHECK(key.encrypted_key.size() == 256);
    CHECK(static_cast<unsigned>(key.encrypted_key[1]) == 10);

    Bytes big = area;
    store32(big.data() + 33, 476, ByteOrder::big);
    CHECK(error_of([&] { kd::decode_key(big); }) ==
          "kerneldumpkey encryptedkeysize 476 does not fit in dumpkeysize 512 (37 + 476 > 512)");
    store32(big.data() + 33, 0xffffffff, ByteOrder::big);
    CHECK(error_of([&] { kd::decode_key(big); }) ==
          "kerneldumpkey encryptedkeysize 4294967295 is larger than the largest key (2048 bytes)");
    CHECK(error_of([&] { kd::decode_key(ByteSpan(area.data(), 20)); }) ==
          "dumpkeysize 20 is smaller than the 37-byte kerneldumpkey header");
}

TEST_CASE("freebsd-dumpdev: each version and OS, its leader by the version's rule, the body read in place") {
    const Bytes memory = pattern(std::size_t{3} * 4096, 7);
    const Bytes body = elf_core(memory);
    const std::uint64_t n = body.size();
    struct Case {
        kd::Header header;
        std::string os;
    };
    for (const Case& c : {Case{synth::freebsd_header(1), "freebsd"}, Case{synth::freebsd_header(2), "freebsd"},
                          Case{synth::freebsd_header(3), "freebsd"}, Case{synth::freebsd_header(4), "freebsd"},
                          Case{synth::dragonfly_header(), "dragonfly"}}) {
        CAPTURE(c.header.version);
        CAPTURE(c.os);
        const Bytes image = synth::dump_device({.header = c.header}, body);
        // The layout rules: v1 a 512-byte leader right before the body;
        // v2+ one block, the extent (the body rounded up to the block) and
        // the key before the trailer.
        const std::uint64_t extent = c.header.version >= 3 ? align_up(n, 512) : n;
        const std::uint64_t size = align_up((64u << 10) + (8u << 10) + 1024 + extent, 512);
        REQUIRE(image.size() == size);
        const std::uint64_t trailer = size - 512;
        const std::uint64_t leader = trailer - extent - 512;

        const auto format = open_format(device(image));
        CHECK(format->name() == "freebsd-dumpdev");
        CHECK(format->machine().os == c.os);
        CHECK(format->machine().info.at("kerneldump.magic") == c.header.magic);
        CHECK(format->machine().info.at("kerneldump.hostname") == c.header.hostname);
        const kd::DeviceDump* d = kd::device_of(*format);
        REQUIRE(d != nullptr);
        CHECK(d->trailer_offset == trailer);
        CHECK(d->leader_offset == leader);
        CHECK(d->body_offset == leader + 512);
        CHECK(d->body_length == n);
        CHECK(d->parity_ok());
        CHECK(d->leader_matches);
        CHECK(d->header.version == c.header.version);
        REQUIRE(kd::body_of(*format) != nullptr);
        CHECK(kd::body_of(*format)->name() == "elf-vmcore");
        CHECK(kd::body_of(*format)->source().name() ==
              fmt::format("dump.dev: the {} body at offset {:#x}", c.header.magic, leader + 512));

        Bytes got(memory.size());
        format->read_phys(body_pa, got);
        CHECK(got == memory);
        // Offsets are the device's: the byte is there on the device.
        const auto off = format->phys_to_offset(body_pa + 4096 + 5);
        REQUIRE(off.has_value());
        CHECK(image[*off] == memory[4096 + 5]);
        CHECK(format->phys_ranges().front().offset == *off - 4096 - 5);
    }
}

TEST_CASE("freebsd-dumpdev: an extent larger than the body, a key area, a cleared header") {
    const Bytes memory = pattern(4096, 3);
    const Bytes body = elf_core(memory);
    // A v4 dump with 64 KiB of room and junk after the body.
    const Bytes roomy = synth::dump_device({.header = synth::freebsd_header(4), .extent = 0x20000}, body);
    const auto format = open_format(device(roomy));
    const kd::DeviceDump* d = kd::device_of(*format);
    REQUIRE(d != nullptr);
    CHECK(d->header.dumpextent == 0x20000);
    CHECK(d->leader_offset == roomy.size() - 512 - 0x20000 - 512);
    Bytes got(4096);
    format->read_phys(body_pa, got);
    CHECK(got == memory);

    // Cleared: the parity tells which magic it had; the dump still reads.
    for (const kd::Header& h : {synth::freebsd_header(4), synth::dragonfly_header(), synth::freebsd_text_header(4)}) {
        CAPTURE(h.magic);
        const bool text = h.magic == kd::freebsd_text_magic;
        const Bytes archive = synth::ustar_archive(synth::textdump_files(h), 1732200000);
        Bytes image = synth::dump_device({.header = h}, text ? archive : body);
        const std::string cleared(kd::cleared_magic);
        std::copy(cleared.begin(), cleared.end(), reinterpret_cast<char*>(image.data() + image.size() - 512));
        const auto found = kd::find_device_dump(*device(image));
        REQUIRE(found.has_value());
        CHECK(found->cleared);
        CHECK(found->found == kd::Magic::cleared);
        CHECK(found->header.magic == h.magic);
        CHECK(found->parity_ok());
        CHECK(found->leader_matches);
        CHECK(found->text == text);
        if (!text)
            CHECK(open_format(device(image))->machine().os ==
                  (h.magic == kd::dragonfly_magic ? "dragonfly" : "freebsd"));
    }
}

TEST_CASE("freebsd-dumpdev: bodies that cannot be read in place are named, with the reason") {
    const Bytes body = elf_core(pattern(4096, 1));
    kd::Header gz = synth::freebsd_header(4);
    gz.compression = 1;
    const Bytes compressed = synth::dump_device({.header = gz}, synth::gzip_body(body));
    CHECK(error_of([&] { open_format(device(compressed)); }) ==
          "dump.dev: the dump body is compressed (gzip, kerneldumpheader compression 1) and cannot be read in place; "
          "save it with savecore -u, or uncompress the saved vmcore.N.gz");
    kd::Header zs = synth::freebsd_header(3);
    zs.compression = 2;
    CHECK(error_of([&] { open_format(device(synth::dump_device({.header = zs}, synth::zstd_body(body)))); }) ==
          "dump.dev: the dump body is compressed (zstd, kerneldumpheader compression 2) and cannot be read in place; "
          "save it with savecore -u, or uncompress the saved vmcore.N.zst");
    CHECK(error_of([&] {
              open_format(device(
                  synth::dump_device({.header = synth::freebsd_header(4), .key = synth::sample_key_area()}, body)));
          }) ==
          "dump.dev: the dump is encrypted (dumpkeysize 512) and kvmkit does not decrypt; savecore saves it as "
          "vmcore_encrypted.N and key.N for decryptcore(8)");
    const kd::Header text = synth::freebsd_text_header(4);
    CHECK(error_of([&] {
              open_format(
                  device(synth::dump_device({.header = text}, synth::ustar_archive(synth::textdump_files(text), 0))));
          }) ==
          "dump.dev: a FreeBSD textdump (a tar archive of ddb output, not memory); savecore saves it as "
          "textdump.tar.N");
    // Bytes no format reads.
    const Bytes raw = synth::dump_device({.header = synth::freebsd_header(4)}, pattern(10000, 9));
    const std::uint64_t at = raw.size() - 512 - align_up(10000, 512);
    CHECK(error_of([&] { open_format(device(raw)); }) ==
          fmt::format("dump.dev: the FreeBSD Kernel Dump body at offset {:#x}: not a recognised crash dump (tried {})",
                      at, tried_on_a_body()));
}

TEST_CASE("freebsd-dumpdev: damaged headers are refused naming the file, the offset and the field") {
    const Bytes body = elf_core(pattern(4096, 2));
    const kd::Header h4 = synth::freebsd_header(4);
    const Bytes good = synth::dump_device({.header = h4}, body);
    const std::uint64_t size = good.size();
    const std::uint64_t trailer = size - 512;
    const std::uint64_t extent = align_up(body.size(), 512);
    const std::uint64_t leader = trailer - extent - 512;
    const kd::Header stored = kd::decode(ByteSpan(good.data() + trailer, 512));

    // Parity: one bit of the hostname.
    Bytes bad = good;
    bad[trailer + 64] ^= std::byte{0x01};
    CHECK(error_of([&] { open_format(device(bad)); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): parity check failed: its 128 "
                      "words XOR to 0x00000001, not 0",
                      trailer));

    // Leader and trailer differ (each with good parity).
    kd::Header other = stored;
    other.dumptime += 60;
    CHECK(error_of([&] { open_format(device(with_header(good, leader, other))); }) ==
          fmt::format("dump.dev: the leading kerneldumpheader at offset {:#x} differs from the trailer at offset "
                      "{:#x}: dumptime 0x673f467c in the leader, 0x673f4640 in the trailer",
                      leader, trailer));
    other = stored;
    other.hostname = "elsewhere";
    CHECK(error_of([&] { open_format(device(with_header(good, leader, other))); }) ==
          fmt::format("dump.dev: the leading kerneldumpheader at offset {:#x} differs from the trailer at offset "
                      "{:#x}: hostname \"elsewhere\" in the leader, \"crashbox.example.org\" in the trailer",
                      leader, trailer));
    Bytes no_leader = good;
    std::fill_n(no_leader.begin() + static_cast<std::ptrdiff_t>(leader), 20, std::byte{'J'});
    // Junk that would break a log line is shown as '?': a newline, DEL, a byte past ASCII.
    no_leader[leader + 3] = std::byte{'\n'};
    no_leader[leader + 5] = std::byte{0x7f};
    no_leader[leader + 7] = std::byte{0xe9};
    CHECK(error_of([&] { open_format(device(no_leader)); }) ==
          fmt::format("dump.dev: the leading kerneldumpheader at offset {:#x} differs from the trailer at offset "
                      "{:#x}: no kerneldumpheader there (magic \"JJJ?J?J?JJJJJJJJJJJJ\")",
                      leader, trailer));

    // Sizes past the device, or that overflow.
    kd::Header past = stored;
    past.dumplength = size;
    past.dumpextent = size;
    CHECK(error_of([&] { open_format(device(with_header(good, trailer, past))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): dumpextent {:#x} is past the "
                      "device: with dumpkeysize 0x0 and the 512-byte leading header it needs more than the {:#x} "
                      "bytes before the trailer",
                      trailer, size, trailer));
    past.dumplength = past.dumpextent = ~std::uint64_t{0};
    CHECK(error_of([&] { open_format(device(with_header(good, trailer, past))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): dumpextent 0xffffffffffffffff "
                      "is past the device: with dumpkeysize 0x0 and the 512-byte leading header it needs more than "
                      "the {:#x} bytes before the trailer",
                      trailer, trailer));
    past = stored;
    past.dumpkeysize = 0xfffffe00;
    CHECK(error_of([&] { open_format(device(with_header(good, trailer, past))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): dumpkeysize 0xfffffe00 is "
                      "larger than any key area (at most 0x10000 bytes)",
                      trailer));
    past = stored;
    past.dumpextent = trailer - 0x400;
    past.dumpkeysize = 0x400;
    CHECK(error_of([&] { open_format(device(with_header(good, trailer, past))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): dumpextent {:#x} is past the "
                      "device: with dumpkeysize 0x400 and the 512-byte leading header it needs more than the {:#x} "
                      "bytes before the trailer",
                      trailer, trailer - 0x400, trailer));
    past = stored;
    past.dumplength = extent + 1;
    CHECK(error_of([&] { open_format(device(with_header(good, trailer, past))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): dumplength {:#x} is larger than "
                      "dumpextent {:#x}",
                      trailer, extent + 1, extent));
    // v1: no extent, so dumplength is the size named.
    const Bytes v1 = synth::dump_device({.header = synth::dragonfly_header()}, body);
    kd::Header long_v1 = kd::decode(ByteSpan(v1.data() + v1.size() - 512, 512));
    long_v1.dumplength = long_v1.dumpextent = v1.size();
    CHECK(error_of([&] { open_format(device(with_header(v1, v1.size() - 512, long_v1))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): dumplength {:#x} is past the "
                      "device: with dumpkeysize 0x0 and the 512-byte leading header it needs more than the {:#x} "
                      "bytes before the trailer",
                      v1.size() - 512, v1.size(), v1.size() - 512));
    // A textdump whose length is not whole records.
    kd::Header text = synth::freebsd_text_header(4);
    const Bytes tar = synth::dump_device({.header = text}, synth::ustar_archive(synth::textdump_files(text), 0));
    text = kd::decode(ByteSpan(tar.data() + tar.size() - 512, 512));
    text.dumplength -= 100;
    CHECK(error_of([&] { open_format(device(with_header(tar, tar.size() - 512, text))); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): textdump dumplength {:#x} is not "
                      "a multiple of 512",
                      tar.size() - 512, text.dumplength));
    // A version kvmkit does not know.
    Bytes v9 = good;
    store32(v9.data() + trailer + 32, 9, ByteOrder::big);
    CHECK(error_of([&] { open_format(device(v9)); }) ==
          fmt::format("dump.dev: kerneldumpheader at offset {:#x} (the last sector): kerneldumpheader version 9 "
                      "(kvmkit reads versions 1 to 4)",
                      trailer));
    // No magic in the last sector: not this format (and nothing else either).
    Bytes none = good;
    none[trailer] = std::byte{'f'};
    CHECK_FALSE(kd::find_device_dump(*device(none)).has_value());
    CHECK(kd::probe_device(device(none), {}) == nullptr);
    CHECK_FALSE(kd::find_device_dump(*device(Bytes(100))).has_value());
}
