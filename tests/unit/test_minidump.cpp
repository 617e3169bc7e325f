// FreeBSD and DragonFly minidumps: the layout the reader finds against
// sections worked out by hand from freebsd-dragonfly-dump-format.md
// sections 3 and 4, reads and translations against the synthetic
// machine's own records, and every way a broken minidump is refused.
#include <kvm/error.h>
#include <kvm/minidump.h>

#include "bsd_fixture.h"
#include "elf_fixture.h"
#include "format/page_bitmap.h"
#include "test_util.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

using namespace kvm;
using kvmtest::check_error;
using kvmtest::minidump_of;
using kvmtest::namelist_of;
using kvmtest::open_bsd_dump;

namespace {

std::string read_text(const Kernel& k, std::uint64_t va, std::size_t n) {
    Bytes b(n);
    k.read(va, b);
    return std::string(as_chars(b));
}

std::string machine_text(const synth::CrashedMachine& m, std::uint64_t va, std::size_t n) {
    Bytes b(n);
    m.read(va, b);
    return std::string(as_chars(b));
}

// The table of `level` (1: the page table) that maps `va` in the machine's
// own amd64 page tables.
std::uint64_t table_of(const synth::CrashedMachine& m, std::uint64_t va, unsigned level) {
    std::uint64_t table = m.pt_root();
    for (unsigned l = 4; l > level; --l) {
        Bytes e(8);
        m.memory().read(table + ((va >> (12 + 9 * (l - 1))) & 511) * 8, e);
        table = load64(e.data(), ByteOrder::little) & 0x000ffffffffff000;
    }
    return table;
}

void patch32(Bytes& b, std::size_t offset, std::uint32_t v) {
    store32(b.data() + offset, v, ByteOrder::little);
}
void patch64(Bytes& b, std::size_t offset, std::uint64_t v) {
    store64(b.data() + offset, v, ByteOrder::little);
}

std::unique_ptr<Format> open_bytes(Bytes b, const ProbeOptions& options = {}) {
    return open_format(std::make_shared<MemorySource>(std::move(b), "vmcore.0"), options);
}

}  // namespace

// ---------------------------------------------------------------- bitmap

TEST_CASE("page bitmap: rank counts the set bits below an id, across index blocks and a part word") {
    // 1100 bytes: 137 whole words (17 index blocks and a bit) and 4 bytes.
    Bytes raw(1100);
    std::vector<std::uint64_t> set{0, 1, 63, 64, 511, 512, 513, 4095, 8191, 8795, 8799};
    for (const auto id : set)
        raw[id / 8] |= static_cast<std::byte>(1u << (id % 8));
    const detail::PageBitmap bm(raw, ByteOrder::little);
    CHECK(bm.bits() == 8800);
    CHECK(bm.count() == set.size());
    for (std::size_t i = 0; i < set.size(); ++i) {
        CHECK(bm.test(set[i]));
        CHECK(bm.rank(set[i]) == i);
    }
    CHECK_FALSE(bm.test(2));
    CHECK_FALSE(bm.test(8800));
    CHECK(bm.rank(2) == 2);
    CHECK(bm.rank(8800) == set.size());
    std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
    bm.for_each_run([&](std::uint64_t first, std::uint64_t n) { runs.emplace_back(first, n); });
    CHECK(runs == std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                      {0, 2}, {63, 2}, {511, 3}, {4095, 1}, {8191, 1}, {8795, 1}, {8799, 1}});

    // A big-endian word holds its ids from the last byte.
    Bytes be(8);
    be[7] = std::byte{0x01};
    be[0] = std::byte{0x80};
    const detail::PageBitmap big(be, ByteOrder::big);
    CHECK(big.test(0));
    CHECK(big.test(63));
    CHECK(big.count() == 2);
}

// ---------------------------------------------------------------- amd64 v3

