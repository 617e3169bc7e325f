// kdump-compressed and flattened files: the header bytes where the format
// puts them, pages of every kind, damaged and truncated files, and the same
// answers as the ELF core of the same memory.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"
#include "format/kdump.h"
#include "format/kdump_bitmap.h"
#include "format/linux_formats.h"
#include "linux_fixture.h"
#include "test_util.h"

#include <algorithm>
#include <random>

using namespace kvm;
using kvmtest::check_error;
using kvmtest::LinuxMachine;
using test::kind_of;

namespace {

constexpr std::uint64_t page_size = 4096;

std::unique_ptr<Format> open_bytes(Bytes b, std::string name = "vmcore.kdump") {
    return open_format(std::make_shared<MemorySource>(std::move(b), std::move(name)));
}

Bytes page_of(std::uint8_t fill) {
    return Bytes(4096, std::byte{fill});
}

// A page that zlib shrinks: a repeated short text.
Bytes text_page(std::uint64_t pfn) {
    std::string s;
    while (s.size() < 4096)
        s += fmt::format("page {:#x} of a synthetic kdump file. ", pfn);
    s.resize(4096);
    return to_bytes(s);
}

// A page zlib cannot shrink.
Bytes random_page(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes b(4096);
    for (std::size_t i = 0; i < b.size(); i += 8)
        store64(b.data() + i, rng(), ByteOrder::little);
    return b;
}

// Pfns 0..9: 2, 3 text (zlib), 4 random (raw), 5, 6 zero (shared raw page),
// 7 excluded (RAM, not dumped), 8 absent, 9 text.
synth::KdumpWriter small_writer(synth::KdumpOptions options = {}) {
    options.vmcoreinfo = "OSRELEASE=6.1.0\nPAGESIZE=4096\nKERNELOFFSET=0\n";
    synth::KdumpWriter w(options);
    w.add_page(2, text_page(2));
    w.add_page(3, text_page(3));
    w.add_page(4, random_page(4));
    w.add_page(5, page_of(0));
    w.add_page(6, page_of(0));
    w.exclude_page(7);
    w.add_page(9, text_page(9));
    return w;
}

Bytes phys(const Format& f, std::uint64_t pa, std::size_t n) {
    Bytes b(n);
    f.read_phys(pa, b);
    return b;
}

}  // namespace

