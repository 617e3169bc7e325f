// Address expressions and lengths (kvm/expr.h).
#include <kvm/error.h>
#include <kvm/expr.h>

#include <fmt/format.h>

#include <limits>

namespace kvm {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The value of `digits` in `base` (10 or 16), or nullopt when a character
// is not a digit.  Throws usage naming `text` on overflow.
std::optional<std::uint64_t> digits_value(std::string_view digits, unsigned base, std::string_view text) {
    if (digits.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : digits) {
        const int d = base == 16 ? hex_digit(c) : (is_digit(c) ? c - '0' : -1);
        if (d < 0) return std::nullopt;
        if (v > (std::numeric_limits<std::uint64_t>::max() - static_cast<unsigned>(d)) / base)
            throw Error(ErrorKind::usage, fmt::format("{}: does not fit in 64 bits", text));
        v = v * base + static_cast<unsigned>(d);
    }
    return v;
}

std::optional<std::uint64_t> number_in(std::string_view number, std::string_view text) {
    if (number.size() >= 2 && number[0] == '0' && (number[1] == 'x' || number[1] == 'X'))
        return digits_value(number.substr(2), 16, text);
    return digits_value(number, 10, text);
}

}  // namespace

std::optional<std::uint64_t> parse_number(std::string_view text) {
    return number_in(text, text);
}

AddressExpr parse_address(std::string_view text) {
    if (text.empty()) throw Error(ErrorKind::usage, "empty address");
    AddressExpr e;
    e.text = std::string(text);
    for (const char c : text)
        if (c == ' ' || c == '\t' || c == '\n' || static_cast<unsigned char>(c) < 0x20)
            throw Error(ErrorKind::usage,
                        fmt::format("\"{}\": white space or a control character in an address", text));

    const std::size_t op = text.find_first_of("+-");
    const std::string_view base = text.substr(0, op);
    if (op != std::string_view::npos) {
        const char sign = text[op];
        if (base.empty())
            throw Error(ErrorKind::usage, fmt::format("{}: no symbol or address before '{}'", text, sign));
        const std::string_view offset = text.substr(op + 1);
        if (offset.empty()) throw Error(ErrorKind::usage, fmt::format("{}: no offset after '{}'", text, sign));
        const auto value = number_in(offset, text);
        if (!value) throw Error(ErrorKind::usage, fmt::format("{}: offset {} is not a number", text, offset));
        e.offset = *value;
        e.minus = sign == '-';
        e.has_offset = true;
    }
    if (is_digit(base.front())) {
        const auto value = number_in(base, text);
        if (!value) throw Error(ErrorKind::usage, fmt::format("{}: {} is not a number", text, base));
        e.number = *value;
    } else {
        e.symbol = std::string(base);
    }
    return e;
}

std::uint64_t parse_length(std::string_view text) {
    const auto bad = [&] {
        return Error(ErrorKind::usage,
                     fmt::format("{}: not a length (a decimal or 0x number, with an optional k, m or g)", text));
    };
    if (text.empty()) throw bad();
    unsigned shift = 0;
    switch (text.back()) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            break;
    }
    const std::string_view number = shift == 0 ? text : text.substr(0, text.size() - 1);
    const auto value = number_in(number, text);
    if (!value) throw bad();
    if (*value > std::numeric_limits<std::uint64_t>::max() >> shift)
        throw Error(ErrorKind::usage, fmt::format("{}: does not fit in 64 bits", text));
    return *value << shift;
}

ResolvedAddress resolve_address(const AddressExpr& expr, const SymbolTable* symbols) {
    ResolvedAddress r;
    std::uint64_t base = expr.number;
    if (!expr.symbol.empty()) {
        if (symbols == nullptr)
            throw Error(ErrorKind::usage, fmt::format("{}: a symbol needs a namelist (-N system)", expr.symbol));
        r.symbol = symbols->lookup(expr.symbol);
        if (r.symbol == nullptr) throw_not_found(fmt::format("{}: no such symbol", expr.symbol));
        base = r.symbol->value;
    }
    if (expr.minus ? expr.offset > base : expr.offset > std::numeric_limits<std::uint64_t>::max() - base)
        throw Error(ErrorKind::usage, fmt::format("{}: the offset carries {} past the {} of the address space",
                                                  expr.text, hex(base), expr.minus ? "start" : "end"));
    r.address = expr.minus ? base - expr.offset : base + expr.offset;
    return r;
}

}  // namespace kvm
