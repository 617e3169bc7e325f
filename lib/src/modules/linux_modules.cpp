// Loaded modules of a dead Linux kernel: the `modules` list of struct
// module, read on the layouts of the kernel's own BTF, and printed as
// /proc/modules prints them (kernel/module/procfs.c):
//   - the list is in load order, the newest first; a module still
//     MODULE_STATE_UNFORMED is not listed;
//   - size: init_layout.size + core_layout.size (before 6.4), the sizes of
//     every mem[] region (6.4 onwards); the address is core_layout.base or
//     mem[MOD_TEXT].base;
//   - references: refcnt - MODULE_REF_BASE (1); "Used by": the source of
//     each module_use on the module's source_list, then "[permanent]" for a
//     module with an init function and no exit;
//   - state: Unloading (GOING), Loading (COMING), else Live.
// Symbols are mod->kallsyms: num_symtab Elf_Sym entries at symtab, their
// names in strtab and their kallsyms letters in typetab, as /proc/kallsyms
// lists them (nameless entries left out).
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>

#include "procs/dead_kernel.h"
#include "procs/linux_layouts.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace kvm {

namespace {

using detail::member;
using Object = detail::KernelObject;

constexpr std::size_t ksym_name_len = 512;              // KSYM_NAME_LEN: the longest symbol name
constexpr std::uint64_t max_module_symbols = 1u << 20;  // far more than any module has
constexpr std::uint64_t module_ref_base = 1;            // MODULE_REF_BASE: refcnt of an unused module
constexpr std::uint64_t max_module_users = 4096;        // modules that use one module

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"module",
         {
             member("state", "enum module_state: MODULE_STATE_LIVE, COMING, GOING, UNFORMED"),
             member("list.next", "next module on the `modules` list (list_head list)"),
             member("name", "the module's name, MODULE_NAME_LEN characters"),
             member("core_layout.base", "address of the module's core (code first), before 6.4", false),
             member("core_layout.size", "bytes of the module's core, before 6.4", false),
             member("init_layout.size", "bytes of its init sections (0 once initialised), before 6.4", false),
             member("mem", "its memory regions (struct module_memory mem[MOD_MEM_NUM_TYPES]), 6.4 onwards", false),
             member("refcnt.counter", "references, plus MODULE_REF_BASE (atomic_t)", false),
             member("source_list.next", "modules that use this one (list of struct module_use)", false),
             member("init", "its init function (a permanent module has one and no exit)", false),
             member("exit", "its exit function", false),
             member("kallsyms", "its symbols (struct mod_kallsyms *)", false),
         }},
        {"module_memory",
         {
             member("base", "address of the region"),
             member("size", "bytes of the region"),
         },
         false},
        {"module_use",
         {
             member("source_list.next", "next use of the same module (on its source_list)"),
             member("source", "the module that uses it (struct module *)"),
         },
         false},
        {"mod_kallsyms",
         {
             member("symtab", "the symbols (Elf_Sym *)"),
             member("num_symtab", "how many"),
             member("strtab", "their names (char *)"),
             member("typetab", "their kallsyms letters (char *), one per symbol", false),
         },
         false},
    };
    r.values = {"MODULE_STATE_LIVE", "MODULE_STATE_COMING", "MODULE_STATE_GOING", "MODULE_STATE_UNFORMED", "MOD_TEXT"};
    return r;
}

NamedValue known(std::string name, std::uint64_t value, std::string field, std::string meaning) {
    return NamedValue{std::move(name), value, std::move(field), std::move(meaning)};
}

// enum module_state and enum mod_mem_type (include/linux/module.h): the
// same in every kernel with BTF; taken from the BTF's enumerators first.
const std::vector<NamedValue>& known_values() {
    static const std::vector<NamedValue> values = {
        known("MODULE_STATE_LIVE", 0, "module.state", "normal state"),
        known("MODULE_STATE_COMING", 1, "module.state", "being loaded: Loading"),
        known("MODULE_STATE_GOING", 2, "module.state", "being unloaded: Unloading"),
        known("MODULE_STATE_UNFORMED", 3, "module.state", "still being formed: not listed"),
        known("MOD_TEXT", 0, "module.mem", "index of the code region (enum mod_mem_type, 6.4 onwards)"),
    };
    return values;
}

