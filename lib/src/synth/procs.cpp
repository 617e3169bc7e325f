// Plants process trees in a synthetic crashed machine through structure
// layouts.  Only members the layouts describe are written; the rest of each
// object is zero, as a freshly allocated and partly filled kernel object
// would be.
#include <kvm/error.h>
#include <kvm/procs.h>
#include <kvm/synth_procs.h>

#include "synth/planter.h"

#include <fmt/format.h>

#include <cstring>
#include <set>
#include <tuple>

namespace kvm::synth {

using detail::bad_tree;
using detail::Planter;

namespace {

// The top of a NetBSD process's stack (USRSTACK), where exec copies its
// arguments out.
std::uint64_t user_stack_top(const CrashedMachine& machine) {
    return machine.arch().pointer_size == 8 ? 0x7f7fffffe000 : 0xbfbfe000;
}

// What exec leaves for a process (ProcSpec::argv, envv), from the top of
// its stack down: struct ps_strings, the strings, then the NULL-ended argv
// and envp vectors; on pages scattered through RAM, mapped by a page
// table of the process's own that a new pmap holds.  Sets p_psstrp and the
// vmspace's pmap; returns the physical address of the struct ps_strings.
std::uint64_t plant_user_stack(Planter& p, const ProcSpec& s, std::uint64_t proc, std::uint64_t vmspace) {
    CrashedMachine& m = p.m_;
    const std::string_view scheme = m.translator();
    if (scheme != "amd64" && scheme != "i386")
        bad_tree(fmt::format("pid {}: arguments are planted through amd64 or i386 page tables, not {}", s.pid, scheme));
    const unsigned ptr = m.arch().pointer_size;
    const std::uint64_t page = 4096;
    const StructLayout& ps = p.l_.get("ps_strings");

    const std::uint64_t top = user_stack_top(m);
    const std::uint64_t ps_at = (top - ps.size) & ~std::uint64_t{15};
    std::uint64_t string_bytes = 0;
    for (const auto* list : {&s.argv, &s.envv})
        for (const std::string& a : *list)
            string_bytes += a.size() + 1;
    const std::uint64_t strings_at = (ps_at - string_bytes) & ~std::uint64_t{ptr - 1};
    const std::uint64_t argv_at = (strings_at - (s.argv.size() + 1 + s.envv.size() + 1) * ptr) & ~std::uint64_t{15};
    const std::uint64_t envv_at = argv_at + (s.argv.size() + 1) * ptr;
    const std::uint64_t base = argv_at & ~(page - 1);

    Bytes image(top - base);
    const auto put = [&](std::uint64_t va, std::uint64_t value, unsigned width) {
        store_uint(image.data() + (va - base), value, width, m.order());
    };
    std::uint64_t next_string = strings_at;
    const auto vector = [&](const std::vector<std::string>& list, std::uint64_t at) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            put(at + i * ptr, next_string, ptr);
            std::memcpy(image.data() + (next_string - base), list[i].data(), list[i].size());
            next_string += list[i].size() + 1;
        }
    };
    vector(s.argv, argv_at);
    vector(s.envv, envv_at);
    const auto member = [&](std::string_view name, std::uint64_t value) {
        const MemberLayout& mem = ps.member(name);
        put(ps_at + mem.offset, value, static_cast<unsigned>(mem.size));
    };
    member("ps_argvstr", argv_at);
    member("ps_nargvstr", s.argv.size());
    member("ps_envstr", envv_at);
    member("ps_nenvstr", s.envv.size());

    const auto tables = make_page_table_builder(scheme, m.memory(), m.order());
    std::uint64_t ps_pa = 0;
    for (std::uint64_t va = base; va < top; va += page) {
        // Below 4 GiB: an i386 page-table entry holds 32 bits of address.
        const std::uint64_t pa = m.memory().alloc_pages(1, page, std::uint64_t{1} << 32);
        tables->map(va, pa, page);
        if (!s.user_pages_unwritten) m.memory().write(pa, ByteSpan(image).subspan(va - base, page));
        if (ps_at - va < page) ps_pa = pa + (ps_at - va);
    }
    const std::uint64_t pmap = p.alloc("pmap");
    p.set(pmap, "pmap", "pm_pdirpa", tables->root());
    p.set(vmspace, "vmspace", "vm_map.pmap", pmap);
    p.set(proc, "proc", "p_psstrp", ps_at);
    return ps_pa;
}

}  // namespace

