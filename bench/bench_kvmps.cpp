// kvmps walking a synthetic amd64 dump of 100,000 processes: wall time
// and peak memory of the tool (default columns, -H, --json), with dd
// reading the same core file as the floor of any tool that reads it once.
// --os netbsd: a kcore, the processes on allproc and zombproc; --os
// dragonfly: a minidump of DragonFly 5.8, the processes in the procglob
// hash with their LWP trees (target: the default listing under 1 CPU
// second and 128 MiB peak).
//
//   build/bench/bench_kvmps [--os netbsd|dragonfly] [--procs 100000] [--runs 3] [--work DIR]
//
// The same core compressed as savecore -z and --zstd write it is read in
// place: kvmps on the .gz core against the plain one is the ratio to watch
// (goal: at most 2x the time).
//
// The dump is built in a forked child, so that this process stays small:
// a child's ru_maxrss includes its parent's memory up to exec on Linux.
// The listing is checked (one row per process) before anything is timed.
#include <kvm/compress.h>
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

// A big, plausible tree: the kernel, init, then sessions of ten processes
// (a shell and its jobs), one in ten on a terminal, fifty users, every
// seventh process with four LWPs, every 97th a zombie.
kvm::synth::ProcessTree big_tree(std::size_t count, const std::string& os) {
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
    system.flags = {os == "netbsd" ? "PK_SYSTEM" : "P_SYSTEM"};
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
            t.ttys.push_back({.name = fmt::format("pts/{}", session / 10),
                              .dev = (10u << 8) + session / 10,  // DragonFly names its terminals by number too
                              .sid = sid,
                              .foreground_pgid = sid + 1});
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

// The shipped layouts of the system's release.
kvm::StructLayouts shipped(const std::string& os, const std::string& release) {
    const auto file = kvm::find_shipped_layout(kvm::shipped_layout_dirs(), os, release, "amd64");
    if (!file) throw std::runtime_error(fmt::format("no shipped {}-{}-amd64.json", os, release));
    return kvm::load_layouts_file(*file);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmps on a synthetic dump of many processes"};
    std::string os = "netbsd";
    std::size_t procs = 100000;
    int runs = 3;
    std::string work;
    app.add_option("--os", os, "netbsd (a kcore) or dragonfly (a minidump)")
        ->check(CLI::IsMember({"netbsd", "dragonfly"}));
    app.add_option("--procs", procs, "processes in the dump");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--work", work, "directory for the dump (default: a temporary one, removed)");
    CLI11_PARSE(app, argc, argv);

    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir dir(work);
    if (!dir) return 1;
    const std::string kernel = dir / "kernel";
    const std::string core = dir / "vmcore.0";
    const std::string gz = core + ".gz";
    const std::string zst = core + ".zst";

    try {
        if (!bench::in_child([&] {
                const auto start = std::chrono::steady_clock::now();
                std::size_t listed = 0;
                if (os == "netbsd") {
                    // 1 GiB of RAM: room for every structure of the tree.
                    kvm::synth::CrashedMachine m(
                        {.ram = {{0x1000, 0x9e000}, {0x100000, 0x3ff00000}}, .realistic_memory = false});
                    const auto planted = kvm::synth::plant_processes(m, shipped("netbsd", "10"), big_tree(procs, os));
                    listed = planted.allproc.size() + planted.zombproc.size();
                    const auto segments = m.prepare_dump({.sparse = true});
                    auto out = kvm::create_file_sink(core);
                    m.write_kcore(*out, segments);
                    out->finish();
                    kvm::synth::write_file(kernel, m.kernel_elf());
                } else {
                    // The default RAM and 1 GiB above it for the heap's pages.
                    kvm::synth::CrashedMachine m({.ram = {{0x1000, 0x9e000},
                                                          {0x100000, 0x1700000},
                                                          {0x2000000, 0x800000},
                                                          {0x4000000, 0x40000000}},
                                                  .realistic_memory = false,
                                                  .os = "dragonfly"});
                    const auto planted =
                        kvm::synth::plant_dragonfly_processes(m, shipped("dragonfly", "5"), big_tree(procs, os));
                    listed = planted.allproc.size();
                    kvm::synth::write_sparse_file(core, [&](kvm::Sink& out) { m.write_minidump(out); });
                    kvm::synth::write_file(kernel, m.kernel_elf());
                }
                bench::compress_file(core, gz, zst);
                fmt::print("dump: {} {} processes, core {:.0f} MiB, built in {:.1f} s\n", listed, os,
                           static_cast<double>(std::filesystem::file_size(core)) / (1 << 20),
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
                return true;
            }))
            return 1;

        // The listing is complete before it is timed, and the same from
        // the compressed cores.
        const std::string listing = dir / "listing";
        const bench::Run check = bench::run({tools + "/kvmps", "-N", kernel, "-M", core}, listing);
        std::size_t lines = 0;
        std::ifstream in(listing);
        for (std::string line; std::getline(in, line);)
            ++lines;
        if (check.status != 0 || lines != procs + 1)
            throw std::runtime_error(
                fmt::format("kvmps listed {} lines (exit {}), expected {}", lines, check.status, procs + 1));
        for (const std::string& c : {gz, zst}) {
            const std::string compressed = dir / "listing.compressed";
            if (bench::run({tools + "/kvmps", "-N", kernel, "-M", c}, compressed).status != 0 ||
                !bench::same_bytes(listing, compressed))
                throw std::runtime_error(fmt::format("kvmps on {} lists something else", c));
        }

        fmt::print("{:<36} {:>8} {:>8} {:>13}\n", fmt::format("command (best of {})", runs), "wall s", "cpu s",
                   "peak RSS MiB");
        const auto show = [&](std::string_view what, const std::vector<std::string>& command) {
            const bench::Run r = bench::best_of(runs, command);
            fmt::print("{:<36} {:>8.3f} {:>8.3f} {:>13.1f}\n", what, r.seconds, r.cpu_seconds,
                       static_cast<double>(r.peak_kib) / 1024);
            return r;
        };
        show("true (the floor of any command)", {"true"});
        show("dd if=core of=/dev/null bs=1M", {"dd", "if=" + core, "of=/dev/null", "bs=1M"});
        const bench::Run listing_run = show("kvmps (default columns)", {tools + "/kvmps", "-N", kernel, "-M", core});
        show("kvmps -H (one row per LWP)", {tools + "/kvmps", "-H", "-N", kernel, "-M", core});
        show("kvmps --json", {tools + "/kvmps", "--json", "-N", kernel, "-M", core});
        show("kvmps -p 100 (one row, full walk)", {tools + "/kvmps", "-p", "100", "-N", kernel, "-M", core});
        if (os == "dragonfly") {
            // In CPU seconds: wall time on a shared machine measures the
            // other jobs as much as kvmps.
            const double mib = static_cast<double>(listing_run.peak_kib) / 1024;
            const bool met = listing_run.cpu_seconds < 1 && mib < 128;
            fmt::print(
                "target (the default listing of a DragonFly dump under 1 CPU second and 128 MiB): {} ({:.3f} s "
                "CPU, {:.3f} s wall, {:.1f} MiB)\n",
                met ? "met" : "NOT met", listing_run.cpu_seconds, listing_run.seconds, mib);
            if (!met) return 1;
        }
        const bench::Run gz_run =
            show("kvmps on the savecore -z core (.gz)", {tools + "/kvmps", "-N", kernel, "-M", gz});
        const bench::Run zst_run =
            show("kvmps on the savecore --zstd core (.zst)", {tools + "/kvmps", "-N", kernel, "-M", zst});
        const bench::Run plain = bench::best_of(runs, {tools + "/kvmps", "-N", kernel, "-M", core});
        const double ratio = gz_run.seconds / plain.seconds;
        fmt::print("kvmps on .gz / on the plain core: {:.2f}x the time ({:.2f}x for .zst); goal at most 2x: {}\n",
                   ratio, zst_run.seconds / plain.seconds, ratio <= 2 ? "met" : "NOT met");
        // CPU seconds too: on a shared machine, steadier than wall time.
        fmt::print("  in CPU seconds: .gz {:.2f}x, .zst {:.2f}x\n", gz_run.cpu_seconds / plain.cpu_seconds,
                   zst_run.cpu_seconds / plain.cpu_seconds);
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_kvmps: {}\n", e.what());
        return 1;
    }
    return 0;
}
