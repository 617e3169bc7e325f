// What the decompressing sources share: a ByteSource over blocks that are
// decompressed on demand (a gzip member, a zstd frame, a slice inflated from
// a checkpoint) and kept in a small LRU cache.
#pragma once

#include <kvm/io.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace kvm::detail {

// Decompressed blocks by key, least recently used first out.  Holds at
// least the last block put, whatever its size.
class BlockCache {
public:
    explicit BlockCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}
    void set_capacity(std::size_t capacity_bytes) noexcept { capacity_ = capacity_bytes; }

    std::shared_ptr<const Bytes> find(std::uint64_t key);
    void put(std::uint64_t key, std::shared_ptr<const Bytes> block);
    std::size_t bytes() const noexcept { return bytes_; }

private:
    using Entry = std::pair<std::uint64_t, std::shared_ptr<const Bytes>>;
    std::size_t capacity_;
    std::size_t bytes_ = 0;
    std::list<Entry> lru_;  // most recent first
    std::unordered_map<std::uint64_t, std::list<Entry>::iterator> by_key_;
};

class BlockSource : public ByteSource {
public:
    std::uint64_t size() const final { return size_; }
    const std::string& name() const final { return name_; }
    // Copies from the blocks that hold [offset, offset + out.size()),
    // decompressing those not in the cache.  Thread-safe.
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const final;

protected:
    // `cache_bytes` 0: sized from the data (DecompressOptions::cache_bytes).
    BlockSource(std::string name, std::size_t cache_bytes)
        : name_(std::move(name)), cache_bytes_(cache_bytes), cache_(cache_bytes) {}
    // The decompressed size; sizes an automatic cache.
    void set_size(std::uint64_t size) noexcept;

    struct Block {
        std::uint64_t key = 0;    // the cache key (a member, frame or slice number)
        std::uint64_t start = 0;  // uncompressed offset of its first byte
        std::uint64_t size = 0;   // its bytes (never 0)
    };
    // The block holding `offset` (< size()).
    virtual Block locate(std::uint64_t offset) const = 0;
    // Decompresses `block`: exactly block.size bytes, or an error naming
    // the file, the block and its offset.  May put more blocks in `cache`.
    virtual std::shared_ptr<const Bytes> load(const Block& block, BlockCache& cache) const = 0;

private:
    std::string name_;
    std::uint64_t size_ = 0;
    std::size_t cache_bytes_;
    mutable std::mutex mutex_;
    mutable BlockCache cache_;
};

}  // namespace kvm::detail
