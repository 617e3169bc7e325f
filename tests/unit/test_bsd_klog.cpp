// FreeBSD's and DragonFly's message buffer (kvm/msgbuf.h, bsd-msgbuf): the
// ring every kind of synthetic minidump carries and the one a full dump
// holds at msgbufp->msg_ptr, unwrapped from the write position the
// builder's struct msgbuf holds, against the text the builder wrote;
// wrapped, empty and damaged buffers; what their dmesg prints.
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/msgbuf.h>
#include <kvm/synth.h>

#include "bsd_fixture.h"
#include "test_util.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

using namespace kvm;
using kvm::test::error_of;
using kvmtest::full_dump_of;
using kvmtest::minidump_of;
using kvmtest::namelist_of;
using kvmtest::open_bsd_dump;

namespace {

struct Read {
    KernelLog log;
    std::vector<std::string> warnings;
};

Read read_log(const Kernel& k, const LogOptions& options = {.layout_dirs = {test::shipped_layouts_dir()}}) {
    Read r;
    r.log = read_kernel_log(
        k, [&](const Error& e) { r.warnings.emplace_back(e.what()); }, options);
    return r;
}

std::string name_of(const synth::MachineSpec& s) {
    return fmt::format("{} {}{} v{}{}{}", s.os, s.arch, s.pae ? " pae" : "", s.minidump_version,
                       s.page_size != 0 ? fmt::format(" {}-byte pages", s.page_size) : "",
                       s.os == "dragonfly" && s.dragonfly_pcb_cr3 == 0 ? " (2008 port)" : "");
}

// Every kind of minidump, and both DragonFly message buffers (the 2008
// port's masked indexes, 6.4's free-running ones).
const std::vector<synth::MachineSpec> minidump_kinds = {
    {.os = "freebsd", .minidump_version = 1},
    {.os = "freebsd", .minidump_version = 2},
    {.os = "freebsd", .minidump_version = 3},
    {.arch = "i386", .os = "freebsd", .minidump_version = 1},
    {.arch = "i386", .os = "freebsd", .minidump_version = 2},
    {.arch = "i386", .pae = true, .os = "freebsd", .minidump_version = 2},
    {.arch = "arm64", .os = "freebsd", .minidump_version = 1},
    {.arch = "arm64", .os = "freebsd", .minidump_version = 2},
    {.arch = "arm64", .os = "freebsd", .page_size = 16384, .minidump_version = 3},
    {.os = "dragonfly", .minidump_version = 1, .dragonfly_pcb_cr3 = 0},
    {.os = "dragonfly", .minidump_version = 2},
};

synth::MachineSpec with_text(synth::MachineSpec spec, std::string text, std::uint64_t size) {
    spec.msgbuf_text = std::move(text);
    spec.msgbuf_size = size;
    return spec;
}

}  // namespace

TEST_CASE("every kind of minidump: the ring it carries, unwrapped from struct msgbuf's write position") {
    for (const synth::MachineSpec& spec : minidump_kinds) {
        CAPTURE(name_of(spec));
        const synth::CrashedMachine m(spec);
        const auto& mb = m.message_buffer();
        // The builder's boot log is half as long again as the ring: it has wrapped.
        REQUIRE(mb.written > mb.size);
        const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
        const Read r = read_log(*k);
        CHECK(r.warnings.empty());
        CHECK(r.log.text_stream);
        CHECK(r.log.dialect == TextDialect::freebsd);
        CHECK(r.log.source == fmt::format("msgbufp at {}, its ring from the minidump", hex(mb.msgbufp)));
        CHECK(r.log.text == mb.text);
        CHECK(format_log(r.log) == mb.text);
        CHECK(r.log.text.ends_with(
            fmt::format("panic: {}\ncpuid = 0\ntime = {}\n", m.spec().panic, m.spec().crash_time)));
        // DragonFly 6.4 keeps 1 to 2 KiB less than its ring (msg_bufr trails
        // msg_bufx); the others all of it.
        if (spec.os != "dragonfly" || spec.dragonfly_pcb_cr3 == 0) CHECK(r.log.text.size() == mb.size);
    }
}

