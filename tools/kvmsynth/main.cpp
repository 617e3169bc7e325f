// kvmsynth: makes a synthetic NetBSD crash (kernel file plus a dump on a
// swap image, a raw device dump or a kcore file) for the demo and the CLI
// tests.  --facts writes what the builder knows, so tests compare tool
// output with values that did not come from the tools.  --procs plants a
// process tree through the shipped NetBSD 10 layouts (or --layout).
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_klog.h>
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
    bool msgbuf = false;
    std::uint64_t msgbuf_size = 16384;
    std::string msgbuf_text, msgbuf_fault;
};

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
                 const std::optional<kvm::synth::PlantedProcesses>& procs,
                 const std::optional<kvm::synth::PlantedMsgbuf>& msgbuf) {
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
    if (msgbuf)
        out.print("sym.msgbufp={:#x}\nmsgbuf={:#x}\nmsgbuf.bufx={}\nmsgbuf.bufr={}\nmsgbuf.bufs={}\n", msgbuf->msgbufp,
                  msgbuf->address, msgbuf->bufx, msgbuf->bufr, msgbuf->bufs);
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
    app.add_flag("--msgbuf", o.msgbuf, "plant a kernel message buffer (msgbufp) holding a boot log");
    app.add_option("--msgbuf-size", o.msgbuf_size, "ring bytes of the message buffer (default 16384)");
    app.add_option("--msgbuf-text", o.msgbuf_text, "write this file's bytes into the message buffer instead");
    app.add_option("--msgbuf-fault", o.msgbuf_fault,
                   "corrupt the message buffer: bad-magic, bufx-past-end or bufr-past-end")
        ->check(CLI::IsMember({"bad-magic", "bufx-past-end", "bufr-past-end"}));
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
        std::optional<kvm::synth::PlantedMsgbuf> msgbuf;
        if (o.msgbuf || !o.msgbuf_text.empty() || !o.msgbuf_fault.empty()) {
            kvm::synth::MsgbufSpec buf{.size = o.msgbuf_size, .text = kvm::synth::netbsd_boot_log()};
            if (!o.msgbuf_text.empty())
                buf.text = std::string(kvm::as_chars(kvm::read_whole_file(o.msgbuf_text, 64u << 20)));
            if (o.msgbuf_fault == "bad-magic") buf.magic = 0x0bad0bad;
            if (o.msgbuf_fault == "bufx-past-end") buf.bufx = o.msgbuf_size + 5;
            if (o.msgbuf_fault == "bufr-past-end") buf.bufr = ~std::uint64_t{0};
            msgbuf = kvm::synth::plant_msgbuf(m, planting_layouts(o), buf);
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
        if (!o.facts.empty()) write_facts(o.facts, m, dumplo, segments, procs, msgbuf);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmsynth: {}\n", e.what());
        return 1;
    }
    return 0;
}