std::uint64_t extent(const StructLayout& s) {
    std::uint64_t end = 0;
    for (const auto& m : s.members)
        end = std::max(end, m.offset + m.size);
    return std::min(end, s.size);
}

class LinuxModules final : public ModuleReader {
public:
    LinuxModules(const Kernel& kernel, StructLayouts layouts, std::uint64_t head);
    std::string_view name() const override { return "linux"; }
    ModuleListing read(bool symbols, const ModuleWarn& warn) const override;
    const StructLayouts& layouts() const override { return layouts_; }
    bool reads_symbols() const override { return true; }

private:
    struct Read;

    const Kernel& kernel_;
    StructLayouts layouts_;
    std::uint64_t head_;  // &modules
    const StructLayout& module_;
    const MemberLayout *state_, *list_, *name_, *core_base_, *core_size_, *init_size_, *mem_, *refcnt_, *sources_,
        *init_, *exit_, *kallsyms_;
    const MemberLayout *mm_base_ = nullptr, *mm_size_ = nullptr;  // module_memory
    std::uint64_t mm_stride_ = 0;
    const MemberLayout *use_next_ = nullptr, *use_source_ = nullptr;  // module_use
    const MemberLayout *ks_symtab_ = nullptr, *ks_num_ = nullptr, *ks_strtab_ = nullptr, *ks_typetab_ = nullptr;
    std::uint64_t module_bytes_ = 0, use_bytes_ = 0, kallsyms_bytes_ = 0;
    std::uint64_t live_, coming_, going_, unformed_, mod_text_;
};

LinuxModules::LinuxModules(const Kernel& kernel, StructLayouts layouts, std::uint64_t head)
    : kernel_(kernel), layouts_(std::move(layouts)), head_(head), module_(layouts_.get("module")) {
    state_ = module_.find("state");
    list_ = module_.find("list.next");
    name_ = module_.find("name");
    core_base_ = module_.find("core_layout.base");
    core_size_ = module_.find("core_layout.size");
    init_size_ = module_.find("init_layout.size");
    mem_ = module_.find("mem");
    refcnt_ = module_.find("refcnt.counter");
    sources_ = module_.find("source_list.next");
    init_ = module_.find("init");
    exit_ = module_.find("exit");
    kallsyms_ = module_.find("kallsyms");
    live_ = layouts_.require_value("MODULE_STATE_LIVE");
    coming_ = layouts_.require_value("MODULE_STATE_COMING");
    going_ = layouts_.require_value("MODULE_STATE_GOING");
    unformed_ = layouts_.require_value("MODULE_STATE_UNFORMED");
    mod_text_ = layouts_.require_value("MOD_TEXT");
    const unsigned ptr = kernel.pointer_size();

    // Which kernel: the regions of 6.4 onwards, or the layouts before.
    if (mem_ != nullptr) {
        const StructLayout* mm = layouts_.find("module_memory");
        if (mm == nullptr || mm->find("base") == nullptr || mm->find("size") == nullptr)
            throw_not_found(
                fmt::format("{} has module.mem but no struct module_memory with base and size", layouts_.source));
        mm_base_ = mm->find("base");
        mm_size_ = mm->find("size");
        mm_stride_ = mm->size;
        if (mem_->count == 0 || mm_stride_ == 0 || mem_->size != mem_->count * mm_stride_ || mod_text_ >= mem_->count)
            throw_corrupt(fmt::format("{}: module.mem is not an array of struct module_memory holding MOD_TEXT",
                                      layouts_.source));
    } else if (core_base_ == nullptr || core_size_ == nullptr) {
        throw_not_found(
            fmt::format("{} lacks module.mem and module.core_layout: no way to the modules' memory", layouts_.source));
    }
    for (const MemberLayout* p : {list_, sources_, kallsyms_, core_base_})
        if (p != nullptr && p->size != ptr)
            throw_corrupt(
                fmt::format("{}: {} is {} bytes, not a {}-byte pointer", layouts_.source, p->name, p->size, ptr));
    if (const StructLayout* use = layouts_.find("module_use"); use != nullptr && sources_ != nullptr) {
        use_next_ = use->find("source_list.next");
        use_source_ = use->find("source");
        use_bytes_ = extent(*use);
    }
    if (const StructLayout* ks = layouts_.find("mod_kallsyms"); ks != nullptr && kallsyms_ != nullptr) {
        ks_symtab_ = ks->find("symtab");
        ks_num_ = ks->find("num_symtab");
        ks_strtab_ = ks->find("strtab");
        ks_typetab_ = ks->find("typetab");
        kallsyms_bytes_ = extent(*ks);
    }
    module_bytes_ = extent(module_);
}

