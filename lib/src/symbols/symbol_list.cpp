#include "symbols/symbol_list.h"

#include <kvm/elf.h>
#include <kvm/error.h>

#include <fmt/format.h>

#include <cctype>
#include <optional>

namespace kvm::detail {

namespace {

constexpr std::uint8_t stb_gnu_unique = 10;
constexpr std::size_t max_quoted = 80;

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::uint8_t binding_of(char letter) {
    switch (letter) {
        case 'W':
        case 'w':
        case 'V':
        case 'v':
            return elf::stb_weak;
        case 'u':
            return stb_gnu_unique;
        default:
            return std::islower(static_cast<unsigned char>(letter)) != 0 ? elf::stb_local : elf::stb_global;
    }
}

std::uint8_t type_of(char letter) {
    switch (letter) {
        case 'T':
        case 't':
        case 'W':
            return elf::stt_func;
        case 'D':
        case 'd':
        case 'B':
        case 'b':
        case 'R':
        case 'r':
        case 'V':
        case 'G':
        case 'g':
        case 'S':
        case 's':
            return elf::stt_object;
        default:
            return elf::stt_notype;
    }
}

// One line, without its '\n'; nullopt when it is not a symbol line.
std::optional<Symbol> parse_line(std::string_view line) {
    std::size_t i = 0;
    std::uint64_t value = 0;
    while (i < line.size() && hex_digit(line[i]) >= 0) {
        if (i == 16) return std::nullopt;  // more than 64 bits
        value = value << 4 | static_cast<std::uint64_t>(hex_digit(line[i]));
        ++i;
    }
    if (i == 0 || i >= line.size() || !is_blank(line[i])) return std::nullopt;
    while (i < line.size() && is_blank(line[i]))
        ++i;
    if (i >= line.size()) return std::nullopt;
    const char letter = line[i++];
    if (std::isalpha(static_cast<unsigned char>(letter)) == 0 && letter != '?') return std::nullopt;
    if (i >= line.size() || !is_blank(line[i])) return std::nullopt;
    while (i < line.size() && is_blank(line[i]))
        ++i;
    const std::size_t name_start = i;
    while (i < line.size() && !is_blank(line[i]))
        ++i;
    if (i == name_start) return std::nullopt;

    Symbol s;
    s.name = std::string(line.substr(name_start, i - name_start));
    s.value = value;
    s.type = letter;
    s.elf_type = type_of(letter);
    s.elf_binding = binding_of(letter);
    while (i < line.size() && is_blank(line[i]))
        ++i;
    if (i < line.size() && line[i] == '[') {
        const std::size_t close = line.find(']', i);
        if (close == std::string_view::npos || close == i + 1) return std::nullopt;
        s.module = std::string(line.substr(i + 1, close - i - 1));
        for (const char c : s.module)
            if (is_blank(c)) return std::nullopt;
        i = close + 1;
        while (i < line.size() && is_blank(line[i]))
            ++i;
    }
    if (i != line.size()) return std::nullopt;
    return s;
}

// The line as a message shows it: printable ASCII, cut at max_quoted.
std::string quoted(std::string_view line) {
    std::string out;
    for (const char c : line.substr(0, max_quoted)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7f) ? c : '.';
    }
    if (line.size() > max_quoted) out += "...";
    return out;
}

}  // namespace

bool looks_like_symbol_list(std::string_view head) {
    std::size_t pos = 0;
    while (pos < head.size()) {
        std::size_t end = head.find('\n', pos);
        // An unterminated last line is only judged when the head is all there is.
        if (end == std::string_view::npos) end = head.size();
        const std::string_view line = head.substr(pos, end - pos);
        if (line.find_first_not_of(" \t\r") != std::string_view::npos) return parse_line(line).has_value();
        pos = end + 1;
    }
    return false;
}

std::vector<Symbol> parse_symbol_list(std::string_view text) {
    std::vector<Symbol> symbols;
    std::size_t pos = 0;
    std::uint64_t number = 0;
    while (pos < text.size()) {
        ++number;
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        std::optional<Symbol> s = parse_line(line);
        if (!s) throw_corrupt(fmt::format("line {}: not \"address type name [module]\": \"{}\"", number, quoted(line)));
        if (symbols.size() >= elf::max_symbols)
            throw_corrupt(fmt::format("more than {} symbols, more than this reader accepts", elf::max_symbols));
        symbols.push_back(std::move(*s));
    }
    return symbols;
}

}  // namespace kvm::detail
