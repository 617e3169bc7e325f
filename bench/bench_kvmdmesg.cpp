// kvmdmesg on a real Linux vmcore (a tests/realdump/make-linux-vmcore.sh
// directory): wall time, CPU time and peak memory of the whole log from
// vmcore.elf, vmcore.kdump and vmcore.kdump-flat (text and --json), against
// the goal of 0.2 s, and against what else gets text out of a dump here:
//   - strings -n 8 vmcore.elf, the cheapest look at the text in an
//     uncompressed dump (it finds the log's texts among every other
//     string, without order, times or levels; kdump files are compressed);
//   - makedumpfile --dump-dmesg, the standard tool for this, when it can
//     read the dump (1.7.2 cannot read these: see tests/realdump/README.md).
// Before anything is timed, kvmdmesg's output is checked to begin with the
// guest's own dmesg (truth/dmesg.txt) for every file.
//
//   build/bench/bench_kvmdmesg [--runs 5] [DIR]      DIR defaults to $REALDUMP_DIR
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

constexpr double goal_seconds = 0.2;

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmdmesg on a real Linux vmcore"};
    int runs = 5;
    std::string dir;
    std::string work;
    app.add_option("--runs", runs, "runs of each command; the fastest counts")->check(CLI::PositiveNumber);
    app.add_option("--work", work, "directory for scratch files (default: a temporary one, removed)");
    app.add_option("dir", dir, "a make-linux-vmcore.sh directory (default: $REALDUMP_DIR)");
    CLI11_PARSE(app, argc, argv);
    if (dir.empty() && std::getenv("REALDUMP_DIR") != nullptr) dir = std::getenv("REALDUMP_DIR");
    if (dir.empty()) {
        fmt::print(stderr, "bench_kvmdmesg: no dump directory (give DIR or set REALDUMP_DIR)\n");
        return 2;
    }
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir scratch(work);
    if (!scratch) return 1;
    const std::vector<std::string> cores = {"vmcore.elf", "vmcore.kdump", "vmcore.kdump-flat"};

    try {
        // Every file gives the guest's dmesg (the log may have grown after it).
        const std::string truth = slurp(dir + "/truth/dmesg.txt");
        const std::string out = scratch / "out";
        for (const std::string& core : cores) {
            const bench::Run r = bench::run({tools + "/kvmdmesg", "-M", dir + "/" + core}, out);
            const std::string got = slurp(out);
            if (r.status != 0 || got.compare(0, truth.size(), truth) != 0)
                throw std::runtime_error(
                    fmt::format("kvmdmesg -M {} (exit {}) does not print truth/dmesg.txt", core, r.status));
        }
        const std::size_t lines = static_cast<std::size_t>(std::count(truth.begin(), truth.end(), '\n'));

        fmt::print("{}: {} lines of log; best of {} run(s), output to /dev/null\n", dir, lines, runs);
        fmt::print("{:<52} {:>8} {:>8} {:>13}\n", "command", "wall s", "cpu s", "peak RSS MiB");
        const auto show = [&](std::string_view what, const std::vector<std::string>& command, int status = 0) {
            const bench::Run r = bench::best_of(runs, command, status);
            fmt::print("{:<52} {:>8.3f} {:>8.3f} {:>13.1f}\n", what, r.seconds, r.cpu_seconds,
                       static_cast<double>(r.peak_kib) / 1024);
            return r;
        };
        show("true (the floor of any command)", {"true"});
        double slowest = 0;
        bench::Run elf;
        for (const std::string& core : cores) {
            const bench::Run r =
                show(fmt::format("kvmdmesg -M {}", core), {tools + "/kvmdmesg", "-M", dir + "/" + core});
            slowest = std::max(slowest, r.seconds);
            if (core == "vmcore.elf") elf = r;
            show(fmt::format("kvmdmesg --json -M {}", core), {tools + "/kvmdmesg", "--json", "-M", dir + "/" + core});
        }
        show("kvmdmesg -N System.map -M vmcore.kdump",
             {tools + "/kvmdmesg", "-N", dir + "/System.map", "-M", dir + "/vmcore.kdump"});

        fmt::print("\n");
        if (bench::on_path("strings")) {
            const bench::Run s = show("strings -n 8 vmcore.elf", {"strings", "-n", "8", dir + "/vmcore.elf"});
            fmt::print("kvmdmesg -M vmcore.elf takes {:.3f} of the time of strings -n 8 on the same file\n",
                       elf.seconds / s.seconds);
        }
        if (bench::on_path("makedumpfile")) {
            for (const std::string& core : {std::string("vmcore.elf"), std::string("vmcore.kdump")}) {
                const std::string dmesg = scratch / ("makedumpfile-" + core);
                const bench::Run r = bench::run({"makedumpfile", "--dump-dmesg", dir + "/" + core, dmesg});
                if (r.status != 0) {
                    fmt::print("makedumpfile --dump-dmesg {}: fails (exit {}), no comparison\n", core, r.status);
                    continue;
                }
                std::filesystem::remove(dmesg);
                show(fmt::format("makedumpfile --dump-dmesg {}", core),
                     {"sh", "-c",
                      fmt::format("makedumpfile --dump-dmesg '{}/{}' '{}' && rm -f '{}'", dir, core, dmesg, dmesg)});
            }
        }
        fmt::print("\ngoal: the whole log in under {:.1f} s; slowest file {:.3f} s: {}\n", goal_seconds, slowest,
                   slowest < goal_seconds ? "met" : "NOT met");
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_kvmdmesg: {}\n", e.what());
        return 1;
    }
    return 0;
}
