// The tools on a real Linux vmcore (a tests/realdump/make-linux-vmcore.sh
// directory): wall time, CPU time and peak memory of
//   - kvmps on vmcore.kdump and vmcore.elf (BTF read from the dump, the task
//     list walked): default columns, -H, --json, and -p 1;
//   - kvmdump of 64 MiB of the direct map (page_offset_base + 1 MiB on,
//     through the page tables), raw (-r) and as a hexdump, on both files,
//     against dd, xxd and hexdump -C reading the same bytes straight out of
//     vmcore.elf (whose PT_LOAD holds them uncompressed).
// kvmdump -r is checked to give exactly dd's bytes, and kvmps to list
// every process, before anything is timed.
//
//   build/bench/bench_linux [--runs 1] [--mib 64] [DIR]      DIR defaults to $REALDUMP_DIR
#include <kvm/elf.h>
#include <kvm/io.h>
#include <kvm/kernel.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::size_t lines_of(const std::string& path) {
    std::ifstream in(path);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
        ++n;
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmps and kvmdump on a real Linux vmcore"};
    int runs = 1;
    std::uint64_t mib = 64;
    std::string dir;
    std::string work;
    app.add_option("--runs", runs, "runs of each command; the fastest counts")->check(CLI::PositiveNumber);
    app.add_option("--mib", mib, "MiB of the direct map to dump")->check(CLI::Range(1, 100));
    app.add_option("--work", work, "directory for scratch files (default: a temporary one, removed)");
    app.add_option("dir", dir, "a make-linux-vmcore.sh directory (default: $REALDUMP_DIR)");
    CLI11_PARSE(app, argc, argv);
    if (dir.empty() && std::getenv("REALDUMP_DIR") != nullptr) dir = std::getenv("REALDUMP_DIR");
    if (dir.empty()) {
        fmt::print(stderr, "bench_linux: no dump directory (give DIR or set REALDUMP_DIR)\n");
        return 2;
    }
    for (const char* tool : {"dd", "xxd", "hexdump"})
        if (!bench::on_path(tool)) {
            fmt::print(stderr, "bench_linux: {} is not installed (scripts/setup-deps.sh)\n", tool);
            return 1;
        }
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir scratch(work);
    if (!scratch) return 1;
    const std::string map = dir + "/System.map";
    const std::string elf = dir + "/vmcore.elf";
    const std::string kdump = dir + "/vmcore.kdump";
    const std::uint64_t size = mib << 20;

    try {
        // Where the bytes are: the direct map's address of physical 1 MiB,
        // and that physical address's offset in vmcore.elf.  Found in a
        // child, so this process stays small (bench_util.h).
        const std::string where = scratch / "where";
        if (!bench::in_child([&] {
                const auto k = kvm::Kernel::open({.namelist = map, .core = elf});
                const std::uint64_t pa = 1u << 20;
                const std::uint64_t va = k->read_pointer(k->symbol_value("page_offset_base")) + pa;
                if (k->translate(va).pa != pa) throw std::runtime_error("the direct map is not at page_offset_base");
                const kvm::elf::File file(kvm::open_file(elf));
                for (const auto& s : file.segments())
                    if (s.type == kvm::elf::pt_load && pa >= s.paddr && pa + size <= s.paddr + s.filesz) {
                        std::ofstream(where) << fmt::format("{:#x} {}\n", va, s.offset + (pa - s.paddr));
                        return true;
                    }
                throw std::runtime_error("no PT_LOAD holds the bytes");
            }))
            return 1;
        std::string va;
        std::uint64_t offset = 0;
        std::ifstream(where) >> va >> offset;
        const std::string length = fmt::format("{:#x}", size);

        // kvmdump -r gives dd's bytes, from either file.
        const std::string plain = scratch / "plain.bin";
        const std::string raw = scratch / "raw.bin";
        const std::vector<std::string> dd = {"dd",
                                             "if=" + elf,
                                             "iflag=skip_bytes,count_bytes",
                                             fmt::format("skip={}", offset),
                                             fmt::format("count={}", size),
                                             "bs=1M",
                                             "status=none"};
        if (bench::run(dd, plain).status != 0) throw std::runtime_error("dd failed");
        for (const std::string& core : {elf, kdump})
            if (bench::run({tools + "/kvmdump", "-N", map, "-M", core, "-r", "-n", length, va}, raw).status != 0 ||
                !bench::same_bytes(raw, plain))
                throw std::runtime_error(fmt::format("kvmdump -r of {} did not give dd's bytes", core));
        std::filesystem::remove(raw);
        std::filesystem::remove(plain);

        // kvmps lists every process, without warnings.
        const std::string listing = scratch / "listing";
        const std::size_t truth = lines_of(dir + "/truth/ps.txt");
        for (const std::string& core : {kdump, elf}) {
            const bench::Run r = bench::run({tools + "/kvmps", "-N", map, "-M", core}, listing);
            const std::size_t n = lines_of(listing);
            // The guest's ps.txt has a header too; kworkers may come or go.
            if (r.status != 0 || n + 4 < truth || n > truth + 4)
                throw std::runtime_error(
                    fmt::format("kvmps on {} listed {} lines (exit {}), ps.txt has {}", core, n, r.status, truth));
        }
        std::filesystem::remove(listing);

        fmt::print("{}: best of {} run(s), output to /dev/null\n", dir, runs);
        fmt::print("{:<52} {:>8} {:>8} {:>13}\n", "command", "wall s", "cpu s", "peak RSS MiB");
        const auto show = [&](std::string_view what, const std::vector<std::string>& command) {
            const bench::Run r = bench::best_of(runs, command);
            fmt::print("{:<52} {:>8.3f} {:>8.3f} {:>13.1f}\n", what, r.seconds, r.cpu_seconds,
                       static_cast<double>(r.peak_kib) / 1024);
            return r;
        };
        show("true (the floor of any command)", {"true"});

        fmt::print("\nkvmps\n");
        show("dd if=vmcore.kdump of=/dev/null bs=1M", {"dd", "if=" + kdump, "of=/dev/null", "bs=1M"});
        for (const auto& [name, core] : {std::pair{"vmcore.kdump", kdump}, std::pair{"vmcore.elf", elf}}) {
            show(fmt::format("kvmps -N System.map -M {}", name), {tools + "/kvmps", "-N", map, "-M", core});
            show(fmt::format("kvmps -H (per thread) -M {}", name), {tools + "/kvmps", "-H", "-N", map, "-M", core});
            show(fmt::format("kvmps --json -M {}", name), {tools + "/kvmps", "--json", "-N", map, "-M", core});
            show(fmt::format("kvmps -p 1 -M {}", name), {tools + "/kvmps", "-p", "1", "-N", map, "-M", core});
        }

        fmt::print("\n{} MiB of the direct map at {} (vmcore.elf offset {:#x})\n", mib, va, offset);
        show("dd (the same bytes of vmcore.elf)", dd);
        show("xxd -s OFF -l LEN vmcore.elf",
             {"xxd", "-s", fmt::format("{}", offset), "-l", fmt::format("{}", size), elf});
        show("hexdump -C -s OFF -n LEN vmcore.elf",
             {"hexdump", "-C", "-s", fmt::format("{}", offset), "-n", fmt::format("{}", size), elf});
        for (const auto& [name, core] : {std::pair{"vmcore.elf", elf}, std::pair{"vmcore.kdump", kdump}}) {
            show(fmt::format("kvmdump -r -M {}", name),
                 {tools + "/kvmdump", "-N", map, "-M", core, "-r", "-n", length, va});
            show(fmt::format("kvmdump (hexdump) -M {}", name),
                 {tools + "/kvmdump", "-N", map, "-M", core, "-n", length, va});
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_linux: {}\n", e.what());
        return 1;
    }
    return 0;
}
