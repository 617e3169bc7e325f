// A device image built to make the dump-header scan slow (issue 11), against
// one sequential read of it by dd, in one run.  Target: refused in about the
// time dd takes to read it.
//
//   build/bench/hostile_scan [--size 1g] [--runs 3] [--tools DIR] [--work DIR]
//
// Every 512-byte block of the image starts a NetBSD/amd64 dump header whose
// cpu segment claims 16 MiB - 8 bytes, filled by a RAM table that is sane to
// the end of the block (synth::write_hostile_device).  A scan that read each
// claimed cpu segment whole read 16 MiB per 512 bytes.  Every block holds
// data, so the image cannot be sparse: it takes --size of disk.  Timed:
//   dd if=IMAGE of=/dev/null bs=1M
//   kvmdump -N KERNEL -M IMAGE _version (exit 1: not a recognised crash dump)
//   savecore -n -N KERNEL IMAGE         (exit 1: dump refused)
// from the page cache (dd runs once first to fill it).  --tools times the
// tools of another build (an older one, say) on the same image.
#include <kvm/arch.h>
#include <kvm/expr.h>
#include <kvm/io.h>
#include <kvm/synth.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

int main(int argc, char** argv) {
    CLI::App app{"the dump-header scan on a hostile device image, against dd"};
    std::string size_text = "1g";
    int runs = 3;
    std::string tools;
    std::string work;
    app.add_option("--size", size_text, "image size (k/m/g), a multiple of 512");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--tools", tools, "directory of the kvmdump and savecore to time (default: this build's)");
    app.add_option("--work", work, "directory for the image (default: a temporary one)");
    CLI11_PARSE(app, argc, argv);

    const std::uint64_t size = kvm::parse_length(size_text);
    if (tools.empty()) tools = bench::tools_dir(argv[0]);
    const bench::WorkDir dir(work);
    if (!dir) return 1;
    const std::string image = dir / "hostile.img";
    const std::string kernel = dir / "netbsd";

    // Built in a child process, so that this one stays small (see bench_util.h).
    if (!bench::in_child([&] {
            auto out = kvm::create_file_sink(image);
            kvm::synth::write_hostile_device(*out, *kvm::find_arch("amd64"), size, (std::uint64_t{16} << 20) - 8);
            out->finish();
            const kvm::synth::CrashedMachine m;
            kvm::synth::write_file(kernel, m.kernel_elf());
            return true;
        }))
        return 1;

    fmt::print("{} MiB hostile image (a dump header in every 512-byte block), from the page cache; best of {} runs\n",
               size >> 20, runs);
    bench::run({"dd", "if=" + image, "of=/dev/null", "bs=1M"});  // fills the page cache
    bench::report("true (the floor under every figure)", bench::baseline());
    const bench::Run dd = bench::best_of(runs, {"dd", "if=" + image, "of=/dev/null", "bs=1M"});
    const bench::Run kvmdump = bench::best_of(runs, {tools + "/kvmdump", "-N", kernel, "-M", image, "_version"}, 1);
    const bench::Run savecore = bench::best_of(runs, {tools + "/savecore", "-n", "-N", kernel, image}, 1);
    bench::report("dd if=IMAGE of=/dev/null bs=1M", dd);
    bench::report("kvmdump -N KERNEL -M IMAGE _version", kvmdump);
    bench::report("savecore -n -N KERNEL IMAGE", savecore);
    fmt::print("time against dd: kvmdump -M {:.2f}x, savecore -n {:.2f}x\n", kvmdump.seconds / dd.seconds,
               savecore.seconds / dd.seconds);
    return 0;
}