TEST_CASE("FreeBSD amd64 minidump v3: sections where the format puts them, dump_avail the RAM segments") {
    const synth::CrashedMachine m({.os = "freebsd"});
    REQUIRE(m.spec().minidump_version == 3);
    const Bytes dump = minidump_of(m);
    auto f = open_bytes(dump);
    CHECK(f->name() == "freebsd-minidump");
    const minidump::Layout* l = minidump::layout_of(*f);
    REQUIRE(l != nullptr);
    CHECK(l->magic == "minidump FreeBSD/amd64");
    CHECK(l->os == "freebsd");
    CHECK(l->arch->name == "amd64");
    CHECK(l->version == 3);
    CHECK(l->page_size == 4096);
    CHECK(l->kernbase == 0xfffffe0000000000);
    CHECK(l->dmapbase == 0xfffff80000000000);
    CHECK(l->dmapend == 0xfffffc0000000000);
    // Header page; msgbuf 0x5f00 bytes in 0x6000; dump_avail one page; a
    // bitmap of 8094 pages (0x9e + 0x1700 + 0x800) in 127 words, one page;
    // PDEs for the 2047 GiB from 0xfffffe0000000000 up to the end of the
    // image at 0xffffffff81000000, a page each.
    CHECK(l->msgbuf == minidump::Section{.offset = 0x1000, .size = 0x5f00});
    CHECK(l->dump_avail == minidump::Section{.offset = 0x7000, .size = 0x1000});
    CHECK(l->bitmap == minidump::Section{.offset = 0x8000, .size = 0x1000});
    CHECK(l->page_map == minidump::Section{.offset = 0x9000, .size = 2047 * 0x1000});
    CHECK(l->pages_offset == 0x9000 + 2047 * 0x1000);
    CHECK(l->page_map_form == "amd64-pde-map");
    CHECK(l->page_map_entries == 2047 * 512);
    CHECK(l->avail ==
          std::vector<minidump::AvailRange>{{0x1000, 0x9f000}, {0x100000, 0x1800000}, {0x2000000, 0x2800000}});
    std::uint64_t written = 0;
    for (const auto& seg : m.memory().ram())
        for (std::uint64_t pa = seg.start; pa < seg.start + seg.size; pa += 4096)
            written += m.memory().is_written(pa) ? 1 : 0;
    CHECK(l->bitmap_pages == written);
    CHECK(l->file_pages == written);
    CHECK(dump.size() == l->pages_offset + written * 4096);
    CHECK(f->machine().os == "freebsd");
    CHECK(f->machine().translator == "amd64-pde-map");
    CHECK(f->machine().info.at("minidump.version") == "3");
    CHECK(f->machine().info.at("minidump.dmap") == "[0xfffff80000000000, 0xfffffc0000000000) at pa 0x0");
    CHECK(f->machine().info.count("os.source") == 0);

    // The pages are stored in pa order, so the runs are the written pages.
    std::uint64_t bytes = 0;
    std::uint64_t offset = l->pages_offset;
    for (const PhysRun& r : f->phys_ranges()) {
        CHECK(r.offset == offset);
        offset += r.size;
        bytes += r.size;
        CHECK(m.memory().is_written(r.pa));
        CHECK(m.memory().is_written(r.pa + r.size - 4096));
    }
    CHECK(bytes == written * 4096);
}

