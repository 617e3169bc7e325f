// Loaded modules of a dead NetBSD kernel as modstat lists them: the TAILQ
// `module_list` of struct module (sys/sys/module.h), in list order, each
// with its modinfo_t (name, class, the modules it requires) and, for a
// module that was loaded rather than built in, its struct kobj, whose text
// segment is modstat's ADDRESS and SIZE (kobj_stat); a built-in module has
// no kobj and shows 0 for both.  CLASS and SOURCE are named as modstat
// names them, by the enum's value; REFS is mod_refcnt as a signed number
// (a disabled built-in module holds -1); FLAG is a for MODFLG_AUTO_LOADED,
// f for MODFLG_MUST_FORCE, else -.
//
// Layouts come as the NetBSD process walker gets its own: a file given,
// the namelist's DWARF, else the shipped file of the dumped release.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/modules.h>

#include "procs/dead_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm {

namespace {

using detail::member;
using Object = detail::KernelObject;

constexpr std::size_t max_mod_name = 32;                    // MAXMODNAME, with its NUL
constexpr std::size_t max_required = std::size_t{32} * 10;  // MAXMODNAME * MAXMODDEPS: a module's list of requirements

// modstat's names of enum modclass and enum modsrc, by value.
constexpr std::array<std::string_view, 7> class_names = {"any", "misc", "vfs", "driver", "exec", "secmodel", "bufq"};
constexpr std::array<std::string_view, 3> source_names = {"builtin", "boot", "filesys"};

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"module",
         {
             member("mod_refcnt", "references held (u_int; -1 for a disabled built-in module): REFS"),
             member("mod_flags", "MODFLG_* flags: FLAG", false),
             member("mod_info", "its modinfo_t (name, class, requirements)"),
             member("mod_kobj", "its loaded object (struct kobj *); NULL for a built-in module"),
             member("mod_chain.tqe_next", "next module on module_list (TAILQ_ENTRY mod_chain)"),
             member("mod_source", "enum modsrc: builtin, boot or filesys: SOURCE"),
         }},
        {"modinfo",
         {
             member("mi_class", "enum modclass: CLASS"),
             member("mi_name", "the module's name (const char *): NAME"),
             member("mi_required", "the modules it requires, separated by commas (const char *): REQUIRES"),
         }},
        {"kobj",
         {
             member("ko_text_address", "where its text segment is: ADDRESS"),
             member("ko_text_size", "bytes of its text segment: SIZE"),
         }},
    };
    r.flags = {"MODFLG_MUST_FORCE", "MODFLG_AUTO_LOADED"};
    return r;
}

// sys/sys/module.h since the flags came (NetBSD 7): for a kernel whose
// DWARF gives the structures and whose release has no shipped file.
const std::vector<NamedValue>& known_flags() {
    static const std::vector<NamedValue> flags = {
        {"MODFLG_MUST_FORCE", 0x1, "module.mod_flags", "loading it needs modload -f: FLAG f"},
        {"MODFLG_AUTO_LOADED", 0x2, "module.mod_flags", "auto-loaded: FLAG a"}};
    return flags;
}

std::uint64_t extent(const StructLayout& s) {
    std::uint64_t end = 0;
    for (const auto& m : s.members)
        end = std::max(end, m.offset + m.size);
    return std::min(end, s.size);
}

std::string named(std::uint64_t value, std::span<const std::string_view> names) {
    return value < names.size() ? std::string(names[value]) : fmt::format("{}", value);
}

class NetbsdModules final : public ModuleReader {
public:
    NetbsdModules(const Kernel& kernel, StructLayouts layouts, std::uint64_t head)
        : kernel_(kernel), layouts_(std::move(layouts)), head_(head) {
        const StructLayout& mod = layouts_.get("module");
        const StructLayout& info = layouts_.get("modinfo");
        const StructLayout& kobj = layouts_.get("kobj");
        refcnt_ = &mod.member("mod_refcnt");
        flags_ = mod.find("mod_flags");
        info_ = &mod.member("mod_info");
        kobj_ = &mod.member("mod_kobj");
        next_ = &mod.member("mod_chain.tqe_next");
        source_ = &mod.member("mod_source");
        class_ = &info.member("mi_class");
        name_ = &info.member("mi_name");
        required_ = &info.member("mi_required");
        text_ = &kobj.member("ko_text_address");
        text_size_ = &kobj.member("ko_text_size");
        must_force_ = layouts_.require_flag("MODFLG_MUST_FORCE");
        auto_loaded_ = layouts_.require_flag("MODFLG_AUTO_LOADED");
        const unsigned ptr = kernel.pointer_size();
        for (const MemberLayout* p : {info_, kobj_, next_, name_, required_, text_})
            if (p->size != ptr)
                throw_corrupt(
                    fmt::format("{}: {} is {} bytes, not a {}-byte pointer", layouts_.source, p->name, p->size, ptr));
        module_bytes_ = extent(mod);
        info_bytes_ = extent(info);
        kobj_bytes_ = extent(kobj);
    }

