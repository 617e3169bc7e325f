// savecore as a library: synthetic crashes on swap images are saved,
// cleared, checked and refused, and every message is compared in full.
#include <kvm/compress.h>
#include <kvm/elf.h>
#include <kvm/kernel.h>
#include <kvm/netbsd.h>
#include <kvm/save.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include "save_test_util.h"
#include "sink_helpers.h"
#include "test_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>

using namespace kvm;
using kvm::save::Mode;
using kvm::save::Outcome;
using kvm::save::Priority;
using kvm::test::TempDir;
using namespace kvm::test::save_util;

namespace {

constexpr std::int64_t crash_time = 1732200000;  // Thu Nov 21 14:40:00 2024 UTC
const std::string panic_line =
    "reboot after panic: kernel diagnostic assertion \"l->l_stat == LSONPROC\" failed: file "
    "\"/usr/src/sys/kern/kern_synch.c\", line 735";
const std::string down_line = "system went down at Thu Nov 21 14:40:00 2024";

// A crashed machine whose dump sits at the end of a swap image, its kernel
// file, the core file savecore should write, and an empty crash directory.
struct Crash {
    explicit Crash(synth::MachineSpec spec = {}, std::uint64_t device_size = 0) : machine(std::move(spec)) {
        dumplo = machine.write_swap_image(swap, {}, device_size);
        segments = machine.prepare_dump({}, static_cast<std::int64_t>(dumplo));
        synth::write_file(kernel, machine.kernel_elf());
        MemorySink k;
        machine.write_kcore(k, segments);
        kcore = k.data();
        std::filesystem::create_directory(crash);
        device = file_bytes(swap);
        header_size = machine.device_dump_size(segments);
        for (const auto& s : segments)
            header_size -= s.size;
    }

    save::Options options(Mode mode = Mode::save) const {
        save::Options o;
        o.mode = mode;
        o.directory = crash;
        o.devices = {swap};
        o.system = kernel;
        o.now = crash_time + 3600;
        return o;
    }

    std::uint64_t memory_offset() const { return dumplo * 512 + header_size; }

    // Where a kernel variable lives on the device and in the core file.
    std::uint64_t device_offset(const std::string& symbol) const {
        const std::uint64_t pa = machine.virt_to_phys(machine.symbol(symbol));
        std::uint64_t off = 0;
        for (const auto& s : segments) {
            if (pa >= s.start && pa < s.start + s.size) return memory_offset() + off + (pa - s.start);
            off += s.size;
        }
        FAIL("not in the dump: " << symbol);
        return 0;
    }

    // Changes a variable in the dump (on the device and in the expected core).
    void patch(const std::string& symbol, std::uint64_t value, unsigned width) {
        const std::uint64_t dev = device_offset(symbol);
        store_uint(device.data() + dev, value, width, ByteOrder::little);
        store_uint(kcore.data() + (kcore.size() - (device.size() - dev)), value, width, ByteOrder::little);
        // kcore memory ends where the device's does only when the dump fills
        // the device to its end, which write_swap_image guarantees.
        synth::write_file(swap, device);
    }

    void patch_device(std::uint64_t offset, ByteSpan bytes) {
        std::copy(bytes.begin(), bytes.end(), device.begin() + static_cast<std::ptrdiff_t>(offset));
        synth::write_file(swap, device);
    }

    // Offsets of device bytes that differ from the image as written.
    std::vector<std::uint64_t> changed_bytes() const {
        const Bytes now = file_bytes(swap);
        REQUIRE(now.size() == device.size());
        std::vector<std::uint64_t> changed;
        for (std::size_t i = 0; i < now.size(); ++i)
            if (now[i] != device[i]) changed.push_back(i);
        return changed;
    }

    std::vector<std::uint64_t> dumpmag_bytes() const {
        const std::uint64_t at = device_offset("dumpmag");
        return {at, at + 1, at + 2, at + 3};
    }

    Utc utc;
    TempDir dir;
    std::string swap = dir / "swap.img";
    std::string kernel = dir / "netbsd";
    std::string crash = dir / "crash";
    synth::CrashedMachine machine;
    std::uint64_t dumplo = 0;
    std::vector<netbsd::RamSegment> segments;
    std::uint64_t header_size = 0;
    Bytes kcore;
    Bytes device;
};

// A device whose large reads (savecore's copy, not the header scan or the
// kernel reads) end early or fail at `fail_at`; it counts writes.
class FaultyDevice final : public ByteSource {
public:
    FaultyDevice(std::shared_ptr<ByteSource> inner, std::uint64_t fail_at, bool io_error, int& writes)
        : inner_(std::move(inner)), fail_at_(fail_at), io_error_(io_error), writes_(writes) {}
    std::uint64_t size() const override { return inner_->size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        if (out.size() < (2u << 20) || offset + out.size() <= fail_at_) return inner_->read_at(offset, out);
        if (io_error_) {
            Error e(ErrorKind::io,
                    fmt::format("read of {} bytes at offset {:#x} failed: Input/output error", out.size(), offset));
            e.with_path(name());
            throw e;
        }
        if (offset >= fail_at_) return 0;
        return inner_->read_at(offset, out.first(fail_at_ - offset));
    }
    void write_at(std::uint64_t offset, ByteSpan data) override {
        ++writes_;
        inner_->write_at(offset, data);
    }
    const std::string& name() const override { return inner_->name(); }

private:
    std::shared_ptr<ByteSource> inner_;
    std::uint64_t fail_at_;
    bool io_error_;
    int& writes_;
};

// A device that raises the signal flag on its first read, as if SIGTERM
// arrived then, and counts the reads.
class SignalOnRead final : public ByteSource {
public:
    SignalOnRead(std::shared_ptr<ByteSource> inner, std::atomic<bool>& signalled, int& reads)
        : inner_(std::move(inner)), signalled_(signalled), reads_(reads) {}
    std::uint64_t size() const override { return inner_->size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        ++reads_;
        signalled_ = true;
        return inner_->read_at(offset, out);
    }
    const std::string& name() const override { return inner_->name(); }

private:
    std::shared_ptr<ByteSource> inner_;
    std::atomic<bool>& signalled_;
    int& reads_;
};

}  // namespace

