// The kernel modules a dump had loaded (lsmod, NetBSD's modstat, FreeBSD's
// kldstat) and the symbols each keeps in kernel memory (Linux's
// mod->kallsyms), so that addresses inside modules have names.
//
// Readers are rows of a table chosen by the dump's MachineState::os, as
// process walkers are: Linux walks `modules` (struct module, layouts from
// the kernel's own BTF, as the Linux process walker gets its layouts);
// FreeBSD and DragonFly walk `linker_files` (struct linker_file), NetBSD
// `module_list` (struct module, modinfo, kobj), layouts from the kernel's
// CTF or DWARF, else the release's shipped file, as their process walkers
// get theirs.  Adding a system is one file in
// src/modules/ and one row.  Every list is bounded and cycle-checked, and a bad entry ends
// its list with a warning (src/procs/list_walk.h).
#pragma once

#include <kvm/error.h>
#include <kvm/layout.h>
#include <kvm/symbols.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvm {

class Kernel;

struct ModuleInfo {
    std::string name;
    std::uint64_t base = 0;  // where its code starts (Linux: the core text, as /proc/modules' address)
    std::uint64_t size = 0;  // bytes, as lsmod, modstat and kldstat count them
    // "Live", "Loading", "Unloading" (Linux); NetBSD: the source it came
    // from ("builtin", "boot", "filesys"); FreeBSD, DragonFly: "".
    std::string state;
    std::int64_t refs = -1;            // references held; -1 when the system has no count
    std::vector<std::string> used_by;  // modules that depend on it (lsmod's "Used by")
    std::uint64_t address = 0;         // the kernel's structure for it (struct module *)
    // The memory it occupies (start, bytes), where its symbols are looked up.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    std::int64_t id = -1;  // FreeBSD, DragonFly: the file id kldstat prints; -1 where there is none
    std::string path;      // FreeBSD: the file it was loaded from (pathname); may be empty
    // NetBSD: its class ("misc", "vfs", "driver"...), its flags as modstat
    // prints them ("a" auto-loaded, "f" must be forced; "" none), and the
    // modules it requires.
    std::string module_class;
    std::string flags;
    std::vector<std::string> required;
};

// How kvmmod prints a system's modules: as Linux's lsmod, FreeBSD's
// kldstat (Id Refs Address Size Name) or NetBSD's modstat -k (NAME CLASS
// SOURCE FLAG REFS ADDRESS SIZE REQUIRES).
enum class ModuleTable { lsmod, kldstat, modstat };

// A problem with one item (a list, a module): the listing goes on.
using ModuleWarn = std::function<void(const Error&)>;

struct ModuleOptions {
    std::optional<std::string> layout_file;  // --layout
    std::vector<std::string> layout_dirs;    // shipped layout directories; empty: the default search
    bool symbols = false;                    // also read each module's symbols
};

struct ModuleListing {
    std::vector<ModuleInfo> modules;  // in the kernel's list order (Linux: the newest first)
    ModuleTable table = ModuleTable::lsmod;
    unsigned pointer_size = 8;  // of the dumped kernel: the width of kldstat's Address column
    // Their symbols as /proc/kallsyms lists them ("value type name
    // [module]"): Symbol::module names the module, size is st_size.
    std::vector<Symbol> symbols;
};

class ModuleReader {
public:
    virtual ~ModuleReader() = default;
    virtual std::string_view name() const = 0;
    virtual ModuleListing read(bool symbols, const ModuleWarn& warn) const = 0;
    virtual const StructLayouts& layouts() const = 0;
    // Whether read(true, ...) gives the modules' symbols.
    virtual bool reads_symbols() const { return false; }
};

struct ModuleReaderInfo {
    std::string_view name;
    bool (*accepts)(const Kernel& kernel);
    std::unique_ptr<ModuleReader> (*create)(const Kernel& kernel, const ModuleOptions& options);
};

std::span<const ModuleReaderInfo> all_module_readers();
// The first reader that accepts the dump; unsupported "no module list for
// <os> dumps (have: ...)" when none does.
std::unique_ptr<ModuleReader> make_module_reader(const Kernel& kernel, const ModuleOptions& options);

// The modules (and with options.symbols, their symbols) of a dump.
ModuleListing list_modules(const Kernel& kernel, const ModuleOptions& options, const ModuleWarn& warn);

// What kvmmod prints: a header "Module Address Size Used by State" and one
// line per module, columns as wide as their widest value.
std::string format_modules_table(std::span<const ModuleInfo> modules);
// The listing as its system's tool prints it (listing.table): lsmod's
// table above; kldstat's "Id Refs Address Size Name" with each line as
// "%2d %4d %*p %8zx %s" (the address as wide as the kernel's pointers
// in hex, with 0x); or modstat -k's "NAME CLASS SOURCE FLAG REFS ADDRESS
// SIZE REQUIRES", columns as wide as their widest value, "-" for no flags
// and no requirements.
std::string format_modules_table(const ModuleListing& listing);
// One JSON object per module and line (JSON Lines); "id" and "path" only
// where the system has them, "class", "flags" and "requires" (an array)
// for NetBSD's.
std::string format_module_json(const ModuleInfo& m);

// Symbols sorted by address, for lookups: the symbol at or before
// `address` in the module whose range holds it.
class ModuleSymbols {
public:
    explicit ModuleSymbols(const ModuleListing& listing);
    struct Hit {
        const Symbol* symbol = nullptr;
        std::uint64_t offset = 0;
    };
    // nullopt when no module's [base, base + size) holds `address`, or
    // none of that module's symbols is at or before it.
    std::optional<Hit> nearest(std::uint64_t address) const;
    // Every symbol of that name (a name may be in several modules).
    std::vector<const Symbol*> find(std::string_view name) const;
    std::span<const Symbol> all() const { return symbols_; }

private:
    std::vector<Symbol> symbols_;      // by value
    std::vector<ModuleInfo> modules_;  // by base
};

namespace linux_kernel {
// What the Linux module reader asks of the layouts (struct module,
// module_use, mod_kallsyms; module_memory on 6.4 and later).
const LayoutRequest& module_layout_request();
}  // namespace linux_kernel

namespace netbsd {
// What the NetBSD module reader asks of the layouts (struct module,
// modinfo, kobj; MODFLG_*): part of the shipped NetBSD layout files.
const LayoutRequest& module_layout_request();
}  // namespace netbsd

namespace bsd {
// What the FreeBSD and DragonFly reader asks of the layouts (struct
// linker_file, LINKER_FILE_LINKED): part of their shipped layout files.
const LayoutRequest& linker_file_layout_request();
}  // namespace bsd

}  // namespace kvm
