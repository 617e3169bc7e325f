// What every module reader shares: the table of readers, the listing as
// kvmmod prints it, and lookups of addresses among the modules' symbols.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>

#include "core/json_string.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm {

namespace detail {
// Rows of the reader table, one per file in src/modules/.
bool linux_modules_accepts(const Kernel& kernel);
std::unique_ptr<ModuleReader> linux_modules_create(const Kernel& kernel, const ModuleOptions& options);
bool freebsd_linker_files_accepts(const Kernel& kernel);
bool dragonfly_linker_files_accepts(const Kernel& kernel);
std::unique_ptr<ModuleReader> linker_files_create(const Kernel& kernel, const ModuleOptions& options);
bool netbsd_modules_accepts(const Kernel& kernel);
std::unique_ptr<ModuleReader> netbsd_modules_create(const Kernel& kernel, const ModuleOptions& options);
}  // namespace detail

std::span<const ModuleReaderInfo> all_module_readers() {
    static const ModuleReaderInfo readers[] = {
        {"linux", detail::linux_modules_accepts, detail::linux_modules_create},
        {"freebsd", detail::freebsd_linker_files_accepts, detail::linker_files_create},
        {"dragonfly", detail::dragonfly_linker_files_accepts, detail::linker_files_create},
        {"netbsd", detail::netbsd_modules_accepts, detail::netbsd_modules_create},
    };
    return readers;
}

std::unique_ptr<ModuleReader> make_module_reader(const Kernel& kernel, const ModuleOptions& options) {
    std::string have;
    for (const ModuleReaderInfo& r : all_module_readers()) {
        if (r.accepts(kernel)) return r.create(kernel, options);
        have += (have.empty() ? "" : ", ") + std::string(r.name);
    }
    throw_unsupported(fmt::format("no module list for {} dumps (have: {})",
                                  kernel.machine().os.empty() ? "these" : kernel.machine().os, have));
}

ModuleListing list_modules(const Kernel& kernel, const ModuleOptions& options, const ModuleWarn& warn) {
    return make_module_reader(kernel, options)->read(options.symbols, warn);
}

namespace {
std::string used_by(const ModuleInfo& m) {
    std::string out;
    for (const std::string& u : m.used_by)
        out += (out.empty() ? "" : ",") + u;
    return out;
}
}  // namespace

std::string format_modules_table(std::span<const ModuleInfo> modules) {
    struct Row {
        std::string name, address, size, refs, state, users;
    };
    std::vector<Row> rows{{"Module", "Address", "Size", "Used", "State", "by"}};
    for (const ModuleInfo& m : modules)
        rows.push_back({m.name, fmt::format("{:#x}", m.base), fmt::format("{}", m.size),
                        m.refs < 0 ? "-" : fmt::format("{}", m.refs), m.state, used_by(m)});
    std::size_t w[5] = {};
    for (const Row& r : rows) {
        w[0] = std::max(w[0], r.name.size());
        w[1] = std::max(w[1], r.address.size());
        w[2] = std::max(w[2], r.size.size());
        w[3] = std::max(w[3], r.refs.size());
        w[4] = std::max(w[4], r.state.size());
    }
    std::string out;
    for (const Row& r : rows) {
        std::string line = fmt::format("{:<{}} {:>{}} {:>{}} {:>{}} {:<{}} {}", r.name, w[0], r.address, w[1], r.size,
                                       w[2], r.refs, w[3], r.state, w[4], r.users);
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

namespace {
// kldstat's lines: "%2d %4d %*p %8zx %s", under "Id Refs Address%*c %8s Name"
// (the address column as wide as "0x" and a pointer's hex digits).
std::string kldstat_table(const ModuleListing& listing) {
    const std::size_t address_width = std::size_t{listing.pointer_size} * 2 + 2;
    std::string out = fmt::format("Id Refs Address{:{}} {:>8} Name\n", "", address_width - 7, "Size");
    for (const ModuleInfo& m : listing.modules)
        out += fmt::format("{:>2} {:>4} {:>{}} {:>8x} {}\n", m.id, m.refs, fmt::format("{:#x}", m.base), address_width,
                           m.size, m.name);
    return out;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& i : items)
        out += (out.empty() ? "" : ",") + i;
    return out;
}

// modstat -k's columns, each as wide as its widest value: NAME, CLASS,
// SOURCE, FLAG and REQUIRES to the left, REFS, ADDRESS and SIZE to the right.
std::string modstat_table(const ModuleListing& listing) {
    constexpr std::size_t columns = 8;
    constexpr bool right[columns] = {false, false, false, false, true, true, true, false};
    std::vector<std::array<std::string, columns>> rows{
        {"NAME", "CLASS", "SOURCE", "FLAG", "REFS", "ADDRESS", "SIZE", "REQUIRES"}};
    for (const ModuleInfo& m : listing.modules)
        rows.push_back({m.name, m.module_class, m.state, m.flags.empty() ? "-" : m.flags, fmt::format("{}", m.refs),
                        fmt::format("{:x}", m.base), fmt::format("{}", m.size),
                        m.required.empty() ? "-" : joined(m.required)});
    std::size_t width[columns] = {};
    for (const auto& r : rows)
        for (std::size_t c = 0; c < columns; ++c)
            width[c] = std::max(width[c], r[c].size());
    std::string out;
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t c = 0; c < columns; ++c) {
            if (c != 0) line += ' ';
            line += right[c] ? fmt::format("{:>{}}", r[c], width[c])
                             : (c + 1 == columns ? r[c] : fmt::format("{:<{}}", r[c], width[c]));
        }
        out += line + "\n";
    }
    return out;
}
}  // namespace

