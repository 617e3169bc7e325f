// Process walkers end to end: process trees planted in synthetic NetBSD
// machines (amd64, i386, i386 PAE) through the shipped layouts, read back
// through a kcore and Kernel, filtered, per LWP, and through damaged
// lists; ps formatting; the running host against /proc.
#include <kvm/error.h>
#include <kvm/io.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/netbsd.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace kvm;
using kvm::test::error_of;
using kvm::test::TempDir;

namespace {

std::string layouts_dir() {
    return (kvm::test::source_root() / "share/kvmkit/layouts").string();
}

StructLayouts shipped(std::string_view arch) {
    return load_layouts_file(fmt::format("{}/netbsd-10-{}.json", layouts_dir(), arch));
}

synth::LwpSpec lwp(std::int32_t lid, std::string state) {
    synth::LwpSpec l;
    l.lid = lid;
    l.state = std::move(state);
    return l;
}

synth::LwpSpec sleeper(std::int32_t lid, std::string wchan, std::string wmesg, std::uint32_t slptime,
                       bool interruptible = true) {
    synth::LwpSpec l = lwp(lid, "LSSLEEP");
    l.wchan = std::move(wchan);
    l.wmesg = std::move(wmesg);
    l.slptime = slptime;
    l.interruptible = interruptible;
    return l;
}

synth::ProcSpec proc(std::int32_t pid, std::int32_t ppid, std::int32_t pgid, std::int32_t sid, std::uint32_t uid,
                     std::string comm) {
    synth::ProcSpec s;
    s.pid = pid;
    s.ppid = ppid;
    s.pgid = pgid;
    s.sid = sid;
    s.uid = s.ruid = s.svuid = uid;
    s.gid = s.rgid = s.svgid = uid == 0 ? 0 : 100;
    s.groups = {s.gid};
    s.comm = std::move(comm);
    return s;
}

// Every STAT letter, every filter's distinctions, a marker and a zombie.
synth::ProcessTree small_tree() {
    synth::ProcessTree t;
    t.ttys = {{.name = "pts/2", .sid = 20, .foreground_pgid = 21, .login = "carol"},
              {.name = "ttyE1", .sid = 30, .foreground_pgid = 30, .revoked = true, .login = "dave"}};
    auto& v = t.procs;

    auto system = proc(0, 0, 0, 0, 0, "system");
    system.flags = {"PK_SYSTEM"};
    system.rtime_usec = 1'000'000;
    system.lwps = {sleeper(1, "uvm_pageout", "pgdaemon", 3, false), sleeper(2, "lbolt", "ioflush", 0, false)};
    system.lwps[0].name = "pgdaemon";
    system.lwps[0].rtime_usec = 400'000;
    system.lwps[1].name = "ioflush";
    system.lwps[1].wchan_offset = 8;
    system.lwps[1].rtime_usec = 600'000;
    v.push_back(system);

    auto init = proc(1, 0, 1, 1, 0, "init");
    init.rtime_usec = 12'345;
    init.vm_pages = 1000;
    init.ssize = 4;
    init.rss_pages = 100;
    init.lwps = {sleeper(1, "init_wait", "wait", 20)};
    v.push_back(init);

    auto syslogd = proc(10, 1, 10, 10, 0, "syslogd");
    syslogd.nice = -5;
    syslogd.rtime_usec = 59'995'000;
    syslogd.lwps = {sleeper(1, "kq_cv", "kqueue", 19)};
    v.push_back(syslogd);

    auto sh = proc(20, 1, 20, 20, 1000, "sh");
    sh.groups = {100, 0};
    sh.controlling_tty = true;
    sh.vm_pages = 600;
    sh.ssize = 3;
    sh.issize = 1;
    sh.rss_pages = 150;
    sh.lwps = {sleeper(1, "init_wait", "wait", 0)};
    v.push_back(sh);

    auto cc = proc(21, 20, 21, 20, 1000, "cc");
    cc.controlling_tty = true;
    cc.nice = 5;
    cc.rtime_usec = 3'600'000'000;
    cc.lwps = {lwp(1, "LSRUN")};
    v.push_back(cc);

    auto prog = proc(22, 20, 22, 20, 1000, "prog");
    prog.controlling_tty = true;
    prog.state = "SSTOP";
    prog.flags = {"PSL_TRACED"};
    prog.lwps = {lwp(1, "LSSTOP")};
    v.push_back(prog);

    auto dying = proc(23, 20, 21, 20, 1001, "dying");
    dying.ruid = 1000;
    dying.controlling_tty = true;
    dying.flags = {"PS_WEXIT"};
    dying.lwps = {lwp(1, "LSONPROC")};
    v.push_back(dying);

    auto vforked = proc(24, 20, 21, 20, 1000, "vforked");
    vforked.controlling_tty = true;
    vforked.flags = {"PL_PPWAIT"};
    vforked.lwps = {lwp(1, "LSSUSPENDED")};
    v.push_back(vforked);

    synth::ProcSpec marker;
    marker.marker = true;
    v.push_back(marker);

    auto zombie = proc(25, 20, 21, 20, 1000, "zombie");
    zombie.controlling_tty = true;
    zombie.state = "SZOMB";
    v.push_back(zombie);

    auto threads = proc(26, 1, 26, 26, 1000, "threads");
    threads.gid = 200;
    threads.lwps = {sleeper(1, "kq_cv", "kqueue", 2), lwp(2, "LSONPROC"), lwp(3, "LSZOMB")};
    threads.lwps[0].rtime_usec = 250'000;
    threads.lwps[1].rtime_usec = 750'000;
    threads.lwps[1].name = "worker";
    threads.rtime_usec = 1'000'000;
    v.push_back(threads);

    auto newborn = proc(27, 26, 26, 26, 1000, "newborn");
    newborn.state = "SIDL";
    newborn.lwps = {lwp(1, "LSIDL")};
    v.push_back(newborn);

    auto ksh = proc(30, 1, 30, 30, 1002, "ksh");
    ksh.controlling_tty = true;
    ksh.lwps = {sleeper(1, "ttyraw_cv", "ttyraw", 25)};
    v.push_back(ksh);
    return t;
}

constexpr std::string_view small_table =
    "PID TTY    STAT     TIME COMMAND\n"
    "  0 ?      DKsl  0:01.00 [system]\n"
    "  1 ?      Is    0:00.01 (init)\n"
    " 10 ?      S<s   1:00.00 (syslogd)\n"
    " 26 ?      Osl   0:01.00 (threads)\n"
    " 27 ?      R     0:00.00 (newborn)\n"
    " 20 pts/2  Ss    0:00.00 (sh)\n"
    " 21 pts/2  RN+  60:00.00 (cc)\n"
    " 22 pts/2  TX    0:00.00 (prog)\n"
    " 23 pts/2  OE+   0:00.00 (dying)\n"
    " 24 pts/2  UV+   0:00.00 (vforked)\n"
    " 25 pts/2  Z+    0:00.00 (zombie)\n"
    " 30 ttyE1- Is+   0:00.00 (ksh)\n";

using Damage = std::function<void(synth::CrashedMachine&, const StructLayouts&, const synth::PlantedProcesses&)>;

// A crashed machine with a planted tree, its kernel on disk and its kcore in memory.
struct Crash {
    Crash(const char* arch, bool pae, const synth::ProcessTree& tree, const Damage& damage = {},
          const std::function<void(synth::CrashedMachine&)>& before = {}, std::vector<netbsd::RamSegment> ram = {},
          std::uint64_t seed = 5, bool sparse = false)
        : machine({.arch = arch, .pae = pae, .ram = std::move(ram), .seed = seed}),
          layouts(shipped(arch)),
          kernel_path(dir / "netbsd") {
        if (before) before(machine);
        planted = synth::plant_processes(machine, layouts, tree);
        if (damage) damage(machine, layouts, planted);
        const auto segments = machine.prepare_dump({.sparse = sparse});
        MemorySink sink;
        machine.write_kcore(sink, segments);
        kcore = sink.data();
        synth::write_file(kernel_path, machine.kernel_elf());
    }

