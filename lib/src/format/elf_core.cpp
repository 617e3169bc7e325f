// ELF cores: of Linux machines, QEMU's dump-guest-memory output, kdump's
// /proc/vmcore as saved by cp or makedumpfile -E, and the live /proc/kcore;
// FreeBSD's and DragonFly's full dumps (below).
//
// Each PT_LOAD is memory.  Its p_paddr says where it is physically (all ones
// when it has no physical address: /proc/kcore's vmalloc and vmemmap
// segments); its p_vaddr, when it is a kernel virtual address different from
// p_paddr, says where the kernel saw it.  QEMU's paging=false cores set
// p_vaddr == p_paddr and so are physical only.  Physical segments serve
// read_phys; virtual ones serve read_virtual (before any translation) and,
// when they also have a physical address, become linear ranges.  Bytes
// between p_filesz and p_memsz read as zeros, as ELF says.  Where segments
// overlap (the kernel text listed on its own and within RAM), the first
// one in the program header table counts.
//
// Which cores are kernel dumps: those with a VMCOREINFO note, QEMU CPU
// notes, or /proc/kcore's NT_TASKSTRUCT, and FreeBSD's and DragonFly's full
// dumps (debug.minidump=0), which have no notes but EI_OSABI 255
// (ELFOSABI_STANDALONE) and physical PT_LOADs (p_vaddr == p_paddr): their
// OS is the namelist's (bsd_kernel.h), FreeBSD without one, and their page
// tables are found through it (freebsd-dragonfly-dump-format.md section 2).
// A process core has none of these and is refused with ErrorKind::format.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/linux.h>

#include "core/segment_map.h"
#include "format/bsd_kernel.h"
#include "format/linux_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace kvm::detail {

namespace {

std::string_view type_name(std::uint16_t type) {
    switch (type) {
        case elf::et_rel:
            return "a relocatable object";
        case elf::et_exec:
            return "an executable";
        case elf::et_dyn:
            return "a shared object";
        default:
            return "not a core";
    }
}

// Reads from one segment of `map` at `address`: file bytes, then zeros.
// Returns the bytes read (0 when no segment holds `address`).
std::size_t read_segment(const SegmentMap& map, const ByteSource& source, std::uint64_t address, MutableByteSpan out,
                         std::string_view what) {
    const Segment* seg = map.find(address);
    if (seg == nullptr) return 0;
    const std::uint64_t in = address - seg->start;
    const std::size_t n = std::min<std::uint64_t>(out.size(), seg->size - in);
    std::size_t from_file = 0;
    if (in < seg->file_size) {
        from_file = std::min<std::uint64_t>(n, seg->file_size - in);
        source.read_exact(seg->target + in, out.first(from_file), fmt::format("{} {:#x}", what, address));
    }
    std::memset(out.data() + from_file, 0, n - from_file);
    return n;
}

std::optional<std::uint64_t> offset_in(const SegmentMap& map, std::uint64_t address) {
    const Segment* seg = map.find(address);
    if (seg == nullptr || address - seg->start >= seg->file_size) return std::nullopt;
    return seg->target + (address - seg->start);
}

class ElfCoreFormat final : public Format, public linux_kernel::HasCoreNotes {
public:
    ElfCoreFormat(std::shared_ptr<ByteSource> source, std::string name, const Namelist* namelist)
        : source_(std::move(source)), name_(std::move(name)) {
        const elf::File file(source_, elf::File::SegmentsOnly{});
        if (file.type() != elf::et_core)
            throw_format(
                fmt::format("an ELF file of type {} ({}), not a core dump: is this the kernel (-N) rather "
                            "than the dump (-M)?",
                            file.type(), type_name(file.type())));
        // QEMU writes an ELF64 core of an i386 guest too (its notes and
        // registers are i386's): the machine says the arch, not the class.
        const ArchInfo* arch = find_arch_by_elf_machine(file.machine(), file.elf_class());
        if (arch == nullptr && file.machine() == elf::em_386) arch = find_arch("i386");
        if (arch == nullptr)
            throw_unsupported(fmt::format("an ELF core of machine {} ({}): not an architecture kvmkit reads",
                                          file.machine(), file.elf_class() == elf::elfclass64 ? "ELF64" : "ELF32"));
        const std::vector<elf::Note> notes = file.notes();
        notes_ = linux_kernel::decode_core_notes(notes, *arch);
        const bool bsd =
            !notes_.vmcoreinfo && !notes_.qemu && !notes_.kcore && file.osabi() == elf::elfosabi_standalone;
        if (!notes_.vmcoreinfo && !notes_.qemu && !notes_.kcore && !bsd)
            throw_format(
                "an ELF core without VMCOREINFO, QEMU CPU or /proc/kcore notes: a process core, not a kernel dump");
        std::optional<BsdOs> os;
        if (bsd) {
            os = namelist != nullptr ? bsd_os_of(*namelist) : std::nullopt;
            if (!os)
                os = BsdOs{"freebsd", namelist == nullptr
                                          ? "a full dump does not say, and there is no namelist: read as FreeBSD"
                                          : "a full dump does not say, nor does the namelist: read as FreeBSD"};
            if (name_.empty()) name_ = os->os + "-elf-dump";
        }
        if (name_.empty()) name_ = notes_.kcore ? "linux-kcore" : "elf-vmcore";

        const std::uint64_t no_paddr = file.elf_class() == elf::elfclass64 ? ~std::uint64_t{0} : 0xffffffffu;
        const std::uint64_t file_size = source_->size();
        std::vector<Segment> phys;
        std::vector<Segment> virt;
        std::vector<LinearRange> linear;
        const auto& segments = file.segments();
        for (std::size_t i = 0; i < segments.size(); ++i) {
            const elf::Segment& p = segments[i];
            if (p.type != elf::pt_load || p.memsz == 0) continue;
            const std::string what = fmt::format("PT_LOAD {} (vaddr {:#x}, paddr {:#x})", i, p.vaddr, p.paddr);
            if (p.filesz > p.memsz)
                throw_corrupt(fmt::format("{}: p_filesz {:#x} is larger than p_memsz {:#x}", what, p.filesz, p.memsz));
            const std::uint64_t file_end = checked_add(p.offset, p.filesz, what);
            if (file_end > file_size)
                throw_corrupt(fmt::format("truncated: {} needs file bytes up to {:#x}, but the file has {:#x}", what,
                                          file_end, file_size));
            const Segment seg{.start = 0, .size = p.memsz, .target = p.offset, .file_size = p.filesz};
            const bool has_paddr = p.paddr != no_paddr;
            if (has_paddr) {
                checked_add(p.paddr, p.memsz, what + " physical end");
                phys.push_back(seg);
                phys.back().start = p.paddr;
            }
            if (is_kernel_address(*arch, p.vaddr) && p.vaddr != p.paddr) {
                checked_add(p.vaddr, p.memsz, what + " virtual end");
                virt.push_back(seg);
                virt.back().start = p.vaddr;
                if (has_paddr) linear.push_back({.va = p.vaddr, .size = p.memsz, .pa = p.paddr});
            }
        }
        if (phys.empty() && virt.empty()) throw_corrupt("the core has no PT_LOAD segments with memory");
        phys_ = SegmentMap(phys);
        virt_ = SegmentMap(virt);

        if (os) {
            machine_.arch = arch;
            machine_.os = os->os;
            machine_.info["os.source"] = os->reason;
            find_full_dump_root(machine_, namelist,
                                [this](std::uint64_t pa, MutableByteSpan out) { read_phys(pa, out); });
            return;
        }
        machine_ = linux_kernel::machine_state(*arch, notes_);
        // The kernel-image range (from phys_base) stays first; the
        // segments' own ranges follow.
        machine_.linear.insert(machine_.linear.end(), linear.begin(), linear.end());
    }

