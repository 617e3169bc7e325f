// The FreeBSD walker end to end: process trees planted as FreeBSD 14 keeps
// them (allproc, the pid hash where 13.0 and later keep their zombies,
// threads on p_threads, devfs terminals, jails) through the shipped
// layouts, read back through a kcore and Kernel; every field, every
// filter, per thread; 12.x's zombproc; a layout the walker has never seen;
// the kernel's own CTF; the offsets it exports for debuggers; and damaged
// lists, hashes and thread lists.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>
#include <kvm/ps.h>
#include <kvm/synth.h>
#include <kvm/synth_ctf.h>
#include <kvm/synth_procs.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "bsd_fixture.h"
#include "test_util.h"

using namespace kvm;
using kvm::test::BsdCrash;
using kvm::test::walk_bsd;

namespace {

StructLayouts freebsd14() {
    return load_layouts_file(test::shipped_layouts_dir() + "/freebsd-14-amd64.json");
}

// Sorted by terminal (ttyv1 is device 70, pts/0 112), then pid.
constexpr std::string_view tree_table =
    "PID TTY    STAT         TIME COMMAND\n"
    "  0 ?      DLs       1:35.12 [kernel]\n"
    "  1 ?      Is        0:00.31 (init)\n"
    " 10 ?      S<s       0:00.00 (syslogd)\n"
    " 11 ?      SNs       0:00.00 (idled)\n"
    " 12 ?      S<s       0:00.00 (rtd)\n"
    " 13 ?      WL        0:00.00 [intr]\n"
    " 31 ?      Is        0:00.00 (daemon)\n"
    " 30 ttyv1- SWEVLCs+J 0:00.00 (ksh)\n"
    " 20 pts/0  Ss        0:00.04 (sh)\n"
    " 21 pts/0  RN+       2:03.46 (cc)\n"
    " 22 pts/0  TX        0:00.00 (prog)\n"
    " 23 pts/0  S+        0:07.50 (threads)\n"
    " 24 pts/0  Z+        0:00.00 (zombie)\n"
    " 25 pts/0  I         0:00.00 (su)\n"
    " 26 pts/0  S         0:00.00 (gdb)\n"
    " 27 pts/0  R+        0:00.00 (cc)\n";

test::Plant planted_as(synth::FreebsdPlant plant = {}) {
    return [=](synth::CrashedMachine& m, const StructLayouts& l) {
        return synth::plant_freebsd_processes(m, l, synth::freebsd::process_tree(), plant);
    };
}

std::vector<std::int32_t> pids_of(const Kernel& k, ProcOp op, std::uint64_t arg) {
    return walk_bsd(k, {.filters = {{op, arg}}}).sorted_pids();
}

const std::vector<std::int32_t> all_pids = {0, 1, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31};

}  // namespace

