// kvmdump's library side on synthetic crashes of every paging scheme:
// exact bytes across 4 KiB pages scattered in physical memory, across large
// pages and into RAM holes, and the exact fault that stops a read.
#include <kvm/hexdump.h>
#include <kvm/kernel.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test_util.h"

using namespace kvm;
using kvm::test::TempDir;

namespace {

struct Scheme {
    const char* arch;
    bool pae;
    std::uint64_t large_page;
};

constexpr Scheme schemes[] = {
    {"amd64", false, 2u << 20},
    {"i386", false, 4u << 20},
    {"i386", true, 2u << 20},
};

// A machine with a heap buffer over three 4 KiB pages and a function that
// runs across a large-page boundary of the kernel text.
struct Crash {
    explicit Crash(const Scheme& s) : machine({.arch = s.arch, .pae = s.pae, .seed = 3}) {
        heap = machine.kmem_alloc(3 * std::uint64_t{4096}, 4096);
        Bytes pattern(3 * std::uint64_t{4096});
        for (std::size_t i = 0; i < pattern.size(); ++i)
            pattern[i] = static_cast<std::byte>((i * 7 + i / 4096) & 0xff);
        machine.write(heap, pattern);
        // The text starts on a large page; this function fills the rest of
        // it and the next one begins on the following large page.
        const std::uint64_t text = machine.symbol("start");
        const std::uint64_t here = machine.symbol("lwp_exit_switchaway") + 0x140;
        const std::uint64_t boundary = (text & ~(s.large_page - 1)) + s.large_page;
        filler = machine.define_function("filler", boundary - 0x10 - ((here + 15) & ~std::uint64_t{15}));
        across = machine.define_function("across", 0x40);
        const auto segments = machine.prepare_dump({});
        MemorySink sink;
        machine.write_kcore(sink, segments);
        synth::write_file(dir / "netbsd", machine.kernel_elf());
        kernel = std::make_unique<Kernel>(open_format(std::make_shared<MemorySource>(sink.data(), "netbsd.0.core")),
                                          std::shared_ptr<const Namelist>(Namelist::load(dir / "netbsd")));
    }

    Bytes truth(std::uint64_t va, std::size_t n) const {
        Bytes b(n);
        machine.read(va, b);
        return b;
    }

    Bytes read(std::uint64_t va, std::uint64_t n, PartialRead* result = nullptr) const {
        Bytes got;
        PartialRead r = read_memory(*kernel, va, n, [&](ByteSpan b) { got.insert(got.end(), b.begin(), b.end()); });
        CHECK(r.bytes == got.size());
        if (result != nullptr) *result = std::move(r);
        return got;
    }

    TempDir dir;
    synth::CrashedMachine machine;
    std::uint64_t heap = 0;
    std::uint64_t filler = 0;
    std::uint64_t across = 0;
    std::unique_ptr<Kernel> kernel;
};

}  // namespace

TEST_CASE("reads cross scattered 4 KiB pages and large-page boundaries byte for byte") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.arch);
        CAPTURE(s.pae);
        Crash c(s);
        // The three heap pages are not physically contiguous.
        CHECK(c.machine.virt_to_phys(c.heap + 4096) != c.machine.virt_to_phys(c.heap) + 4096);
        CHECK(c.read(c.heap + 0x800, 0x2000) == c.truth(c.heap + 0x800, 0x2000));
        CHECK(c.read(c.heap, 3 * std::uint64_t{4096}) == c.truth(c.heap, 3 * std::uint64_t{4096}));

        // The function starts 16 bytes before a large-page boundary.
        const std::uint64_t boundary = c.across + 0x10;
        CHECK((boundary & (s.large_page - 1)) == 0);
        const Mapping before = c.kernel->translate(boundary - 1);
        const Mapping after = c.kernel->translate(boundary);
        CHECK(before.page_size == s.large_page);
        CHECK(after.page_size == s.large_page);
        CHECK(after.pa != before.pa + 1);  // another large page, elsewhere
        CHECK(c.read(c.across - 0x30, 0x60) == c.truth(c.across - 0x30, 0x60));
        PartialRead r;
        CHECK(c.read(c.across - 0x30, 0x60, &r).size() == 0x60);
        CHECK_FALSE(r.error);
    }
}

