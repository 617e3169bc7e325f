// Processes of a dead NetBSD kernel: the walk libkvm's kvm_getprocs and
// kvm_getlwps do on a dump (netbsd-dump-format.md section 6), on structure
// layouts that are data, and without its known faults:
//   - every filter filters (libkvm returned all processes for SESSION, GID
//     and RGID on a dump);
//   - marker processes (PK_MARKER) are skipped;
//   - lists are bounded by nprocs (allproc and zombproc together) and by
//     p_nlwps + p_nzlwps, with cycle detection, and a bad entry ends its
//     list with a warning instead of failing the whole call;
//   - STAT letters test the release's own PK_/PS_/PSL_/PL_ bits, never the
//     P_* compatibility bits;
//   - interruptible sleepers read the kernel's maxslp (ps on a dump left it
//     0 and showed every sleeper as I).
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/msgbuf.h>
#include <kvm/procs.h>

#include "procs/kernel_object.h"
#include "procs/list_walk.h"
#include "procs/page_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace kvm {

namespace {

// Bounds for values read from a dump.
constexpr std::uint64_t max_lwps_per_proc = 65536;  // MAXMAXLWP is 65535
constexpr std::size_t max_wmesg = 64;
constexpr std::size_t max_lname = 64;
constexpr std::size_t max_osrelease = 64;

MemberRequest m(std::string path, std::string meaning, bool required = true) {
    return MemberRequest{std::move(path), std::move(meaning), required};
}

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"proc",
         {
             m("p_list.le_next", "next process on allproc or zombproc (LIST_ENTRY p_list)"),
             m("p_cred", "credentials (struct kauth_cred *)"),
             m("p_vmspace", "address space (struct vmspace *): VSZ and RSS"),
             m("p_flag", "PK_* flags: PK_SYSTEM (STAT K), PK_MARKER (list markers, skipped)"),
             m("p_sflag", "PS_* flags: PS_WEXIT (STAT E)"),
             m("p_slflag", "PSL_* flags: PSL_TRACED (STAT X)"),
             m("p_lflag", "PL_* flags: PL_CONTROLT (has a controlling terminal), PL_PPWAIT (STAT V)"),
             m("p_stat", "process state, S* values"),
             m("p_pid", "process id"),
             m("p_lwps.lh_first", "first LWP of the process (LIST_HEAD p_lwps)"),
             m("p_nlwps", "number of LWPs"),
             m("p_nzlwps", "number of zombie LWPs, still on p_lwps"),
             m("p_rtime.sec", "run time, seconds (struct bintime p_rtime): TIME"),
             m("p_rtime.frac", "run time, fraction of a second in units of 2^-64"),
             m("p_ppid", "parent's process id"),
             m("p_nice", "nice value plus NZERO"),
             m("p_comm", "command name, MAXCOMLEN+1 characters"),
             m("p_pgrp", "process group (struct pgrp *)"),
         }},
        {"lwp",
         {
             m("l_stat", "LWP state, LS* values"),
             m("l_flag", "LW_* flags: LW_SINTR (interruptible sleep)"),
             m("l_rtime.sec", "LWP run time, seconds (struct bintime l_rtime)"),
             m("l_rtime.frac", "LWP run time, fraction of a second in units of 2^-64"),
             m("l_wchan", "wait channel: the address the LWP sleeps on"),
             m("l_wmesg", "wait message (const char *)"),
             m("l_slptime", "seconds since the LWP went to sleep"),
             m("l_lid", "LWP id"),
             m("l_sibling.le_next", "next LWP of the same process (LIST_ENTRY l_sibling)"),
             m("l_name", "LWP name (char *), NULL when unnamed", false),
         }},
        {"kauth_cred",
         {
             m("cr_uid", "real user id"),
             m("cr_euid", "effective user id"),
             m("cr_svuid", "saved user id"),
             m("cr_gid", "real group id"),
             m("cr_egid", "effective group id"),
             m("cr_svgid", "saved group id"),
             m("cr_ngroups", "number of supplementary groups"),
             m("cr_groups", "supplementary groups, NGROUPS of them"),
         }},
        {"pgrp",
         {
             m("pg_id", "process group id"),
             m("pg_session", "session (struct session *)"),
         }},
        {"session",
         {
             m("s_leader", "session leader (struct proc *): STAT s"),
             m("s_ttyvp", "controlling terminal's vnode; NULL once revoked (TTY suffix -)"),
             m("s_ttyp", "controlling terminal (struct tty *)"),
             m("s_login", "login name set by setlogin(2)", false),
             m("s_sid", "session id, the leader's pid"),
         }},
        {"tty",
         {
             m("t_dev", "device number (dev_t): TTY"),
             m("t_pgrp", "foreground process group (struct pgrp *): STAT +"),
             m("t_session", "session the terminal controls"),
         }},
        {"vmspace",
         {
             m("vm_map.size", "mapped virtual size in bytes"),
             m("vm_rssize", "resident set size in pages, as the vmspace records it"),
             m("vm_ssize", "stack size in pages"),
             m("vm_issize", "initial unmapped stack size in pages"),
         }},
    };
    r.flags = {"PK_SYSTEM", "PK_MARKER", "PS_WEXIT", "PSL_TRACED", "PL_CONTROLT", "PL_PPWAIT", "LW_SINTR"};
    r.values = {"SIDL",    "SACTIVE", "SDYING", "SSTOP",    "SZOMB",       "SDEAD", "LSIDL", "LSRUN",
                "LSSLEEP", "LSSTOP",  "LSZOMB", "LSONPROC", "LSSUSPENDED", "NZERO", "MAXSLP"};
    return r;
}

