// Linux dumps: VMCOREINFO, core notes, the machine they describe and
// namelist relocation.  Facts and layouts: kvm/linux.h.
#include <kvm/error.h>
#include <kvm/linux.h>
#include <kvm/namelist.h>

#include "format/linux_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace kvm::linux_kernel {

namespace {

// NT_PRSTATUS of one arch: where pr_pid and the registers are.
struct PrstatusLayout {
    std::string_view arch;
    std::uint64_t size;         // sizeof(struct elf_prstatus)
    std::uint64_t pid_offset;   // pr_pid
    std::uint64_t regs_offset;  // pr_reg
    std::uint64_t reg_width;
    std::uint64_t pc_index;  // in pr_reg
    std::uint64_t sp_index;
};
constexpr PrstatusLayout prstatus_layouts[] = {
    {.arch = "amd64",
     .size = 336,
     .pid_offset = 32,
     .regs_offset = 112,
     .reg_width = 8,
     .pc_index = 16,
     .sp_index = 19},
    {.arch = "i386", .size = 144, .pid_offset = 24, .regs_offset = 72, .reg_width = 4, .pc_index = 12, .sp_index = 15},
    // arm64: the x86_64 header, then x0..x30, sp, pc, pstate; pr_fpvalid and padding.
    {.arch = "arm64",
     .size = 392,
     .pid_offset = 32,
     .regs_offset = 112,
     .reg_width = 8,
     .pc_index = 32,
     .sp_index = 31},
};

// QEMUCPUState: cr[0..4] after 8 bytes of version/size, 18 registers and 10
// segment descriptors of 24 bytes.
constexpr std::uint64_t qemu_cr_offset = std::uint64_t{8} + std::uint64_t{18} * 8 + std::uint64_t{10} * 24;
constexpr std::uint64_t qemu_min_size = qemu_cr_offset + std::uint64_t{5} * 8;

// Namelist symbols whose VMCOREINFO SYMBOL() entry is their address
// (SYMBOL(mem_section) is not: with SPARSEMEM_EXTREME it is the pointer's
// value).
constexpr std::string_view anchor_symbols[] = {"_stext",       "init_uts_ns",     "swapper_pg_dir",
                                               "init_top_pgt", "node_online_map", "vmap_area_list"};

std::optional<std::uint64_t> parse_hex(std::string_view s) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::int64_t> parse_decimal(std::string_view s) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

// ---------------------------------------------------------------- VmcoreInfo

VmcoreInfo VmcoreInfo::parse(std::string_view text) {
    VmcoreInfo info;
    const std::size_t nul = text.find('\0');
    if (nul != std::string_view::npos) text = text.substr(0, nul);
    info.text_ = std::string(text);
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        info.entries_.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    }
    return info;
}

std::optional<std::string_view> VmcoreInfo::get(std::string_view key) const {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return std::string_view(it->second);
}

std::optional<std::uint64_t> VmcoreInfo::hex_value(const std::string& key) const {
    const auto value = get(key);
    if (!value) return std::nullopt;
    const auto v = parse_hex(*value);
    if (!v) throw_corrupt(fmt::format("VMCOREINFO: {}={} is not a hex number", key, *value));
    return v;
}

std::optional<std::int64_t> VmcoreInfo::decimal_value(const std::string& key) const {
    const auto value = get(key);
    if (!value) return std::nullopt;
    const auto v = parse_decimal(*value);
    if (!v) throw_corrupt(fmt::format("VMCOREINFO: {}={} is not a decimal number", key, *value));
    return v;
}

