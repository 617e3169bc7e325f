// ps(1) columns and JSON for ProcInfo records (NetBSD ps's keywords,
// headers and justification; netbsd-dump-format.md section 7).
#include <kvm/error.h>
#include <kvm/ps.h>

#include "core/json_string.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvm {

namespace {

constexpr PsColumn columns[] = {
    {"pid", "PID", false, "process id"},
    {"ppid", "PPID", false, "parent process id"},
    {"pgid", "PGID", false, "process group id"},
    {"sid", "SID", false, "session id"},
    {"tpgid", "TPGID", false, "foreground process group of the controlling terminal"},
    {"uid", "UID", false, "effective user id"},
    {"ruid", "RUID", false, "real user id"},
    {"svuid", "SVUID", false, "saved user id"},
    {"gid", "GID", false, "effective group id"},
    {"rgid", "RGID", false, "real group id"},
    {"svgid", "SVGID", false, "saved group id"},
    {"tt", "TTY", true, "controlling terminal, - appended when the session lost its vnode"},
    {"tty", "TTY", true, "controlling terminal"},
    {"tdev", "TDEV", false, "controlling terminal's device number, major/minor (FreeBSD: in hexadecimal)"},
    {"stat", "STAT", true, "state letters"},
    {"state", "STAT", true, "state letters (same as stat)"},
    {"lid", "LID", false, "LWP id"},
    {"nlwp", "NLWP", false, "number of LWPs"},
    {"nice", "NI", false, "nice value"},
    {"wchan", "WCHAN", true, "wait channel, as a namelist symbol"},
    {"wmesg", "WMESG", true, "wait message"},
    {"time", "TIME", false, "run time, minutes:seconds.hundredths"},
    {"vsz", "VSZ", false, "virtual size in KiB"},
    {"rss", "RSS", false, "resident size in KiB"},
    {"paddr", "PADDR", false, "kernel address of the process structure"},
    {"laddr", "LADDR", false, "kernel address of the LWP structure"},
    {"login", "LOGIN", true, "the session's login name"},
    {"lname", "LNAME", true, "LWP name"},
    {"comm", "COMMAND", true, "command name"},
    {"command", "COMMAND", true, "command and arguments"},
    {"args", "COMMAND", true, "command and arguments (same as command)"},
};

std::string id(std::uint32_t v) {
    return v == ProcInfo::unknown_id ? "-" : fmt::format("{}", v);
}

std::string tdev_text(std::uint64_t dev, bool split) {
    if (dev == no_dev) return "?";
    // FreeBSD's number (a devfs inode) has no major and minor.
    if (!split) return fmt::format("{:#x}", dev);
    // Major in bits 8-19, minor in bits 0-7 and 20-31: NetBSD's dev_t and
    // the Linux kernel's own encoding (tty_nr) agree on this.
    return fmt::format("{}/{}", netbsd::dev_major(dev), netbsd::dev_minor(dev));
}

}  // namespace

std::span<const PsColumn> ps_columns() {
    return columns;
}

std::vector<const PsColumn*> parse_ps_format(std::string_view spec) {
    std::vector<const PsColumn*> out;
    while (!spec.empty()) {
        const auto start = spec.find_first_not_of(", \t");
        if (start == std::string_view::npos) break;
        spec.remove_prefix(start);
        const auto end = spec.find_first_of(", \t");
        const std::string_view word = spec.substr(0, end);
        const auto it =
            std::find_if(std::begin(columns), std::end(columns), [&](const PsColumn& c) { return c.keyword == word; });
        if (it == std::end(columns)) throw Error(ErrorKind::usage, fmt::format("{}: keyword not found", word));
        out.push_back(&*it);
        if (end == std::string_view::npos) break;
        spec.remove_prefix(end);
    }
    if (out.empty()) throw Error(ErrorKind::usage, "no valid keywords");
    return out;
}

std::vector<const PsColumn*> default_ps_format() {
    return parse_ps_format("pid,tt,stat,time,command");
}

std::string ps_time(std::uint64_t usec) {
    const std::uint64_t hundredths = (usec + 5000) / 10000;
    const std::uint64_t secs = hundredths / 100;
    return fmt::format("{}:{:02}.{:02}", secs / 60, secs % 60, hundredths % 100);
}

std::string ps_tty(const ProcInfo& p) {
    if (p.tdev == no_dev || p.tty.empty()) return "?";
    return p.ctty_vnode ? p.tty : p.tty + "-";
}

std::string ps_command(const ProcInfo& p) {
    std::string out;
    if (!p.argv.empty()) {
        for (const auto& a : p.argv)
            out += (out.empty() ? "" : " ") + a;
    } else {
        out = p.system ? fmt::format("[{}]", p.comm) : fmt::format("({})", p.comm);
    }
    for (const auto& e : p.envv)
        out += " " + e;
    return out;
}

