// EntrySet, the walkers' guard against cycles and overlapping structures:
// its answers at the edges of the cells it keeps its entries in.
#include <doctest/doctest.h>

#include "procs/list_walk.h"

using kvm::detail::EntrySet;
using Seen = EntrySet::Seen;

TEST_CASE("EntrySet: fresh entries, repeats, and overlaps on either side") {
    EntrySet set("struct proc", 0x100);
    CHECK(set.insert(0x1000).seen == Seen::fresh);
    CHECK(set.insert(0x1100).seen == Seen::fresh);  // exactly one structure apart
    CHECK(set.insert(0x0f00).seen == Seen::fresh);
    const auto repeat = set.insert(0x1000);
    CHECK(repeat.seen == Seen::repeat);
    CHECK(repeat.other == 0x1000);
    // Inside the entry before: the cell of 0x1080 holds 0x1000.
    const auto inside = set.insert(0x1080);
    CHECK(inside.seen == Seen::overlap);
    CHECK(inside.other == 0x1000);
    // In a cell whose entry is above it: the one it starts inside is in
    // the cell below.
    CHECK(set.insert(0x2080).seen == Seen::fresh);
    CHECK(set.insert(0x21f0).seen == Seen::fresh);
    const auto below = set.insert(0x2110);
    CHECK(below.seen == Seen::overlap);
    CHECK(below.other == 0x2080);
    // Not inside the one before, but reaching the one after in its cell.
    CHECK(set.insert(0x1250).seen == Seen::fresh);
    const auto after = set.insert(0x1210);
    CHECK(after.seen == Seen::overlap);
    CHECK(after.other == 0x1250);
    // Starting before an entry, reaching into it.
    const auto reaching = set.insert(0x0e10);
    CHECK(reaching.seen == Seen::overlap);
    CHECK(reaching.other == 0x0f00);
    CHECK(set.insert(0x0e00).seen == Seen::fresh);  // ends where 0x0f00 starts
    CHECK(set.contains(0x1250));
    CHECK_FALSE(set.contains(0x1251));
    CHECK_FALSE(set.contains(0x1210));  // refused entries are not kept
}

TEST_CASE("EntrySet: overlapping() with a structure of another size") {
    EntrySet set("struct proc", 0x100);
    CHECK(set.insert(0x10000).seen == Seen::fresh);
    CHECK(set.insert(0x10400).seen == Seen::fresh);
    for (const std::uint64_t far : {0x900000, 0x910000, 0x920000})
        CHECK(set.insert(far).seen == Seen::fresh);
    // The entry it starts inside comes first.
    CHECK(set.overlapping(0x100f0, 0x1000) == std::optional<std::uint64_t>(0x10000));
    // Past the first entry: the next one it reaches, several cells on.
    CHECK(set.overlapping(0x10100, 0x301) == std::optional<std::uint64_t>(0x10400));
    CHECK(set.overlapping(0x10100, 0x300) == std::nullopt);
    // Wider than every entry together: each entry is looked at.
    CHECK(set.overlapping(0x200, 0x100000) == std::optional<std::uint64_t>(0x10000));
    CHECK(set.overlapping(0x10500, 0x100000) == std::nullopt);
    CHECK(set.overlapping(0x10401, 0) == std::optional<std::uint64_t>(0x10400));
    // At the top of the address space the range stops at the last address.
    CHECK(set.insert(~std::uint64_t{0} - 0xff).seen == Seen::fresh);
    CHECK(set.overlapping(~std::uint64_t{0} - 0x1ff, 0x1000) == std::optional<std::uint64_t>(~std::uint64_t{0} - 0xff));
    CHECK(set.overlapping(0, 0x10) == std::nullopt);
}

TEST_CASE("EntrySet: a size of 0 is taken as 1") {
    EntrySet set("marker", 0);
    CHECK(set.size() == 1);
    CHECK(set.insert(5).seen == Seen::fresh);
    CHECK(set.insert(6).seen == Seen::fresh);
    CHECK(set.insert(5).seen == Seen::repeat);
}
