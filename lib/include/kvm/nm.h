// kvmnm's questions and answers: a name gives its symbol, an address (or
// symbol+offset) the symbol it falls in.  The text forms, which kvmnm(1)
// documents and the CLI tests check exactly:
//
//   ffffffff80200100 T main                          a name (value, nm letter, name)
//                    U undefined_thing               undefined: no value, as nm prints it
//   0xffffffff80200123: main+0x23 (size 0x800)       an address inside a sized symbol
//   0xffffffff80200100: main (size 0x800)            at its start
//   0xffffffff80200008: start+0x8                    a symbol of unknown size
//   0xffffffff80200904: main+0x804 (size 0x800, past its end)
//                                                    between a symbol's end and the next symbol
//   0xffff800000001000: not in any symbol            below the first symbol or past the last
//   0xffffffffc0123456: fw_cfg_showrev+0x6 [qemu_fw_cfg] (size 0x30)   in a module (a dump's)
//   ffffffffc0123450 t fw_cfg_showrev [qemu_fw_cfg]  a module's symbol by name
//
// Values are zero-padded to the dumped machine's width: 16 hex digits on
// 64-bit machines, 8 on 32-bit ones.
#pragma once

#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>
#include <kvm/namelist.h>
#include <kvm/symbols.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {

struct NmAnswer {
    enum class Kind { name, address };
    std::string query;
    Kind kind = Kind::name;
    const Symbol* symbol = nullptr;   // the symbol named, or the one the address is in
    std::uint64_t address = 0;        // address queries: the address asked about
    std::uint64_t offset = 0;         // address - symbol->value
    bool past_end = false;            // the address is past the end of the symbol's size
    std::optional<Error> error;       // the query has no answer: "NAME: no such symbol", a malformed number
    std::optional<Error> dump_error;  // with a dump: why the value cannot be read from it
};

// An argument that is a number (decimal or 0x) or an expression with an
// offset ("main+0x10") asks about an address; anything else is a name,
// looked up as SymbolTable::lookup does (as written, else nlist's rule).
// An argument that is neither a symbol nor a well-formed number or
// expression ("0xzz", "panic+") answers with a usage error.
NmAnswer nm_query(const SymbolTable& symbols, std::string_view argument);

// With a dump: notes in answer.dump_error why the byte at the answer's
// address (a symbol's value, or the address asked about) cannot be read --
// the walk level that failed, or "not in the dump".  Values that are not
// addresses (absolute, undefined, common symbols) are not checked.
void nm_check_dump(const Kernel& kernel, NmAnswer& answer);

// With the dump's modules (kvm/modules.h): an address inside a module is
// answered by that module's symbol at or before it, and a name the
// namelist lacks by the first module symbol of that name.  The answers
// print the module after the symbol: "0x...: sym+0x10 [module]".
void nm_resolve_in_modules(const ModuleSymbols& modules, NmAnswer& answer);
// Whether the answer may change with the modules' symbols (an address, or
// a name the namelist lacks): the modules need to be read only then.
bool nm_wants_modules(const NmAnswer& answer);

// nm prints no value for undefined symbols (U, and weak undefined w, v).
bool nm_is_undefined(const Symbol& symbol);

// What nm -a -n lists: every symbol of the namelist's ELF symbol table,
// those that name a section or a source file included (which the namelist
// itself leaves out), with their values as the file has them; undefined
// symbols first, then by value and name.  Throws usage for a namelist that
// is a symbol list (System.map, kallsyms), which has no such symbols.
std::vector<Symbol> nm_every_symbol(const Namelist& namelist);

// Hex digits of a value column: the dump's pointer width when there is a
// dump, else the ELF class of the namelist, else 8 when every value fits in
// 32 bits and 16 otherwise.
unsigned nm_value_digits(const Namelist& namelist, const Kernel* kernel);

// How nm's options list symbols: which (-g external, -u undefined only)
// and how (-S the size after the value, -P POSIX's "name type value size",
// -t the radix of values and sizes: 'x', 'd' or 'o').
struct NmListOptions {
    bool all = false;  // -a: the file's debugger-only symbols too (nm_every_symbol)
    bool external_only = false;
    bool undefined_only = false;
    bool sizes = false;
    bool posix = false;
    char radix = 'x';
};
// Whether the options list this symbol (external: an upper-case letter,
// as nm -g lists them).
bool nm_listed(const Symbol& symbol, const NmListOptions& options);
// The radix of -t: "d", "o" or "x"; throws usage otherwise.
char nm_radix(std::string_view text);

// A name with a wildcard ('*', '?', '[') asks for every symbol it matches,
// as crash's "sym -q" and shell patterns do: the matches in address order.
bool nm_is_pattern(std::string_view argument);
std::vector<const Symbol*> nm_matching(const SymbolTable& symbols, std::string_view pattern);
// The answers to one argument: nm_query's, or for a pattern that is not a
// symbol's name one per matching symbol that `options` lists (not_found
// "PATTERN: no symbol matches" when none does).
std::vector<NmAnswer> nm_answers(const SymbolTable& symbols, std::string_view argument, const NmListOptions& options);

// The text forms above, each without its newline.  Appended to `out`.
void format_nm_symbol(const Symbol& symbol, unsigned digits, std::string& out);
void format_nm_symbol(const Symbol& symbol, unsigned digits, const NmListOptions& options, std::string& out);
void format_nm_answer(const NmAnswer& answer, unsigned digits, std::string& out);

}  // namespace kvm
