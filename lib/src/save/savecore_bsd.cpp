// savecore of FreeBSD and DragonFly dump devices (freebsd-dragonfly-dump-
// format.md sections 1.5-1.7 and 4): the trailing kerneldumpheader in the
// last sector, parity, the leading header compared with it, then the files
// those systems' savecore writes:
//
//   FreeBSD    vmcore.N (.gz/.zst as the kernel compressed it, kept unless
//              -u), or vmcore_encrypted.N and key.N, or textdump.tar.N;
//              info.N; bounds; the *.last links.
//   DragonFly  vmcore.N, kern.N (a copy of the kernel), info.N; bounds.
//
// Clearing writes "Cleared Kernel Dump" over the trailer's magic and nothing
// else: the parity stays as it was, so -f finds the original magic again.
// The safety is the NetBSD path's (Session): temporary names, fsync,
// rename, and a dump is cleared only when every file is on disk.
#include <kvm/error.h>
#include <kvm/kerneldump.h>
#include <kvm/save.h>

#include "save/copy.h"
#include "save/session.h"

#include <fmt/format.h>

#include <array>
#include <ctime>

namespace kvm::save::detail {

namespace {

namespace kd = kerneldump;

// Every name a dump numbered N may have: a number is taken when any
// exists, and -m removes them all before the number is used again.
constexpr std::array numbered_forms{
    "vmcore.{}",
    "vmcore.{}.gz",
    "vmcore.{}.zst",
    "vmcore_encrypted.{}",
    "vmcore_encrypted.{}.gz",
    "vmcore_encrypted.{}.zst",
    "key.{}",
    "info.{}",
    "textdump.tar.{}",
    "textdump.tar.{}.gz",
    "textdump.tar.{}.zst",
    "kern.{}",
    "kern.{}.gz",
    "kern.{}.zst",
};
// FreeBSD's links to the newest dump; the old ones go before new ones are made.
constexpr std::array last_links{
    "info.last",
    "key.last",
    "vmcore.last",
    "vmcore.last.gz",
    "vmcore.last.zst",
    "vmcore_encrypted.last",
    "vmcore_encrypted.last.gz",
    "vmcore_encrypted.last.zst",
    "textdump.tar.last",
    "textdump.tar.last.gz",
};

constexpr std::size_t textdump_chunk = 1u << 20;  // records reversed per read

// FreeBSD's info time: "2023-05-17 14:07:58 +0100", local time.
std::string info_time(std::uint64_t t) {
    const auto tt = static_cast<std::time_t>(t);
    std::tm tm{};
    if (t > static_cast<std::uint64_t>(INT64_MAX) || ::localtime_r(&tt, &tm) == nullptr)
        return fmt::format("{} seconds after the epoch", t);
    std::array<char, 64> buf{};
    const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S %z", &tm);
    return {buf.data(), n};
}

std::string with_number(std::string_view form, std::uint64_t n) {
    return fmt::format(fmt::runtime(form), n);
}

class DeviceSaver {
public:
    DeviceSaver(Session& session, std::string device) : s_(session), o_(session.options()), device_(std::move(device)) {
        r_.device = device_;
    }

    DeviceResult run() {
        try {
            s_.verbose(fmt::format("checking for a dump on {}", device_));
            src_ = s_.open_device(device_, OpenMode::read_only);
            std::optional<kd::DeviceDump> found;
            try {
                found = kd::find_device_dump(*src_);
            } catch (const Error& e) {
                s_.say(Priority::err, about(e, device_));
                return refuse();
            }
            if (!found) return none();  // gone since it was looked at
            d_ = std::move(*found);
            r_.dump_offset = d_.leader_offset;
            if (!accept()) return r_;
            switch (o_.mode) {
                case Mode::check:
                    s_.verbose(fmt::format("{}: a dump is present", device_));
                    r_.outcome = Outcome::present;
                    return r_;
                case Mode::clear:
                    clear();
                    r_.outcome = Outcome::cleared;
                    return r_;
                case Mode::save:
                    break;
            }
            save();
        } catch (const Error& e) {
            s_.say(Priority::err, e.message());
            r_.outcome = Outcome::failed;
        }
        return r_;
    }

private:
    DeviceResult refuse() {
        s_.say(Priority::err, fmt::format("{}: dump refused; nothing was saved or cleared", device_));
        r_.outcome = Outcome::refused;
        return r_;
    }
    DeviceResult none() {
        s_.say(Priority::warning, fmt::format("{}: no core dump", device_));
        r_.outcome = Outcome::no_dump;
        return r_;
    }