using Object = detail::KernelObject;

struct CredInfo {
    std::uint32_t uid, euid, svuid, gid, egid, svgid;
    std::vector<std::uint32_t> groups;
};

struct SessionInfo {
    std::int32_t sid = 0;
    std::uint64_t leader = 0;
    std::uint64_t ttyvp = 0;
    std::uint64_t ttyp = 0;
    std::string login;
};

struct PgrpInfo {
    std::int32_t pgid = 0;
    std::uint64_t session = 0;
};

struct TtyInfo {
    std::uint64_t dev = no_dev;
    std::uint64_t pgrp = 0;
};

struct LwpInfo {
    std::uint64_t address = 0;
    std::int32_t lid = 0;
    std::int64_t stat = 0;
    std::uint64_t flag = 0;
    std::uint64_t wchan = 0;
    std::string wmesg;
    std::uint64_t slptime = 0;
    std::uint64_t rtime_usec = 0;
    std::string name;
};

std::uint64_t bintime_usec(std::uint64_t sec, std::uint64_t frac) {
    // bintime2timeval: microseconds from the top 32 bits of the fraction.
    return sec * 1000000 + ((std::uint64_t{1000000} * (frac >> 32)) >> 32);
}

class NetbsdWalker final : public ProcessWalker {
public:
    NetbsdWalker(const Kernel& kernel, StructLayouts layouts);

    std::string_view name() const override { return "netbsd"; }
    void walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const override;
    std::optional<std::uint64_t> tty_device(std::string_view name) const override {
        return netbsd::device_number(layouts_, name);
    }
    const StructLayouts* layouts() const override { return &layouts_; }

private:
    struct Walk;  // per-walk state and caches

    const MemberLayout* mem(const StructLayout& s, std::string_view name) const { return s.find(name); }
    std::uint64_t flag(std::string_view name) const { return layouts_.require_flag(name); }
    std::int64_t value(std::string_view name) const { return static_cast<std::int64_t>(layouts_.require_value(name)); }

    const Kernel& kernel_;
    StructLayouts layouts_;
    const StructLayout& proc_;
    const StructLayout& lwp_;
    const StructLayout& cred_;
    const StructLayout& pgrp_;
    const StructLayout& session_;
    const StructLayout& tty_;
    const StructLayout& vmspace_;

