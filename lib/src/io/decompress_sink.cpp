// Decompressing sinks: compressed bytes in, the plain stream out to another
// sink, in bounded buffers (savecore -u on a dump the kernel compressed).
#include <kvm/error.h>
#include <kvm/io.h>

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

namespace kvm {

namespace {

constexpr std::size_t out_chunk = 1u << 20;

[[noreturn]] void corrupt(const std::string& name, const std::string& message) {
    Error e(ErrorKind::corrupt, message);
    e.with_path(name);
    throw e;
}

class GunzipSink final : public Sink {
public:
    GunzipSink(Sink& out, std::string name) : out_(out), name_(std::move(name)), buf_(out_chunk) {
        if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) corrupt(name_, "zlib: cannot start a gzip stream");
    }
    ~GunzipSink() override { inflateEnd(&z_); }
    GunzipSink(const GunzipSink&) = delete;
    GunzipSink& operator=(const GunzipSink&) = delete;

    void write(ByteSpan data) override {
        z_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(data.data()));
        std::size_t left = data.size();
        while (left > 0) {
            // avail_in is 32 bits: feed at most 1 GiB at a time.
            const auto n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
            z_.avail_in = n;
            while (z_.avail_in > 0) {
                if (ended_) {
                    // Another member follows (gzip allows several).
                    if (inflateReset(&z_) != Z_OK) corrupt(name_, "zlib: cannot restart the gzip stream");
                    ended_ = false;
                }
                z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
                z_.avail_out = static_cast<uInt>(buf_.size());
                const uInt before = z_.avail_in;
                const int ret = inflate(&z_, Z_NO_FLUSH);
                const std::size_t produced = buf_.size() - z_.avail_out;
                consumed_ += before - z_.avail_in;
                if (produced > 0) out_.write(ByteSpan(buf_.data(), produced));
                if (ret == Z_STREAM_END) {
                    ended_ = true;
                } else if ((ret != Z_OK && ret != Z_BUF_ERROR) || (produced == 0 && before == z_.avail_in)) {
                    corrupt(name_, fmt::format("damaged gzip stream near compressed offset {:#x}: {}", consumed_,
                                               z_.msg != nullptr ? z_.msg : "inflate made no progress"));
                }
            }
            left -= n;
        }
        // Output still held by inflate (avail_out ran out exactly).
        drain();
    }

    void finish() override {
        drain();
        if (!ended_ || consumed_ == 0)
            corrupt(name_, fmt::format("the gzip stream ends early, after {} compressed bytes", consumed_));
        out_.finish();
    }
    std::uint64_t position() const override { return consumed_; }

private:
    void drain() {
        if (ended_) return;
        for (;;) {
            z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
            z_.avail_out = static_cast<uInt>(buf_.size());
            const int ret = inflate(&z_, Z_NO_FLUSH);
            const std::size_t produced = buf_.size() - z_.avail_out;
            if (produced > 0) out_.write(ByteSpan(buf_.data(), produced));
            if (ret == Z_STREAM_END) {
                ended_ = true;
                return;
            }
            if (ret != Z_OK && ret != Z_BUF_ERROR)
                corrupt(name_, fmt::format("damaged gzip stream near compressed offset {:#x}: {}", consumed_,
                                           z_.msg != nullptr ? z_.msg : "inflate failed"));
            if (produced == 0) return;
        }
    }

    Sink& out_;
    std::string name_;
    Bytes buf_;
    z_stream z_{};
    std::uint64_t consumed_ = 0;
    bool ended_ = false;
};

class UnzstdSink final : public Sink {
public:
    UnzstdSink(Sink& out, std::string name) : out_(out), name_(std::move(name)), buf_(ZSTD_DStreamOutSize()) {
        ctx_ = ZSTD_createDCtx();
        if (ctx_ == nullptr) corrupt(name_, "zstd: cannot start a stream");
    }
    ~UnzstdSink() override { ZSTD_freeDCtx(ctx_); }
    UnzstdSink(const UnzstdSink&) = delete;
    UnzstdSink& operator=(const UnzstdSink&) = delete;

    void write(ByteSpan data) override {
        ZSTD_inBuffer in{data.data(), data.size(), 0};
        // Until the input is used and the output flushed: a full output
        // buffer may hold back more.
        for (;;) {
            ZSTD_outBuffer o{buf_.data(), buf_.size(), 0};
            const std::size_t before = in.pos;
            const std::size_t ret = ZSTD_decompressStream(ctx_, &o, &in);
            if (ZSTD_isError(ret) != 0)
                corrupt(name_, fmt::format("damaged zstd stream near compressed offset {:#x}: {}", consumed_ + before,
                                           ZSTD_getErrorName(ret)));
            consumed_ += in.pos - before;
            if (o.pos > 0) out_.write(ByteSpan(buf_.data(), o.pos));
            frame_done_ = ret == 0;
            if (in.pos == in.size && o.pos < o.size) break;
        }
    }

    void finish() override {
        if (!frame_done_ || consumed_ == 0)
            corrupt(name_, fmt::format("the zstd stream ends early, after {} compressed bytes", consumed_));
        out_.finish();
    }
    std::uint64_t position() const override { return consumed_; }

private:
    Sink& out_;
    std::string name_;
    Bytes buf_;
    ZSTD_DCtx* ctx_ = nullptr;
    std::uint64_t consumed_ = 0;
    bool frame_done_ = false;
};

}  // namespace

std::unique_ptr<Sink> create_gunzip_sink(Sink& out, std::string name) {
    return std::make_unique<GunzipSink>(out, std::move(name));
}

std::unique_ptr<Sink> create_unzstd_sink(Sink& out, std::string name) {
    return std::make_unique<UnzstdSink>(out, std::move(name));
}

}  // namespace kvm
