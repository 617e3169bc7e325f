// PhysMap, the format table and the probe loop.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/minidump.h>
#include <kvm/kerneldump.h>
#include <kvm/netbsd.h>

#include "format/linux_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace kvm {

PhysMap::PhysMap(std::vector<PhysRun> runs, std::uint64_t source_size) : runs_(std::move(runs)) {
    std::sort(runs_.begin(), runs_.end(), [](const PhysRun& a, const PhysRun& b) { return a.pa < b.pa; });
    for (std::size_t i = 0; i < runs_.size(); ++i) {
        const PhysRun& r = runs_[i];
        if (r.size == 0) throw_corrupt(fmt::format("memory segment at pa {:#x} has size 0", r.pa));
        const std::uint64_t pa_end = checked_add(r.pa, r.size, "memory segment end");
        const std::uint64_t off_end = checked_add(r.offset, r.size, "memory segment file end");
        if (off_end > source_size)
            throw_corrupt(
                fmt::format("memory segment pa {:#x}-{:#x} at file offset {:#x} ends past the end of the "
                            "file ({:#x} > {:#x})",
                            r.pa, pa_end, r.offset, off_end, source_size));
        if (i + 1 < runs_.size() && pa_end > runs_[i + 1].pa)
            throw_corrupt(
                fmt::format("memory segments overlap: pa {:#x}-{:#x} and {:#x}", r.pa, pa_end, runs_[i + 1].pa));
        total_ = checked_add(total_, r.size, "total memory size");
    }
}

const PhysRun* PhysMap::find(std::uint64_t pa) const {
    auto it =
        std::upper_bound(runs_.begin(), runs_.end(), pa, [](std::uint64_t v, const PhysRun& r) { return v < r.pa; });
    if (it == runs_.begin()) return nullptr;
    --it;
    return pa - it->pa < it->size ? &*it : nullptr;
}

void read_phys_through_map(const PhysMap& map, const ByteSource& source, std::uint64_t pa, MutableByteSpan out) {
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t at = pa + done;
        const PhysRun* run = map.find(at);
        if (run == nullptr) throw_fault(at, fmt::format("physical address {:#x} is not in the dump", at));
        const std::uint64_t in_run = at - run->pa;
        const std::size_t n = std::min<std::uint64_t>(out.size() - done, run->size - in_run);
        source.read_exact(run->offset + in_run, out.subspan(done, n), fmt::format("physical page {:#x}", at));
        done += n;
    }
}

std::uint64_t Format::phys_bytes() const {
    std::uint64_t bytes = 0;
    for (const PhysRun& r : phys_ranges())
        bytes = checked_add(bytes, r.size, "physical memory size");
    return bytes;
}

namespace {
// Cheap magic-at-offset-0 probes first; then the FreeBSD/DragonFly device,
// whose header is in the last sector (one read); the NetBSD device scan
// reads the most, so it comes last.
constexpr std::array format_table{
    FormatInfo{"netbsd-kcore", &netbsd::probe_kcore},
    FormatInfo{"elf-core", &detail::probe_elf_core},
    FormatInfo{"kdump", &detail::probe_kdump},
    FormatInfo{"kdump-flattened", &detail::probe_flattened},
    FormatInfo{"minidump", &minidump::probe},
    FormatInfo{"freebsd-dumpdev", &kerneldump::probe_device, true},
    FormatInfo{"netbsd-dumpdev", &netbsd::probe_device, true},
};
}  // namespace

std::span<const FormatInfo> all_formats() {
    return format_table;
}

std::unique_ptr<Format> open_format(std::shared_ptr<ByteSource> source, const ProbeOptions& options) {
    std::string tried;
    for (const FormatInfo& f : format_table) {
        if (options.device != nullptr && f.whole_device) continue;
        try {
            if (auto format = f.probe(source, options)) {
                if (!options.split_parts.empty() && format->file_count() == 1)
                    throw Error(
                        ErrorKind::usage,
                        fmt::format("{} more file{} given, but it is a whole {} dump, not a file of a split one",
                                    options.split_parts.size(), options.split_parts.size() == 1 ? "" : "s",
                                    format->name()));
                return format;
            }
        } catch (Error& e) {
            e.with_path(source->name());
            throw;
        }
        tried += tried.empty() ? "" : ", ";
        tried += f.name;
    }
    Error e(ErrorKind::format, fmt::format("not a recognised crash dump (tried {})", tried));
    e.with_path(source->name());
    throw e;
}

}  // namespace kvm
