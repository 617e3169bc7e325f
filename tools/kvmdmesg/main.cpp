// kvmdmesg: the kernel message buffer of a crash dump (-M core -N system),
// or of the running host when no dump is named.  Flags, one library call,
// output.  See kvmdmesg(1).
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/msgbuf.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  // an error, or a log with records skipped
constexpr int exit_usage = 2;

struct Options {
    std::string namelist, core;
    bool raw = false;
    bool no_time = false;
    bool caller = false;
    bool all = false;
    bool json = false;
    std::optional<std::string> layout;
};

int run(const Options& o) {
    if (o.core.empty() && !o.namelist.empty())
        throw kvm::Error(kvm::ErrorKind::usage, "-N needs -M: without a dump kvmdmesg reads the running host's log");
    bool skipped = false;
    const kvm::LogWarn warn = [&](const kvm::Error& e) {
        skipped = true;
        fmt::print(stderr, "kvmdmesg: warning: {}\n", e.what());
    };
    kvm::KernelLog log;
    if (o.core.empty()) {
        log = kvm::read_host_log(warn);
    } else {
        // A dump cut short still gives the log it holds.
        const auto kernel = kvm::Kernel::open({.namelist = o.namelist, .core = o.core, .allow_truncated = true});
        log = kvm::read_kernel_log(*kernel, warn, {.layout_file = o.layout});
    }
    const std::string out =
        o.json ? kvm::format_log_json(log)
               : kvm::format_log(log, {.time = !o.no_time, .raw = o.raw, .caller = o.caller, .all = o.all});
    std::fwrite(out.data(), 1, out.size(), stdout);
    return skipped ? exit_failure : exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    kvm::set_layout_advice("give a debug kernel (-N) or a layout file (--layout)");
    CLI::App app{"print the kernel message buffer of a crash dump, or of the running host", "kvmdmesg"};
    app.set_version_flag("--version", "kvmdmesg (kvmkit) " KVMKIT_VERSION);
    Options o;
    app.add_option("-N", o.namelist, "the kernel that crashed (namelist; NetBSD and full BSD dumps need it)");
    app.add_option("-M", o.core, "the crash dump (without it: the running host)");
    app.add_flag("-r", o.raw, "raw: each line keeps its syslog priority <N>");
    app.add_flag("-t", o.no_time, "no timestamps");
    app.add_flag("-a", o.all, "FreeBSD, DragonFly: also the lines syslog wrote (facilities other than kern)");
    app.add_flag("--caller", o.caller, "the caller (T<pid> or C<cpu>) after the timestamp");
    app.add_flag("--json", o.json, "one JSON object per record");
    app.add_option("--layout", o.layout, "structure layout file for the dumped kernel (JSON; BSD dumps)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    try {
        return run(o);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmdmesg: {}\n", e.what());
        return e.kind() == kvm::ErrorKind::usage ? exit_usage : exit_failure;
    }
}
