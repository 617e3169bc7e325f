// Processes of a dead FreeBSD kernel (freebsd-dragonfly-dump-format.md
// section 5): libkvm's walk of allproc, then zombproc where the kernel has
// one; from 13.0 on a zombie is only in the pid hash (pidhashtbl, buckets
// 0 to pidhash inclusive: a mask), so the hash is walked too and what it
// adds is merged, each process once.  Threads come from p_threads through
// td_plist; each must point back at its process (td_proc).
//
// Rows are the live kernel's kinfo_proc (kern_proc.c), not libkvm's dead
// path, which gives no terminal (NODEV) and no sleep time: the terminal is
// t_dev's cdev_priv (its devfs inode is the dev_t, its si_name the name),
// the sleep time (ticks - td_slptick) / hz.  PPID is p_oppid when set,
// else the parent's pid, else 0; UID is cr_uid, GID cr_groups[0].  The
// state comes from the process's first thread (each thread's with -H):
// running, runnable or on a run queue R, stopped T, asleep S, I or D, on a
// lock L, else W; zombies Z.  STAT's flags are FreeBSD 14 ps's: W < N X E
// V L C s + J.  TIME is cputick2usec() of p_rux.rux_runtime plus what
// each thread ran since the kernel last aggregated it (td_incruntime), as
// rufetch() adds it (a thread row: its own td_rux.rux_runtime plus its
// td_incruntime), at cpu_tick_frequency; START is p_stats->p_start, an
// uptime, plus the boot time (time_second - time_uptime); PRI is
// td_priority less PZERO; EMUL the ABI's sv_name.  VSZ is the map's
// size (vm_map.size), RSS the pages the pmap holds resident plus the
// kernel stack of each thread not swapped out (td_kstack_pages), as
// kern_proc.c counts them; a layout without struct vmspace leaves both "-".
//
// Without type information (no CTF, no DWARF, no layout file) the
// offsets the kernel exports for debuggers (proc_off_*, thread_off_*)
// still give the pid, command, thread ids and thread names.
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "procs/bsd_session.h"
#include "procs/dead_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace kvm {

namespace {

using detail::member;
using Object = detail::KernelObject;

constexpr std::uint64_t max_threads_per_proc = 1u << 20;  // kern.threads.max_threads_per_proc is 1500 by default
constexpr std::uint64_t max_pidhash = 1u << 24;           // the hash has pidhash + 1 buckets
constexpr std::uint64_t max_groups = 65536;               // NGROUPS_MAX is 1023 (+1)
constexpr std::size_t max_wmesg = 64;
constexpr std::size_t max_name = 256;  // MAXCOMLEN + 1 is 20; td_name likewise
constexpr std::size_t comm_size = 20;  // what proc_off_p_comm and thread_off_td_name point at
constexpr std::size_t max_emul = 32;   // KI_EMULNAMELEN is 16
constexpr std::int64_t max_resident_pages = std::int64_t{1} << 40;  // 4 PiB of 4 KiB pages
constexpr std::int64_t max_kstack_pages = 1024;                     // KSTACK_MAX_PAGES is 32

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"proc",
         {
             member("p_list.le_next", "next process on allproc or zombproc (LIST_ENTRY p_list)"),
             member("p_threads.tqh_first", "first thread of the process (TAILQ_HEAD p_threads)"),
             member("p_ucred", "credentials (struct ucred *)"),
             member("p_flag", "P_* flags"),
             member("p_state", "PRS_* state"),
             member("p_pid", "process id"),
             member("p_hash.le_next", "next process in its pid hash bucket (LIST_ENTRY p_hash)", false),
             member("p_pptr", "parent process (struct proc *): PPID"),
             member("p_oppid", "the real parent's pid while traced: PPID when set"),
             member("p_comm", "command name, MAXCOMLEN+1 characters"),
             member("p_nice", "nice value"),
             member("p_lock", "hold count: STAT L when positive"),
             member("p_pgrp", "process group (struct pgrp *)"),
             member("p_numthreads", "number of threads: NLWP, and the bound of p_threads"),
             member("p_stats", "accounting (struct pstats *): START", false),
             member("p_rux.rux_runtime", "cpu ticks run by the threads, as last aggregated: TIME", false),
             member("p_sysent", "the ABI (struct sysentvec *): EMUL", false),
             member("p_vmspace", "the address space (struct vmspace *): VSZ, RSS", false),
         }},
        {"thread",
         {
             member("td_plist.tqe_next", "next thread of the process (TAILQ_ENTRY td_plist)"),
             member("td_proc", "the process (struct proc *): must be the one the thread was found in"),
             member("td_tid", "thread id: LID"),
             member("td_flags", "TDF_* flags: TDF_SINTR"),
             member("td_inhibitors", "TDI_* reasons it cannot run: asleep, on a lock"),
             member("td_wchan", "wait channel: the address the thread sleeps on"),
             member("td_wmesg", "wait message (const char *)"),
             member("td_slptick", "ticks when the thread went to sleep: STAT I"),
             member("td_name", "thread name"),
             member("td_pri_class", "scheduling class: STAT < for PRI_REALTIME, N for PRI_IDLE"),
             member("td_state", "TDS_* state"),
             member("td_priority", "active priority: PRI, less PZERO", false),
             member("td_rux.rux_runtime", "cpu ticks the thread ran, as last aggregated: TIME of a thread row", false),
             member("td_incruntime", "cpu ticks run since the last aggregation: TIME", false),
             member("td_kstack_pages", "pages of the thread's kernel stack, counted in RSS unless swapped out", false),
         }},
        {"ucred",
         {
             member("cr_flags", "CRED_FLAG_* flags: STAT C in capability mode"),
             member("cr_uid", "effective user id"),
             member("cr_ruid", "real user id"),
             member("cr_svuid", "saved user id"),
             member("cr_ngroups", "number of groups at cr_groups"),
             member("cr_rgid", "real group id"),
             member("cr_svgid", "saved group id"),
             member("cr_groups", "the groups (gid_t *), the first the effective group id"),
             member("cr_prison", "the jail (struct prison *): STAT J when its pr_id is not 0"),
         }},
        {"prison",
         {
             member("pr_id", "the jail's id: 0 for prison0, the host"),
         }},
        {"pstats",
         {
             member("p_start.tv_sec", "start, seconds of uptime: START"),
             member("p_start.tv_usec", "start, microseconds"),
         },
         false},
        {"sysentvec",
         {
             member("sv_name", "the ABI's name (char *): EMUL"),
         },
         false},
        {"vmspace",
         {
             member("vm_map.size", "bytes the map spans: VSZ"),
             member("vm_pmap.pm_stats.resident_count", "pages mapped by the machine-dependent pmap: RSS"),
         },
         false},
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
             member("s_sid", "session id"),
             member("s_login", "login name set by setlogin(2)", false),
         }},
        {"tty",
         {
             member("t_dev", "the terminal's device (struct cdev *, the first member of its cdev_priv)"),
             member("t_pgrp", "foreground process group (struct pgrp *): STAT +"),
         }},
        {"cdev_priv",
         {
             member("cdp_c.si_name", "the device's name in /dev: TTY"),
             member("cdp_inode", "its devfs inode: the terminal's dev_t"),
         }},
    };
    r.flags = {"P_CONTROLT",   "P_SYSTEM",      "P_TRACED",        "P_WEXIT",          "P_PPWAIT",
               "P_INMEM",      "P_STOPPED_SIG", "P_STOPPED_TRACE", "P_STOPPED_SINGLE", "TDF_SINTR",
               "TDI_SLEEPING", "TDI_LOCK",      "TDI_SWAPPED",     "CRED_FLAG_CAPMODE"};
    r.values = {"PRS_NEW", "PRS_NORMAL", "PRS_ZOMBIE",   "TDS_CAN_RUN", "TDS_RUNQ", "TDS_RUNNING",
                "MAXSLP",  "NZERO",      "PRI_REALTIME", "PRI_IDLE",    "PZERO"};
    return r;
}

