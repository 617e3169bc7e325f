// The table of log readers, and what dmesg prints (kvm/msgbuf.h).
#include <kvm/error.h>
#include <kvm/msgbuf.h>
#include <kvm/procs.h>

#include "core/json_string.h"
#include "procs/dead_kernel.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace kvm {

namespace klog {

Memory kernel_memory(const Kernel& kernel) {
    Memory m;
    m.read = [&kernel](std::uint64_t va, MutableByteSpan out) { return kernel.read_partial(va, out); };
    m.order = kernel.order();
    m.long_size = kernel.pointer_size();
    for (const PhysRun& r : kernel.format().phys_ranges())
        m.bytes += r.size;
    return m;
}

namespace {

const linux_kernel::VmcoreInfo* vmcoreinfo(const Kernel& kernel) {
    const linux_kernel::CoreNotes* notes = linux_kernel::core_notes(kernel.format());
    return notes != nullptr && notes->vmcoreinfo ? &*notes->vmcoreinfo : nullptr;
}

bool linux_with(const Kernel& kernel, std::string_view symbol) {
    const linux_kernel::VmcoreInfo* info = vmcoreinfo(kernel);
    return kernel.machine().os == "linux" && info != nullptr && info->get(fmt::format("SYMBOL({})", symbol));
}

KernelLog read_prb(const Kernel& kernel, const LogWarn& warn, const LogOptions& /*options*/) {
    return read_printk_ringbuffer(kernel_memory(kernel), *vmcoreinfo(kernel), warn);
}

KernelLog read_log_buf(const Kernel& kernel, const LogWarn& warn, const LogOptions& /*options*/) {
    // log_first_seq is not in VMCOREINFO; a namelist numbers the records.
    std::optional<std::uint64_t> first_seq;
    if (kernel.has_namelist())
        if (const Symbol* s = kernel.symbols().lookup("log_first_seq")) {
            try {
                first_seq = kernel.read_uint(s->value, 8);
            } catch (Error& e) {
                e.add_context("log_first_seq");
                warn(e);
            }
        }
    return read_printk_log(kernel_memory(kernel), *vmcoreinfo(kernel), warn, first_seq);
}

KernelLog read_netbsd(const Kernel& kernel, const LogWarn& warn, const LogOptions& options) {
    const Symbol* msgbufp = kernel.symbols().lookup("_msgbufp");
    if (msgbufp == nullptr) {
        Error e(ErrorKind::not_found, "_msgbufp: no such symbol");
        e.with_path(kernel.namelist().path());
        throw e;
    }
    const StructLayouts layouts =
        netbsd::dump_layouts(kernel, netbsd_msgbuf_layout_request(), options.layout_file, options.layout_dirs);
    return read_netbsd_msgbuf(kernel_memory(kernel), msgbufp->value, layouts, warn);
}

// struct msgbuf's layout: a file the user names, the namelist's type
// information, the shipped file of the dumped release, else (no type
// information and no file for the release: most FreeBSD kernels but 14
// without CTF) the structure as the system's header declares it.  Without
// a file named, a failure to resolve them (an unreadable osrelease, broken
// type information) is a warning and the declaration is used: the magic
// number still checks what is read.
StructLayouts bsd_msgbuf_layouts(const Kernel& kernel, const LogWarn& warn, const LogOptions& options) {
    const std::string& os = kernel.machine().os;
    StructLayouts layouts;
    try {
        layouts =
            detail::bsd_dump_layouts(kernel, os == "dragonfly" ? "DragonFly" : "FreeBSD", bsd_msgbuf_layout_request(),
                                     {.os = os,
                                      .file = options.layout_file,
                                      .dirs = options.layout_dirs,
                                      .known_values = bsd_msgbuf_known_values(os)});
    } catch (Error& e) {
        if (options.layout_file) throw;
        if (e.kind() != ErrorKind::not_found) {
            e.add_context("struct msgbuf's layout (using its declaration instead)");
            warn(e);
        }
        return declared_bsd_msgbuf_layouts(os, kernel.pointer_size(), kernel.order());
    }
    // MSG_OMAGIC is not asked for (FreeBSD has none): DragonFly's comes from
    // the table when the layouts lack it.
    for (const NamedValue& v : bsd_msgbuf_known_values(os))
        if (!layouts.value(v.name)) layouts.values.push_back(v);
    return layouts;
}

KernelLog read_bsd(const Kernel& kernel, const LogWarn& warn, const LogOptions& options) {
    const std::optional<Bytes> carried = kernel.format().message_buffer();
    const Symbol* msgbufp = kernel.has_namelist() ? kernel.symbols().lookup("_msgbufp") : nullptr;
    if (msgbufp == nullptr && !carried) {
        // A full dump holds the ring only where msgbufp says: without -N
        // this is the usage error namelist() throws.
        Error e(ErrorKind::not_found, "_msgbufp: no such symbol");
        e.with_path(kernel.namelist().path());
        throw e;
    }
    const StructLayouts layouts =
        msgbufp != nullptr ? bsd_msgbuf_layouts(kernel, warn, options)
                           : declared_bsd_msgbuf_layouts(kernel.machine().os, kernel.pointer_size(), kernel.order());
    return read_bsd_msgbuf(kernel_memory(kernel),
                           msgbufp != nullptr ? std::optional<std::uint64_t>(msgbufp->value) : std::nullopt, layouts,
                           carried, warn);
}

constexpr LogReader log_readers[] = {
    {.name = "linux-prb", .accepts = [](const Kernel& k) { return linux_with(k, "prb"); }, .read = read_prb},
    {.name = "linux-log_buf",
     .accepts = [](const Kernel& k) { return linux_with(k, "log_buf"); },
     .read = read_log_buf},
    {.name = "netbsd", .accepts = [](const Kernel& k) { return k.machine().os == "netbsd"; }, .read = read_netbsd},
    {.name = "bsd-msgbuf",
     .accepts = [](const Kernel& k) { return k.machine().os == "freebsd" || k.machine().os == "dragonfly"; },
     .read = read_bsd},
};

}  // namespace

std::span<const LogReader> all_log_readers() {
    return log_readers;
}

}  // namespace klog

