// Kernel memory as hexdump -C shows a file, with the kernel virtual address
// in the first column and the symbol of each line at the end:
//
//   ffffffff80200100  55 48 89 e5 9c 0e 6d 35  4f 52 c2 b3 a7 89 8b 94  |UH....m5OR......|  main
//   ffffffff80200110  1b 11 d1 82 3e 7c 2d 79  03 35 8b 8b 3d 5a 91 31  |....>|-y.5..=Z.1|  main+0x10
//   *
//   ffffffff80200900
//
// The layout is hexdump -C's: the address zero-padded to the dumped
// machine's width (16 hex digits on 64-bit machines, 8 on 32-bit ones), two
// spaces, sixteen bytes in two groups of eight, "|ascii|" with '.' for bytes
// outside 0x20..0x7e, and a last line with the address after the last byte.
// A line equal to the one before it is replaced by one "*" line for the
// whole run, as hexdump -C does, with one difference: a line whose symbol
// differs from the previous line's is always shown, so the start of a
// symbol never hides in a run.  Lines with a symbol pad a short "|ascii|"
// so that the symbols line up; lines without one are exactly hexdump -C's.
// Nothing at all is printed for zero bytes.
//
// Lines start at the first address, not at a multiple of 16, as hexdump -C
// -s does.
#pragma once

#include <kvm/bytes.h>
#include <kvm/kernel.h>
#include <kvm/symbols.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kvm {

// Text and bytes on their way to a file descriptor (stdout) through one
// large buffer, or into a string (tests).  Write errors throw io.
class OutputBuffer {
public:
    explicit OutputBuffer(int fd, std::size_t capacity = std::size_t{1} << 20);
    explicit OutputBuffer(std::string& target);
    ~OutputBuffer();  // flushes what is left; errors are lost: call flush()
    OutputBuffer(const OutputBuffer&) = delete;
    OutputBuffer& operator=(const OutputBuffer&) = delete;

    void write(std::string_view text);
    void write(ByteSpan bytes);
    // Formatters append to the buffer directly, then call flush_if_full().
    std::string& buffer() noexcept { return buffer_; }
    void flush_if_full();
    void flush();

private:
    int fd_ = -1;
    std::string* target_ = nullptr;
    std::size_t capacity_ = 0;
    std::string buffer_;
};

// nearest() for addresses that mostly go up, as a dump's lines do: an
// answer is kept for as long as it cannot change (up to the next symbol's
// value or the end of the symbol found), so a run of lines costs one
// lookup, not one per line.  The answers are exactly nearest()'s.
class SymbolCursor {
public:
    explicit SymbolCursor(const SymbolTable& table) : table_(&table) {}
    std::optional<SymbolTable::Nearest> at(std::uint64_t address);

private:
    const SymbolTable* table_;
    std::uint64_t low_ = 1;   // the answer holds for [low_, high_] (empty at first)
    std::uint64_t high_ = 0;  // inclusive, so that it can reach 2^64 - 1
    const Symbol* symbol_ = nullptr;
};

class HexdumpFormatter {
public:
    // `address_digits` is 8 or 16.  `symbols` (nullable) annotates lines.
    HexdumpFormatter(std::uint64_t start, unsigned address_digits, const SymbolTable* symbols = nullptr);

    // Formats `data`, the bytes that follow those given so far, appending
    // every completed line to `out`.
    void add(ByteSpan data, std::string& out);
    // The last, short line, a pending "*", and the final address line.
    void finish(std::string& out);
    // The address after the last byte given.
    std::uint64_t end() const noexcept { return start_ + total_; }

private:
    void line(const std::byte* bytes, std::size_t n, std::string& out);

    std::uint64_t start_;
    unsigned digits_;
    std::optional<SymbolCursor> cursor_;
    std::uint64_t total_ = 0;  // bytes given
    std::uint64_t lined_ = 0;  // bytes formatted into lines
    std::array<std::byte, 16> pending_{};
    std::size_t pending_size_ = 0;
    std::array<std::byte, 16> previous_{};
    const Symbol* previous_symbol_ = nullptr;
    bool have_previous_ = false;
    bool starred_ = false;  // a "*" stands for the lines since the last one shown
};

// Throws usage "<va>: <length> bytes run past the end of the address space"
// when [va, va + length) does not fit in 64 bits.
void check_memory_range(std::uint64_t va, std::uint64_t length);

// Which addresses a dump is read at: kernel virtual ones, translated
// through the dump's page tables, or physical ones (kvmdump -P).
enum class AddressSpace { kernel_virtual, physical };

// Reads [va, va + length) in large chunks and hands each readable chunk to
// `chunk` in order.  Stops at the first byte that cannot be read; the
// result says how many bytes were read and why it stopped (the fault names
// the virtual address and the walk level, or "not in the dump").  Throws
// usage when the range runs past the end of the address space.
PartialRead read_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length,
                        const std::function<void(ByteSpan)>& chunk, AddressSpace space = AddressSpace::kernel_virtual);

// kvmdump's two outputs.  Both write what was readable, then return why
// they stopped.  `before` is written ahead of the first line, when there is
// one (a separator between dumps that leaves none around an empty one).
PartialRead hexdump_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length, const SymbolTable* symbols,
                           OutputBuffer& out, std::string_view before = {},
                           AddressSpace space = AddressSpace::kernel_virtual);
PartialRead copy_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length, OutputBuffer& out,
                        AddressSpace space = AddressSpace::kernel_virtual);

// Memory as words of the dumped machine, as crash's rd -8 shows it: the
// address, a colon, then up to 16 bytes' worth of words, each read in the
// machine's byte order and printed as that many bytes' hex digits:
//
//   ffffffff81800000:  000000008fca0101 0000000000000001
//
// With `symbolic`, a word that points into a symbol of `symbols` prints as
// that symbol and offset instead ("panic+0x10", rd -s).  A word the
// readable bytes do not complete is not printed.  `word_size` is 1, 2, 4
// or 8.
struct WordView {
    unsigned word_size = 8;
    const SymbolTable* symbols = nullptr;  // for `symbolic`
    bool symbolic = false;
};
PartialRead worddump_memory(const Kernel& kernel, std::uint64_t va, std::uint64_t length, const WordView& view,
                            OutputBuffer& out, std::string_view before = {},
                            AddressSpace space = AddressSpace::kernel_virtual);
// The same lines for bytes at hand, read in `order` (worddump_memory uses the
// dump's; a test gives a byte order no arch of the table has), with
// `address_digits` hex digits of address.
std::string format_words(std::uint64_t start, ByteSpan bytes, unsigned address_digits, const WordView& view,
                         ByteOrder order);

// The NUL-terminated string at `va` (at most `max_bytes`, the NUL not
// included), and why it stopped short when it did.
struct MemoryString {
    std::string text;
    bool terminated = false;  // a NUL ended it
    std::optional<Error> error;
};
MemoryString read_memory_string(const Kernel& kernel, std::uint64_t va, std::uint64_t max_bytes,
                                AddressSpace space = AddressSpace::kernel_virtual);

}  // namespace kvm
