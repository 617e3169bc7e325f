// kvmps walking a synthetic NetBSD/amd64 dump of 100,000 processes: wall
// time and peak memory of the tool (default columns, -H, --json), with dd
// reading the same core file as the floor of any tool that reads it once.
//
//   build/bench/bench_kvmps [--procs 100000] [--runs 3] [--work DIR]
//
// The dump is built in a forked child, so that this process stays small:
// a child's ru_maxrss includes its parent's memory up to exec on Linux.
// The listing is checked (one row per process) before anything is timed.
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Run {
    double seconds = 0;  // wall
    double cpu = 0;      // user + system: steadier than wall time on a shared machine
    long peak_kib = 0;
    int status = 0;
};

Run run(const std::vector<std::string>& argv, const std::string& out) {
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(err)));
    int status = 0;
    rusage usage{};
    if (::wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed");
    Run r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    r.peak_kib = usage.ru_maxrss;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

Run best_of(int runs, const std::vector<std::string>& argv, const std::string& out = "/dev/null") {
    Run best;
    for (int i = 0; i < runs; ++i) {
        const Run r = run(argv, out);
        if (r.status != 0) throw std::runtime_error(fmt::format("{} exited {}", argv[0], r.status));
        if (i == 0 || r.seconds < best.seconds) best = r;
    }
    return best;
}

// A big, plausible tree: the kernel, init, then sessions of ten processes
// (a shell and its jobs), one in ten on a terminal, fifty users, every
// seventh process with four LWPs, every 97th a zombie.
kvm::synth::ProcessTree big_tree(std::size_t count) {
    kvm::synth::ProcessTree t;
    const auto make = [](std::int32_t pid, std::int32_t ppid, std::int32_t pgid, std::int32_t sid, std::uint32_t uid,
                         std::string comm) {
        kvm::synth::ProcSpec s;
        s.pid = pid;
        s.ppid = ppid;
        s.pgid = pgid;
        s.sid = sid;
        s.uid = s.ruid = s.svuid = uid;
        s.gid = s.rgid = s.svgid = 100;
        s.groups = {100};
        s.comm = std::move(comm);
        s.vm_pages = 2000;
        s.rss_pages = 300;
        s.ssize = 4;
        return s;
    };
    const auto sleeper = [](std::int32_t lid) {
        kvm::synth::LwpSpec l;
        l.lid = lid;
        l.wchan = "select_cv";
        l.wmesg = "select";
        l.slptime = static_cast<std::uint32_t>(lid * 7);
        l.rtime_usec = 12'340;
        return l;
    };
    auto system = make(0, 0, 0, 0, 0, "system");
    system.flags = {"PK_SYSTEM"};
    system.lwps = {sleeper(1), sleeper(2)};
    t.procs.push_back(system);
    auto init = make(1, 0, 1, 1, 0, "init");
    init.lwps = {sleeper(1)};
    t.procs.push_back(init);
    std::int32_t pid = 100;
    for (std::size_t session = 0; t.procs.size() < count; ++session) {
        const std::int32_t sid = pid;
        const auto uid = static_cast<std::uint32_t>(1000 + session % 50);
        const bool on_tty = session % 10 == 0;
        if (on_tty)
            t.ttys.push_back({.name = fmt::format("pts/{}", session / 10), .sid = sid, .foreground_pgid = sid + 1});
        for (int i = 0; i < 10 && t.procs.size() < count; ++i, ++pid) {
            auto p = make(pid, i == 0 ? 1 : sid, i == 0 ? sid : sid + 1, sid, uid, i == 0 ? "ksh" : "make");
            p.controlling_tty = on_tty;
            p.rtime_usec = static_cast<std::uint64_t>(pid) * 1000;
            if (pid % 97 == 0) {
                p.state = "SZOMB";
            } else {
                p.lwps = {sleeper(1)};
                if (pid % 7 == 0)
                    for (std::int32_t lid = 2; lid <= 4; ++lid)
                        p.lwps.push_back(sleeper(lid));
            }
            t.procs.push_back(std::move(p));
        }
    }
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmps on a synthetic dump of many processes"};
    std::size_t procs = 100000;
    int runs = 3;
    std::string work;
    app.add_option("--procs", procs, "processes in the dump");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--work", work, "directory for the dump (default: a temporary one, removed)");
    CLI11_PARSE(app, argc, argv);

    const std::string tools =
        (std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "tools").string();
    std::filesystem::path dir = work;
    if (work.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "kvmkit-bench-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) return 1;
        dir = tmpl;
    }
    const std::string kernel = (dir / "netbsd").string();
    const std::string core = (dir / "netbsd.core").string();

    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child == 0) {
        try {
            const auto start = std::chrono::steady_clock::now();
            // 1 GiB of RAM: room for every structure of the tree.
            kvm::synth::CrashedMachine m(
                {.ram = {{0x1000, 0x9e000}, {0x100000, 0x3ff00000}}, .realistic_memory = false});
            const auto dirs = kvm::shipped_layout_dirs();
            const auto file = kvm::find_shipped_layout(dirs, "netbsd", "10", "amd64");
            if (!file) throw std::runtime_error("no shipped netbsd-10-amd64.json");
            const auto planted = kvm::synth::plant_processes(m, kvm::load_layouts_file(*file), big_tree(procs));
            const auto segments = m.prepare_dump({.sparse = true});
            auto out = kvm::create_file_sink(core);
            m.write_kcore(*out, segments);
            out->finish();
            kvm::synth::write_file(kernel, m.kernel_elf());
            fmt::print("dump: {} processes planted, {} on allproc and zombproc, core {:.0f} MiB, built in {:.1f} s\n",
                       planted.nprocs, planted.allproc.size() + planted.zombproc.size(),
                       static_cast<double>(std::filesystem::file_size(core)) / (1 << 20),
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            std::fflush(stdout);
            ::_exit(0);
        } catch (const std::exception& e) {
            fmt::print(stderr, "bench_kvmps: {}\n", e.what());
            ::_exit(1);
        }
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;

    try {
        // The listing is complete before it is timed.
        const std::string listing = (dir / "listing").string();
        const Run check = run({tools + "/kvmps", "-N", kernel, "-M", core}, listing);
        std::size_t lines = 0;
        std::ifstream in(listing);
        for (std::string line; std::getline(in, line);)
            ++lines;
        if (check.status != 0 || lines != procs + 1)
            throw std::runtime_error(
                fmt::format("kvmps listed {} lines (exit {}), expected {}", lines, check.status, procs + 1));

        fmt::print("{:<36} {:>8} {:>8} {:>13}\n", "command (best of " + std::to_string(runs) + ")", "wall s", "cpu s",
                   "peak RSS MiB");
        const auto show = [](std::string_view what, const Run& r) {
            fmt::print("{:<36} {:>8.3f} {:>8.3f} {:>13.1f}\n", what, r.seconds, r.cpu,
                       static_cast<double>(r.peak_kib) / 1024);
        };
        show("dd if=core of=/dev/null bs=1M", best_of(runs, {"dd", "if=" + core, "of=/dev/null", "bs=1M"}));
        show("kvmps (default columns)", best_of(runs, {tools + "/kvmps", "-N", kernel, "-M", core}));
        show("kvmps -H (one row per LWP)", best_of(runs, {tools + "/kvmps", "-H", "-N", kernel, "-M", core}));
        show("kvmps --json", best_of(runs, {tools + "/kvmps", "--json", "-N", kernel, "-M", core}));
        show("kvmps -p 100 (one row, full walk)",
             best_of(runs, {tools + "/kvmps", "-p", "100", "-N", kernel, "-M", core}));
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_kvmps: {}\n", e.what());
        return 1;
    }
    if (work.empty()) std::filesystem::remove_all(dir);
    return 0;
}
