// savecore on FreeBSD and DragonFly dump devices: synthetic devices whose
// every byte is known are saved, checked, kept, cleared and refused, and
// every message and file is compared in full.
#include <kvm/compress.h>
#include <kvm/kerneldump.h>
#include <kvm/save.h>
#include <kvm/synth.h>
#include <kvm/synth_kerneldump.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "save_test_util.h"
#include "test_util.h"

#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>

using namespace kvm;
using namespace kvm::test::save_util;
namespace kd = kvm::kerneldump;
using kvm::save::Mode;
using kvm::save::Outcome;
using kvm::save::Priority;
using kvm::test::TempDir;

namespace {

const std::string freebsd_panic =
    "reboot after panic: vm_fault_lookup: fault on nofault entry, addr: 0xfffffe00f8a3c000";
const std::string dragonfly_panic = "reboot after panic: assertion \"lp->lwp_stat == LSRUN\" failed in lwkt_schedule";

// Memory-like bytes: runs of zero pages between patterned ones.
Bytes body_bytes(std::size_t n, unsigned seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = (i / 4096) % 3 == 1 ? std::byte{0} : static_cast<std::byte>((i * 13 + seed) & 0xff);
    return b;
}

// A dump device image on disk, the body it holds, and an empty crash
// directory.  No NetBSD kernel exists: none is needed.
struct Device {
    Device(synth::DumpDeviceSpec s, Bytes b) : spec(std::move(s)), body(std::move(b)) {
        image = synth::dump_device(spec, body);
        layout = synth::dump_device_layout(spec, body.size());
        synth::write_file(dev, image);
        synth::write_file(kernel, to_bytes("a DragonFly kernel, as savecore copies it\n"));
        std::filesystem::create_directory(crash);
    }

    save::Options options(Mode mode = Mode::save) const {
        save::Options o;
        o.mode = mode;
        o.directory = crash;
        o.devices = {dev};
        o.system = dir / "no-netbsd-kernel";
        o.dragonfly_system = kernel;
        return o;
    }

    std::uint64_t trailer() const { return image.size() - 512; }
    std::uint32_t parity() const { return load32(image.data() + trailer() + 508, ByteOrder::little); }

    // Offsets of device bytes that differ from the image as written.
    std::vector<std::uint64_t> changed_bytes() const {
        const Bytes now = file_bytes(dev);
        REQUIRE(now.size() == image.size());
        std::vector<std::uint64_t> changed;
        for (std::size_t i = 0; i < now.size(); ++i)
            if (now[i] != image[i]) changed.push_back(i);
        return changed;
    }
    // What clearing changes: "FreeBSD" (or "DragonFly Kern") of the
    // trailer's magic becomes "Cleared Kernel".
    std::vector<std::uint64_t> cleared_bytes() const {
        const std::string cleared(kd::cleared_magic);
        std::vector<std::uint64_t> changed;
        for (std::size_t i = 0; i < kd::magic_size; ++i) {
            const char was = static_cast<char>(image[trailer() + i]);
            if (was != (i < cleared.size() ? cleared[i] : '\0')) changed.push_back(trailer() + i);
        }
        return changed;
    }
    std::string trailer_magic() const {
        const Bytes now = file_bytes(dev);
        return std::string(reinterpret_cast<const char*>(now.data() + trailer()));
    }

    std::string info(std::uint64_t bounds, std::string_view status = "good", std::string_view compression = "none",
                     std::uint64_t length = 0) const {
        const kd::Header& h = spec.header;
        return fmt::format(
            "Dump header from device: {}\n  Architecture: {}\n  Architecture Version: 2\n  Dump Length: {}\n"
            "  Blocksize: 512\n  Compression: {}\n  Dumptime: 2024-11-21 14:40:00 +0000\n  Hostname: {}\n"
            "  Magic: {}\n  Version String: {}  Panic String: {}\n  Dump Parity: {}\n  Bounds: {}\n"
            "  Dump Status: {}\n",
            dev, h.architecture, length != 0 ? length : body.size(), compression, h.hostname, h.magic, h.versionstring,
            h.panicstring, parity(), bounds, status);
    }