TEST_CASE("a full dump: the ring at msgbufp->msg_ptr, through the shipped layout or struct msgbuf's declaration") {
    for (const synth::MachineSpec& spec :
         std::vector<synth::MachineSpec>{{.os = "freebsd"},
                                         {.arch = "i386", .os = "freebsd", .minidump_version = 1},
                                         {.arch = "i386", .pae = true, .os = "freebsd"},
                                         {.os = "dragonfly"},
                                         {.os = "dragonfly", .dragonfly_pcb_cr3 = 0}}) {
        CAPTURE(name_of(spec));
        const synth::CrashedMachine m(spec);
        const auto k = open_bsd_dump(full_dump_of(m), namelist_of(m));
        REQUIRE_FALSE(k->format().message_buffer().has_value());
        const Read r = read_log(*k);
        CHECK(r.warnings.empty());
        CHECK(r.log.source == fmt::format("msgbufp at {}", hex(m.message_buffer().msgbufp)));
        CHECK(r.log.text == m.message_buffer().text);
    }
}

TEST_CASE("struct msgbuf as the headers declare it, and as the shipped layouts have it") {
    const StructLayouts freebsd32 = klog::declared_bsd_msgbuf_layouts("freebsd", 4, ByteOrder::little);
    const StructLayout& f = freebsd32.get("msgbuf");
    std::vector<std::pair<std::string, std::uint64_t>> offsets;
    for (const MemberLayout& member : f.members)
        offsets.emplace_back(member.name, member.offset);
    CHECK(
        offsets ==
        std::vector<std::pair<std::string, std::uint64_t>>{
            {"msg_ptr", 0}, {"msg_magic", 4}, {"msg_size", 8}, {"msg_wseq", 12}, {"msg_rseq", 16}, {"msg_seqmod", 24}});
    CHECK(f.size == 28);
    CHECK(freebsd32.require_value("MSG_MAGIC") == 0x063062);
    CHECK(freebsd32.source == "struct msgbuf as FreeBSD's sys/sys/msgbuf.h declares it");

    const StructLayouts dragonfly64 = klog::declared_bsd_msgbuf_layouts("dragonfly", 8, ByteOrder::little);
    offsets.clear();
    for (const MemberLayout& member : dragonfly64.get("msgbuf").members)
        offsets.emplace_back(member.name, member.offset);
    CHECK(offsets ==
          std::vector<std::pair<std::string, std::uint64_t>>{
              {"msg_magic", 0}, {"msg_size", 4}, {"msg_bufx", 8}, {"msg_bufr", 12}, {"msg_ptr", 16}, {"msg_bufl", 24}});
    CHECK(dragonfly64.require_value("MSG_MAGIC") == 0x063064);
    CHECK(dragonfly64.require_value("MSG_OMAGIC") == 0x063062);

    // The shipped files, made by a compiler from the same declarations,
    // agree member for member.
    for (const auto& entry :
         {std::pair{"freebsd-14-amd64.json", "freebsd"}, std::pair{"dragonfly-5-amd64.json", "dragonfly"},
          std::pair{"dragonfly-1-i386.json", "dragonfly"}}) {
        // Not a structured binding: clang 14 cannot capture one in CAPTURE.
        const char* file = entry.first;
        const char* os = entry.second;
        CAPTURE(file);
        const StructLayouts shipped = load_layouts_file(test::shipped_layouts_dir() + "/" + file);
        const StructLayouts declared = klog::declared_bsd_msgbuf_layouts(os, shipped.pointer_size, ByteOrder::little);
        for (const MemberLayout& member : shipped.get("msgbuf").members) {
            CAPTURE(member.name);
            const MemberLayout* d = declared.get("msgbuf").find(member.name);
            REQUIRE(d != nullptr);
            CHECK(d->offset == member.offset);
            CHECK(d->size == member.size);
        }
    }
}