std::string format_modules_table(const ModuleListing& listing) {
    switch (listing.table) {
        case ModuleTable::kldstat:
            return kldstat_table(listing);
        case ModuleTable::modstat:
            return modstat_table(listing);
        case ModuleTable::lsmod:
            break;
    }
    return format_modules_table(listing.modules);
}

std::string format_module_json(const ModuleInfo& m) {
    std::string out = "{\"name\":";
    detail::append_json_string(out, m.name);
    out += fmt::format(",\"base\":\"{:#x}\",\"size\":{},\"refs\":", m.base, m.size);
    out += m.refs < 0 ? "null" : fmt::format("{}", m.refs);
    out += ",\"state\":";
    detail::append_json_string(out, m.state);
    out += ",\"used_by\":[";
    for (std::size_t i = 0; i < m.used_by.size(); ++i) {
        if (i != 0) out += ",";
        detail::append_json_string(out, m.used_by[i]);
    }
    out += fmt::format("],\"address\":\"{:#x}\"", m.address);
    if (m.id >= 0) out += fmt::format(",\"id\":{}", m.id);
    if (!m.path.empty()) {
        out += ",\"path\":";
        detail::append_json_string(out, m.path);
    }
    if (!m.module_class.empty()) {
        out += ",\"class\":";
        detail::append_json_string(out, m.module_class);
        out += ",\"flags\":";
        detail::append_json_string(out, m.flags);
        out += ",\"requires\":[";
        for (std::size_t i = 0; i < m.required.size(); ++i) {
            if (i != 0) out += ",";
            detail::append_json_string(out, m.required[i]);
        }
        out += "]";
    }
    out += "}";
    return out;
}

ModuleSymbols::ModuleSymbols(const ModuleListing& listing) : symbols_(listing.symbols), modules_(listing.modules) {
    std::stable_sort(symbols_.begin(), symbols_.end(),
                     [](const Symbol& a, const Symbol& b) { return a.value < b.value; });
}

std::optional<ModuleSymbols::Hit> ModuleSymbols::nearest(std::uint64_t address) const {
    // The module whose memory holds the address, then its last symbol at
    // or before it.
    const ModuleInfo* owner = nullptr;
    std::uint64_t start = 0;
    for (const ModuleInfo& m : modules_)
        for (const auto& [base, size] : m.ranges)
            if (address >= base && address - base < size) {
                owner = &m;
                start = base;
            }
    if (owner == nullptr) return std::nullopt;
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                               [](std::uint64_t a, const Symbol& s) { return a < s.value; });
    while (it != symbols_.begin()) {
        --it;
        if (it->value < start) break;
        if (it->module == owner->name) return Hit{&*it, address - it->value};
    }
    return std::nullopt;
}

std::vector<const Symbol*> ModuleSymbols::find(std::string_view name) const {
    std::vector<const Symbol*> out;
    for (const Symbol& s : symbols_)
        if (s.name == name) out.push_back(&s);
    return out;
}

}  // namespace kvm
