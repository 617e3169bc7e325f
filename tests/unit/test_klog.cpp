// The kernel log readers (kvm/msgbuf.h) on rings written as the kernels
// write them (kvm/synth_klog.h): Linux's printk ring buffer and printk_log
// records in memory images, and in whole synthetic dumps; NetBSD's
// kern_msgbuf planted in a synthetic crashed machine; what dmesg prints.
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/msgbuf.h>
#include <kvm/synth_klog.h>

#include "linux_fixture.h"
#include "test_util.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

using namespace kvm;
using kvm::test::error_of;

namespace {

struct Warnings {
    std::vector<std::string> list;
    LogWarn callback() {
        return [this](const Error& e) { list.emplace_back(e.what()); };
    }
};

// Where the rings go in the memory images: a kernel image and a direct map.
synth::PrintkRing::Placement ring_placement(unsigned long_size) {
    if (long_size == 4)
        return {.prb = 0xc1800000, .ring = 0xc1800040, .descs = 0xc8000000, .infos = 0xc9000000, .data = 0xca000000};
    return {.prb = 0xffffffff8c8622c0,
            .ring = 0xffffffff8c8622e0,
            .descs = 0xffff8d2e01000000,
            .infos = 0xffff8d2e02000000,
            .data = 0xffff8d2e03000000};
}

struct RingDump {
    synth::MemoryImage image;
    linux_kernel::VmcoreInfo info;
};

RingDump place(const synth::PrintkRing& ring, unsigned long_size = 8, ByteOrder order = ByteOrder::little) {
    (void)order;
    RingDump d;
    const auto at = ring_placement(long_size);
    ring.place(d.image, at);
    d.info = linux_kernel::VmcoreInfo::parse(ring.vmcoreinfo(at));
    return d;
}

KernelLog read_ring(const synth::PrintkRing& ring, Warnings& w, unsigned long_size = 8,
                    ByteOrder order = ByteOrder::little) {
    const RingDump d = place(ring, long_size, order);
    return klog::read_printk_ringbuffer(d.image.memory(order, long_size), d.info, w.callback());
}

std::vector<std::uint64_t> sequences(const KernelLog& log) {
    std::vector<std::uint64_t> out;
    for (const auto& r : log.records)
        out.push_back(r.sequence.value_or(~std::uint64_t{0}));
    return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t end) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t i = first; i < end; ++i)
        out.push_back(i);
    return out;
}

// Messages of varying length, so that text blocks straddle the end of the ring.
std::string message(std::size_t i) {
    return fmt::format("message {:03} {}", i, std::string(i * 7 % 23, static_cast<char>('a' + i % 26)));
}

const std::vector<synth::PrintkMessage> boot_messages = {
    {.text = "Linux version 6.1.0-synthetic", .ts_nsec = 0, .level = 5, .caller_id = 0},
    {.text = "Command line: console=ttyS0 panic=-1 ", .ts_nsec = 0, .level = 6, .caller_id = 0},
    {.text = "Unstable clock detected\nIf you want to keep using the local clock, then add:\n  \"trace_clock=local\"",
     .ts_nsec = 1506726999,
     .level = 4,
     .caller_id = 1},
    {.text = "", .ts_nsec = 1506727000, .level = 6, .caller_id = 0x80000001},
    {.text = "virtio_blk virtio0: [vda] 131072 512-byte logical blocks",
     .ts_nsec = 1998665123,
     .level = 5,
     .caller_id = 57,
     .subsystem = "virtio",
     .device = "+virtio:virtio0"},
    {.text = "user \xe2\x9c\x93 message\t\x01",
     .ts_nsec = 123456789012345678,
     .level = 6,
     .facility = 1,
     .caller_id = 300},
};

synth::PrintkRing boot_ring(unsigned long_size = 8, ByteOrder order = ByteOrder::little) {
    synth::PrintkRing ring(4, 10, long_size, order);
    for (const auto& m : boot_messages)
        ring.append(m);
    return ring;
}

}  // namespace

// ---------------------------------------------------------------- printk ring buffer