TEST_CASE("freebsd: every field of a 14 process tree, the zombie in the pid hash alone") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as());
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    CHECK(l.sorted_pids() == all_pids);
    CHECK(test::ps_table(l.rows) == tree_table);

    // allproc newest first, then the zombie, which only the hash has.
    std::vector<std::int32_t> order;
    for (const auto& r : l.rows)
        order.push_back(r.pid);
    CHECK(order == std::vector<std::int32_t>{31, 30, 27, 22, 26, 25, 23, 21, 20, 13, 12, 11, 10, 1, 0, 24});
    CHECK(crash.planted.zombproc.empty());
    CHECK(crash.planted.allproc.size() == 15);

    const auto& planted = crash.planted;
    const synth::ProcessTree t = synth::freebsd::process_tree();
    const StructLayouts& lay = crash.layouts;
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
        CHECK(p.zombie == (s.state == "PRS_ZOMBIE"));
        CHECK(p.system == (s.pid == 0 || s.pid == 13));
        CHECK(p.session_leader == (s.pid == s.sid));
        CHECK(p.lwp_row == false);
        CHECK(p.state == static_cast<std::int64_t>(lay.require_value(s.state)));
        std::uint64_t flags = 0;
        for (const auto& f : s.flags)
            if (lay.get("proc").find("p_flag") != nullptr && f.starts_with("P_")) flags |= lay.require_flag(f);
        if (s.controlling_tty) flags |= lay.require_flag("P_CONTROLT");
        CHECK(p.flags == flags);
        // The row is the first thread's.
        const synth::LwpSpec& first = s.lwps.front();
        CHECK(p.lid == first.lid);
        CHECK(p.laddr == planted.lwp.at({s.pid, first.lid}));
        CHECK(p.lwp_state == static_cast<std::int64_t>(lay.require_value(first.state)));
        CHECK(p.wmesg == first.wmesg);
        CHECK(p.lname == (first.name.empty() ? s.comm : first.name));
        if (first.wchan.empty()) {
            CHECK(p.wchan == 0);
            CHECK(p.wchan_symbol.empty());
        } else {
            CHECK(p.wchan == crash.machine.symbol(first.wchan));
            CHECK(p.wchan_symbol == first.wchan);
        }
    }
    // PPID: the parent's pid, 0 without one, p_oppid while traced.
    CHECK(l.row(0).ppid == 0);
    CHECK(l.row(1).ppid == 0);
    CHECK(l.row(21).ppid == 20);
    CHECK(l.row(22).ppid == 20);
    CHECK(l.row(27).ppid == 21);
    // A kernel dump holds no user memory: no arguments, no environment.
    CHECK(test::error_of([&] { (void)getargv(l.row(1)); }) ==
          "pid 1: a crash dump holds no user memory to read arguments from");
    CHECK(test::error_of([&] { (void)getenvv(l.row(20)); }) ==
          "pid 20: a crash dump holds no user memory to read the environment from");
    // Terminals: the devfs inode, the cdev's name, the foreground group.
    CHECK(l.row(20).tdev == 112);
    CHECK_FALSE(l.row(20).tdev_split);
    CHECK(test::ps_table({l.row(20), l.row(30), l.row(31)}, "pid,tt,tdev") ==
          "PID TTY    TDEV\n"
          " 31 ?         ?\n"
          " 30 ttyv1- 0x46\n"
          " 20 pts/0  0x70\n");
    CHECK(l.row(20).tty == "pts/0");
    CHECK(l.row(20).tpgid == 21);
    CHECK(l.row(20).ctty_vnode);
    CHECK(l.row(20).login == "carol");
    CHECK(l.row(30).tdev == 70);
    CHECK(l.row(30).tty == "ttyv1");
    CHECK(l.row(30).tpgid == 30);
    CHECK_FALSE(l.row(30).ctty_vnode);
    CHECK(l.row(30).login == "dave");
    CHECK(l.row(31).tdev == no_dev);
    CHECK(l.row(31).tpgid == -1);
    CHECK(l.row(31).tty.empty());
    CHECK(l.row(30).flags == (0x2000 | 0x10 | 0x2));
    CHECK(l.row(22).flags == (0x10000000 | 0x800 | 0x40000 | 0x2));
    CHECK(l.row(23).raw ==
          std::vector<std::pair<std::string, std::uint64_t>>{{"td_flags", 0x8}, {"td_inhibitors", 0x2}});
}

