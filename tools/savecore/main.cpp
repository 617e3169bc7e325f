// savecore: save a kernel crash dump from a swap or dump device (NetBSD,
// FreeBSD, DragonFly: the dump's header says which).  Flags, messages
// to stderr and syslog (LOG_DAEMON, as NetBSD's), a progress line on a
// terminal, and the exit status; the work is kvm::save::run.
#include <kvm/save.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>

namespace {

constexpr const char* usage_text =
    "usage: savecore [-fkuvz] [--zstd] [-m maxdumps] [-N system] [-Z level] [--dumplo blocks] [directory [device "
    "...]]\n"
    "       savecore -c [-v] [-N system] [--dumplo blocks] [device ...]\n"
    "       savecore -C | -n [-v] [-N system] [--dumplo blocks] [device ...]\n";

std::atomic<bool> interrupted{false};

// The first signal asks for a clean stop (the partial file is removed and
// the dump stays); a second one ends savecore at once.
extern "C" void on_signal(int signo) {
    if (interrupted.exchange(true)) {
        std::signal(signo, SIG_DFL);
        std::raise(signo);
    }
}

int syslog_priority(kvm::save::Priority p) {
    switch (p) {
        case kvm::save::Priority::alert:
            return LOG_ALERT;
        case kvm::save::Priority::err:
            return LOG_ERR;
        case kvm::save::Priority::warning:
            return LOG_WARNING;
        case kvm::save::Priority::notice:
            return LOG_NOTICE;
        case kvm::save::Priority::info:
            return LOG_INFO;
    }
    return LOG_INFO;
}

// Writes to stderr, ignoring failure: a closed stderr or a pipe whose reader
// has gone must not stop a save (the messages also go to syslog).
void put(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
    std::clearerr(stderr);
}

// Descriptors 0-2 that were closed (a daemon, a bare rc) are opened on
// /dev/null, so that no file savecore opens becomes its stderr and
// receives its messages.
void open_standard_descriptors() {
    for (;;) {
        const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0) return;
        if (fd > STDERR_FILENO) {
            ::close(fd);
            return;
        }
        ::fcntl(fd, F_SETFD, 0);  // a standard descriptor, not close-on-exec
    }
}

// "1.5 GiB", "812 MiB".
std::string human(double bytes) {
    constexpr std::array<const char*, 5> units{"B", "KiB", "MiB", "GiB", "TiB"};
    std::size_t u = 0;
    while (bytes >= 1024 && u + 1 < units.size()) {
        bytes /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

// Messages to stderr and syslog; a progress line on stderr when it is a
// terminal, ended before the next message.
class Console final : public kvm::save::Logger {
public:
    Console() : tty_(::isatty(STDERR_FILENO) == 1) { ::openlog("savecore", 0, LOG_DAEMON); }
    ~Console() override { ::closelog(); }
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    void log(kvm::save::Priority p, std::string_view message) override {
        end_progress();
        put(fmt::format("savecore: {}\n", message));
        ::syslog(syslog_priority(p), "%.*s", static_cast<int>(message.size()), message.data());
    }

    void progress(const kvm::save::Progress& p) {
        if (!tty_) return;
        const auto now = std::chrono::steady_clock::now();
        if (p.done < p.total && now - last_ < std::chrono::milliseconds(250)) return;
        last_ = now;
        const double rate = p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0;
        const double left = rate > 0 ? static_cast<double>(p.total - p.done) / rate : 0;
        const long secs = std::lround(left);
        put(fmt::format("\r{} of {} ({:.0f}%), {}/s, {}:{:02} left\x1b[K", human(static_cast<double>(p.done)),
                        human(static_cast<double>(p.total)),
                        p.total > 0 ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total) : 100.0,
                        human(rate), secs / 60, secs % 60));
        line_open_ = true;
    }

    void end_progress() {
        if (!line_open_) return;
        put("\n");
        line_open_ = false;
    }

private:
    bool tty_;
    bool line_open_ = false;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int main(int argc, char** argv) {
    open_standard_descriptors();
    // savecore writes files and stderr only: a broken stderr is ignored
    // (see put) rather than the end of the save.
    std::signal(SIGPIPE, SIG_IGN);

    CLI::App app{"save a kernel crash dump from a swap device", "savecore"};
    app.set_version_flag("--version", "savecore (kvmkit) " KVMKIT_VERSION);
    bool clear = false, check = false, check_c = false;
    kvm::save::Options o;
    std::string level, system;
    std::vector<std::string> args;
    app.add_flag("-c", clear, "clear the dump without saving it");
    app.add_flag("-n", check, "exit 0 when a dump is present, 1 when not; write nothing");
    app.add_flag("-C", check_c, "as -n (FreeBSD's name)");
    app.add_flag("-k", o.keep, "save the dump but do not clear it");
    app.add_option("-m", o.maxdumps, "FreeBSD, DragonFly: keep at most this many dumps (numbers wrap)")
        ->check(CLI::PositiveNumber);
    app.add_flag("-u", o.uncompress, "FreeBSD: uncompress a dump the kernel compressed (gzip, zstd)");
    app.add_flag("-f", o.force, "save even when dumpmag, the crash time or free space say not to");
    app.add_flag("-v", o.verbose, "say what is done");
    app.add_flag("-z", o.compress, "compress the core and the kernel copy with gzip");
    app.add_flag("--zstd", o.zstd, "compress with zstd (seekable frames) instead of gzip");
    app.add_option("-Z", level, "compression level: gzip 0-9, zstd 1-9 (default 1)");
    app.add_option("-N", system,
                   "the kernel that crashed (default /netbsd; DragonFly: the kernel copied, default "
                   "/boot/kernel/kernel)");
    app.add_option("--dumplo", o.dumplo_blocks, "start of the dump in 512-byte blocks (default: scan the device)");
    app.add_option("--fstab", o.fstab, "where to find swap devices when none is named (default /etc/fstab)");
    app.add_option("args", args, "directory and devices");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::fputs(app.help().c_str(), stdout);
        return 0;
    } catch (const CLI::CallForVersion& e) {
        std::puts(e.what());
        return 0;
    } catch (const CLI::ParseError& e) {
        put(fmt::format("savecore: {}\n{}", e.what(), usage_text));
        return 1;
    }
    if (!level.empty()) {
        if (level.size() != 1 || level[0] < (o.zstd ? '1' : '0') || level[0] > '9') {
            put(fmt::format("savecore: Invalid compression `{}'\n{}", level, usage_text));
            return 1;
        }
        o.level = level[0] - '0';
    }
    if (!system.empty()) o.system = o.dragonfly_system = system;
    // -n (or -C) wins over -c, as on NetBSD; neither takes a directory.
    o.mode = check || check_c ? kvm::save::Mode::check : clear ? kvm::save::Mode::clear : kvm::save::Mode::save;
    auto arg = args.begin();
    if (o.mode == kvm::save::Mode::save && arg != args.end()) o.directory = *arg++;
    o.devices.assign(arg, args.end());

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    // A signal ignored on entry (nohup, a background job) stays ignored.
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        ::sigaction(sig, &sa, nullptr);
    }
    o.interrupted = &interrupted;

    Console console;
    const kvm::save::Result result =
        kvm::save::run(o, console, [&console](const kvm::save::Progress& p) { console.progress(p); });
    console.end_progress();
    return result.exit_status();
}