TEST_CASE("a printk ring buffer reads back as dmesg prints it") {
    Warnings w;
    const KernelLog log = read_ring(boot_ring(), w);
    CHECK(w.list.empty());
    CHECK(log.source == "printk ring buffer (prb) at 0xffffffff8c8622e0");
    CHECK_FALSE(log.text_stream);
    REQUIRE(log.records.size() == 6);
    CHECK(sequences(log) == range(0, 6));
    CHECK(log.records[4].subsystem == "virtio");
    CHECK(log.records[4].device == "+virtio:virtio0");
    CHECK(*log.records[5].facility == 1);
    CHECK(*log.records[2].level == 4);

    CHECK(format_log(log) ==
          "[    0.000000] Linux version 6.1.0-synthetic\n"
          "[    0.000000] Command line: console=ttyS0 panic=-1 \n"
          "[    1.506726] Unstable clock detected\n"
          "[    1.506726] If you want to keep using the local clock, then add:\n"
          "[    1.506726]   \"trace_clock=local\"\n"
          "[    1.506727] \n"
          "[    1.998665] virtio_blk virtio0: [vda] 131072 512-byte logical blocks\n"
          "[123456789.012345] user \xe2\x9c\x93 message\t\x01\n");
    CHECK(format_log(log, {.time = true, .raw = true, .caller = true}) ==
          "<5>[    0.000000][    T0] Linux version 6.1.0-synthetic\n"
          "<6>[    0.000000][    T0] Command line: console=ttyS0 panic=-1 \n"
          "<4>[    1.506726][    T1] Unstable clock detected\n"
          "<4>[    1.506726][    T1] If you want to keep using the local clock, then add:\n"
          "<4>[    1.506726][    T1]   \"trace_clock=local\"\n"
          "<6>[    1.506727][    C1] \n"
          "<5>[    1.998665][   T57] virtio_blk virtio0: [vda] 131072 512-byte logical blocks\n"
          "<14>[123456789.012345][  T300] user \xe2\x9c\x93 message\t\x01\n");
    CHECK(format_log(log, {.time = false, .raw = true}) ==
          "<5>Linux version 6.1.0-synthetic\n"
          "<6>Command line: console=ttyS0 panic=-1 \n"
          "<4>Unstable clock detected\n"
          "<4>If you want to keep using the local clock, then add:\n"
          "<4>  \"trace_clock=local\"\n"
          "<6>\n"
          "<5>virtio_blk virtio0: [vda] 131072 512-byte logical blocks\n"
          "<14>user \xe2\x9c\x93 message\t\x01\n");
    CHECK(format_log(log, {.time = false, .caller = true}).substr(0, 40) ==
          "[    T0] Linux version 6.1.0-synthetic\n[");
    CHECK(
        format_log_json(log) ==
        "{\"sequence\":0,\"time_usec\":0,\"level\":5,\"facility\":0,\"caller\":\"T0\",\"text\":\"Linux version "
        "6.1.0-synthetic\"}\n"
        "{\"sequence\":1,\"time_usec\":0,\"level\":6,\"facility\":0,\"caller\":\"T0\",\"text\":\"Command line: "
        "console=ttyS0 panic=-1 \"}\n"
        "{\"sequence\":2,\"time_usec\":1506726,\"level\":4,\"facility\":0,\"caller\":\"T1\",\"text\":\"Unstable clock "
        "detected\\u000aIf you want to keep using the local clock, then add:\\u000a  \\\"trace_clock=local\\\"\"}\n"
        "{\"sequence\":3,\"time_usec\":1506727,\"level\":6,\"facility\":0,\"caller\":\"C1\",\"text\":\"\"}\n"
        "{\"sequence\":4,\"time_usec\":1998665,\"level\":5,\"facility\":0,\"caller\":\"T57\",\"subsystem\":\"virtio\","
        "\"device\":\"+virtio:virtio0\",\"text\":\"virtio_blk virtio0: [vda] 131072 512-byte logical blocks\"}\n"
        "{\"sequence\":5,\"time_usec\":123456789012345,\"level\":6,\"facility\":1,\"caller\":\"T300\",\"text\":\"user "
        "\xe2\x9c\x93 message\\u0009\\u0001\"}\n");
}

TEST_CASE("a printk ring buffer of 32-bit longs, or of a big-endian kernel, reads back the same") {
    Warnings w;
    const std::string want = format_log(read_ring(boot_ring(), w), {.raw = true, .caller = true});
    for (const auto& variant :
         {std::pair{4u, ByteOrder::little}, std::pair{8u, ByteOrder::big}, std::pair{4u, ByteOrder::big}}) {
        const unsigned long_size = variant.first;
        const ByteOrder order = variant.second;
        CAPTURE(long_size);
        const KernelLog log = read_ring(boot_ring(long_size, order), w, long_size, order);
        CHECK(format_log(log, {.raw = true, .caller = true}) == want);
    }
    CHECK(w.list.empty());
}

TEST_CASE("an empty printk ring buffer has no records and nothing to warn about") {
    Warnings w;
    const synth::PrintkRing ring(4, 10);
    const KernelLog log = read_ring(ring, w);
    CHECK(log.records.empty());
    CHECK(w.list.empty());
    CHECK(format_log(log).empty());
    CHECK(format_log_json(log).empty());
}

TEST_CASE("a full descriptor ring keeps its last records; the recycled ones are not warned about") {
    // 4 descriptors and room for all texts: the descriptors decide.
    synth::PrintkRing ring(2, 10);
    for (std::size_t i = 0; i < 10; ++i)
        ring.append({.text = message(i), .ts_nsec = i * 1000});
    Warnings w;
    const KernelLog log = read_ring(ring, w);
    CHECK(w.list.empty());
    CHECK(sequences(log) == range(6, 10));
    for (const auto& r : log.records)
        CHECK(r.text == message(*r.sequence));
}

