#include "format/kdump_bitmap.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace kvm::kdump {

namespace {

constexpr std::string_view what = "kdump dump bitmap";
constexpr std::uint64_t scan_bytes = std::uint64_t{1} << 20;  // read at once by the counting pass

// Set bits of `data`, a word at a time (byte order does not matter to a
// count); zero words, most of a sparse bitmap, cost no count.
std::uint64_t count_bits(ByteSpan data) {
    std::uint64_t n = 0;
    std::size_t i = 0;
    for (; i + 8 <= data.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, data.data() + i, sizeof word);
        if (word != 0) n += static_cast<std::uint64_t>(std::popcount(word));
    }
    for (; i < data.size(); ++i)
        n += static_cast<std::uint64_t>(std::popcount(std::to_integer<unsigned>(data[i])));
    return n;
}

}  // namespace

DumpBitmap::DumpBitmap(std::shared_ptr<ByteSource> source, std::uint64_t offset, std::uint64_t pfns)
    : source_(std::move(source)), offset_(offset), pfns_(pfns), bytes_(pfns / 8 + (pfns % 8 != 0 ? 1 : 0)) {
    const std::uint64_t chunks = (bytes_ + chunk_bytes - 1) / chunk_bytes;
    before_.reserve(chunks + 1);
    before_.push_back(0);
    Bytes piece;
    for (std::uint64_t at = 0; at < bytes_; at += scan_bytes) {
        piece.resize(std::min(scan_bytes, bytes_ - at));  // one buffer for the pass
        source_->read_exact(offset_ + at, piece, what);
        // Bits past the last pfn are not pages.
        if (at + piece.size() == bytes_ && pfns_ % 8 != 0)
            piece.back() &= static_cast<std::byte>((1u << (pfns_ % 8)) - 1);
        for (std::uint64_t c = 0; c < piece.size(); c += chunk_bytes) {
            const std::uint64_t n = std::min<std::uint64_t>(chunk_bytes, piece.size() - c);
            before_.push_back(before_.back() + count_bits(ByteSpan(piece).subspan(c, n)));
        }
    }
}

std::uint64_t DumpBitmap::bits_in(std::uint64_t index) const {
    return std::min(chunk_bits, pfns_ - index * chunk_bits);
}

const Bytes& DumpBitmap::chunk(std::uint64_t index) const {
    for (const auto& [number, bytes] : cache_)
        if (number == index) return bytes;
    const std::uint64_t start = index * chunk_bytes;
    Bytes bytes = source_->read_bytes(offset_ + start, std::min(chunk_bytes, bytes_ - start), what);
    if (start + bytes.size() == bytes_ && pfns_ % 8 != 0)
        bytes.back() &= static_cast<std::byte>((1u << (pfns_ % 8)) - 1);
    if (cache_.size() < chunks_cached) {
        cache_.emplace_back(index, std::move(bytes));
        return cache_.back().second;
    }
    auto& slot = cache_[next_victim_];
    next_victim_ = (next_victim_ + 1) % chunks_cached;
    slot = {index, std::move(bytes)};
    return slot.second;
}

bool DumpBitmap::test(std::uint64_t pfn) const {
    if (pfn >= pfns_) return false;
    const std::uint64_t index = pfn / chunk_bits;
    const std::uint64_t set = before_[index + 1] - before_[index];
    if (set == 0 || set == bits_in(index)) return set != 0;
    const std::lock_guard lock(mutex_);
    const Bytes& bytes = chunk(index);
    const std::uint64_t bit = pfn % chunk_bits;
    return (std::to_integer<unsigned>(bytes[bit / 8]) >> (bit % 8) & 1u) != 0;
}

std::uint64_t DumpBitmap::rank(std::uint64_t pfn) const {
    if (pfn >= pfns_) return set_bits();
    const std::uint64_t index = pfn / chunk_bits;
    const std::uint64_t set = before_[index + 1] - before_[index];
    const std::uint64_t bit = pfn % chunk_bits;
    if (set == 0) return before_[index];
    if (set == bits_in(index)) return before_[index] + bit;
    const std::lock_guard lock(mutex_);
    const Bytes& bytes = chunk(index);
    const unsigned below = std::to_integer<unsigned>(bytes[bit / 8]) & ((1u << (bit % 8)) - 1);
    return before_[index] + count_bits(ByteSpan(bytes).first(bit / 8)) +
           static_cast<std::uint64_t>(std::popcount(below));
}

void DumpBitmap::for_each_run(const std::function<void(std::uint64_t, std::uint64_t)>& run) const {
    std::uint64_t first = 0;
    std::uint64_t count = 0;
    const auto add = [&](std::uint64_t pfn, std::uint64_t n) {
        if (count != 0 && first + count == pfn) {
            count += n;
            return;
        }
        if (count != 0) run(first, count);
        first = pfn;
        count = n;
    };
    for (std::uint64_t index = 0; index < chunk_count(); ++index) {
        const std::uint64_t set = before_[index + 1] - before_[index];
        const std::uint64_t base = index * chunk_bits;
        if (set == 0) continue;
        if (set == bits_in(index)) {
            add(base, set);
            continue;
        }
        Bytes bytes;
        {
            const std::lock_guard lock(mutex_);
            bytes = chunk(index);
        }
        for (std::uint64_t i = 0; i < bytes.size(); ++i) {
            const unsigned b = std::to_integer<unsigned>(bytes[i]);
            if (b == 0xff) {
                add(base + i * 8, 8);
                continue;
            }
            for (unsigned bit = 0; b >> bit != 0; ++bit)
                if ((b >> bit & 1u) != 0) add(base + i * 8 + bit, 1);
        }
    }
    if (count != 0) run(first, count);
}

}  // namespace kvm::kdump
