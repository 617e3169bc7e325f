// Processes of the running host, from Linux's /proc: the sysctl path of
// libkvm (kvm_getproc2, kvm_getlwps, kvm_getargv, kvm_getenvv, kvm_uread on
// a live system), filling the same records as the dump walkers.
//
// /proc/PID/stat fields used (proc(5)): 1 pid, 2 (comm), 3 state, 4 ppid,
// 5 pgrp, 6 session, 7 tty_nr, 8 tpgid, 9 flags, 14 utime, 15 stime,
// 18 priority, 19 nice, 20 num_threads, 22 starttime (ticks after boot,
// counted from /proc/stat's btime), 23 vsize (bytes), 24 rss (pages).  Task flags:
// PF_EXITING 0x4, PF_KTHREAD 0x00200000 (include/linux/sched.h).
#include <kvm/error.h>
#include <kvm/procs.h>

#include "io/unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <map>

namespace kvm {

namespace {

constexpr std::size_t max_proc_file = 8u << 20;  // cmdline and environ are bounded by ARG_MAX well below this
constexpr std::uint64_t pf_exiting = 0x4;
constexpr std::uint64_t pf_kthread = 0x00200000;

using Fd = detail::UniqueFd;

bool vanished(int err) {
    return err == ENOENT || err == ESRCH;
}

// A /proc file's text; nullopt when the process is gone.  Other failures
// throw io naming the file.
std::optional<std::string> read_proc_file(const std::string& path, std::size_t limit = max_proc_file) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (vanished(errno)) return std::nullopt;
        throw_os("cannot open", errno, path);
    }
    std::string out;
    char buf[16384];
    while (out.size() < limit) {
        const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, limit - out.size()));
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (vanished(errno)) return std::nullopt;
            throw_os("cannot read", errno, path);
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

template <typename T>
T parse_number(std::string_view s, std::string_view what, const std::string& path) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size())
        throw Error(ErrorKind::corrupt, fmt::format("{}: {} is \"{}\", not a number", path, what, s));
    return v;
}

// The kernel's own dev_t encoding, as /proc/PID/stat shows tty_nr.
std::uint64_t kernel_dev(dev_t rdev) {
    const std::uint64_t maj = major(rdev);
    const std::uint64_t min = minor(rdev);
    return (min & 0xff) | (maj << 8) | ((min & ~std::uint64_t{0xff}) << 12);
}

struct StatLine {
    std::int32_t pid = 0;
    std::string comm;
    char state = '?';
    std::int32_t ppid = 0, pgrp = 0, session = 0, tpgid = -1;
    std::uint64_t tty_nr = 0, flags = 0, utime = 0, stime = 0, vsize = 0;
    std::int64_t nice = 0, num_threads = 0, rss = 0, priority = 0;
    std::uint64_t starttime = 0;  // clock ticks after boot
};

StatLine parse_stat(const std::string& text, const std::string& path) {
    // The command name may hold spaces and parentheses: it ends at the last ')'.
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open || close + 2 > text.size())
        throw Error(ErrorKind::corrupt, fmt::format("{}: not a stat line", path));
    StatLine s;
    s.pid = parse_number<std::int32_t>(std::string_view(text).substr(0, open - 1), "pid", path);
    s.comm = text.substr(open + 1, close - open - 1);
    std::vector<std::string_view> f;  // f[0] is field 3 (state)
    std::string_view rest = std::string_view(text).substr(close + 2);
    while (!rest.empty()) {
        const auto sp = rest.find_first_of(" \n");
        f.push_back(rest.substr(0, sp));
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n'))
            rest.remove_prefix(1);
    }
    if (f.size() < 22)
        throw Error(ErrorKind::corrupt, fmt::format("{}: {} fields, expected at least 24", path, f.size() + 2));
    const auto field = [&](int n) { return f[static_cast<std::size_t>(n - 3)]; };
    s.state = field(3).empty() ? '?' : field(3)[0];
    s.ppid = parse_number<std::int32_t>(field(4), "ppid", path);
    s.pgrp = parse_number<std::int32_t>(field(5), "pgrp", path);
    s.session = parse_number<std::int32_t>(field(6), "session", path);
    s.tty_nr = static_cast<std::uint64_t>(parse_number<std::int64_t>(field(7), "tty_nr", path));
    s.tpgid = parse_number<std::int32_t>(field(8), "tpgid", path);
    s.flags = parse_number<std::uint64_t>(field(9), "flags", path);
    s.utime = parse_number<std::uint64_t>(field(14), "utime", path);
    s.stime = parse_number<std::uint64_t>(field(15), "stime", path);
    s.priority = parse_number<std::int64_t>(field(18), "priority", path);
    s.nice = parse_number<std::int64_t>(field(19), "nice", path);
    s.num_threads = parse_number<std::int64_t>(field(20), "num_threads", path);
    s.starttime = parse_number<std::uint64_t>(field(22), "starttime", path);
    s.vsize = parse_number<std::uint64_t>(field(23), "vsize", path);
    s.rss = parse_number<std::int64_t>(field(24), "rss", path);
    return s;
}

