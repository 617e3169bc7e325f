// kdump-compressed dumps beyond one zlib file: pages in every codec
// (zlib, lzo, snappy, zstd) and mixed, damaged compressed pages, pages
// excluded by the dump level (named, or read as zeros on request), and
// split dumps (makedumpfile --split) given whole, found from one file, in
// kdump and flattened form.  Every byte is compared with the ELF core of
// the same synthetic memory.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "elf_fixture.h"
#include "format/kdump.h"
#include "format/kdump_codec.h"
#include "kdump_fixture.h"
#include "linux_fixture.h"
#include "test_util.h"

#include <map>
#include <set>

using namespace kvm;
using kvmtest::check_error;
using kvmtest::LinuxMachine;

namespace {

constexpr std::uint64_t page_size = 4096;

std::shared_ptr<ByteSource> memory(Bytes b, std::string name) {
    return std::make_shared<MemorySource>(std::move(b), std::move(name));
}

std::unique_ptr<Format> open_bytes(Bytes b, std::string name = "vmcore.kdump", const ProbeOptions& options = {}) {
    return open_format(memory(std::move(b), std::move(name)), options);
}

Bytes phys(const Format& f, std::uint64_t pa, std::size_t n) {
    Bytes b(n);
    f.read_phys(pa, b);
    return b;
}

// A page that every codec shrinks.
Bytes text_page(std::uint64_t pfn) {
    std::string s;
    while (s.size() < page_size)
        s += fmt::format("page {:#x} of a synthetic kdump file. ", pfn);
    s.resize(page_size);
    return to_bytes(s);
}

// Pfns 2, 3, 9 text; 4 zero; 7 excluded; 5, 6, 8 absent.
synth::KdumpWriter small_writer(synth::KdumpOptions options = {}) {
    synth::KdumpWriter w(std::move(options));
    for (const std::uint64_t pfn : {2, 3, 9})
        w.add_page(pfn, text_page(pfn));
    w.add_page(4, Bytes(page_size));
    w.exclude_page(7);
    return w;
}

// Every page of `f` against the ELF core's.
std::size_t pages_differing(const Format& elf, const Format& f) {
    Bytes a(page_size);
    Bytes b(page_size);
    std::size_t differ = 0;
    for (const PhysRun& r : elf.phys_ranges())
        for (std::uint64_t pa = r.pa; pa < r.pa + r.size; pa += page_size) {
            elf.read_phys(pa, a);
            f.read_phys(pa, b);
            differ += a != b ? 1 : 0;
        }
    return differ;
}

std::uint64_t ram_pages(const LinuxMachine& m) {
    std::uint64_t pages = 0;
    for (const auto& seg : m.memory().ram())
        pages += seg.size / page_size;
    return pages;
}

}  // namespace

// ---------------------------------------------------------------- codecs

TEST_CASE("kdump codecs: lzo, snappy, zstd, zlib and all four mixed read as the ELF core's bytes") {
    const LinuxMachine m;
    const auto elf = open_bytes(m.elf_qemu(), "vmcore.elf");
    const std::uint32_t lzo = kdump::compressed_lzo;
    const std::uint32_t snappy = kdump::compressed_snappy;
    const std::uint32_t zstd = kdump::compressed_zstd;
    const std::uint32_t zlib = kdump::compressed_zlib;
    const struct {
        std::vector<std::string> codecs;
        std::string status;
        std::set<std::uint32_t> flags;  // besides raw pages
    } cases[] = {
        {{"lzo"}, "lzo", {lzo}},
        {{"snappy"}, "snappy", {snappy}},
        {{"zstd"}, "zstd", {zstd}},
        {{"zlib"}, "zlib", {zlib}},
        {{"lzo", "snappy", "zstd", "zlib"}, "zlib,lzo,snappy,zstd", {lzo, snappy, zstd, zlib}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.status);
        const Bytes file = m.kdump({.codecs = c.codecs});
        // The pages are in the codecs asked for, and only in those.
        std::set<std::uint32_t> used;
        std::size_t compressed = 0;
        for (const auto& [flags, count] : kvmtest::descriptor_flags(file)) {
            if (flags == 0) continue;
            used.insert(flags);
            compressed += count;
        }
        CHECK(used == c.flags);
        CHECK(compressed > 1000);
        const auto f = open_bytes(file);
        CHECK(f->machine().info.at("kdump.compression") == c.status);
        CHECK(pages_differing(*elf, *f) == 0);
        Kernel k(open_bytes(file), nullptr);
        CHECK(k.read_string(m.symbol("linux_banner"), 200) == m.banner());
    }
}