    // Members, looked up once.
    const MemberLayout *p_next_, *p_cred_, *p_vmspace_, *p_flag_, *p_sflag_, *p_slflag_, *p_lflag_, *p_stat_, *p_pid_,
        *p_lwps_, *p_nlwps_, *p_nzlwps_, *p_rtime_sec_, *p_rtime_frac_, *p_ppid_, *p_nice_, *p_comm_, *p_pgrp_;
    const MemberLayout *l_stat_, *l_flag_, *l_rtime_sec_, *l_rtime_frac_, *l_wchan_, *l_wmesg_, *l_slptime_, *l_lid_,
        *l_next_, *l_name_;
    const MemberLayout *cr_uid_, *cr_euid_, *cr_svuid_, *cr_gid_, *cr_egid_, *cr_svgid_, *cr_ngroups_, *cr_groups_;
    const MemberLayout *pg_id_, *pg_session_;
    const MemberLayout *s_leader_, *s_ttyvp_, *s_ttyp_, *s_login_, *s_sid_;
    const MemberLayout *t_dev_, *t_pgrp_;
    const MemberLayout *vm_size_, *vm_rssize_, *vm_ssize_, *vm_issize_;

    // The release's constants.
    std::uint64_t pk_system_, pk_marker_, ps_wexit_, psl_traced_, pl_controlt_, pl_ppwait_, lw_sintr_;
    std::int64_t sidl_, sstop_, szomb_, sdying_, sdead_;
    std::int64_t lsidl_, lsrun_, lssleep_, lsstop_, lszomb_, lsonproc_, lssuspended_;
    std::int64_t nzero_, maxslp_default_;
};

NetbsdWalker::NetbsdWalker(const Kernel& kernel, StructLayouts layouts)
    : kernel_(kernel),
      layouts_(std::move(layouts)),
      proc_(layouts_.get("proc")),
      lwp_(layouts_.get("lwp")),
      cred_(layouts_.get("kauth_cred")),
      pgrp_(layouts_.get("pgrp")),
      session_(layouts_.get("session")),
      tty_(layouts_.get("tty")),
      vmspace_(layouts_.get("vmspace")) {
    p_next_ = mem(proc_, "p_list.le_next");
    p_cred_ = mem(proc_, "p_cred");
    p_vmspace_ = mem(proc_, "p_vmspace");
    p_flag_ = mem(proc_, "p_flag");
    p_sflag_ = mem(proc_, "p_sflag");
    p_slflag_ = mem(proc_, "p_slflag");
    p_lflag_ = mem(proc_, "p_lflag");
    p_stat_ = mem(proc_, "p_stat");
    p_pid_ = mem(proc_, "p_pid");
    p_lwps_ = mem(proc_, "p_lwps.lh_first");
    p_nlwps_ = mem(proc_, "p_nlwps");
    p_nzlwps_ = mem(proc_, "p_nzlwps");
    p_rtime_sec_ = mem(proc_, "p_rtime.sec");
    p_rtime_frac_ = mem(proc_, "p_rtime.frac");
    p_ppid_ = mem(proc_, "p_ppid");
    p_nice_ = mem(proc_, "p_nice");
    p_comm_ = mem(proc_, "p_comm");
    p_pgrp_ = mem(proc_, "p_pgrp");
    l_stat_ = mem(lwp_, "l_stat");
    l_flag_ = mem(lwp_, "l_flag");
    l_rtime_sec_ = mem(lwp_, "l_rtime.sec");
    l_rtime_frac_ = mem(lwp_, "l_rtime.frac");
    l_wchan_ = mem(lwp_, "l_wchan");
    l_wmesg_ = mem(lwp_, "l_wmesg");
    l_slptime_ = mem(lwp_, "l_slptime");
    l_lid_ = mem(lwp_, "l_lid");
    l_next_ = mem(lwp_, "l_sibling.le_next");
    l_name_ = mem(lwp_, "l_name");
    cr_uid_ = mem(cred_, "cr_uid");
    cr_euid_ = mem(cred_, "cr_euid");
    cr_svuid_ = mem(cred_, "cr_svuid");
    cr_gid_ = mem(cred_, "cr_gid");
    cr_egid_ = mem(cred_, "cr_egid");
    cr_svgid_ = mem(cred_, "cr_svgid");
    cr_ngroups_ = mem(cred_, "cr_ngroups");
    cr_groups_ = mem(cred_, "cr_groups");
    pg_id_ = mem(pgrp_, "pg_id");
    pg_session_ = mem(pgrp_, "pg_session");
    s_leader_ = mem(session_, "s_leader");
    s_ttyvp_ = mem(session_, "s_ttyvp");
    s_ttyp_ = mem(session_, "s_ttyp");
    s_login_ = mem(session_, "s_login");
    s_sid_ = mem(session_, "s_sid");
    t_dev_ = mem(tty_, "t_dev");
    t_pgrp_ = mem(tty_, "t_pgrp");
    vm_size_ = mem(vmspace_, "vm_map.size");
    vm_rssize_ = mem(vmspace_, "vm_rssize");
    vm_ssize_ = mem(vmspace_, "vm_ssize");
    vm_issize_ = mem(vmspace_, "vm_issize");

    pk_system_ = flag("PK_SYSTEM");
    pk_marker_ = flag("PK_MARKER");
    ps_wexit_ = flag("PS_WEXIT");
    psl_traced_ = flag("PSL_TRACED");
    pl_controlt_ = flag("PL_CONTROLT");
    pl_ppwait_ = flag("PL_PPWAIT");
    lw_sintr_ = flag("LW_SINTR");
    sidl_ = value("SIDL");
    sstop_ = value("SSTOP");
    szomb_ = value("SZOMB");
    sdying_ = value("SDYING");
    sdead_ = value("SDEAD");
    lsidl_ = value("LSIDL");
    lsrun_ = value("LSRUN");
    lssleep_ = value("LSSLEEP");
    lsstop_ = value("LSSTOP");
    lszomb_ = value("LSZOMB");
    lsonproc_ = value("LSONPROC");
    lssuspended_ = value("LSSUSPENDED");
    nzero_ = value("NZERO");
    maxslp_default_ = value("MAXSLP");

    if (cr_groups_ != nullptr && (cr_groups_->count == 0 || cr_groups_->size % cr_groups_->count != 0))
        throw_corrupt(fmt::format("{}: kauth_cred.cr_groups is not an array of gid_t", layouts_.source));
}