TEST_CASE("savecore saves the dump as netbsd.0.core and netbsd.0, then clears it; a second run finds no dump") {
    Crash c;
    Captured log;
    const save::Result r = save::run(c.options(), log);
    CHECK(r.exit_status() == 0);
    REQUIRE(r.devices.size() == 1);
    CHECK(r.devices[0].outcome == Outcome::saved);
    CHECK(r.devices[0].dump_offset == c.dumplo * 512);
    CHECK(r.devices[0].core == c.crash + "/netbsd.0.core");
    CHECK(r.devices[0].kernel == c.crash + "/netbsd.0");
    CHECK(r.devices[0].core_size == c.kcore.size());
    CHECK(log.lines == std::vector<std::pair<Priority, std::string>>{
                           {Priority::alert, panic_line},
                           {Priority::notice, down_line},
                           {Priority::warning, c.crash + "/bounds: no such file; starting at 0"},
                           {Priority::notice, "writing core to " + c.crash + "/netbsd.0.core"},
                           {Priority::notice, "writing kernel to " + c.crash + "/netbsd.0"},
                       });
    CHECK(listing(c.crash) == std::vector<std::string>{"bounds", "netbsd.0", "netbsd.0.core"});
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == c.kcore);
    CHECK(file_bytes(c.crash + "/netbsd.0") == file_bytes(c.kernel));
    CHECK(file_bytes(c.crash + "/bounds") == to_bytes("1\n"));
    for (const char* name : {"netbsd.0.core", "netbsd.0", "bounds"})
        CHECK(mode_of(c.crash + "/" + name) == 0600);
    // Only dumpmag changed on the device.
    CHECK(c.changed_bytes() == c.dumpmag_bytes());

    Captured again;
    save::Options verbose = c.options();
    verbose.verbose = true;
    const save::Result r2 = save::run(verbose, again);
    CHECK(r2.exit_status() == 1);
    CHECK(r2.devices[0].outcome == Outcome::no_dump);
    CHECK(again.messages() ==
          std::vector<std::string>{
              "checking for a dump on " + c.swap,
              fmt::format("{}: amd64 dump at offset {:#x} (dumplo {}): 18472960 bytes of memory in 3 segments", c.swap,
                          c.dumplo * 512, c.dumplo),
              c.swap + ": magic number mismatch (0x0 != 0x8fca0101)",
              c.swap + ": no core dump",
          });
    CHECK(listing(c.crash) == std::vector<std::string>{"bounds", "netbsd.0", "netbsd.0.core"});
}

TEST_CASE("savecore -v says what it does") {
    Crash c;
    Captured log;
    save::Options o = c.options();
    o.verbose = true;
    CHECK(save::run(o, log).exit_status() == 0);
    const std::vector<std::string> m = log.messages();
    REQUIRE(m.size() == 9);
    CHECK(m[0] == "checking for a dump on " + c.swap);
    CHECK(m[1] == fmt::format("{}: amd64 dump at offset {:#x} (dumplo {}): 18472960 bytes of memory in 3 segments",
                              c.swap, c.dumplo * 512, c.dumplo));
    CHECK(m[2] == panic_line);
    CHECK(m[3] == down_line);
    // Free space depends on the host; the rest of the line does not.
    struct stat st {};
    REQUIRE(::stat(c.kernel.c_str(), &st) == 0);
    const std::uint64_t needed = (c.kcore.size() + static_cast<std::uint64_t>(st.st_blocks) * 512) / 1024;
    CHECK(m[4].rfind(c.crash + ": ", 0) == 0);
    CHECK(m[4].find(fmt::format(" KB free, {} KB needed, 0 KB to keep free", needed)) != std::string::npos);
    CHECK(m[5] == c.crash + "/bounds: no such file; starting at 0");
    CHECK(m[6] == "writing core to " + c.crash + "/netbsd.0.core");
    CHECK(m[7] == "writing kernel to " + c.crash + "/netbsd.0");
    CHECK(m[8] == c.swap + ": dump cleared");
}

TEST_CASE("savecore -z writes gzip members of the core and of the kernel, read in place") {
    Crash c;
    Captured log;
    save::Options o = c.options();
    o.compress = true;
    o.level = 6;
    o.threads = 2;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    CHECK(log.said(Priority::notice, "writing compressed core to " + c.crash + "/netbsd.0.core.gz"));
    CHECK(log.said(Priority::notice, "writing compressed kernel to " + c.crash + "/netbsd.0.gz"));
    CHECK(listing(c.crash) == std::vector<std::string>{"bounds", "netbsd.0.core.gz", "netbsd.0.gz"});
    // One member per MiB and the end-of-file member.
    const test::Gunzipped core = test::gunzip(file_bytes(c.crash + "/netbsd.0.core.gz"));
    CHECK(core.data == c.kcore);
    CHECK(core.members == static_cast<int>((c.kcore.size() + (1u << 20) - 1) / (1u << 20) + 1));
    const test::Gunzipped kernel = test::gunzip(file_bytes(c.crash + "/netbsd.0.gz"));
    CHECK(kernel.data == file_bytes(c.kernel));
    CHECK(kernel.members == static_cast<int>((kernel.data.size() + (1u << 20) - 1) / (1u << 20) + 1));
    CHECK(mode_of(c.crash + "/netbsd.0.core.gz") == 0600);
    CHECK(c.changed_bytes() == c.dumpmag_bytes());
    const auto in_place = open_decompressed(open_file(c.crash + "/netbsd.0.core.gz"));
    CHECK(in_place->read_bytes(0, c.kcore.size(), "the core") == c.kcore);
}