struct Status {
    std::uint32_t uid[3] = {ProcInfo::unknown_id, ProcInfo::unknown_id,
                            ProcInfo::unknown_id};  // real, effective, saved
    std::uint32_t gid[3] = {ProcInfo::unknown_id, ProcInfo::unknown_id, ProcInfo::unknown_id};
    std::vector<std::uint32_t> groups;
    std::int64_t tracer = 0;
};

Status parse_status(const std::string& text, const std::string& path) {
    Status s;
    std::string_view rest = text;
    const auto numbers = [&](std::string_view line) {
        std::vector<std::uint64_t> out;
        while (!line.empty()) {
            const auto start = line.find_first_not_of(" \t");
            if (start == std::string_view::npos) break;
            line.remove_prefix(start);
            const auto end = line.find_first_of(" \t");
            out.push_back(parse_number<std::uint64_t>(line.substr(0, end), "an id", path));
            if (end == std::string_view::npos) break;
            line.remove_prefix(end);
        }
        return out;
    };
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, colon);
        const std::string_view value = line.substr(colon + 1);
        if (key == "Uid" || key == "Gid") {
            const auto v = numbers(value);
            if (v.size() < 3) throw Error(ErrorKind::corrupt, fmt::format("{}: {} has {} ids", path, key, v.size()));
            for (int i = 0; i < 3; ++i)
                (key == "Uid" ? s.uid : s.gid)[i] = static_cast<std::uint32_t>(v[static_cast<std::size_t>(i)]);
        } else if (key == "Groups") {
            for (const auto g : numbers(value))
                s.groups.push_back(static_cast<std::uint32_t>(g));
        } else if (key == "TracerPid") {
            const auto v = numbers(value);
            if (!v.empty()) s.tracer = static_cast<std::int64_t>(v[0]);
        }
    }
    return s;
}

char state_letter(char linux_state) {
    switch (linux_state) {
        case 'R':
            return 'R';
        case 'S':
            return 'S';
        case 'D':
            return 'D';
        case 'T':
        case 't':
            return 'T';
        case 'Z':
            return 'Z';
        case 'I':
            return 'I';
        default:
            return '?';
    }
}

// The boot time /proc/stat gives (btime, seconds since the Epoch), in
// microseconds; nullopt when it cannot be read.
std::optional<std::int64_t> boot_time_usec() {
    const auto text = read_proc_file("/proc/stat");
    if (!text) return std::nullopt;
    const auto at = text->find("\nbtime ");
    if (at == std::string::npos) return std::nullopt;
    std::int64_t secs = 0;
    const char* begin = text->data() + at + 7;
    if (std::from_chars(begin, text->data() + text->size(), secs).ec != std::errc()) return std::nullopt;
    return secs * 1000000;
}

class HostWalker final : public ProcessWalker {
public:
    HostWalker() : ticks_(::sysconf(_SC_CLK_TCK)), page_(::sysconf(_SC_PAGESIZE)), boot_usec_(boot_time_usec()) {}

    std::string_view name() const override { return "host"; }
    void walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const override;
    std::optional<std::uint64_t> tty_device(std::string_view name) const override {
        std::string path(name);
        if (!path.starts_with("/dev/")) path = "/dev/" + path;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) return std::nullopt;
        return kernel_dev(st.st_rdev);
    }
    SystemFacts system_facts() const override {
        return {.now_sec = std::time(nullptr),
                .physmem_kib =
                    static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(page_) / 1024};
    }

private:
    const std::string& tty_name(std::uint64_t dev) const;
    // Reads one process (and its threads for per-LWP output); nothing when it is gone.
    void read_process(std::int32_t pid, const WalkOptions& options, const ProcEmit& emit) const;

    long ticks_;
    long page_;
    std::optional<std::int64_t> boot_usec_;  // /proc/stat's btime: what starttime counts from
    mutable std::map<std::uint64_t, std::string> ttys_;
    mutable bool ttys_scanned_ = false;
};

