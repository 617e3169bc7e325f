// Reading zstd cores: through the seekable format's seek table (savecore
// --zstd, zstd's contrib tools), a frame decompressed whole when read; or,
// for a file without one (FreeBSD's kernel writes one stream), by
// decompressing it once into a sparse temporary file.
#include <kvm/error.h>

#include "io/block_source.h"
#include "io/decompress.h"
#include "io/fd_source.h"
#include "io/unique_fd.h"
#include "io/zstd_format.h"

#include <fmt/format.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace kvm::detail {

namespace {

// The largest frame this reader decompresses at once (savecore writes 1 MiB).
constexpr std::uint32_t max_frame_data = 64u << 20;
constexpr std::size_t stream_chunk = 1u << 20;
constexpr std::uint64_t progress_every = 16u << 20;

struct Frame {
    std::uint64_t offset = 0;       // compressed
    std::uint64_t data_offset = 0;  // uncompressed
};

[[noreturn]] void corrupt(const ByteSource& src, const std::string& why) {
    Error e(ErrorKind::corrupt, why);
    e.with_path(src.name());
    throw e;
}

class Dctx {
public:
    Dctx() : d_(ZSTD_createDCtx()) {
        if (d_ == nullptr) throw Error(ErrorKind::io, "zstd: cannot make a decompression context");
    }
    ~Dctx() { ZSTD_freeDCtx(d_); }
    Dctx(const Dctx&) = delete;
    Dctx& operator=(const Dctx&) = delete;
    ZSTD_DCtx* get() const noexcept { return d_; }

private:
    ZSTD_DCtx* d_;
};

// The frames a seek table lists (with a sentinel at the end), or nullopt
// when the file does not end with one.
std::optional<std::vector<Frame>> read_seek_table(const ByteSource& src) {
    const std::uint64_t file_size = src.size();
    if (file_size < skippable_header_size + seek_table_footer_size) return std::nullopt;
    std::array<std::byte, seek_table_footer_size> footer{};
    src.read_exact(file_size - footer.size(), footer, "zstd seek table footer");
    if (load32(footer.data() + 5, ByteOrder::little) != seekable_magic) return std::nullopt;
    const std::uint32_t count = load32(footer.data(), ByteOrder::little);
    const auto descriptor = std::to_integer<std::uint8_t>(footer[4]);
    const std::uint64_t footer_at = file_size - footer.size();
    if ((descriptor & seek_table_reserved_bits) != 0)
        corrupt(src, fmt::format("seek table footer at offset {:#x}: reserved bits set in its descriptor ({:#04x})",
                                 footer_at, descriptor));
    if (count > seekable_max_frames)
        corrupt(src, fmt::format("seek table footer at offset {:#x}: {} frames, more than the format's {}", footer_at,
                                 count, seekable_max_frames));
    const std::uint64_t entry = (descriptor & seek_table_checksum_flag) != 0 ? 12 : 8;
    const std::uint64_t table = std::uint64_t{count} * entry + seek_table_footer_size;
    if (table + skippable_header_size > file_size)
        corrupt(src, fmt::format("seek table footer at offset {:#x}: {} entries need {} bytes, but the file has {}",
                                 footer_at, count, table + skippable_header_size, file_size));
    const std::uint64_t table_at = file_size - table - skippable_header_size;
    std::array<std::byte, skippable_header_size> header{};
    src.read_exact(table_at, header, "zstd seek table header");
    const std::uint32_t magic = load32(header.data(), ByteOrder::little);
    const std::uint32_t frame_size = load32(header.data() + 4, ByteOrder::little);
    if (magic != seek_table_skippable_magic)
        corrupt(src, fmt::format("seek table at offset {:#x}: magic {:#010x}, not the skippable frame's {:#010x} (its "
                                 "footer lists {} frames)",
                                 table_at, magic, seek_table_skippable_magic, count));
    if (frame_size != table)
        corrupt(src, fmt::format("seek table at offset {:#x}: its frame size is {}, but {} entries and the footer "
                                 "take {}",
                                 table_at, frame_size, count, table));
    const Bytes entries =
        src.read_bytes(table_at + skippable_header_size, static_cast<std::size_t>(count * entry), "zstd seek table");
    std::vector<Frame> frames;
    std::uint64_t offset = 0;
    std::uint64_t data = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::byte* e = entries.data() + i * entry;
        const std::uint32_t compressed = load32(e, ByteOrder::little);
        const std::uint32_t decompressed = load32(e + 4, ByteOrder::little);
        if (decompressed > max_frame_data)
            corrupt(src, fmt::format("frame {} at offset {:#x}: the seek table says it holds {} bytes, more than the "
                                     "{} this reader decompresses at once",
                                     i, offset, decompressed, max_frame_data));
        if (decompressed != 0 && compressed > ZSTD_compressBound(decompressed))
            corrupt(src, fmt::format("frame {} at offset {:#x}: the seek table says it is {} bytes, more than {} "
                                     "bytes of data can take",
                                     i, offset, compressed, decompressed));
        if (compressed > table_at - offset)
            corrupt(src, fmt::format("frame {} at offset {:#x}: the seek table says it is {} bytes, past the seek "
                                     "table at {:#x}",
                                     i, offset, compressed, table_at));
        if (decompressed != 0) frames.push_back({.offset = offset, .data_offset = data});
        offset += compressed;
        data += decompressed;
    }
    if (offset != table_at)
        corrupt(src, fmt::format("the seek table's {} frames end at offset {:#x}, but the table starts at {:#x}", count,
                                 offset, table_at));
    frames.push_back({.offset = offset, .data_offset = data});
    // Frames of no data (skippable ones) are left out: each kept frame
    // ends where the next kept one starts, or earlier.
    return frames;
}