std::string ps_field(const ProcInfo& p, const PsColumn& c) {
    const std::string_view k = c.keyword;
    if (k == "pid") return fmt::format("{}", p.pid);
    if (k == "ppid") return fmt::format("{}", p.ppid);
    if (k == "pgid") return fmt::format("{}", p.pgid);
    if (k == "sid") return fmt::format("{}", p.sid);
    if (k == "tpgid") return fmt::format("{}", p.tpgid);
    if (k == "uid") return id(p.uid);
    if (k == "ruid") return id(p.ruid);
    if (k == "svuid") return id(p.svuid);
    if (k == "gid") return id(p.gid);
    if (k == "rgid") return id(p.rgid);
    if (k == "svgid") return id(p.svgid);
    if (k == "tt") return ps_tty(p);
    if (k == "tty") return p.tdev == no_dev || p.tty.empty() ? "?" : p.tty;
    if (k == "tdev") return tdev_text(p.tdev, p.tdev_split);
    if (k == "stat" || k == "state") return p.stat;
    if (k == "lid") return fmt::format("{}", p.lid);
    if (k == "nlwp") return fmt::format("{}", p.nlwps);
    if (k == "nice") return fmt::format("{}", p.nice);
    if (k == "wchan") {
        if (!p.wchan_symbol.empty()) return p.wchan_symbol;
        return p.wchan == 0 ? "-" : fmt::format("{:x}", p.wchan);
    }
    if (k == "wmesg") return p.wmesg.empty() ? "-" : p.wmesg;
    if (k == "time") return ps_time(p.rtime_usec);
    if (k == "vsz") return fmt::format("{}", p.vsz_kib);
    if (k == "rss") return fmt::format("{}", p.rss_kib);
    if (k == "paddr") return fmt::format("{:x}", p.paddr);
    if (k == "laddr") return fmt::format("{:x}", p.laddr);
    if (k == "login") return p.login.empty() ? "-" : p.login;
    if (k == "lname") return p.lname.empty() ? "-" : p.lname;
    if (k == "comm") return p.comm;
    return ps_command(p);  // command, args
}

std::string format_ps_table(std::span<const ProcInfo> procs, std::span<const PsColumn* const> cols) {
    // Widest value or header per column: a first pass over the fields,
    // which the second pass prints (cheaper than keeping every cell).
    std::vector<std::size_t> width(cols.size());
    for (std::size_t c = 0; c < cols.size(); ++c)
        width[c] = cols[c]->header.size();
    for (const ProcInfo& p : procs)
        for (std::size_t c = 0; c < cols.size(); ++c)
            width[c] = std::max(width[c], ps_field(p, *cols[c]).size());
    std::string out;
    const auto cell = [&](std::string_view text, std::size_t c) {
        if (c != 0) out += ' ';
        const bool last = c + 1 == cols.size();
        if (!cols[c]->left) {
            out.append(width[c] - std::min(width[c], text.size()), ' ');
            out += text;
        } else if (cols[c]->keyword == "tt" && text.size() > 1 && text.back() == '-') {
            // ps keeps the TTY column's "-" at the column's end: "pts/0  -".
            out += text.substr(0, text.size() - 1);
            out.append(width[c] - text.size(), ' ');
            out += '-';
        } else {
            out += text;
            if (!last) out.append(width[c] - std::min(width[c], text.size()), ' ');
        }
    };
    for (std::size_t c = 0; c < cols.size(); ++c)
        cell(cols[c]->header, c);
    out += '\n';
    for (const ProcInfo& p : procs) {
        for (std::size_t c = 0; c < cols.size(); ++c)
            cell(ps_field(p, *cols[c]), c);
        out += '\n';
    }
    return out;
}

namespace {

class JsonObject {
public:
    explicit JsonObject(std::string& out) : out_(out) { out_ += '{'; }
    JsonObject(const JsonObject&) = delete;
    JsonObject& operator=(const JsonObject&) = delete;
    ~JsonObject() { out_ += '}'; }

