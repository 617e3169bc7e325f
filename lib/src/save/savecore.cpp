// savecore(8) as a library function.  The order of checks and the messages
// follow NetBSD's savecore (netbsd-dump-format.md section 5); where a host
// that is not running the crashed kernel cannot ask it (dumplo, dumpmag,
// version), the kernel file and a scan of the device answer instead.
#include <kvm/compress.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/namelist.h>
#include <kvm/netbsd.h>
#include <kvm/save.h>

#include "save/copy.h"
#include "save/crash_dir.h"
#include "save/session.h"

#include <fmt/format.h>

#include <sys/stat.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <ctime>

namespace kvm::save {

std::string_view to_string(Priority priority) {
    switch (priority) {
        case Priority::alert:
            return "alert";
        case Priority::err:
            return "err";
        case Priority::warning:
            return "warning";
        case Priority::notice:
            return "notice";
        case Priority::info:
            return "info";
    }
    return "info";
}

std::string_view to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::saved:
            return "saved";
        case Outcome::cleared:
            return "cleared";
        case Outcome::present:
            return "present";
        case Outcome::no_dump:
            return "no dump";
        case Outcome::refused:
            return "refused";
        case Outcome::failed:
            return "failed";
    }
    return "failed";
}

namespace {

// A device whose reads stop at the first signal: scanning a large swap
// device for the dump header takes as long as reading it, and SIGTERM must
// not wait for that.
class InterruptibleSource final : public ByteSource {
public:
    InterruptibleSource(std::shared_ptr<ByteSource> inner, const std::atomic<bool>& interrupted)
        : inner_(std::move(inner)), interrupted_(interrupted) {}
    std::uint64_t size() const override { return inner_->size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        if (interrupted_.load()) throw Error(ErrorKind::io, "interrupted");
        return inner_->read_at(offset, out);
    }
    void write_at(std::uint64_t offset, ByteSpan data) override { inner_->write_at(offset, data); }
    void sync() override { inner_->sync(); }
    const std::string& name() const override { return inner_->name(); }
    std::uint32_t write_granularity() const override { return inner_->write_granularity(); }

private:
    std::shared_ptr<ByteSource> inner_;
    const std::atomic<bool>& interrupted_;
};

}  // namespace

int Result::exit_status() const {
    bool any = false;
    for (const DeviceResult& d : devices) {
        switch (d.outcome) {
            case Outcome::saved:
            case Outcome::cleared:
            case Outcome::present:
                any = true;
                break;
            case Outcome::no_dump:
                break;
            case Outcome::refused:
            case Outcome::failed:
                return 1;
        }
    }
    return any ? 0 : 1;
}