TEST_CASE("kdump header: every field at its offset, decoded back") {
    synth::KdumpWriter w = small_writer({.release = "6.1.0-test", .dump_level = 31, .sub_phys_base = 0x4194304});
    const Bytes file = w.build();
    const auto l = w.layout();
    // disk_dump_header, 64-bit layout
    CHECK(as_chars(ByteSpan(file).subspan(0, 8)) == "KDUMP   ");
    CHECK(load32(file.data() + 8, ByteOrder::little) == 6u);                             // header_version
    CHECK(as_chars(ByteSpan(file).subspan(12, 5)) == "Linux");                           // utsname.sysname
    CHECK(as_chars(ByteSpan(file).subspan(12 + 2 * 65, 10)) == "6.1.0-test");            // utsname.release
    CHECK(as_chars(ByteSpan(file).subspan(272, 7)) == std::string_view("x86_64\0", 7));  // utsname.machine
    CHECK(load64(file.data() + 408, ByteOrder::little) == 1732200000u);                  // timestamp.tv_sec
    CHECK(load32(file.data() + 424, ByteOrder::little) == 1u);                           // status: zlib
    CHECK(load32(file.data() + 428, ByteOrder::little) == 4096u);                        // block_size
    CHECK(load32(file.data() + 432, ByteOrder::little) == 1u);                           // sub_hdr_size (blocks)
    CHECK(load32(file.data() + 436, ByteOrder::little) == 2u);                           // bitmap_blocks
    CHECK(load32(file.data() + 440, ByteOrder::little) == 10u);                          // max_mapnr
    CHECK(load32(file.data() + 460, ByteOrder::little) == 2u);                           // nr_cpus
    // kdump_sub_header at block 1
    CHECK(l.sub_header == 4096u);
    CHECK(load64(file.data() + 4096, ByteOrder::little) == 0x4194304u);        // phys_base
    CHECK(load32(file.data() + 4096 + 8, ByteOrder::little) == 31u);           // dump_level
    CHECK(load64(file.data() + 4096 + 32, ByteOrder::little) == 4096u + 104);  // offset_vmcoreinfo
    CHECK(load64(file.data() + 4096 + 40, ByteOrder::little) == 45u);          // size_vmcoreinfo
    CHECK(load64(file.data() + 4096 + 96, ByteOrder::little) == 10u);          // max_mapnr_64
    // Bitmaps at block 2: RAM has pfns 2-7 and 9, the dump 2-6 and 9.
    CHECK(l.bitmaps == 8192u);
    CHECK(file[8192] == std::byte{0xfc});
    CHECK(file[8193] == std::byte{0x02});
    CHECK(file[8192 + 4096] == std::byte{0x7c});
    CHECK(file[8192 + 4097] == std::byte{0x02});
    // Descriptors: pfn 4 (the third) is raw, 5 and 6 share the zero page.
    CHECK(l.descriptors == 16384u);
    const auto d4 = kdump::decode_page_desc(ByteSpan(file).subspan(16384 + 2 * 24, 24), ByteOrder::little);
    CHECK(d4.size == 4096u);
    CHECK(d4.flags == 0u);
    const auto d5 = kdump::decode_page_desc(ByteSpan(file).subspan(16384 + 3 * 24, 24), ByteOrder::little);
    const auto d6 = kdump::decode_page_desc(ByteSpan(file).subspan(16384 + 4 * 24, 24), ByteOrder::little);
    CHECK(d5.offset == d6.offset);
    CHECK(load32(file.data() + 16384 + 12, ByteOrder::little) == 1u);  // pfn 2: zlib
    CHECK(load64(file.data() + 16384, ByteOrder::little) == l.data);   // pfn 2's data comes first

    const kdump::Header h = kdump::decode_header(file, ByteOrder::little);
    CHECK(h.signature == "KDUMP   ");
    CHECK(h.header_version == 6);
    CHECK(h.machine == "x86_64");
    CHECK(h.release == "6.1.0-test");
    CHECK(h.block_size == 4096);
    CHECK(h.bitmap_blocks == 2u);
    const kdump::SubHeader s = kdump::decode_sub_header(ByteSpan(file).subspan(4096), ByteOrder::little, 6);
    CHECK(s.dump_level == 31);
    CHECK(s.max_mapnr_64 == 10u);
    CHECK(kdump::sub_header_bytes(3) == 48u);
    CHECK(kdump::compression_name(kdump::compressed_zstd) == "zstd");
}

TEST_CASE("kdump pages: zlib, raw and shared zero pages; excluded and absent pages fault") {
    const Bytes file = small_writer().build();
    auto f = open_bytes(file);
    CHECK(f->name() == "kdump");
    CHECK(phys(*f, 2 * page_size, 8192) == [] {
        Bytes b = text_page(2);
        const Bytes c = text_page(3);
        b.insert(b.end(), c.begin(), c.end());
        return b;
    }());
    const Bytes random4 = random_page(4);
    const Bytes text9 = text_page(9);
    CHECK(phys(*f, 4 * page_size + 100, 50) == Bytes(random4.begin() + 100, random4.begin() + 150));
    CHECK(phys(*f, 6 * page_size, 4096) == page_of(0));
    CHECK(phys(*f, 9 * page_size + 4000, 96) == Bytes(text9.begin() + 4000, text9.end()));
    check_error([&] { phys(*f, 7 * page_size + 8, 8); }, ErrorKind::fault,
                "physical address 0x7008 (pfn 0x7) was excluded from the dump (dump level 1: zero pages)");
    check_error([&] { phys(*f, 6 * page_size + 4090, 16); }, ErrorKind::fault,
                "physical address 0x7000 (pfn 0x7) was excluded from the dump (dump level 1: zero pages)");
    check_error([&] { phys(*f, 8 * page_size, 1); }, ErrorKind::fault, "physical address 0x8000 is not in the dump");
    check_error([&] { phys(*f, 10 * page_size, 1); }, ErrorKind::fault, "physical address 0xa000 is not in the dump");

    const auto runs = f->phys_ranges();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].pa == 0x2000u);
    CHECK(runs[0].size == 0x5000u);
    CHECK(runs[1].pa == 0x9000u);
    // Only raw pages have a file offset.
    const auto raw = f->phys_to_offset(4 * page_size + 5);
    REQUIRE(raw);
    CHECK(file[*raw] == random_page(4)[5]);
    CHECK(!f->phys_to_offset(2 * page_size));
    CHECK(!f->phys_to_offset(7 * page_size));
    CHECK(f->machine().info.at("kdump.compression") == "zlib");
    CHECK(f->machine().info.at("kdump.dump_level") == "1");
}

