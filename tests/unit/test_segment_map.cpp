// SegmentMap: segments added in priority order never overlap, and keep
// their file-backed part and zero tail straight when cut.
#include <doctest/doctest.h>

#include "core/segment_map.h"

#include <vector>

using kvm::detail::Segment;
using kvm::detail::SegmentMap;

namespace {

std::vector<Segment> all(const SegmentMap& m) {
    return {m.segments().begin(), m.segments().end()};
}

bool same(const Segment& a, const Segment& b) {
    return a.start == b.start && a.size == b.size && a.target == b.target && a.file_size == b.file_size;
}

}  // namespace

TEST_CASE("SegmentMap: later segments keep only what earlier ones leave uncovered") {
    const std::vector<Segment> in = {
        {.start = 0x1000, .size = 0x1000, .target = 0x100, .file_size = 0x1000},    // first: kept whole
        {.start = 0x0, .size = 0x4000, .target = 0x9000, .file_size = 0x2800},      // around it: cut in two
        {.start = 0x3800, .size = 0x1000, .target = 0x20000, .file_size = 0x1000},  // overlaps the tail
        {.start = 0x8000, .size = 0, .target = 0, .file_size = 0},                  // empty: ignored
    };
    const SegmentMap m(in);
    const auto s = all(m);
    REQUIRE(s.size() == 4);
    CHECK(same(s[0], {.start = 0x0, .size = 0x1000, .target = 0x9000, .file_size = 0x1000}));
    CHECK(same(s[1], {.start = 0x1000, .size = 0x1000, .target = 0x100, .file_size = 0x1000}));
    // The second segment's part after the first: its file bytes end 0x800 in.
    CHECK(same(s[2], {.start = 0x2000, .size = 0x2000, .target = 0xb000, .file_size = 0x800}));
    CHECK(same(s[3], {.start = 0x4000, .size = 0x800, .target = 0x20800, .file_size = 0x800}));

    CHECK(m.find(0x0) == &m.segments()[0]);
    CHECK(m.find(0x1fff) == &m.segments()[1]);
    CHECK(m.find(0x47ff) == &m.segments()[3]);
    CHECK(m.find(0x4800) == nullptr);
    CHECK(SegmentMap().find(0) == nullptr);
}

TEST_CASE("SegmentMap: a segment inside an earlier one disappears; one spanning several fills the gaps") {
    const std::vector<Segment> in = {
        {.start = 0x2000, .size = 0x1000, .target = 0, .file_size = 0x1000},
        {.start = 0x5000, .size = 0x1000, .target = 0, .file_size = 0x1000},
        {.start = 0x2800, .size = 0x100, .target = 0x7777, .file_size = 0x100},
        {.start = 0x1000, .size = 0x6000, .target = 0x10000, .file_size = 0x6000},
    };
    const auto s = all(SegmentMap(in));
    REQUIRE(s.size() == 5);
    CHECK(same(s[0], {.start = 0x1000, .size = 0x1000, .target = 0x10000, .file_size = 0x1000}));
    CHECK(same(s[2], {.start = 0x3000, .size = 0x2000, .target = 0x12000, .file_size = 0x2000}));
    CHECK(same(s[4], {.start = 0x6000, .size = 0x1000, .target = 0x15000, .file_size = 0x1000}));
}
