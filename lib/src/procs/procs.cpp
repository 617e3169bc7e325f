// What every process walker shares: filters, STAT letters, the walker
// table, and NetBSD device names.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>
#include <kvm/msgbuf.h>
#include <kvm/procs.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace kvm {

namespace detail {
// Rows of the walker table, one per file in src/procs/.
bool netbsd_accepts(const WalkTarget& target);
std::unique_ptr<ProcessWalker> netbsd_create(const WalkTarget& target);
bool dragonfly_accepts(const WalkTarget& target);
std::unique_ptr<ProcessWalker> dragonfly_create(const WalkTarget& target);
bool freebsd_accepts(const WalkTarget& target);
std::unique_ptr<ProcessWalker> freebsd_create(const WalkTarget& target);
bool linux_accepts(const WalkTarget& target);
std::unique_ptr<ProcessWalker> linux_create(const WalkTarget& target);
bool host_accepts(const WalkTarget& target);
std::unique_ptr<ProcessWalker> host_create(const WalkTarget& target);
}  // namespace detail

std::string_view to_string(ProcOp op) {
    switch (op) {
        case ProcOp::all:
            return "KERN_PROC_ALL";
        case ProcOp::pid:
            return "KERN_PROC_PID";
        case ProcOp::pgrp:
            return "KERN_PROC_PGRP";
        case ProcOp::session:
            return "KERN_PROC_SESSION";
        case ProcOp::tty:
            return "KERN_PROC_TTY";
        case ProcOp::uid:
            return "KERN_PROC_UID";
        case ProcOp::ruid:
            return "KERN_PROC_RUID";
        case ProcOp::gid:
            return "KERN_PROC_GID";
        case ProcOp::rgid:
            return "KERN_PROC_RGID";
    }
    return "KERN_PROC_?";
}

std::optional<std::uint64_t> terminal_device(const ProcessWalker& walker, std::string_view name) {
    if (name == "?") return no_dev;
    if (name == "-") return tty_revoked;
    if (name == "co") return walker.tty_device("console");
    if (!name.empty() && !name.starts_with('/'))
        if (auto dev = walker.tty_device("tty" + std::string(name))) return dev;
    return walker.tty_device(name);
}

const LayoutRequest* process_layout_request(std::string_view os) {
    if (os == "netbsd") return &netbsd::process_layout_request();
    if (os == "dragonfly") return &dragonfly::process_layout_request();
    if (os == "freebsd") return &freebsd::process_layout_request();
    if (os == "linux") return &linux_kernel::process_layout_request();
    return nullptr;
}

std::vector<std::string> split_nul(std::string_view data, std::size_t max_bytes) {
    std::vector<std::string> out;
    std::size_t used = 0;
    while (!data.empty()) {
        const auto nul = data.find('\0');
        std::string_view item = data.substr(0, nul);
        if (max_bytes != 0) {
            if (used >= max_bytes) break;
            item = item.substr(0, max_bytes - used);
            used += item.size() + 1;
        }
        out.emplace_back(item);
        if (nul == std::string_view::npos) break;
        data.remove_prefix(nul + 1);
    }
    return out;
}

const LayoutRequest* shipped_layout_request(std::string_view os) {
    const auto merged = [](const LayoutRequest& walker, const LayoutRequest& more) {
        LayoutRequest r = walker;
        r.structs.insert(r.structs.end(), more.structs.begin(), more.structs.end());
        r.flags.insert(r.flags.end(), more.flags.begin(), more.flags.end());
        r.values.insert(r.values.end(), more.values.begin(), more.values.end());
        return r;
    };
    if (os == "netbsd") {
        static const LayoutRequest r =
            merged(merged(netbsd::process_layout_request(), klog::netbsd_msgbuf_layout_request()),
                   netbsd::module_layout_request());
        return &r;
    }
    if (os == "freebsd") {
        static const LayoutRequest r =
            merged(merged(freebsd::process_layout_request(), klog::bsd_msgbuf_layout_request()),
                   bsd::linker_file_layout_request());
        return &r;
    }
    if (os == "dragonfly") {
        static const LayoutRequest r =
            merged(merged(dragonfly::process_layout_request(), klog::bsd_msgbuf_layout_request()),
                   bsd::linker_file_layout_request());
        return &r;
    }
    return process_layout_request(os);
}

std::optional<std::uint32_t> lifetime_pctcpu_tenths(std::uint64_t rtime_usec, std::int64_t elapsed_usec) {
    if (elapsed_usec <= 0) return std::nullopt;
    // rtime * 1000 / elapsed, without overflow: a dump's times may be anything.
    const auto elapsed = static_cast<std::uint64_t>(elapsed_usec);
    const std::uint64_t whole = rtime_usec / elapsed, rest = rtime_usec % elapsed;
    if (whole >= 10) return 9999;
    const std::uint64_t part =
        elapsed <= std::numeric_limits<std::uint64_t>::max() / 1000 ? rest * 1000 / elapsed : rest / (elapsed / 1000);
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(whole * 1000 + part, 9999));
}