std::optional<std::uint64_t> VmcoreInfo::symbol(std::string_view name) const {
    return hex_value(fmt::format("SYMBOL({})", name));
}
std::optional<std::int64_t> VmcoreInfo::number(std::string_view name) const {
    return decimal_value(fmt::format("NUMBER({})", name));
}
std::optional<std::int64_t> VmcoreInfo::size(std::string_view name) const {
    return decimal_value(fmt::format("SIZE({})", name));
}
std::optional<std::int64_t> VmcoreInfo::offset(std::string_view name) const {
    return decimal_value(fmt::format("OFFSET({})", name));
}
std::optional<std::uint64_t> VmcoreInfo::unsigned_number(std::string_view name) const {
    const std::string key = fmt::format("NUMBER({})", name);
    const auto value = get(key);
    if (!value) return std::nullopt;
    const bool hex_digits = value->size() > 2 && (*value)[0] == '0' && ((*value)[1] == 'x' || (*value)[1] == 'X');
    std::uint64_t v = 0;
    const char* first = value->data() + (hex_digits ? 2 : 0);
    const char* last = value->data() + value->size();
    const auto [end, ec] = std::from_chars(first, last, v, hex_digits ? 16 : 10);
    if (first == last || ec != std::errc{} || end != last)
        throw_corrupt(fmt::format("VMCOREINFO: {}={} is not a number", key, *value));
    return v;
}
std::optional<std::int64_t> VmcoreInfo::length(std::string_view name) const {
    return decimal_value(fmt::format("LENGTH({})", name));
}
std::optional<std::uint64_t> VmcoreInfo::kernel_offset() const {
    return hex_value("KERNELOFFSET");
}

std::optional<std::uint64_t> VmcoreInfo::page_size() const {
    const auto v = decimal_value("PAGESIZE");
    if (!v) return std::nullopt;
    if (*v <= 0 || (*v & (*v - 1)) != 0)
        throw_corrupt(fmt::format("VMCOREINFO: PAGESIZE={} is not a power of two", *v));
    return static_cast<std::uint64_t>(*v);
}

// ---------------------------------------------------------------- notes

CoreNotes decode_core_notes(std::span<const elf::Note> notes, const ArchInfo& arch) {
    const PrstatusLayout* prstatus = nullptr;
    for (const PrstatusLayout& l : prstatus_layouts)
        if (l.arch == arch.name) prstatus = &l;

    CoreNotes out;
    std::size_t prstatus_seen = 0;
    std::size_t qemu_seen = 0;
    const auto cpu = [&out](std::size_t index) -> CpuState& {
        if (out.cpus.size() <= index) out.cpus.resize(index + 1);
        return out.cpus[index];
    };
    for (std::size_t i = 0; i < notes.size(); ++i) {
        const elf::Note& n = notes[i];
        if (n.name == "VMCOREINFO") {
            if (out.vmcoreinfo) continue;  // the first one counts
            if (n.desc.size() > max_vmcoreinfo_bytes)
                throw_corrupt(fmt::format("VMCOREINFO note {} is {:#x} bytes, more than the {:#x} accepted", i,
                                          n.desc.size(), max_vmcoreinfo_bytes));
            out.vmcoreinfo = VmcoreInfo::parse(as_chars(n.desc));
        } else if (n.name == "CORE" && n.type == nt_prstatus && prstatus != nullptr) {
            if (n.desc.size() < prstatus->size)
                throw_corrupt(fmt::format("NT_PRSTATUS note {} is {} bytes; an {} one is {}", i, n.desc.size(),
                                          arch.name, prstatus->size));
            CpuState& c = cpu(prstatus_seen++);
            const std::byte* d = n.desc.data();
            c.pid = load32(d + prstatus->pid_offset, arch.order);
            c.pc = load_uint(d + prstatus->regs_offset + prstatus->pc_index * prstatus->reg_width, prstatus->reg_width,
                             arch.order);
            c.sp = load_uint(d + prstatus->regs_offset + prstatus->sp_index * prstatus->reg_width, prstatus->reg_width,
                             arch.order);
        } else if (n.name == "CORE" && n.type == nt_taskstruct) {
            out.kcore = true;
        } else if (n.name == "QEMU" && n.type == 0) {
            out.qemu = true;
            if (n.desc.size() < qemu_min_size)
                throw_corrupt(fmt::format("QEMU CPU note {} is {} bytes, fewer than the {} of QEMUCPUState", i,
                                          n.desc.size(), qemu_min_size));
            CpuState& c = cpu(qemu_seen++);
            const std::byte* cr = n.desc.data() + qemu_cr_offset;
            c.cr0 = load64(cr, arch.order);
            c.cr3 = load64(cr + std::size_t{3} * 8, arch.order);
            c.cr4 = load64(cr + std::size_t{4} * 8, arch.order);
        }
    }
    return out;
}

