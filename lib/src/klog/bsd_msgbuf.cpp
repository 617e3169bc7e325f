// FreeBSD's and DragonFly's message buffer: struct msgbuf through msgbufp,
// and the ring a minidump carries (facts: kvm/msgbuf.h).  What their dmesg
// does on a dump (read the header, check the magic, unwrap the ring from
// the write position, leave out NULs), but a ring a minidump carries is
// printed even when the header cannot be read or trusted, and positions
// past the ring and pages the dump lacks are warnings, not silence.
#include <kvm/error.h>
#include <kvm/msgbuf.h>

#include "klog/ring_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm::klog {

namespace {

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"msgbuf",
         {
             {"msg_ptr", "the ring, msg_size bytes", true},
             {"msg_magic", "MSG_MAGIC (DragonFly: or MSG_OMAGIC) when the buffer is in use", true},
             {"msg_size", "size of the ring in bytes", true},
             {"msg_wseq", "FreeBSD 7 and later: write sequence number; the position is it modulo msg_size", false},
             {"msg_rseq", "FreeBSD 7 and later: read sequence number of /dev/klog", false},
             {"msg_seqmod", "FreeBSD 7 and later: sequence numbers run modulo this (16 * msg_size)", false},
             {"msg_bufx", "DragonFly and older FreeBSD: write index (DragonFly with msg_bufl: not masked)", false},
             {"msg_bufr",
              "DragonFly and older FreeBSD: read index (DragonFly with msg_bufl: the oldest byte, not masked)", false},
             {"msg_bufl", "DragonFly: read index of /dev/klog; with it msg_bufx and msg_bufr run free", false},
         }}};
    r.values = {"MSG_MAGIC"};
    return r;
}

// The members of struct msgbuf that sys/sys/msgbuf.h declares before the
// last one the reader reads, in order: a pointer or a u_int each.
struct DeclaredMember {
    std::string_view name;
    bool pointer;
};
constexpr std::array<DeclaredMember, 7> freebsd_declaration{{{"msg_ptr", true},
                                                             {"msg_magic", false},
                                                             {"msg_size", false},
                                                             {"msg_wseq", false},
                                                             {"msg_rseq", false},
                                                             {"msg_cksum", false},
                                                             {"msg_seqmod", false}}};
constexpr std::array<DeclaredMember, 7> dragonfly_declaration{{{"msg_magic", false},
                                                               {"msg_size", false},
                                                               {"msg_bufx", false},
                                                               {"msg_bufr", false},
                                                               {"msg_ptr", true},
                                                               {"msg_bufl", false},
                                                               {"msg_unused01", false}}};
constexpr std::uint64_t freebsd_msg_magic = 0x063062;
constexpr std::uint64_t dragonfly_msg_magic = 0x063064;
constexpr std::uint64_t dragonfly_msg_omagic = 0x063062;

// What the header says, once its magic is checked.
struct Header {
    std::uint64_t ring_va = 0;
    std::uint64_t size = 0;
    std::uint64_t start = 0;   // offset of the oldest byte in the ring
    std::uint64_t length = 0;  // bytes of text from there (the whole ring but for DragonFly's free-running indexes)
};

class Reader {
public:
    Reader(const Memory& memory, const StructLayouts& layouts, const LogWarn& warn)
        : memory_(memory), layouts_(layouts), warn_(warn) {}

    // The header at `msgbuf`: throws when it cannot be read or its magic is wrong.
    Header header(std::uint64_t msgbuf, std::optional<std::uint64_t> carried_size);

    void warn(ErrorKind kind, const std::string& message) const { warn_(Error(kind, message)); }
    const std::string& where() const { return where_; }

private:
    std::uint64_t load(std::string_view member) const {
        return load_member_unsigned(bytes_, layouts_.get("msgbuf").member(member), layouts_.order);
    }
    bool has(std::string_view member) const { return layouts_.get("msgbuf").find(member) != nullptr; }
    void sequence_positions(Header& h) const;
    void index_positions(Header& h, bool free_running) const;

    const Memory& memory_;
    const StructLayouts& layouts_;
    const LogWarn& warn_;
    std::string where_;
    Bytes bytes_;
};