PlantedProcesses plant_processes(CrashedMachine& machine, const StructLayouts& layouts, const ProcessTree& tree) {
    Planter p(machine, layouts);
    const unsigned ptr = machine.arch().pointer_size;
    const std::uint64_t page = machine.arch().page_size;
    PlantedProcesses out;

    // Process structures first, so every later object can point at them.
    std::set<std::int32_t> pids;
    for (const ProcSpec& s : tree.procs) {
        if (s.marker) continue;
        if (!pids.insert(s.pid).second) bad_tree(fmt::format("pid {} twice", s.pid));
    }
    // Newest first, as they come on the lists.
    std::vector<std::uint64_t> proc_addr(tree.procs.size());
    for (std::size_t i = tree.procs.size(); i-- > 0;) {
        proc_addr[i] = p.alloc("proc");
        if (!tree.procs[i].marker) out.proc[tree.procs[i].pid] = proc_addr[i];
    }

    // Sessions, then process groups, then terminals.
    std::map<std::int32_t, std::uint64_t> sessions, pgrps, tty_of_session;
    std::map<std::int32_t, const TtySpec*> tty_spec;
    for (const TtySpec& t : tree.ttys)
        tty_spec[t.sid] = &t;
    for (const ProcSpec& s : tree.procs) {
        if (s.marker || sessions.contains(s.sid)) continue;
        const std::uint64_t a = p.alloc("session");
        sessions[s.sid] = a;
        p.set(a, "session", "s_sid", static_cast<std::uint32_t>(s.sid));
        if (auto it = out.proc.find(s.sid); it != out.proc.end()) p.set(a, "session", "s_leader", it->second);
    }
    for (const ProcSpec& s : tree.procs) {
        if (s.marker || pgrps.contains(s.pgid)) continue;
        const std::uint64_t a = p.alloc("pgrp");
        pgrps[s.pgid] = a;
        p.set(a, "pgrp", "pg_id", static_cast<std::uint32_t>(s.pgid));
        p.set(a, "pgrp", "pg_session", sessions.at(s.sid));
    }
    for (const TtySpec& t : tree.ttys) {
        const auto dev = netbsd::device_number(layouts, t.name);
        if (!dev) bad_tree(fmt::format("{} names no terminal {}", layouts.source, t.name));
        if (!sessions.contains(t.sid)) bad_tree(fmt::format("terminal {}: no session {}", t.name, t.sid));
        const std::uint64_t a = p.alloc("tty");
        p.set(a, "tty", "t_dev", *dev);
        p.set(a, "tty", "t_session", sessions.at(t.sid));
        if (t.foreground_pgid != 0) {
            if (!pgrps.contains(t.foreground_pgid))
                bad_tree(fmt::format("terminal {}: no process group {}", t.name, t.foreground_pgid));
            p.set(a, "tty", "t_pgrp", pgrps.at(t.foreground_pgid));
        }
        const std::uint64_t session = sessions.at(t.sid);
        p.set(session, "session", "s_ttyp", a);
        if (!t.revoked) p.set(session, "session", "s_ttyvp", machine.kmem_alloc(256, 64));  // the terminal's vnode
        if (!t.login.empty()) p.set_string(session, "session", "s_login", t.login);
        tty_of_session[t.sid] = a;
    }

    // Credentials, shared by processes with the same ids, as kauth shares them.
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t,
                        std::vector<std::uint32_t>>,
             std::uint64_t>
        creds;
    const auto cred = [&](const ProcSpec& s) {
        const auto key = std::tuple(s.uid, s.ruid, s.svuid, s.gid, s.rgid, s.svgid, s.groups);
        if (auto it = creds.find(key); it != creds.end()) return it->second;
        const std::uint64_t a = p.alloc("kauth_cred");
        p.set(a, "kauth_cred", "cr_euid", s.uid);
        p.set(a, "kauth_cred", "cr_uid", s.ruid);
        p.set(a, "kauth_cred", "cr_svuid", s.svuid);
        p.set(a, "kauth_cred", "cr_egid", s.gid);
        p.set(a, "kauth_cred", "cr_gid", s.rgid);
        p.set(a, "kauth_cred", "cr_svgid", s.svgid);
        p.set(a, "kauth_cred", "cr_ngroups", s.groups.size());
        p.set_array(a, "kauth_cred", "cr_groups", s.groups);
        return creds.emplace(key, a).first->second;
    };

    // Kernel processes share the kernel's address space.
    std::uint64_t kernel_vmspace = 0;
    const std::int64_t szomb = static_cast<std::int64_t>(p.value("SZOMB"));
    const std::int64_t lszomb = static_cast<std::int64_t>(p.value("LSZOMB"));

    std::vector<std::uint64_t> all, zomb;
    for (std::size_t i = 0; i < tree.procs.size(); ++i) {
        const ProcSpec& s = tree.procs[i];
        const std::uint64_t a = proc_addr[i];
        if (s.marker) {
            p.add_flag(a, "proc", "PK_MARKER");
            all.push_back(a);
            continue;
        }
        const std::uint64_t state = p.value(s.state);
        p.set(a, "proc", "p_pid", static_cast<std::uint32_t>(s.pid));
        p.set(a, "proc", "p_ppid", static_cast<std::uint32_t>(s.ppid));
        p.set(a, "proc", "p_stat", state);
        p.set(a, "proc", "p_nice", static_cast<std::uint64_t>(static_cast<std::int64_t>(p.value("NZERO")) + s.nice));
        p.set_string(a, "proc", "p_comm", s.comm);
        p.bintime(a, "proc", "p_rtime", s.rtime_usec);
        p.set(a, "proc", "p_cred", cred(s));
        p.set(a, "proc", "p_pgrp", pgrps.at(s.pgid));
        p.set(a, "proc", "p_estcpu", s.estcpu);
        p.set(a, "proc", "p_pctcpu", s.pctcpu);
        if (s.start_sec != 0)
            p.start_time(a, static_cast<std::uint64_t>(s.start_sec), static_cast<std::uint32_t>(s.start_usec));
        if (!s.emul.empty()) p.set(a, "proc", "p_emul", p.named("emul", "e_name", s.emul));
        for (const auto& f : s.flags)
            p.add_flag(a, "proc", f);
        const bool system = std::find(s.flags.begin(), s.flags.end(), "PK_SYSTEM") != s.flags.end();
        if (s.controlling_tty) {
            if (!tty_of_session.contains(s.sid))
                bad_tree(fmt::format("pid {}: session {} has no terminal", s.pid, s.sid));
            p.add_flag(a, "proc", "PL_CONTROLT");
        }
        if (system) {
            if (kernel_vmspace == 0) {
                kernel_vmspace = p.alloc("vmspace");
                p.set(kernel_vmspace, "vmspace", "vm_map.size", std::uint64_t{512} << 20);
            }
            p.set(a, "proc", "p_vmspace", kernel_vmspace);
        } else if (static_cast<std::int64_t>(state) != szomb) {
            const std::uint64_t vm = p.alloc("vmspace");
            p.set(vm, "vmspace", "vm_map.size", s.vm_pages * page);
            p.set(vm, "vmspace", "vm_rssize", static_cast<std::uint32_t>(s.rss_pages));
            p.set(vm, "vmspace", "vm_ssize", static_cast<std::uint32_t>(s.ssize));
            p.set(vm, "vmspace", "vm_issize", static_cast<std::uint32_t>(s.issize));
            p.set(a, "proc", "p_vmspace", vm);
            if (!s.argv.empty() || !s.envv.empty()) out.ps_strings[s.pid] = plant_user_stack(p, s, a, vm);
        }
        if ((system || static_cast<std::int64_t>(state) == szomb) && (!s.argv.empty() || !s.envv.empty()))
            bad_tree(fmt::format("pid {}: a {} has no user memory to plant arguments in", s.pid,
                                 system ? "kernel process" : "zombie"));

        // LWPs: newest first on p_lwps, as lwp_create inserts at the head,
        // so each one points at the one created before it.
        std::uint64_t next = 0;
        std::int64_t live = 0, zombies = 0;
        for (const LwpSpec& ls : s.lwps) {
            const std::uint64_t l = p.alloc("lwp");
            const std::uint64_t lstate = p.value(ls.state);
            p.set(l, "lwp", "l_lid", static_cast<std::uint32_t>(ls.lid));
            p.set(l, "lwp", "l_stat", lstate);
            p.set(l, "lwp", "l_proc", a);
            p.set(l, "lwp", "l_slptime", ls.slptime);
            p.set(l, "lwp", "l_priority", static_cast<std::uint32_t>(ls.priority));
            p.set(l, "lwp", "l_pctcpu", ls.pctcpu);
            p.bintime(l, "lwp", "l_rtime", ls.rtime_usec);
            if (ls.interruptible && lstate == p.value("LSSLEEP")) p.add_flag(l, "lwp", "LW_SINTR");
            if (system && layouts.flag("LW_SYSTEM")) p.add_flag(l, "lwp", "LW_SYSTEM");
            if (!ls.wchan.empty()) p.set(l, "lwp", "l_wchan", p.symbol_or_define(ls.wchan, 'b', 64) + ls.wchan_offset);
            if (!ls.wmesg.empty()) p.set(l, "lwp", "l_wmesg", p.string(ls.wmesg));
            if (!ls.name.empty()) p.set(l, "lwp", "l_name", p.string(ls.name));
            p.set(l, "lwp", "l_sibling.le_next", next);
            next = l;
            out.lwp[{s.pid, ls.lid}] = l;
            if (static_cast<std::int64_t>(lstate) == lszomb) {
                ++zombies;
            } else {
                ++live;
            }
        }
        p.set(a, "proc", "p_lwps.lh_first", next);
        p.set(a, "proc", "p_nlwps", static_cast<std::uint32_t>(live));
        p.set(a, "proc", "p_nzlwps", static_cast<std::uint32_t>(zombies));
        (static_cast<std::int64_t>(state) == szomb ? zomb : all).push_back(a);
        ++out.nprocs;
    }

    // The lists, newest first.
    const auto link = [&](const std::vector<std::uint64_t>& entries, const char* head,
                          std::vector<std::uint64_t>& order) {
        // The oldest is last: each newer one points at the one before it.
        std::uint64_t next = 0;
        for (const std::uint64_t a : entries) {
            p.set(a, "proc", "p_list.le_next", next);
            next = a;
        }
        order.assign(entries.rbegin(), entries.rend());
        machine.write_pointer(p.symbol_or_define(head, 'b', ptr), next);
    };
    link(all, "allproc", out.allproc);
    link(zomb, "zombproc", out.zombproc);
    machine.write_uint(p.symbol_or_define("nprocs", 'b', 4), out.nprocs, 4);
    machine.write_uint(p.symbol_or_define("maxslp", 'd', 4), p.value("MAXSLP"), 4);
    return out;
}

