// Process trees planted as a DragonFly kernel keeps them (kvm/synth_procs.h).
#include <kvm/error.h>
#include <kvm/synth_procs.h>

#include "synth/planter.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <vector>

namespace kvm::synth {

using detail::bad_tree;
using detail::flag_owner;
using detail::Planter;

PlantedProcesses plant_dragonfly_processes(CrashedMachine& machine, const StructLayouts& layouts,
                                           const ProcessTree& tree, const DragonflyPlant& plant) {
    Planter p(machine, layouts);
    const unsigned ptr = machine.arch().pointer_size;
    const bool tree_lwps = layouts.get("proc").find("p_lwp_tree.rbh_root") != nullptr;
    const bool lwp_state = layouts.get("lwp").find("lwp_stat") != nullptr;
    const auto udev = [&](std::uint64_t cdev, std::uint64_t dev) {
        if (layouts.get("cdev").find("si_udev") != nullptr) {
            p.set(cdev, "cdev", "si_udev", dev);
        } else {
            p.set(cdev, "cdev", "si_umajor", dev >> 8);
            p.set(cdev, "cdev", "si_uminor", dev & 0xff);
        }
    };
    PlantedProcesses out;

    // Processes, sessions, process groups; then terminals (each with its cdev).
    const detail::ProcsAndGroups planted = detail::plant_procs_and_groups(p, tree, out);
    const auto& proc_addr = planted.proc_addr;
    const auto& sessions = planted.sessions;
    const auto& pgrps = planted.pgrps;
    for (const TtySpec& t : tree.ttys) {
        if (!sessions.contains(t.sid)) bad_tree(fmt::format("terminal {}: no session {}", t.name, t.sid));
        const std::uint64_t cdev = p.alloc("cdev");
        udev(cdev, t.dev);
        p.set_string(cdev, "cdev", "si_name", t.name);
        const std::uint64_t a = p.alloc("tty");
        p.set(a, "tty", "t_dev", cdev);
        p.set(a, "tty", "t_session", sessions.at(t.sid));
        if (t.foreground_pgid != 0) {
            if (!pgrps.contains(t.foreground_pgid))
                bad_tree(fmt::format("terminal {}: no process group {}", t.name, t.foreground_pgid));
            p.set(a, "tty", "t_pgrp", pgrps.at(t.foreground_pgid));
        }
        const std::uint64_t session = sessions.at(t.sid);
        p.set(session, "session", "s_ttyp", a);
        if (!t.revoked) p.set(session, "session", "s_ttyvp", machine.kmem_alloc(256, 64));
        if (!t.login.empty()) p.set_string(session, "session", "s_login", t.login);
        out.tty[t.name] = a;
    }

    // Credentials, shared by processes with the same ids; cr_groups[0] is
    // the effective group.
    std::map<std::vector<std::uint32_t>, std::uint64_t> creds;
    const auto cred = [&](const ProcSpec& s) {
        std::vector<std::uint32_t> groups = s.groups;
        if (groups.empty()) groups.push_back(s.gid);
        if (groups.front() != s.gid) bad_tree(fmt::format("pid {}: cr_groups[0] is the effective gid", s.pid));
        std::vector<std::uint32_t> key = {s.uid, s.ruid, s.svuid, s.rgid, s.svgid};
        key.insert(key.end(), groups.begin(), groups.end());
        if (auto it = creds.find(key); it != creds.end()) return it->second;
        const std::uint64_t a = p.alloc("ucred");
        p.set(a, "ucred", "cr_uid", s.uid);
        p.set(a, "ucred", "cr_ruid", s.ruid);
        p.set(a, "ucred", "cr_svuid", s.svuid);
        p.set(a, "ucred", "cr_rgid", s.rgid);
        p.set(a, "ucred", "cr_svgid", s.svgid);
        p.set(a, "ucred", "cr_ngroups", groups.size());
        p.set_array(a, "ucred", "cr_groups", groups);
        return creds.emplace(key, a).first->second;
    };

    std::map<std::int32_t, std::uint64_t> cpus;  // globaldata per CPU
    const auto globaldata = [&](std::int32_t cpu) {
        if (auto it = cpus.find(cpu); it != cpus.end()) return it->second;
        const std::uint64_t a = p.alloc("globaldata");
        p.set(a, "globaldata", "gd_cpuid", static_cast<std::uint32_t>(cpu));
        return cpus.emplace(cpu, a).first->second;
    };

    const std::uint64_t szomb = p.value("SZOMB");
    std::vector<std::uint64_t> all, zomb;  // oldest first
    for (std::size_t i = 0; i < tree.procs.size(); ++i) {
        const ProcSpec& s = tree.procs[i];
        const std::uint64_t a = proc_addr[i];
        const std::uint64_t state = p.value(s.state);
        p.set(a, "proc", "p_pid", static_cast<std::uint32_t>(s.pid));
        p.set(a, "proc", "p_stat", state);
        p.set(a, "proc", "p_nice", static_cast<std::uint64_t>(static_cast<std::int64_t>(p.value("NZERO")) + s.nice));
        p.set(a, "proc", "p_lock", static_cast<std::uint32_t>(s.lock));
        p.set(a, "proc", "p_oppid", static_cast<std::uint32_t>(s.oppid));
        p.set_string(a, "proc", "p_comm", s.comm);
        p.set(a, "proc", "p_ucred", cred(s));
        p.set(a, "proc", "p_pgrp", pgrps.at(s.pgid));
        if (auto it = out.proc.find(s.ppid); it != out.proc.end() && s.ppid != s.pid)
            p.set(a, "proc", "p_pptr", it->second);
        for (const auto& f : s.flags)
            p.add_flag(a, "proc", f);
        if (s.controlling_tty) p.add_flag(a, "proc", "P_CONTROLT");
        if (s.start_sec != 0) {
            // fork's microtime(), and the seconds resident since (schedcpu
            // counts p_swtime up once a second).
            p.set(a, "proc", "p_start.tv_sec", static_cast<std::uint64_t>(s.start_sec));
            p.set(a, "proc", "p_start.tv_usec", static_cast<std::uint32_t>(s.start_usec));
            p.set(a, "proc", "p_swtime",
                  static_cast<std::uint32_t>(std::max<std::int64_t>(machine.spec().crash_time - s.start_sec, 0)));
        }
        const bool sleeping_proc = !lwp_state && state == p.value("SSLEEP");
        bool interruptible = false;

        // LWPs, each with its thread.
        std::vector<std::pair<std::int32_t, std::uint64_t>> lwps;  // (tid, lwp), in spec order
        for (const LwpSpec& ls : s.lwps) {
            const std::uint64_t l = p.alloc("lwp");
            const std::uint64_t td = p.alloc("thread");
            p.set(l, "lwp", "lwp_proc", a);
            p.set(l, "lwp", "lwp_tid", static_cast<std::uint32_t>(ls.lid));
            p.set(l, "lwp", "lwp_slptime", ls.slptime);
            p.set(l, "lwp", "lwp_thread", td);
            p.set(l, "lwp", "lwp_pctcpu", ls.pctcpu);
            p.set(l, "lwp", "lwp_usdata.bsd4.priority", static_cast<std::uint16_t>(ls.priority));
            p.set(l, "lwp", "lwp_usdata.bsd4.estcpu", s.estcpu);
            if (lwp_state) {
                p.set(l, "lwp", "lwp_stat", p.value(ls.state));
                if (ls.interruptible && ls.state == "LSSLEEP") p.add_flag(l, "lwp", "LWP_SINTR");
            } else if (ls.interruptible && sleeping_proc) {
                interruptible = true;
            }
            for (const auto& f : ls.flags)
                p.add_flag(flag_owner(layouts, f) == "lwp" ? l : td, flag_owner(layouts, f), f);
            p.set(td, "thread", "td_gd", globaldata(ls.cpu));
            p.set(td, "thread", "td_uticks", ls.rtime_usec);
            p.set(td, "thread", "td_mpcount", static_cast<std::uint32_t>(ls.mpcount));
            if (!ls.wchan.empty())
                p.set(td, "thread", "td_wchan", p.symbol_or_define(ls.wchan, 'b', 64) + ls.wchan_offset);
            if (!ls.wmesg.empty()) p.set(td, "thread", "td_wmesg", p.string(ls.wmesg));
            if (!ls.name.empty()) p.set_string(td, "thread", "td_comm", ls.name);
            lwps.emplace_back(ls.lid, l);
            out.lwp[{s.pid, ls.lid}] = l;
        }
        if (interruptible) p.add_flag(a, "proc", "P_SINTR");
        p.set(a, "proc", "p_nthreads", static_cast<std::uint32_t>(lwps.size()));
        if (tree_lwps) {
            // A balanced tree by id: every node's subtrees are the halves of its range.
            std::sort(lwps.begin(), lwps.end());
            std::function<std::uint64_t(std::size_t, std::size_t, std::uint64_t)> build =
                [&](std::size_t lo, std::size_t hi, std::uint64_t parent) -> std::uint64_t {
                if (lo >= hi) return 0;
                const std::size_t mid = lo + (hi - lo) / 2;
                const std::uint64_t node = lwps[mid].second;
                p.set(node, "lwp", "u.lwp_rbnode.rbe_parent", parent);
                p.set(node, "lwp", "u.lwp_rbnode.rbe_left", build(lo, mid, node));
                p.set(node, "lwp", "u.lwp_rbnode.rbe_right", build(mid + 1, hi, node));
                return node;
            };
            p.set(a, "proc", "p_lwp_tree.rbh_root", build(0, lwps.size(), 0));
        } else {
            // LIST_INSERT_HEAD: the newest first.
            std::uint64_t next = 0;
            for (const auto& [tid, l] : lwps) {
                p.set(l, "lwp", "lwp_list.le_next", next);
                next = l;
            }
            p.set(a, "proc", "p_lwps.lh_first", next);
        }
        (plant.lists == DragonflyLists::lists && state == szomb ? zomb : all).push_back(a);
        ++out.nprocs;
    }

    // The lists: each newer process points at the one before it.
    const auto link = [&](const std::vector<std::uint64_t>& entries) {
        std::uint64_t next = 0;
        for (const std::uint64_t a : entries) {
            p.set(a, "proc", "p_list.le_next", next);
            next = a;
        }
        return next;
    };
    if (plant.lists == DragonflyLists::lists) {
        machine.write_pointer(p.symbol_or_define("allproc", 'b', ptr), link(all));
        machine.write_pointer(p.symbol_or_define("zombproc", 'b', ptr), link(zomb));
        out.allproc.assign(all.rbegin(), all.rend());
        out.zombproc.assign(zomb.rbegin(), zomb.rend());
    } else {
        if (plant.hash_size == 0 || (plant.hash_size & (plant.hash_size - 1)) != 0)
            bad_tree(fmt::format("allproc_hsize {} is not a power of two", plant.hash_size));
        const bool procglob = plant.lists == DragonflyLists::procglob;
        const std::uint64_t stride = procglob ? layouts.get("procglob").size : ptr;
        const std::uint64_t head = procglob ? layouts.get("procglob").member("allproc.lh_first").offset : 0;
        const std::uint64_t base =
            machine.define_object(procglob ? "procglob" : "allprocs", 'b', stride * plant.hash_size, 64, !procglob);
        std::vector<std::vector<std::uint64_t>> buckets(plant.hash_size);
        for (const std::uint64_t a : all) {
            const auto pid =
                static_cast<std::uint32_t>(machine.read_uint(a + layouts.get("proc").member("p_pid").offset, 4));
            buckets[pid & (plant.hash_size - 1)].push_back(a);
        }
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            machine.write_pointer(base + i * stride + head, link(buckets[i]));
            out.buckets.emplace_back(buckets[i].rbegin(), buckets[i].rend());
        }
        machine.write_uint(p.symbol_or_define("allproc_hsize", 'd', 4), plant.hash_size, 4);
        out.allproc.assign(all.rbegin(), all.rend());
    }
    machine.write_uint(p.symbol_or_define("nprocs", 'b', 4), out.nprocs, 4);
    const std::int32_t ncpus = cpus.empty() ? 1 : cpus.rbegin()->first + 1;
    machine.write_uint(p.symbol_or_define("ncpus", 'd', 4), static_cast<std::uint32_t>(ncpus), 4);
    // The machine's osrelease holds 8 bytes.
    if (plant.osrelease.size() > 7) bad_tree(fmt::format("osrelease \"{}\" is over 7 characters", plant.osrelease));
    machine.write_string(p.symbol_or_define("osrelease", 'r', 8), plant.osrelease);
    return out;
}

