// hexdump -C of kernel memory (kvm/hexdump.h).
//
// kvmdump prints tens of megabytes, so lines are formatted by hand from
// lookup tables into a stack buffer and appended to one large output buffer:
// no iostreams, no per-byte formatting calls.
#include <kvm/error.h>
#include <kvm/hexdump.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace kvm {
namespace {

constexpr std::size_t line_bytes = 16;
constexpr std::size_t read_chunk = std::size_t{1} << 20;
constexpr char hex_digits[] = "0123456789abcdef";

struct Tables {
    std::array<std::array<char, 3>, 256> hex{};  // "xx "
    std::array<char, 256> ascii{};
    constexpr Tables() {
        for (unsigned b = 0; b < 256; ++b) {
            hex[b] = {hex_digits[b >> 4], hex_digits[b & 15], ' '};
            ascii[b] = b >= 0x20 && b <= 0x7e ? static_cast<char>(b) : '.';
        }
    }
};
constexpr Tables tables;

// Writes `value` as exactly `digits` hex digits ending before `end`.
char* put_hex(char* end, std::uint64_t value, unsigned digits) {
    for (unsigned i = 0; i < digits; ++i) {
        *--end = hex_digits[value & 15];
        value >>= 4;
    }
    return end;
}

unsigned hex_width(std::uint64_t value) {
    unsigned n = 1;
    while (value >>= 4)
        ++n;
    return n;
}

}  // namespace

// ---------------------------------------------------------------- output

OutputBuffer::OutputBuffer(int fd, std::size_t capacity) : fd_(fd), capacity_(capacity) {
    buffer_.reserve(capacity_ + 4096);
}

OutputBuffer::OutputBuffer(std::string& target) : target_(&target), capacity_(std::size_t{1} << 16) {}

OutputBuffer::~OutputBuffer() {
    try {
        flush();
    } catch (const Error&) {  // NOLINT(bugprone-empty-catch): documented; callers that care call flush()
    }
}

void OutputBuffer::write(std::string_view text) {
    buffer_.append(text);
    flush_if_full();
}

void OutputBuffer::write(ByteSpan bytes) {
    write(as_chars(bytes));
}

void OutputBuffer::flush_if_full() {
    if (buffer_.size() >= capacity_) flush();
}

void OutputBuffer::flush() {
    if (target_ != nullptr) {
        target_->append(buffer_);
        buffer_.clear();
        return;
    }
    std::size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            buffer_.clear();
            throw_os("writing the output", err);
        }
        done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

// ---------------------------------------------------------------- symbols

std::optional<SymbolTable::Nearest> SymbolCursor::at(std::uint64_t address) {
    if (address < low_ || address > high_) {
        const auto found = table_->nearest(address);
        symbol_ = found ? found->symbol : nullptr;
        low_ = address;
        // The answer can change only where a symbol starts (any symbol: a
        // superset of the ones nearest() considers) or where the one found
        // ends.
        const auto all = table_->by_address();
        const auto next = std::upper_bound(all.begin(), all.end(), address,
                                           [](std::uint64_t a, const Symbol& s) { return a < s.value; });
        high_ = next == all.end() ? std::numeric_limits<std::uint64_t>::max() : next->value - 1;
        if (symbol_ != nullptr && symbol_->size != 0) {
            const std::uint64_t room = std::numeric_limits<std::uint64_t>::max() - symbol_->value;
            if (symbol_->size - 1 <= room) high_ = std::min(high_, symbol_->value + (symbol_->size - 1));
        }
    }
    if (symbol_ == nullptr) return std::nullopt;
    return SymbolTable::Nearest{symbol_, address - symbol_->value};
}

// ---------------------------------------------------------------- hexdump

HexdumpFormatter::HexdumpFormatter(std::uint64_t start, unsigned address_digits, const SymbolTable* symbols)
    : start_(start), digits_(address_digits) {
    if (symbols != nullptr && !symbols->empty()) cursor_.emplace(*symbols);
}

void HexdumpFormatter::add(ByteSpan data, std::string& out) {
    std::size_t i = 0;
    if (pending_size_ != 0) {
        const std::size_t n = std::min(line_bytes - pending_size_, data.size());
        std::memcpy(pending_.data() + pending_size_, data.data(), n);
        pending_size_ += n;
        i = n;
        if (pending_size_ == line_bytes) {
            line(pending_.data(), line_bytes, out);
            pending_size_ = 0;
        }
    }
    for (; data.size() - i >= line_bytes; i += line_bytes)
        line(data.data() + i, line_bytes, out);
    if (i < data.size()) {
        std::memcpy(pending_.data() + pending_size_, data.data() + i, data.size() - i);
        pending_size_ += data.size() - i;
    }
    total_ += data.size();
}