struct NetbsdWalker::Walk {
    const NetbsdWalker& w;
    const WalkOptions& options;
    const ProcEmit& emit;
    const ProcWarn& warn;
    std::int64_t maxslp = 0;
    std::unordered_set<std::uint64_t> visited;
    std::unordered_map<std::uint64_t, CredInfo> creds;
    std::unordered_map<std::uint64_t, PgrpInfo> pgrps;
    std::unordered_map<std::uint64_t, SessionInfo> sessions;
    std::unordered_map<std::uint64_t, TtyInfo> ttys;
    std::unordered_map<std::uint64_t, std::string> wchan_names;
    std::unordered_map<std::uint64_t, std::string> strings;  // wait messages, LWP names
    detail::PageCache memory{w.kernel_};

    Object read(const StructLayout& layout, std::uint64_t address) {
        return Object(memory, w.kernel_.order(), layout, address);
    }

    // Wait messages and names are shared kernel strings: each is read once.
    const std::string& string(std::uint64_t address, std::size_t max) {
        if (auto it = strings.find(address); it != strings.end()) return it->second;
        return strings.emplace(address, memory.read_string(address, max)).first->second;
    }

    // One problem with one process: a warning naming it, and the walk goes on.
    void problem(const ProcInfo& p, std::string_view what, std::uint64_t address, Error& e) const {
        e.add_context(fmt::format("pid {} ({}): {} at {}", p.pid, hex(p.paddr), what, hex(address)));
        warn(e);
    }

