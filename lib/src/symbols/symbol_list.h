// Symbol lists: System.map and /proc/kallsyms, one symbol per line:
//   <hex address> <nm letter> <name>[<whitespace>[<module>]]
// System.map is `nm -n vmlinux` output; /proc/kallsyms adds the module of
// module symbols in brackets after a tab.
#pragma once

#include <kvm/symbols.h>

#include <string_view>
#include <vector>

namespace kvm::detail {

// True when the first non-empty line of `head` (the start of a file) is a
// symbol-list line.
bool looks_like_symbol_list(std::string_view head);

// Every line; empty lines are skipped.  A line that is not a symbol-list
// line throws ErrorKind::corrupt:
//   "line 12: not \"address type name [module]\": \"...\""
// ELF type and binding are derived from the nm letter (upper case global,
// lower case local, W/w/V/v weak; t/T/W text, d/b/r/V data).
std::vector<Symbol> parse_symbol_list(std::string_view text);

}  // namespace kvm::detail
