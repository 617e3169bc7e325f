// The fuzz targets' shared setup (fuzz_setup.h).
#include "fuzz_setup.h"

#include <kvm/format.h>
#include <kvm/namelist.h>
#include <kvm/netbsd.h>
#include <kvm/ps.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <system_error>

#ifndef KVMKIT_SOURCE_DIR
#error "KVMKIT_SOURCE_DIR must name the repository (tests/fuzz/CMakeLists.txt defines it)"
#endif

namespace kvm::fuzz {

void broken_promise(const std::string& what) {
    std::fprintf(stderr, "fuzz: %s\n", what.c_str());
    std::abort();
}

namespace {

class Scratch {
public:
    Scratch() {
        std::error_code ec;
        std::string base = std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : std::filesystem::temp_directory_path().string();
        std::string tmpl = base + "/kvmkit-fuzz-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) broken_promise("cannot make a scratch directory in " + base);
        path_ = tmpl;
    }
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace

const std::string& scratch_dir() {
    static const Scratch scratch;
    return scratch.path();
}

std::string write_scratch_file(const std::string& name, ByteSpan data) {
    const std::string path = scratch_dir() + "/" + name;
    synth::write_file(path, data);
    return path;
}

void empty_directory(const std::string& dir) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        std::filesystem::remove_all(entry.path(), ec);
}

// ---------------------------------------------------------------- patched memory

PatchedMemory::PatchedMemory(Bytes base, std::string name, ByteOrder order)
    : base_(std::move(base)), name_(std::move(name)), order_(order) {}

std::size_t PatchedMemory::read_at(std::uint64_t offset, MutableByteSpan out) const {
    if (offset >= base_.size()) return 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), base_.size() - offset));
    std::memcpy(out.data(), base_.data() + offset, n);
    auto it = std::lower_bound(patched_.begin(), patched_.end(), offset,
                               [](const auto& p, std::uint64_t o) { return p.first < o; });
    for (; it != patched_.end() && it->first < offset + n; ++it)
        out[it->first - offset] = it->second;
    if (recording_ && n > 0) recorded_.push_back({offset, n});
    return n;
}

void PatchedMemory::start_recording() {
    recorded_.clear();
    recording_ = true;
}

void PatchedMemory::end_recording() {
    recording_ = false;
    std::sort(recorded_.begin(), recorded_.end(), [](const Range& a, const Range& b) { return a.offset < b.offset; });
    ranges_.clear();
    for (const Range& r : recorded_) {
        if (!ranges_.empty() && r.offset <= ranges_.back().offset + ranges_.back().length) {
            Range& last = ranges_.back();
            last.length = std::max(last.length, r.offset + r.length - last.offset);
        } else {
            ranges_.push_back(r);
        }
    }
    recorded_.clear();
    starts_.clear();
    total_ = 0;
    for (const Range& r : ranges_) {
        starts_.push_back(total_);
        total_ += r.length;
    }
}

std::uint64_t PatchedMemory::offset_of(std::uint64_t pos) const {
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), pos);
    const std::size_t i = static_cast<std::size_t>(it - starts_.begin()) - 1;
    return ranges_[i].offset + (pos - starts_[i]);
}

std::optional<std::uint64_t> PatchedMemory::position_of(std::uint64_t offset) const {
    for (std::size_t i = 0; i < ranges_.size(); ++i)
        if (offset >= ranges_[i].offset && offset - ranges_[i].offset < ranges_[i].length)
            return starts_[i] + (offset - ranges_[i].offset);
    return std::nullopt;
}

