// The arm64 translator: descriptors planted by hand for each granule (raw
// values and indices worked out from the Arm ARM's descriptor formats, not
// with the code under test), every granule and VA size through the
// synthetic builder (an independent reading of the same facts), and exact
// faults for what a dump may hold wrongly.
#include <kvm/arch.h>
#include <kvm/error.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "arch/user_translator.h"
#include "elf_fixture.h"
#include "translate_fixture.h"

using namespace kvm;
using kvmtest::check_error;
using kvmtest::check_fault;
using kvmtest::check_mapping;
using kvmtest::PlantedTables;

namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t gib = std::uint64_t{1} << 30;

std::unique_ptr<Translator> arm64(std::uint64_t root, std::uint32_t granule, unsigned va_bits,
                                  ByteOrder order = ByteOrder::little) {
    return make_translator("arm64", {.root = root, .order = order, .granule = granule, .va_bits = va_bits});
}

}  // namespace

TEST_CASE("arm64, 4 KiB pages, 48-bit VAs: pages, 1 GiB and 2 MiB blocks, contiguous hints, either byte order") {
    for (const ByteOrder order : {ByteOrder::little, ByteOrder::big}) {
        CAPTURE(to_string(order));
        const PlantedTables mem(8, order,
                                {
                                    {0x1800, 0x1000000000002003},  // L0[256] -> L1 0x2000 (UXNTable set)
                                    {0x1808, 0x0000008000000401},  // L0[257]: a block, which level 0 cannot be
                                    {0x2000, 0x3003},              // L1[0] -> L2 0x3000
                                    {0x2008, 0x0060000080000701},  // L1[1]: 1 GiB block at 0x80000000 (PXN, UXN)
                                    {0x2010, 0x0001000000004003},  // L1[2]: address bit 48, beyond 48-bit PAs
                                    {0x2018, 0x7ffff003},          // L1[3] -> a table not in the dump
                                    {0x3000, 0x4003},              // L2[0] -> L3 0x4000
                                    {0x3008, 0x0070000040200701},  // L2[1]: 2 MiB block at 0x40200000, contiguous
                                    {0x3010, 0x5003},              // L2[2] -> L3 0x5000
                                    {0x3018, 0x1003},              // L2[3] -> the level 0 table
                                    {0x4008, 0x0008000012345703},  // L3[1]: page 0x12345000 (DBM set)
                                    {0x5000, 0x12346701},          // L3[0]: 0b01 at level 3, reserved
                                });
        const auto t = arm64(0x1000, 4096, 48, order);
        CHECK(t->name() == "arm64");
        const PhysReader read = mem.reader();
        check_mapping(*t, read, 0xffff800000001234, 0x12345234, 0xdcc, 0x1000);
        check_mapping(*t, read, 0xffff800000001fff, 0x12345fff, 1, 0x1000);
        check_mapping(*t, read, 0xffff800040123456, 0x80123456, 0x3fedcbaa, gib);
        check_mapping(*t, read, 0xffff800000201234, 0x40201234, 0x1fedcc, 2 * kib * kib);
        check_fault(*t, read, 0xffff800000002000,
                    "0xffff800000002000: level 3 entry 0x0 (index 2 of the table at pa 0x4000) is not valid");
        check_fault(*t, read, 0xffff800000400000,
                    "0xffff800000400000: level 3 entry 0x12346701 (index 0 of the table at pa 0x5000) is reserved "
                    "(bits 1..0 are 0b01)");
        check_fault(*t, read, 0xffff808000000000,
                    "0xffff808000000000: level 0 entry 0x8000000401 (index 257 of the table at pa 0x1000) is a "
                    "block, which level 0 cannot hold with 4 KiB pages");
        check_fault(*t, read, 0xffff800080000000,
                    "0xffff800080000000: level 1 entry 0x1000000004003 (index 2 of the table at pa 0x2000) has an "
                    "address beyond the 48-bit physical address space");
        check_fault(*t, read, 0xffff8000c0000000,
                    "0xffff8000c0000000: level 2 table at pa 0x7ffff000 is not in the dump (from level 1 entry "
                    "0x7ffff003)");
        check_fault(*t, read, 0xffff800000600000,
                    "0xffff800000600000: level 2 entry 0x1003 (index 3 of the table at pa 0x3000) points back at the "
                    "level 0 table at pa 0x1000");
        check_fault(*t, read, 0xffff000000000000,
                    "0xffff000000000000: level 0 entry 0x0 (index 0 of the table at pa 0x1000) is not valid");
    }
}

