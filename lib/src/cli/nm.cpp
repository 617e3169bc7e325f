// kvmnm's lookups and text forms (kvm/nm.h).
#include <kvm/elf.h>
#include <kvm/expr.h>
#include <kvm/nm.h>

#include "symbols/symbol_classes.h"

#include <fmt/format.h>

#include <array>
#include <iterator>

namespace kvm {

NmAnswer nm_query(const SymbolTable& symbols, std::string_view argument) {
    NmAnswer a;
    a.query = std::string(argument);
    try {
        std::optional<std::uint64_t> address = parse_number(argument);
        if (!address) {
            // "main+0x10" asks about an address; text that is no expression
            // at all is simply a name.
            std::optional<AddressExpr> expr;
            try {
                expr = parse_address(argument);
            } catch (const Error&) {  // NOLINT(bugprone-empty-catch): not an expression, so a name
            }
            if (expr && expr->has_offset) address = resolve_address(*expr, &symbols).address;
        }
        if (!address) {
            a.symbol = symbols.lookup(argument);
            if (a.symbol == nullptr) throw_not_found(fmt::format("{}: no such symbol", argument));
            return a;
        }
        a.kind = NmAnswer::Kind::address;
        a.address = *address;
        if (const auto near = symbols.nearest(*address)) {
            a.symbol = near->symbol;
            a.offset = near->offset;
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

void format_nm_symbol(const Symbol& symbol, unsigned digits, std::string& out) {
    auto it = std::back_inserter(out);
    if (nm_is_undefined(symbol)) {
        out.append(digits, ' ');
    } else {
        fmt::format_to(it, "{:0{}x}", symbol.value, digits);
    }
    fmt::format_to(it, " {} {}", symbol.type, symbol.name);
    if (!symbol.module.empty()) fmt::format_to(it, " [{}]", symbol.module);
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
    if (answer.symbol->size != 0) fmt::format_to(it, " (size {:#x})", answer.symbol->size);
}

}  // namespace kvm