TEST_CASE("kdump: the older DISKDUMP signature, early header versions and a single bitmap") {
    for (const std::int32_t version : {1, 2, 3, 5}) {
        CAPTURE(version);
        synth::KdumpWriter w({.signature = "DISKDUMP", .header_version = version, .single_bitmap = true});
        w.add_page(3, text_page(3));
        w.add_page(4, random_page(4));
        const Bytes file = w.build();
        CHECK(load32(file.data() + 436, ByteOrder::little) == 1u);  // bitmap_blocks: one bitmap
        auto f = open_bytes(file);
        CHECK(phys(*f, 3 * page_size, 8192) == [] {
            Bytes b = text_page(3);
            const Bytes c = random_page(4);
            b.insert(b.end(), c.begin(), c.end());
            return b;
        }());
        check_error([&] { phys(*f, 2 * page_size, 1); }, ErrorKind::fault,
                    "physical address 0x2000 is not in the dump");
        CHECK(f->machine().info.at("kdump.header_version") == std::to_string(version));
        // Without VMCOREINFO or CPU notes: no root, no linear range.
        CHECK(f->machine().translator.empty());
        CHECK(f->machine().linear.empty());
    }
}

TEST_CASE("kdump: a page whose flags name two compressions is refused") {
    synth::KdumpWriter w = small_writer();
    w.add_stored_page(12, Bytes(100), kdump::compressed_lzo | kdump::compressed_zlib);
    auto f = open_bytes(w.build());
    check_error([&] { phys(*f, 12 * page_size, 1); }, ErrorKind::corrupt,
                "vmcore.kdump: pfn 0xc (page descriptor 6): flags 0x3 name more than one compression");
}

TEST_CASE("kdump: incomplete dumps") {
    synth::KdumpWriter w = small_writer({.extra_status = kdump::status_incomplete});
    w.add_stored_page(12, {}, 0);  // never written: size 0
    auto f = open_bytes(w.build());
    CHECK(f->machine().info.at("kdump.incomplete") == "yes");
    check_error([&] { phys(*f, 12 * page_size, 1); }, ErrorKind::fault,
                "physical address 0xc000 was not written: the dump is incomplete");
    synth::KdumpWriter complete = small_writer();
    complete.add_stored_page(12, {}, 0);
    auto g = open_bytes(complete.build());
    check_error([&] { phys(*g, 12 * page_size, 1); }, ErrorKind::corrupt,
                "vmcore.kdump: pfn 0xc (page descriptor 6): size 0");
}

TEST_CASE("kdump: damaged header fields are refused naming the field") {
    const Bytes good = small_writer().build();
    const auto damaged = [&](std::size_t offset, std::uint64_t value, unsigned width) {
        Bytes b = good;
        store_uint(b.data() + offset, value, width, ByteOrder::little);
        return b;
    };
    const std::string p = "vmcore.kdump: ";
    check_error([&] { open_bytes(damaged(428, 1000, 4)); }, ErrorKind::corrupt,
                p + "kdump header: block size 1000 is not a power of two from 1 KiB to 1 MiB");
    check_error([&] { open_bytes(damaged(8, 0, 4)); }, ErrorKind::corrupt, p + "kdump header version 0 is impossible");
    check_error([&] { open_bytes(damaged(432, 0xffffffff, 4)); }, ErrorKind::corrupt,
                p + "kdump header: sub-header size -1 blocks is negative");
    check_error([&] { open_bytes(damaged(432, 0, 4)); }, ErrorKind::corrupt,
                p + "kdump header: the sub-header is 0 bytes, version 6 needs 104");
    check_error([&] { open_bytes(damaged(436, 0xffffffff, 4)); }, ErrorKind::corrupt,
                p + "kdump bitmaps of 0xffffffff000 bytes, more than the 0x40000000 accepted");
    check_error([&] { open_bytes(damaged(4096 + 96, 1u << 20, 8)); }, ErrorKind::corrupt,
                p + "kdump bitmaps of 2 blocks cannot hold the 0x100000 pfns of max_mapnr");
    check_error([&] { open_bytes(damaged(4096 + 40, 1u << 30, 8)); }, ErrorKind::corrupt,
                p + "kdump sub-header: the VMCOREINFO is 0x40000000 bytes, more than the 0x100000 accepted");
    check_error([&] { open_bytes(damaged(4096 + 32, 1u << 30, 8)); }, ErrorKind::corrupt,
                p + "truncated: VMCOREINFO needs 45 bytes at offset 0x40000000, but the file has " +
                    fmt::format("{:#x}", good.size()));
    Bytes s390 = good;
    std::copy_n(reinterpret_cast<const std::byte*>("s390x\0"), 7, s390.begin() + 272);
    check_error([&] { open_bytes(s390); }, ErrorKind::unsupported,
                p + "a kdump-compressed dump of a s390x machine: kvmkit reads x86_64, aarch64 and i686 ones only");
    check_error([&] { open_bytes(damaged(272, 0, 8)); }, ErrorKind::unsupported,
                p + "the kdump header names no machine (utsname.machine is empty)");
}