namespace {

using detail::about;

constexpr std::int64_t leeway = 60LL * 24 * 60 * 60;      // NetBSD's LEEWAY: 60 days
constexpr std::uint64_t unknown_kernel_size = 20u << 20;  // NetBSD's guess when stat fails
constexpr std::size_t max_version = 1024;
constexpr std::size_t max_panic = 1023;
constexpr std::uint64_t max_fstab = 1u << 20;

// ctime(3) without its newline, in local time.
std::string format_time(std::int64_t t) {
    const auto tt = static_cast<std::time_t>(t);
    std::tm tm{};
    if (::localtime_r(&tt, &tm) == nullptr) return fmt::format("{} seconds after the epoch", t);
    std::array<char, 64> buf{};
    const std::size_t n = std::strftime(buf.data(), buf.size(), "%a %b %e %H:%M:%S %Y", &tm);
    return {buf.data(), n};
}

std::string trim_newlines(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

std::string until_nul(const Bytes& b) {
    const std::string_view s = as_chars(b);
    return std::string(s.substr(0, s.find('\0')));
}

class Saver : public detail::Session {
public:
    Saver(const Options& options, Logger& logger, const ProgressCallback& progress)
        : Session(options, logger, progress) {}

    Result run() {
        Result result;
        std::vector<std::string> devices;
        try {
            devices = dump_devices();
        } catch (const Error& e) {
            say(Priority::err, e.message());
            return result;
        }
        if (devices.empty()) {
            say(Priority::err,
                fmt::format("no dump device: none named, and {} lists no swap or dump device", o_.fstab));
            return result;
        }
        // A FreeBSD or DragonFly dump says so in the last sector of its
        // device; only the other devices need the NetBSD kernel.  When some
        // device is of that kind, a NetBSD kernel that cannot be loaded
        // only means those others are not searched.
        std::vector<bool> kerneldump;
        kerneldump.reserve(devices.size());
        for (const std::string& d : devices)
            kerneldump.push_back(detail::holds_kerneldump(*this, d));
        const bool any_kerneldump = std::find(kerneldump.begin(), kerneldump.end(), true) != kerneldump.end();
        const bool any_netbsd = std::find(kerneldump.begin(), kerneldump.end(), false) != kerneldump.end();
        std::optional<std::string> no_kernel;
        try {
            if (any_netbsd) {
                try {
                    load_kernel();
                } catch (const Error& e) {
                    if (!any_kerneldump) throw;
                    no_kernel = e.message();
                }
            }
            if (o_.mode == Mode::save) open_directory();
        } catch (const Error& e) {
            say(Priority::err, e.message());
            for (const std::string& d : devices)
                result.devices.push_back({.device = d, .outcome = Outcome::failed});
            return result;
        }
        for (std::size_t i = 0; i < devices.size(); ++i) {
            if (kerneldump[i]) {
                result.devices.push_back(detail::save_kerneldump_device(*this, devices[i]));
            } else if (no_kernel) {
                verbose(
                    fmt::format("{}: no FreeBSD or DragonFly dump header, and no NetBSD kernel to search for a "
                                "NetBSD dump with: {}",
                                devices[i], *no_kernel));
                say(Priority::warning, fmt::format("{}: no core dump", devices[i]));
                result.devices.push_back({.device = devices[i], .outcome = Outcome::no_dump});
            } else {
                result.devices.push_back(process(devices[i]));
            }
        }
        return result;
    }

private:
    std::vector<std::string> dump_devices() {
        if (!o_.devices.empty()) return o_.devices;
        const Bytes text = read_whole_file(o_.fstab, max_fstab);
        std::vector<std::string> devices = fstab_dump_devices(as_chars(text));
        if (!devices.empty()) verbose(fmt::format("dump devices from {}: {}", o_.fstab, fmt::join(devices, ", ")));
        return devices;
    }

    // The kernel that crashed: the symbols savecore needs, and the values
    // its file was built with (NetBSD asks the running kernel for these).
    void load_kernel() {
        namelist_ = Namelist::load(o_.system);
        for (const char* name : {"_dumpmag", "_dumpsize", "_version"}) {
            if (namelist_->symbols().lookup(name) == nullptr) {
                Error e(ErrorKind::not_found, fmt::format("{} not in namelist", name));
                e.with_path(o_.system);
                throw e;
            }
        }
        const Symbol& mag = *namelist_->symbols().lookup("_dumpmag");
        const unsigned width = mag.size == 8 ? 8 : 4;
        try {
            const Bytes init = namelist_->initial_value("_dumpmag", width);
            expected_dumpmag_ = load_uint(init.data(), width,
                                          namelist_->elf() != nullptr ? namelist_->elf()->order() : ByteOrder::little);
        } catch (const Error& e) {
            verbose(fmt::format("{}; expecting dumpmag {:#x}", e.message(), netbsd::dumpmag_value));
        }
        const Symbol& version = *namelist_->symbols().lookup("_version");
        if (version.size != 0) {
            try {
                kernel_version_ = trim_newlines(
                    until_nul(namelist_->initial_value("_version", std::min<std::size_t>(version.size, max_version))));
            } catch (const Error& e) {
                verbose(fmt::format("{}; the version is not checked", e.message()));
            }
        } else {
            // No size in the symbol table: as much as the section holds, up
            // to the NUL.
            for (std::size_t length = 64; length <= max_version; length *= 2) {
                try {
                    const Bytes b = namelist_->initial_value("_version", length);
                    kernel_version_ = trim_newlines(until_nul(b));
                    if (std::find(b.begin(), b.end(), std::byte{0}) != b.end()) break;
                } catch (const Error&) {
                    break;
                }
            }
        }
    }

    DeviceResult process(const std::string& device) {
        DeviceResult r{.device = device};
        try {
            verbose(fmt::format("checking for a dump on {}", device));
            const std::shared_ptr<ByteSource> src = open_device(device, OpenMode::read_only);
            const std::optional<netbsd::DumpLayout> layout = find_dump(device, src, r);
            if (!layout) return r;
            if (o_.interrupted != nullptr && o_.interrupted->load()) throw Error(ErrorKind::io, "interrupted");
            r.dump_offset = layout->header_offset;
            const Kernel kernel(netbsd::make_format(src, *layout), namelist_);
            verbose(fmt::format("{}: {} dump at offset {:#x} (dumplo {}): {} bytes of memory in {} segments", device,
                                layout->arch->name, layout->header_offset, layout->header_offset / netbsd::dev_bsize,
                                layout->memory_size, layout->cpu.ram.size()));

            std::uint64_t dumpmag = 0;
            try {
                dumpmag = netbsd::read_dumpmag(kernel);
            } catch (const Error& e) {
                say(Priority::err, fmt::format("{}: cannot read dumpmag: {} (is {} the kernel that crashed?)", device,
                                               e.message(), o_.system));
                r.outcome = Outcome::refused;
                return r;
            }
            if (dumpmag != expected_dumpmag_) {
                verbose(fmt::format("{}: magic number mismatch ({:#x} != {:#x})", device, dumpmag, expected_dumpmag_));
                say(Priority::warning, fmt::format("{}: no core dump", device));
                if (!o_.force) {
                    r.outcome = Outcome::no_dump;
                    return r;
                }
            }
            switch (o_.mode) {
                case Mode::check:
                    verbose(fmt::format("{}: a dump is present", device));
                    r.outcome = Outcome::present;
                    return r;
                case Mode::clear:
                    clear(device, *layout);
                    verbose(fmt::format("{}: dump cleared", device));
                    r.outcome = Outcome::cleared;
                    return r;
                case Mode::save:
                    break;
            }
            if (!check_crash(kernel, *layout) && !o_.force) {
                say(Priority::err, fmt::format("{}: dump not saved (-f saves it anyway)", device));
                r.outcome = Outcome::refused;
                return r;
            }
            save(device, *src, *layout, r);
        } catch (const Error& e) {
            say(Priority::err, e.message());
            r.outcome = Outcome::failed;
        }
        return r;
    }

    // The dump header at dumplo, or the one a scan finds (the live one
    // when there are several).  Logs why there is none.
    std::optional<netbsd::DumpLayout> find_dump(const std::string& device, const std::shared_ptr<ByteSource>& src,
                                                DeviceResult& r) {
        const auto refuse = [&] {
            say(Priority::err, fmt::format("{}: dump refused; nothing was saved or cleared", device));
            r.outcome = Outcome::refused;
            return std::nullopt;
        };
        const auto none = [&] {
            say(Priority::warning, fmt::format("{}: no core dump", device));
            r.outcome = Outcome::no_dump;
            return std::nullopt;
        };
        if (o_.dumplo_blocks) {
            const std::uint64_t start = checked_mul(*o_.dumplo_blocks, netbsd::dev_bsize, "dumplo");
            try {
                return netbsd::read_device_dump(*src, start);
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::format) {
                    verbose(about(e, device));
                    return none();
                }
                say(Priority::err, about(e, device));
                return refuse();
            }
        }
        std::vector<netbsd::RejectedHeader> rejected;
        // Only the scan stops at a signal: it may read the whole device.
        const std::shared_ptr<ByteSource> scanned =
            o_.interrupted != nullptr ? std::make_shared<InterruptibleSource>(src, *o_.interrupted) : src;
        const std::vector<netbsd::DumpCandidate> candidates =
            netbsd::scan_device(scanned, netbsd::dumpmag_check(*namelist_), 64, &rejected);
        if (candidates.empty()) {
            for (const netbsd::RejectedHeader& h : rejected)
                say(Priority::err, about(h.error, device));
            return rejected.empty() ? none() : refuse();
        }
        const netbsd::CandidateChoice choice = netbsd::choose_candidate(src, candidates, namelist_.get());
        // Beside an old, saved dump, a header that failed a check may be
        // the new dump: say why it was not taken.
        for (const netbsd::RejectedHeader& h : rejected) {
            if (choice.live == 0) {
                say(Priority::warning, about(h.error, device));
            } else {
                verbose(about(h.error, device));
            }
        }
        if (!choice.offset) {
            // Saving one clears it and leaves the other on swap, where it is
            // lost: only -f takes the one the kernel most likely wrote.
            if (!o_.force) {
                say(Priority::err,
                    fmt::format("{}: {}; nothing was saved or cleared (--dumplo names one; -f takes the one ending "
                                "nearest the end of the device)",
                                device, netbsd::tied_candidates(choice)));
                r.outcome = Outcome::refused;
                return std::nullopt;
            }
            say(Priority::warning, fmt::format("{}: {} live dump headers each lie at the dumplo their kernel "
                                               "recorded; -f: using the one at offset {:#x}, which ends nearest the "
                                               "end of the device",
                                               device, choice.tied.size(), choice.nearest_end));
            return netbsd::read_device_dump(*src, choice.nearest_end);
        }
        if (candidates.size() > 1)
            verbose(fmt::format("{}: {} dump headers, {} live; using the one at offset {:#x}: {}", device,
                                candidates.size(), choice.live, *choice.offset, choice.reason));
        return netbsd::read_device_dump(*src, *choice.offset);
    }

    // NetBSD's check_kmem, get_crashtime and check_space: reports the
    // crash, and says whether it may be saved without -f.
    bool check_crash(const Kernel& kernel, const netbsd::DumpLayout& layout) {
        const SymbolTable& syms = namelist_->symbols();
        if (!kernel_version_.empty()) {
            try {
                const std::string dumped =
                    trim_newlines(kernel.read_string(syms.lookup("_version")->value, max_version));
                if (dumped != kernel_version_)
                    say(Priority::warning, fmt::format("warning: {} version mismatch:\n\t{}\nand\t{}", o_.system,
                                                       kernel_version_, dumped));
            } catch (const Error& e) {
                say(Priority::warning, fmt::format("cannot read the version from the dump: {}", e.message()));
            }
        }

        std::string panic;
        if (const Symbol* s = syms.lookup("_panicstr")) {
            try {
                if (const std::uint64_t p = kernel.read_pointer(s->value); p != 0)
                    panic = trim_newlines(kernel.read_string(p, max_panic));
            } catch (const Error& e) {
                say(Priority::warning, fmt::format("cannot read the panic message: {}", e.message()));
            }
        }
        say(Priority::alert, panic.empty() ? std::string("reboot") : fmt::format("reboot after panic: {}", panic));

        bool ok = check_time(kernel);

        const std::uint64_t page = layout.arch->page_size;
        try {
            const std::uint64_t pages = kernel.read_uint(syms.lookup("_dumpsize")->value, 4);
            if (pages * page != layout.memory_size)
                say(Priority::warning,
                    fmt::format("dumpsize is {} pages ({} bytes) but the dump's RAM table lists {} bytes; saving what "
                                "the table lists",
                                pages, pages * page, layout.memory_size));
        } catch (const Error& e) {
            say(Priority::warning, fmt::format("cannot read dumpsize: {}", e.message()));
        }

        const std::uint64_t core_bytes =
            netbsd::kcore_file_header(layout, layout.memory_size).size() + layout.memory_size;
        ok = check_space(core_bytes) && ok;
        return ok;
    }

    bool check_time(const Kernel& kernel) {
        const SymbolTable& syms = namelist_->symbols();
        std::int64_t t = 0;
        try {
            if (const Symbol* s = syms.lookup("_time_second")) {
                const unsigned width = s->size == 4 ? 4 : 8;
                const std::uint64_t v = kernel.read_uint(s->value, width);
                t = width == 4 ? static_cast<std::int32_t>(v) : static_cast<std::int64_t>(v);
            } else if (const Symbol* tv = syms.lookup("_time")) {
                // struct timeval: tv_sec, a long, comes first.
                const std::uint64_t v = kernel.read_pointer(tv->value);
                t = kernel.pointer_size() == 4 ? static_cast<std::int32_t>(v) : static_cast<std::int64_t>(v);
            } else {
                say(Priority::err, fmt::format("{}: neither _time_second nor _time in namelist", o_.system));
                return false;
            }
        } catch (const Error& e) {
            say(Priority::err, fmt::format("cannot read the crash time: {}", e.message()));
            return false;
        }
        if (t == 0) {
            say(Priority::err, "dump time is zero");
            return false;
        }
        say(Priority::notice, fmt::format("system went down at {}", format_time(t)));
        const std::int64_t now = o_.now.value_or(static_cast<std::int64_t>(std::time(nullptr)));
        if (t > now + leeway || t < now - leeway) {
            say(Priority::err, "dump time is unreasonable");
            return false;
        }
        return true;
    }

    bool check_space(std::uint64_t core_bytes) {
        std::uint64_t kernel_size = unknown_kernel_size;
        if (struct stat st{}; ::stat(o_.system.c_str(), &st) == 0)
            kernel_size = static_cast<std::uint64_t>(st.st_blocks) * 512;
        return Session::check_space((core_bytes + kernel_size) / 1024);
    }

    // The next dump number: bounds, past any name already taken (an old
    // core is never replaced).  bounds is advanced before the save, as
    // NetBSD does.
    std::uint64_t next_number() {
        const auto bounds = read_count("bounds", "not a number", "starting at 0");
        if (!bounds && !dir_->exists("bounds"))
            say(Priority::warning, fmt::format("{}: no such file; starting at 0", dir_->path_of("bounds")));
        std::uint64_t n = bounds.value_or(0);
        for (;;) {
            bool taken = false;
            for (const char* form : {"netbsd.{}.core", "netbsd.{}.core.gz", "netbsd.{}.core.zst", "netbsd.{}",
                                     "netbsd.{}.gz", "netbsd.{}.zst"})
                taken = taken || dir_->exists(fmt::format(fmt::runtime(form), n));
            if (!taken) break;
            say(Priority::warning,
                fmt::format("{}: dump {} exists; not replacing it, using {}", o_.directory, n, n + 1));
            ++n;
        }
        dir_->write_bounds(n + 1);
        return n;
    }

    void save(const std::string& device, const ByteSource& src, const netbsd::DumpLayout& layout, DeviceResult& r) {
        const std::uint64_t n = next_number();
        const std::string gz = o_.zstd ? ".zst" : o_.compress ? ".gz" : "";
        const std::string what = o_.zstd || o_.compress ? "compressed " : "";

        const Bytes header = netbsd::kcore_file_header(layout, layout.memory_size);
        const std::uint64_t core_total = header.size() + layout.memory_size;
        const std::string core_name = fmt::format("netbsd.{}.core{}", n, gz);
        say(Priority::notice, fmt::format("writing {}core to {}", what, dir_->path_of(core_name)));
        try {
            r.core = write_file(core_name, core_total, [&](Sink& out, const auto& report) {
                out.write(header);
                detail::copy_range(src, layout.memory_offset, layout.memory_size, out,
                                   {.progress = [&](std::uint64_t done) { report(header.size() + done); },
                                    .interrupted = o_.interrupted});
            });
            r.core_size = core_total;
        } catch (const Error& e) {
            say(Priority::err, e.message());
            say(Priority::err, fmt::format("{}: not saved; the partial file was removed and the dump left on {}",
                                           dir_->path_of(core_name), device));
            r.outcome = Outcome::failed;
            return;
        }

        const std::string kernel_name = fmt::format("netbsd.{}{}", n, gz);
        say(Priority::notice, fmt::format("writing {}kernel to {}", what, dir_->path_of(kernel_name)));
        try {
            const std::shared_ptr<ByteSource> kernel_file = open_file(o_.system);
            r.kernel = write_file(kernel_name, kernel_file->size(), [&](Sink& out, const auto& report) {
                detail::copy_range(*kernel_file, 0, kernel_file->size(), out,
                                   {.progress = report, .interrupted = o_.interrupted});
            });
        } catch (const Error& e) {
            say(Priority::err, e.message());
            say(Priority::err, fmt::format("{}: not saved; the dump was left on {} ({} is complete)",
                                           dir_->path_of(kernel_name), device, r.core));
            r.outcome = Outcome::failed;
            return;
        }

        // Both files are on disk: only now may the dump go.
        r.outcome = Outcome::saved;
        if (o_.keep) {
            verbose(fmt::format("{}: dump kept (-k)", device));
            return;
        }
        try {
            clear(device, layout);
            verbose(fmt::format("{}: dump cleared", device));
        } catch (const Error& e) {
            say(Priority::err,
                fmt::format("{}: cannot clear the dump: {}; it will be saved again next time", device, e.message()));
        }
    }

    // kvm_dump_inval: zeroes dumpmag on the device, nothing else.
    void clear(const std::string& device, const netbsd::DumpLayout& layout) {
        const std::shared_ptr<ByteSource> rw = open_device(device, OpenMode::read_write);
        Kernel kernel(netbsd::make_format(rw, netbsd::read_device_dump(*rw, layout.header_offset)), namelist_);
        netbsd::invalidate_dump(kernel);
    }

    std::shared_ptr<const Namelist> namelist_;
    std::uint64_t expected_dumpmag_ = netbsd::dumpmag_value;
    std::string kernel_version_;
};

}  // namespace

