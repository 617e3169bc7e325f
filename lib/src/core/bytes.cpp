#include <kvm/bytes.h>
#include <kvm/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace kvm {

std::string_view to_string(ByteOrder order) {
    return order == ByteOrder::little ? "little-endian" : "big-endian";
}

namespace {
template <typename T>
T load(const std::byte* p, ByteOrder order) noexcept {
    T v = 0;
    if (order == ByteOrder::little) {
        for (std::size_t i = sizeof(T); i-- > 0;)
            v = static_cast<T>((v << 8) | std::to_integer<T>(p[i]));
    } else {
        for (std::size_t i = 0; i < sizeof(T); ++i)
            v = static_cast<T>((v << 8) | std::to_integer<T>(p[i]));
    }
    return v;
}

template <typename T>
void store(std::byte* p, T v, ByteOrder order) noexcept {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        const auto b = static_cast<std::byte>((v >> (8 * i)) & 0xff);
        p[order == ByteOrder::little ? i : sizeof(T) - 1 - i] = b;
    }
}
}  // namespace

std::uint16_t load16(const std::byte* p, ByteOrder order) noexcept {
    return load<std::uint16_t>(p, order);
}
std::uint32_t load32(const std::byte* p, ByteOrder order) noexcept {
    return load<std::uint32_t>(p, order);
}
std::uint64_t load64(const std::byte* p, ByteOrder order) noexcept {
    return load<std::uint64_t>(p, order);
}

std::uint64_t load_uint(const std::byte* p, unsigned width, ByteOrder order) noexcept {
    switch (width) {
        case 1:
            return std::to_integer<std::uint8_t>(p[0]);
        case 2:
            return load16(p, order);
        case 4:
            return load32(p, order);
        default:
            return load64(p, order);
    }
}

void store16(std::byte* p, std::uint16_t v, ByteOrder order) noexcept {
    store(p, v, order);
}
void store32(std::byte* p, std::uint32_t v, ByteOrder order) noexcept {
    store(p, v, order);
}
void store64(std::byte* p, std::uint64_t v, ByteOrder order) noexcept {
    store(p, v, order);
}

void store_uint(std::byte* p, std::uint64_t v, unsigned width, ByteOrder order) noexcept {
    switch (width) {
        case 1:
            p[0] = static_cast<std::byte>(v);
            break;
        case 2:
            store16(p, static_cast<std::uint16_t>(v), order);
            break;
        case 4:
            store32(p, static_cast<std::uint32_t>(v), order);
            break;
        default:
            store64(p, v, order);
            break;
    }
}

std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, std::string_view what) {
    std::uint64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) throw_corrupt(fmt::format("{} overflows: {:#x} + {:#x}", what, a, b));
    return r;
}

std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, std::string_view what) {
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) throw_corrupt(fmt::format("{} overflows: {:#x} * {:#x}", what, a, b));
    return r;
}

ByteSpan strict_subspan(ByteSpan data, std::uint64_t offset, std::uint64_t length, std::string_view what) {
    if (offset > data.size() || length > data.size() - offset)
        throw_corrupt(fmt::format("{} at offset {:#x}, length {:#x} is outside the {:#x} bytes available", what, offset,
                                  length, data.size()));
    return data.subspan(offset, length);
}

const std::byte* Decoder::take(std::size_t n) {
    if (n > data_.size() - pos_)
        throw_corrupt(fmt::format("{} is truncated: needs {} bytes at offset {:#x}, has {:#x} in all", what_, n, pos_,
                                  data_.size()));
    const std::byte* p = data_.data() + pos_;
    pos_ += n;
    return p;
}

std::uint8_t Decoder::u8() {
    return std::to_integer<std::uint8_t>(*take(1));
}
std::uint16_t Decoder::u16() {
    return load16(take(2), order_);
}
std::uint32_t Decoder::u32() {
    return load32(take(4), order_);
}
std::uint64_t Decoder::u64() {
    return load64(take(8), order_);
}
std::uint32_t Decoder::u32be() {
    return load32(take(4), ByteOrder::big);
}

std::uint64_t Decoder::uint(unsigned width) {
    if (width != 1 && width != 2 && width != 4 && width != 8)
        throw Error(ErrorKind::usage, fmt::format("integer width {} is not 1, 2, 4 or 8", width));
    return load_uint(take(width), width, order_);
}

ByteSpan Decoder::bytes(std::size_t n) {
    return {take(n), n};
}

std::string Decoder::fixed_string(std::size_t n) {
    const ByteSpan b = bytes(n);
    const auto nul = std::find(b.begin(), b.end(), std::byte{0});
    return {reinterpret_cast<const char*>(b.data()), static_cast<std::size_t>(nul - b.begin())};
}

void Decoder::skip(std::size_t n) {
    take(n);
}

void Decoder::seek(std::size_t offset) {
    if (offset > data_.size())
        throw_corrupt(fmt::format("{}: offset {:#x} is past its end ({:#x} bytes)", what_, offset, data_.size()));
    pos_ = offset;
}

Encoder& Encoder::u8(std::uint8_t v) {
    out_.push_back(static_cast<std::byte>(v));
    return *this;
}

Encoder& Encoder::uint(std::uint64_t v, unsigned width) {
    const std::size_t at = out_.size();
    out_.resize(at + width);
    store_uint(out_.data() + at, v, width, order_);
    return *this;
}

Encoder& Encoder::u16(std::uint16_t v) {
    return uint(v, 2);
}
Encoder& Encoder::u32(std::uint32_t v) {
    return uint(v, 4);
}
Encoder& Encoder::u64(std::uint64_t v) {
    return uint(v, 8);
}

Encoder& Encoder::u32be(std::uint32_t v) {
    const std::size_t at = out_.size();
    out_.resize(at + 4);
    store32(out_.data() + at, v, ByteOrder::big);
    return *this;
}

Encoder& Encoder::bytes(ByteSpan b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
}

Encoder& Encoder::string(std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
    return *this;
}

Encoder& Encoder::zeros(std::size_t n) {
    out_.resize(out_.size() + n, std::byte{0});
    return *this;
}

Encoder& Encoder::pad_to(std::size_t align) {
    if (align > 1) out_.resize(align_up(out_.size(), align), std::byte{0});
    return *this;
}

Bytes to_bytes(std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return {p, p + s.size()};
}

std::string_view as_chars(ByteSpan b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace kvm