TEST_CASE("arm64: only the kernel half is translated, and the root must be in the dump") {
    const PlantedTables mem(8, ByteOrder::little, {{0x1800, 0x2003}});
    const auto t = arm64(0x1000, 4096, 48);
    for (const std::uint64_t va : {0x0000800000000000ull, 0xfffe800000000000ull, 0x7fff800000000000ull})
        check_fault(*t, mem.reader(), va,
                    fmt::format("{}: not in the kernel half of a 48-bit address space (bits 63..48 are not all ones)",
                                hex(va)));
    const auto t39 = arm64(0x1000, 4096, 39);
    check_fault(*t39, mem.reader(), 0xffffff0000000000 - 1,
                "0xfffffeffffffffff: not in the kernel half of a 39-bit address space (bits 63..39 are not all ones)");
    const auto far = arm64(0x90000000, 4096, 48);
    check_fault(*far, mem.reader(), 0xffff800000000000,
                "0xffff800000000000: level 0 table at pa 0x90000000 is not in the dump (the page-table root)");
}

TEST_CASE("arm64: a process's table (TTBR0, mm->pgd) translates the user half, with the kernel's indices") {
    // 0x0000ffffef45efca (an argument page near the top of a 48-bit user
    // stack): indices 511, 511, 378 and 94; the same indices as the kernel
    // address 0xffffffffef45efca, which a user root must refuse.
    const PlantedTables mem(8, ByteOrder::little,
                            {
                                {0x1ff8, 0x2003},              // L0[511] -> L1 0x2000
                                {0x2ff8, 0x3003},              // L1[511] -> L2 0x3000
                                {0x3bd0, 0x4003},              // L2[378] -> L3 0x4000
                                {0x42f0, 0x0060000076543fc3},  // L3[94]: page 0x76543000 (user, UXN/PXN)
                            });
    const auto user = make_user_translator("arm64", {.root = 0x1000, .granule = 4096, .va_bits = 48});
    check_mapping(*user, mem.reader(), 0x0000ffffef45efca, 0x76543fca, 0x36, 0x1000);
    for (const std::uint64_t va : {0xffffffffef45efcaull, 0x0001000000000000ull, 0x8000ffffef45efcaull})
        check_fault(
            *user, mem.reader(), va,
            fmt::format("{}: not in the user half of a 48-bit address space (bits 63..48 are not all zeros)", hex(va)));
    check_fault(*arm64(0x1000, 4096, 48), mem.reader(), 0x0000ffffef45efca,
                "0xffffef45efca: not in the kernel half of a 48-bit address space (bits 63..48 are not all ones)");
}

TEST_CASE("arm64, 64 KiB pages, 52-bit VAs: address bits 51..48 in descriptor bits 15..12, 4 TiB blocks") {
    const PlantedTables mem(8, ByteOrder::little,
                            {
                                {0x10000, 0x2f003},                  // L1[0] -> L2 at 0xf000000020000
                                {0x10008, 0xb401},                   // L1[1]: 4 TiB block at 0xb000000000000
                                {0xf000000020000, 0x30003},          // L2[0] -> L3 0x30000
                                {0xf000000020008, 0x2000a401},       // L2[1]: 512 MiB block at 0xa000020000000
                                {0xf000000020010, 0x3000000040003},  // L2[2]: bits 49..48, beyond 52-bit PAs
                                {0x30008, 0x12345678c403},           // L3[1]: page 0xc123456780000
                            });
    const auto t = arm64(0x10000, 65536, 52);
    const PhysReader read = mem.reader();
    check_mapping(*t, read, 0xfff0000000011234, 0xc123456781234, 0xedcc, 0x10000);
    check_mapping(*t, read, 0xfff0000020345678, 0xa000020345678, 0x1fcba988, 512 * kib * kib);
    check_mapping(*t, read, 0xfff0040000000123, 0xb000000000123, (std::uint64_t{1} << 42) - 0x123,
                  std::uint64_t{1} << 42);
    check_fault(*t, read, 0xfff0000040000000,
                "0xfff0000040000000: level 2 entry 0x3000000040003 (index 2 of the table at pa 0xf000000020000) has "
                "an address beyond the 52-bit physical address space");
    check_fault(*t, read, 0xfff0000000000000,
                "0xfff0000000000000: level 3 entry 0x0 (index 0 of the table at pa 0x30000) is not valid");
    check_fault(*t, read, 0xffef000000000000,
                "0xffef000000000000: not in the kernel half of a 52-bit address space (bits 63..52 are not all ones)");
}