TEST_CASE("a full text data ring keeps what its last wrap holds") {
    // 32 descriptors, 128 bytes of text, blocks of 16 bytes: seven fit in
    // a wrap, as 6.1's writer moves a block that would end exactly at the
    // end of the ring to the start of the next wrap.  At the end, the data
    // tail (head - 128) is where record 13 begins.
    synth::PrintkRing ring(5, 7);
    for (std::size_t i = 0; i < 20; ++i)
        ring.append({.text = fmt::format("line {:03}", i)});
    Warnings w;
    const KernelLog log = read_ring(ring, w);
    CHECK(w.list.empty());
    CHECK(sequences(log) == range(13, 20));
    CHECK(log.records.front().text == "line 013");
    CHECK(log.records.back().text == "line 019");
}

TEST_CASE("text blocks that wrap around the data ring read back whole") {
    synth::PrintkRing ring(4, 8);  // 16 descriptors, 256 bytes
    for (std::size_t i = 0; i < 60; ++i)
        ring.append({.text = message(i), .ts_nsec = i});
    CHECK(ring.data_wraps() >= 5);
    // Some live block wraps: its next is in the wrap after its begin.
    bool wrapping = false;
    for (std::uint64_t s = 0; s < ring.count(); ++s) {
        const auto& d = ring.descriptor(s);
        if ((d.begin & 1) == 0 && (d.begin >> 8) != (d.next >> 8) && (d.next & 0xff) != 0) wrapping = true;
    }
    CHECK(wrapping);
    Warnings w;
    const KernelLog log = read_ring(ring, w);
    CHECK(w.list.empty());
    CHECK(log.records.size() == ring.live_records());
    CHECK(sequences(log) == range(60 - ring.live_records(), 60));
    for (const auto& r : log.records)
        CHECK(r.text == message(*r.sequence));
}

TEST_CASE("a descriptor ring whose states lie: each record that cannot be trusted is skipped and named") {
    // 16 descriptors, 1 KiB of text, 30 records: 14..29 are live, and the
    // descriptor ring has wrapped once.
    const auto fresh = [] {
        synth::PrintkRing ring(4, 10);
        for (std::size_t i = 0; i < 30; ++i)
            ring.append({.text = message(i), .ts_nsec = i});
        return ring;
    };
    {
        synth::PrintkRing ring = fresh();
        Warnings w;
        CHECK(sequences(read_ring(ring, w)) == range(14, 30));
        CHECK(w.list.empty());
    }
    const auto check = [&](const std::function<void(synth::PrintkRing&)>& damage, const std::string& warning,
                           std::vector<std::uint64_t> expected) {
        synth::PrintkRing ring = fresh();
        damage(ring);
        Warnings w;
        const KernelLog log = read_ring(ring, w);
        CHECK(sequences(log) == expected);
        for (const auto& r : log.records)
            CHECK(r.text == message(*r.sequence));
        REQUIRE(w.list.size() == 1);
        CHECK(w.list[0] == warning);
    };
    auto without = [](std::uint64_t skip) {
        std::vector<std::uint64_t> v;
        for (std::uint64_t i = 14; i < 30; ++i)
            if (i != skip) v.push_back(i);
        return v;
    };
    const auto slot = [](std::uint64_t seq) { return seq & 15; };

    SUBCASE("a slot holding another descriptor id") {
        check(
            [&](synth::PrintkRing& r) {
                auto& d = r.descriptor(slot(20));
                d.state_var = r.state_var((d.state_var & r.id_mask()) + 16, synth::PrintkRing::desc_finalized);
            },
            "printk descriptor 0x4: slot 4 holds descriptor 0x14 instead: the ring's ids lie; skipped", without(20));
    }
    SUBCASE("a record in the middle still reserved") {
        check(
            [&](synth::PrintkRing& r) {
                auto& d = r.descriptor(slot(17));
                d.state_var = r.state_var(d.state_var & r.id_mask(), synth::PrintkRing::desc_reserved);
            },
            "printk record 17 (descriptor 0x1): still being written (reserved) when the dump was "
            "taken; skipped",
            without(17));
    }
    SUBCASE("a record in the middle marked reusable") {
        check(
            [&](synth::PrintkRing& r) {
                auto& d = r.descriptor(slot(25));
                d.state_var = r.state_var(d.state_var & r.id_mask(), synth::PrintkRing::desc_reusable);
            },
            "printk record 25 (descriptor 0x9): marked reusable, yet newer than records with text; skipped",
            without(25));
    }
    SUBCASE("a sequence number in the wrong slot") {
        check([&](synth::PrintkRing& r) { r.info(slot(22)).seq += 1; },
              "printk record 23 (descriptor 0x6): its sequence number belongs in slot 7, not in slot 6; skipped",
              without(22));
    }
    SUBCASE("a sequence number going back") {
        check([&](synth::PrintkRing& r) { r.info(slot(22)).seq -= 16; },
              "printk record 6 (descriptor 0x6): it comes after record 21; skipped", without(22));
    }
    SUBCASE("a text block outside the data ring's live window") {
        check(
            [&](synth::PrintkRing& r) {
                auto& d = r.descriptor(slot(19));
                d.begin += 0x10000;
                d.next += 0x10000;
            },
            fmt::format("printk record 19 (descriptor 0x3): its text block [{:#x}, {:#x}) lies outside the data "
                        "ring's live text [{:#x}, {:#x}); skipped",
                        fresh().descriptor(slot(19)).begin + 0x10000, fresh().descriptor(slot(19)).next + 0x10000,
                        fresh().tail_lpos, fresh().head_lpos),
            without(19));
    }
    SUBCASE("a text block that is not a block") {
        check(
            [&](synth::PrintkRing& r) {
                auto& d = r.descriptor(slot(21));
                std::swap(d.begin, d.next);
            },
            fmt::format("printk record 21 (descriptor 0x5): its text block [{:#x}, {:#x}) is not a block of the text "
                        "data ring; skipped",
                        fresh().descriptor(slot(21)).next, fresh().descriptor(slot(21)).begin),
            without(21));
    }
    SUBCASE("a text block of another descriptor") {
        check(
            [&](synth::PrintkRing& r) {
                const auto& d = r.descriptor(slot(26));
                store64(r.data().data() + (d.begin & 1023), 0x1234, ByteOrder::little);
            },
            fmt::format("printk record 26 (descriptor 0xa): its text block [{:#x}, {:#x}) belongs to descriptor "
                        "0x1234: overwritten; skipped",
                        fresh().descriptor(slot(26)).begin, fresh().descriptor(slot(26)).next),
            without(26));
    }
    SUBCASE("a text_len longer than the block") {
        check([&](synth::PrintkRing& r) { r.info(slot(29)).text_len = 300; },
              "printk record 29 (descriptor 0xd): its text_len 300 is more than the 32 bytes of its text block; "
              "skipped",
              without(29));
    }
    SUBCASE("a text lost for want of room") {
        check(
            [&](synth::PrintkRing& r) {
                auto& d = r.descriptor(slot(15));
                d.begin = d.next = 1;
            },
            "printk record 15 (descriptor 0x3fffffffffffffff): its text was lost (the kernel found no room for it); "
            "skipped",
            without(15));
    }
    SUBCASE("a tail id further behind the head than the ring holds") {
        check([&](synth::PrintkRing& r) { r.tail_id = (r.head_id - 100) & r.id_mask(); },
              "prb: tail_id 0x3fffffffffffffa9 is 100 descriptors behind head_id 0xd, more than the ring's 16: "
              "reading the last 16",
              range(14, 30));
    }
}

