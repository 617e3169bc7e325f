#include "io/gzip_index.h"

#include <kvm/error.h>

#include "io/block_source.h"
#include "io/decompress.h"
#include "io/deflate.h"
#include "io/gzip_format.h"
#include "io/unique_fd.h"

#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace kvm::detail {

namespace {

constexpr std::string_view index_magic = "KVMGZIDX";
constexpr std::uint32_t index_version = 1;
constexpr std::size_t index_header_size = 64;
constexpr std::size_t index_point_size = 32;
constexpr std::size_t input_chunk = 256u << 10;
constexpr std::uint64_t slice_size = 1u << 20;  // the blocks a read inflates and caches
constexpr std::uint64_t progress_every = 16u << 20;

// A raw inflate over a ByteSource from any compressed offset.
class RawInflate {
public:
    enum class Status { more, block_end, stream_end, input_end, error };

    explicit RawInflate(const ByteSource& src) : src_(src) {
        if (inflateInit2(&z_, -15) != Z_OK) throw Error(ErrorKind::io, "zlib: cannot start an inflate stream");
    }
    ~RawInflate() { inflateEnd(&z_); }
    RawInflate(const RawInflate&) = delete;
    RawInflate& operator=(const RawInflate&) = delete;

    // A deflate block starts at `in`, after `bits` bits of the byte before
    // it, with `history` as the output before it.
    void start(std::uint64_t in, std::uint8_t bits, ByteSpan history) {
        if (inflateReset(&z_) != Z_OK) throw Error(ErrorKind::io, "zlib: inflateReset failed");
        z_.avail_in = 0;
        next_read_ = in;
        if (bits != 0) {
            std::array<std::byte, 1> before{};
            src_.read_exact(in - 1, before, "gzip checkpoint");
            if (inflatePrime(&z_, bits, static_cast<int>(std::to_integer<unsigned>(before[0]) >> (8 - bits))) != Z_OK)
                throw Error(ErrorKind::io, "zlib: inflatePrime failed");
        }
        if (!history.empty() && inflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(history.data()),
                                                     static_cast<uInt>(history.size())) != Z_OK)
            throw Error(ErrorKind::io, "zlib: inflateSetDictionary failed");
    }

    // Inflates into `out` until it is full, the stream or the input ends,
    // or (when `blocks`) a deflate block ends.  Returns the bytes produced.
    std::size_t run(MutableByteSpan out, bool blocks, Status& status) {
        z_.next_out = reinterpret_cast<Bytef*>(out.data());
        z_.avail_out = static_cast<uInt>(out.size());
        for (;;) {
            if (z_.avail_in == 0) {
                const std::size_t n = src_.read_at(next_read_, buf_);
                if (n == 0) {
                    status = Status::input_end;
                    break;
                }
                z_.next_in = reinterpret_cast<Bytef*>(buf_.data());
                z_.avail_in = static_cast<uInt>(n);
                next_read_ += n;
            }
            const int ret = inflate(&z_, blocks ? Z_BLOCK : Z_NO_FLUSH);
            if (ret == Z_STREAM_END) {
                status = Status::stream_end;
                break;
            }
            if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR) {
                status = Status::error;
                break;
            }
            if (ret == Z_MEM_ERROR) throw Error(ErrorKind::io, "zlib: out of memory");
            if (z_.avail_out == 0) {
                status = Status::more;
                break;
            }
            if (blocks && (z_.data_type & 128) != 0 && (z_.data_type & 64) == 0) {
                status = Status::block_end;
                break;
            }
        }
        return out.size() - z_.avail_out;
    }

    // The next compressed byte inflate has not taken.
    std::uint64_t position() const noexcept { return next_read_ - z_.avail_in; }
    std::uint8_t unused_bits() const noexcept { return static_cast<std::uint8_t>(z_.data_type & 7); }
    std::string message() const { return z_.msg != nullptr ? z_.msg : "invalid data"; }

private:
    const ByteSource& src_;
    z_stream z_{};
    Bytes buf_ = Bytes(input_chunk);
    std::uint64_t next_read_ = 0;
};

[[noreturn]] void corrupt(const std::string& name, const std::string& why) {
    Error e(ErrorKind::corrupt, why);
    e.with_path(name);
    throw e;
}

class IndexBuilder {
public:
    IndexBuilder(const ByteSource& src, const DecompressOptions& o, std::uint64_t span) : src_(src), o_(o), z_(src) {
        index_.span = span;
    }

