// kvm::Namelist: loads a kernel namelist by its content.  Only ELF kernels
// are recognised so far; other kinds become further branches of load().

#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/namelist.h>

#include "symbols/symbol_classes.h"

#include <fmt/format.h>

namespace kvm {

std::unique_ptr<Namelist> Namelist::load(const std::string& path) {
    std::shared_ptr<ByteSource> source = open_file(path);
    if (elf::is_elf(*source)) {
        auto file = std::make_shared<elf::File>(source);
        SymbolTable table(file->symbols());
        return std::make_unique<Namelist>(path, std::move(table), std::move(file));
    }
    Error e(ErrorKind::format, "not an ELF kernel namelist");
    e.with_path(path);
    throw e;
}

Namelist::Namelist(std::string path, SymbolTable symbols, std::shared_ptr<elf::File> elf)
    : path_(std::move(path)), symbols_(std::move(symbols)), elf_(std::move(elf)) {}

Bytes Namelist::initial_value(std::string_view nlist_name, std::size_t length) const {
    const Symbol* symbol = symbols_.lookup(nlist_name);
    if (symbol == nullptr) {
        Error e(ErrorKind::not_found, fmt::format("{}: no such symbol", nlist_name));
        e.with_path(path_);
        throw e;
    }
    if (!elf_) {
        Error e(ErrorKind::unsupported,
                fmt::format("{}: the namelist has no file data to read its initial value from", nlist_name));
        e.with_path(path_);
        throw e;
    }
    // The file holds the unrelocated image.
    std::uint64_t address = symbol->value;
    if (detail::names_address(*symbol)) address -= static_cast<std::uint64_t>(symbols_.relocation());
    try {
        return elf_->read_vaddr(address, length);
    } catch (const Error& cause) {
        // Name the symbol after the path: "<path>: _version: no allocated section ...".
        std::string_view detail = cause.message();
        const std::string prefix = cause.path().empty() ? std::string() : cause.path() + ": ";
        if (!prefix.empty() && detail.substr(0, prefix.size()) == prefix) detail.remove_prefix(prefix.size());
        Error e(cause.kind(), fmt::format("{}: {}", nlist_name, detail));
        e.with_path(path_);
        if (cause.address()) e.with_address(*cause.address());
        throw e;
    }
}

}  // namespace kvm
