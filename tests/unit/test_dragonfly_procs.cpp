// The DragonFly walker end to end: process trees planted as DragonFly 5.8
// keeps them (procglob hash, LWP red-black trees, threads, cdevs) through
// the shipped layouts, read back through a kcore and Kernel; every field,
// every filter, per LWP; the allprocs hash and the allproc/zombproc lists;
// a layout the walker has never seen; and damaged lists, hashes and trees.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/synth.h>
#include <kvm/synth_procs.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "bsd_fixture.h"
#include "test_util.h"

#include <algorithm>

using namespace kvm;
using kvm::synth::dragonfly::lwp;
using kvm::synth::dragonfly::proc;
using kvm::synth::dragonfly::sleeper;
using kvm::test::BsdCrash;
using kvm::test::walk_bsd;

namespace {

StructLayouts dragonfly5() {
    return load_layouts_file(test::shipped_layouts_dir() + "/dragonfly-5-amd64.json");
}

constexpr std::string_view tree_table =
    "PID TTY    STAT        TIME COMMAND\n"
    "  0 ?      D0s      0:01.50 [swapper]\n"
    "  1 ?      I1s      0:00.01 (init)\n"
    " 10 ?      S1<s     0:00.00 (syslogd)\n"
    " 31 ?      I0s      0:00.00 (daemon)\n"
    " 20 pts/0  S0s      0:00.00 (sh)\n"
    " 21 pts/0  R2N+     0:00.00 (cc)\n"
    " 22 pts/0  TX       0:00.00 (prog)\n"
    " 23 pts/0  S0+      0:00.25 (threads)\n"
    " 24 pts/0  Z+       0:00.00 (zombie)\n"
    " 25 pts/0  I0       0:00.00 (su)\n"
    " 26 pts/0  S0       0:00.00 (gdb)\n"
    " 30 ttyv1- S3WEVJs+ 0:00.00 (ksh)\n";

test::Plant planted_as(synth::DragonflyLists lists, std::uint32_t hash_size = 8) {
    return [=](synth::CrashedMachine& m, const StructLayouts& l) {
        return synth::plant_dragonfly_processes(m, l, synth::dragonfly::process_tree(),
                                                {.lists = lists, .hash_size = hash_size});
    };
}

std::vector<std::int32_t> pids_of(const Kernel& k, ProcOp op, std::uint64_t arg) {
    return walk_bsd(k, {.filters = {{op, arg}}}).sorted_pids();
}

}  // namespace

TEST_CASE("dragonfly: every field of a 5.8 process tree in the procglob hash") {
    const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob));
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    CHECK(l.sorted_pids() == std::vector<std::int32_t>{0, 1, 10, 20, 21, 22, 23, 24, 25, 26, 30, 31});
    CHECK(test::ps_table(l.rows) == tree_table);

    const auto& planted = crash.planted;
    const synth::ProcessTree t = synth::dragonfly::process_tree();
    for (const synth::ProcSpec& s : t.procs) {
        CAPTURE(s.pid);
        const ProcInfo& p = l.row(s.pid);
        CHECK(p.paddr == planted.proc.at(s.pid));
        CHECK(p.comm == s.comm);
        CHECK(p.pgid == s.pgid);
        CHECK(p.sid == s.sid);
        CHECK(p.uid == s.uid);
        CHECK(p.ruid == s.ruid);
        CHECK(p.svuid == s.svuid);
        CHECK(p.gid == s.gid);
        CHECK(p.rgid == s.rgid);
        CHECK(p.svgid == s.svgid);
        CHECK(p.groups == s.groups);
        CHECK(p.nice == s.nice);
        CHECK(p.nlwps == static_cast<std::int32_t>(s.lwps.size()));
        CHECK(p.zombie == (s.state == "SZOMB"));
        CHECK(p.system == (s.pid == 0));
        CHECK(p.session_leader == (s.pid == s.sid));
        CHECK(p.lwp_row == false);
        CHECK(p.state == static_cast<std::int64_t>(crash.layouts.require_value(s.state)));
        if (s.lwps.empty()) {
            CHECK(p.lid == 0);
            CHECK(p.laddr == 0);
        } else {
            CHECK(p.lid == s.lwps.front().lid);
            CHECK(p.laddr == planted.lwp.at({s.pid, s.lwps.front().lid}));
            CHECK(p.wmesg == s.lwps.front().wmesg);
            CHECK(p.lname == s.lwps.front().name);
            CHECK(p.rtime_usec == s.lwps.front().rtime_usec);
            if (s.lwps.front().wchan.empty()) {
                CHECK(p.wchan == 0);
            } else {
                CHECK(p.wchan == crash.machine.symbol(s.lwps.front().wchan));
                CHECK(p.wchan_symbol == s.lwps.front().wchan);
            }
        }
    }
    // PPID: the parent's pid, -1 without one, p_oppid while traced.
    CHECK(l.row(0).ppid == -1);
    CHECK(l.row(1).ppid == 0);
    CHECK(l.row(21).ppid == 20);
    CHECK(l.row(22).ppid == 20);
    // A kernel dump holds no user memory: no arguments, no environment.
    CHECK(test::error_of([&] { (void)getargv(l.row(1)); }) ==
          "pid 1: a crash dump holds no user memory to read arguments from");
    CHECK(test::error_of([&] { (void)getenvv(l.row(20)); }) ==
          "pid 20: a crash dump holds no user memory to read the environment from");
    // Terminals: major << 8 | minor, the cdev's name, the foreground group.
    CHECK(l.row(20).tdev == 0x0a03);
    CHECK(l.row(20).tty == "pts/0");
    CHECK(l.row(20).tpgid == 21);
    CHECK(l.row(20).ctty_vnode);
    CHECK(l.row(20).login == "carol");
    CHECK(l.row(30).tdev == 0x0c01);
    CHECK(l.row(30).tty == "ttyv1");
    CHECK(l.row(30).tpgid == 30);
    CHECK_FALSE(l.row(30).ctty_vnode);
    CHECK(l.row(30).login == "dave");
    CHECK(l.row(31).tdev == no_dev);
    CHECK(l.row(31).tpgid == -1);
    CHECK(l.row(31).tty.empty());
    CHECK(l.row(30).flags == (0x2000 | 0x10 | 0x1000000 | 0x4 | 0x2));
    CHECK(l.row(22).flags == (0x800 | 0x2));
}

