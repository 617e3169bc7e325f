// Process trees planted as a FreeBSD kernel keeps them (kvm/synth_procs.h).
#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/synth_procs.h>

#include "synth/planter.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kvm::synth {

using detail::bad_tree;
using detail::flag_owner;
using detail::Planter;

PlantedProcesses plant_freebsd_processes(CrashedMachine& machine, const StructLayouts& layouts, const ProcessTree& tree,
                                         const FreebsdPlant& plant) {
    Planter p(machine, layouts);
    const unsigned ptr = machine.arch().pointer_size;
    PlantedProcesses out;

    // Processes, sessions, process groups; then terminals (each with its devfs cdev_priv).
    const detail::ProcsAndGroups planted = detail::plant_procs_and_groups(p, tree, out);
    const auto& proc_addr = planted.proc_addr;
    const auto& sessions = planted.sessions;
    const auto& pgrps = planted.pgrps;
    for (const TtySpec& t : tree.ttys) {
        if (!sessions.contains(t.sid)) bad_tree(fmt::format("terminal {}: no session {}", t.name, t.sid));
        const std::uint64_t cdev = p.alloc("cdev_priv");
        p.set_string(cdev, "cdev_priv", "cdp_c.si_name", t.name);
        p.set(cdev, "cdev_priv", "cdp_inode", t.dev);
        const std::uint64_t a = p.alloc("tty");
        p.set(a, "tty", "t_dev", cdev);  // cdp_c is the first member of cdev_priv
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

    // Credentials, shared by processes with the same ids and flags; the
    // groups in cr_smallgroups (or an array of their own when the layouts
    // have no such member), cr_groups[0] the effective group.
    std::map<std::int32_t, std::uint64_t> prisons;
    const auto prison = [&](std::int32_t jid) {
        if (auto it = prisons.find(jid); it != prisons.end()) return it->second;
        const std::uint64_t size = layouts.get("prison").size;
        const std::uint64_t a = jid == 0 ? p.symbol_or_define("prison0", 'd', size) : p.alloc("prison");
        p.set(a, "prison", "pr_id", static_cast<std::uint32_t>(jid));
        return prisons.emplace(jid, a).first->second;
    };
    std::map<std::vector<std::uint64_t>, std::uint64_t> creds;
    const auto cred = [&](const ProcSpec& s) {
        std::vector<std::uint32_t> groups = s.groups;
        if (groups.empty()) groups.push_back(s.gid);
        if (groups.front() != s.gid) bad_tree(fmt::format("pid {}: cr_groups[0] is the effective gid", s.pid));
        std::vector<std::string> flags;
        for (const auto& f : s.flags)
            if (flag_owner(layouts, f) == "ucred") flags.push_back(f);
        std::vector<std::uint64_t> key = {s.uid, s.ruid, s.svuid, s.rgid, s.svgid, prison(s.jail), flags.size()};
        key.insert(key.end(), groups.begin(), groups.end());
        for (const auto& f : flags)
            key.push_back(p.l_.require_flag(f));
        if (auto it = creds.find(key); it != creds.end()) return it->second;
        const std::uint64_t a = p.alloc("ucred");
        p.set(a, "ucred", "cr_uid", s.uid);
        p.set(a, "ucred", "cr_ruid", s.ruid);
        p.set(a, "ucred", "cr_svuid", s.svuid);
        p.set(a, "ucred", "cr_rgid", s.rgid);
        p.set(a, "ucred", "cr_svgid", s.svgid);
        p.set(a, "ucred", "cr_ngroups", groups.size());
        p.set(a, "ucred", "cr_prison", prison(s.jail));
        for (const auto& f : flags)
            p.add_flag(a, "ucred", f);
        std::uint64_t array = 0;
        const MemberLayout* small = layouts.get("ucred").find("cr_smallgroups");
        if (small != nullptr && small->count >= groups.size()) {
            array = a + small->offset;
        } else {
            array = machine.kmem_alloc(groups.size() * 4, 8);
        }
        for (std::size_t i = 0; i < groups.size(); ++i)
            machine.write_uint(array + i * 4, groups[i], 4);
        p.set(a, "ucred", "cr_groups", array);
        return creds.emplace(key, a).first->second;
    };

    const std::uint64_t zombie_state = p.value("PRS_ZOMBIE");
    const std::uint64_t timeshare = p.value("PRI_TIMESHARE");
    // Run times in cpu ticks; a quarter of each thread's not yet aggregated
    // (td_incruntime), so that the process's p_rux.rux_runtime lacks it.
    const auto cpu_ticks = [](std::uint64_t usec) { return usec * (freebsd_cpu_tick_frequency / 1000000); };
    const std::int64_t boot = machine.spec().crash_time - machine.spec().uptime;
    // Address spaces, where the layouts have them: kernel processes and
    // zombies share proc0's vmspace0, which maps nothing of its own.
    const bool vm_layouts = layouts.find("vmspace") != nullptr && layouts.get("proc").find("p_vmspace") != nullptr;
    const std::uint64_t page = machine.arch().page_size;
    std::uint64_t vmspace0 = 0;
    std::vector<std::uint64_t> all, zomb, hashed;  // oldest first
    for (std::size_t i = 0; i < tree.procs.size(); ++i) {
        const ProcSpec& s = tree.procs[i];
        const std::uint64_t a = proc_addr[i];
        const std::uint64_t state = p.value(s.state);
        p.set(a, "proc", "p_pid", static_cast<std::uint32_t>(s.pid));
        p.set(a, "proc", "p_state", state);
        p.set(a, "proc", "p_nice",
              static_cast<std::uint64_t>(static_cast<std::int64_t>(p.value("NZERO")) + s.nice) & 0xff);
        p.set(a, "proc", "p_lock", static_cast<std::uint32_t>(s.lock));
        p.set(a, "proc", "p_oppid", static_cast<std::uint32_t>(s.oppid));
        p.set_string(a, "proc", "p_comm", s.comm);
        p.set(a, "proc", "p_ucred", cred(s));
        p.set(a, "proc", "p_pgrp", pgrps.at(s.pgid));
        if (auto it = out.proc.find(s.ppid); it != out.proc.end() && s.ppid != s.pid)
            p.set(a, "proc", "p_pptr", it->second);
        for (const auto& f : s.flags)
            if (flag_owner(layouts, f) == "proc") p.add_flag(a, "proc", f);
        if (s.controlling_tty) p.add_flag(a, "proc", "P_CONTROLT");
        if (s.start_sec != 0) {
            if (s.start_sec < boot) bad_tree(fmt::format("pid {}: started before the boot", s.pid));
            p.start_time(a, static_cast<std::uint64_t>(s.start_sec - boot), static_cast<std::uint64_t>(s.start_usec));
        }
        if (!s.emul.empty()) p.set(a, "proc", "p_sysent", p.named("sysentvec", "sv_name", s.emul));
        std::uint64_t unaggregated = 0;

        // Threads, on p_threads in spec order (TAILQ_INSERT_TAIL).
        std::uint64_t prev = 0;
        for (const LwpSpec& ls : s.lwps) {
            const std::uint64_t td = p.alloc("thread");
            p.set(td, "thread", "td_proc", a);
            p.set(td, "thread", "td_tid", static_cast<std::uint32_t>(ls.lid));
            p.set(td, "thread", "td_state", p.value(ls.state));
            bool asleep = false;
            for (const auto& f : ls.flags) {
                if (flag_owner(layouts, f) != "thread") bad_tree(fmt::format("flag {} is not a thread's", f));
                p.add_flag(td, "thread", f);
                asleep = asleep || f == "TDI_SLEEPING";
            }
            if (asleep && ls.interruptible) p.add_flag(td, "thread", "TDF_SINTR");
            p.set(td, "thread", "td_slptick",
                  static_cast<std::uint32_t>(plant.ticks - static_cast<std::int64_t>(ls.slptime) * plant.hz));
            p.set(td, "thread", "td_pri_class", ls.pri_class.empty() ? timeshare : p.value(ls.pri_class));
            if (!ls.wchan.empty())
                p.set(td, "thread", "td_wchan", p.symbol_or_define(ls.wchan, 'b', 64) + ls.wchan_offset);
            if (!ls.wmesg.empty()) p.set(td, "thread", "td_wmesg", p.string(ls.wmesg));
            p.set_string(td, "thread", "td_name", ls.name.empty() ? s.comm : ls.name);
            p.set(td, "thread", "td_priority", static_cast<std::uint64_t>(ls.priority));
            const std::uint64_t ran = cpu_ticks(ls.rtime_usec), recent = ran / 4;
            p.set(td, "thread", "td_rux.rux_runtime", ran - recent);
            p.set(td, "thread", "td_incruntime", recent);
            if (vm_layouts) p.set(td, "thread", "td_kstack_pages", freebsd_kstack_pages);
            unaggregated += recent;
            if (prev == 0) {
                p.set(a, "proc", "p_threads.tqh_first", td);
            } else {
                p.set(prev, "thread", "td_plist.tqe_next", td);
            }
            prev = td;
            out.lwp[{s.pid, ls.lid}] = td;
        }
        p.set(a, "proc", "p_numthreads", static_cast<std::uint32_t>(s.lwps.size()));
        const bool zombie = state == zombie_state;
        if (vm_layouts) {
            const bool system = std::find(s.flags.begin(), s.flags.end(), "P_SYSTEM") != s.flags.end();
            std::uint64_t vm = 0;
            if (system || zombie) {
                if (s.vm_pages != 0 || s.rss_pages != 0)
                    bad_tree(fmt::format("pid {}: a kernel process or zombie maps nothing of its own", s.pid));
                if (vmspace0 == 0) vmspace0 = p.symbol_or_define("vmspace0", 'd', layouts.get("vmspace").size);
                vm = vmspace0;
            } else {
                vm = p.alloc("vmspace");
                p.set(vm, "vmspace", "vm_map.size", s.vm_pages * page);
                p.set(vm, "vmspace", "vm_pmap.pm_stats.resident_count", static_cast<std::uint64_t>(s.rss_pages));
            }
            p.set(a, "proc", "p_vmspace", vm);
        }
        if (cpu_ticks(s.rtime_usec) < unaggregated)
            bad_tree(fmt::format("pid {}: ran less than a quarter of its threads' time", s.pid));
        p.set(a, "proc", "p_rux.rux_runtime", cpu_ticks(s.rtime_usec) - unaggregated);
        if (!zombie) {
            all.push_back(a);
        } else if (plant.zombproc) {
            zomb.push_back(a);
        }
        if (!zombie || !plant.zombproc) hashed.push_back(a);
        ++out.nprocs;
    }

    // The lists: each newer process points at the one before it.
    const auto link = [&](const std::vector<std::uint64_t>& entries, const char* member) {
        std::uint64_t next = 0;
        for (const std::uint64_t a : entries) {
            p.set(a, "proc", member, next);
            next = a;
        }
        return next;
    };
    machine.write_pointer(p.symbol_or_define("allproc", 'b', ptr), link(all, "p_list.le_next"));
    out.allproc.assign(all.rbegin(), all.rend());
    if (plant.zombproc) {
        machine.write_pointer(p.symbol_or_define("zombproc", 'b', ptr), link(zomb, "p_list.le_next"));
        out.zombproc.assign(zomb.rbegin(), zomb.rend());
    }

    // The pid hash: an array of pidhash + 1 list heads.
    if (plant.pidhash >= (1u << 20)) bad_tree(fmt::format("pidhash {:#x} is too large to plant", plant.pidhash));
    const std::uint64_t nbuckets = plant.pidhash + 1;
    const std::uint64_t table = machine.kmem_alloc(nbuckets * ptr, 64);
    std::vector<std::vector<std::uint64_t>> buckets(nbuckets);
    const MemberLayout& pid = layouts.get("proc").member("p_pid");
    for (const std::uint64_t a : hashed)
        buckets[machine.read_uint(a + pid.offset, 4) & plant.pidhash].push_back(a);
    for (std::uint64_t i = 0; i < nbuckets; ++i) {
        machine.write_pointer(table + i * ptr, link(buckets[i], "p_hash.le_next"));
        out.buckets.emplace_back(buckets[i].rbegin(), buckets[i].rend());
    }
    machine.write_pointer(p.symbol_or_define("pidhashtbl", 'b', ptr), table);
    machine.write_uint(p.symbol_or_define("pidhash", 'b', ptr), plant.pidhash, ptr);

    machine.write_uint(p.symbol_or_define("nprocs", 'b', 4), out.nprocs, 4);
    machine.write_uint(p.symbol_or_define("ticks", 'b', 4), static_cast<std::uint32_t>(plant.ticks), 4);
    machine.write_uint(p.symbol_or_define("hz", 'd', 4), static_cast<std::uint32_t>(plant.hz), 4);
    // The clocks TIME and START are read with (a FreeBSD machine has them already).
    machine.write_uint(p.symbol_or_define("cpu_tick_frequency", 'd', 8), freebsd_cpu_tick_frequency, 8);
    machine.write_uint(p.symbol_or_define("time_uptime", 'b', ptr), static_cast<std::uint64_t>(machine.spec().uptime),
                       ptr);
    // The machine's osrelease holds 8 bytes.
    if (plant.osrelease.size() > 7) bad_tree(fmt::format("osrelease \"{}\" is over 7 characters", plant.osrelease));
    machine.write_string(p.symbol_or_define("osrelease", 'r', 8), plant.osrelease);

    if (plant.debugger_offsets) {
        // kern_proc.c exports these as const ints for debuggers.
        const auto offset = [&](const char* symbol, const char* strct, const char* member) {
            const MemberLayout* m = layouts.get(strct).find(member);
            if (m == nullptr) return;
            Bytes b(4);
            store32(b.data(), static_cast<std::uint32_t>(m->offset), machine.arch().order);
            machine.define_object(symbol, 'r', b, 4);
        };
        offset("proc_off_p_pid", "proc", "p_pid");
        offset("proc_off_p_comm", "proc", "p_comm");
        offset("proc_off_p_list", "proc", "p_list.le_next");
        offset("proc_off_p_threads", "proc", "p_threads.tqh_first");
        offset("proc_off_p_hash", "proc", "p_hash.le_next");
        offset("thread_off_td_tid", "thread", "td_tid");
        offset("thread_off_td_name", "thread", "td_name");
        offset("thread_off_td_plist", "thread", "td_plist.tqe_next");
    }
    return out;
}

namespace freebsd {

LwpSpec thread(std::int32_t tid, std::string state, std::vector<std::string> flags) {
    LwpSpec l;
    l.lid = tid;
    l.state = std::move(state);
    l.flags = std::move(flags);
    l.interruptible = false;
    l.priority = 88;  // PRI_MIN_TIMESHARE: ps shows 20
    return l;
}

LwpSpec sleeper(std::int32_t tid, std::uint32_t slptime, std::string wmesg, bool interruptible) {
    LwpSpec l = thread(tid, "TDS_INHIBITED", {"TDI_SLEEPING"});
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
    s.state = "PRS_NORMAL";
    s.flags = {"P_INMEM"};
    s.emul = "FreeBSD ELF64";
    return s;
}

ProcessTree process_tree() {
    const std::int64_t crash_time = MachineSpec{}.crash_time;
    ProcessTree t;
    t.ttys = {{.name = "pts/0", .dev = 112, .sid = 20, .foreground_pgid = 21, .login = "carol"},
              {.name = "ttyv1", .dev = 70, .sid = 30, .foreground_pgid = 30, .revoked = true, .login = "dave"}};
    auto& v = t.procs;

    auto kernel = proc(0, 0, 0, 0, 0, "kernel");
    kernel.flags.push_back("P_SYSTEM");
    kernel.lwps = {sleeper(100000, 0, "swapin", false), sleeper(100001, 40, "-")};
    kernel.lwps[0].name = "swapper";
    kernel.lwps[1].name = "thread taskq";
    // Kernel processes run on null_sysvec; the boot made proc0.
    kernel.emul = "null";
    kernel.start_sec = crash_time - MachineSpec{}.uptime;
    kernel.rtime_usec = 95'120'000;  // 1:35.12, a thread gone since included
    kernel.lwps[0].rtime_usec = 1'000'000;
    kernel.lwps[0].priority = 40;  // PSWP: ps shows -28
    kernel.lwps[1].rtime_usec = 90'000'000;
    kernel.lwps[1].priority = 52;
    v.push_back(kernel);

    auto init = proc(1, 0, 1, 1, 0, "init");
    init.lwps = {sleeper(100002, 25, "wait")};
    init.start_sec = crash_time - MachineSpec{}.uptime + 60;  // up a minute after the boot
    init.start_usec = 250'000;
    init.rtime_usec = 310'000;
    init.lwps[0].rtime_usec = 310'000;
    init.lwps[0].priority = 120;
    init.vm_pages = 3200;  // VSZ 12800; RSS (280 + a 4-page kernel stack) * 4 KiB
    init.rss_pages = 280;
    v.push_back(init);

    auto syslogd = proc(10, 1, 10, 10, 0, "syslogd");
    syslogd.nice = -5;
    syslogd.lwps = {sleeper(100003, 3, "select")};
    syslogd.vm_pages = 3310;
    syslogd.rss_pages = 301;
    v.push_back(syslogd);

    auto idled = proc(11, 1, 11, 11, 0, "idled");
    idled.lwps = {sleeper(100004, 1, "nanslp")};
    idled.lwps[0].pri_class = "PRI_IDLE";
    idled.vm_pages = 2048;
    idled.rss_pages = 96;
    v.push_back(idled);

    // Real-time and niced: ps shows < alone.
    auto rtd = proc(12, 1, 12, 12, 0, "rtd");
    rtd.nice = 5;
    rtd.lwps = {sleeper(100005, 1, "nanslp")};
    rtd.lwps[0].pri_class = "PRI_REALTIME";
    rtd.vm_pages = 2050;
    rtd.rss_pages = 98;
    v.push_back(rtd);

    // Waiting for an interrupt: neither asleep nor on a lock.
    auto intr = proc(13, 0, 0, 0, 0, "intr");
    intr.flags.push_back("P_SYSTEM");
    intr.lwps = {thread(100006, "TDS_INHIBITED")};
    intr.lwps[0].name = "swi4: clock (0)";
    intr.lwps[0].priority = 10;  // an interrupt thread: ps shows -58
    intr.emul = "null";
    v.push_back(intr);

    auto sh = proc(20, 1, 20, 20, 1000, "sh");
    sh.controlling_tty = true;
    sh.groups = {100, 0};
    sh.lwps = {sleeper(100010, 0, "wait")};
    sh.start_sec = crash_time - 3LL * 3600 - 61;  // 3 hours ago: ps shows the time of day
    sh.rtime_usec = 40'000;
    sh.lwps[0].rtime_usec = 40'000;
    sh.vm_pages = 3500;
    sh.rss_pages = 620;
    v.push_back(sh);

    auto cc = proc(21, 20, 21, 20, 1000, "cc");
    cc.controlling_tty = true;
    cc.nice = 5;
    cc.lwps = {thread(100011, "TDS_RUNNING")};
    cc.start_sec = crash_time - 125;
    cc.rtime_usec = 123'456'789;  // 2:03.46
    cc.lwps[0].rtime_usec = 123'456'789;
    cc.lwps[0].priority = 133;
    cc.vm_pages = 25'600;  // VSZ 102400 (100 MiB); RSS (2000 + 4) * 4 KiB
    cc.rss_pages = 2'000;
    v.push_back(cc);

    auto threads = proc(23, 20, 21, 20, 1000, "threads");
    threads.controlling_tty = true;
    threads.lwps = {sleeper(100012, 2, "kqread"), thread(100013, "TDS_RUNQ"),
                    thread(100014, "TDS_INHIBITED", {"TDI_LOCK"})};
    threads.lwps[2].name = "worker";
    threads.start_sec = crash_time - 2LL * 86400;  // two days ago: ps shows the weekday
    threads.rtime_usec = 7'500'000;                // more than its threads: one has exited
    threads.lwps[0].rtime_usec = 1'000'000;
    threads.lwps[1].rtime_usec = 2'000'000;
    threads.lwps[2].rtime_usec = 3'000'000;
    threads.vm_pages = 6000;  // RSS (900 + three 4-page kernel stacks) * 4 KiB
    threads.rss_pages = 900;
    v.push_back(threads);

    auto zombie = proc(24, 20, 21, 20, 1000, "zombie");
    zombie.controlling_tty = true;
    zombie.state = "PRS_ZOMBIE";
    zombie.lwps = {thread(100015, "TDS_INACTIVE")};
    v.push_back(zombie);

    auto su = proc(25, 20, 25, 20, 0, "su");
    su.ruid = 1000;
    su.rgid = 1000;
    su.groups = {0, 5};
    su.controlling_tty = true;
    su.lwps = {sleeper(100016, 30, "ttyin")};
    su.vm_pages = 3450;
    su.rss_pages = 512;
    v.push_back(su);

    auto gdb = proc(26, 20, 26, 20, 1000, "gdb");
    gdb.controlling_tty = true;
    gdb.lwps = {sleeper(100017, 1, "wait")};
    gdb.vm_pages = 30'000;
    gdb.rss_pages = 1'500;
    v.push_back(gdb);

    // Traced by gdb: p_pptr is the debugger, p_oppid the real parent.
    auto prog = proc(22, 26, 22, 20, 1000, "prog");
    prog.oppid = 20;
    prog.controlling_tty = true;
    prog.flags = {"P_INMEM", "P_TRACED", "P_STOPPED_TRACE"};
    prog.lwps = {thread(100018, "TDS_INHIBITED")};
    prog.vm_pages = 2600;
    prog.rss_pages = 200;
    v.push_back(prog);

    // Being forked by cc, not yet running.
    auto child = proc(27, 21, 21, 20, 1000, "cc");
    child.controlling_tty = true;
    child.state = "PRS_NEW";
    child.lwps = {thread(100019, "TDS_INACTIVE")};
    v.push_back(child);

    auto ksh = proc(30, 1, 30, 30, 1002, "ksh");
    ksh.controlling_tty = true;
    ksh.flags = {"P_WEXIT", "P_PPWAIT", "CRED_FLAG_CAPMODE"};  // swapped out: no P_INMEM
    ksh.lock = 2;
    ksh.jail = 3;
    ksh.lwps = {sleeper(100020, 0, "ttyin")};
    ksh.lwps[0].flags.push_back("TDI_SWAPPED");  // swapped out: RSS is the pmap's pages alone
    ksh.vm_pages = 3200;
    ksh.rss_pages = 12;
    v.push_back(ksh);

    auto daemon = proc(31, 1, 31, 31, 0, "daemon");
    daemon.lwps = {sleeper(100021, 21, "select")};
    daemon.vm_pages = 3000;
    daemon.rss_pages = 250;
    v.push_back(daemon);
    return t;
}

}  // namespace freebsd

}  // namespace kvm::synth