    std::string link(const std::string& name) const {
        return std::filesystem::read_symlink(crash + "/" + name).string();
    }

    Utc utc;
    TempDir dir;
    std::string dev = dir / "dump.dev";
    std::string kernel = dir / "kernel";
    std::string crash = dir / "crash";
    synth::DumpDeviceSpec spec;
    Bytes body;
    Bytes image;
    synth::DumpDeviceLayout layout;
};

// A device whose large reads (the copy, not the header reads) end early or
// fail at `fail_at`; it counts writes.
class FaultyDevice final : public ByteSource {
public:
    FaultyDevice(std::shared_ptr<ByteSource> inner, std::uint64_t fail_at, int& writes)
        : inner_(std::move(inner)), fail_at_(fail_at), writes_(writes) {}
    std::uint64_t size() const override { return inner_->size(); }
    std::size_t read_at(std::uint64_t offset, MutableByteSpan out) const override {
        if (out.size() < (2u << 20) || offset + out.size() <= fail_at_) return inner_->read_at(offset, out);
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
    int& writes_;
};

}  // namespace

TEST_CASE("savecore of a FreeBSD v4 device: vmcore.N, info.N, bounds, the .last links; the trailer's magic cleared") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(300000, 1));
    Captured log;
    const save::Result r = save::run(d.options(), log);
    CHECK(r.exit_status() == 0);
    REQUIRE(r.devices.size() == 1);
    CHECK(r.devices[0].outcome == Outcome::saved);
    CHECK(r.devices[0].dump_offset == d.layout.leader);
    CHECK(r.devices[0].core == d.crash + "/vmcore.0");
    CHECK(r.devices[0].info == d.crash + "/info.0");
    CHECK(r.devices[0].core_size == 300000);
    CHECK(log.lines == std::vector<std::pair<Priority, std::string>>{
                           {Priority::alert, freebsd_panic},
                           {Priority::warning, d.crash + "/bounds: no such file; starting at 0"},
                           {Priority::notice, "writing core to " + d.crash + "/vmcore.0"},
                       });
    CHECK(listing(d.crash) == std::vector<std::string>{"bounds", "info.0", "info.last", "vmcore.0", "vmcore.last"});
    CHECK(file_bytes(d.crash + "/vmcore.0") == d.body);
    CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0));
    CHECK(file_bytes(d.crash + "/bounds") == to_bytes("1\n"));
    CHECK(d.link("vmcore.last") == "vmcore.0");
    CHECK(d.link("info.last") == "info.0");
    for (const char* name : {"vmcore.0", "info.0", "bounds"})
        CHECK(mode_of(d.crash + "/" + name) == 0600);
    // Only the trailer's magic changed; the leader and the parity did not.
    CHECK(d.changed_bytes() == d.cleared_bytes());
    CHECK(d.cleared_bytes() == std::vector<std::uint64_t>{d.trailer(), d.trailer() + 1, d.trailer() + 3,
                                                          d.trailer() + 4, d.trailer() + 5,
                                                          d.trailer() + 6});  // "FreeBSD" -> "Cleared": the e stays
    CHECK(d.trailer_magic() == "Cleared Kernel Dump");

    // The next run finds no dump, and says why with -v.
    save::Options o = d.options();
    o.verbose = true;
    Captured again;
    const save::Result r2 = save::run(o, again);
    CHECK(r2.exit_status() == 1);
    CHECK(r2.devices[0].outcome == Outcome::no_dump);
    CHECK(again.messages() ==
          std::vector<std::string>{
              "checking for a dump on " + d.dev,
              fmt::format("{}: FreeBSD Kernel Dump (kerneldumpheader version 4, amd64) at offset {:#x}: 300000 bytes",
                          d.dev, d.layout.leader),
              d.dev + ": the dump was saved already (its header says \"Cleared Kernel Dump\")",
              d.dev + ": no core dump",
          });

    // A second dump: the links move to it.
    synth::write_file(d.dev, d.image);
    Captured third;
    CHECK(save::run(d.options(), third).exit_status() == 0);
    CHECK(d.link("vmcore.last") == "vmcore.1");
    CHECK(d.link("info.last") == "info.1");
    CHECK(as_chars(file_bytes(d.crash + "/info.1")) == d.info(1));
}