TEST_CASE("a ring that has not wrapped, and an empty one") {
    const std::string text = "---<<BOOT>>---\nCopyright (c) 1992-2024 The FreeBSD Project.\nFreeBSD 14.1-RELEASE\n";
    for (const synth::MachineSpec& base : minidump_kinds) {
        CAPTURE(name_of(base));
        {
            const synth::CrashedMachine m(with_text(base, text, 4096));
            const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
            const Read r = read_log(*k);
            CHECK(r.warnings.empty());
            CHECK(r.log.text == text);
        }
        const synth::CrashedMachine m(with_text(base, "", 8192));
        const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
        const Read r = read_log(*k);
        CHECK(r.warnings.empty());
        CHECK(r.log.text.empty());
        CHECK(format_log(r.log).empty());
    }
}

TEST_CASE("a wrapped ring whose last line ends at the write position") {
    // 40 lines of 100 bytes through a 1 KiB FreeBSD ring: the last 1024
    // bytes, from the middle of line 30 on.
    std::string text;
    for (int i = 1; i <= 40; ++i)
        text += fmt::format("line {:02} {}\n", i, std::string(91, static_cast<char>('a' + i % 26)));
    REQUIRE(text.size() == 4000);
    const synth::CrashedMachine m(with_text({.os = "freebsd"}, text, 1024));
    CHECK(m.message_buffer().write_offset == 4000 % 1024);
    const auto k = open_bsd_dump(minidump_of(m), namelist_of(m));
    const Read r = read_log(*k);
    CHECK(r.warnings.empty());
    CHECK(r.log.text == text.substr(4000 - 1024));
    // Line 30's last 23 bytes (its filler is 'e'), then line 31.
    CHECK(r.log.text.starts_with(std::string(23, 'e') + "\nline 31 fff"));
}