void plant_list_fault(CrashedMachine& machine, const StructLayouts& layouts, const PlantedProcesses& planted,
                      ListFault fault, std::size_t at) {
    const MemberLayout& next = layouts.get("proc").member("p_list.le_next");
    if (fault == ListFault::short_count) {
        machine.write_uint(machine.symbol("nprocs"), at, 4);
        return;
    }
    if (fault == ListFault::overlap) {
        if (at == 0 || planted.allproc.empty()) bad_tree("an overlapping chain needs entries and an allproc");
        const std::uint64_t size = layouts.get("proc").size;
        const std::uint64_t base = machine.kmem_alloc(at * 32 + size, 64);
        machine.write(base, Bytes(at * 32 + size));
        const std::uint64_t first = base + 32 * (at - 1);
        for (std::uint64_t i = 0; i + 1 < at; ++i)
            machine.write_uint(first - 32 * i + next.offset, first - 32 * (i + 1), static_cast<unsigned>(next.size));
        machine.write_uint(planted.allproc.back() + next.offset, first, static_cast<unsigned>(next.size));
        machine.write_uint(machine.symbol("nprocs"), std::uint64_t{1} << 22, 4);
        return;
    }
    if (at >= planted.allproc.size()) bad_tree(fmt::format("allproc has no entry {}", at));
    const std::uint64_t entry = planted.allproc[at] + next.offset;
    if (fault == ListFault::cycle) {
        machine.write_uint(entry, planted.allproc.front(), static_cast<unsigned>(next.size));
    } else {
        // Kernel space the synthetic machine never maps: the top of the heap area.
        const std::uint64_t unmapped = machine.arch().pointer_size == 8 ? 0xffffc0003ff00000 : 0xcff00000;
        machine.write_uint(entry, unmapped, static_cast<unsigned>(next.size));
    }
}