struct LinuxModules::Read {
    const LinuxModules& r;
    const ModuleWarn& warn;
    detail::PageCache memory{r.kernel_, 256};
    ModuleListing out;
    std::unordered_map<std::uint64_t, std::string> names;  // struct module * -> its name

    Object read(std::uint64_t bytes, std::uint64_t address) {
        return Object(memory, r.kernel_.order(), bytes, address);
    }
    std::uint64_t pointer(std::uint64_t address) {
        Bytes b(r.kernel_.pointer_size());
        memory.read(address, b);
        return load_uint(b.data(), r.kernel_.pointer_size(), r.kernel_.order());
    }
    const std::string& name_of(std::uint64_t module) {
        if (auto it = names.find(module); it != names.end()) return it->second;
        const Object o = read(r.name_->offset + r.name_->size, module);
        return names.emplace(module, o.str(r.name_)).first->second;
    }

    // The node's container, or 0 at the list head `end`.
    static std::uint64_t container(std::uint64_t node, std::uint64_t end, std::uint64_t link) {
        if (node == end) return 0;
        if (node == 0) throw_corrupt("a NULL link in a circular list");
        if (node < link) throw_corrupt(fmt::format("link {} is not inside its structure", hex(node)));
        return node - link;
    }

    void users(ModuleInfo& m, const Object& o) {
        if (r.use_next_ == nullptr) return;
        const std::uint64_t head = m.address + r.sources_->offset;
        std::unordered_set<std::uint64_t> seen;
        const auto list = [&] { return fmt::format("module {} ({}): source_list", m.name, hex(m.address)); };
        detail::walk_list(list, container(o.u(r.sources_), head, r.use_next_->offset), max_module_users, seen, warn,
                          [&](std::uint64_t use, std::uint64_t) {
                              const Object u = read(r.use_bytes_, use);
                              m.used_by.push_back(name_of(u.u(r.use_source_)));
                              return detail::ListStep{container(u.u(r.use_next_), head, r.use_next_->offset), true};
                          });
    }

    void symbols(const ModuleInfo& m, const Object& o) {
        const std::uint64_t at = o.u(r.kallsyms_);
        if (r.ks_symtab_ == nullptr || at == 0) return;
        try {
            const Object ks = read(r.kallsyms_bytes_, at);
            const std::uint64_t count = ks.u(r.ks_num_);
            const bool elf64 = r.kernel_.pointer_size() == 8;
            const std::uint64_t entry = elf64 ? 24 : 16;  // sizeof(Elf64_Sym), sizeof(Elf32_Sym)
            if (count > max_module_symbols || count > detail::entries_bound(r.kernel_, entry))
                throw_corrupt(fmt::format("num_symtab is {}, over the limit of {}", count,
                                          std::min(max_module_symbols, detail::entries_bound(r.kernel_, entry))));
            Bytes table(count * entry);
            memory.read(ks.u(r.ks_symtab_), table);
            Bytes types(r.ks_typetab_ != nullptr ? count : 0);
            if (!types.empty()) memory.read(ks.u(r.ks_typetab_), types);
            const std::uint64_t strtab = ks.u(r.ks_strtab_);
            const ByteOrder order = r.kernel_.order();
            for (std::uint64_t i = 0; i < count; ++i) {
                const std::byte* e = table.data() + i * entry;
                const std::uint32_t name = load32(e, order);
                if (name == 0) continue;  // the null symbol, and nameless ones: /proc leaves them out
                Symbol s;
                s.value = elf64 ? load64(e + 8, order) : load32(e + 4, order);
                s.size = elf64 ? load64(e + 16, order) : load32(e + 8, order);
                const auto info = static_cast<std::uint8_t>(e[elf64 ? 4 : 12]);
                s.elf_type = info & 0xf;
                s.elf_binding = info >> 4;
                s.type = types.empty() ? '?' : static_cast<char>(types[i]);
                s.name = memory.read_string(strtab + name, ksym_name_len);
                if (s.name.empty()) continue;
                s.module = m.name;
                out.symbols.push_back(std::move(s));
            }
        } catch (Error& e) {
            e.add_context(fmt::format("module {} ({}): symbols at {}", m.name, hex(m.address), hex(at)));
            warn(e);
        }
    }

