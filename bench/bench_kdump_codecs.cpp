// kvmps and kvmdump -P on the real vmcore (a tests/realdump/make-linux-vmcore.sh
// directory) in each kdump codec: the guest's pages re-encoded (the
// synthetic writer's copy_kdump) into lzo, snappy and zstd files, and a zlib
// one, in a scratch directory, each timed against QEMU's own zlib
// vmcore.kdump and printed as a ratio.  kvmps must list the same processes
// and kvmdump -P give the same bytes on every file before anything is timed.
//
//   build/bench/bench_kdump_codecs [--runs 3] [--work DIR] [DIR]    DIR defaults to $REALDUMP_DIR
//
// Without a directory (REALDUMP_DIR unset) it says so and measures nothing.
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/synth.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    CLI::App app{"kvmps and kvmdump -P on a real vmcore re-encoded in each kdump codec"};
    int runs = 3;
    std::string dir;
    std::string work;
    app.add_option("--runs", runs, "runs of each command; the fastest counts")->check(CLI::PositiveNumber);
    app.add_option("--work", work, "directory for the re-encoded files (default: a temporary one, removed)");
    app.add_option("dir", dir, "a make-linux-vmcore.sh directory (default: $REALDUMP_DIR)");
    CLI11_PARSE(app, argc, argv);
    if (dir.empty() && std::getenv("REALDUMP_DIR") != nullptr) dir = std::getenv("REALDUMP_DIR");
    if (dir.empty()) {
        fmt::print("bench_kdump_codecs: REALDUMP_DIR is not set and no directory given: nothing to measure\n");
        return 0;
    }
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir scratch(work);
    if (!scratch) return 1;
    const std::string map = dir + "/System.map";
    const std::string zlib = dir + "/vmcore.kdump";
    const std::vector<std::string> codecs = {"zlib", "lzo", "snappy", "zstd"};
    const auto file_of = [&](const std::string& codec) { return scratch / ("vmcore." + codec); };

    try {
        // The same pages in each codec, written in a child (bench_util.h).
        if (!bench::in_child([&] {
                kvm::synth::KdumpWriter w = kvm::synth::copy_kdump(kvm::open_file(zlib));
                for (const std::string& codec : codecs) {
                    w.set_codecs({codec});
                    kvm::synth::write_file(file_of(codec), w.build());
                }
                return true;
            }))
            return 1;

        // The same answers from every file: kvmps's listing, and all of
        // physical memory through kvmdump -P (RAM ends below 128 MiB).
        const std::string ram = "0x8000000";
        const std::string expected_ps = scratch / "ps.zlib";
        const std::string expected_ram = scratch / "ram.zlib";
        if (bench::run({tools + "/kvmps", "-N", map, "-M", zlib}, expected_ps).status != 0)
            throw std::runtime_error("kvmps on vmcore.kdump failed");
        // The holes make kvmdump stop (exit 1) at the first one: it reads the
        // same prefix on every file, which is what is compared.
        bench::run({tools + "/kvmdump", "-M", zlib, "-P", "-r", "-n", ram, "0x100000"}, expected_ram);
        for (const std::string& codec : codecs) {
            const std::string got = scratch / "got";
            if (bench::run({tools + "/kvmps", "-N", map, "-M", file_of(codec)}, got).status != 0 ||
                !bench::same_bytes(got, expected_ps))
                throw std::runtime_error(fmt::format("kvmps on the {} file differs from vmcore.kdump's", codec));
            bench::run({tools + "/kvmdump", "-M", file_of(codec), "-P", "-r", "-n", ram, "0x100000"}, got);
            if (!bench::same_bytes(got, expected_ram))
                throw std::runtime_error(fmt::format("kvmdump -P on the {} file differs from vmcore.kdump's", codec));
        }
        std::filesystem::remove(expected_ram);

        fmt::print("{}: best of {} run(s), output to /dev/null; ratio = time / time on QEMU's zlib vmcore.kdump\n", dir,
                   runs);
        fmt::print("{:<44} {:>10} {:>8} {:>8} {:>7}\n", "command", "file MiB", "wall s", "cpu s", "ratio");
        const auto mib = [](const std::string& path) {
            return static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
        };
        const auto table = [&](const std::string& title, const auto& command, int expected_status) {
            fmt::print("\n{}\n", title);
            const bench::Run base = bench::best_of(runs, command(zlib), expected_status);
            fmt::print("{:<44} {:>10.1f} {:>8.3f} {:>8.3f} {:>7}\n", "vmcore.kdump (zlib, as QEMU wrote it)", mib(zlib),
                       base.seconds, base.cpu_seconds, "1.00");
            for (const std::string& codec : codecs) {
                const bench::Run r = bench::best_of(runs, command(file_of(codec)), expected_status);
                fmt::print("{:<44} {:>10.1f} {:>8.3f} {:>8.3f} {:>7.2f}\n", "vmcore." + codec + " (re-encoded)",
                           mib(file_of(codec)), r.seconds, r.cpu_seconds, r.seconds / base.seconds);
            }
        };
        table(
            "kvmps -N System.map -M FILE",
            [&](const std::string& core) {
                return std::vector<std::string>{tools + "/kvmps", "-N", map, "-M", core};
            },
            0);
        table(
            "kvmdump -M FILE -P -r -n 128m 0x100000 (every page from 1 MiB up to the first hole)",
            [&](const std::string& core) {
                return std::vector<std::string>{tools + "/kvmdump", "-M", core, "-P", "-r", "-n", ram, "0x100000"};
            },
            1);
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_kdump_codecs: {}\n", e.what());
        return 1;
    }
    return 0;
}
