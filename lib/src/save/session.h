// What every savecore path shares, whatever the OS that wrote the dump: the
// options, the logger, the crash directory (opened and locked once), the
// counter files, the free-space check, and writing one output file safely
// (temporary name, sparse or gzip, progress, fsync, rename).
#pragma once

#include <kvm/compress.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/save.h>

#include "save/crash_dir.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kvm::save::detail {

class Session {
public:
    Session(const Options& options, Logger& logger, const ProgressCallback& progress)
        : o_(options), log_(logger), progress_(progress) {}

    const Options& options() const noexcept { return o_; }
    CrashDir& dir() { return *dir_; }

    void say(Priority p, const std::string& message) { log_.log(p, message); }
    void verbose(const std::string& message) {
        if (o_.verbose) log_.log(Priority::info, message);
    }

    std::shared_ptr<ByteSource> open_device(const std::string& path, OpenMode mode) const {
        return o_.open_device ? o_.open_device(path, mode) : open_file(path, mode);
    }
    bool interrupted() const { return o_.interrupted != nullptr && o_.interrupted->load(); }

    // Opens and locks the directory; removes what a killed savecore left.
    void open_directory();

    // The number in a counter file (bounds, minfree); nullopt when it is
    // missing, or with a warning when it cannot be read (a symlink, say) or
    // is not a number: savecore goes on either way.
    std::optional<std::uint64_t> read_count(const std::string& name, std::string_view not_a_number,
                                            std::string_view instead);

    // NetBSD's check_space: `needed_kib` against the free space less
    // minfree.  False (after saying so) when minfree would be crossed; a
    // warning only when minfree is absent or 0.
    bool check_space(std::uint64_t needed_kib);

    // What stands between the bytes written and the file.
    enum class Filter {
        none,    // the bytes as they are, sparse: zero blocks become holes
        gzip,    // gzip members (-z's level and threads)
        zstd,    // zstd frames and a seek table (--zstd)
        gunzip,  // a gzip stream decompressed (-u), sparse
        unzstd,  // zstd frames decompressed (-u), sparse
    };

    // Writes one output file through a temporary name: `body(sink, report)`
    // writes it (report(done) after each chunk), then it is finished
    // (trailer, size, fsync) and renamed into place.  On an error the
    // temporary file is gone before this returns.  `input` names what is
    // decompressed, in messages about damaged streams.
    template <typename Body>
    std::string write_file(const std::string& name, std::uint64_t total, Body body, Filter filter,
                           const std::string& input = {}) {
        AtomicFile file(dir_->fd(), dir_->path(), name, 0600, AtomicFile::Replace::never);
        std::string path = file.path();
        const auto sink = create_fd_sink(file.fd(), file.temp_path(), {.sparse = filter != Filter::gzip && filter != Filter::zstd});
        std::unique_ptr<Sink> filtered;
        switch (filter) {
            case Filter::none:
                break;
            case Filter::gzip:
                filtered = create_gzip_sink(*sink, {.level = o_.level, .threads = o_.threads});
                break;
            case Filter::zstd:
                filtered = create_zstd_sink(*sink, {.level = o_.level, .threads = o_.threads});
                break;
            case Filter::gunzip:
                filtered = create_gunzip_sink(*sink, input);
                break;
            case Filter::unzstd:
                filtered = create_unzstd_sink(*sink, input);
                break;
        }
        Sink& out = filtered ? *filtered : *sink;
        const auto start = std::chrono::steady_clock::now();
        // After every chunk: stop as soon as the file is gone (the
        // directory was cleaned up under us) instead of writing the rest of
        // the dump into a file that can never be committed.
        const auto report = [&](std::uint64_t done) {
            file.check_not_removed();
            if (progress_)
                progress_({.file = path,
                           .done = done,
                           .total = total,
                           .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
        };
        body(out, report);
        out.finish();
        filtered.reset();
        file.commit();
        return path;
    }
    // What -z or --zstd asks for, and the suffix of its files.
    Filter compression() const { return o_.zstd ? Filter::zstd : o_.compress ? Filter::gzip : Filter::none; }
    std::string compressed_suffix() const { return o_.zstd ? ".zst" : o_.compress ? ".gz" : ""; }

    // Compressed with -z or --zstd, else sparse.
    template <typename Body>
    std::string write_file(const std::string& name, std::uint64_t total, Body body) {
        return write_file(name, total, std::move(body), compression());
    }

protected:
    const Options& o_;
    Logger& log_;
    const ProgressCallback& progress_;
    std::unique_ptr<CrashDir> dir_;
};

// An error's text with `path` in front, once.
std::string about(const Error& e, const std::string& path);

// Whether the last sector of `device` holds a FreeBSD or DragonFly
// kerneldumpheader magic (any of the five, a cleared one too): such a
// device is saved by save_kerneldump_device, never scanned for a NetBSD
// dump.  False when the device cannot be read (the NetBSD path reports it).
bool holds_kerneldump(const Session& session, const std::string& device);

// savecore of a FreeBSD or DragonFly dump device (savecore_bsd.cpp).
DeviceResult save_kerneldump_device(Session& session, const std::string& device);

}  // namespace kvm::save::detail
