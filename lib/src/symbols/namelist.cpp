// kvm::Namelist: loads a kernel namelist by its content: an ELF kernel, or
// a symbol list (System.map, /proc/kallsyms).

#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/namelist.h>

#include "symbols/symbol_classes.h"
#include "symbols/symbol_list.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvm {

namespace {

constexpr std::size_t sniff_bytes = 4096;
constexpr std::size_t read_chunk = 1u << 20;

// The whole file, read to its end rather than to its reported size: /proc
// files report 0.
std::string read_text(const ByteSource& source, std::uint64_t limit) {
    std::string text;
    std::uint64_t offset = 0;
    for (;;) {
        const std::size_t old_size = text.size();
        text.resize(old_size + read_chunk);
        const std::size_t got =
            source.read_at(offset, MutableByteSpan(reinterpret_cast<std::byte*>(text.data() + old_size), read_chunk));
        text.resize(old_size + got);
        offset += got;
        if (got == 0) break;
        if (text.size() > limit)
            throw_corrupt(fmt::format("more than {} bytes, more than a symbol list this reader accepts", limit));
    }
    return text;
}

std::unique_ptr<Namelist> load_symbol_list(const std::string& path, const ByteSource& source) {
    std::vector<Symbol> symbols = detail::parse_symbol_list(read_text(source, max_symbol_list_bytes));
    if (symbols.empty()) throw_format("an empty symbol list");
    const bool all_zero = std::all_of(symbols.begin(), symbols.end(), [](const Symbol& s) { return s.value == 0; });
    if (all_zero && symbols.size() > 1)
        throw_unsupported(
            "every address is 0: the kernel hides symbol addresses from this user (kernel.kptr_restrict); "
            "read it as root");
    return std::make_unique<Namelist>(path, SymbolTable(std::move(symbols)));
}

}  // namespace

std::unique_ptr<Namelist> Namelist::load(const std::string& path) {
    std::shared_ptr<ByteSource> source = open_file(path);
    if (elf::is_elf(*source)) {
        auto file = std::make_shared<elf::File>(source);
        SymbolTable table(file->symbols());
        return std::make_unique<Namelist>(path, std::move(table), std::move(file));
    }
    try {
        std::string head(sniff_bytes, '\0');
        head.resize(source->read_at(0, MutableByteSpan(reinterpret_cast<std::byte*>(head.data()), head.size())));
        if (detail::looks_like_symbol_list(head)) return load_symbol_list(path, *source);
        throw_format("not a kernel namelist (neither an ELF kernel nor a System.map or /proc/kallsyms list)");
    } catch (Error& e) {
        e.with_path(path);
        throw;
    }
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