    std::unique_ptr<Kernel> open(Bytes core, bool allow_truncated = false) const {
        auto namelist = std::shared_ptr<const Namelist>(Namelist::load(kernel_path));
        ProbeOptions probe{.allow_truncated = allow_truncated};
        return std::make_unique<Kernel>(
            open_format(std::make_shared<MemorySource>(std::move(core), "netbsd.0.core"), probe), namelist);
    }

    TempDir dir;
    synth::CrashedMachine machine;
    StructLayouts layouts;
    std::string kernel_path;
    synth::PlantedProcesses planted;
    Bytes kcore;
};

struct Listing {
    std::vector<ProcInfo> rows;  // in walk order
    std::vector<std::string> warnings;

    std::vector<std::int32_t> pids() const {
        std::vector<std::int32_t> out;
        for (const auto& r : rows)
            out.push_back(r.pid);
        return out;
    }
    std::vector<std::int32_t> sorted_pids() const {
        auto out = pids();
        std::sort(out.begin(), out.end());
        return out;
    }
    const ProcInfo& pid(std::int32_t pid) const {
        for (const auto& r : rows)
            if (r.pid == pid) return r;
        throw std::runtime_error(fmt::format("no pid {}", pid));
    }
};

Listing walk(const Kernel& kernel, const WalkOptions& options = {}) {
    const auto walker = make_process_walker({.kernel = &kernel, .layout_dirs = {layouts_dir()}});
    Listing l;
    walker->walk(
        options, [&](const ProcInfo& p) { l.rows.push_back(p); },
        [&](const Error& e) { l.warnings.push_back(e.what()); });
    return l;
}

std::string table(std::vector<ProcInfo> rows, std::string_view format = "") {
    sort_ps(rows);
    const auto columns = format.empty() ? default_ps_format() : parse_ps_format(format);
    return format_ps_table(rows, columns);
}

struct Scheme {
    const char* arch;
    bool pae;
};
constexpr Scheme schemes[] = {{"amd64", false}, {"i386", false}, {"i386", true}};

}  // namespace

TEST_CASE("a planted tree reads back as ps prints it, on amd64, i386 and i386 PAE") {
    for (const Scheme& s : schemes) {
        CAPTURE(s.arch);
        CAPTURE(s.pae);
        const Crash crash(s.arch, s.pae, small_tree());
        const auto kernel = crash.open(crash.kcore);
        const Listing l = walk(*kernel);
        CHECK(l.warnings.empty());
        // allproc newest first (the marker skipped), then zombproc.
        CHECK(l.pids() == std::vector<std::int32_t>{30, 27, 26, 24, 23, 22, 21, 20, 10, 1, 0, 25});
        CHECK(table(l.rows) == small_table);
        for (const auto& r : l.rows)
            CHECK(r.paddr == crash.planted.proc.at(r.pid));
        CHECK(crash.planted.nprocs == 12);
    }
}

