// What the fuzz targets (and make_seeds, which writes their seeds) share:
// error handling, a scratch directory, and the synthetic machines the
// walker and savecore targets run on, built once per process.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/modules.h>
#include <kvm/procs.h>
#include <kvm/synth.h>
#include <kvm/synth_modules.h>
#include <kvm/synth_procs.h>

#include "linux_modules_fixture.h"
#include "linux_procs_fixture.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvm::fuzz {

inline Bytes input_bytes(const std::uint8_t* data, std::size_t size) {
    Bytes b(size);
    if (size > 0) std::memcpy(b.data(), data, size);
    return b;
}

// Runs `f`: a kvm::Error is what bad input should get; anything else (a
// std::out_of_range, a bad_alloc) escapes and libFuzzer reports it.
template <typename F>
void expect_errors(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        (void)e.message();  // the message is built from the input too
    }
}

// Stops the run with a message: an input broke a promise of the library
// (a round trip that is not one), which no sanitizer would notice.
[[noreturn]] void broken_promise(const std::string& what);

// This process's directory for the files the library insists on (a
// namelist, a symbol index, savecore's output), on tmpfs when there is one
// (savecore fsyncs every file), removed at exit.
const std::string& scratch_dir();
std::string write_scratch_file(const std::string& name, ByteSpan data);
// Removes everything in `dir` (not `dir` itself).
void empty_directory(const std::string& dir);

// ---------------------------------------------------------------- patched memory

// A dump in memory whose bytes the fuzz input patches, so that walkers see
// a meaningful dump with a few hostile values rather than random bytes.
// A clean run records which byte ranges it read (the read set, numbered
// 0..N-1 in file order); the input patches only those.  The input is a
// sequence of patches, applied in order:
//   op (1 byte): bits 0-1 the kind, bits 2-3 log2 of the width (1, 2, 4, 8 bytes)
//   kind 0, set:  pos (3 bytes), then `width` bytes, written as they are
//   kind 1, copy: dst pos (3), src pos (3): the clean bytes at src written
//                 at dst (a pointer moved elsewhere: cycles, shared objects)
//   kind 2, add:  pos (3), delta (2 bytes, signed): added to the integer at
//                 pos, in the dump's byte order (a pointer or a count a little off)
//   kind 3, zero: pos (3): `width` zero bytes (a NULL pointer, a zero count)
// Positions are little-endian, modulo N; an incomplete patch at the end is
// ignored.  An empty input is the clean dump.
class PatchedMemory final : public ByteSource {
public:
    struct Range {
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    enum Kind : std::uint8_t { set = 0, copy = 1, add = 2, zero = 3 };

    PatchedMemory(Bytes base, std::string name, ByteOrder order);

    std::uint64_t size() const override { return base_.size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override;
    const std::string& name() const override { return name_; }

    // Records the ranges read from now until read_set() is called, which
    // makes them the bytes patches apply to.
    void start_recording();
    void end_recording();
    std::uint64_t patchable() const noexcept { return total_; }
    const std::vector<Range>& read_set() const noexcept { return ranges_; }
    // The file offset of read-set position `pos` (< patchable()), and the
    // position of a file offset (nullopt outside the read set).
    std::uint64_t offset_of(std::uint64_t pos) const;
    std::optional<std::uint64_t> position_of(std::uint64_t offset) const;

    // Replaces the patches with those `input` encodes.
    void apply(ByteSpan input);
    const Bytes& base() const noexcept { return base_; }

    // The input that turns the clean dump into `damaged` within the read
    // set (set patches of 8 bytes at most): how seeds are written.
    Bytes patches_towards(const Bytes& damaged) const;

private:
    Bytes base_;
    std::string name_;
    ByteOrder order_;
    bool recording_ = false;
    mutable std::vector<Range> recorded_;
    std::vector<Range> ranges_;
    std::vector<std::uint64_t> starts_;  // read-set position of each range
    std::uint64_t total_ = 0;
    std::vector<std::pair<std::uint64_t, std::byte>> patched_;  // file offset -> byte, sorted
};

// ---------------------------------------------------------------- process walkers

// A synthetic crashed machine with processes, opened once: its dump is a
// PatchedMemory whose read set is what one clean run() read.
struct WalkerFixture {
    std::shared_ptr<PatchedMemory> memory;
    std::unique_ptr<Kernel> kernel;
    std::unique_ptr<ProcessWalker> walker;
    std::vector<std::string> tty_names;  // terminals run() looks up