KernelLog read_kernel_log(const Kernel& kernel, const LogWarn& warn, const LogOptions& options) {
    for (const klog::LogReader& r : klog::all_log_readers())
        if (r.accepts(kernel)) return r.read(kernel, warn, options);
    if (kernel.machine().os == "linux")
        throw_unsupported(
            "the dump's VMCOREINFO names neither prb (the printk ring buffer of Linux 5.10 and later) nor log_buf "
            "(Linux 3.5 to 5.9): kvmkit cannot find its kernel log");
    throw_unsupported(fmt::format("the kernel log of a {} dump ({})",
                                  kernel.machine().os.empty() ? "an unknown system's" : kernel.machine().os,
                                  kernel.format().name()));
}

// ---------------------------------------------------------------- text

namespace {

// vis(3) as dmesg shows each byte: printable ASCII, space, tab and newline
// as they are, other bytes as ^X (control), ^? (DEL), M-x or M^X (the same
// with the top bit set).  NetBSD's dmesg (9 and later) uses VIS_NOSLASH;
// FreeBSD's and DragonFly's do not, so there a backslash comes before each
// of those forms and a backslash is doubled.
void append_vis(std::string& out, unsigned char c, bool slash) {
    if (c == '\\' && slash) {
        out += "\\\\";
        return;
    }
    if ((c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' || c == '\n') {
        out += static_cast<char>(c);
        return;
    }
    if (slash) out += '\\';
    if ((c & 0x80) != 0) {
        c &= 0x7f;
        out += 'M';
    }
    if (c < 0x20 || c == 0x7f) {
        out += '^';
        out += c == 0x7f ? '?' : static_cast<char>(c + '@');
    } else {
        out += '-';
        out += static_cast<char>(c);
    }
}

// What starts a line of a BSD message buffer: the "<N>" syslog priority
// that log(9) writes, then the kernel's "[ sec.frac] " timestamp.  Only
// these exact forms count (anything else is text), so a damaged buffer
// cannot make a reader swallow lines looking for a '>' or a ']'.
struct BsdLineHead {
    std::optional<unsigned> priority;
    std::size_t priority_len = 0;  // bytes of "<N>"
    std::optional<std::uint64_t> time_usec;
    std::size_t stamp_len = 0;  // bytes of "[...]" and the one space after it
};

// Up to `max_digits` decimal digits at `pos` (at least one), advancing pos.
std::optional<std::uint64_t> parse_digits(std::string_view s, std::size_t& pos, std::size_t max_digits,
                                          std::size_t* count = nullptr) {
    std::uint64_t value = 0;
    std::size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (++n > max_digits) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(s[pos++] - '0');
    }
    if (count != nullptr) *count = n;
    if (n == 0) return std::nullopt;
    return value;
}

// Seconds since boot have at most 12 digits (31,000 years), so the
// microseconds fit a u64; the kernel prints 6 (NetBSD 10) or 7 fraction
// digits, and 9 is the most any clock has.
constexpr std::size_t max_stamp_sec_digits = 12;
constexpr std::size_t max_stamp_frac_digits = 9;
constexpr std::size_t max_priority_digits = 10;

BsdLineHead parse_line_head(std::string_view line) {
    BsdLineHead head;
    if (line.starts_with('<')) {
        std::size_t pos = 1;
        const auto pri = parse_digits(line, pos, max_priority_digits);
        if (pri && *pri <= 0xffffffffu && pos < line.size() && line[pos] == '>') {
            head.priority = static_cast<unsigned>(*pri);
            head.priority_len = pos + 1;
        }
    }
    std::string_view rest = line.substr(head.priority_len);
    if (!rest.starts_with('[')) return head;
    std::size_t pos = 1;
    while (pos < rest.size() && rest[pos] == ' ')
        ++pos;
    const auto sec = parse_digits(rest, pos, max_stamp_sec_digits);
    if (!sec) return head;
    std::uint64_t usec = *sec * 1000000;
    if (pos < rest.size() && rest[pos] == '.') {
        ++pos;
        std::size_t digits = 0;
        auto frac = parse_digits(rest, pos, max_stamp_frac_digits, &digits);
        if (!frac) return head;
        for (; digits < 6; ++digits)
            *frac *= 10;
        for (; digits > 6; --digits)
            *frac /= 10;
        usec += *frac;
    }
    if (pos >= rest.size() || rest[pos] != ']') return head;
    ++pos;
    if (pos < rest.size() && rest[pos] == ' ') ++pos;
    head.time_usec = usec;
    head.stamp_len = pos;
    return head;
}

// Calls f(line, ended_by_newline) for each line of a BSD buffer's text.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        f(text.substr(0, nl), nl != std::string_view::npos);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
}