class SeekableSource final : public BlockSource {
public:
    SeekableSource(std::shared_ptr<ByteSource> src, std::vector<Frame> frames, std::size_t cache_bytes)
        : BlockSource(src->name(), cache_bytes), src_(std::move(src)), frames_(std::move(frames)) {
        set_size(frames_.back().data_offset);
    }

private:
    Block locate(std::uint64_t offset) const override {
        const auto it = std::upper_bound(frames_.begin(), frames_.end() - 1, offset,
                                         [](std::uint64_t v, const Frame& f) { return v < f.data_offset; });
        const auto i = static_cast<std::size_t>(it - frames_.begin()) - 1;
        return {.key = i, .start = frames_[i].data_offset, .size = frames_[i + 1].data_offset - frames_[i].data_offset};
    }

    std::shared_ptr<const Bytes> load(const Block& b, BlockCache& /*cache*/) const override {
        const Frame& f = frames_[b.key];
        // A frame's compressed bytes run to the next kept frame; skippable
        // frames between them decompress to nothing.
        const std::uint64_t compressed = frames_[b.key + 1].offset - f.offset;
        const Bytes in = src_->read_bytes(f.offset, static_cast<std::size_t>(compressed), "zstd frame");
        auto out = std::make_shared<Bytes>(b.size);
        const std::size_t ret = ZSTD_decompressDCtx(dctx_.get(), out->data(), out->size(), in.data(), in.size());
        const auto bad = [&](const std::string& why) {
            corrupt(*src_, fmt::format("frame {} at offset {:#x}: {}", b.key, f.offset, why));
        };
        if (ZSTD_isError(ret) != 0) {
            if (ZSTD_getErrorCode(ret) == ZSTD_error_dstSize_tooSmall)
                bad(fmt::format("decompresses to more than the {} bytes the seek table says", b.size));
            bad(fmt::format("zstd: {}", ZSTD_getErrorName(ret)));
        }
        if (ret != b.size) bad(fmt::format("decompresses to {} bytes, but the seek table says {}", ret, b.size));
        return out;
    }

    std::shared_ptr<ByteSource> src_;
    std::vector<Frame> frames_;
    Dctx dctx_;  // used under the lock read_at holds
};

std::string temp_dir(const DecompressOptions& o) {
    if (!o.temp_dir.empty()) return o.temp_dir;
    if (const char* t = std::getenv("TMPDIR"); t != nullptr && t[0] == '/') return t;
    return "/var/tmp";
}

// An unnamed file in `dir`, removed when closed.
int temporary_file(const std::string& dir) {
#ifdef O_TMPFILE
    if (const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600); fd >= 0) return fd;
#endif
    std::string name = dir + "/kvmkit-zstd-XXXXXX";
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) throw_os("cannot make a temporary file", errno, dir);
    ::unlink(name.c_str());
    return fd;
}

std::string human(std::uint64_t bytes) {
    if (bytes >= (1u << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1u << 30));
    if (bytes >= (1u << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1u << 20));
    return fmt::format("{} bytes", bytes);
}

std::shared_ptr<ByteSource> decompress_to_temporary(std::shared_ptr<ByteSource> source, const DecompressOptions& o) {
    const ByteSource& src = *source;
    const std::string dir = temp_dir(o);
    UniqueFd fd(temporary_file(dir));
    const auto sink = create_fd_sink(fd.get(), fmt::format("{} (temporary file in {})", src.name(), dir),
                                     {.sparse = true, .durable = false});
    {
        const Dctx dctx;
        Bytes in(stream_chunk);
        Bytes out(stream_chunk);
        std::uint64_t at = 0;
        std::uint64_t last_progress = 0;
        std::size_t pending = 0;  // non-zero: inside a frame
        for (;;) {
            const std::size_t n = src.read_at(at, in);
            if (n == 0) break;
            ZSTD_inBuffer input{in.data(), n, 0};
            // Until the input is taken and the output has room to spare
            // (nothing more is held back in the context).
            for (;;) {
                ZSTD_outBuffer output{out.data(), out.size(), 0};
                pending = ZSTD_decompressStream(dctx.get(), &output, &input);
                if (ZSTD_isError(pending) != 0)
                    corrupt(src, fmt::format("zstd stream: {} in the frame before compressed offset {:#x}",
                                             ZSTD_getErrorName(pending), at + input.pos));
                sink->write(ByteSpan(out.data(), output.pos));
                if (input.pos == input.size && output.pos < output.size) break;
            }
            at += n;
            if (o.progress && (at - last_progress >= progress_every || at == src.size())) {
                last_progress = at;
                o.progress({.file = src.name(), .what = "decompressing", .done = at, .total = src.size()});
            }
        }
        sink->finish();
        if (pending != 0)
            notify(o, fmt::format("{}: the file ends inside a zstd frame after {} bytes of data: the rest is missing "
                                  "(the file was cut short?)",
                                  src.name(), sink->position()));
        notify(o, fmt::format("{}: a zstd stream without a seek table: decompressed {} into a temporary file in {}",
                              src.name(), human(sink->position()), dir));
    }
    return adopt_fd(fd.release(), src.name());
}

}  // namespace

std::shared_ptr<ByteSource> open_zstd_seekable(std::shared_ptr<ByteSource> source, const DecompressOptions& options) {
    if (std::optional<std::vector<Frame>> frames = read_seek_table(*source))
        return std::make_shared<SeekableSource>(std::move(source), std::move(*frames), options.cache_bytes);
    return nullptr;
}

std::shared_ptr<ByteSource> open_zstd(std::shared_ptr<ByteSource> source, const DecompressOptions& options) {
    if (auto seekable = open_zstd_seekable(source, options)) return seekable;
    return decompress_to_temporary(std::move(source), options);
}

}  // namespace kvm::detail
