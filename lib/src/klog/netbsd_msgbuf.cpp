// NetBSD's message buffer: msgbufp and its struct kern_msgbuf, through
// structure layouts (facts: kvm/msgbuf.h).  What NetBSD's dmesg does on a
// dump (read the header, check the magic, read msg_bufs bytes, start at
// msg_bufx, leave out NULs), but a write pointer past the end, a read
// pointer past the end and pages the dump lacks are warnings, not silence.
#include <kvm/error.h>
#include <kvm/msgbuf.h>

#include "klog/ring_memory.h"

#include <fmt/format.h>

namespace kvm::klog {

namespace {

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {{"kern_msgbuf",
                  {
                      {"msg_magic", "MSG_MAGIC when the buffer is in use", true},
                      {"msg_bufx", "write index: the next byte written, the oldest once the ring has wrapped", true},
                      {"msg_bufr", "read index of /dev/klog", true},
                      {"msg_bufs", "size of the ring msg_bufc in bytes", true},
                      {"msg_bufc", "the ring (declared char[1]; msg_bufs bytes long)", true},
                  }}};
    r.values = {"MSG_MAGIC"};
    return r;
}

}  // namespace

const LayoutRequest& netbsd_msgbuf_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

KernelLog read_netbsd_msgbuf(const Memory& memory, std::uint64_t msgbufp, const StructLayouts& layouts,
                             const LogWarn& warn) {
    check_layouts(layouts, netbsd_msgbuf_layout_request());
    const StructLayout& s = layouts.get("kern_msgbuf");
    const MemberLayout& magic_m = s.member("msg_magic");
    const MemberLayout& bufx_m = s.member("msg_bufx");
    const MemberLayout& bufr_m = s.member("msg_bufr");
    const MemberLayout& bufs_m = s.member("msg_bufs");
    const std::uint64_t ring_offset = s.member("msg_bufc").offset;
    const std::uint64_t magic_value = layouts.require_value("MSG_MAGIC");

    const std::uint64_t msgbuf = detail::read_word(memory, msgbufp, memory.long_size, "msgbufp");
    if (msgbuf == 0) throw_not_found("msgbufp is NULL: the kernel had no message buffer yet");
    const std::string where = fmt::format("msgbufp: struct kern_msgbuf at {}", hex(msgbuf));
    if (ring_offset > s.size || ring_offset > max_ring_bytes)
        throw_corrupt(fmt::format("{}: msg_bufc at offset {} is past the structure", layouts.source, ring_offset));
    Bytes header(ring_offset);
    detail::read_exact(memory, msgbuf, header, where);

    const std::uint64_t magic = load_member_unsigned(header, magic_m, layouts.order);
    if (magic != magic_value)
        throw_corrupt(fmt::format("{}: msg_magic is {:#x}, not MSG_MAGIC {:#x}: not a message buffer", where, magic,
                                  magic_value));
    const std::int64_t bufs = load_member_signed(header, bufs_m, layouts.order);
    const std::int64_t bufx = load_member_signed(header, bufx_m, layouts.order);
    const std::int64_t bufr = load_member_signed(header, bufr_m, layouts.order);
    if (bufs <= 0) throw_corrupt(fmt::format("{}: msg_bufs is {}: not the size of a ring", where, bufs));
    const auto size = static_cast<std::uint64_t>(bufs);
    detail::check_ring_size(memory, size, fmt::format("{}: msg_bufs", where));

    std::uint64_t start = static_cast<std::uint64_t>(bufx);
    if (bufx < 0 || start >= size) {
        warn(Error(
            ErrorKind::corrupt,
            fmt::format("{}: msg_bufx {} is outside the {}-byte ring: reading from its start", where, bufx, size)));
        start = 0;
    }
    if (bufr < 0 || static_cast<std::uint64_t>(bufr) >= size)
        warn(Error(ErrorKind::corrupt,
                   fmt::format("{}: msg_bufr {} is outside the {}-byte ring: the buffer's pointers are damaged", where,
                               bufr, size)));

    const std::uint64_t ring_va = msgbuf + ring_offset;
    const detail::Region ring(memory, ring_va, size);
    for (const auto& [begin, end] : ring.missing())
        warn(Error(ErrorKind::fault, fmt::format("{}: ring bytes {:#x}..{:#x} ({}) are not in the dump; skipped", where,
                                                 begin, end - 1, hex(ring_va + begin))));

    KernelLog log;
    log.source = fmt::format("msgbufp at {}", hex(msgbuf));
    log.text_stream = true;
    log.text.reserve(size);
    const std::string_view bytes = as_chars(ring.bytes());
    // Oldest first: from the write index to the end, then from the start.
    // Missing bytes read as NUL, which is skipped as unused space is.
    for (const std::string_view part : {bytes.substr(start), bytes.substr(0, start)})
        for (const char c : part)
            if (c != '\0') log.text += c;
    return log;
}

}  // namespace kvm::klog