TEST_CASE("FreeBSD amd64 minidump v3: the kernel map through PDEs, the direct map, and what is missing") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
    // The image on 2 MiB pages (PG_PS PDEs), at its link address less KERNBASE.
    const std::uint64_t version = k->symbol_value("version");
    CHECK(version == m.symbol("version"));
    const Mapping image = k->translate(version);
    CHECK(image.pa == version - 0xffffffff80000000);
    CHECK(image.page_size == 2u << 20);
    CHECK(k->read_string(version, 256) == m.spec().version);
    CHECK(k->read_uint(k->symbol_value("_time_second"), 8) == static_cast<std::uint64_t>(m.spec().crash_time));
    // The heap on 4 KiB pages, through a page table the dump holds.
    const std::uint64_t message = k->read_pointer(k->symbol_value("panicstr"));
    CHECK(message == 0xfffffe0000000800);  // after the 256 pidhash buckets
    const Mapping heap = k->translate(message);
    CHECK(heap.pa == m.virt_to_phys(message));
    CHECK(heap.page_size == 4096);
    CHECK(k->read_string(message, 256) == m.spec().panic);
    // The same bytes through the direct map the header names.
    const std::uint64_t dmap = 0xfffff80000000000 + m.virt_to_phys(message);
    CHECK(k->translate(dmap).pa == m.virt_to_phys(message));
    CHECK(read_text(*k, dmap, m.spec().panic.size()) == m.spec().panic);
    // KPML4phys holds the root of the page tables the dump was made from.
    CHECK(k->read_uint(k->symbol_value("KPML4phys"), 8) == m.pt_root());

    check_error([&] { k->translate(0x1000); }, ErrorKind::fault,
                "0x1000: below 0xfffffe0000000000, where the page map starts");
    check_error([&] { k->translate(0xfffffe003ffff000); }, ErrorKind::fault,
                "0xfffffe003ffff000: level 2 entry 0x0 (index 511 of the page map) is not valid");
    check_error([&] { k->translate(0xffffffffc0000000); }, ErrorKind::fault,
                "0xffffffffc0000000: beyond the page map (index 1048064 of 1048064 entries from 0xfffffe0000000000)");
    // A page of the heap's first 2 MiB that was never mapped: its page
    // table (found here by walking the builder's tables) says so.
    const std::uint64_t unmapped = 0xfffffe0000100000;
    check_error([&] { k->translate(unmapped); }, ErrorKind::fault,
                fmt::format("{}: level 1 entry 0x0 (index 256 of the table at pa {}) is not valid", hex(unmapped),
                            hex(table_of(m, unmapped, 1))));
    // A direct-map address of a page the kernel did not dump.
    check_error([&] { k->read_uint(0xfffff8000009f000, 8); }, ErrorKind::fault,
                "0xfffff8000009f000: physical address 0x9f000 is not in the dump");
    // A read from a dumped page into one that is not stops there.
    std::uint64_t hole = (m.virt_to_phys(message) & ~std::uint64_t{0xfff}) + 0x1000;
    while (m.memory().is_written(hole))
        hole += 0x1000;
    Bytes across(16);
    const PartialRead r = k->read_partial(0xfffff80000000000 + hole - 8, across);
    CHECK(r.bytes == 8);
    REQUIRE(r.error.has_value());
    CHECK(r.error->message() ==
          fmt::format("{}: physical address {:#x} is not in the dump", hex(0xfffff80000000000 + hole), hole));
}

TEST_CASE("a minidump carries the message buffer: the kernel's ring, as it was") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
    const auto& mb = m.message_buffer();
    CHECK(mb.size == 0x5f00);
    const std::optional<Bytes> carried = k->format().message_buffer();
    REQUIRE(carried.has_value());
    Bytes ring(mb.size);
    m.read(mb.ring, ring);
    CHECK(*carried == ring);
    // The ring read from the top at the write position is the text.
    std::string unrolled(as_chars(ByteSpan(*carried).subspan(mb.write_offset)));
    unrolled += as_chars(ByteSpan(*carried).first(mb.write_offset));
    CHECK(unrolled == mb.text);
    CHECK(unrolled.ends_with(fmt::format("panic: {}\ncpuid = 0\ntime = {}\n", m.spec().panic, m.spec().crash_time)));
    // msgbufp->msg_ptr in memory is where the ring is.
    CHECK(k->read_pointer(k->read_pointer(k->symbol_value("msgbufp"))) == mb.ring);
}

// ---------------------------------------------------------------- every kind