TEST_CASE("savecore -v of a FreeBSD device says what it does") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(5000, 2));
    save::Options o = d.options();
    o.verbose = true;
    Captured log;
    CHECK(save::run(o, log).exit_status() == 0);
    const std::vector<std::string> m = log.messages();
    REQUIRE(m.size() == 8);
    CHECK(m[0] == "checking for a dump on " + d.dev);
    CHECK(m[1] == fmt::format("{}: FreeBSD Kernel Dump (kerneldumpheader version 4, amd64) at offset {:#x}: 5000 bytes",
                              d.dev, d.layout.leader));
    CHECK(m[2] == freebsd_panic);
    CHECK(m[3] == d.crash + "/bounds: no such file; starting at 0");
    // Free space depends on the host; the rest of the line does not.
    CHECK(m[4].rfind(d.crash + ": ", 0) == 0);
    CHECK(m[4].find(" KB free, 6 KB needed, 0 KB to keep free") != std::string::npos);  // 5000/1024 + 2
    CHECK(m[5] == "writing core to " + d.crash + "/vmcore.0");
    CHECK(m[6] == "writing info to " + d.crash + "/info.0");
    CHECK(m[7] == d.dev + ": dump cleared");
}

TEST_CASE("savecore of FreeBSD v1, v2 and v3 devices") {
    for (const std::uint32_t version : {1u, 2u, 3u}) {
        CAPTURE(version);
        Device d({.header = synth::freebsd_header(version)}, body_bytes(70000, version));
        Captured log;
        CHECK(save::run(d.options(), log).exit_status() == 0);
        CHECK(file_bytes(d.crash + "/vmcore.0") == d.body);
        CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0));
        CHECK(d.changed_bytes() == d.cleared_bytes());
    }
}

TEST_CASE("savecore -C (and -n): exit 0 with a dump, 1 without; nothing is written") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(10000, 3));
    save::Options o = d.options(Mode::check);
    o.directory = d.dir / "nonexistent";
    Captured log;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].outcome == Outcome::present);
    CHECK(log.lines.empty());
    CHECK(d.changed_bytes().empty());
    CHECK(listing(d.crash).empty());

    // -c clears only.
    Captured cleared;
    CHECK(save::run(d.options(Mode::clear), cleared).exit_status() == 0);
    CHECK(cleared.lines.empty());
    CHECK(d.changed_bytes() == d.cleared_bytes());
    CHECK(listing(d.crash).empty());
    Captured after;
    CHECK(save::run(o, after).exit_status() == 1);
    CHECK(after.messages() == std::vector<std::string>{d.dev + ": no core dump"});
}