Header Reader::header(std::uint64_t msgbuf, std::optional<std::uint64_t> carried_size) {
    where_ = fmt::format("msgbufp: struct msgbuf at {}", hex(msgbuf));
    const StructLayout& s = layouts_.get("msgbuf");
    if (!has("msg_wseq") && !has("msg_bufx"))
        throw_not_found(
            fmt::format("{}: struct msgbuf has neither msg_wseq nor msg_bufx: no write position", layouts_.source));
    // Only as far as the members read reach (the rest is a lock).
    std::uint64_t extent = 0;
    for (const MemberLayout& m : s.members)
        extent = std::max(extent, m.offset + m.size);
    if (extent > max_ring_bytes)
        throw_corrupt(fmt::format("{}: struct msgbuf's members reach {} bytes", layouts_.source, extent));
    bytes_.assign(extent, std::byte{0});
    detail::read_exact(memory_, msgbuf, bytes_, where_);

    const std::uint64_t magic = load("msg_magic");
    const std::uint64_t msg_magic = layouts_.require_value("MSG_MAGIC");
    const std::optional<std::uint64_t> omagic = layouts_.value("MSG_OMAGIC");
    if (magic != msg_magic && magic != omagic)
        throw_corrupt(fmt::format("{}: msg_magic is {:#x}, not MSG_MAGIC {:#x}", where_, magic, msg_magic));

    Header h;
    h.ring_va = load("msg_ptr");
    h.size = load("msg_size");
    if (carried_size && *carried_size != h.size)
        throw_corrupt(fmt::format("{}: msg_size is {}, but the minidump carries {} bytes of ring", where_, h.size,
                                  *carried_size));
    if (h.size == 0) throw_corrupt(fmt::format("{}: msg_size is 0: not the size of a ring", where_));
    h.length = h.size;
    if (has("msg_wseq")) {
        sequence_positions(h);
    } else {
        // DragonFly's indexes run free since the structure gained msg_bufl
        // (and MSG_MAGIC changed); a buffer of the older magic masks them.
        index_positions(h, has("msg_bufl") && magic == msg_magic);
    }
    return h;
}

// FreeBSD 7 and later: the write position is msg_wseq modulo the size.
void Reader::sequence_positions(Header& h) const {
    const std::uint64_t wseq = load("msg_wseq");
    if (has("msg_seqmod")) {
        const std::uint64_t seqmod = load("msg_seqmod");
        if (wseq >= seqmod) {
            warn(ErrorKind::corrupt, fmt::format("{}: msg_wseq {} is past msg_seqmod {}: reading from the ring's start",
                                                 where_, wseq, seqmod));
            return;
        }
        if (has("msg_rseq") && load("msg_rseq") >= seqmod)
            warn(ErrorKind::corrupt, fmt::format("{}: msg_rseq {} is past msg_seqmod {}: the buffer's sequence "
                                                 "numbers are damaged",
                                                 where_, load("msg_rseq"), seqmod));
    }
    h.start = wseq % h.size;
}

// DragonFly and FreeBSD before 7: msg_bufx and msg_bufr, masked (the whole
// ring from the write index, the oldest byte once it has wrapped) or, on
// DragonFly with msg_bufl, free-running (the text is msg_bufr..msg_bufx).
void Reader::index_positions(Header& h, bool free_running) const {
    const std::uint64_t bufx = load("msg_bufx");
    const std::uint64_t bufr = has("msg_bufr") ? load("msg_bufr") : 0;
    if (free_running) {
        // u_int arithmetic, as the kernel's.
        const std::uint64_t width = layouts_.get("msgbuf").member("msg_bufx").size;
        const std::uint64_t mask = width >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * width)) - 1;
        std::uint64_t n = (bufx - bufr) & mask;
        if (n > h.size) {
            warn(ErrorKind::corrupt,
                 fmt::format("{}: msg_bufr {} to msg_bufx {} is {} bytes, more than the {}-byte ring: reading its "
                             "last {}",
                             where_, bufr, bufx, n, h.size, h.size));
            n = h.size;
        }
        h.start = ((bufx - n) & mask) % h.size;
        h.length = n;
        return;
    }
    if (bufx >= h.size) {
        warn(ErrorKind::corrupt,
             fmt::format("{}: msg_bufx {} is outside the {}-byte ring: reading from its start", where_, bufx, h.size));
    } else {
        h.start = bufx;
    }
    if (bufr >= h.size)
        warn(ErrorKind::corrupt, fmt::format("{}: msg_bufr {} is outside the {}-byte ring: the buffer's pointers are "
                                             "damaged",
                                             where_, bufr, h.size));
}

// `length` bytes of the ring from `start` on, round the end, without NULs.
std::string unwrap(ByteSpan ring, std::uint64_t start, std::uint64_t length) {
    std::string text;
    text.reserve(length);
    const std::string_view bytes = as_chars(ring);
    const std::uint64_t first = std::min<std::uint64_t>(length, bytes.size() - start);
    for (const std::string_view part : {bytes.substr(start, first), bytes.substr(0, length - first)})
        for (const char c : part)
            if (c != '\0') text += c;
    return text;
}

}  // namespace

const LayoutRequest& bsd_msgbuf_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

