// The dump bitmap of a kdump-compressed file (which pfns have a page
// descriptor), read from the file as it is needed rather than copied whole:
// a header may claim a bitmap of up to max_bitmap_bytes, which a sparse
// file holds in a few KiB of disk.  One pass at open counts the set bits of
// every chunk; lookups read the chunk they need through a small cache, and
// the chunks with no set bit or no clear bit are never read again.
#pragma once

#include <kvm/bytes.h>
#include <kvm/io.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace kvm::kdump {

class DumpBitmap {
public:
    // The bitmap of `pfns` bits at `offset` of `source` (bit pfn % 8 of byte
    // pfn / 8; bits from `pfns` on are not pages).  The caller has checked
    // that the source holds it.
    DumpBitmap(std::shared_ptr<ByteSource> source, std::uint64_t offset, std::uint64_t pfns);

    std::uint64_t pfns() const { return pfns_; }
    // Set bits: the pages the dump holds.
    std::uint64_t set_bits() const { return before_.back(); }
    bool test(std::uint64_t pfn) const;
    // Set bits below `pfn` (all of them from pfns() on): the index of pfn's
    // page descriptor.
    std::uint64_t rank(std::uint64_t pfn) const;
    // Calls `run(first, count)` for each run of set bits, in pfn order.
    void for_each_run(const std::function<void(std::uint64_t, std::uint64_t)>& run) const;

private:
    static constexpr std::uint64_t chunk_bytes = 4096;
    static constexpr std::uint64_t chunk_bits = chunk_bytes * 8;
    static constexpr std::size_t chunks_cached = 8;

    std::uint64_t chunk_count() const { return before_.size() - 1; }
    // Bits of chunk `index` that are pfns (fewer in the last chunk).
    std::uint64_t bits_in(std::uint64_t index) const;
    // Chunk `index`, bits past pfns cleared; the caller holds mutex_.
    const Bytes& chunk(std::uint64_t index) const;

    std::shared_ptr<ByteSource> source_;
    std::uint64_t offset_ = 0;
    std::uint64_t pfns_ = 0;
    std::uint64_t bytes_ = 0;
    std::vector<std::uint64_t> before_;  // set bits before chunk k; the last is the total

    mutable std::mutex mutex_;
    mutable std::vector<std::pair<std::uint64_t, Bytes>> cache_;  // chunk number, bytes
    mutable std::size_t next_victim_ = 0;
};

}  // namespace kvm::kdump