    std::string_view name() const override { return name_; }
    const MachineState& machine() const override { return machine_; }
    const linux_kernel::CoreNotes& core_notes() const override { return notes_; }

    void read_phys(std::uint64_t pa, MutableByteSpan out) const override {
        std::size_t done = 0;
        while (done < out.size()) {
            const std::uint64_t at = pa + done;
            const std::size_t n = read_segment(phys_, *source_, at, out.subspan(done), "physical address");
            if (n == 0) throw_fault(at, fmt::format("physical address {:#x} is not in the dump", at));
            done += n;
        }
    }

    std::vector<PhysRun> phys_ranges() const override {
        std::vector<PhysRun> runs;
        for (const Segment& s : phys_.segments())
            runs.push_back({.pa = s.start, .size = s.size, .offset = s.target});
        return runs;
    }

    std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const override { return offset_in(phys_, pa); }

    std::size_t read_virtual(std::uint64_t va, MutableByteSpan out) const override {
        if (out.empty()) return 0;
        return read_segment(virt_, *source_, va, out, "virtual address");
    }

    std::optional<std::uint64_t> virtual_to_offset(std::uint64_t va) const override { return offset_in(virt_, va); }

    const ByteSource& source() const override { return *source_; }
    ByteSource& source() override { return *source_; }

private:
    // The upper half of the address space, where 64-bit kernels live.  On
    // 32-bit machines any p_vaddr that differs from p_paddr counts.
    static bool is_kernel_address(const ArchInfo& arch, std::uint64_t va) {
        return arch.pointer_size == 8 ? (va >> 63) != 0 : va != 0;
    }

    std::shared_ptr<ByteSource> source_;
    std::string name_;
    linux_kernel::CoreNotes notes_;
    SegmentMap phys_;
    SegmentMap virt_;
    MachineState machine_;
};

}  // namespace

std::unique_ptr<Format> open_elf_core(std::shared_ptr<ByteSource> source, std::string name) {
    return std::make_unique<ElfCoreFormat>(std::move(source), std::move(name), nullptr);
}

std::unique_ptr<Format> probe_elf_core(std::shared_ptr<ByteSource> source, const ProbeOptions& options) {
    if (!elf::is_elf(*source)) return nullptr;
    return std::make_unique<ElfCoreFormat>(std::move(source), std::string(), options.namelist);
}

}  // namespace kvm::detail
