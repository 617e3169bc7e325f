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
    out.head = p.symbol_or_define("linker_files", 'd', 2 * ptr);
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

}  // namespace kvm::synth
