// FreeBSD and DragonFly crashes for the unit tests: a synthetic machine, its
// kernel namelist and a dump of it opened as Kernel::open would, all in
// memory; and, for the walker tests, a process tree planted in such a
// machine through a layout file.
#pragma once

#include <kvm/elf.h>
#include <kvm/format.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/namelist.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <fmt/format.h>

#include "test_util.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

namespace kvm::test {

inline std::string shipped_layouts_dir() {
    return (source_root() / "share/kvmkit/layouts").string();
}

// A dump format that says the machine runs `os`.
class OsFormat final : public Format {
public:
    OsFormat(std::unique_ptr<Format> inner, std::string os) : inner_(std::move(inner)), state_(inner_->machine()) {
        state_.os = std::move(os);
    }
    std::string_view name() const override { return inner_->name(); }
    const MachineState& machine() const override { return state_; }
    void read_phys(std::uint64_t pa, MutableByteSpan out) const override { inner_->read_phys(pa, out); }
    std::vector<PhysRun> phys_ranges() const override { return inner_->phys_ranges(); }
    std::optional<std::uint64_t> phys_to_offset(std::uint64_t pa) const override { return inner_->phys_to_offset(pa); }
    const ByteSource& source() const override { return inner_->source(); }
    ByteSource& source() override { return inner_->source(); }

private:
    std::unique_ptr<Format> inner_;
    MachineState state_;
};

using Plant = std::function<synth::PlantedProcesses(synth::CrashedMachine&, const StructLayouts&)>;
using BsdDamage = std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedProcesses&)>;

// A machine of `os` with a planted tree: its kernel on disk, its kcore in memory.
struct BsdCrash {
    BsdCrash(std::string os_name, const char* arch, StructLayouts l, const Plant& plant, const BsdDamage& damage = {})
        : os(std::move(os_name)),
          machine({.arch = arch, .seed = 7}),
          layouts(std::move(l)),
          kernel_path(dir / "kernel") {
        planted = plant(machine, layouts);
        if (damage) damage(machine, layouts, planted);
        const auto segments = machine.prepare_dump({.sparse = true});
        MemorySink sink;
        machine.write_kcore(sink, segments);
        kcore = sink.data();
        synth::write_file(kernel_path, machine.kernel_elf());
    }

    std::unique_ptr<Kernel> open() const {
        auto namelist = std::shared_ptr<const Namelist>(Namelist::load(kernel_path));
        auto format = open_format(std::make_shared<MemorySource>(kcore, "vmcore.0"));
        return std::make_unique<Kernel>(std::make_unique<OsFormat>(std::move(format), os), namelist);
    }

    std::string os;
    TempDir dir;
    synth::CrashedMachine machine;
    StructLayouts layouts;
    std::string kernel_path;
    synth::PlantedProcesses planted;
    Bytes kcore;
};

struct BsdListing {
    std::vector<ProcInfo> rows;  // in walk order
    std::vector<std::string> warnings;

    std::vector<std::int32_t> sorted_pids() const {
        std::vector<std::int32_t> out;
        for (const auto& r : rows)
            out.push_back(r.pid);
        std::sort(out.begin(), out.end());
        return out;
    }
    const ProcInfo& row(std::int32_t pid, std::int32_t lid = 0) const {
        for (const auto& r : rows)
            if (r.pid == pid && (lid == 0 || r.lid == lid)) return r;
        throw std::runtime_error(fmt::format("no row for pid {} lid {}", pid, lid));
    }
};

inline BsdListing walk_bsd(const Kernel& kernel, const WalkOptions& options = {},
                           std::optional<std::string> layout_file = std::nullopt) {
    const auto walker = make_process_walker(
        {.kernel = &kernel, .layout_file = std::move(layout_file), .layout_dirs = {shipped_layouts_dir()}});
    BsdListing l;
    walker->walk(
        options, [&](const ProcInfo& p) { l.rows.push_back(p); },
        [&](const Error& e) { l.warnings.push_back(e.what()); });
    return l;
}

inline std::string ps_table(std::vector<ProcInfo> rows, std::string_view format = "") {
    sort_ps(rows);
    const auto columns = format.empty() ? default_ps_format() : parse_ps_format(format);
    return format_ps_table(rows, columns);
}

// The same layouts with every member of the structures named moved by
// `shift` bytes (and the structures grown by as much): a layout no
// walker has seen.
inline StructLayouts shifted(StructLayouts l, const std::vector<std::string>& structs, std::uint64_t shift) {
    for (const auto& name : structs) {
        StructLayout& s = l.structs.at(name);
        s.size += shift;
        for (MemberLayout& m : s.members) {
            m.offset += shift;
            if (m.is_bitfield()) m.bit_offset += shift * 8;
        }
    }
    l.release = "shifted";
    l.derived = fmt::format("{} with members moved by {} bytes, for a test", l.derived, shift);
    return l;
}

}  // namespace kvm::test