TEST_CASE("kdump: bitmaps are checked against max_mapnr and the file size before a byte of them is read") {
    const synth::KdumpWriter w = small_writer();
    const Bytes good = w.build();
    const std::uint64_t bitmaps = w.layout().bitmaps;
    const auto damaged = [&](std::uint32_t bitmap_blocks, std::uint64_t max_mapnr_64) {
        Bytes b = good;
        store32(b.data() + 436, bitmap_blocks, ByteOrder::little);
        store64(b.data() + 4096 + 96, max_mapnr_64, ByteOrder::little);
        return b;
    };
    // The header's own bytes and nothing more: the signature, the header
    // and the sub-header.
    const auto bytes_read_opening = [](Bytes b) {
        const auto counting =
            std::make_shared<test::CountingSource>(std::make_shared<MemorySource>(std::move(b), "vmcore.kdump"));
        CHECK(kind_of([&] { detail::probe_kdump(counting, {}); }) == ErrorKind::corrupt);
        return counting->bytes_read();
    };
    // 1 GiB of bitmaps (the most accepted) for a dump of 10 pfns.
    const Bytes too_many = damaged(1u << 18, 10);
    check_error([&] { open_bytes(too_many); }, ErrorKind::corrupt,
                "vmcore.kdump: kdump bitmaps of 262144 blocks, more than the 2 that two bitmaps of max_mapnr 0xa take");
    CHECK(bytes_read_opening(too_many) == 8 + kdump::header_size + kdump::sub_header_size);
    // One bitmap of 1 GiB, as max_mapnr 2^33 takes, in a file of a few KiB.
    const Bytes past_end = damaged(1u << 18, std::uint64_t{1} << 33);
    check_error([&] { open_bytes(past_end); }, ErrorKind::corrupt,
                fmt::format("vmcore.kdump: truncated: the kdump bitmaps (262144 blocks at offset {:#x}) need bytes up "
                            "to {:#x}, but the file has {:#x}",
                            bitmaps, bitmaps + (1u << 30), good.size()));
    CHECK(bytes_read_opening(past_end) == 8 + kdump::header_size + kdump::sub_header_size);
}

TEST_CASE("kdump: a dump bitmap of 64 MiB in a sparse file is read a piece at a time, never copied whole") {
    const synth::KdumpWriter w = small_writer();
    const auto l = w.layout();
    // The header and sub-header of a dump of 2^29 pfns (2 TiB) with one
    // bitmap of 64 MiB, all zeros: a file whose apparent size holds it.
    Bytes head = w.build();
    head.resize(l.bitmaps);
    store32(head.data() + 436, 1u << 14, ByteOrder::little);
    store64(head.data() + 4096 + 96, std::uint64_t{1} << 29, ByteOrder::little);
    const std::uint64_t map_bytes = std::uint64_t{1} << 26;
    const auto counting = std::make_shared<test::CountingSource>(
        std::make_shared<test::ZeroTailSource>(std::move(head), l.bitmaps + map_bytes, "vmcore.kdump"));
    const auto f = detail::probe_kdump(counting, {});
    REQUIRE(f);
    // The signature, header, sub-header, VMCOREINFO and the bitmap once, in
    // pieces of 1 MiB.
    CHECK(counting->bytes_read() ==
          8 + kdump::header_size + kdump::sub_header_size + (l.notes - l.vmcoreinfo) + map_bytes);
    CHECK(counting->largest_read() == 1u << 20);
    // No page is in it, and knowing that reads nothing more.
    counting->reset();
    CHECK(f->phys_ranges().empty());
    CHECK(f->phys_bytes() == 0u);
    check_error([&] { phys(*f, 0x12345000, 1); }, ErrorKind::fault, "physical address 0x12345000 is not in the dump");
    CHECK(counting->bytes_read() == 0u);
}