    // Walks with the input's patches applied: every process, then every
    // LWP, each row formatted as kvmps prints it (table and JSON), and the
    // terminals looked up.  Returns the rows of the first walk.
    std::size_t run(ByteSpan patches) const;
};

// Damage done to a machine after its processes are planted, before its
// dump is written: make_seeds turns it into the patches that do the same.
using NetbsdDamage = std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedProcesses&)>;
using FreebsdDamage = NetbsdDamage;  // the same planted processes
using DragonflyDamage = NetbsdDamage;
using LinuxDamage = std::function<void(kvmtest::LinuxMachine&, const StructLayouts&, const kvmtest::PlantedTasks&)>;

// NetBSD 10 amd64 with synth::default_process_tree() planted through the
// shipped layouts, with its processes' arguments (synth::with_arguments), as
// a sparse kcore.
std::unique_ptr<WalkerFixture> make_netbsd_walker(const NetbsdDamage& damage = {});
// FreeBSD 14 amd64 with synth::freebsd::process_tree() planted through the
// shipped layouts (13.0 onwards: the zombie in the pid hash alone), as a
// minidump.  A kernel dump holds no user memory: no arguments to plant.
std::unique_ptr<WalkerFixture> make_freebsd_walker(const FreebsdDamage& damage = {});
// DragonFly 5.8 amd64 with synth::dragonfly::process_tree() planted through
// the shipped layouts (the procglob hash, LWP red-black trees), as a minidump.
std::unique_ptr<WalkerFixture> make_dragonfly_walker(const DragonflyDamage& damage = {});
// Linux 6.1 amd64 with kvmtest::default_linux_tree() planted through the
// real kernel's layouts, as a QEMU ELF core.
std::unique_ptr<WalkerFixture> make_linux_walker(const LinuxDamage& damage = {});

// ---------------------------------------------------------------- savecore

// The crashed NetBSD amd64 machine whose kernel savecore is given (-N):
// the kernel file in the scratch directory, and the crash time.
struct SavecoreFixture {
    std::string kernel;
    std::int64_t crash_time = 0;
};
const SavecoreFixture& savecore_fixture();

// Swap devices holding that machine's dump (only its non-zero pages, so a
// few dozen KiB): "one" junk then the dump; "saved-then-live" an old dump
// already saved (dumpmag cleared) before the live one.
std::vector<std::pair<std::string, Bytes>> savecore_devices();

// ---------------------------------------------------------------- module lists

// A synthetic Linux machine with kvmtest::default_linux_modules() planted
// through a real kernel's layouts, opened once as a patched dump whose read
// set is what one clean run() read.
struct ModuleFixture {
    std::shared_ptr<PatchedMemory> memory;
    std::unique_ptr<Kernel> kernel;
    std::unique_ptr<ModuleReader> reader;
    // Reads the modules and their symbols with the input's patches
    // applied, prints them as kvmmod does and looks addresses and names up
    // as kvmnm does.  Returns the modules read.
    std::size_t run(ByteSpan patches) const;
};
using LinuxModuleDamage =
    std::function<void(kvmtest::LinuxMachine&, const StructLayouts&, const kvmtest::PlantedModules&)>;
std::unique_ptr<ModuleFixture> make_linux_modules(const LinuxModuleDamage& damage = {});
// A synthetic FreeBSD 14 amd64 machine with synth::default_linker_files()
// planted through the shipped layouts, as a minidump.
using BsdModuleDamage =
    std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedLinkerFiles&)>;
std::unique_ptr<ModuleFixture> make_bsd_modules(const BsdModuleDamage& damage = {});
// A synthetic NetBSD 10 amd64 machine with synth::default_netbsd_modules()
// planted through the shipped layouts, as a kcore.
using NetbsdModuleDamage =
    std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedNetbsdModules&)>;
std::unique_ptr<ModuleFixture> make_netbsd_modules(const NetbsdModuleDamage& damage = {});

}  // namespace kvm::fuzz