NamedValue known(std::string name, std::uint64_t value, std::string field, std::string meaning) {
    return NamedValue{std::move(name), value, std::move(field), std::move(meaning)};
}

// For a kernel whose CTF gives the structures but whose release has no
// shipped file: FreeBSD 14's constants (tools/layouts/freebsd-14-
// constants.json says where each comes from).  The enumerators (PRS_*,
// TDS_*) come from the CTF first.
const std::vector<NamedValue>& known_flags() {
    static const std::vector<NamedValue> flags = {
        known("P_CONTROLT", 0x2, "proc.p_flag", "has a controlling terminal"),
        known("P_PPWAIT", 0x10, "proc.p_flag", "parent waits for this child's exec or exit: STAT V"),
        known("P_SYSTEM", 0x200, "proc.p_flag", "system process: STAT L"),
        known("P_TRACED", 0x800, "proc.p_flag", "traced: STAT X"),
        known("P_WEXIT", 0x2000, "proc.p_flag", "working on exiting: STAT E"),
        known("P_STOPPED_SIG", 0x20000, "proc.p_flag", "stopped by a signal: STAT T"),
        known("P_STOPPED_TRACE", 0x40000, "proc.p_flag", "stopped by a debugger: STAT T"),
        known("P_STOPPED_SINGLE", 0x80000, "proc.p_flag", "stopped while one thread runs alone: STAT T"),
        known("P_INMEM", 0x10000000, "proc.p_flag", "loaded into memory: STAT W without it"),
        known("TDF_SINTR", 0x8, "thread.td_flags", "interruptible sleep: S or I, else D"),
        known("TDI_SLEEPING", 0x2, "thread.td_inhibitors", "asleep: S, I or D"),
        known("TDI_LOCK", 0x8, "thread.td_inhibitors", "blocked on a lock: L"),
        known("TDI_SWAPPED", 0x4, "thread.td_inhibitors", "kernel stack swapped out: not in RSS"),
        known("CRED_FLAG_CAPMODE", 0x1, "ucred.cr_flags", "capability mode: STAT C"),
    };
    return flags;
}

const std::vector<NamedValue>& known_values() {
    static const std::vector<NamedValue> values = {
        known("PRS_NEW", 0, "proc.p_state", "being created: R"),
        known("PRS_NORMAL", 1, "proc.p_state", "threads can run"),
        known("PRS_ZOMBIE", 2, "proc.p_state", "zombie: Z"),
        known("TDS_CAN_RUN", 2, "thread.td_state", "can run: R"),
        known("TDS_RUNQ", 3, "thread.td_state", "on a run queue: R"),
        known("TDS_RUNNING", 4, "thread.td_state", "running: R"),
        known("MAXSLP", 20, "thread.td_slptick", "seconds after which a sleeper shows I"),
        known("NZERO", 0, "proc.p_nice", "p_nice at nice 0"),
        known("PRI_REALTIME", 2, "thread.td_pri_class", "real-time class: <"),
        known("PRI_IDLE", 4, "thread.td_pri_class", "idle class: N"),
        known("PZERO", 68, "thread.td_priority", "the priority ps shows as 0: PRI is td_priority - PZERO"),
    };
    return values;
}

// What the offsets FreeBSD exports for debuggers describe (kern_proc.c):
// enough for pids, commands, thread ids and names.
struct DebuggerOffsets {
    std::uint64_t p_pid = 0, p_comm = 0, p_list = 0, p_threads = 0;
    std::optional<std::uint64_t> p_hash;
    std::uint64_t td_tid = 0, td_name = 0, td_plist = 0;
};

struct CredInfo {
    std::uint32_t uid = 0, ruid = 0, svuid = 0, rgid = 0, svgid = 0;
    std::uint64_t flags = 0;
    std::vector<std::uint32_t> groups;
    std::int32_t jid = 0;  // the prison's pr_id
};

struct ThreadInfo {
    std::uint64_t address = 0;
    std::int32_t tid = 0;
    std::uint64_t flags = 0, inhibitors = 0;
    std::int64_t state = 0;
    std::int64_t slptick = 0;
    std::int64_t pri_class = 0;
    std::uint64_t wchan = 0;
    std::string wmesg;
    std::string name;
    std::int64_t priority = 0;
    std::uint64_t rux_runtime = 0, incruntime = 0;  // cpu ticks
    std::int64_t kstack_pages = 0;
};

// Tick counts from a dump, summed without wrapping.
std::uint64_t add_ticks(std::uint64_t a, std::uint64_t b) {
    return a + b < a ? UINT64_MAX : a + b;
}