const CoreNotes* core_notes(const Format& format) {
    const auto* holder = dynamic_cast<const HasCoreNotes*>(&format);
    return holder != nullptr ? &holder->core_notes() : nullptr;
}

// ---------------------------------------------------------------- machine

namespace {

// KERNEL_IMAGE_SIZE: VMCOREINFO's, else the kernel's default, 1 GiB under
// KASLR (a non-zero KERNELOFFSET) and 512 MiB otherwise.
std::uint64_t kernel_image_size(const VmcoreInfo* info) {
    if (info == nullptr) return x86_64::default_kernel_image_size;
    if (const auto n = info->number("KERNEL_IMAGE_SIZE")) {
        if (*n <= 0 || static_cast<std::uint64_t>(*n) > ~x86_64::start_kernel_map)
            throw_corrupt(fmt::format("VMCOREINFO: NUMBER(KERNEL_IMAGE_SIZE)={} is impossible", *n));
        return static_cast<std::uint64_t>(*n);
    }
    return info->kernel_offset().value_or(0) != 0 ? x86_64::kaslr_kernel_image_size : x86_64::default_kernel_image_size;
}

// NUMBER(sme_mask): the C-bit of AMD memory encryption, 0 without it.  It
// must be one address bit of a page-table entry, else reading through the
// tables would silently drop real address bits.
std::uint64_t sme_mask(const VmcoreInfo* info) {
    const auto n = info != nullptr ? info->number("sme_mask") : std::nullopt;
    if (!n || *n == 0) return 0;
    const auto mask = static_cast<std::uint64_t>(*n);
    if ((mask & (mask - 1)) != 0 || (mask & x86_64::entry_address_bits) == 0)
        throw_corrupt(fmt::format("VMCOREINFO: NUMBER(sme_mask)={} is not one address bit of a page-table entry", *n));
    return mask;
}

MachineState amd64_machine(const ArchInfo& arch, const CoreNotes& notes) {
    MachineState m;
    m.arch = &arch;
    const VmcoreInfo* info = notes.vmcoreinfo ? &*notes.vmcoreinfo : nullptr;
    if (info != nullptr || notes.kcore) m.os = "linux";
    if (info != nullptr)
        for (const auto& [key, value] : info->entries())
            m.info.emplace(key, value);

    const CpuState* cpu = nullptr;  // the first CPU with control registers
    for (const CpuState& c : notes.cpus)
        if (c.cr3 && c.cr4) {
            cpu = &c;
            break;
        }

    // Paging: VMCOREINFO knows what the kernel chose; CR4 what the CPU ran.
    bool la57 = false;
    if (const auto l5 = info != nullptr ? info->number("pgtable_l5_enabled") : std::nullopt) {
        la57 = *l5 != 0;
        m.info["paging.source"] = fmt::format("NUMBER(pgtable_l5_enabled)={}", *l5);
    } else if (cpu != nullptr) {
        la57 = (*cpu->cr4 & x86_64::cr4_la57) != 0;
        m.info["paging.source"] = fmt::format("CR4 {:#x}", *cpu->cr4);
    } else {
        m.info["paging.source"] = "default (4-level)";
    }
    m.translator = la57 ? "amd64-la57" : "amd64";
    m.encryption_mask = sme_mask(info);

    const std::optional<std::int64_t> phys_base = info != nullptr ? info->phys_base() : std::nullopt;
    const std::uint64_t image_size = kernel_image_size(info);  // checked even when no window needs it
    const auto image_pa = [&](std::uint64_t va) {
        return va - x86_64::start_kernel_map + static_cast<std::uint64_t>(*phys_base);
    };

    // The root: the kernel's own top-level table, else a CPU's CR3.
    std::optional<std::uint64_t> root_va;
    std::string root_name;
    for (const std::string_view name : {"init_top_pgt", "swapper_pg_dir"}) {
        if (info != nullptr && (root_va = info->symbol(name))) {
            root_name = fmt::format("SYMBOL({})", name);
            break;
        }
    }
    // The formula holds for the whole image, whatever window the linear
    // range got.
    const bool in_image = root_va && *root_va >= x86_64::start_kernel_map;
    if (root_va && phys_base && in_image && image_pa(*root_va) < (std::uint64_t{1} << 52)) {
        m.pt_root = image_pa(*root_va);
        m.info["pt_root.source"] = fmt::format("{}={:x} at phys_base {}", root_name, *root_va, *phys_base);
    } else if (cpu != nullptr) {
        m.pt_root = *cpu->cr3 & x86_64::entry_address_bits & ~m.encryption_mask;
        m.info["pt_root.source"] = fmt::format("CR3 {:#x}", *cpu->cr3);
    } else {
        m.translator.clear();
        m.info["pt_root.source"] =
            "none: no VMCOREINFO with NUMBER(phys_base) and SYMBOL(init_top_pgt), and no QEMU CPU notes";
    }

    // Without page tables, the kernel-image window (KERNEL_IMAGE_SIZE bytes,
    // linear at phys_base) is the best answer there is.  With them, the
    // tables decide: the window is larger than the image, and past the
    // image's end they map modules and leave holes (a kernel whose namelist
    // gives _text and _end gets a shortcut over exactly that; see
    // image_range).  With a negative phys_base the first bytes of the window
    // would be below physical 0; start where the physical side does.
    if (phys_base && m.translator.empty()) {
        const std::uint64_t skip = *phys_base < 0 ? static_cast<std::uint64_t>(-(*phys_base + 1)) + 1 : 0;
        if (skip < image_size)
            m.linear.push_back({.va = x86_64::start_kernel_map + skip,
                                .size = image_size - skip,
                                .pa = image_pa(x86_64::start_kernel_map + skip)});
    }
    return m;
}

// arm64: the machine a VMCOREINFO describes (arch_crash_save_vmcoreinfo).
//   NUMBER(VA_BITS)          the configured VA size (decimal)
//   NUMBER(TCR_EL1_T1SZ)     64 less the VA size the MMU runs with (hex, 0x...; some
//                            5.x kernels spell it tcr_el1_t1sz): 48 bits when a 52-bit
//                            kernel runs on a CPU without 52-bit VAs, else VA_BITS
//   NUMBER(kimage_voffset)   kernel image va - pa (hex)
//   NUMBER(PHYS_OFFSET)      memstart_addr: pa of the linear map's start (hex)
//   NUMBER(KERNELPACMASK)    the PAC bits of kernel code pointers, 0 without PAC (hex)
//   PAGESIZE                 the translation granule
// The root is swapper_pg_dir through kimage_voffset.  A 52-bit kernel on a
// 48-bit CPU keeps its 52-bit top table when the level count is the same
// (64 KiB and 16 KiB pages) and points TTBR1 into it, past the entries only
// 52-bit addresses reach (Linux's TTBR1_BADDR_4852_OFFSET); with 4 KiB pages
// the level it drops is folded and swapper_pg_dir is the level 0 table.
// Levels a walk of `va_bits` takes: ceil((va_bits - g) / (g - 3)).
unsigned arm64_levels(unsigned va_bits, unsigned granule_shift) {
    return (va_bits - 4) / (granule_shift - 3);
}

std::uint64_t arm64_top_entries(unsigned va_bits, unsigned granule_shift) {
    const unsigned top_shift = granule_shift + (arm64_levels(va_bits, granule_shift) - 1) * (granule_shift - 3);
    return std::uint64_t{1} << (va_bits - top_shift);
}

MachineState arm64_machine(const ArchInfo& arch, const CoreNotes& notes) {
    MachineState m;
    m.arch = &arch;
    const VmcoreInfo* info = notes.vmcoreinfo ? &*notes.vmcoreinfo : nullptr;
    if (info == nullptr && !notes.kcore) {
        m.info["pt_root.source"] = "none: no VMCOREINFO (an arm64 core's CPU notes hold no translation table base)";
        return m;
    }
    m.os = "linux";
    if (info == nullptr) {
        m.info["pt_root.source"] = "none: no VMCOREINFO";
        return m;
    }
    for (const auto& [key, value] : info->entries())
        m.info.emplace(key, value);

    const auto va_bits_n = info->number("VA_BITS");
    if (!va_bits_n) {
        m.info["pt_root.source"] = "none: VMCOREINFO has no NUMBER(VA_BITS)";
        return m;
    }
    if (*va_bits_n < aarch64::min_va_bits || *va_bits_n > aarch64::max_va_bits)
        throw_corrupt(fmt::format("VMCOREINFO: NUMBER(VA_BITS)={} is not an arm64 VA size ({} to {} bits)", *va_bits_n,
                                  aarch64::min_va_bits, aarch64::max_va_bits));
    const auto va_bits = static_cast<unsigned>(*va_bits_n);

    // The VA size the MMU runs with; a contradiction with VA_BITS would
    // walk the wrong number of levels.
    unsigned active_bits = va_bits;
    std::string t1sz_key = "TCR_EL1_T1SZ";
    auto t1sz = info->unsigned_number(t1sz_key);
    if (!t1sz) t1sz = info->unsigned_number(t1sz_key = "tcr_el1_t1sz");
    if (t1sz) {
        const std::uint64_t bits = *t1sz < 64 ? 64 - *t1sz : 0;
        if (bits != va_bits && !(va_bits == 52 && bits == 48))
            throw_corrupt(fmt::format("VMCOREINFO: NUMBER({})={} ({}-bit addresses) contradicts NUMBER(VA_BITS)={}",
                                      t1sz_key, *info->get(fmt::format("NUMBER({})", t1sz_key)), bits, va_bits));
        active_bits = static_cast<unsigned>(bits);
    }

    const std::uint64_t granule = info->page_size().value_or(4096);
    unsigned granule_shift = 0;
    for (const unsigned shift : {12u, 14u, 16u})
        if (granule == std::uint64_t{1} << shift) granule_shift = shift;
    if (granule_shift == 0)
        throw_corrupt(
            fmt::format("VMCOREINFO: PAGESIZE={} is not an arm64 translation granule (4096, 16384, 65536)", granule));

    if (const auto pac = info->unsigned_number("KERNELPACMASK"); pac && *pac != 0) {
        // GENMASK(63, VA size), or without bit 55 in the kernels that
        // used VA_BITS: either way bits 63..56 and from the VA size up.
        const std::uint64_t low = *pac & (~*pac + 1);
        const std::uint64_t top = ~std::uint64_t{0} << 56;
        if ((*pac & top) != top || (low != std::uint64_t{1} << active_bits && low != std::uint64_t{1} << va_bits))
            throw_corrupt(
                fmt::format("VMCOREINFO: NUMBER(KERNELPACMASK)={:#x} does not cover bits 63..{} of "
                            "{}-bit addresses",
                            *pac, active_bits, active_bits));
    }
    m.info["paging.source"] =
        fmt::format("NUMBER(VA_BITS)={}, {}, PAGESIZE={}", va_bits,
                    t1sz ? fmt::format("NUMBER({})={}", t1sz_key, *t1sz) : "no TCR_EL1_T1SZ", granule);
    m.granule = static_cast<std::uint32_t>(granule);
    m.va_bits = active_bits;

    const auto voffset = info->unsigned_number("kimage_voffset");
    const auto swapper = info->symbol("swapper_pg_dir");
    if (voffset && swapper && *swapper - *voffset < aarch64::phys_limit) {
        std::uint64_t root = *swapper - *voffset;
        if (active_bits < va_bits && arm64_levels(va_bits, granule_shift) == arm64_levels(active_bits, granule_shift))
            root += (arm64_top_entries(va_bits, granule_shift) - arm64_top_entries(active_bits, granule_shift)) * 8;
        m.translator = "arm64";
        m.pt_root = root;
        m.info["pt_root.source"] =
            fmt::format("SYMBOL(swapper_pg_dir)={:x} less NUMBER(kimage_voffset)={:#x}", *swapper, *voffset);
    } else {
        m.info["pt_root.source"] =
            voffset && swapper ? fmt::format(
                                     "none: SYMBOL(swapper_pg_dir)={:x} less NUMBER(kimage_voffset)={:#x} is beyond "
                                     "52-bit physical addresses",
                                     *swapper, *voffset)
                               : "none: no VMCOREINFO with NUMBER(kimage_voffset) and SYMBOL(swapper_pg_dir)";
    }

    // The linear map, for a dump without page tables: va = (pa -
    // PHYS_OFFSET) | PAGE_OFFSET.  Where PAGE_OFFSET is changed with Linux
    // 5.4, which swapped the halves of the kernel's space: the linear map
    // moved from the upper half (PAGE_OFFSET = -(1 << (VA_BITS - 1))) to
    // the lower one (-(1 << VA_BITS)) and the image from the lower half to
    // the upper one.  So an image address (swapper_pg_dir, _stext,
    // init_uts_ns) says which layout the kernel has, with no version
    // parsing: bit VA_BITS - 1 set, the 5.4 layout.
    const auto phys_offset = info->unsigned_number("PHYS_OFFSET");
    std::optional<std::uint64_t> image_va = swapper;
    for (const std::string_view name : {"_stext", "init_uts_ns"})
        if (!image_va) image_va = info->symbol(name);
    if (m.translator.empty() && phys_offset && image_va) {
        const bool flipped = ((*image_va >> (va_bits - 1)) & 1) != 0;
        const std::uint64_t page_offset = ~std::uint64_t{0} << (flipped ? va_bits : va_bits - 1);
        // The map ends where the image's half starts, from 5.4 at the half
        // of the VA size the MMU runs with (PAGE_END); before, at the top.
        const std::uint64_t span = flipped ? (~std::uint64_t{0} << (active_bits - 1)) - page_offset : ~page_offset + 1;
        // A 52-bit kernel on a 48-bit CPU moves PHYS_OFFSET below 0 so that
        // its linear addresses stay in 48 bits: start where pa 0 is.
        const std::uint64_t skip = *phys_offset >= aarch64::phys_limit ? ~*phys_offset + 1 : 0;
        if (skip < span) m.linear.push_back({.va = page_offset + skip, .size = span - skip, .pa = *phys_offset + skip});
        m.info["linear.source"] = fmt::format("PAGE_OFFSET {:#x} ({} layout, from the image at {:#x})", page_offset,
                                              flipped ? "5.4" : "pre-5.4", *image_va);
    }
    return m;
}

namespace x86_32 {  // not "i386": GCC predefines that macro when it targets i386
// PAGE_OFFSET of the default 3G/1G split (VMSPLIT_3G), which VMCOREINFO
// does not give: lowmem is mapped linearly from here (at most 896 MiB).
constexpr std::uint64_t page_offset = 0xc0000000;
constexpr std::uint64_t lowmem_size = 896ull << 20;
constexpr std::uint64_t cr4_pae = 1ull << 5;
}  // namespace x86_32

// i386 (what machine_state gives):
//   translator  "i386-pae-pdpt" with VMCOREINFO's CONFIG_X86_PAE=y (else CR4.PAE
//               of a QEMU CPU note), else "i386"; pt_root swapper_pg_dir
//               less PAGE_OFFSET, else the first CPU's CR3
//   linear      lowmem from PAGE_OFFSET, only when there is no root
// machine_kexec_32.c's VMCOREINFO gives SYMBOL(swapper_pg_dir) and,
// for a PAE kernel, CONFIG_X86_PAE=y; no KERNELOFFSET (a relocated kernel
// shows it in SYMBOL(_stext): namelist_relocation) and no PAGE_OFFSET, so
// the table's physical address assumes the default 3G/1G split.  A kernel
// with another split has its swapper_pg_dir below 0xc0000000: then the
// CR3 of a QEMU CPU note is the root (the kernel half is the same in
// every process's table).
MachineState i386_machine(const ArchInfo& arch, const CoreNotes& notes) {
    MachineState m;
    m.arch = &arch;
    const VmcoreInfo* info = notes.vmcoreinfo ? &*notes.vmcoreinfo : nullptr;
    if (info != nullptr || notes.kcore) m.os = "linux";
    if (info != nullptr)
        for (const auto& [key, value] : info->entries())
            m.info.emplace(key, value);
    const CpuState* cpu = nullptr;
    for (const CpuState& c : notes.cpus)
        if (c.cr3 && c.cr4) {
            cpu = &c;
            break;
        }

    const auto pae_config = info != nullptr ? info->get("CONFIG_X86_PAE") : std::nullopt;
    bool pae = false;
    if (pae_config) {
        pae = *pae_config == "y";
        m.info["paging.source"] = fmt::format("CONFIG_X86_PAE={}", *pae_config);
    } else if (cpu != nullptr) {
        pae = (*cpu->cr4 & x86_32::cr4_pae) != 0;
        m.info["paging.source"] = fmt::format("CR4 {:#x}", *cpu->cr4);
    } else {
        m.info["paging.source"] = "default (no CONFIG_X86_PAE in VMCOREINFO, no CPU notes: two-level)";
    }
    // Linux's PAE root is the CPU's page-directory-pointer table.
    m.translator = pae ? "i386-pae-pdpt" : "i386";

    const auto swapper = info != nullptr ? info->symbol("swapper_pg_dir") : std::nullopt;
    if (swapper && *swapper >= x86_32::page_offset && *swapper - x86_32::page_offset < x86_32::lowmem_size) {
        m.pt_root = *swapper - x86_32::page_offset;
        m.info["pt_root.source"] =
            fmt::format("SYMBOL(swapper_pg_dir)={:x} less PAGE_OFFSET {:#x}", *swapper, x86_32::page_offset);
    } else if (cpu != nullptr) {
        // A PAE CR3 holds the page-directory-pointer table 32-byte aligned.
        m.pt_root = *cpu->cr3 & (pae ? 0xffffffe0 : 0xfffff000);
        m.info["pt_root.source"] = fmt::format("CR3 {:#x}", *cpu->cr3);
    } else {
        m.translator.clear();
        m.info["pt_root.source"] = "none: no VMCOREINFO with SYMBOL(swapper_pg_dir) in lowmem, and no QEMU CPU notes";
        if (info != nullptr) m.linear.push_back({.va = x86_32::page_offset, .size = x86_32::lowmem_size, .pa = 0});
    }
    return m;
}

}  // namespace

