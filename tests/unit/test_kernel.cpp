// End to end through the library: a synthetic machine whose every byte is
// known is dumped (kcore file, raw device dump, swap image) and read back
// through Kernel on each paging scheme.
#include <kvm/kernel.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>

#include "test_util.h"

#include <cstring>
#include <fstream>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

struct Scheme {
    const char* arch;
    bool pae;
    const char* translator;
    std::uint64_t text_page;  // page size of the kernel text
};

constexpr Scheme schemes[] = {
    {"amd64", false, "amd64", 2u << 20},
    {"i386", false, "i386", 4u << 20},
    {"i386", true, "i386-pae", 2u << 20},
};

// A crashed machine, its kernel file on disk and its dump in memory.
struct Crash {
    explicit Crash(const Scheme& s, bool sparse = false)
        : machine({.arch = s.arch, .pae = s.pae, .seed = 7}), kernel_path(dir / "netbsd") {
        segments = machine.prepare_dump({.sparse = sparse});
        MemorySink sink;
        machine.write_kcore(sink, segments);
        kcore = sink.data();
        synth::write_file(kernel_path, machine.kernel_elf());
    }

    std::unique_ptr<Kernel> open() const {
        auto namelist = std::shared_ptr<const Namelist>(Namelist::load(kernel_path));
        return std::make_unique<Kernel>(open_format(std::make_shared<MemorySource>(kcore, "netbsd.0.core")), namelist);
    }

    TempDir dir;
    synth::CrashedMachine machine;
    std::string kernel_path;
    std::vector<netbsd::RamSegment> segments;
    Bytes kcore;
};

Bytes file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
}

}  // namespace

TEST_CASE("kernel variables read from the dump and from the kernel file") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        Crash crash(s);
        auto k = crash.open();
        CHECK(k->machine().translator == s.translator);
        CHECK(k->machine().os == "netbsd");
        CHECK(k->arch().name == std::string_view(s.arch));

        // Crash-time values come from memory...
        CHECK(k->read_string(k->symbol_value("_version"), 1024) == crash.machine.spec().version);
        CHECK(k->read_uint(k->symbol_value("_dumpmag"), 4) == 0x8fca0101u);
        CHECK(k->read_uint(k->symbol_value("_time_second"), 8) == 1732200000u);
        std::uint64_t pages = 0;
        for (const auto& seg : crash.segments)
            pages += seg.size / 4096;
        CHECK(k->read_uint(k->symbol_value("_dumpsize"), 4) == pages);
        CHECK(k->read_string(k->read_pointer(k->symbol_value("_panicstr")), 1024) == crash.machine.spec().panic);
        CHECK(netbsd::read_dumpmag(*k) == 0x8fca0101u);

        // ...and initialised values from the kernel file.
        const Namelist& nl = k->namelist();
        CHECK(load32(nl.initial_value("_dumpmag", 4).data(), k->order()) == 0x8fca0101u);
        CHECK(load32(nl.initial_value("_dumpsize", 4).data(), k->order()) == 0u);
        CHECK(load64(nl.initial_value("_time_second", 8).data(), k->order()) == 0u);
        CHECK(load64(nl.initial_value("_dumpdev", 8).data(), k->order()) == ~std::uint64_t{0});
        CHECK(k->read_uint(k->symbol_value("_dumpdev"), 8) == 1u);
    }
}

TEST_CASE("translations for every page size of every scheme agree with the builder") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        Crash crash(s);
        auto k = crash.open();
        synth::CrashedMachine& m = crash.machine;

        const std::uint64_t text = m.symbol("main");
        const Mapping t = k->translate(text);
        CHECK(t.page_size == s.text_page);
        CHECK(t.pa == m.virt_to_phys(text));
        CHECK(t.length == s.text_page - (text & (s.text_page - 1)));

        const std::uint64_t data = m.symbol("dumpmag");
        const Mapping d = k->translate(data);
        CHECK(d.page_size == 4096);
        CHECK(d.pa == m.virt_to_phys(data));
        CHECK(d.length == 4096 - (data & 4095));

        // The same translation again comes from the cache, unchanged.
        const Mapping again = k->translate(data);
        CHECK(again.pa == d.pa);
        CHECK(again.length == d.length);
        CHECK(again.page_size == d.page_size);

        if (std::string_view(s.arch) == "amd64") {
            const std::uint64_t va = m.direct_map(0x123456);
            const Mapping g = k->translate(va);
            CHECK(g.page_size == 1u << 30);
            CHECK(g.pa == 0x123456);
            CHECK(g.length == (1u << 30) - 0x123456);
        }
    }
}