// cputick2usec(): cpu ticks at `rate` (at most max_tick_rate) per second
// in microseconds, saturating where a dump's tick count overflows them.
constexpr std::uint64_t max_tick_rate = 1'000'000'000'000;  // 1 THz; real ones are a few GHz
std::uint64_t cputicks_usec(std::uint64_t ticks, std::uint64_t rate) {
    const std::uint64_t secs = ticks / rate;
    if (secs > UINT64_MAX / 1000000 - 1) return UINT64_MAX;
    return secs * 1000000 + ticks % rate * 1000000 / rate;
}

class FreebsdWalker final : public ProcessWalker {
public:
    FreebsdWalker(const Kernel& kernel, StructLayouts layouts, bool full);

    std::string_view name() const override { return "freebsd"; }
    void walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const override;
    std::optional<std::uint64_t> tty_device(std::string_view name) const override {
        return detail::terminal_by_name(*this, name);
    }
    const StructLayouts* layouts() const override { return &layouts_; }
    // time_t and physmem (a long) are as wide as a pointer on the ports
    // kvmkit reads (i386's time_t is 32 bits, amd64's and arm64's 64).
    SystemFacts system_facts() const override {
        return detail::bsd_system_facts(kernel_, {"_time_second"}, kernel_.pointer_size(), kernel_.pointer_size());
    }

private:
    struct Walk;

    const MemberLayout* mem(const StructLayout& s, std::string_view name) const { return s.find(name); }
    std::uint64_t flag(std::string_view name) const { return layouts_.require_flag(name); }
    std::int64_t value(std::string_view name) const { return static_cast<std::int64_t>(layouts_.require_value(name)); }

    const Kernel& kernel_;
    StructLayouts layouts_;
    bool full_;  // the whole request (else the debugger offsets alone)
    const StructLayout &proc_, &thread_;
    const StructLayout *cred_ = nullptr, *prison_ = nullptr, *cdev_priv_ = nullptr;

    const MemberLayout *p_next_, *p_threads_, *p_hash_, *p_pid_, *p_comm_;
    const MemberLayout *p_ucred_ = nullptr, *p_flag_ = nullptr, *p_state_ = nullptr, *p_pptr_ = nullptr,
                       *p_oppid_ = nullptr, *p_nice_ = nullptr, *p_lock_ = nullptr, *p_pgrp_ = nullptr,
                       *p_numthreads_ = nullptr, *p_stats_ = nullptr, *p_runtime_ = nullptr, *p_sysent_ = nullptr;
    const MemberLayout *td_next_, *td_tid_, *td_name_;
    const MemberLayout *td_priority_ = nullptr, *td_runtime_ = nullptr, *td_incruntime_ = nullptr,
                       *td_kstack_pages_ = nullptr, *p_vmspace_ = nullptr;
    const StructLayout *pstats_ = nullptr, *sysentvec_ = nullptr, *vmspace_ = nullptr;  // nullptr when lacking
    const MemberLayout *vm_size_ = nullptr, *vm_resident_ = nullptr;
    const MemberLayout *ps_start_sec_ = nullptr, *ps_start_usec_ = nullptr, *sv_name_ = nullptr;
    const MemberLayout *td_proc_ = nullptr, *td_flags_ = nullptr, *td_inhibitors_ = nullptr, *td_wchan_ = nullptr,
                       *td_wmesg_ = nullptr, *td_slptick_ = nullptr, *td_pri_class_ = nullptr, *td_state_ = nullptr;
    const MemberLayout *cr_flags_ = nullptr, *cr_uid_ = nullptr, *cr_ruid_ = nullptr, *cr_svuid_ = nullptr,
                       *cr_ngroups_ = nullptr, *cr_rgid_ = nullptr, *cr_svgid_ = nullptr, *cr_groups_ = nullptr,
                       *cr_prison_ = nullptr, *pr_id_ = nullptr;
    const MemberLayout *t_dev_ = nullptr, *cdp_name_ = nullptr, *cdp_inode_ = nullptr;

    std::uint64_t p_controlt_ = 0, p_system_ = 0, p_traced_ = 0, p_wexit_ = 0, p_ppwait_ = 0, p_inmem_ = 0,
                  p_stopped_ = 0, tdf_sintr_ = 0, tdi_sleeping_ = 0, tdi_lock_ = 0, tdi_swapped_ = 0, capmode_ = 0;
    std::int64_t prs_new_ = 0, prs_normal_ = 0, prs_zombie_ = 0, tds_can_run_ = 0, tds_runq_ = 0, tds_running_ = 0;
    std::int64_t maxslp_ = 0, nzero_ = 0, pri_realtime_ = 0, pri_idle_ = 0, pzero_ = 0;
};