TEST_CASE("dragonfly: one row per LWP, every LWP of the tree in order, each with its thread") {
    const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob));
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    CHECK(l.warnings.empty());
    REQUIRE(l.rows.size() == 5);
    const std::string stats[] = {"S0+", "R1+", "RQ3+", "D2+", "S1+"};
    // kinfo's state: an LSRUN LWP on no run queue (tid 4) is asleep.
    const std::int64_t states[] = {3, 1, 1, 3, 3};
    for (std::size_t i = 0; i < 5; ++i) {
        CAPTURE(i);
        const ProcInfo& r = l.rows[i];
        CHECK(r.lwp_row);
        CHECK(r.pid == 23);
        CHECK(r.lid == static_cast<std::int32_t>(i + 1));
        CHECK(r.laddr == crash.planted.lwp.at({23, static_cast<std::int32_t>(i + 1)}));
        CHECK(r.stat == stats[i]);
        CHECK(r.lwp_state == states[i]);
    }
    CHECK(l.rows[0].rtime_usec == 250'000);
    CHECK(l.rows[1].rtime_usec == 750'000);
    CHECK(l.rows[4].lname == "worker");
    CHECK(l.rows[4].wmesg == "lwkt");
    CHECK(l.rows[2].raw == std::vector<std::pair<std::string, std::uint64_t>>{
                               {"lwp_flags", 0}, {"lwp_mpflags", 1}, {"td_flags", 0}, {"cpu", 3}});

    // A process without LWPs (the zombie) keeps its one row.
    const test::BsdListing z = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 24}}, .per_lwp = true});
    REQUIRE(z.rows.size() == 1);
    CHECK(z.rows[0].stat == "Z+");
    CHECK_FALSE(z.rows[0].lwp_row);
}