TEST_CASE("every field of a process is read back") {
    const Crash crash("amd64", false, small_tree());
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);

    const ProcInfo& sh = l.pid(20);
    CHECK(sh.ppid == 1);
    CHECK(sh.pgid == 20);
    CHECK(sh.sid == 20);
    CHECK(sh.tpgid == 21);
    CHECK(sh.uid == 1000);
    CHECK(sh.ruid == 1000);
    CHECK(sh.gid == 100);
    CHECK(sh.groups == std::vector<std::uint32_t>{100, 0});
    CHECK(sh.tdev == netbsd::makedev(5, 2));
    CHECK(sh.tty == "pts/2");
    CHECK(sh.ctty_vnode);
    CHECK(sh.session_leader);
    CHECK(sh.login == "carol");
    CHECK(sh.stat == "Ss");
    CHECK(sh.state == 2);      // SACTIVE
    CHECK(sh.lwp_state == 3);  // LSSLEEP
    CHECK(sh.lid == 1);
    CHECK(sh.nlwps == 1);
    CHECK(sh.wchan == kernel->symbol_value("init_wait"));
    CHECK(sh.wchan_symbol == "init_wait");
    CHECK(sh.wmesg == "wait");
    CHECK(sh.vsz_kib == (600 - 1 + 3) * 4);
    CHECK(sh.rss_kib == 150 * 4);
    CHECK(sh.laddr == crash.planted.lwp.at({20, 1}));
    CHECK(sh.comm == "sh");
    CHECK(!sh.live);
    CHECK(!sh.zombie);

    const ProcInfo& dying = l.pid(23);
    CHECK(dying.uid == 1001);
    CHECK(dying.ruid == 1000);
    CHECK(dying.svuid == 1001);
    CHECK(dying.raw == std::vector<std::pair<std::string, std::uint64_t>>{
                           {"p_sflag", 0x2000}, {"p_slflag", 0}, {"p_lflag", 0x2}, {"l_flag", 0}});

    const ProcInfo& ksh = l.pid(30);
    CHECK(ksh.tty == "ttyE1");
    CHECK(!ksh.ctty_vnode);
    CHECK(ps_tty(ksh) == "ttyE1-");
    CHECK(ksh.stat == "Is+");

    const ProcInfo& system = l.pid(0);
    CHECK(system.system);
    CHECK(system.flags == 0x2);
    CHECK(system.vsz_kib == 0);
    CHECK(system.tdev == no_dev);
    CHECK(system.wchan_symbol == "lbolt+0x8");  // both asleep: the first on p_lwps, the newest, stands for it
    CHECK(system.lid == 2);
    CHECK(system.nlwps == 2);

    const ProcInfo& zombie = l.pid(25);
    CHECK(zombie.zombie);
    CHECK(zombie.stat == "Z+");
    CHECK(zombie.lid == 0);
    CHECK(zombie.nlwps == 0);

    const ProcInfo& threads = l.pid(26);
    CHECK(threads.lid == 2);  // the LWP on a CPU stands for the process
    CHECK(threads.lname == "worker");
    CHECK(threads.nlwps == 2);  // the zombie LWP is not counted
    CHECK(threads.gid == 200);
    CHECK(threads.rgid == 100);

    CHECK(table(l.rows, "pid,tpgid,uid,ruid,gid,rgid,tdev,lid,nlwp,nice,wchan,wmesg,vsz,rss,login,comm") ==
          "PID TPGID  UID RUID GID RGID TDEV LID NLWP NI WCHAN     WMESG    VSZ RSS LOGIN COMMAND\n"
          "  0    -1    0    0   0    0    ?   2    2  0 lbolt+0x8 ioflush    0   0 -     system\n"
          "  1    -1    0    0   0    0    ?   1    1  0 init_wait wait    4016 400 -     init\n"
          " 10    -1    0    0   0    0    ?   1    1 -5 kq_cv     kqueue     0   0 -     syslogd\n"
          " 26    -1 1000 1000 200  100    ?   2    2  0 -         -          0   0 -     threads\n"
          " 27    -1 1000 1000 100  100    ?   1    1  0 -         -          0   0 -     newborn\n"
          " 20    21 1000 1000 100  100  5/2   1    1  0 init_wait wait    2408 600 carol sh\n"
          " 21    21 1000 1000 100  100  5/2   1    1  5 -         -          0   0 carol cc\n"
          " 22    21 1000 1000 100  100  5/2   1    1  0 -         -          0   0 carol prog\n"
          " 23    21 1001 1000 100  100  5/2   1    1  0 -         -          0   0 carol dying\n"
          " 24    21 1000 1000 100  100  5/2   1    1  0 -         -          0   0 carol vforked\n"
          " 25    21 1000 1000 100  100  5/2   0    0  0 -         -          0   0 carol zombie\n"
          " 30    30 1002 1002 100  100 47/1   1    1  0 ttyraw_cv ttyraw     0   0 dave  ksh\n");
}

TEST_CASE("every KERN_PROC filter filters, alone and together") {
    const Crash crash("i386", false, small_tree());
    const auto kernel = crash.open(crash.kcore);
    const auto pids = [&](std::vector<ProcFilter> f) { return walk(*kernel, {.filters = std::move(f)}).sorted_pids(); };
    using V = std::vector<std::int32_t>;
    CHECK(pids({{ProcOp::pid, 21}}) == V{21});
    CHECK(pids({{ProcOp::pid, 99}}).empty());
    CHECK(pids({{ProcOp::pgrp, 21}}) == V{21, 23, 24, 25});
    CHECK(pids({{ProcOp::session, 20}}) == V{20, 21, 22, 23, 24, 25});
    CHECK(pids({{ProcOp::session, 26}}) == V{26, 27});
    CHECK(pids({{ProcOp::tty, netbsd::makedev(5, 2)}}) == V{20, 21, 22, 23, 24, 25});
    CHECK(pids({{ProcOp::tty, netbsd::makedev(47, 1)}}) == V{30});
    CHECK(pids({{ProcOp::tty, no_dev}}) == V{0, 1, 10, 26, 27});
    CHECK(pids({{ProcOp::tty, tty_revoked}}) == V{30});  // ttyE1, revoked
    // ps -t's names for these: "?", "-", "E1" is ttyE1, a path as given.
    const auto walker = make_process_walker({.kernel = kernel.get(), .layout_dirs = {layouts_dir()}});
    CHECK(terminal_device(*walker, "?") == no_dev);
    CHECK(terminal_device(*walker, "-") == tty_revoked);
    CHECK(terminal_device(*walker, "E1") == netbsd::makedev(47, 1));
    CHECK(terminal_device(*walker, "ttyE1") == netbsd::makedev(47, 1));
    CHECK(terminal_device(*walker, "/dev/pts/2") == netbsd::makedev(5, 2));
    CHECK(terminal_device(*walker, "pts/2") == netbsd::makedev(5, 2));
    CHECK(!terminal_device(*walker, "nosuch"));
    CHECK(pids({{ProcOp::uid, 1000}}) == V{20, 21, 22, 24, 25, 26, 27});
    CHECK(pids({{ProcOp::ruid, 1000}}) == V{20, 21, 22, 23, 24, 25, 26, 27});
    CHECK(pids({{ProcOp::gid, 200}}) == V{26});
    CHECK(pids({{ProcOp::rgid, 100}}) == V{20, 21, 22, 23, 24, 25, 26, 27, 30});
    CHECK(pids({{ProcOp::rgid, 0}}) == V{0, 1, 10});
    CHECK(pids({{ProcOp::session, 20}, {ProcOp::uid, 1000}}) == V{20, 21, 22, 24, 25});
    CHECK(pids({{ProcOp::all, 0}}).size() == 12);
    CHECK(to_string(ProcOp::rgid) == "KERN_PROC_RGID");
}

TEST_CASE("per-LWP rows carry each LWP's state, wait channel and time") {
    const Crash crash("amd64", false, small_tree());
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel, {.filters = {{ProcOp::session, 26}}, .per_lwp = true});
    CHECK(l.warnings.empty());
    CHECK(table(l.rows, "pid,lid,stat,wchan,wmesg,time,lname,comm") ==
          "PID LID STAT WCHAN WMESG     TIME LNAME  COMMAND\n"
          " 26   1 Ssl  kq_cv kqueue 0:00.25 -      threads\n"
          " 26   2 Osl  -     -      0:00.75 worker threads\n"
          " 26   3 Zsl  -     -      0:00.00 -      threads\n"
          " 27   1 R    -     -      0:00.00 -      newborn\n");
    for (const auto& r : l.rows)
        CHECK(r.lwp_row);

    const Listing system = walk(*kernel, {.filters = {{ProcOp::pid, 0}}, .per_lwp = true});
    CHECK(table(system.rows, "pid,lid,stat,wchan,wmesg,time,lname") ==
          "PID LID STAT WCHAN       WMESG       TIME LNAME\n"
          "  0   1 DKsl uvm_pageout pgdaemon 0:00.40 pgdaemon\n"
          "  0   2 DKsl lbolt+0x8   ioflush  0:00.60 ioflush\n");
    // A zombie with no LWP left still has its row.
    const Listing zombie = walk(*kernel, {.filters = {{ProcOp::pid, 25}}, .per_lwp = true});
    REQUIRE(zombie.rows.size() == 1);
    CHECK(zombie.rows[0].stat == "Z+");
}