// TIME is p_rux.rux_runtime plus each thread's td_incruntime at
// cpu_tick_frequency (a thread row: its own td_rux plus td_incruntime);
// START p_stats->p_start, an uptime, plus time_second - time_uptime; PRI
// td_priority - PZERO; EMUL sv_name; ETIME and %MEM time_second and physmem.
TEST_CASE("freebsd: TIME, START, ETIME, PRI, EMUL, VSZ and RSS come from the dump") {
    // A FreeBSD machine's own minidump, whose kernel has physmem as a long.
    synth::CrashedMachine machine({.seed = 7, .os = "freebsd"});
    (void)synth::plant_freebsd_processes(machine, freebsd14(), synth::freebsd::process_tree());
    MemorySink dump;
    machine.write_minidump(dump);
    const test::TempDir dir;
    synth::write_file(dir / "kernel", machine.kernel_elf());
    const std::shared_ptr<const Namelist> namelist = Namelist::load(dir / "kernel");
    const auto kernel = std::make_unique<Kernel>(
        open_format(std::make_shared<MemorySource>(dump.data(), "vmcore.0"), {.namelist = namelist.get()}), namelist);
    const auto walker = make_process_walker({.kernel = kernel.get(), .layout_dirs = {test::shipped_layouts_dir()}});
    const SystemFacts facts = walker->system_facts();
    CHECK(facts.now_sec == synth::MachineSpec{}.crash_time);
    std::uint64_t ram = 0;
    for (const auto& seg : machine.memory().ram())
        ram += seg.size;
    CHECK(facts.physmem_kib == ram / 1024);

    const test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    std::vector<ProcInfo> rows = l.rows;
    sort_ps(rows);
    const PsTableOptions table{.now_sec = facts.now_sec, .physmem_kib = facts.physmem_kib};
    CHECK(format_ps_table(rows, parse_ps_fields("pid,pri,etime,emul,time"), table) ==
          "PID PRI    ELAPSED EMUL             TIME\n"
          "  0 -28 3-02:01:00 null          1:35.12\n"
          "  1  52 3-02:00:00 FreeBSD ELF64 0:00.31\n"
          " 10  20          - FreeBSD ELF64 0:00.00\n"
          " 11  20          - FreeBSD ELF64 0:00.00\n"
          " 12  20          - FreeBSD ELF64 0:00.00\n"
          " 13 -58          - null          0:00.00\n"
          " 31  20          - FreeBSD ELF64 0:00.00\n"
          " 30  20          - FreeBSD ELF64 0:00.00\n"
          " 20  20   03:01:01 FreeBSD ELF64 0:00.04\n"
          " 21  65      02:05 FreeBSD ELF64 2:03.46\n"
          " 22  20          - FreeBSD ELF64 0:00.00\n"
          " 23  20 2-00:00:00 FreeBSD ELF64 0:07.50\n"
          " 24  20          - FreeBSD ELF64 0:00.00\n"
          " 25  20          - FreeBSD ELF64 0:00.00\n"
          " 26  20          - FreeBSD ELF64 0:00.00\n"
          " 27  20          - FreeBSD ELF64 0:00.00\n");
    // VSZ is vm_map.size; RSS the pmap's resident pages plus each thread's
    // 4-page kernel stack unless swapped out, as kern_proc.c counts them:
    // the kernel's 2 stacks; init 280 + 4; ksh 12, its stack swapped out;
    // cc 2000 + 4; threads 900 + 3 * 4; %MEM over physmem (a 32 MiB machine).  Kernel processes share vmspace0,
    // which maps nothing; a zombie or a process being created has neither.
    CHECK(format_ps_table(rows, parse_ps_fields("pid,vsz,rss,%mem"), table) ==
          "PID    VSZ  RSS %MEM\n"
          "  0      0   32  0.1\n"
          "  1  12800 1136  3.5\n"
          " 10  13240 1220  3.8\n"
          " 11   8192  400  1.2\n"
          " 12   8200  408  1.3\n"
          " 13      0   16  0.0\n"
          " 31  12000 1016  3.1\n"
          " 30  12800   48  0.1\n"
          " 20  14000 2496  7.7\n"
          " 21 102400 8016 24.8\n"
          " 22  10400  816  2.5\n"
          " 23  24000 3648 11.3\n"
          " 24      0    0  0.0\n"
          " 25  13800 2064  6.4\n"
          " 26 120000 6016 18.6\n"
          " 27      0    0  0.0\n");
    CHECK(l.row(21).rss_kib == 8016);
    const std::int64_t boot = synth::MachineSpec{}.crash_time - synth::MachineSpec{}.uptime;
    CHECK(l.row(1).start_usec == (boot + 60) * 1'000'000 + 250'000);
    CHECK(l.row(0).start_usec == boot * 1'000'000);
    CHECK_FALSE(l.row(10).start_usec.has_value());

    // A thread row: the thread's own run time and priority.
    const test::BsdListing threads = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    REQUIRE(threads.rows.size() == 3);
    CHECK(test::ps_table(threads.rows, "pid,lid,pri,time") ==
          "PID    LID PRI    TIME\n"
          " 23 100012  20 0:01.00\n"
          " 23 100013  20 0:02.00\n"
          " 23 100014  20 0:03.00\n");
}

// The clocks come from the dump; damaged, they leave TIME and START unknown
// with a warning, and the rest of the walk as it was.
TEST_CASE("freebsd: a damaged cpu_tick_frequency or p_stats leaves TIME or START unknown, with a warning") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), [](synth::CrashedMachine& m, const StructLayouts& l) {
        auto planted = synth::plant_freebsd_processes(m, l, synth::freebsd::process_tree());
        m.write_uint(m.symbol("cpu_tick_frequency"), 0, 8);
        // init's p_start: an uptime of more than a century.
        const std::uint64_t stats = m.read_uint(planted.proc.at(1) + l.get("proc").member("p_stats").offset, 8);
        m.write_uint(stats + l.get("pstats").member("p_start.tv_sec").offset, std::uint64_t{1} << 40, 8);
        return planted;
    });
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel);
    REQUIRE(l.warnings.size() == 2);
    CHECK(l.warnings[0] == "cpu_tick_frequency: cpu_tick_frequency is 0 Hz");
    CHECK(l.warnings[1].starts_with("pid 1 ("));
    CHECK(l.warnings[1].ends_with(": p_start is 1099511627776.250000 s of uptime, over a century"));
    CHECK(l.row(0).rtime_usec == 0);
    CHECK_FALSE(l.row(1).start_usec.has_value());
    CHECK(l.row(20).start_usec.has_value());
    CHECK(l.sorted_pids() == all_pids);
}

