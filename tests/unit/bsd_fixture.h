// FreeBSD and DragonFly crashes for the unit tests: a synthetic machine, its
// kernel namelist and a dump of it opened as Kernel::open would, all in
// memory.
#pragma once

#include <kvm/elf.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/namelist.h>
#include <kvm/synth.h>

#include <memory>
#include <string>

namespace kvmtest {

// The machine's kernel file as a namelist (an ELF with its data).
inline std::shared_ptr<kvm::Namelist> namelist_of(const kvm::synth::CrashedMachine& m,
                                                  const std::string& path = "kernel") {
    auto file = std::make_shared<kvm::elf::File>(std::make_shared<kvm::MemorySource>(m.kernel_elf(), path));
    return std::make_shared<kvm::Namelist>(path, kvm::SymbolTable(file->symbols()), file);
}

inline kvm::Bytes minidump_of(const kvm::synth::CrashedMachine& m, const kvm::synth::MinidumpOptions& options = {}) {
    kvm::MemorySink out;
    m.write_minidump(out, options);
    return out.data();
}

inline kvm::Bytes full_dump_of(const kvm::synth::CrashedMachine& m) {
    kvm::MemorySink out;
    m.write_full_dump(out);
    return out.data();
}

// The dump probed with the namelist (when given), as Kernel::open does.
inline std::unique_ptr<kvm::Kernel> open_bsd_dump(kvm::Bytes dump, std::shared_ptr<const kvm::Namelist> namelist,
                                                  const std::string& name = "vmcore.0", bool allow_truncated = false) {
    auto source = std::make_shared<kvm::MemorySource>(std::move(dump), name);
    auto format = kvm::open_format(std::move(source), {.namelist = namelist.get(), .allow_truncated = allow_truncated});
    return std::make_unique<kvm::Kernel>(std::move(format), std::move(namelist));
}

}  // namespace kvmtest
