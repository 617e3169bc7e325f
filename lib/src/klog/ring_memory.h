// What the log readers share: a ring read out of a dump whole, with the
// pages the dump lacks marked, and the structure fields VMCOREINFO names.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/linux.h>
#include <kvm/msgbuf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvm::klog::detail {

// [va, va + size) of kernel memory, read as far as the dump has it: bytes
// the dump lacks read as zero and are listed in `missing`.  Reading a ring
// whole costs one pass; its records are then checked against `missing`.
class Region {
public:
    Region(const Memory& memory, std::uint64_t va, std::uint64_t size);

    std::uint64_t va() const noexcept { return va_; }
    std::uint64_t size() const noexcept { return bytes_.size(); }
    ByteSpan bytes() const noexcept { return bytes_; }
    // Whether [offset, offset + length) is inside the region and in the dump.
    bool present(std::uint64_t offset, std::uint64_t length) const;
    // The first read error, for messages; nullopt when every byte was read.
    const std::optional<Error>& first_error() const noexcept { return first_error_; }
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& missing() const noexcept { return missing_; }

private:
    std::uint64_t va_;
    Bytes bytes_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> missing_;  // [begin, end) offsets, sorted
    std::optional<Error> first_error_;
};

// Reads exactly out.size() bytes or throws the memory's error, with `what`
// as context ("prb").
void read_exact(const Memory& memory, std::uint64_t va, MutableByteSpan out, std::string_view what);
std::uint64_t read_word(const Memory& memory, std::uint64_t va, unsigned width, std::string_view what);

// A ring's size read from a dump: at most the limit and the dump's memory.
// Throws corrupt "<what> is N bytes: more than ...".
void check_ring_size(const Memory& memory, std::uint64_t bytes, std::string_view what);

// VMCOREINFO entries a reader cannot do without: the value, or
// ErrorKind::unsupported "VMCOREINFO has no OFFSET(prb_desc.state_var):
// cannot read <what>".  Offsets and sizes must be non-negative.
class VmcoreFields {
public:
    VmcoreFields(const linux_kernel::VmcoreInfo& info, std::string what) : info_(info), what_(std::move(what)) {}

    std::uint64_t symbol(std::string_view name) const;
    std::uint64_t size(std::string_view name) const;
    std::uint64_t offset(std::string_view name) const;
    std::optional<std::uint64_t> optional_offset(std::string_view name) const;
    std::optional<std::uint64_t> optional_length(std::string_view name) const;
    // A field of `width` bytes at `offset` must lie inside a structure of `size`.
    void check_fits(std::string_view field, std::uint64_t offset, std::uint64_t width, std::string_view strct,
                    std::uint64_t size) const;

private:
    [[noreturn]] void missing(std::string_view key) const;
    std::uint64_t non_negative(std::string_view key, std::int64_t v) const;

    const linux_kernel::VmcoreInfo& info_;
    std::string what_;
};

// The syslog level and facility bytes that struct printk_info and struct
// printk_log keep just before caller_id / just after dict_len: u8 facility,
// then u8 flags:5, level:3 (bitfields from the low bit on a little-endian
// target, from the high bit on a big-endian one).
inline std::uint8_t level_of(std::uint8_t flags_level, ByteOrder order) {
    return order == ByteOrder::little ? static_cast<std::uint8_t>(flags_level >> 5)
                                      : static_cast<std::uint8_t>(flags_level & 7);
}

// A NUL-terminated string inside a fixed field.
std::string fixed_string(ByteSpan field);

}  // namespace kvm::klog::detail
