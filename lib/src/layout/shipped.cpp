// Choosing the layouts for a dump: a file the user names, the kernel's own
// type information, or a shipped layout file for the release.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/namelist.h>

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>

#ifndef KVMKIT_INSTALL_DATADIR
#define KVMKIT_INSTALL_DATADIR "/usr/local/share/kvmkit"
#endif
// The data directory relative to the library directory, as installed
// ("../share/kvmkit"): a shared library finds its data from where it is.
#ifndef KVMKIT_LIBDIR_TO_DATADIR
#define KVMKIT_LIBDIR_TO_DATADIR "../share/kvmkit"
#endif

namespace kvm {

namespace {

std::string executable_dir() {
    std::array<char, 4096> buf{};
    const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    if (n <= 0) return {};
    return std::filesystem::path(std::string(buf.data(), static_cast<std::size_t>(n))).parent_path().string();
}

// The directory of the shared library this code is in (libkvm.so), or
// empty when it is linked into the executable itself.
std::string library_dir() {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<const void*>(&library_dir), &info) == 0 || info.dli_fname == nullptr) return {};
    std::error_code ec;
    const auto lib = std::filesystem::canonical(info.dli_fname, ec);
    if (ec) return {};
    const auto exe = std::filesystem::canonical("/proc/self/exe", ec);
    if (!ec && exe == lib) return {};
    return lib.parent_path().string();
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::mutex advice_mutex;
std::string& layout_advice() {
    static std::string advice(library_layout_advice);
    return advice;
}

}  // namespace

void set_layout_advice(std::string advice) {
    const std::lock_guard lock(advice_mutex);
    layout_advice() = std::move(advice);
}

std::vector<std::string> shipped_layout_dirs() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("KVMKIT_LAYOUTS"); env != nullptr && *env != '\0') dirs.emplace_back(env);
    if (const std::string exe = executable_dir(); !exe.empty()) {
        std::error_code ec;
        const auto p =
            std::filesystem::weakly_canonical(std::filesystem::path(exe) / ".." / "share" / "kvmkit" / "layouts", ec);
        if (!ec) dirs.push_back(p.string());
    }
    if (const std::string lib = library_dir(); !lib.empty()) {
        std::error_code ec;
        const auto p =
            std::filesystem::weakly_canonical(std::filesystem::path(lib) / KVMKIT_LIBDIR_TO_DATADIR / "layouts", ec);
        if (!ec && std::find(dirs.begin(), dirs.end(), p.string()) == dirs.end()) dirs.push_back(p.string());
    }
    const std::string installed = std::string(KVMKIT_INSTALL_DATADIR) + "/layouts";
    if (std::find(dirs.begin(), dirs.end(), installed) == dirs.end()) dirs.push_back(installed);
    return dirs;
}

std::optional<std::string> find_shipped_layout(const std::vector<std::string>& dirs, std::string_view os,
                                               std::string_view release, std::string_view arch) {
    const std::string name = fmt::format("{}-{}-{}.json", os, release, arch);
    for (const auto& dir : dirs) {
        const std::filesystem::path p = std::filesystem::path(dir) / name;
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) return p.string();
    }
    return std::nullopt;
}

StructLayouts resolve_layouts(const LayoutSearch& search, const LayoutRequest& request) {
    const std::vector<std::string> dirs = search.dirs.empty() ? shipped_layout_dirs() : search.dirs;
    const auto shipped = find_shipped_layout(dirs, search.os, search.release, search.arch);

    if (search.file) {
        StructLayouts l = load_layouts_file(*search.file);
        if (l.os != search.os || l.arch != search.arch)
            throw Error(ErrorKind::usage, fmt::format("{}: describes {} {} {}, but the dump is {} {}", *search.file,
                                                      l.os, l.release, l.arch, search.os, search.arch));
        check_layouts(l, request);
        return l;
    }

    // Type information has structures but no macros: the flag bits, values
    // and device names of the release come from its shipped file, and what
    // that lacks from the OS's known constants.
    const auto complete = [&](StructLayouts l) {
        l.os = search.os;
        l.release = search.release;
        l.arch = search.arch;
        if (shipped) {
            // Enumerators the type information has (CTF and BTF read them)
            // stay; the rest come from the release's file.
            const StructLayouts constants = load_layouts_file(*shipped);
            const auto merge = [](std::vector<NamedValue>& have, const std::vector<NamedValue>& from) {
                for (const NamedValue& v : from)
                    if (std::none_of(have.begin(), have.end(), [&](const NamedValue& h) { return h.name == v.name; }))
                        have.push_back(v);
            };
            merge(l.flags, constants.flags);
            merge(l.values, constants.values);
            if (l.devices.empty()) l.devices = constants.devices;
            l.derived += fmt::format("; flags, values and device names from {}", *shipped);
        }
        std::string known;
        const auto add_known = [&](std::vector<NamedValue>& have, const std::vector<std::string>& wanted,
                                   const std::vector<NamedValue>& table) {
            for (const auto& name : wanted) {
                if (std::any_of(have.begin(), have.end(), [&](const NamedValue& v) { return v.name == name; }))
                    continue;
                const auto it =
                    std::find_if(table.begin(), table.end(), [&](const NamedValue& v) { return v.name == name; });
                if (it == table.end()) continue;
                have.push_back(*it);
                known += (known.empty() ? "" : ", ") + name;
            }
        };
        add_known(l.flags, request.flags, search.known_flags);
        add_known(l.values, request.values, search.known_values);
        if (!known.empty()) l.derived += fmt::format("; {} from kvmkit's table of {} constants", known, search.os);
        check_layouts(l, request);
        return l;
    };

    if (search.namelist != nullptr && search.namelist->elf() != nullptr) {
        const elf::File& file = *search.namelist->elf();
        for (const TypeInfoReader& reader : all_type_info_readers()) {
            if (!reader.present(file)) continue;
            return complete(reader.read(search.namelist->path(), file, request));
        }
    }

    if (search.kernel_type_info)
        if (auto l = search.kernel_type_info(request)) return complete(std::move(*l));

    if (shipped) {
        StructLayouts l = load_layouts_file(*shipped);
        check_layouts(l, request);
        return l;
    }
    std::string advice;
    {
        const std::lock_guard lock(advice_mutex);
        advice = layout_advice();
    }
    throw_not_found(fmt::format(
        "no structure layouts for {} {} {}: the namelist has no type information and there is no {}-{}-{}.json in {}; "
        "{}",
        search.os, search.release, search.arch, search.os, search.release, search.arch, join(dirs), advice));
}

}  // namespace kvm