TEST_CASE("kdump codecs: a page that is too big, too short, too long or garbled names the file, pfn and offset") {
    for (const kdump::Codec& codec : kdump::all_codecs()) {
        CAPTURE(codec.name);
        const std::string n(codec.name);
        synth::KdumpWriter w = small_writer({.codecs = {n}});
        // Pfn 12: a 2000-byte stream; 13: 8192 bytes; 14: garbage; 15: cut short.
        const Bytes text12 = text_page(12);
        const Bytes two_k(text12.begin(), text12.begin() + 2000);
        const Bytes eight_k = [] {
            Bytes b = text_page(13);
            const Bytes c = text_page(13);
            b.insert(b.end(), c.begin(), c.end());
            return b;
        }();
        const Bytes whole = codec.encode(text_page(15));
        w.add_stored_page(12, codec.encode(two_k), codec.flag);
        w.add_stored_page(13, codec.encode(eight_k), codec.flag);
        w.add_stored_page(14, Bytes(64, std::byte{0xa5}), codec.flag);
        w.add_stored_page(15, Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2)),
                          codec.flag);
        const Bytes good = w.build();
        const auto l = w.layout();
        const auto desc = [&](std::size_t index) {
            return kdump::decode_page_desc(ByteSpan(good).subspan(l.descriptors + index * 24, 24), ByteOrder::little);
        };
        // Descriptors: pfns 2, 3, 4, 9, 12, 13, 14, 15.
        const auto f = open_bytes(good);
        CHECK(phys(*f, 2 * page_size, page_size) == text_page(2));
        CHECK(phys(*f, 9 * page_size, page_size) == text_page(9));
        const auto data = [&](std::size_t index) {
            return fmt::format("the {} data ({} bytes at offset {:#x})", n, desc(index).size, desc(index).offset);
        };
        check_error([&] { phys(*f, 12 * page_size, 1); }, ErrorKind::corrupt,
                    fmt::format("vmcore.kdump: pfn 0xc (page descriptor 4): {} decompresses to 2000 bytes, not a "
                                "4096-byte page",
                                data(4)));
        const std::map<std::string, std::string> too_long{
            {"zlib", "it holds more than a page (Z_BUF_ERROR)"},
            {"lzo", "it holds more than a page (LZO_E_OUTPUT_OVERRUN)"},
            {"snappy", "its header claims 8192 bytes"},
            {"zstd", "Destination buffer is too small"},
        };
        check_error([&] { phys(*f, 13 * page_size, 1); }, ErrorKind::corrupt,
                    fmt::format("vmcore.kdump: pfn 0xd (page descriptor 5): {} does not decompress to a page: {}",
                                data(5), too_long.at(n)));
        const std::map<std::string, std::string> garbled{
            {"zlib", "the stream is damaged or cut short (Z_DATA_ERROR)"},
            {"lzo", "the data ends in the middle of the stream (LZO_E_INPUT_OVERRUN)"},
            {"snappy", "no valid length at its start"},
            {"zstd", "Unknown frame descriptor"},
        };
        check_error([&] { phys(*f, 14 * page_size, 1); }, ErrorKind::corrupt,
                    fmt::format("vmcore.kdump: pfn 0xe (page descriptor 6): {} does not decompress to a page: {}",
                                data(6), garbled.at(n)));
        const std::map<std::string, std::string> cut{
            {"zlib", "the stream is damaged or cut short (Z_DATA_ERROR)"},
            {"lzo", "the data ends in the middle of the stream (LZO_E_INPUT_OVERRUN)"},
            {"snappy", "the stream is not valid snappy"},
            {"zstd", "Src size is incorrect"},
        };
        check_error([&] { phys(*f, 15 * page_size, 1); }, ErrorKind::corrupt,
                    fmt::format("vmcore.kdump: pfn 0xf (page descriptor 7): {} does not decompress to a page: {}",
                                data(7), cut.at(n)));
        // A compressed size larger than the block.
        Bytes big = good;
        store32(big.data() + l.descriptors + 24 + 8, 5000, ByteOrder::little);
        check_error([&] { phys(*open_bytes(big), 3 * page_size, 1); }, ErrorKind::corrupt,
                    fmt::format("vmcore.kdump: pfn 0x3 (page descriptor 1): 5000 bytes of {} data at offset {:#x} for "
                                "a 4096-byte page",
                                n, desc(1).offset));
    }
}