    // FreeBSD's checks in its order: the magic, the version, parity, the
    // leader.  False (after saying why) when the dump is not taken.
    bool accept() {
        const kd::Header& h = d_.header;
        std::string what =
            fmt::format("{}: {} (kerneldumpheader version {}, {}) at offset {:#x}: {} bytes", device_, h.magic,
                        h.version, kd::printable(h.architecture), d_.leader_offset, h.dumplength);
        if (d_.compressed()) what += fmt::format(", compressed ({})", kd::compression_name(h.compression));
        if (d_.encrypted()) what += fmt::format(", encrypted (dumpkeysize {})", h.dumpkeysize);
        s_.verbose(what);
        if (d_.cleared) {
            if (!o_.force) {
                s_.verbose(
                    fmt::format("{}: the dump was saved already (its header says \"{}\")", device_, kd::cleared_magic));
                none();
                return false;
            }
            s_.verbose(
                fmt::format("{}: the dump was saved already; saving it again (-f) as \"{}\", the magic its "
                            "parity gives",
                            device_, h.magic));
        }
        if (d_.os == kd::Os::dragonfly && d_.text) {
            s_.say(Priority::err, fmt::format("{}: a DragonFly textdump: DragonFly's savecore saves none", device_));
            refuse();
            return false;
        }
        // DragonFly writes version 1 only; FreeBSD wrote 1 up to 11, 2 and 3
        // on 12-CURRENT and 4 since: every FreeBSD version is saved.
        if (d_.os == kd::Os::dragonfly && h.version != 1) {
            s_.say(Priority::err,
                   fmt::format("{}: DragonFly dump header version {}; DragonFly writes version 1", device_, h.version));
            if (!o_.force) return refuse_checked();
            good_ = false;
        }
        const std::vector<Error> problems = kd::device_dump_problems(d_);
        for (const Error& e : problems)
            s_.say(Priority::err, e.message());
        if (!problems.empty()) {
            if (!o_.force) return refuse_checked();
            good_ = false;
        }
        if (h.compression > 2)
            s_.say(Priority::warning,
                   fmt::format("{}: unknown compression {}; the body is saved as it is", device_, h.compression));
        return true;
    }
    bool refuse_checked() {
        refuse();
        return false;
    }

    // ------------------------------------------------------------ names

    struct Plan {
        std::string core_form;  // "vmcore.{}" ...
        Session::Filter filter = Session::Filter::none;
        std::string what;  // "core", "compressed core", "textdump", ...
    };

    Plan plan() const {
        const kd::Header& h = d_.header;
        const std::string kept = h.compression == 1 ? ".gz" : h.compression == 2 ? ".zst" : "";
        if (d_.text)
            return {.core_form = "textdump.tar.{}" + s_.compressed_suffix(),
                    .filter = s_.compression(),
                    .what = s_.compression() != Session::Filter::none ? "compressed textdump" : "textdump"};
        if (d_.encrypted())
            return {
                .core_form = "vmcore_encrypted.{}" + kept, .filter = Session::Filter::none, .what = "encrypted core"};
        if (h.compression == 1 || h.compression == 2) {
            if (o_.uncompress)
                return {.core_form = "vmcore.{}",
                        .filter = h.compression == 1 ? Session::Filter::gunzip : Session::Filter::unzstd,
                        .what = "uncompressed core"};
            return {.core_form = "vmcore.{}" + kept, .filter = Session::Filter::none, .what = "compressed core"};
        }
        return {.core_form = "vmcore.{}" + s_.compressed_suffix(),
                .filter = s_.compression(),
                .what = s_.compression() != Session::Filter::none ? "compressed core" : "core"};
    }

    bool taken(std::uint64_t n) const {
        for (const char* form : numbered_forms)
            if (s_.dir().exists(with_number(form, n))) return true;
        return false;
    }

    // bounds, wrapped at -m; without -m a number whose files exist is
    // skipped, as on the NetBSD path (an older dump is never replaced).
    std::uint64_t choose_number() {
        const auto bounds = s_.read_count("bounds", "not a number", "starting at 0");
        if (!bounds && !s_.dir().exists("bounds"))
            s_.say(Priority::warning, fmt::format("{}: no such file; starting at 0", s_.dir().path_of("bounds")));
        std::uint64_t n = bounds.value_or(0);
        if (o_.maxdumps != 0) return n >= o_.maxdumps ? 0 : n;
        while (taken(n)) {
            s_.say(Priority::warning,
                   fmt::format("{}: dump {} exists; not replacing it, using {}", o_.directory, n, n + 1));
            ++n;
        }
        return n;
    }

