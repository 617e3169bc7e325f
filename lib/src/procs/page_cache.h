// Kernel memory for walkers that read many small structures: whole pages
// are read once through Kernel and kept in a small direct-mapped cache, so
// the structures sharing a page (pool pages hold several processes, LWPs,
// credentials) cost one read instead of one each.  A page that cannot be
// read whole (a dump cut mid-page) falls back to Kernel::read of the exact
// range, so errors are Kernel's own, naming the address that failed.
#pragma once

#include <kvm/bytes.h>
#include <kvm/kernel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace kvm::detail {

class PageCache {
public:
    // A set's pages are allocated when the set is first used, uninitialised
    // (a slot is read before it is tagged): a walk touches a few dozen
    // pages, and allocating megabytes for each walk cost more than the walk
    // of a small system (terminal lookups walk once per name; under
    // AddressSanitizer a 16 MiB allocation costs milliseconds).
    // Enough for a walk in allocation order (NetBSD's allproc, FreeBSD's).
    static constexpr std::size_t default_slots = 1024;

    // `slots` is rounded up to whole sets of `ways` pages.
    explicit PageCache(const Kernel& kernel, std::size_t slots = default_slots)
        : kernel_(kernel),
          sets_(std::max<std::size_t>((slots + ways - 1) / ways, 1)),
          tags_(sets_ * ways, empty),
          used_(sets_ * ways, 0),
          blocks_(sets_) {}

    void read(std::uint64_t va, MutableByteSpan out) {
        std::size_t done = 0;
        while (done < out.size()) {
            const std::uint64_t at = va + done;
            const std::size_t in_page = at & (page - 1);
            const std::size_t n = std::min<std::size_t>(out.size() - done, page - in_page);
            const std::byte* p = lookup(at - in_page);
            if (p == nullptr) {
                kernel_.read(at, out.subspan(done, n));  // the exact range, or Kernel's error
            } else {
                std::memcpy(out.data() + done, p + in_page, n);
            }
            done += n;
        }
    }

    // A NUL-terminated string of at most `max` bytes.
    std::string read_string(std::uint64_t va, std::size_t max) {
        std::string s;
        while (s.size() < max) {
            const std::uint64_t at = va + s.size();
            const std::size_t in_page = at & (page - 1);
            const std::byte* p = lookup(at - in_page);
            if (p == nullptr) return s + kernel_.read_string(at, max - s.size());
            const auto* begin = reinterpret_cast<const char*>(p + in_page);
            const std::size_t n = std::min<std::size_t>(max - s.size(), page - in_page);
            const auto* nul = static_cast<const char*>(std::memchr(begin, 0, n));
            if (nul != nullptr) return s.append(begin, nul);
            s.append(begin, n);
        }
        return s;
    }

private:
    static constexpr std::uint64_t page = 4096;
    static constexpr std::uint64_t empty = ~std::uint64_t{0};

    // The page at `base` (page-aligned), or nullptr when it cannot be read whole.
    const std::byte* lookup(std::uint64_t base) {
        // Hashed, so that regions a multiple of the cache's size apart (the
        // process structures and the LWPs they point to) do not evict each
        // other; a few ways per set, the least recently used replaced, so
        // that a walk in hash order (DragonFly's buckets) keeps the pages
        // the next bucket reads again.
        const std::size_t set = ((base / page) * 0x9e3779b97f4a7c15ull >> 20) % sets_;
        const std::size_t first = set * ways;
        std::size_t victim = first;
        ++clock_;
        for (std::size_t slot = first; slot < first + ways; ++slot) {
            if (tags_[slot] == base) {
                used_[slot] = clock_;
                return slot_data(slot);
            }
            if (used_[slot] < used_[victim]) victim = slot;
        }
        std::byte* p = slot_data(victim);
        const PartialRead r = kernel_.read_partial(base, MutableByteSpan(p, page));
        if (r.error) {
            tags_[victim] = empty;
            used_[victim] = 0;
            return nullptr;
        }
        tags_[victim] = base;
        used_[victim] = clock_;
        return p;
    }

    static constexpr std::size_t ways = 4;

    std::byte* slot_data(std::size_t slot) {
        std::unique_ptr<std::byte[]>& block = blocks_[slot / ways];
        if (!block) block = std::make_unique_for_overwrite<std::byte[]>(ways * page);
        return block.get() + slot % ways * page;
    }

    const Kernel& kernel_;
    std::size_t sets_;
    std::vector<std::uint64_t> tags_;
    std::vector<std::uint64_t> used_;  // clock_ at the slot's last use; 0: never
    std::uint64_t clock_ = 0;
    std::vector<std::unique_ptr<std::byte[]>> blocks_;  // each set's `ways` pages, once used
};

}  // namespace kvm::detail