TEST_CASE("interruptible sleepers show I from the kernel's maxslp on") {
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                          m.write_uint(m.symbol("maxslp"), 10, 4);
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    CHECK(l.pid(1).stat == "Is");    // 20 seconds
    CHECK(l.pid(10).stat == "I<s");  // 19 seconds: over 10
    CHECK(l.pid(20).stat == "Ss");   // 0 seconds
    CHECK(l.pid(30).stat == "Is+");
}

TEST_CASE("a cycle in allproc ends it with a warning and keeps the rows read") {
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          synth::plant_list_fault(m, l, p, synth::ListFault::cycle, 3);
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    // Entries 0..3 are pids 30, 27, 26 and the marker, which points back to entry 0.
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] == fmt::format("allproc: entry 4 ({}) was already visited: the list has a cycle; stopped there",
                                       hex(crash.planted.proc.at(30))));
    CHECK(l.pids() == std::vector<std::int32_t>{30, 27, 26, 25});
}

TEST_CASE("a pointer outside the dump ends the list with a warning naming it") {
    const Crash crash("i386", true, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          synth::plant_list_fault(m, l, p, synth::ListFault::bad_pointer, 1);
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0].starts_with("allproc: entry 2 (0xcff00000): 0xcff00000: "));
    CHECK(l.pids() == std::vector<std::int32_t>{30, 27, 25});
}

TEST_CASE("more entries than nprocs allows end the lists with warnings") {
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          synth::plant_list_fault(m, l, p, synth::ListFault::short_count, 5);
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    // The marker (entry 4) does not count; the sixth process is entry 6.
    REQUIRE(l.warnings.size() == 2);
    CHECK(l.warnings[0] ==
          fmt::format("allproc: more than 5 entries; stopped at entry 6 ({})", hex(crash.planted.proc.at(22))));
    CHECK(l.warnings[1] ==
          fmt::format("zombproc: more than 0 entries; stopped at entry 0 ({})", hex(crash.planted.proc.at(25))));
    CHECK(l.pids() == std::vector<std::int32_t>{30, 27, 26, 24, 23});
}

TEST_CASE("damaged LWP lists and sub-objects are warnings about that process only") {
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          const auto& next = l.get("lwp").member("l_sibling.le_next");
                          // pid 26's LWPs are 3, 2, 1 on p_lwps: 2 points back to 3.
                          m.write_pointer(p.lwp.at({26, 2}) + next.offset, p.lwp.at({26, 3}));
                          // pid 0 says it has one LWP, but two are on the list.
                          m.write_uint(p.proc.at(0) + l.get("proc").member("p_nlwps").offset, 1, 4);
                          // pid 21: credentials outside the dump.
                          m.write_pointer(p.proc.at(21) + l.get("proc").member("p_cred").offset, 0xffffc0003ff00040);
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    REQUIRE(l.warnings.size() == 3);
    CHECK(l.warnings[0] == fmt::format("pid 26 ({}): LWP list: entry 2 ({}) was already visited: the list has a "
                                       "cycle; stopped there",
                                       hex(crash.planted.proc.at(26)), hex(crash.planted.lwp.at({26, 3}))));
    CHECK(l.warnings[1].starts_with(fmt::format("pid 21 ({}): credentials at 0xffffc0003ff00040: 0xffffc0003ff00040: ",
                                                hex(crash.planted.proc.at(21)))));
    CHECK(l.warnings[2] == fmt::format("pid 0 ({}): LWP list: more than 1 entries; stopped at entry 1 ({})",
                                       hex(crash.planted.proc.at(0)), hex(crash.planted.lwp.at({0, 1}))));
    CHECK(l.rows.size() == 12);
    CHECK(l.pid(21).uid == ProcInfo::unknown_id);
    CHECK(l.pid(21).stat == "RN+");
    CHECK(ps_field(l.pid(21), *parse_ps_format("uid")[0]) == "-");
    CHECK(l.pid(26).lid == 2);
    CHECK(l.pid(0).stat == "DKs");
}

TEST_CASE("an LWP list that points at its own process ends with a warning; the process keeps its row") {
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          // pid 26's first LWP is pid 26 itself.
                          m.write_pointer(p.proc.at(26) + l.get("proc").member("p_lwps.lh_first").offset,
                                          p.proc.at(26));
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] == fmt::format("pid 26 ({0}): LWP list: entry 0 ({0}): an LWP there would overlap the "
                                       "struct proc at {0}, its own process: the list is corrupt; stopped there",
                                       hex(crash.planted.proc.at(26))));
    CHECK(l.pids() == std::vector<std::int32_t>{30, 27, 26, 24, 23, 22, 21, 20, 10, 1, 0, 25});
    CHECK(l.pid(26).laddr == 0u);  // no LWP stands for it
}

TEST_CASE("a list whose entries are all markers ends with a warning") {
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          const NamedValue* marker = nullptr;
                          for (const auto& v : l.flags)
                              if (v.name == "PK_MARKER") marker = &v;
                          REQUIRE(marker != nullptr);
                          const auto& flag = l.get("proc").member("p_flag");
                          for (const std::uint64_t entry : p.allproc)
                              m.write_uint(
                                  entry + flag.offset,
                                  m.read_uint(entry + flag.offset, static_cast<unsigned>(flag.size)) | marker->value,
                                  static_cast<unsigned>(flag.size));
                      });
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] == fmt::format("allproc: all {} entries are markers (PK_MARKER), no process: the list is "
                                       "corrupt",
                                       crash.planted.allproc.size()));
    CHECK(l.pids() == std::vector<std::int32_t>{25});  // zombproc's
}