// syslog's LOG_FAC(): FreeBSD's and DragonFly's dmesg print only the lines
// of facility LOG_KERN unless -a.
constexpr unsigned log_facmask = 0x3f8;
constexpr unsigned log_kern = 0;
// FreeBSD's dmesg takes a priority below INT_MAX (strtol, then the test).
constexpr std::uint64_t freebsd_max_priority = 0x7ffffffe;

// NetBSD's dmesg: the "<N>" at the start of every line left out (kept with
// raw), vis(3) for the rest, and a newline at the end if the text lacks
// one.  Without time, the timestamp goes too (its -t).  The timestamp is
// printed as the kernel wrote it, where NetBSD's dmesg rewrites it to its
// own width.  FreeBSD's and DragonFly's: the same, with their vis(3) and
// without the lines of other facilities unless `all`.
std::string format_text_stream(const KernelLog& log, const LogFormat& format) {
    const bool freebsd = log.dialect == TextDialect::freebsd;
    std::string out;
    out.reserve(log.text.size() + log.text.size() / 16);
    const auto append = [&out, freebsd](std::string_view bytes) {
        for (const char c : bytes)
            append_vis(out, static_cast<unsigned char>(c), freebsd);
    };
    for_each_line(log.text, [&](std::string_view line, bool newline) {
        BsdLineHead head = parse_line_head(line);
        // Not a priority to FreeBSD's dmesg: the line is text.
        if (freebsd && head.priority && *head.priority > freebsd_max_priority) head = BsdLineHead{};
        if (freebsd && !format.all && head.priority && (*head.priority & log_facmask) >> 3 != log_kern) return;
        if (format.raw) append(line.substr(0, head.priority_len));
        if (format.time) append(line.substr(head.priority_len, head.stamp_len));
        append(line.substr(head.priority_len + head.stamp_len));
        if (newline) out += '\n';
    });
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out;
}