TEST_CASE("savecore --zstd writes zstd frames and a seek table, read in place") {
    Crash c;
    Captured log;
    save::Options o = c.options();
    o.zstd = true;
    o.threads = 2;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    CHECK(log.said(Priority::notice, "writing compressed core to " + c.crash + "/netbsd.0.core.zst"));
    CHECK(log.said(Priority::notice, "writing compressed kernel to " + c.crash + "/netbsd.0.zst"));
    CHECK(listing(c.crash) == std::vector<std::string>{"bounds", "netbsd.0.core.zst", "netbsd.0.zst"});
    const auto core = open_decompressed(open_file(c.crash + "/netbsd.0.core.zst"));
    CHECK(core->read_bytes(0, c.kcore.size(), "the core") == c.kcore);
    const auto kernel = open_decompressed(open_file(c.crash + "/netbsd.0.zst"));
    CHECK(kernel->read_bytes(0, kernel->size(), "the kernel") == file_bytes(c.kernel));
    CHECK(mode_of(c.crash + "/netbsd.0.core.zst") == 0600);
}

TEST_CASE("savecore -n: exit 0 with a dump, 1 without, and nothing is written") {
    Crash c;
    Captured log;
    const save::Result r = save::run(c.options(Mode::check), log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].outcome == Outcome::present);
    CHECK(log.lines.empty());
    CHECK(listing(c.crash).empty());
    CHECK(c.changed_bytes().empty());

    // -n needs no directory.
    save::Options no_dir = c.options(Mode::check);
    no_dir.directory = c.dir / "nonexistent";
    CHECK(save::run(no_dir, log).exit_status() == 0);

    CHECK(save::run(c.options(Mode::clear), log).exit_status() == 0);
    Captured after;
    const save::Result r2 = save::run(c.options(Mode::check), after);
    CHECK(r2.exit_status() == 1);
    CHECK(r2.devices[0].outcome == Outcome::no_dump);
    CHECK(after.messages() == std::vector<std::string>{c.swap + ": no core dump"});
}

TEST_CASE("savecore -c clears dumpmag and nothing else; the directory is not touched") {
    Crash c;
    Captured log;
    save::Options o = c.options(Mode::clear);
    o.verbose = true;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].outcome == Outcome::cleared);
    CHECK(log.messages().back() == c.swap + ": dump cleared");
    CHECK(c.changed_bytes() == c.dumpmag_bytes());
    CHECK(listing(c.crash).empty());
    // Clearing again: there is no dump to clear.
    Captured again;
    CHECK(save::run(c.options(Mode::clear), again).exit_status() == 1);
    CHECK(again.messages() == std::vector<std::string>{c.swap + ": no core dump"});
}

TEST_CASE("savecore -f saves a dump whose dumpmag says it was saved already") {
    Crash c;
    Captured log;
    CHECK(save::run(c.options(), log).exit_status() == 0);
    save::Options o = c.options();
    o.force = true;
    Captured forced;
    const save::Result r = save::run(o, forced);
    CHECK(r.exit_status() == 0);
    CHECK(forced.said(Priority::warning, c.swap + ": no core dump"));
    CHECK(r.devices[0].core == c.crash + "/netbsd.1.core");
    Bytes expected = c.kcore;
    const std::uint64_t at = c.kcore.size() - (c.device.size() - c.device_offset("dumpmag"));
    std::fill_n(expected.begin() + static_cast<std::ptrdiff_t>(at), 4, std::byte{0});
    CHECK(file_bytes(c.crash + "/netbsd.1.core") == expected);
}

TEST_CASE("bounds: the next number is read, advanced before saving, and an existing dump is never replaced") {
    Crash c;
    synth::write_file(c.crash + "/bounds", to_bytes("7\n"));
    Captured log;
    CHECK(save::run(c.options(), log).exit_status() == 0);
    CHECK(listing(c.crash) == std::vector<std::string>{"bounds", "netbsd.7", "netbsd.7.core"});
    CHECK(file_bytes(c.crash + "/bounds") == to_bytes("8\n"));

    Crash d;
    synth::write_file(d.crash + "/bounds", to_bytes("junk\n"));
    synth::write_file(d.crash + "/netbsd.0.core", to_bytes("an older dump"));
    synth::write_file(d.crash + "/netbsd.1.gz", to_bytes("an older compressed kernel"));
    Captured log2;
    CHECK(save::run(d.options(), log2).exit_status() == 0);
    CHECK(log2.said(Priority::warning, d.crash + "/bounds: not a number; starting at 0"));
    CHECK(log2.said(Priority::warning, d.crash + ": dump 0 exists; not replacing it, using 1"));
    CHECK(log2.said(Priority::warning, d.crash + ": dump 1 exists; not replacing it, using 2"));
    CHECK(file_bytes(d.crash + "/netbsd.0.core") == to_bytes("an older dump"));
    CHECK(file_bytes(d.crash + "/netbsd.2.core") == d.kcore);
    CHECK(file_bytes(d.crash + "/bounds") == to_bytes("3\n"));
}

