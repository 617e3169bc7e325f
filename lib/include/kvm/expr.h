// Address expressions and lengths as the tools take them on the command
// line.
//
//   address  := base [ ('+' | '-') number ]
//   base     := number | symbol
//   number   := decimal digits | '0x' hex digits      (at most 64 bits)
//   length   := number [ 'k' | 'm' | 'g' ]             (binary multiples)
//
// A symbol is any text that does not start with a digit and holds no '+',
// '-' or white space; it is looked up as SymbolTable::lookup does
// (as written, else one '_' removed: "_dumpmag" names ELF dumpmag).  Parsing and resolving
// are separate so that a tool can reject a malformed argument before it
// opens anything.
#pragma once

#include <kvm/symbols.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvm {

struct AddressExpr {
    std::string text;          // as written, for messages
    std::string symbol;        // empty when the base is a number
    std::uint64_t number = 0;  // the base when there is no symbol
    std::uint64_t offset = 0;  // 0 when there is none
    bool minus = false;        // the offset is subtracted
    bool has_offset = false;   // "+0" counts as an offset
};

// A plain number (decimal or 0x hex), or nullopt when `text` is not one.
// Throws usage when it is one but does not fit in 64 bits.
std::optional<std::uint64_t> parse_number(std::string_view text);

// Throws usage naming the text and what is wrong with it, e.g.
// "main+: no offset after '+'".
AddressExpr parse_address(std::string_view text);

// A byte count: "256", "0x100", "4k", "2M", "1g".  Throws usage.
std::uint64_t parse_length(std::string_view text);

struct ResolvedAddress {
    std::uint64_t address = 0;
    const Symbol* symbol = nullptr;  // the symbol the expression named, if any
};

// The address an expression names.  Throws not_found "NAME: no such
// symbol", usage "NAME: a symbol needs a namelist (-N system)" when
// `symbols` is null, and usage when the offset carries the address past
// either end of the 64-bit space.
ResolvedAddress resolve_address(const AddressExpr& expr, const SymbolTable* symbols);

}  // namespace kvm