    const CredInfo& cred(std::uint64_t address) {
        if (auto it = creds.find(address); it != creds.end()) return it->second;
        const Object o = read(w.cred_, address);
        CredInfo c{static_cast<std::uint32_t>(o.u(w.cr_uid_)),
                   static_cast<std::uint32_t>(o.u(w.cr_euid_)),
                   static_cast<std::uint32_t>(o.u(w.cr_svuid_)),
                   static_cast<std::uint32_t>(o.u(w.cr_gid_)),
                   static_cast<std::uint32_t>(o.u(w.cr_egid_)),
                   static_cast<std::uint32_t>(o.u(w.cr_svgid_)),
                   {}};
        const std::uint64_t n = o.u(w.cr_ngroups_);
        const std::uint64_t cap = w.cr_groups_->count;
        if (n > cap) throw_corrupt(fmt::format("cr_ngroups is {}, but cr_groups holds {}", n, cap));
        MemberLayout element = *w.cr_groups_;
        element.size = w.cr_groups_->size / cap;
        element.count = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            element.offset = w.cr_groups_->offset + i * element.size;
            c.groups.push_back(static_cast<std::uint32_t>(load_member_unsigned(o.bytes(), element, w.kernel_.order())));
        }
        return creds.emplace(address, std::move(c)).first->second;
    }

    const PgrpInfo& pgrp(std::uint64_t address) {
        if (auto it = pgrps.find(address); it != pgrps.end()) return it->second;
        const Object o = read(w.pgrp_, address);
        return pgrps.emplace(address, PgrpInfo{static_cast<std::int32_t>(o.s(w.pg_id_)), o.u(w.pg_session_)})
            .first->second;
    }

    const SessionInfo& session(std::uint64_t address) {
        if (auto it = sessions.find(address); it != sessions.end()) return it->second;
        const Object o = read(w.session_, address);
        SessionInfo s{static_cast<std::int32_t>(o.s(w.s_sid_)), o.u(w.s_leader_), o.u(w.s_ttyvp_), o.u(w.s_ttyp_),
                      o.str(w.s_login_)};
        return sessions.emplace(address, std::move(s)).first->second;
    }

    const TtyInfo& tty(std::uint64_t address) {
        if (auto it = ttys.find(address); it != ttys.end()) return it->second;
        const Object o = read(w.tty_, address);
        return ttys.emplace(address, TtyInfo{o.u(w.t_dev_), o.u(w.t_pgrp_)}).first->second;
    }

    const std::string& wchan_name(std::uint64_t address) {
        if (auto it = wchan_names.find(address); it != wchan_names.end()) return it->second;
        std::string name;
        if (const auto n = w.kernel_.symbols().nearest(address)) {
            name = n->offset == 0 ? n->symbol->name : fmt::format("{}+{:#x}", n->symbol->name, n->offset);
        }
        return wchan_names.emplace(address, std::move(name)).first->second;
    }

    char lwp_letter(const ProcInfo& p, const LwpInfo& l) const {
        if (p.zombie) return 'Z';
        if (l.stat == w.lsstop_) return 'T';
        if (l.stat == w.lssleep_) {
            if ((l.flag & w.lw_sintr_) == 0) return 'D';
            return static_cast<std::int64_t>(l.slptime) >= maxslp ? 'I' : 'S';
        }
        if (l.stat == w.lsrun_ || l.stat == w.lsidl_) return 'R';
        if (l.stat == w.lsonproc_) return 'O';
        if (l.stat == w.lszomb_) return 'Z';
        if (l.stat == w.lssuspended_) return 'U';
        return '?';
    }

    char proc_letter(const ProcInfo& p) const {
        if (p.zombie) return 'Z';
        if (p.state == w.sstop_) return 'T';
        if (p.state == w.sidl_) return 'R';
        return '?';
    }

    // How active an LWP is: the most active one stands for its process,
    // as the kernel's sysctl picks it (on a CPU, runnable, asleep, ...).
    int activity(const LwpInfo& l) const {
        const std::int64_t order[] = {w.lsonproc_,    w.lsrun_, w.lssleep_, w.lsstop_,
                                      w.lssuspended_, w.lsidl_, w.lszomb_};
        for (std::size_t i = 0; i < std::size(order); ++i)
            if (l.stat == order[i]) return static_cast<int>(i);
        return static_cast<int>(std::size(order));
    }

    std::vector<LwpInfo> lwps(ProcInfo& p, const Object& proc) {
        std::vector<LwpInfo> out;
        const std::uint64_t nlwps = static_cast<std::uint64_t>(std::max<std::int64_t>(proc.s(w.p_nlwps_), 0));
        const std::uint64_t nzlwps = static_cast<std::uint64_t>(std::max<std::int64_t>(proc.s(w.p_nzlwps_), 0));
        const std::uint64_t limit = std::min(nlwps + nzlwps, max_lwps_per_proc);
        std::unordered_set<std::uint64_t> seen;
        const auto list = [&] { return fmt::format("pid {} ({}): LWP list", p.pid, hex(p.paddr)); };
        detail::walk_list(list, proc.u(w.p_lwps_), limit, seen, warn, [&](std::uint64_t address, std::uint64_t) {
            const Object o = read(w.lwp_, address);
            LwpInfo l;
            l.address = address;
            l.lid = static_cast<std::int32_t>(o.s(w.l_lid_));
            l.stat = o.s(w.l_stat_);
            l.flag = o.u(w.l_flag_);
            l.wchan = o.u(w.l_wchan_);
            l.slptime = o.u(w.l_slptime_);
            l.rtime_usec = bintime_usec(o.u(w.l_rtime_sec_), o.u(w.l_rtime_frac_));
            const std::uint64_t wmesg = o.u(w.l_wmesg_);
            const std::uint64_t name = o.u(w.l_name_);
            const std::uint64_t next = o.u(w.l_next_);
            out.push_back(std::move(l));
            LwpInfo& added = out.back();
            // Strings live elsewhere: an unreadable one is a
            // warning about this LWP, and the list goes on.
            try {
                if (wmesg != 0) added.wmesg = string(wmesg, max_wmesg);
            } catch (Error& e) {
                e.add_context(fmt::format("LWP {} wait message at {}", added.lid, hex(wmesg)));
                problem(p, "LWP list", address, e);
            }
            try {
                if (name != 0) added.name = string(name, max_lname);
            } catch (Error& e) {
                e.add_context(fmt::format("LWP {} name at {}", added.lid, hex(name)));
                problem(p, "LWP list", address, e);
            }
            return detail::ListStep{next, true};
        });
        return out;
    }

    void fill_terminal(ProcInfo& p, std::uint64_t lflag, std::uint64_t pgrp_address) {
        if (pgrp_address == 0) return;
        std::uint64_t session_address = 0;
        try {
            const PgrpInfo& g = pgrp(pgrp_address);
            p.pgid = g.pgid;
            session_address = g.session;
        } catch (Error& e) {
            problem(p, "process group", pgrp_address, e);
            return;
        }
        if (session_address == 0) return;
        SessionInfo s;
        try {
            s = session(session_address);
        } catch (Error& e) {
            problem(p, "session", session_address, e);
            return;
        }
        p.sid = s.sid;
        p.session_leader = s.leader == p.paddr;
        p.ctty_vnode = s.ttyvp != 0;
        p.login = s.login;
        if ((lflag & w.pl_controlt_) == 0 || s.ttyp == 0) return;
        try {
            const TtyInfo& t = tty(s.ttyp);
            p.tdev = t.dev;
            p.tty = netbsd::device_name(w.layouts_, t.dev);
            if (t.pgrp != 0) {
                try {
                    p.tpgid = pgrp(t.pgrp).pgid;
                } catch (Error& e) {
                    problem(p, "terminal's process group", t.pgrp, e);
                }
            }
        } catch (Error& e) {
            problem(p, "terminal", s.ttyp, e);
        }
    }

    void fill_vm(ProcInfo& p, std::uint64_t address) {
        if (address == 0 || p.zombie || p.system) return;
        try {
            const Object o = read(w.vmspace_, address);
            const std::uint64_t page = w.kernel_.arch().page_size;
            // The mapped size ps shows: the map's pages, less the stack not
            // yet mapped, plus the stack in use (kinfo_proc2's p_vm_msize).
            const std::int64_t pages =
                static_cast<std::int64_t>(o.u(w.vm_size_) / page) - o.s(w.vm_issize_) + o.s(w.vm_ssize_);
            p.vsz_kib = static_cast<std::uint64_t>(std::max<std::int64_t>(pages, 0)) * page / 1024;
            p.rss_kib = static_cast<std::uint64_t>(std::max<std::int64_t>(o.s(w.vm_rssize_), 0)) * page / 1024;
        } catch (Error& e) {
            problem(p, "address space", address, e);
        }
    }

    detail::ListStep visit(std::uint64_t address) {
        const Object proc = read(w.proc_, address);
        const detail::ListStep step{proc.u(w.p_next_), true};
        const std::uint64_t pflag = proc.u(w.p_flag_);
        if ((pflag & w.pk_marker_) != 0) return {step.next, false};

        ProcInfo p;
        p.paddr = address;
        p.pid = static_cast<std::int32_t>(proc.s(w.p_pid_));
        p.ppid = static_cast<std::int32_t>(proc.s(w.p_ppid_));
        p.state = proc.s(w.p_stat_);
        p.flags = pflag;
        const std::uint64_t sflag = proc.u(w.p_sflag_);
        const std::uint64_t slflag = proc.u(w.p_slflag_);
        const std::uint64_t lflag = proc.u(w.p_lflag_);
        p.raw = {{"p_sflag", sflag}, {"p_slflag", slflag}, {"p_lflag", lflag}};
        p.nice = static_cast<int>(proc.s(w.p_nice_) - w.nzero_);
        p.comm = proc.str(w.p_comm_);
        p.zombie = p.state == w.szomb_ || p.state == w.sdying_ || p.state == w.sdead_;
        p.system = (pflag & w.pk_system_) != 0;
        p.nlwps = static_cast<std::int32_t>(proc.s(w.p_nlwps_));
        p.rtime_usec = bintime_usec(proc.u(w.p_rtime_sec_), proc.u(w.p_rtime_frac_));

        if (const std::uint64_t c = proc.u(w.p_cred_); c != 0) {
            try {
                const CredInfo& cr = cred(c);
                p.uid = cr.euid;
                p.ruid = cr.uid;
                p.svuid = cr.svuid;
                p.gid = cr.egid;
                p.rgid = cr.gid;
                p.svgid = cr.svgid;
                p.groups = cr.groups;
            } catch (Error& e) {
                problem(p, "credentials", c, e);
            }
        }
        fill_terminal(p, lflag, proc.u(w.p_pgrp_));
        fill_vm(p, proc.u(w.p_vmspace_));

        const std::vector<LwpInfo> lwp_list = lwps(p, proc);
        StatFlags flags{.nice = p.nice,
                        .traced = (slflag & w.psl_traced_) != 0,
                        .exiting = (sflag & w.ps_wexit_) != 0,
                        .vfork_wait = (lflag & w.pl_ppwait_) != 0,
                        .system = p.system,
                        .session_leader = p.session_leader,
                        .multithreaded = p.nlwps > 1,
                        .foreground = (lflag & w.pl_controlt_) != 0 && p.tdev != no_dev && p.pgid == p.tpgid};

        const auto with_lwp = [&](ProcInfo& row, const LwpInfo& l) {
            row.lid = l.lid;
            row.lwp_state = l.stat;
            row.laddr = l.address;
            row.wchan = l.wchan;
            row.wchan_symbol = l.wchan != 0 ? wchan_name(l.wchan) : std::string();
            row.wmesg = l.wmesg;
            row.lname = l.name;
            row.raw.emplace_back("l_flag", l.flag);
            row.stat = stat_letters(lwp_letter(row, l), flags);
        };

        if (!options.per_lwp) {
            const LwpInfo* best = nullptr;
            for (const auto& l : lwp_list)
                if (best == nullptr || activity(l) < activity(*best)) best = &l;
            if (best != nullptr) {
                with_lwp(p, *best);
            } else {
                p.stat = stat_letters(proc_letter(p), flags);
            }
            if (matches_all(p, options.filters)) emit(p);
            return step;
        }
        if (lwp_list.empty()) {
            // A process with no LWP left (a zombie) still has a row.
            p.stat = stat_letters(proc_letter(p), flags);
            if (matches_all(p, options.filters)) emit(p);
            return step;
        }
        for (const auto& l : lwp_list) {
            ProcInfo row = p;
            row.lwp_row = true;
            row.rtime_usec = l.rtime_usec;
            with_lwp(row, l);
            if (matches_all(row, options.filters)) emit(row);
        }
        return step;
    }
};