TEST_CASE("a printk ring buffer with pages the dump lacks: the records there are skipped, the rest read") {
    synth::PrintkRing ring(8, 14);  // 256 descriptors (6 KiB), 16 KiB of text
    for (std::size_t i = 0; i < 200; ++i)
        ring.append({.text = message(i)});
    const auto at = ring_placement(8);
    synth::MemoryImage image;
    ring.place(image, at);
    // The second page of the text data ring is missing.
    Bytes data = ring.data();
    synth::MemoryImage holed;
    Bytes pointer(8);
    store64(pointer.data(), at.ring, ByteOrder::little);
    holed.add(at.prb, pointer);
    holed.add(at.ring, ring.ring_struct(at));
    holed.add(at.descs, ring.descs_bytes());
    holed.add(at.infos, ring.infos_bytes());
    holed.add(at.data, Bytes(data.begin(), data.begin() + 4096));
    holed.add(at.data + 8192, Bytes(data.begin() + 8192, data.end()));
    Warnings w;
    const KernelLog log = klog::read_printk_ringbuffer(
        holed.memory(ByteOrder::little, 8), linux_kernel::VmcoreInfo::parse(ring.vmcoreinfo(at)), w.callback());
    // Records whose blocks touch [4096, 8192) are skipped, each named.
    std::size_t in_hole = 0;
    for (std::uint64_t seq = 0; seq < 200; ++seq) {
        const auto& d = ring.descriptor(seq & 255);
        const std::uint64_t b = d.begin & 16383, n = d.next & 16383;
        if (b < 8192 && n > 4096) ++in_hole;
    }
    CHECK(in_hole >= 50);
    CHECK(log.records.size() == 200 - in_hole);
    REQUIRE(w.list.size() == in_hole);
    CHECK(w.list[0].find("is not in the dump; skipped") != std::string::npos);
    for (const auto& r : log.records)
        CHECK(r.text == message(*r.sequence));
}

