// A translator for a process's own address space, from its top-level
// table (Linux: mm->pgd).  arm64 gives each half of the address space a
// table of its own (TTBR0_EL1 the lower, the process's; TTBR1_EL1 the
// kernel's), indexed by the same address bits: a process's root translates
// only lower-half addresses, "<va>: not in the user half of a 48-bit
// address space (bits 63..48 are not all zeros)" otherwise.  The x86
// schemes map both halves from one table: make_translator's.
#pragma once

#include <kvm/arch.h>

#include <memory>
#include <string_view>

namespace kvm {

std::unique_ptr<Translator> make_user_translator(std::string_view name, const TranslatorParams& params);

}  // namespace kvm
