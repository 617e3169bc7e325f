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

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

// The guest's RAM in bytes, from the "mem=128M" of a make-linux-vmcore.sh
// manifest.txt.
std::uint64_t guest_ram(const std::string& manifest) {
    std::ifstream in(manifest);
    std::string word;
    while (in >> word) {
        if (!word.starts_with("mem=")) continue;
        std::uint64_t size = 0;
        const char* first = word.data() + 4;
        const char* last = word.data() + word.size();
        const auto [end, ec] = std::from_chars(first, last, size);
        const std::string unit(end, last);
        if (ec == std::errc{} && end != first && (unit == "M" || unit == "G") && size < (1U << 20))
            return size << (unit == "M" ? 20 : 30);
        throw std::runtime_error(fmt::format("{}: cannot read the guest's RAM size from {}", manifest, word));
    }
    throw std::runtime_error(fmt::format("{}: no mem= (the guest's RAM size)", manifest));
}

}  // namespace

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
        // physical memory through kvmdump -P (the guest's RAM, from 0 to its
        // size in manifest.txt, is in the dump without a hole).
        const std::uint64_t ram_bytes = guest_ram(dir + "/manifest.txt");
        const std::string ram = fmt::format("{:#x}", ram_bytes);
        const std::string expected_ps = scratch / "ps.zlib";
        const std::string expected_ram = scratch / "ram.zlib";
        const auto kvmps = [&](const std::string& core) {
            return std::vector<std::string>{tools + "/kvmps", "-N", map, "-M", core};
        };
        const auto kvmdump = [&](const std::string& core) {
            return std::vector<std::string>{tools + "/kvmdump", "-M", core, "-P", "-r", "-n", ram, "0"};
        };
        if (bench::run(kvmps(zlib), expected_ps).status != 0) throw std::runtime_error("kvmps on vmcore.kdump failed");
        if (bench::run(kvmdump(zlib), expected_ram).status != 0 ||
            std::filesystem::file_size(expected_ram) != ram_bytes)
            throw std::runtime_error(fmt::format("kvmdump -P of {} bytes from vmcore.kdump failed", ram));
        for (const std::string& codec : codecs) {
            const std::string got = scratch / "got";
            if (bench::run(kvmps(file_of(codec)), got).status != 0 || !bench::same_bytes(got, expected_ps))
                throw std::runtime_error(fmt::format("kvmps on the {} file differs from vmcore.kdump's", codec));
            if (bench::run(kvmdump(file_of(codec)), got).status != 0 || !bench::same_bytes(got, expected_ram))
                throw std::runtime_error(fmt::format("kvmdump -P on the {} file differs from vmcore.kdump's", codec));
        }
        std::filesystem::remove(expected_ram);

        fmt::print("{}: best of {} run(s), output to /dev/null; ratios are to the time on QEMU's zlib vmcore.kdump\n",
                   dir, runs);
        fmt::print("{:<44} {:>10} {:>8} {:>8} {:>7} {:>7}\n", "command", "file MiB", "wall s", "cpu s", "wall x",
                   "cpu x");
        const auto mib = [](const std::string& path) {
            return static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
        };
        const auto table = [&](const std::string& title, const auto& command) {
            fmt::print("\n{}\n", title);
            const bench::Run base = bench::best_of(runs, command(zlib));
            fmt::print("{:<44} {:>10.1f} {:>8.3f} {:>8.3f} {:>7} {:>7}\n", "vmcore.kdump (zlib, as QEMU wrote it)",
                       mib(zlib), base.seconds, base.cpu_seconds, "1.00", "1.00");
            for (const std::string& codec : codecs) {
                const bench::Run r = bench::best_of(runs, command(file_of(codec)));
                fmt::print("{:<44} {:>10.1f} {:>8.3f} {:>8.3f} {:>7.2f} {:>7.2f}\n",
                           "vmcore." + codec + " (re-encoded)", mib(file_of(codec)), r.seconds, r.cpu_seconds,
                           r.seconds / base.seconds, r.cpu_seconds / base.cpu_seconds);
            }
        };
        table("kvmps -N System.map -M FILE", kvmps);
        table(fmt::format("kvmdump -M FILE -P -r -n {} 0 (all of the guest's RAM)", ram), kvmdump);
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_kdump_codecs: {}\n", e.what());
        return 1;
    }
    return 0;
}