TEST_CASE("freebsd: a time_uptime whose difference from time_second overflows leaves START unknown, with a warning") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), [](synth::CrashedMachine& m, const StructLayouts& l) {
        auto planted = synth::plant_freebsd_processes(m, l, synth::freebsd::process_tree());
        m.write_uint(m.symbol("time_uptime"), std::uint64_t{1} << 63, 8);
        return planted;
    });
    const test::BsdListing l = walk_bsd(*crash.open());
    REQUIRE(l.warnings.size() == 1);
    CHECK(l.warnings[0] ==
          "time_second and time_uptime: time_second 1732200000 less time_uptime "
          "-9223372036854775808 does not fit in 64 bits");
    CHECK_FALSE(l.row(1).start_usec.has_value());
    CHECK(l.row(21).rtime_usec == 123'456'789);
}

// A resident count or a kernel stack no kernel has: that process's VSZ and
// RSS are unknown, with a warning, and the walk goes on.
TEST_CASE("freebsd: a damaged vmspace or kernel stack size leaves VSZ and RSS unknown, with a warning") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), [](synth::CrashedMachine& m, const StructLayouts& l) {
        auto planted = synth::plant_freebsd_processes(m, l, synth::freebsd::process_tree());
        const std::uint64_t vm = m.read_uint(planted.proc.at(1) + l.get("proc").member("p_vmspace").offset, 8);
        m.write_uint(vm + l.get("vmspace").member("vm_pmap.pm_stats.resident_count").offset,
                     static_cast<std::uint64_t>(-5), 8);
        m.write_uint(planted.lwp.at({21, 100011}) + l.get("thread").member("td_kstack_pages").offset, 1u << 30, 4);
        return planted;
    });
    const test::BsdListing l = walk_bsd(*crash.open());
    // allproc is newest first.
    REQUIRE(l.warnings.size() == 2);
    CHECK(l.warnings[0].starts_with("pid 21 ("));
    CHECK(l.warnings[0].ends_with(": thread 100011 has 1073741824 kernel stack pages"));
    CHECK(l.warnings[1].starts_with("pid 1 ("));
    CHECK(l.warnings[1].ends_with(": the pmap's resident count is -5 pages"));
    CHECK_FALSE(l.row(1).vsz_kib.has_value());
    CHECK_FALSE(l.row(1).rss_kib.has_value());
    CHECK_FALSE(l.row(21).rss_kib.has_value());
    CHECK(l.row(20).vsz_kib == 14000);
    CHECK(l.sorted_pids() == all_pids);
}