TEST_CASE("a read stops at the first unreadable byte and says which level failed") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.arch);
        CAPTURE(s.pae);
        Crash c(s);
        // The heap page after the buffer was never mapped.
        const std::uint64_t end = c.heap + 3 * std::uint64_t{4096};
        PartialRead r;
        const Bytes got = c.read(end - 0x100, 0x1000, &r);
        CHECK(got == c.truth(end - 0x100, 0x100));
        REQUIRE(r.error);
        CHECK(r.error->kind() == ErrorKind::fault);
        CHECK(r.error->address() == end);
        CHECK(r.error->message().rfind(
                  fmt::format("{}: level 1 entry 0x0 (index {} of the table at pa 0x", hex(end),
                              (end >> 12) & (s.arch == std::string_view("i386") && !s.pae ? 0x3ff : 0x1ff)),
                  0) == 0);

        // Where nothing is mapped at the top level, the message names the root.
        const std::uint64_t far = s.arch == std::string_view("amd64") ? 0xffffa00000000000 : 0xd0000000;
        const Bytes none = c.read(far, 16, &r);
        CHECK(none.empty());
        REQUIRE(r.error);
        const std::string top = s.arch == std::string_view("amd64") ? "level 4 entry 0x0 (index 320"
                                : s.pae                             ? "level 2 entry 0x0 (index 1664"
                                                                    : "level 2 entry 0x0 (index 832";
        CHECK(r.error->message() ==
              fmt::format("{}: {} of the table at pa {}) is not valid", hex(far), top, hex(c.machine.pt_root())));
    }
}

TEST_CASE("a direct-map read into a RAM hole stops with 'not in the dump'") {
    Crash c(schemes[0]);
    // The first RAM segment is [0x1000, 0x9f000); the direct map covers the
    // hole after it too.
    const std::uint64_t va = c.machine.direct_map(0x9f000 - 0x100);
    PartialRead r;
    const Bytes got = c.read(va, 0x200, &r);
    Bytes want(0x100);
    c.machine.memory().read(0x9f000 - 0x100, want);
    CHECK(got == want);
    REQUIRE(r.error);
    CHECK(r.error->address() == va + 0x100);
    CHECK(r.error->message() == "0xffff80000009f000: physical address 0x9f000 is not in the dump");
}

TEST_CASE("hexdump_memory and copy_memory print what was readable") {
    Crash c(schemes[0]);
    std::string text;
    PartialRead r;
    {
        OutputBuffer out(text);
        r = hexdump_memory(*c.kernel, c.heap + 3 * std::uint64_t{4096} - 0x20, 0x40, &c.kernel->symbols(), out);
    }
    const Bytes b = c.truth(c.heap + 3 * std::uint64_t{4096} - 0x20, 0x20);
    HexdumpFormatter f(c.heap + 3 * std::uint64_t{4096} - 0x20, 16);
    std::string want;
    f.add(b, want);
    f.finish(want);
    CHECK(text == want);
    CHECK(r.bytes == 0x20);
    REQUIRE(r.error);

    // Each line names the symbol of its first byte.
    std::string annotated;
    {
        OutputBuffer out(annotated);
        r = hexdump_memory(*c.kernel, c.machine.symbol("main") - 0x10, 0x30, &c.kernel->symbols(), out);
    }
    CHECK_FALSE(r.error);
    std::vector<std::string> names;
    for (std::size_t at = 0; at < annotated.size();) {
        const std::size_t nl = annotated.find('\n', at);
        const std::string line = annotated.substr(at, nl - at);
        names.push_back(line.size() > 88 ? line.substr(88) : "");
        at = nl + 1;
    }
    CHECK(names == std::vector<std::string>{"start+0xf0", "main", "main+0x10", ""});

    std::string raw;
    {
        OutputBuffer out(raw);
        r = copy_memory(*c.kernel, c.heap + 0xff0, 0x20, out);
    }
    const Bytes heap_bytes = c.truth(c.heap + 0xff0, 0x20);
    CHECK(raw == std::string(as_chars(heap_bytes)));
    CHECK_FALSE(r.error);

    OutputBuffer sink(raw);
    CHECK(kvm::test::error_of([&] { copy_memory(*c.kernel, 0xfffffffffffffff0, 0x11, sink); }) ==
          "0xfffffffffffffff0: 0x11 bytes run past the end of the address space");
}