TEST_CASE("processes that overlap end the list, and nprocs is bounded by what the dump's memory holds") {
    // After the oldest process, a legal, acyclic chain of 64 "processes"
    // 32 bytes apart, with nprocs at the walker's cap: millions of rows from
    // a small dump, had the chain been long enough.
    const Crash crash("amd64", false, small_tree(),
                      [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
                          synth::plant_list_fault(m, l, p, synth::ListFault::overlap, 64);
                      });
    const std::uint64_t first = crash.machine.read_uint(
        crash.planted.allproc.back() + crash.layouts.get("proc").member("p_list.le_next").offset, 8);
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel);
    const std::uint64_t proc_size = crash.layouts.get("proc").size;
    std::uint64_t ram = 0;
    for (const auto& seg : crash.machine.memory().ram())
        ram += seg.size;
    const std::uint64_t entries = crash.planted.allproc.size();  // the markers too
    REQUIRE(l.warnings.size() == 2);
    CHECK(l.warnings[0] == fmt::format("nprocs is 4194304, but the dump's {:#x} bytes of memory hold at most {} "
                                       "{}-byte struct proc; reading at most that many",
                                       ram, ram / proc_size, proc_size));
    CHECK(l.warnings[1] == fmt::format("allproc: entry {} ({}) overlaps the struct proc at {} (32 bytes apart; "
                                       "each is at least {} bytes): the list is corrupt; stopped there",
                                       entries + 1, hex(first - 32), hex(first), proc_size));
    // The real processes, the first fake, then zombproc.
    REQUIRE(l.rows.size() == 13);
    CHECK(l.rows[11].paddr == first);
    CHECK(l.rows[12].pid == 25);
}

TEST_CASE("a truncated dump opens when allowed and ends the list where memory ends") {
    // Everything the machine holds before the tree is planted stays below
    // the tree's pages, as a kernel's image and tables sit below its later
    // allocations; a file cut in the tree's pages then keeps the page
    // tables and kernel variables.
    const auto below_tree = [](synth::CrashedMachine& m) {
        // The tree goes in the largest unwritten stretch of RAM: the rest is
        // reserved.  What the machine wrote above that stretch is cut with
        // the tree, and a seed where that matters is passed over below.
        synth::PhysMemory& mem = m.memory();
        std::uint64_t best_start = 0, best_size = 0;
        for (const auto& seg : mem.ram()) {
            std::uint64_t run = seg.start;
            for (std::uint64_t pa = seg.start; pa <= seg.start + seg.size; pa += 4096) {
                if (pa == seg.start + seg.size || mem.is_written(pa)) {
                    if (pa - run > best_size) best_start = run, best_size = pa - run;
                    run = pa + 4096;
                }
            }
        }
        for (const auto& seg : mem.ram()) {
            const std::uint64_t end = seg.start + seg.size;
            if (best_start > seg.start) mem.reserve(seg.start, std::min(end, best_start) - seg.start);
            if (end > best_start + best_size) {
                const std::uint64_t from = std::max(seg.start, best_start + best_size);
                mem.reserve(from, end - from);
            }
        }
    };
    // A large last RAM segment leaves room above what the machine wrote first.
    const std::vector<netbsd::RamSegment> ram = {
        {0x1000, 0x9e000}, {0x100000, 0xd00000}, {0x1000000, 0x400000}, {0x2000000, 0x4000000}};

    // Cut the file at the page of each process in turn.  Which processes
    // lie before a cut is a matter of how pages fell, so the test takes the
    // first seed where a cut keeps at least one process ahead of the one it
    // damages on allproc.
    bool tested = false;
    for (std::uint64_t seed = 1; seed <= 32 && !tested; ++seed) {
        const Crash crash("amd64", false, small_tree(), {}, below_tree, ram, seed, true);
        const auto full = crash.open(crash.kcore);
        const auto file_offset = [&](std::uint64_t va) {
            return *full->format().phys_to_offset(crash.machine.virt_to_phys(va) & ~std::uint64_t{4095});
        };
        const std::uint64_t proc_size = crash.layouts.get("proc").size;
        // The last page of a struct proc in the file (one may straddle two pages).
        const auto last_offset = [&](std::uint64_t va) {
            return std::max(file_offset(va), file_offset(va + proc_size - 1));
        };
        for (const auto& [pid, victim] : crash.planted.proc) {
            const std::uint64_t cut_at = file_offset(victim);
            // The first allproc entry the cut damages.
            std::size_t k = 0;
            while (k < crash.planted.allproc.size() && last_offset(crash.planted.allproc[k]) < cut_at)
                ++k;
            if (k == 0 || k == crash.planted.allproc.size()) continue;
            const Bytes cut(crash.kcore.begin(), crash.kcore.begin() + static_cast<std::ptrdiff_t>(cut_at));
            const auto kernel = crash.open(cut, true);
            Listing l;
            try {
                (void)kernel->read_uint(crash.planted.allproc[0], 4);
                l = walk(*kernel);
            } catch (const Error&) {
                continue;  // the cut took page tables or the kernel's variables with it
            }
            CAPTURE(seed);
            CAPTURE(k);
            // Refused without allow_truncated.
            CHECK(test::kind_of([&] { (void)crash.open(cut); }) == ErrorKind::corrupt);
            // The damaged entry ends allproc, naming the entry and the missing address.
            const std::string damaged = hex(crash.planted.allproc[k]);
            CHECK(std::find_if(l.warnings.begin(), l.warnings.end(), [&](const std::string& w) {
                      return w.starts_with(fmt::format("allproc: entry {} ({}): 0x", k, damaged)) &&
                             w.ends_with("is not in the dump");
                  }) != l.warnings.end());
            // Every process before it is a row (what it points to past the
            // cut is a warning about that process); nothing damaged is.
            for (std::size_t j = 0; j < k; ++j) {
                const std::uint64_t a = crash.planted.allproc[j];
                const bool marker = std::none_of(crash.planted.proc.begin(), crash.planted.proc.end(),
                                                 [&](const auto& kv) { return kv.second == a; });
                if (marker) continue;
                CHECK(std::find_if(l.rows.begin(), l.rows.end(), [&](const ProcInfo& r) { return r.paddr == a; }) !=
                      l.rows.end());
            }
            for (const auto& r : l.rows)
                CHECK(last_offset(r.paddr) < cut_at);
            tested = true;
            break;
        }
    }
    CHECK(tested);
}

TEST_CASE("what the walker needs missing from the namelist or the layouts is an error before any row") {
    const Crash crash("amd64", false, small_tree());
    auto kernel = crash.open(crash.kcore);

    // A layout file without a member the walk reads.
    StructLayouts l = shipped("amd64");
    auto& members = l.structs.at("lwp").members;
    members.erase(std::find_if(members.begin(), members.end(),
                               [](const MemberLayout& m) { return m.name == "l_sibling.le_next"; }));
    const std::string path = crash.dir / "bad.json";
    std::ofstream(path) << to_json(l);
    CHECK(error_of([&] { (void)make_process_walker({.kernel = kernel.get(), .layout_file = path}); }) ==
          fmt::format("{} lacks lwp.l_sibling.le_next", path));

    // A kernel whose namelist lacks zombproc.
    synth::CrashedMachine bare({.arch = "amd64"});
    const std::string bare_path = crash.dir / "bare";
    synth::write_file(bare_path, bare.kernel_elf());
    MemorySink sink;
    bare.write_kcore(sink, bare.prepare_dump({}));
    Kernel k(open_format(std::make_shared<MemorySource>(sink.data())), Namelist::load(bare_path));
    CHECK(error_of([&] { (void)make_process_walker({.kernel = &k}); }) ==
          fmt::format("{}: _nprocs: no such symbol", bare_path));

    Kernel no_namelist(open_format(std::make_shared<MemorySource>(crash.kcore)), nullptr);
    CHECK(error_of([&] { (void)make_process_walker({.kernel = &no_namelist}); }) == "no namelist given (-N system)");
}