namespace {

struct Variant {
    const char* label;
    synth::MachineSpec spec;
    const char* format;
    const char* os;
    const char* translator;
    std::uint32_t page_size;
    bool has_avail;
    bool has_dmap;
};

std::vector<Variant> variants() {
    return {
        {"FreeBSD amd64 v1",
         {.os = "freebsd", .minidump_version = 1},
         "freebsd-minidump",
         "freebsd",
         "amd64-pte-map",
         4096,
         false,
         true},
        {"FreeBSD amd64 v2",
         {.os = "freebsd", .minidump_version = 2},
         "freebsd-minidump",
         "freebsd",
         "amd64-pde-map",
         4096,
         false,
         true},
        {"FreeBSD amd64 v3",
         {.os = "freebsd", .minidump_version = 3},
         "freebsd-minidump",
         "freebsd",
         "amd64-pde-map",
         4096,
         true,
         true},
        {"FreeBSD i386 v1",
         {.arch = "i386", .os = "freebsd", .minidump_version = 1},
         "freebsd-minidump",
         "freebsd",
         "i386-pte-map",
         4096,
         false,
         false},
        {"FreeBSD i386 v2",
         {.arch = "i386", .os = "freebsd", .minidump_version = 2},
         "freebsd-minidump",
         "freebsd",
         "i386-pte-map",
         4096,
         true,
         false},
        {"FreeBSD i386 PAE v1",
         {.arch = "i386", .pae = true, .os = "freebsd", .minidump_version = 1},
         "freebsd-minidump",
         "freebsd",
         "i386-pae-pte-map",
         4096,
         false,
         false},
        {"FreeBSD i386 PAE v2",
         {.arch = "i386", .pae = true, .os = "freebsd", .minidump_version = 2},
         "freebsd-minidump",
         "freebsd",
         "i386-pae-pte-map",
         4096,
         true,
         false},
        {"FreeBSD arm64 v1",
         {.arch = "arm64", .os = "freebsd", .minidump_version = 1},
         "freebsd-minidump",
         "freebsd",
         "arm64-l3-map-4k",
         4096,
         false,
         true},
        {"FreeBSD arm64 v2",
         {.arch = "arm64", .os = "freebsd", .minidump_version = 2},
         "freebsd-minidump",
         "freebsd",
         "arm64-l3-map-4k",
         4096,
         true,
         true},
        {"FreeBSD arm64 v3",
         {.arch = "arm64", .os = "freebsd", .minidump_version = 3},
         "freebsd-minidump",
         "freebsd",
         "arm64-l3-map-4k",
         4096,
         true,
         true},
        {"FreeBSD arm64 v3 16K",
         {.arch = "arm64", .os = "freebsd", .page_size = 16384, .minidump_version = 3},
         "freebsd-minidump",
         "freebsd",
         "arm64-l3-map-16k",
         16384,
         true,
         true},
        {"DragonFly v1",
         {.os = "dragonfly", .minidump_version = 1},
         "dragonfly-minidump",
         "dragonfly",
         "amd64-pte-map",
         4096,
         false,
         true},
        {"DragonFly v2",
         {.os = "dragonfly", .minidump_version = 2},
         "dragonfly-minidump",
         "dragonfly",
         "amd64-pdpe-map-absolute",
         4096,
         false,
         true},
    };
}

}  // namespace