TEST_CASE("savecore -k saves and keeps the dump; -f saves a cleared dump again, whole") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(20000, 4));
    save::Options keep = d.options();
    keep.keep = true;
    Captured log;
    CHECK(save::run(keep, log).exit_status() == 0);
    CHECK(file_bytes(d.crash + "/vmcore.0") == d.body);
    CHECK(d.changed_bytes().empty());
    CHECK(save::run(keep, log).exit_status() == 0);
    CHECK(file_bytes(d.crash + "/vmcore.1") == d.body);

    Captured clear;
    CHECK(save::run(d.options(), clear).exit_status() == 0);  // vmcore.2, then cleared
    CHECK(d.changed_bytes() == d.cleared_bytes());
    save::Options force = d.options();
    force.force = true;
    force.verbose = true;
    Captured forced;
    const save::Result r = save::run(force, forced);
    CHECK(r.exit_status() == 0);
    CHECK(forced.said(Priority::info,
                      d.dev + ": the dump was saved already; saving it again (-f) as \"FreeBSD Kernel Dump\", the "
                              "magic its parity gives"));
    CHECK(forced.said(Priority::info, d.dev + ": the dump was cleared already"));
    CHECK(file_bytes(d.crash + "/vmcore.3") == d.body);
    // The magic restored in info.3, the parity checks: the dump is good.
    CHECK(as_chars(file_bytes(d.crash + "/info.3")) == d.info(3));
    CHECK(d.changed_bytes() == d.cleared_bytes());
}

TEST_CASE("savecore -m: at most N dumps; the number wraps and the oldest dump's files go first") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(8000, 5));
    save::Options o = d.options();
    o.maxdumps = 2;
    o.keep = true;
    for (int i = 0; i < 2; ++i) {
        Captured log;
        CHECK(save::run(o, log).exit_status() == 0);
    }
    synth::write_file(d.crash + "/textdump.tar.0", to_bytes("an old textdump numbered 0"));
    CHECK(file_bytes(d.crash + "/bounds") == to_bytes("2\n"));
    Captured log;
    CHECK(save::run(o, log).exit_status() == 0);
    CHECK(log.lines == std::vector<std::pair<Priority, std::string>>{
                           {Priority::alert, freebsd_panic},
                           {Priority::notice, d.crash + "/vmcore.0: removed: at most 2 dumps are kept (-m)"},
                           {Priority::notice, d.crash + "/info.0: removed: at most 2 dumps are kept (-m)"},
                           {Priority::notice, d.crash + "/textdump.tar.0: removed: at most 2 dumps are kept (-m)"},
                           {Priority::notice, "writing core to " + d.crash + "/vmcore.0"},
                       });
    CHECK(listing(d.crash) ==
          std::vector<std::string>{"bounds", "info.0", "info.1", "info.last", "vmcore.0", "vmcore.1", "vmcore.last"});
    CHECK(file_bytes(d.crash + "/bounds") == to_bytes("1\n"));
    CHECK(d.link("vmcore.last") == "vmcore.0");
    CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0));

    // Without -m an existing number is never replaced.
    synth::write_file(d.crash + "/bounds", to_bytes("0\n"));
    o.maxdumps = 0;
    Captured skip;
    CHECK(save::run(o, skip).exit_status() == 0);
    CHECK(skip.said(Priority::warning, d.crash + ": dump 0 exists; not replacing it, using 1"));
    CHECK(skip.said(Priority::warning, d.crash + ": dump 1 exists; not replacing it, using 2"));
    CHECK(file_bytes(d.crash + "/vmcore.2") == d.body);
}

TEST_CASE("savecore of a compressed dump: kept as vmcore.N.gz / .zst, or uncompressed with -u") {
    const Bytes plain = body_bytes(200000, 6);
    for (const std::uint8_t method : {1, 2}) {
        CAPTURE(method);
        kd::Header h = synth::freebsd_header(4);
        h.compression = method;
        const Bytes stream = method == 1 ? synth::gzip_body(plain) : synth::zstd_body(plain);
        const std::string ext = method == 1 ? "gz" : "zst";
        // The kernel reserved room for the whole dump and used less.
        Device d({.header = h, .extent = align_up(plain.size(), 512)}, stream);
        save::Options z = d.options();
        z.compress = true;  // -z is off for a dump the kernel compressed
        z.keep = true;
        Captured log;
        CHECK(save::run(z, log).exit_status() == 0);
        CHECK(log.said(Priority::notice, "writing compressed core to " + d.crash + "/vmcore.0." + ext));
        CHECK(file_bytes(d.crash + "/vmcore.0." + ext) == stream);
        CHECK(d.link("vmcore.last." + ext) == "vmcore.0." + ext);
        CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0, "good", ext == "gz" ? "gzip" : "zstd"));

        save::Options u = d.options();
        u.uncompress = true;
        Captured unlog;
        CHECK(save::run(u, unlog).exit_status() == 0);
        CHECK(unlog.said(Priority::notice, "writing uncompressed core to " + d.crash + "/vmcore.1"));
        CHECK(file_bytes(d.crash + "/vmcore.1") == plain);
        // The old .last link of the other form is gone.
        CHECK(listing(d.crash) == std::vector<std::string>{"bounds", "info.0", "info.1", "info.last", "vmcore.0." + ext,
                                                           "vmcore.1", "vmcore.last"});
        CHECK(d.changed_bytes() == d.cleared_bytes());
    }
}