// PRI, CPUID, START, ETIME, %CPU and CPU as fill_kinfo_proc and
// fill_kinfo_lwp copy them for DragonFly's ps: kl_prio (the user
// scheduler's priority), kl_cpuid, kp_start (p_start, the wall clock at
// fork), kl_pctcpu over FSCALE (0.0 while p_swtime is 0 or the process is
// swapped out: ksh), kl_estcpu / 128.  A process row is its first LWP's.
// No EMUL (DragonFly's kinfo_proc has none), and no VSZ, RSS or %MEM:
// the layouts have no struct vmspace.
TEST_CASE("dragonfly: scheduling and start columns of a 5.8 process tree") {
    const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob));
    const auto kernel = crash.open();
    const auto walker = make_process_walker({.kernel = kernel.get(), .layout_dirs = {test::shipped_layouts_dir()}});
    const SystemFacts facts = walker->system_facts();
    const synth::MachineSpec spec;
    CHECK(facts.now_sec == spec.crash_time);
    const PsTableOptions table{.now_sec = facts.now_sec, .physmem_kib = facts.physmem_kib};
    const auto columns = parse_ps_fields("pid,pri,cpuid,etime,%cpu,cpu,emul,vsz,rss,%mem");
    test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    sort_ps(l.rows);
    CHECK(format_ps_table(l.rows, columns, table) ==
          "PID PRI CPUID    ELAPSED %CPU CPU EMUL VSZ RSS %MEM\n"
          "  0   0     0 3-02:01:00  0.0   0 -      -   -    -\n"
          "  1 160     1 3-02:00:58  0.0   0 -      -   -    -\n"
          " 10 136     1 3-02:00:51  0.0   0 -      -   -    -\n"
          " 31 168     0 3-02:00:40  0.0   0 -      -   -    -\n"
          " 20 152     0   02:00:00  0.0   0 -      -   -    -\n"
          " 21 200     2      01:35 90.0  32 -      -   -    -\n"
          " 22 160     0      09:50  0.0   0 -      -   -    -\n"
          " 23 168     0 1-01:00:00  0.0  15 -      -   -    -\n"
          " 24   -     -      00:30    -   - -      -   -    -\n"
          " 25 152     0      50:00  0.0   0 -      -   -    -\n"
          " 26 152     0      10:00  0.0   0 -      -   -    -\n"
          " 30 156     3 3-02:00:00  0.0   0 -      -   -    -\n");
    const std::int64_t boot = spec.crash_time - spec.uptime;
    CHECK(l.row(0).start_usec == boot * 1'000'000);
    CHECK(l.row(1).start_usec == (boot + 2) * 1'000'000 + 250'000);
    CHECK(l.row(21).start_usec == (spec.crash_time - 95) * 1'000'000 + 125'000);
    CHECK(l.row(24).start_usec == (spec.crash_time - 30) * 1'000'000);  // a zombie keeps p_start
    CHECK(l.row(21).priority == 200);
    CHECK(l.row(21).cpuid == 2u);
    CHECK(l.row(21).pctcpu_tenths == 900u);
    CHECK(l.row(21).cpu == 32u);
    CHECK(l.row(30).pctcpu_tenths == 0u);  // swapped out, though its lwp_pctcpu is 100
    CHECK(l.row(24).emul.empty());

    // Per LWP: each its own CPU, priority and share.
    test::BsdListing h = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    CHECK(h.warnings.empty());
    CHECK(format_ps_table(h.rows, parse_ps_fields("pid,lid,pri,cpuid,%cpu,cpu"), table) ==
          "PID LID PRI CPUID %CPU CPU\n"
          " 23   1 168     0  0.0  15\n"
          " 23   2 168     1 25.0  15\n"
          " 23   3 168     3 10.0  15\n"
          " 23   4 168     2  0.0  15\n"
          " 23   5 168     1  0.0  15\n");
}

TEST_CASE("dragonfly: a start time, share or estcpu out of range is unknown, with a warning") {
    const BsdCrash crash(
        "dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob),
        [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
            const StructLayout& proc = lay.get("proc");
            const StructLayout& lwp = lay.get("lwp");
            m.write_uint(p.proc.at(20) + proc.member("p_start.tv_usec").offset, 1'000'000, 8);
            m.write_uint(p.lwp.at({21, 1}) + lwp.member("lwp_pctcpu").offset, 2049, 4);
            m.write_uint(p.lwp.at({26, 1}) + lwp.member("lwp_usdata.bsd4.estcpu").offset, 0xffffffff, 4);
        });
    const test::BsdListing l = walk_bsd(*crash.open());
    const auto& planted = crash.planted;
    std::vector<std::string> warnings = l.warnings;
    std::sort(warnings.begin(), warnings.end());
    CHECK(warnings == std::vector<std::string>{
                          fmt::format("pid 20 ({0}): process at {0}: start time {1}.1000000 is not a time",
                                      hex(planted.proc.at(20)), synth::MachineSpec{}.crash_time - 7200),
                          fmt::format("pid 21 ({}): LWP at {}: LWP 1 has pctcpu 2049, over FSCALE (2048), which "
                                      "is 100%",
                                      hex(planted.proc.at(21)), hex(planted.lwp.at({21, 1}))),
                          fmt::format("pid 26 ({}): LWP at {}: LWP 1 has estcpu -1, below 0", hex(planted.proc.at(26)),
                                      hex(planted.lwp.at({26, 1})))});
    CHECK_FALSE(l.row(20).start_usec);
    CHECK_FALSE(l.row(21).pctcpu_tenths);
    CHECK(l.row(21).cpu == 32u);
    CHECK_FALSE(l.row(26).cpu);
    CHECK(l.row(26).pctcpu_tenths == 0u);
}

TEST_CASE("dragonfly: every filter") {
    const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob));
    const auto k = crash.open();
    using V = std::vector<std::int32_t>;
    CHECK(pids_of(*k, ProcOp::pid, 23) == V{23});
    CHECK(pids_of(*k, ProcOp::pid, 99) == V{});
    CHECK(pids_of(*k, ProcOp::pgrp, 21) == V{21, 23, 24});
    CHECK(pids_of(*k, ProcOp::session, 20) == V{20, 21, 22, 23, 24, 25, 26});
    CHECK(pids_of(*k, ProcOp::tty, 0x0a03) == V{20, 21, 22, 23, 24, 25, 26});
    CHECK(pids_of(*k, ProcOp::tty, 0x0c01) == V{30});
    CHECK(pids_of(*k, ProcOp::tty, no_dev) == V{0, 1, 10, 31});
    CHECK(pids_of(*k, ProcOp::tty, tty_revoked) == V{30});
    CHECK(pids_of(*k, ProcOp::uid, 0) == V{0, 1, 10, 25, 31});
    CHECK(pids_of(*k, ProcOp::ruid, 1000) == V{20, 21, 22, 23, 24, 25, 26});
    CHECK(pids_of(*k, ProcOp::uid, 1002) == V{30});
    CHECK(pids_of(*k, ProcOp::gid, 100) == V{20, 21, 22, 23, 24, 26, 30});
    CHECK(pids_of(*k, ProcOp::rgid, 1000) == V{25});
    CHECK(walk_bsd(*k, {.filters = {{ProcOp::session, 20}, {ProcOp::uid, 0}}}).sorted_pids() == V{25});
    // Per LWP, the filters apply to each row.
    CHECK(walk_bsd(*k, {.filters = {{ProcOp::pgrp, 21}}, .per_lwp = true}).rows.size() == 7);

    // -t names come from the devices themselves.
    const auto walker = make_process_walker({.kernel = k.get(), .layout_dirs = {test::shipped_layouts_dir()}});
    CHECK(terminal_device(*walker, "pts/0") == 0x0a03);
    CHECK(terminal_device(*walker, "/dev/pts/0") == 0x0a03);
    CHECK(terminal_device(*walker, "v1") == 0x0c01);
    CHECK(terminal_device(*walker, "ttyv1") == 0x0c01);
    CHECK(terminal_device(*walker, "ttyv9") == std::nullopt);
    CHECK(terminal_device(*walker, "?") == no_dev);
    CHECK(walker->name() == "dragonfly");
    CHECK(walker->layouts()->source == test::shipped_layouts_dir() + "/dragonfly-5-amd64.json");
}

