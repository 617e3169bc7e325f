// PTE-list tests of the translators (libkdumpfile's addrxlat tests): raw
// entries planted at physical addresses, exact VA -> PA for every page size
// of each scheme, and exact fault errors.  Indices and offsets below were
// worked out by hand from the VAs, not with the code under test.
#include <kvm/arch.h>
#include <kvm/error.h>

#include "arch/page_map.h"
#include "translate_fixture.h"

#include <doctest/doctest.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace kvm;
using kvmtest::check_fault;
using kvmtest::check_mapping;
using kvmtest::PlantedTables;

namespace {

constexpr std::array both_orders{ByteOrder::little, ByteOrder::big};

// amd64, 4 levels, root (PML4) at 0x1000.
std::map<std::uint64_t, std::uint64_t> amd64_entries() {
    return {
        {0x1800, 0x2003},              // PML4[256] -> PDPT 0x2000
        {0x1810, 0x7ffff003},          // PML4[258] -> a table that is not in the dump
        {0x1ff8, 0x1003},              // PML4[511] -> the PML4 itself
        {0x2000, 0x3003},              // PDPT[0] -> PD 0x3000
        {0x2008, 0x8000000180001083},  // PDPT[1]: 1 GiB page at 0x180000000 (NX and PAT set)
        {0x3008, 0x4003},              // PD[1] -> PT 0x4000
        {0x3010, 0x8000000040001083},  // PD[2]: 2 MiB page at 0x40000000 (NX and PAT set)
        {0x3018, 0x5002},              // PD[3]: writable but not present
        {0x4008, 0xfff0000012345063},  // PT[1]: 4 KiB page at 0x12345000 (NX and software bits set)
    };
}

}  // namespace

TEST_CASE("the translator table has one row per scheme and names unknown ones") {
    std::vector<std::string> names;
    for (const auto& row : all_translators()) {
        names.emplace_back(row.name);
        CHECK(make_translator(row.name, {})->name() == row.name);
    }
    CHECK(names == std::vector<std::string>{"amd64", "amd64-la57", "i386", "i386-pae", "i386-pae-pdpt", "arm64"});
    try {
        make_translator("sparc64", {});
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::unsupported);
        CHECK(e.message() ==
              "unknown paging scheme \"sparc64\" (known: amd64, amd64-la57, i386, i386-pae, i386-pae-pdpt, "
              "arm64)");
    }
}

TEST_CASE("amd64: planted entries map 4 KiB, 2 MiB and 1 GiB pages in either byte order") {
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        const PlantedTables mem(8, order, amd64_entries());
        const auto t = make_translator("amd64", {.root = 0x1000, .order = order});
        check_mapping(*t, mem.reader(), 0xffff800000201234, 0x12345234, 0xdcc, 0x1000);
        check_mapping(*t, mem.reader(), 0xffff800000201000, 0x12345000, 0x1000, 0x1000);
        check_mapping(*t, mem.reader(), 0xffff800000201fff, 0x12345fff, 1, 0x1000);
        check_mapping(*t, mem.reader(), 0xffff800000512345, 0x40112345, 0xedcbb, 0x200000);
        check_mapping(*t, mem.reader(), 0xffff8000005fffff, 0x401fffff, 1, 0x200000);
        check_mapping(*t, mem.reader(), 0xffff800043456789, 0x183456789, 0x3cba9877, 0x40000000);
        check_mapping(*t, mem.reader(), 0xffff80007fffffff, 0x1bfffffff, 1, 0x40000000);
    }
}