namespace {

ProcSpec proc(std::int32_t pid, std::int32_t ppid, std::int32_t pgid, std::int32_t sid, std::uint32_t uid,
              std::uint32_t gid, std::string comm) {
    ProcSpec s;
    s.pid = pid;
    s.ppid = ppid;
    s.pgid = pgid;
    s.sid = sid;
    s.uid = s.ruid = s.svuid = uid;
    s.gid = s.rgid = s.svgid = gid;
    s.groups = {gid};
    s.comm = std::move(comm);
    s.emul = "netbsd";
    return s;
}

LwpSpec sleeper(std::int32_t lid, std::string wchan, std::string wmesg, std::uint32_t slptime, std::uint64_t rtime_usec,
                bool interruptible = true) {
    LwpSpec l;
    l.lid = lid;
    l.wchan = std::move(wchan);
    l.wmesg = std::move(wmesg);
    l.slptime = slptime;
    l.rtime_usec = rtime_usec;
    l.interruptible = interruptible;
    return l;
}

}  // namespace

ProcessTree default_process_tree() {
    ProcessTree t;
    t.ttys = {
        {.name = "console", .sid = 231, .foreground_pgid = 231, .login = "root"},
        {.name = "pts/0", .sid = 416, .foreground_pgid = 530, .login = "alice"},
        {.name = "pts/1", .sid = 700, .foreground_pgid = 700, .revoked = true, .login = "bob"},
    };
    auto& v = t.procs;

    // The kernel's own process: its threads.
    ProcSpec system = proc(0, 0, 0, 0, 0, 0, "system");
    system.flags = {"PK_SYSTEM"};
    system.rtime_usec = 73'410'000;
    system.lwps = {
        sleeper(1, "uvm_pageout", "pgdaemon", 4, 1'220'000, false),
        sleeper(2, "sched_pstats", "xcall", 0, 310'000, false), sleeper(3, "lbolt", "ioflush", 0, 2'100'000, false),
        sleeper(4, "vdrain_cv", "vdrain", 1, 90'000, false), sleeper(5, "sysmon_cv", "smtaskq", 38, 10'000, false)};
    system.lwps[0].name = "pgdaemon";
    system.lwps[1].name = "xcall/0";
    system.lwps[2].name = "ioflush";
    system.lwps[3].name = "vdrain";
    system.lwps[4].name = "sysmon";
    v.push_back(system);

    ProcSpec init = proc(1, 0, 1, 1, 0, 0, "init");
    init.rtime_usec = 104'000;
    init.vm_pages = 1536;
    init.rss_pages = 380;
    init.ssize = 4;
    init.lwps = {sleeper(1, "init_wait", "wait", 3601, 104'000)};
    init.lwps[0].priority = 43;
    init.start_sec = MachineSpec{}.crash_time - 3 * 86400 - 7200;  // up 3 days and 2 hours
    init.start_usec = 250'000;
    v.push_back(init);

    ProcSpec syslogd = proc(151, 1, 151, 151, 0, 0, "syslogd");
    syslogd.rtime_usec = 62'500;
    syslogd.vm_pages = 4452;
    syslogd.rss_pages = 601;
    syslogd.ssize = 8;
    syslogd.lwps = {sleeper(1, "kq_cv", "kqueue", 57, 62'500)};
    v.push_back(syslogd);

    ProcSpec unbound = proc(185, 1, 185, 185, 998, 998, "unbound");
    unbound.rtime_usec = 1'950'000;
    unbound.vm_pages = 19'870;
    unbound.rss_pages = 5'120;
    unbound.ssize = 16;
    unbound.issize = 2;
    unbound.lwps = {sleeper(1, "kq_cv", "kqueue", 2, 900'000), sleeper(2, "kq_cv", "kqueue", 30, 350'000),
                    sleeper(3, "kq_cv", "kqueue", 30, 350'000), sleeper(4, "kq_cv", "kqueue", 30, 350'000)};
    v.push_back(unbound);

    ProcSpec sshd = proc(214, 1, 214, 214, 0, 0, "sshd");
    sshd.rtime_usec = 23'000;
    sshd.vm_pages = 6130;
    sshd.rss_pages = 1024;
    sshd.ssize = 8;
    sshd.lwps = {sleeper(1, "select_cv", "select", 860, 23'000)};
    v.push_back(sshd);

    ProcSpec cron = proc(220, 1, 220, 220, 0, 0, "cron");
    cron.rtime_usec = 5'000;
    cron.vm_pages = 3300;
    cron.rss_pages = 512;
    cron.ssize = 4;
    cron.lwps = {sleeper(1, "nanosleep_cv", "nanoslp", 14, 5'000)};
    v.push_back(cron);

    ProcSpec getty = proc(231, 1, 231, 231, 0, 0, "getty");
    getty.controlling_tty = true;
    getty.rtime_usec = 1'000;
    getty.vm_pages = 3100;
    getty.rss_pages = 420;
    getty.ssize = 4;
    getty.lwps = {sleeper(1, "ttyraw_cv", "ttyraw", 3600, 1'000)};
    v.push_back(getty);

    ProcSpec priv = proc(412, 214, 412, 412, 0, 0, "sshd");
    priv.rtime_usec = 41'000;
    priv.vm_pages = 6400;
    priv.rss_pages = 1100;
    priv.ssize = 8;
    priv.lwps = {sleeper(1, "select_cv", "select", 610, 41'000)};
    v.push_back(priv);

    ProcSpec user_sshd = proc(415, 412, 412, 412, 1000, 1000, "sshd");
    user_sshd.rtime_usec = 377'000;
    user_sshd.vm_pages = 6400;
    user_sshd.rss_pages = 1090;
    user_sshd.ssize = 8;
    user_sshd.lwps = {sleeper(1, "select_cv", "select", 0, 377'000)};
    v.push_back(user_sshd);

    ProcSpec ksh = proc(416, 415, 416, 416, 1000, 1000, "ksh");
    ksh.groups = {1000, 0, 5};
    ksh.controlling_tty = true;
    ksh.rtime_usec = 88'000;
    ksh.vm_pages = 2980;
    ksh.rss_pages = 460;
    ksh.ssize = 4;
    ksh.lwps = {sleeper(1, "init_wait", "wait", 2, 88'000)};
    v.push_back(ksh);

    ProcSpec make = proc(530, 416, 530, 416, 1000, 1000, "make");
    make.groups = {1000, 0, 5};
    make.controlling_tty = true;
    make.rtime_usec = 2'345'670;
    make.vm_pages = 5260;
    make.rss_pages = 1400;
    make.ssize = 8;
    make.lwps = {sleeper(1, "init_wait", "wait", 0, 2'345'670)};
    make.lwps[0].priority = 85;
    make.lwps[0].pctcpu = 1024;  // 50%
    make.estcpu = 12;
    make.pctcpu = 512;  // 25%
    make.start_sec = MachineSpec{}.crash_time - 125;
    v.push_back(make);

    ProcSpec vi = proc(533, 416, 533, 416, 1000, 1000, "vi");
    vi.groups = {1000, 0, 5};
    vi.controlling_tty = true;
    vi.state = "SSTOP";
    vi.rtime_usec = 150'000;
    vi.vm_pages = 3400;
    vi.rss_pages = 700;
    vi.ssize = 4;
    LwpSpec stopped;
    stopped.state = "LSSTOP";
    stopped.rtime_usec = 150'000;
    vi.lwps = {stopped};
    v.push_back(vi);

    ProcSpec cc = proc(541, 530, 530, 416, 1000, 1000, "cc");
    cc.groups = {1000, 0, 5};
    cc.controlling_tty = true;
    cc.rtime_usec = 12'000;
    cc.vm_pages = 4100;
    cc.rss_pages = 800;
    cc.ssize = 8;
    cc.lwps = {sleeper(1, "init_wait", "wait", 0, 12'000)};
    v.push_back(cc);

    ProcSpec cc1 = proc(542, 541, 530, 416, 1000, 1000, "cc1");
    cc1.groups = {1000, 0, 5};
    cc1.controlling_tty = true;
    cc1.state = "SZOMB";
    cc1.rtime_usec = 5'816'200;
    v.push_back(cc1);

    ProcSpec gdb = proc(560, 416, 560, 416, 1000, 1000, "gdb");
    gdb.groups = {1000, 0, 5};
    gdb.controlling_tty = true;
    gdb.rtime_usec = 640'000;
    gdb.vm_pages = 30'500;
    gdb.rss_pages = 9'800;
    gdb.ssize = 16;
    gdb.lwps = {sleeper(1, "init_wait", "wait", 12, 640'000)};
    v.push_back(gdb);

    ProcSpec traced = proc(561, 560, 560, 416, 1000, 1000, "a.out");
    traced.groups = {1000, 0, 5};
    traced.controlling_tty = true;
    traced.state = "SSTOP";
    traced.flags = {"PSL_TRACED"};
    traced.vm_pages = 1200;
    traced.rss_pages = 210;
    traced.ssize = 4;
    traced.lwps = {stopped};
    traced.lwps[0].rtime_usec = 2'000;
    traced.rtime_usec = 2'000;
    v.push_back(traced);

    ProcSpec bob = proc(700, 415, 700, 700, 1001, 100, "ksh");
    bob.controlling_tty = true;
    bob.rtime_usec = 31'000;
    bob.vm_pages = 2980;
    bob.rss_pages = 455;
    bob.ssize = 4;
    bob.lwps = {sleeper(1, "ttyraw_cv", "ttyraw", 45, 31'000)};
    v.push_back(bob);

    ProcSpec pkgin = proc(731, 1, 731, 731, 0, 0, "pkg_admin");
    pkgin.nice = 10;
    pkgin.rtime_usec = 61'340'000;
    pkgin.vm_pages = 9000;
    pkgin.rss_pages = 2300;
    pkgin.ssize = 8;
    pkgin.lwps = {sleeper(1, "biowait_cv", "biowait", 0, 61'340'000, false)};
    v.push_back(pkgin);

    ProcSpec sysctl = proc(777, 416, 777, 416, 0, 1000, "sysctl");
    sysctl.ruid = sysctl.svuid = 1000;
    sysctl.groups = {1000, 0, 5};
    sysctl.controlling_tty = true;
    sysctl.rtime_usec = 3'000;
    sysctl.vm_pages = 2200;
    sysctl.rss_pages = 300;
    sysctl.ssize = 4;
    LwpSpec running;
    running.state = "LSONPROC";
    running.rtime_usec = 3'000;
    sysctl.lwps = {running};
    v.push_back(sysctl);
    return t;
}

ProcessTree with_arguments(ProcessTree tree) {
    const std::map<std::int32_t, std::vector<std::string>> argv{
        {1, {"init"}},
        {151, {"/usr/sbin/syslogd", "-s"}},
        {185, {"/usr/sbin/unbound"}},
        {214, {"/usr/sbin/sshd"}},
        {220, {"/usr/sbin/cron"}},
        {231, {"/usr/libexec/getty", "Pc", "constty"}},
        {412, {"sshd: alice [priv]"}},
        {415, {"sshd: alice@pts/0"}},
        {416, {"-ksh"}},
        {530, {"make", "-j4", "build"}},
        {533, {"vi", "kern_exec.c"}},
        {541, {"cc", "-O2", "-c", "kern_exec.c"}},
        {560, {"gdb", "./a.out"}},
        {561, {"./a.out"}},
        {700, {"-ksh"}},
        {731, {"pkg_admin", "audit"}},
        {777, {"sysctl", "-a"}},
    };
    const std::vector<std::string> login_environment{"HOME=/home/alice", "PATH=/bin:/usr/bin:/usr/pkg/bin",
                                                     "TERM=xterm"};
    for (ProcSpec& s : tree.procs) {
        if (s.marker) continue;
        if (auto it = argv.find(s.pid); it != argv.end()) s.argv = it->second;
        if (s.pid == 416 || s.pid == 530) s.envv = login_environment;
        if (s.pid == 777) s.user_pages_unwritten = true;
    }
    return tree;
}

}  // namespace kvm::synth
