// savecore against dd, cp, gzip and pigz on the same dump of at least
// 2 GiB, in one run.  With --freebsd: savecore of a FreeBSD dump device
// (kerneldumpheader v4 around a 2 GiB body of the same pages) against
// cp --sparse=always of the device, and savecore's peak RSS.
// The ratio to watch for savecore -z is its speed
// against pigz -1 on all cores (goal: at least 2x); savecore --zstd is
// shown against zstd -1 -T0.
//
// The dump is a synthetic NetBSD/amd64 crash whose free RAM is tiled with
// the pages of a real Linux vmcore (zero pages, text, pointers, compressed
// data, as RAM really holds), written to a swap image that holds only the
// dump (and the 4 KiB cpu_dumpconf skips).  Every tool copies that image
// from the page cache into the same directory; `sync` runs before each, and
// savecore's dumpmag is restored after each save so that every run takes
// the default path (scan, save, clear).  savecore fsyncs what it writes, so
// dd, cp and pigz are also timed with a flush of their output.
//
//   build/bench/savecore_bench [--dir D] [--source vmcore.elf] [--savecore PATH]
//                              [--ram-end BYTES] [--repeat N] [--copy-only] [--keep]
//                              [--freebsd [--body-size BYTES]]
//
// Peak RSS and CPU seconds come from /usr/bin/time (Debian package time).
// Each command dies with the benchmark (a SIGTERM, on which savecore
// removes its partial file) rather than run on as an orphan.  Needs about
// 14 GiB free in the work directory and as much page cache.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/netbsd.h>
#include <kvm/synth.h>
#include <kvm/synth_kerneldump.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t mib = 1u << 20;
constexpr std::uint64_t page = 4096;

struct Measured {
    double seconds = 0;
    double user = 0;  // CPU seconds of the command and its children
    double sys = 0;
    std::uint64_t max_rss_kib = 0;
    std::uint64_t size = 0;       // bytes of the output
    std::uint64_t allocated = 0;  // bytes the filesystem allocated for it
};

// Pages of a real vmcore's PT_LOAD data, repeated over the synthetic RAM
// in order, so runs of zero pages and of data stay as they were.
kvm::synth::PageFiller vmcore_tiles(const std::string& path, std::shared_ptr<kvm::Bytes>& keep) {
    const kvm::elf::File core(kvm::open_file(path));
    auto pages = std::make_shared<kvm::Bytes>();
    for (const kvm::elf::Segment& s : core.segments()) {
        if (s.type != 1 || s.filesz < page) continue;  // PT_LOAD
        const std::uint64_t n = s.filesz / page * page;
        const std::size_t at = pages->size();
        pages->resize(at + n);
        core.source().read_exact(s.offset, kvm::MutableByteSpan(pages->data() + at, n), "vmcore memory");
    }
    if (pages->empty()) throw kvm::Error(kvm::ErrorKind::format, fmt::format("{}: no memory in the vmcore", path));
    keep = pages;
    const std::uint64_t count = pages->size() / page;
    return [pages, count](std::uint64_t pa, kvm::MutableByteSpan out) {
        std::memcpy(out.data(), pages->data() + (pa / page % count) * page, out.size());
    };
}

// Runs argv under time(1) (a small process, so the peak RSS is the
// command's and not a copy of this one's) and setpriv(1), so that the
// command gets SIGTERM if the benchmark dies: time gets it from us, the
// command from time, and savecore then stops and removes its partial file
// instead of running on as an orphan.  Wall time is measured here.
Measured run(const std::vector<std::string>& argv, const std::string& output, const std::string& usage_file,
             const std::string& log = {}) {
    ::sync();  // the previous run's writeback is not this run's cost
    std::vector<std::string> full{"/usr/bin/time", "-f",          "%M %U %S", "-o", usage_file,
                                  "setpriv",       "--pdeathsig", "TERM",     "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    std::vector<char*> args;
    args.reserve(full.size() + 1);
    for (auto& a : full)
        args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) throw kvm::Error(kvm::ErrorKind::io, fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // the benchmark is gone already
        if (!log.empty()) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) ::dup2(fd, STDERR_FILENO);
        }
        ::execv(args[0], args.data());
        std::perror(args[0]);
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    Measured m;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw kvm::Error(kvm::ErrorKind::io, fmt::format("{} failed (status {:#x})", fmt::join(argv, " "), status));
    std::ifstream(usage_file) >> m.max_rss_kib >> m.user >> m.sys;
    struct stat st {};
    if (::stat(output.c_str(), &st) == 0) {
        m.size = static_cast<std::uint64_t>(st.st_size);
        m.allocated = static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    return m;
}

