// A kernel namelist: the symbol table of the kernel that crashed, plus (for
// an ELF kernel file) its initialised data, which savecore reads on a host
// that is not running that kernel.
#pragma once

#include <kvm/bytes.h>
#include <kvm/elf.h>
#include <kvm/symbols.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kvm {

enum class NamelistKind {
    elf,          // a kernel file (vmlinux, netbsd): symbols and initialised data
    symbol_list,  // "address type name [module]" lines: System.map, /proc/kallsyms
};

// Largest symbol list read (a /proc/kallsyms with many modules is ~20 MiB).
inline constexpr std::uint64_t max_symbol_list_bytes = 512ull << 20;

class Namelist {
public:
    // Reads a namelist file by its content (never its name):
    //   - an ELF kernel (32/64, either byte order);
    //   - a symbol list, one "address type name" per line with an optional
    //     "[module]" (System.map at link-time addresses, /proc/kallsyms at
    //     run-time ones; kvm::Kernel::open relocates the former to the dump,
    //     see linux_kernel::relocate_namelist).  Files whose size the kernel
    //     reports as 0 (/proc) are read to their end.
    // Errors name the path; a symbol list whose addresses are all zero
    // (kallsyms hidden by kernel.kptr_restrict) is refused as unsupported.
    static std::unique_ptr<Namelist> load(const std::string& path);
    // From a table alone (tests, other namelist kinds).
    Namelist(std::string path, SymbolTable symbols, std::shared_ptr<elf::File> elf = nullptr);

    const std::string& path() const noexcept { return path_; }
    NamelistKind kind() const noexcept { return elf_ ? NamelistKind::elf : NamelistKind::symbol_list; }
    const SymbolTable& symbols() const noexcept { return symbols_; }
    SymbolTable& symbols() noexcept { return symbols_; }
    // The ELF file behind the namelist, or nullptr.
    const elf::File* elf() const noexcept { return elf_.get(); }

    // The initialised bytes of a variable as the kernel file holds them
    // (nlist name rule).  Throws not_found when the symbol or its section
    // is missing, unsupported when the namelist has no file data.
    Bytes initial_value(std::string_view nlist_name, std::size_t length) const;

private:
    std::string path_;
    SymbolTable symbols_;
    std::shared_ptr<elf::File> elf_;
};

}  // namespace kvm
