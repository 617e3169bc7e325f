// What FreeBSD and DragonFly dumps need from the kernel's namelist: which
// of the two systems it is, which a minidump v1 does not say
// (freebsd-dragonfly-dump-format.md section 4).
#pragma once

#include <kvm/namelist.h>

#include <optional>
#include <string>

namespace kvm::detail {

struct BsdOs {
    std::string os;      // "freebsd" or "dragonfly"
    std::string reason;  // what said so, for MachineState::info["os.source"]
};

// In order: the initial value of `ostype` ("FreeBSD", "DragonFly"); the
// kernel file's EI_OSABI (9 brands FreeBSD); symbols only DragonFly has
// (allprocs, allproc_hsize).  nullopt when none of them tells.
std::optional<BsdOs> bsd_os_of(const Namelist& namelist);

}  // namespace kvm::detail