void NetbsdWalker::walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const {
    Walk walk{*this, options, emit, warn};
    walk.maxslp = maxslp_default_;
    walk.visited.reserve(1024);
    if (const Symbol* s = kernel_.symbols().lookup("_maxslp")) {
        try {
            walk.maxslp = static_cast<std::int32_t>(kernel_.read_uint(s->value, 4));
        } catch (Error& e) {
            e.add_context("maxslp");
            warn(e);
        }
    }

    std::uint64_t budget = detail::max_list_entries;
    try {
        const std::uint64_t nprocs = kernel_.read_uint(kernel_.symbol_value("_nprocs"), 4);
        if (nprocs > detail::max_list_entries) {
            warn(Error(ErrorKind::corrupt, fmt::format("nprocs is {}, over the limit of {}; reading at most that many",
                                                       nprocs, detail::max_list_entries)));
        } else {
            budget = nprocs;
            walk.visited.reserve(nprocs + 64);
        }
    } catch (Error& e) {
        e.add_context("nprocs");
        warn(e);
    }

    for (const char* list : {"allproc", "zombproc"}) {
        std::uint64_t head = 0;
        try {
            head = kernel_.read_pointer(kernel_.symbol_value(fmt::format("_{}", list)));
        } catch (Error& e) {
            e.add_context(list);
            warn(e);
            continue;
        }
        const auto result =
            detail::walk_list(list, head, budget, walk.visited, warn,
                              [&](std::uint64_t address, std::uint64_t) { return walk.visit(address); });
        budget -= std::min(budget, result.counted);
    }
}

}  // namespace