FreebsdWalker::FreebsdWalker(const Kernel& kernel, StructLayouts layouts, bool full)
    : kernel_(kernel),
      layouts_(std::move(layouts)),
      full_(full),
      proc_(layouts_.get("proc")),
      thread_(layouts_.get("thread")) {
    p_next_ = &proc_.member("p_list.le_next");
    p_threads_ = &proc_.member("p_threads.tqh_first");
    p_hash_ = mem(proc_, "p_hash.le_next");
    p_pid_ = &proc_.member("p_pid");
    p_comm_ = &proc_.member("p_comm");
    td_next_ = &thread_.member("td_plist.tqe_next");
    td_tid_ = &thread_.member("td_tid");
    td_name_ = &thread_.member("td_name");
    if (!full_) return;

    cred_ = &layouts_.get("ucred");
    cdev_priv_ = &layouts_.get("cdev_priv");
    p_ucred_ = mem(proc_, "p_ucred");
    p_flag_ = mem(proc_, "p_flag");
    p_state_ = mem(proc_, "p_state");
    p_pptr_ = mem(proc_, "p_pptr");
    p_oppid_ = mem(proc_, "p_oppid");
    p_nice_ = mem(proc_, "p_nice");
    p_lock_ = mem(proc_, "p_lock");
    p_pgrp_ = mem(proc_, "p_pgrp");
    p_numthreads_ = mem(proc_, "p_numthreads");
    p_stats_ = mem(proc_, "p_stats");
    p_runtime_ = mem(proc_, "p_rux.rux_runtime");
    p_sysent_ = mem(proc_, "p_sysent");
    td_priority_ = mem(thread_, "td_priority");
    td_runtime_ = mem(thread_, "td_rux.rux_runtime");
    td_incruntime_ = mem(thread_, "td_incruntime");
    pstats_ = layouts_.find("pstats");
    if (pstats_ != nullptr) {
        ps_start_sec_ = mem(*pstats_, "p_start.tv_sec");
        ps_start_usec_ = mem(*pstats_, "p_start.tv_usec");
    }
    if (ps_start_sec_ == nullptr || ps_start_usec_ == nullptr) p_stats_ = nullptr;
    sysentvec_ = layouts_.find("sysentvec");
    if (sysentvec_ != nullptr) sv_name_ = mem(*sysentvec_, "sv_name");
    if (sv_name_ == nullptr) p_sysent_ = nullptr;
    td_kstack_pages_ = mem(thread_, "td_kstack_pages");
    p_vmspace_ = mem(proc_, "p_vmspace");
    vmspace_ = layouts_.find("vmspace");
    if (vmspace_ != nullptr) {
        vm_size_ = mem(*vmspace_, "vm_map.size");
        vm_resident_ = mem(*vmspace_, "vm_pmap.pm_stats.resident_count");
    }
    if (vm_size_ == nullptr || vm_resident_ == nullptr || td_kstack_pages_ == nullptr) p_vmspace_ = nullptr;
    td_proc_ = mem(thread_, "td_proc");
    td_flags_ = mem(thread_, "td_flags");
    td_inhibitors_ = mem(thread_, "td_inhibitors");
    td_wchan_ = mem(thread_, "td_wchan");
    td_wmesg_ = mem(thread_, "td_wmesg");
    td_slptick_ = mem(thread_, "td_slptick");
    td_pri_class_ = mem(thread_, "td_pri_class");
    td_state_ = mem(thread_, "td_state");
    cr_flags_ = mem(*cred_, "cr_flags");
    cr_uid_ = mem(*cred_, "cr_uid");
    cr_ruid_ = mem(*cred_, "cr_ruid");
    cr_svuid_ = mem(*cred_, "cr_svuid");
    cr_ngroups_ = mem(*cred_, "cr_ngroups");
    cr_rgid_ = mem(*cred_, "cr_rgid");
    cr_svgid_ = mem(*cred_, "cr_svgid");
    cr_groups_ = mem(*cred_, "cr_groups");
    cr_prison_ = mem(*cred_, "cr_prison");
    prison_ = &layouts_.get("prison");
    pr_id_ = mem(*prison_, "pr_id");
    t_dev_ = mem(layouts_.get("tty"), "t_dev");
    cdp_name_ = mem(*cdev_priv_, "cdp_c.si_name");
    cdp_inode_ = mem(*cdev_priv_, "cdp_inode");

    p_controlt_ = flag("P_CONTROLT");
    p_system_ = flag("P_SYSTEM");
    p_traced_ = flag("P_TRACED");
    p_wexit_ = flag("P_WEXIT");
    p_ppwait_ = flag("P_PPWAIT");
    p_inmem_ = flag("P_INMEM");
    p_stopped_ = flag("P_STOPPED_SIG") | flag("P_STOPPED_TRACE") | flag("P_STOPPED_SINGLE");
    tdf_sintr_ = flag("TDF_SINTR");
    tdi_sleeping_ = flag("TDI_SLEEPING");
    tdi_lock_ = flag("TDI_LOCK");
    if (p_vmspace_ != nullptr) tdi_swapped_ = flag("TDI_SWAPPED");
    capmode_ = flag("CRED_FLAG_CAPMODE");
    prs_new_ = value("PRS_NEW");
    prs_normal_ = value("PRS_NORMAL");
    prs_zombie_ = value("PRS_ZOMBIE");
    tds_can_run_ = value("TDS_CAN_RUN");
    tds_runq_ = value("TDS_RUNQ");
    tds_running_ = value("TDS_RUNNING");
    maxslp_ = value("MAXSLP");
    nzero_ = value("NZERO");
    pri_realtime_ = value("PRI_REALTIME");
    pri_idle_ = value("PRI_IDLE");
    pzero_ = value("PZERO");
}

struct FreebsdWalker::Walk {
    const FreebsdWalker& w;
    const WalkOptions& options;
    const ProcEmit& emit;
    detail::WalkContext ctx;
    std::int64_t ticks = 0, hz = 0;          // for sleep times; hz 0: unknown
    std::uint64_t tick_rate = 0;             // cpu_tick_frequency, for TIME; 0: unknown
    std::optional<std::int64_t> boot_usec;   // the boot time, for START: microseconds since the Epoch
    std::unordered_set<std::uint64_t> seen;  // processes already listed
    std::uint64_t budget = 0;                // processes nprocs allows the hash still to add
    bool over_budget = false;
    detail::AddressCache<CredInfo> creds;
    detail::AddressCache<std::int32_t> pids;
    detail::AddressCache<std::string> emuls;  // struct sysentvec * -> sv_name
    std::optional<detail::BsdSessions> sessions;

    Walk(const FreebsdWalker& walker, const WalkOptions& o, const ProcEmit& e, const ProcWarn& warn)
        : w(walker), options(o), emit(e), ctx(walker.kernel_, warn) {
        if (w.full_)
            sessions.emplace(w.layouts_,
                             [this](detail::WalkContext& c, const Object& tty) { return device(c, tty.u(w.t_dev_)); });
    }

    // tty_udev(): the devfs inode of the terminal's cdev_priv, whose first
    // member is the cdev t_dev points at.
    detail::TerminalDevice device(detail::WalkContext& c, std::uint64_t cdev) const {
        detail::TerminalDevice d;
        if (cdev == 0) return d;
        const Object o = c.read(*w.cdev_priv_, cdev);
        d.dev = o.u(w.cdp_inode_);
        d.name = o.str(w.cdp_name_);
        if (d.name.size() > max_name) d.name.resize(max_name);
        return d;
    }