TEST_CASE("amd64: faults name the address, level, index, table and raw entry") {
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        const PlantedTables mem(8, order, amd64_entries());
        const auto t = make_translator("amd64", {.root = 0x1000, .order = order});
        const PhysReader read = mem.reader();
        check_fault(*t, read, 0xffff808000000000,
                    "0xffff808000000000: level 4 entry 0x0 (index 257 of the table at pa 0x1000) is not valid");
        check_fault(*t, read, 0xffff800080000000,
                    "0xffff800080000000: level 3 entry 0x0 (index 2 of the table at pa 0x2000) is not valid");
        check_fault(*t, read, 0xffff800000600000,
                    "0xffff800000600000: level 2 entry 0x5002 (index 3 of the table at pa 0x3000) is not valid");
        check_fault(*t, read, 0xffff800000000000,
                    "0xffff800000000000: level 2 entry 0x0 (index 0 of the table at pa 0x3000) is not valid");
        check_fault(*t, read, 0xffff800000202000,
                    "0xffff800000202000: level 1 entry 0x0 (index 2 of the table at pa 0x4000) is not valid");
        check_fault(*t, read, 0xffff810000000000,
                    "0xffff810000000000: level 3 table at pa 0x7ffff000 is not in the dump "
                    "(from level 4 entry 0x7ffff003)");
    }
}

TEST_CASE("amd64: non-canonical addresses fault before any read") {
    const PlantedTables mem(8, ByteOrder::little, amd64_entries());
    const auto t = make_translator("amd64", {.root = 0x1000});
    check_fault(*t, mem.reader(), 0x0000800000000000,
                "0x800000000000: non-canonical address (bits 63..48 are not all copies of bit 47)");
    check_fault(*t, mem.reader(), 0xffff7fffffffffff,
                "0xffff7fffffffffff: non-canonical address (bits 63..48 are not all copies of bit 47)");
    check_fault(*t, mem.reader(), 0x0001000000000000,
                "0x1000000000000: non-canonical address (bits 63..48 are not all copies of bit 47)");
    // The highest user address is canonical: the walk runs and finds PML4[255] empty.
    check_fault(*t, mem.reader(), 0x00007fffffffffff,
                "0x7fffffffffff: level 4 entry 0x0 (index 255 of the table at pa 0x1000) is not valid");
}

TEST_CASE("amd64: a root that is not in the dump, and a reader's other errors") {
    const PlantedTables mem(8, ByteOrder::little, amd64_entries());
    const auto t = make_translator("amd64", {.root = 0x9000000});
    check_fault(*t, mem.reader(), 0xffff800000201234,
                "0xffff800000201234: level 4 table at pa 0x9000000 is not in the dump (the page-table root)");

    // An i/o error is not a missing page: its kind survives and the walk adds where it was.
    const PhysReader failing = [](std::uint64_t, MutableByteSpan) {
        throw Error(ErrorKind::io, "reading core: Input/output error");
    };
    try {
        t->translate(0xffff800000201234, failing);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::io);
        CHECK(e.message() ==
              "0xffff800000201234: reading level 4 table at pa 0x9000000: reading core: Input/output error");
    }
}

TEST_CASE("amd64: an entry pointing back at its own table ends after four levels") {
    // PML4[511] points at the PML4, so 0xfffffffffffff000 walks the PML4 as
    // every level and its last entry maps the PML4 page itself.
    const PlantedTables mem(8, ByteOrder::little, amd64_entries());
    const auto t = make_translator("amd64", {.root = 0x1000});
    check_mapping(*t, mem.reader(), 0xfffffffffffff123, 0x1123, 0xedd, 0x1000);
}

TEST_CASE("amd64: entries stored big-endian do not translate when read little-endian") {
    const PlantedTables mem(8, ByteOrder::big, amd64_entries());
    const auto t = make_translator("amd64", {.root = 0x1000, .order = ByteOrder::little});
    check_fault(*t, mem.reader(), 0xffff800000201234,
                "0xffff800000201234: level 4 entry 0x320000000000000 (index 256 of the table at pa 0x1000) is not "
                "valid");
}