    GzipIndex build() {
        const std::uint64_t file_size = src_.size();
        std::uint64_t pos = 0;
        for (std::size_t member = 0;; ++member) {
            const std::string what = fmt::format("member {}", member);
            const std::optional<GzipHeader> h = parse_gzip_header(src_, pos, what);
            if (!h) {
                if (member == 0) corrupt(src_.name(), "not a gzip file");
                notify(o_, fmt::format("{}: the {} bytes after the last member (offset {:#x}) are not gzip data; "
                                       "ignored",
                                       src_.name(), file_size - pos, pos));
                break;
            }
            const std::uint64_t data_start = pos + h->size;
            z_.start(data_start, 0, {});
            if (index_.points.empty() || total_ - index_.points.back().out >= index_.span) add_point(data_start, 0, {});
            if (!inflate_member(member, pos)) break;
            const std::uint64_t trailer_at = z_.position();
            std::array<std::byte, gzip_trailer> trailer{};
            if (src_.read_at(trailer_at, trailer) != trailer.size()) {
                cut_short(member, pos);
                break;
            }
            const std::uint32_t crc = load32(trailer.data(), ByteOrder::little);
            const std::uint32_t isize = load32(trailer.data() + 4, ByteOrder::little);
            if (crc != crc_)
                corrupt(src_.name(), fmt::format("{} at offset {:#x}: the CRC-32 of its data is {:#010x}, but its "
                                                 "trailer says {:#010x}",
                                                 what, pos, crc_, crc));
            if (isize != static_cast<std::uint32_t>(member_out_))
                corrupt(src_.name(), fmt::format("{} at offset {:#x}: it holds {} bytes, but its trailer says {} "
                                                 "(modulo 2^32)",
                                                 what, pos, member_out_, isize));
            pos = trailer_at + gzip_trailer;
            if (pos >= file_size) break;
        }
        index_.size = total_;
        return std::move(index_);
    }

private:
    // Inflates the member whose header is at `pos`, adding checkpoints;
    // false when the file ends inside it.
    bool inflate_member(std::size_t member, std::uint64_t pos) {
        std::size_t wpos = 0;  // the ring holds the member's last 32 KiB of output
        member_out_ = 0;
        crc_ = 0;
        for (;;) {
            RawInflate::Status status = RawInflate::Status::more;
            const std::size_t n = z_.run(MutableByteSpan(ring_).subspan(wpos), true, status);
            crc_ = crc32(ByteSpan(ring_).subspan(wpos, n), crc_);
            wpos = (wpos + n) % ring_.size();
            member_out_ += n;
            total_ += n;
            if (status == RawInflate::Status::error)
                corrupt(src_.name(), fmt::format("member {} at offset {:#x}: bad deflate data near compressed offset "
                                                 "{:#x}: {}",
                                                 member, pos, z_.position(), z_.message()));
            if (status == RawInflate::Status::input_end) {
                cut_short(member, pos);
                return false;
            }
            if (status == RawInflate::Status::stream_end) return true;
            if (status == RawInflate::Status::block_end && total_ - index_.points.back().out >= index_.span) {
                Bytes history;
                if (member_out_ >= ring_.size()) {
                    history.assign(ring_.begin() + static_cast<std::ptrdiff_t>(wpos), ring_.end());
                    history.insert(history.end(), ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(wpos));
                } else {
                    history.assign(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(wpos));
                }
                add_point(z_.position(), z_.unused_bits(), history);
            }
            if (o_.progress && z_.position() - last_progress_ >= progress_every) {
                last_progress_ = z_.position();
                o_.progress({.file = src_.name(), .what = "indexing", .done = z_.position(), .total = src_.size()});
            }
        }
    }

    void add_point(std::uint64_t in, std::uint8_t bits, ByteSpan history) {
        if (index_.points.size() == gzip_index_max_points) {
            // Every other checkpoint goes (never the first): memory stays
            // bounded whatever the file's size.
            std::vector<GzipCheckpoint> kept;
            for (std::size_t i = 0; i < index_.points.size(); i += 2)
                kept.push_back(std::move(index_.points[i]));
            index_.points = std::move(kept);
            index_.span *= 2;
            if (total_ - index_.points.back().out < index_.span) return;
        }
        GzipCheckpoint p{.out = total_, .in = in, .bits = bits, .history = static_cast<std::uint32_t>(history.size())};
        if (!history.empty()) p.stored.resize(deflater_.compress(history, p.stored, 0));
        index_.points.push_back(std::move(p));
    }

    void cut_short(std::size_t member, std::uint64_t pos) {
        notify(o_, fmt::format("{}: the file ends inside member {} (offset {:#x}) after {} bytes of data: the rest is "
                               "missing (the file was cut short?)",
                               src_.name(), member, pos, total_));
    }

