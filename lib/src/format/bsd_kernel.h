// What FreeBSD and DragonFly dumps need from the kernel's namelist: which
// of the two systems it is (a minidump v1 and a full ELF dump do not say),
// and, for full dumps, where the page tables are
// (freebsd-dragonfly-dump-format.md sections 2 and 4).
#pragma once

#include <kvm/arch.h>
#include <kvm/format.h>
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

// The page-table root of a full ELF dump of `state.os` on `state.arch`,
// read through physical memory at the namelist's addresses less
// `kernbase`; sets state.translator, state.pt_root and
// info["pt_root.source"].  Without a namelist, or when it lacks what the
// walk needs, the translator stays empty and info["pt_root.source"] says
// why (kernel reads then fail with that reason).
//   amd64 (FreeBSD):    KPML4phys
//   i386:               IdlePDPT (PAE: four page directories, which must be
//                       contiguous), else IdlePTD
//   amd64 (DragonFly):  dumppcb's pcb_cr3: its offset from the namelist's
//                       DWARF, else the release table, and in either case
//                       checked by walking to dumppcb itself
void find_full_dump_root(MachineState& state, const Namelist* namelist, const PhysReader& read_phys);

}  // namespace kvm::detail