TEST_CASE("kdump dump bitmap: mixed, full and empty chunks and a last partial byte, read only where mixed") {
    // Chunks of 4096 bytes: random bits, all set, none set, then 100 bytes
    // of random bits whose last byte has 5 pfns and 3 set bits past them.
    constexpr std::size_t chunk = 4096;
    Bytes map(3 * chunk + 100);
    std::mt19937_64 rng(11);
    for (std::size_t i = 0; i < chunk; ++i)
        map[i] = static_cast<std::byte>(rng());
    std::fill_n(map.begin() + chunk, chunk, std::byte{0xff});
    for (std::size_t i = 3 * chunk; i < map.size(); ++i)
        map[i] = static_cast<std::byte>(rng());
    map.back() = std::byte{0xff};
    const std::uint64_t pfns = (map.size() - 1) * 8 + 5;
    const auto bit = [&](std::uint64_t pfn) {
        return (std::to_integer<unsigned>(map[pfn / 8]) >> (pfn % 8) & 1u) != 0;
    };

    Bytes file(1000 + map.size(), std::byte{0xee});  // the bitmap at offset 1000
    std::copy(map.begin(), map.end(), file.begin() + 1000);
    const auto counting = std::make_shared<test::CountingSource>(std::make_shared<MemorySource>(file));
    const kdump::DumpBitmap bitmap(counting, 1000, pfns);
    CHECK(counting->bytes_read() == map.size());

    std::uint64_t set = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
    for (std::uint64_t pfn = 0; pfn < pfns; ++pfn) {
        if (bitmap.test(pfn) != bit(pfn) || (pfn % 7 == 0 && bitmap.rank(pfn) != set)) {
            FAIL_CHECK("pfn " << pfn << ": test " << bitmap.test(pfn) << ", rank " << bitmap.rank(pfn) << ", not "
                              << bit(pfn) << ", " << set);
            break;
        }
        if (!bit(pfn)) continue;
        if (!runs.empty() && runs.back().first + runs.back().second == pfn)
            ++runs.back().second;
        else
            runs.emplace_back(pfn, 1);
        ++set;
    }
    CHECK(bitmap.set_bits() == set);
    CHECK(bitmap.rank(pfns) == set);
    CHECK(bitmap.rank(pfns + 1000) == set);
    CHECK(!bitmap.test(pfns));  // a set bit past the last pfn
    std::vector<std::pair<std::uint64_t, std::uint64_t>> got;
    bitmap.for_each_run([&](std::uint64_t first, std::uint64_t count) { got.emplace_back(first, count); });
    CHECK(got == runs);

    // Full and empty chunks answer from their counts; a mixed one is read
    // once and then kept.
    const kdump::DumpBitmap fresh(counting, 1000, pfns);
    counting->reset();
    CHECK(fresh.test(chunk * 8 + 5));
    CHECK(fresh.rank(2 * chunk * 8 + 77) == fresh.rank(2 * chunk * 8));
    CHECK(counting->bytes_read() == 0u);
    CHECK(fresh.test(3) == bit(3));
    std::uint64_t below_4001 = 0;
    for (std::uint64_t pfn = 0; pfn < 4001; ++pfn)
        below_4001 += bit(pfn) ? 1 : 0;
    CHECK(fresh.rank(4001) == below_4001);
    CHECK(counting->bytes_read() == chunk);
}