    const CredInfo& cred(std::uint64_t address) {
        return creds.get(address, [&](std::uint64_t a) {
            const Object o = ctx.read(*w.cred_, a);
            CredInfo c;
            c.flags = o.u(w.cr_flags_);
            c.uid = static_cast<std::uint32_t>(o.u(w.cr_uid_));
            c.ruid = static_cast<std::uint32_t>(o.u(w.cr_ruid_));
            c.svuid = static_cast<std::uint32_t>(o.u(w.cr_svuid_));
            c.rgid = static_cast<std::uint32_t>(o.u(w.cr_rgid_));
            c.svgid = static_cast<std::uint32_t>(o.u(w.cr_svgid_));
            const std::int64_t n = o.s(w.cr_ngroups_);
            if (n < 0 || static_cast<std::uint64_t>(n) > max_groups)
                throw_corrupt(fmt::format("cr_ngroups is {}, over the limit of {}", n, max_groups));
            if (const std::uint64_t groups = o.u(w.cr_groups_); groups != 0 && n > 0) {
                Bytes b(static_cast<std::size_t>(n) * 4);
                ctx.memory().read(groups, b);
                for (std::int64_t i = 0; i < n; ++i)
                    c.groups.push_back(load32(b.data() + i * 4, w.kernel_.order()));
            }
            if (const std::uint64_t prison = o.u(w.cr_prison_); prison != 0)
                c.jid = static_cast<std::int32_t>(ctx.read(*w.prison_, prison).s(w.pr_id_));
            return c;
        });
    }

    std::int32_t pid_of(std::uint64_t proc) {
        return pids.get(proc, [&](std::uint64_t a) {
            return static_cast<std::int32_t>(ctx.read(w.p_pid_->offset + w.p_pid_->size, a).s(w.p_pid_));
        });
    }

    std::vector<ThreadInfo> threads(ProcInfo& p, const Object& proc) {
        std::vector<ThreadInfo> out;
        std::unordered_set<std::uint64_t> visited;
        // p_numthreads bounds the list; without it (the debugger offsets) the kernel's limit does.
        std::uint64_t limit = max_threads_per_proc;
        if (w.p_numthreads_ != nullptr)
            limit = std::min<std::uint64_t>(
                static_cast<std::uint64_t>(std::max<std::int64_t>(proc.s(w.p_numthreads_), 0)), max_threads_per_proc);
        const auto list = [&] { return fmt::format("pid {} ({}): thread list", p.pid, hex(p.paddr)); };
        detail::walk_list(list, proc.u(w.p_threads_), limit, visited, ctx.warn(),
                          [&](std::uint64_t address, std::uint64_t) {
                              const Object o = ctx.read(w.thread_, address);
                              if (w.td_proc_ != nullptr)
                                  if (const std::uint64_t owner = o.u(w.td_proc_); owner != p.paddr)
                                      throw_corrupt(
                                          fmt::format("thread has wrong process: the thread at {} "
                                                      "belongs to {}",
                                                      hex(address), hex(owner)));
                              ThreadInfo t;
                              t.address = address;
                              t.tid = static_cast<std::int32_t>(o.s(w.td_tid_));
                              t.name = o.str(w.td_name_);
                              t.flags = o.u(w.td_flags_);
                              t.inhibitors = o.u(w.td_inhibitors_);
                              t.state = o.s(w.td_state_);
                              t.slptick = o.s(w.td_slptick_);
                              t.pri_class = o.s(w.td_pri_class_);
                              t.wchan = o.u(w.td_wchan_);
                              t.priority = static_cast<std::int64_t>(o.u(w.td_priority_));  // a u_char
                              t.rux_runtime = o.u(w.td_runtime_);
                              t.incruntime = o.u(w.td_incruntime_);
                              t.kstack_pages = o.s(w.td_kstack_pages_);
                              const std::uint64_t next = o.u(w.td_next_);
                              if (const std::uint64_t wmesg = o.u(w.td_wmesg_); wmesg != 0) {
                                  try {
                                      t.wmesg = ctx.string(wmesg, max_wmesg);
                                  } catch (Error& e) {
                                      e.add_context(fmt::format("thread {} wait message at {}", t.tid, hex(wmesg)));
                                      ctx.problem(p, "thread list", address, e);
                                  }
                              }
                              out.push_back(std::move(t));
                              return detail::ListStep{next, true};
                          });
        return out;
    }

    // START from p_stats, EMUL from p_sysent, where the layouts and the
    // dump have them.
    void accounting(ProcInfo& p, const Object& proc) {
        if (const std::uint64_t stats = proc.u(w.p_stats_); stats != 0 && boot_usec) {
            try {
                const Object o = ctx.read(*w.pstats_, stats);
                const std::int64_t sec = o.s(w.ps_start_sec_), usec = o.s(w.ps_start_usec_);
                // An uptime past a century is not one: the start stays unknown.
                constexpr std::int64_t max_uptime = 100LL * 366 * 86400;
                if (sec < 0 || sec > max_uptime || usec < 0 || usec >= 1000000)
                    throw_corrupt(fmt::format("p_start is {}.{:06} s of uptime, over a century", sec, usec));
                p.start_usec = *boot_usec + sec * 1000000 + usec;
            } catch (Error& e) {
                ctx.problem(p, "statistics", stats, e);
            }
        }
        if (const std::uint64_t sv = proc.u(w.p_sysent_); sv != 0) {
            try {
                p.emul = emuls.get(sv, [&](std::uint64_t a) {
                    const std::uint64_t name = ctx.read(*w.sysentvec_, a).u(w.sv_name_);
                    return name == 0 ? std::string() : ctx.string(name, max_emul);
                });
            } catch (Error& e) {
                ctx.problem(p, "system call vector", sv, e);
            }
        }
    }