void HexdumpFormatter::finish(std::string& out) {
    if (pending_size_ != 0) {
        line(pending_.data(), pending_size_, out);
        pending_size_ = 0;
    }
    if (total_ == 0) return;
    const std::uint64_t end = start_ + total_;
    if (end < start_) {
        out.append("10000000000000000\n");  // the range reached the top of the address space
        return;
    }
    const unsigned width = std::max(digits_, hex_width(end));
    char buf[16];
    put_hex(buf + width, end, width);
    out.append(buf, width);
    out.push_back('\n');
}

void HexdumpFormatter::line(const std::byte* bytes, std::size_t n, std::string& out) {
    const std::uint64_t line_address = start_ + lined_;
    lined_ += n;

    std::optional<SymbolTable::Nearest> near;
    if (cursor_) near = cursor_->at(line_address);
    const Symbol* symbol = near ? near->symbol : nullptr;

    const bool repeat = n == line_bytes && have_previous_ && symbol == previous_symbol_ &&
                        std::memcmp(bytes, previous_.data(), line_bytes) == 0;
    have_previous_ = true;
    previous_symbol_ = symbol;
    if (repeat) {
        if (!starred_) out.append("*\n");
        starred_ = true;
        return;
    }
    starred_ = false;
    std::memcpy(previous_.data(), bytes, n);

    // address (up to 16) + 2 + 16 * 3 + 1 + 1 + 16 + 1 = 85 bytes at most.
    char buf[96];
    const unsigned width = std::max(digits_, hex_width(line_address));
    char* p = buf;
    put_hex(p + width, line_address, width);
    p += width;
    *p++ = ' ';
    *p++ = ' ';
    for (std::size_t j = 0; j < line_bytes; ++j) {
        if (j == 8) *p++ = ' ';
        if (j < n) {
            std::memcpy(p, tables.hex[static_cast<unsigned char>(bytes[j])].data(), 3);
        } else {
            std::memcpy(p, "   ", 3);
        }
        p += 3;
    }
    *p++ = ' ';
    *p++ = '|';
    for (std::size_t j = 0; j < n; ++j)
        *p++ = tables.ascii[static_cast<unsigned char>(bytes[j])];
    *p++ = '|';
    out.append(buf, static_cast<std::size_t>(p - buf));
    if (symbol != nullptr) {
        out.append(line_bytes - n + 2, ' ');
        out.append(symbol->name);
        if (near->offset != 0) fmt::format_to(std::back_inserter(out), "+{:#x}", near->offset);
    }
    out.push_back('\n');
}

// ---------------------------------------------------------------- reading

void check_memory_range(std::uint64_t va, std::uint64_t length) {
    if (length != 0 && length - 1 > std::numeric_limits<std::uint64_t>::max() - va)
        throw Error(ErrorKind::usage,
                    fmt::format("{}: {:#x} bytes run past the end of the address space", hex(va), length));
}

PartialRead read_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length,
                        const std::function<void(ByteSpan)>& chunk, AddressSpace space) {
    check_memory_range(va, length);
    PartialRead result;
    Bytes buffer(static_cast<std::size_t>(std::min<std::uint64_t>(length, read_chunk)));
    while (result.bytes < length) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(length - result.bytes, read_chunk));
        const MutableByteSpan into(buffer.data(), n);
        PartialRead r = space == AddressSpace::physical ? kernel.read_phys_partial(va + result.bytes, into)
                                                        : kernel.read_partial(va + result.bytes, into);
        if (r.bytes != 0) chunk(ByteSpan(buffer.data(), r.bytes));
        result.bytes += r.bytes;
        if (r.error) {
            result.error = std::move(r.error);
            break;
        }
    }
    return result;
}

PartialRead hexdump_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length, const SymbolTable* symbols,
                           OutputBuffer& out, std::string_view before, AddressSpace space) {
    HexdumpFormatter f(va, kernel.pointer_size() * 2, symbols);
    PartialRead r = read_memory(
        kernel, va, length,
        [&](ByteSpan bytes) {
            if (f.end() == va) out.buffer().append(before);
            f.add(bytes, out.buffer());
            out.flush_if_full();
        },
        space);
    f.finish(out.buffer());
    out.flush_if_full();
    return r;
}

PartialRead copy_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length, OutputBuffer& out,
                        AddressSpace space) {
    return read_memory(
        kernel, va, length, [&](ByteSpan bytes) { out.write(bytes); }, space);
}

