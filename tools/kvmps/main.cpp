// kvmps: ps for a kernel crash dump (-M core -N system), or for the running
// host when no dump is named.  Flags, one walk through the library, output.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/target.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  // an error, or a listing cut short by a damaged dump
constexpr int exit_usage = 2;

struct Options {
    std::string namelist;
    std::vector<std::string> cores;
    bool zero_excluded = false;
    std::optional<std::int64_t> pid, uid, ruid, pgrp, sid, gid, rgid;
    std::optional<std::string> tty;
    std::vector<std::string> format;
    bool lwps = false;
    bool json = false;
    std::optional<std::string> layout;
    bool print_layout = false;
};

std::vector<kvm::ProcFilter> filters(const Options& o, const kvm::ProcessWalker& walker) {
    std::vector<kvm::ProcFilter> out;
    const auto add = [&](kvm::ProcOp op, const std::optional<std::int64_t>& v) {
        if (v) out.push_back({op, static_cast<std::uint64_t>(*v)});
    };
    add(kvm::ProcOp::pid, o.pid);
    add(kvm::ProcOp::pgrp, o.pgrp);
    add(kvm::ProcOp::session, o.sid);
    add(kvm::ProcOp::uid, o.uid);
    add(kvm::ProcOp::ruid, o.ruid);
    add(kvm::ProcOp::gid, o.gid);
    add(kvm::ProcOp::rgid, o.rgid);
    if (o.tty) {
        const auto dev = kvm::terminal_device(walker, *o.tty);
        if (!dev) throw kvm::Error(kvm::ErrorKind::usage, fmt::format("{}: no such terminal", *o.tty));
        out.push_back({kvm::ProcOp::tty, *dev});
    }
    return out;
}

int run(const Options& o) {
    const kvm::CoreFiles files = kvm::core_files(o.cores);
    if (files.core.empty() && !o.namelist.empty())
        throw kvm::Error(kvm::ErrorKind::usage, "-N needs -M: without a dump kvmps lists the running host");
    if (files.core.empty() && o.zero_excluded)
        throw kvm::Error(kvm::ErrorKind::usage, "--zero-excluded applies to a dump named with -M");
    std::unique_ptr<kvm::Kernel> kernel;
    // A dump cut short still lists what it holds, with warnings where it ends.
    if (!files.core.empty())
        kernel = kvm::Kernel::open({.namelist = o.namelist,
                                    .core = files.core,
                                    .allow_truncated = true,
                                    .core_parts = files.parts,
                                    .zero_excluded = o.zero_excluded,
                                    .warn = [](const std::string& s) { fmt::print(stderr, "kvmps: {}\n", s); },
                                    .decompress = kvm::tool_decompress_options("kvmps")});
    const auto walker = kvm::make_process_walker({.kernel = kernel.get(), .layout_file = o.layout});

    if (o.print_layout) {
        const kvm::StructLayouts* layouts = walker->layouts();
        if (layouts == nullptr)
            throw kvm::Error(kvm::ErrorKind::usage,
                             "--print-layout: the running host is read through /proc, without "
                             "structure layouts");
        std::fputs(kvm::to_json(*layouts).c_str(), stdout);
        return exit_ok;
    }

    std::string spec;
    for (const auto& f : o.format)
        spec += (spec.empty() ? "" : ",") + f;
    const auto columns = spec.empty() ? kvm::default_ps_format() : kvm::parse_ps_format(spec);

    std::vector<kvm::ProcInfo> rows;
    bool incomplete = false;
    walker->walk(
        {.filters = filters(o, *walker), .per_lwp = o.lwps}, [&](const kvm::ProcInfo& p) { rows.push_back(p); },
        [&](const kvm::Error& e) {
            incomplete = true;
            fmt::print(stderr, "kvmps: warning: {}\n", e.what());
        });
    kvm::sort_ps(rows);
    if (o.json) {
        for (const auto& p : rows) {
            const std::string line = kvm::format_ps_json(p) + "\n";
            std::fwrite(line.data(), 1, line.size(), stdout);
        }
    } else {
        const std::string out = kvm::format_ps_table(rows, columns);
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return incomplete ? exit_failure : exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    kvm::set_layout_advice("give a debug kernel (-N) or a layout file (--layout)");
    CLI::App app{"list the processes of a kernel crash dump, or of the running host", "kvmps"};
    app.set_version_flag("--version", "kvmps (kvmkit) " KVMKIT_VERSION);
    Options o;
    app.add_option("-N", o.namelist, "the kernel that crashed (namelist)");
    app.add_option("-M", o.cores, "the crash dump (without it: the running host); again for each file of a split dump")
        ->allow_extra_args(false);
    app.add_flag("--zero-excluded", o.zero_excluded, "read pages the dump level excluded as zeros");
    app.add_option("-p", o.pid, "only this process id");
    app.add_option("-u", o.uid, "only this effective user id");
    app.add_option("-U", o.ruid, "only this real user id");
    app.add_option("-g", o.pgrp, "only this process group");
    app.add_option("-s", o.sid, "only this session");
    app.add_option("-t", o.tty, "only processes with this controlling terminal (pts/0, ttyE0, console)");
    app.add_option("--gid", o.gid, "only this effective group id");
    app.add_option("--rgid", o.rgid, "only this real group id");
    app.add_flag("-H", o.lwps, "one row per LWP (thread) instead of per process");
    app.add_option("-o", o.format, "columns: keywords separated by commas (see kvmps(1))");
    app.add_flag("--json", o.json, "one JSON object per process (per LWP with -H), every field");
    app.add_option("--layout", o.layout, "structure layout file for the dumped kernel (JSON)");
    app.add_flag("--print-layout", o.print_layout, "print the structure layouts in use and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    try {
        return run(o);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmps: {}\n", e.what());
        return e.kind() == kvm::ErrorKind::usage ? exit_usage : exit_failure;
    }
}
