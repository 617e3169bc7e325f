// Shared by the benchmark programs: run a command with its output going to
// a file (or /dev/null), and measure its wall time and peak memory.
//
// A child's ru_maxrss includes the memory of the process it was spawned
// from, up to its exec (Linux folds the old address space's high-water
// mark in at exec).  So the benchmarks keep their own process small: the
// synthetic machines are built and the answers checked in forked children
// (in_child), and the parent only spawns and times.  baseline() reports
// what an empty command measures, the floor under every figure.
#pragma once

#include <kvm/compress.h>
#include <kvm/io.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace bench {

struct Run {
    double seconds = 0;
    double cpu_seconds = 0;  // user + system: steadier than wall time on a shared machine
    long peak_kib = 0;       // ru_maxrss of the child
    int status = 0;          // exit status
};

// Runs argv[0] (searched in PATH) with stdout to `out` and stderr to
// /dev/null.
inline Run run(const std::vector<std::string>& argv, const std::string& out = "/dev/null") {
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(err)));
    int status = 0;
    rusage usage{};
    if (::wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed");
    Run r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    r.peak_kib = usage.ru_maxrss;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// The fastest of `runs` runs (wall time) with its peak memory; every run
// must exit with `expected_status`.
inline Run best_of(int runs, const std::vector<std::string>& argv, int expected_status = 0) {
    Run best;
    for (int i = 0; i < runs; ++i) {
        const Run r = run(argv);
        if (r.status != expected_status) throw std::runtime_error(fmt::format("{} exited {}", argv[0], r.status));
        if (i == 0 || r.seconds < best.seconds) best = r;
    }
    return best;
}

// Runs `f` in a forked child and waits for it; true when it returned true.
template <class F>
bool in_child(F&& f) {
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int code = 1;
        try {
            code = f() ? 0 : 1;
        } catch (const std::exception& e) {
            fmt::print(stderr, "{}\n", e.what());
        }
        std::fflush(stdout);
        std::_Exit(code);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) throw std::runtime_error("waitpid failed");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// True when two files have the same bytes (read in small pieces).
inline bool same_bytes(const std::string& a, const std::string& b) {
    std::FILE* fa = std::fopen(a.c_str(), "rb");
    std::FILE* fb = std::fopen(b.c_str(), "rb");
    bool same = fa != nullptr && fb != nullptr;
    std::vector<char> ba(1 << 16), bb(1 << 16);
    while (same) {
        const std::size_t na = std::fread(ba.data(), 1, ba.size(), fa);
        const std::size_t nb = std::fread(bb.data(), 1, bb.size(), fb);
        same = na == nb && std::equal(ba.begin(), ba.begin() + static_cast<std::ptrdiff_t>(na), bb.begin());
        if (na == 0) break;
    }
    if (fa != nullptr) std::fclose(fa);
    if (fb != nullptr) std::fclose(fb);
    return same;
}

// Compresses `core` as savecore -z and savecore --zstd do, on all cores.
inline void compress_file(const std::string& core, const std::string& gz, const std::string& zst) {
    const auto src = kvm::open_file(core);
    for (const bool zstd : {false, true}) {
        auto file = kvm::create_file_sink(zstd ? zst : gz);
        const std::unique_ptr<kvm::Sink> out = zstd ? kvm::create_zstd_sink(*file) : kvm::create_gzip_sink(*file);
        kvm::Bytes chunk(8u << 20);
        for (std::uint64_t at = 0; at < src->size(); at += chunk.size()) {
            const std::size_t n = src->read_at(at, chunk);
            out->write(kvm::ByteSpan(chunk.data(), n));
        }
        out->finish();
    }
}

inline bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return false;
    std::string p = path;
    for (std::size_t at = 0; at <= p.size();) {
        const std::size_t end = std::min(p.find(':', at), p.size());
        if (std::filesystem::exists(std::filesystem::path(p.substr(at, end - at)) / program)) return true;
        at = end + 1;
    }
    return false;
}

// The built tools: next to bench/ in the build tree.
inline std::string tools_dir(const char* argv0) {
    return (std::filesystem::absolute(argv0).parent_path().parent_path() / "tools").string();
}

inline Run baseline() {
    return best_of(3, {"true"});
}

inline void report(const std::string& what, const Run& r) {
    fmt::print("  {:<44} {:8.3f} s  {:8.1f} MiB peak\n", what, r.seconds, static_cast<double>(r.peak_kib) / 1024);
}

// The --work directory when one is given, else a fresh temporary one that is
// removed with this object (on every return from main, not only the last).
// Forked children leave through _Exit and never remove it.
class WorkDir {
public:
    explicit WorkDir(const std::string& given) {
        if (!given.empty()) {
            path_ = given;
            return;
        }
        std::string tmpl = (std::filesystem::temp_directory_path() / "kvmkit-bench-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            fmt::print(stderr, "{}: cannot make a directory: {}\n", tmpl, std::strerror(errno));
            return;
        }
        path_ = tmpl;
        temporary_ = true;
    }
    ~WorkDir() {
        std::error_code ec;
        if (temporary_) std::filesystem::remove_all(path_, ec);
    }
    WorkDir(const WorkDir&) = delete;
    WorkDir& operator=(const WorkDir&) = delete;

    // False when the temporary directory could not be made (said on stderr).
    explicit operator bool() const { return !path_.empty(); }
    // A file in the directory.
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
    bool temporary_ = false;
};

}  // namespace bench