const std::string& HostWalker::tty_name(std::uint64_t dev) const {
    if (!ttys_scanned_) {
        ttys_scanned_ = true;
        for (const char* dir : {"/dev/pts", "/dev"}) {
            DIR* d = ::opendir(dir);
            if (d == nullptr) continue;
            while (const dirent* e = ::readdir(d)) {
                const std::string_view n = e->d_name;
                const bool in_pts = std::strcmp(dir, "/dev/pts") == 0;
                if (!in_pts && !n.starts_with("tty") && n != "console") continue;
                if (n == "." || n == "..") continue;
                const std::string path = std::string(dir) + "/" + e->d_name;
                struct stat st {};
                if (::stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) continue;
                ttys_.emplace(kernel_dev(st.st_rdev), path.substr(5));
            }
            ::closedir(d);
        }
    }
    static const std::string none;
    const auto it = ttys_.find(dev);
    return it == ttys_.end() ? none : it->second;
}

void HostWalker::read_process(std::int32_t pid, const WalkOptions& options, const ProcEmit& emit) const {
    const std::string dir = fmt::format("/proc/{}", pid);
    const auto stat_text = read_proc_file(dir + "/stat");
    const auto status_text = read_proc_file(dir + "/status");
    const auto cmdline = read_proc_file(dir + "/cmdline");
    if (!stat_text || !status_text || !cmdline) return;  // exited while we looked
    const StatLine st = parse_stat(*stat_text, dir + "/stat");
    const Status status = parse_status(*status_text, dir + "/status");

    ProcInfo p;
    p.live = true;
    p.pid = st.pid;
    p.ppid = st.ppid;
    p.pgid = st.pgrp;
    p.sid = st.session;
    p.ruid = status.uid[0];
    p.uid = status.uid[1];
    p.svuid = status.uid[2];
    p.rgid = status.gid[0];
    p.gid = status.gid[1];
    p.svgid = status.gid[2];
    p.groups = status.groups;
    if (st.tty_nr != 0) {
        p.tdev = st.tty_nr;
        p.tty = tty_name(st.tty_nr);
        p.ctty_vnode = true;
        p.tpgid = st.tpgid;
    }
    p.session_leader = st.pid == st.session;
    p.state = static_cast<unsigned char>(st.state);  // the state letter's code: 'S' is 83
    p.flags = st.flags;
    p.nice = static_cast<int>(st.nice);
    p.zombie = st.state == 'Z';
    p.system = (st.flags & pf_kthread) != 0;
    p.lid = st.pid;
    p.nlwps = static_cast<std::int32_t>(st.num_threads);
    p.rtime_usec = (st.utime + st.stime) * 1000000 / static_cast<std::uint64_t>(ticks_);
    p.vsz_kib = st.vsize / 1024;
    p.rss_kib =
        static_cast<std::uint64_t>(std::max<std::int64_t>(st.rss, 0)) * static_cast<std::uint64_t>(page_) / 1024;
    p.priority = static_cast<std::int32_t>(st.priority);
    p.emul = "linux";
    if (boot_usec_) {
        p.start_usec =
            *boot_usec_ + static_cast<std::int64_t>(st.starttime * 1000000 / static_cast<std::uint64_t>(ticks_));
        // %CPU as Linux's ps computes it: the run time over the time since the start.
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        p.pctcpu_tenths = lifetime_pctcpu_tenths(
            p.rtime_usec, std::int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000 - *p.start_usec);
    }
    p.comm = st.comm;
    p.argv = split_nul(*cmdline, 0);
    if (const auto wchan = read_proc_file(dir + "/wchan", 256); wchan && *wchan != "0") p.wchan_symbol = *wchan;

    StatFlags flags{.nice = p.nice,
                    .traced = status.tracer != 0,
                    .exiting = (st.flags & pf_exiting) != 0,
                    .system = p.system,
                    .session_leader = p.session_leader,
                    .multithreaded = p.nlwps > 1,
                    .foreground = p.tdev != no_dev && p.tpgid == p.pgid};
    p.stat = stat_letters(state_letter(st.state), flags);

    if (!options.per_lwp) {
        if (matches_all(p, options.filters)) emit(p);
        return;
    }
    DIR* d = ::opendir((dir + "/task").c_str());
    if (d == nullptr) return;
    std::vector<std::int32_t> tids;
    while (const dirent* e = ::readdir(d)) {
        std::int32_t tid = 0;
        const std::string_view n = e->d_name;
        if (std::from_chars(n.data(), n.data() + n.size(), tid).ec == std::errc() && tid > 0) tids.push_back(tid);
    }
    ::closedir(d);
    std::sort(tids.begin(), tids.end());
    for (const std::int32_t tid : tids) {
        const std::string tpath = fmt::format("{}/task/{}/stat", dir, tid);
        const auto text = read_proc_file(tpath);
        if (!text) continue;
        const StatLine t = parse_stat(*text, tpath);
        ProcInfo row = p;
        row.lwp_row = true;
        row.lid = tid;
        row.lwp_state = static_cast<unsigned char>(t.state);
        row.lname = t.comm;
        row.rtime_usec = (t.utime + t.stime) * 1000000 / static_cast<std::uint64_t>(ticks_);
        flags.exiting = (t.flags & pf_exiting) != 0;
        row.stat = stat_letters(state_letter(t.state), flags);
        if (matches_all(row, options.filters)) emit(row);
    }
}