TEST_CASE("a printk ring buffer that cannot be read at all is an error that says why") {
    const synth::PrintkRing ring = boot_ring();
    const auto at = ring_placement(8);
    synth::MemoryImage image;
    ring.place(image, at);
    const auto memory = image.memory(ByteOrder::little, 8);
    Warnings w;
    const auto read = [&](const std::string& info) {
        return error_of(
            [&] { klog::read_printk_ringbuffer(memory, linux_kernel::VmcoreInfo::parse(info), w.callback()); });
    };
    const std::string good = ring.vmcoreinfo(at);
    const auto without = [&](const std::string& line) {
        std::string s = good;
        s.erase(s.find(line), line.size() + 1);
        return s;
    };
    CHECK(read(without("OFFSET(prb_desc.state_var)=0")) ==
          "VMCOREINFO has no OFFSET(prb_desc.state_var): cannot read the printk ring buffer");
    CHECK(read(without(fmt::format("SYMBOL(prb)={:x}", at.prb))) ==
          "VMCOREINFO has no SYMBOL(prb): cannot read the printk ring buffer");
    CHECK(read(good + "") == "no error");
    std::string moved = good;
    moved.replace(moved.find("OFFSET(printk_info.caller_id)=20"), 32, "OFFSET(printk_info.caller_id)=90");
    CHECK(read(moved) ==
          "VMCOREINFO: printk_info.caller_id at offset 90 (4 bytes) is outside the 88 bytes of struct printk_info");
    std::string elsewhere = good;
    elsewhere.replace(elsewhere.find("SYMBOL(prb)=ffffffff8c8622c0"), 28, "SYMBOL(prb)=ffffffff8c8632c0");
    CHECK(read(elsewhere) == "prb: 0xffffffff8c8632c0: not in the memory image");

    // A ring that claims more than the dump holds.
    Bytes rb = ring.ring_struct(at);
    store32(rb.data(), 23, ByteOrder::little);
    synth::MemoryImage big;
    ring.place(big, at);
    big.add(at.ring, rb);
    CHECK(error_of([&] {
              klog::read_printk_ringbuffer(big.memory(ByteOrder::little, 8), linux_kernel::VmcoreInfo::parse(good),
                                           w.callback());
          }) == "the descriptor ring of prb is 0xc000000 bytes: more than the 0xb60 bytes of memory in the dump");
    store32(rb.data(), 40, ByteOrder::little);
    big.add(at.ring, rb);
    CHECK(error_of([&] {
              klog::read_printk_ringbuffer(big.memory(ByteOrder::little, 8), linux_kernel::VmcoreInfo::parse(good),
                                           w.callback());
          }) == "prb: count_bits is 40: more than the 24 of a ring of 0x1000000 descriptors");
    CHECK(w.list.empty());
}

// ---------------------------------------------------------------- printk_log

namespace {

const synth::PrintkLogBuffer::Placement log_at{.log_buf = 0xffffffff82a00000,
                                               .buffer = 0xffffffff82b00000,
                                               .log_buf_len = 0xffffffff82a00010,
                                               .log_first_idx = 0xffffffff82a00020,
                                               .log_next_idx = 0xffffffff82a00030};

KernelLog read_log(const synth::PrintkLogBuffer& buf, Warnings& w, std::optional<std::uint64_t> first_seq = {},
                   const std::function<void(synth::MemoryImage&)>& damage = {}) {
    synth::MemoryImage image;
    buf.place(image, log_at);
    if (damage) damage(image);
    return klog::read_printk_log(image.memory(ByteOrder::little, 8),
                                 linux_kernel::VmcoreInfo::parse(buf.vmcoreinfo(log_at)), w.callback(), first_seq);
}

Bytes u32_bytes(std::uint32_t v) {
    Bytes b(4);
    store32(b.data(), v, ByteOrder::little);
    return b;
}

}  // namespace

TEST_CASE("printk_log records (Linux 3.5 to 5.9) read back in order, across the wrap") {
    synth::PrintkLogBuffer buf(512);
    for (const auto& m : boot_messages)
        buf.append(m);
    Warnings w;
    KernelLog log = read_log(buf, w, buf.first_seq);
    CHECK(w.list.empty());
    CHECK(log.source == "log_buf at 0xffffffff82b00000");
    CHECK(format_log(log, {.raw = true}) ==
          "<5>[    0.000000] Linux version 6.1.0-synthetic\n"
          "<6>[    0.000000] Command line: console=ttyS0 panic=-1 \n"
          "<4>[    1.506726] Unstable clock detected\n"
          "<4>[    1.506726] If you want to keep using the local clock, then add:\n"
          "<4>[    1.506726]   \"trace_clock=local\"\n"
          "<6>[    1.506727] \n"
          "<5>[    1.998665] virtio_blk virtio0: [vda] 131072 512-byte logical blocks\n"
          "<14>[123456789.012345] user \xe2\x9c\x93 message\t\x01\n");
    CHECK(sequences(log) == range(0, 6));

    // 512 bytes hold a few records: the oldest are dropped, the buffer wraps.
    synth::PrintkLogBuffer small(512);
    for (std::size_t i = 0; i < 40; ++i)
        small.append({.text = message(i), .ts_nsec = i * 1000000});
    REQUIRE(small.first_idx > small.next_idx);  // wrapped
    log = read_log(small, w, small.first_seq);
    CHECK(w.list.empty());
    CHECK(sequences(log) == range(small.first_seq, 40));
    CHECK(log.records.size() >= 8);
    for (const auto& r : log.records)
        CHECK(r.text == message(*r.sequence));
    // Without log_first_seq (no namelist) the records have no numbers.
    log = read_log(small, w);
    CHECK(log.records.size() == 40 - small.first_seq);
    CHECK_FALSE(log.records[0].sequence);
}