const std::vector<NamedValue>& bsd_msgbuf_known_values(std::string_view os) {
    static const std::vector<NamedValue> freebsd = {
        {"MSG_MAGIC", freebsd_msg_magic, "msgbuf.msg_magic", "the buffer is in use (sys/sys/msgbuf.h, every release)"}};
    static const std::vector<NamedValue> dragonfly = {
        {"MSG_MAGIC", dragonfly_msg_magic, "msgbuf.msg_magic",
         "the buffer is in use, its indexes free-running (sys/sys/msgbuf.h with msg_bufl)"},
        {"MSG_OMAGIC", dragonfly_msg_omagic, "msgbuf.msg_magic",
         "the older buffer, its indexes masked (FreeBSD's MSG_MAGIC, DragonFly's before msg_bufl)"}};
    return os == "dragonfly" ? dragonfly : freebsd;
}

StructLayouts declared_bsd_msgbuf_layouts(std::string_view os, unsigned pointer_size, ByteOrder order) {
    const bool dragonfly = os == "dragonfly";
    StructLayouts l;
    l.os = std::string(os);
    l.pointer_size = pointer_size;
    l.order = order;
    l.source = fmt::format("struct msgbuf as {}'s sys/sys/msgbuf.h declares it", dragonfly ? "DragonFly" : "FreeBSD");
    l.derived = fmt::format(
        "{}, laid out for {}-byte pointers and 4-byte u_int, each aligned to its size (no type information or "
        "shipped layout file for the release)",
        dragonfly ? "msg_magic, msg_size, msg_bufx, msg_bufr, msg_ptr, msg_bufl (since MSG_MAGIC became 0x063064)"
                  : "msg_ptr, msg_magic, msg_size, msg_wseq, msg_rseq, msg_cksum, msg_seqmod (FreeBSD 7 and later)",
        pointer_size);
    StructLayout s{.name = "msgbuf", .size = 0, .members = {}};
    const LayoutRequest& request = bsd_msgbuf_layout_request();
    for (const DeclaredMember& m : dragonfly ? dragonfly_declaration : freebsd_declaration) {
        const std::uint64_t size = m.pointer ? pointer_size : 4;
        const std::uint64_t offset = (s.size + size - 1) / size * size;
        s.size = offset + size;
        // Only what the reader asks for, as a layout file would hold.
        const auto& wanted = request.structs.front().members;
        const auto it =
            std::find_if(wanted.begin(), wanted.end(), [&](const MemberRequest& r) { return r.path == m.name; });
        if (it == wanted.end()) continue;
        s.members.push_back({.name = std::string(m.name),
                             .offset = offset,
                             .size = size,
                             .type = m.pointer ? "char *" : "u_int",
                             .meaning = it->meaning});
    }
    l.structs.emplace("msgbuf", std::move(s));
    l.values = bsd_msgbuf_known_values(os);
    return l;
}

KernelLog read_bsd_msgbuf(const Memory& memory, std::optional<std::uint64_t> msgbufp, const StructLayouts& layouts,
                          const std::optional<Bytes>& carried, const LogWarn& warn) {
    check_layouts(layouts, bsd_msgbuf_layout_request());
    KernelLog log;
    log.text_stream = true;
    log.dialect = TextDialect::freebsd;
    // A minidump's ring is printed whatever befalls the header; without
    // the header its oldest lines may come after its newest.
    const auto carried_from_start = [&](const std::string& why) {
        warn(Error(ErrorKind::corrupt,
                   fmt::format("{}: printing the minidump's ring from its start, whose oldest lines may follow its "
                               "newest",
                               why)));
        log.source = "the message buffer the minidump carries";
        log.text = unwrap(*carried, 0, carried->size());
        return log;
    };
    if (!msgbufp) {
        if (!carried) throw_not_found("_msgbufp: no such symbol, and the dump carries no message buffer");
        return carried_from_start("no namelist (-N) names msgbufp, so the write position is unknown");
    }

    Reader reader(memory, layouts, warn);
    Header h;
    std::uint64_t msgbuf = 0;
    try {
        msgbuf = detail::read_word(memory, *msgbufp, memory.long_size, "msgbufp");
        if (msgbuf == 0) throw_not_found("msgbufp is NULL: the kernel had no message buffer yet");
        h = reader.header(msgbuf, carried ? std::optional<std::uint64_t>(carried->size()) : std::nullopt);
    } catch (const Error& e) {
        if (!carried) throw;
        return carried_from_start(e.what());
    }

    if (carried) {
        log.source = fmt::format("msgbufp at {}, its ring from the minidump", hex(msgbuf));
        log.text = unwrap(*carried, h.start, h.length);
        return log;
    }
    detail::check_ring_size(memory, h.size, fmt::format("{}: msg_size", reader.where()));
    const detail::Region ring(memory, h.ring_va, h.size);
    for (const auto& [begin, end] : ring.missing())
        warn(Error(ErrorKind::fault, fmt::format("{}: ring bytes {:#x}..{:#x} ({}) are not in the dump; skipped",
                                                 reader.where(), begin, end - 1, hex(h.ring_va + begin))));
    log.source = fmt::format("msgbufp at {}", hex(msgbuf));
    log.text = unwrap(ring.bytes(), h.start, h.length);
    return log;
}

}  // namespace kvm::klog
