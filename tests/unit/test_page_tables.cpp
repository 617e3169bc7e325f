// PhysMemory and PageTableBuilder: synthetic RAM, scattered allocation, and
// page tables that the matching Translator must walk back to exactly the
// physical addresses that were mapped.
#include <kvm/arch.h>
#include <kvm/error.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace kvm;
using kvm::netbsd::RamSegment;
using kvm::synth::PhysMemory;

namespace {

constexpr std::array both_orders{ByteOrder::little, ByteOrder::big};
constexpr std::uint64_t four_gib = std::uint64_t{1} << 32;

template <typename F>
void check_error(F&& f, ErrorKind kind, const std::string& message) {
    try {
        f();
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == kind);
        CHECK(e.message() == message);
    }
}

Bytes bytes_of(std::initializer_list<int> values) {
    Bytes out;
    for (const int v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

// Every byte of an unwritten page is the low byte of its page number.
void page_number_filler(std::uint64_t pa, MutableByteSpan page) {
    std::fill(page.begin(), page.end(), static_cast<std::byte>(pa >> 12));
}

// Reads through PhysMemory and remembers each entry the walk read, so tests
// can see the tables a translation went through and the raw leaf entry.
class RecordingReader {
public:
    RecordingReader(const PhysMemory& memory, ByteOrder order) : memory_(memory), order_(order) {}

    PhysReader reader() {
        return [this](std::uint64_t pa, MutableByteSpan out) {
            memory_.read(pa, out);
            reads.emplace_back(pa, load_uint(out.data(), static_cast<unsigned>(out.size()), order_));
        };
    }

    std::vector<std::pair<std::uint64_t, std::uint64_t>> reads;  // (entry pa, entry)

private:
    const PhysMemory& memory_;
    ByteOrder order_;
};

struct ExpectedPage {
    std::uint64_t va;
    std::uint64_t pa;
    std::uint64_t size;
};

// The page must translate back exactly, at its first and last byte, and its
// leaf entry must look like a kernel's: present and writable, PG_PS on large
// pages, and every table pointer on the way present and writable.
void check_page(const Translator& t, const PhysMemory& memory, ByteOrder order, const ExpectedPage& page,
                std::uint64_t smallest_page) {
    INFO("va ", hex(page.va));
    RecordingReader recorder(memory, order);
    const Mapping first = t.translate(page.va, recorder.reader());
    CHECK(hex(first.pa) == hex(page.pa));
    CHECK(hex(first.page_size) == hex(page.size));
    CHECK(hex(first.length) == hex(page.size));
    REQUIRE(!recorder.reads.empty());
    const std::uint64_t leaf = recorder.reads.back().second;
    CHECK(hex(leaf) == hex(page.pa | (page.size == smallest_page ? 0x3 : 0x83)));
    for (std::size_t i = 0; i + 1 < recorder.reads.size(); ++i)
        CHECK(hex(recorder.reads[i].second & 0xfff) == "0x3");

    const Mapping last = t.translate(page.va + page.size - 1, recorder.reader());
    CHECK(hex(last.pa) == hex(page.pa + page.size - 1));
    CHECK(last.length == 1);
}

}  // namespace

// ---------------------------------------------------------------- PhysMemory

TEST_CASE("PhysMemory: unwritten pages read as the filler says, or as zeros without one") {
    PhysMemory mem({{.start = 0x1000, .size = 0x4000}});
    Bytes out(16);
    mem.read(0x1ff8, out);
    CHECK(out == Bytes(16));

    mem.set_filler(page_number_filler);
    mem.read(0x1ff8, out);
    CHECK(out == bytes_of({1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2}));
    CHECK_FALSE(mem.is_written(0x1000));
}

TEST_CASE("PhysMemory: a write makes its pages explicit, zeroed first, across a page border") {
    PhysMemory mem({{.start = 0x1000, .size = 0x4000}});
    mem.set_filler(page_number_filler);
    mem.write(0x2ffe, bytes_of({0xaa, 0xbb, 0xcc, 0xdd}));
    CHECK(mem.is_written(0x2000));
    CHECK(mem.is_written(0x3abc));  // any address in the page
    CHECK_FALSE(mem.is_written(0x1000));
    CHECK_FALSE(mem.is_written(0x4000));
    Bytes out(8);
    mem.read(0x2ffc, out);
    CHECK(out == bytes_of({0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0}));
    mem.read(0x3ffc, out);  // the written page, then a filled one
    CHECK(out == bytes_of({0, 0, 0, 0, 4, 4, 4, 4}));
}

TEST_CASE("PhysMemory: reads and writes must stay in RAM") {
    // Two segments with a hole at [0x3000, 0x4000), and two that touch at 0x10000.
    PhysMemory mem({{.start = 0x1000, .size = 0x2000},
                    {.start = 0x4000, .size = 0x1000},
                    {.start = 0x10000, .size = 0x1000},
                    {.start = 0xf000, .size = 0x1000}});
    check_error([&] { mem.write(0x2ff0, Bytes(0x20)); }, ErrorKind::usage,
                "cannot write 0x20 bytes at pa 0x2ff0: not in RAM");
    CHECK_FALSE(mem.is_written(0x2000));  // a refused write writes nothing
    check_error([&] { mem.write(0x100000, Bytes(1)); }, ErrorKind::usage,
                "cannot write 0x1 bytes at pa 0x100000: not in RAM");

    Bytes out(8);
    try {
        mem.read(0x3000, out);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::fault);
        REQUIRE(e.address().has_value());
        CHECK(*e.address() == 0x3000);
        CHECK(e.message() == "0x8 bytes at pa 0x3000 are not in RAM");
    }

    mem.write(0xfffc, bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
    mem.read(0xfffc, out);
    CHECK(out == bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
    CHECK(mem.in_ram(0x1000, 0x2000));
    CHECK_FALSE(mem.in_ram(0x1000, 0x2001));
    CHECK_FALSE(mem.in_ram(0xfffffffffffff000, 0x2000));
}

TEST_CASE("PhysMemory: RAM segments must be page-aligned and must not overlap") {
    check_error([] { PhysMemory({{.start = 0x1000, .size = 0x800}}); }, ErrorKind::usage,
                "RAM segment [0x1000, 0x1800) is not aligned to the 0x1000-byte page size");
    check_error(
        [] {
            PhysMemory({{.start = 0x0, .size = 0x2000}, {.start = 0x1000, .size = 0x2000}});
        },
        ErrorKind::usage, "RAM segments [0x0, 0x2000) and [0x1000, 0x3000) overlap");
    check_error([] { PhysMemory({{.start = 0xfffffffffffff000, .size = 0x2000}}); }, ErrorKind::usage,
                "RAM segment at 0xfffffffffffff000 of 0x2000 bytes wraps around");
    check_error([] { PhysMemory({}, 0x1800); }, ErrorKind::usage, "page size 0x1800 is not a power of two");
}

TEST_CASE("PhysMemory: allocation is scattered over all segments, the same for the same seed") {
    const std::vector<RamSegment> ram{{.start = 0x100000, .size = 0x7f00000}, {.start = four_gib, .size = 0x40000000}};
    struct Request {
        std::uint64_t count;
        std::uint64_t align;
    };
    const std::array<Request, 4> requests{{{1, 0x1000}, {4, 0x1000}, {1, 0x200000}, {3, 0x4000}}};
    auto request = [&](std::size_t i) { return requests[i % requests.size()]; };
    auto allocate = [&](std::uint64_t seed) {
        PhysMemory mem(ram);
        mem.set_seed(seed);
        std::vector<std::uint64_t> starts;
        for (std::size_t i = 0; i < 100; ++i)
            starts.push_back(mem.alloc_pages(request(i).count, request(i).align));
        return starts;
    };
    const std::vector<std::uint64_t> a = allocate(42);
    CHECK(a == allocate(42));
    CHECK(a != allocate(43));
    // Scattered: not in address order, and in both segments.
    CHECK_FALSE(std::is_sorted(a.begin(), a.end()));
    CHECK(std::count_if(a.begin(), a.end(), [](std::uint64_t pa) { return pa < four_gib; }) > 0);
    CHECK(std::count_if(a.begin(), a.end(), [](std::uint64_t pa) { return pa >= four_gib; }) > 0);

    PhysMemory check(ram);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::uint64_t size = request(i).count * 0x1000;
        INFO("pa ", hex(a[i]));
        CHECK(a[i] % request(i).align == 0);
        CHECK(check.in_ram(a[i], size));
        ranges.emplace_back(a[i], a[i] + size);
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
        CHECK(ranges[i - 1].second <= ranges[i].first);
}

TEST_CASE("PhysMemory: allocation fills RAM around reserved ranges, then throws") {
    PhysMemory mem({{.start = 0x1000, .size = 0x4000}, {.start = 0x10000, .size = 0x4000}});
    mem.reserve(0x2000, 0x1000);
    std::set<std::uint64_t> pages;
    for (int i = 0; i < 7; ++i)
        pages.insert(mem.alloc_pages(1));
    CHECK(pages == std::set<std::uint64_t>{0x1000, 0x3000, 0x4000, 0x10000, 0x11000, 0x12000, 0x13000});
    check_error([&] { mem.alloc_pages(1); }, ErrorKind::usage,
                "cannot allocate 1 page aligned to 0x1000: no free range of 0x1000 bytes in RAM");
    check_error([&] { mem.reserve(0x5000, 0x1000); }, ErrorKind::usage,
                "cannot reserve 0x1000 bytes at pa 0x5000: not in RAM");
}

TEST_CASE("PhysMemory: the last free page of a large RAM is found, not missed by random tries") {
    PhysMemory mem({{.start = 0, .size = four_gib}});
    mem.reserve(0, 0x80000000);
    mem.reserve(0x80001000, 0x7ffff000);
    CHECK(hex(mem.alloc_pages(1)) == "0x80000000");
    check_error([&] { mem.alloc_pages(1); }, ErrorKind::usage,
                "cannot allocate 1 page aligned to 0x1000: no free range of 0x1000 bytes in RAM");
}

TEST_CASE("PhysMemory: contiguous allocations find the one gap that fits") {
    PhysMemory mem({{.start = 0x1000, .size = 0x8000}});  // pages 0x1000..0x8000
    mem.reserve(0x4000, 0x1000);
    CHECK(hex(mem.alloc_pages(4)) == "0x5000");
    check_error([&] { mem.alloc_pages(4); }, ErrorKind::usage,
                "cannot allocate 4 pages aligned to 0x1000: no free range of 0x4000 bytes in RAM");
    CHECK(hex(mem.alloc_pages(3)) == "0x1000");
    check_error([&] { mem.alloc_pages(0); }, ErrorKind::usage, "cannot allocate 0 pages");
    check_error([&] { mem.alloc_pages(2, 0x3000); }, ErrorKind::usage, "alignment 0x3000 is not a power of two");
}

TEST_CASE("PhysMemory: a limit keeps allocations below it") {
    PhysMemory mem({{.start = 0x100000, .size = 0x10000}, {.start = four_gib, .size = 0x100000}});
    std::set<std::uint64_t> below;
    for (int i = 0; i < 4; ++i) {
        const std::uint64_t pa = mem.alloc_pages(4, 0x4000, four_gib);
        CHECK(pa % 0x4000 == 0);
        CHECK(pa + 0x4000 <= 0x110000);
        below.insert(pa);
    }
    CHECK(below.size() == 4);
    check_error([&] { mem.alloc_pages(4, 0x4000, four_gib); }, ErrorKind::usage,
                "cannot allocate 4 pages aligned to 0x4000 below 0x100000000: no free range of 0x4000 bytes in RAM");
    CHECK(mem.alloc_pages(4, 0x4000) >= four_gib);
}

// ---------------------------------------------------------------- page tables

TEST_CASE("page-table builders exist for every translator, with their page sizes") {
    PhysMemory mem({{.start = 0x100000, .size = 0x1000000}});
    std::vector<std::pair<std::string, std::vector<std::uint64_t>>> got;
    for (const auto& row : all_translators())
        got.emplace_back(row.name, synth::make_page_table_builder(row.name, mem, ByteOrder::little)->page_sizes());
    const std::vector<std::pair<std::string, std::vector<std::uint64_t>>> expected{
        {"amd64", {0x1000, 0x200000, 0x40000000}},
        {"amd64-la57", {0x1000, 0x200000, 0x40000000}},
        {"i386", {0x1000, 0x400000}},
        {"i386-pae", {0x1000, 0x200000}},
        {"i386-pae-pdpt", {0x1000, 0x200000}},
        {"arm64", {0x1000, 0x200000, 0x40000000}},
    };
    CHECK(got == expected);
    check_error([&] { synth::make_page_table_builder("sparc64", mem, ByteOrder::little); }, ErrorKind::unsupported,
                "no page-table builder for paging scheme \"sparc64\" (known: amd64, amd64-la57, i386, i386-pae, "
                "i386-pae-pdpt, arm64)");
    PhysMemory big_pages({{.start = 0x100000, .size = 0x100000}}, 0x2000);
    check_error([&] { synth::make_page_table_builder("amd64", big_pages, ByteOrder::little); }, ErrorKind::usage,
                "amd64 page tables need 4 KiB physical pages, not 0x2000");
}

TEST_CASE("amd64 builder: map_range picks 4 KiB, 2 MiB and 1 GiB pages; the translator walks them back") {
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        // Two segments with a hole; the filler makes any unzeroed table entry look present.
        PhysMemory mem({{.start = 0x100000, .size = 0x7f00000}, {.start = four_gib, .size = 0x40000000}});
        mem.set_filler(
            [](std::uint64_t, MutableByteSpan page) { std::fill(page.begin(), page.end(), std::byte{0xff}); });
        mem.set_seed(7);
        const auto builder = synth::make_page_table_builder("amd64", mem, order);
        CHECK(mem.is_written(builder->root()));

        // Two 4K pages up to a 2M boundary, a 2M page up to a 1G boundary,
        // a 1G page, then a 2M and a 4K page.
        builder->map_range(0xffff80003fdfe000, 0x3fdfe000, 0x2000 + 0x200000 + 0x40000000 + 0x200000 + 0x1000);
        // va 1G-aligned but pa only 4K-aligned: 4K pages all the way.
        builder->map_range(0xffff900000000000, 0x100001000, 0x400000);
        builder->map(0xffffffff80000000, 0x100200000, 0x200000);
        builder->map(0x00007ffffffff000, 0x104000000, 0x1000);  // the top user page

        const auto t = make_translator("amd64", {.root = builder->root(), .order = order});
        const std::vector<ExpectedPage> pages{
            {0xffff80003fdfe000, 0x3fdfe000, 0x1000},    {0xffff80003fdff000, 0x3fdff000, 0x1000},
            {0xffff80003fe00000, 0x3fe00000, 0x200000},  {0xffff800040000000, 0x40000000, 0x40000000},
            {0xffff800080000000, 0x80000000, 0x200000},  {0xffff800080200000, 0x80200000, 0x1000},
            {0xffff900000000000, 0x100001000, 0x1000},   {0xffff9000003ff000, 0x100400000, 0x1000},
            {0xffffffff80000000, 0x100200000, 0x200000}, {0x00007ffffffff000, 0x104000000, 0x1000},
        };
        for (const auto& page : pages)
            check_page(*t, mem, order, page, 0x1000);

        // Right after the range the page table is there but empty (zeroed, not filler).
        RecordingReader recorder(mem, order);
        try {
            t->translate(0xffff800080201000, recorder.reader());
            FAIL("no fault");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::fault);
            const std::string prefix = "0xffff800080201000: level 1 entry 0x0 (index 1 of the table at pa ";
            CHECK(e.message().substr(0, prefix.size()) == prefix);
        }

        // The tables are scattered over both segments.
        std::set<std::uint64_t> table_pages;
        for (const auto& page : pages) {
            RecordingReader walk(mem, order);
            t->translate(page.va, walk.reader());
            for (const auto& [pa, entry] : walk.reads)
                table_pages.insert(pa & ~std::uint64_t{0xfff});
        }
        CHECK(std::count_if(table_pages.begin(), table_pages.end(), [](std::uint64_t pa) { return pa < four_gib; }) >
              0);
        CHECK(std::count_if(table_pages.begin(), table_pages.end(), [](std::uint64_t pa) { return pa >= four_gib; }) >
              0);
    }
}