    const ByteSource& src_;
    const DecompressOptions& o_;
    RawInflate z_;
    Deflater deflater_{1};
    Bytes ring_ = Bytes(gzip_window);
    GzipIndex index_;
    std::uint64_t total_ = 0;
    std::uint64_t member_out_ = 0;
    std::uint32_t crc_ = 0;
    std::uint64_t last_progress_ = 0;
};

class IndexSource final : public BlockSource {
public:
    IndexSource(std::shared_ptr<ByteSource> src, GzipIndex index, std::size_t cache_bytes)
        : BlockSource(src->name(), cache_bytes), src_(std::move(src)), index_(std::move(index)), z_(*src_) {
        set_size(index_.size);
    }

private:
    Block locate(std::uint64_t offset) const override {
        const std::uint64_t k = offset / slice_size;
        return {.key = k, .start = k * slice_size, .size = std::min(slice_size, size() - k * slice_size)};
    }

    std::shared_ptr<const Bytes> load(const Block& b, BlockCache& cache) const override {
        const auto it = std::upper_bound(index_.points.begin(), index_.points.end(), b.start,
                                         [](std::uint64_t v, const GzipCheckpoint& p) { return v < p.out; });
        const auto point = static_cast<std::size_t>(it - index_.points.begin()) - 1;
        const GzipCheckpoint& p = index_.points[point];
        Bytes history(p.history);
        if (p.history != 0) {
            const Inflater::Result r = inflater_.inflate(p.stored, history);
            if (!r.ok || r.produced != p.history)
                corrupt(name(),
                        fmt::format("checkpoint {}: its history does not inflate to {} bytes", point, p.history));
        }
        const auto fail = [&](const std::string& why) {
            corrupt(name(), fmt::format("{} after checkpoint {} (compressed offset {:#x}, uncompressed {:#x}), before "
                                        "uncompressed offset {:#x} (does the index match the file?)",
                                        why, point, p.in, p.out, b.start + b.size));
        };
        z_.start(p.in, p.bits, history);
        std::uint64_t out = p.out;
        std::uint64_t slice = (out + slice_size - 1) / slice_size;  // the first one wholly ahead
        std::shared_ptr<Bytes> current;
        std::size_t filled = 0;
        for (;;) {
            RawInflate::Status status = RawInflate::Status::more;
            const std::size_t n = z_.run(scratch_, false, status);
            // Every whole slice produced on the way is cached; the asked one ends the walk.
            std::size_t used = 0;
            while (used < n) {
                const std::uint64_t at = out + used;
                const std::uint64_t slice_start = slice * slice_size;
                if (at < slice_start) {
                    used += static_cast<std::size_t>(std::min<std::uint64_t>(n - used, slice_start - at));
                    continue;
                }
                if (!current) {
                    current = std::make_shared<Bytes>(std::min(slice_size, size() - slice_start));
                    filled = 0;
                }
                const std::size_t k = std::min(n - used, current->size() - filled);
                std::copy_n(scratch_.begin() + static_cast<std::ptrdiff_t>(used), k,
                            current->begin() + static_cast<std::ptrdiff_t>(filled));
                filled += k;
                used += k;
                if (filled == current->size()) {
                    if (slice == b.key) return current;
                    cache.put(slice, std::move(current));
                    current.reset();
                    ++slice;
                }
            }
            out += n;
            if (status == RawInflate::Status::error) fail(fmt::format("bad deflate data ({})", z_.message()));
            if (status == RawInflate::Status::input_end) fail("the compressed data ends");
            if (status == RawInflate::Status::stream_end) {
                const std::uint64_t next = z_.position() + gzip_trailer;
                const std::optional<GzipHeader> h = parse_gzip_header(*src_, next, "member");
                if (!h) fail(fmt::format("the last member ends at offset {:#x}", next));
                z_.start(next + h->size, 0, {});
            }
        }
    }

    std::shared_ptr<ByteSource> src_;
    GzipIndex index_;
    // Used under the lock read_at holds.
    mutable RawInflate z_;
    mutable Inflater inflater_;
    mutable Bytes scratch_ = Bytes(input_chunk);
};

using Fd = detail::UniqueFd;

FileStamp stamp_of(const struct stat& st) {
    return {.size = static_cast<std::uint64_t>(st.st_size),
            .mtime_sec = static_cast<std::int64_t>(st.st_mtim.tv_sec),
            .mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec)};
}