    // kern_proc.c's ki_size and ki_rssize: the bytes the map spans, and the
    // pages the pmap has resident plus the kernel stack of each thread not
    // swapped out.  A process being created or a zombie has neither (0).
    void address_space(ProcInfo& p, const Object& proc, const std::vector<ThreadInfo>& list) {
        if (w.p_vmspace_ == nullptr) return;  // the layouts lack it: "-"
        p.vsz_kib = 0;
        p.rss_kib = 0;
        const std::uint64_t vm = proc.u(w.p_vmspace_);
        if (p.zombie || p.state == w.prs_new_ || vm == 0) return;
        try {
            const Object o = ctx.read(*w.vmspace_, vm);
            const std::int64_t resident = o.s(w.vm_resident_);
            if (resident < 0 || resident > max_resident_pages)
                throw_corrupt(fmt::format("the pmap's resident count is {} pages", resident));
            std::uint64_t pages = static_cast<std::uint64_t>(resident);
            for (const ThreadInfo& t : list) {
                if ((t.inhibitors & w.tdi_swapped_) != 0) continue;
                if (t.kstack_pages < 0 || t.kstack_pages > max_kstack_pages)
                    throw_corrupt(fmt::format("thread {} has {} kernel stack pages", t.tid, t.kstack_pages));
                pages += static_cast<std::uint64_t>(t.kstack_pages);
            }
            p.vsz_kib = o.u(w.vm_size_) / 1024;
            p.rss_kib = pages * (w.kernel_.arch().page_size / 1024);
        } catch (Error& e) {
            p.vsz_kib.reset();
            p.rss_kib.reset();
            ctx.problem(p, "address space", vm, e);
        }
    }

    // kern_proc.c's ki_stat, as FreeBSD ps prints it.
    char state(const ProcInfo& p, const ThreadInfo* t) const {
        if (p.state == w.prs_zombie_) return 'Z';
        if (p.state == w.prs_new_) return 'R';
        if (p.state != w.prs_normal_ || t == nullptr) return '?';
        if (t->state == w.tds_runq_ || t->state == w.tds_can_run_ || t->state == w.tds_running_) return 'R';
        if ((p.flags & w.p_stopped_) != 0) return 'T';
        if ((t->inhibitors & w.tdi_sleeping_) != 0) {
            if ((t->flags & w.tdf_sintr_) == 0) return 'D';
            const std::int64_t slptime = hz > 0 ? (ticks - t->slptick) / hz : 0;
            return slptime >= w.maxslp_ ? 'I' : 'S';
        }
        if ((t->inhibitors & w.tdi_lock_) != 0) return 'L';
        return 'W';
    }

    // `bucket`: the pid hash's bucket and mask, when walking the hash.
    detail::ListStep visit(std::uint64_t address, const MemberLayout* link,
                           std::optional<std::pair<std::uint64_t, std::uint64_t>> bucket = std::nullopt) {
        const Object proc = ctx.read(w.proc_, address);
        const detail::ListStep step{proc.u(link), true};
        ProcInfo p;
        p.paddr = address;
        p.tdev_split = false;
        p.pid = static_cast<std::int32_t>(proc.s(w.p_pid_));
        if (bucket) {
            // PIDHASH: the pid's low bits pick the bucket.
            const std::uint64_t home = static_cast<std::uint32_t>(p.pid) & bucket->second;
            if (home != bucket->first)
                ctx.warn()(Error(ErrorKind::corrupt, fmt::format("pid {} ({}) is in pidhashtbl[{}], but its pid "
                                                                 "hashes to bucket {}",
                                                                 p.pid, hex(address), bucket->first, home)));
        }
        if (!seen.insert(address).second) return {step.next, false};  // on allproc and in the hash
        if (bucket && budget == 0) {
            // A process past nprocs: the rest of the hash is not read.
            over_budget = true;
            return {0, false};
        }
        if (bucket) --budget;

        p.comm = proc.str(w.p_comm_);
        if (!w.full_) {
            const std::vector<ThreadInfo> list = threads(p, proc);
            p.nlwps = static_cast<std::int32_t>(list.size());
            p.stat = "?";
            detail::emit_process(p, list, list.empty() ? nullptr : &list.front(), options, emit,
                                 [](ProcInfo& row, const ThreadInfo* t) {
                                     if (t == nullptr) return;
                                     row.lid = t->tid;
                                     row.laddr = t->address;
                                     row.lname = t->name;
                                 });
            return step;
        }

        p.state = proc.s(w.p_state_);
        p.flags = proc.u(w.p_flag_);
        p.nice = static_cast<int>(proc.s(w.p_nice_) - w.nzero_);
        p.zombie = p.state == w.prs_zombie_;
        p.system = (p.flags & w.p_system_) != 0;
        p.nlwps = static_cast<std::int32_t>(proc.s(w.p_numthreads_));
        if (const std::int64_t oppid = proc.s(w.p_oppid_); oppid != 0) {
            p.ppid = static_cast<std::int32_t>(oppid);
        } else if (const std::uint64_t parent = proc.u(w.p_pptr_); parent != 0) {
            try {
                p.ppid = pid_of(parent);
            } catch (Error& e) {
                ctx.problem(p, "parent", parent, e);
            }
        }
        std::uint64_t cr_flags = 0;
        std::int32_t jid = 0;
        if (const std::uint64_t c = proc.u(w.p_ucred_); c != 0) {
            try {
                const CredInfo& cr = cred(c);
                p.uid = cr.uid;
                p.ruid = cr.ruid;
                p.svuid = cr.svuid;
                if (!cr.groups.empty()) p.gid = cr.groups.front();
                p.rgid = cr.rgid;
                p.svgid = cr.svgid;
                p.groups = cr.groups;
                cr_flags = cr.flags;
                jid = cr.jid;
            } catch (Error& e) {
                ctx.problem(p, "credentials", c, e);
            }
        }
        const bool controlling = (p.flags & w.p_controlt_) != 0;
        sessions->fill(ctx, p, proc.u(w.p_pgrp_), controlling);
        accounting(p, proc);

        const std::vector<ThreadInfo> list = threads(p, proc);
        address_space(p, proc, list);
        // rufetch(): what each thread ran since the last aggregation joins p_rux.
        std::uint64_t proc_ticks = proc.u(w.p_runtime_);
        for (const ThreadInfo& t : list)
            proc_ticks = add_ticks(proc_ticks, t.incruntime);
        const std::int64_t lock = proc.s(w.p_lock_);
        const std::int64_t nice = proc.s(w.p_nice_);
        // The process row is its first thread's (FIRST_THREAD_IN_PROC).
        detail::emit_process(
            p, list, list.empty() ? nullptr : &list.front(), options, emit, [&](ProcInfo& row, const ThreadInfo* t) {
                std::int64_t pri_class = -1;
                if (t != nullptr) {
                    row.lid = t->tid;
                    row.laddr = t->address;
                    row.lwp_state = t->state;
                    row.wchan = t->wchan;
                    row.wchan_symbol = t->wchan != 0 ? ctx.wchan_name(t->wchan) : std::string();
                    row.wmesg = t->wmesg;
                    row.lname = t->name;
                    row.raw = {{"td_flags", t->flags}, {"td_inhibitors", t->inhibitors}};
                    pri_class = t->pri_class;
                    if (w.td_priority_ != nullptr) row.priority = static_cast<std::int32_t>(t->priority - w.pzero_);
                }
                if (tick_rate != 0) {
                    const std::uint64_t own = t == nullptr ? 0 : add_ticks(t->rux_runtime, t->incruntime);
                    row.rtime_usec = cputicks_usec(row.lwp_row ? own : proc_ticks, tick_rate);
                }
                row.stat =
                    stat_string(std::string(1, state(row, t)), {{(row.flags & w.p_inmem_) == 0, 'W'},
                                                                {nice < w.nzero_ || pri_class == w.pri_realtime_, '<'},
                                                                {!(nice < w.nzero_ || pri_class == w.pri_realtime_) &&
                                                                     (nice > w.nzero_ || pri_class == w.pri_idle_),
                                                                 'N'},
                                                                {(row.flags & w.p_traced_) != 0, 'X'},
                                                                {(row.flags & w.p_wexit_) != 0 && !row.zombie, 'E'},
                                                                {(row.flags & w.p_ppwait_) != 0, 'V'},
                                                                {row.system || lock > 0, 'L'},
                                                                {(cr_flags & w.capmode_) != 0, 'C'},
                                                                {row.session_leader, 's'},
                                                                {controlling && row.pgid == row.tpgid, '+'},
                                                                {jid != 0, 'J'}});
            });
        return step;
    }
};

