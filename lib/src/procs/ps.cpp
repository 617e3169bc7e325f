// ps(1) columns and JSON for ProcInfo records (NetBSD ps's keywords,
// headers and justification; netbsd-dump-format.md section 7).
#include <kvm/error.h>
#include <kvm/ps.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
    {"tdev", "TDEV", false, "controlling terminal's device number, major/minor"},
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

std::string tdev_text(std::uint64_t dev) {
    if (dev == no_dev) return "?";
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
    if (!p.argv.empty()) {
        std::string out;
        for (const auto& a : p.argv)
            out += (out.empty() ? "" : " ") + a;
        return out;
    }
    return p.system ? fmt::format("[{}]", p.comm) : fmt::format("({})", p.comm);
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
    if (k == "tdev") return tdev_text(p.tdev);
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
    // Widest value or header per column.
    std::vector<std::vector<std::string>> cells(procs.size());
    std::vector<std::size_t> width(cols.size());
    for (std::size_t c = 0; c < cols.size(); ++c)
        width[c] = cols[c]->header.size();
    for (std::size_t r = 0; r < procs.size(); ++r) {
        for (std::size_t c = 0; c < cols.size(); ++c) {
            cells[r].push_back(ps_field(procs[r], *cols[c]));
            width[c] = std::max(width[c], cells[r].back().size());
        }
    }
    const auto cell = [&](std::string_view text, std::size_t c) {
        const bool last = c + 1 == cols.size();
        if (!cols[c]->left) return fmt::format("{:>{}}", text, width[c]);
        // ps keeps the TTY column's "-" at the column's end: "pts/0  -".
        if (cols[c]->keyword == "tt" && text.size() > 1 && text.back() == '-' && text != "?")
            return fmt::format("{:<{}}-", text.substr(0, text.size() - 1), width[c] - 1);
        return last ? std::string(text) : fmt::format("{:<{}}", text, width[c]);
    };
    std::string out;
    for (std::size_t c = 0; c < cols.size(); ++c)
        out += (c == 0 ? "" : " ") + cell(cols[c]->header, c);
    out += '\n';
    for (std::size_t r = 0; r < procs.size(); ++r) {
        for (std::size_t c = 0; c < cols.size(); ++c)
            out += (c == 0 ? "" : " ") + cell(cells[r][c], c);
        out += '\n';
    }
    return out;
}

std::string format_ps_json(const ProcInfo& p) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    const auto optional_id = [](std::uint32_t v) -> nlohmann::ordered_json {
        if (v == ProcInfo::unknown_id) return nullptr;
        return v;
    };
    j["pid"] = p.pid;
    j["ppid"] = p.ppid;
    j["pgid"] = p.pgid;
    j["sid"] = p.sid;
    j["tpgid"] = p.tpgid;
    j["uid"] = optional_id(p.uid);
    j["ruid"] = optional_id(p.ruid);
    j["svuid"] = optional_id(p.svuid);
    j["gid"] = optional_id(p.gid);
    j["rgid"] = optional_id(p.rgid);
    j["svgid"] = optional_id(p.svgid);
    j["groups"] = p.groups;
    if (p.tdev == no_dev) {
        j["tdev"] = nullptr;
    } else {
        j["tdev"] = p.tdev;
    }
    j["tty"] = p.tty.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.tty);
    j["ctty_vnode"] = p.ctty_vnode;
    j["session_leader"] = p.session_leader;
    j["login"] = p.login;
    j["stat"] = p.stat;
    j["state"] = p.state;
    j["lwp_state"] = p.lwp_state;
    j["flags"] = p.flags;
    nlohmann::ordered_json raw = nlohmann::ordered_json::object();
    for (const auto& [name, value] : p.raw)
        raw[name] = value;
    j["raw"] = std::move(raw);
    j["nice"] = p.nice;
    j["zombie"] = p.zombie;
    j["system"] = p.system;
    j["lid"] = p.lid;
    j["nlwp"] = p.nlwps;
    j["lwp_row"] = p.lwp_row;
    j["lname"] = p.lname;
    // Kernel addresses as hex strings, like paddr: JSON numbers past 2^53 lose precision in many readers.
    j["wchan"] = fmt::format("{:#x}", p.wchan);
    j["wchan_symbol"] = p.wchan_symbol;
    j["wmesg"] = p.wmesg;
    j["time"] = ps_time(p.rtime_usec);
    j["rtime_usec"] = p.rtime_usec;
    j["vsz"] = p.vsz_kib;
    j["rss"] = p.rss_kib;
    j["paddr"] = fmt::format("{:#x}", p.paddr);
    j["laddr"] = fmt::format("{:#x}", p.laddr);
    j["comm"] = p.comm;
    j["command"] = ps_command(p);
    j["argv"] = p.argv;
    j["live"] = p.live;
    return j.dump();
}

void sort_ps(std::vector<ProcInfo>& procs) {
    // As the BSD ps's do: processes without a terminal first, then by
    // terminal, pid and LWP.
    std::stable_sort(procs.begin(), procs.end(), [](const ProcInfo& a, const ProcInfo& b) {
        const auto key = [](const ProcInfo& p) {
            return std::tuple(p.tdev != no_dev, p.tdev, p.pid, p.lwp_row ? p.lid : 0);
        };
        return key(a) < key(b);
    });
}

}  // namespace kvm
