// -N system, -M core and the running host (kvm/target.h).
#include <kvm/error.h>
#include <kvm/target.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace kvm {

std::optional<LiveHost> live_host() {
#if defined(__linux__)
    return LiveHost{.namelist = "/proc/kallsyms", .memory = "/proc/kcore"};
#else
    return std::nullopt;
#endif
}

void check_live_memory(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return;
    }
    const int err = errno;
    if (err == ENOENT) {
        Error e(ErrorKind::unsupported,
                "not present on this host (a kernel without CONFIG_PROC_KCORE, or /proc not mounted); name a dump "
                "with -M");
        e.with_path(path);
        throw e;
    }
    if (err == EACCES || err == EPERM) {
        Error e(ErrorKind::io, fmt::format("{}: reading the running kernel's memory needs root", std::strerror(err)));
        e.with_path(path);
        throw e;
    }
    throw_os("opening the running kernel's memory", err, path);
}

CoreFiles core_files(const std::vector<std::string>& m_files) {
    if (m_files.empty()) return {};
    return {.core = m_files.front(), .parts = std::vector<std::string>(m_files.begin() + 1, m_files.end())};
}

Target open_target(const TargetOptions& options) {
    Target t;
    if (options.dumplo_blocks && options.core.empty())
        throw Error(ErrorKind::usage, "--dumplo applies to a dump device named with -M");
    if (options.zero_excluded && options.core.empty())
        throw Error(ErrorKind::usage, "--zero-excluded applies to a dump named with -M");
    if (!options.core_parts.empty() && options.core.empty())
        throw Error(ErrorKind::usage, "the files of a split dump are named with -M, the first one included");
    const std::optional<LiveHost> host = live_host();
    std::string namelist = options.namelist;
    std::string core = options.core;
    if (core.empty() && options.need_memory) {
        if (!host)
            throw Error(ErrorKind::usage,
                        "no dump given (-M), and this host has no live kernel memory kvmkit can read");
        core = host->memory;
        t.live = true;
        check_live_memory(core);  // before the namelist: the likelier failure, and the cheaper one
    }
    if (namelist.empty() && options.core.empty() && host) namelist = host->namelist;

    if (!namelist.empty()) t.namelist = load_namelist(namelist, options.index).namelist;
    if (!t.namelist && options.need_namelist) throw Error(ErrorKind::usage, "no namelist given (-N system)");
    if (!core.empty()) {
        t.kernel = Kernel::open({.core = core,
                                 .dumplo_blocks = options.dumplo_blocks,
                                 .core_parts = options.core_parts,
                                 .zero_excluded = options.zero_excluded,
                                 .warn = options.warn,
                                 .loaded_namelist = t.namelist,
                                 .decompress = options.decompress});
        // A Linux dump's namelist at link-time addresses was relocated:
        // every tool prints and reads the dump's run-time addresses.
        if (t.namelist) t.namelist = t.kernel->shared_namelist();
    }
    return t;
}

DecompressOptions tool_decompress_options(std::string tool) {
    DecompressOptions o;
    // The progress line is open until the work ends or a notice comes.
    auto line_open = std::make_shared<bool>(false);
    o.notice = [tool, line_open](const std::string& message) {
        if (*line_open) std::fputs("\n", stderr);
        *line_open = false;
        fmt::print(stderr, "{}: {}\n", tool, message);
    };
    if (::isatty(STDERR_FILENO) == 1) {
        o.progress = [tool, line_open](const DecompressProgress& p) {
            const double percent =
                p.total > 0 ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total) : 100.0;
            fmt::print(stderr, "\r{}: {} {}: {:.0f}%\x1b[K", tool, p.what, p.file, percent);
            *line_open = p.done < p.total;
            if (!*line_open) std::fputs("\r\x1b[K", stderr);
            std::fflush(stderr);
        };
    }
    return o;
}

}  // namespace kvm