TEST_CASE("amd64 builder: refuses what a kernel could not map") {
    PhysMemory mem({{.start = 0x100000, .size = 0x1000000}});
    const auto builder = synth::make_page_table_builder("amd64", mem, ByteOrder::little);
    builder->map(0xffff800000200000, 0x200000, 0x200000);
    builder->map(0xffff800000400000, 0x400000, 0x1000);
    check_error([&] { builder->map(0xffff800000201000, 0x201000, 0x1000); }, ErrorKind::usage,
                "va 0xffff800000201000 is already mapped by a 0x200000-byte page");
    check_error([&] { builder->map(0xffff800000400000, 0x400000, 0x200000); }, ErrorKind::usage,
                "va 0xffff800000400000 is already mapped by smaller pages");
    check_error(
        [&] { builder->map(0xffff800000600000, 0x601000, 0x200000); }, ErrorKind::usage,
        "cannot map va 0xffff800000600000 to pa 0x601000 with a 0x200000-byte page: both must be aligned to it");
    check_error([&] { builder->map(0xffff800000600000, 0x600000, 0x3000); }, ErrorKind::usage,
                "amd64 has no 0x3000-byte pages (it has 0x1000, 0x200000, 0x40000000)");
    check_error([&] { builder->map(0x0000800000000000, 0x600000, 0x1000); }, ErrorKind::usage,
                "va 0x800000000000 is not a canonical amd64 address");
    check_error([&] { builder->map(0xffff800000600000, 0x10000000000000, 0x1000); }, ErrorKind::usage,
                "pa 0x10000000000000 of a 0x1000-byte page is beyond the 0x10000000000000-byte physical address "
                "space of amd64");
    check_error([&] { builder->map_range(0xffff800000600000, 0x600000, 0x1800); }, ErrorKind::usage,
                "cannot map 0x1800 bytes from va 0xffff800000600000 to pa 0x600000: va, pa and size must be "
                "multiples of 0x1000");

    // Mapping a page again with the same size moves it.
    builder->map(0xffff800000200000, 0x800000, 0x200000);
    const auto t = make_translator("amd64", {.root = builder->root()});
    const PhysReader read = [&](std::uint64_t pa, MutableByteSpan out) { mem.read(pa, out); };
    CHECK(hex(t->translate(0xffff800000212345, read).pa) == "0x812345");
}