TEST_CASE("dragonfly: the allprocs hash and the allproc and zombproc lists list the same") {
    for (const auto lists : {synth::DragonflyLists::allprocs, synth::DragonflyLists::lists}) {
        CAPTURE(static_cast<int>(lists));
        const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(lists));
        const auto kernel = crash.open();
        const test::BsdListing l = walk_bsd(*kernel);
        CHECK(l.warnings.empty());
        CHECK(test::ps_table(l.rows) == tree_table);
    }
    // The lists: live processes newest first, then the zombies.
    const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::lists));
    const test::BsdListing l = walk_bsd(*crash.open());
    std::vector<std::int32_t> order;
    for (const auto& r : l.rows)
        order.push_back(r.pid);
    CHECK(order == std::vector<std::int32_t>{31, 30, 22, 26, 25, 23, 21, 20, 10, 1, 0, 24});
}

TEST_CASE("dragonfly: a layout the walker has never seen, given with --layout") {
    test::TempDir dir;
    const StructLayouts moved = test::shifted(
        dragonfly5(), {"proc", "lwp", "thread", "globaldata", "ucred", "pgrp", "session", "tty", "cdev", "procglob"},
        24);
    const std::string path = dir / "moved.json";
    synth::write_file(path, to_bytes(to_json(moved)));
    const BsdCrash crash("dragonfly", "amd64", moved, planted_as(synth::DragonflyLists::procglob));
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel, {}, path);
    CHECK(l.warnings.empty());
    CHECK(test::ps_table(l.rows) == tree_table);
    CHECK(
        test::ps_table(walk_bsd(*kernel, {.per_lwp = true}, path).rows, "pid,lid,stat") ==
        test::ps_table(
            walk_bsd(*BsdCrash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob)).open(),
                     {.per_lwp = true})
                .rows,
            "pid,lid,stat"));
    // Read with the shipped layouts instead, the members are elsewhere.
    const test::BsdListing wrong = walk_bsd(*kernel);
    CHECK(test::ps_table(wrong.rows) != tree_table);
}