TEST_CASE("freebsd: one row per thread, every thread in p_threads order") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as());
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel, {.filters = {{ProcOp::pgrp, 0}}, .per_lwp = true});
    CHECK(l.warnings.empty());
    CHECK(test::ps_table(l.rows, "pid,lid,stat,wchan,wmesg,lname") ==
          "PID    LID STAT WCHAN               WMESG  LNAME\n"
          "  0 100000 DLs  kvmkit_wchan_swapin swapin swapper\n"
          "  0 100001 ILs  kvmkit_wchan_-      -      thread taskq\n"
          " 13 100006 WL   -                   -      swi4: clock (0)\n");

    const test::BsdListing t = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    CHECK(t.warnings.empty());
    REQUIRE(t.rows.size() == 3);
    const std::string stats[] = {"S+", "R+", "L+"};
    const std::string names[] = {"threads", "threads", "worker"};
    for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        const ProcInfo& r = t.rows[i];
        CHECK(r.lwp_row);
        CHECK(r.pid == 23);
        CHECK(r.lid == static_cast<std::int32_t>(100012 + i));
        CHECK(r.laddr == crash.planted.lwp.at({23, static_cast<std::int32_t>(100012 + i)}));
        CHECK(r.stat == stats[i]);
        CHECK(r.lname == names[i]);
        CHECK(r.nlwps == 3);
    }
    CHECK(t.rows[0].wmesg == "kqread");
    CHECK(t.rows[1].wmesg.empty());
    CHECK(t.rows[2].raw == std::vector<std::pair<std::string, std::uint64_t>>{{"td_flags", 0}, {"td_inhibitors", 0x8}});
}

TEST_CASE("freebsd: every filter") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as());
    const auto k = crash.open();
    using V = std::vector<std::int32_t>;
    CHECK(pids_of(*k, ProcOp::pid, 23) == V{23});
    CHECK(pids_of(*k, ProcOp::pid, 24) == V{24});
    CHECK(pids_of(*k, ProcOp::pid, 99) == V{});
    CHECK(pids_of(*k, ProcOp::pgrp, 21) == V{21, 23, 24, 27});
    CHECK(pids_of(*k, ProcOp::session, 20) == V{20, 21, 22, 23, 24, 25, 26, 27});
    CHECK(pids_of(*k, ProcOp::session, 0) == V{0, 13});
    CHECK(pids_of(*k, ProcOp::tty, 112) == V{20, 21, 22, 23, 24, 25, 26, 27});
    CHECK(pids_of(*k, ProcOp::tty, 70) == V{30});
    CHECK(pids_of(*k, ProcOp::tty, no_dev) == V{0, 1, 10, 11, 12, 13, 31});
    CHECK(pids_of(*k, ProcOp::tty, tty_revoked) == V{30});
    CHECK(pids_of(*k, ProcOp::uid, 0) == V{0, 1, 10, 11, 12, 13, 25, 31});
    CHECK(pids_of(*k, ProcOp::ruid, 1000) == V{20, 21, 22, 23, 24, 25, 26, 27});
    CHECK(pids_of(*k, ProcOp::uid, 1002) == V{30});
    CHECK(pids_of(*k, ProcOp::gid, 100) == V{20, 21, 22, 23, 24, 26, 27, 30});
    CHECK(pids_of(*k, ProcOp::rgid, 1000) == V{25});
    CHECK(walk_bsd(*k, {.filters = {{ProcOp::session, 20}, {ProcOp::uid, 0}}}).sorted_pids() == V{25});
    CHECK(walk_bsd(*k, {.filters = {{ProcOp::pgrp, 21}}, .per_lwp = true}).rows.size() == 6);

    const auto walker = make_process_walker({.kernel = k.get(), .layout_dirs = {test::shipped_layouts_dir()}});
    CHECK(terminal_device(*walker, "pts/0") == 112);
    CHECK(terminal_device(*walker, "/dev/pts/0") == 112);
    CHECK(terminal_device(*walker, "ttyv1") == 70);
    CHECK(terminal_device(*walker, "v1") == 70);
    CHECK(terminal_device(*walker, "ttyv9") == std::nullopt);
    CHECK(terminal_device(*walker, "?") == no_dev);
    CHECK(walker->name() == "freebsd");
    CHECK(walker->layouts()->source == test::shipped_layouts_dir() + "/freebsd-14-amd64.json");
}