TEST_CASE("damaged headers: a minidump's ring is still printed, from its start; a full dump's is not") {
    const std::string text = "one\ntwo\nthree\n";
    std::string wrapped;
    for (int i = 0; i < 700; ++i)
        wrapped += fmt::format("boot line {:03}\n", i);
    const auto ring_from_start = [](const synth::CrashedMachine& m) {
        Bytes ring(m.message_buffer().size);
        m.read(m.message_buffer().ring, ring);
        std::string s(as_chars(ring));
        std::erase(s, '\0');
        return s;
    };
    const std::string carried_note =
        ": printing the minidump's ring from its start, whose oldest lines may follow its newest";

    SUBCASE("bad magic") {
        synth::CrashedMachine m(with_text({.os = "freebsd"}, wrapped, 4096));
        m.set_msgbuf_field("msg_magic", 0xbad0bad);
        const std::string where = fmt::format("msgbufp: struct msgbuf at {}", hex(m.message_buffer().msgbufp));
        const Read r = read_log(*open_bsd_dump(minidump_of(m), namelist_of(m)));
        CHECK(r.warnings ==
              std::vector<std::string>{where + ": msg_magic is 0xbad0bad, not MSG_MAGIC 0x63062" + carried_note});
        CHECK(r.log.source == "the message buffer the minidump carries");
        CHECK(r.log.text == ring_from_start(m));
        CHECK(r.log.text != m.message_buffer().text);
        const auto full = open_bsd_dump(full_dump_of(m), namelist_of(m));
        CHECK(error_of([&] { read_log(*full); }) == where + ": msg_magic is 0xbad0bad, not MSG_MAGIC 0x63062");
    }
    SUBCASE("no namelist: no msgbufp") {
        const synth::CrashedMachine m(with_text({.os = "freebsd"}, wrapped, 4096));
        const Read r = read_log(*open_bsd_dump(minidump_of(m), nullptr));
        CHECK(r.warnings == std::vector<std::string>{"no namelist (-N) names msgbufp, so the write position is "
                                                     "unknown" +
                                                     carried_note});
        CHECK(r.log.text == ring_from_start(m));
    }
    SUBCASE("a size other than the minidump's") {
        synth::CrashedMachine m(with_text({.os = "freebsd", .minidump_version = 1}, text, 4096));
        m.set_msgbuf_field("msg_size", 8192);
        const Read r = read_log(*open_bsd_dump(minidump_of(m), namelist_of(m)));
        CHECK(r.warnings == std::vector<std::string>{fmt::format("msgbufp: struct msgbuf at {}: msg_size is 8192, but "
                                                                 "the minidump carries 4096 bytes of ring",
                                                                 hex(m.message_buffer().msgbufp)) +
                                                     carried_note});
        CHECK(r.log.text == text);
    }
    SUBCASE("FreeBSD: a write sequence number past msg_seqmod, a read one past it") {
        synth::CrashedMachine m(with_text({.os = "freebsd"}, wrapped, 4096));
        const std::string where = fmt::format("msgbufp: struct msgbuf at {}", hex(m.message_buffer().msgbufp));
        m.set_msgbuf_field("msg_rseq", 0xffffffff);
        Read r = read_log(*open_bsd_dump(minidump_of(m), namelist_of(m)));
        CHECK(r.warnings == std::vector<std::string>{where + ": msg_rseq 4294967295 is past msg_seqmod 65536: the "
                                                             "buffer's sequence numbers are damaged"});
        CHECK(r.log.text == m.message_buffer().text);
        m.set_msgbuf_field("msg_wseq", 65536 + 7);
        for (const auto& dump : {minidump_of(m), full_dump_of(m)}) {
            r = read_log(*open_bsd_dump(dump, namelist_of(m)));
            CHECK(r.warnings == std::vector<std::string>{where + ": msg_wseq 65543 is past msg_seqmod 65536: reading "
                                                                 "from the ring's start"});
            CHECK(r.log.text == ring_from_start(m));
        }
    }
    SUBCASE("DragonFly, masked indexes: msg_bufx and msg_bufr past the ring") {
        synth::CrashedMachine m(with_text({.os = "dragonfly", .dragonfly_pcb_cr3 = 0}, text, 4096));
        const std::string where = fmt::format("msgbufp: struct msgbuf at {}", hex(m.message_buffer().msgbufp));
        m.set_msgbuf_field("msg_bufx", 4096);
        m.set_msgbuf_field("msg_bufr", 5000);
        const Read r = read_log(*open_bsd_dump(full_dump_of(m), namelist_of(m)));
        CHECK(r.warnings ==
              std::vector<std::string>{
                  where + ": msg_bufx 4096 is outside the 4096-byte ring: reading from its start",
                  where + ": msg_bufr 5000 is outside the 4096-byte ring: the buffer's pointers are damaged"});
        CHECK(r.log.text == text);
    }
    SUBCASE("DragonFly, free-running indexes: more than a ring between msg_bufr and msg_bufx") {
        // A ring of 6000 bytes, not a power of two, so that index arithmetic
        // in 64 bits instead of u_int would show.
        synth::CrashedMachine m(with_text({.os = "dragonfly"}, wrapped, 6000));
        const auto& mb = m.message_buffer();
        const std::string where = fmt::format("msgbufp: struct msgbuf at {}", hex(mb.msgbufp));
        m.set_msgbuf_field("msg_bufr", 100);
        const Read r = read_log(*open_bsd_dump(minidump_of(m), namelist_of(m)));
        CHECK(r.warnings == std::vector<std::string>{fmt::format("{}: msg_bufr 100 to msg_bufx {} is {} bytes, more "
                                                                 "than the 6000-byte ring: reading its last 6000",
                                                                 where, mb.written, mb.written - 100)});
        CHECK(r.log.text == wrapped.substr(wrapped.size() - 6000));
        // Indexes are u_int: msg_bufx may have wrapped past 2^32 while
        // msg_bufr has not; the text is still the 301 bytes between them,
        // read on from msg_bufr's position, (2^32 - 201) modulo 6000 = 5095,
        // as DragonFly's dmesg reads them (in 64 bits it would be 3415).
        m.set_msgbuf_field("msg_bufx", 100);
        m.set_msgbuf_field("msg_bufr", 0xffffffff - 200);
        Bytes ring(6000);
        m.read(mb.ring, ring);
        const std::string bytes(as_chars(ring));
        const Read wrapped_index = read_log(*open_bsd_dump(minidump_of(m), namelist_of(m)));
        CHECK(wrapped_index.warnings.empty());
        CHECK(wrapped_index.log.text == bytes.substr(5095, 301));
        m.set_msgbuf_field("msg_bufx", mb.written);
        // A cleared buffer (msg_bufr moved up to msg_bufx) holds nothing.
        m.set_msgbuf_field("msg_bufr", mb.written);
        const Read cleared = read_log(*open_bsd_dump(minidump_of(m), namelist_of(m)));
        CHECK(cleared.warnings.empty());
        CHECK(cleared.log.text.empty());
    }
}