    template <typename T>
    void number(std::string_view key, T v) {
        name(key);
        out_ += fmt::format("{}", v);
    }
    void id(std::string_view key, std::uint32_t v) {
        if (v == ProcInfo::unknown_id) {
            null(key);
        } else {
            number(key, v);
        }
    }
    void boolean(std::string_view key, bool v) {
        name(key);
        out_ += v ? "true" : "false";
    }
    void null(std::string_view key) {
        name(key);
        out_ += "null";
    }
    void text(std::string_view key, std::string_view v) {
        name(key);
        detail::append_json_string(out_, v);
    }
    void hex_address(std::string_view key, std::uint64_t v) { text(key, fmt::format("{:#x}", v)); }
    template <typename Range, typename Each>
    void array(std::string_view key, const Range& r, Each&& each) {
        name(key);
        out_ += '[';
        bool first = true;
        for (const auto& v : r) {
            if (!first) out_ += ',';
            first = false;
            each(v);
        }
        out_ += ']';
    }
    void raw_object(std::string_view key, const std::vector<std::pair<std::string, std::uint64_t>>& values) {
        name(key);
        JsonObject inner(out_);
        for (const auto& [k, v] : values)
            inner.number(k, v);
    }

private:
    void name(std::string_view key) {
        if (!first_) out_ += ',';
        first_ = false;
        detail::append_json_string(out_, key);
        out_ += ':';
    }

    std::string& out_;
    bool first_ = true;
};

}  // namespace

std::string format_ps_json(const ProcInfo& p) {
    std::string out;
    {
        JsonObject j(out);
        j.number("pid", p.pid);
        j.number("ppid", p.ppid);
        j.number("pgid", p.pgid);
        j.number("sid", p.sid);
        j.number("tpgid", p.tpgid);
        j.id("uid", p.uid);
        j.id("ruid", p.ruid);
        j.id("svuid", p.svuid);
        j.id("gid", p.gid);
        j.id("rgid", p.rgid);
        j.id("svgid", p.svgid);
        j.array("groups", p.groups, [&](std::uint32_t g) { out += fmt::format("{}", g); });
        if (p.tdev == no_dev) {
            j.null("tdev");
        } else {
            j.number("tdev", p.tdev);
        }
        if (p.tty.empty()) {
            j.null("tty");
        } else {
            j.text("tty", p.tty);
        }
        j.boolean("ctty_vnode", p.ctty_vnode);
        j.boolean("session_leader", p.session_leader);
        j.text("login", p.login);
        j.text("stat", p.stat);
        j.number("state", p.state);
        j.number("lwp_state", p.lwp_state);
        j.number("flags", p.flags);
        j.raw_object("raw", p.raw);
        j.number("nice", p.nice);
        j.boolean("zombie", p.zombie);
        j.boolean("system", p.system);
        j.number("lid", p.lid);
        j.number("nlwp", p.nlwps);
        j.boolean("lwp_row", p.lwp_row);
        j.text("lname", p.lname);
        // Kernel addresses as hex strings: JSON numbers past 2^53 lose precision in many readers.
        j.hex_address("wchan", p.wchan);
        j.text("wchan_symbol", p.wchan_symbol);
        j.text("wmesg", p.wmesg);
        j.text("time", ps_time(p.rtime_usec));
        j.number("rtime_usec", p.rtime_usec);
        j.number("vsz", p.vsz_kib);
        j.number("rss", p.rss_kib);
        j.hex_address("paddr", p.paddr);
        j.hex_address("laddr", p.laddr);
        j.text("comm", p.comm);
        j.text("command", ps_command(p));
        j.array("argv", p.argv, [&](const std::string& a) { detail::append_json_string(out, a); });
        if (p.envv_read) j.array("envv", p.envv, [&](const std::string& a) { detail::append_json_string(out, a); });
        if (!p.user_memory_error.empty()) j.text("user_memory_error", p.user_memory_error);
        j.boolean("live", p.live);
    }
    return out;
}

void sort_ps(std::vector<ProcInfo>& procs) {
    // As the BSD ps's do: processes without a terminal first, then by
    // terminal, pid and LWP.  The order is found on keys and the records
    // moved once: they are big.
    const auto key = [](const ProcInfo& p) {
        return std::tuple(p.tdev != no_dev, p.tdev, p.pid, p.lwp_row ? p.lid : 0);
    };
    std::vector<std::pair<decltype(key(procs[0])), std::size_t>> order;
    order.reserve(procs.size());
    for (std::size_t i = 0; i < procs.size(); ++i)
        order.emplace_back(key(procs[i]), i);
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    // Position k takes the record at order[k].second: follow each cycle.
    std::vector<bool> placed(procs.size());
    for (std::size_t start = 0; start < procs.size(); ++start) {
        if (placed[start]) continue;
        ProcInfo held = std::move(procs[start]);
        for (std::size_t k = start;;) {
            placed[k] = true;
            const std::size_t from = order[k].second;
            if (from == start) {
                procs[k] = std::move(held);
                break;
            }
            procs[k] = std::move(procs[from]);
            k = from;
        }
    }
}

}  // namespace kvm
