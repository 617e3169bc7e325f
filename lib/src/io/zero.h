// Zero detection for the sinks that treat free memory specially (holes in
// sparse files, a precompressed block in gzip streams).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvm::detail {

// True when all `n` bytes at `p` are zero.  Reads 64 bytes per step and
// stops at the first non-zero step, so non-zero pages cost a few loads.
inline bool all_zero(const std::byte* p, std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        std::uint64_t w[8];
        std::memcpy(w, p + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
    }
    for (; i < n; ++i)
        if (p[i] != std::byte{0}) return false;
    return true;
}

}  // namespace kvm::detail