TEST_CASE("every kind of minidump reads back the machine: image, heap, direct map, message buffer") {
    for (const Variant& v : variants()) {
        CAPTURE(v.label);
        const synth::CrashedMachine m(v.spec);
        const Bytes dump = minidump_of(m);
        const auto k = open_bsd_dump(dump, namelist_of(m));
        CHECK(k->format().name() == v.format);
        CHECK(k->machine().os == v.os);
        CHECK(k->machine().translator == v.translator);
        CHECK(k->machine().arch == &m.arch());
        const minidump::Layout& l = *minidump::layout_of(k->format());
        CHECK(l.version == m.spec().minidump_version);
        CHECK(l.page_size == v.page_size);
        CHECK(l.avail.empty() == !v.has_avail);
        CHECK(k->machine().linear.empty() == !v.has_dmap);

        // The image, the heap (panic message, message buffer ring) and
        // their physical addresses, as the builder mapped them.
        for (const std::uint64_t va :
             {m.symbol("version"), m.symbol("panicstr"), m.symbol("msgbufp"),
              m.read_uint(m.symbol("panicstr"), m.arch().pointer_size), m.message_buffer().ring + 0x4321}) {
            CAPTURE(hex(va));
            CHECK(k->translate(va).pa == m.virt_to_phys(va));
        }
        CHECK(k->read_string(k->symbol_value("version"), 256) == m.spec().version);
        const std::uint64_t message = k->read_pointer(k->symbol_value("panicstr"));
        CHECK(k->read_string(message, 256) == m.spec().panic);
        CHECK(read_text(*k, m.message_buffer().ring, m.message_buffer().size) ==
              machine_text(m, m.message_buffer().ring, m.message_buffer().size));
        if (v.has_dmap) {
            const std::uint64_t dmap = m.direct_map(m.virt_to_phys(message));
            CHECK(k->translate(dmap).pa == m.virt_to_phys(message));
            CHECK(k->read_string(dmap, 256) == m.spec().panic);
        }
        Bytes ring(m.message_buffer().size);
        m.read(m.message_buffer().ring, ring);
        CHECK(k->format().message_buffer() == ring);
        // Every dumped page, and nothing else, is in the file.
        std::uint64_t dumped = 0;
        for (const PhysRun& r : k->format().phys_ranges())
            dumped += r.size;
        std::uint64_t written = 0;
        for (const auto& seg : m.memory().ram())
            for (std::uint64_t pa = seg.start; pa < seg.start + seg.size; pa += v.page_size)
                written += m.memory().is_written(pa) ? 1 : 0;
        CHECK(dumped == written * v.page_size);
        CHECK(dump.size() == l.pages_offset + written * v.page_size);
    }
}

TEST_CASE("i386 and arm64 minidumps: addresses outside the page map, and pages it does not map") {
    {
        const synth::CrashedMachine m({.arch = "i386", .pae = true, .os = "freebsd"});
        const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
        check_error([&] { k->translate(0x1000); }, ErrorKind::fault,
                    "0x1000: below 0xc0000000, where the page map starts");
        check_error([&] { k->translate(0xd0000000); }, ErrorKind::fault,
                    "0xd0000000: beyond the page map (index 65536 of 65536 entries from 0xc0000000)");
        check_error([&] { k->translate(0xffffffff80200000); }, ErrorKind::fault,
                    "0xffffffff80200000: above the 32-bit virtual address space of i386-pae");
        check_error([&] { k->translate(0xc8100000); }, ErrorKind::fault,
                    "0xc8100000: level 1 entry 0x0 (index 33024 of the page map) is not valid");
        // The image on 2 MiB PAE pages reads as 4 KiB entries.
        CHECK(k->translate(m.symbol("version")).page_size == 4096);
        CHECK(k->translate(m.symbol("version")).pa == m.symbol("version") - 0xc0000000);
    }
    {
        const synth::CrashedMachine m({.arch = "arm64", .os = "freebsd", .page_size = 16384});
        const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
        // 16 KiB pages from kernbase 0xffff000000000000 to the heap's end.
        CHECK(minidump::layout_of(k->format())->page_map_entries == 0x5000000 / 0x4000);
        check_error([&] { k->translate(0xffff000004ff0000); }, ErrorKind::fault,
                    "0xffff000004ff0000: level 3 entry 0x0 (index 5116 of the page map) is not valid");
        const Mapping text = k->translate(m.symbol("panic") + 5);
        CHECK(text.pa == m.symbol("panic") + 5 - 0xffff000000000000 + 0x40000000);
        CHECK(text.page_size == 16384);
        // The direct map comes first: it lies above kernbase.
        CHECK(k->translate(0xffffa00000004000).pa == 0x40004000);
    }
}