bool matches(const ProcInfo& p, const ProcFilter& f) {
    const auto id = [&](std::int64_t v) { return static_cast<std::uint64_t>(v) == f.arg; };
    switch (f.op) {
        case ProcOp::all:
            return true;
        case ProcOp::pid:
            return id(p.pid);
        case ProcOp::pgrp:
            return id(p.pgid);
        case ProcOp::session:
            return id(p.sid);
        case ProcOp::tty:
            if (f.arg == tty_revoked) return p.tdev != no_dev && !p.ctty_vnode;
            return p.tdev == f.arg;
        case ProcOp::uid:
            return p.uid != ProcInfo::unknown_id && p.uid == f.arg;
        case ProcOp::ruid:
            return p.ruid != ProcInfo::unknown_id && p.ruid == f.arg;
        case ProcOp::gid:
            return p.gid != ProcInfo::unknown_id && p.gid == f.arg;
        case ProcOp::rgid:
            return p.rgid != ProcInfo::unknown_id && p.rgid == f.arg;
    }
    return false;
}

bool matches_all(const ProcInfo& p, std::span<const ProcFilter> filters) {
    for (const auto& f : filters)
        if (!matches(p, f)) return false;
    return true;
}

std::string stat_string(std::string_view state, std::initializer_list<StatFlag> flags) {
    std::string s(state);
    for (const StatFlag& f : flags)
        if (f.on) s += f.letter;
    return s;
}

std::string stat_letters(char state, const StatFlags& f) {
    return stat_string(std::string_view(&state, 1), {{f.nice < 0, '<'},
                                                     {f.nice > 0, 'N'},
                                                     {f.traced, 'X'},
                                                     {f.exiting, 'E'},
                                                     {f.vfork_wait, 'V'},
                                                     {f.system, 'K'},
                                                     {f.session_leader, 's'},
                                                     {f.multithreaded, 'l'},
                                                     {f.foreground, '+'}});
}

namespace {

constexpr WalkerInfo walkers[] = {
    {"netbsd", detail::netbsd_accepts, detail::netbsd_create},
    {"dragonfly", detail::dragonfly_accepts, detail::dragonfly_create},
    {"freebsd", detail::freebsd_accepts, detail::freebsd_create},
    {"linux", detail::linux_accepts, detail::linux_create},
    {"host", detail::host_accepts, detail::host_create},
};

}  // namespace

std::span<const WalkerInfo> all_process_walkers() {
    return walkers;
}

std::unique_ptr<ProcessWalker> make_process_walker(const WalkTarget& target) {
    for (const WalkerInfo& w : walkers)
        if (w.accepts(target)) return w.create(target);
    std::string names;
    for (const WalkerInfo& w : walkers)
        names += (names.empty() ? "" : ", ") + std::string(w.name);
    if (target.kernel == nullptr)
        throw_unsupported(fmt::format("no process walker for the running host on this system (have: {})", names));
    throw_unsupported(fmt::format("no process walker for {} dumps (have: {})", target.kernel->machine().os, names));
}

// ---------------------------------------------------------------- NetBSD device names

namespace netbsd {

namespace {

// "%u" or "%02u" in a pattern, with the minor number.
std::string expand(std::string_view pattern, std::uint32_t minor) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '%') {
            out += pattern[i];
            continue;
        }
        const std::string_view rest = pattern.substr(i);
        if (rest.starts_with("%u")) {
            out += fmt::format("{}", minor);
            i += 1;
        } else if (rest.starts_with("%02u")) {
            out += fmt::format("{:02}", minor);
            i += 3;
        } else {
            out += '%';
        }
    }
    return out;
}

bool has_number(std::string_view pattern) {
    return pattern.find('%') != std::string_view::npos;
}

}  // namespace

std::string device_name(const StructLayouts& layouts, std::uint64_t dev) {
    if (dev == no_dev) return {};
    for (const DeviceName& d : layouts.devices) {
        if (d.major != dev_major(dev)) continue;
        if (!has_number(d.pattern) && dev_minor(dev) != 0) continue;
        return expand(d.pattern, dev_minor(dev));
    }
    return {};
}

std::optional<std::uint64_t> device_number(const StructLayouts& layouts, std::string_view name) {
    if (name.starts_with("/dev/")) name.remove_prefix(5);
    for (const DeviceName& d : layouts.devices) {
        const std::string_view pattern = d.pattern;
        const auto pct = pattern.find('%');
        if (pct == std::string_view::npos) {
            if (name == pattern) return makedev(d.major, 0);
            continue;
        }
        // A prefix, the number, and whatever follows the conversion.
        const std::string_view prefix = pattern.substr(0, pct);
        const std::string_view conv = pattern.substr(pct);
        const std::size_t conv_len = conv.starts_with("%02u") ? 4 : 2;
        const std::string_view suffix = conv.substr(conv_len);
        if (!name.starts_with(prefix) || !name.ends_with(suffix) || name.size() <= prefix.size() + suffix.size())
            continue;
        const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
        std::uint32_t minor = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), minor);
        if (ec != std::errc() || end != digits.data() + digits.size()) continue;
        if (expand(pattern, minor) == name) return makedev(d.major, minor);
    }
    return std::nullopt;
}

}  // namespace netbsd

}  // namespace kvm