// ---------------------------------------------------------------- excluded pages

TEST_CASE("kdump: dump levels name the pages makedumpfile leaves out") {
    CHECK(kdump::dump_level_text(0) == "dump level 0");
    CHECK(kdump::dump_level_text(1) == "dump level 1: zero pages");
    CHECK(kdump::dump_level_text(3) == "dump level 3: zero and cache pages");
    CHECK(kdump::dump_level_text(17) == "dump level 17: zero and free pages");
    CHECK(kdump::dump_level_text(31) == "dump level 31: zero, cache, cache private, user data and free pages");
}

TEST_CASE("kdump: excluded pages are named with the dump level, or read as zeros with zero_excluded, said once") {
    const Bytes file = small_writer({.dump_level = 31}).build();
    const auto f = open_bytes(file);
    check_error([&] { phys(*f, 7 * page_size + 0x10, 8); }, ErrorKind::fault,
                "physical address 0x7010 (pfn 0x7) was excluded from the dump (dump level 31: zero, cache, cache "
                "private, user data and free pages)");

    std::vector<std::string> said;
    const auto z = open_bytes(file, "vmcore.kdump",
                              {.zero_excluded = true, .warn = [&](const std::string& s) { said.push_back(s); }});
    CHECK(said.empty());  // nothing until an excluded page is read
    CHECK(phys(*z, 7 * page_size, page_size) == Bytes(page_size));
    // Across the excluded page, from the dumped page before it: pfn 6 is
    // absent (not RAM), so start at pfn 7 and cross into absent pfn 8.
    check_error([&] { phys(*z, 7 * page_size + 4000, 200); }, ErrorKind::fault,
                "physical address 0x8000 is not in the dump");
    CHECK(phys(*z, 7 * page_size + 8, 16) == Bytes(16));
    REQUIRE(said.size() == 1);
    CHECK(said[0] ==
          "vmcore.kdump: physical address 0x7000 (pfn 0x7) was excluded from the dump (dump level 31: zero, cache, "
          "cache private, user data and free pages): read as zeros, as is every excluded page (--zero-excluded)");
    // Dumped pages are as before.
    CHECK(phys(*z, 3 * page_size, page_size) == text_page(3));
    CHECK(phys(*z, 4 * page_size, page_size) == Bytes(page_size));
}

TEST_CASE("kdump: Kernel::open passes zero_excluded and warn to the format") {
    const kvm::test::TempDir dir;
    synth::write_file(dir / "vmcore", small_writer({.dump_level = 17}).build());
    std::vector<std::string> said;
    const auto k = Kernel::open(
        {.core = dir / "vmcore", .zero_excluded = true, .warn = [&](const std::string& s) { said.push_back(s); }});
    Bytes b(8);
    k->read_phys(7 * page_size, b);
    CHECK(b == Bytes(8));
    REQUIRE(said.size() == 1);
    CHECK(said[0].rfind(dir / "vmcore" + ": physical address 0x7000 (pfn 0x7) was excluded from the dump (dump level "
                                         "17: zero and free pages): read as zeros",
                        0) == 0);
}

// ---------------------------------------------------------------- split dumps

