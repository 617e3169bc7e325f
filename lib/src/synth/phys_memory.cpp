// kvm::synth::PhysMemory: sparse synthetic RAM.  Written pages are stored;
// every other page in RAM reads as the filler says (zeros without one).
//
// Allocation: a seeded LCG (seed_ is its state) picks a RAM segment that can
// hold the request and an aligned start inside it; after 64 misses the
// lowest free fit wins, segment by segment, so RAM can be filled to the last
// page.  Used ranges (allocated or reserved) are kept merged and disjoint.
//
// Messages:
//   constructor (usage):  "page size 0x1800 is not a power of two"
//                         "RAM segment [0x1000, 0x1800) is not aligned to the 0x1000-byte page size"
//                         "RAM segment at 0xfffffffffffff000 of 0x2000 bytes wraps around"
//                         "RAM segments [0x0, 0x2000) and [0x1000, 0x3000) overlap"
//   write (usage):        "cannot write 0x10 bytes at pa 0x9000000: not in RAM"
//   read (fault, address() = pa):  "0x8 bytes at pa 0x9000000 are not in RAM"
//   reserve (usage):      "cannot reserve 0x2000 bytes at pa 0x9000000: not in RAM"
//   alloc_pages (usage):  "cannot allocate 0 pages"
//                         "cannot allocate 4503599627370496 pages of 0x1000 bytes: the size overflows"
//                         "alignment 0x3000 is not a power of two"
//                         "cannot allocate 1 page aligned to 0x1000: no free range of 0x1000 bytes in RAM"
//                         with a limit, "cannot allocate 4 pages aligned to 0x4000 below 0x100000000: no free
//                         range of 0x4000 bytes in RAM" (one line)
#include <kvm/error.h>
#include <kvm/synth.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace kvm::synth {

namespace {

[[noreturn]] void throw_usage(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

bool is_power_of_two(std::uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

// Knuth's MMIX LCG; the high bits are the well-mixed ones.
std::uint64_t next_random(std::uint64_t& state) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 16;
}

// The end of the used range that overlaps [pa, pa+size), or 0 when none
// does (a used range never ends at 0).  `used`
// holds disjoint ranges, so the one starting last before pa+size is the
// only candidate and has the largest end among any overlaps.
std::uint64_t blocking_end(const std::map<std::uint64_t, std::uint64_t>& used, std::uint64_t pa, std::uint64_t size) {
    auto it = used.lower_bound(pa + size);
    if (it == used.begin()) return 0;
    --it;
    return it->second > pa ? it->second : 0;
}

// Adds [start, end) to `used`, merging it with the ranges it touches.
void insert_merged(std::map<std::uint64_t, std::uint64_t>& used, std::uint64_t start, std::uint64_t end) {
    auto it = used.upper_bound(start);
    if (it != used.begin() && std::prev(it)->second >= start) --it;
    while (it != used.end() && it->first <= end) {
        start = std::min(start, it->first);
        end = std::max(end, it->second);
        it = used.erase(it);
    }
    used.emplace(start, end);
}

std::string range_text(const netbsd::RamSegment& s) {
    return fmt::format("[{:#x}, {:#x})", s.start, s.start + s.size);
}

}  // namespace

PhysMemory::PhysMemory(std::vector<netbsd::RamSegment> ram, std::uint32_t page_size)
    : ram_(std::move(ram)), page_size_(page_size) {
    if (!is_power_of_two(page_size_)) throw_usage(fmt::format("page size {:#x} is not a power of two", page_size_));
    for (std::size_t i = 0; i < ram_.size(); ++i) {
        const auto& seg = ram_[i];
        if (seg.start + seg.size < seg.start)
            throw_usage(fmt::format("RAM segment at {:#x} of {:#x} bytes wraps around", seg.start, seg.size));
        if (seg.start % page_size_ != 0 || seg.size % page_size_ != 0)
            throw_usage(
                fmt::format("RAM segment {} is not aligned to the {:#x}-byte page size", range_text(seg), page_size_));
        for (std::size_t j = 0; j < i; ++j) {
            const auto& other = ram_[j];
            if (seg.start < other.start + other.size && other.start < seg.start + seg.size)
                throw_usage(fmt::format("RAM segments {} and {} overlap", range_text(other), range_text(seg)));
        }
    }
}

bool PhysMemory::in_ram(std::uint64_t pa, std::uint64_t length) const {
    std::uint64_t end = 0;
    if (__builtin_add_overflow(pa, length, &end)) return false;
    // Adjacent segments together hold a range that crosses their border.
    while (pa < end) {
        const auto seg = std::find_if(ram_.begin(), ram_.end(), [pa](const netbsd::RamSegment& s) {
            return pa >= s.start && pa - s.start < s.size;
        });
        if (seg == ram_.end()) return false;
        pa = std::min(end, seg->start + seg->size);
    }
    return true;
}

void PhysMemory::write(std::uint64_t pa, ByteSpan data) {
    if (data.empty()) return;
    if (!in_ram(pa, data.size()))
        throw_usage(fmt::format("cannot write {:#x} bytes at pa {}: not in RAM", data.size(), hex(pa)));
    std::size_t done = 0;
    while (done < data.size()) {
        const std::uint64_t at = pa + done;
        const std::uint64_t page = at & ~std::uint64_t{page_size_ - 1};
        const std::size_t in_page = at - page;
        const std::size_t n = std::min<std::size_t>(page_size_ - in_page, data.size() - done);
        auto [it, created] = pages_.try_emplace(page);
        if (created) it->second.assign(page_size_, std::byte{0});
        std::memcpy(it->second.data() + in_page, data.data() + done, n);
        done += n;
    }
}

void PhysMemory::read(std::uint64_t pa, MutableByteSpan out) const {
    if (out.empty()) return;
    if (!in_ram(pa, out.size()))
        throw_fault(pa, fmt::format("{:#x} bytes at pa {} are not in RAM", out.size(), hex(pa)));
    Bytes filled;  // one filler page, made only when a read needs one
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t at = pa + done;
        const std::uint64_t page = at & ~std::uint64_t{page_size_ - 1};
        const std::size_t in_page = at - page;
        const std::size_t n = std::min<std::size_t>(page_size_ - in_page, out.size() - done);
        const auto it = pages_.find(page);
        if (it != pages_.end()) {
            std::memcpy(out.data() + done, it->second.data() + in_page, n);
        } else if (filler_) {
            filled.assign(page_size_, std::byte{0});
            filler_(page, filled);
            std::memcpy(out.data() + done, filled.data() + in_page, n);
        } else {
            std::memset(out.data() + done, 0, n);
        }
        done += n;
    }
}

