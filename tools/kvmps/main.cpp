// kvmps: ps for a kernel crash dump (-M core -N system), or for the running
// host when no dump is named.  Flags as BSD ps takes them, one walk through
// the library, output.
#include <kvm/error.h>
#include <kvm/expr.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/target.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <sys/ioctl.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  // an error, a listing cut short by a damaged dump, or no process selected
constexpr int exit_usage = 2;
constexpr std::string_view usage =
    "usage: kvmps [-AaceHjluvwx] [-M core ...] [-N system] [-O list] [-o list] [-p pids] [-t ttys]\n"
    "             [-U users] [-u users] [-g pgrps] [-s sids] [--gid gids] [--rgid gids] [--json]\n"
    "             [--layout file] [--zero-excluded]\n"
    "       kvmps --print-layout -M core -N system [--layout file]";

// BSD ps's option letters: those that take nothing, and those that take a
// value (-u is both: alone or in a cluster the user format, before a word
// the users to list).
constexpr std::string_view flag_letters = "AaceHjluvwx";
constexpr std::string_view value_letters = "MNOogpstU";

bool only_flags(std::string_view letters) {
    return !letters.empty() && letters.find_first_not_of(flag_letters) == std::string_view::npos;
}

// Rewrites BSD ps's habits into what the parser takes: "aux" as the first
// argument is "-aux", "-aux" is "-a -u -x", "-axo pid" is "-a -x -o pid",
// and -u becomes --user-format or --euser USERS.
std::vector<std::string> bsd_arguments(int argc, char** argv) {
    std::vector<std::string> in(argv + 1, argv + argc);
    if (!in.empty() && !in[0].starts_with('-') && only_flags(in[0])) in[0] = "-" + in[0];
    std::vector<std::string> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::string& a = in[i];
        if (a == "--") {
            out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(i), in.end());
            break;
        }
        if (a.size() < 2 || a[0] != '-' || a[1] == '-') {
            out.push_back(a);
            continue;
        }
        const std::string_view letters = std::string_view(a).substr(1);
        if (letters == "u") {
            if (i + 1 < in.size() && !in[i + 1].empty() && in[i + 1][0] != '-') {
                out.insert(out.end(), {"--euser", in[++i]});
            } else {
                out.emplace_back("--user-format");
            }
            continue;
        }
        if (letters[0] == 'u' && !only_flags(letters.substr(1))) {  // -u0, -uroot
            out.insert(out.end(), {"--euser", std::string(letters.substr(1))});
            continue;
        }
        // A cluster of flags, perhaps ending in one letter that takes a value.
        const std::string_view head = letters.substr(0, letters.size() - 1);
        const char last = letters.back();
        const bool cluster =
            letters.size() > 1 &&
            (only_flags(letters) || (only_flags(head) && value_letters.find(last) != std::string_view::npos));
        if (!cluster) {
            out.push_back(a);
            continue;
        }
        for (const char c : letters)
            out.push_back(c == 'u' ? "--user-format" : std::string{'-', c});
    }
    return out;
}

struct Options {
    std::string namelist;
    std::vector<std::string> cores;
    bool zero_excluded = false;
    bool all = false;  // -a -x -A: every process, which is what kvmps lists anyway
    std::vector<std::string> pids, euids, ruids, pgrps, sids, ttys, gids, rgids;
    std::vector<std::string> columns, added;
    int wide = 0;
    bool lwps = false;
    bool names_only = false;
    bool environment = false;
    bool json = false;
    std::optional<std::string> layout;
    bool print_layout = false;
    std::vector<kvm::PsFormatOption> format;  // in command-line order
};

std::int64_t number_in_list(std::string_view word, std::string_view what) {
    const std::optional<std::uint64_t> n = kvm::parse_number(word);
    if (!n || *n > 0x7fffffff) throw kvm::Error(kvm::ErrorKind::usage, fmt::format("{}: not a {}", word, what));
    return static_cast<std::int64_t>(*n);
}

kvm::PsSelection selection(const Options& o, const kvm::ProcessWalker& walker, bool host) {
    kvm::PsSelection out;
    const auto lists = [&](const std::vector<std::string>& given, kvm::ProcOp op, auto&& value) {
        if (given.empty()) return;
        std::vector<kvm::ProcFilter> list;
        for (const std::string& g : given)
            for (const std::string& word : kvm::split_ps_list(g))
                list.push_back({op, value(word)});
        if (list.empty()) throw kvm::Error(kvm::ErrorKind::usage, "an empty list");
        out.lists.push_back(std::move(list));
    };
    const auto number = [](std::string_view what) {
        return [what](const std::string& w) { return static_cast<std::uint64_t>(number_in_list(w, what)); };
    };
    const auto user = [host](const std::string& w) { return std::uint64_t{kvm::ps_user_id(w, host)}; };
    lists(o.pids, kvm::ProcOp::pid, number("process id"));
    lists(o.pgrps, kvm::ProcOp::pgrp, number("process group"));
    lists(o.sids, kvm::ProcOp::session, number("session id"));
    lists(o.euids, kvm::ProcOp::uid, user);
    lists(o.ruids, kvm::ProcOp::ruid, user);
    lists(o.gids, kvm::ProcOp::gid, number("group id"));
    lists(o.rgids, kvm::ProcOp::rgid, number("group id"));
    lists(o.ttys, kvm::ProcOp::tty, [&](const std::string& w) {
        const auto dev = kvm::terminal_device(walker, w);
        if (!dev) throw kvm::Error(kvm::ErrorKind::usage, fmt::format("{}: no such terminal", w));
        return *dev;
    });
    return out;
}

