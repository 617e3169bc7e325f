// kvmsynth: makes a synthetic NetBSD crash (kernel file plus a dump on a
// swap image, a raw device dump or a kcore file) for the demo and the CLI
// tests.  --facts writes what the builder knows, so tests compare tool
// output with values that did not come from the tools.  --procs plants a
// process tree through the shipped NetBSD 10 layouts (or --layout).
// --bsd-device wraps a body (any file) into a FreeBSD or DragonFly dump
// device image: leader, key area, body, trailer (see make_bsd_device).
#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_kerneldump.h>
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
};

// --bsd-device: a FreeBSD or DragonFly dump device around a body.
struct BsdDeviceOptions {
    std::string device, body, os = "freebsd", compress = "none";
    std::uint32_t version = 0;  // 0: 4 for FreeBSD, 1 for DragonFly
    bool textdump = false;
    bool encrypt = false;
    std::uint64_t extent = 0;
    std::uint64_t device_size = 0;
    std::uint64_t max_body = std::uint64_t{4} << 30;
};

// Writes the device and, with `facts`, where its parts are.
void make_bsd_device(const BsdDeviceOptions& b, const std::string& facts) {
    kvm::synth::DumpDeviceSpec spec;
    if (b.os == "dragonfly") {
        spec.header = kvm::synth::dragonfly_header();
        if (b.textdump) spec.header.magic = std::string(kvm::kerneldump::dragonfly_text_magic);
        if (b.version != 0) spec.header.version = b.version;
    } else {
        const std::uint32_t version = b.version != 0 ? b.version : 4;
        spec.header = b.textdump ? kvm::synth::freebsd_text_header(version) : kvm::synth::freebsd_header(version);
    }
    kvm::Bytes body;
    if (!b.body.empty()) {
        body = kvm::read_whole_file(b.body, b.max_body);
    } else if (b.textdump) {
        body = kvm::synth::ustar_archive(kvm::synth::textdump_files(spec.header),
                                         static_cast<std::int64_t>(spec.header.dumptime));
    } else {
        throw kvm::Error(kvm::ErrorKind::usage, "--bsd-device needs --body (or --textdump)");
    }
    if (b.compress == "gzip") {
        body = kvm::synth::gzip_body(body);
        spec.header.compression = 1;
    } else if (b.compress == "zstd") {
        body = kvm::synth::zstd_body(body);
        spec.header.compression = 2;
    }
    if (b.encrypt) spec.key = kvm::synth::sample_key_area(spec.header.blocksize);
    spec.extent = b.extent;
    spec.device_size = b.device_size;
    auto out = kvm::create_file_sink(b.device);
    const kvm::MemorySource source(std::move(body), b.body.empty() ? "textdump" : b.body);
    const kvm::synth::DumpDeviceLayout l = kvm::synth::write_dump_device(spec, source, *out);
    out->finish();
    if (facts.empty()) return;
    auto f = fmt::output_file(facts);
    f.print("leader={}\nkey={}\nkey_size={}\nbody={}\nbody_size={}\ntrailer={}\nsize={}\n", l.leader, l.key, l.key_size,
            l.body, l.body_size, l.trailer, l.size);
    f.print("version={}\nmagic={}\ndumptime={}\nhostname={}\nparity={}\n", spec.header.version, spec.header.magic,
            spec.header.dumptime, spec.header.hostname, kvm::kerneldump::decode(l.header).parity);
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
    BsdDeviceOptions bsd;
    app.add_option("--arch", o.arch, "amd64 or i386")->check(CLI::IsMember({"amd64", "i386"}));
    app.add_flag("--pae", o.pae, "i386 with PAE paging");
    app.add_option("--seed", o.seed, "layout and content seed");
    app.add_flag("--sparse", o.sparse, "dump only the pages the kernel wrote");
    app.add_flag("--zero-memory", o.zero_memory, "unwritten RAM is zero instead of realistic");
    app.add_option("--extra-functions", o.extra_functions, "extra text symbols");
    app.add_option("--kernel", o.kernel, "write the kernel (namelist) here");
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
    app.add_option("--bsd-device", bsd.device, "write a FreeBSD or DragonFly dump device around --body");
    app.add_option("--body", bsd.body, "--bsd-device: the body (a vmcore of any format, or a textdump's tar)");
    app.add_option("--bsd-os", bsd.os, "--bsd-device: freebsd (default) or dragonfly")
        ->check(CLI::IsMember({"freebsd", "dragonfly"}));
    app.add_option("--header-version", bsd.version, "--bsd-device: kerneldumpheader version 1-4")
        ->check(CLI::Range(1, 4));
    app.add_flag("--textdump", bsd.textdump, "--bsd-device: a textdump (default body: a known tar archive)");
    app.add_option("--bsd-compress", bsd.compress, "--bsd-device: compress the body: none, gzip or zstd")
        ->check(CLI::IsMember({"none", "gzip", "zstd"}));
    app.add_flag("--encrypt", bsd.encrypt, "--bsd-device: add a key area (the body is stored as given)");
    app.add_option("--extent", bsd.extent, "--bsd-device: room for the body (v3, v4)");
    app.add_option("--device-size", bsd.device_size, "--bsd-device: the device size in bytes");
    CLI11_PARSE(app, argc, argv);

    if (!bsd.device.empty()) {
        try {
            make_bsd_device(bsd, o.facts);
        } catch (const kvm::Error& e) {
            fmt::print(stderr, "kvmsynth: {}\n", e.what());
            return 1;
        }
        return 0;
    }
    if (o.kernel.empty()) {
        fmt::print(stderr, "kvmsynth: --kernel is required\n");
        return 1;
    }

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