TEST_CASE("amd64-la57: five levels and 57-bit canonical addresses") {
    const std::map<std::uint64_t, std::uint64_t> entries{
        {0x1800, 0x2003},       // L5[256] -> PML4 0x2000
        {0x1808, 0x7ffff003},   // L5[257] -> a table that is not in the dump
        {0x2000, 0x3003},       // PML4[0] -> PDPT 0x3000
        {0x3000, 0x4003},       // PDPT[0] -> PD 0x4000
        {0x3008, 0x180000083},  // PDPT[1]: 1 GiB page at 0x180000000
        {0x4008, 0x5003},       // PD[1] -> PT 0x5000
        {0x4010, 0x40000083},   // PD[2]: 2 MiB page at 0x40000000
        {0x5008, 0x12345063},   // PT[1]: 4 KiB page at 0x12345000
    };
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        const PlantedTables mem(8, order, entries);
        const auto t = make_translator("amd64-la57", {.root = 0x1000, .order = order});
        const PhysReader read = mem.reader();
        check_mapping(*t, read, 0xff00000000201234, 0x12345234, 0xdcc, 0x1000);
        check_mapping(*t, read, 0xff00000000201fff, 0x12345fff, 1, 0x1000);
        check_mapping(*t, read, 0xff00000000512345, 0x40112345, 0xedcbb, 0x200000);
        check_mapping(*t, read, 0xff00000043456789, 0x183456789, 0x3cba9877, 0x40000000);
        check_fault(*t, read, 0x0100000000000000,
                    "0x100000000000000: non-canonical address (bits 63..57 are not all copies of bit 56)");
        check_fault(*t, read, 0xfeffffffffffffff,
                    "0xfeffffffffffffff: non-canonical address (bits 63..57 are not all copies of bit 56)");
        // Non-canonical for 4 levels, canonical for 5: the walk runs.
        check_fault(*t, read, 0x0000800000000000,
                    "0x800000000000: level 5 entry 0x0 (index 0 of the table at pa 0x1000) is not valid");
        check_fault(*t, read, 0xff00000080000000,
                    "0xff00000080000000: level 3 entry 0x0 (index 2 of the table at pa 0x3000) is not valid");
        check_fault(*t, read, 0xff01000000000000,
                    "0xff01000000000000: level 4 table at pa 0x7ffff000 is not in the dump "
                    "(from level 5 entry 0x7ffff003)");
    }
}

TEST_CASE("i386: 4 KiB and 4 MiB pages, 32-bit addresses only") {
    const std::map<std::uint64_t, std::uint64_t> entries{
        {0x1c00, 0x2003},      // PD[768] -> PT 0x2000
        {0x1c0c, 0x01c01083},  // PD[771]: 4 MiB page at 0x1c00000 (PAT set)
        {0x1c10, 0x7ffff003},  // PD[772] -> a table that is not in the dump
        {0x1ffc, 0x1003},      // PD[1023] -> the page directory itself
        {0x2404, 0x00345063},  // PT[257]: 4 KiB page at 0x345000
    };
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        const PlantedTables mem(4, order, entries);
        const auto t = make_translator("i386", {.root = 0x1000, .order = order});
        const PhysReader read = mem.reader();
        check_mapping(*t, read, 0xc0101234, 0x345234, 0xdcc, 0x1000);
        check_mapping(*t, read, 0xc0101fff, 0x345fff, 1, 0x1000);
        check_mapping(*t, read, 0xc0c12345, 0x1c12345, 0x3edcbb, 0x400000);
        check_mapping(*t, read, 0xc0ffffff, 0x1ffffff, 1, 0x400000);
        // The recursive slot: the directory is its own page table.
        check_mapping(*t, read, 0xfffff123, 0x1123, 0xedd, 0x1000);
        check_fault(*t, read, 0x100000000, "0x100000000: above the 32-bit virtual address space of i386");
        check_fault(*t, read, 0xc0400000,
                    "0xc0400000: level 2 entry 0x0 (index 769 of the table at pa 0x1000) is not valid");
        check_fault(*t, read, 0xc0102000,
                    "0xc0102000: level 1 entry 0x0 (index 258 of the table at pa 0x2000) is not valid");
        check_fault(*t, read, 0xc1000000,
                    "0xc1000000: level 1 table at pa 0x7ffff000 is not in the dump (from level 2 entry 0x7ffff003)");
    }
}

