// Whole-buffer deflate and inflate, and CRC-32, with the library that does
// each fastest (bench/deflate_bench.cpp measures them on a real vmcore and a
// synthetic core): ISA-L's igzip compresses at levels 1-3 (several times
// zlib -1's speed, within 10% of gzip -1's size), libdeflate at 0 and 4-9
// and inflates whole members (twice zlib's speed), ISA-L computes CRC-32.
// zlib keeps what only it does: streaming inflate from a checkpoint
// (gzip_index.cpp).
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <memory>

namespace kvm::detail {

inline constexpr int min_deflate_level = 0;
inline constexpr int max_deflate_level = 9;

// One compressor per thread; reusable for any number of buffers.
class Deflater {
public:
    explicit Deflater(int level);
    ~Deflater();
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    // A complete raw deflate stream (final block set) of `in`, written to
    // `out` from `at` on (grown as needed); returns its size.
    std::size_t compress(ByteSpan in, Bytes& out, std::size_t at);

private:
    struct State;
    std::unique_ptr<State> state_;
};

// Whole raw deflate streams into buffers of known size.
class Inflater {
public:
    Inflater();
    ~Inflater();
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;

    struct Result {
        bool ok = false;           // a valid deflate stream that ended
        bool overflow = false;     // it has more than out.size() bytes
        std::size_t consumed = 0;  // input bytes up to the stream's end
        std::size_t produced = 0;  // output bytes
    };
    Result inflate(ByteSpan in, MutableByteSpan out);

private:
    struct State;
    std::unique_ptr<State> state_;
};

// gzip's CRC-32, continuing from `crc`.
std::uint32_t crc32(ByteSpan data, std::uint32_t crc = 0) noexcept;

}  // namespace kvm::detail