TEST_CASE("symlinks planted in the directory are not followed") {
    Crash c;
    synth::write_file(c.dir / "victim", to_bytes("precious"));
    std::filesystem::create_symlink(c.dir / "victim", c.crash + "/netbsd.0.core");
    std::filesystem::create_symlink(c.dir / "victim", c.crash + "/netbsd.1.core.tmp");
    std::filesystem::create_symlink(c.dir / "victim", c.crash + "/bounds.tmp");
    synth::write_file(c.crash + "/netbsd.5.gz.tmp", to_bytes("half a kernel"));
    synth::write_file(c.crash + "/notes.tmp", to_bytes("not savecore's"));
    Captured log;
    const save::Result r = save::run(c.options(), log);
    CHECK(r.exit_status() == 0);
    // Stale temporary files are removed (the symlinks themselves), in
    // directory order.
    std::vector<std::string> removed;
    for (const auto& [p, m] : log.lines)
        if (m.find("left by an interrupted savecore") != std::string::npos) removed.push_back(m);
    std::sort(removed.begin(), removed.end());
    CHECK(removed == std::vector<std::string>{
                         c.crash + "/bounds.tmp: removed, left by an interrupted savecore",
                         c.crash + "/netbsd.1.core.tmp: removed, left by an interrupted savecore",
                         c.crash + "/netbsd.5.gz.tmp: removed, left by an interrupted savecore",
                     });
    CHECK(log.said(Priority::warning, c.crash + ": dump 0 exists; not replacing it, using 1"));
    CHECK(r.devices[0].core == c.crash + "/netbsd.1.core");
    CHECK(std::filesystem::is_symlink(c.crash + "/netbsd.0.core"));
    CHECK(file_bytes(c.dir / "victim") == to_bytes("precious"));
    CHECK(listing(c.crash) ==
          std::vector<std::string>{"bounds", "netbsd.0.core", "netbsd.1", "netbsd.1.core", "notes.tmp"});
    CHECK(mode_of(c.crash + "/netbsd.1.core") == 0600);
}

TEST_CASE("bounds or minfree that cannot be read (a planted symlink) are warned about; the dump is saved") {
    Crash c;
    synth::write_file(c.dir / "victim", to_bytes("12\n"));
    std::filesystem::create_symlink(c.dir / "victim", c.crash + "/bounds");
    std::filesystem::create_symlink(c.dir / "victim", c.crash + "/minfree");
    Captured log;
    CHECK(save::run(c.options(), log).exit_status() == 0);
    CHECK(log.said(Priority::warning, c.crash + "/minfree: cannot open: Too many levels of symbolic links; ignored"));
    CHECK(log.said(Priority::warning,
                   c.crash + "/bounds: cannot open: Too many levels of symbolic links; starting at 0"));
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == c.kcore);
    // bounds was replaced by a file; the symlink's target is as it was.
    CHECK_FALSE(std::filesystem::is_symlink(c.crash + "/bounds"));
    CHECK(file_bytes(c.crash + "/bounds") == to_bytes("1\n"));
    CHECK(file_bytes(c.dir / "victim") == to_bytes("12\n"));
}

TEST_CASE("minfree: not enough space refuses the dump unless -f") {
    Crash c;
    synth::write_file(c.crash + "/minfree", to_bytes("999999999999\nsecond line ignored\n"));
    Captured log;
    const save::Result r = save::run(c.options(), log);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::refused);
    CHECK(log.messages() == std::vector<std::string>{
                                panic_line,
                                down_line,
                                "no dump, not enough free space in " + c.crash,
                                c.swap + ": dump not saved (-f saves it anyway)",
                            });
    CHECK(listing(c.crash) == std::vector<std::string>{"minfree"});
    CHECK(c.changed_bytes().empty());

    save::Options o = c.options();
    o.force = true;
    Captured forced;
    CHECK(save::run(o, forced).exit_status() == 0);
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == c.kcore);

    Crash d;
    synth::write_file(d.crash + "/minfree", to_bytes("lots\n"));
    Captured junk;
    CHECK(save::run(d.options(), junk).exit_status() == 0);
    CHECK(junk.said(Priority::warning, d.crash + "/minfree: not a number of kilobytes; ignored"));
}

TEST_CASE("crash time: zero or more than 60 days away refuses the dump unless -f") {
    Crash c;
    Captured log;
    save::Options o = c.options();
    o.now = crash_time + 61LL * 24 * 3600;
    save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::refused);
    CHECK(log.messages() == std::vector<std::string>{panic_line, down_line, "dump time is unreasonable",
                                                     c.swap + ": dump not saved (-f saves it anyway)"});
    o.now = crash_time - 59LL * 24 * 3600;
    CHECK(save::run(o, log).exit_status() == 0);

    Crash z({.crash_time = 0});
    Captured zero;
    r = save::run(z.options(), zero);
    CHECK(r.exit_status() == 1);
    CHECK(zero.messages() ==
          std::vector<std::string>{panic_line, "dump time is zero", z.swap + ": dump not saved (-f saves it anyway)"});
    save::Options forced = z.options();
    forced.force = true;
    CHECK(save::run(forced, zero).exit_status() == 0);
    CHECK(file_bytes(z.crash + "/netbsd.0.core") == z.kcore);
}

TEST_CASE("version mismatch, a dumpsize that disagrees with the RAM table, no panic: warnings, and the dump is saved") {
    Crash c;
    c.patch("dumpsize", 5, 4);
    c.patch("panicstr", 0, 8);
    const std::uint64_t version = c.device_offset("version");
    c.patch_device(version, to_bytes(std::string_view("NetBSD 9.3 (GENERIC)\n\0", 22)));
    Captured log;
    CHECK(save::run(c.options(), log).exit_status() == 0);
    const std::vector<std::string> m = log.messages();
    REQUIRE(m.size() >= 4);
    CHECK(m[0] ==
          "warning: " + c.kernel +
              " version mismatch:\n\tNetBSD 10.0 (GENERIC) #0: Thu Mar 28 08:33:33 UTC 2024\n"
              "\tmkrepro@mkrepro.NetBSD.org:/usr/src/sys/arch/amd64/compile/GENERIC\nand\tNetBSD 9.3 (GENERIC)");
    CHECK(m[1] == "reboot");
    CHECK(m[2] == down_line);
    CHECK(
        m[3] ==
        "dumpsize is 5 pages (20480 bytes) but the dump's RAM table lists 18472960 bytes; saving what the table lists");
    CHECK(log.lines[0].first == Priority::warning);
    CHECK(log.lines[1].first == Priority::alert);
    // The core holds the RAM table's worth, verbatim (with the patches).
    Bytes expected = c.kcore;
    const std::uint64_t at = c.kcore.size() - (c.device.size() - version);
    std::copy_n(c.device.begin() + static_cast<std::ptrdiff_t>(version), 22,
                expected.begin() + static_cast<std::ptrdiff_t>(at));
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == expected);
}

