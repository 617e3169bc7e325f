// kvmsynth: makes a synthetic crash (kernel file plus a dump) for the demo
// and the CLI tests: NetBSD's on a swap image, a raw device dump or a
// kcore file; FreeBSD's and DragonFly's vmcore body (--os, --vmcore), a
// minidump of --minidump-version or with --full a full ELF dump.  --facts
// writes what the builder knows, so tests compare tool output with values
// that did not come from the tools.  --kdump writes a NetBSD crash's memory
// also as a kdump-compressed file (any codec, split, flattened, with pages
// excluded) and --phys-image as a plain physical image, so that physical
// reads of the kdump file can be checked against dd.  --procs plants the system's process
// tree through its shipped layouts (NetBSD 10, FreeBSD 14, DragonFly 5.8)
// or --layout, --modules its loaded modules (NetBSD's module_list,
// FreeBSD's and DragonFly's linker_files).  --bsd-device wraps a body (any file) into a FreeBSD or
// DragonFly dump device image: leader, key area, body, trailer (see
// make_bsd_device).
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/layout.h>
#include <kvm/synth.h>
#include <kvm/synth_kerneldump.h>
#include <kvm/synth_klog.h>
#include <kvm/synth_modules.h>
#include <kvm/synth_procs.h>

#include <fmt/format.h>
#include <fmt/os.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace {

struct Options {
    std::string os = "netbsd";
    std::string vmcore;
    std::uint32_t minidump_version = 0;
    std::uint32_t page_size = 0;
    bool full = false;
    bool all_ram = false;
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
    bool arguments = false;
    bool modules = false;
    std::string layout, procs_fault;
    std::size_t procs_fault_at = 0;
    std::string kdump, phys_image;
    std::vector<std::string> kdump_codecs{"zlib"};
    std::size_t kdump_split = 0;
    bool kdump_flat = false;
    std::vector<std::uint64_t> kdump_exclude;
    std::int32_t kdump_dump_level = 1;
    bool msgbuf = false;
    std::uint64_t msgbuf_size = 16384;
    std::string msgbuf_text, msgbuf_fault;
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
    const std::string release = o.os == "netbsd" ? "10" : o.os == "freebsd" ? "14" : "5";
    const auto file = kvm::find_shipped_layout(kvm::shipped_layout_dirs(), o.os, release, o.arch);
    if (!file)
        throw kvm::Error(kvm::ErrorKind::not_found,
                         fmt::format("no shipped {}-{}-{}.json layout (give --layout)", o.os, release, o.arch));
    return kvm::load_layouts_file(*file);
}

// The system's tree, planted as its kernel keeps it: FreeBSD's zombies on
// zombproc when the machine's era has one, else in the pid hash alone.
kvm::synth::PlantedProcesses plant_bsd_tree(kvm::synth::CrashedMachine& m, const Options& o) {
    const kvm::StructLayouts layouts = planting_layouts(o);
    if (o.os == "dragonfly")
        return kvm::synth::plant_dragonfly_processes(m, layouts, kvm::synth::dragonfly::process_tree());
    bool zombproc = true;
    try {
        (void)m.symbol("zombproc");
    } catch (const kvm::Error&) {
        zombproc = false;
    }
    return kvm::synth::plant_freebsd_processes(m, layouts, kvm::synth::freebsd::process_tree(), {.zombproc = zombproc});
}

void write_procs_facts(fmt::ostream& out, const kvm::synth::PlantedProcesses& procs) {
    out.print("nprocs={}\n", procs.nprocs);
    for (const auto& [pid, address] : procs.proc)
        out.print("proc.{}={:#x}\n", pid, address);
    for (const auto& [key, address] : procs.lwp)
        out.print("lwp.{}.{}={:#x}\n", key.first, key.second, address);
    for (std::size_t i = 0; i < procs.allproc.size(); ++i)
        out.print("allproc.{}={:#x}\n", i, procs.allproc[i]);
}

