// The real vmcore (REALDUMP_DIR) in every kdump codec.  QEMU as built for
// Debian 12 writes only zlib kdump files and makedumpfile 1.7.2 refuses 6.1
// kernels, so the guest's pages are re-encoded at test time with the
// synthetic writer, in a temporary directory: one file each in lzo, snappy
// and zstd, and a split set of three files whose pages take the four codecs
// in turn, its middle file flattened.  Each is checked against the guest's
// truth files as the zlib file is: the banner, VMCOREINFO, the symbols, the
// BTF, the process list; and every page against the zlib file's.
#include <kvm/error.h>
#include <kvm/format.h>
#include <kvm/kernel.h>
#include <kvm/linux.h>
#include <kvm/procs.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "format/kdump.h"
#include "format/kdump_codec.h"
#include "kdump_fixture.h"
#include "realdump_fixture.h"
#include "test_util.h"

#include <map>
#include <set>
#include <sstream>

using namespace kvm;
using kvmtest::realdump_dir;
using kvmtest::slurp;

namespace {

constexpr std::uint64_t page_size = 4096;

struct Variant {
    std::string name;                // "lzo", ..., "split"
    std::vector<std::string> files;  // -M order
    std::string compression;         // the header's status, as kdump.compression names it
    std::set<std::uint32_t> flags;   // the descriptors' codecs
};

// The re-encoded files, made once for all the tests of this file.
struct Reencoded {
    kvm::test::TempDir dir;
    std::vector<Variant> variants;
};

const Reencoded& reencoded(const std::string& real) {
    static const std::unique_ptr<Reencoded> made = [&] {
        auto r = std::make_unique<Reencoded>();
        synth::KdumpWriter w = synth::copy_kdump(open_file(real + "/vmcore.kdump"));
        for (const kdump::Codec& c :
             {*kdump::find_codec(kdump::compressed_lzo), *kdump::find_codec(kdump::compressed_snappy),
              *kdump::find_codec(kdump::compressed_zstd)}) {
            const std::string name(c.name);
            const std::string path = r->dir / ("vmcore." + name);
            w.set_codecs({name});
            const Bytes built = w.build();
            synth::write_file(path, built);
            r->variants.push_back({name, {path}, name, {c.flag}});
        }
        w.set_codecs({"lzo", "snappy", "zstd", "zlib"});
        const std::vector<Bytes> parts = w.build_split(3);
        Variant split{"split", {}, "zlib,lzo,snappy,zstd", {}};
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const std::string path = r->dir / fmt::format("vmcore.split.{}", i + 1);
            synth::write_file(path, i == 1 ? synth::flatten(parts[i], 1u << 20, kdump::header_size) : parts[i]);
            split.files.push_back(path);
            for (const auto& entry : kvmtest::descriptor_flags(parts[i]))
                if (entry.first != 0) split.flags.insert(entry.first);
        }
        r->variants.push_back(split);
        return r;
    }();
    return *made;
}

std::unique_ptr<Kernel> open_variant(const std::string& dir, const Variant& v) {
    return Kernel::open({.namelist = dir + "/" + kvmtest::realdump_namelist(dir),
                         .core = v.files.front(),
                         .core_parts = std::vector<std::string>(v.files.begin() + 1, v.files.end())});
}

// "address type name" lines of a truth file.
std::map<std::string, std::uint64_t> truth_symbols(const std::string& path) {
    std::map<std::string, std::uint64_t> out;
    std::istringstream in(slurp(path));
    std::string addr;
    std::string type;
    std::string name;
    while (in >> addr >> type >> name)
        out[name] = std::stoull(addr, nullptr, 16);
    return out;
}

std::vector<ProcInfo> processes(const Kernel& k) {
    std::vector<ProcInfo> rows;
    std::vector<std::string> warnings;
    make_process_walker({.kernel = &k})
        ->walk(
            {}, [&](const ProcInfo& p) { rows.push_back(p); },
            [&](const Error& e) { warnings.emplace_back(e.what()); });
    CHECK(warnings.empty());
    return rows;
}

}  // namespace