TEST_CASE("kdump split dumps: the files' headers say which pfns each holds") {
    const synth::KdumpWriter w = small_writer({.codecs = {"lzo"}});
    const std::vector<Bytes> parts = w.build_split(3);
    REQUIRE(parts.size() == 3);
    // Dumped pfns 2, 3, 4, 9: cut at the first pfn of each third of them.
    const std::uint64_t expected[][2] = {{0, 3}, {3, 4}, {4, 10}};
    for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        const Bytes& p = parts[i];
        const auto s = kdump::decode_sub_header(ByteSpan(p).subspan(4096), ByteOrder::little, 6);
        CHECK(s.split == 1);
        CHECK(s.start_pfn == expected[i][0]);
        CHECK(s.end_pfn == expected[i][1]);
        CHECK(s.start_pfn_64 == expected[i][0]);
        CHECK(s.end_pfn_64 == expected[i][1]);
        CHECK(s.max_mapnr_64 == 10u);
        // The same header and bitmaps in every file.
        CHECK(Bytes(p.begin(), p.begin() + 4096) == Bytes(parts[0].begin(), parts[0].begin() + 4096));
        CHECK(Bytes(p.begin() + 8192, p.begin() + 16384) == Bytes(parts[0].begin() + 8192, parts[0].begin() + 16384));
    }
    CHECK(kvmtest::descriptor_flags(parts[0]).at(kdump::compressed_lzo) == 1u);  // pfn 2
}

TEST_CASE("kdump split dumps given whole, in any order, read as the single file") {
    const LinuxMachine m;
    const auto elf = open_bytes(m.elf_qemu(), "vmcore.elf");
    const synth::KdumpWriter w = m.kdump_writer({.codecs = {"zstd", "snappy"}}, {0x300, 0x301});
    const std::vector<Bytes> parts = w.build_split(4);
    const auto src = [&](std::size_t i) { return memory(parts[i], fmt::format("vmcore.{}", i + 1)); };
    for (const std::vector<std::size_t>& order : {std::vector<std::size_t>{0, 1, 2, 3}, {2, 0, 3, 1}}) {
        CAPTURE(order[0]);
        std::vector<std::shared_ptr<ByteSource>> rest;
        for (std::size_t i = 1; i < order.size(); ++i)
            rest.push_back(src(order[i]));
        const auto f = open_format(src(order[0]), {.split_parts = rest});
        CHECK(f->name() == "kdump");
        CHECK(f->file_count() == 4u);
        // Pages of every file, and the excluded ones named by the first.
        Bytes a(page_size);
        Bytes b(page_size);
        std::size_t pages = 0;
        std::size_t differ = 0;
        for (const PhysRun& r : elf->phys_ranges())
            for (std::uint64_t pa = r.pa; pa < r.pa + r.size; pa += page_size) {
                if (pa / page_size == 0x300 || pa / page_size == 0x301) continue;
                elf->read_phys(pa, a);
                f->read_phys(pa, b);
                differ += a != b ? 1 : 0;
                ++pages;
            }
        CHECK(differ == 0);
        CHECK(pages == ram_pages(m) - 2);
        check_error([&] { phys(*f, 0x301 * page_size, 1); }, ErrorKind::fault,
                    "physical address 0x301000 (pfn 0x301) was excluded from the dump (dump level 1: zero pages)");
        Kernel k(open_format(src(order[0]), {.split_parts = rest}), nullptr);
        CHECK(k.read_string(m.symbol("linux_banner"), 200) == m.banner());
    }
    const auto f = open_format(src(0), {.split_parts = {src(1), src(2), src(3)}});
    std::string expected;
    for (std::size_t i = 0; i < 4; ++i) {
        const auto s = kdump::decode_sub_header(ByteSpan(parts[i]).subspan(4096), ByteOrder::little, 6);
        expected +=
            fmt::format("{}vmcore.{} (pfns {:#x}-{:#x})", i == 0 ? "" : ", ", i + 1, s.start_pfn_64, s.end_pfn_64);
    }
    CHECK(f->machine().info.at("kdump.split") == expected);
}