std::string human(std::uint64_t bytes) {
    if (bytes >= (1u << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1u << 30));
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / mib);
}

struct Row {
    std::string name;
    Measured m;
    bool durable;  // output flushed to disk before the tool returned
};

void print_rows(const std::vector<Row>& rows, std::uint64_t input) {
    fmt::print("  {:<38} {:>8} {:>9} {:>7} {:>7} {:>7} {:>10} {:>11} {:>11}\n", "", "seconds", "MiB/s", "user s",
               "sys s", "synced", "peak RSS", "size", "allocated");
    for (const Row& r : rows)
        fmt::print("  {:<38} {:>8.2f} {:>9.1f} {:>7.2f} {:>7.2f} {:>7} {:>7} MiB {:>11} {:>11}\n", r.name, r.m.seconds,
                   static_cast<double>(input) / mib / r.m.seconds, r.m.user, r.m.sys, r.durable ? "yes" : "no",
                   (r.m.max_rss_kib + 1023) / 1024, human(r.m.size), human(r.m.allocated));
}

double best(const std::vector<Row>& rows, const std::vector<std::string>& names) {
    double t = 1e300;
    for (const Row& r : rows)
        if (std::find(names.begin(), names.end(), r.name) != names.end()) t = std::min(t, r.m.seconds);
    return t;
}

std::string fs_type(const std::string& dir) {
    struct statfs st {};
    if (::statfs(dir.c_str(), &st) != 0) return "?";
    switch (static_cast<unsigned long>(st.f_type)) {
        case 0xef53:
            return "ext2/3/4";
        case 0x01021994:
            return "tmpfs";
        case 0x58465342:
            return "xfs";
        case 0x9123683e:
            return "btrfs";
        default:
            return fmt::format("{:#x}", static_cast<unsigned long>(st.f_type));
    }
}

// A dump body of pages from a filler, made as it is read: 2 GiB of it need
// not be in memory.
class FilledBody final : public kvm::ByteSource {
public:
    FilledBody(kvm::synth::PageFiller filler, std::uint64_t size) : filler_(std::move(filler)), size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read_at(std::uint64_t offset, kvm::MutableByteSpan out) const override {
        if (offset >= size_) return 0;
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
        kvm::Bytes p(page);
        for (std::size_t done = 0; done < n;) {
            const std::uint64_t at = offset + done;
            filler_(at / page * page, p);
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(page - at % page, n - done));
            std::memcpy(out.data() + done, p.data() + at % page, take);
            done += take;
        }
        return n;
    }
    const std::string& name() const override { return name_; }

private:
    kvm::synth::PageFiller filler_;
    std::uint64_t size_;
    std::string name_ = "body";
};

