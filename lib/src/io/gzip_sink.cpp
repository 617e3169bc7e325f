// savecore -z's gzip file: independent members of block_size bytes, each
// with its sizes in a 'KV' header subfield (io/gzip_format.h), compressed
// in parallel and written in order, then the end-of-file member.  Members
// are independent (no shared dictionary), so a reader inflates any one of
// them alone; at 1 MiB that costs well under 1% of size against one stream.
#include <kvm/compress.h>
#include <kvm/error.h>

#include "io/block_sink.h"
#include "io/deflate.h"
#include "io/gzip_format.h"
#include "io/zero.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvm {

namespace {

constexpr std::size_t min_block = 64u << 10;

// A member's deflate data and CRC-32, without the header, which differs
// for each member.
struct Body {
    Bytes deflate;
    std::uint32_t crc = 0;
};

class MemberEncoder final : public detail::BlockEncoder {
public:
    MemberEncoder(int level, const Body& zeros, std::size_t block)
        : deflater_(level), level_(level), zeros_(zeros), block_(block) {}

    std::size_t encode(ByteSpan in, std::uint64_t offset, Bytes& out) override {
        const std::size_t body_at = detail::kv_header_size;
        std::size_t deflated = 0;
        std::uint32_t crc = 0;
        // Free RAM is mostly zero pages: one zero member is compressed once.
        if (in.size() == block_ && detail::all_zero(in.data(), in.size())) {
            if (out.size() < body_at + zeros_.deflate.size() + detail::gzip_trailer)
                out.resize(body_at + zeros_.deflate.size() + detail::gzip_trailer);
            std::copy(zeros_.deflate.begin(), zeros_.deflate.end(), out.begin() + body_at);
            deflated = zeros_.deflate.size();
            crc = zeros_.crc;
        } else {
            deflated = deflater_.compress(in, out, body_at);
            crc = detail::crc32(in);
        }
        const std::size_t member = body_at + deflated + detail::gzip_trailer;
        if (out.size() < member) out.resize(member);
        const Bytes header = detail::kv_member_header(static_cast<std::uint32_t>(member),
                                                      static_cast<std::uint32_t>(in.size()), offset, level_);
        std::copy(header.begin(), header.end(), out.begin());
        store32(out.data() + body_at + deflated, crc, ByteOrder::little);
        store32(out.data() + body_at + deflated + 4, static_cast<std::uint32_t>(in.size()), ByteOrder::little);
        return member;
    }

private:
    detail::Deflater deflater_;
    int level_;
    const Body& zeros_;
    std::size_t block_;
};

class GzipSink final : public detail::BlockSink {
public:
    GzipSink(Sink& out, const GzipOptions& o)
        : BlockSink(out, {.what = "gzip", .threads = o.threads, .block_size = o.block_size, .max_memory = o.max_memory},
                    min_block, detail::kv_max_data),
          level_(o.level) {
        if (level_ < detail::min_deflate_level || level_ > detail::max_deflate_level)
            throw Error(ErrorKind::usage, fmt::format("gzip level {} is not 0-9", level_));
        const Bytes zero_block(o.block_size);
        detail::Deflater d(level_);
        zeros_.deflate.resize(d.compress(zero_block, zeros_.deflate, 0));
        zeros_.crc = detail::crc32(zero_block);
        start([this, block = o.block_size] { return std::make_unique<MemberEncoder>(level_, zeros_, block); });
    }
    ~GzipSink() override { stop(); }
    GzipSink(const GzipSink&) = delete;
    GzipSink& operator=(const GzipSink&) = delete;

private:
    void write_trailer(Sink& out) override { out.write(detail::kv_end_member(position(), level_)); }

    int level_;
    Body zeros_;
};

}  // namespace

std::unique_ptr<Sink> create_gzip_sink(Sink& out, const GzipOptions& options) {
    return std::make_unique<GzipSink>(out, options);
}

}  // namespace kvm