// "T123" for a task, "C1" for a CPU (printk's caller id).
std::string caller_name(std::uint32_t id) {
    return fmt::format("{}{}", (id & 0x80000000u) != 0 ? 'C' : 'T', id & 0x7fffffffu);
}

}  // namespace

std::string format_log(const KernelLog& log, const LogFormat& format) {
    if (log.text_stream) return format_text_stream(log, format);
    std::string out;
    std::string prefix;
    for (const LogRecord& r : log.records) {
        prefix.clear();
        if (format.raw && r.level) prefix += fmt::format("<{}>", (unsigned{r.facility.value_or(0)} << 3) | *r.level);
        bool spaced = false;
        if (format.time && r.time_nsec) {
            prefix += fmt::format("[{:5}.{:06}]", *r.time_nsec / 1000000000, *r.time_nsec % 1000000000 / 1000);
            spaced = true;
        }
        if (format.caller && r.caller_id) {
            prefix += fmt::format("[{:>6}]", caller_name(*r.caller_id));
            spaced = true;
        }
        if (spaced) prefix += ' ';
        // Each line of a multi-line record gets the prefix, as the kernel's
        // syslog format gives it.
        std::string_view text = r.text;
        while (true) {
            const std::size_t nl = text.find('\n');
            out += prefix;
            out += text.substr(0, nl);
            out += '\n';
            if (nl == std::string_view::npos) break;
            text.remove_prefix(nl + 1);
        }
    }
    return out;
}

// ---------------------------------------------------------------- JSON

std::string format_log_json(const KernelLog& log) {
    std::string out;
    const auto field = [&out](bool& first, std::string_view key) {
        out += first ? "{" : ",";
        first = false;
        detail::append_json_string(out, key);
        out += ':';
    };
    if (log.text_stream) {
        // One object per line: the timestamp and the "<N>" as fields, the
        // rest as text.
        for_each_line(log.text, [&](std::string_view line, bool /*newline*/) {
            const BsdLineHead head = parse_line_head(line);
            bool first = true;
            if (head.time_usec) {
                field(first, "time_usec");
                out += fmt::format("{}", *head.time_usec);
            }
            if (head.priority) {
                field(first, "level");
                out += fmt::format("{}", *head.priority & 7);
                field(first, "facility");
                out += fmt::format("{}", *head.priority >> 3);
            }
            field(first, "text");
            detail::append_json_string(out, line.substr(head.priority_len + head.stamp_len));
            out += "}\n";
        });
        return out;
    }
    for (const LogRecord& r : log.records) {
        bool first = true;
        if (r.sequence) {
            field(first, "sequence");
            out += fmt::format("{}", *r.sequence);
        }
        if (r.time_nsec) {
            field(first, "time_usec");
            out += fmt::format("{}", *r.time_nsec / 1000);
        }
        if (r.level) {
            field(first, "level");
            out += fmt::format("{}", *r.level);
        }
        if (r.facility) {
            field(first, "facility");
            out += fmt::format("{}", *r.facility);
        }
        if (r.caller_id) {
            field(first, "caller");
            detail::append_json_string(out, caller_name(*r.caller_id));
        }
        if (!r.subsystem.empty()) {
            field(first, "subsystem");
            detail::append_json_string(out, r.subsystem);
        }
        if (!r.device.empty()) {
            field(first, "device");
            detail::append_json_string(out, r.device);
        }
        field(first, "text");
        detail::append_json_string(out, r.text);
        out += "}\n";
    }
    return out;
}

}  // namespace kvm
