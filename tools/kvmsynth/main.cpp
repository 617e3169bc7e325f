// kvmsynth: makes a synthetic NetBSD crash (kernel file plus a dump on a
// swap image, a raw device dump or a kcore file) for the demo and the CLI
// tests; its memory also as a kdump-compressed file (any codec, split,
// flattened, with pages excluded) and as a plain physical image, so that
// physical reads of the kdump file can be checked against dd.  --facts writes what the builder knows, so tests compare
// tool output with values that did not come from the tools.  --procs plants a process tree through the shipped NetBSD
// 10 layouts (or --layout).
#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <fmt/format.h>
#include <fmt/os.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace {

struct Options {
    std::string arch = "amd64";
    bool pae = false;
    std::uint64_t seed = 1;
    bool sparse = false;
    bool zero_memory = false;
    std::size_t extra_functions = 0;
    std::string kernel, swap, kcore, device_dump, facts;
    std::uint64_t swap_size = 0;
    std::int64_t crash_time = 0;
    std::uint64_t ram_end = 0;
    bool procs = false;
    std::string layout, procs_fault;
    std::size_t procs_fault_at = 0;
    std::string kdump, phys_image;
    std::vector<std::string> kdump_codecs{"zlib"};
    std::size_t kdump_split = 0;
    bool kdump_flat = false;
    std::vector<std::uint64_t> kdump_exclude;
    std::int32_t kdump_dump_level = 1;
};

// What makedumpfile -F writes again at the end of a flattened file.
constexpr std::size_t kdump_header_size = 464;

// The memory of the dumped segments as kdump-compressed file(s): FILE, or
// FILE.1 ... FILE.N when split.
void write_kdump(const Options& o, const kvm::synth::CrashedMachine& m,
                 const std::vector<kvm::netbsd::RamSegment>& segments) {
    std::vector<std::string> codecs = o.kdump_codecs;
    if (codecs == std::vector<std::string>{"none"}) codecs.clear();
    const auto w =
        kvm::synth::kdump_writer(m.memory(), segments,
                                 {.machine = m.arch().name == "amd64" ? "x86_64" : std::string(m.arch().name),
                                  .dump_level = o.kdump_dump_level,
                                  .codecs = codecs},
                                 o.kdump_exclude);
    const auto write = [&](const std::string& path, const kvm::Bytes& file) {
        kvm::synth::write_file(path, o.kdump_flat ? kvm::synth::flatten(file, 1u << 20, kdump_header_size) : file);
    };
    if (o.kdump_split == 0) {
        write(o.kdump, w.build());
        return;
    }
    const std::vector<kvm::Bytes> parts = w.build_split(o.kdump_split);
    for (std::size_t i = 0; i < parts.size(); ++i)
        write(fmt::format("{}.{}", o.kdump, i + 1), parts[i]);
}

// Physical memory as a file whose offset is the physical address: RAM
// outside the dumped segments, and holes, are zeros.
void write_phys_image(const std::string& path, const kvm::synth::CrashedMachine& m,
                      const std::vector<kvm::netbsd::RamSegment>& segments) {
    std::uint64_t end = 0;
    for (const auto& s : segments)
        end = std::max(end, s.start + s.size);
    kvm::Bytes image(end);
    for (const auto& s : segments)
        m.memory().read(s.start, kvm::MutableByteSpan(image.data() + s.start, s.size));
    kvm::synth::write_file(path, image);
}

// The default layout's RAM segments, with the last one grown so that RAM
// ends at `end` (big dumps for savecore's tests and benchmark).
std::vector<kvm::netbsd::RamSegment> ram_ending_at(const std::string& arch, std::uint64_t end) {
    const std::uint64_t last = arch == "amd64" ? 0x1000000 : 0x1400000;
    if (end % 4096 != 0 || end < last + (16u << 20))
        throw kvm::Error(kvm::ErrorKind::usage,
                         fmt::format("--ram-end {:#x}: not page-aligned, or below {:#x}", end, last + (16u << 20)));
    if (arch == "amd64") return {{0x1000, 0x9e000}, {0x100000, 0xd00000}, {last, end - last}};
    return {{0x1000, 0x9e000}, {0x100000, 0xf00000}, {last, end - last}};
}

kvm::StructLayouts planting_layouts(const Options& o) {
    if (!o.layout.empty()) return kvm::load_layouts_file(o.layout);
    const auto dirs = kvm::shipped_layout_dirs();
    const auto file = kvm::find_shipped_layout(dirs, "netbsd", "10", o.arch);
    if (!file)
        throw kvm::Error(kvm::ErrorKind::not_found, "no shipped netbsd-10-" + o.arch + ".json layout (give --layout)");
    return kvm::load_layouts_file(*file);
}