TEST_CASE("arm64, 4 KiB pages, 52-bit VAs (LPA2): level -1, address bits 51..50 in descriptor bits 9..8") {
    const PlantedTables mem(8, ByteOrder::little,
                            {
                                {0x1000, 0x2303},                    // L-1[0] -> L0 at 0xc000000002000
                                {0x1008, 0x401},                     // L-1[1]: a block, never at level -1
                                {0xc000000002000, 0x2000000003003},  // L0[0] -> L1 at 0x2000000003000 (bit 49)
                                {0xc000000002008, 0x1000000000701},  // L0[1]: 512 GiB block at 0xd000000000000
                                {0x2000000003000, 0x4003},           // L1[0] -> L2 0x4000
                                {0x2000000003008, 0x40000601},       // L1[1]: 1 GiB block at 0x8000040000000
                                {0x4000, 0x5003},                    // L2[0] -> L3 0x5000
                                {0x5018, 0x3fffffffff703},           // L3[3]: the last page, 0xffffffffff000
                            });
    const auto t = arm64(0x1000, 4096, 52);
    const PhysReader read = mem.reader();
    check_mapping(*t, read, 0xfff0000000003abc, 0xffffffffffabc, 0x544, 0x1000);
    check_mapping(*t, read, 0xfff0000040000010, 0x8000040000010, gib - 0x10, gib);
    check_mapping(*t, read, 0xfff0008000000000, 0xd000000000000, std::uint64_t{1} << 39, std::uint64_t{1} << 39);
    check_fault(*t, read, 0xfff1000000000000,
                "0xfff1000000000000: level -1 entry 0x401 (index 1 of the table at pa 0x1000) is a block, which level "
                "-1 cannot hold with 4 KiB pages");
    check_fault(*t, read, 0xfff0000080000000,
                "0xfff0000080000000: level 1 entry 0x0 (index 2 of the table at pa 0x2000000003000) is not valid");
}

TEST_CASE("arm64, 16 KiB pages, 47-bit VAs: three levels, 32 MiB blocks, none at level 1") {
    const PlantedTables mem(8, ByteOrder::little,
                            {
                                {0x4000, 0x8003},        // L1[0] -> L2 0x8000
                                {0x4008, 0x1000000401},  // L1[1]: a block, which 16 KiB level 1 cannot be
                                {0x8000, 0xc003},        // L2[0] -> L3 0xc000
                                {0x8008, 0x42000401},    // L2[1]: 32 MiB block at 0x42000000
                                {0xc008, 0x1234c403},    // L3[1]: page 0x1234c000
                            });
    const auto t = arm64(0x4000, 16384, 47);
    const PhysReader read = mem.reader();
    check_mapping(*t, read, 0xffff800000004123, 0x1234c123, 0x3edd, 0x4000);
    check_mapping(*t, read, 0xffff800002000001, 0x42000001, 32 * kib * kib - 1, 32 * kib * kib);
    check_fault(*t, read, 0xffff801000000000,
                "0xffff801000000000: level 1 entry 0x1000000401 (index 1 of the table at pa 0x4000) is a block, "
                "which level 1 cannot hold with 16 KiB pages");
}

TEST_CASE("arm64: granules and VA sizes outside the architecture are usage errors") {
    for (const auto& [granule, va_bits, message] :
         {std::tuple{8192u, 48u, "arm64: a 0x2000-byte translation granule is not one of 0x1000, 0x4000, 0x10000"},
          std::tuple{4096u, 53u, "arm64: 53-bit virtual addresses are outside 25 to 52 bits"},
          std::tuple{65536u, 24u, "arm64: 24-bit virtual addresses are outside 25 to 52 bits"}}) {
        try {
            (void)arm64(0x1000, granule, va_bits);
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::usage);
            CHECK(e.message() == message);
        }
    }
}