void plant_lwp_chain(CrashedMachine& machine, const StructLayouts& layouts, const PlantedProcesses& planted,
                     std::int32_t pid, std::uint32_t nthreads) {
    const auto offset = [&](const char* strct, const char* member) { return layouts.get(strct).member(member).offset; };
    const std::uint64_t proc = planted.proc.at(pid);
    machine.write_uint(proc + offset("proc", "p_nthreads"), nthreads, 4);
    // The LWPs from the highest id down: each the left child of the one before.
    std::vector<std::uint64_t> chain;
    for (auto it = planted.lwp.rbegin(); it != planted.lwp.rend(); ++it)
        if (it->first.first == pid) chain.push_back(it->second);
    if (chain.empty()) bad_tree(fmt::format("pid {} has no LWPs to chain", pid));
    machine.write_pointer(proc + offset("proc", "p_lwp_tree.rbh_root"), chain.front());
    for (std::size_t i = 0; i < chain.size(); ++i) {
        machine.write_pointer(chain[i] + offset("lwp", "u.lwp_rbnode.rbe_parent"), i == 0 ? 0 : chain[i - 1]);
        machine.write_pointer(chain[i] + offset("lwp", "u.lwp_rbnode.rbe_right"), 0);
        machine.write_pointer(chain[i] + offset("lwp", "u.lwp_rbnode.rbe_left"),
                              i + 1 < chain.size() ? chain[i + 1] : 0);
    }
}