TEST_CASE("DragonFly: v2 reads PDPT entries by absolute address; v1 is told from FreeBSD's by the namelist") {
    {
        const synth::CrashedMachine m({.os = "dragonfly"});
        const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
        const minidump::Layout& l = *minidump::layout_of(k->format());
        CHECK(l.magic == "minidump DFlyBSD/x86-64");
        CHECK(l.kernbase == 0xffffff8000000000);
        CHECK(l.page_map == minidump::Section{.offset = 0x7000 + 0x1000, .size = 0x200000});
        check_error([&] { k->translate(0xfffffe0000000000); }, ErrorKind::fault,
                    "0xfffffe0000000000: below 0xffffff8000000000, where the page map starts");
        // The last GiB (PDPT entry 511 of the last PML4 slot); the image is in the one before.
        check_error([&] { k->translate(0xffffffffc0000000); }, ErrorKind::fault,
                    "0xffffffffc0000000: level 3 entry 0x0 (index 262143 of the page map) is not valid");
    }
    const synth::CrashedMachine m({.os = "dragonfly", .minidump_version = 1});
    const Bytes dump = minidump_of(m);
    auto with = open_bsd_dump(dump, namelist_of(m));
    CHECK(with->machine().os == "dragonfly");
    CHECK(with->format().name() == "dragonfly-minidump");
    CHECK(with->machine().info.at("os.source") == "the namelist's ostype \"DragonFly\"");
    auto without = open_bytes(dump);
    CHECK(without->machine().os == "freebsd");
    CHECK(without->machine().info.at("os.source") ==
          "\"minidump FreeBSD/amd64\" version 1 is DragonFly's too, and no namelist tells them apart: read as FreeBSD");
    // A namelist of a FreeBSD kernel says FreeBSD.
    const synth::CrashedMachine freebsd({.os = "freebsd", .minidump_version = 1});
    auto fb = open_bsd_dump(minidump_of(freebsd), namelist_of(freebsd));
    CHECK(fb->machine().os == "freebsd");
    CHECK(fb->machine().info.at("os.source") == "the namelist's ostype \"FreeBSD\"");
}

// ---------------------------------------------------------------- big

TEST_CASE("a minidump of more than 4 GiB: a bitmap over 8 GiB of physical memory, pages above 4 GiB read back") {
    // 4 GiB of RAM above 4 GiB, every page of it dumped (zeros, left as
    // holes in the file), and a few pages up there with known bytes.
    synth::MachineSpec spec{.realistic_memory = false, .os = "freebsd"};
    spec.ram = {{0x1000, 0x9e000}, {0x100000, 0x1700000}, {0x2000000, 0x800000}, {0x100000000, 0x100000000}};
    synth::CrashedMachine m(spec);
    const std::uint64_t high = 0x1ff000000;
    const Bytes marker = to_bytes("above four GiB, page by page");
    m.memory().write(high, marker);
    m.memory().write(0x100000000, marker);
    const kvm::test::TempDir dir;
    const std::string path = dir / "vmcore.0";
    synth::write_sparse_file(path, [&](Sink& out) { m.write_minidump(out, {.all_ram = true}); });

    auto source = open_file(path);
    const std::uint64_t ram_pages = (0x9e000 + 0x1700000 + 0x800000 + 0x100000000) / 0x1000;
    // A bitmap of 8094 + 0x100000 bits, in 33 pages: the page map at 0x29000.
    CHECK(source->size() == 0x29000 + 2047 * 0x1000 + ram_pages * 0x1000);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < (64u << 20));  // the zeros are holes

    auto nl = namelist_of(m);
    Kernel k(open_format(source, {.namelist = nl.get()}), nl);
    const minidump::Layout& l = *minidump::layout_of(k.format());
    CHECK(l.bitmap_pages == ram_pages);
    CHECK(l.avail.back() == minidump::AvailRange{0x100000000, 0x200000000});
    // The page at 0x1ff000000 has bit 8094 + 0xff000: past 4 GiB in the file too.
    const auto offset = k.format().phys_to_offset(high);
    REQUIRE(offset.has_value());
    CHECK(*offset == l.pages_offset + (8094 + 0xff000) * std::uint64_t{0x1000});
    CHECK(*offset > (std::uint64_t{4} << 30));
    Bytes got(marker.size());
    k.read_phys(high, got);
    CHECK(got == marker);
    k.read(0xfffff80000000000 + high, got);
    CHECK(got == marker);
    k.read(0xfffff80000000000 + 0x100000000, got);
    CHECK(got == marker);
    CHECK(k.read_string(k.symbol_value("version"), 256) == m.spec().version);
}