MachineState machine_state(const ArchInfo& arch, const CoreNotes& notes) {
    if (arch.name == "amd64") return amd64_machine(arch, notes);
    if (arch.name == "arm64") return arm64_machine(arch, notes);
    if (arch.name == "i386") return i386_machine(arch, notes);
    throw_unsupported(fmt::format(
        "a Linux or QEMU core of an {} machine: kvmkit reads amd64 (x86_64), arm64 (aarch64) and i386 ones only",
        arch.name));
}

// ---------------------------------------------------------------- namelists

NamelistRelocation namelist_relocation(const Namelist& namelist, const MachineState& machine, const VmcoreInfo& info) {
    const SymbolTable& table = namelist.symbols();
    std::uint64_t koff = info.kernel_offset().value_or(0);
    // i386's VMCOREINFO names no KERNELOFFSET, but a relocated kernel moves
    // its whole image by one offset: the one SYMBOL(_stext) shows.
    const Symbol* stext = table.find("_stext");
    const bool offset_from_stext = !info.kernel_offset() && machine.arch != nullptr && machine.arch->name == "i386" &&
                                   stext != nullptr && info.symbol("_stext");
    if (offset_from_stext) koff = *info.symbol("_stext") - stext->value;

    // Compare the anchors: all equal (run-time) or all off by KERNELOFFSET
    // (link-time).
    bool run_time = true;
    bool link_time = true;
    const Symbol* first = nullptr;
    for (const std::string_view name : anchor_symbols) {
        const Symbol* s = table.find(name);
        const auto dump_value = info.symbol(name);
        if (s == nullptr || !dump_value) continue;
        if (first == nullptr) first = s;
        run_time = run_time && s->value == *dump_value;
        link_time = link_time && s->value + koff == *dump_value;
        if (!run_time && !link_time) {
            Error e(ErrorKind::usage,
                    fmt::format("does not match the dump: {} is {:#x} in the namelist, {:#x} in VMCOREINFO "
                                "(KERNELOFFSET {:#x})",
                                name, s->value, *dump_value, koff));
            e.with_path(namelist.path());
            throw e;
        }
    }
    if (first == nullptr) {
        // Nothing to compare with: a kernel file or a System.map is at
        // link-time addresses; kallsyms lists modules.
        const auto symbols = table.by_address();
        const bool has_modules =
            std::any_of(symbols.begin(), symbols.end(), [](const Symbol& s) { return !s.module.empty(); });
        link_time = namelist.kind() == NamelistKind::elf || !has_modules;
        run_time = !link_time;
    }
    if (run_time || koff == 0) return {};

    // Move the kernel image only; modules (kallsyms only, never here) and
    // per-cpu offsets stay.
    std::uint64_t begin = 0;
    std::uint64_t end = std::numeric_limits<std::uint64_t>::max();
    if (machine.arch != nullptr && machine.arch->name == "amd64") {
        begin = x86_64::start_kernel_map;
        end = x86_64::start_kernel_map + kernel_image_size(&info);
    } else if (machine.arch != nullptr && machine.arch->name == "arm64" && machine.va_bits != 0) {
        // The image is somewhere in the kernel half; nothing else a
        // namelist holds is (arm64's per-cpu symbols are image addresses).
        begin = ~std::uint64_t{0} << machine.va_bits;
    } else if (offset_from_stext) {
        // The image is above PAGE_OFFSET; absolute symbols below it stay.
        begin = x86_32::page_offset;
    }
    return {.delta = static_cast<std::int64_t>(koff), .begin = begin, .end = end};
}