TEST_CASE("a damaged, truncated or foreign dump header is refused with the check that failed; nothing is written") {
    struct Damage {
        const char* what;
        std::function<void(Crash&)> apply;
        std::function<std::string(const Crash&)> message;
    };
    const std::vector<Damage> damages{
        {"unknown machine", [](Crash& c) { c.patch_device(c.dumplo * 512 + 1, Bytes{std::byte{0x9c}}); },
         [](const Crash& c) {
             return fmt::format("{}: dump header at offset {:#x} is for machine id 156 (not a machine kvmkit reads)",
                                c.swap, c.dumplo * 512);
         }},
        {"RAM table",
         [](Crash& c) {
             Bytes n(8);
             store64(n.data(), 1000, ByteOrder::little);
             c.patch_device(c.dumplo * 512 + 16, n);
         },
         [](const Crash& c) {
             return fmt::format(
                 "{}: dump header at offset {:#x}: memory segment table of 1000 entries (0x3e80 bytes "
                 "at offset 0x10) does not fit in the 0x1f8-byte cpu segment",
                 c.swap, c.dumplo * 512);
         }},
        {"no segments", [](Crash& c) { c.patch_device(c.dumplo * 512 + 16, Bytes(8)); },
         [](const Crash& c) {
             return fmt::format("{}: dump header at offset {:#x}: cpu header lists no memory segments", c.swap,
                                c.dumplo * 512);
         }},
        {"unaligned segment", [](Crash& c) { c.patch_device(c.dumplo * 512 + 24, Bytes{std::byte{0x10}}); },
         [](const Crash& c) {
             return fmt::format(
                 "{}: dump header at offset {:#x}: memory segment 0 (pa 0x1010, size 0x9e000) is not "
                 "page-aligned",
                 c.swap, c.dumplo * 512);
         }},
        {"truncated device",
         [](Crash& c) {
             c.device.resize(c.device.size() - (1u << 20));
             synth::write_file(c.swap, c.device);
         },
         [](const Crash& c) {
             return fmt::format(
                 "{}: truncated: the dump at offset {:#x} holds 0x119e000 bytes of memory from offset "
                 "{:#x} (to {:#x}), but the file ends at {:#x}",
                 c.swap, c.dumplo * 512, c.memory_offset(), c.memory_offset() + 0x119e000, c.device.size());
         }},
    };
    for (const Damage& d : damages) {
        Crash c;
        d.apply(c);
        // Refused the same way found by a scan or at dumplo; the first run
        // changes nothing the second could see.
        for (const bool with_dumplo : {false, true}) {
            CAPTURE(d.what);
            CAPTURE(with_dumplo);
            save::Options o = c.options();
            if (with_dumplo) o.dumplo_blocks = c.dumplo;
            Captured log;
            const save::Result r = save::run(o, log);
            CHECK(r.exit_status() == 1);
            CHECK(r.devices[0].outcome == Outcome::refused);
            CHECK(log.lines == std::vector<std::pair<Priority, std::string>>{
                                   {Priority::err, d.message(c)},
                                   {Priority::err, c.swap + ": dump refused; nothing was saved or cleared"},
                               });
            CHECK(listing(c.crash).empty());
            CHECK(c.changed_bytes().empty());
        }
    }

    // A damaged magic is no header at all; at dumplo, -v says what is there.
    Crash c;
    c.patch_device(c.dumplo * 512 + 3, Bytes{std::byte{0xcb}});
    save::Options o = c.options();
    o.dumplo_blocks = c.dumplo;
    o.verbose = true;
    Captured log;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::no_dump);
    CHECK(log.messages() ==
          std::vector<std::string>{
              "checking for a dump on " + c.swap,
              fmt::format("{}: no dump header at offset {:#x} (found magic 0x8fcb flag 1)", c.swap, c.dumplo * 512),
              c.swap + ": no core dump"});
    CHECK(listing(c.crash).empty());
}

TEST_CASE("beside a saved dump, a header that failed a check is reported: it may be the new dump") {
    Crash c;
    Captured log;
    REQUIRE(save::run(c.options(Mode::clear), log).exit_status() == 0);
    // A copy of the header, from a machine kvmkit does not read, in the
    // old swap pages before the (cleared) dump.
    Bytes foreign(c.device.begin() + static_cast<std::ptrdiff_t>(c.dumplo * 512),
                  c.device.begin() + static_cast<std::ptrdiff_t>(c.dumplo * 512 + 512));
    foreign[1] = std::byte{0x9c};
    const Bytes now = file_bytes(c.swap);
    c.device = now;
    c.patch_device(1u << 20, foreign);
    Captured scan;
    const save::Result r = save::run(c.options(), scan);
    CHECK(r.exit_status() == 1);
    CHECK(scan.lines ==
          std::vector<std::pair<Priority, std::string>>{
              {Priority::warning, c.swap + ": dump header at offset 0x100000 is for machine id 156 (not a "
                                           "machine kvmkit reads)"},
              {Priority::warning, c.swap + ": no core dump"},
          });
}

