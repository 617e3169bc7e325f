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
//     0 and showed every sleeper as I);
//   - arguments and environment are read from the process's own pages
//     (ps_strings, through its pmap's page directory) where the dump has
//     them: libkvm reads no user memory of a dump.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/msgbuf.h>
#include <kvm/procs.h>

#include "procs/bsd_session.h"
#include "procs/dead_kernel.h"
#include "procs/user_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace kvm {

namespace {

// Bounds for values read from a dump.
constexpr std::uint64_t max_lwps_per_proc = 65536;  // MAXMAXLWP is 65535
constexpr std::size_t max_wmesg = 64;
constexpr std::size_t max_lname = 64;
constexpr std::size_t max_emul_name = 32;
// FSCALE, 1 << FSHIFT: the fixed-point 1.0 of p_pctcpu and l_pctcpu, 2048 in
// every NetBSD (sys/param.h FSHIFT 11, as in 4.4BSD).
constexpr std::uint64_t fscale = 2048;

using detail::member;

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"proc",
         {
             member("p_list.le_next", "next process on allproc or zombproc (LIST_ENTRY p_list)"),
             member("p_cred", "credentials (struct kauth_cred *)"),
             member("p_vmspace", "address space (struct vmspace *): VSZ and RSS"),
             member("p_flag", "PK_* flags: PK_SYSTEM (STAT K), PK_MARKER (list markers, skipped)"),
             member("p_sflag", "PS_* flags: PS_WEXIT (STAT E)"),
             member("p_slflag", "PSL_* flags: PSL_TRACED (STAT X)"),
             member("p_lflag", "PL_* flags: PL_CONTROLT (has a controlling terminal), PL_PPWAIT (STAT V)"),
             member("p_stat", "process state, S* values"),
             member("p_pid", "process id"),
             member("p_lwps.lh_first", "first LWP of the process (LIST_HEAD p_lwps)"),
             member("p_nlwps", "number of LWPs"),
             member("p_nzlwps", "number of zombie LWPs, still on p_lwps"),
             member("p_rtime.sec", "run time, seconds (struct bintime p_rtime): TIME"),
             member("p_rtime.frac", "run time, fraction of a second in units of 2^-64"),
             member("p_ppid", "parent's process id"),
             member("p_nice", "nice value plus NZERO"),
             member("p_comm", "command name, MAXCOMLEN+1 characters"),
             member("p_pgrp", "process group (struct pgrp *)"),
             member("p_estcpu", "the scheduler's recent CPU use (fixpt_t): CPU", false),
             member("p_pctcpu", "share of the CPU, FSCALE is 100% (fixpt_t): %CPU", false),
             member("p_stats", "accounting (struct pstats *): START", false),
             member("p_emul", "system call emulation (struct emul *): EMUL", false),
             member("p_psstrp", "user address of the process's struct ps_strings: arguments", false),
         }},
        {"lwp",
         {
             member("l_stat", "LWP state, LS* values"),
             member("l_flag", "LW_* flags: LW_SINTR (interruptible sleep)"),
             member("l_rtime.sec", "LWP run time, seconds (struct bintime l_rtime)"),
             member("l_rtime.frac", "LWP run time, fraction of a second in units of 2^-64"),
             member("l_wchan", "wait channel: the address the LWP sleeps on"),
             member("l_wmesg", "wait message (const char *)"),
             member("l_slptime", "seconds since the LWP went to sleep"),
             member("l_lid", "LWP id"),
             member("l_sibling.le_next", "next LWP of the same process (LIST_ENTRY l_sibling)"),
             member("l_name", "LWP name (char *), NULL when unnamed", false),
             member("l_priority", "scheduling priority (pri_t): PRI", false),
             member("l_pctcpu", "the LWP's share of the CPU, FSCALE is 100% (fixpt_t): %CPU of -H rows", false),
         }},
        {"kauth_cred",
         {
             member("cr_uid", "real user id"),
             member("cr_euid", "effective user id"),
             member("cr_svuid", "saved user id"),
             member("cr_gid", "real group id"),
             member("cr_egid", "effective group id"),
             member("cr_svgid", "saved group id"),
             member("cr_ngroups", "number of supplementary groups"),
             member("cr_groups", "supplementary groups, NGROUPS of them"),
         }},
        {"pgrp",
         {
             member("pg_id", "process group id"),
             member("pg_session", "session (struct session *)"),
         }},
        {"session",
         {
             member("s_leader", "session leader (struct proc *): STAT s"),
             member("s_ttyvp", "controlling terminal's vnode; NULL once revoked (TTY suffix -)"),
             member("s_ttyp", "controlling terminal (struct tty *)"),
             member("s_login", "login name set by setlogin(2)", false),
             member("s_sid", "session id, the leader's pid"),
         }},
        {"tty",
         {
             member("t_dev", "device number (dev_t): TTY"),
             member("t_pgrp", "foreground process group (struct pgrp *): STAT +"),
             member("t_session", "session the terminal controls"),
         }},
        {"pstats",
         {
             member("p_start.tv_sec", "start time, seconds since the Epoch (struct timeval p_start)"),
             member("p_start.tv_usec", "start time, microseconds"),
         },
         false},
        {"emul",
         {
             member("e_name", "the emulation's name (const char *): \"netbsd\", \"linux\""),
         },
         false},
        {"vmspace",
         {
             member("vm_map.size", "mapped virtual size in bytes"),
             member("vm_rssize", "resident set size in pages, as the vmspace records it"),
             member("vm_ssize", "stack size in pages"),
             member("vm_issize", "initial unmapped stack size in pages"),
             member("vm_map.pmap", "the process's page tables (struct pmap *): arguments", false),
         }},
        {"pmap",
         {
             member("pm_pdirpa", "physical address of the top-level page table (x86 pm_pdirpa[0])"),
         },
         false},
        {"ps_strings",
         {
             member("ps_argvstr", "user address of the argument vector (char **)"),
             member("ps_nargvstr", "number of arguments"),
             member("ps_envstr", "user address of the environment vector (char **)"),
             member("ps_nenvstr", "number of environment strings"),
         },
         false},
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
    std::optional<std::int32_t> priority;
    std::optional<std::uint32_t> pctcpu_tenths;
};

