// NetBSD kcore and dump-device headers against byte sequences worked out by
// hand from netbsd-dump-format.md sections 1 and 2.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>

#include "test_util.h"

#include <cstring>
#include <initializer_list>

using namespace kvm;
using namespace kvm::netbsd;

namespace {

Bytes bytes_of(std::initializer_list<unsigned> values) {
    Bytes b;
    for (unsigned v : values)
        b.push_back(static_cast<std::byte>(v));
    return b;
}

Bytes slice(const Bytes& b, std::size_t offset, std::size_t n) {
    return {b.begin() + static_cast<std::ptrdiff_t>(offset), b.begin() + static_cast<std::ptrdiff_t>(offset + n)};
}

Bytes be32(std::uint32_t v) {
    Bytes b(4);
    store32(b.data(), v, ByteOrder::big);
    return b;
}

// Memory whose every byte says where it is: byte at pa p = (p >> 4) ^ p.
Bytes pattern_memory(const std::vector<RamSegment>& ram) {
    Bytes m;
    for (const auto& seg : ram)
        for (std::uint64_t pa = seg.start; pa < seg.start + seg.size; ++pa)
            m.push_back(static_cast<std::byte>((pa >> 4) ^ pa));
    return m;
}

constexpr std::size_t sector = 512;  // DEV_BSIZE, in the width offsets have

const std::vector<RamSegment> two_segments{{0x0, 0x2000}, {0x10000, 0x1000}};

Bytes device_dump(const ArchInfo& arch, const CpuHeader& cpu) {
    Bytes dump = device_dump_header(arch, cpu);
    const Bytes mem = pattern_memory(cpu.ram);
    dump.insert(dump.end(), mem.begin(), mem.end());
    return dump;
}

DumpLayout layout_from_device_header(const ArchInfo& arch, const CpuHeader& cpu) {
    const Bytes dev = device_dump_header(arch, cpu);
    DumpLayout layout;
    layout.arch = &arch;
    layout.cpu_segment = slice(dev, 8, dev.size() - 8);
    layout.cpu = cpu;
    return layout;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("c_midmag encodings match the worked examples (big-endian on disk)") {
    CHECK(be32(encode_midmag({.magic = kcore_magic, .mid = 157, .flag = 0})) == bytes_of({0x00, 0x9d, 0x8f, 0xca}));
    CHECK(be32(encode_midmag({.magic = kcoreseg_magic, .mid = 0, .flag = core_cpu})) ==
          bytes_of({0x04, 0x00, 0x8f, 0xac}));
    CHECK(be32(encode_midmag({.magic = kcoreseg_magic, .mid = 0, .flag = core_data})) ==
          bytes_of({0x08, 0x00, 0x8f, 0xac}));
    CHECK(be32(encode_midmag({.magic = kcore_magic, .mid = 157, .flag = core_cpu})) ==
          bytes_of({0x04, 0x9d, 0x8f, 0xca}));
    CHECK(be32(encode_midmag({.magic = kcore_magic, .mid = 134, .flag = core_cpu})) ==
          bytes_of({0x04, 0x86, 0x8f, 0xca}));
    CHECK(decode_midmag(0x049d8fca) == Midmag{.magic = 0x8fca, .mid = 157, .flag = 1});
}

TEST_CASE("amd64 on-device header: cpu segment, cpu_kcore_hdr and RAM table, zero-filled to 512") {
    const ArchInfo& amd64 = *find_arch("amd64");
    const Bytes h =
        device_dump_header(amd64, {.pt_root = 0x1000, .pae = false, .ram = {{0x0, 0x9f000}, {0x100000, 0x3f00000}}});
    REQUIRE(h.size() == 512);
    CHECK(slice(h, 0, 8) == bytes_of({0x04, 0x9d, 0x8f, 0xca, 0xf8, 0x01, 0x00, 0x00}));  // c_size 504
    CHECK(slice(h, 8, 16) == bytes_of({0x00, 0x10, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(slice(h, 24, 16) == bytes_of({0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xf0, 0x09, 0, 0, 0, 0, 0}));
    CHECK(slice(h, 40, 16) == bytes_of({0x00, 0x00, 0x10, 0, 0, 0, 0, 0, 0x00, 0x00, 0xf0, 0x03, 0, 0, 0, 0}));
    CHECK(slice(h, 56, 456) == Bytes(456));
}

TEST_CASE("i386 PAE on-device header carries the PAE flag in pdppaddr") {
    const ArchInfo& i386 = *find_arch("i386");
    const Bytes h = device_dump_header(i386, {.pt_root = 0x3000, .pae = true, .ram = {{0x0, 0x1000}}});
    REQUIRE(h.size() == 512);
    CHECK(slice(h, 0, 16) == bytes_of({0x04, 0x86, 0x8f, 0xca, 0xf8, 0x01, 0, 0, 0x00, 0x32, 0, 0, 0x01, 0, 0, 0}));
}

TEST_CASE("kcore file header: memory at 536 on amd64") {
    const ArchInfo& amd64 = *find_arch("amd64");
    const DumpLayout layout = layout_from_device_header(amd64, {.pt_root = 0x1000, .ram = two_segments});
    const Bytes h = kcore_file_header(layout, 0x3000);
    REQUIRE(h.size() == 536);
    CHECK(slice(h, 0, 16) == bytes_of({0x00, 0x9d, 0x8f, 0xca, 0x10, 0x00, 0x08, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(slice(h, 16, 8) == bytes_of({0x04, 0x00, 0x8f, 0xac, 0xf8, 0x01, 0x00, 0x00}));
    CHECK(slice(h, 24, 504) == layout.cpu_segment);
    CHECK(slice(h, 528, 8) == bytes_of({0x08, 0x00, 0x8f, 0xac, 0x00, 0x30, 0x00, 0x00}));
}

TEST_CASE("kcore file header: memory at 532 on i386") {
    const ArchInfo& i386 = *find_arch("i386");
    const DumpLayout layout = layout_from_device_header(i386, {.pt_root = 0x2000, .ram = two_segments});
    const Bytes h = kcore_file_header(layout, 0x3000);
    REQUIRE(h.size() == 532);
    CHECK(slice(h, 0, 12) == bytes_of({0x00, 0x86, 0x8f, 0xca, 0x0c, 0x00, 0x08, 0x00, 0x02, 0, 0, 0}));
    CHECK(slice(h, 12, 8) == bytes_of({0x04, 0x00, 0x8f, 0xac, 0xf8, 0x01, 0x00, 0x00}));
    CHECK(slice(h, 20, 504) == layout.cpu_segment);
    CHECK(slice(h, 524, 8) == bytes_of({0x08, 0x00, 0x8f, 0xac, 0x00, 0x30, 0x00, 0x00}));
}

TEST_CASE("the data segment's c_size is truncated to 32 bits, as NetBSD writes it") {
    const DumpLayout layout = layout_from_device_header(*find_arch("amd64"), {.pt_root = 0x1000, .ram = two_segments});
    const Bytes h = kcore_file_header(layout, 0x123456000ull);
    CHECK(slice(h, 532, 4) == bytes_of({0x00, 0x60, 0x45, 0x23}));
}

TEST_CASE("a kcore file reads back: layout, segments and physical memory") {
    for (const char* arch_name : {"amd64", "i386"}) {
        CAPTURE(arch_name);
        const ArchInfo& arch = *find_arch(arch_name);
        const DumpLayout made = layout_from_device_header(arch, {.pt_root = 0x5000, .ram = two_segments});
        Bytes file = kcore_file_header(made, 0x3000);
        const Bytes mem = pattern_memory(two_segments);
        file.insert(file.end(), mem.begin(), mem.end());
        auto src = std::make_shared<MemorySource>(file, "netbsd.0.core");

        const DumpLayout got = read_kcore_file(*src);
        CHECK(got.arch == &arch);
        CHECK_FALSE(got.on_device);
        CHECK(got.memory_offset == (arch.pointer_size == 8 ? 536u : 532u));
        CHECK(got.memory_size == 0x3000);
        CHECK(got.cpu.pt_root == 0x5000);
        CHECK(got.cpu.ram == two_segments);

        auto format = open_format(src);
        CHECK(format->name() == "netbsd-kcore");
        CHECK(format->machine().translator == arch_name);
        Bytes four(4);
        format->read_phys(0x10010, four);
        CHECK(four == bytes_of({0x11, 0x10, 0x13, 0x12}));
        // A read that runs off the end of the first segment into the hole.
        CHECK(error_of([&] { format->read_phys(0x1ffe, four); }) == "physical address 0x2000 is not in the dump");
        CHECK(format->phys_to_offset(0x10000) == got.memory_offset + 0x2000);
        CHECK_FALSE(format->phys_to_offset(0x3000).has_value());
    }
}

TEST_CASE("a raw dump on a device reads back at its dumplo") {
    const ArchInfo& amd64 = *find_arch("amd64");
    Bytes device(64 * sector, std::byte{0x5a});
    const Bytes dump = device_dump(amd64, {.pt_root = 0x1000, .ram = two_segments});
    device.insert(device.end(), dump.begin(), dump.end());
    auto src = std::make_shared<MemorySource>(device, "swap.img");

    const DumpLayout layout = read_device_dump(*src, 64 * sector);
    CHECK(layout.on_device);
    CHECK(layout.header_offset == 64 * sector);
    CHECK(layout.memory_offset == 65 * sector);
    CHECK(layout.cpu_segment.size() == 504);

    auto format = open_format(src, {.dumplo_blocks = 64});
    CHECK(format->name() == "netbsd-dumpdev");
    Bytes b(2);
    format->read_phys(0x1, b);
    CHECK(b == bytes_of({0x01, 0x02}));

    // Without dumplo the device is scanned.
    auto scanned = open_format(src);
    CHECK(layout_of(*scanned)->header_offset == 64 * sector);

    CHECK(error_of([&] { open_format(src, {.dumplo_blocks = 63}); }) ==
          "swap.img: dumplo 63: no dump header at offset 0x7e00 (found magic 0x5a5a flag 22)");
}

TEST_CASE("device scan: stray magic, stale dumps and copies of the header inside memory") {
    const ArchInfo& amd64 = *find_arch("amd64");
    const Bytes header = device_dump_header(amd64, {.pt_root = 0x1000, .ram = two_segments});
    Bytes device(16 * sector);
    // A stray KCORE_MAGIC with a known MID whose cpu header is garbage.
    const Bytes stray = bytes_of({0x04, 0x9d, 0x8f, 0xca, 0xff, 0xff, 0xff, 0xff});
    std::memcpy(device.data() + 2 * sector, stray.data(), stray.size());
    // A stale dump at block 4, whose memory overlaps the live one at 8.
    const Bytes stale = device_dump(amd64, {.pt_root = 0x1000, .ram = two_segments});
    std::memcpy(device.data() + 4 * sector, stale.data(), 512);
    Bytes live = device_dump(amd64, {.pt_root = 0x1000, .ram = two_segments});
    // The live dump's memory holds a copy of its header at a 512 boundary.
    std::memcpy(live.data() + 512 + 0x1000, header.data(), header.size());
    device.resize(8 * sector);
    device.insert(device.end(), live.begin(), live.end());
    auto src = std::make_shared<MemorySource>(device, "swap.img");

    // Without a liveness check the first sane header wins and its memory,
    // which covers block 8, is skipped.
    const auto blind = scan_device(src);
    REQUIRE(blind.size() == 1);
    CHECK(blind[0].offset == 4 * sector);

    // With one, the stale dump's memory is searched and the live one found;
    // the copy inside the live dump's memory is not reported.
    const auto checked = scan_device(
        src, [](const std::shared_ptr<ByteSource>&, const DumpLayout& l) { return l.header_offset == 8 * sector; });
    REQUIRE(checked.size() == 2);
    CHECK(checked[0].offset == 4 * sector);
    CHECK_FALSE(checked[0].live);
    CHECK(checked[1].offset == 8 * sector);
    CHECK(checked[1].live);
}

TEST_CASE("damaged kcore headers are refused with the check that failed") {
    const ArchInfo& amd64 = *find_arch("amd64");
    const DumpLayout made = layout_from_device_header(amd64, {.pt_root = 0x5000, .ram = two_segments});
    Bytes good = kcore_file_header(made, 0x3000);
    const Bytes mem = pattern_memory(two_segments);
    good.insert(good.end(), mem.begin(), mem.end());
    const auto open_bytes = [](Bytes b) {
        return error_of([&] { open_format(std::make_shared<MemorySource>(b, "core")); });
    };

    CHECK(open_bytes(Bytes(100)) ==
          "core: not a recognised crash dump (tried netbsd-kcore, elf-core, kdump, kdump-flattened, minidump, "
          "freebsd-dumpdev, netbsd-dumpdev)");
    CHECK(open_bytes({}) ==
          "core: not a recognised crash dump (tried netbsd-kcore, elf-core, kdump, kdump-flattened, minidump, "
          "freebsd-dumpdev, "
          "netbsd-dumpdev)");

    Bytes truncated_memory(good.begin(), good.end() - 1);
    CHECK(open_bytes(truncated_memory) ==
          "core: truncated: the kcore file holds 0x3000 bytes of memory from offset 0x218 (to 0x3218), but the file "
          "ends at 0x3217");
    Bytes truncated_header(good.begin(), good.begin() + 100);
    CHECK(open_bytes(truncated_header) ==
          "core: truncated: cpu segment needs 504 bytes at offset 0x18, but the file has 0x64");

    Bytes three_segments = good;
    three_segments[8] = std::byte{3};
    CHECK(open_bytes(three_segments) == "core: kcore header has 3 segments; a kernel core has 2 (cpu, data)");

    Bytes sparc64 = good;
    sparc64[1] = std::byte{0x9c};
    CHECK(open_bytes(sparc64) == "core: kcore file for machine id 156 (not a machine kvmkit reads)");

    Bytes bad_cpu_magic = good;
    bad_cpu_magic[19] = std::byte{0xad};
    CHECK(open_bytes(bad_cpu_magic) ==
          "core: cpu segment header at offset 0x10 has magic 0x8fad flag 1 (expected 0x8fac flag 1)");

    Bytes bad_data_magic = good;
    bad_data_magic[528] = std::byte{0x04};
    CHECK(open_bytes(bad_data_magic) ==
          "core: data segment header at offset 0x210 has magic 0x8fac flag 1 (expected 0x8fac flag 2)");

    Bytes huge_cpu = good;
    store32(huge_cpu.data() + 20, 0x7fffffff, ByteOrder::little);
    CHECK(open_bytes(huge_cpu) == "core: cpu segment claims 0x7fffffff bytes (at most 0x1000000 accepted)");

    Bytes absurd_count = good;
    store64(absurd_count.data() + 24 + 8, 1ull << 40, ByteOrder::little);
    CHECK(open_bytes(absurd_count) ==
          "core: cpu header claims 1099511627776 memory segments (at most 1048576 accepted)");

    Bytes too_many_for_segment = good;
    store64(too_many_for_segment.data() + 24 + 8, 40, ByteOrder::little);
    CHECK(open_bytes(too_many_for_segment) ==
          "core: memory segment table of 40 entries (0x280 bytes at offset 0x10) does not fit in the 0x1f8-byte cpu "
          "segment");

    Bytes no_segments = good;
    store64(no_segments.data() + 24 + 8, 0, ByteOrder::little);
    CHECK(open_bytes(no_segments) == "core: cpu header lists no memory segments");

    Bytes unaligned = good;
    store64(unaligned.data() + 24 + 16 + 16, 0x10100, ByteOrder::little);
    CHECK(open_bytes(unaligned) == "core: memory segment 1 (pa 0x10100, size 0x1000) is not page-aligned");

    Bytes empty_segment = good;
    store64(empty_segment.data() + 24 + 16 + 8, 0, ByteOrder::little);
    CHECK(open_bytes(empty_segment) == "core: memory segment 0 at pa 0x0 has size 0");

    Bytes overlapping = good;
    store64(overlapping.data() + 24 + 16 + 16, 0x1000, ByteOrder::little);
    CHECK(open_bytes(overlapping) == "core: memory segments overlap: pa 0x0-0x2000 and 0x1000");

    Bytes wrapping = good;
    store64(wrapping.data() + 24 + 16 + 16, 0xfffffffffffff000ull, ByteOrder::little);
    store64(wrapping.data() + 24 + 16 + 24, 0x2000, ByteOrder::little);
    CHECK(open_bytes(wrapping) == "core: memory segment 1 end overflows: 0xfffffffffffff000 + 0x2000");
}

TEST_CASE("damaged device dumps are refused when named by dumplo") {
    const ArchInfo& amd64 = *find_arch("amd64");
    const Bytes dump = device_dump(amd64, {.pt_root = 0x1000, .ram = two_segments});
    const auto open_at = [](Bytes b, std::uint64_t dumplo) {
        return error_of([&] { open_format(std::make_shared<MemorySource>(b, "wd0b"), {.dumplo_blocks = dumplo}); });
    };
    CHECK(open_at(Bytes(dump.begin(), dump.end() - 0x1000), 0) ==
          "wd0b: dumplo 0: truncated: the dump at offset 0x0 holds 0x3000 bytes of memory from offset 0x200 (to "
          "0x3200), but the file ends at 0x2200");
    CHECK(open_at(dump, 1000) ==
          "wd0b: dumplo 1000: no dump header at offset 0x7d000: the device is only 0x3200 bytes");
    Bytes unknown_mid = dump;
    unknown_mid[1] = std::byte{0x9c};
    CHECK(open_at(unknown_mid, 0) ==
          "wd0b: dumplo 0: dump header at offset 0x0 is for machine id 156 (not a machine kvmkit reads)");
    Bytes bad_table = dump;
    store64(bad_table.data() + 16, 1000, ByteOrder::little);
    CHECK(open_at(bad_table, 0) ==
          "wd0b: dumplo 0: dump header at offset 0x0: memory segment table of 1000 entries (0x3e80 bytes at offset "
          "0x10) does not fit in the 0x1f8-byte cpu segment");
    // A cpu segment longer than its table and the zeros to the end of that
    // block: the kernel never writes one.
    Bytes long_segment = dump;
    store32(long_segment.data() + 4, 0x3f8, ByteOrder::little);
    CHECK(open_at(long_segment, 0) ==
          "wd0b: dumplo 0: dump header at offset 0x0: the 0x3f8-byte cpu segment is larger than its header and 2 "
          "memory segments fill (0x1f8 bytes, to the end of their 512-byte block)");
    // Scanning finds no dump it can use, and says why the header the kernel
    // wrote was refused, as savecore does.
    CHECK(error_of([&] { open_format(std::make_shared<MemorySource>(bad_table, "wd0b")); }) ==
          "wd0b: dump header at offset 0x0: memory segment table of 1000 entries (0x3e80 bytes at offset 0x10) does "
          "not fit in the 0x1f8-byte cpu segment");
}

TEST_CASE("device scan reports headers that look real but fail a check, and ignores stray magic") {
    const ArchInfo& amd64 = *find_arch("amd64");
    const Bytes dump = device_dump(amd64, {.pt_root = 0x1000, .ram = two_segments});
    Bytes device(16 * sector);
    // Stray KCORE_MAGIC whose cpu segment size cannot end a header on a
    // sector boundary: not reported.
    const Bytes stray = bytes_of({0x04, 0x9d, 0x8f, 0xca, 0xff, 0xff, 0xff, 0xff});
    std::memcpy(device.data() + 1 * sector, stray.data(), stray.size());
    // A sparc64 (MID 156) header, big-endian c_size 504.
    Bytes sparc64 = slice(dump, 0, 512);
    sparc64[1] = std::byte{0x9c};
    store32(sparc64.data() + 4, 504, ByteOrder::big);
    std::memcpy(device.data() + 2 * sector, sparc64.data(), sparc64.size());
    // An amd64 header whose RAM table cannot fit.
    Bytes bad_table = slice(dump, 0, 512);
    store64(bad_table.data() + 16, 1000, ByteOrder::little);
    std::memcpy(device.data() + 4 * sector, bad_table.data(), bad_table.size());
    // A dump cut short by the end of the device.
    device.insert(device.end(), dump.begin(), dump.end() - 0x1000);
    auto src = std::make_shared<MemorySource>(device, "swap.img");

    std::vector<RejectedHeader> rejected;
    CHECK(scan_device(src, {}, 64, &rejected).empty());
    REQUIRE(rejected.size() == 3);
    CHECK(rejected[0].offset == 2 * sector);
    CHECK(rejected[0].error.message() ==
          "dump header at offset 0x400 is for machine id 156 (not a machine kvmkit reads)");
    CHECK(rejected[0].error.kind() == ErrorKind::unsupported);
    CHECK(rejected[1].offset == 4 * sector);
    CHECK(rejected[1].error.message() ==
          "dump header at offset 0x800: memory segment table of 1000 entries (0x3e80 bytes at offset 0x10) does not "
          "fit in the 0x1f8-byte cpu segment");
    CHECK(rejected[2].offset == 16 * sector);
    CHECK(rejected[2].error.message() ==
          "truncated: the dump at offset 0x2000 holds 0x3000 bytes of memory from offset 0x2200 (to 0x5200), but the "
          "file ends at 0x4200");
    // Without the list the scan is as before.
    CHECK(scan_device(src).empty());
}

TEST_CASE("a device whose every block starts a dump header is refused after one pass over it") {
    // Each header claims a 2 MiB cpu segment that its RAM table fills; the
    // table is sane to the end of the block, where the next header breaks
    // it.  Reading each claimed segment whole made the scan quadratic: 8 GiB
    // read for this 4 MiB image.
    constexpr std::uint64_t size = std::uint64_t{4} << 20;
    const struct {
        const char* arch;
        std::string first_rejection;
    } cases[] = {
        {"amd64",
         "dump header at offset 0x0: memory segment 30 (pa 0x3d000, size 0x1ffff8ca8f9d04) is not page-aligned"},
        {"i386",
         "dump header at offset 0x0: memory segment 31 (pa 0x1ffff8ca8f8604, size 0x1ffff00001000) is not "
         "page-aligned"},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.arch));
        MemorySink image;
        synth::write_hostile_device(image, *find_arch(c.arch), size, (std::uint64_t{2} << 20) - 8);
        REQUIRE(image.data().size() == size);
        const auto device =
            std::make_shared<test::CountingSource>(std::make_shared<MemorySource>(image.data(), "swap.img"));

        // No dump: the first header refused says why, as savecore says it.
        CHECK(error_of([&] { open_format(device); }) == "swap.img: " + c.first_rejection);
        CHECK(device->bytes_read() <= 2 * size);

        // savecore's scan, which also says why headers that look real failed.
        device->reset();
        std::vector<RejectedHeader> rejected;
        CHECK(scan_device(device, {}, 64, &rejected).empty());
        REQUIRE(rejected.size() == 16);
        CHECK(rejected[0].offset == 0);
        CHECK(rejected[0].error.message() == c.first_rejection);
        CHECK(rejected[15].offset == 15 * sector);
        CHECK(device->bytes_read() <= 2 * size);
    }
}