TEST_CASE("a device that ends early or fails while the core is copied: partial file removed, dump left") {
    for (const bool io_error : {false, true}) {
        CAPTURE(io_error);
        Crash c;
        int writes = 0;
        const std::uint64_t fail_at = c.memory_offset() + (3u << 20) + 100;
        save::Options o = c.options();
        o.open_device = [&](const std::string& path, OpenMode mode) -> std::shared_ptr<ByteSource> {
            return std::make_shared<FaultyDevice>(open_file(path, mode), fail_at, io_error, writes);
        };
        Captured log;
        const save::Result r = save::run(o, log);
        CHECK(r.exit_status() == 1);
        CHECK(r.devices[0].outcome == Outcome::failed);
        const std::string failure =
            io_error ? fmt::format("{}: read of 2097152 bytes at offset {:#x} failed: Input/output error", c.swap,
                                   c.memory_offset() + (2u << 20))
                     : fmt::format("{}: read of 2097152 bytes at offset {:#x} returned 1048676: the device ended early",
                                   c.swap, c.memory_offset() + (2u << 20));
        CHECK(log.messages() ==
              std::vector<std::string>{
                  panic_line,
                  down_line,
                  c.crash + "/bounds: no such file; starting at 0",
                  "writing core to " + c.crash + "/netbsd.0.core",
                  failure,
                  c.crash + "/netbsd.0.core: not saved; the partial file was removed and the dump left on " + c.swap,
              });
        // bounds was advanced before the save, as on NetBSD; nothing else.
        CHECK(listing(c.crash) == std::vector<std::string>{"bounds"});
        CHECK(writes == 0);
        CHECK(c.changed_bytes().empty());
        // The next run saves it.
        Captured next;
        CHECK(save::run(c.options(), next).exit_status() == 0);
        CHECK(file_bytes(c.crash + "/netbsd.1.core") == c.kcore);
    }
}

TEST_CASE("an interrupted copy removes the partial file and leaves the dump") {
    Crash c;
    std::atomic<bool> interrupted{false};
    save::Options o = c.options();
    o.interrupted = &interrupted;
    Captured log;
    // The signal arrives while the core is being written.
    bool partial_seen = false;
    const save::Result r = save::run(o, log, [&](const save::Progress&) {
        partial_seen = partial_seen || std::filesystem::exists(c.crash + "/netbsd.0.core.tmp");
        interrupted = true;
    });
    CHECK(partial_seen);
    CHECK(r.exit_status() == 1);
    CHECK(log.lines.back() ==
          std::pair{Priority::err, c.crash +
                                       "/netbsd.0.core: not saved; the partial file was removed and the dump "
                                       "left on " +
                                       c.swap});
    CHECK(log.said(Priority::err, "interrupted"));
    CHECK(listing(c.crash) == std::vector<std::string>{"bounds"});
    CHECK(c.changed_bytes().empty());

    // Before anything is written (during the scan), nothing is.
    Crash d;
    save::Options early = d.options();
    early.interrupted = &interrupted;
    Captured log2;
    CHECK(save::run(early, log2).exit_status() == 1);
    CHECK(log2.messages() == std::vector<std::string>{"interrupted"});
    CHECK(listing(d.crash).empty());

    // A signal during the scan stops it at the next read, not at the end of
    // the device.
    Crash e;
    std::atomic<bool> signalled{false};
    int reads = 0;
    save::Options scanning = e.options();
    scanning.interrupted = &signalled;
    scanning.open_device = [&](const std::string& path, OpenMode mode) -> std::shared_ptr<ByteSource> {
        return std::make_shared<SignalOnRead>(open_file(path, mode), signalled, reads);
    };
    Captured log3;
    CHECK(save::run(scanning, log3).exit_status() == 1);
    CHECK(reads == 1);
    CHECK(log3.messages() == std::vector<std::string>{"interrupted"});
    CHECK(listing(e.crash).empty());
    CHECK(e.changed_bytes().empty());
}

TEST_CASE("an output file removed while it is written (its directory cleaned up) stops the copy at once") {
    for (const bool compress : {false, true}) {
        CAPTURE(compress);
        Crash c;
        save::Options o = c.options();
        o.compress = compress;
        o.threads = 2;
        const std::string core = c.crash + (compress ? "/netbsd.0.core.gz" : "/netbsd.0.core");
        Captured log;
        // The first chunk is written, then the file goes; savecore used to
        // write the other eight into the unlinked file and fail only when it
        // could not rename it.
        int reports_after = -1;
        const save::Result r = save::run(o, log, [&](const save::Progress& p) {
            if (p.file != core) return;
            if (reports_after < 0) std::filesystem::remove(core + ".tmp");
            ++reports_after;
        });
        CHECK(reports_after == 0);
        CHECK(r.exit_status() == 1);
        CHECK(r.devices[0].outcome == Outcome::failed);
        CHECK(log.messages() == std::vector<std::string>{
                                    panic_line,
                                    down_line,
                                    c.crash + "/bounds: no such file; starting at 0",
                                    fmt::format("writing {}core to {}", compress ? "compressed " : "", core),
                                    core + ".tmp: removed while being written",
                                    core + ": not saved; the partial file was removed and the dump left on " + c.swap,
                                });
        CHECK(listing(c.crash) == std::vector<std::string>{"bounds"});
        CHECK(c.changed_bytes().empty());
    }
}

TEST_CASE("progress reports each file up to its size") {
    Crash c;
    std::vector<save::Progress> seen;
    std::vector<std::string> files;
    Captured log;
    CHECK(save::run(c.options(), log, [&](const save::Progress& p) {
              seen.push_back(p);
              files.emplace_back(p.file);
          }).exit_status() == 0);
    REQUIRE(seen.size() >= 2);
    std::uint64_t last = 0;
    std::size_t core_reports = 0;
    for (std::size_t i = 0; i < seen.size() && files[i] == c.crash + "/netbsd.0.core"; ++i, ++core_reports) {
        CHECK(seen[i].total == c.kcore.size());
        CHECK(seen[i].done > last);
        last = seen[i].done;
    }
    CHECK(core_reports == 9);  // 18 MiB of memory in 2 MiB chunks
    CHECK(last == c.kcore.size());
    CHECK(files.back() == c.crash + "/netbsd.0");
    CHECK(seen.back().done == std::filesystem::file_size(c.kernel));
}