// ---------------------------------------------------------------- bad input

TEST_CASE("broken minidumps: sizes past the file or the limits, bad dump_avail, unknown kinds and versions") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const Bytes dump = minidump_of(m);
    const std::string size = fmt::format("{:#x}", dump.size());
    const auto with = [&](const std::function<void(Bytes&)>& patch) {
        Bytes b = dump;
        patch(b);
        return b;
    };
    // Header fields (section 3.1): msgbufsize @28, bitmapsize @32, pmapsize @36, dumpavailsize @64.
    check_error([&] { open_bytes(with([](Bytes& b) { patch32(b, 32, 0x10000000); })); }, ErrorKind::corrupt,
                "vmcore.0: bitmapsize 0x10000000: the bitmap at offset 0x8000 runs past the end of the file (" + size +
                    " bytes)");
    check_error([&] { open_bytes(with([](Bytes& b) { patch32(b, 32, 0x10001000); })); }, ErrorKind::corrupt,
                "vmcore.0: bitmapsize 0x10001000 is more than the 0x10000000 bytes this reader accepts");
    check_error([&] { open_bytes(with([](Bytes& b) { patch32(b, 36, 0xfffff000); })); }, ErrorKind::corrupt,
                "vmcore.0: pmapsize 0xfffff000: the page map at offset 0x9000 runs past the end of the file (" + size +
                    " bytes)");
    check_error([&] { open_bytes(with([](Bytes& b) { patch32(b, 28, 0x8000000); })); }, ErrorKind::corrupt,
                "vmcore.0: msgbufsize 0x8000000 is more than the 0x4000000 bytes this reader accepts");
    check_error([&] { open_bytes(with([](Bytes& b) { patch32(b, 64, 0x200000); })); }, ErrorKind::corrupt,
                "vmcore.0: dumpavailsize 0x200000 is more than the 0x100000 bytes this reader accepts");

    // dump_avail at 0x7000: [0x1000, 0x9f000) [0x100000, 0x1800000) [0x2000000, 0x2800000).
    check_error([&] { open_bytes(with([](Bytes& b) { patch64(b, 0x7010, 0x0); })); }, ErrorKind::corrupt,
                "vmcore.0: dump_avail pair 2 [0x0, 0x1800000) is out of order: it starts below pair 1 [0x1000, "
                "0x9f000)");
    check_error([&] { open_bytes(with([](Bytes& b) { patch64(b, 0x7010, 0x9e000); })); }, ErrorKind::corrupt,
                "vmcore.0: dump_avail pair 2 [0x9e000, 0x1800000) overlaps pair 1 [0x1000, 0x9f000)");
    check_error([&] { open_bytes(with([](Bytes& b) { patch64(b, 0x7008, 0x1000); })); }, ErrorKind::corrupt,
                "vmcore.0: dump_avail pair 1 [0x1000, 0x1000) is empty");
    check_error([&] { open_bytes(with([](Bytes& b) { patch64(b, 0x7008, 0x0); })); }, ErrorKind::corrupt,
                "vmcore.0: dump_avail lists no memory");

    check_error([&] { open_bytes(with([](Bytes& b) { patch32(b, 24, 4); })); }, ErrorKind::unsupported,
                "vmcore.0: \"minidump FreeBSD/amd64\" version 4: kvmkit reads versions 1 to 3");
    check_error([&] { open_bytes(with([](Bytes& b) { std::memcpy(b.data(), "minidump FreeBSD/riscv\0\0", 24); })); },
                ErrorKind::unsupported,
                "vmcore.0: \"minidump FreeBSD/riscv\": a kind of minidump kvmkit does not read (it reads \"minidump "
                "FreeBSD/amd64\", \"minidump FreeBSD/i386\", \"minidump FreeBSD/arm64\", \"minidump DFlyBSD/x86-64\")");
    check_error([&] { open_bytes(Bytes(dump.begin(), dump.begin() + 30)); }, ErrorKind::corrupt,
                "vmcore.0: minidump header is truncated: needs 4 bytes at offset 0x1c, has 0x1e in all");
    check_error([&] { open_bytes(to_bytes("minid")); }, ErrorKind::format,
                "vmcore.0: not a recognised crash dump (tried netbsd-kcore, elf-core, kdump, kdump-flattened, "
                "minidump, freebsd-dumpdev, netbsd-dumpdev)");

    // DragonFly's 64-bit sizes (section 4): msgbufsize @32, ptesize @48.
    const synth::CrashedMachine dfly({.os = "dragonfly"});
    Bytes d = minidump_of(dfly);
    patch64(d, 32, ~std::uint64_t{0});
    check_error([&] { open_bytes(d); }, ErrorKind::corrupt,
                "vmcore.0: msgbufsize 0xffffffffffffffff is more than the 0x4000000 bytes this reader accepts");
    d = minidump_of(dfly);
    patch64(d, 48, 0x1000);
    check_error([&] { open_bytes(d); }, ErrorKind::corrupt,
                "vmcore.0: ptesize 0x1000 is not 0x200000 (one PDPT entry for each GiB of the 48-bit address space)");
    d = minidump_of(dfly);
    patch32(d, 24, 3);
    check_error([&] { open_bytes(d); }, ErrorKind::unsupported,
                "vmcore.0: \"minidump DFlyBSD/x86-64\" version 3: kvmkit reads version 2");

    // arm64 v3 flags @76: the page size.
    const synth::CrashedMachine arm({.arch = "arm64", .os = "freebsd"});
    Bytes a = minidump_of(arm);
    patch32(a, 76, 2);
    check_error([&] { open_bytes(a); }, ErrorKind::unsupported,
                "vmcore.0: \"minidump FreeBSD/arm64\" version 3: flags 0x2 give 64 KiB pages, which kvmkit does not "
                "read");
    patch32(a, 76, 3);
    check_error([&] { open_bytes(a); }, ErrorKind::corrupt,
                "vmcore.0: \"minidump FreeBSD/arm64\" version 3: flags 0x3 name no page size (0: 4 KiB, 1: 16 KiB, 2: "
                "64 KiB)");
}

