// kvmdump of 64 MiB of a real arm64 vmcore's linear map against xxd of the
// same bytes in a plain file (target: at least twice xxd's speed), and
// kvmps on that dump (time and peak memory).
//
//   build/bench/bench_arm64 [--dir DIR] [--bytes 64m] [--runs 3] [--work DIR]
//
// DIR is a dump made by tests/realdump/make-linux-vmcore.sh with
// REALDUMP_ARCH=arm64 (default: $REALDUMP_ARM64_DIR, else
// build/realdump-arm64).  The bytes are RAM past the kernel image, read by
// kvmdump through their linear-map address (a walk of the guest's own page
// tables from swapper_pg_dir: the dump has physical PT_LOADs only) and by
// xxd from a plain copy cut out of the ELF file.  kvmdump -r is checked to
// give exactly those bytes before anything is timed, from the ELF and the
// kdump file both.
#include <kvm/elf.h>
#include <kvm/expr.h>
#include <kvm/io.h>
#include <kvm/linux.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_util.h"

#include <fstream>
#include <sstream>

namespace {

// NUMBER(name) of the guest's VMCOREINFO (truth/vmcoreinfo.txt).
std::optional<std::uint64_t> vmcoreinfo_number(const std::string& dir, const std::string& name) {
    std::ifstream in(dir + "/truth/vmcoreinfo.txt");
    std::ostringstream text;
    text << in.rdbuf();
    return kvm::linux_kernel::VmcoreInfo::parse(text.str()).unsigned_number(name);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kvmdump of an arm64 vmcore's linear map against xxd, and kvmps on it"};
    const char* env_dir = std::getenv("REALDUMP_ARM64_DIR");
    std::string dir = env_dir != nullptr && *env_dir != '\0' ? env_dir : "build/realdump-arm64";
    std::string bytes_text = "64m";
    int runs = 3;
    std::string work;
    app.add_option("--dir", dir, "the arm64 realdump directory");
    app.add_option("--bytes", bytes_text, "bytes to dump (k/m/g)");
    app.add_option("--runs", runs, "runs of each command; the fastest counts");
    app.add_option("--work", work, "directory for the plain file (default: a temporary one)");
    CLI11_PARSE(app, argc, argv);

    if (!bench::on_path("xxd")) {
        fmt::print(stderr, "bench_arm64: xxd is not installed (scripts/setup-deps.sh)\n");
        return 1;
    }
    const std::string elf_core = dir + "/vmcore.elf";
    const std::string kdump_core = dir + "/vmcore.kdump";
    const std::string system_map = dir + "/System.map";
    for (const std::string& f : {elf_core, kdump_core, system_map})
        if (!std::filesystem::exists(f)) {
            fmt::print(stderr, "bench_arm64: {} is missing (REALDUMP_ARCH=arm64 tests/realdump/make-linux-vmcore.sh)\n",
                       f);
            return 1;
        }
    const std::uint64_t size = kvm::parse_length(bytes_text);
    const std::string tools = bench::tools_dir(argv[0]);
    const bench::WorkDir wd(work);
    if (!wd) return 1;
    const std::string plain = wd / "plain.bin";

    // The linear map: va = PAGE_OFFSET + (pa - PHYS_OFFSET), PAGE_OFFSET
    // -(1 << VA_BITS) (Linux 5.4 and later).  The bytes start 48 MiB into
    // RAM, past the kernel image.
    const auto va_bits = vmcoreinfo_number(dir, "VA_BITS");
    const auto phys_offset = vmcoreinfo_number(dir, "PHYS_OFFSET");
    if (!va_bits || !phys_offset) {
        fmt::print(stderr, "bench_arm64: {}/truth/vmcoreinfo.txt has no NUMBER(VA_BITS) or NUMBER(PHYS_OFFSET)\n", dir);
        return 1;
    }
    constexpr std::uint64_t skip = 48u << 20;
    const std::uint64_t pa = *phys_offset + skip;
    const std::uint64_t va = (~std::uint64_t{0} << *va_bits) + skip;
    // Cut out in a child, so that this process stays small (bench_util.h).
    if (!bench::in_child([&] {
            const kvm::elf::File vmcore(kvm::open_file(elf_core));
            const kvm::elf::Segment* ram = nullptr;
            for (const auto& s : vmcore.segments())
                if (s.type == kvm::elf::pt_load && s.paddr <= pa && pa + size <= s.paddr + s.filesz) ram = &s;
            if (ram == nullptr) {
                fmt::print(stderr, "bench_arm64: no PT_LOAD of {} holds {:#x} bytes at pa {:#x}\n", elf_core, size, pa);
                return false;
            }
            const kvm::Bytes b = vmcore.source().read_bytes(ram->offset + (pa - ram->paddr), size, "vmcore RAM");
            std::ofstream out(plain, std::ios::binary);
            out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
            return out.good();
        }))
        return 1;
    const std::string length = fmt::format("{:#x}", size);
    const std::string address = fmt::format("{:#x}", va);
    const std::string raw = wd / "raw.bin";
    for (const std::string& core : {elf_core, kdump_core}) {
        if (bench::run({tools + "/kvmdump", "-N", system_map, "-M", core, "-r", "-n", length, address}, raw).status !=
                0 ||
            !bench::same_bytes(raw, plain)) {
            fmt::print(stderr, "bench_arm64: kvmdump -r -M {} {} did not give the bytes at pa {:#x}\n", core, address,
                       pa);
            return 1;
        }
    }
    std::filesystem::remove(raw);

    fmt::print(
        "{} MiB of {}'s RAM from pa {:#x}, read by kvmdump at linear-map address {}; best of {} runs, "
        "output to /dev/null\n",
        size >> 20, elf_core, pa, address, runs);
    bench::report("true (the floor under every figure)", bench::baseline());
    const bench::Run xxd = bench::best_of(runs, {"xxd", plain});
    const bench::Run elf_dump =
        bench::best_of(runs, {tools + "/kvmdump", "-N", system_map, "-M", elf_core, "-n", length, address});
    const bench::Run kdump_dump =
        bench::best_of(runs, {tools + "/kvmdump", "-N", system_map, "-M", kdump_core, "-n", length, address});
    bench::report("xxd FILE", xxd);
    bench::report("kvmdump -M vmcore.elf -n SIZE VA", elf_dump);
    bench::report("kvmdump -M vmcore.kdump -n SIZE VA", kdump_dump);
    const double ratio = xxd.seconds / elf_dump.seconds;
    fmt::print("kvmdump (ELF) vs xxd: {:.1f}x the speed; kvmdump (kdump, zlib) vs xxd: {:.1f}x\n", ratio,
               xxd.seconds / kdump_dump.seconds);
    fmt::print("target (at least 2x xxd from the ELF core): {} ({:.1f}x)\n", ratio >= 2 ? "met" : "NOT met", ratio);

    fmt::print("\nkvmps on the same dump (every process, arguments from the user pages)\n");
    for (const std::string& core : {elf_core, kdump_core}) {
        const bench::Run ps = bench::best_of(runs, {tools + "/kvmps", "-N", system_map, "-M", core});
        bench::report(fmt::format("kvmps -M {}", std::filesystem::path(core).filename().string()), ps);
    }
    return ratio >= 2 ? 0 : 1;
}
