// open_target: -N and -M as the tools take them, and the running host's
// kernel when they are left out.
#include <kvm/error.h>
#include <kvm/synth.h>
#include <kvm/target.h>

#include <doctest/doctest.h>

#include "test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

struct Crash {
    Crash() {
        synth::CrashedMachine m({.seed = 5});
        const auto segments = m.prepare_dump({});
        auto out = create_file_sink(core);
        m.write_kcore(*out, segments);
        out->finish();
        synth::write_file(kernel, m.kernel_elf());
        main = m.symbol("main");
    }
    TempDir dir;
    std::string kernel = dir / "netbsd";
    std::string core = dir / "netbsd.0.core";
    std::uint64_t main = 0;
};

}  // namespace

TEST_CASE("-N and -M: a namelist through its index, and a dump that shares it") {
    Crash c;
    const Target t = open_target({.namelist = c.kernel, .core = c.core, .need_namelist = true});
    REQUIRE(t.namelist);
    REQUIRE(t.kernel);
    CHECK_FALSE(t.live);
    CHECK(&t.kernel->namelist() == t.namelist.get());
    CHECK(t.kernel->symbol_value("_main") == c.main);
    CHECK(std::filesystem::exists(c.kernel + ".symidx"));

    // A namelist alone when no memory is needed and none is named.
    const Target names = open_target({.namelist = c.kernel, .need_memory = false});
    CHECK(names.namelist);
    CHECK_FALSE(names.kernel);
    CHECK_FALSE(names.live);

    // A dump alone: addresses only.
    const Target dump = open_target({.core = c.core});
    CHECK_FALSE(dump.namelist);
    REQUIRE(dump.kernel);
    CHECK_FALSE(dump.kernel->has_namelist());
    CHECK(error_of([&] { open_target({.core = c.core, .need_namelist = true}); }) == "no namelist given (-N system)");

    // Without the index.
    std::filesystem::remove(c.kernel + ".symidx");
    const Target plain = open_target({.namelist = c.kernel, .core = c.core, .index = {.enabled = false}});
    CHECK(plain.kernel->symbol_value("main") == c.main);
    CHECK_FALSE(std::filesystem::exists(c.kernel + ".symidx"));

    CHECK(error_of([&] { open_target({.namelist = c.kernel, .dumplo_blocks = 8, .need_memory = false}); }) ==
          "--dumplo applies to a dump device named with -M");
    CHECK(error_of([&] { open_target({.namelist = c.dir / "nosuch", .core = c.core}); }) ==
          c.dir / "nosuch: cannot open: No such file or directory");
}

TEST_CASE("the running host: /proc/kallsyms and /proc/kcore on Linux, with clear refusals") {
    const auto host = live_host();
#if defined(__linux__)
    REQUIRE(host);
    CHECK(host->namelist == "/proc/kallsyms");
    CHECK(host->memory == "/proc/kcore");
#else
    CHECK_FALSE(host);
#endif
    TempDir dir;
    CHECK(error_of([&] { check_live_memory(dir / "kcore"); }) ==
          dir /
              "kcore: not present on this host (a kernel without CONFIG_PROC_KCORE, or /proc not mounted); "
              "name a dump with -M");
    CHECK(kvm::test::kind_of([&] { check_live_memory(dir / "kcore"); }) == ErrorKind::unsupported);
    synth::write_file(dir / "kcore", to_bytes("x"));
    CHECK(error_of([&] { check_live_memory(dir / "kcore"); }) == "no error");
    if (::geteuid() != 0) {
        REQUIRE(::chmod((dir / "kcore").c_str(), 0) == 0);
        CHECK(error_of([&] { check_live_memory(dir / "kcore"); }) ==
              dir / "kcore: Permission denied: reading the running kernel's memory needs root");
    }

    // With no -M, the host's memory is what is opened.  On a host without
    // /proc/kcore (this project's CI) that is a refusal naming the file.
    if (host && ::access(host->memory.c_str(), F_OK) != 0 && errno == ENOENT) {
        CHECK(error_of([&] { open_target({}); }) ==
              "/proc/kcore: not present on this host (a kernel without CONFIG_PROC_KCORE, or /proc not mounted); "
              "name a dump with -M");
        // A namelist given with -N does not change where memory comes from.
        CHECK(error_of([&] { open_target({.namelist = "/nonexistent/netbsd"}); }).rfind("/proc/kcore: ", 0) == 0);
    }
}
