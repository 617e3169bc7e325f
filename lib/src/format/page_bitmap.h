// A bitmap of dumped pages with a rank index: bit i set means page id i is
// in the dump, and the pages are stored in bit order, so a page's place in
// the file is the number of set bits below its bit (its rank).  The index
// keeps the count of set bits before every block of 8 words, so rank() is
// one table load and at most 8 popcounts, whatever the bitmap's size.
//
// The bits are u64 words in the dumped machine's byte order (bit b of word
// w is id 64w + b), as FreeBSD and DragonFly minidumps store them; a
// trailing part word counts its bytes in that order.
#pragma once

#include <kvm/bytes.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace kvm::detail {

class PageBitmap {
public:
    PageBitmap() = default;
    PageBitmap(ByteSpan raw, ByteOrder order);

    std::uint64_t bits() const noexcept { return bits_; }
    std::uint64_t count() const noexcept { return count_; }  // set bits
    bool test(std::uint64_t id) const noexcept { return id < bits_ && ((words_[id / 64] >> (id % 64)) & 1) != 0; }
    // Set bits below `id` (id <= bits()).
    std::uint64_t rank(std::uint64_t id) const noexcept;
    // Calls `run(first_id, count)` for every run of consecutive set bits,
    // in order.
    void for_each_run(const std::function<void(std::uint64_t first, std::uint64_t count)>& run) const;

private:
    static constexpr std::uint64_t words_per_block = 8;

    std::vector<std::uint64_t> words_;
    std::vector<std::uint64_t> block_rank_;  // set bits before each block of words_per_block words
    std::uint64_t bits_ = 0;
    std::uint64_t count_ = 0;
};

}  // namespace kvm::detail