TEST_CASE("kdump: page descriptors pointing outside the page data, and bad zlib data") {
    const synth::KdumpWriter w = small_writer();
    const Bytes good = w.build();
    const auto l = w.layout();
    const auto with_desc = [&](std::size_t index, std::int64_t offset, std::uint32_t size) {
        Bytes b = good;
        store64(b.data() + l.descriptors + index * 24, static_cast<std::uint64_t>(offset), ByteOrder::little);
        store32(b.data() + l.descriptors + index * 24 + 8, size, ByteOrder::little);
        return b;
    };
    auto before = open_bytes(with_desc(0, 100, 200));
    check_error(
        [&] { phys(*before, 0x2000, 1); }, ErrorKind::corrupt,
        fmt::format(
            "vmcore.kdump: pfn 0x2 (page descriptor 0): data offset 0x64 is before the page data, which starts at "
            "{:#x}",
            l.data));
    auto negative = open_bytes(with_desc(0, -4096, 200));
    check_error(
        [&] { phys(*negative, 0x2000, 1); }, ErrorKind::corrupt,
        fmt::format("vmcore.kdump: pfn 0x2 (page descriptor 0): data offset -0x1000 is before the page data, which "
                    "starts at {:#x}",
                    l.data));
    auto past = open_bytes(with_desc(1, static_cast<std::int64_t>(good.size()) - 10, 200));
    check_error(
        [&] { phys(*past, 0x3000, 1); }, ErrorKind::corrupt,
        fmt::format(
            "vmcore.kdump: truncated: pfn 0x3 (page descriptor 1) needs 200 bytes at offset {:#x}, but the file "
            "has {:#x}",
            good.size() - 10, good.size()));
    auto big = open_bytes(with_desc(1, static_cast<std::int64_t>(l.data), 5000));
    check_error([&] { phys(*big, 0x3000, 1); }, ErrorKind::corrupt,
                fmt::format("vmcore.kdump: pfn 0x3 (page descriptor 1): 5000 bytes of zlib data at offset {:#x} for "
                            "a 4096-byte page",
                            l.data));
    auto short_raw = open_bytes(with_desc(2, static_cast<std::int64_t>(l.data), 4000));
    check_error([&] { phys(*short_raw, 0x4000, 1); }, ErrorKind::corrupt,
                fmt::format("vmcore.kdump: pfn 0x4 (page descriptor 2): an uncompressed page of 4000 bytes at offset "
                            "{:#x}, not 4096",
                            l.data));
    // pfn 2's zlib stream with its first bytes damaged.
    Bytes garbled = good;
    garbled[l.data] = std::byte{0xff};
    garbled[l.data + 1] = std::byte{0xff};
    auto z = open_bytes(garbled);
    const std::string err = kvm::test::error_of([&] { phys(*z, 0x2000, 1); });
    CHECK(err == fmt::format("vmcore.kdump: pfn 0x2 (page descriptor 0): the zlib data ({} bytes at offset {:#x}) does "
                             "not decompress to a page: the stream is damaged or cut short (Z_DATA_ERROR)",
                             kdump::decode_page_desc(ByteSpan(good).subspan(l.descriptors, 24), ByteOrder::little).size,
                             l.data));
    CHECK(phys(*z, 0x3000, 4096) == text_page(3));  // its neighbour is fine
}

TEST_CASE("kdump: truncated copies fail at open or at the first missing page, naming the file") {
    const LinuxMachine m;
    const Bytes file = m.kdump();
    // Where the parts are, from the header's own fields.
    const std::uint64_t sub_blocks = load32(file.data() + 432, ByteOrder::little);
    const std::uint64_t bitmap_blocks = load32(file.data() + 436, ByteOrder::little);
    const std::uint64_t bitmaps = (1 + sub_blocks) * 4096;
    const std::uint64_t descriptors = bitmaps + bitmap_blocks * 4096;
    std::uint64_t pages = 0;
    for (const auto& seg : m.memory().ram())
        pages += seg.size / 4096;
    CHECK(bitmap_blocks == 2u);
    const struct {
        std::size_t cut;
        std::string message;
    } cuts[] = {
        {4,
         "vmcore.kdump: not a recognised crash dump (tried netbsd-kcore, elf-core, kdump, kdump-flattened, "
         "minidump, freebsd-dumpdev, netbsd-dumpdev)"},
        {300, "vmcore.kdump: truncated: kdump header needs 464 bytes at offset 0x0, but the file has 0x12c"},
        {4150, "vmcore.kdump: truncated: kdump sub-header needs 104 bytes at offset 0x1000, but the file has 0x1036"},
        {bitmaps + 100,
         fmt::format("vmcore.kdump: truncated: the kdump bitmaps (2 blocks at offset {:#x}) need bytes up to {:#x}, "
                     "but the file has {:#x}",
                     bitmaps, bitmaps + 8192, bitmaps + 100)},
        {descriptors + 240,
         fmt::format("vmcore.kdump: truncated: the {} page descriptors need bytes up to {:#x}, but the file has {:#x}",
                     pages, descriptors + pages * 24, descriptors + 240)},
    };
    for (const auto& c : cuts) {
        CAPTURE(c.cut);
        check_error([&] { open_bytes(Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(c.cut))); },
                    c.cut == 4 ? ErrorKind::format : ErrorKind::corrupt, c.message);
    }
    // In the page data: the file opens; the kernel image reads, and the
    // pages whose data was cut say so.
    const Bytes cut(file.begin(), file.end() - 100);
    Kernel k(open_bytes(cut), nullptr);
    CHECK(k.read_string(m.symbol("linux_banner"), 200) == m.banner());
    Bytes page(4096);
    std::string page_err = "no error";
    for (std::uint64_t pa = LinuxMachine::ram_top - 4096; pa >= LinuxMachine::high_ram_start && page_err == "no error";
         pa -= 4096)
        page_err = kvm::test::error_of([&] { k.read_phys(pa, page); });
    CHECK(page_err.rfind("vmcore.kdump: truncated: pfn ", 0) == 0);
    CHECK(page_err.find(fmt::format("but the file has {:#x}", cut.size())) != std::string::npos);
}

