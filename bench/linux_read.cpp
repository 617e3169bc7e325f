// linux_read: how fast kvmkit reads a real Linux vmcore, and at what memory
// cost.  For each of vmcore.elf, vmcore.kdump and vmcore.kdump-flat of a
// directory made by tests/realdump/make-linux-vmcore.sh, a child process
// opens the dump with its System.map and reads 64 MiB of the direct map
// (page_offset_base + 1 MiB onwards, 1 MiB per read, through the page
// tables), then reports the time to open, the time to read and its peak
// resident memory.  dd reading the same number of bytes of vmcore.elf is
// the floor: that is what the bytes cost without any translation or
// decompression.  Each case runs --runs times (page cache warm after the
// first); the best time and the largest peak are shown.  This measures the
// library; bench_linux times the kvmdump and kvmps tools on the same dump.
//
//   linux_read [--runs N] [--mib M] [DIR]      DIR defaults to $REALDUMP_DIR
#include <kvm/error.h>
#include <kvm/kernel.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Result {
    double open_ms = 0;
    double read_ms = 0;
    long peak_kib = 0;      // ru_maxrss of the child at the end
    long rss_open_kib = 0;  // resident after open (namelist, headers, bitmaps)
    long rss_end_kib = 0;   // resident after the reads (adds caches and the buffer)
    std::uint64_t checksum = 0;
};

double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// Resident memory now, from /proc/self/statm (pages).
long rss_kib() {
    std::ifstream in("/proc/self/statm");
    long size = 0;
    long resident = 0;
    if (!(in >> size >> resident)) return 0;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

long peak_rss_kib() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

// The measurement itself, in the child.
Result measure(const std::string& dir, const std::string& core, std::uint64_t bytes) {
    Result r;
    const auto t0 = std::chrono::steady_clock::now();
    const auto k = kvm::Kernel::open({.namelist = dir + "/System.map", .core = dir + "/" + core});
    const std::uint64_t pob = k->read_pointer(k->symbol_value("page_offset_base"));
    r.open_ms = ms_since(t0);
    r.rss_open_kib = rss_kib();
    kvm::Bytes buf(1u << 20);
    const auto t1 = std::chrono::steady_clock::now();
    for (std::uint64_t off = 0; off < bytes; off += buf.size()) {
        k->read(pob + (1u << 20) + off, buf);
        r.checksum +=
            std::to_integer<std::uint64_t>(buf[off % buf.size()]) + std::to_integer<std::uint64_t>(buf.back());
    }
    r.read_ms = ms_since(t1);
    r.rss_end_kib = rss_kib();
    r.peak_kib = peak_rss_kib();
    return r;
}

// Runs `body` in a child and returns what it wrote to the pipe.
template <typename Body>
Result in_child(Body body) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        Result r;
        int status = 0;
        try {
            r = body();
        } catch (const std::exception& e) {
            fmt::print(stderr, "linux_read: {}\n", e.what());
            status = 1;
        }
        const ssize_t n = ::write(fds[1], &r, sizeof r);
        ::_exit(n == static_cast<ssize_t>(sizeof r) ? status : 1);
    }
    ::close(fds[1]);
    Result r;
    const ssize_t n = ::read(fds[0], &r, sizeof r);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (n != static_cast<ssize_t>(sizeof r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("a measurement failed");
    return r;
}

// dd of the same number of bytes from the ELF core (its memory starts near
// the front of the file).
Result dd_floor(const std::string& dir, std::uint64_t mib) {
    return in_child([&] {
        Result r;
        const auto t = std::chrono::steady_clock::now();
        const pid_t pid = ::fork();
        if (pid == 0) {
            const std::string in = "if=" + dir + "/vmcore.elf";
            const std::string count = "count=" + std::to_string(mib);
            ::execlp("dd", "dd", in.c_str(), "of=/dev/null", "bs=1M", "skip=1", count.c_str(), "status=none",
                     static_cast<char*>(nullptr));
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("dd failed");
        r.read_ms = ms_since(t);
        rusage u{};
        ::getrusage(RUSAGE_CHILDREN, &u);
        r.peak_kib = u.ru_maxrss;
        return r;
    });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Reads 64 MiB of a real Linux vmcore's direct map through kvmkit, per dump format"};
    int runs = 3;
    std::uint64_t mib = 64;
    std::string dir;
    app.add_option("--runs", runs, "runs per case (best time shown)")->check(CLI::PositiveNumber);
    app.add_option("--mib", mib, "MiB of the direct map to read")->check(CLI::Range(1, 100));
    app.add_option("dir", dir, "a make-linux-vmcore.sh directory (default: $REALDUMP_DIR)");
    CLI11_PARSE(app, argc, argv);
    if (dir.empty() && std::getenv("REALDUMP_DIR") != nullptr) dir = std::getenv("REALDUMP_DIR");
    if (dir.empty()) {
        fmt::print(stderr, "linux_read: no dump directory (give DIR or set REALDUMP_DIR)\n");
        return 2;
    }

    try {
        fmt::print("{} MiB of the direct map of {}, best of {} runs\n\n", mib, dir, runs);
        fmt::print("{:<26} {:>8} {:>8} {:>7} {:>9} {:>8} {:>9}\n", "case", "open ms", "read ms", "MiB/s", "RSS open",
                   "RSS end", "RSS peak");
        const auto row = [&](const std::string& name, const std::vector<Result>& rs) {
            Result best = rs.front();
            for (const Result& r : rs) {
                best.open_ms = std::min(best.open_ms, r.open_ms);
                best.read_ms = std::min(best.read_ms, r.read_ms);
                best.peak_kib = std::max(best.peak_kib, r.peak_kib);
                best.rss_open_kib = std::max(best.rss_open_kib, r.rss_open_kib);
                best.rss_end_kib = std::max(best.rss_end_kib, r.rss_end_kib);
            }
            fmt::print("{:<26} {:>8.1f} {:>8.1f} {:>7.0f} {:>8.1f}M {:>7.1f}M {:>8.1f}M\n", name, best.open_ms,
                       best.read_ms, static_cast<double>(mib) / (best.read_ms / 1000.0), best.rss_open_kib / 1024.0,
                       best.rss_end_kib / 1024.0, best.peak_kib / 1024.0);
        };
        std::vector<Result> dd;
        dd.reserve(static_cast<std::size_t>(runs));
        for (int i = 0; i < runs; ++i)
            dd.push_back(dd_floor(dir, mib));
        row("dd vmcore.elf", dd);
        std::uint64_t checksum = 0;
        for (const std::string core : {"vmcore.elf", "vmcore.kdump", "vmcore.kdump-flat"}) {
            std::vector<Result> rs;
            rs.reserve(static_cast<std::size_t>(runs));
            for (int i = 0; i < runs; ++i)
                rs.push_back(in_child([&] { return measure(dir, core, mib << 20); }));
            if (checksum != 0 && rs.front().checksum != checksum) {
                fmt::print(stderr, "linux_read: {} read other bytes than vmcore.elf\n", core);
                return 1;
            }
            checksum = rs.front().checksum;
            row("kvmkit " + core, rs);
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "linux_read: {}\n", e.what());
        return 1;
    }
    return 0;
}
