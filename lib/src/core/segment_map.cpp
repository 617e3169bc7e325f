#include "core/segment_map.h"

#include <algorithm>
#include <iterator>
#include <map>

namespace kvm::detail {

namespace {

void insert_piece(std::map<std::uint64_t, Segment>& by_start, const Segment& s, std::uint64_t from, std::uint64_t to) {
    const std::uint64_t skip = from - s.start;
    const Segment piece{.start = from,
                        .size = to - from,
                        .target = s.target + skip,
                        .file_size = s.file_size > skip ? std::min(s.file_size - skip, to - from) : 0};
    by_start.emplace(from, piece);
}

}  // namespace

SegmentMap::SegmentMap(std::span<const Segment> in_priority_order) {
    std::map<std::uint64_t, Segment> by_start;
    for (const Segment& s : in_priority_order) {
        if (s.size == 0) continue;
        const std::uint64_t end = s.start + s.size;
        std::uint64_t cursor = s.start;
        // An earlier segment starting at or before `start` may reach past it.
        auto it = by_start.upper_bound(s.start);
        if (it != by_start.begin()) {
            const Segment& prev = std::prev(it)->second;
            cursor = std::max(cursor, prev.start + prev.size);
        }
        // Fill the gaps between the later segments that overlap.
        while (cursor < end) {
            if (it == by_start.end() || it->second.start >= end) {
                insert_piece(by_start, s, cursor, end);
                break;
            }
            if (it->second.start > cursor) insert_piece(by_start, s, cursor, it->second.start);
            cursor = std::max(cursor, it->second.start + it->second.size);
            ++it;
        }
    }
    sorted_.reserve(by_start.size());
    for (const auto& entry : by_start)
        sorted_.push_back(entry.second);
}

const Segment* SegmentMap::find(std::uint64_t address) const {
    auto it = std::upper_bound(sorted_.begin(), sorted_.end(), address,
                               [](std::uint64_t a, const Segment& seg) { return a < seg.start; });
    if (it == sorted_.begin()) return nullptr;
    --it;
    return address - it->start < it->size ? &*it : nullptr;
}

}  // namespace kvm::detail
