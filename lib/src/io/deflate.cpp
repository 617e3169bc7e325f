#include "io/deflate.h"

#include <kvm/error.h>

#include <fmt/format.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>

#include <array>
#include <vector>

namespace kvm::detail {

namespace {

// ISA-L's level buffer for levels 1-3 (its "default" size for each).
constexpr std::array<std::size_t, 4> isal_level_buffer{0, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT,
                                                       ISAL_DEF_LVL3_DEFAULT};

bool uses_isal(int level) {
    return level >= 1 && level <= ISAL_DEF_MAX_LEVEL;
}

}  // namespace

struct Deflater::State {
    int level = 1;
    std::vector<std::uint8_t> isal_buffer;
    libdeflate_compressor* stored = nullptr;  // level 0: ISA-L's fallback for data it would expand
    libdeflate_compressor* other = nullptr;   // levels 4-9
    ~State() {
        libdeflate_free_compressor(stored);
        libdeflate_free_compressor(other);
    }
};

Deflater::Deflater(int level) : state_(std::make_unique<State>()) {
    if (level < min_deflate_level || level > max_deflate_level)
        throw Error(ErrorKind::usage, fmt::format("gzip level {} is not 0-9", level));
    state_->level = level;
    state_->stored = libdeflate_alloc_compressor(0);
    if (uses_isal(level)) {
        state_->isal_buffer.resize(isal_level_buffer[static_cast<std::size_t>(level)]);
    } else if (level != 0) {
        state_->other = libdeflate_alloc_compressor(level);
    }
    if (state_->stored == nullptr || (!uses_isal(level) && level != 0 && state_->other == nullptr))
        throw Error(ErrorKind::io, fmt::format("libdeflate: cannot make a compressor at level {}", level));
}

Deflater::~Deflater() = default;

std::size_t Deflater::compress(ByteSpan in, Bytes& out, std::size_t at) {
    // Stored blocks bound every level's output: 5 bytes per 64 KiB block.
    const std::size_t bound = libdeflate_deflate_compress_bound(nullptr, in.size());
    if (out.size() < at + bound) out.resize(at + bound);
    auto* dst = reinterpret_cast<std::uint8_t*>(out.data() + at);
    const auto* src = reinterpret_cast<const std::uint8_t*>(in.data());
    if (uses_isal(state_->level)) {
        isal_zstream s{};
        isal_deflate_stateless_init(&s);
        s.level = static_cast<std::uint32_t>(state_->level);
        s.level_buf = state_->isal_buffer.data();
        s.level_buf_size = static_cast<std::uint32_t>(state_->isal_buffer.size());
        s.end_of_stream = 1;
        s.flush = NO_FLUSH;
        s.next_in = const_cast<std::uint8_t*>(src);
        s.avail_in = static_cast<std::uint32_t>(in.size());
        s.next_out = dst;
        s.avail_out = static_cast<std::uint32_t>(bound);
        if (isal_deflate_stateless(&s) == COMP_OK) return s.total_out;
        // Incompressible data that ISA-L's blocks would expand: stored blocks.
    }
    libdeflate_compressor* c = state_->other != nullptr ? state_->other : state_->stored;
    const std::size_t n = libdeflate_deflate_compress(c, src, in.size(), dst, bound);
    if (n == 0) throw Error(ErrorKind::io, fmt::format("libdeflate: {} bytes did not fit their bound", in.size()));
    return n;
}

struct Inflater::State {
    libdeflate_decompressor* d = nullptr;
    ~State() { libdeflate_free_decompressor(d); }
};

Inflater::Inflater() : state_(std::make_unique<State>()) {
    state_->d = libdeflate_alloc_decompressor();
    if (state_->d == nullptr) throw Error(ErrorKind::io, "libdeflate: cannot make a decompressor");
}

Inflater::~Inflater() = default;

Inflater::Result Inflater::inflate(ByteSpan in, MutableByteSpan out) {
    Result r;
    const libdeflate_result ret = libdeflate_deflate_decompress_ex(state_->d, in.data(), in.size(), out.data(),
                                                                   out.size(), &r.consumed, &r.produced);
    r.ok = ret == LIBDEFLATE_SUCCESS;
    r.overflow = ret == LIBDEFLATE_INSUFFICIENT_SPACE;
    if (!r.ok) r.consumed = r.produced = 0;
    return r;
}

std::uint32_t crc32(ByteSpan data, std::uint32_t crc) noexcept {
    return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

}  // namespace kvm::detail