// The saved index of the file `stamp` describes, or nullopt (with a notice
// when there was one that could not be used).  Only a regular file owned by
// us, root or the gzip file's owner is believed.
std::optional<GzipIndex> load_saved(const std::string& path, const FileStamp& stamp, uid_t owner,
                                    const DecompressOptions& o) {
    const std::string index_path = gzip_index_path(path);
    const Fd fd(::open(index_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno != ENOENT)
            notify(o, fmt::format("{}: cannot be opened ({}); the index is rebuilt", index_path, std::strerror(errno)));
        return std::nullopt;
    }
    try {
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) throw_os("stat", errno, index_path);
        if (!S_ISREG(st.st_mode)) corrupt(index_path, "not a regular file");
        if (st.st_uid != ::geteuid() && st.st_uid != 0 && st.st_uid != owner)
            corrupt(index_path,
                    fmt::format("owned by uid {}, who is neither you, root nor the owner of {}", st.st_uid, path));
        // Bounded: a checkpoint is 32 bytes plus at most its history's deflate bound.
        const std::uint64_t limit =
            index_header_size + gzip_index_max_saved_points * (index_point_size + 2 * gzip_window);
        if (static_cast<std::uint64_t>(st.st_size) > limit)
            corrupt(index_path, fmt::format("{} bytes, more than an index may have ({})", st.st_size, limit));
        const Bytes bytes = read_whole_file(index_path, limit);
        std::optional<GzipIndex> index = decode_gzip_index(bytes, stamp, index_path);
        if (!index)
            notify(o, fmt::format("{}: made from another version of {} (its size or modification time differ); the "
                                  "index is rebuilt",
                                  index_path, path));
        return index;
    } catch (const Error& e) {
        notify(o, fmt::format("{}; the index is ignored and rebuilt", e.message()));
        return std::nullopt;
    }
}

// Saves the index beside the file when the directory is writable and the
// file is still the one it was built from; silent otherwise.
void save(const std::string& path, const GzipIndex& index, const FileStamp& built_from) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || stamp_of(st) != built_from) return;
    const std::filesystem::path file(gzip_index_path(path));
    const std::string dir = file.has_parent_path() ? file.parent_path().string() : std::string(".");
    const Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.get() < 0 || ::faccessat(dir_fd.get(), ".", W_OK, AT_EACCESS) != 0) return;
    try {
        AtomicFile out(dir_fd.get(), dir, file.filename().string(), 0644, AtomicFile::Replace::allowed);
        const Bytes bytes = encode_gzip_index(index, built_from);
        const auto sink = create_fd_sink(out.fd(), out.temp_path());
        sink->write(bytes);
        sink->finish();
        out.commit();
    } catch (const Error&) {
        // Another tool writing it at the same time, a full disk: the index
        // is only a cache.
    }
}

}  // namespace

GzipIndex build_gzip_index(const ByteSource& source, const DecompressOptions& options, std::uint64_t span) {
    return IndexBuilder(source, options, span).build();
}

Bytes encode_gzip_index(const GzipIndex& index, const FileStamp& stamp) {
    Encoder body(ByteOrder::little);
    for (const GzipCheckpoint& p : index.points)
        body.u64(p.out).u64(p.in).u32(p.history).u32(static_cast<std::uint32_t>(p.stored.size())).u8(p.bits).zeros(7);
    for (const GzipCheckpoint& p : index.points)
        body.bytes(p.stored);
    Encoder out(ByteOrder::little);
    out.string(index_magic).u32(index_version).u32(index_header_size);
    out.u64(stamp.size).u64(static_cast<std::uint64_t>(stamp.mtime_sec)).u32(stamp.mtime_nsec);
    out.u32(static_cast<std::uint32_t>(index.points.size())).u64(index.size).u64(index.span);
    out.u32(crc32(body.data())).u32(0);
    out.bytes(body.data());
    return out.take();
}