TEST_CASE("savecore -u of a damaged compressed dump: nothing saved, the dump left") {
    kd::Header h = synth::freebsd_header(4);
    h.compression = 1;
    Bytes stream = synth::gzip_body(body_bytes(100000, 7));
    stream.resize(stream.size() - 20);  // cut short
    Device d({.header = h}, stream);
    save::Options u = d.options();
    u.uncompress = true;
    Captured log;
    const save::Result r = save::run(u, log);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::failed);
    CHECK(log.messages() ==
          std::vector<std::string>{
              freebsd_panic,
              d.crash + "/bounds: no such file; starting at 0",
              "writing uncompressed core to " + d.crash + "/vmcore.0",
              fmt::format("{}: the compressed dump: the gzip stream ends early, after {} compressed "
                          "bytes",
                          d.dev, stream.size()),
              d.crash + "/vmcore.0: not saved; the partial file was removed and the dump left on " + d.dev,
          });
    CHECK(listing(d.crash) == std::vector<std::string>{"bounds"});
    CHECK(d.changed_bytes().empty());
}

TEST_CASE("savecore -z of a plain FreeBSD dump writes vmcore.N.gz") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(150000, 8));
    save::Options o = d.options();
    o.compress = true;
    o.threads = 2;
    Captured log;
    CHECK(save::run(o, log).exit_status() == 0);
    CHECK(gunzip(file_bytes(d.crash + "/vmcore.0.gz")) == d.body);
    CHECK(d.link("vmcore.last.gz") == "vmcore.0.gz");
}

TEST_CASE("savecore --zstd of a plain FreeBSD dump writes vmcore.N.zst, read in place") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(150000, 8));
    save::Options o = d.options();
    o.zstd = true;
    o.threads = 2;
    Captured log;
    CHECK(save::run(o, log).exit_status() == 0);
    const auto core = open_decompressed(open_file(d.crash + "/vmcore.0.zst"));
    CHECK(core->read_bytes(0, core->size(), "the core") == d.body);
    CHECK(d.link("vmcore.last.zst") == "vmcore.0.zst");
}

TEST_CASE("savecore of a textdump rebuilds the tar archive from the backwards records") {
    for (const std::uint32_t version : {1u, 4u}) {
        CAPTURE(version);
        const kd::Header h = synth::freebsd_text_header(version);
        const Bytes tar = synth::ustar_archive(synth::textdump_files(h), 1732200000);
        Device d({.header = h}, tar);
        Captured log;
        CHECK(save::run(d.options(), log).exit_status() == 0);
        CHECK(log.said(Priority::notice, "writing textdump to " + d.crash + "/textdump.tar.0"));
        CHECK(file_bytes(d.crash + "/textdump.tar.0") == tar);
        CHECK(d.link("textdump.tar.last") == "textdump.tar.0");
        CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0));
        CHECK(d.changed_bytes() == d.cleared_bytes());
    }
    // Bigger than one read (2 MiB of records).
    const kd::Header h = synth::freebsd_text_header(4);
    const Bytes big = synth::ustar_archive({{"ddb.txt", std::string(2u << 20, 'x') + "end\n"}}, 0);
    Device d({.header = h}, big);
    Captured log;
    CHECK(save::run(d.options(), log).exit_status() == 0);
    CHECK(file_bytes(d.crash + "/textdump.tar.0") == big);
}

