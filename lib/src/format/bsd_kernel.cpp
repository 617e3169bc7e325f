// FreeBSD and DragonFly namelist facts (bsd_kernel.h).
#include <kvm/elf.h>
#include <kvm/error.h>

#include "format/bsd_kernel.h"

#include <fmt/format.h>

#include <algorithm>

namespace kvm::detail {

namespace {

std::optional<std::string> initial_string(const Namelist& namelist, std::string_view name, std::size_t max) {
    const Symbol* s = namelist.symbols().lookup(name);
    if (s == nullptr || namelist.elf() == nullptr) return std::nullopt;
    try {
        const std::size_t length = s->size != 0 ? std::min<std::uint64_t>(s->size, max) : max;
        const Bytes b = namelist.initial_value(name, length);
        std::string text(as_chars(b));
        text.resize(std::min(text.size(), text.find('\0')));
        return text;
    } catch (const Error&) {
        return std::nullopt;  // a symbol list, or no data for it: other signs decide
    }
}

}  // namespace

std::optional<BsdOs> bsd_os_of(const Namelist& namelist) {
    if (const auto ostype = initial_string(namelist, "ostype", 32)) {
        if (*ostype == "FreeBSD") return BsdOs{"freebsd", "the namelist's ostype \"FreeBSD\""};
        if (*ostype == "DragonFly") return BsdOs{"dragonfly", "the namelist's ostype \"DragonFly\""};
    }
    if (namelist.elf() != nullptr && namelist.elf()->osabi() == elf::elfosabi_freebsd)
        return BsdOs{"freebsd", "the namelist's ELF OS/ABI (FreeBSD)"};
    for (const std::string_view name : {"allprocs", "allproc_hsize"})
        if (namelist.symbols().find(name) != nullptr)
            return BsdOs{"dragonfly", fmt::format("the namelist's {}, which only DragonFly has", name)};
    return std::nullopt;
}

}  // namespace kvm::detail
