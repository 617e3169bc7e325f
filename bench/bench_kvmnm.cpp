// kvmnm resolving 10,000 names in one call on a kernel ELF with over
// 100,000 symbols, against nm listing the same file.  Target: no slower
// than nm, with less peak memory.
//
//   build/bench/bench_kvmnm [--symbols 100000] [--names 10000] [--runs 5] [--work DIR]
//
// The kernel comes from the synthetic machine (kvmsynth --extra-functions).
// kvmnm runs cold (--no-index: the ELF symbol table is read and sorted) and
// warm (from the symbol index written by the run before); its answers are
// checked against nm's listing before anything is timed.
#include <kvm/namelist.h>
#include <kvm/synth.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <fstream>
#include <map>
#include <sstream>

int main(int argc, char** argv) {
    CLI::App app{"kvmnm against nm on a big kernel"};
    std::size_t symbols = 100000;
    std::size_t names = 10000;
    int runs = 5;
    std::string work;
    app.add_option("--symbols", symbols, "extra function symbols in the kernel");
    app.add_option("--names", names, "names kvmnm resolves in one call");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--work", work, "directory for the kernel (default: a temporary one)");
    CLI11_PARSE(app, argc, argv);

    for (const char* tool : {"nm"})
        if (!bench::on_path(tool)) {
            fmt::print(stderr, "bench_kvmnm: {} is not installed (scripts/setup-deps.sh)\n", tool);
            return 1;
        }
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir dir(work);
    if (!dir) return 1;
    const std::string kernel = dir / "netbsd";
    std::filesystem::remove(kernel + ".symidx");
    if (!bench::in_child([&] {
            kvm::synth::CrashedMachine m({.extra_functions = symbols});
            kvm::synth::write_file(kernel, m.kernel_elf());
            fmt::print("kernel: {} ({} symbols, {:.1f} MiB)\n", kernel, kvm::Namelist::load(kernel)->symbols().size(),
                       static_cast<double>(std::filesystem::file_size(kernel)) / (1 << 20));
            return true;
        }))
        return 1;

    // Every (symbols / names)-th function, so the names spread over the table.
    std::vector<std::string> kvmnm_cold{tools + "/kvmnm", "--no-index", "-N", kernel};
    const std::size_t stride = std::max<std::size_t>(1, symbols / names);
    std::vector<std::string> asked;
    for (std::size_t i = 0; asked.size() < names && i < symbols; i += stride)
        asked.push_back(fmt::format("fn_{:06}", i));
    kvmnm_cold.insert(kvmnm_cold.end(), asked.begin(), asked.end());
    std::vector<std::string> kvmnm_warm = kvmnm_cold;
    kvmnm_warm.erase(kvmnm_warm.begin() + 1);

    // kvmnm's answers are nm's lines for those names.
    const std::string nm_out = dir / "nm.out";
    const std::string kvmnm_out = dir / "kvmnm.out";
    if (bench::run({"nm", kernel}, nm_out).status != 0) return 1;
    if (bench::run(kvmnm_warm, kvmnm_out).status != 0) return 1;  // also writes the index
    if (!bench::in_child([&] {
            std::map<std::string, std::string> by_name;
            std::ifstream in(nm_out);
            for (std::string line; std::getline(in, line);)
                by_name[line.substr(line.rfind(' ') + 1)] = line;
            std::ifstream answers(kvmnm_out);
            std::size_t checked = 0;
            for (std::string line; std::getline(answers, line); ++checked) {
                if (checked >= asked.size() || by_name[asked[checked]] != line) {
                    fmt::print(stderr, "bench_kvmnm: answer {} is [{}], not nm's\n", checked, line);
                    return false;
                }
            }
            return checked == asked.size() && std::filesystem::exists(kernel + ".symidx");
        })) {
        fmt::print(stderr, "bench_kvmnm: kvmnm's answers are not nm's\n");
        return 1;
    }

    fmt::print("{} names in one kvmnm call; best of {} runs, output to /dev/null\n", asked.size(), runs);
    bench::report("true (the floor under every figure)", bench::baseline());
    const bench::Run nm = bench::best_of(runs, {"nm", kernel});
    const bench::Run nm_n = bench::best_of(runs, {"nm", "-n", kernel});
    const bench::Run cold = bench::best_of(runs, kvmnm_cold);
    const bench::Run warm = bench::best_of(runs, kvmnm_warm);
    const bench::Run list = bench::best_of(runs, {tools + "/kvmnm", "-N", kernel});
    bench::report("nm FILE", nm);
    bench::report("nm -n FILE", nm_n);
    bench::report(fmt::format("kvmnm --no-index -N FILE <{} names>", asked.size()), cold);
    bench::report(fmt::format("kvmnm -N FILE <{} names> (index)", asked.size()), warm);
    bench::report("kvmnm -N FILE (lists all, as nm -n)", list);
    const auto ratio = [](const bench::Run& theirs, const bench::Run& ours) {
        return fmt::format("{:.2f}x the speed, {:.2f}x less peak memory", theirs.seconds / ours.seconds,
                           static_cast<double>(theirs.peak_kib) / static_cast<double>(ours.peak_kib));
    };
    fmt::print("kvmnm, no index, vs nm:   {}\n", ratio(nm, cold));
    fmt::print("kvmnm, index, vs nm:      {}\n", ratio(nm, warm));
    fmt::print("kvmnm listing vs nm -n:   {}\n", ratio(nm_n, list));
    const bool met = cold.seconds <= nm.seconds && cold.peak_kib < nm.peak_kib;
    fmt::print("target (no slower than nm, less peak memory, even without the index): {}\n", met ? "met" : "NOT met");
    return met ? 0 : 1;
}