    // Bytes the files of dump N hold (-m removes them).
    std::uint64_t bytes_of(std::uint64_t n) const {
        std::uint64_t total = 0;
        for (const char* form : numbered_forms)
            total += s_.dir().file_size(with_number(form, n)).value_or(0);
        return total;
    }

    void remove_dump(std::uint64_t n) {
        for (const char* form : numbered_forms) {
            const std::string name = with_number(form, n);
            if (!s_.dir().exists(name)) continue;
            s_.dir().remove(name);
            s_.say(Priority::notice,
                   fmt::format("{}: removed: at most {} dumps are kept (-m)", s_.dir().path_of(name), o_.maxdumps));
        }
    }

    // ------------------------------------------------------------ saving

    void save() {
        const kd::Header& h = d_.header;
        s_.say(Priority::alert,
               h.panicstring.empty() ? std::string("reboot") : "reboot after panic: " + kd::printable(h.panicstring));

        std::shared_ptr<ByteSource> kernel_file;
        std::uint64_t kernel_bytes = 0;
        if (d_.os == kd::Os::dragonfly) {
            kernel_file = open_file(o_.dragonfly_system);
            kernel_bytes = kernel_file->size();
        }
        const std::uint64_t n = choose_number();
        // FreeBSD's count: the body and 2 KiB of info, less what -m frees.
        std::uint64_t needed = h.dumplength / 1024 + 2 + kernel_bytes / 1024;
        if (o_.maxdumps != 0) needed -= std::min(needed, bytes_of(n) / 1024);
        if (!s_.check_space(needed) && !o_.force) {
            s_.say(Priority::err, fmt::format("{}: dump not saved (-f saves it anyway)", device_));
            r_.outcome = Outcome::refused;
            return;
        }
        if (o_.maxdumps != 0) remove_dump(n);
        s_.dir().write_bounds(n + 1);

        const Plan p = plan();
        if (o_.uncompress && p.filter != Session::Filter::gunzip && p.filter != Session::Filter::unzstd)
            s_.verbose(fmt::format("{}: -u: the dump is not {}compressed; saved as it is", device_,
                                   d_.encrypted() && d_.compressed() ? "only " : ""));
        if ((o_.compress || o_.zstd) && (d_.compressed() || d_.encrypted()))
            s_.verbose(fmt::format("{}: -z: the dump is {}; not compressed again", device_,
                                   d_.encrypted() ? "encrypted" : "compressed already"));

        if (d_.encrypted()) {
            const std::string key_name = with_number("key.{}", n);
            if (!write(
                    key_name, "key", d_.key_size,
                    [&](Sink& out, const auto& report) {
                        out.write(src_->read_bytes(d_.key_offset, d_.key_size, "the kerneldumpkey area"));
                        report(d_.key_size);
                    },
                    Session::Filter::none, r_.key))
                return;
            try {
                const kd::DumpKey key = kd::decode_key(src_->read_bytes(d_.key_offset, d_.key_size, "the key area"));
                s_.verbose(fmt::format("{}: encrypted with {}; decrypt {} with decryptcore(8) and {}", device_,
                                       kd::encryption_name(key.encryption), with_number(p.core_form, n), key_name));
            } catch (const Error& e) {
                s_.say(Priority::warning, about(e, device_));
            }
        }

        const std::string core_name = with_number(p.core_form, n);
        const bool core_ok = write(
            core_name, p.what, d_.body_length,
            [&](Sink& out, const auto& report) {
                if (d_.text) {
                    copy_textdump(out, report);
                } else {
                    copy_range(*src_, d_.body_offset, d_.body_length, out,
                               {.progress = report, .interrupted = o_.interrupted});
                }
            },
            p.filter, r_.core);
        if (!core_ok) return;
        r_.core_size = d_.body_length;

        const std::string info = info_text(n);
        if (!write(
                with_number("info.{}", n), "info", info.size(),
                [&](Sink& out, const auto& report) {
                    out.write(to_bytes(info));
                    report(info.size());
                },
                Session::Filter::none, r_.info))
            return;

        if (kernel_file) {
            const std::string kernel_name = with_number("kern.{}" + s_.compressed_suffix(), n);
            if (!write(
                    kernel_name, s_.compression() != Session::Filter::none ? "compressed kernel" : "kernel", kernel_bytes,
                    [&](Sink& out, const auto& report) {
                        copy_range(*kernel_file, 0, kernel_bytes, out,
                                   {.progress = report, .interrupted = o_.interrupted});
                    },
                    s_.compression(), r_.kernel))
                return;
        }
        if (d_.os == kd::Os::freebsd) link_last(n, core_name);

        // Every file is on disk: only now may the dump go.
        r_.outcome = Outcome::saved;
        if (o_.keep) {
            s_.verbose(fmt::format("{}: dump kept (-k)", device_));
            return;
        }
        try {
            clear();
        } catch (const Error& e) {
            s_.say(Priority::err, fmt::format("{}: cannot clear the dump: {}; it will be saved again next time",
                                              device_, e.message()));
        }
    }