std::optional<LinearRange> image_range(const Format& format, const Namelist& namelist) {
    const MachineState& m = format.machine();
    const CoreNotes* notes = core_notes(format);
    if (m.arch == nullptr || m.arch->name != "amd64" || m.translator.empty() || notes == nullptr || !notes->vmcoreinfo)
        return std::nullopt;
    const VmcoreInfo& info = *notes->vmcoreinfo;
    const auto phys_base = info.phys_base();
    const Symbol* text = namelist.symbols().find("_text");
    const Symbol* end = namelist.symbols().find("_end");
    if (!phys_base || text == nullptr || end == nullptr) return std::nullopt;
    const std::uint64_t window_end = x86_64::start_kernel_map + kernel_image_size(&info);
    if (text->value < x86_64::start_kernel_map || end->value <= text->value || end->value > window_end)
        return std::nullopt;
    const std::uint64_t start = text->value & ~std::uint64_t{4095};
    const std::uint64_t pa = start - x86_64::start_kernel_map + static_cast<std::uint64_t>(*phys_base);
    if (pa >= (std::uint64_t{1} << 52)) return std::nullopt;
    return LinearRange{.va = start, .size = align_up(end->value, 4096) - start, .pa = pa};
}

std::int64_t relocate_namelist(Namelist& namelist, const MachineState& machine, const VmcoreInfo& info) {
    const NamelistRelocation r = namelist_relocation(namelist, machine, info);
    if (r.delta != 0) namelist.symbols().relocate(r.delta, r.begin, r.end);
    return r.delta;
}

}  // namespace kvm::linux_kernel

namespace kvm::detail {

const ArchInfo* arch_of_prstatus(std::span<const elf::Note> notes, unsigned pointer_size) {
    for (const elf::Note& n : notes) {
        if (n.name != "CORE" || n.type != linux_kernel::nt_prstatus) continue;
        for (const linux_kernel::PrstatusLayout& l : linux_kernel::prstatus_layouts) {
            const ArchInfo* arch = find_arch(l.arch);
            if (arch != nullptr && arch->pointer_size == pointer_size && n.desc.size() == l.size) return arch;
        }
        return nullptr;
    }
    return nullptr;
}

}  // namespace kvm::detail
