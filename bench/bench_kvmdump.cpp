// kvmdump of 64 MiB of real-looking kernel memory, against xxd and
// hexdump -C on the same bytes in a plain file.  Target: at least twice as
// fast as the faster of the two.
//
//   build/bench/bench_kvmdump [--bytes 64m] [--runs 3] [--real FILE | --synthetic] [--work DIR]
//
// kvmdump reads the bytes through a synthetic NetBSD/amd64 crash whose
// direct map covers them (page-table walk, kcore file, hexdump with symbol
// lookups per line); xxd and hexdump read them from a plain file.  The
// bytes are RAM from a real vmcore when one is given (by default
// /tmp/realdump/vmcore.elf when it exists), else the builder's realistic
// filler.  kvmdump -r is checked to give exactly the plain file's bytes
// before anything is timed.
//
// Then the same core as savecore -z and --zstd write it, read in place:
// kvmdump from the .gz core against the plain one (goal: at most 3x the
// time), with and without -r.
#include <kvm/elf.h>
#include <kvm/expr.h>
#include <kvm/io.h>
#include <kvm/synth.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <cstring>
#include <memory>

#include "bench_util.h"

#include <fstream>

namespace {
constexpr std::uint64_t base = 0x4000000;  // physical address of the bytes
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmdump against xxd and hexdump -C on 64 MiB"};
    std::string bytes_text = "64m";
    int runs = 3;
    std::string real = "/tmp/realdump/vmcore.elf";
    bool synthetic = false;
    std::string work;
    app.add_option("--bytes", bytes_text, "bytes to dump (k/m/g)");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--real", real, "an ELF vmcore whose RAM provides the bytes");
    app.add_flag("--synthetic", synthetic, "use the synthetic machine's realistic filler instead");
    app.add_option("--work", work, "directory for the files (default: a temporary one)");
    CLI11_PARSE(app, argc, argv);

    for (const char* tool : {"xxd", "hexdump"})
        if (!bench::on_path(tool)) {
            fmt::print(stderr, "bench_kvmdump: {} is not installed (scripts/setup-deps.sh)\n", tool);
            return 1;
        }
    const std::uint64_t size = kvm::parse_length(bytes_text);
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir dir(work);
    if (!dir) return 1;
    const std::string kernel = dir / "netbsd";
    const std::string core = dir / "netbsd.core";
    const std::string gz = dir / "netbsd.core.gz";
    const std::string zst = dir / "netbsd.core.zst";
    const std::string plain = dir / "plain.bin";

    // Built in a child process, so that this one stays small (see bench_util.h).
    const std::string info = dir / "info";
    if (!bench::in_child([&] {
            // A machine with room for the bytes in one RAM segment.  Real bytes
            // come in through the filler, so the plain file (read back from the
            // machine's memory) and the dump hold the same bytes whatever the
            // kernel's own pages happen to overlap.
            kvm::synth::CrashedMachine m({.ram = {{0x1000, 0x9e000}, {0x100000, base + size}}});
            std::string source = "the synthetic machine's realistic filler";
            if (!synthetic && std::filesystem::exists(real)) {
                // The largest PT_LOAD of the vmcore, past its first 16 MiB (the
                // kernel image), is the bytes.
                const kvm::elf::File vmcore(kvm::open_file(real));
                const kvm::elf::Segment* ram = nullptr;
                for (const auto& s : vmcore.segments())
                    if (s.type == kvm::elf::pt_load && (ram == nullptr || s.filesz > ram->filesz)) ram = &s;
                constexpr std::uint64_t skip = 16u << 20;
                if (ram == nullptr || ram->filesz < size + skip) {
                    fmt::print(stderr, "bench_kvmdump: {} has no PT_LOAD of {} bytes\n", real, size + skip);
                    return false;
                }
                auto bytes =
                    std::make_shared<kvm::Bytes>(vmcore.source().read_bytes(ram->offset + skip, size, "vmcore RAM"));
                kvm::synth::PageFiller otherwise = m.memory().filler();
                m.memory().set_filler([bytes, otherwise, size](std::uint64_t pa, kvm::MutableByteSpan page) {
                    if (pa >= base && pa - base < size) {
                        std::memcpy(page.data(), bytes->data() + (pa - base), page.size());
                    } else {
                        otherwise(pa, page);
                    }
                });
                source = fmt::format("RAM of {} from physical address {:#x}", real, ram->paddr + skip);
            }
            {
                const auto segments = m.prepare_dump({});
                auto out = kvm::create_file_sink(core);
                m.write_kcore(*out, segments);
                out->finish();
                kvm::synth::write_file(kernel, m.kernel_elf());
                kvm::Bytes b(size);
                m.memory().read(base, b);
                kvm::synth::write_file(plain, b);
            }
            bench::compress_file(core, gz, zst);
            std::FILE* f = std::fopen(info.c_str(), "w");
            fmt::print(f, "{:#x}\n{}\n", m.direct_map(base), source);
            std::fclose(f);
            return true;
        }))
        return 1;
    std::string va, source;
    {
        std::ifstream in(info);
        std::getline(in, va);
        std::getline(in, source);
    }
    const std::string length = fmt::format("{:#x}", size);