TEST_CASE("printk_log with pointers past the end or a broken record: what is sound, and warnings") {
    synth::PrintkLogBuffer buf(512);
    for (std::size_t i = 0; i < 40; ++i)
        buf.append({.text = message(i)});
    const std::uint64_t first = buf.first_seq;
    Warnings w;
    // log_first_idx past the end: from the start of the buffer to log_next_idx.
    KernelLog log =
        read_log(buf, w, first, [&](synth::MemoryImage& m) { m.add(log_at.log_first_idx, u32_bytes(4096)); });
    REQUIRE(w.list.size() == 1);
    CHECK(w.list[0] == "log_first_idx 0x1000 is past the end of the 0x200-byte log_buf: reading from its start");
    CHECK_FALSE(log.records.empty());
    CHECK(log.records.back().text == message(39));
    w.list.clear();

    // log_next_idx past the end: from log_first_idx to the wrap.
    log = read_log(buf, w, first, [&](synth::MemoryImage& m) { m.add(log_at.log_next_idx, u32_bytes(9999)); });
    REQUIRE(w.list.size() == 1);
    CHECK(w.list[0] ==
          "log_next_idx 0x270f is past the end of the 0x200-byte log_buf: reading from log_first_idx to where the log "
          "wraps");
    CHECK(log.records.front().text == message(first));
    CHECK(log.records.size() < 40 - first);
    w.list.clear();

    // A record whose length cannot be: the walk stops there.
    synth::PrintkLogBuffer broken = buf;
    const std::uint32_t second =
        broken.first_idx + load16(broken.buffer().data() + broken.first_idx + 8, ByteOrder::little);
    store16(broken.buffer().data() + second + 8, 4, ByteOrder::little);
    log = read_log(broken, w, first);
    REQUIRE(w.list.size() == 1);
    CHECK(w.list[0] == fmt::format("printk record {} (log_buf+{:#x}): its length 4 cannot hold its header, {} bytes of "
                                   "text and 0 of dictionary inside log_buf; the rest of the log cannot be found",
                                   first + 1, second, message(first + 1).size()));
    CHECK(sequences(log) == std::vector<std::uint64_t>{first});
}

// ---------------------------------------------------------------- whole dumps

TEST_CASE("a Linux dump's log is found through VMCOREINFO alone, in every format") {
    kvmtest::LinuxMachine m;
    synth::PrintkRing ring = boot_ring();
    // The ring where a kernel has it: prb and printk_rb_static in the
    // image, the arrays in the direct map on pages of their own.
    synth::PrintkRing::Placement at;
    at.prb = m.define_data("prb", 8);
    at.ring = m.define_data("printk_rb_static", 88);
    synth::MemoryImage image;
    const auto direct = [&](std::uint64_t bytes) {
        const std::uint64_t pa = m.memory().alloc_pages((bytes + 4095) / 4096);
        return std::pair{m.page_offset_base() + pa, pa};
    };
    const auto [descs_va, descs_pa] = direct(ring.descs_bytes().size());
    const auto [infos_va, infos_pa] = direct(ring.infos_bytes().size());
    const auto [data_va, data_pa] = direct(ring.data_size());
    at.descs = descs_va;
    at.infos = infos_va;
    at.data = data_va;
    Bytes pointer(8);
    store64(pointer.data(), at.ring, ByteOrder::little);
    m.write_image(at.prb, pointer);
    m.write_image(at.ring, ring.ring_struct(at));
    m.memory().write(descs_pa, ring.descs_bytes());
    m.memory().write(infos_pa, ring.infos_bytes());
    m.memory().write(data_pa, ring.data());
    m.extra_vmcoreinfo = ring.vmcoreinfo(at);

    Warnings w;
    const std::string want = format_log(read_ring(boot_ring(), w));
    kvm::test::TempDir dir;
    for (const auto& file : {std::pair{"elf", m.elf_qemu()}, std::pair{"kdump", m.kdump()}}) {
        const std::string name = file.first;
        const Bytes& bytes = file.second;
        CAPTURE(name);
        synth::write_file(dir / name, bytes);
        const auto kernel = Kernel::open({.core = dir / name});
        const KernelLog log = read_kernel_log(*kernel, w.callback());
        CHECK(log.source == fmt::format("printk ring buffer (prb) at {}", hex(at.ring)));
        CHECK(format_log(log) == want);
    }
    CHECK(w.list.empty());

    // Without prb or log_buf in VMCOREINFO there is nothing to read.
    m.extra_vmcoreinfo.clear();
    synth::write_file(dir / "bare", m.elf_qemu());
    const auto bare = Kernel::open({.core = dir / "bare"});
    CHECK(error_of([&] { read_kernel_log(*bare, w.callback()); }) ==
          "the dump's VMCOREINFO names neither prb (the printk ring buffer of Linux 5.10 and later) nor log_buf "
          "(Linux 3.5 to 5.9): kvmkit cannot find its kernel log");
}

// ---------------------------------------------------------------- NetBSD

