// What fuzz_klog and make_seeds agree on: the reader an input's first byte
// picks, and where each ring's pieces lie in the memory image that the rest
// of the input is (one region at a kernel address).
#pragma once

#include <kvm/layout.h>
#include <kvm/synth_klog.h>

#include <cstdint>
#include <string>

namespace klog_fuzz {

// FreeBSD and DragonFly (struct msgbuf as their headers declare it):
// freebsd64 reads the ring at msg_ptr (a full dump); freebsd64_carried
// takes the image from bsd_ring_offset on as the ring a minidump carries;
// dragonfly32 is a full dump of a 32-bit DragonFly.
enum Reader : std::uint8_t {
    prb64 = 0,
    prb32 = 1,
    log_buf = 2,
    netbsd64 = 3,
    kmsg = 4,
    freebsd64 = 5,
    freebsd64_carried = 6,
    dragonfly32 = 7,
    readers = 8
};

inline std::uint64_t base(Reader r) {
    return r == prb32 || r == dragonfly32 ? 0xc1000000 : 0xffff888001000000;
}

inline kvm::synth::PrintkRing::Placement prb_placement(std::uint64_t at) {
    return {.prb = at, .ring = at + 0x40, .descs = at + 0x100, .infos = at + 0x1000, .data = at + 0x2000};
}

inline kvm::synth::PrintkLogBuffer::Placement log_placement(std::uint64_t at) {
    return {.log_buf = at,
            .buffer = at + 0x40,
            .log_buf_len = at + 0x8,
            .log_first_idx = at + 0x10,
            .log_next_idx = at + 0x18};
}

// The VMCOREINFO of the Linux readers' images.
inline const std::string& vmcoreinfo(Reader r) {
    static const std::string prb64_info = kvm::synth::PrintkRing(4, 10, 8).vmcoreinfo(prb_placement(base(prb64)));
    static const std::string prb32_info = kvm::synth::PrintkRing(4, 10, 4).vmcoreinfo(prb_placement(base(prb32)));
    static const std::string log_info = kvm::synth::PrintkLogBuffer(512).vmcoreinfo(log_placement(base(log_buf)));
    return r == prb64 ? prb64_info : r == prb32 ? prb32_info : log_info;
}

// NetBSD/amd64's struct kern_msgbuf (as the shipped layout has it), with
// msgbufp at the start of the image and the structure at +0x40.
inline const kvm::StructLayouts& netbsd_layouts() {
    static const kvm::StructLayouts l = [] {
        kvm::StructLayouts s;
        s.os = "netbsd";
        s.release = "10";
        s.arch = "amd64";
        s.pointer_size = 8;
        s.source = "fuzz";
        kvm::StructLayout m{.name = "kern_msgbuf", .size = 40, .members = {}};
        for (const auto& [name, offset] : {std::pair{"msg_magic", 0}, std::pair{"msg_bufx", 8},
                                           std::pair{"msg_bufr", 16}, std::pair{"msg_bufs", 24}})
            m.members.push_back({.name = name, .offset = static_cast<std::uint64_t>(offset), .size = 8});
        m.members.push_back({.name = "msg_bufc", .offset = 32, .size = 1, .count = 1});
        s.structs.emplace("kern_msgbuf", m);
        s.values.push_back({.name = "MSG_MAGIC", .value = 0x63061});
        return s;
    }();
    return l;
}
inline constexpr std::uint64_t netbsd_msgbuf_offset = 0x40;

// FreeBSD and DragonFly: msgbufp at the start of the image, struct msgbuf
// at +0x40, the ring from +0x100.
inline constexpr std::uint64_t bsd_msgbuf_offset = 0x40;
inline constexpr std::uint64_t bsd_ring_offset = 0x100;

}  // namespace klog_fuzz