void FreebsdWalker::walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const {
    Walk walk(*this, options, emit, warn);
    if (full_) {
        // The sleep time needs the clock; a dump without it shows no I.
        const Symbol* ticks = kernel_.symbols().lookup("_ticks");
        const Symbol* hz = kernel_.symbols().lookup("_hz");
        if (ticks != nullptr && hz != nullptr) {
            try {
                walk.ticks = static_cast<std::int32_t>(kernel_.read_uint(ticks->value, 4));
                walk.hz = static_cast<std::int32_t>(kernel_.read_uint(hz->value, 4));
            } catch (Error& e) {
                e.add_context("ticks and hz");
                warn(e);
                walk.hz = 0;
            }
        }
        // TIME and START need the clocks; a dump without them shows 0:00.00 and "-".
        if (const Symbol* rate = kernel_.symbols().lookup("_cpu_tick_frequency")) {
            try {
                walk.tick_rate = kernel_.read_uint(rate->value, 8);
                if (walk.tick_rate == 0 || walk.tick_rate > max_tick_rate) {
                    const std::uint64_t bad = walk.tick_rate;
                    walk.tick_rate = 0;
                    throw_corrupt(fmt::format("cpu_tick_frequency is {} Hz", bad));
                }
            } catch (Error& e) {
                e.add_context("cpu_tick_frequency");
                warn(e);
            }
        }
        const Symbol* now = kernel_.symbols().lookup("_time_second");
        const Symbol* uptime = kernel_.symbols().lookup("_time_uptime");
        if (now != nullptr && uptime != nullptr && p_stats_ != nullptr) {
            try {
                // time_t is as wide as a pointer on the ports kvmkit reads.
                const std::int64_t wall = detail::read_time_t(kernel_, now->value, kernel_.pointer_size());
                const std::int64_t up = detail::read_time_t(kernel_, uptime->value, kernel_.pointer_size());
                std::int64_t boot = 0;
                if (__builtin_sub_overflow(wall, up, &boot))
                    throw_corrupt(fmt::format("time_second {} less time_uptime {} does not fit in 64 bits", wall, up));
                // Seconds since the Epoch that a microsecond count holds.
                constexpr std::int64_t max_seconds = INT64_MAX / 4000000;
                if (boot < -max_seconds || boot > max_seconds)
                    throw_corrupt(fmt::format("time_second - time_uptime is {} s", boot));
                walk.boot_usec = boot * 1000000;
            } catch (Error& e) {
                e.add_context("time_second and time_uptime");
                warn(e);
            }
        }
    }
    const std::uint64_t nprocs = detail::process_budget(kernel_, "_nprocs", proc_.size, warn);
    std::uint64_t budget = nprocs;
    if (budget < detail::max_list_entries) walk.seen.reserve(budget + 64);

    // allproc, then zombproc where the kernel has one.
    detail::EntrySet on_lists{"struct proc", proc_.size};
    for (const char* list : {"allproc", "zombproc"}) {
        const Symbol* head_symbol = kernel_.symbols().lookup(fmt::format("_{}", list));
        if (head_symbol == nullptr) continue;  // zombproc: 12.x and older only
        std::uint64_t head = 0;
        try {
            head = kernel_.read_pointer(head_symbol->value);
        } catch (Error& e) {
            e.add_context(list);
            warn(e);
            continue;
        }
        const auto result = detail::walk_list(list, head, budget, on_lists, warn,
                                              [&](std::uint64_t a, std::uint64_t) { return walk.visit(a, p_next_); });
        budget -= std::min(budget, result.counted);
        if (!result.complete && budget == 0) return;  // nprocs reached: the rest is past it
    }

    // The pid hash, where 13.0 and later keep their zombies: what the lists
    // did not have.
    const Symbol* table = kernel_.symbols().lookup("_pidhashtbl");
    const Symbol* mask = kernel_.symbols().lookup("_pidhash");
    if (table == nullptr || mask == nullptr || p_hash_ == nullptr) return;
    std::uint64_t buckets = 0, pidhash = 0;
    try {
        buckets = kernel_.read_pointer(table->value);
        pidhash = kernel_.read_uint(mask->value, kernel_.pointer_size());
    } catch (Error& e) {
        e.add_context("pidhashtbl");
        warn(e);
        return;
    }
    if (pidhash >= max_pidhash) {
        warn(Error(ErrorKind::corrupt,
                   fmt::format("pidhash is {:#x}, over the limit of {:#x}", pidhash, max_pidhash - 1)));
        return;
    }
    // Cycles and buckets that lead into other buckets end at an entry
    // already visited; what the lists already listed is not listed again,
    // nor counted against nprocs.
    std::unordered_set<std::uint64_t> in_hash;
    walk.budget = budget;
    for (std::uint64_t i = 0; i <= pidhash; ++i) {
        const std::string list = fmt::format("pidhashtbl[{}]", i);
        std::uint64_t head = 0;
        try {
            head = kernel_.read_pointer(buckets + i * kernel_.pointer_size());
        } catch (Error& e) {
            e.add_context(list);
            warn(e);
            return;
        }
        std::uint64_t stopped_at = 0, index = 0;
        detail::walk_list(list, head, detail::max_list_entries, in_hash, warn, [&](std::uint64_t a, std::uint64_t n) {
            const detail::ListStep step = walk.visit(a, p_hash_, std::pair(i, pidhash));
            if (walk.over_budget) {
                stopped_at = a;
                index = n;
            }
            return step;
        });
        if (walk.over_budget) {
            warn(Error(ErrorKind::corrupt, fmt::format("{}: more than {} processes (nprocs); stopped at entry {} ({})",
                                                       list, nprocs, index, hex(stopped_at))));
            return;
        }
    }
}