TEST_CASE("reads cross 4 KiB pages that are scattered in physical memory") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        synth::CrashedMachine m({.arch = s.arch, .pae = s.pae, .seed = 3});
        const std::uint64_t buf = m.kmem_alloc(3 * 4096, 4096);
        Bytes pattern(3 * 4096);
        for (std::size_t i = 0; i < pattern.size(); ++i)
            pattern[i] = static_cast<std::byte>(i * 7 + (i >> 12));
        m.write(buf, pattern);
        // Pages that are adjacent in VA are not adjacent in PA.
        CHECK(m.virt_to_phys(buf + 4096) != m.virt_to_phys(buf) + 4096);

        TempDir dir;
        synth::write_file(dir / "netbsd", m.kernel_elf());
        MemorySink sink;
        m.write_kcore(sink, m.prepare_dump({}));
        Kernel k(open_format(std::make_shared<MemorySource>(sink.data())), Namelist::load(dir / "netbsd"));

        Bytes got(pattern.size() - 100);
        k.read(buf + 50, got);
        CHECK(std::equal(got.begin(), got.end(), pattern.begin() + 50));
    }
}

TEST_CASE("a read that crosses a large-page boundary") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        synth::CrashedMachine m({.arch = s.arch, .pae = s.pae, .seed = 5});
        // Fill text up to a large-page boundary so the next function starts
        // on the second large page.
        const std::uint64_t first = m.symbol("start");
        const std::uint64_t boundary = (first & ~(s.text_page - 1)) + s.text_page;
        const std::uint64_t filler_size = boundary - 32 - (m.symbol("lwp_exit_switchaway") + 0x140);
        m.define_function("pad", filler_size & ~std::uint64_t{15});
        const std::uint64_t across = m.define_function("across_boundary", 64);
        REQUIRE(across < boundary);
        REQUIRE(across + 64 > boundary);

        TempDir dir;
        synth::write_file(dir / "netbsd", m.kernel_elf());
        MemorySink sink;
        m.write_kcore(sink, m.prepare_dump({}));
        Kernel k(open_format(std::make_shared<MemorySource>(sink.data())), Namelist::load(dir / "netbsd"));

        Bytes from_dump(64);
        k.read(across, from_dump);
        Bytes expected(64);
        m.read(across, expected);
        CHECK(from_dump == expected);
        CHECK(k.translate(boundary).pa == m.virt_to_phys(boundary));
        const Bytes from_file = k.namelist().initial_value("across_boundary", 64);
        CHECK(from_file == expected);
    }
}

TEST_CASE("reads into holes and unmapped addresses fail with the address and the reason") {
    Crash crash(schemes[0]);
    auto k = crash.open();
    // The direct map covers the hole between RAM segments, which is not in the dump.
    const std::uint64_t hole = crash.machine.direct_map(0xa0000);
    Bytes b(16);
    CHECK(error_of([&] { k->read(hole, b); }) == "0xffff8000000a0000: physical address 0xa0000 is not in the dump");
    try {
        k->read(hole, b);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::fault);
        CHECK(e.address() == hole);
    }

    // A read that starts mapped and runs into the hole stops there.
    const std::uint64_t before_hole = crash.machine.direct_map(0x9f000 - 8);
    const PartialRead r = k->read_partial(before_hole, b);
    CHECK(r.bytes == 8);
    REQUIRE(r.error.has_value());
    CHECK(r.error->address() == before_hole + 8);

    // Unmapped: no page table below the heap's top level.
    const std::uint64_t unmapped = 0xffffd00000000000ull;
    try {
        k->read(unmapped, b);
        FAIL("read of an unmapped address succeeded");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::fault);
        CHECK(e.address() == unmapped);
        CHECK(std::string(e.what()) == "0xffffd00000000000: level 4 entry 0x0 (index 416 of the table at pa " +
                                           hex(crash.machine.pt_root()) + ") is not valid");
    }
}

TEST_CASE("sparse dumps: only written pages, many segments, same answers") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        Crash crash(s, true);
        CHECK(crash.segments.size() > 3);
        auto k = crash.open();
        CHECK(k->read_string(k->symbol_value("_version"), 1024) == crash.machine.spec().version);
        std::uint64_t pages = 0;
        for (const auto& seg : crash.segments)
            pages += seg.size / 4096;
        CHECK(k->read_uint(k->symbol_value("_dumpsize"), 4) == pages);
    }
}