TEST_CASE("savecore of an encrypted dump: vmcore_encrypted.N and key.N, never decrypted") {
    const Bytes key = synth::sample_key_area();
    Device d({.header = synth::freebsd_header(4), .key = key}, body_bytes(40000, 9));
    Captured log;
    const save::Result r = save::run(d.options(), log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].key == d.crash + "/key.0");
    CHECK(log.lines == std::vector<std::pair<Priority, std::string>>{
                           {Priority::alert, freebsd_panic},
                           {Priority::warning, d.crash + "/bounds: no such file; starting at 0"},
                           {Priority::notice, "writing key to " + d.crash + "/key.0"},
                           {Priority::notice, "writing encrypted core to " + d.crash + "/vmcore_encrypted.0"},
                       });
    CHECK(file_bytes(d.crash + "/vmcore_encrypted.0") == d.body);
    CHECK(file_bytes(d.crash + "/key.0") == key);
    CHECK(mode_of(d.crash + "/key.0") == 0600);
    CHECK(d.link("key.last") == "key.0");
    CHECK(d.link("vmcore_encrypted.last") == "vmcore_encrypted.0");
    CHECK(d.changed_bytes() == d.cleared_bytes());
}

TEST_CASE("savecore of a DragonFly device: vmcore.N, kern.N and info.N; -k, -C, -m, -f, -z") {
    Device d({.header = synth::dragonfly_header()}, body_bytes(120000, 10));
    Captured check;
    CHECK(save::run(d.options(Mode::check), check).exit_status() == 0);
    CHECK(check.lines.empty());

    save::Options keep = d.options();
    keep.keep = true;
    keep.maxdumps = 1;
    Captured log;
    const save::Result r = save::run(keep, log);
    CHECK(r.exit_status() == 0);
    CHECK(r.devices[0].kernel == d.crash + "/kern.0");
    CHECK(log.lines == std::vector<std::pair<Priority, std::string>>{
                           {Priority::alert, dragonfly_panic},
                           {Priority::warning, d.crash + "/bounds: no such file; starting at 0"},
                           {Priority::notice, "writing core to " + d.crash + "/vmcore.0"},
                           {Priority::notice, "writing kernel to " + d.crash + "/kern.0"},
                       });
    CHECK(listing(d.crash) == std::vector<std::string>{"bounds", "info.0", "kern.0", "vmcore.0"});
    CHECK(file_bytes(d.crash + "/vmcore.0") == d.body);
    CHECK(file_bytes(d.crash + "/kern.0") == file_bytes(d.kernel));
    CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0));
    CHECK(d.changed_bytes().empty());

    // -m 1: the number stays 0, the old dump makes room; then cleared.
    save::Options z = d.options();
    z.maxdumps = 1;
    z.compress = true;
    z.threads = 2;
    Captured again;
    CHECK(save::run(z, again).exit_status() == 0);
    CHECK(listing(d.crash) == std::vector<std::string>{"bounds", "info.0", "kern.0.gz", "vmcore.0.gz"});
    CHECK(gunzip(file_bytes(d.crash + "/vmcore.0.gz")) == d.body);
    CHECK(gunzip(file_bytes(d.crash + "/kern.0.gz")) == file_bytes(d.kernel));
    CHECK(d.changed_bytes() == d.cleared_bytes());
    CHECK(d.trailer_magic() == "Cleared Kernel Dump");

    Captured gone;
    CHECK(save::run(d.options(Mode::check), gone).exit_status() == 1);
    save::Options force = d.options();
    force.force = true;
    Captured forced;
    CHECK(save::run(force, forced).exit_status() == 0);
    CHECK(file_bytes(d.crash + "/vmcore.1") == d.body);
    CHECK(as_chars(file_bytes(d.crash + "/info.1")) == d.info(1));

    // No kernel to copy: nothing is cleared.
    Device e({.header = synth::dragonfly_header()}, body_bytes(1000, 11));
    save::Options missing = e.options();
    missing.dragonfly_system = e.dir / "no-kernel";
    Captured nokernel;
    const save::Result r2 = save::run(missing, nokernel);
    CHECK(r2.exit_status() == 1);
    CHECK(nokernel.messages() ==
          std::vector<std::string>{dragonfly_panic, e.dir / "no-kernel" + ": cannot open: No such file or directory"});
    CHECK(e.changed_bytes().empty());
    CHECK(listing(e.crash).empty());
}