TEST_CASE("kdump and ELF cores of the same memory give the same bytes for every page") {
    const LinuxMachine m;
    auto elf = open_bytes(m.elf_qemu(), "vmcore.elf");
    auto kd = open_bytes(m.kdump({}, {0x500, 0x501}), "vmcore.kdump");
    auto raw = open_bytes(m.kdump({.codecs = {}, .share_zero_page = false}), "vmcore.raw");
    Bytes a(4096);
    Bytes b(4096);
    std::size_t pages = 0;
    for (const PhysRun& r : elf->phys_ranges())
        for (std::uint64_t pa = r.pa; pa < r.pa + r.size; pa += 4096) {
            elf->read_phys(pa, a);
            raw->read_phys(pa, b);
            CHECK(a == b);
            if (pa / 4096 == 0x500 || pa / 4096 == 0x501) continue;
            kd->read_phys(pa, b);
            CHECK(a == b);
            ++pages;
        }
    std::uint64_t ram_pages = 0;
    for (const auto& seg : m.memory().ram())
        ram_pages += seg.size / 4096;
    CHECK(pages == ram_pages - 2);
    // kdump machine state: the same as the ELF's, the sub-header's wrong
    // phys_base noted and not used.
    CHECK(kd->machine().pt_root == elf->machine().pt_root);
    CHECK(kd->machine().linear.empty());  // the page tables decide
    CHECK(elf->machine().linear.empty());
    CHECK(kd->machine().info.at("kdump.phys_base") ==
          fmt::format("{:#x} (sub-header; not used, VMCOREINFO's counts)", m.misread_phys_base()));
}

// ---------------------------------------------------------------- flattened

TEST_CASE("flattened kdump files are read in place") {
    const LinuxMachine m;
    const Bytes plain = m.kdump();
    for (const std::size_t record : {std::size_t{512}, std::size_t{4096}, std::size_t{1} << 20}) {
        CAPTURE(record);
        auto f = open_bytes(synth::flatten(plain, record, 464), "vmcore.flat");
        CHECK(f->name() == "kdump-flattened");
        CHECK(f->source().size() == plain.size());
        Bytes all(plain.size());
        CHECK(f->source().read_at(0, all) == plain.size());
        CHECK(all == plain);
        CHECK(phys(*f, 0x200000, 8192) == m.read_phys(0x200000, 8192));
    }
}

TEST_CASE("flattened records: later ones win, holes read as zeros") {
    // Hand-built: a 4096-byte header, records (offset, size) big-endian.
    const Bytes plain = small_writer().build();
    Encoder e(ByteOrder::big);
    e.string("makedumpfile").zeros(4).u64(1).u64(1).zeros(4096 - 32);
    e.u64(0).u64(16).bytes(Bytes(16, std::byte{0xee}));                   // a stale header
    e.u64(16).u64(plain.size() - 16).bytes(ByteSpan(plain).subspan(16));  // the rest
    e.u64(0).u64(16).bytes(ByteSpan(plain).first(16));                    // the header, rewritten
    e.u64(plain.size() + 4096).u64(4).bytes(Bytes(4, std::byte{0x11}));   // past a hole
    e.u64(~std::uint64_t{0}).u64(~std::uint64_t{0});
    auto f = open_bytes(e.take(), "vmcore.flat");
    CHECK(phys(*f, 3 * page_size, 4096) == text_page(3));
    Bytes tail(4100);
    CHECK(f->source().read_at(plain.size(), tail) == 4100u);
    CHECK(std::all_of(tail.begin(), tail.begin() + 4096, [](std::byte x) { return x == std::byte{0}; }));
    CHECK(tail[4096] == std::byte{0x11});
}

