// kvm::detail::PageBitmap (page_bitmap.h).
#include "format/page_bitmap.h"

#include <bit>

namespace kvm::detail {

PageBitmap::PageBitmap(ByteSpan raw, ByteOrder order) : bits_(std::uint64_t{raw.size()} * 8) {
    words_.resize((raw.size() + 7) / 8);
    for (std::size_t w = 0; w < words_.size(); ++w) {
        const std::size_t at = w * 8;
        if (at + 8 <= raw.size()) {
            words_[w] = load64(raw.data() + at, order);
            continue;
        }
        // A part word: its bytes hold the ids they would in a whole one.
        std::uint64_t v = 0;
        for (std::size_t b = 0; at + b < raw.size(); ++b) {
            const unsigned shift = order == ByteOrder::little ? 8 * b : 8 * (7 - b);
            v |= std::uint64_t{std::to_integer<std::uint8_t>(raw[at + b])} << shift;
        }
        words_[w] = v;
    }
    block_rank_.reserve(words_.size() / words_per_block + 1);
    for (std::size_t w = 0; w < words_.size(); ++w) {
        if (w % words_per_block == 0) block_rank_.push_back(count_);
        count_ += static_cast<std::uint64_t>(std::popcount(words_[w]));
    }
}

std::uint64_t PageBitmap::rank(std::uint64_t id) const noexcept {
    const std::uint64_t word = id / 64;
    const std::uint64_t block = word / words_per_block;
    if (block >= block_rank_.size()) return count_;
    std::uint64_t r = block_rank_[block];
    for (std::uint64_t w = block * words_per_block; w < word; ++w)
        r += static_cast<std::uint64_t>(std::popcount(words_[w]));
    if (const unsigned bit = id % 64; bit != 0 && word < words_.size())
        r += static_cast<std::uint64_t>(std::popcount(words_[word] & ((std::uint64_t{1} << bit) - 1)));
    return r;
}

void PageBitmap::for_each_run(const std::function<void(std::uint64_t first, std::uint64_t count)>& run) const {
    std::uint64_t start = 0;
    bool in_run = false;
    for (std::size_t w = 0; w < words_.size(); ++w) {
        const std::uint64_t word = words_[w];
        // Whole words of one value need no bit loop.
        if ((word == 0 && !in_run) || (word == ~std::uint64_t{0} && in_run)) continue;
        for (unsigned b = 0; b < 64; ++b) {
            const bool set = ((word >> b) & 1) != 0;
            const std::uint64_t id = std::uint64_t{w} * 64 + b;
            if (set && !in_run) {
                start = id;
                in_run = true;
            } else if (!set && in_run) {
                run(start, id - start);
                in_run = false;
            }
        }
    }
    if (in_run) run(start, bits_ - start);
}

}  // namespace kvm::detail
