// ps(1) columns and JSON for ProcInfo records (NetBSD ps's keywords,
// headers and justification; netbsd-dump-format.md section 7).
#include <kvm/error.h>
#include <kvm/expr.h>
#include <kvm/ps.h>

#include "core/json_string.h"

#include <fmt/format.h>

#include <pwd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>

namespace kvm {

namespace {

constexpr PsColumn columns[] = {
    {"pid", "PID", false, "process id"},
    {"user", "USER", true, "effective user: its name where the passwd is known, else the number"},
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
    {"pri", "PRI", false, "scheduling priority"},
    {"cpu", "CPU", false, "the scheduler's recent CPU use"},
    {"cpuid", "CPUID", false, "the CPU the LWP last ran on"},
    {"%cpu", "%CPU", false, "percentage of CPU time used"},
    {"%mem", "%MEM", false, "resident size as a percentage of the machine's memory"},
    {"flags", "F", false, "process flags, in hexadecimal"},
    {"start", "STARTED", true,
     "start time: hour and minute within a day, weekday and hour within a week, else the date"},
    {"lstart", "STARTED", true, "start date and time in full"},
    {"etime", "ELAPSED", false, "time since the start, [[days-]hours:]minutes:seconds"},
    {"emul", "EMUL", true, "system call emulation"},
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

const PsColumn* find_column(std::string_view keyword) {
    const auto it =
        std::find_if(std::begin(columns), std::end(columns), [&](const PsColumn& c) { return c.keyword == keyword; });
    return it == std::end(columns) ? nullptr : &*it;
}

// now - start, saturated: both come from a dump.
std::int64_t seconds_between(std::int64_t now, std::int64_t start) {
    std::int64_t d = 0;
    if (__builtin_sub_overflow(now, start, &d)) return now < start ? INT64_MIN : INT64_MAX;
    return d;
}

// ps's START: the time of day for a process started within the last day,
// the weekday and hour within the last week, else the date.
std::string start_text(std::int64_t start_sec, std::optional<std::int64_t> now_sec) {
    const auto t = static_cast<std::time_t>(start_sec);
    std::tm tm{};
    if (localtime_r(&t, &tm) == nullptr) return "-";
    const std::int64_t age = now_sec ? seconds_between(*now_sec, start_sec) : 0;
    const char* form = age < 24LL * 3600 ? "%l:%M%p" : age < 7LL * 24 * 3600 ? "%a%I%p" : "%e%b%y";
    std::array<char, 64> buf{};
    const std::size_t n = std::strftime(buf.data(), buf.size(), form, &tm);
    std::string out(buf.data(), n);
    // %l and %e pad with a blank; the column's own justification does that.
    out.erase(0, out.find_first_not_of(' '));
    return out;
}

std::string lstart_text(std::int64_t start_sec) {
    const auto t = static_cast<std::time_t>(start_sec);
    std::tm tm{};
    if (localtime_r(&t, &tm) == nullptr) return "-";
    std::array<char, 64> buf{};
    const std::size_t n = std::strftime(buf.data(), buf.size(), "%a %b %e %H:%M:%S %Y", &tm);
    return {buf.data(), n};
}

std::string etime_text(std::int64_t secs) {
    if (secs < 0) secs = 0;
    const std::int64_t days = secs / 86400, hours = secs / 3600 % 24, minutes = secs / 60 % 60, s = secs % 60;
    if (days != 0) return fmt::format("{}-{:02}:{:02}:{:02}", days, hours, minutes, s);
    if (hours != 0) return fmt::format("{:02}:{:02}:{:02}", hours, minutes, s);
    return fmt::format("{:02}:{:02}", minutes, s);
}

template <typename T>
std::string or_dash(const std::optional<T>& v) {
    return v ? fmt::format("{}", *v) : "-";
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

std::vector<PsField> parse_ps_fields(std::string_view list) {
    std::vector<PsField> out;
    while (!list.empty()) {
        const auto start = list.find_first_not_of(", \t");
        if (start == std::string_view::npos) break;
        list.remove_prefix(start);
        const auto end = list.find_first_of(", \t=");
        const std::string_view word = list.substr(0, end);
        const PsColumn* column = find_column(word);
        if (column == nullptr) throw Error(ErrorKind::usage, fmt::format("{}: keyword not found", word));
        if (end != std::string_view::npos && list[end] == '=') {
            out.push_back({column, std::string(list.substr(end + 1))});
            break;
        }
        out.push_back({column, std::string(column->header)});
        if (end == std::string_view::npos) break;
        list.remove_prefix(end);
    }
    if (out.empty()) throw Error(ErrorKind::usage, "no valid keywords");
    return out;
}

std::vector<PsField> ps_format(std::span<const PsFormatOption> options) {
    using Kind = PsFormatOption::Kind;
    std::vector<PsField> out;
    bool any = false;
    for (const PsFormatOption& o : options) {
        std::vector<PsField> more;
        switch (o.kind) {
            case Kind::columns:
            case Kind::add:
                more = parse_ps_fields(o.list);
                break;
            case Kind::user:
                more = parse_ps_fields("user,pid,%cpu,%mem,vsz,rss,tt,stat,start,time,command");
                break;
            case Kind::jobs:
                more = parse_ps_fields("user,pid,ppid,pgid,sid,stat,tt,time,command");
                break;
            case Kind::long_:
                more = parse_ps_fields("uid,pid,ppid,cpu,pri,nice,vsz,rss,wchan,stat,tt,time,command");
                break;
            case Kind::virtual_:
                more = parse_ps_fields("pid,stat,time,vsz,rss,%cpu,%mem,command");
                break;
        }
        if (o.kind != Kind::add) {
            out.insert(out.end(), more.begin(), more.end());
            any = true;
            continue;
        }
        if (!any) {
            out = parse_ps_fields("pid,tt,stat,time,command");
            any = true;
        }
        const auto pid =
            std::find_if(out.begin(), out.end(), [](const PsField& f) { return f.column->keyword == "pid"; });
        out.insert(pid == out.end() ? out.begin() : pid + 1, more.begin(), more.end());
    }
    return any ? out : parse_ps_fields("pid,tt,stat,time,command");
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
    return ps_field(p, c, PsTableOptions{});
}

std::string ps_field(const ProcInfo& p, const PsColumn& c, const PsTableOptions& o) {
    const std::string_view k = c.keyword;
    if (k == "user") {
        if (p.uid == ProcInfo::unknown_id) return "-";
        std::string name = o.user_name ? o.user_name(p.uid) : std::string();
        return name.empty() ? fmt::format("{}", p.uid) : name;
    }
    if (k == "pri") return or_dash(p.priority);
    if (k == "cpu") return or_dash(p.cpu);
    if (k == "cpuid") return or_dash(p.cpuid);
    if (k == "%cpu") return p.pctcpu_tenths ? fmt::format("{}.{}", *p.pctcpu_tenths / 10, *p.pctcpu_tenths % 10) : "-";
    if (k == "%mem") {
        if (o.physmem_kib == 0 || !p.rss_kib) return "-";
        const std::uint64_t tenths = (*p.rss_kib * 1000 + o.physmem_kib / 2) / o.physmem_kib;
        return fmt::format("{}.{}", tenths / 10, tenths % 10);
    }
    if (k == "flags") return fmt::format("{:x}", p.flags);
    if (k == "start") return p.start_usec ? start_text(*p.start_usec / 1000000, o.now_sec) : "-";
    if (k == "lstart") return p.start_usec ? lstart_text(*p.start_usec / 1000000) : "-";
    if (k == "etime")
        return p.start_usec && o.now_sec ? etime_text(seconds_between(*o.now_sec, *p.start_usec / 1000000)) : "-";
    if (k == "emul") return p.emul.empty() ? "-" : p.emul;
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
    if (k == "vsz") return or_dash(p.vsz_kib);
    if (k == "rss") return or_dash(p.rss_kib);
    if (k == "paddr") return fmt::format("{:x}", p.paddr);
    if (k == "laddr") return fmt::format("{:x}", p.laddr);
    if (k == "login") return p.login.empty() ? "-" : p.login;
    if (k == "lname") return p.lname.empty() ? "-" : p.lname;
    if (k == "comm") return p.comm;
    return ps_command(p);  // command, args
}

std::string format_ps_table(std::span<const ProcInfo> procs, std::span<const PsField> fields,
                            const PsTableOptions& options) {
    // Widest value or header per column: a first pass over the fields,
    // which the second pass prints (cheaper than keeping every cell).
    std::vector<std::size_t> width(fields.size());
    for (std::size_t c = 0; c < fields.size(); ++c)
        width[c] = fields[c].header.size();
    for (const ProcInfo& p : procs)
        for (std::size_t c = 0; c < fields.size(); ++c)
            width[c] = std::max(width[c], ps_field(p, *fields[c].column, options).size());
    std::string out;
    std::size_t line_start = 0;
    const auto cell = [&](std::string_view text, std::size_t c) {
        const PsColumn& column = *fields[c].column;
        if (c != 0) out += ' ';
        const bool last = c + 1 == fields.size();
        if (!column.left) {
            out.append(width[c] - std::min(width[c], text.size()), ' ');
            out += text;
        } else if (column.keyword == "tt" && text.size() > 1 && text.back() == '-') {
            // ps keeps the TTY column's "-" at the column's end: "pts/0  -".
            out += text.substr(0, text.size() - 1);
            out.append(width[c] - text.size(), ' ');
            out += '-';
        } else {
            out += text;
            if (!last) out.append(width[c] - std::min(width[c], text.size()), ' ');
        }
    };
    const auto end_line = [&] {
        // ps cuts a line at the terminal's width (the last column, COMMAND,
        // is what gets cut in practice).
        if (options.width != 0 && out.size() - line_start > options.width) out.resize(line_start + options.width);
        out += '\n';
        line_start = out.size();
    };
    const bool header = std::any_of(fields.begin(), fields.end(), [](const PsField& f) { return !f.header.empty(); });
    if (header) {
        for (std::size_t c = 0; c < fields.size(); ++c)
            cell(fields[c].header, c);
        end_line();
    }
    for (const ProcInfo& p : procs) {
        for (std::size_t c = 0; c < fields.size(); ++c)
            cell(ps_field(p, *fields[c].column, options), c);
        end_line();
    }
    return out;
}

std::string format_ps_table(std::span<const ProcInfo> procs, std::span<const PsColumn* const> cols) {
    std::vector<PsField> fields;
    fields.reserve(cols.size());
    for (const PsColumn* c : cols)
        fields.push_back({c, std::string(c->header)});
    return format_ps_table(procs, fields);
}

std::vector<std::string> split_ps_list(std::string_view list) {
    std::vector<std::string> out;
    while (!list.empty()) {
        const auto start = list.find_first_not_of(", \t");
        if (start == std::string_view::npos) break;
        list.remove_prefix(start);
        const auto end = list.find_first_of(", \t");
        out.emplace_back(list.substr(0, end));
        if (end == std::string_view::npos) break;
        list.remove_prefix(end);
    }
    return out;
}

std::vector<ProcFilter> ps_walk_filters(const PsSelection& selection) {
    std::vector<ProcFilter> out;
    for (const auto& list : selection.lists)
        if (list.size() == 1) out.push_back(list.front());
    return out;
}

bool ps_selected(const ProcInfo& p, const PsSelection& selection) {
    return std::all_of(selection.lists.begin(), selection.lists.end(), [&](const std::vector<ProcFilter>& list) {
        return std::any_of(list.begin(), list.end(), [&](const ProcFilter& f) { return matches(p, f); });
    });
}

std::uint32_t ps_user_id(std::string_view user, bool host) {
    if (!user.empty() && user.find_first_not_of("0123456789") == std::string_view::npos) {
        const std::optional<std::uint64_t> n = parse_number(user);
        if (!n || *n >= ProcInfo::unknown_id) throw Error(ErrorKind::usage, fmt::format("{}: no such user", user));
        return static_cast<std::uint32_t>(*n);
    }
    if (!host)
        throw Error(ErrorKind::usage,
                    fmt::format("{}: no such user (a dump's users are another machine's: give the number)", user));
    const std::string name(user);
    std::array<char, 4096> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
        throw Error(ErrorKind::usage, fmt::format("{}: no such user", user));
    return found->pw_uid;
}

std::string host_user_name(std::uint32_t uid) {
    std::array<char, 4096> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return {};
    return found->pw_name;
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
        const auto optional = [&](std::string_view key, const auto& v) {
            if (v) {
                j.number(key, *v);
            } else {
                j.null(key);
            }
        };
        optional("vsz", p.vsz_kib);
        optional("rss", p.rss_kib);
        optional("start_usec", p.start_usec);
        optional("pctcpu_tenths", p.pctcpu_tenths);
        optional("priority", p.priority);
        optional("cpu", p.cpu);
        optional("cpuid", p.cpuid);
        if (p.emul.empty()) {
            j.null("emul");
        } else {
            j.text("emul", p.emul);
        }
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