TEST_CASE("kdump split dumps: the other files are found next to any one of them, flattened or not") {
    const LinuxMachine m;
    const auto elf = open_bytes(m.elf_qemu(), "vmcore.elf");
    const std::vector<Bytes> parts = m.kdump_writer({.codecs = {"lzo"}}).build_split(3);
    const kvm::test::TempDir dir;
    synth::write_file(dir / "vmcore.1", parts[0]);
    synth::write_file(dir / "vmcore.2", synth::flatten(parts[1], 65536, 464));
    synth::write_file(dir / "vmcore.3", parts[2]);
    // Not of this dump: a text file below, another split dump's file above.
    synth::write_file(dir / "vmcore.0", to_bytes("an unrelated file\n"));
    synth::write_file(dir / "vmcore.4", small_writer().build_split(2)[1]);
    for (const std::string name : {"vmcore.1", "vmcore.2", "vmcore.3"}) {
        CAPTURE(name);
        const auto k = Kernel::open({.core = dir / name});
        CHECK(k->format().file_count() == 3u);
        CHECK(k->format().name() == (name == "vmcore.2" ? "kdump-flattened" : "kdump"));
        CHECK(pages_differing(*elf, k->format()) == 0);
    }
    // Named with -M, the others are not looked for.
    const auto k = Kernel::open({.core = dir / "vmcore.3", .core_parts = {dir / "vmcore.2", dir / "vmcore.1"}});
    CHECK(pages_differing(*elf, k->format()) == 0);

    // Zero-padded numbers count on with their width.
    const kvm::test::TempDir padded;
    for (std::size_t i = 0; i < 3; ++i)
        synth::write_file(padded / fmt::format("dump.{:02}", i + 8), parts[i]);
    CHECK(Kernel::open({.core = padded / "dump.09"})->format().file_count() == 3u);
}

TEST_CASE("kdump split dumps: missing, overlapping, foreign and broken files are named") {
    const LinuxMachine m;
    const std::vector<Bytes> parts = m.kdump_writer().build_split(3);
    const auto pfns = [&](std::size_t i) {
        const auto s = kdump::decode_sub_header(ByteSpan(parts[i]).subspan(4096), ByteOrder::little, 6);
        return std::make_pair(s.start_pfn_64, s.end_pfn_64);
    };
    const std::uint64_t mapnr = LinuxMachine::ram_top / page_size;
    const kvm::test::TempDir dir;
    synth::write_file(dir / "vmcore.1", parts[0]);
    synth::write_file(dir / "vmcore.3", parts[2]);
    const std::string d1 = dir / "vmcore.1";
    const std::string d3 = dir / "vmcore.3";
    // Found from the first: vmcore.2 is not there.
    check_error([&] { Kernel::open({.core = d1}); }, ErrorKind::not_found,
                fmt::format("{}: a split dump (makedumpfile --split) whose files {} (pfns {:#x}-{:#x}) leave pfns "
                            "{:#x}-{:#x} out: name every file of the set with -M, or keep them beside it as NAME.1, "
                            "NAME.2, ...",
                            d1, d1, pfns(0).first, pfns(0).second, pfns(1).first, mapnr));
    // Given: the last one left out.
    synth::write_file(dir / "vmcore.2", parts[1]);
    const std::string d2 = dir / "vmcore.2";
    check_error(
        [&] { Kernel::open({.core = d2, .core_parts = {d1}}); }, ErrorKind::not_found,
        fmt::format("{}: a split dump (makedumpfile --split) whose files {} (pfns {:#x}-{:#x}), {} (pfns "
                    "{:#x}-{:#x}) leave pfns {:#x}-{:#x} out: name every file of the set with -M",
                    d2, d1, pfns(0).first, pfns(0).second, d2, pfns(1).first, pfns(1).second, pfns(2).first, mapnr));
    // One file twice.
    check_error(
        [&] {
            Kernel::open({.core = d1, .core_parts = {d2, d2, d3}});
        },
        ErrorKind::corrupt,
        fmt::format("{}: the files of the split dump overlap: {} and {} both hold pfn {:#x}", d1, d2, d2,
                    pfns(1).first));
    // A file of another dump, and a file that is no split dump.
    synth::write_file(dir / "other", small_writer({.release = "6.1.0-other"}).build_split(2)[1]);
    check_error(
        [&] {
            Kernel::open({.core = d1, .core_parts = {d2, dir / "other"}});
        },
        ErrorKind::format,
        fmt::format("{}: {}: not a file of the same split dump: utsname.release is 6.1.0-other, the first "
                    "file's 6.1.0-synthetic",
                    d1, dir / "other"));
    synth::write_file(dir / "whole", m.kdump());
    check_error(
        [&] {
            Kernel::open({.core = d1, .core_parts = {d2, dir / "whole"}});
        },
        ErrorKind::format,
        fmt::format("{}: {}: not a file of a split dump: its sub-header's split is 0", d1, dir / "whole"));
    synth::write_file(dir / "text", to_bytes("not a dump at all"));
    check_error(
        [&] {
            Kernel::open({.core = d1, .core_parts = {d2, dir / "text"}});
        },
        ErrorKind::format,
        fmt::format("{}: {}: not a file of the split dump: not a kdump-compressed file", d1, dir / "text"));
    // More files given with a dump that is not split.
    check_error(
        [&] { Kernel::open({.core = dir / "whole", .core_parts = {d2}}); }, ErrorKind::usage,
        fmt::format("{}: 1 more file given, but it is a whole kdump dump, not a file of a split one", dir / "whole"));
    // A file cut in its descriptors: that file is named.
    Bytes cut = parts[1];
    cut.resize(5 * page_size);
    synth::write_file(dir / "cut.2", cut);
    const std::string message = kvm::test::error_of([&] {
        Kernel::open({.core = d1, .core_parts = {dir / "cut.2", d3}});
    });
    CHECK(message.rfind(fmt::format("{}: {}: truncated: the ", d1, dir / "cut.2"), 0) == 0);
    // A descriptor of the second file pointing past its end: that page
    // fails, naming the second file, and the others read.
    Bytes bad = parts[1];
    const std::uint64_t descs =
        (1 + load32(bad.data() + 432, ByteOrder::little) + load32(bad.data() + 436, ByteOrder::little)) * page_size;
    store64(bad.data() + descs, 1ull << 40, ByteOrder::little);
    synth::write_file(dir / "bad.2", bad);
    const auto k = Kernel::open({.core = d1, .core_parts = {dir / "bad.2", d3}});
    Bytes page(page_size);
    check_error(
        [&] { k->read_phys(pfns(1).first * page_size, page); }, ErrorKind::corrupt,
        fmt::format("{}: truncated: pfn {:#x} (page descriptor 0) needs {} bytes at offset 0x10000000000, but "
                    "the file has {:#x}",
                    dir / "bad.2", pfns(1).first, load32(bad.data() + descs + 8, ByteOrder::little), bad.size()));
    k->read_phys(pfns(2).first * page_size, page);
    CHECK(page == m.read_phys(pfns(2).first * page_size, page_size));
}