TEST_CASE("freebsd: 12.x keeps its zombies on zombproc; the hash repeats what the lists have") {
    const BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as({.zombproc = true, .pidhash = 3}));
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    CHECK(test::ps_table(l.rows) == tree_table);
    std::vector<std::int32_t> order;
    for (const auto& r : l.rows)
        order.push_back(r.pid);
    CHECK(order == std::vector<std::int32_t>{31, 30, 27, 22, 26, 25, 23, 21, 20, 13, 12, 11, 10, 1, 0, 24});
    CHECK(crash.planted.zombproc == std::vector<std::uint64_t>{crash.planted.proc.at(24)});
    // Every live process is in the hash too (buckets of 4), listed once.
    std::size_t hashed = 0;
    for (const auto& b : crash.planted.buckets)
        hashed += b.size();
    CHECK(hashed == 15);

    // A hash of one bucket (pidhash 0) holds every process.
    const BsdCrash one("freebsd", "amd64", freebsd14(), planted_as({.pidhash = 0}));
    const test::BsdListing o = walk_bsd(*one.open());
    CHECK(o.warnings.empty());
    CHECK(test::ps_table(o.rows) == tree_table);
}

TEST_CASE("freebsd: a layout the walker has never seen, given with --layout") {
    test::TempDir dir;
    const StructLayouts moved =
        test::shifted(freebsd14(), {"proc", "thread", "ucred", "prison", "pgrp", "session", "tty", "cdev_priv"}, 40);
    const std::string path = dir / "moved.json";
    synth::write_file(path, to_bytes(to_json(moved)));
    const BsdCrash crash("freebsd", "amd64", moved, planted_as());
    const auto kernel = crash.open();
    const test::BsdListing l = walk_bsd(*kernel, {}, path);
    CHECK(l.warnings.empty());
    CHECK(test::ps_table(l.rows) == tree_table);
    const BsdCrash plain("freebsd", "amd64", freebsd14(), planted_as());
    CHECK(test::ps_table(walk_bsd(*kernel, {.per_lwp = true}, path).rows, "pid,lid,stat,wchan") ==
          test::ps_table(walk_bsd(*plain.open(), {.per_lwp = true}).rows, "pid,lid,stat,wchan"));
    // Read with the shipped layouts instead, the members are elsewhere.
    CHECK(test::ps_table(walk_bsd(*kernel).rows) != tree_table);
}

TEST_CASE("freebsd: the kernel's CTF gives the structures; the release's file or kvmkit's table the constants") {
    for (const char* release : {"14.1", "13.2"}) {
        CAPTURE(release);
        for (const unsigned version : {2u, 3u}) {
            CAPTURE(version);
            BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as({.osrelease = release}));
            crash.machine.add_kernel_section(".SUNW_ctf",
                                             synth::ctf_from_layouts(crash.layouts, version, version == 3));
            synth::write_file(crash.kernel_path, crash.machine.kernel_elf());
            const auto kernel = crash.open();
            const auto walker =
                make_process_walker({.kernel = kernel.get(), .layout_dirs = {test::shipped_layouts_dir()}});
            CHECK(walker->layouts()->source == fmt::format("CTF in {}", crash.kernel_path));
            const std::string& derived = walker->layouts()->derived;
            if (std::string_view(release) == "14.1") {
                CHECK(derived.ends_with(fmt::format("; flags, values and device names from {}/freebsd-14-amd64.json",
                                                    test::shipped_layouts_dir())));
            } else {
                CHECK(derived.ends_with(
                    "; P_CONTROLT, P_SYSTEM, P_TRACED, P_WEXIT, P_PPWAIT, P_INMEM, "
                    "P_STOPPED_SIG, P_STOPPED_TRACE, P_STOPPED_SINGLE, TDF_SINTR, TDI_SLEEPING, "
                    "TDI_LOCK, TDI_SWAPPED, CRED_FLAG_CAPMODE, PRS_NEW, PRS_NORMAL, PRS_ZOMBIE, TDS_CAN_RUN, "
                    "TDS_RUNQ, TDS_RUNNING, MAXSLP, NZERO, PRI_REALTIME, PRI_IDLE, PZERO from kvmkit's "
                    "table of freebsd constants"));
            }
            const test::BsdListing l = walk_bsd(*kernel);
            CHECK(l.warnings.empty());
            CHECK(test::ps_table(l.rows) == tree_table);
        }
    }
}