std::optional<GzipIndex> decode_gzip_index(ByteSpan bytes, const FileStamp& stamp, const std::string& index_name) {
    if (bytes.size() < index_header_size)
        corrupt(index_name, fmt::format("{} bytes, shorter than the {}-byte header", bytes.size(), index_header_size));
    Decoder h(bytes.first(index_header_size), ByteOrder::little, "gzip index header");
    if (as_chars(h.bytes(index_magic.size())) != index_magic)
        corrupt(index_name, "not a kvmkit gzip index (no KVMGZIDX magic)");
    if (const std::uint32_t v = h.u32(); v != index_version)
        corrupt(index_name, fmt::format("version {}, not {}", v, index_version));
    if (const std::uint32_t hs = h.u32(); hs != index_header_size)
        corrupt(index_name, fmt::format("header size {}, not {}", hs, index_header_size));
    FileStamp built_from;
    built_from.size = h.u64();
    built_from.mtime_sec = static_cast<std::int64_t>(h.u64());
    built_from.mtime_nsec = h.u32();
    if (built_from != stamp) return std::nullopt;
    const std::uint32_t count = h.u32();
    GzipIndex index;
    index.size = h.u64();
    index.span = h.u64();
    const std::uint32_t crc = h.u32();
    if (count == 0 || count > gzip_index_max_saved_points)
        corrupt(index_name, fmt::format("{} checkpoints, not 1 to {}", count, gzip_index_max_saved_points));
    const ByteSpan body = bytes.subspan(index_header_size);
    if (body.size() < std::uint64_t{count} * index_point_size)
        corrupt(index_name, fmt::format("{} checkpoints need {} bytes after the header, but the file has {}", count,
                                        std::uint64_t{count} * index_point_size, body.size()));
    if (crc32(body) != crc)
        corrupt(index_name,
                fmt::format("the CRC-32 of its contents is {:#010x}, but its header says {:#010x}", crc32(body), crc));
    Decoder d(body, ByteOrder::little, "gzip index checkpoints");
    std::uint64_t stored_total = 0;
    std::vector<std::uint32_t> stored_sizes;
    for (std::uint32_t i = 0; i < count; ++i) {
        GzipCheckpoint p;
        p.out = d.u64();
        p.in = d.u64();
        p.history = d.u32();
        const std::uint32_t stored = d.u32();
        p.bits = d.u8();
        d.skip(7);
        const auto bad = [&](const std::string& why) { corrupt(index_name, fmt::format("checkpoint {}: {}", i, why)); };
        if (i == 0 && p.out != 0) bad(fmt::format("the first is at uncompressed offset {:#x}, not 0", p.out));
        if (i > 0 && p.out <= index.points.back().out)
            bad(fmt::format("uncompressed offset {:#x} does not follow the previous one's {:#x}", p.out,
                            index.points.back().out));
        if (i > 0 && p.in < index.points.back().in)
            bad(fmt::format("compressed offset {:#x} is before the previous one's {:#x}", p.in,
                            index.points.back().in));
        if (p.out > index.size || (p.out == index.size && index.size != 0))
            bad(fmt::format("uncompressed offset {:#x} is not inside the {:#x} bytes of data", p.out, index.size));
        if (p.in >= stamp.size || p.in == 0)
            bad(fmt::format("compressed offset {:#x} is not inside the {:#x}-byte file", p.in, stamp.size));
        if (p.bits > 7) bad(fmt::format("{} bits of a byte", p.bits));
        if (p.history > gzip_window || p.history > p.out)
            bad(fmt::format("{} bytes of history at uncompressed offset {:#x}", p.history, p.out));
        if ((stored == 0) != (p.history == 0) || stored > 2 * gzip_window)
            bad(fmt::format("{} stored bytes for {} bytes of history", stored, p.history));
        stored_total += stored;
        stored_sizes.push_back(stored);
        index.points.push_back(std::move(p));
    }
    if (stored_total != d.remaining())
        corrupt(index_name, fmt::format("its checkpoints store {} bytes of history, but {} bytes follow them",
                                        stored_total, d.remaining()));
    for (std::uint32_t i = 0; i < count; ++i) {
        const ByteSpan s = d.bytes(stored_sizes[i]);
        index.points[i].stored.assign(s.begin(), s.end());
    }
    return index;
}

std::shared_ptr<ByteSource> gzip_index_source(std::shared_ptr<ByteSource> source, GzipIndex index,
                                              std::size_t cache_bytes) {
    return std::make_shared<IndexSource>(std::move(source), std::move(index), cache_bytes);
}

std::shared_ptr<ByteSource> open_gzip_checkpointed(std::shared_ptr<ByteSource> source,
                                                   const DecompressOptions& options) {
    struct stat st {};
    const bool on_disk = !options.path.empty() && options.use_saved_index && ::stat(options.path.c_str(), &st) == 0 &&
                         S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == source->size();
    if (on_disk) {
        const FileStamp stamp = stamp_of(st);
        if (std::optional<GzipIndex> saved = load_saved(options.path, stamp, st.st_uid, options))
            return gzip_index_source(std::move(source), std::move(*saved), options.cache_bytes);
        GzipIndex built = build_gzip_index(*source, options);
        save(options.path, built, stamp);
        return gzip_index_source(std::move(source), std::move(built), options.cache_bytes);
    }
    return gzip_index_source(source, build_gzip_index(*source, options), options.cache_bytes);
}

}  // namespace kvm::detail

namespace kvm {

std::string gzip_index_path(const std::string& path) {
    return path + ".gzidx";
}

}  // namespace kvm