TEST_CASE("devices: several, or the swap entries of fstab; none at all is an error") {
    Crash c;
    synth::write_file(c.dir / "empty.img", Bytes(1u << 20));
    save::Options o = c.options();
    o.devices = {c.dir / "empty.img", c.swap};
    Captured log;
    save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    REQUIRE(r.devices.size() == 2);
    CHECK(r.devices[0].outcome == Outcome::no_dump);
    CHECK(r.devices[1].outcome == Outcome::saved);
    CHECK(log.messages().front() == c.dir / "empty.img" + ": no core dump");

    synth::write_file(c.dir / "fstab", to_bytes(fmt::format("# /etc/fstab\n/dev/sda1 / ext4 defaults 0 1\n"
                                                            "{} none swap sw 0 0\nproc /proc proc defaults 0 0\n",
                                                            c.swap)));
    c.machine.write_swap_image(c.swap, {});  // a new crash
    o.devices.clear();
    o.fstab = c.dir / "fstab";
    o.verbose = true;
    Captured from_fstab;
    r = save::run(o, from_fstab);
    CHECK(r.exit_status() == 0);
    CHECK(from_fstab.messages().front() == "dump devices from " + c.dir / "fstab" + ": " + c.swap);
    CHECK(r.devices[0].core == c.crash + "/netbsd.1.core");

    synth::write_file(c.dir / "fstab", to_bytes("/dev/sda1 / ext4 defaults 0 1\n"));
    Captured none;
    r = save::run(o, none);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices.empty());
    CHECK(none.lines ==
          std::vector<std::pair<Priority, std::string>>{
              {Priority::err, "no dump device: none named, and " + c.dir / "fstab" + " lists no swap or dump device"}});
    o.fstab = c.dir / "no-fstab";
    Captured missing;
    CHECK(save::run(o, missing).exit_status() == 1);
    CHECK(missing.messages() ==
          std::vector<std::string>{c.dir / "no-fstab" + ": cannot open: No such file or directory"});
}

TEST_CASE("fstab: swap and dump entries, FreeBSD sw, tags and escapes") {
    const std::string fstab =
        "# Device\tMountpoint\tFStype\tOptions\tDump\tPass#\n"
        "/dev/ada0p2\tnone\tswap\tsw\t0\t0\n"
        "/dev/ada0p3 none dump rw 0 0\n"
        "/dev/ada1p1 none ufs sw 0 0\n"
        "UUID=1234-abcd none swap defaults 0 0\n"
        "LABEL=my\\040swap none swap sw\n"
        "PARTUUID=0f0f none swap sw\n"
        "PARTLABEL=dumps none swap sw\n"
        "/dev/ada0p2 none swap sw 0 0\n"
        "/dev/sda1 / ext4 defaults 0 1\n"
        "   \n"
        "proc /proc proc defaults\n"
        "short line\n";
    CHECK(save::fstab_dump_devices(fstab) ==
          std::vector<std::string>{"/dev/ada0p2", "/dev/ada0p3", "/dev/ada1p1", "/dev/disk/by-uuid/1234-abcd",
                                   "/dev/disk/by-label/my swap", "/dev/disk/by-partuuid/0f0f",
                                   "/dev/disk/by-partlabel/dumps"});
    CHECK(save::fstab_dump_devices("").empty());
}

TEST_CASE("the kernel named by -N must be the one that crashed") {
    Crash c;
    // A namelist without dumpmag.
    synth::ElfWriter w({});
    const std::uint16_t data =
        w.add_section(".data", elf::sht_progbits, elf::shf_alloc | elf::shf_write, 0xffffffff81800000, Bytes(64), 8);
    w.add_symbol({.name = "version", .value = 0xffffffff81800000, .size = 8, .type = elf::stt_object, .shndx = data});
    w.add_symbol({.name = "dumpsize", .value = 0xffffffff81800008, .size = 4, .type = elf::stt_object, .shndx = data});
    synth::write_file(c.dir / "other", w.build());
    save::Options o = c.options();
    o.system = c.dir / "other";
    Captured log;
    save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 1);
    REQUIRE(r.devices.size() == 1);
    CHECK(r.devices[0].outcome == Outcome::failed);
    CHECK(log.messages() == std::vector<std::string>{c.dir / "other" + ": _dumpmag not in namelist"});

    // An i386 kernel's dumpmag is not mapped in an amd64 dump.
    synth::CrashedMachine i386({.arch = "i386"});
    synth::write_file(c.dir / "i386", i386.kernel_elf());
    o.system = c.dir / "i386";
    Captured wrong;
    r = save::run(o, wrong);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::refused);
    REQUIRE(wrong.lines.size() == 1);
    CHECK(wrong.lines[0].second.rfind(c.swap + ": cannot read dumpmag: 0xc1000000: ", 0) == 0);
    CHECK(wrong.lines[0].second.find("(is " + c.dir / "i386" + " the kernel that crashed?)") != std::string::npos);
    CHECK(c.changed_bytes().empty());

    o.system = c.dir / "missing";
    Captured missing;
    CHECK(save::run(o, missing).exit_status() == 1);
    CHECK(missing.messages() ==
          std::vector<std::string>{c.dir / "missing" + ": cannot open: No such file or directory"});
}