namespace {

// The member's offset in the layouts, for planting damage.
std::uint64_t at(const StructLayouts& l, std::string_view s, std::string_view m) {
    return l.get(s).member(m).offset;
}

constexpr std::uint64_t unmapped = 0xffffc0003ff00000;  // kernel space the machine never maps

}  // namespace

TEST_CASE("dragonfly: damaged hashes, lists and LWP trees end with a warning and the rows read so far") {
    using V = std::vector<std::int32_t>;
    const auto listing = [](const test::BsdDamage& damage, const WalkOptions& options = {}) {
        const BsdCrash crash("dragonfly", "amd64", dragonfly5(), planted_as(synth::DragonflyLists::procglob), damage);
        return std::pair(walk_bsd(*crash.open(), options), crash.planted);
    };
    // Buckets of 8: 0 {0}, 1 {1}, 2 {10}, 4 {20}, 5 {21}, 6 {22, 30}, 7 {23, 31}, 0 {24}, 1 {25}, 2 {26}
    // (newest first in each).
    SUBCASE("a cycle in a bucket") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                // Bucket 6 is 30 then 22: 22 points back at 30.
                m.write_pointer(p.proc.at(22) + at(lay, "proc", "p_list.le_next"), p.proc.at(30));
            });
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == fmt::format("procglob[6]: entry 2 ({}) was already visited: the list has a cycle; "
                                           "stopped there",
                                           hex(planted.proc.at(30))));
        CHECK(l.sorted_pids() == V{0, 1, 10, 20, 21, 22, 23, 24, 25, 26, 30, 31});
    }
    SUBCASE("a bucket that runs into another") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                // Bucket 2's last process (10) points into bucket 4 (20).
                m.write_pointer(p.proc.at(10) + at(lay, "proc", "p_list.le_next"), p.proc.at(20));
            });
        REQUIRE(l.warnings.size() == 2);
        CHECK(l.warnings[0] ==
              fmt::format("pid 20 ({}) is in hash bucket 2, but its pid hashes to bucket 4", hex(planted.proc.at(20))));
        CHECK(l.warnings[1] == fmt::format("procglob[4]: entry 0 ({}) was already visited: the list has a cycle; "
                                           "stopped there",
                                           hex(planted.proc.at(20))));
        CHECK(l.sorted_pids() == V{0, 1, 10, 20, 21, 22, 23, 24, 25, 26, 30, 31});
    }
    SUBCASE("a pointer outside the dump") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                m.write_pointer(p.proc.at(30) + at(lay, "proc", "p_list.le_next"), unmapped);
            });
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0].starts_with(fmt::format("procglob[6]: entry 1 ({}): ", hex(unmapped))));
        CHECK(l.sorted_pids() == V{0, 1, 10, 20, 21, 23, 24, 25, 26, 30, 31});
    }
    SUBCASE("more processes than nprocs") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                m.write_uint(m.symbol("nprocs"), 3, 4);
            });
        REQUIRE(l.warnings.size() == 1);
        // Bucket 0 holds 24 and 0, bucket 1 25 and 1: the third is the last.
        CHECK(l.warnings[0] ==
              fmt::format("procglob[1]: more than 1 entries; stopped at entry 1 ({})", hex(planted.proc.at(1))));
        CHECK(l.sorted_pids() == V{0, 24, 25});
    }
    SUBCASE("an allproc_hsize no kernel has") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                m.write_uint(m.symbol("allproc_hsize"), 0x7fffffff, 4);
            });
        CHECK(l.warnings == std::vector<std::string>{"allproc_hsize is 2147483647, not between 1 and 1048576"});
        CHECK(l.rows.empty());
    }
    SUBCASE("an allproc_hsize larger than the hash runs past the dump: one warning, not one per bucket") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                m.write_uint(m.symbol("allproc_hsize"), 1u << 20, 4);
            });
        // Buckets 0 to 7 hold every process; 10 of them are not in the
        // bucket a hash of 2^20 puts them in.  The first bucket past the
        // dump's memory ends the walk.
        CHECK(l.sorted_pids() == V{0, 1, 10, 20, 21, 22, 23, 24, 25, 26, 30, 31});
        REQUIRE(l.warnings.size() == 11);
        CHECK(l.warnings[1] == fmt::format("pid 25 ({}) is in hash bucket 1, but its pid hashes to bucket 25",
                                           hex(planted.proc.at(25))));
        CHECK(l.warnings[10].starts_with("procglob["));
        CHECK(l.warnings[10].find("] of 1048576; the hash is not read further: ") != std::string::npos);
    }
    SUBCASE("an LWP of another process") {
        const auto [l, planted] = listing(
            [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                // The tree of pid 23 (ids 1..5) has 3 at its root, 1 and 4 below it: 4 says it is 21's.
                m.write_pointer(p.lwp.at({23, 4}) + at(lay, "lwp", "lwp_proc"), p.proc.at(21));
            },
            {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == fmt::format("pid 23 ({}): LWP tree: lwp has wrong parent: the LWP at {} belongs to {}",
                                           hex(planted.proc.at(23)), hex(planted.lwp.at({23, 4})),
                                           hex(planted.proc.at(21))));
        // 1, 2 and 3 in order; 5 was read on the way down to 4.
        std::vector<std::int32_t> lids;
        for (const auto& r : l.rows)
            lids.push_back(r.lid);
        CHECK(lids == V{1, 2, 3, 5});
    }
    SUBCASE("a cycle in an LWP tree") {
        const auto [l, planted] = listing(
            [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                // 2 (below 1) points back at the root, 3.
                m.write_pointer(p.lwp.at({23, 2}) + at(lay, "lwp", "u.lwp_rbnode.rbe_left"), p.lwp.at({23, 3}));
            },
            {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == fmt::format("pid 23 ({}): LWP tree: the LWP at {} was already visited: the tree has a "
                                           "cycle; stopped there",
                                           hex(planted.proc.at(23)), hex(planted.lwp.at({23, 3}))));
        // 3 and 2 were read on the way down; 1 is out of reach.
        REQUIRE(l.rows.size() == 2);
        CHECK(l.rows[0].lid == 2);
        CHECK(l.rows[1].lid == 3);
    }
    SUBCASE("a tree with more LWPs than p_nthreads allows") {
        const auto [l, planted] = listing(
            [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                // p_nthreads says 1: at most 2 LWPs, 4 levels; a chain 5 deep of the 5.
                synth::plant_lwp_chain(m, lay, p, 23, 1);
            },
            {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == fmt::format("pid 23 ({}): LWP tree: more than 2 LWPs; stopped at {}",
                                           hex(planted.proc.at(23)), hex(planted.lwp.at({23, 3}))));
        CHECK(l.rows.size() == 2);
    }
    SUBCASE("a node whose parent is not the one it was reached from") {
        const auto [l, planted] = listing(
            [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                m.write_pointer(p.lwp.at({23, 5}) + at(lay, "lwp", "u.lwp_rbnode.rbe_parent"), p.lwp.at({23, 1}));
            },
            {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] ==
              fmt::format("pid 23 ({}): LWP tree: the LWP at {} has parent {}, but was reached from {}",
                          hex(planted.proc.at(23)), hex(planted.lwp.at({23, 5})), hex(planted.lwp.at({23, 1})),
                          hex(planted.lwp.at({23, 3}))));
        CHECK(l.rows.size() == 3);
    }
}

TEST_CASE("dragonfly: an LWP tree deeper than its LWPs allow") {
    // Twelve LWPs rewired into a chain twelve deep; p_nthreads 12 allows
    // 13 LWPs and a red-black tree of 13 is at most 8 deep.
    synth::ProcessTree t;
    auto p = proc(40, 0, 40, 40, 0, "deep");
    for (std::int32_t tid = 1; tid <= 12; ++tid)
        p.lwps.push_back(sleeper(tid, 0, 0, "chain"));
    t.procs = {p};
    const BsdCrash crash(
        "dragonfly", "amd64", dragonfly5(),
        [&](synth::CrashedMachine& m, const StructLayouts& lay) {
            return synth::plant_dragonfly_processes(m, lay, t, {.hash_size = 8});
        },
        [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& planted) {
            std::uint64_t parent = 0;
            for (std::int32_t tid = 12; tid >= 1; --tid) {
                const std::uint64_t node = planted.lwp.at({40, tid});
                m.write_pointer(node + at(lay, "lwp", "u.lwp_rbnode.rbe_parent"), parent);
                m.write_pointer(node + at(lay, "lwp", "u.lwp_rbnode.rbe_right"), 0);
                m.write_pointer(node + at(lay, "lwp", "u.lwp_rbnode.rbe_left"),
                                tid > 1 ? planted.lwp.at({40, tid - 1}) : 0);
                if (parent == 0) m.write_pointer(planted.proc.at(40) + at(lay, "proc", "p_lwp_tree.rbh_root"), node);
                parent = node;
            }
        });
    const test::BsdListing l = walk_bsd(*crash.open(), {.per_lwp = true});
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] == fmt::format("pid 40 ({}): LWP tree: deeper than the 8 levels 13 LWPs allow; stopped at {}",
                                       hex(crash.planted.proc.at(40)), hex(crash.planted.lwp.at({40, 4}))));
    // The eight read on the way down, in order.
    std::vector<std::int32_t> lids;
    for (const auto& r : l.rows)
        lids.push_back(r.lid);
    CHECK(lids == std::vector<std::int32_t>{5, 6, 7, 8, 9, 10, 11, 12});
}