TEST_CASE("flattened files: damage and truncation are named") {
    const Bytes flat = synth::flatten(small_writer().build(), 4096);
    const std::string p = "vmcore.flat: ";
    const auto with = [&](std::size_t offset, std::uint64_t value) {
        Bytes b = flat;
        store64(b.data() + offset, value, ByteOrder::big);
        return b;
    };
    check_error([&] { open_bytes(with(16, 2), "vmcore.flat"); }, ErrorKind::unsupported,
                p + "makedumpfile flattened format of type 2 version 1 (kvmkit reads type 1 version 1); reassemble it "
                    "with makedumpfile -R");
    check_error([&] { open_bytes(with(4096, ~std::uint64_t{0} - 5), "vmcore.flat"); }, ErrorKind::corrupt,
                p + "flattened record 0 at offset 0x1000: offset -6 or size 4096 is negative");
    check_error([&] { open_bytes(with(4104, 1u << 30), "vmcore.flat"); }, ErrorKind::corrupt,
                p + fmt::format("truncated: flattened record 0 at offset 0x1000 needs 0x40000000 bytes of data at "
                                "offset 0x1010, but the file has {:#x}",
                                flat.size()));
    check_error([&] { open_bytes(with(4096, 1ull << 60), "vmcore.flat"); }, ErrorKind::corrupt,
                p + "flattened record 0 at offset 0x1000: bytes at 0x1000000000000000+0x1000 are beyond the "
                    "0x100000000000000 a dump may have");
    const Bytes no_end(flat.begin(), flat.end() - 16);
    check_error([&] { open_bytes(no_end, "vmcore.flat"); }, ErrorKind::corrupt,
                p + fmt::format("truncated: no end marker after {} records (the record header at offset {:#x} needs "
                                "16 bytes, but the file has {:#x})",
                                (small_writer().build().size() + 4095) / 4096, no_end.size(), no_end.size()));
    check_error([&] { open_bytes(Bytes(flat.begin(), flat.begin() + 2000), "vmcore.flat"); }, ErrorKind::corrupt,
                p + "truncated: the flattened-format header needs 4096 bytes, but the file has 0x7d0");
    // The reassembled file is broken: the inner reader's message, marked.
    Bytes inner = small_writer().build();
    store32(inner.data() + 428, 1000, ByteOrder::little);
    check_error([&] { open_bytes(synth::flatten(inner, 4096), "vmcore.flat"); }, ErrorKind::corrupt,
                p + "in the reassembled dump: kdump header: block size 1000 is not a power of two from 1 KiB to 1 MiB");
    check_error([&] { open_bytes(synth::flatten(to_bytes("just some text, not a dump"), 4096), "vmcore.flat"); },
                ErrorKind::format,
                p + "a makedumpfile flattened file holding neither a kdump-compressed nor an ELF dump; reassemble it "
                    "with makedumpfile -R to look at it");
}

TEST_CASE("random damage to dump headers never crashes: each open and read ends in a kvm::Error or data") {
    const LinuxMachine m;
    const std::vector<std::pair<std::string, Bytes>> dumps = {
        {"kdump", m.kdump()},
        {"elf", m.elf_qemu()},
        {"flat", synth::flatten(m.kdump(), 65536)},
    };
    std::mt19937_64 rng(42);
    for (const auto& dump : dumps) {
        // Not a structured binding: clang 14 cannot capture one (CAPTURE does).
        const std::string& name = dump.first;
        const Bytes& good = dump.second;
        CAPTURE(name);
        const std::size_t span =
            std::min<std::size_t>(good.size(), name == "kdump" ? 6 * page_size + std::uint64_t{6000} * 24 : 8192);
        for (int round = 0; round < 150; ++round) {
            Bytes b = good;
            for (int flips = 0; flips < 4; ++flips) {
                const std::size_t at = rng() % span;
                b[at] ^= static_cast<std::byte>(1u << (rng() % 8));
            }
            bool ok = true;
            try {
                Kernel k(open_bytes(std::move(b)), nullptr);
                Bytes page(4096);
                for (const std::uint64_t pa : {std::uint64_t{0x1000}, std::uint64_t{0x200000}, std::uint64_t{0x1000000},
                                               LinuxMachine::ram_top - 4096}) {
                    (void)k.read_partial(m.page_offset_base() + pa, page);
                    (void)k.read_partial(m.symbol("linux_banner"), page);
                }
            } catch (const Error&) {
                // A named failure is fine.
            } catch (...) {
                ok = false;
            }
            CHECK(ok);
        }
    }
}