TEST_CASE("amd64-la57 builder: five levels round trip") {
    PhysMemory mem({{.start = 0x100000, .size = 0x1000000}, {.start = four_gib, .size = 0x1000000}});
    const auto builder = synth::make_page_table_builder("amd64-la57", mem, ByteOrder::little);
    builder->map_range(0xff0000003fdff000, 0x3fdff000, 0x1000 + 0x200000 + 0x40000000);
    builder->map(0x0000800000000000, 0x104000000, 0x1000);  // canonical only with 5 levels
    check_error([&] { builder->map(0x0100000000000000, 0x600000, 0x1000); }, ErrorKind::usage,
                "va 0x100000000000000 is not a canonical amd64-la57 address");
    const auto t = make_translator("amd64-la57", {.root = builder->root()});
    for (const auto& page : std::vector<ExpectedPage>{{0xff0000003fdff000, 0x3fdff000, 0x1000},
                                                      {0xff0000003fe00000, 0x3fe00000, 0x200000},
                                                      {0xff00000040000000, 0x40000000, 0x40000000},
                                                      {0x0000800000000000, 0x104000000, 0x1000}})
        check_page(*t, mem, ByteOrder::little, page, 0x1000);
}

TEST_CASE("i386 builder: 4 KiB and 4 MiB pages below 4 GiB") {
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        PhysMemory mem({{.start = 0x1000, .size = 0x9e000}, {.start = 0x100000, .size = 0x7f00000}});
        const auto builder = synth::make_page_table_builder("i386", mem, order);
        builder->map_range(0xc03fe000, 0x3fe000, 0x2000 + 0x400000 + 0x1000);
        builder->map(0xfffff000, 0xfffff000, 0x1000);  // the last page of both spaces
        const auto t = make_translator("i386", {.root = builder->root(), .order = order});
        for (const auto& page : std::vector<ExpectedPage>{{0xc03fe000, 0x3fe000, 0x1000},
                                                          {0xc03ff000, 0x3ff000, 0x1000},
                                                          {0xc0400000, 0x400000, 0x400000},
                                                          {0xc0800000, 0x800000, 0x1000},
                                                          {0xfffff000, 0xfffff000, 0x1000}})
            check_page(*t, mem, order, page, 0x1000);
        check_error([&] { builder->map(0xc0000000, four_gib, 0x1000); }, ErrorKind::usage,
                    "pa 0x100000000 of a 0x1000-byte page is beyond the 0x100000000-byte physical address space of "
                    "i386");
        check_error([&] { builder->map(four_gib, 0x1000, 0x1000); }, ErrorKind::usage,
                    "va 0x100000000 is above the 32-bit address space of i386");
    }
    // i386 tables must lie below 4 GiB: RAM above it is no use.
    PhysMemory high({{.start = four_gib, .size = 0x100000}});
    check_error([&] { synth::make_page_table_builder("i386", high, ByteOrder::little); }, ErrorKind::usage,
                "cannot allocate 1 page aligned to 0x1000 below 0x100000000: no free range of 0x1000 bytes in RAM");
}