// Every granule with every VA size Linux configures (and the others the
// architecture allows between them), built by the synthetic builder:
// the smallest page and every block size, at the top and bottom of the
// kernel half, with physical addresses above 48 bits where the
// configuration has them.
TEST_CASE("arm64: every granule and VA size round-trips through the synthetic page-table builder") {
    struct Config {
        std::uint32_t granule;
        unsigned va_bits;
    };
    for (const Config c :
         {Config{4096, 39}, Config{4096, 42}, Config{4096, 47}, Config{4096, 48}, Config{4096, 52}, Config{16384, 36},
          Config{16384, 39}, Config{16384, 42}, Config{16384, 47}, Config{16384, 48}, Config{16384, 52},
          Config{65536, 39}, Config{65536, 42}, Config{65536, 47}, Config{65536, 48}, Config{65536, 52}}) {
        CAPTURE(c.granule);
        CAPTURE(c.va_bits);
        const bool wide = c.va_bits == 52 || c.granule == 65536;
        // Wide configurations keep every table and page above 48 bits.
        const std::uint64_t ram = wide ? 0x000e000000000000 : 0x40000000;
        synth::PhysMemory memory({{ram, std::uint64_t{1} << 44}}, c.granule);
        const auto builder = synth::make_arm64_page_table_builder(memory, c.va_bits);
        const auto t = arm64(builder->root(), c.granule, c.va_bits);
        const std::uint64_t half = ~std::uint64_t{0} << c.va_bits;
        std::uint64_t va = half;
        for (const std::uint64_t size : builder->page_sizes()) {
            CAPTURE(size);
            // A page of each size at the bottom of the half, one at the top.
            const std::uint64_t pa = ram + align_up(size * 3, size);
            builder->map(va, pa, size);
            const Mapping m =
                t->translate(va + size / 3, [&](std::uint64_t at, MutableByteSpan out) { memory.read(at, out); });
            CHECK(hex(m.pa) == hex(pa + size / 3));
            CHECK(hex(m.page_size) == hex(size));
            CHECK(hex(m.length) == hex(size - size / 3));
            va += std::max(size, builder->page_sizes().back()) * 2;
        }
        const std::uint64_t top = ~std::uint64_t{0} - c.granule + 1;
        builder->map(top, ram + 5 * std::uint64_t{c.granule}, c.granule);
        CHECK(hex(t->translate(top + 7, [&](std::uint64_t at, MutableByteSpan out) { memory.read(at, out); }).pa) ==
              hex(ram + 5 * std::uint64_t{c.granule} + 7));
    }
}

TEST_CASE("arm64 builder: what arm64 has no place for is a usage error") {
    synth::PhysMemory small({{0x40000000, 0x1000000}}, 8192);
    check_error([&] { (void)synth::make_arm64_page_table_builder(small, 48); }, ErrorKind::usage,
                "arm64 page tables need 4, 16 or 64 KiB physical pages, not 0x2000");
    synth::PhysMemory memory({{0x40000000, 0x1000000}});
    check_error([&] { (void)synth::make_arm64_page_table_builder(memory, 53); }, ErrorKind::usage,
                "arm64 has no 53-bit virtual address space (25 to 52 bits)");
    const auto b = synth::make_arm64_page_table_builder(memory, 48);
    check_error([&] { b->map(0xffff800000000000, 0x40000000, 0x3000); }, ErrorKind::usage,
                "arm64 with 0x1000-byte granules and 48-bit addresses has no 0x3000-byte pages (it has 0x1000, "
                "0x200000, 0x40000000)");
    check_error([&] { b->map(0x0000800000000000, 0x40000000, 0x1000); }, ErrorKind::usage,
                "va 0x800000000000 is not in the kernel half of a 48-bit arm64 address space");
    check_error([&] { b->map(0xffff800000000000, 0x1000000000000, 0x1000); }, ErrorKind::usage,
                "pa 0x1000000000000 of a 0x1000-byte page is beyond the 0x1000000000000-byte physical address space "
                "of arm64");
    b->map(0xffff800000200000, 0x40200000, 0x200000);
    check_error([&] { b->map(0xffff800000201000, 0x40001000, 0x1000); }, ErrorKind::usage,
                "va 0xffff800000201000 is already mapped by a 0x200000-byte page");
}