// %CPU in tenths from a fixpt_t share, rounded as ps's %.1f rounds.
std::uint32_t fixpt_tenths(std::uint64_t pctcpu) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>((pctcpu * 1000 + fscale / 2) / fscale, 9999));
}

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
    SystemFacts system_facts() const override;

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
    const StructLayout& vmspace_;

    // Members, looked up once.
    const MemberLayout *p_next_, *p_cred_, *p_vmspace_, *p_flag_, *p_sflag_, *p_slflag_, *p_lflag_, *p_stat_, *p_pid_,
        *p_lwps_, *p_nlwps_, *p_nzlwps_, *p_rtime_sec_, *p_rtime_frac_, *p_ppid_, *p_nice_, *p_comm_, *p_pgrp_,
        *p_psstrp_;
    const MemberLayout *l_stat_, *l_flag_, *l_rtime_sec_, *l_rtime_frac_, *l_wchan_, *l_wmesg_, *l_slptime_, *l_lid_,
        *l_next_, *l_name_;
    const MemberLayout *cr_uid_, *cr_euid_, *cr_svuid_, *cr_gid_, *cr_egid_, *cr_svgid_, *cr_ngroups_, *cr_groups_;
    const MemberLayout *vm_size_, *vm_rssize_, *vm_ssize_, *vm_issize_, *vm_pmap_;
    // Arguments: all of these, or none (older layout files).
    const StructLayout* pmap_ = nullptr;
    const StructLayout* ps_strings_ = nullptr;
    const MemberLayout *pm_pdirpa_ = nullptr, *ps_argvstr_ = nullptr, *ps_nargvstr_ = nullptr, *ps_envstr_ = nullptr,
                       *ps_nenvstr_ = nullptr;
    const MemberLayout* t_dev_;
    const MemberLayout *p_estcpu_, *p_pctcpu_, *p_stats_, *p_emul_, *l_priority_, *l_pctcpu_;
    const StructLayout *pstats_, *emul_;  // nullptr when the layouts lack them
    const MemberLayout *ps_start_sec_ = nullptr, *ps_start_usec_ = nullptr, *e_name_ = nullptr;

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
    p_psstrp_ = mem(proc_, "p_psstrp");
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
    vm_size_ = mem(vmspace_, "vm_map.size");
    vm_rssize_ = mem(vmspace_, "vm_rssize");
    vm_ssize_ = mem(vmspace_, "vm_ssize");
    vm_issize_ = mem(vmspace_, "vm_issize");
    vm_pmap_ = mem(vmspace_, "vm_map.pmap");
    pmap_ = layouts_.find("pmap");
    ps_strings_ = layouts_.find("ps_strings");
    if (pmap_ != nullptr && ps_strings_ != nullptr && p_psstrp_ != nullptr && vm_pmap_ != nullptr) {
        pm_pdirpa_ = mem(*pmap_, "pm_pdirpa");
        ps_argvstr_ = mem(*ps_strings_, "ps_argvstr");
        ps_nargvstr_ = mem(*ps_strings_, "ps_nargvstr");
        ps_envstr_ = mem(*ps_strings_, "ps_envstr");
        ps_nenvstr_ = mem(*ps_strings_, "ps_nenvstr");
    }
    t_dev_ = mem(layouts_.get("tty"), "t_dev");
    p_estcpu_ = mem(proc_, "p_estcpu");
    p_pctcpu_ = mem(proc_, "p_pctcpu");
    p_stats_ = mem(proc_, "p_stats");
    p_emul_ = mem(proc_, "p_emul");
    l_priority_ = mem(lwp_, "l_priority");
    l_pctcpu_ = mem(lwp_, "l_pctcpu");
    pstats_ = layouts_.find("pstats");
    emul_ = layouts_.find("emul");
    if (pstats_ != nullptr) {
        ps_start_sec_ = mem(*pstats_, "p_start.tv_sec");
        ps_start_usec_ = mem(*pstats_, "p_start.tv_usec");
    }
    if (emul_ != nullptr) e_name_ = mem(*emul_, "e_name");
    if (ps_start_sec_ == nullptr || ps_start_usec_ == nullptr) p_stats_ = nullptr;
    if (e_name_ == nullptr) p_emul_ = nullptr;

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
    detail::WalkContext ctx;
    std::int64_t maxslp = 0;
    // Every process and every LWP met, across all lists: a repeat or an
    // overlap ends the list that meets it.
    detail::EntrySet procs{"struct proc", w.proc_.size};
    detail::EntrySet lwps_seen{"struct lwp", w.lwp_.size};
    detail::AddressCache<CredInfo> creds;
    std::unordered_map<std::uint64_t, std::string> emul_names;  // struct emul * -> e_name
    // Processes whose user pages the dump lacks: said once, at the end.
    detail::UserMemoryMisses user_memory_misses;
    // t_dev is the device number itself; its name comes from the release's device table.
    detail::BsdSessions sessions{w.layouts_, [this](detail::WalkContext&, const Object& tty) {
                                     const std::uint64_t dev = tty.u(w.t_dev_);
                                     return detail::TerminalDevice{dev, netbsd::device_name(w.layouts_, dev)};
                                 }};

    Walk(const NetbsdWalker& walker, const WalkOptions& o, const ProcEmit& e, const ProcWarn& warn)
        : w(walker), options(o), emit(e), ctx(walker.kernel_, warn) {}

    const CredInfo& cred(std::uint64_t address) {
        return creds.get(address, [&](std::uint64_t a) {
            const Object o = ctx.read(w.cred_, a);
            CredInfo c{static_cast<std::uint32_t>(o.u(w.cr_uid_)),
                       static_cast<std::uint32_t>(o.u(w.cr_euid_)),
                       static_cast<std::uint32_t>(o.u(w.cr_svuid_)),
                       static_cast<std::uint32_t>(o.u(w.cr_gid_)),
                       static_cast<std::uint32_t>(o.u(w.cr_egid_)),
                       static_cast<std::uint32_t>(o.u(w.cr_svgid_)),
                       {}};
            c.groups = detail::read_groups(o, *w.cr_ngroups_, *w.cr_groups_, w.kernel_.order());
            return c;
        });
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
        const auto list = [&] { return fmt::format("pid {} ({}): LWP list", p.pid, hex(p.paddr)); };
        detail::walk_list(
            list, proc.u(w.p_lwps_), limit, lwps_seen, ctx.warn(), [&](std::uint64_t address, std::uint64_t) {
                // An LWP list led into a process (its own, most likely) would
                // read that process as LWPs.
                if (const auto other = procs.overlapping(address, w.lwp_.size))
                    throw_corrupt(
                        fmt::format("an LWP there would overlap the struct proc at {}{}: the list is corrupt; "
                                    "stopped there",
                                    hex(*other), *other == p.paddr ? ", its own process" : ""));
                const Object o = ctx.read(w.lwp_, address);
                LwpInfo l;
                l.address = address;
                l.lid = static_cast<std::int32_t>(o.s(w.l_lid_));
                l.stat = o.s(w.l_stat_);
                l.flag = o.u(w.l_flag_);
                l.wchan = o.u(w.l_wchan_);
                l.slptime = o.u(w.l_slptime_);
                l.rtime_usec = bintime_usec(o.u(w.l_rtime_sec_), o.u(w.l_rtime_frac_));
                if (w.l_priority_ != nullptr) l.priority = static_cast<std::int32_t>(o.s(w.l_priority_));
                if (w.l_pctcpu_ != nullptr) l.pctcpu_tenths = fixpt_tenths(o.u(w.l_pctcpu_));
                const std::uint64_t wmesg = o.u(w.l_wmesg_);
                const std::uint64_t name = o.u(w.l_name_);
                const std::uint64_t next = o.u(w.l_next_);
                out.push_back(std::move(l));
                LwpInfo& added = out.back();
                // Strings live elsewhere: an unreadable one is a
                // warning about this LWP, and the list goes on.
                try {
                    if (wmesg != 0) added.wmesg = ctx.string(wmesg, max_wmesg);
                } catch (Error& e) {
                    e.add_context(fmt::format("LWP {} wait message at {}", added.lid, hex(wmesg)));
                    ctx.problem(p, "LWP list", address, e);
                }
                try {
                    if (name != 0) added.name = ctx.string(name, max_lname);
                } catch (Error& e) {
                    e.add_context(fmt::format("LWP {} name at {}", added.lid, hex(name)));
                    ctx.problem(p, "LWP list", address, e);
                }
                return detail::ListStep{next, true};
            });
        return out;
    }

    void fill_vm(ProcInfo& p, std::uint64_t address) {
        if (address == 0 || p.zombie || p.system) {
            // Nothing of its own is mapped.
            p.vsz_kib = 0;
            p.rss_kib = 0;
            return;
        }
        try {
            const Object o = ctx.read(w.vmspace_, address);
            const std::uint64_t page = w.kernel_.arch().page_size;
            // The mapped size ps shows: the map's pages, less the stack not
            // yet mapped, plus the stack in use (kinfo_proc2's p_vm_msize).
            const std::int64_t pages =
                static_cast<std::int64_t>(o.u(w.vm_size_) / page) - o.s(w.vm_issize_) + o.s(w.vm_ssize_);
            p.vsz_kib = static_cast<std::uint64_t>(std::max<std::int64_t>(pages, 0)) * page / 1024;
            p.rss_kib = static_cast<std::uint64_t>(std::max<std::int64_t>(o.s(w.vm_rssize_), 0)) * page / 1024;
        } catch (Error& e) {
            ctx.problem(p, "address space", address, e);
        }
    }

    // START, CPU, %CPU and EMUL, where the layouts have them: the
    // sysctl fills kinfo_proc2 from the same members (no start for a zombie).
    void fill_scheduling(ProcInfo& p, const Object& proc) {
        if (w.p_estcpu_ != nullptr) p.cpu = proc.u(w.p_estcpu_);
        if (w.p_pctcpu_ != nullptr) p.pctcpu_tenths = fixpt_tenths(proc.u(w.p_pctcpu_));
        if (const std::uint64_t stats = w.p_stats_ != nullptr ? proc.u(w.p_stats_) : 0; stats != 0 && !p.zombie) {
            try {
                const Object o = ctx.read(*w.pstats_, stats);
                p.start_usec = o.s(w.ps_start_sec_) * 1000000 + o.s(w.ps_start_usec_);
            } catch (Error& e) {
                ctx.problem(p, "accounting (p_stats)", stats, e);
            }
        }
        if (const std::uint64_t emul = w.p_emul_ != nullptr ? proc.u(w.p_emul_) : 0; emul != 0) {
            if (const auto it = emul_names.find(emul); it != emul_names.end()) {
                p.emul = it->second;
                return;
            }
            try {
                const Object o = ctx.read(*w.emul_, emul);
                p.emul = emul_names.emplace(emul, ctx.string(o.u(w.e_name_), max_emul_name)).first->second;
            } catch (Error& e) {
                ctx.problem(p, "emulation (p_emul)", emul, e);
            }
        }
    }

    // The process's arguments and environment, as kvm_getargv reads them on
    // a live system: ps_strings at p_psstrp, then the vectors it points to,
    // all through the page directory of the process's pmap.  Only for rows
    // that pass the filters: user pages are many reads.
    void fill_user_memory(ProcInfo& p, std::uint64_t vmspace, std::uint64_t psstrp) {
        const bool args = options.arguments, env = options.environment;
        if (w.ps_argvstr_ == nullptr || (!args && !env)) return;
        if (p.system || p.zombie || vmspace == 0 || psstrp == 0) {
            // Kernel processes and zombies have no user memory, and a
            // process exec has not finished no ps_strings: nothing to read.
            p.argv_read = args;
            p.envv_read = env;
            return;
        }
        try {
            const std::uint64_t pmap = ctx.read(w.vmspace_, vmspace).u(w.vm_pmap_);
            if (pmap == 0) throw_corrupt(fmt::format("vmspace at {} has no pmap", hex(vmspace)));
            // pm_pdirpa[0]: amd64 and i386 have one top-level table.
            MemberLayout first = *w.pm_pdirpa_;
            if (first.count > 0) {
                first.size /= first.count;
                first.count = 0;
            }
            const std::uint64_t root = ctx.read(*w.pmap_, pmap).u(&first);
            if (w.kernel_.machine().translator == "i386-pae")
                throw_unsupported(
                    fmt::format("pmap at {}: an i386 PAE pmap's four page directories are not one "
                                "table to walk",
                                hex(pmap)));
            const detail::UserMemory user(w.kernel_, root);
            Bytes ps(w.ps_strings_->size);
            user.read(psstrp, ps, "ps_strings");
            const auto vector = [&](const MemberLayout* at, const MemberLayout* count, std::string_view what) {
                const std::int64_t n = load_member_signed(ps, *count, w.kernel_.order());
                if (n < 0) throw_corrupt(fmt::format("ps_strings at {}: {} count is {}", hex(psstrp), what, n));
                return user.strings_at(load_member_unsigned(ps, *at, w.kernel_.order()), static_cast<std::uint64_t>(n),
                                       what);
            };
            if (args) {
                p.argv = vector(w.ps_argvstr_, w.ps_nargvstr_, "arguments");
                p.argv_read = true;
            }
            if (env) {
                p.envv = vector(w.ps_envstr_, w.ps_nenvstr_, "environment");
                p.envv_read = true;
            }
        } catch (const Error& e) {
            user_memory_misses.record(p, e);
        }
    }

    detail::ListStep visit(std::uint64_t address) {
        const Object proc = ctx.read(w.proc_, address);
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
                ctx.problem(p, "credentials", c, e);
            }
        }
        sessions.fill(ctx, p, proc.u(w.p_pgrp_), (lflag & w.pl_controlt_) != 0);
        fill_vm(p, proc.u(w.p_vmspace_));
        fill_scheduling(p, proc);

        const std::vector<LwpInfo> lwp_list = lwps(p, proc);
        StatFlags flags{.nice = p.nice,
                        .traced = (slflag & w.psl_traced_) != 0,
                        .exiting = (sflag & w.ps_wexit_) != 0,
                        .vfork_wait = (lflag & w.pl_ppwait_) != 0,
                        .system = p.system,
                        .session_leader = p.session_leader,
                        .multithreaded = p.nlwps > 1,
                        .foreground = (lflag & w.pl_controlt_) != 0 && p.tdev != no_dev && p.pgid == p.tpgid};

        const LwpInfo* best = nullptr;
        for (const auto& l : lwp_list)
            if (best == nullptr || activity(l) < activity(*best)) best = &l;
        // The LWPs share the process's address space: read once, for the first row emitted.
        bool user_memory_read = false;
        const ProcEmit emit_with_arguments = [&](const ProcInfo& row) {
            if (!user_memory_read) {
                fill_user_memory(p, proc.u(w.p_vmspace_), proc.u(w.p_psstrp_));
                user_memory_read = true;
            }
            ProcInfo out = row;
            out.argv = p.argv;
            out.envv = p.envv;
            out.argv_read = p.argv_read;
            out.envv_read = p.envv_read;
            out.user_memory_error = p.user_memory_error;
            emit(out);
        };
        detail::emit_process(p, lwp_list, best, options, emit_with_arguments, [&](ProcInfo& row, const LwpInfo* l) {
            if (l == nullptr) {
                // A process with no LWP left (a zombie) still has a row.
                row.stat = stat_letters(proc_letter(row), flags);
                return;
            }
            if (row.lwp_row) {
                row.rtime_usec = l->rtime_usec;
                row.pctcpu_tenths = l->pctcpu_tenths;
            }
            row.priority = l->priority;
            row.lid = l->lid;
            row.lwp_state = l->stat;
            row.laddr = l->address;
            row.wchan = l->wchan;
            row.wchan_symbol = l->wchan != 0 ? ctx.wchan_name(l->wchan) : std::string();
            row.wmesg = l->wmesg;
            row.lname = l->name;
            row.raw.emplace_back("l_flag", l->flag);
            row.stat = stat_letters(lwp_letter(row, *l), flags);
        });
        return step;
    }
};