void write_facts(const std::string& path, const kvm::synth::CrashedMachine& m, std::uint64_t dumplo,
                 const std::vector<kvm::netbsd::RamSegment>& segments,
                 const std::optional<kvm::synth::PlantedProcesses>& procs,
                 const std::optional<kvm::synth::PlantedMsgbuf>& msgbuf,
                 const std::optional<kvm::synth::PlantedNetbsdModules>& modules) {
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
    if (procs) write_procs_facts(out, *procs);
    if (msgbuf)
        out.print("sym.msgbufp={:#x}\nmsgbuf={:#x}\nmsgbuf.bufx={}\nmsgbuf.bufr={}\nmsgbuf.bufs={}\n", msgbuf->msgbufp,
                  msgbuf->address, msgbuf->bufx, msgbuf->bufr, msgbuf->bufs);
    if (modules) {
        out.print("module_list={:#x}\n", modules->head);
        for (std::size_t i = 0; i < modules->module.size(); ++i)
            out.print("module.{}={:#x}\nmodule.{}.text={:#x}\n", i, modules->module[i], i, modules->text[i]);
    }
}

// --msgbuf-fault on a FreeBSD or DragonFly machine's struct msgbuf: a bad
// magic, or a write position past the ring (FreeBSD: msg_wseq past
// msg_seqmod; DragonFly: msg_bufx past the ring, or with free-running
// indexes msg_bufr more than a ring behind it), or a read position past it.
void damage_bsd_msgbuf(kvm::synth::CrashedMachine& m, const std::string& fault) {
    if (fault.empty()) return;
    const auto& buf = m.message_buffer();
    const bool freebsd = m.spec().os == "freebsd";
    const bool free_running = !freebsd && m.spec().dragonfly_pcb_cr3 != 0;
    if (fault == "bad-magic") m.set_msgbuf_field("msg_magic", 0x0bad0bad);
    if (fault == "bufx-past-end") {
        if (freebsd) m.set_msgbuf_field("msg_wseq", 16 * buf.size + 5);
        if (!freebsd && free_running) m.set_msgbuf_field("msg_bufr", buf.written - buf.size - 5);
        if (!freebsd && !free_running) m.set_msgbuf_field("msg_bufx", buf.size + 5);
    }
    if (fault == "bufr-past-end") m.set_msgbuf_field(freebsd ? "msg_rseq" : "msg_bufr", 0xffffffff);
}

