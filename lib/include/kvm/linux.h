// Linux kernel dumps: VMCOREINFO, the CPU notes of ELF and kdump cores, the
// machine they describe (paging scheme, page-table root, KASLR and
// phys_base) and the relocation of a link-time namelist to the dump's
// run-time addresses.
//
// The namespace is linux_kernel, not linux: GNU dialects of C++ predefine
// `linux` as a macro.
//
// Facts used (all from the kernel's documented dump interfaces):
//   - VMCOREINFO is text, one "KEY=VALUE" per line.  SYMBOL(x) and
//     KERNELOFFSET are hex without 0x; NUMBER(x), SIZE(x), OFFSET(x) and
//     LENGTH(x) are signed decimal.  NUMBER(phys_base) is negative with
//     most KASLR placements.
//   - x86_64 maps the kernel image at __START_KERNEL_map
//     (0xffffffff80000000): paddr = vaddr - 0xffffffff80000000 + phys_base,
//     for KERNEL_IMAGE_SIZE bytes (NUMBER(KERNEL_IMAGE_SIZE); a kernel that
//     does not export it uses 1 GiB under KASLR, 512 MiB otherwise).  The
//     page-table root is init_top_pgt (swapper_pg_dir on older kernels),
//     found through that mapping.
//   - 5-level paging: NUMBER(pgtable_l5_enabled)=1, or CR4.LA57 (bit 12).
//   - NT_PRSTATUS (type 1, "CORE"): pr_pid at 32 and pr_reg at 112 (27
//     8-byte registers, rip 16th, rsp 19th counting from 0) on x86_64.
//   - QEMU's "QEMU" note (type 0) is QEMUCPUState: version and size (u32
//     each), 18 8-byte registers, 10 24-byte segment descriptors, then
//     cr[0..4] at offset 392; 432 bytes or more.
#pragma once

#include <kvm/arch.h>
#include <kvm/elf.h>
#include <kvm/format.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvm {
class Namelist;
}

namespace kvm::linux_kernel {

// ---------------------------------------------------------------- VMCOREINFO

// Largest VMCOREINFO accepted (the kernel keeps it in one page).
inline constexpr std::uint64_t max_vmcoreinfo_bytes = 1u << 20;

class VmcoreInfo {
public:
    VmcoreInfo() = default;
    // Parses the text up to its first NUL.  Lines without '=' and empty
    // lines are skipped; of a key given twice the first value counts.
    // Values are checked only when asked for.
    static VmcoreInfo parse(std::string_view text);

    const std::string& text() const noexcept { return text_; }
    const std::map<std::string, std::string, std::less<>>& entries() const noexcept { return entries_; }
    std::optional<std::string_view> get(std::string_view key) const;

    // Typed lookups: nullopt when the key is absent; ErrorKind::corrupt
    // "VMCOREINFO: SYMBOL(x)=zz is not a hex number" when it is malformed.
    std::optional<std::uint64_t> symbol(std::string_view name) const;  // SYMBOL(name), hex
    std::optional<std::int64_t> number(std::string_view name) const;   // NUMBER(name), decimal
    std::optional<std::int64_t> size(std::string_view name) const;     // SIZE(name)
    std::optional<std::int64_t> offset(std::string_view name) const;   // OFFSET(name)
    std::optional<std::int64_t> length(std::string_view name) const;   // LENGTH(name)
    // NUMBER(name) as arm64 writes its own: "0x" and hex digits, else
    // decimal; "VMCOREINFO: NUMBER(x)=zz is not a number" when neither.
    std::optional<std::uint64_t> unsigned_number(std::string_view name) const;
    std::optional<std::uint64_t> kernel_offset() const;  // KERNELOFFSET, hex
    std::optional<std::int64_t> phys_base() const { return number("phys_base"); }
    std::optional<std::uint64_t> page_size() const;  // PAGESIZE, decimal
    std::optional<std::string_view> osrelease() const { return get("OSRELEASE"); }

private:
    std::optional<std::uint64_t> hex_value(const std::string& key) const;
    std::optional<std::int64_t> decimal_value(const std::string& key) const;

