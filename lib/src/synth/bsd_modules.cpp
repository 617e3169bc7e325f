// FreeBSD's and DragonFly's loaded files planted through layouts
// (kvm/synth_modules.h).
#include <kvm/synth_modules.h>

#include "synth/planter.h"

namespace kvm::synth {

std::vector<LinkerFileSpec> default_linker_files(std::string_view os) {
    if (os == "dragonfly")
        return {
            {.filename = "kernel", .id = 1, .refs = 4, .size = 0x1a2b3c},
            {.filename = "ahci.ko", .id = 2, .refs = 1, .userrefs = 1, .size = 0x9000},
            {.filename = "tmpfs.ko", .id = 3, .refs = 2, .size = 0x5000},
            {.filename = "if_em.ko", .id = 4, .refs = 1, .size = 0x3000, .linked = false},
            {.filename = "nullfs.ko", .id = 6, .refs = 1, .userrefs = 1, .size = 0x2800},
        };
    return {
        {.filename = "kernel", .pathname = "/boot/kernel/kernel", .id = 1, .refs = 23, .size = 0x1f3e2d0},
        {.filename = "zfs.ko", .pathname = "/boot/kernel/zfs.ko", .id = 2, .refs = 1, .size = 0x5d598},
        {.filename = "cryptodev.ko", .pathname = "/boot/kernel/cryptodev.ko", .id = 3, .refs = 2, .size = 0x7178},
        {.filename = "if_em.ko",
         .pathname = "/boot/kernel/if_em.ko",
         .id = 4,
         .refs = 1,
         .size = 0x3000,
         .linked = false},
        {.filename = "accf_http.ko",
         .pathname = "/boot/modules/accf_http.ko",
         .id = 6,
         .refs = 1,
         .userrefs = 1,
         .size = 0x31a8},
    };
}

PlantedLinkerFiles plant_linker_files(CrashedMachine& machine, const StructLayouts& layouts,
                                      const std::vector<LinkerFileSpec>& files) {
    detail::Planter p(machine, layouts);
    const unsigned ptr = machine.arch().pointer_size;
    const std::uint64_t next = layouts.get("linker_file").member("link.tqe_next").offset;
    PlantedLinkerFiles out;
    // TAILQ_HEAD: tqh_first, then tqh_last (the address of the last link's tqe_next).
    out.head = p.symbol_or_define("linker_files", 'd', std::uint64_t{2} * ptr);
    std::uint64_t last = out.head;  // where the previous link points to the next file
    // The kernel's own file is its image, from its first function (FreeBSD's
    // btext; a NetBSD machine planted as another system has start).
    const auto image = [&] {
        try {
            return machine.symbol("btext");
        } catch (const Error&) {
            return machine.symbol("start");
        }
    };
    for (const LinkerFileSpec& f : files) {
        const std::uint64_t a = p.alloc("linker_file");
        // A module is on the heap.
        const std::uint64_t address = f.id == 1 ? image() : machine.kmem_alloc(f.size, 4096);
        out.file.push_back(a);
        out.address.push_back(address);
        out.filename.push_back(p.string(f.filename));
        p.set(a, "linker_file", "refs", static_cast<std::uint32_t>(f.refs));
        p.set(a, "linker_file", "userrefs", static_cast<std::uint32_t>(f.userrefs));
        if (f.linked) p.add_flag(a, "linker_file", "LINKER_FILE_LINKED");
        p.set(a, "linker_file", "filename", out.filename.back());
        if (!f.pathname.empty()) p.set(a, "linker_file", "pathname", p.string(f.pathname));
        p.set(a, "linker_file", "id", static_cast<std::uint32_t>(f.id));
        p.set(a, "linker_file", "address", address);
        p.set(a, "linker_file", "size", f.size);
        machine.write_pointer(last, a);
        machine.write_pointer(a + next + ptr, last);  // tqe_prev
        last = a + next;
    }
    machine.write_pointer(last, 0);
    machine.write_pointer(out.head + ptr, last);
    return out;
}

std::vector<NetbsdModuleSpec> default_netbsd_modules() {
    return {
        {.name = "ffs", .module_class = 2, .source = 0, .refcnt = 1},
        {.name = "compat_util", .module_class = 1, .source = 0, .refcnt = 0xffffffff},
        {.name = "nfs", .module_class = 2, .source = 1, .refcnt = 2, .text_size = 0x1f1c0},
        {.name = "compat_50",
         .module_class = 1,
         .source = 2,
         .flags = {"MODFLG_AUTO_LOADED"},
         .required = "compat_60,compat_util",
         .text_size = 0x5a38},
        {.name = "drmkms",
         .module_class = 3,
         .source = 2,
         .refcnt = 1,
         .flags = {"MODFLG_AUTO_LOADED", "MODFLG_MUST_FORCE"},
         .required = "agp",
         .text_size = 0x3c450},
    };
}

PlantedNetbsdModules plant_netbsd_modules(CrashedMachine& machine, const StructLayouts& layouts,
                                          const std::vector<NetbsdModuleSpec>& modules) {
    detail::Planter p(machine, layouts);
    const unsigned ptr = machine.arch().pointer_size;
    const std::uint64_t next = layouts.get("module").member("mod_chain.tqe_next").offset;
    PlantedNetbsdModules out;
    out.head = p.symbol_or_define("module_list", 'd', std::uint64_t{2} * ptr);
    std::uint64_t last = out.head;
    for (const NetbsdModuleSpec& s : modules) {
        const std::uint64_t a = p.alloc("module");
        const std::uint64_t info = p.alloc("modinfo");
        p.set(info, "modinfo", "mi_class", s.module_class);
        p.set(info, "modinfo", "mi_name", p.string(s.name));
        if (!s.required.empty()) p.set(info, "modinfo", "mi_required", p.string(s.required));
        std::uint64_t kobj = 0, text = 0;
        if (s.text_size != 0) {
            kobj = p.alloc("kobj");
            text = machine.kmem_alloc(s.text_size, 4096);
            p.set(kobj, "kobj", "ko_text_address", text);
            p.set(kobj, "kobj", "ko_text_size", s.text_size);
        }
        p.set(a, "module", "mod_refcnt", s.refcnt);
        for (const std::string& f : s.flags)
            p.add_flag(a, "module", f);
        p.set(a, "module", "mod_info", info);
        p.set(a, "module", "mod_kobj", kobj);
        p.set(a, "module", "mod_source", s.source);
        machine.write_pointer(last, a);
        machine.write_pointer(a + next + ptr, last);  // tqe_prev
        last = a + next;
        out.module.push_back(a);
        out.info.push_back(info);
        out.kobj.push_back(kobj);
        out.text.push_back(text);
    }
    machine.write_pointer(last, 0);
    machine.write_pointer(out.head + ptr, last);
    return out;
}

}  // namespace kvm::synth