TEST_CASE("damaged FreeBSD and DragonFly headers are refused naming the field; -f saves with Dump Status bad") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(6000, 12));
    Bytes bad = d.image;
    bad[d.trailer() + 70] ^= std::byte{0x20};  // the hostname: parity fails
    synth::write_file(d.dev, bad);
    d.image = bad;
    Captured log;
    const save::Result r = save::run(d.options(), log);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::refused);
    CHECK(log.lines ==
          std::vector<std::pair<Priority, std::string>>{
              {Priority::err, fmt::format("{}: kerneldumpheader at offset {:#x} (the last sector): parity check "
                                          "failed: its 128 words XOR to 0x00200000, not 0",
                                          d.dev, d.trailer())},
              {Priority::err, fmt::format("{}: the leading kerneldumpheader at offset {:#x} differs from the trailer "
                                          "at offset {:#x}: hostname \"crashbox.example.org\" in the leader, "
                                          "\"crashbOx.example.org\" in the trailer",
                                          d.dev, d.layout.leader, d.trailer())},
              {Priority::err, d.dev + ": dump refused; nothing was saved or cleared"},
          });
    CHECK(listing(d.crash).empty());
    CHECK(d.changed_bytes().empty());

    save::Options force = d.options();
    force.force = true;
    force.keep = true;
    Captured forced;
    CHECK(save::run(force, forced).exit_status() == 0);
    d.spec.header.hostname = "crashbOx.example.org";
    CHECK(as_chars(file_bytes(d.crash + "/info.0")) == d.info(0, "bad"));

    // A DragonFly header of another version.
    kd::Header h = synth::dragonfly_header();
    h.version = 4;
    h.dumpextent = 0;
    Device v({.header = h}, body_bytes(1000, 13));
    Captured version;
    CHECK(save::run(v.options(), version).exit_status() == 1);
    CHECK(version.messages() == std::vector<std::string>{
                                    v.dev + ": DragonFly dump header version 4; DragonFly writes version 1",
                                    v.dev + ": dump refused; nothing was saved or cleared",
                                });
    // A dumplength past the device.
    Device p({.header = synth::dragonfly_header()}, body_bytes(1000, 14));
    kd::Header past = kd::decode(ByteSpan(p.image.data() + p.trailer(), 512));
    past.dumplength = past.dumpextent = p.image.size() * 2;
    const Bytes enc = kd::encode(past);
    std::copy(enc.begin(), enc.end(), p.image.begin() + static_cast<std::ptrdiff_t>(p.trailer()));
    synth::write_file(p.dev, p.image);
    Captured longer;
    CHECK(save::run(p.options(), longer).exit_status() == 1);
    CHECK(longer.messages() ==
          std::vector<std::string>{
              fmt::format("{}: kerneldumpheader at offset {:#x} (the last sector): dumplength {:#x} is past the "
                          "device: with dumpkeysize 0x0 and the 512-byte leading header it needs more than the {:#x} "
                          "bytes before the trailer",
                          p.dev, p.trailer(), p.image.size() * 2, p.trailer()),
              p.dev + ": dump refused; nothing was saved or cleared",
          });
    CHECK(p.changed_bytes().empty());
}