    std::string text_;
    std::map<std::string, std::string, std::less<>> entries_;
};

// ---------------------------------------------------------------- notes

inline constexpr std::uint32_t nt_prstatus = 1;
inline constexpr std::uint32_t nt_prpsinfo = 3;
inline constexpr std::uint32_t nt_taskstruct = 4;  // /proc/kcore only

// One CPU as the notes describe it.  QEMU writes one NT_PRSTATUS per vCPU
// with pr_pid = vCPU index + 1, and one QEMU note per vCPU in the same order.
struct CpuState {
    std::optional<std::uint32_t> pid;  // NT_PRSTATUS pr_pid
    std::optional<std::uint64_t> pc;   // NT_PRSTATUS rip
    std::optional<std::uint64_t> sp;   // NT_PRSTATUS rsp
    std::optional<std::uint64_t> cr0;  // QEMU note
    std::optional<std::uint64_t> cr3;
    std::optional<std::uint64_t> cr4;
};

struct CoreNotes {
    std::optional<VmcoreInfo> vmcoreinfo;
    std::vector<CpuState> cpus;
    bool qemu = false;   // QEMU CPU notes seen
    bool kcore = false;  // /proc/kcore's NT_TASKSTRUCT seen
};

// Decodes the notes of an ELF or kdump core of `arch`.  Notes of other
// owners and types are skipped; a known note that is too short throws
// ErrorKind::corrupt naming it.
CoreNotes decode_core_notes(std::span<const elf::Note> notes, const ArchInfo& arch);

// Formats that hold core notes (ELF cores, kdump files) implement this.
class HasCoreNotes {
public:
    virtual ~HasCoreNotes() = default;
    virtual const CoreNotes& core_notes() const = 0;
};
// The core notes of a format, or nullptr when it has none (NetBSD dumps).
const CoreNotes* core_notes(const Format& format);

// ---------------------------------------------------------------- x86_64

namespace x86_64 {
inline constexpr std::uint64_t start_kernel_map = 0xffffffff80000000;     // __START_KERNEL_map
inline constexpr std::uint64_t default_kernel_image_size = 512ull << 20;  // KERNEL_IMAGE_SIZE
inline constexpr std::uint64_t kaslr_kernel_image_size = 1ull << 30;      // with RANDOMIZE_BASE
inline constexpr std::uint64_t cr4_la57 = 1ull << 12;
inline constexpr std::uint64_t entry_address_bits = 0x000ffffffffff000;  // of a page-table entry or CR3
}  // namespace x86_64

// ---------------------------------------------------------------- arm64

namespace aarch64 {
inline constexpr std::int64_t min_va_bits = 36;  // VA_BITS Linux configures: 36 (16 KiB pages) ...
inline constexpr std::int64_t max_va_bits = 52;  // ... to 52
inline constexpr std::uint64_t phys_limit = std::uint64_t{1} << 52;
}  // namespace aarch64

// ---------------------------------------------------------------- machine

// What a Linux or QEMU core says about the machine:
//   os          "linux" with VMCOREINFO (or for /proc/kcore), else empty
//   translator  "amd64" or "amd64-la57"; empty when no root is known
//   pt_root     init_top_pgt/swapper_pg_dir through the kernel-image
//               mapping, else the first CPU's CR3
//   linear      the kernel-image window (needs NUMBER(phys_base)), only
//               when there is no root: with page tables they decide
//   encryption_mask  NUMBER(sme_mask), the AMD SME C-bit of every entry
//   info        every VMCOREINFO entry, plus "pt_root.source" and
//               "paging.source" saying where those came from
// arm64 (arm64_machine in linux.cpp says which VMCOREINFO entries and why):
//   translator  "arm64" with granule (PAGESIZE) and va_bits (64 - TCR_EL1_T1SZ,
//               else VA_BITS); pt_root swapper_pg_dir less kimage_voffset
//   linear      the linear map from PHYS_OFFSET, only when there is no root
// Throws unsupported for arches other than amd64 and arm64, corrupt for
// malformed VMCOREINFO values that are needed and for values that
// contradict one another:
//   "VMCOREINFO: NUMBER(TCR_EL1_T1SZ)=0x10 (48-bit addresses) contradicts NUMBER(VA_BITS)=39"
//   "VMCOREINFO: NUMBER(VA_BITS)=57 is not an arm64 VA size (36 to 52 bits)"
//   "VMCOREINFO: PAGESIZE=8192 is not an arm64 translation granule (4096, 16384, 65536)"
//   "VMCOREINFO: NUMBER(KERNELPACMASK)=0xff does not cover bits 63..48 of 48-bit addresses"
MachineState machine_state(const ArchInfo& arch, const CoreNotes& notes);

// ---------------------------------------------------------------- namelists

// Moves a namelist's symbols to the run-time addresses of the dumped
// kernel.  The namelist is compared with VMCOREINFO's SYMBOL() entries of
// _stext, init_uts_ns, swapper_pg_dir, init_top_pgt, node_online_map and
// vmap_area_list: when they agree as they are (kallsyms, or a kernel
// without KASLR), nothing moves; when they agree after adding KERNELOFFSET
// (System.map, vmlinux), the symbols of the kernel image (link-time
// addresses in [__START_KERNEL_map, + KERNEL_IMAGE_SIZE)) move by it, and
// per-cpu offsets and absolute values stay.  With none of those symbols in
// the namelist, an ELF kernel or a symbol list without module symbols is
// taken as link-time.  Returns the delta applied.  Throws usage when the
// namelist belongs to another kernel: "<path> does not match the dump:
// _stext is 0x... in the namelist, 0x... in VMCOREINFO (KERNELOFFSET 0x...)".
std::int64_t relocate_namelist(Namelist& namelist, const MachineState& machine, const VmcoreInfo& info);

// What relocate_namelist would do, without doing it: symbols with values
// in [begin, end) move by delta; delta 0 when nothing moves.  Same checks
// and errors.  (A caller holding a shared namelist copies it only when
// there is something to move.)
struct NamelistRelocation {
    std::int64_t delta = 0;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};
NamelistRelocation namelist_relocation(const Namelist& namelist, const MachineState& machine, const VmcoreInfo& info);

// The kernel image as a linear range, [_text, _end) of a run-time namelist
// at phys_base: a shortcut past the page-table walk for a dump that has
// page tables.  nullopt when the dump is not a Linux x86_64 one with
// NUMBER(phys_base) and page tables, when the namelist lacks _text or _end,
// or when they do not lie in order inside the KERNEL_IMAGE_SIZE window.
// (The window itself is larger than the image: past _end the tables map
// modules or nothing, so only [_text, _end) may be shortcut.)
std::optional<LinearRange> image_range(const Format& format, const Namelist& namelist);

}  // namespace kvm::linux_kernel