TEST_CASE("the directory: must exist, and one savecore at a time") {
    Crash c;
    save::Options o = c.options();
    o.directory = c.dir / "nonexistent";
    Captured log;
    CHECK(save::run(o, log).exit_status() == 1);
    CHECK(log.messages() ==
          std::vector<std::string>{c.dir / "nonexistent" + ": cannot open the directory: No such file or directory"});

    const int fd = ::open(c.crash.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    Captured locked;
    CHECK(save::run(c.options(), locked).exit_status() == 1);
    CHECK(locked.messages() == std::vector<std::string>{c.crash + ": another savecore is writing here"});
    ::close(fd);
    CHECK(c.changed_bytes().empty());
    CHECK(listing(c.crash).empty());
}

TEST_CASE("exit status: every dump found must be saved, and one must be") {
    save::Result r;
    CHECK(r.exit_status() == 1);
    r.devices = {{.device = "a", .outcome = Outcome::no_dump}};
    CHECK(r.exit_status() == 1);
    r.devices.push_back({.device = "b", .outcome = Outcome::saved});
    CHECK(r.exit_status() == 0);
    r.devices.push_back({.device = "c", .outcome = Outcome::refused});
    CHECK(r.exit_status() == 1);
    CHECK(save::to_string(Outcome::no_dump) == "no dump");
    CHECK(save::to_string(Priority::alert) == "alert");
}

namespace {

// A crash on a swap device with room for two dumps, and an intact copy of
// the dump (dumpmag and all) planted at block 8, before the real one at
// the end: what a user could leave in pages the kernel swapped out.
struct PlantedCrash : Crash {
    static std::uint64_t device_size() {
        const synth::CrashedMachine m;
        return align_up(2 * m.device_dump_size(m.memory().ram()) + (1u << 20), 1u << 20);
    }
    PlantedCrash() : Crash({}, device_size()) {}

    static constexpr std::uint64_t planted = 0x1000;
    std::uint64_t length() const { return machine.device_dump_size(segments); }
    // Plants the copy; `dumplo` (when given) is written in its memory, as
    // if its kernel had recorded that place.
    void plant(std::optional<std::uint64_t> recorded_dumplo = std::nullopt) {
        Bytes copy(device.begin() + static_cast<std::ptrdiff_t>(dumplo * 512),
                   device.begin() + static_cast<std::ptrdiff_t>(dumplo * 512 + length()));
        if (recorded_dumplo)
            store64(copy.data() + (device_offset("dumplo") - dumplo * 512), *recorded_dumplo, ByteOrder::little);
        patch_device(planted, copy);
    }
};

}  // namespace

TEST_CASE("a dump planted before the real one is not saved: the one at its kernel's dumplo is") {
    PlantedCrash c;
    REQUIRE(PlantedCrash::planted + c.length() <= c.dumplo * 512);
    c.plant();
    Captured log;
    save::Options o = c.options();
    o.verbose = true;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].dump_offset == c.dumplo * 512);
    CHECK(log.said(Priority::info,
                   fmt::format("{}: 2 dump headers, 2 live; using the one at offset {:#x}: its kernel's dumplo ({}) "
                               "puts the dump there",
                               c.swap, c.dumplo * 512, c.dumplo)));
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == c.kcore);
    // The real dump's dumpmag was cleared; the planted copy is as it was.
    CHECK(c.changed_bytes() == c.dumpmag_bytes());

    // kvmps and the other tools choose the same way.
    PlantedCrash fresh;
    fresh.plant();
    const auto k = Kernel::open({.namelist = fresh.kernel, .core = fresh.swap});
    CHECK(netbsd::layout_of(k->format())->header_offset == fresh.dumplo * 512);
}

TEST_CASE("two live dumps that each lie at their kernel's dumplo: none is saved without -f") {
    PlantedCrash c;
    c.plant(PlantedCrash::planted / 512);  // the copy says it was written where it is
    const std::string refused = fmt::format(
        "{}: 2 live dump headers, at offsets {:#x}, {:#x}: each lies at the dumplo its own kernel recorded, so "
        "which one the kernel wrote cannot be told; nothing was saved or cleared (--dumplo names one; -f takes the "
        "one ending nearest the end of the device)",
        c.swap, PlantedCrash::planted, c.dumplo * 512);
    for (const Mode mode : {Mode::save, Mode::check, Mode::clear}) {
        CAPTURE(static_cast<int>(mode));
        Captured log;
        const save::Result r = save::run(c.options(mode), log);
        CHECK(r.exit_status() == 1);
        CHECK(r.devices[0].outcome == Outcome::refused);
        CHECK(log.messages() == std::vector<std::string>{refused});
        CHECK(listing(c.crash).empty());
        CHECK(c.changed_bytes().empty());
    }
    save::Options o = c.options();
    o.force = true;
    Captured forced;
    const save::Result r = save::run(o, forced);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].dump_offset == c.dumplo * 512);
    CHECK(forced.said(Priority::warning,
                      fmt::format("{}: 2 live dump headers each lie at the dumplo their kernel recorded; -f: using "
                                  "the one at offset {:#x}, which ends nearest the end of the device",
                                  c.swap, c.dumplo * 512)));
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == c.kcore);
    CHECK(c.changed_bytes() == c.dumpmag_bytes());
}

TEST_CASE("when no live dump lies at its kernel's dumplo, the one ending nearest the end of the device is saved") {
    PlantedCrash c;
    c.patch("dumplo", 12345, 8);  // a copy of the partition, say, made elsewhere
    c.plant();
    Captured log;
    save::Options o = c.options();
    o.verbose = true;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].dump_offset == c.dumplo * 512);
    CHECK(log.said(Priority::info, fmt::format("{}: 2 dump headers, 2 live; using the one at offset {:#x}: none lies "
                                               "at the dumplo its kernel recorded; the one ending nearest the end of "
                                               "the device, where the kernel puts its dump",
                                               c.swap, c.dumplo * 512)));
    CHECK(file_bytes(c.crash + "/netbsd.0.core") == c.kcore);
    CHECK(c.changed_bytes() == c.dumpmag_bytes());
}