    // Writes one file ("writing <what> to <path>"; the info file quietly);
    // on failure says what is left and returns false.
    template <typename Body>
    bool write(const std::string& name, std::string_view what, std::uint64_t total, Body body, Session::Filter filter,
               std::string& path) {
        const std::string line = fmt::format("writing {} to {}", what, s_.dir().path_of(name));
        if (what == "info") {
            s_.verbose(line);
        } else {
            s_.say(Priority::notice, line);
        }
        try {
            if (s_.interrupted()) throw Error(ErrorKind::io, "interrupted");
            path = s_.write_file(name, total, body, filter, fmt::format("{}: the compressed dump", device_));
            return true;
        } catch (const Error& e) {
            s_.say(Priority::err, e.message());
            return failed(name);
        }
    }

    bool failed(const std::string& name) {
        std::string done = r_.key;
        if (!r_.core.empty()) done += (done.empty() ? "" : " and ") + r_.core;
        if (!r_.info.empty()) done += (done.empty() ? "" : " and ") + r_.info;
        if (done.empty()) {
            s_.say(Priority::err, fmt::format("{}: not saved; the partial file was removed and the dump left on {}",
                                              s_.dir().path_of(name), device_));
        } else {
            s_.say(Priority::err,
                   fmt::format("{}: not saved; the dump was left on {} ({} {} complete)", s_.dir().path_of(name),
                               device_, done, done.find(" and ") != std::string::npos ? "are" : "is"));
        }
        r_.outcome = Outcome::failed;
        return false;
    }

    // A textdump's records are written last first, down from the trailer:
    // record k is at trailer - 512 (k + 1).
    template <typename Report>
    void copy_textdump(Sink& out, const Report& report) {
        const std::uint64_t total = d_.body_length;
        Bytes in(static_cast<std::size_t>(std::min<std::uint64_t>(textdump_chunk, total)));
        Bytes reversed(in.size());
        for (std::uint64_t done = 0; done < total;) {
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(textdump_chunk, total - done));
            const std::uint64_t at = d_.trailer_offset - done - want;
            const std::size_t got = src_->read_at(at, MutableByteSpan(in.data(), want));
            if (got < want) {
                Error e(ErrorKind::io, fmt::format("read of {} bytes at offset {:#x} returned {}: the device ended "
                                                   "early",
                                                   want, at, got));
                e.with_path(src_->name());
                throw e;
            }
            const std::size_t records = want / kd::header_size;
            for (std::size_t k = 0; k < records; ++k)
                std::copy_n(in.begin() + static_cast<std::ptrdiff_t>((records - 1 - k) * kd::header_size),
                            kd::header_size, reversed.begin() + static_cast<std::ptrdiff_t>(k * kd::header_size));
            out.write(ByteSpan(reversed.data(), want));
            done += want;
            report(done);
            if (s_.interrupted()) throw Error(ErrorKind::io, "interrupted");
        }
    }

    // info.N as FreeBSD's savecore writes it.
    std::string info_text(std::uint64_t n) const {
        const kd::Header& h = d_.header;
        std::string version = h.versionstring;
        if (version.empty() || version.back() != '\n') version += '\n';
        return fmt::format(
            "Dump header from device: {}\n"
            "  Architecture: {}\n"
            "  Architecture Version: {}\n"
            "  Dump Length: {}\n"
            "  Blocksize: {}\n"
            "  Compression: {}\n"
            "  Dumptime: {}\n"
            "  Hostname: {}\n"
            "  Magic: {}\n"
            "  Version String: {}"
            "  Panic String: {}\n"
            "  Dump Parity: {}\n"
            "  Bounds: {}\n"
            "  Dump Status: {}\n",
            device_, h.architecture, h.architecture_version, h.dumplength, h.blocksize,
            kd::compression_name(h.compression), info_time(h.dumptime), h.hostname, h.magic, version, h.panicstring,
            h.parity, n, good_ ? "good" : "bad");
    }

