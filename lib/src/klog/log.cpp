// The table of log readers, and what dmesg prints (kvm/msgbuf.h).
#include <kvm/error.h>
#include <kvm/msgbuf.h>
#include <kvm/procs.h>

#include "core/json_string.h"

#include <fmt/format.h>

#include <string_view>
#include <utility>

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

constexpr LogReader log_readers[] = {
    {.name = "linux-prb", .accepts = [](const Kernel& k) { return linux_with(k, "prb"); }, .read = read_prb},
    {.name = "linux-log_buf",
     .accepts = [](const Kernel& k) { return linux_with(k, "log_buf"); },
     .read = read_log_buf},
    {.name = "netbsd", .accepts = [](const Kernel& k) { return k.machine().os == "netbsd"; }, .read = read_netbsd},
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

// vis(3) with no flags, as NetBSD's dmesg shows each byte: printable ASCII,
// space, tab and newline as they are, a backslash doubled, other bytes as
// \^X (control), \^? (DEL), \M-x or \M^X (the same with the top bit set).
void append_vis(std::string& out, unsigned char c) {
    if ((c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' || c == '\n') {
        if (c == '\\') out += '\\';
        out += static_cast<char>(c);
        return;
    }
    out += '\\';
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

std::string format_text_stream(const KernelLog& log, const LogFormat& format) {
    std::string out;
    out.reserve(log.text.size() + log.text.size() / 16);
    bool newline = false;  // the last byte shown ended a line
    bool in_tag = false;   // inside a "<pri>" at the start of a line
    for (const char ch : log.text) {
        const auto c = static_cast<unsigned char>(ch);
        if (in_tag) {
            if (c == '>') newline = in_tag = false;
            continue;
        }
        if (newline && c == '<' && !format.raw) {
            in_tag = true;
            continue;
        }
        newline = c == '\n';
        append_vis(out, c);
    }
    if (!out.empty() && !newline) out += '\n';
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
        std::string_view text = log.text;
        bool first_line = true;  // may be the tail of an overwritten line: no tag, as in format_log
        while (!text.empty()) {
            const std::size_t nl = text.find('\n');
            std::string_view line = text.substr(0, nl);
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
            bool first = true;
            // A syslog priority "<N>" before the line (log(9) messages).
            if (!std::exchange(first_line, false) && line.size() > 2 && line[0] == '<') {
                const std::size_t close = line.find('>');
                unsigned pri = 0;
                bool digits = close != std::string_view::npos && close > 1 && close < 12;
                for (std::size_t i = 1; digits && i < close; ++i) {
                    digits = line[i] >= '0' && line[i] <= '9';
                    pri = pri * 10 + static_cast<unsigned>(line[i] - '0');
                }
                if (digits) {
                    field(first, "level");
                    out += fmt::format("{}", pri & 7);
                    field(first, "facility");
                    out += fmt::format("{}", pri >> 3);
                    line.remove_prefix(close + 1);
                }
            }
            field(first, "text");
            detail::append_json_string(out, line);
            out += "}\n";
        }
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