TEST_CASE("freebsd: without type information, the offsets the kernel exports for debuggers") {
    // 13.2 has no shipped file and this kernel no CTF.
    const BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as({.osrelease = "13.2"}));
    const auto kernel = crash.open();
    const auto walker = make_process_walker({.kernel = kernel.get(), .layout_dirs = {test::shipped_layouts_dir()}});
    CHECK(walker->layouts()->source == "the offsets the kernel exports for debuggers (proc_off_*, thread_off_*)");
    const test::BsdListing l = walk_bsd(*kernel);
    CHECK(l.warnings.empty());
    CHECK(l.sorted_pids() == all_pids);
    CHECK(test::ps_table(l.rows, "pid,lid,stat,comm") ==
          "PID    LID STAT COMMAND\n"
          "  0 100000 ?    kernel\n"
          "  1 100002 ?    init\n"
          " 10 100003 ?    syslogd\n"
          " 11 100004 ?    idled\n"
          " 12 100005 ?    rtd\n"
          " 13 100006 ?    intr\n"
          " 20 100010 ?    sh\n"
          " 21 100011 ?    cc\n"
          " 22 100018 ?    prog\n"
          " 23 100012 ?    threads\n"
          " 24 100015 ?    zombie\n"
          " 25 100016 ?    su\n"
          " 26 100017 ?    gdb\n"
          " 27 100019 ?    cc\n"
          " 30 100020 ?    ksh\n"
          " 31 100021 ?    daemon\n");
    const test::BsdListing t = walk_bsd(*kernel, {.filters = {{ProcOp::pid, 23}}, .per_lwp = true});
    REQUIRE(t.rows.size() == 3);
    CHECK(t.rows[2].lid == 100014);
    CHECK(t.rows[2].lname == "worker");
    CHECK(t.rows[2].laddr == crash.planted.lwp.at({23, 100014}));

    // Without them too, nothing describes the structures.
    const BsdCrash bare("freebsd", "amd64", freebsd14(), [](synth::CrashedMachine& m, const StructLayouts& lay) {
        return synth::plant_freebsd_processes(m, lay, synth::freebsd::process_tree(),
                                              {.osrelease = "13.2", .debugger_offsets = false});
    });
    const auto bare_kernel = bare.open();
    const std::string error = test::error_of(
        [&] { make_process_walker({.kernel = bare_kernel.get(), .layout_dirs = {test::shipped_layouts_dir()}}); });
    CHECK(error == fmt::format("no structure layouts for freebsd 13 amd64: the namelist has no type information "
                               "and there is no freebsd-13-amd64.json in {}; {}",
                               test::shipped_layouts_dir(), library_layout_advice));
}

namespace {

std::uint64_t at(const StructLayouts& l, std::string_view s, std::string_view m) {
    return l.get(s).member(m).offset;
}

constexpr std::uint64_t unmapped = 0xffffc0003ff00000;  // kernel space the machine never maps

}  // namespace