TEST_CASE("dragonfly: a 1.10 machine (i386), its allproc and zombproc lists and p_lwps, as its ps prints it") {
    synth::ProcessTree t;
    t.ttys = {{.name = "pts/0", .dev = (5 << 8) | 1, .sid = 20, .foreground_pgid = 21, .login = "erin"}};
    auto& v = t.procs;
    auto swapper = proc(0, 0, 0, 0, 0, "swapper");
    swapper.flags = {"P_SYSTEM"};
    swapper.lwps = {sleeper(1, 0, 0, "sched", false)};
    swapper.lwps[0].mpcount = 1;
    v.push_back(swapper);
    auto init = proc(1, 0, 1, 1, 0, "init");
    init.lwps = {sleeper(1, 1, 25, "wait")};
    v.push_back(init);
    auto sh = proc(20, 1, 20, 20, 1000, "sh");
    sh.controlling_tty = true;
    sh.lwps = {sleeper(1, 0, 0, "wait")};
    sh.lwps[0].priority = 152;
    sh.start_sec = synth::MachineSpec{}.crash_time - 3600;
    v.push_back(sh);
    auto runner = proc(21, 20, 21, 20, 1000, "runner");
    runner.controlling_tty = true;
    runner.lwps = {lwp(1, "LSRUN", 1, {"TDF_RUNNING", "TDF_RUNQ"})};
    runner.lwps[0].mpcount = 1;
    runner.lwps[0].priority = 180;
    runner.lwps[0].pctcpu = 1024;  // 50%
    runner.estcpu = 640;
    runner.start_sec = synth::MachineSpec{}.crash_time - 65;
    runner.start_usec = 500'000;
    v.push_back(runner);
    auto threads = proc(23, 20, 21, 20, 1000, "threads");
    threads.controlling_tty = true;
    threads.lwps = {lwp(1, "LSRUN", 0, {"LWP_ONRUNQ"}), lwp(2, "LSRUN", 1), lwp(3, "LSSLEEP", 0, {"TDF_SINTR"})};
    threads.lwps[2].mpcount = 1;
    v.push_back(threads);
    auto zombie = proc(24, 20, 21, 20, 1000, "zombie");
    zombie.controlling_tty = true;
    zombie.state = "SZOMB";
    v.push_back(zombie);
    auto stopped = proc(22, 20, 22, 20, 1000, "stopped");
    stopped.controlling_tty = true;
    stopped.state = "SSTOP";
    stopped.flags = {"P_TRACED"};
    stopped.lwps = {lwp(1, "LSSTOP", 0)};
    stopped.lwps[0].mpcount = 1;
    v.push_back(stopped);
    auto daemon = proc(31, 1, 31, 31, 0, "daemon");
    daemon.ruid = 1000;
    daemon.lwps = {sleeper(1, 1, 20, "select")};
    v.push_back(daemon);

    const BsdCrash crash("dragonfly", "i386", load_layouts_file(test::shipped_layouts_dir() + "/dragonfly-1-i386.json"),
                         [&](synth::CrashedMachine& m, const StructLayouts& l) {
                             return synth::plant_dragonfly_processes(
                                 m, l, t, {.lists = synth::DragonflyLists::lists, .osrelease = "1.10.1"});
                         });
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    CHECK(test::ps_table(l.rows) ==
          "PID TTY   STAT    TIME COMMAND\n"
          "  0 ?     DLs  0:00.00 [swapper]\n"
          "  1 ?     IMs  0:00.00 (init)\n"
          " 31 ?     IMs  0:00.00 (daemon)\n"
          " 20 pts/0 SMs  0:00.00 (sh)\n"
          " 21 pts/0 R1+  0:00.00 (runner)\n"
          " 22 pts/0 TX   0:00.00 (stopped)\n"
          " 23 pts/0 S+   0:00.00 (threads)\n"
          " 24 pts/0 ZM+  0:00.00 (zombie)\n");
    CHECK(l.row(22).ppid == 20);
    CHECK(l.row(31).ruid == 1000);
    CHECK(l.row(31).uid == 0);
    CHECK(l.row(20).tdev == 0x0501);
    CHECK(l.row(20).login == "erin");
    CHECK(kernel->pointer_size() == 4);
    // The same kinfo_lwp columns as 5.8 (kern_kinfo.c of 1.10 copies the
    // same members), a 4-byte time_t for ETIME; no CPU column, as 1.10's
    // ps scaling of kl_estcpu is not known; no start where p_start is 0.
    const auto walker = make_process_walker({.kernel = kernel.get(), .layout_dirs = {test::shipped_layouts_dir()}});
    const SystemFacts facts = walker->system_facts();
    CHECK(facts.now_sec == synth::MachineSpec{}.crash_time);
    std::vector<ProcInfo> rows = l.rows;
    sort_ps(rows);
    CHECK(format_ps_table(rows, parse_ps_fields("pid,pri,cpuid,etime,%cpu,cpu"), {.now_sec = facts.now_sec}) ==
          "PID PRI CPUID  ELAPSED %CPU CPU\n"
          "  0   0     0        -  0.0   -\n"
          "  1   0     1        -  0.0   -\n"
          " 31   0     1        -  0.0   -\n"
          " 20 152     0 01:00:00  0.0   -\n"
          " 21 180     1    01:05 50.0   -\n"
          " 22   0     0        -  0.0   -\n"
          " 23   0     0        -  0.0   -\n"
          " 24   -     -        -    -   -\n");
    CHECK(l.row(21).start_usec == (synth::MachineSpec{}.crash_time - 65) * 1'000'000 + 500'000);

    // The list, newest first: the process row carries its first LWP.
    const test::BsdListing h = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    CHECK(h.warnings.empty());
    REQUIRE(h.rows.size() == 3);
    CHECK(h.rows[0].lid == 3);
    CHECK(h.rows[0].stat == "S+");
    CHECK(h.rows[1].lid == 2);
    CHECK(h.rows[1].stat == "DM+");
    CHECK(h.rows[2].lid == 1);
    CHECK(h.rows[2].stat == "RM+");
    CHECK(h.rows[2].laddr == crash.planted.lwp.at({23, 1}));

    // An LWP of another process on the list ends it.
    const BsdCrash damaged(
        "dragonfly", "i386", load_layouts_file(test::shipped_layouts_dir() + "/dragonfly-1-i386.json"),
        [&](synth::CrashedMachine& m, const StructLayouts& lay) {
            return synth::plant_dragonfly_processes(m, lay, t,
                                                    {.lists = synth::DragonflyLists::lists, .osrelease = "1.10.1"});
        },
        [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
            m.write_uint(p.lwp.at({23, 2}) + at(lay, "lwp", "lwp_proc"), p.proc.at(20), 4);
        });
    const test::BsdListing d = walk_bsd(*damaged.open(), {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    REQUIRE(d.warnings.size() == 1);
    CHECK(d.warnings[0] == fmt::format("pid 23 ({}): LWP list: entry 1 ({}): lwp has wrong parent: the LWP at {} "
                                       "belongs to {}",
                                       hex(damaged.planted.proc.at(23)), hex(damaged.planted.lwp.at({23, 2})),
                                       hex(damaged.planted.lwp.at({23, 2})), hex(damaged.planted.proc.at(20))));
    REQUIRE(d.rows.size() == 1);
    CHECK(d.rows[0].lid == 3);
}