TEST_CASE("a FreeBSD device that ends early while the core is copied: partial file removed, dump left") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(5u << 20, 15));
    int writes = 0;
    const std::uint64_t fail_at = d.layout.body + (3u << 20) + 100;
    save::Options o = d.options();
    o.open_device = [&](const std::string& path, OpenMode mode) -> std::shared_ptr<ByteSource> {
        return std::make_shared<FaultyDevice>(open_file(path, mode), fail_at, writes);
    };
    Captured log;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 1);
    CHECK(r.devices[0].outcome == Outcome::failed);
    CHECK(log.messages() ==
          std::vector<std::string>{
              freebsd_panic,
              d.crash + "/bounds: no such file; starting at 0",
              "writing core to " + d.crash + "/vmcore.0",
              fmt::format("{}: read of 2097152 bytes at offset {:#x} returned 1048676: the device ended early", d.dev,
                          d.layout.body + (2u << 20)),
              d.crash + "/vmcore.0: not saved; the partial file was removed and the dump left on " + d.dev,
          });
    CHECK(listing(d.crash) == std::vector<std::string>{"bounds"});
    CHECK(writes == 0);
    CHECK(d.changed_bytes().empty());
    Captured next;
    CHECK(save::run(d.options(), next).exit_status() == 0);
    CHECK(file_bytes(d.crash + "/vmcore.1") == d.body);
}

TEST_CASE("devices of every kind in one run; no NetBSD kernel is needed unless a NetBSD device is searched") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(3000, 16));
    synth::write_file(d.dir / "empty.img", Bytes(1u << 20));
    save::Options o = d.options();
    o.devices = {d.dir / "empty.img", d.dev};
    o.verbose = true;
    Captured log;
    const save::Result r = save::run(o, log);
    CHECK(r.exit_status() == 0);
    REQUIRE(r.devices.size() == 2);
    CHECK(r.devices[0].outcome == Outcome::no_dump);
    CHECK(r.devices[1].outcome == Outcome::saved);
    CHECK(log.messages().front() ==
          d.dir / "empty.img" +
              ": no FreeBSD or DragonFly dump header, and no NetBSD kernel to search for a NetBSD dump with: " +
              d.dir / "no-netbsd-kernel" + ": cannot open: No such file or directory");
    CHECK(file_bytes(d.crash + "/vmcore.0") == d.body);
}

TEST_CASE("a stale FreeBSD temporary file or link is removed; planted names are never followed") {
    Device d({.header = synth::freebsd_header(4)}, body_bytes(3000, 17));
    synth::write_file(d.crash + "/vmcore.0.tmp", to_bytes("left by a killed savecore"));
    REQUIRE(::symlink("/etc/passwd", (d.crash + "/info.last.tmp").c_str()) == 0);
    REQUIRE(::symlink("/etc/passwd", (d.crash + "/vmcore.last").c_str()) == 0);
    synth::write_file(d.crash + "/info.last", to_bytes("a file, not a link"));
    Captured log;
    CHECK(save::run(d.options(), log).exit_status() == 0);
    CHECK(log.said(Priority::warning, d.crash + "/vmcore.0.tmp: removed, left by an interrupted savecore"));
    CHECK(log.said(Priority::warning, d.crash + "/info.last.tmp: removed, left by an interrupted savecore"));
    CHECK(log.said(Priority::warning, d.crash + "/info.last: not a symbolic link; left as it is"));
    CHECK(d.link("vmcore.last") == "vmcore.0");
    CHECK(file_bytes(d.crash + "/info.last") == to_bytes("a file, not a link"));
    CHECK(file_bytes(d.crash + "/vmcore.0") == d.body);
}
