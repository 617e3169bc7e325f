// Process trees planted as a DragonFly kernel keeps them (kvm/synth_procs.h).
#include <kvm/error.h>
#include <kvm/synth_procs.h>

#include "synth/planter.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

namespace kvm::synth {

using detail::bad_tree;
using detail::Planter;

namespace {

// The structure a flag belongs to, from its layout entry ("lwp.lwp_flags").
std::string flag_owner(const StructLayouts& l, const std::string& name) {
    for (const auto& v : l.flags)
        if (v.name == name) return v.field.substr(0, v.field.find('.'));
    bad_tree(fmt::format("{} defines no flag {}", l.source, name));
}

}  // namespace

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

    std::set<std::int32_t> pids;
    for (const ProcSpec& s : tree.procs)
        if (!pids.insert(s.pid).second) bad_tree(fmt::format("pid {} twice", s.pid));
    std::vector<std::uint64_t> proc_addr(tree.procs.size());
    for (std::size_t i = tree.procs.size(); i-- > 0;) {
        proc_addr[i] = p.alloc("proc");
        out.proc[tree.procs[i].pid] = proc_addr[i];
    }

    // Sessions, process groups, terminals (each with its cdev).
    std::map<std::int32_t, std::uint64_t> sessions, pgrps;
    for (const ProcSpec& s : tree.procs) {
        if (sessions.contains(s.sid)) continue;
        const std::uint64_t a = p.alloc("session");
        sessions[s.sid] = a;
        p.set(a, "session", "s_sid", static_cast<std::uint32_t>(s.sid));
        if (auto it = out.proc.find(s.sid); it != out.proc.end()) p.set(a, "session", "s_leader", it->second);
    }
    for (const ProcSpec& s : tree.procs) {
        if (pgrps.contains(s.pgid)) continue;
        const std::uint64_t a = p.alloc("pgrp");
        pgrps[s.pgid] = a;
        p.set(a, "pgrp", "pg_id", static_cast<std::uint32_t>(s.pgid));
        p.set(a, "pgrp", "pg_session", sessions.at(s.sid));
    }
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

}  // namespace kvm::synth
