// kvmdump of 64 MiB through a FreeBSD minidump, against xxd of the same
// bytes in a plain file.  Target: at least twice as fast as xxd.
//
//   build/bench/bench_minidump [--bytes 64m] [--runs 3] [--work DIR]
//
// The bytes are a kernel heap allocation of a synthetic FreeBSD/amd64
// machine, on scattered 4 KiB pages filled like real RAM; kvmdump reads
// them through the minidump's page map (a PDE per 2 MiB, then the dumped
// page tables) and the bitmap's rank index, and prints them with a symbol
// lookup per line.  kvmdump -r is checked to give exactly the plain file's
// bytes before anything is timed.
#include <kvm/expr.h>
#include <kvm/io.h>
#include <kvm/synth.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <fstream>

int main(int argc, char** argv) {
    CLI::App app{"kvmdump through a minidump against xxd on 64 MiB"};
    std::string bytes_text = "64m";
    int runs = 3;
    std::string work;
    app.add_option("--bytes", bytes_text, "bytes to dump (k/m/g)");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--work", work, "directory for the files (default: a temporary one)");
    CLI11_PARSE(app, argc, argv);

    if (!bench::on_path("xxd")) {
        fmt::print(stderr, "bench_minidump: xxd is not installed (scripts/setup-deps.sh)\n");
        return 1;
    }
    const std::uint64_t size = kvm::parse_length(bytes_text);
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir dir(work);
    if (!dir) return 1;
    const std::string kernel = dir / "kernel";
    const std::string core = dir / "vmcore.0";
    const std::string plain = dir / "plain.bin";
    const std::string info = dir / "info";

    // Built in a child process, so that this one stays small (see bench_util.h).
    if (!bench::in_child([&] {
            kvm::synth::MachineSpec spec{.os = "freebsd"};
            // Room for the heap's pages above the default RAM.
            spec.ram = {
                {0x1000, 0x9e000}, {0x100000, 0x1700000}, {0x2000000, 0x800000}, {0x4000000, size + (16u << 20)}};
            kvm::synth::CrashedMachine m(spec);
            const std::uint64_t va = m.kmem_alloc(size, 4096);
            const kvm::synth::PageFiller fill = kvm::synth::realistic_filler(7, 0xfffffe0000000000);
            kvm::Bytes page(4096);
            for (std::uint64_t off = 0; off < size; off += page.size()) {
                fill(m.virt_to_phys(va + off), page);
                m.write(va + off, page);
            }
            kvm::synth::write_sparse_file(core, [&](kvm::Sink& out) { m.write_minidump(out); });
            kvm::synth::write_file(kernel, m.kernel_elf());
            kvm::Bytes all(size);
            m.read(va, all);
            kvm::synth::write_file(plain, all);
            std::ofstream(info) << fmt::format("{:#x}\n", va);
            return true;
        }))
        return 1;
    std::string va;
    std::getline(std::ifstream(info), va);
    const std::string length = fmt::format("{:#x}", size);

    const std::string raw = dir / "raw.bin";
    if (bench::run({tools + "/kvmdump", "-N", kernel, "-M", core, "-r", "-n", length, va}, raw).status != 0 ||
        !bench::same_bytes(raw, plain)) {
        fmt::print(stderr, "bench_minidump: kvmdump -r did not give the plain file's bytes\n");
        return 1;
    }
    std::filesystem::remove(raw);

    fmt::print(
        "{} MiB of heap on scattered 4 KiB pages; kvmdump reads them at {} through the page map of {}; best "
        "of {} runs, output to /dev/null\n",
        size >> 20, va, core, runs);
    bench::report("true (the floor under every figure)", bench::baseline());
    const bench::Run xxd = bench::best_of(runs, {"xxd", plain});
    const bench::Run kvmdump = bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", core, "-n", length, va});
    const bench::Run kvmdump_raw =
        bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", core, "-r", "-n", length, va});
    bench::report("xxd FILE", xxd);
    bench::report("kvmdump -N K -M MINIDUMP -n SIZE VA", kvmdump);
    bench::report("kvmdump -N K -M MINIDUMP -r -n SIZE VA", kvmdump_raw);
    const double ratio = xxd.seconds / kvmdump.seconds;
    fmt::print("kvmdump through the minidump vs xxd: {:.1f}x the speed\n", ratio);
    fmt::print("target (at least 2x xxd): {} ({:.1f}x)\n", ratio >= 2 ? "met" : "NOT met", ratio);
    return ratio >= 2 ? 0 : 1;
}