// ps's width: COLUMNS, else the terminal's; lines are not cut when the
// output is not a terminal.  -w makes it at least 132, -ww unlimited.
std::size_t line_width(int wide) {
    std::size_t width = 0;
    if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && *columns != '\0') {
        width = std::strtoul(columns, nullptr, 10);
    } else if (winsize ws{}; ::isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
        width = ws.ws_col;
    }
    if (wide >= 2 || width == 0) return 0;
    return wide == 1 ? std::max<std::size_t>(width, 132) : width;
}

std::unique_ptr<kvm::Kernel> open_dump(const Options& o, const kvm::CoreFiles& files,
                                       std::optional<kvm::Error>& truncation) {
    kvm::OpenOptions open{.namelist = o.namelist,
                          .core = files.core,
                          .core_parts = files.parts,
                          .zero_excluded = o.zero_excluded,
                          .warn = [](const std::string& s) { fmt::print(stderr, "kvmps: {}\n", s); },
                          .decompress = kvm::tool_decompress_options("kvmps")};
    try {
        return kvm::Kernel::open(open);
    } catch (const kvm::Error& e) {
        // A dump cut short still lists what it holds, with this said first.
        if (e.kind() != kvm::ErrorKind::corrupt || e.message().find(": truncated: ") == std::string::npos) throw;
        truncation = e;
    }
    open.allow_truncated = true;
    return kvm::Kernel::open(open);
}

int run(const Options& o) {
    const kvm::CoreFiles files = kvm::core_files(o.cores);
    if (files.core.empty() && !o.namelist.empty())
        throw kvm::Error(kvm::ErrorKind::usage, "-N needs -M: without a dump kvmps lists the running host");
    if (files.core.empty() && o.zero_excluded)
        throw kvm::Error(kvm::ErrorKind::usage, "--zero-excluded applies to a dump named with -M");
    const bool host = files.core.empty();
    auto fields = kvm::ps_format(o.format);  // a bad keyword is found before the dump is read
    // -c: the command name where the arguments would be, as ps -c.
    if (o.names_only)
        for (kvm::PsField& f : fields)
            if (f.column->keyword == "command" || f.column->keyword == "args")
                f.column = kvm::parse_ps_format("comm").front();
    std::unique_ptr<kvm::Kernel> kernel;
    std::optional<kvm::Error> truncation;
    if (!host) kernel = open_dump(o, files, truncation);
    std::unique_ptr<kvm::ProcessWalker> walker;
    try {
        walker = kvm::make_process_walker({.kernel = kernel.get(), .layout_file = o.layout});
    } catch (const kvm::Error& e) {
        // What the walker could not read is past the end of a file cut short.
        if (truncation && e.kind() == kvm::ErrorKind::fault) throw kvm::Error(*truncation);
        throw;
    }
    if (truncation) fmt::print(stderr, "kvmps: warning: {}; listing what it holds\n", truncation->message());

    if (o.print_layout) {
        const kvm::StructLayouts* layouts = walker->layouts();
        if (layouts == nullptr)
            throw kvm::Error(kvm::ErrorKind::usage,
                             "--print-layout: the running host is read through /proc, without "
                             "structure layouts");
        std::fputs(kvm::to_json(*layouts).c_str(), stdout);
        return exit_ok;
    }

    const kvm::PsSelection selected = selection(o, *walker, host);
    std::vector<kvm::ProcInfo> rows;
    bool incomplete = false;
    walker->walk(
        {.filters = kvm::ps_walk_filters(selected),
         .per_lwp = o.lwps,
         .arguments = !o.names_only,
         .environment = o.environment,
         .note = [](const std::string& s) { fmt::print(stderr, "kvmps: note: {}\n", s); }},
        [&](const kvm::ProcInfo& p) {
            if (kvm::ps_selected(p, selected)) rows.push_back(p);
        },
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
        const kvm::SystemFacts facts = walker->system_facts();
        kvm::PsTableOptions table{
            .width = line_width(o.wide), .now_sec = facts.now_sec, .physmem_kib = facts.physmem_kib};
        if (host) table.user_name = kvm::host_user_name;
        const std::string out = kvm::format_ps_table(rows, fields, table);
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    // As ps: nothing selected is a failure, after the header.
    return incomplete || rows.empty() ? exit_failure : exit_ok;
}

void usage_error(std::string_view message) {
    fmt::print(stderr, "kvmps: {}\n{}\n", message, usage);
}

}  // namespace