void PatchedMemory::apply(ByteSpan input) {
    patched_.clear();
    if (total_ == 0) return;
    std::map<std::uint64_t, std::byte> patch;
    const auto pos_at = [&](std::size_t at) {
        return (std::to_integer<std::uint64_t>(input[at]) | std::to_integer<std::uint64_t>(input[at + 1]) << 8 |
                std::to_integer<std::uint64_t>(input[at + 2]) << 16) %
               total_;
    };
    const auto clean = [&](std::uint64_t pos, unsigned i) { return base_[offset_of((pos + i) % total_)]; };
    const auto put = [&](std::uint64_t pos, unsigned i, std::byte b) { patch[offset_of((pos + i) % total_)] = b; };
    std::size_t at = 0;
    while (at < input.size()) {
        const auto op = std::to_integer<unsigned>(input[at]);
        const unsigned width = 1u << ((op >> 2) & 3);
        const auto kind = static_cast<Kind>(op & 3);
        const std::size_t need = 1 + 3 + (kind == set ? width : kind == copy ? 3 : kind == add ? 2 : 0);
        if (input.size() - at < need) break;
        const std::uint64_t pos = pos_at(at + 1);
        switch (kind) {
            case set:
                for (unsigned i = 0; i < width; ++i)
                    put(pos, i, input[at + 4 + i]);
                break;
            case copy: {
                const std::uint64_t src = pos_at(at + 4);
                for (unsigned i = 0; i < width; ++i)
                    put(pos, i, clean(src, i));
                break;
            }
            case add: {
                std::byte value[8];
                for (unsigned i = 0; i < width; ++i)
                    value[i] = clean(pos, i);
                const auto delta = static_cast<std::int16_t>(std::to_integer<std::uint16_t>(input[at + 4]) |
                                                             std::to_integer<std::uint16_t>(input[at + 5]) << 8);
                const std::uint64_t v = load_uint(value, width, order_) + static_cast<std::uint64_t>(delta);
                store_uint(value, v, width, order_);
                for (unsigned i = 0; i < width; ++i)
                    put(pos, i, value[i]);
                break;
            }
            case zero:
                for (unsigned i = 0; i < width; ++i)
                    put(pos, i, std::byte{0});
                break;
        }
        at += need;
    }
    patched_.assign(patch.begin(), patch.end());
}

Bytes PatchedMemory::patches_towards(const Bytes& damaged) const {
    if (damaged.size() != base_.size()) broken_promise("a damaged dump of another size than the clean one");
    Bytes out;
    for (const Range& r : ranges_) {
        for (std::uint64_t off = r.offset; off < r.offset + r.length;) {
            if (damaged[off] == base_[off]) {
                ++off;
                continue;
            }
            const std::uint64_t n = std::min<std::uint64_t>(8, r.offset + r.length - off);
            const unsigned width = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
            const std::uint64_t pos = *position_of(off);
            out.push_back(static_cast<std::byte>(set | (std::countr_zero(width) << 2)));
            for (unsigned i = 0; i < 3; ++i)
                out.push_back(static_cast<std::byte>(pos >> (8 * i)));
            out.insert(out.end(), damaged.begin() + static_cast<std::ptrdiff_t>(off),
                       damaged.begin() + static_cast<std::ptrdiff_t>(off + width));
            off += width;
        }
    }
    return out;
}

// ---------------------------------------------------------------- process walkers

std::size_t WalkerFixture::run(ByteSpan patches) const {
    memory->apply(patches);
    kernel->flush_cache();
    static const auto all_columns = [] {
        std::vector<const PsColumn*> c;
        for (const PsColumn& column : ps_columns())
            c.push_back(&column);
        return c;
    }();
    const ProcWarn warn = [](const Error& e) { (void)e.message(); };
    std::size_t first = 0;
    for (const bool per_lwp : {false, true}) {
        std::vector<ProcInfo> rows;
        expect_errors([&] {
            walker->walk(
                {.per_lwp = per_lwp, .environment = true}, [&](const ProcInfo& p) { rows.push_back(p); }, warn);
        });
        if (!per_lwp) first = rows.size();
        for (const ProcInfo& p : rows)
            (void)format_ps_json(p);
        sort_ps(rows);
        (void)format_ps_table(rows, all_columns);
    }
    for (const std::string& tty : tty_names)
        expect_errors([&] { (void)terminal_device(*walker, tty); });
    return first;
}