// What the builder knows of a FreeBSD or DragonFly machine.
void write_bsd_facts(const std::string& path, const kvm::synth::CrashedMachine& m,
                     const std::optional<kvm::synth::PlantedProcesses>& procs,
                     const std::optional<kvm::synth::PlantedLinkerFiles>& files) {
    auto out = fmt::output_file(path);
    out.print("os={}\narch={}\ntranslator={}\n", m.spec().os, m.arch().name, m.translator());
    if (!m.translator().empty()) out.print("pt_root={:#x}\n", m.pt_root());
    out.print("page_size={}\nminidump_version={}\ncrash_time={}\n", m.page_size(), m.spec().minidump_version,
              m.spec().crash_time);
    for (const char* name :
         {"kernbase",    "version",    "ostype",  "osrelease", "btext",     "panic",         "doadump",   "panicstr",
          "time_second", "nprocs",     "msgbufp", "dumppcb",   "KPML4phys", "IdlePTD",       "IdlePDPT",  "allproc",
          "zombproc",    "pidhashtbl", "pidhash", "dumptid",   "allprocs",  "allproc_hsize", "dumpthread"}) {
        try {
            out.print("sym.{}={:#x}\n", name, m.symbol(name));
        } catch (const kvm::Error&) {  // NOLINT(bugprone-empty-catch): not a variable of this OS or era
        }
    }
    const std::uint64_t message = m.read_uint(m.symbol("panicstr"), m.arch().pointer_size);
    out.print("panic_text={}\npanic_message={:#x}\npanic_message.pa={:#x}\n", m.spec().panic, message,
              m.virt_to_phys(message));
    try {
        out.print("panic_message.dmap={:#x}\n", m.direct_map(m.virt_to_phys(message)));
    } catch (const kvm::Error&) {  // NOLINT(bugprone-empty-catch): i386 has no direct map
    }
    const auto& msgbuf = m.message_buffer();
    out.print(
        "msgbuf.struct={:#x}\nmsgbuf.ring={:#x}\nmsgbuf.size={:#x}\nmsgbuf.write_offset={:#x}\nmsgbuf.written={}\n",
        msgbuf.msgbufp, msgbuf.ring, msgbuf.size, msgbuf.write_offset, msgbuf.written);
    if (procs) write_procs_facts(out, *procs);
    if (files) {
        out.print("linker_files={:#x}\n", files->head);
        for (std::size_t i = 0; i < files->file.size(); ++i)
            out.print("linker_file.{}={:#x}\nlinker_file.{}.address={:#x}\n", i, files->file[i], i, files->address[i]);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"make a synthetic crash dump (a developer tool for the tests and the demo; not installed)",
                 "kvmsynth"};
    app.set_version_flag("--version", "kvmsynth (kvmkit) " KVMKIT_VERSION);
    Options o;
    BsdDeviceOptions bsd;
    app.add_option("--os", o.os, "netbsd, freebsd or dragonfly")
        ->check(CLI::IsMember({"netbsd", "freebsd", "dragonfly"}));
    app.add_option("--arch", o.arch, "amd64, i386 or (freebsd) arm64")
        ->check(CLI::IsMember({"amd64", "i386", "arm64"}));
    app.add_option("--vmcore", o.vmcore, "freebsd, dragonfly: write the vmcore body (a minidump, or --full) here");
    app.add_option("--minidump-version", o.minidump_version,
                   "freebsd, dragonfly: the minidump version (default: newest)");
    app.add_option("--page-size", o.page_size, "arm64: 4096 or 16384 (minidump version 3)");
    app.add_flag("--full", o.full, "freebsd, dragonfly: a full ELF dump instead of a minidump");
    app.add_flag("--all-ram", o.all_ram, "freebsd, dragonfly: the minidump holds every page of RAM");
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
    app.add_flag("--procs", o.procs, "plant the system's default process tree");
    app.add_flag("--arguments", o.arguments,
                 "with --procs (NetBSD amd64 and i386): plant each user process's arguments and environment "
                 "in its own address space");
    app.add_flag("--modules", o.modules,
                 "plant the system's default modules (module_list; FreeBSD's and DragonFly's linker_files)");
    app.add_option("--layout", o.layout, "plant through this layout file instead of the shipped one");
    app.add_option("--procs-fault", o.procs_fault,
                   "corrupt the planted lists: cycle, bad-pointer, short-count or overlap")
        ->check(CLI::IsMember({"cycle", "bad-pointer", "short-count", "overlap"}));
    app.add_option("--procs-fault-at", o.procs_fault_at,
                   "the allproc entry (or nprocs value, or overlapping processes) of --procs-fault");
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
    app.add_flag("--msgbuf", o.msgbuf, "plant a kernel message buffer (msgbufp) holding a boot log");
    app.add_option("--msgbuf-size", o.msgbuf_size,
                   "ring bytes of the message buffer (default 16384; FreeBSD, DragonFly: 24320)");
    app.add_option("--msgbuf-text", o.msgbuf_text, "write this file's bytes into the message buffer instead");
    app.add_option("--msgbuf-fault", o.msgbuf_fault,
                   "corrupt the message buffer: bad-magic, bufx-past-end or bufr-past-end")
        ->check(CLI::IsMember({"bad-magic", "bufx-past-end", "bufr-past-end"}));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        fmt::print(stderr,
                   "kvmsynth: {}\nusage: kvmsynth --kernel file [--swap file] [--kcore file] [options] "
                   "(kvmsynth --help lists them)\n",
                   e.what());
        return 2;
    }
    const bool msgbuf_size_given = app.count("--msgbuf-size") > 0;

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
                                     .extra_functions = o.extra_functions,
                                     .os = o.os,
                                     .page_size = o.page_size,
                                     .minidump_version = o.minidump_version};
        if (o.crash_time != 0) spec.crash_time = o.crash_time;
        if (o.os != "netbsd") {
            if (!o.swap.empty() || !o.kcore.empty() || !o.device_dump.empty() || !o.procs_fault.empty() ||
                o.ram_end != 0 || o.arguments)
                throw kvm::Error(kvm::ErrorKind::usage,
                                 "--swap, --kcore, --device-dump, --procs-fault, --ram-end and "
                                 "--arguments make NetBSD dumps");
            if (o.vmcore.empty()) throw kvm::Error(kvm::ErrorKind::usage, "--os " + o.os + " needs --vmcore");
            if (!o.msgbuf_text.empty())
                spec.msgbuf_text = std::string(kvm::as_chars(kvm::read_whole_file(o.msgbuf_text, 64u << 20)));
            if (msgbuf_size_given) spec.msgbuf_size = o.msgbuf_size;
            kvm::synth::CrashedMachine m(std::move(spec));
            damage_bsd_msgbuf(m, o.msgbuf_fault);
            std::optional<kvm::synth::PlantedProcesses> procs;
            if (o.procs) procs = plant_bsd_tree(m, o);
            std::optional<kvm::synth::PlantedLinkerFiles> files;
            if (o.modules)
                files = kvm::synth::plant_linker_files(m, planting_layouts(o), kvm::synth::default_linker_files(o.os));
            kvm::synth::write_sparse_file(o.vmcore, [&](kvm::Sink& out) {
                if (o.full) {
                    m.write_full_dump(out);
                } else {
                    m.write_minidump(out, {.all_ram = o.all_ram});
                }
            });
            kvm::synth::write_file(o.kernel, m.kernel_elf());
            if (!o.facts.empty()) write_bsd_facts(o.facts, m, procs, files);
            return 0;
        }
        if (!o.vmcore.empty() || o.full || o.all_ram)
            throw kvm::Error(kvm::ErrorKind::usage, "--vmcore, --full and --all-ram make FreeBSD and DragonFly dumps");
        if (o.ram_end != 0) spec.ram = ram_ending_at(o.arch, o.ram_end);
        kvm::synth::CrashedMachine m(std::move(spec));
        std::optional<kvm::synth::PlantedProcesses> procs;
        if (o.arguments && !o.procs) throw kvm::Error(kvm::ErrorKind::usage, "--arguments plants with --procs");
        if (o.procs) {
            const kvm::StructLayouts layouts = planting_layouts(o);
            kvm::synth::ProcessTree tree = kvm::synth::default_process_tree();
            if (o.arguments) tree = kvm::synth::with_arguments(std::move(tree));
            procs = kvm::synth::plant_processes(m, layouts, tree);
            if (!o.procs_fault.empty()) {
                const auto fault = o.procs_fault == "cycle"         ? kvm::synth::ListFault::cycle
                                   : o.procs_fault == "bad-pointer" ? kvm::synth::ListFault::bad_pointer
                                   : o.procs_fault == "overlap"     ? kvm::synth::ListFault::overlap
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
        std::optional<kvm::synth::PlantedNetbsdModules> modules;
        if (o.modules)
            modules = kvm::synth::plant_netbsd_modules(m, planting_layouts(o), kvm::synth::default_netbsd_modules());
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
        if (!o.facts.empty()) write_facts(o.facts, m, dumplo, segments, procs, msgbuf, modules);
    } catch (const kvm::Error& e) {
        fmt::print(stderr, "kvmsynth: {}\n", e.what());
        return 1;
    }
    return 0;
}
