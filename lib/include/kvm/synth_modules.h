// Loaded kernel modules planted in a synthetic crashed machine through
// structure layouts, as the kernel keeps them: FreeBSD's and DragonFly's
// struct linker_file on the TAILQ linker_files, NetBSD's struct module
// (with its modinfo_t and kobj) on the TAILQ module_list.  Tests then know every
// value the module readers should read back.
#pragma once

#include <kvm/layout.h>
#include <kvm/synth.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvm::synth {

struct LinkerFileSpec {
    std::string filename;
    std::string pathname;  // FreeBSD only: left out where the layouts have no pathname
    std::int32_t id = 0;
    std::int32_t refs = 1;
    std::int32_t userrefs = 0;
    std::uint64_t size = 0x1000;  // bytes at its load address (kernel heap; the kernel's own file, id 1: its image)
    bool linked = true;           // LINKER_FILE_LINKED: kldstat lists only linked files
};

struct PlantedLinkerFiles {
    std::uint64_t head = 0;               // &linker_files
    std::vector<std::uint64_t> file;      // each spec's struct linker_file, in order
    std::vector<std::uint64_t> address;   // each spec's load address
    std::vector<std::uint64_t> filename;  // where each filename string is
};

// A small system's files: the kernel (id 1), modules it loaded at boot and
// by kldload, one still being linked (not listed), ids with a gap where a
// file was unloaded.  DragonFly's are named as its modules are.
std::vector<LinkerFileSpec> default_linker_files(std::string_view os);

// Plants `files` on linker_files (defined when the machine has none) in
// the order given, each member where `layouts` put it.
PlantedLinkerFiles plant_linker_files(CrashedMachine& machine, const StructLayouts& layouts,
                                      const std::vector<LinkerFileSpec>& files);

struct NetbsdModuleSpec {
    std::string name;
    std::uint32_t module_class = 1;  // enum modclass: 1 misc, 2 vfs, 3 driver...
    std::uint32_t source = 2;        // enum modsrc: 0 builtin (no kobj), 1 boot, 2 filesys
    std::uint32_t refcnt = 0;        // 0xffffffff: a disabled built-in module
    std::vector<std::string> flags;  // MODFLG_* names
    std::string required;            // mi_required, "" for NULL
    std::uint64_t text_size = 0;     // bytes of text on the heap (a built-in module has none)
};

struct PlantedNetbsdModules {
    std::uint64_t head = 0;             // &module_list
    std::vector<std::uint64_t> module;  // each spec's struct module, in order
    std::vector<std::uint64_t> info;    // its modinfo_t
    std::vector<std::uint64_t> kobj;    // its struct kobj (0: built in)
    std::vector<std::uint64_t> text;    // its text address (0: built in)
};

// A small system's modules: built in (one disabled), loaded at boot and
// from the file system, auto-loaded, one that must be forced, with and
// without requirements.
std::vector<NetbsdModuleSpec> default_netbsd_modules();

// Plants `modules` on module_list (defined when the machine has none) in
// the order given, each member where `layouts` put it.
PlantedNetbsdModules plant_netbsd_modules(CrashedMachine& machine, const StructLayouts& layouts,
                                          const std::vector<NetbsdModuleSpec>& modules);

}  // namespace kvm::synth