namespace dragonfly {

LwpSpec lwp(std::int32_t tid, std::string state, std::int32_t cpu, std::vector<std::string> flags) {
    LwpSpec l;
    l.lid = tid;
    l.state = std::move(state);
    l.cpu = cpu;
    l.flags = std::move(flags);
    l.interruptible = false;
    return l;
}

LwpSpec sleeper(std::int32_t tid, std::int32_t cpu, std::uint32_t slptime, std::string wmesg, bool interruptible) {
    LwpSpec l = lwp(tid, "LSSLEEP", cpu);
    l.slptime = slptime;
    l.wmesg = std::move(wmesg);
    l.wchan = "kvmkit_wchan_" + l.wmesg;
    l.interruptible = interruptible;
    return l;
}

ProcSpec proc(std::int32_t pid, std::int32_t ppid, std::int32_t pgid, std::int32_t sid, std::uint32_t uid,
              std::string comm) {
    ProcSpec s;
    s.pid = pid;
    s.ppid = ppid;
    s.pgid = pgid;
    s.sid = sid;
    s.uid = s.ruid = s.svuid = uid;
    s.gid = s.rgid = s.svgid = uid == 0 ? 0 : 100;
    s.groups = {s.gid};
    s.comm = std::move(comm);
    s.state = "SACTIVE";
    return s;
}

ProcessTree process_tree() {
    ProcessTree t;
    // Start times count from the crash (MachineSpec's time_second) and the
    // boot (time_second less time_uptime).  Priorities are the user
    // scheduler's: PRIBASE_NORMAL (128) onwards, lower is better.
    const MachineSpec machine;
    const std::int64_t crash = machine.crash_time;
    const std::int64_t boot = machine.crash_time - machine.uptime;
    t.ttys = {
        {.name = "pts/0", .dev = (10 << 8) | 3, .sid = 20, .foreground_pgid = 21, .login = "carol"},
        {.name = "ttyv1", .dev = (12 << 8) | 1, .sid = 30, .foreground_pgid = 30, .revoked = true, .login = "dave"}};
    auto& v = t.procs;

    auto swapper = proc(0, 0, 0, 0, 0, "swapper");
    swapper.flags = {"P_SYSTEM"};
    swapper.lock = 1;
    swapper.lwps = {sleeper(1, 0, 0, "sched", false)};
    swapper.lwps[0].rtime_usec = 1'500'000;
    swapper.lwps[0].name = "swapper";
    swapper.start_sec = boot;
    v.push_back(swapper);

    auto init = proc(1, 0, 1, 1, 0, "init");
    init.lwps = {sleeper(1, 1, 25, "wait")};
    init.lwps[0].rtime_usec = 12'345;
    init.lwps[0].priority = 160;
    init.start_sec = boot + 2;
    init.start_usec = 250'000;
    v.push_back(init);

    auto syslogd = proc(10, 1, 10, 10, 0, "syslogd");
    syslogd.nice = -5;
    syslogd.lwps = {sleeper(1, 1, 3, "kqread")};
    syslogd.lwps[0].priority = 136;
    syslogd.start_sec = boot + 9;
    syslogd.start_usec = 500'000;
    v.push_back(syslogd);

    auto sh = proc(20, 1, 20, 20, 1000, "sh");
    sh.controlling_tty = true;
    sh.groups = {100, 0};
    sh.lwps = {sleeper(1, 0, 0, "wait")};
    sh.lwps[0].priority = 152;
    sh.start_sec = crash - 7200;  // two hours before the crash
    v.push_back(sh);

    auto cc = proc(21, 20, 21, 20, 1000, "cc");
    cc.controlling_tty = true;
    cc.nice = 5;
    cc.lwps = {lwp(1, "LSRUN", 2, {"TDF_RUNNING", "TDF_RUNQ"})};
    cc.lwps[0].priority = 200;
    cc.lwps[0].pctcpu = 1843;  // 90%
    cc.estcpu = 4096;          // ps's CPU 32
    cc.start_sec = crash - 95;
    cc.start_usec = 125'000;
    v.push_back(cc);

    auto threads = proc(23, 20, 21, 20, 1000, "threads");
    threads.controlling_tty = true;
    threads.lwps = {sleeper(1, 0, 2, "kqread"), lwp(2, "LSRUN", 1, {"TDF_RUNQ"}), lwp(3, "LSRUN", 3, {"LWP_MP_ONRUNQ"}),
                    lwp(4, "LSRUN", 2), sleeper(5, 1, 0, "lwkt", false)};
    threads.lwps[0].rtime_usec = 250'000;
    threads.lwps[1].rtime_usec = 750'000;
    threads.lwps[4].flags = {"TDF_SINTR"};
    threads.lwps[4].name = "worker";
    threads.lwps[1].pctcpu = 512;  // 25%
    threads.lwps[2].pctcpu = 205;  // 10%
    for (LwpSpec& l : threads.lwps)
        l.priority = 168;
    threads.estcpu = 1920;                     // ps's CPU 15
    threads.start_sec = crash - 86400 - 3600;  // a day and an hour before
    v.push_back(threads);

    auto zombie = proc(24, 20, 21, 20, 1000, "zombie");
    zombie.controlling_tty = true;
    zombie.state = "SZOMB";
    zombie.start_sec = crash - 30;  // a zombie keeps its p_start
    v.push_back(zombie);

    auto su = proc(25, 20, 25, 20, 0, "su");
    su.ruid = 1000;
    su.rgid = 1000;
    su.groups = {0, 5};
    su.controlling_tty = true;
    su.lwps = {sleeper(1, 0, 30, "ttyin")};
    su.lwps[0].priority = 152;
    su.start_sec = crash - 3000;
    v.push_back(su);

    auto gdb = proc(26, 20, 26, 20, 1000, "gdb");
    gdb.controlling_tty = true;
    gdb.lwps = {sleeper(1, 0, 1, "wait")};
    gdb.lwps[0].priority = 152;
    gdb.start_sec = crash - 600;
    v.push_back(gdb);

    // Traced by gdb: p_pptr is the debugger, p_oppid the real parent.
    auto prog = proc(22, 26, 22, 20, 1000, "prog");
    prog.oppid = 20;
    prog.controlling_tty = true;
    prog.state = "SSTOP";
    prog.flags = {"P_TRACED"};
    prog.lwps = {lwp(1, "LSSTOP", 0)};
    prog.lwps[0].priority = 160;
    prog.start_sec = crash - 590;
    v.push_back(prog);

    auto ksh = proc(30, 1, 30, 30, 1002, "ksh");
    ksh.controlling_tty = true;
    ksh.flags = {"P_WEXIT", "P_PPWAIT", "P_JAILED", "P_SWAPPEDOUT"};
    ksh.lock = 2;
    ksh.lwps = {sleeper(1, 3, 0, "ttyin")};
    ksh.lwps[0].priority = 156;
    ksh.lwps[0].pctcpu = 100;  // swapped out: ps shows 0.0
    ksh.start_sec = boot + 60;
    v.push_back(ksh);

    auto daemon = proc(31, 1, 31, 31, 0, "daemon");
    daemon.lwps = {sleeper(1, 0, 21, "select")};
    daemon.lwps[0].priority = 168;
    daemon.start_sec = boot + 20;
    v.push_back(daemon);
    return t;
}

}  // namespace dragonfly

}  // namespace kvm::synth
