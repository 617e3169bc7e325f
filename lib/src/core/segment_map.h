// SegmentMap: address ranges backed by bytes of a source, for formats whose
// headers list memory as segments (ELF PT_LOADs) and for the Kernel's linear
// ranges.  Segments are added in priority order; the part of a new segment
// that an earlier one already covers is dropped, so the result never
// overlaps and lookups are a binary search.  Real dumps need this: a kdump
// /proc/vmcore lists the kernel text twice (its own PT_LOAD and the RAM one),
// /proc/kcore lists RAM both by direct-map and by kernel-image address.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kvm::detail {

struct Segment {
    std::uint64_t start = 0;      // first address
    std::uint64_t size = 0;       // bytes of address space
    std::uint64_t target = 0;     // where `start` is: a file offset, or a physical address
    std::uint64_t file_size = 0;  // bytes backed by the target; [file_size, size) reads as zeros
};

class SegmentMap {
public:
    SegmentMap() = default;
    // Segments in priority order: of each, only what the earlier ones do not
    // cover is kept.  Empty segments are ignored; the caller has checked
    // that none wraps around the address space.
    explicit SegmentMap(std::span<const Segment> in_priority_order);

    // The segment containing `address`, or nullptr.
    const Segment* find(std::uint64_t address) const;
    // Sorted by start.
    std::span<const Segment> segments() const noexcept { return sorted_; }
    bool empty() const noexcept { return sorted_.empty(); }

private:
    std::vector<Segment> sorted_;
};

}  // namespace kvm::detail