TEST_CASE("i386-pae: four contiguous directory pages, 4 KiB and 2 MiB pages") {
    // The directory is 0x10000..0x13fff; 0xc0000000 and up index its fourth page.
    const std::map<std::uint64_t, std::uint64_t> entries{
        {0x10010, 0x20003},             // PD[2] -> PT 0x20000
        {0x10018, 0x0},                 // PD[3]: empty
        {0x13008, 0x21003},             // PD[1537] (fourth page) -> PT 0x21000
        {0x13010, 0x8000000200001083},  // PD[1538]: 2 MiB page at 0x200000000 (NX and PAT set)
        {0x13018, 0x7ffff003},          // PD[1539] -> a table that is not in the dump
        {0x20008, 0xabcde063},          // PT 0x20000 [1]: 4 KiB page at 0xabcde000
        {0x21008, 0x8000000123456063},  // PT 0x21000 [1]: 4 KiB page above 4 GiB
    };
    for (const ByteOrder order : both_orders) {
        CAPTURE(to_string(order));
        const PlantedTables mem(8, order, entries);
        // The kcore header's I386_KCORE_PAE flag (0x200) may stay in the root.
        const auto t = make_translator("i386-pae", {.root = 0x10200, .order = order});
        const PhysReader read = mem.reader();
        check_mapping(*t, read, 0x00401234, 0xabcde234, 0xdcc, 0x1000);
        check_mapping(*t, read, 0xc0201234, 0x123456234, 0xdcc, 0x1000);
        check_mapping(*t, read, 0xc0201fff, 0x123456fff, 1, 0x1000);
        check_mapping(*t, read, 0xc0412345, 0x200012345, 0x1edcbb, 0x200000);
        check_mapping(*t, read, 0xc05fffff, 0x2001fffff, 1, 0x200000);
        check_fault(*t, read, 0x100000000, "0x100000000: above the 32-bit virtual address space of i386-pae");
        check_fault(*t, read, 0x00600000,
                    "0x600000: level 2 entry 0x0 (index 3 of the table at pa 0x10000) is not valid");
        check_fault(*t, read, 0xc0202000,
                    "0xc0202000: level 1 entry 0x0 (index 2 of the table at pa 0x21000) is not valid");
        check_fault(*t, read, 0xc0600000,
                    "0xc0600000: level 1 table at pa 0x7ffff000 is not in the dump (from level 2 entry 0x7ffff003)");
    }
}

// ---------------------------------------------------------------- page maps

namespace {

// A page map held in memory: entry i of `entries`, in `order`.
paging::PageMapReader map_reader(std::vector<std::uint64_t> entries, unsigned entry_size, ByteOrder order) {
    return [entries = std::move(entries), entry_size, order](std::uint64_t index, MutableByteSpan out) {
        REQUIRE(out.size() == entry_size);
        store_uint(out.data(), entries.at(index), entry_size, order);
    };
}

std::unique_ptr<Translator> page_map(std::string_view form, std::uint64_t base, std::uint64_t entries,
                                     paging::PageMapReader read, ByteOrder order = ByteOrder::little) {
    const paging::PageMapForm* f = paging::find_page_map_form(form);
    REQUIRE(f != nullptr);
    return paging::make_page_map_translator(
        *f, {.order = order, .base = base, .entries = entries, .read = std::move(read)});
}

}  // namespace