namespace {

// Opens `image` as a patched dump with `namelist`, makes the walker and
// records what a clean run reads.  `damaged`: the machine was damaged for
// a seed, which may leave no process to list (nprocs 0).
std::unique_ptr<WalkerFixture> open_walker(Bytes image, const std::string& name, ByteOrder order,
                                           std::shared_ptr<const Namelist> namelist, const WalkTarget& target,
                                           std::vector<std::string> ttys, bool damaged) {
    auto f = std::make_unique<WalkerFixture>();
    f->memory = std::make_shared<PatchedMemory>(std::move(image), name, order);
    f->kernel = std::make_unique<Kernel>(open_format(f->memory), std::move(namelist));
    WalkTarget t = target;
    t.kernel = f->kernel.get();
    f->walker = make_process_walker(t);
    f->tty_names = std::move(ttys);
    f->kernel->flush_cache();  // page tables too are part of the walk
    f->memory->start_recording();
    const std::size_t rows = f->run({});
    f->memory->end_recording();
    if (!damaged && rows == 0) broken_promise(fmt::format("the clean {} walk found no process", name));
    return f;
}

// A FreeBSD or DragonFly amd64 machine with `plant`'s processes, as its minidump.
std::unique_ptr<WalkerFixture> bsd_minidump_walker(
    const std::string& os, const std::string& layout_file,
    const std::function<synth::PlantedProcesses(synth::CrashedMachine&, const StructLayouts&)>& plant,
    const NetbsdDamage& damage) {
    const std::string layouts_dir = std::string(KVMKIT_SOURCE_DIR) + "/share/kvmkit/layouts";
    synth::CrashedMachine machine({.arch = "amd64", .seed = 7, .realistic_memory = false, .os = os});
    const StructLayouts layouts = load_layouts_file(layouts_dir + "/" + layout_file);
    const synth::PlantedProcesses planted = plant(machine, layouts);
    if (damage) damage(machine, layouts, planted);
    MemorySink dump;
    machine.write_minidump(dump);
    const std::string kernel = write_scratch_file(os + "-procs", machine.kernel_elf());
    std::shared_ptr<const Namelist> namelist = Namelist::load(kernel);
    // Both trees have pts/0 and ttyv1 (revoked).
    return open_walker(dump.data(), "vmcore.0", machine.order(), std::move(namelist), {.layout_dirs = {layouts_dir}},
                       {"pts/0", "ttyv1", "?", "-"}, static_cast<bool>(damage));
}

}  // namespace

std::unique_ptr<WalkerFixture> make_netbsd_walker(const NetbsdDamage& damage) {
    const std::string layouts_dir = std::string(KVMKIT_SOURCE_DIR) + "/share/kvmkit/layouts";
    synth::CrashedMachine machine({.arch = "amd64", .seed = 7, .realistic_memory = false});
    const StructLayouts layouts = load_layouts_file(layouts_dir + "/netbsd-10-amd64.json");
    const synth::PlantedProcesses planted =
        synth::plant_processes(machine, layouts, synth::with_arguments(synth::default_process_tree()));
    if (damage) damage(machine, layouts, planted);
    MemorySink core;
    machine.write_kcore(core, machine.prepare_dump({.sparse = true}));
    const std::string kernel = write_scratch_file("netbsd", machine.kernel_elf());
    std::shared_ptr<const Namelist> namelist = Namelist::load(kernel);
    return open_walker(core.data(), "netbsd.0.core", machine.order(), std::move(namelist),
                       {.layout_dirs = {layouts_dir}}, {"pts/0", "ttyE0", "co", "?", "-"}, static_cast<bool>(damage));
}

std::unique_ptr<WalkerFixture> make_freebsd_walker(const FreebsdDamage& damage) {
    return bsd_minidump_walker(
        "freebsd", "freebsd-14-amd64.json",
        [](synth::CrashedMachine& m, const StructLayouts& l) {
            return synth::plant_freebsd_processes(m, l, synth::freebsd::process_tree());
        },
        damage);
}

std::unique_ptr<WalkerFixture> make_dragonfly_walker(const DragonflyDamage& damage) {
    return bsd_minidump_walker(
        "dragonfly", "dragonfly-5-amd64.json",
        [](synth::CrashedMachine& m, const StructLayouts& l) {
            return synth::plant_dragonfly_processes(m, l, synth::dragonfly::process_tree());
        },
        damage);
}

std::unique_ptr<WalkerFixture> make_linux_walker(const LinuxDamage& damage) {
    kvmtest::LinuxMachine machine;
    const std::string layout_file = kvmtest::linux_layout_path();
    const StructLayouts layouts = load_layouts_file(layout_file);
    const kvmtest::PlantedTasks planted = kvmtest::plant_tasks(machine, layouts, kvmtest::default_linux_tree());
    if (damage) damage(machine, layouts, planted);
    return open_walker(machine.elf_qemu(), "vmcore", ByteOrder::little,
                       std::make_shared<Namelist>("System.map", machine.symbol_table()), {.layout_file = layout_file},
                       {"pts/0", "ttyS0", "/dev/ttyS3", "?"}, static_cast<bool>(damage));
}

