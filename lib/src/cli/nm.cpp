// kvmnm's lookups and text forms (kvm/nm.h).
#include <kvm/elf.h>
#include <kvm/expr.h>
#include <kvm/nm.h>

#include "symbols/symbol_classes.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>

namespace kvm {

NmAnswer nm_query(const SymbolTable& symbols, std::string_view argument) {
    NmAnswer a;
    a.query = std::string(argument);
    try {
        std::optional<std::uint64_t> address = parse_number(argument);
        if (!address) {
            // A name the namelist has is that name, whatever it looks like;
            // anything else must be an expression ("main+0x10") or a plain
            // name, and one that is neither ("0xzz", "panic+") is a usage
            // error, as kvmdump makes it.
            if (const Symbol* named = symbols.lookup(argument)) {
                a.symbol = named;
                return a;
            }
            const AddressExpr expr = parse_address(argument);
            if (!expr.has_offset) throw_not_found(fmt::format("{}: no such symbol", argument));
            address = resolve_address(expr, &symbols).address;
        }
        a.kind = NmAnswer::Kind::address;
        a.address = *address;
        if (const auto near = symbols.preceding(*address)) {
            a.symbol = near->symbol;
            a.offset = near->offset;
            a.past_end = a.symbol->size != 0 && a.offset >= a.symbol->size;
        }
    } catch (Error& e) {
        a.error = std::move(e);
    }
    return a;
}

void nm_check_dump(const Kernel& kernel, NmAnswer& answer) {
    if (answer.error) return;
    std::uint64_t address = answer.address;
    if (answer.kind == NmAnswer::Kind::name) {
        if (!detail::names_address(*answer.symbol)) return;
        address = answer.symbol->value;
    }
    std::array<std::byte, 1> byte{};
    PartialRead r = kernel.read_partial(address, byte);
    if (r.error) answer.dump_error = std::move(r.error);
}

bool nm_wants_modules(const NmAnswer& answer) {
    if (answer.kind == NmAnswer::Kind::address) return !answer.error;
    return answer.error && answer.error->kind() == ErrorKind::not_found;
}

void nm_resolve_in_modules(const ModuleSymbols& modules, NmAnswer& answer) {
    if (!nm_wants_modules(answer)) return;
    if (answer.kind == NmAnswer::Kind::address) {
        if (const auto hit = modules.nearest(answer.address)) {
            answer.symbol = hit->symbol;
            answer.offset = hit->offset;
        }
        return;
    }
    const auto found = modules.find(answer.query);
    if (found.empty()) return;
    answer.symbol = found.front();
    answer.error.reset();
}

bool nm_is_undefined(const Symbol& symbol) {
    return symbol.type == 'U' || symbol.type == 'w' || symbol.type == 'v';
}

unsigned nm_value_digits(const Namelist& namelist, const Kernel* kernel) {
    if (kernel != nullptr) return kernel->pointer_size() * 2;
    if (namelist.elf() != nullptr) return namelist.elf()->elf_class() == elf::elfclass32 ? 8 : 16;
    const auto symbols = namelist.symbols().by_address();
    return symbols.empty() || symbols.back().value <= 0xffffffff ? 8 : 16;
}

bool nm_listed(const Symbol& symbol, const NmListOptions& options) {
    if (options.undefined_only && !nm_is_undefined(symbol)) return false;
    // nm -g: external symbols, whose letters are upper case (and weak ones, w and v).
    if (options.external_only &&
        !(std::isupper(static_cast<unsigned char>(symbol.type)) != 0 || symbol.type == 'w' || symbol.type == 'v'))
        return false;
    return true;
}

std::vector<Symbol> nm_every_symbol(const Namelist& namelist) {
    if (namelist.elf() == nullptr)
        throw Error(ErrorKind::usage, fmt::format("-a: {} is a symbol list, without the section and file symbols of "
                                                  "an ELF kernel: give the kernel's ELF file",
                                                  namelist.path()));
    std::vector<Symbol> out = namelist.elf()->symbols(true);
    std::stable_sort(out.begin(), out.end(), [](const Symbol& a, const Symbol& b) {
        const bool ua = nm_is_undefined(a), ub = nm_is_undefined(b);
        if (ua != ub) return ua;
        if (a.value != b.value) return a.value < b.value;
        return a.name < b.name;
    });
    return out;
}

char nm_radix(std::string_view text) {
    if (text == "x" || text == "d" || text == "o") return text[0];
    throw Error(ErrorKind::usage, fmt::format("-t {}: the radix is d, o or x", text));
}

bool nm_is_pattern(std::string_view argument) {
    return argument.find_first_of("*?[") != std::string_view::npos;
}

std::vector<const Symbol*> nm_matching(const SymbolTable& symbols, std::string_view pattern) {
    const std::string p(pattern);
    std::vector<const Symbol*> out;
    for (const Symbol& s : symbols.by_address())
        if (::fnmatch(p.c_str(), s.name.c_str(), 0) == 0) out.push_back(&s);
    return out;
}

std::vector<NmAnswer> nm_answers(const SymbolTable& symbols, std::string_view argument, const NmListOptions& options) {
    if (!nm_is_pattern(argument) || symbols.lookup(argument) != nullptr) return {nm_query(symbols, argument)};
    std::vector<NmAnswer> out;
    for (const Symbol* s : nm_matching(symbols, argument)) {
        if (!nm_listed(*s, options)) continue;
        NmAnswer& a = out.emplace_back();
        a.query = std::string(argument);
        a.symbol = s;
    }
    if (out.empty()) {
        NmAnswer& a = out.emplace_back();
        a.query = std::string(argument);
        a.error = Error(ErrorKind::not_found, fmt::format("{}: no symbol matches", argument));
    }
    return out;
}

namespace {

// A value in the radix of -t, zero-padded to `width` digits (0: unpadded).
void append_number(std::uint64_t v, char radix, unsigned width, std::string& out) {
    auto it = std::back_inserter(out);
    switch (radix) {
        case 'd':
            fmt::format_to(it, "{:0{}d}", v, width);
            break;
        case 'o':
            fmt::format_to(it, "{:0{}o}", v, width);
            break;
        default:
            fmt::format_to(it, "{:0{}x}", v, width);
            break;
    }
}

// A value's width: GNU nm's, the machine's addresses in hexadecimal digits
// whatever the radix (so a small octal value has 16 digits, a kernel
// address its 22); decimal, which GNU prints signed, the addresses' width
// in decimal.
unsigned value_width(unsigned hex_digits, char radix) {
    if (radix == 'd') return hex_digits == 16 ? 20 : 10;
    return hex_digits;
}

}  // namespace

void format_nm_symbol(const Symbol& symbol, unsigned digits, const NmListOptions& options, std::string& out) {
    const bool undefined = nm_is_undefined(symbol);
    if (options.posix) {
        // POSIX: "name type value size", the value and size unpadded, and
        // neither for an undefined symbol.  The blank before the size stays
        // when there is none, as GNU nm prints it.
        fmt::format_to(std::back_inserter(out), "{} {}", symbol.name, symbol.type);
        if (!undefined) {
            out.push_back(' ');
            append_number(symbol.value, options.radix, 0, out);
            out.push_back(' ');
            if (symbol.size != 0) append_number(symbol.size, options.radix, 0, out);
        }
        return;
    }
    if (undefined) {
        out.append(value_width(digits, options.radix), ' ');
    } else {
        append_number(symbol.value, options.radix, value_width(digits, options.radix), out);
    }
    // Sizes keep the hex width in every radix, as GNU nm pads them.
    if (options.sizes && !undefined && symbol.size != 0) {
        out.push_back(' ');
        append_number(symbol.size, options.radix, digits, out);
    }
    fmt::format_to(std::back_inserter(out), " {} {}", symbol.type, symbol.name);
    if (!symbol.module.empty()) fmt::format_to(std::back_inserter(out), " [{}]", symbol.module);
}

void format_nm_symbol(const Symbol& symbol, unsigned digits, std::string& out) {
    format_nm_symbol(symbol, digits, NmListOptions{}, out);
}

void format_nm_answer(const NmAnswer& answer, unsigned digits, std::string& out) {
    if (answer.kind == NmAnswer::Kind::name) {
        if (answer.symbol != nullptr) format_nm_symbol(*answer.symbol, digits, out);
        return;
    }
    auto it = std::back_inserter(out);
    fmt::format_to(it, "{:#x}: ", answer.address);
    if (answer.symbol == nullptr) {
        out.append("not in any symbol");
        return;
    }
    out.append(answer.symbol->name);
    if (answer.offset != 0) fmt::format_to(it, "+{:#x}", answer.offset);
    if (!answer.symbol->module.empty()) fmt::format_to(it, " [{}]", answer.symbol->module);
    if (answer.symbol->size != 0)
        fmt::format_to(it, " (size {:#x}{})", answer.symbol->size, answer.past_end ? ", past its end" : "");
}

}  // namespace kvm