TEST_CASE("kdump split dumps of header version 5 use the 32-bit pfn fields") {
    const synth::KdumpWriter w = small_writer({.header_version = 5});
    const std::vector<Bytes> parts = w.build_split(2);
    const auto f = open_format(memory(parts[1], "v5.2"), {.split_parts = {memory(parts[0], "v5.1")}});
    CHECK(phys(*f, 2 * page_size, page_size) == text_page(2));
    CHECK(phys(*f, 9 * page_size, page_size) == text_page(9));
    CHECK(f->machine().info.at("kdump.split") == "v5.1 (pfns 0x0-0x4), v5.2 (pfns 0x4-0xa)");
    // Alone, in memory, with nobody to look for the others.
    check_error([&] { open_format(memory(parts[1], "v5.2")); }, ErrorKind::not_found,
                "v5.2: a split dump (makedumpfile --split) whose files v5.2 (pfns 0x4-0xa) leave pfns 0x0-0x4 out: "
                "name every file of the set with -M, or keep them beside it as NAME.1, NAME.2, ...");
}

TEST_CASE("kdump split dumps: numbered names") {
    const auto n = kdump::numbered_name("dir.7/vmcore.12");
    REQUIRE(n);
    CHECK(n->stem == "dir.7/vmcore.");
    CHECK(n->number == 12u);
    CHECK(n->with(13) == "dir.7/vmcore.13");
    CHECK(kdump::numbered_name("dump.007")->with(8) == "dump.008");
    CHECK(kdump::numbered_name("dump0")->with(1) == "dump1");
    CHECK(kdump::numbered_name("dump.0")->with(10) == "dump.10");
    CHECK(!kdump::numbered_name("dir.7/vmcore"));
    CHECK(!kdump::numbered_name("vmcore.1234567890"));
}