    detail::ListStep visit(std::uint64_t address, bool want_symbols) {
        const Object o = read(r.module_bytes_, address);
        const detail::ListStep step{container(o.u(r.list_), r.head_, r.list_->offset), true};
        const std::uint64_t state = o.u(r.state_);
        if (state == r.unformed_) return step;
        ModuleInfo m;
        m.address = address;
        m.name = o.str(r.name_);
        names.emplace(address, m.name);
        if (r.mem_ != nullptr) {
            for (std::uint64_t i = 0; i < r.mem_->count; ++i) {
                MemberLayout base = *r.mm_base_, size = *r.mm_size_;
                base.offset += r.mem_->offset + i * r.mm_stride_;
                size.offset += r.mem_->offset + i * r.mm_stride_;
                const std::uint64_t b = load_member_unsigned(o.bytes(), base, r.kernel_.order());
                const std::uint64_t n = load_member_unsigned(o.bytes(), size, r.kernel_.order());
                m.size += n;
                if (i == r.mod_text_) m.base = b;
                if (n != 0) m.ranges.push_back({b, n});
            }
        } else {
            m.base = o.u(r.core_base_);
            const std::uint64_t core = o.u(r.core_size_);
            m.size = core + o.u(r.init_size_);
            if (core != 0) m.ranges.push_back({m.base, core});
        }
        m.state = state == r.going_ ? "Unloading" : state == r.coming_ ? "Loading" : "Live";
        if (r.refcnt_ != nullptr)
            m.refs = static_cast<std::int64_t>(static_cast<std::int32_t>(o.u(r.refcnt_) - module_ref_base));
        try {
            users(m, o);
        } catch (Error& e) {
            e.add_context(fmt::format("module {} ({})", m.name, hex(address)));
            warn(e);
        }
        if (r.init_ != nullptr && r.exit_ != nullptr && o.u(r.init_) != 0 && o.u(r.exit_) == 0)
            m.used_by.emplace_back("[permanent]");
        if (want_symbols) symbols(m, o);
        out.modules.push_back(std::move(m));
        return step;
    }
};

ModuleListing LinuxModules::read(bool symbols, const ModuleWarn& warn) const {
    Read rd{*this, warn};
    rd.out.pointer_size = kernel_.pointer_size();
    std::uint64_t first = 0;
    try {
        first = Read::container(rd.pointer(head_), head_, list_->offset);
    } catch (Error& e) {
        e.add_context(fmt::format("the module list (modules at {})", hex(head_)));
        warn(e);
        return {};
    }
    detail::EntrySet seen("module", module_bytes_);
    detail::walk_list("the module list (modules)", first, detail::entries_bound(kernel_, module_bytes_), seen, warn,
                      [&](std::uint64_t address, std::uint64_t) { return rd.visit(address, symbols); });
    return std::move(rd.out);
}

}  // namespace

const LayoutRequest& linux_kernel::module_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

namespace detail {

bool linux_modules_accepts(const Kernel& kernel) {
    return kernel.machine().os == "linux";
}

std::unique_ptr<ModuleReader> linux_modules_create(const Kernel& kernel, const ModuleOptions& options) {
    if (!kernel.has_namelist())
        throw Error(ErrorKind::usage,
                    "listing the modules of a Linux dump needs the kernel's symbols (modules, and __start_BTF and "
                    "__stop_BTF for its type information): give -N System.map, the crashed kernel's /proc/kallsyms, "
                    "or its vmlinux");
    const Symbol* head = kernel.namelist().symbols().find("modules");
    if (head == nullptr) {
        Error e(ErrorKind::not_found, "modules: no such symbol (a kernel built without module support?)");
        e.with_path(kernel.namelist().path());
        throw e;
    }
    StructLayouts layouts = linux_dump_layouts(kernel, linux_kernel::module_layout_request(), options.layout_file,
                                               options.layout_dirs, {}, known_values());
    return std::make_unique<LinuxModules>(kernel, std::move(layouts), head->value);
}

}  // namespace detail

}  // namespace kvm