bool PhysMemory::is_written(std::uint64_t page_pa) const {
    return pages_.contains(page_pa & ~std::uint64_t{page_size_ - 1});
}

bool PhysMemory::range_free(std::uint64_t pa, std::uint64_t size) const {
    return blocking_end(used_, pa, size) == 0;
}

std::uint64_t PhysMemory::alloc_pages(std::uint64_t count, std::uint64_t align, std::uint64_t limit) {
    if (count == 0) throw_usage("cannot allocate 0 pages");
    if (!is_power_of_two(align)) throw_usage(fmt::format("alignment {:#x} is not a power of two", align));
    align = std::max<std::uint64_t>(align, page_size_);
    std::uint64_t size = 0;
    if (__builtin_mul_overflow(count, page_size_, &size))
        throw_usage(fmt::format("cannot allocate {} pages of {:#x} bytes: the size overflows", count, page_size_));

    // Where an aligned range of `size` bytes may start: first + k * align, k < choices.
    struct Window {
        std::uint64_t first;
        std::uint64_t choices;
    };
    std::vector<Window> windows;
    for (const auto& seg : ram_) {
        const std::uint64_t end = std::min(seg.start + seg.size, limit);
        const std::uint64_t first = align_up(seg.start, align);
        if (first < seg.start || first >= end || end - first < size) continue;
        windows.push_back({first, (end - first - size) / align + 1});
    }

    if (!windows.empty()) {
        for (int attempt = 0; attempt < 64; ++attempt) {
            const Window& w = windows[next_random(seed_) % windows.size()];
            const std::uint64_t pa = w.first + (next_random(seed_) % w.choices) * align;
            if (range_free(pa, size)) {
                insert_merged(used_, pa, pa + size);
                return pa;
            }
        }
        for (const Window& w : windows) {
            const std::uint64_t last = w.first + (w.choices - 1) * align;
            for (std::uint64_t pa = w.first;;) {
                const std::uint64_t blocked_until = blocking_end(used_, pa, size);
                if (blocked_until == 0) {
                    insert_merged(used_, pa, pa + size);
                    return pa;
                }
                const std::uint64_t next = align_up(blocked_until, align);
                if (next < blocked_until || next > last) break;
                pa = next;
            }
        }
    }
    const std::string below = limit == ~std::uint64_t{0} ? std::string() : fmt::format(" below {:#x}", limit);
    throw_usage(fmt::format("cannot allocate {} page{} aligned to {:#x}{}: no free range of {:#x} bytes in RAM", count,
                            count == 1 ? "" : "s", align, below, size));
}

void PhysMemory::reserve(std::uint64_t pa, std::uint64_t size) {
    if (size == 0) return;
    if (!in_ram(pa, size)) throw_usage(fmt::format("cannot reserve {:#x} bytes at pa {}: not in RAM", size, hex(pa)));
    insert_merged(used_, pa, pa + size);
}

}  // namespace kvm::synth