TEST_CASE("page maps: one level's entries from a flat table, the levels below from the dump") {
    for (const ByteOrder order : both_orders) {
        INFO(to_string(order));
        // amd64 PDEs from 0xfffffe0000000000: a 2 MiB page, a page table, a
        // hole, a page table that is not in the dump.
        const PlantedTables tables(8, order, {{0x4008, 0x12345063}});
        const std::uint64_t base = 0xfffffe0000000000;
        const auto pde = page_map("amd64-pde-map", base, 4,
                                  map_reader({0x8000000040000083, 0x4003, 0x0, 0x7000003}, 8, order), order);
        CHECK(pde->name() == "amd64-pde-map");
        check_mapping(*pde, tables.reader(), base + 0x1234, 0x40001234, 0x200000 - 0x1234, 0x200000);
        check_mapping(*pde, tables.reader(), base + 0x201010, 0x12345010, 0xff0, 0x1000);
        check_fault(*pde, tables.reader(), base + 0x400000,
                    "0xfffffe0000400000: level 2 entry 0x0 (index 2 of the page map) is not valid");
        check_fault(*pde, tables.reader(), base + 0x600000,
                    "0xfffffe0000600000: level 1 table at pa 0x7000000 is not in the dump (from level 2 entry "
                    "0x7000003)");
        check_fault(*pde, tables.reader(), base + 0x202000,
                    "0xfffffe0000202000: level 1 entry 0x0 (index 2 of the table at pa 0x4000) is not valid");
        check_fault(*pde, tables.reader(), base + 0x800000,
                    "0xfffffe0000800000: beyond the page map (index 4 of 4 entries from 0xfffffe0000000000)");
        check_fault(*pde, tables.reader(), 0x1000, "0x1000: below 0xfffffe0000000000, where the page map starts");
    }

    const PlantedTables none(8, ByteOrder::little, {});
    // DragonFly's: PDPT entries by absolute address; 0xffffffff80000000 is
    // entry (va >> 30) & 0x3ffff = 0x3fffe, a 1 GiB page at 0x80000000.
    std::vector<std::uint64_t> pdpes(512 * 512);
    pdpes[0x3fffe] = 0x80000083;
    const auto pdpe =
        page_map("amd64-pdpe-map-absolute", 0xffffff8000000000, pdpes.size(), map_reader(pdpes, 8, ByteOrder::little));
    check_mapping(*pdpe, none.reader(), 0xffffffff80001234, 0x80001234, 0x40000000 - 0x1234, 0x40000000);
    check_fault(*pdpe, none.reader(), 0xffffffffc0000000,
                "0xffffffffc0000000: level 3 entry 0x0 (index 262143 of the page map) is not valid");

    // i386: 4-byte PTEs from 0xc0000000; nothing above 32 bits.
    const auto pte = page_map("i386-pte-map", 0xc0000000, 16, map_reader({0, 0x345003}, 4, ByteOrder::little));
    check_mapping(*pte, none.reader(), 0xc0001008, 0x345008, 0xff8, 0x1000);
    check_fault(*pte, none.reader(), 0x100000000, "0x100000000: above the 32-bit virtual address space of i386");

    // arm64 level 3 descriptors of 16 KiB pages: bits 1..0 must be 0b11.
    const auto l3 = page_map("arm64-l3-map-16k", 0xffff000000000000, 4,
                             map_reader({0, 0, 0x0040000040008403, 0x40008001}, 8, ByteOrder::little));
    check_mapping(*l3, none.reader(), 0xffff000000008010, 0x40008010, 0x3ff0, 0x4000);
    check_fault(*l3, none.reader(), 0xffff00000000c000,
                "0xffff00000000c000: level 3 entry 0x40008001 (index 3 of the page map) is not valid");

    // A map that cannot be read keeps the reader's error, with the entry.
    const auto broken = page_map("amd64-pte-map", 0xffffffff80000000, 8, [](std::uint64_t, MutableByteSpan) {
        throw_corrupt("vmcore.0: truncated: page map entry 3 needs 8 bytes");
    });
    try {
        broken->translate(0xffffffff80003000, none.reader());
        FAIL("translated without an error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::corrupt);
        CHECK(
            e.message() ==
            "0xffffffff80003000: reading entry 3 of the page map: vmcore.0: truncated: page map entry 3 needs 8 bytes");
    }
    CHECK(paging::find_page_map_form("sparc64-map") == nullptr);
    CHECK(paging::all_page_map_forms().size() == 7);
}
