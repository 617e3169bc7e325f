// PhysMemory: synthetic RAM and scattered allocation.
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