namespace {

std::string layouts_dir() {
    return (kvm::test::source_root() / "share/kvmkit/layouts").string();
}

StructLayouts netbsd_layouts(const std::string& arch = "amd64") {
    return load_layouts_file(fmt::format("{}/netbsd-10-{}.json", layouts_dir(), arch));
}

struct NetbsdDump {
    kvm::test::TempDir dir;
    std::unique_ptr<Kernel> kernel;
    synth::PlantedMsgbuf planted;
};

std::unique_ptr<NetbsdDump> netbsd_dump(const synth::MsgbufSpec& spec, const std::string& arch = "amd64") {
    auto d = std::make_unique<NetbsdDump>();
    synth::CrashedMachine m({.arch = arch});
    d->planted = synth::plant_msgbuf(m, netbsd_layouts(arch), spec);
    const auto segments = m.prepare_dump({});
    auto out = create_file_sink(d->dir / "netbsd.core");
    m.write_kcore(*out, segments);
    out->finish();
    synth::write_file(d->dir / "netbsd", m.kernel_elf());
    d->kernel = Kernel::open({.namelist = d->dir / "netbsd", .core = d->dir / "netbsd.core"});
    return d;
}

KernelLog netbsd_log(const NetbsdDump& d, Warnings& w) {
    return read_kernel_log(*d.kernel, w.callback(), {.layout_dirs = {layouts_dir()}});
}

}  // namespace

TEST_CASE("a NetBSD message buffer reads back oldest first, as NetBSD's dmesg prints it") {
    const std::string text =
        "first line\n<4>a log(9) message\nbell \x07 tab\t meta \xe9 del \x7f back\\slash\nlast line, no newline";
    for (const std::string arch : {"amd64", "i386"}) {
        CAPTURE(arch);
        const auto d = netbsd_dump({.size = 4096, .text = text}, arch);
        Warnings w;
        const KernelLog log = netbsd_log(*d, w);
        CHECK(w.list.empty());
        CHECK(log.text_stream);
        CHECK(log.source == fmt::format("msgbufp at {}", hex(d->planted.address)));
        CHECK(log.text == text);
        CHECK(format_log(log) ==
              "first line\na log(9) message\nbell ^G tab\t meta M-i del ^? back\\slash\nlast line, no newline\n");
        CHECK(format_log(log, {.raw = true}) ==
              "first line\n<4>a log(9) message\nbell ^G tab\t meta M-i del ^? back\\slash\nlast line, no newline\n");
        CHECK(format_log_json(log) ==
              "{\"text\":\"first line\"}\n{\"level\":4,\"facility\":0,\"text\":\"a log(9) message\"}\n"
              "{\"text\":\"bell \\u0007 tab\\u0009 meta \\ufffd del \x7f back\\\\slash\"}\n"
              "{\"text\":\"last line, no newline\"}\n");
    }
}

TEST_CASE("a BSD buffer's lines: the <N> of log(9) and the timestamp at their start, from the first line on") {
    KernelLog log;
    log.text_stream = true;
    log.text =
        "<3>a tag on the first line\n"
        "[     1.500000] stamped\n"
        "<4>[    12.3456789] both\n"
        "<14>user\n"
        "\n"
        "<x>not a number\n"
        "[ 1.0]no space\n"
        "[1.2.3] not a stamp\n"
        "[1234567890123.0] too many seconds\n"
        "[5] whole seconds\n"
        "<4>";
    CHECK(format_log(log) ==
          "a tag on the first line\n[     1.500000] stamped\n[    12.3456789] both\nuser\n\n<x>not a number\n"
          "[ 1.0]no space\n[1.2.3] not a stamp\n[1234567890123.0] too many seconds\n[5] whole seconds\n");
    CHECK(format_log(log, {.time = false}) ==
          "a tag on the first line\nstamped\nboth\nuser\n\n<x>not a number\nno space\n[1.2.3] not a stamp\n"
          "[1234567890123.0] too many seconds\nwhole seconds\n");
    CHECK(format_log(log, {.time = false, .raw = true}) ==
          "<3>a tag on the first line\nstamped\n<4>both\n<14>user\n\n<x>not a number\nno space\n"
          "[1.2.3] not a stamp\n[1234567890123.0] too many seconds\nwhole seconds\n<4>\n");
    CHECK(format_log_json(log) ==
          "{\"level\":3,\"facility\":0,\"text\":\"a tag on the first line\"}\n"
          "{\"time_usec\":1500000,\"text\":\"stamped\"}\n"
          "{\"time_usec\":12345678,\"level\":4,\"facility\":0,\"text\":\"both\"}\n"
          "{\"level\":6,\"facility\":1,\"text\":\"user\"}\n"
          "{\"text\":\"\"}\n"
          "{\"text\":\"<x>not a number\"}\n"
          "{\"time_usec\":1000000,\"text\":\"no space\"}\n"
          "{\"text\":\"[1.2.3] not a stamp\"}\n"
          "{\"text\":\"[1234567890123.0] too many seconds\"}\n"
          "{\"time_usec\":5000000,\"text\":\"whole seconds\"}\n"
          "{\"level\":4,\"facility\":0,\"text\":\"\"}\n");
}