// savecore -k of a FreeBSD v4 device against cp --sparse=always of it.
void freebsd_bench(const std::string& dir, const std::string& source, const std::string& savecore,
                   std::uint64_t body_size, unsigned repeat, bool keep) {
    const std::string device = dir + "/freebsd.img";
    const std::string usage = dir + "/usage";
    std::shared_ptr<kvm::Bytes> tiles;
    kvm::synth::PageFiller filler = kvm::synth::realistic_filler(1, 0xffffffff80000000ull);
    std::string what = "the synthetic realistic filler";
    if (fs::exists(source)) {
        filler = vmcore_tiles(source, tiles);
        what = fmt::format("tiles of {} ({})", source, human(tiles->size()));
    }
    {
        const FilledBody body(filler, body_size);
        const auto out = kvm::create_file_sink(device, 0600);
        kvm::synth::write_dump_device({.header = kvm::synth::freebsd_header(4)}, body, *out);
        out->finish();
    }
    const std::uint64_t input = fs::file_size(device);
    fmt::print("savecore benchmark: a {} FreeBSD dump device (kerneldumpheader v4), a {} body ({})\n", human(input),
               human(body_size), what);
    fmt::print("work directory {} ({}), {} CPUs, savecore {}\n\n", dir, fs_type(dir),
               std::thread::hardware_concurrency(), savecore);
    std::fflush(stdout);
    run({"/bin/sh", "-c", fmt::format("cat '{}' >/dev/null", device)}, "", usage);

    std::vector<Row> rows;
    const auto add = [&](const std::string& name, bool durable, const std::vector<std::string>& cmd,
                         const std::string& out) {
        const Measured m = run(cmd, out, usage, dir + "/log");
        const auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == name; });
        if (it == rows.end()) {
            rows.push_back({name, m, durable});
        } else if (m.seconds < it->m.seconds) {
            it->m = m;
        }
        fmt::print(stderr, "  {:<38} {:.2f} s ({:.2f} s user)\n", name, m.seconds, m.user);
    };
    int serial = 0;
    std::vector<std::string> outputs;
    const auto fresh = [&](bool directory) {
        std::string path = fmt::format("{}/{}.{}", dir, directory ? "crash" : "out", serial++);
        fs::remove_all(path);
        if (directory) fs::create_directory(path);
        outputs.push_back(path);
        return path;
    };
    for (unsigned i = 0; i < repeat; ++i) {
        std::string out = fresh(false);
        add("cp --sparse=always", false, {"cp", "--sparse=always", device, out}, out);
        out = fresh(false);
        add("cp --sparse=always; sync FILE", true,
            {"/bin/sh", "-c", fmt::format("cp --sparse=always '{}' '{}' && sync '{}'", device, out, out)}, out);
        const std::string crash = fresh(true);
        add("savecore -k", true, {savecore, "-k", crash, device}, crash + "/vmcore.0");
        if (fs::file_size(crash + "/vmcore.0") != body_size)
            throw kvm::Error(kvm::ErrorKind::corrupt, "savecore wrote a vmcore of the wrong size");
    }
    for (const std::string& path : outputs)
        fs::remove_all(path);
    print_rows(rows, input);
    const double sc = best(rows, {"savecore -k"});
    const auto peak = std::find_if(rows.begin(), rows.end(), [](const Row& r) { return r.name == "savecore -k"; });
    fmt::print(
        "  savecore speed vs cp --sparse=always: {:.2f}x; vs cp --sparse=always and sync, both synced: {:.2f}x\n",
        best(rows, {"cp --sparse=always"}) / sc, best(rows, {"cp --sparse=always; sync FILE"}) / sc);
    fmt::print("  savecore peak RSS: {} MiB (goal: under 64 MiB)\n", (peak->m.max_rss_kib + 1023) / 1024);
    if (!keep) fs::remove(device);
    fs::remove(usage);
    fs::remove(dir + "/log");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"savecore against dd, cp, gzip -1 and pigz -1 on the same dump", "savecore_bench"};
    std::string dir = "/tmp/kvmkit-savecore-bench";
    std::string source = "/tmp/realdump/vmcore.elf";
    std::string savecore = (fs::read_symlink("/proc/self/exe").parent_path() / "../tools/savecore").lexically_normal();
    std::uint64_t ram_end = (2u << 30) + 16 * mib;
    unsigned repeat = 1;
    bool copy_only = false;
    bool keep = false;
    bool freebsd = false;
    std::uint64_t body_size = 2ull << 30;
    app.add_option("--dir", dir, "work directory (about 14 GiB free needed)");
    app.add_flag("--freebsd", freebsd, "a FreeBSD dump device against cp --sparse=always");
    app.add_option("--body-size", body_size, "--freebsd: bytes of the dump body (default 2 GiB)");
    app.add_option("--source", source, "vmcore whose pages fill the dump (missing: the synthetic realistic filler)");
    app.add_option("--savecore", savecore, "savecore binary");
    app.add_option("--ram-end", ram_end, "RAM of the crashed machine ends here (memory dumped is 2.4 MiB less)");
    app.add_option("--repeat", repeat, "runs of each command (the fastest counts)");
    app.add_flag("--copy-only", copy_only, "leave out the compressed comparison");
    app.add_flag("--keep", keep, "keep the swap image and the kernel");
    CLI11_PARSE(app, argc, argv);

    try {
        fs::create_directories(dir);
        if (freebsd) {
            freebsd_bench(dir, source, savecore, body_size, repeat, keep);
            return 0;
        }
        const std::string swap = dir + "/swap.img";
        const std::string kernel = dir + "/netbsd";
        const std::string usage = dir + "/usage";

        // The crashed machine and its dump.
        const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
        const std::vector<kvm::netbsd::RamSegment> ram{
            {0x1000, 0x9e000}, {0x100000, 0xd00000}, {0x1000000, ram_end - 0x1000000}};
        kvm::synth::CrashedMachine machine({.ram = ram, .crash_time = now});
        std::shared_ptr<kvm::Bytes> tiles;
        std::string filler = "the synthetic realistic filler";
        if (fs::exists(source)) {
            machine.memory().set_filler(vmcore_tiles(source, tiles));
            filler = fmt::format("tiles of {} ({})", source, human(tiles->size()));
        }
        const std::uint64_t full = machine.device_dump_size(machine.memory().ram());
        // The dump and the 4 KiB cpu_dumpconf skips: every tool copies the same bytes.
        const std::uint64_t dumplo = machine.write_swap_image(swap, {}, full + page);
        const auto segments = machine.prepare_dump({}, static_cast<std::int64_t>(dumplo));
        kvm::synth::write_file(kernel, machine.kernel_elf());
        const std::uint64_t input = fs::file_size(swap);

        // Where dumpmag is on the device, to restore it after each save.
        std::uint64_t memory = 0;
        for (const auto& s : segments)
            memory += s.size;
        const std::uint64_t dumpmag_pa = machine.virt_to_phys(machine.symbol("dumpmag"));
        std::uint64_t dumpmag_at = dumplo * 512 + (machine.device_dump_size(segments) - memory);
        for (const auto& s : segments) {
            if (dumpmag_pa >= s.start && dumpmag_pa < s.start + s.size) {
                dumpmag_at += dumpmag_pa - s.start;
                break;
            }
            dumpmag_at += s.size;
        }
        const auto device = kvm::open_file(swap, kvm::OpenMode::read_write);
        const kvm::Bytes dumpmag = device->read_bytes(dumpmag_at, 4, "dumpmag");
        if (kvm::load32(dumpmag.data(), kvm::ByteOrder::little) != kvm::netbsd::dumpmag_value)
            throw kvm::Error(kvm::ErrorKind::corrupt, "dumpmag is not where the benchmark computed it");

        fmt::print("savecore benchmark: a {} NetBSD/amd64 swap image, {} of it memory ({})\n", human(input),
                   human(memory), filler);
        fmt::print("work directory {} ({}), {} CPUs, savecore {}\n\n", dir, fs_type(dir),
                   std::thread::hardware_concurrency(), savecore);
        std::fflush(stdout);

        // Every command reads `swap` from the page cache.
        run({"/bin/sh", "-c", fmt::format("cat '{}' >/dev/null", swap)}, "", usage);

        std::map<std::string, std::vector<Row>> results;
        const auto add = [&](const std::string& group, const std::string& name, bool durable,
                             const std::vector<std::string>& cmd, const std::string& out) {
            Measured m = run(cmd, out, usage, dir + "/log");
            auto& rows = results[group];
            const auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == name; });
            if (it == rows.end()) {
                rows.push_back({name, m, durable});
            } else if (m.seconds < it->m.seconds) {
                it->m = m;  // the best of the repeats
            }
            fmt::print(stderr, "  {:<38} {:.2f} s ({:.2f} s user)\n", name, m.seconds, m.user);
        };
        // Each command writes a file of its own, and all are removed at the
        // end: deleting a big file just before a command would charge it
        // with the filesystem's work of freeing (and discarding) the blocks.
        int serial = 0;
        std::vector<std::string> outputs;
        const auto fresh = [&](bool directory) {
            std::string path = fmt::format("{}/{}.{}", dir, directory ? "crash" : "out", serial++);
            fs::remove_all(path);
            if (directory) fs::create_directory(path);
            outputs.push_back(path);
            return path;
        };
        const auto restore = [&] { device->write_at(dumpmag_at, dumpmag); };
        std::uint64_t gzip_size = 0;
        std::uint64_t savecore_gz = 0;
        std::uint64_t zstd_size = 0;
        std::uint64_t savecore_zst = 0;
        for (unsigned i = 0; i < repeat; ++i) {
            std::string out = fresh(false);
            add("copy", "dd bs=1M", false, {"dd", "if=" + swap, "of=" + out, "bs=1M", "status=none"}, out);
            out = fresh(false);
            add("copy", "dd bs=1M conv=fsync", true,
                {"dd", "if=" + swap, "of=" + out, "bs=1M", "conv=fsync", "status=none"}, out);
            out = fresh(false);
            add("copy", "cp --sparse=always", false, {"cp", "--sparse=always", swap, out}, out);
            out = fresh(false);
            add("copy", "cp --sparse=always; sync FILE", true,
                {"/bin/sh", "-c", fmt::format("cp --sparse=always '{}' '{}' && sync '{}'", swap, out, out)}, out);
            std::string crash = fresh(true);
            add("copy", "savecore", true, {savecore, "-N", kernel, crash, swap}, crash + "/netbsd.0.core");
            restore();
            if (copy_only) continue;
            out = fresh(false);
            add("gzip", "gzip -1", false, {"/bin/sh", "-c", fmt::format("gzip -1 -c '{}' >'{}'", swap, out)}, out);
            gzip_size = fs::file_size(out);
            out = fresh(false);
            add("gzip", "pigz -1", false, {"/bin/sh", "-c", fmt::format("pigz -1 -c '{}' >'{}'", swap, out)}, out);
            out = fresh(false);
            add("gzip", "pigz -1; sync FILE", true,
                {"/bin/sh", "-c", fmt::format("pigz -1 -c '{}' >'{}' && sync '{}'", swap, out, out)}, out);
            crash = fresh(true);
            add("gzip", "savecore -z", true, {savecore, "-z", "-N", kernel, crash, swap}, crash + "/netbsd.0.core.gz");
            savecore_gz = fs::file_size(crash + "/netbsd.0.core.gz");
            if (::system(fmt::format("gzip -t '{}/netbsd.0.core.gz'", crash).c_str()) != 0)
                throw kvm::Error(kvm::ErrorKind::corrupt, "savecore -z wrote a stream gzip -t rejects");
            restore();
            out = fresh(false);
            add("zstd", "zstd -1 -T0; sync FILE", true,
                {"/bin/sh", "-c", fmt::format("zstd -q -1 -T0 -c '{}' >'{}' && sync '{}'", swap, out, out)}, out);
            zstd_size = fs::file_size(out);
            crash = fresh(true);
            add("zstd", "savecore --zstd", true, {savecore, "--zstd", "-N", kernel, crash, swap},
                crash + "/netbsd.0.core.zst");
            savecore_zst = fs::file_size(crash + "/netbsd.0.core.zst");
            if (::system(fmt::format("zstd -q -t '{}/netbsd.0.core.zst'", crash).c_str()) != 0)
                throw kvm::Error(kvm::ErrorKind::corrupt, "savecore --zstd wrote a file zstd -t rejects");
            restore();
        }
        for (const std::string& path : outputs)
            fs::remove_all(path);

        fmt::print("uncompressed ({} in)\n", human(input));
        print_rows(results["copy"], input);
        const double sc = best(results["copy"], {"savecore"});
        fmt::print("  savecore speed vs the faster of dd and cp, both synced: {:.2f}x; neither synced: {:.2f}x\n",
                   best(results["copy"], {"dd bs=1M conv=fsync", "cp --sparse=always; sync FILE"}) / sc,
                   best(results["copy"], {"dd bs=1M", "cp --sparse=always"}) / sc);
        if (!copy_only) {
            fmt::print("\ncompressed, level 1\n");
            print_rows(results["gzip"], input);
            const double sz = best(results["gzip"], {"savecore -z"});
            const double vs_pigz = best(results["gzip"], {"pigz -1; sync FILE"}) / sz;
            fmt::print(
                "  savecore -z speed vs pigz -1 on all cores: {:.2f}x synced, {:.2f}x not synced; vs gzip -1: "
                "{:.2f}x\n",
                vs_pigz, best(results["gzip"], {"pigz -1"}) / sz, best(results["gzip"], {"gzip -1"}) / sz);
            fmt::print("  goal (at least 2x pigz -1, both synced): {}\n", vs_pigz >= 2 ? "met" : "NOT met");
            fmt::print("  savecore -z file {} bytes, gzip -1 {} bytes: {:+.2f}%\n", savecore_gz, gzip_size,
                       100.0 * (static_cast<double>(savecore_gz) / static_cast<double>(gzip_size) - 1));
            fmt::print("\ncompressed with zstd, level 1\n");
            print_rows(results["zstd"], input);
            fmt::print(
                "  savecore --zstd speed vs zstd -1 -T0 (both synced): {:.2f}x; file {} bytes, zstd's {} bytes: "
                "{:+.2f}%\n",
                best(results["zstd"], {"zstd -1 -T0; sync FILE"}) / best(results["zstd"], {"savecore --zstd"}),
                savecore_zst, zstd_size,
                100.0 * (static_cast<double>(savecore_zst) / static_cast<double>(zstd_size) - 1));
        }
        if (!keep) {
            fs::remove(swap);
            fs::remove(kernel);
        }
        fs::remove(usage);
        fs::remove(dir + "/log");
    } catch (const std::exception& e) {
        fmt::print(stderr, "savecore_bench: {}\n", e.what());
        return 1;
    }
    return 0;
}
