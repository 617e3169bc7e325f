// kvmps on a real Linux vmcore (a tests/realdump/make-linux-vmcore.sh
// directory) with the command lines read from each process's user pages
// (the default) against without them (-c, the command names only), on
// vmcore.elf, vmcore.kdump and vmcore.kdump-flat; and kvmmod, the module
// list, beside them.  The ratio is what reading the arguments costs.
// Before anything is timed, the listing is checked to hold the guest's
// command line of PID 1 (truth/ps.txt).
//
//   build/bench/bench_kvmps_args [--runs 5] [DIR]      DIR defaults to $REALDUMP_DIR
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmps with and without command lines on a real Linux vmcore"};
    int runs = 5;
    std::string dir;
    std::string work;
    app.add_option("--runs", runs, "runs of each command; the fastest counts")->check(CLI::PositiveNumber);
    app.add_option("--work", work, "directory for scratch files (default: a temporary one, removed)");
    app.add_option("dir", dir, "a make-linux-vmcore.sh directory (default: $REALDUMP_DIR)");
    CLI11_PARSE(app, argc, argv);
    if (dir.empty() && std::getenv("REALDUMP_DIR") != nullptr) dir = std::getenv("REALDUMP_DIR");
    if (dir.empty()) {
        fmt::print(stderr, "bench_kvmps_args: no dump directory (give DIR or set REALDUMP_DIR)\n");
        return 2;
    }
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir scratch(work);
    if (!scratch) return 1;
    const std::vector<std::string> cores = {"vmcore.elf", "vmcore.kdump", "vmcore.kdump-flat"};
    const std::string map = dir + "/System.map";

    try {
        // PID 1's command line, as the guest listed it, is in every listing.
        const std::string truth = slurp(dir + "/truth/ps.txt");
        const std::size_t line = truth.find("\n1\t");
        if (line == std::string::npos) throw std::runtime_error("truth/ps.txt has no PID 1");
        const std::string row = truth.substr(line + 1, truth.find('\n', line + 1) - line - 1);
        const std::string init = row.substr(row.rfind('\t') + 1);
        const std::string out = scratch / "out";
        for (const std::string& core : cores) {
            const bench::Run r = bench::run({tools + "/kvmps", "-N", map, "-M", dir + "/" + core}, out);
            if (r.status != 0 || slurp(out).find(" " + init + "\n") == std::string::npos)
                throw std::runtime_error(
                    fmt::format("kvmps -M {} (exit {}) does not show PID 1's command line [{}]", core, r.status, init));
        }

        fmt::print("{}: best of {} run(s), output to /dev/null\n", dir, runs);
        fmt::print("{:<52} {:>8} {:>8} {:>13}\n", "command", "wall s", "cpu s", "peak RSS MiB");
        const auto show = [&](std::string_view what, const std::vector<std::string>& command) {
            const bench::Run r = bench::best_of(runs, command);
            fmt::print("{:<52} {:>8.3f} {:>8.3f} {:>13.1f}\n", what, r.seconds, r.cpu_seconds,
                       static_cast<double>(r.peak_kib) / 1024);
            return r;
        };
        show("true (the floor of any command)", {"true"});
        std::vector<std::string> ratios;
        for (const std::string& core : cores) {
            const bench::Run with =
                show(fmt::format("kvmps -M {}", core), {tools + "/kvmps", "-N", map, "-M", dir + "/" + core});
            const bench::Run without =
                show(fmt::format("kvmps -c -M {}", core), {tools + "/kvmps", "-c", "-N", map, "-M", dir + "/" + core});
            ratios.push_back(fmt::format("{}: {:.2f}", core, with.seconds / without.seconds));
            show(fmt::format("kvmmod -M {}", core), {tools + "/kvmmod", "-N", map, "-M", dir + "/" + core});
        }
        fmt::print("\nkvmps with command lines / without (-c), wall time:");
        for (const std::string& r : ratios)
            fmt::print(" {}", r);
        fmt::print("\n");
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_kvmps_args: {}\n", e.what());
        return 1;
    }
    return 0;
}