TEST_CASE("a dump has no user memory: getargv, getenvv and uread refuse its processes") {
    ProcInfo p;
    p.pid = 42;
    CHECK(error_of([&] { (void)getargv(p); }) == "pid 42: a crash dump holds no user memory to read arguments from");
    CHECK(error_of([&] { (void)getenvv(p); }) ==
          "pid 42: a crash dump holds no user memory to read the environment from");
    Bytes b(4);
    CHECK(error_of([&] { (void)uread(p, 0x1000, b); }) ==
          "pid 42: a crash dump holds no user memory to read user memory from");
    CHECK(test::kind_of([&] { (void)getargv(p); }) == ErrorKind::unsupported);
}

TEST_CASE("ps fields: time rounding, terminals, commands and the order of rows") {
    CHECK(ps_time(0) == "0:00.00");
    CHECK(ps_time(4'999) == "0:00.00");
    CHECK(ps_time(5'000) == "0:00.01");
    CHECK(ps_time(59'994'999) == "0:59.99");
    CHECK(ps_time(59'995'000) == "1:00.00");
    CHECK(ps_time(3'725'120'000) == "62:05.12");

    ProcInfo p;
    p.comm = "sh";
    CHECK(ps_tty(p) == "?");
    CHECK(ps_command(p) == "(sh)");
    p.system = true;
    CHECK(ps_command(p) == "[sh]");
    p.argv = {"sh", "-c", "make all"};
    CHECK(ps_command(p) == "sh -c make all");
    p.tdev = netbsd::makedev(5, 0);
    p.tty = "pts/0";
    CHECK(ps_tty(p) == "pts/0-");
    p.ctty_vnode = true;
    CHECK(ps_tty(p) == "pts/0");
    p.tty.clear();
    CHECK(ps_tty(p) == "?");

    CHECK(error_of([] { (void)parse_ps_format("pid,foo"); }) == "foo: keyword not found");
    CHECK(error_of([] { (void)parse_ps_format(" , "); }) == "no valid keywords");
    CHECK(parse_ps_format("pid ppid,\tcomm").size() == 3);

    std::vector<ProcInfo> rows(4);
    rows[0].pid = 9;
    rows[0].tdev = netbsd::makedev(5, 1);
    rows[1].pid = 3;
    rows[1].tdev = netbsd::makedev(5, 0);
    rows[2].pid = 7;
    rows[3].pid = 2;
    sort_ps(rows);
    CHECK(std::vector<std::int32_t>{rows[0].pid, rows[1].pid, rows[2].pid, rows[3].pid} ==
          std::vector<std::int32_t>{2, 7, 3, 9});

    CHECK(stat_letters('S', {.nice = -1,
                             .traced = true,
                             .exiting = true,
                             .vfork_wait = true,
                             .system = true,
                             .session_leader = true,
                             .multithreaded = true,
                             .foreground = true}) == "S<XEVKsl+");
    CHECK(stat_letters('R', {.nice = 3}) == "RN");
}

TEST_CASE("JSON has every field, ids that could not be read as null") {
    const Crash crash("amd64", false, small_tree());
    const auto kernel = crash.open(crash.kcore);
    const Listing l = walk(*kernel, {.filters = {{ProcOp::pid, 20}}});
    REQUIRE(l.rows.size() == 1);
    const auto j = nlohmann::json::parse(format_ps_json(l.rows[0]));
    CHECK(j["pid"] == 20);
    CHECK(j["ppid"] == 1);
    CHECK(j["tpgid"] == 21);
    CHECK(j["uid"] == 1000);
    CHECK(j["groups"] == nlohmann::json::array({100, 0}));
    CHECK(j["tdev"] == netbsd::makedev(5, 2));
    CHECK(j["tty"] == "pts/2");
    CHECK(j["stat"] == "Ss");
    CHECK(j["time"] == "0:00.00");
    CHECK(j["wchan_symbol"] == "init_wait");
    CHECK(j["vsz"] == 2408);
    CHECK(j["paddr"] == hex(crash.planted.proc.at(20)));
    CHECK(j["command"] == "(sh)");
    CHECK(j["raw"]["p_lflag"] == 2);
    // Read where the layouts have them (zeros as planted); what the dump
    // does not hold is null: no struct pstats or struct emul planted, no CPU id.
    CHECK(j["pctcpu_tenths"] == 0);
    CHECK(j["priority"] == 0);
    CHECK(j["cpu"] == 0);
    for (const char* key : {"start_usec", "emul", "cpuid"})
        CHECK(j[key].is_null());
    CHECK(j.size() == 48);

    ProcInfo unknown;
    const auto u = nlohmann::json::parse(format_ps_json(unknown));
    CHECK(u["uid"].is_null());
    CHECK(u["tdev"].is_null());
    CHECK(u["tty"].is_null());

    // A command name from a dump is any bytes: quotes, controls and
    // invalid UTF-8 still make valid JSON.
    ProcInfo odd;
    odd.comm = std::string("a\"b\\c\n\x01\xff\xc3\xa9\xe2\x82", 12);
    odd.argv = {"x y", "\t"};
    const std::string line = format_ps_json(odd);
    CHECK(line.find(R"("comm":"a\"b\\c\u000a\u0001\ufffdé\ufffd\ufffd")") != std::string::npos);
    const auto o = nlohmann::json::parse(line);
    CHECK(o["comm"] == "a\"b\\c\n\x01\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(o["argv"] == nlohmann::json::array({"x y", "\t"}));
    CHECK(o["command"] == "x y \t");
}

TEST_CASE("NetBSD terminal names and numbers come from the layouts' device table") {
    const StructLayouts l = shipped("amd64");
    CHECK(netbsd::device_name(l, netbsd::makedev(5, 300)) == "pts/300");
    CHECK(netbsd::device_name(l, netbsd::makedev(8, 1)) == "tty01");
    CHECK(netbsd::device_name(l, netbsd::makedev(47, 0)) == "ttyE0");
    CHECK(netbsd::device_name(l, netbsd::makedev(0, 0)) == "console");
    CHECK(netbsd::device_name(l, netbsd::makedev(0, 1)).empty());
    CHECK(netbsd::device_name(l, netbsd::makedev(99, 0)).empty());
    CHECK(netbsd::device_name(l, no_dev).empty());
    CHECK(netbsd::device_number(l, "pts/300") == netbsd::makedev(5, 300));
    CHECK(netbsd::device_number(l, "/dev/tty01") == netbsd::makedev(8, 1));
    CHECK(netbsd::device_number(l, "console") == netbsd::makedev(0, 0));
    CHECK(!netbsd::device_number(l, "tty1"));  // com(4) names have two digits
    CHECK(!netbsd::device_number(l, "pts/x"));
    CHECK(netbsd::dev_major(netbsd::makedev(47, 0x12345)) == 47);
    CHECK(netbsd::dev_minor(netbsd::makedev(47, 0x12345)) == 0x12345);
}

TEST_CASE("the running host: this process as /proc shows it") {
    if (!std::filesystem::exists("/proc/self/stat")) {
        MESSAGE("no /proc: host walker not tested");
        return;
    }
    const auto walker = make_process_walker({});
    CHECK(walker->name() == "host");
    CHECK(walker->layouts() == nullptr);
    Listing l;
    walker->walk(
        {.filters = {{ProcOp::pid, static_cast<std::uint64_t>(::getpid())}}},
        [&](const ProcInfo& p) { l.rows.push_back(p); }, [&](const Error& e) { l.warnings.push_back(e.what()); });
    REQUIRE(l.rows.size() == 1);
    const ProcInfo& me = l.rows[0];
    CHECK(me.live);
    CHECK(me.pid == ::getpid());
    CHECK(me.ppid == ::getppid());
    CHECK(me.pgid == ::getpgrp());
    CHECK(me.sid == ::getsid(0));
    CHECK(me.uid == ::geteuid());
    CHECK(me.ruid == ::getuid());
    CHECK(me.gid == ::getegid());
    CHECK(me.rgid == ::getgid());
    CHECK(me.stat.front() == 'R');
    CHECK(me.comm == "kvmkit_tests");
    CHECK(me.nlwps >= 1);
    CHECK(!me.argv.empty());
    CHECK(std::filesystem::path(me.argv[0]).filename() == "kvmkit_tests");
    CHECK(getargv(me) == me.argv);
    CHECK(getargv(me, 3) == std::vector<std::string>{me.argv[0].substr(0, 3)});

    ::setenv("KVMKIT_TEST_MARKER", "present", 1);
    const auto env = getenvv(me);
    (void)env;  // the environment as the process started: the new variable is not in it
    CHECK(std::find(env.begin(), env.end(), "KVMKIT_TEST_MARKER=present") == env.end());

    static const char secret[] = "kvmkit user memory";
    Bytes b(sizeof secret);
    CHECK(uread(me, reinterpret_cast<std::uintptr_t>(secret), b) == sizeof secret);
    CHECK(std::memcmp(b.data(), secret, sizeof secret) == 0);
    CHECK(uread(me, 0, b) == 0);  // nothing is mapped at address 0

    // Per thread: at least this thread, named as the process.
    Listing threads;
    walker->walk(
        {.filters = {{ProcOp::pid, static_cast<std::uint64_t>(::getpid())}}, .per_lwp = true},
        [&](const ProcInfo& p) { threads.rows.push_back(p); }, [](const Error&) {});
    REQUIRE(!threads.rows.empty());
    CHECK(threads.rows[0].lid == ::getpid());
    CHECK(threads.rows[0].lwp_row);

    CHECK(!walker->tty_device("no-such-terminal"));
    CHECK(error_of([] { (void)make_process_walker({.layout_file = "x.json"}); }) ==
          "--layout applies to dumps: the running host is read through /proc");
}

namespace {

synth::ProcSpec& spec(synth::ProcessTree& t, std::int32_t pid) {
    for (auto& s : t.procs)
        if (!s.marker && s.pid == pid) return s;
    throw std::runtime_error(fmt::format("no pid {}", pid));
}

// An argument that crosses a page boundary wherever it starts.
const std::string long_argument = std::string(5000, 'x') + ".c";

// small_tree() with what exec left for five of its processes; 0 (the
// kernel's), 25 (a zombie) and 27 (SIDL: exec not done, p_psstrp 0) have
// nothing to read.
synth::ProcessTree tree_with_arguments() {
    synth::ProcessTree t = small_tree();
    spec(t, 1).argv = {"/sbin/init"};
    spec(t, 10).argv = {"/usr/sbin/syslogd", "-s"};
    spec(t, 20).argv = {"-sh"};
    spec(t, 20).envv = {"HOME=/home/carol", "TERM=vt100"};
    spec(t, 21).argv = {"cc", "-c", long_argument};
    spec(t, 26).argv = {"threads", "--workers=2"};
    spec(t, 30).envv = {"HOME=/"};  // argc 0: ps shows the command name
    return t;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("arguments and environment are read through each process's own page tables, on amd64 and i386") {
    for (const char* arch : {"amd64", "i386"}) {
        CAPTURE(arch);
        const Crash crash(arch, false, tree_with_arguments());
        const auto kernel = crash.open(crash.kcore);
        Strings notes;
        WalkOptions options;
        options.environment = true;
        options.note = [&](const std::string& n) { notes.push_back(n); };
        const Listing l = walk(*kernel, options);
        CHECK(l.warnings.empty());
        CHECK(notes.empty());
        CHECK(l.pid(1).argv == Strings{"/sbin/init"});
        CHECK(l.pid(10).argv == Strings{"/usr/sbin/syslogd", "-s"});
        CHECK(l.pid(20).argv == Strings{"-sh"});
        CHECK(l.pid(20).envv == Strings{"HOME=/home/carol", "TERM=vt100"});
        CHECK(l.pid(21).argv == Strings{"cc", "-c", long_argument});
        CHECK(l.pid(26).argv == Strings{"threads", "--workers=2"});
        CHECK(l.pid(30).argv.empty());
        CHECK(l.pid(30).envv == Strings{"HOME=/"});
        CHECK(getargv(l.pid(20)) == Strings{"-sh"});
        CHECK(getenvv(l.pid(20)) == Strings{"HOME=/home/carol", "TERM=vt100"});
        CHECK(getargv(l.pid(21), 10) == Strings{"cc", "-c", "xxxx"});
        for (const std::int32_t pid : {0, 25, 27}) {
            CAPTURE(pid);
            CHECK(l.pid(pid).argv_read);
            CHECK(l.pid(pid).envv_read);
            CHECK(l.pid(pid).argv.empty());
            CHECK(l.pid(pid).envv.empty());
            CHECK(l.pid(pid).user_memory_error.empty());
        }
        std::vector<ProcInfo> rows;
        for (const auto& r : l.rows)
            if (r.pid != 21) rows.push_back(r);
        CHECK(table(rows, "pid,command") ==
              "PID COMMAND\n"
              "  0 [system]\n"
              "  1 /sbin/init\n"
              " 10 /usr/sbin/syslogd -s\n"
              " 26 threads --workers=2\n"
              " 27 (newborn)\n"
              " 20 -sh HOME=/home/carol TERM=vt100\n"
              " 22 (prog)\n"
              " 23 (dying)\n"
              " 24 (vforked)\n"
              " 25 (zombie)\n"
              " 30 (ksh) HOME=/\n");

        // Without environment, the arguments only; each LWP's row has them.
        WalkOptions per_lwp;
        per_lwp.per_lwp = true;
        const Listing lwps = walk(*kernel, per_lwp);
        std::size_t threads = 0;
        for (const auto& r : lwps.rows) {
            if (r.pid != 26) continue;
            ++threads;
            CHECK(r.argv == Strings{"threads", "--workers=2"});
            CHECK(r.envv.empty());
            CHECK(!r.envv_read);
        }
        CHECK(threads == 3);
    }
}

TEST_CASE("a process whose stack pages a sparse dump left out shows (comm), and the walk says so once") {
    synth::ProcessTree tree = tree_with_arguments();
    spec(tree, 21).user_pages_unwritten = true;
    spec(tree, 26).user_pages_unwritten = true;
    const Crash crash("amd64", false, tree, {}, {}, {}, 5, true);
    const auto kernel = crash.open(crash.kcore);
    Strings notes;
    WalkOptions options;
    options.note = [&](const std::string& n) { notes.push_back(n); };
    const Listing l = walk(*kernel, options);
    CHECK(l.warnings.empty());
    const ProcInfo& cc = l.pid(21);
    CHECK(cc.argv.empty());
    CHECK(!cc.argv_read);
    // ps_strings is the first thing read, on the top page of the stack.
    const auto missing = [&](std::int32_t pid) {
        return fmt::format("ps_strings at 0x7f7fffffdfe0: 0x7f7fffffdfe0: physical address {} is not in the dump",
                           hex(crash.planted.ps_strings.at(pid)));
    };
    CHECK(cc.user_memory_error == missing(21));
    CHECK(l.pid(26).user_memory_error == missing(26));
    CHECK(l.pid(20).argv == Strings{"-sh"});
    // allproc is newest first: 26 before 21.
    CHECK(notes == Strings{"the user pages of 2 processes are not in the dump (a sparse dump leaves them out): "
                           "COMMAND shows the command name in parentheses (first: pid 26 (threads): " +
                           missing(26) + ")"});
    CHECK(error_of([&] { (void)getargv(cc); }) == "pid 21: " + missing(21));
    CHECK(test::kind_of([&] { (void)getargv(cc); }) == ErrorKind::fault);
    CHECK(table({cc}, "pid,command") == "PID COMMAND\n 21 (cc)\n");
}

TEST_CASE("damaged ps_strings and pmaps are that process's user memory error, never a crash") {
    const auto damage = [](synth::CrashedMachine& m, const StructLayouts& l, const synth::PlantedProcesses& p) {
        const StructLayout& ps = l.get("ps_strings");
        // pid 1: more arguments than any process has.
        m.memory().write(p.ps_strings.at(1) + ps.member("ps_nargvstr").offset,
                         to_bytes(std::string("\xff\xff\xff\x7f", 4)));
        // pid 10: a negative count.
        m.memory().write(p.ps_strings.at(10) + ps.member("ps_nargvstr").offset,
                         to_bytes(std::string("\xfe\xff\xff\xff", 4)));
        // pid 20: its argv vector in user space nothing maps.
        Bytes unmapped(8);
        store64(unmapped.data(), 0x1000, ByteOrder::little);
        m.memory().write(p.ps_strings.at(20) + ps.member("ps_argvstr").offset, unmapped);
        // pid 26: no pmap.
        const std::uint64_t vmspace = m.read_uint(p.proc.at(26) + l.get("proc").member("p_vmspace").offset, 8);
        m.write_pointer(vmspace + l.get("vmspace").member("vm_map.pmap").offset, 0);
    };
    const Crash crash("amd64", false, tree_with_arguments(), damage);
    const auto kernel = crash.open(crash.kcore);
    Strings notes;
    WalkOptions options;
    options.note = [&](const std::string& n) { notes.push_back(n); };
    const Listing l = walk(*kernel, options);
    CHECK(l.warnings.empty());
    CHECK(l.pid(1).user_memory_error == "arguments: 2147483647 pointers, over the limit of 262144");
    CHECK(l.pid(10).user_memory_error == "ps_strings at 0x7f7fffffdfe0: arguments count is -2");
    // The table's address depends on where the builder put it.
    CHECK(l.pid(20).user_memory_error.starts_with(
        "arguments at 0x1000: 0x1000: level 4 entry 0x0 (index 0 of the table at pa "));
    CHECK(l.pid(20).user_memory_error.ends_with(") is not valid"));
    const std::uint64_t vmspace =
        kernel->read_pointer(crash.planted.proc.at(26) + crash.layouts.get("proc").member("p_vmspace").offset);
    CHECK(l.pid(26).user_memory_error == fmt::format("vmspace at {} has no pmap", hex(vmspace)));
    CHECK(l.pid(21).argv == Strings{"cc", "-c", long_argument});
    CHECK(l.pid(1).argv.empty());
    CHECK(table({l.pid(1)}, "pid,command") == "PID COMMAND\n  1 (init)\n");
    REQUIRE(notes.size() == 1);
    CHECK(
        notes[0].starts_with("the user pages of 4 processes are not in the dump (a sparse dump leaves them out): "
                             "COMMAND shows the command name in parentheses (first: pid 26 (threads): vmspace at "));
}

TEST_CASE("arguments are planted through amd64 and i386 page tables only") {
    CHECK(error_of([] { const Crash crash("i386", true, tree_with_arguments()); }) ==
          "process tree: pid 1: arguments are planted through amd64 or i386 page tables, not i386-pae");
    synth::ProcessTree zombie = small_tree();
    spec(zombie, 25).argv = {"zombie"};
    CHECK(error_of([&] { const Crash crash("amd64", false, zombie); }) ==
          "process tree: pid 25: a zombie has no user memory to plant arguments in");
}