// The request the debugger offsets can answer.
StructLayouts debugger_layouts(const Kernel& kernel, const DebuggerOffsets& o) {
    const unsigned ptr = kernel.pointer_size();
    StructLayouts l;
    l.os = "freebsd";
    l.arch = std::string(kernel.arch().name);
    l.pointer_size = ptr;
    l.order = kernel.order();
    l.source = "the offsets the kernel exports for debuggers (proc_off_*, thread_off_*)";
    l.derived =
        "offsets read from the dump's proc_off_p_pid, proc_off_p_comm, proc_off_p_list, proc_off_p_threads, "
        "proc_off_p_hash, thread_off_td_tid, thread_off_td_name and thread_off_td_plist";
    StructLayout proc{.name = "proc"};
    proc.members = {{.name = "p_list.le_next", .offset = o.p_list, .size = ptr, .type = "struct proc *"},
                    {.name = "p_threads.tqh_first", .offset = o.p_threads, .size = ptr, .type = "struct thread *"},
                    {.name = "p_pid", .offset = o.p_pid, .size = 4, .type = "pid_t"},
                    {.name = "p_comm", .offset = o.p_comm, .size = comm_size, .count = comm_size, .type = "char[20]"}};
    if (o.p_hash)
        proc.members.push_back({.name = "p_hash.le_next", .offset = *o.p_hash, .size = ptr, .type = "struct proc *"});
    StructLayout thread{.name = "thread"};
    thread.members = {
        {.name = "td_plist.tqe_next", .offset = o.td_plist, .size = ptr, .type = "struct thread *"},
        {.name = "td_tid", .offset = o.td_tid, .size = 4, .type = "lwpid_t"},
        {.name = "td_name", .offset = o.td_name, .size = comm_size, .count = comm_size, .type = "char[20]"}};
    for (StructLayout* s : {&proc, &thread}) {
        std::sort(s->members.begin(), s->members.end(),
                  [](const MemberLayout& a, const MemberLayout& b) { return a.offset < b.offset; });
        for (const MemberLayout& m : s->members)
            s->size = std::max(s->size, m.offset + m.size);
    }
    l.structs.emplace("proc", std::move(proc));
    l.structs.emplace("thread", std::move(thread));
    return l;
}

std::optional<DebuggerOffsets> read_debugger_offsets(const Kernel& kernel) {
    constexpr std::uint64_t max_offset = 1u << 16;  // struct proc and thread are a few KiB
    const auto offset = [&](const char* name) -> std::optional<std::uint64_t> {
        const Symbol* s = kernel.symbols().lookup(name);
        if (s == nullptr) return std::nullopt;
        const std::uint64_t v = kernel.read_uint(s->value, 4);
        if (v >= max_offset) throw_corrupt(fmt::format("{} is {:#x}, not an offset in a structure", name, v));
        return v;
    };
    DebuggerOffsets o;
    for (const auto& [name, out] :
         std::initializer_list<std::pair<const char*, std::uint64_t*>>{{"_proc_off_p_pid", &o.p_pid},
                                                                       {"_proc_off_p_comm", &o.p_comm},
                                                                       {"_proc_off_p_list", &o.p_list},
                                                                       {"_proc_off_p_threads", &o.p_threads},
                                                                       {"_thread_off_td_tid", &o.td_tid},
                                                                       {"_thread_off_td_name", &o.td_name},
                                                                       {"_thread_off_td_plist", &o.td_plist}}) {
        const auto v = offset(name);
        if (!v) return std::nullopt;
        *out = *v;
    }
    o.p_hash = offset("_proc_off_p_hash");  // 13.0 onwards
    return o;
}

}  // namespace

const LayoutRequest& freebsd::process_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

namespace detail {

bool freebsd_accepts(const WalkTarget& target) {
    return target.kernel != nullptr && target.kernel->machine().os == "freebsd";
}

std::unique_ptr<ProcessWalker> freebsd_create(const WalkTarget& target) {
    const Kernel& kernel = *target.kernel;
    const Namelist& namelist = kernel.namelist();  // usage error without -N
    detail::require_symbols(namelist, {"_nprocs", "_allproc"});
    try {
        StructLayouts layouts = detail::bsd_dump_layouts(kernel, "FreeBSD", freebsd::process_layout_request(),
                                                         {.os = "freebsd",
                                                          .file = target.layout_file,
                                                          .dirs = target.layout_dirs,
                                                          .known_flags = known_flags(),
                                                          .known_values = known_values()});
        return std::make_unique<FreebsdWalker>(kernel, std::move(layouts), true);
    } catch (Error& e) {
        // Without type information the debugger offsets still list pids,
        // commands and threads.
        if (e.kind() != ErrorKind::not_found || target.layout_file) throw;
        std::optional<DebuggerOffsets> offsets;
        try {
            offsets = read_debugger_offsets(kernel);
        } catch (Error& bad) {
            bad.add_context(e.what());
            throw bad;
        }
        if (!offsets) throw;
        return std::make_unique<FreebsdWalker>(kernel, debugger_layouts(kernel, *offsets), false);
    }
}

}  // namespace detail

}  // namespace kvm
