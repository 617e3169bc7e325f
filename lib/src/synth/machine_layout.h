// The kernel's virtual layout in a synthetic machine, shared by the
// machine (machine.cpp) and its FreeBSD/DragonFly dump writers
// (bsd_dumps.cpp).
#pragma once

#include <kvm/arch.h>
#include <kvm/synth.h>

#include <cstdint>

namespace kvm::synth::detail {

// Kernel virtual layout per OS and arch.  NetBSD's: the image above
// KERNBASE on large pages, data and bss on scattered 4 KiB pages, a heap,
// and on amd64 a direct map of all RAM on 1 GiB pages.  FreeBSD's and
// DragonFly's: the whole image at its link address less KERNBASE in
// physical memory (large pages on x86), as their loaders put it and as
// full dumps need it (the page-table root is read at &KPML4phys -
// kernbase); the heap in the kernel map; the direct map their minidump
// headers name.
struct VaLayout {
    std::uint64_t text, rodata, data, bss, bss_end;
    std::uint64_t heap, heap_size;
    std::uint64_t large_page;       // text and rodata pages
    std::uint64_t data_page;        // data and bss pages
    std::uint64_t direct_map;       // 0: none
    std::uint64_t direct_map_size;  // bytes of virtual space it spans
    std::uint64_t direct_map_phys;  // the physical address at direct_map
    std::uint64_t image_offset;     // 0: image pages scattered; else at pa = va - image_offset
};

VaLayout layout_for(const MachineSpec& spec, const ArchInfo& arch, std::uint64_t small);

}  // namespace kvm::synth::detail