    // FreeBSD's *.last links: the old ones go, then info.last, key.last and
    // the core's (vmcore.last, vmcore.last.gz, textdump.tar.last, ...).
    void link_last(std::uint64_t n, const std::string& core_name) {
        try {
            for (const char* name : last_links)
                if (s_.dir().exists(name) && !s_.dir().file_size(name)) s_.dir().remove(name);
            const std::string number = std::to_string(n);
            const auto link = [&](const std::string& target) {
                // "vmcore.3.gz" -> "vmcore.last.gz"
                const std::size_t at = target.find("." + number);
                const std::string name = target.substr(0, at) + ".last" + target.substr(at + 1 + number.size());
                if (!s_.dir().replace_symlink(name, target))
                    s_.say(Priority::warning,
                           fmt::format("{}: not a symbolic link; left as it is", s_.dir().path_of(name)));
            };
            link(with_number("info.{}", n));
            if (d_.encrypted()) link(with_number("key.{}", n));
            link(core_name);
        } catch (const Error& e) {
            s_.say(Priority::warning, e.message());
        }
    }

    // ------------------------------------------------------------ clearing

    // The trailer's magic becomes "Cleared Kernel Dump"; nothing else is
    // written.  The device is read again first: only the header that was
    // checked (and saved) is cleared.
    void clear() {
        const std::shared_ptr<ByteSource> rw = s_.open_device(device_, OpenMode::read_write);
        const std::optional<kd::DeviceDump> now = kd::find_device_dump(*rw);
        if (!now || now->trailer_offset != d_.trailer_offset || now->trailer != d_.trailer)
            throw Error(ErrorKind::io,
                        fmt::format("{}: the dump header changed while the dump was saved; not cleared", device_));
        if (now->cleared) {
            s_.verbose(fmt::format("{}: the dump was cleared already", device_));
            return;
        }
        const std::uint64_t grain = std::max<std::uint32_t>(rw->write_granularity(), 1);
        const std::uint64_t first = d_.trailer_offset / grain * grain;
        const std::uint64_t end = (d_.trailer_offset + kd::magic_size + grain - 1) / grain * grain;
        Bytes block = rw->read_bytes(first, end - first, "the sector holding the trailer");
        const auto at = static_cast<std::ptrdiff_t>(d_.trailer_offset - first);
        std::fill_n(block.begin() + at, kd::magic_size, std::byte{0});
        std::copy(kd::cleared_magic.begin(), kd::cleared_magic.end(), reinterpret_cast<char*>(block.data() + at));
        rw->write_at(first, block);
        rw->sync();
        const Bytes check = rw->read_bytes(d_.trailer_offset, kd::magic_size, "the trailer's magic");
        if (kd::identify_magic(check) != kd::Magic::cleared)
            throw Error(ErrorKind::io, fmt::format("{}: the trailer's magic does not read \"{}\" after clearing it",
                                                   device_, kd::cleared_magic));
        s_.verbose(fmt::format("{}: dump cleared", device_));
    }

    Session& s_;
    const Options& o_;
    std::string device_;
    DeviceResult r_;
    std::shared_ptr<ByteSource> src_;
    kd::DeviceDump d_;
    bool good_ = true;  // info.N's Dump Status
};

}  // namespace

bool holds_kerneldump(const Session& session, const std::string& device) {
    if (session.interrupted()) return false;
    try {
        const std::shared_ptr<ByteSource> src = session.open_device(device, OpenMode::read_only);
        const std::uint64_t sector = std::max<std::uint64_t>(kd::header_size, src->write_granularity());
        if (src->size() < sector) return false;
        const Bytes magic = src->read_bytes(src->size() - sector, kd::magic_size, "the last sector");
        return kd::identify_magic(magic).has_value();
    } catch (const Error&) {
        return false;  // the NetBSD path opens it again and says why it cannot
    }
}

DeviceResult save_kerneldump_device(Session& session, const std::string& device) {
    return DeviceSaver(session, device).run();
}

}  // namespace kvm::save::detail