TEST_CASE("freebsd: damaged lists, hashes and thread lists end with a warning and the rows read so far") {
    using V = std::vector<std::int32_t>;
    const auto listing = [](const test::BsdDamage& damage, const WalkOptions& options = {},
                            synth::FreebsdPlant plant = {}) {
        const BsdCrash crash("freebsd", "amd64", freebsd14(), planted_as(plant), damage);
        return std::pair(walk_bsd(*crash.open(), options), crash.planted);
    };
    // allproc: 31 30 27 22 26 25 23 21 20 13 12 11 10 1 0; hash (mask 15):
    // bucket 8 holds the zombie 24.
    SUBCASE("a cycle on allproc") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                m.write_pointer(p.proc.at(25) + at(lay, "proc", "p_list.le_next"), p.proc.at(30));
            });
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == fmt::format("allproc: entry 6 ({}) was already visited: the list has a cycle; "
                                           "stopped there",
                                           hex(planted.proc.at(30))));
        // The hash still has every process.
        CHECK(l.sorted_pids() == all_pids);
    }
    SUBCASE("a pointer outside the dump") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                m.write_pointer(p.proc.at(25) + at(lay, "proc", "p_list.le_next"), unmapped);
                m.write_pointer(p.proc.at(25) + at(lay, "proc", "p_hash.le_next"), unmapped);
            });
        REQUIRE(l.warnings.size() == 2);
        CHECK(l.warnings[0].starts_with(fmt::format("allproc: entry 6 ({}): ", hex(unmapped))));
        // Bucket 9 is 25 alone: pointing outside, the hash stops there.
        CHECK(l.warnings[1].starts_with(fmt::format("pidhashtbl[9]: entry 1 ({}): ", hex(unmapped))));
        CHECK(l.sorted_pids() == all_pids);
    }
    SUBCASE("a bucket that runs into another") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                // Bucket 8 is the zombie (24) alone: it points into bucket 9 (25).
                m.write_pointer(p.proc.at(24) + at(lay, "proc", "p_hash.le_next"), p.proc.at(25));
            });
        REQUIRE(l.warnings.size() == 2);
        CHECK(l.warnings[0] ==
              fmt::format("pid 25 ({}) is in pidhashtbl[8], but its pid hashes to bucket 9", hex(planted.proc.at(25))));
        CHECK(l.warnings[1] == fmt::format("pidhashtbl[9]: entry 0 ({}) was already visited: the list has a cycle; "
                                           "stopped there",
                                           hex(planted.proc.at(25))));
        CHECK(l.sorted_pids() == all_pids);
    }
    SUBCASE("nprocs smaller than the lists") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                m.write_uint(m.symbol("nprocs"), 15, 4);
            });
        // allproc holds 15: the zombie in the hash is one too many.
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == fmt::format("pidhashtbl[8]: more than 15 processes (nprocs); stopped at entry 0 ({})",
                                           hex(planted.proc.at(24))));
        V want = all_pids;
        std::erase(want, 24);
        CHECK(l.sorted_pids() == want);
    }
    SUBCASE("nprocs smaller than allproc") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                m.write_uint(m.symbol("nprocs"), 3, 4);
            });
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] ==
              fmt::format("allproc: more than 3 entries; stopped at entry 3 ({})", hex(planted.proc.at(22))));
        CHECK(l.sorted_pids() == V{27, 30, 31});
    }
    SUBCASE("a pidhash no kernel has") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts&, const synth::PlantedProcesses&) {
                m.write_uint(m.symbol("pidhash"), 0x1000000, 8);
            });
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] == "pidhash is 0x1000000, over the limit of 0xffffff");
        V want = all_pids;
        std::erase(want, 24);
        CHECK(l.sorted_pids() == want);
    }
    SUBCASE("a thread that belongs to another process") {
        const auto [l, planted] =
            listing([](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                m.write_pointer(p.lwp.at({23, 100013}) + at(lay, "thread", "td_proc"), p.proc.at(21));
            });
        REQUIRE(l.warnings.size() == 1);
        CHECK(l.warnings[0] ==
              fmt::format("pid 23 ({}): thread list: entry 1 ({}): thread has wrong process: the thread at {} "
                          "belongs to {}",
                          hex(planted.proc.at(23)), hex(planted.lwp.at({23, 100013})),
                          hex(planted.lwp.at({23, 100013})), hex(planted.proc.at(21))));
        CHECK(l.sorted_pids() == all_pids);
        CHECK(l.row(23).stat == "S+");
    }
    SUBCASE("a thread list with a cycle, and one longer than p_numthreads") {
        const auto [l, planted] = listing(
            [](synth::CrashedMachine& m, const StructLayouts& lay, const synth::PlantedProcesses& p) {
                m.write_pointer(p.lwp.at({23, 100013}) + at(lay, "thread", "td_plist.tqe_next"),
                                p.lwp.at({23, 100012}));
                m.write_uint(p.proc.at(0) + at(lay, "proc", "p_numthreads"), 1, 4);
            },
            {.per_lwp = true});
        REQUIRE(l.warnings.size() == 2);
        CHECK(l.warnings[0] == fmt::format("pid 23 ({}): thread list: entry 2 ({}) was already visited: the list has "
                                           "a cycle; stopped there",
                                           hex(planted.proc.at(23)), hex(planted.lwp.at({23, 100012}))));
        CHECK(l.warnings[1] == fmt::format("pid 0 ({}): thread list: more than 1 entries; stopped at entry 1 ({})",
                                           hex(planted.proc.at(0)), hex(planted.lwp.at({0, 100001}))));
        std::size_t rows23 = 0;
        for (const auto& r : l.rows)
            rows23 += r.pid == 23 ? 1 : 0;
        CHECK(rows23 == 2);
    }
}
