// The running host's kernel log: Linux's /dev/kmsg (facts: kvm/msgbuf.h).
#include <kvm/error.h>
#include <kvm/msgbuf.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

namespace kvm {

namespace {

// One /dev/kmsg read returns one record; the kernel's are at most 8 KiB
// (CONSOLE_EXT_LOG_MAX) with their dictionary.
constexpr std::size_t max_record_bytes = 16384;

std::optional<std::uint64_t> decimal(std::string_view s) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The device's \xNN escapes undone; anything else kept as it is.
std::string unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' && hex_digit(s[i + 2]) >= 0 &&
            hex_digit(s[i + 3]) >= 0) {
            out += static_cast<char>(hex_digit(s[i + 2]) * 16 + hex_digit(s[i + 3]));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string restrict_value() {
    std::ifstream in("/proc/sys/kernel/dmesg_restrict");
    std::string v;
    if (in >> v) return v;
    return "?";
}

}  // namespace

KernelLog parse_kmsg(std::string_view data, const LogWarn& warn) {
    KernelLog log;
    log.source = "/dev/kmsg";
    std::size_t line_no = 0;
    while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        const std::string_view line = data.substr(0, nl);
        data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
        ++line_no;
        if (!line.empty() && line[0] == ' ') {
            // A dictionary line of the record before it.
            if (log.records.empty()) continue;
            LogRecord& r = log.records.back();
            const std::string_view kv = line.substr(1);
            if (kv.starts_with("SUBSYSTEM=")) r.subsystem = unescape(kv.substr(10));
            if (kv.starts_with("DEVICE=")) r.device = unescape(kv.substr(7));
            continue;
        }
        const std::size_t semi = line.find(';');
        const auto bad = [&](std::string_view why) {
            warn(Error(ErrorKind::corrupt, fmt::format("/dev/kmsg line {}: {}; skipped", line_no, why)));
        };
        if (semi == std::string_view::npos) {
            bad("no ';' after its prefix");
            continue;
        }
        // prio,seq,usec,flags[,caller=T1][,...]
        std::string_view prefix = line.substr(0, semi);
        std::vector<std::string_view> fields;
        while (true) {
            const std::size_t comma = prefix.find(',');
            fields.push_back(prefix.substr(0, comma));
            if (comma == std::string_view::npos) break;
            prefix.remove_prefix(comma + 1);
        }
        const auto prio = fields.size() >= 3 ? decimal(fields[0]) : std::nullopt;
        const auto seq = fields.size() >= 3 ? decimal(fields[1]) : std::nullopt;
        const auto usec = fields.size() >= 3 ? decimal(fields[2]) : std::nullopt;
        if (!prio || !seq || !usec || *prio > 0xffff || *usec > ~std::uint64_t{0} / 1000) {
            bad(fmt::format("prefix \"{}\" is not priority,sequence,microseconds", line.substr(0, semi)));
            continue;
        }
        LogRecord r;
        r.sequence = *seq;
        r.time_nsec = *usec * 1000;
        r.level = static_cast<std::uint8_t>(*prio & 7);
        r.facility = static_cast<std::uint8_t>(*prio >> 3);
        for (std::size_t i = 4; i < fields.size(); ++i) {
            const std::string_view f = fields[i];
            if (f.starts_with("caller=") && f.size() > 8 && (f[7] == 'T' || f[7] == 'C'))
                if (const auto id = decimal(f.substr(8)); id && *id <= 0x7fffffff)
                    r.caller_id = static_cast<std::uint32_t>(*id) | (f[7] == 'C' ? 0x80000000u : 0);
        }
        r.text = unescape(line.substr(semi + 1));
        log.records.push_back(std::move(r));
    }
    return log;
}

KernelLog read_host_log(const LogWarn& warn, const std::string& device) {
#if !defined(__linux__)
    (void)warn;
    Error e(ErrorKind::unsupported, "the running kernel's log on this system (kvmkit reads Linux's /dev/kmsg)");
    e.with_path(device);
    throw e;
#else
    const auto permission = [&device](int err) {
        Error e(ErrorKind::io, fmt::format("{}: reading the kernel log needs CAP_SYSLOG (kernel.dmesg_restrict is {})",
                                           std::strerror(err), restrict_value()));
        e.with_path(device);
        return e;
    };
    const int fd = ::open(device.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == EACCES || err == EPERM) throw permission(err);
        if (err == ENOENT) {
            Error e(ErrorKind::unsupported,
                    "not present on this host (a kernel before 3.5, or /dev not populated); name a dump with -M");
            e.with_path(device);
            throw e;
        }
        throw_os("opening the kernel log", err, device);
    }
    std::string data;
    std::string buf(max_record_bytes, '\0');
    // The log is finite, but a flood could keep a reader busy: no more
    // records or bytes than a ring can hold.
    for (std::uint64_t n = 0; n < klog::max_descriptors && data.size() < klog::max_ring_bytes;) {
        const ssize_t got = ::read(fd, buf.data(), buf.size());
        if (got > 0) {
            data.append(buf.data(), static_cast<std::size_t>(got));
            if (data.back() != '\n') data += '\n';
            ++n;
            continue;
        }
        const int err = got == 0 ? 0 : errno;
        if (err == EINTR) continue;
        if (err == EPIPE) continue;  // records overwritten while reading: the next read gets the oldest left
        if (got == 0 || err == EAGAIN) break;
        ::close(fd);
        if (err == EACCES || err == EPERM) throw permission(err);
        throw_os("reading the kernel log", err, device);
    }
    ::close(fd);
    KernelLog log = parse_kmsg(data, warn);
    log.source = device;
    return log;
#endif
}

}  // namespace kvm
