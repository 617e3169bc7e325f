// What the sink and compression tests share: feeding a sink in odd pieces,
// data that compresses as RAM does, gunzip, and sinks that fail.
#pragma once

#include <kvm/error.h>
#include <kvm/io.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include <random>
#include <string_view>

namespace kvm::test {

// Feeds `data` to `sink` in pieces of pseudo-random sizes.
inline void write_in_pieces(Sink& sink, const Bytes& data, unsigned seed) {
    std::mt19937 rng(seed);
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::size_t n = std::min<std::size_t>(data.size() - pos, rng() % 3 == 0 ? rng() % 70000 : rng() % 5000);
        sink.write(ByteSpan(data.data() + pos, n));
        pos += n;
    }
}

// gunzip: the members of a gzip file, and their concatenated content.
struct Gunzipped {
    int members = 0;
    Bytes data;
    bool clean = true;  // every member ended with a valid trailer, nothing after
};

inline Gunzipped gunzip(const Bytes& gz) {
    Gunzipped out;
    std::size_t pos = 0;
    while (pos < gz.size()) {
        z_stream z{};
        REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
        z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(gz.data() + pos));
        z.avail_in = static_cast<uInt>(gz.size() - pos);
        int ret = Z_OK;
        Bytes buf(1 << 16);
        while (ret == Z_OK) {
            z.next_out = reinterpret_cast<Bytef*>(buf.data());
            z.avail_out = static_cast<uInt>(buf.size());
            ret = inflate(&z, Z_NO_FLUSH);
            out.data.insert(out.data.end(), buf.begin(), buf.end() - z.avail_out);
        }
        if (ret != Z_STREAM_END) out.clean = false;
        pos = gz.size() - z.avail_in;
        inflateEnd(&z);
        ++out.members;
        if (ret != Z_STREAM_END) break;
    }
    return out;
}

// One-shot gzip at a level with zlib alone (what gzip -N writes): one
// member, one stream.
inline Bytes zlib_gzip(const Bytes& data, int level) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&z, data.size()) + 64);
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// Text and pointer-like data that compresses about as RAM does.
inline Bytes compressible(std::size_t n, unsigned seed) {
    static constexpr std::string_view words[] = {"kernel ", "vnode ", "mutex ", "0xffffffff8", "page ", "\n"};
    std::mt19937 rng(seed);
    Bytes b;
    b.reserve(n);
    while (b.size() < n) {
        const std::string_view w = words[rng() % std::size(words)];
        for (const char c : w)
            if (b.size() < n) b.push_back(static_cast<std::byte>(c));
        if (rng() % 11 == 0 && b.size() < n) b.push_back(static_cast<std::byte>(rng()));
    }
    return b;
}

// A sink that fails after accepting `limit` bytes, as a full disk does.
class FailingSink final : public Sink {
public:
    explicit FailingSink(std::size_t limit) : limit_(limit) {}
    void write(ByteSpan data) override {
        if (pos_ + data.size() > limit_) throw Error(ErrorKind::io, "out.gz: write failed: No space left on device");
        pos_ += data.size();
    }
    void finish() override {}
    std::uint64_t position() const override { return pos_; }

private:
    std::size_t limit_;
    std::size_t pos_ = 0;
};

// A sink that refuses to hold more than `limit` bytes: a stream that
// outgrows its input is caught at once instead of filling memory.
class BoundedSink final : public Sink {
public:
    explicit BoundedSink(std::size_t limit) : limit_(limit) {}
    void write(ByteSpan data) override {
        if (data_.size() + data.size() > limit_)
            throw Error(ErrorKind::io, fmt::format("more than {} bytes of output", limit_));
        data_.insert(data_.end(), data.begin(), data.end());
    }
    void finish() override {}
    std::uint64_t position() const override { return data_.size(); }
    const Bytes& data() const { return data_; }

private:
    std::size_t limit_;
    Bytes data_;
};

// A sink whose `fail_on`th write fails (a disk that was full for a moment).
class FailOnceSink final : public Sink {
public:
    explicit FailOnceSink(int fail_on) : fail_on_(fail_on) {}
    void write(ByteSpan data) override {
        if (++writes_ == fail_on_) throw Error(ErrorKind::io, "out.gz: write failed: No space left on device");
        pos_ += data.size();
    }
    void finish() override {}
    std::uint64_t position() const override { return pos_; }

private:
    int fail_on_;
    int writes_ = 0;
    std::uint64_t pos_ = 0;
};

}  // namespace kvm::test