namespace detail {

std::string about(const Error& e, const std::string& path) {
    Error copy = e;
    copy.with_path(path);
    return copy.message();
}

void Session::open_directory() {
    dir_ = std::make_unique<CrashDir>(o_.directory);
    dir_->lock();
    for (const std::string& name : dir_->remove_stale_temporaries())
        say(Priority::warning, fmt::format("{}: removed, left by an interrupted savecore", dir_->path_of(name)));
}

std::optional<std::uint64_t> Session::read_count(const std::string& name, std::string_view not_a_number,
                                                 std::string_view instead) {
    std::optional<std::string> line;
    try {
        line = dir_->first_line(name);
    } catch (const Error& e) {
        say(Priority::warning, fmt::format("{}; {}", e.message(), instead));
        return std::nullopt;
    }
    if (!line) return std::nullopt;
    const auto value = parse_count(*line);
    if (!value) say(Priority::warning, fmt::format("{}: {}; {}", dir_->path_of(name), not_a_number, instead));
    return value;
}

bool Session::check_space(std::uint64_t needed) {
    const std::uint64_t free = dir_->free_kib();
    const std::uint64_t minfree = read_count("minfree", "not a number of kilobytes", "ignored").value_or(0);
    verbose(fmt::format("{}: {} KB free, {} KB needed, {} KB to keep free", o_.directory, free, needed, minfree));
    const bool short_of_space = free < needed || free - needed < minfree;
    if (minfree > 0 && short_of_space) {
        say(Priority::err, fmt::format("no dump, not enough free space in {}", o_.directory));
        return false;
    }
    if (short_of_space) say(Priority::warning, "dump performed, but free space threshold crossed");
    return true;
}

}  // namespace detail

Result run(const Options& options, Logger& logger, const ProgressCallback& progress) {
    try {
        return Saver(options, logger, progress).run();
    } catch (const std::exception& e) {
        // Not a kvm::Error (out of memory, a thread that could not start):
        // still a message, never an exception out of savecore.
        logger.log(Priority::err, e.what());
        return {};
    }
}

}  // namespace kvm::save