int main(int argc, char** argv) {
    kvm::set_layout_advice("give a debug kernel (-N) or a layout file (--layout)");
    CLI::App app{"list the processes of a kernel crash dump, or of the running host", "kvmps"};
    app.set_version_flag("--version", "kvmps (kvmkit) " KVMKIT_VERSION);
    Options o;
    app.add_option("-N", o.namelist, "the kernel that crashed (namelist)")->option_text("system");
    app.add_option("-M", o.cores, "the crash dump (without it: the running host); again for each file of a split dump")
        ->option_text("core")
        ->allow_extra_args(false);
    app.add_flag("--zero-excluded", o.zero_excluded, "read pages the dump level excluded as zeros");
    app.add_flag("-a,-x,-A", o.all, "every process (what kvmps lists anyway: ps -ax)");
    app.add_option("-p", o.pids, "only these process ids (a list: 1,416)")
        ->option_text("pids")
        ->allow_extra_args(false);
    app.add_option("--euser", o.euids, "only these effective users (-u users)")->group("")->allow_extra_args(false);
    app.add_option("-U", o.ruids, "only these real users (names or numbers)")
        ->option_text("users")
        ->allow_extra_args(false);
    app.add_option("-g", o.pgrps, "only these process groups")->option_text("pgrps")->allow_extra_args(false);
    app.add_option("-s", o.sids, "only these sessions")->option_text("sids")->allow_extra_args(false);
    app.add_option("-t", o.ttys, "only processes with these controlling terminals (pts/0, ttyE0, console)")
        ->option_text("ttys")
        ->allow_extra_args(false);
    app.add_option("--gid", o.gids, "only these effective group ids")->option_text("gids")->allow_extra_args(false);
    app.add_option("--rgid", o.rgids, "only these real group ids")->option_text("gids")->allow_extra_args(false);
    app.add_flag("-H", o.lwps, "one row per LWP (thread) instead of per process");
    CLI::Option* columns = app.add_option("-o", o.columns, "columns: keywords separated by commas (see kvmps(1))")
                               ->option_text("list")
                               ->allow_extra_args(false);
    CLI::Option* added =
        app.add_option("-O", o.added, "add these columns after PID")->option_text("list")->allow_extra_args(false);
    const std::string user_text = "-u alone: the user format", jobs_text = "the jobs format",
                      long_text = "the long format", vm_text = "the virtual memory format";
    CLI::Option* user_format = app.add_flag("--user-format", user_text)->group("");
    CLI::Option* jobs = app.add_flag("-j", jobs_text);
    CLI::Option* long_format = app.add_flag("-l", long_text);
    CLI::Option* vm = app.add_flag("-v", vm_text);
    app.add_flag("-w", o.wide, "wide: 132 columns at least; twice: lines are not cut");
    app.add_flag("-c", o.names_only, "COMMAND is the command name only, not the arguments");
    app.add_flag("-e", o.environment, "COMMAND shows the environment too");
    app.add_flag("--json", o.json, "JSON Lines: one object per process (per LWP with -H), every field");
    app.add_option("--layout", o.layout, "structure layout file for the dumped kernel (JSON)")->option_text("file");
    app.add_flag("--print-layout", o.print_layout, "print the structure layouts in use and exit");
    std::vector<std::string> args = bsd_arguments(argc, argv);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        usage_error(e.what());
        return exit_usage;
    }
    std::size_t next_columns = 0, next_added = 0;
    using Kind = kvm::PsFormatOption::Kind;
    for (const CLI::Option* opt : app.parse_order()) {
        if (opt == columns) o.format.push_back({Kind::columns, o.columns.at(next_columns++)});
        if (opt == added) o.format.push_back({Kind::add, o.added.at(next_added++)});
        if (opt == user_format) o.format.push_back({Kind::user, {}});
        if (opt == jobs) o.format.push_back({Kind::jobs, {}});
        if (opt == long_format) o.format.push_back({Kind::long_, {}});
        if (opt == vm) o.format.push_back({Kind::virtual_, {}});
    }
    try {
        return run(o);
    } catch (const kvm::Error& e) {
        if (e.kind() == kvm::ErrorKind::usage) {
            usage_error(e.what());
            return exit_usage;
        }
        fmt::print(stderr, "kvmps: {}\n", e.what());
        return exit_failure;
    }
}