SystemFacts NetbsdWalker::system_facts() const {
    // time_second became time__second (a macro names it) in NetBSD 9; time_t
    // is 64 bits on every port since NetBSD 6, physmem an int.
    return detail::bsd_system_facts(kernel_, {"_time__second", "_time_second"}, 8, 4);
}

void NetbsdWalker::walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const {
    Walk walk(*this, options, emit, warn);
    walk.maxslp = maxslp_default_;
    if (const Symbol* s = kernel_.symbols().lookup("_maxslp")) {
        try {
            walk.maxslp = static_cast<std::int32_t>(kernel_.read_uint(s->value, 4));
        } catch (Error& e) {
            e.add_context("maxslp");
            warn(e);
        }
    }

    // No more processes than the dump's memory holds.
    std::uint64_t budget = detail::process_budget(kernel_, "_nprocs", proc_.size, warn);

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
            detail::walk_list(list, head, budget, walk.procs, warn,
                              [&](std::uint64_t address, std::uint64_t) { return walk.visit(address); });
        budget -= std::min(budget, result.counted);
        // A marker is put after a process while the list is walked: a list
        // of nothing else would otherwise show as an empty one.
        if (result.complete && result.entries > 0 && result.counted == 0)
            warn(Error(ErrorKind::corrupt,
                       fmt::format("{}: all {} entries are markers (PK_MARKER), no process: the list is corrupt", list,
                                   result.entries)));
    }
    walk.user_memory_misses.note(options, "a sparse dump");
}

}  // namespace

const LayoutRequest& netbsd::process_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

const LayoutRequest& netbsd::shipped_layout_request() {
    return *kvm::shipped_layout_request("netbsd");
}

StructLayouts netbsd::dump_layouts(const Kernel& kernel, const LayoutRequest& request,
                                   const std::optional<std::string>& layout_file,
                                   const std::vector<std::string>& dirs) {
    return detail::bsd_dump_layouts(kernel, "NetBSD", request, {.os = "netbsd", .file = layout_file, .dirs = dirs});
}

namespace detail {

bool netbsd_accepts(const WalkTarget& target) {
    return target.kernel != nullptr && target.kernel->machine().os == "netbsd";
}

std::unique_ptr<ProcessWalker> netbsd_create(const WalkTarget& target) {
    const Kernel& kernel = *target.kernel;
    const Namelist& namelist = kernel.namelist();  // usage error without -N
    detail::require_symbols(namelist, {"_nprocs", "_allproc", "_zombproc"});

    StructLayouts layouts =
        netbsd::dump_layouts(kernel, netbsd::process_layout_request(), target.layout_file, target.layout_dirs);
    return std::make_unique<NetbsdWalker>(kernel, std::move(layouts));
}

}  // namespace detail

}  // namespace kvm
