// Linux modules planted in the synthetic machine of linux_fixture.h through
// structure layouts: struct modules on the `modules` list, their
// module_use entries, and each one's mod_kallsyms (Elf64_Sym table, string
// table, kallsyms letters), each member where the layouts put it.  Tests
// then know every field the module reader should read back, and the fuzzer
// has a machine whose reads reach every member.
//
// The layouts are those of a real kernel:
// tests/unit/linux-6.1-amd64-modules.json is what `kvmmod -N System.map -M
// vmcore.kdump --print-layout` prints for the real dump of tests/realdump.
#pragma once

#include <kvm/bytes.h>
#include <kvm/layout.h>

#include "linux_fixture.h"

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace kvmtest {

inline std::string linux_module_layout_path() {
    return std::string(KVMKIT_SOURCE_DIR) + "/tests/unit/linux-6.1-amd64-modules.json";
}

struct LinuxModuleSymbol {
    std::string name;
    std::uint64_t offset = 0;  // from the module's base
    std::uint64_t size = 0;
    char type = 't';
};

struct LinuxModule {
    std::string name;
    std::uint64_t state = 0;  // MODULE_STATE_*
    std::uint64_t core_size = 0x2000;
    std::uint64_t init_size = 0;
    std::uint32_t refcnt = 1;          // MODULE_REF_BASE + references
    std::vector<std::string> used_by;  // the modules that use it (planted too), in source_list order
    bool permanent = false;            // init and no exit
    std::vector<LinuxModuleSymbol> symbols;
};

struct PlantedModules {
    std::uint64_t head = 0;                       // &modules
    std::map<std::string, std::uint64_t> module;  // name -> struct module
    std::map<std::string, std::uint64_t> base;    // name -> core base
    std::map<std::string, std::uint64_t> kallsyms;
    std::map<std::string, std::vector<std::uint64_t>> uses;  // name -> its module_use entries
};

// Three modules as a small system has them: the newest first; virtio used
// by two others, one permanent, one still loading, one unformed (not listed).
inline std::vector<LinuxModule> default_linux_modules() {
    return {
        {.name = "virtio_blk",
         .core_size = 0x7000,
         .symbols = {{"virtblk_probe", 0x10, 0x200, 't'}, {"virtblk_remove", 0x210, 0x80, 't'}}},
        {.name = "half_formed", .state = 3, .core_size = 0x1000},
        {.name = "virtio_pci",
         .state = 1,
         .core_size = 0x6000,
         .init_size = 0x1000,
         .refcnt = 2,
         .symbols = {{"vp_probe", 0x0, 0x40, 't'}, {"vp_ops", 0x3000, 0x100, 'd'}}},
        {.name = "virtio",
         .core_size = 0x5000,
         .refcnt = 3,
         .used_by = {"virtio_blk", "virtio_pci"},
         .permanent = true,
         .symbols = {{"register_virtio_driver", 0x20, 0x30, 'T'}, {"virtio_bus", 0x1000, 0x90, 'd'}}},
    };
}

// Plants `modules` in `m` through `layouts`, on a `modules` list head in
// the image, in the order given.
inline PlantedModules plant_modules(LinuxMachine& m, const kvm::StructLayouts& layouts,
                                    const std::vector<LinuxModule>& modules) {
    const kvm::StructLayout& ms = layouts.get("module");
    const kvm::StructLayout& us = layouts.get("module_use");
    const kvm::StructLayout& ks = layouts.get("mod_kallsyms");
    const auto put = [&](std::uint64_t object, const kvm::StructLayout& s, const char* member, std::uint64_t value) {
        const kvm::MemberLayout& mem = s.member(member);
        m.write_uint(object + mem.offset, value, static_cast<unsigned>(mem.size));
    };
    const auto offset = [](const kvm::StructLayout& s, const char* member) { return s.member(member).offset; };

    PlantedModules planted;
    planted.head = m.define_variable("modules", 'd', 16);
    for (const LinuxModule& mod : modules) {
        const std::uint64_t a = m.kmalloc(ms.size);
        planted.module[mod.name] = a;
        planted.base[mod.name] = m.kmalloc(mod.core_size);
    }
    std::uint64_t previous = planted.head;
    for (const LinuxModule& mod : modules) {
        const std::uint64_t a = planted.module.at(mod.name);
        const std::uint64_t base = planted.base.at(mod.name);
        m.write_uint(previous, a + offset(ms, "list.next"), 8);
        previous = a + offset(ms, "list.next");
        put(a, ms, "state", mod.state);
        kvm::Bytes name(ms.member("name").size);
        std::memcpy(name.data(), mod.name.data(), std::min<std::size_t>(mod.name.size(), name.size() - 1));
        m.write(a + offset(ms, "name"), name);
        // Before 6.4; the regions of 6.4 onwards are the caller's to plant.
        if (ms.find("core_layout.base") != nullptr) {
            put(a, ms, "core_layout.base", base);
            put(a, ms, "core_layout.size", mod.core_size);
            put(a, ms, "init_layout.size", mod.init_size);
        }
        put(a, ms, "refcnt.counter", mod.refcnt);
        put(a, ms, "init", mod.permanent ? 0xffffffffc0000100 : 0);
        put(a, ms, "exit", 0);
        // source_list: one module_use per user, in order.
        const std::uint64_t head = a + offset(ms, "source_list.next");
        std::uint64_t link = head;
        for (const std::string& user : mod.used_by) {
            const std::uint64_t use = m.kmalloc(us.size);
            planted.uses[mod.name].push_back(use);
            put(use, us, "source", planted.module.at(user));
            m.write_uint(link, use + offset(us, "source_list.next"), 8);
            link = use + offset(us, "source_list.next");
        }
        m.write_uint(link, head, 8);
        // mod_kallsyms: the null symbol first, as the kernel keeps it.
        const std::uint64_t count = mod.symbols.size() + 1;
        const std::uint64_t symtab = m.kmalloc(count * 24);
        const std::uint64_t typetab = m.kmalloc(count);
        std::string strings(1, '\0');
        std::vector<std::uint32_t> names;
        for (const LinuxModuleSymbol& s : mod.symbols) {
            names.push_back(static_cast<std::uint32_t>(strings.size()));
            strings += s.name + '\0';
        }
        const std::uint64_t strtab = m.kmalloc(strings.size());
        m.write(strtab, kvm::to_bytes(strings));
        kvm::Bytes table(count * 24);
        kvm::Bytes types(count);
        for (std::size_t i = 0; i < mod.symbols.size(); ++i) {
            std::byte* e = table.data() + (i + 1) * 24;
            kvm::store_uint(e, names[i], 4, kvm::ByteOrder::little);
            const bool code = mod.symbols[i].type == 't' || mod.symbols[i].type == 'T';
            e[4] = static_cast<std::byte>(code ? 0x02 : 0x01);  // STT_FUNC, STT_OBJECT
            kvm::store_uint(e + 8, base + mod.symbols[i].offset, 8, kvm::ByteOrder::little);
            kvm::store_uint(e + 16, mod.symbols[i].size, 8, kvm::ByteOrder::little);
            types[i + 1] = static_cast<std::byte>(mod.symbols[i].type);
        }
        m.write(symtab, table);
        m.write(typetab, types);
        const std::uint64_t kallsyms = m.kmalloc(ks.size);
        planted.kallsyms[mod.name] = kallsyms;
        put(kallsyms, ks, "symtab", symtab);
        put(kallsyms, ks, "num_symtab", count);
        put(kallsyms, ks, "strtab", strtab);
        put(kallsyms, ks, "typetab", typetab);
        put(a, ms, "kallsyms", kallsyms);
    }
    m.write_uint(previous, planted.head, 8);
    return planted;
}

}  // namespace kvmtest