    // The same bytes, through the dump and its compressed forms.
    const std::string raw = dir / "raw.bin";
    for (const std::string& c : {core, gz, zst}) {
        if (bench::run({tools + "/kvmdump", "-N", kernel, "-M", c, "-r", "-n", length, va}, raw).status != 0 ||
            !bench::same_bytes(raw, plain)) {
            fmt::print(stderr, "bench_kvmdump: kvmdump -r -M {} did not give the plain file's bytes\n", c);
            return 1;
        }
    }
    std::filesystem::remove(raw);

    fmt::print("{} MiB of {}; kvmdump reads them at {} through {}; best of {} runs, output to /dev/null\n", size >> 20,
               source, va, core, runs);
    bench::report("true (the floor under every figure)", bench::baseline());
    const bench::Run xxd = bench::best_of(runs, {"xxd", plain});
    const bench::Run hexdump = bench::best_of(runs, {"hexdump", "-C", plain});
    const bench::Run kvmdump = bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", core, "-n", length, va});
    const bench::Run kvmdump_raw =
        bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", core, "-r", "-n", length, va});
    bench::report("xxd FILE", xxd);
    bench::report("hexdump -C FILE", hexdump);
    bench::report("kvmdump -N K -M CORE -n SIZE VA", kvmdump);
    bench::report("kvmdump -N K -M CORE -r -n SIZE VA", kvmdump_raw);
    const bench::Run& faster = xxd.seconds < hexdump.seconds ? xxd : hexdump;
    const double ratio = faster.seconds / kvmdump.seconds;
    fmt::print("kvmdump vs xxd: {:.1f}x, vs hexdump -C: {:.1f}x the speed\n", xxd.seconds / kvmdump.seconds,
               hexdump.seconds / kvmdump.seconds);
    fmt::print("target (at least 2x the faster of the two): {} ({:.1f}x)\n", ratio >= 2 ? "met" : "NOT met", ratio);

    fmt::print("\nthe same core compressed, read in place (gz {:.1f} MiB, zst {:.1f} MiB, core {:.1f} MiB)\n",
               static_cast<double>(std::filesystem::file_size(gz)) / (1 << 20),
               static_cast<double>(std::filesystem::file_size(zst)) / (1 << 20),
               static_cast<double>(std::filesystem::file_size(core)) / (1 << 20));
    const bench::Run gz_dump = bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", gz, "-n", length, va});
    const bench::Run gz_raw =
        bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", gz, "-r", "-n", length, va});
    const bench::Run zst_dump = bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", zst, "-n", length, va});
    const bench::Run zst_raw =
        bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", zst, "-r", "-n", length, va});
    bench::report("kvmdump -M CORE.gz -n SIZE VA", gz_dump);
    bench::report("kvmdump -M CORE.gz -r -n SIZE VA", gz_raw);
    bench::report("kvmdump -M CORE.zst -n SIZE VA", zst_dump);
    bench::report("kvmdump -M CORE.zst -r -n SIZE VA", zst_raw);
    const double gz_ratio = gz_dump.seconds / kvmdump.seconds;
    fmt::print("kvmdump from .gz / from the plain core: {:.2f}x the time (-r: {:.2f}x); .zst: {:.2f}x (-r: {:.2f}x)\n",
               gz_ratio, gz_raw.seconds / kvmdump_raw.seconds, zst_dump.seconds / kvmdump.seconds,
               zst_raw.seconds / kvmdump_raw.seconds);
    // CPU seconds too: on a shared machine, steadier than wall time.
    fmt::print("  in CPU seconds: .gz {:.2f}x (-r: {:.2f}x); .zst {:.2f}x (-r: {:.2f}x)\n",
               gz_dump.cpu_seconds / kvmdump.cpu_seconds, gz_raw.cpu_seconds / kvmdump_raw.cpu_seconds,
               zst_dump.cpu_seconds / kvmdump.cpu_seconds, zst_raw.cpu_seconds / kvmdump_raw.cpu_seconds);
    fmt::print("target (at most 3x the plain core's time): {} ({:.2f}x)\n", gz_ratio <= 3 ? "met" : "NOT met",
               gz_ratio);
    return ratio >= 2 && gz_ratio <= 3 ? 0 : 1;
}