TEST_CASE("wrtheader: a kcore file made from the raw device dump is the one the format specifies") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        Crash crash(s);
        MemorySink device;
        crash.machine.write_device_dump(device, crash.segments);
        auto src = std::make_shared<MemorySource>(device.data(), "wd0b");
        const netbsd::DumpLayout layout = netbsd::read_device_dump(*src, 0);

        // kvm_dump_wrtheader followed by a plain copy of the memory.
        Bytes made = netbsd::kcore_file_header(layout, layout.memory_size);
        CHECK(made.size() == (std::string_view(s.arch) == "amd64" ? 536u : 532u));
        made.insert(made.end(), device.data().begin() + static_cast<std::ptrdiff_t>(layout.memory_offset),
                    device.data().end());
        CHECK(made == crash.kcore);
    }
}

TEST_CASE("swap image: the dump is found at the end, with or without dumplo") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        TempDir dir;
        synth::CrashedMachine m({.arch = s.arch, .pae = s.pae, .seed = 11});
        const std::uint64_t dumplo = m.write_swap_image(dir / "swap.img", {});
        synth::write_file(dir / "netbsd", m.kernel_elf());
        // cpu_dumpconf puts a full dump at the very end of the partition.
        CHECK(dumplo * 512 + m.device_dump_size(m.memory().ram()) == std::filesystem::file_size(dir / "swap.img"));

        for (const bool with_dumplo : {true, false}) {
            CAPTURE(with_dumplo);
            OpenOptions o{.namelist = dir / "netbsd", .core = dir / "swap.img"};
            if (with_dumplo) o.dumplo_blocks = dumplo;
            auto k = Kernel::open(o);
            CHECK(k->format().name() == "netbsd-dumpdev");
            CHECK(netbsd::layout_of(k->format())->header_offset == dumplo * 512);
            CHECK(k->read_uint(k->symbol_value("_dumplo"), k->pointer_size()) == dumplo);
            CHECK(k->read_string(k->symbol_value("_version"), 1024) == m.spec().version);
        }
    }
}

TEST_CASE("dump_inval zeroes dumpmag and no other byte of the device") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.translator);
        TempDir dir;
        synth::CrashedMachine m({.arch = s.arch, .pae = s.pae, .seed = 13});
        const std::uint64_t dumplo = m.write_swap_image(dir / "swap.img", {});
        synth::write_file(dir / "netbsd", m.kernel_elf());
        const Bytes before = file_bytes(dir / "swap.img");

        auto k = Kernel::open({.namelist = dir / "netbsd", .core = dir / "swap.img", .writable = true});
        const std::uint64_t offset = k->kva_to_offset(m.symbol("dumpmag"));
        netbsd::invalidate_dump(*k);
        CHECK(netbsd::read_dumpmag(*k) == 0);

        const Bytes after = file_bytes(dir / "swap.img");
        REQUIRE(after.size() == before.size());
        std::vector<std::size_t> changed;
        for (std::size_t i = 0; i < before.size(); ++i)
            if (before[i] != after[i]) changed.push_back(i);
        CHECK(changed == std::vector<std::size_t>{offset, offset + 1, offset + 2, offset + 3});

        // The cleared dump is still found (there is no other), and reads as cleared.
        auto again = Kernel::open({.namelist = dir / "netbsd", .core = dir / "swap.img"});
        CHECK(netbsd::layout_of(again->format())->header_offset == dumplo * 512);
        CHECK(netbsd::read_dumpmag(*again) == 0);
    }
}

namespace {
// A device that accepts only whole 512-byte sectors, like a raw disk.
class SectorDevice final : public ByteSource {
public:
    explicit SectorDevice(Bytes data) : mem_(std::move(data), "/dev/rwd0b") {}
    std::uint64_t size() const override { return mem_.size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override { return mem_.read_at(offset, out); }
    void write_at(std::uint64_t offset, ByteSpan data) override {
        if (offset % 512 != 0 || data.size() % 512 != 0) throw Error(ErrorKind::io, "partial-sector write");
        ++writes;
        mem_.write_at(offset, data);
    }
    const std::string& name() const override { return mem_.name(); }
    std::uint32_t write_granularity() const override { return 512; }
    const Bytes& data() const { return mem_.data(); }
    int writes = 0;

private:
    MemorySource mem_;
};
}  // namespace

TEST_CASE("dump_inval on a device that needs whole sectors rewrites one sector, changing only dumpmag") {
    Crash crash(schemes[0]);
    MemorySink sink;
    crash.machine.write_device_dump(sink, crash.segments);
    auto device = std::make_shared<SectorDevice>(sink.data());
    Kernel k(netbsd::make_format(device, netbsd::read_device_dump(*device, 0)), Namelist::load(crash.kernel_path));
    const std::uint64_t offset = k.kva_to_offset(crash.machine.symbol("dumpmag"));
    netbsd::invalidate_dump(k);
    CHECK(device->writes == 1);
    Bytes expected = sink.data();
    std::memset(expected.data() + offset, 0, 4);
    CHECK(device->data() == expected);
}