TEST_CASE("i386-pae builder: four contiguous directories below 4 GiB, pages above it") {
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        PhysMemory mem({{.start = 0x100000, .size = 0x100000}, {.start = four_gib, .size = 0x10000000}});
        const auto builder = synth::make_page_table_builder("i386-pae", mem, order);
        const std::uint64_t root = builder->root();
        CHECK(root % 0x1000 == 0);
        CHECK(root + 0x4000 <= 0x200000);
        for (std::uint64_t page = root; page < root + 0x4000; page += 0x1000)
            CHECK(mem.is_written(page));

        builder->map(0xc0201000, 0x123456000, 0x1000);
        builder->map_range(0xc03ff000, 0x2003ff000, 0x1000 + 0x200000);
        builder->map(0x00400000, 0x200000, 0x200000);
        // The kcore header's PAE flag may stay in the root.
        const auto t = make_translator("i386-pae", {.root = root | 0x200, .order = order});
        for (const auto& page : std::vector<ExpectedPage>{{0xc0201000, 0x123456000, 0x1000},
                                                          {0xc03ff000, 0x2003ff000, 0x1000},
                                                          {0xc0400000, 0x200400000, 0x200000},
                                                          {0x00400000, 0x200000, 0x200000}})
            check_page(*t, mem, order, page, 0x1000);

        // 0xc0201000 is entry 1537 of the 2048: the fourth directory page, entry 1 (pa +8).
        RecordingReader recorder(mem, order);
        t->translate(0xc0201000, recorder.reader());
        REQUIRE(recorder.reads.size() == 2);
        CHECK(hex(recorder.reads[0].first) == hex(root + 0x3000 + 0x8));
    }
}