void HostWalker::walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const {
    DIR* d = ::opendir("/proc");
    if (d == nullptr) throw_os("cannot list", errno, "/proc");
    std::vector<std::int32_t> pids;
    while (const dirent* e = ::readdir(d)) {
        std::int32_t pid = 0;
        const std::string_view n = e->d_name;
        if (std::from_chars(n.data(), n.data() + n.size(), pid).ec == std::errc() && pid > 0 &&
            n.find_first_not_of("0123456789") == std::string_view::npos)
            pids.push_back(pid);
    }
    ::closedir(d);
    std::sort(pids.begin(), pids.end());
    for (const std::int32_t pid : pids) {
        try {
            read_process(pid, options, emit);
        } catch (Error& e) {
            e.add_context(fmt::format("pid {}", pid));
            warn(e);
        }
    }
}

void require_live(const ProcInfo& p, std::string_view what) {
    if (!p.live)
        throw_unsupported(fmt::format("pid {}: a crash dump holds no user memory to read {} from", p.pid, what));
}

}  // namespace

namespace detail {

bool host_accepts(const WalkTarget& target) {
    struct stat st {};
    return target.kernel == nullptr && ::stat("/proc/self/stat", &st) == 0;
}

std::unique_ptr<ProcessWalker> host_create(const WalkTarget& target) {
    if (target.layout_file)
        throw Error(ErrorKind::usage, "--layout applies to dumps: the running host is read through /proc");
    return std::make_unique<HostWalker>();
}

}  // namespace detail

namespace {
// What a dump's walk read from the process's user pages, cut to max_bytes.
std::vector<std::string> dump_strings(const ProcInfo& p, bool read, const std::vector<std::string>& strings,
                                      std::size_t max_bytes, std::string_view what) {
    if (!read && !p.user_memory_error.empty())
        throw Error(ErrorKind::fault, fmt::format("pid {}: {}", p.pid, p.user_memory_error));
    if (!read) require_live(p, what);
    if (max_bytes == 0) return strings;
    std::string joined;
    for (const std::string& s : strings)
        joined.append(s).push_back('\0');
    return split_nul(joined, max_bytes);
}
}  // namespace

std::vector<std::string> getargv(const ProcInfo& p, std::size_t max_bytes) {
    if (!p.live) return dump_strings(p, p.argv_read, p.argv, max_bytes, "arguments");
    const auto text = read_proc_file(fmt::format("/proc/{}/cmdline", p.pid));
    if (!text) throw_not_found(fmt::format("pid {}: no such process", p.pid));
    return split_nul(*text, max_bytes);
}

std::vector<std::string> getenvv(const ProcInfo& p, std::size_t max_bytes) {
    if (!p.live) return dump_strings(p, p.envv_read, p.envv, max_bytes, "the environment");
    const auto text = read_proc_file(fmt::format("/proc/{}/environ", p.pid));
    if (!text) throw_not_found(fmt::format("pid {}: no such process", p.pid));
    return split_nul(*text, max_bytes);
}

std::size_t uread(const ProcInfo& p, std::uint64_t address, MutableByteSpan out) {
    require_live(p, "user memory");
    const std::string path = fmt::format("/proc/{}/mem", p.pid);
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        const int err = errno;
        if (vanished(err)) throw_not_found(fmt::format("pid {}: no such process", p.pid));
        if (err == EACCES || err == EPERM)
            throw_os(fmt::format("pid {}: cannot read user memory (ptrace access is needed: the same user with "
                                 "kernel.yama.ptrace_scope allowing it, or root)",
                                 p.pid),
                     err, path);
        throw_os(fmt::format("pid {}: cannot open user memory", p.pid), err, path);
    }
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t at = address + done;
        const ssize_t n = ::pread(fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(at));
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        if (errno == EIO || errno == EFAULT) break;  // an unmapped page: the bytes before it
        if (errno == EACCES || errno == EPERM)
            throw_os(fmt::format("pid {}: cannot read user memory at {}", p.pid, hex(at)), errno, path);
        throw_os(fmt::format("pid {}: cannot read user memory at {}", p.pid, hex(at)), errno, path);
    }
    return done;
}

}  // namespace kvm
