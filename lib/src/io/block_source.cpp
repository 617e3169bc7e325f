#include "io/block_source.h"

#include <kvm/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include <unistd.h>

namespace kvm::detail {

std::shared_ptr<const Bytes> BlockCache::find(std::uint64_t key) {
    const auto it = by_key_.find(key);
    if (it == by_key_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
}

void BlockCache::put(std::uint64_t key, std::shared_ptr<const Bytes> block) {
    if (const auto it = by_key_.find(key); it != by_key_.end()) {
        bytes_ -= it->second->second->size();
        lru_.erase(it->second);
        by_key_.erase(it);
    }
    bytes_ += block->size();
    lru_.emplace_front(key, std::move(block));
    by_key_[key] = lru_.begin();
    while (bytes_ > capacity_ && lru_.size() > 1) {
        bytes_ -= lru_.back().second->size();
        by_key_.erase(lru_.back().first);
        lru_.pop_back();
    }
}

void BlockSource::set_size(std::uint64_t size) noexcept {
    size_ = size;
    if (cache_bytes_ != 0) return;
    constexpr std::uint64_t least = 32u << 20;
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::uint64_t ram =
        pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
    cache_.set_capacity(static_cast<std::size_t>(std::min(size, std::max(least, ram / 8))));
}

std::size_t BlockSource::read_at(std::uint64_t offset, MutableByteSpan out) const {
    if (offset >= size_ || out.empty()) return 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
    const std::lock_guard lock(mutex_);
    std::size_t done = 0;
    while (done < n) {
        const std::uint64_t at = offset + done;
        const Block b = locate(at);
        std::shared_ptr<const Bytes> data = cache_.find(b.key);
        if (!data) {
            data = load(b, cache_);
            if (data->size() != b.size)
                throw Error(ErrorKind::corrupt, fmt::format("{}: block {} decompressed to {} bytes, not {}", name_,
                                                            b.key, data->size(), b.size));
            cache_.put(b.key, data);
        }
        const std::uint64_t in_block = at - b.start;
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, b.size - in_block));
        std::memcpy(out.data() + done, data->data() + in_block, k);
        done += k;
    }
    return n;
}

}  // namespace kvm::detail