// ---------------------------------------------------------------- module lists

std::size_t ModuleFixture::run(ByteSpan patches) const {
    memory->apply(patches);
    kernel->flush_cache();
    ModuleListing listing;
    expect_errors([&] { listing = reader->read(true, [](const Error& e) { (void)e.message(); }); });
    (void)format_modules_table(listing);
    for (const ModuleInfo& m : listing.modules)
        (void)format_module_json(m);
    const ModuleSymbols symbols(listing);
    for (const ModuleInfo& m : listing.modules)
        for (const auto& [base, size] : m.ranges)
            for (const std::uint64_t at : {base, base + size / 2, base + size - 1})
                if (const auto hit = symbols.nearest(at);
                    hit && (hit->symbol->value > at || hit->offset != at - hit->symbol->value))
                    broken_promise("a module symbol lookup answered a symbol after the address");
    for (const Symbol& s : listing.symbols)
        if (symbols.find(s.name).empty()) broken_promise("a module symbol is not found by its name");
    return listing.modules.size();
}

std::unique_ptr<ModuleFixture> make_linux_modules(const LinuxModuleDamage& damage) {
    kvmtest::LinuxMachine machine;
    const std::string layout_file = kvmtest::linux_module_layout_path();
    const StructLayouts layouts = load_layouts_file(layout_file);
    const kvmtest::PlantedModules planted = kvmtest::plant_modules(machine, layouts, kvmtest::default_linux_modules());
    if (damage) damage(machine, layouts, planted);
    auto f = std::make_unique<ModuleFixture>();
    f->memory = std::make_shared<PatchedMemory>(machine.elf_qemu(), "vmcore", ByteOrder::little);
    f->kernel = std::make_unique<Kernel>(open_format(f->memory),
                                         std::make_shared<Namelist>("System.map", machine.symbol_table()));
    f->reader = make_module_reader(*f->kernel, {.layout_file = layout_file});
    f->kernel->flush_cache();  // page tables too are part of the read
    f->memory->start_recording();
    const std::size_t modules = f->run({});
    f->memory->end_recording();
    if (!damage && modules != 3) broken_promise(fmt::format("the clean module list has {} modules, not 3", modules));
    return f;
}

std::unique_ptr<ModuleFixture> make_bsd_modules(const BsdModuleDamage& damage) {
    const std::string layouts_dir = std::string(KVMKIT_SOURCE_DIR) + "/share/kvmkit/layouts";
    synth::CrashedMachine machine({.arch = "amd64", .seed = 7, .realistic_memory = false, .os = "freebsd"});
    machine.write_string(machine.symbol("osrelease"), "14.1");
    const StructLayouts layouts = load_layouts_file(layouts_dir + "/freebsd-14-amd64.json");
    const synth::PlantedLinkerFiles planted =
        synth::plant_linker_files(machine, layouts, synth::default_linker_files("freebsd"));
    if (damage) damage(machine, layouts, planted);
    MemorySink dump;
    machine.write_minidump(dump);
    const std::string kernel = write_scratch_file("freebsd", machine.kernel_elf());
    std::shared_ptr<const Namelist> namelist = Namelist::load(kernel);
    auto f = std::make_unique<ModuleFixture>();
    f->memory = std::make_shared<PatchedMemory>(dump.data(), "vmcore.0", ByteOrder::little);
    f->kernel = std::make_unique<Kernel>(open_format(f->memory, {.namelist = namelist.get()}), namelist);
    f->reader = make_module_reader(*f->kernel, {.layout_dirs = {layouts_dir}});
    f->kernel->flush_cache();
    f->memory->start_recording();
    const std::size_t files = f->run({});
    f->memory->end_recording();
    if (!damage && files != 4) broken_promise(fmt::format("the clean linker_files list has {} files, not 4", files));
    return f;
}

