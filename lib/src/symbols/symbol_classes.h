// Classifications of kvm::Symbol shared by the table, nlist and the
// namelist loaders.  They work from the ELF binding where there is one and
// from the nm letter otherwise, so System.map-style namelists (no ELF
// fields) classify the same way.
#pragma once

#include <kvm/elf.h>
#include <kvm/symbols.h>

namespace kvm::detail {

// Local binding: STB_LOCAL, or a lower-case letter in a namelist without
// bindings.  'w', 'v' and 'u' are lower case but weak or unique, never
// local; ELF locals in debug sections ('N') and of unknown kind ('?') keep
// a letter nm does not lower-case.
inline bool is_local(const Symbol& symbol) noexcept {
    if (symbol.elf_binding != elf::stb_local) return false;
    switch (symbol.type) {
        case 'w':
        case 'v':
        case 'u':
            return false;
        case 'N':
        case '?':
            return true;
        default:
            return symbol.type >= 'a' && symbol.type <= 'z';
    }
}

// The value is an address in the kernel image.  Absolute values are
// constants, undefined ones are zero, a common symbol's value is its
// alignment and debug-section values are offsets in that section: none of
// them is found by address or moved by relocation.
inline bool names_address(const Symbol& symbol) noexcept {
    switch (symbol.type) {
        case 'A':
        case 'a':
        case 'U':
        case 'w':
        case 'v':
        case 'C':
        case 'N':
        case 'n':
            return false;
        default:
            return true;
    }
}

}  // namespace kvm::detail