const LayoutRequest& netbsd::process_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

const LayoutRequest& netbsd::shipped_layout_request() {
    static const LayoutRequest request = [] {
        LayoutRequest r = netbsd::process_layout_request();
        for (const LayoutRequest* more : {&klog::netbsd_msgbuf_layout_request()}) {
            r.structs.insert(r.structs.end(), more->structs.begin(), more->structs.end());
            r.flags.insert(r.flags.end(), more->flags.begin(), more->flags.end());
            r.values.insert(r.values.end(), more->values.begin(), more->values.end());
        }
        return r;
    }();
    return request;
}

StructLayouts netbsd::dump_layouts(const Kernel& kernel, const LayoutRequest& request,
                                   const std::optional<std::string>& layout_file,
                                   const std::vector<std::string>& dirs) {
    // The release picks the shipped layouts: osrelease as the dump holds it.
    std::string release;
    try {
        release = detail::major_release(kernel.read_string(kernel.symbol_value("_osrelease"), max_osrelease));
        if (release.empty()) throw_corrupt("osrelease does not start with a release number");
    } catch (Error& e) {
        if (!layout_file) {
            e.add_context("cannot tell the NetBSD release (give --layout)");
            throw;
        }
    }

    LayoutSearch search{.os = "netbsd",
                        .release = release,
                        .arch = std::string(kernel.arch().name),
                        .file = layout_file,
                        .namelist = &kernel.namelist(),
                        .dirs = dirs};
    StructLayouts layouts = resolve_layouts(search, request);
    if (layouts.pointer_size != kernel.pointer_size() || layouts.order != kernel.order())
        throw Error(ErrorKind::usage,
                    fmt::format("{}: has {}-byte {}-endian pointers, but the dump's are {}-byte {}-endian",
                                layouts.source, layouts.pointer_size, to_string(layouts.order), kernel.pointer_size(),
                                to_string(kernel.order())));
    return layouts;
}

namespace detail {

bool netbsd_accepts(const WalkTarget& target) {
    return target.kernel != nullptr && target.kernel->machine().os == "netbsd";
}

std::unique_ptr<ProcessWalker> netbsd_create(const WalkTarget& target) {
    const Kernel& kernel = *target.kernel;
    const Namelist& namelist = kernel.namelist();  // usage error without -N
    for (const char* name : {"_nprocs", "_allproc", "_zombproc"})
        if (namelist.symbols().lookup(name) == nullptr) {
            Error e(ErrorKind::not_found, fmt::format("{}: no such symbol", name));
            e.with_path(namelist.path());
            throw e;
        }

    StructLayouts layouts =
        netbsd::dump_layouts(kernel, netbsd::process_layout_request(), target.layout_file, target.layout_dirs);
    return std::make_unique<NetbsdWalker>(kernel, std::move(layouts));
}

}  // namespace detail

}  // namespace kvm