std::unique_ptr<ModuleFixture> make_netbsd_modules(const NetbsdModuleDamage& damage) {
    const std::string layouts_dir = std::string(KVMKIT_SOURCE_DIR) + "/share/kvmkit/layouts";
    synth::CrashedMachine machine({.arch = "amd64", .seed = 7, .realistic_memory = false});
    const StructLayouts layouts = load_layouts_file(layouts_dir + "/netbsd-10-amd64.json");
    const synth::PlantedNetbsdModules planted =
        synth::plant_netbsd_modules(machine, layouts, synth::default_netbsd_modules());
    if (damage) damage(machine, layouts, planted);
    MemorySink core;
    machine.write_kcore(core, machine.prepare_dump({.sparse = true}));
    const std::string kernel = write_scratch_file("netbsd-modules", machine.kernel_elf());
    std::shared_ptr<const Namelist> namelist = Namelist::load(kernel);
    auto f = std::make_unique<ModuleFixture>();
    f->memory = std::make_shared<PatchedMemory>(core.data(), "netbsd.0.core", machine.order());
    f->kernel = std::make_unique<Kernel>(open_format(f->memory), namelist);
    f->reader = make_module_reader(*f->kernel, {.layout_dirs = {layouts_dir}});
    f->kernel->flush_cache();
    f->memory->start_recording();
    const std::size_t modules = f->run({});
    f->memory->end_recording();
    if (!damage && modules != 5) broken_promise(fmt::format("the clean module_list has {} modules, not 5", modules));
    return f;
}

// ---------------------------------------------------------------- savecore

namespace {

constexpr std::int64_t savecore_crash_time = 1732200000;

struct SavecoreMachine {
    synth::CrashedMachine machine{
        {.arch = "amd64", .seed = 3, .realistic_memory = false, .crash_time = savecore_crash_time}};

    // The pages of RAM written and not all zero: what savecore reads is in
    // them (the variables, the page tables), and the dump stays small.
    std::vector<netbsd::RamSegment> segments() {
        machine.prepare_dump({.sparse = true}, 16);  // sets dumplo; dumpsize is set below
        std::vector<netbsd::RamSegment> out;
        Bytes page(4096);
        const auto collect = [&] {
            out.clear();
            for (const auto& seg : machine.memory().ram())
                for (std::uint64_t pa = seg.start; pa < seg.start + seg.size; pa += page.size()) {
                    if (!machine.memory().is_written(pa)) continue;
                    machine.memory().read(pa, page);
                    if (std::all_of(page.begin(), page.end(), [](std::byte b) { return b == std::byte{0}; })) continue;
                    if (!out.empty() && out.back().start + out.back().size == pa) {
                        out.back().size += page.size();
                    } else {
                        out.push_back({pa, page.size()});
                    }
                }
        };
        collect();
        std::uint64_t pages = 0;
        for (const auto& s : out)
            pages += s.size / page.size();
        machine.write_uint(machine.symbol("dumpsize"), pages, 4);
        collect();
        return out;
    }

    Bytes device_dump() {
        const auto segs = segments();
        MemorySink out;
        machine.write_device_dump(out, segs);
        return out.data();
    }
};

}  // namespace

const SavecoreFixture& savecore_fixture() {
    static const SavecoreFixture fixture = [] {
        SavecoreMachine m;
        return SavecoreFixture{.kernel = write_scratch_file("netbsd-savecore", m.machine.kernel_elf()),
                               .crash_time = savecore_crash_time};
    }();
    return fixture;
}

std::vector<std::pair<std::string, Bytes>> savecore_devices() {
    std::vector<std::pair<std::string, Bytes>> out;
    {
        SavecoreMachine m;
        Bytes device(16 * netbsd::dev_bsize);
        for (std::size_t i = 0; i < device.size(); ++i)
            device[i] = static_cast<std::byte>((i * 131 + 7) & 0xff);  // old swap contents
        const Bytes dump = m.device_dump();
        device.insert(device.end(), dump.begin(), dump.end());
        out.emplace_back("one", std::move(device));
    }
    {
        SavecoreMachine m;
        const std::uint64_t dumpmag = m.machine.symbol("dumpmag");
        m.machine.write_uint(dumpmag, 0, 4);  // saved already: savecore cleared its dumpmag
        Bytes device = m.device_dump();
        device.resize(align_up(device.size(), netbsd::dev_bsize));
        m.machine.write_uint(dumpmag, netbsd::dumpmag_value, 4);
        const Bytes live = m.device_dump();
        device.insert(device.end(), live.begin(), live.end());
        out.emplace_back("saved-then-live", std::move(device));
    }
    return out;
}

}  // namespace kvm::fuzz
