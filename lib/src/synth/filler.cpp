// Page contents that look like a real machine's RAM to a compressor: many
// zero pages, text, pointer-rich structures, small integers and some pages
// that do not compress at all.  Deterministic by seed and page address, so
// a test or benchmark can regenerate any page without storing it.
#include <kvm/synth.h>

#include <array>
#include <cstring>
#include <string_view>

namespace kvm::synth {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

constexpr std::array<std::string_view, 32> words{
    "the",    "kernel", "process", "memory",  "page",  "vnode",  "mutex",  "lock",    "sleep", "wakeup", "signal",
    "thread", "uvm",    "pmap",    "fault",   "error", "device", "driver", "buffer",  "cache", "inode",  "mount",
    "socket", "packet", "/usr",    "/bin/sh", "init",  "NetBSD", "amd64",  "GENERIC", "\n",    "=",
};

void fill_text(MutableByteSpan page, std::uint64_t& rng) {
    std::size_t i = 0;
    while (i < page.size()) {
        const std::string_view w = words[splitmix64(rng) % words.size()];
        for (char c : w) {
            if (i >= page.size()) break;
            page[i++] = static_cast<std::byte>(c);
        }
        if (i < page.size()) page[i++] = std::byte{' '};
    }
}

void fill_pointers(MutableByteSpan page, std::uint64_t& rng, std::uint64_t pointer_base) {
    // Structures of 64 bytes: a few pointers into a small region, flags,
    // counters and padding, as kernel heaps are.
    for (std::size_t off = 0; off + 64 <= page.size(); off += 64) {
        const std::uint64_t r = splitmix64(rng);
        const std::array<std::uint64_t, 8> fields{
            pointer_base + ((r & 0xffff) << 6),
            pointer_base + (((r >> 16) & 0xffff) << 6),
            (r >> 32) & 0xff,
            (r >> 40) & 0x3,
            0,
            pointer_base + (((r >> 42) & 0xfff) << 12),
            0,
            (r >> 54),
        };
        for (std::size_t k = 0; k < fields.size(); ++k)
            for (std::size_t b = 0; b < 8; ++b)
                page[off + k * 8 + b] = static_cast<std::byte>(fields[k] >> (8 * b));
    }
}

void fill_small_ints(MutableByteSpan page, std::uint64_t& rng) {
    for (std::size_t off = 0; off + 4 <= page.size(); off += 4) {
        const std::uint64_t v = splitmix64(rng) % 1024;
        page[off] = static_cast<std::byte>(v);
        page[off + 1] = static_cast<std::byte>(v >> 8);
        page[off + 2] = std::byte{0};
        page[off + 3] = std::byte{0};
    }
}

void fill_random(MutableByteSpan page, std::uint64_t& rng) {
    for (std::size_t off = 0; off < page.size(); off += 8) {
        const std::uint64_t v = splitmix64(rng);
        const std::size_t n = std::min<std::size_t>(8, page.size() - off);
        std::memcpy(page.data() + off, &v, n);
    }
}

}  // namespace

PageFiller realistic_filler(std::uint64_t seed, std::uint64_t pointer_base) {
    return [seed, pointer_base](std::uint64_t pa, MutableByteSpan page) {
        std::uint64_t rng = seed ^ (pa * 0x9e3779b97f4a7c15ull);
        const std::uint64_t kind = splitmix64(rng) % 100;
        if (kind < 40) {
            std::memset(page.data(), 0, page.size());
        } else if (kind < 60) {
            fill_text(page, rng);
        } else if (kind < 80) {
            fill_pointers(page, rng, pointer_base);
        } else if (kind < 90) {
            fill_small_ints(page, rng);
        } else {
            fill_random(page, rng);
        }
    };
}

namespace {
// A named type, so that is_zero_filler can recognise it.
struct ZeroFill {
    void operator()(std::uint64_t /*pa*/, MutableByteSpan page) const { std::memset(page.data(), 0, page.size()); }
};
}  // namespace

PageFiller zero_filler() {
    return ZeroFill{};
}

bool is_zero_filler(const PageFiller& filler) {
    return !filler || filler.target<ZeroFill>() != nullptr;
}

}  // namespace kvm::synth