TEST_CASE("FreeBSD's and DragonFly's dmesg: <N> stripped, other facilities left out unless -a, vis with backslashes") {
    KernelLog log;
    log.text_stream = true;
    log.dialect = TextDialect::freebsd;
    log.text =
        "<6>kern info\n"
        "<14>user: from syslog\n"
        "<1030>LOG_FAC of 1030 is kern\n"
        "<2147483647>not a priority to FreeBSD's dmesg\n"
        "bell \x07 meta \xe9 del \x7f back\\slash tab\t.\n"
        "<38>auth\n"
        "last, no newline";
    CHECK(format_log(log) ==
          "kern info\nLOG_FAC of 1030 is kern\n<2147483647>not a priority to FreeBSD's dmesg\n"
          "bell \\^G meta \\M-i del \\^? back\\\\slash tab\t.\nlast, no newline\n");
    CHECK(format_log(log, {.all = true}) ==
          "kern info\nuser: from syslog\nLOG_FAC of 1030 is kern\n<2147483647>not a priority to FreeBSD's dmesg\n"
          "bell \\^G meta \\M-i del \\^? back\\\\slash tab\t.\nauth\nlast, no newline\n");
    CHECK(format_log(log, {.raw = true}) ==
          "<6>kern info\n<1030>LOG_FAC of 1030 is kern\n<2147483647>not a priority to FreeBSD's dmesg\n"
          "bell \\^G meta \\M-i del \\^? back\\\\slash tab\t.\nlast, no newline\n");
    // NetBSD's dialect keeps every line and vis(3)'s VIS_NOSLASH forms.
    log.dialect = TextDialect::netbsd;
    CHECK(format_log(log) ==
          "kern info\nuser: from syslog\nLOG_FAC of 1030 is kern\nnot a priority to FreeBSD's dmesg\n"
          "bell ^G meta M-i del ^? back\\slash tab\t.\nauth\nlast, no newline\n");
}

TEST_CASE("a layout file the user names is the one used") {
    synth::CrashedMachine m({.os = "freebsd"});
    const auto k = open_bsd_dump(full_dump_of(m), namelist_of(m));
    const test::TempDir dir;
    // FreeBSD 14's layout with struct msgbuf's members 8 bytes further on.
    StructLayouts moved =
        test::shifted(load_layouts_file(test::shipped_layouts_dir() + "/freebsd-14-amd64.json"), {"msgbuf"}, 8);
    const std::string path = dir / "moved.json";
    synth::write_file(path, to_bytes(to_json(moved)));
    const std::string where = fmt::format("msgbufp: struct msgbuf at {}", hex(m.message_buffer().msgbufp));
    Bytes bytes(4);
    m.read(m.message_buffer().msgbufp + 16, bytes);
    CHECK(error_of([&] { read_log(*k, {.layout_file = path}); }) ==
          fmt::format("{}: msg_magic is {:#x}, not MSG_MAGIC 0x63062", where, load32(bytes.data(), ByteOrder::little)));
}