namespace {

class WordFormatter {
public:
    WordFormatter(std::uint64_t start, unsigned address_digits, const WordView& view, ByteOrder order)
        : next_(start), digits_(address_digits), view_(view), order_(order) {
        if (view.symbolic && view.symbols != nullptr) cursor_.emplace(*view.symbols);
    }

    void add(ByteSpan data, std::string& out) {
        for (const std::byte b : data) {
            pending_[pending_size_++] = b;
            if (pending_size_ == line_bytes) line(out);
        }
    }
    void finish(std::string& out) {
        pending_size_ -= pending_size_ % view_.word_size;  // an incomplete word is not shown
        if (pending_size_ != 0) line(out);
    }

private:
    void line(std::string& out) {
        auto it = std::back_inserter(out);
        fmt::format_to(it, "{:0{}x}: ", next_, digits_);
        for (std::size_t at = 0; at < pending_size_; at += view_.word_size) {
            const std::byte* p = pending_.data() + at;
            std::uint64_t v = 0;
            switch (view_.word_size) {
                case 1:
                    v = std::to_integer<std::uint64_t>(*p);
                    break;
                case 2:
                    v = load16(p, order_);
                    break;
                case 4:
                    v = load32(p, order_);
                    break;
                default:
                    v = load64(p, order_);
                    break;
            }
            out.push_back(' ');
            if (cursor_) {
                if (const auto near = cursor_->at(v); near && near->symbol->size != 0) {
                    out += near->symbol->name;
                    if (near->offset != 0) fmt::format_to(it, "+{:#x}", near->offset);
                    continue;
                }
            }
            fmt::format_to(it, "{:0{}x}", v, view_.word_size * 2);
        }
        out.push_back('\n');
        next_ += pending_size_;
        pending_size_ = 0;
    }

    std::uint64_t next_;
    unsigned digits_;
    WordView view_;
    ByteOrder order_;
    std::optional<SymbolCursor> cursor_;
    std::array<std::byte, line_bytes> pending_{};
    std::size_t pending_size_ = 0;
};

void check_word_size(const WordView& view) {
    if (view.word_size != 1 && view.word_size != 2 && view.word_size != 4 && view.word_size != 8)
        throw Error(ErrorKind::usage, fmt::format("a word is 1, 2, 4 or 8 bytes, not {}", view.word_size));
}

}  // namespace

std::string format_words(std::uint64_t start, ByteSpan bytes, unsigned address_digits, const WordView& view,
                         ByteOrder order) {
    check_word_size(view);
    WordFormatter f(start, address_digits, view, order);
    std::string out;
    f.add(bytes, out);
    f.finish(out);
    return out;
}

PartialRead worddump_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length, const WordView& view,
                            OutputBuffer& out, std::string_view before, AddressSpace space) {
    check_word_size(view);
    WordFormatter f(va, kernel.pointer_size() * 2, view, kernel.order());
    bool started = false;
    PartialRead r = read_memory(
        kernel, va, length,
        [&](ByteSpan bytes) {
            if (!started) out.buffer().append(before);
            started = true;
            f.add(bytes, out.buffer());
            out.flush_if_full();
        },
        space);
    f.finish(out.buffer());
    out.flush_if_full();
    return r;
}

MemoryString read_memory_string(const Kernel& kernel, std::uint64_t va, std::uint64_t max_bytes, AddressSpace space) {
    MemoryString s;
    // Read a page at a time: a string usually ends long before max_bytes,
    // and the page after it may not be in the dump.
    constexpr std::uint64_t page = 4096;
    std::uint64_t at = va;
    while (s.text.size() < max_bytes) {
        const std::uint64_t n = std::min<std::uint64_t>(max_bytes - s.text.size(), page - (at % page));
        std::array<std::byte, page> buf{};
        const MutableByteSpan into(buf.data(), static_cast<std::size_t>(n));
        PartialRead r =
            space == AddressSpace::physical ? kernel.read_phys_partial(at, into) : kernel.read_partial(at, into);
        const auto* begin = reinterpret_cast<const char*>(buf.data());
        const auto* nul = static_cast<const char*>(std::memchr(begin, 0, r.bytes));
        if (nul != nullptr) {
            s.text.append(begin, nul);
            s.terminated = true;
            return s;
        }
        s.text.append(begin, r.bytes);
        if (r.error) {
            s.error = std::move(r.error);
            return s;
        }
        at += n;
    }
    return s;
}

}  // namespace kvm
