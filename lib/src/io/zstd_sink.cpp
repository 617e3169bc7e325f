// savecore --zstd's file: independent zstd frames of block_size bytes, each
// with its content size and checksum, compressed in parallel and written in
// order, then the seekable format's seek table (io/zstd_format.h).
#include <kvm/compress.h>
#include <kvm/error.h>

#include "io/block_sink.h"
#include "io/zero.h"
#include "io/zstd_format.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <vector>

namespace kvm {

namespace {

constexpr std::size_t min_block = 64u << 10;
constexpr std::size_t max_block = 16u << 20;
constexpr int min_level = 1;
constexpr int max_level = 19;

class Compressor {
public:
    explicit Compressor(int level) : cctx_(ZSTD_createCCtx()) {
        if (cctx_ == nullptr) throw Error(ErrorKind::io, "zstd: cannot make a compression context");
        check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level), "setting the level");
        check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1), "asking for checksums");
        check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 1), "asking for content sizes");
    }
    ~Compressor() { ZSTD_freeCCtx(cctx_); }
    Compressor(const Compressor&) = delete;
    Compressor& operator=(const Compressor&) = delete;

    // One frame of `in` into `out` from `at` on; returns its size.
    std::size_t compress(ByteSpan in, Bytes& out, std::size_t at) {
        const std::size_t bound = ZSTD_compressBound(in.size());
        if (out.size() < at + bound) out.resize(at + bound);
        return check(ZSTD_compress2(cctx_, out.data() + at, bound, in.data(), in.size()), "compressing");
    }

private:
    static std::size_t check(std::size_t ret, std::string_view what) {
        if (ZSTD_isError(ret) != 0)
            throw Error(ErrorKind::io, fmt::format("zstd: {} failed: {}", what, ZSTD_getErrorName(ret)));
        return ret;
    }
    ZSTD_CCtx* cctx_;
};

class FrameEncoder final : public detail::BlockEncoder {
public:
    FrameEncoder(int level, const Bytes& zeros, std::size_t block) : zstd_(level), zeros_(zeros), block_(block) {}

    std::size_t encode(ByteSpan in, std::uint64_t /*offset*/, Bytes& out) override {
        if (in.size() == block_ && detail::all_zero(in.data(), in.size())) {
            if (out.size() < zeros_.size()) out.resize(zeros_.size());
            std::copy(zeros_.begin(), zeros_.end(), out.begin());
            return zeros_.size();
        }
        return zstd_.compress(in, out, 0);
    }

private:
    Compressor zstd_;
    const Bytes& zeros_;
    std::size_t block_;
};

class ZstdSink final : public detail::BlockSink {
public:
    ZstdSink(Sink& out, const ZstdOptions& o)
        : BlockSink(out, {.what = "zstd", .threads = o.threads, .block_size = o.block_size, .max_memory = o.max_memory},
                    min_block, max_block),
          level_(o.level) {
        if (level_ < min_level || level_ > max_level)
            throw Error(ErrorKind::usage, fmt::format("zstd level {} is not {}-{}", level_, min_level, max_level));
        const Bytes zero_block(o.block_size);
        Compressor c(level_);
        zeros_.resize(c.compress(zero_block, zeros_, 0));
        start([this, block = o.block_size] { return std::make_unique<FrameEncoder>(level_, zeros_, block); });
    }
    ~ZstdSink() override { stop(); }
    ZstdSink(const ZstdSink&) = delete;
    ZstdSink& operator=(const ZstdSink&) = delete;

private:
    void block_written(std::size_t input_size, std::size_t output_size) override {
        if (entries_.size() == detail::seekable_max_frames)
            throw Error(ErrorKind::usage, fmt::format("zstd: more than {} frames: the seek table cannot list them",
                                                      detail::seekable_max_frames));
        entries_.push_back({static_cast<std::uint32_t>(output_size), static_cast<std::uint32_t>(input_size)});
    }

    void write_trailer(Sink& out) override {
        Encoder e(ByteOrder::little);
        e.u32(detail::seek_table_skippable_magic);
        e.u32(static_cast<std::uint32_t>(entries_.size() * 8 + detail::seek_table_footer_size));
        for (const auto& [compressed, decompressed] : entries_)
            e.u32(compressed).u32(decompressed);
        e.u32(static_cast<std::uint32_t>(entries_.size())).u8(0).u32(detail::seekable_magic);
        out.write(e.data());
    }

    int level_;
    Bytes zeros_;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> entries_;  // compressed, decompressed
};

}  // namespace

std::unique_ptr<Sink> create_zstd_sink(Sink& out, const ZstdOptions& options) {
    return std::make_unique<ZstdSink>(out, options);
}

}  // namespace kvm