TEST_CASE("real dump in lzo, snappy, zstd and a split set of mixed codecs: the pages are the zlib file's") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const Reencoded& r = reencoded(*dir);
    const auto zlib = open_format(open_file(*dir + "/vmcore.kdump"));
    const auto runs = zlib->phys_ranges();
    std::uint64_t pages = 0;
    for (const PhysRun& run : runs)
        pages += run.size / page_size;
    CHECK(pages > 30000);  // 128 MiB, less the holes
    for (const Variant& v : r.variants) {
        CAPTURE(v.name);
        // The pages are in the codecs named, and only in those.
        std::set<std::uint32_t> used;
        for (const std::string& path : v.files) {
            const auto f = open_file(path);
            Bytes all = f->read_bytes(0, static_cast<std::size_t>(f->size()), "file");
            if (path.ends_with(".2") && v.name == "split") continue;  // flattened: its records hold the bytes
            for (const auto& entry : kvmtest::descriptor_flags(all))
                if (entry.first != 0) used.insert(entry.first);
        }
        CHECK(std::includes(v.flags.begin(), v.flags.end(), used.begin(), used.end()));
        CHECK(v.flags.size() == (v.name == "split" ? 4u : 1u));
        const auto k = open_variant(*dir, v);
        CHECK(k->format().file_count() == v.files.size());
        CHECK(k->machine().info.at("kdump.compression") == v.compression);
        const auto mine = k->format().phys_ranges();
        REQUIRE(mine.size() == runs.size());
        Bytes a(page_size);
        Bytes b(page_size);
        std::size_t differ = 0;
        for (std::size_t i = 0; i < runs.size(); ++i) {
            CHECK(mine[i].pa == runs[i].pa);
            CHECK(mine[i].size == runs[i].size);
            for (std::uint64_t pa = runs[i].pa; pa < runs[i].pa + runs[i].size; pa += page_size) {
                zlib->read_phys(pa, a);
                k->read_phys(pa, b);
                differ += a != b ? 1 : 0;
            }
        }
        CHECK(differ == 0);
    }
}

TEST_CASE("real dump in every codec: banner, VMCOREINFO, symbols and BTF are the guest's") {
    const auto dir = realdump_dir();
    if (!dir) return;
    const std::string version = slurp(*dir + "/truth/version.txt");
    const std::string vmcoreinfo = slurp(*dir + "/truth/vmcoreinfo.txt");
    const bool has_btf = slurp(*dir + "/truth/btf.txt") != "absent\n";  // 686-pae has none
    const std::string btf = has_btf ? slurp(*dir + "/truth/btf.vmlinux") : "";
    const auto chosen = truth_symbols(*dir + "/truth/kallsyms.txt");
    // kallsyms without CONFIG_KALLSYMS_ALL (arm64, i386): _stext and _etext
    REQUIRE(chosen.size() >= (kvmtest::realdump_arch(*dir) == "amd64" ? 20u : 2u));
    for (const Variant& v : reencoded(*dir).variants) {
        CAPTURE(v.name);
        const auto k = open_variant(*dir, v);
        CHECK(k->machine().os == "linux");
        CHECK(k->read_string(k->symbol_value("linux_banner"), 1024) == version);
        const auto* notes = linux_kernel::core_notes(k->format());
        REQUIRE(notes != nullptr);
        REQUIRE(notes->vmcoreinfo);
        CHECK(notes->vmcoreinfo->text() == vmcoreinfo);
        for (const auto& entry : chosen) {
            // Not a structured binding: clang 14 cannot capture one in CAPTURE.
            const auto& name = entry.first;
            const auto& value = entry.second;
            CAPTURE(name);
            REQUIRE(k->symbols().find(name) != nullptr);
            CHECK(k->symbols().find(name)->value == value);
        }
        if (!has_btf) continue;
        const std::uint64_t start = k->symbols().find("__start_BTF")->value;
        const std::uint64_t stop = k->symbols().find("__stop_BTF")->value;
        REQUIRE(stop - start == btf.size());
        Bytes blob(btf.size());
        k->read(start, blob);
        CHECK(blob == to_bytes(btf));
    }
}

TEST_CASE("real dump in every codec: the process list is the guest's") {
    const auto dir = realdump_dir();
    if (!dir) return;
    // truth/ps.txt: PID PPID UID GID STATE THREADS STARTTIME COMM CMDLINE
    std::map<std::int32_t, std::string> truth;  // pid -> comm, kworkers aside
    std::istringstream in(slurp(*dir + "/truth/ps.txt"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::istringstream fields(line);
        for (std::string x; std::getline(fields, x, '\t');)
            f.push_back(x);
        REQUIRE(f.size() >= 8);
        if (!f[7].starts_with("kworker/")) truth[std::stoi(f[0])] = f[7];
    }
    REQUIRE(truth.size() > 40);
    const auto zlib =
        Kernel::open({.namelist = *dir + "/" + kvmtest::realdump_namelist(*dir), .core = *dir + "/vmcore.kdump"});
    const std::vector<ProcInfo> expected = processes(*zlib);
    for (const Variant& v : reencoded(*dir).variants) {
        CAPTURE(v.name);
        const std::vector<ProcInfo> rows = processes(*open_variant(*dir, v));
        // Every process the guest listed, by PID and name.
        std::map<std::int32_t, std::string> listed;
        for (const ProcInfo& p : rows)
            if (!p.comm.starts_with("kworker/")) listed[p.pid] = p.comm;
        CHECK(listed == truth);
        // And row for row what the zlib file gives (which test_realdump_ps
        // checks field by field against the truth).
        REQUIRE(rows.size() == expected.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            CHECK(rows[i].pid == expected[i].pid);
            CHECK(rows[i].ppid == expected[i].ppid);
            CHECK(rows[i].uid == expected[i].uid);
            CHECK(rows[i].stat == expected[i].stat);
            CHECK(rows[i].comm == expected[i].comm);
            CHECK(rows[i].tty == expected[i].tty);
            CHECK(rows[i].paddr == expected[i].paddr);
        }
    }
}