TEST_CASE("a truncated minidump is refused, or opened on request with the missing pages named") {
    const synth::CrashedMachine m({.os = "freebsd"});
    const Bytes dump = minidump_of(m);
    const auto intact = open_bytes(dump);
    const minidump::Layout& l = *minidump::layout_of(*intact);
    // The first 11 dumped pages.
    std::vector<std::uint64_t> first;
    for (const PhysRun& r : intact->phys_ranges())
        for (std::uint64_t pa = r.pa; pa < r.pa + r.size && first.size() < 11; pa += 0x1000)
            first.push_back(pa);
    REQUIRE(first.size() == 11);
    const std::uint64_t eleventh = first[10];
    const Bytes cut(dump.begin(), dump.begin() + static_cast<std::ptrdiff_t>(l.pages_offset + 10 * 0x1000 + 100));
    check_error([&] { open_bytes(cut); }, ErrorKind::corrupt,
                fmt::format("vmcore.0: truncated: the bitmap marks {} pages, which end at offset {:#x}, but the file "
                            "has {:#x} bytes",
                            l.bitmap_pages, l.pages_offset + l.bitmap_pages * 0x1000, cut.size()));
    const auto f = open_bytes(cut, {.allow_truncated = true});
    CHECK(f->machine().info.at("minidump.truncated") ==
          fmt::format("the file holds 10 of the {} pages the bitmap marks", l.bitmap_pages));
    Bytes b(8);
    f->read_phys(first[9] + 0xff8, b);
    check_error(
        [&] { f->read_phys(eleventh, b); }, ErrorKind::fault,
        fmt::format("physical address {:#x} is past the end of the truncated dump (page 11 of the {} the bitmap "
                    "marks)",
                    eleventh, l.bitmap_pages));
    CHECK_FALSE(f->phys_to_offset(eleventh).has_value());
    std::uint64_t held = 0;
    for (const PhysRun& r : f->phys_ranges())
        held += r.size;
    CHECK(held == 10 * 0x1000);
}
