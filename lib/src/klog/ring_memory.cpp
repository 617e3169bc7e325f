// Rings read whole, and the VMCOREINFO fields of the log readers (ring_memory.h).
#include "klog/ring_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace kvm::klog::detail {

namespace {
// Missing memory is skipped a page at a time: the smallest unit a dump
// leaves out.
constexpr std::uint64_t skip_granule = 4096;
}  // namespace

Region::Region(const Memory& memory, std::uint64_t va, std::uint64_t size) : va_(va), bytes_(size) {
    std::uint64_t done = 0;
    while (done < size) {
        const PartialRead r = memory.read(va + done, MutableByteSpan(bytes_.data() + done, size - done));
        done += std::min<std::uint64_t>(r.bytes, size - done);
        if (done >= size) break;
        if (r.error && !first_error_) first_error_ = r.error;
        if (!r.error && !first_error_)
            first_error_ = Error(ErrorKind::fault, fmt::format("{}: not in the dump", hex(va + done)));
        // Skip to the next page of the address space (at least one byte).
        const std::uint64_t at = va + done;
        const std::uint64_t next_page = (at | (skip_granule - 1)) + 1;
        const std::uint64_t end = next_page <= at ? size : std::min(size, next_page - va);
        if (!missing_.empty() && missing_.back().second == done) {
            missing_.back().second = end;
        } else {
            missing_.emplace_back(done, end);
        }
        done = end;
    }
}

bool Region::present(std::uint64_t offset, std::uint64_t length) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset) return false;
    const std::uint64_t end = offset + length;
    // The first missing range that ends after `offset`.
    const auto it = std::upper_bound(missing_.begin(), missing_.end(), offset,
                                     [](std::uint64_t o, const auto& range) { return o < range.second; });
    return it == missing_.end() || it->first >= end;
}

void read_exact(const Memory& memory, std::uint64_t va, MutableByteSpan out, std::string_view what) {
    const PartialRead r = memory.read(va, out);
    if (r.bytes >= out.size()) return;
    Error e = r.error ? *r.error : Error(ErrorKind::fault, fmt::format("{}: not in the dump", hex(va + r.bytes)));
    e.add_context(what);
    throw e;
}

std::uint64_t read_word(const Memory& memory, std::uint64_t va, unsigned width, std::string_view what) {
    Bytes b(width);
    read_exact(memory, va, b, what);
    return load_uint(b.data(), width, memory.order);
}

void check_ring_size(const Memory& memory, std::uint64_t bytes, std::string_view what) {
    if (bytes > max_ring_bytes)
        throw_corrupt(
            fmt::format("{} is {:#x} bytes: more than the {:#x} a kernel log can be", what, bytes, max_ring_bytes));
    if (bytes > memory.bytes)
        throw_corrupt(fmt::format("{} is {:#x} bytes: more than the {:#x} bytes of memory in the dump", what, bytes,
                                  memory.bytes));
}

// ---------------------------------------------------------------- VmcoreFields

void VmcoreFields::missing(std::string_view key) const {
    throw_unsupported(fmt::format("VMCOREINFO has no {}: cannot read {}", key, what_));
}

std::uint64_t VmcoreFields::non_negative(std::string_view key, std::int64_t v) const {
    if (v < 0) throw_corrupt(fmt::format("VMCOREINFO: {}={} is negative", key, v));
    return static_cast<std::uint64_t>(v);
}

std::uint64_t VmcoreFields::symbol(std::string_view name) const {
    const auto v = info_.symbol(name);
    if (!v) missing(fmt::format("SYMBOL({})", name));
    return *v;
}

std::uint64_t VmcoreFields::size(std::string_view name) const {
    const auto v = info_.size(name);
    if (!v) missing(fmt::format("SIZE({})", name));
    return non_negative(fmt::format("SIZE({})", name), *v);
}

std::uint64_t VmcoreFields::offset(std::string_view name) const {
    const auto v = optional_offset(name);
    if (!v) missing(fmt::format("OFFSET({})", name));
    return *v;
}

std::optional<std::uint64_t> VmcoreFields::optional_offset(std::string_view name) const {
    const auto v = info_.offset(name);
    if (!v) return std::nullopt;
    return non_negative(fmt::format("OFFSET({})", name), *v);
}

std::optional<std::uint64_t> VmcoreFields::optional_length(std::string_view name) const {
    const auto v = info_.length(name);
    if (!v) return std::nullopt;
    return non_negative(fmt::format("LENGTH({})", name), *v);
}

void VmcoreFields::check_fits(std::string_view field, std::uint64_t offset, std::uint64_t width, std::string_view strct,
                              std::uint64_t size) const {
    if (offset > size || width > size - offset)
        throw_corrupt(fmt::format("VMCOREINFO: {} at offset {} ({} bytes) is outside the {} bytes of struct {}", field,
                                  offset, width, size, strct));
}

std::string fixed_string(ByteSpan field) {
    const std::string_view s = as_chars(field);
    return std::string(s.substr(0, s.find('\0')));
}

}  // namespace kvm::klog::detail