    std::string_view name() const override { return "netbsd"; }
    const StructLayouts& layouts() const override { return layouts_; }

    ModuleListing read(bool /*symbols*/, const ModuleWarn& warn) const override {
        ModuleListing out;
        out.table = ModuleTable::modstat;
        out.pointer_size = kernel_.pointer_size();
        detail::PageCache memory(kernel_, 64);
        const std::optional<std::uint64_t> first = detail::read_list_head(
            memory, kernel_, head_, fmt::format("the module list (module_list at {})", hex(head_)), warn);
        if (!first) return out;
        detail::EntrySet seen("module", module_bytes_);
        detail::walk_list("the module list (module_list)", *first, detail::entries_bound(kernel_, module_bytes_), seen,
                          warn, [&](std::uint64_t address, std::uint64_t) {
                              const Object o(memory, kernel_.order(), module_bytes_, address);
                              out.modules.push_back(module(memory, o, address, warn));
                              return detail::ListStep{o.u(next_), true};
                          });
        return out;
    }

private:
    // One module; what cannot be read of its modinfo or kobj is left out
    // with a warning, and the list goes on.
    ModuleInfo module(detail::PageCache& memory, const Object& o, std::uint64_t address, const ModuleWarn& warn) const {
        ModuleInfo m;
        m.address = address;
        m.refs = static_cast<std::int32_t>(static_cast<std::uint32_t>(o.u(refcnt_)));
        m.state = named(o.u(source_), source_names);
        const std::uint64_t flags = o.u(flags_);
        if ((flags & auto_loaded_) != 0) m.flags += 'a';
        if ((flags & must_force_) != 0) m.flags += 'f';
        const auto problem = [&](Error& e, std::string_view what, std::uint64_t at) {
            e.add_context(
                fmt::format("module {} ({}): {} at {}", m.name.empty() ? "?" : m.name, hex(address), what, hex(at)));
            warn(e);
        };
        const std::uint64_t info = o.u(info_);
        try {
            const Object i(memory, kernel_.order(), info_bytes_, info);
            m.module_class = named(i.u(class_), class_names);
            m.name = memory.read_string(i.u(name_), max_mod_name);
            if (const std::uint64_t required = i.u(required_); required != 0) {
                try {
                    const std::string list = memory.read_string(required, max_required);
                    for (std::size_t start = 0; start < list.size();) {
                        const std::size_t comma = std::min(list.find(',', start), list.size());
                        if (comma > start) m.required.push_back(list.substr(start, comma - start));
                        start = comma + 1;
                    }
                } catch (Error& e) {
                    problem(e, "mi_required", required);
                }
            }
        } catch (Error& e) {
            problem(e, "mod_info", info);
        }
        if (const std::uint64_t kobj = o.u(kobj_); kobj != 0) {
            try {
                const Object k(memory, kernel_.order(), kobj_bytes_, kobj);
                m.base = k.u(text_);
                m.size = k.u(text_size_);
                if (m.size != 0) m.ranges.push_back({m.base, m.size});
            } catch (Error& e) {
                problem(e, "mod_kobj", kobj);
            }
        }
        return m;
    }

    const Kernel& kernel_;
    StructLayouts layouts_;
    std::uint64_t head_;  // &module_list (a TAILQ_HEAD: tqh_first first)
    const MemberLayout *refcnt_, *flags_, *info_, *kobj_, *next_, *source_, *class_, *name_, *required_, *text_,
        *text_size_;
    std::uint64_t must_force_ = 0, auto_loaded_ = 0;
    std::uint64_t module_bytes_ = 0, info_bytes_ = 0, kobj_bytes_ = 0;
};

}  // namespace

const LayoutRequest& netbsd::module_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

namespace detail {

bool netbsd_modules_accepts(const Kernel& kernel) {
    return kernel.machine().os == "netbsd";
}

std::unique_ptr<ModuleReader> netbsd_modules_create(const Kernel& kernel, const ModuleOptions& options) {
    const Namelist& namelist = kernel.namelist();  // usage error without -N
    require_symbols(namelist, {"_module_list"});
    StructLayouts layouts = bsd_dump_layouts(
        kernel, "NetBSD", netbsd::module_layout_request(),
        {.os = "netbsd", .file = options.layout_file, .dirs = options.layout_dirs, .known_flags = known_flags()});
    return std::make_unique<NetbsdModules>(kernel, std::move(layouts), kernel.symbol_value("_module_list"));
}

}  // namespace detail

}  // namespace kvm
