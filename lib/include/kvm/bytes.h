// Explicit, bounds-checked decoding and encoding of on-disk structures.
//
// Nothing in kvmkit casts a buffer to a struct: each field is read with its
// byte order and width, and each read is checked against the span it comes
// from.  Overflow-checked arithmetic is the only way to combine lengths and
// offsets that came from a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

enum class ByteOrder { little, big };

std::string_view to_string(ByteOrder order);

using Bytes = std::vector<std::byte>;
using ByteSpan = std::span<const std::byte>;
using MutableByteSpan = std::span<std::byte>;

// Raw loads and stores at a pointer; callers have already checked bounds.
std::uint16_t load16(const std::byte* p, ByteOrder order) noexcept;
std::uint32_t load32(const std::byte* p, ByteOrder order) noexcept;
std::uint64_t load64(const std::byte* p, ByteOrder order) noexcept;
// width is 1, 2, 4 or 8.
std::uint64_t load_uint(const std::byte* p, unsigned width, ByteOrder order) noexcept;
void store16(std::byte* p, std::uint16_t v, ByteOrder order) noexcept;
void store32(std::byte* p, std::uint32_t v, ByteOrder order) noexcept;
void store64(std::byte* p, std::uint64_t v, ByteOrder order) noexcept;
void store_uint(std::byte* p, std::uint64_t v, unsigned width, ByteOrder order) noexcept;

// Overflow-checked arithmetic for values read from files.  On overflow they
// throw ErrorKind::corrupt with `what` naming the quantity.
std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, std::string_view what);
std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, std::string_view what);

// Round up to a multiple of `align`, which must be a power of two.
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t align) noexcept {
    return (v + align - 1) & ~(align - 1);
}

// The sub-span [offset, offset+length) of `data`, or ErrorKind::corrupt
// "<what> at offset X, length Y is outside the N bytes available".
ByteSpan strict_subspan(ByteSpan data, std::uint64_t offset, std::uint64_t length, std::string_view what);

// A cursor over a byte span in one byte order.  Every read is bounds-checked
// and a short read throws ErrorKind::corrupt naming `what`, the offset and
// the size available.
class Decoder {
public:
    Decoder(ByteSpan data, ByteOrder order, std::string_view what = "data") : data_(data), order_(order), what_(what) {}

    std::uint8_t u8();
    std::uint16_t u16();
    std::uint32_t u32();
    std::uint64_t u64();
    // Unsigned integer of `width` bytes (1, 2, 4 or 8).
    std::uint64_t uint(unsigned width);
    // Big-endian regardless of order() (for the few BE fields such as c_midmag).
    std::uint32_t u32be();
    ByteSpan bytes(std::size_t n);
    // Fixed-size character field; stops at the first NUL.
    std::string fixed_string(std::size_t n);
    void skip(std::size_t n);
    void seek(std::size_t offset);

    std::size_t offset() const noexcept { return pos_; }
    std::size_t remaining() const noexcept { return data_.size() - pos_; }
    std::size_t size() const noexcept { return data_.size(); }
    ByteOrder order() const noexcept { return order_; }

private:
    const std::byte* take(std::size_t n);

    ByteSpan data_;
    ByteOrder order_;
    std::string_view what_;
    std::size_t pos_ = 0;
};

// Appends fields in one byte order.  Used by writers (kcore headers) and by
// the synthetic dump builder.
class Encoder {
public:
    explicit Encoder(ByteOrder order) : order_(order) {}

    Encoder& u8(std::uint8_t v);
    Encoder& u16(std::uint16_t v);
    Encoder& u32(std::uint32_t v);
    Encoder& u64(std::uint64_t v);
    Encoder& uint(std::uint64_t v, unsigned width);
    Encoder& u32be(std::uint32_t v);
    Encoder& bytes(ByteSpan b);
    Encoder& string(std::string_view s);  // no terminator
    Encoder& zeros(std::size_t n);
    // Zero-pads to a multiple of `align` bytes.
    Encoder& pad_to(std::size_t align);

    std::size_t size() const noexcept { return out_.size(); }
    Bytes& data() noexcept { return out_; }
    const Bytes& data() const noexcept { return out_; }
    Bytes take() { return std::move(out_); }

private:
    ByteOrder order_;
    Bytes out_;
};

// Convenience for tests and builders.
Bytes to_bytes(std::string_view s);
std::string_view as_chars(ByteSpan b);

}  // namespace kvm