void write_facts(const std::string& path, const kvm::synth::CrashedMachine& m, std::uint64_t dumplo,
                 const std::vector<kvm::netbsd::RamSegment>& segments,
                 const std::optional<kvm::synth::PlantedProcesses>& procs) {
    auto out = fmt::output_file(path);
    out.print("arch={}\ntranslator={}\npt_root={:#x}\n", m.arch().name, m.translator(), m.pt_root());
    out.print("dumplo={}\n", dumplo);
    std::uint64_t pages = 0;
    for (const auto& s : segments)
        pages += s.size / m.arch().page_size;
    out.print("dumpsize={}\nsegments={}\n", pages, segments.size());
    out.print("crash_time={}\n", m.spec().crash_time);
    for (const char* name :
         {"version", "dumpmag", "dumpsize", "dumplo", "dumpdev", "time_second", "panicstr", "panic", "main", "physmem"})
        out.print("sym.{}={:#x}\n", name, m.symbol(name));
    if (procs) {
        out.print("nprocs={}\n", procs->nprocs);
        for (const auto& [pid, address] : procs->proc)
            out.print("proc.{}={:#x}\n", pid, address);
        for (const auto& [key, address] : procs->lwp)
            out.print("lwp.{}.{}={:#x}\n", key.first, key.second, address);
        for (std::size_t i = 0; i < procs->allproc.size(); ++i)
            out.print("allproc.{}={:#x}\n", i, procs->allproc[i]);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"make a synthetic NetBSD crash dump (developer tool)", "kvmsynth"};
    Options o;
    app.add_option("--arch", o.arch, "amd64 or i386")->check(CLI::IsMember({"amd64", "i386"}));
    app.add_flag("--pae", o.pae, "i386 with PAE paging");
    app.add_option("--seed", o.seed, "layout and content seed");
    app.add_flag("--sparse", o.sparse, "dump only the pages the kernel wrote");
    app.add_flag("--zero-memory", o.zero_memory, "unwritten RAM is zero instead of realistic");
    app.add_option("--extra-functions", o.extra_functions, "extra text symbols");
    app.add_option("--kernel", o.kernel, "write the kernel (namelist) here")->required();
    app.add_option("--swap", o.swap, "write a swap partition image with the dump at its end");
    app.add_option("--swap-size", o.swap_size, "swap image size in bytes (default: dump + 4 MiB)");
    app.add_option("--kcore", o.kcore, "write a savecore'd core file");
    app.add_option("--device-dump", o.device_dump, "write the raw dump as the kernel writes it at dumplo");
    app.add_option("--facts", o.facts, "write known values (key=value) here");
    app.add_option("--crash-time", o.crash_time, "time_second at the crash (default: the builder's fixed time)");
    app.add_option("--ram-end", o.ram_end, "RAM ends at this physical address (default: about 20 MiB)");
    app.add_flag("--procs", o.procs, "plant the default process tree (allproc, zombproc, nprocs)");
    app.add_option("--layout", o.layout, "plant through this layout file instead of the shipped one");
    app.add_option("--procs-fault", o.procs_fault, "corrupt the planted lists: cycle, bad-pointer or short-count")
        ->check(CLI::IsMember({"cycle", "bad-pointer", "short-count"}));
    app.add_option("--procs-fault-at", o.procs_fault_at, "the allproc entry (or nprocs value) of --procs-fault");
    app.add_option("--kdump", o.kdump, "write the dumped memory as a kdump-compressed file (amd64)");
    app.add_option("--kdump-codecs", o.kdump_codecs, "page compressions taken in turn: zlib, lzo, snappy, zstd; none")
        ->delimiter(',');
    app.add_option("--kdump-split", o.kdump_split, "write --kdump as this many files of a split dump, FILE.1 ...");
    app.add_flag("--kdump-flat", o.kdump_flat, "write --kdump in makedumpfile's flattened format");
    app.add_option("--kdump-exclude", o.kdump_exclude, "pfns left out of --kdump, as a dump level leaves them")
        ->delimiter(',');
    app.add_option("--kdump-dump-level", o.kdump_dump_level, "the dump level --kdump's sub-header gives");
    app.add_option("--phys-image", o.phys_image,
                   "write the dumped memory as a file whose offsets are physical addresses");
    CLI11_PARSE(app, argc, argv);

    try {
        kvm::synth::MachineSpec spec{.arch = o.arch,
                                     .pae = o.pae,
                                     .seed = o.seed,
                                     .realistic_memory = !o.zero_memory,
                                     .extra_functions = o.extra_functions};
        if (o.crash_time != 0) spec.crash_time = o.crash_time;
        if (o.ram_end != 0) spec.ram = ram_ending_at(o.arch, o.ram_end);
        kvm::synth::CrashedMachine m(std::move(spec));
        std::optional<kvm::synth::PlantedProcesses> procs;
        if (o.procs) {
            const kvm::StructLayouts layouts = planting_layouts(o);
            procs = kvm::synth::plant_processes(m, layouts, kvm::synth::default_process_tree());
            if (!o.procs_fault.empty()) {
                const auto fault = o.procs_fault == "cycle"         ? kvm::synth::ListFault::cycle
                                   : o.procs_fault == "bad-pointer" ? kvm::synth::ListFault::bad_pointer
                                                                    : kvm::synth::ListFault::short_count;
                kvm::synth::plant_list_fault(m, layouts, *procs, fault, o.procs_fault_at);
            }
        }
        const kvm::synth::DumpOptions dump{.sparse = o.sparse};
        std::uint64_t dumplo = 0;
        if (!o.swap.empty()) dumplo = m.write_swap_image(o.swap, dump, o.swap_size);
        const auto segments = m.prepare_dump(dump, static_cast<std::int64_t>(dumplo));
        if (!o.kcore.empty()) {
            auto out = kvm::create_file_sink(o.kcore);
            m.write_kcore(*out, segments);
            out->finish();
        }
        if (!o.kdump.empty()) write_kdump(o, m, segments);
        if (!o.phys_image.empty()) write_phys_image(o.phys_image, m, segments);
        if (!o.device_dump.empty()) {
            auto out = kvm::create_file_sink(o.device_dump);
            m.write_device_dump(*out, segments);
            out->finish();
        }
        // The kernel file last: its data holds the initial values.
        kvm::synth::write_file(o.kernel, m.kernel_elf());
        if (!o.facts.empty()) write_facts(o.facts, m, dumplo, segments, procs);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmsynth: {}\n", e.what());
        return 1;
    }
    return 0;
}