TEST_CASE("a wrapped NetBSD message buffer starts at its oldest byte") {
    const std::string log_text = synth::netbsd_boot_log();
    REQUIRE(log_text.size() > 2048);
    const auto d = netbsd_dump({.size = 2048, .text = log_text});
    CHECK(d->planted.bufx == static_cast<std::int64_t>(log_text.size() % 2048));
    // Full: the read index is pushed one past the write index (equal would mean empty).
    CHECK(d->planted.bufr == (d->planted.bufx + 1) % 2048);
    Warnings w;
    const KernelLog log = netbsd_log(*d, w);
    CHECK(w.list.empty());
    CHECK(log.text == log_text.substr(log_text.size() - 2048));
}

TEST_CASE("an empty NetBSD message buffer prints nothing") {
    const auto d = netbsd_dump({.size = 4096});
    Warnings w;
    const KernelLog log = netbsd_log(*d, w);
    CHECK(w.list.empty());
    CHECK(log.text.empty());
    CHECK(format_log(log).empty());
    CHECK(format_log_json(log).empty());
}

TEST_CASE("a corrupted NetBSD message buffer: a bad magic is an error, pointers past the end are warnings") {
    const std::string text = "0123456789\nabcdefghij\n";
    {
        const auto d = netbsd_dump({.size = 64, .text = text, .magic = 0x1234});
        Warnings w;
        CHECK(error_of([&] { netbsd_log(*d, w); }) ==
              fmt::format("msgbufp: struct kern_msgbuf at {}: msg_magic is 0x1234, not MSG_MAGIC 0x63061: not a "
                          "message buffer",
                          hex(d->planted.address)));
    }
    {
        const auto d = netbsd_dump({.size = 64, .text = text, .bufx = 64});
        Warnings w;
        const KernelLog log = netbsd_log(*d, w);
        REQUIRE(w.list.size() == 1);
        CHECK(w.list[0] == fmt::format("msgbufp: struct kern_msgbuf at {}: msg_bufx 64 is outside the 64-byte ring: "
                                       "reading from its start",
                                       hex(d->planted.address)));
        CHECK(log.text == text);
    }
    {
        const auto d = netbsd_dump({.size = 64, .text = text, .bufr = ~std::uint64_t{0}});
        Warnings w;
        const KernelLog log = netbsd_log(*d, w);
        REQUIRE(w.list.size() == 1);
        CHECK(w.list[0] == fmt::format("msgbufp: struct kern_msgbuf at {}: msg_bufr -1 is outside the 64-byte ring: "
                                       "the buffer's pointers are damaged",
                                       hex(d->planted.address)));
        CHECK(log.text == text);
    }
    {
        const auto d = netbsd_dump({.size = 64, .text = text, .bufs = 1ull << 40});
        Warnings w;
        CHECK(error_of([&] { netbsd_log(*d, w); }) ==
              fmt::format("msgbufp: struct kern_msgbuf at {}: msg_bufs is 0x10000000000 bytes: more than the "
                          "0x40000000 a kernel log can be",
                          hex(d->planted.address)));
    }
}

// ---------------------------------------------------------------- the running host

TEST_CASE("/dev/kmsg records: prefix, escapes, dictionary, caller; malformed lines are named") {
    Warnings w;
    const KernelLog log = parse_kmsg(
        "5,0,0,-;Linux version 6.1.0\n"
        "6,1,1506726,-,caller=T1;Unstable clock\\x0aIf you want\n"
        "4,2,1998665,-;virtio_blk \\x5c\\x01 x\n"
        " SUBSYSTEM=virtio\n"
        " DEVICE=+virtio:virtio0\n"
        "no prefix here\n"
        "x,3,4,-;bad priority\n"
        "14,3,2000000,c,caller=C1;user\n",
        w.callback());
    REQUIRE(log.records.size() == 4);
    CHECK(format_log(log, {.raw = true, .caller = true}) ==
          "<5>[    0.000000] Linux version 6.1.0\n"
          "<6>[    1.506726][    T1] Unstable clock\n"
          "<6>[    1.506726][    T1] If you want\n"
          "<4>[    1.998665] virtio_blk \\\x01 x\n"
          "<14>[    2.000000][    C1] user\n");
    CHECK(log.records[2].subsystem == "virtio");
    CHECK(log.records[2].device == "+virtio:virtio0");
    CHECK(sequences(log) == std::vector<std::uint64_t>{0, 1, 2, 3});
    CHECK(w.list == std::vector<std::string>{"/dev/kmsg line 6: no ';' after its prefix; skipped",
                                             "/dev/kmsg line 7: prefix \"x,3,4,-\" is not priority,sequence,"
                                             "microseconds; skipped"});
}

TEST_CASE("the host's log device: a missing one and an unreadable one say so") {
    Warnings w;
    CHECK(error_of([&] { read_host_log(w.callback(), "/nonexistent/kmsg"); }) ==
          "/nonexistent/kmsg: not present on this host (a kernel before 3.5, or /dev not populated); name a dump with "
          "-M");
    kvm::test::TempDir dir;
    synth::write_file(dir / "kmsg", to_bytes("6,7,8,-;from a file\n"));
    const KernelLog log = read_host_log(w.callback(), dir / "kmsg");
    CHECK(format_log(log) == "[    0.000008] from a file\n");
    CHECK(log.source == dir / "kmsg");
}
