// Processes of a dead DragonFly kernel: the walk of DragonFly's libkvm
// kvm_getprocs on a dump (freebsd-dragonfly-dump-format.md section 5.5),
// for every generation of the kernel's lists, chosen by the namelist:
//   - procglob and allproc_hsize (5.x onwards): a hash of cache-aligned
//     struct procglob, whose allproc member heads each bucket;
//   - allprocs and allproc_hsize (3.x and 4.x): a hash of list heads;
//     in both, every bucket is walked through p_list.le_next and zombies
//     stay in it (SZOMB);
//   - allproc and zombproc (the older kernels the reference source was
//     written for): allproc, then zombproc, through p_list.le_next.
// LWPs come from the red-black tree p_lwp_tree when the layouts have it,
// visited whole with an explicit stack bounded by the depth the process's
// thread count allows (the reference walk skips the right subtree of a
// node without a left child), or from the list p_lwps through
// lwp_list.le_next.  Each LWP must point back at its process (lwp_proc:
// "lwp has wrong parent") and is read with its thread (td_wchan,
// td_wmesg, td_flags, its CPU through td_gd).
//
// Rows are kinfo_proc's as kern_kinfo.c fills them: PPID is p_oppid when
// set, else the parent's pid; UID is cr_uid (effective), RUID cr_ruid, GID
// cr_groups[0]; the terminal is t_dev's cdev, whose udev is major << 8 |
// minor (NOUDEV when either does not fit); an LWP marked LSRUN that is on
// no run queue is asleep.  STAT is the dumped release's ps's, as the
// PS_STAT_* values of its layouts say: the state, the CPU (after every
// letter of an active LWP in 5.8, RQ for one runnable on no queue; after R
// on a CPU in 1.10), then W < N X E V, L and M where that ps prints them,
// J s +.  PRI, CPUID, %CPU and CPU are kinfo_lwp's (kl_prio, kl_cpuid,
// kl_pctcpu over FSCALE, kl_estcpu / 128 on 5.x), START p_start (the wall
// clock at fork); VSZ and RSS are not read (no struct vmspace in the
// layouts), nor an emulation (kinfo_proc has none).  Every filter filters,
// SESSION included (libkvm ignored it on a dump).
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "procs/bsd_session.h"
#include "procs/dead_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

namespace kvm {

namespace {

using detail::member;
using Object = detail::KernelObject;

// Bounds for values read from a dump.
constexpr std::uint64_t max_lwps_per_proc = 65536;
constexpr std::uint64_t max_allproc_hsize = 1u << 20;
constexpr std::size_t max_wmesg = 64;
constexpr std::size_t max_devname = 256;
constexpr std::uint64_t noudev = 0xffffffff;  // NOUDEV, (udev_t)-1
// gd_cpuid is a CPU number below MAXCPU (256 in 5.x); anything past this is
// no CPU.
constexpr std::int64_t max_cpuid = 65535;
// p_start: seconds since the Epoch a dump can hold without overflowing
// microseconds (about 292,000 years either way), and its microseconds.
constexpr std::int64_t max_start_sec = std::int64_t{1} << 43;
constexpr std::int64_t usec_per_sec = 1000000;
// Past this a layout file's FSCALE is no fixed-point scale (every BSD's is
// 2048), and %CPU's arithmetic could overflow.
constexpr std::uint64_t max_fscale = std::uint64_t{1} << 30;

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"proc",
         {
             member("p_list.le_next", "next process on allproc or zombproc, or in its allprocs bucket"),
             member("p_ucred", "credentials (struct ucred *)"),
             member("p_flags", "P_* flags (p_flag in older kernels)", false),
             member("p_flag", "P_* flags, in older kernels", false),
             member("p_stat", "process state, S* values"),
             member("p_pid", "process id"),
             member("p_pptr", "parent process (struct proc *): PPID"),
             member("p_oppid", "the real parent's pid while traced: PPID when set", false),
             member("p_comm", "command name, MAXCOMLEN+1 characters"),
             member("p_nice", "nice value plus NZERO"),
             member("p_lock", "hold count: STAT L when positive", false),
             member("p_pgrp", "process group (struct pgrp *)"),
             member("p_nthreads", "number of LWPs: NLWP, and the bound of the LWP tree or list"),
             member("p_start.tv_sec", "start time, seconds since the Epoch (microtime at fork): START, ETIME", false),
             member("p_start.tv_usec", "start time, microseconds past tv_sec", false),
             member("p_swtime", "seconds since the process was swapped in or out: %CPU is 0.0 while it is 0", false),
             member("p_lwp_tree.rbh_root", "root of the red-black tree of LWPs (current kernels)", false),
             member("p_lwps.lh_first", "first LWP on the list of LWPs (older kernels)", false),
         }},
        {"lwp",
         {
             member("u.lwp_rbnode.rbe_left", "left child in p_lwp_tree", false),
             member("u.lwp_rbnode.rbe_right", "right child in p_lwp_tree", false),
             member("u.lwp_rbnode.rbe_parent", "parent in p_lwp_tree", false),
             member("lwp_list.le_next", "next LWP on p_lwps (older kernels)", false),
             member("lwp_proc", "the process (struct proc *): must be the one the LWP was found in"),
             member("lwp_tid", "LWP id"),
             member("lwp_flags", "LWP_* flags: LWP_SINTR (lwp_flag in older kernels)", false),
             member("lwp_flag", "LWP_* flags: LWP_SINTR, LWP_ONRUNQ, in older kernels", false),
             member("lwp_mpflags", "LWP_MP_* flags: LWP_MP_ONRUNQ (current kernels)", false),
             member("lwp_stat", "LWP state, LS* values (current kernels)", false),
             member("lwp_slptime", "seconds since the LWP went to sleep: STAT I"),
             member("lwp_pctcpu", "the LWP's share of the CPU, FSCALE is 100% (fixpt_t): %CPU", false),
             member("lwp_usdata.bsd4.priority", "user scheduling priority, lower is better (kinfo_lwp kl_prio): PRI",
                    false),
             member("lwp_usdata.bsd4.estcpu", "the scheduler's recent CPU use (kinfo_lwp kl_estcpu): CPU", false),
             member("lwp_thread", "the LWP's thread (struct thread *)"),
         }},
        {"thread",
         {
             member("td_gd", "the CPU's globaldata (struct globaldata *): the CPU after the state letter"),
             member("td_wmesg", "wait message (const char *)"),
             member("td_wchan", "wait channel: the address the thread sleeps on"),
             member("td_flags", "TDF_* flags: TDF_SINTR, TDF_RUNNING, TDF_RUNQ"),
             member("td_uticks", "user time, microseconds", false),
             member("td_sticks", "system time, microseconds", false),
             member("td_iticks", "interrupt time, microseconds", false),
             member("td_comm", "thread name", false),
             member("td_mpcount", "MP lock count: STAT M where the release's ps prints it", false),
         }},
        {"globaldata", {member("gd_cpuid", "CPU number")}},
        {"ucred",
         {
             member("cr_uid", "effective user id"),
             member("cr_ruid", "real user id"),
             member("cr_svuid", "saved user id"),
             member("cr_ngroups", "number of groups in cr_groups"),
             member("cr_groups", "groups, the first the effective group id"),
             member("cr_rgid", "real group id"),
             member("cr_svgid", "saved group id"),
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
             member("s_sid", "session id"),
             member("s_login", "login name set by setlogin(2)", false),
         }},
        {"tty",
         {
             member("t_dev", "the terminal's device (struct cdev *)"),
             member("t_pgrp", "foreground process group (struct pgrp *): STAT +"),
         }},
        {"procglob",
         {
             member("allproc.lh_first", "first process in the bucket (5.x onwards: procglob[allproc_hsize])"),
         },
         false},
        {"cdev",
         {
             member("si_umajor", "major number (current kernels)", false),
             member("si_uminor", "minor number (current kernels)", false),
             member("si_udev", "device number (older kernels)", false),
             member("si_name", "the device's name in /dev", false),
         }},
    };
    r.flags = {"P_CONTROLT", "P_SYSTEM",     "P_TRACED",  "P_WEXIT",    "P_PPWAIT",
               "P_JAILED",   "P_SWAPPEDOUT", "TDF_SINTR", "TDF_RUNNING"};
    r.values = {"SIDL", "SSTOP", "SZOMB", "MAXSLP", "NZERO"};
    return r;
}

struct CredInfo {
    std::uint32_t uid = 0, ruid = 0, svuid = 0, rgid = 0, svgid = 0;
    std::vector<std::uint32_t> groups;
};

struct LwpInfo {
    std::uint64_t address = 0;
    std::int32_t tid = 0;
    std::int64_t stat = 0;  // as kinfo_lwp has it (an LSRUN on no run queue is LSSLEEP)
    std::uint64_t flags = 0;
    std::uint64_t mpflags = 0;
    std::uint64_t slptime = 0;
    std::uint64_t td_flags = 0;
    std::uint64_t wchan = 0;
    std::string wmesg;
    std::string name;
    std::int64_t cpu = 0;
    bool cpu_read = false;  // cpu came from the thread's globaldata
    std::int64_t mpcount = 0;
    std::uint64_t time_usec = 0;
    // kinfo_lwp's kl_prio, kl_estcpu and kl_pctcpu, where the layouts have them.
    std::optional<std::int32_t> priority;
    std::optional<std::int64_t> estcpu;
    std::optional<std::uint64_t> pctcpu;
};

// Where the kernel keeps its processes.
enum class ProcLists {
    procglob,  // procglob[allproc_hsize].allproc
    allprocs,  // allprocs[allproc_hsize]
    lists,     // allproc, then zombproc
};

class DragonflyWalker final : public ProcessWalker {
public:
    DragonflyWalker(const Kernel& kernel, StructLayouts layouts, ProcLists lists);

    std::string_view name() const override { return "dragonfly"; }
    void walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const override;
    std::optional<std::uint64_t> tty_device(std::string_view name) const override {
        return detail::terminal_by_name(*this, name);
    }
    const StructLayouts* layouts() const override { return &layouts_; }
    SystemFacts system_facts() const override;

private:
    struct Walk;

    const MemberLayout* mem(const StructLayout& s, std::string_view name) const { return s.find(name); }
    const MemberLayout& need(const StructLayout& s, std::string_view name) const { return s.member(name); }
    std::uint64_t flag(std::string_view name) const { return layouts_.require_flag(name); }
    std::int64_t value(std::string_view name) const { return static_cast<std::int64_t>(layouts_.require_value(name)); }

    const Kernel& kernel_;
    StructLayouts layouts_;
    ProcLists lists_;
    const StructLayout &proc_, &lwp_, &thread_, &gd_, &cred_, &cdev_;
    bool tree_;   // LWPs in p_lwp_tree (else on p_lwps)
    bool kinfo_;  // LWPs have their own state (lwp_stat); older kernels keep it in p_stat

    const MemberLayout *p_next_, *p_ucred_, *p_flags_, *p_stat_, *p_pid_, *p_pptr_, *p_oppid_, *p_comm_, *p_nice_,
        *p_lock_, *p_pgrp_, *p_nthreads_, *p_lwps_, *p_start_sec_, *p_start_usec_, *p_swtime_;
    const MemberLayout *l_left_, *l_right_, *l_parent_, *l_next_, *l_proc_, *l_tid_, *l_flags_, *l_mpflags_, *l_stat_,
        *l_slptime_, *l_thread_, *l_pctcpu_, *l_priority_, *l_estcpu_;
    const MemberLayout *td_gd_, *td_wmesg_, *td_wchan_, *td_flags_, *td_uticks_, *td_sticks_, *td_iticks_, *td_comm_,
        *td_mpcount_;
    const MemberLayout* gd_cpuid_;
    const MemberLayout *cr_uid_, *cr_ruid_, *cr_svuid_, *cr_ngroups_, *cr_groups_, *cr_rgid_, *cr_svgid_;
    const MemberLayout *t_dev_, *si_umajor_, *si_uminor_, *si_udev_, *si_name_;
    std::uint64_t proc_pid_bytes_ = 0;  // how much of a parent's struct proc its pid needs

    std::uint64_t p_controlt_, p_system_, p_traced_, p_wexit_, p_ppwait_, p_jailed_, p_swappedout_;
    std::uint64_t tdf_sintr_, tdf_running_, tdf_runq_ = 0, lwp_sintr_ = 0, lwp_onrunq_ = 0, p_sintr_ = 0;
    bool onrunq_in_mpflags_ = false;  // LWP_MP_ONRUNQ (5.x), else LWP_ONRUNQ in lwp_flag
    std::int64_t sidl_, sstop_, szomb_, sactive_ = -1, srun_ = -1, ssleep_ = -1;
    std::int64_t lsrun_ = -1, lsstop_ = -1, lssleep_ = -1;
    std::int64_t maxslp_, nzero_;
    // What the release's ps prints (PS_STAT_* values of the layouts).
    bool ps_l_ = false;           // L for a system or held process
    bool ps_m_ = false;           // M for an LWP without the MP lock on a machine of several CPUs
    bool ps_cpu_always_ = false;  // the CPU after every active state letter, RQ off the LWKT run queue
    std::uint64_t bucket_stride_ = 0, bucket_head_ = 0;  // the hash's buckets
    // FSCALE, the fixed-point 1.0 of lwp_pctcpu (0: %CPU unknown), and what
    // the release's ps divides kl_estcpu by for CPU (0: CPU unknown).
    std::uint64_t fscale_ = 0, ps_estcpu_scale_ = 0;
};

DragonflyWalker::DragonflyWalker(const Kernel& kernel, StructLayouts layouts, ProcLists lists)
    : kernel_(kernel),
      layouts_(std::move(layouts)),
      lists_(lists),
      proc_(layouts_.get("proc")),
      lwp_(layouts_.get("lwp")),
      thread_(layouts_.get("thread")),
      gd_(layouts_.get("globaldata")),
      cred_(layouts_.get("ucred")),
      cdev_(layouts_.get("cdev")) {
    const auto either = [&](const StructLayout& s, std::string_view a, std::string_view b) {
        if (const MemberLayout* m = mem(s, a)) return m;
        if (const MemberLayout* m = mem(s, b)) return m;
        throw_not_found(fmt::format("{} lacks {}.{} and {}.{}", layouts_.source, s.name, a, s.name, b));
    };
    p_next_ = &need(proc_, "p_list.le_next");
    p_ucred_ = &need(proc_, "p_ucred");
    p_flags_ = either(proc_, "p_flags", "p_flag");
    p_stat_ = &need(proc_, "p_stat");
    p_pid_ = &need(proc_, "p_pid");
    p_pptr_ = &need(proc_, "p_pptr");
    p_oppid_ = mem(proc_, "p_oppid");
    p_comm_ = &need(proc_, "p_comm");
    p_nice_ = &need(proc_, "p_nice");
    p_lock_ = mem(proc_, "p_lock");
    p_pgrp_ = &need(proc_, "p_pgrp");
    p_nthreads_ = &need(proc_, "p_nthreads");
    p_lwps_ = either(proc_, "p_lwp_tree.rbh_root", "p_lwps.lh_first");
    p_start_sec_ = mem(proc_, "p_start.tv_sec");
    p_start_usec_ = mem(proc_, "p_start.tv_usec");
    if (p_start_sec_ == nullptr || p_start_usec_ == nullptr) p_start_sec_ = p_start_usec_ = nullptr;
    p_swtime_ = mem(proc_, "p_swtime");
    tree_ = p_lwps_->name == "p_lwp_tree.rbh_root";
    if (tree_) {
        l_left_ = &need(lwp_, "u.lwp_rbnode.rbe_left");
        l_right_ = &need(lwp_, "u.lwp_rbnode.rbe_right");
        l_parent_ = &need(lwp_, "u.lwp_rbnode.rbe_parent");
        l_next_ = nullptr;
    } else {
        l_left_ = l_right_ = l_parent_ = nullptr;
        l_next_ = &need(lwp_, "lwp_list.le_next");
    }
    l_proc_ = &need(lwp_, "lwp_proc");
    l_tid_ = &need(lwp_, "lwp_tid");
    l_stat_ = mem(lwp_, "lwp_stat");
    kinfo_ = l_stat_ != nullptr;
    l_flags_ = kinfo_ ? either(lwp_, "lwp_flags", "lwp_flag") : nullptr;
    l_mpflags_ = mem(lwp_, "lwp_mpflags");
    l_slptime_ = &need(lwp_, "lwp_slptime");
    l_thread_ = &need(lwp_, "lwp_thread");
    l_pctcpu_ = mem(lwp_, "lwp_pctcpu");
    l_priority_ = mem(lwp_, "lwp_usdata.bsd4.priority");
    l_estcpu_ = mem(lwp_, "lwp_usdata.bsd4.estcpu");
    td_gd_ = &need(thread_, "td_gd");
    td_wmesg_ = &need(thread_, "td_wmesg");
    td_wchan_ = &need(thread_, "td_wchan");
    td_flags_ = &need(thread_, "td_flags");
    td_uticks_ = mem(thread_, "td_uticks");
    td_sticks_ = mem(thread_, "td_sticks");
    td_iticks_ = mem(thread_, "td_iticks");
    td_comm_ = mem(thread_, "td_comm");
    td_mpcount_ = mem(thread_, "td_mpcount");
    gd_cpuid_ = &need(gd_, "gd_cpuid");
    cr_uid_ = &need(cred_, "cr_uid");
    cr_ruid_ = &need(cred_, "cr_ruid");
    cr_svuid_ = &need(cred_, "cr_svuid");
    cr_ngroups_ = &need(cred_, "cr_ngroups");
    cr_groups_ = &need(cred_, "cr_groups");
    cr_rgid_ = &need(cred_, "cr_rgid");
    cr_svgid_ = &need(cred_, "cr_svgid");
    if (cr_groups_->count == 0 || cr_groups_->size % cr_groups_->count != 0)
        throw_corrupt(fmt::format("{}: ucred.cr_groups is not an array of gid_t", layouts_.source));
    t_dev_ = &need(layouts_.get("tty"), "t_dev");
    si_umajor_ = mem(cdev_, "si_umajor");
    si_uminor_ = mem(cdev_, "si_uminor");
    si_udev_ = mem(cdev_, "si_udev");
    si_name_ = mem(cdev_, "si_name");
    if ((si_umajor_ == nullptr || si_uminor_ == nullptr) && si_udev_ == nullptr)
        throw_not_found(fmt::format("{} lacks cdev.si_umajor and cdev.si_uminor, and cdev.si_udev", layouts_.source));
    proc_pid_bytes_ = p_pid_->offset + p_pid_->size;

    p_controlt_ = flag("P_CONTROLT");
    p_system_ = flag("P_SYSTEM");
    p_traced_ = flag("P_TRACED");
    p_wexit_ = flag("P_WEXIT");
    p_ppwait_ = flag("P_PPWAIT");
    p_jailed_ = flag("P_JAILED");
    p_swappedout_ = flag("P_SWAPPEDOUT");
    tdf_sintr_ = flag("TDF_SINTR");
    tdf_running_ = flag("TDF_RUNNING");
    sidl_ = value("SIDL");
    sstop_ = value("SSTOP");
    szomb_ = value("SZOMB");
    maxslp_ = value("MAXSLP");
    nzero_ = value("NZERO");
    ps_l_ = layouts_.value("PS_STAT_L").value_or(0) != 0;
    ps_m_ = layouts_.value("PS_STAT_M").value_or(0) != 0 && td_mpcount_ != nullptr;
    ps_cpu_always_ = layouts_.value("PS_STAT_CPU_ALWAYS").value_or(0) != 0;
    // Optional, as the PS_STAT_* values: a layout file without them leaves
    // %CPU and CPU unknown.  %CPU also needs p_swtime (ps shows 0.0 while it
    // is 0).
    if (l_pctcpu_ != nullptr && p_swtime_ != nullptr) fscale_ = layouts_.value("FSCALE").value_or(0);
    if (fscale_ > max_fscale)
        throw_corrupt(fmt::format("{}: FSCALE {} is over {}", layouts_.source, fscale_, max_fscale));
    if (l_estcpu_ != nullptr) ps_estcpu_scale_ = layouts_.value("PS_ESTCPU_SCALE").value_or(0);
    if (lists_ == ProcLists::procglob) {
        const StructLayout& pg = layouts_.get("procglob");
        bucket_stride_ = pg.size;
        bucket_head_ = need(pg, "allproc.lh_first").offset;
    } else {
        bucket_stride_ = kernel_.pointer_size();
    }
    if (kinfo_) {
        // LWPs with their own state (kern_kinfo.c's kinfo_lwp).
        tdf_runq_ = flag("TDF_RUNQ");
        lwp_sintr_ = flag("LWP_SINTR");
        onrunq_in_mpflags_ = layouts_.flag("LWP_MP_ONRUNQ").has_value();
        lwp_onrunq_ = flag(onrunq_in_mpflags_ ? "LWP_MP_ONRUNQ" : "LWP_ONRUNQ");
        sactive_ = value("SACTIVE");
        lsrun_ = value("LSRUN");
        lsstop_ = value("LSSTOP");
        lssleep_ = value("LSSLEEP");
    } else {
        // The process's state stands for its LWPs.
        p_sintr_ = flag("P_SINTR");
        srun_ = value("SRUN");
        ssleep_ = value("SSLEEP");
    }
}

struct DragonflyWalker::Walk {
    const DragonflyWalker& w;
    const WalkOptions& options;
    const ProcEmit& emit;
    detail::WalkContext ctx;
    std::int64_t ncpus = 1;
    // Every process met, across all lists and buckets: a repeat or an
    // overlap ends the list that meets it.
    detail::EntrySet visited{"struct proc", w.proc_.size};
    detail::AddressCache<CredInfo> creds;
    detail::AddressCache<std::int32_t> pids;  // parents' pids
    detail::AddressCache<std::int64_t> cpus;  // globaldata -> gd_cpuid
    detail::BsdSessions sessions{
        w.layouts_, [this](detail::WalkContext& c, const Object& tty) { return device(c, tty.u(w.t_dev_)); }};

    Walk(const DragonflyWalker& walker, const WalkOptions& o, const ProcEmit& e, const ProcWarn& warn)
        : w(walker), options(o), emit(e), ctx(walker.kernel_, warn, cache_pages) {}

    // The hash's order strides through memory: a bucket's processes, LWPs
    // and threads are each on a page of their own, and the next bucket
    // reads the same pages again (the pids next to theirs).  The cache
    // holds a few buckets' pages: 16 MiB, where allocation order needs 4.
    static constexpr std::size_t cache_pages = 4096;

    // kvm_proc.c's dev2udev: major << 8 | minor, NOUDEV when either does not fit.
    detail::TerminalDevice device(detail::WalkContext& c, std::uint64_t cdev) const {
        detail::TerminalDevice d;
        if (cdev == 0) return d;
        const Object o = c.read(w.cdev_, cdev);
        std::uint64_t udev = noudev;
        if (w.si_umajor_ != nullptr && w.si_uminor_ != nullptr) {
            const std::uint64_t major = o.u(w.si_umajor_);
            const std::uint64_t minor = o.u(w.si_uminor_);
            if ((major & 0xffffff00) == 0 && (minor & 0x0000ff00) == 0) udev = (major << 8) | minor;
        } else {
            udev = o.u(w.si_udev_);
        }
        if (udev == noudev) return d;
        d.dev = udev;
        d.name = o.str(w.si_name_);
        if (d.name.size() > max_devname) d.name.resize(max_devname);
        return d;
    }

    const CredInfo& cred(std::uint64_t address) {
        return creds.get(address, [&](std::uint64_t a) {
            const Object o = ctx.read(w.cred_, a);
            CredInfo c;
            c.uid = static_cast<std::uint32_t>(o.u(w.cr_uid_));
            c.ruid = static_cast<std::uint32_t>(o.u(w.cr_ruid_));
            c.svuid = static_cast<std::uint32_t>(o.u(w.cr_svuid_));
            c.rgid = static_cast<std::uint32_t>(o.u(w.cr_rgid_));
            c.svgid = static_cast<std::uint32_t>(o.u(w.cr_svgid_));
            c.groups = detail::read_groups(o, *w.cr_ngroups_, *w.cr_groups_, w.kernel_.order());
            return c;
        });
    }

    std::int32_t pid_of(std::uint64_t proc) {
        return pids.get(proc, [&](std::uint64_t a) {
            return static_cast<std::int32_t>(ctx.read(w.proc_pid_bytes_, a).s(w.p_pid_));
        });
    }

    // One LWP and its thread.  The thread's problems are the process's.
    LwpInfo lwp(ProcInfo& p, std::uint64_t address, const Object& o) {
        LwpInfo l;
        l.address = address;
        l.tid = static_cast<std::int32_t>(o.s(w.l_tid_));
        l.stat = o.s(w.l_stat_);
        l.flags = o.u(w.l_flags_);
        l.mpflags = o.u(w.l_mpflags_);
        l.slptime = o.u(w.l_slptime_);
        scheduling(p, l, o);
        const std::uint64_t td = o.u(w.l_thread_);
        if (td == 0) return l;
        try {
            const Object t = ctx.read(w.thread_, td);
            l.td_flags = t.u(w.td_flags_);
            l.wchan = t.u(w.td_wchan_);
            l.name = t.str(w.td_comm_);
            l.time_usec = t.u(w.td_uticks_) + t.u(w.td_sticks_) + t.u(w.td_iticks_);
            l.mpcount = t.s(w.td_mpcount_);
            if (const std::uint64_t wmesg = t.u(w.td_wmesg_); wmesg != 0) l.wmesg = ctx.string(wmesg, max_wmesg);
            if (const std::uint64_t gd = t.u(w.td_gd_); gd != 0) {
                l.cpu = cpus.get(gd, [&](std::uint64_t a) { return ctx.read(w.gd_, a).s(w.gd_cpuid_); });
                l.cpu_read = true;
                if (l.cpu < 0 || l.cpu > max_cpuid)
                    throw_corrupt(
                        fmt::format("gd_cpuid {} of the globaldata at {} is not a CPU number", l.cpu, hex(gd)));
            }
        } catch (Error& e) {
            e.add_context(fmt::format("LWP {} thread", l.tid));
            ctx.problem(p, "LWP", address, e);
        }
        // kern_kinfo.c: an LSRUN LWP on no run queue is asleep.
        const std::uint64_t onrunq = (w.onrunq_in_mpflags_ ? l.mpflags : l.flags) & w.lwp_onrunq_;
        if (w.kinfo_ && l.stat == w.lsrun_ && (l.td_flags & w.tdf_runq_) == 0 && onrunq == 0) l.stat = w.lssleep_;
        return l;
    }

    // PRI, CPU and %CPU of one LWP, as fill_kinfo_lwp copies them
    // (kl_prio, kl_estcpu, kl_pctcpu); a value out of its range stays
    // unknown, with a warning.
    void scheduling(ProcInfo& p, LwpInfo& l, const Object& o) {
        const auto bad = [&](const std::string& what) {
            Error e(ErrorKind::corrupt, fmt::format("LWP {} {}", l.tid, what));
            ctx.problem(p, "LWP", l.address, e);
        };
        if (w.l_priority_ != nullptr) l.priority = static_cast<std::int32_t>(o.s(w.l_priority_));
        if (w.ps_estcpu_scale_ != 0) {
            if (const std::int64_t estcpu = o.s(w.l_estcpu_); estcpu >= 0)
                l.estcpu = estcpu;
            else
                bad(fmt::format("has estcpu {}, below 0", estcpu));
        }
        if (w.fscale_ != 0) {
            if (const std::uint64_t pctcpu = o.u(w.l_pctcpu_); pctcpu <= w.fscale_)
                l.pctcpu = pctcpu;
            else
                bad(fmt::format("has pctcpu {}, over FSCALE ({}), which is 100%", pctcpu, w.fscale_));
        }
    }

    // START: p_start, the wall clock at fork (kern_fork.c microtime()).
    void fill_start(ProcInfo& p, const Object& proc) {
        if (w.p_start_sec_ == nullptr) return;
        const std::int64_t sec = proc.s(w.p_start_sec_);
        const std::int64_t usec = proc.s(w.p_start_usec_);
        if (sec == 0 && usec == 0) return;  // never set: no start time
        if (sec < -max_start_sec || sec > max_start_sec || usec < 0 || usec >= usec_per_sec) {
            Error e(ErrorKind::corrupt, fmt::format("start time {}.{:06} is not a time", sec, usec));
            ctx.problem(p, "process", p.paddr, e);
            return;
        }
        p.start_usec = sec * usec_per_sec + usec;
    }

    [[noreturn]] static void wrong_parent(std::uint64_t address, std::uint64_t owner) {
        throw_corrupt(fmt::format("lwp has wrong parent: the LWP at {} belongs to {}", hex(address), hex(owner)));
    }

    // The limit of an LWP container: the process's thread count, and one
    // more for an LWP that has exited but not yet been reaped.
    std::uint64_t lwp_limit(const Object& proc) const {
        const auto n = static_cast<std::uint64_t>(std::max<std::int64_t>(proc.s(w.p_nthreads_), 0));
        return std::min(n + 1, max_lwps_per_proc);
    }

    std::vector<LwpInfo> lwp_list(ProcInfo& p, const Object& proc) {
        std::vector<LwpInfo> out;
        std::unordered_set<std::uint64_t> seen;
        const auto list = [&] { return fmt::format("pid {} ({}): LWP list", p.pid, hex(p.paddr)); };
        detail::walk_list(list, proc.u(w.p_lwps_), lwp_limit(proc), seen, ctx.warn(),
                          [&](std::uint64_t address, std::uint64_t) {
                              const Object o = ctx.read(w.lwp_, address);
                              if (const std::uint64_t owner = o.u(w.l_proc_); owner != p.paddr)
                                  wrong_parent(address, owner);
                              out.push_back(lwp(p, address, o));
                              return detail::ListStep{o.u(w.l_next_), true};
                          });
        return out;
    }

    // Every node of p_lwp_tree in order (ascending ids), with an explicit
    // stack: at most `limit` nodes, no deeper than a red-black tree of
    // that many nodes can be (twice the height of a complete one).  A bad
    // node ends the walk with a warning; the LWPs read before it stay.
    std::vector<LwpInfo> lwp_tree(ProcInfo& p, const Object& proc) {
        struct Pending {
            LwpInfo lwp;
            std::uint64_t right;
            std::uint64_t depth;
        };
        std::vector<LwpInfo> out;
        std::vector<Pending> stack;
        const std::uint64_t limit = lwp_limit(proc);
        const auto max_depth = 2 * static_cast<std::uint64_t>(std::bit_width(limit + 1));
        try {
            std::unordered_set<std::uint64_t> seen;
            std::uint64_t node = proc.u(w.p_lwps_);
            std::uint64_t parent = 0;
            std::uint64_t depth = 1;
            for (;;) {
                while (node != 0) {
                    if (seen.size() >= limit)
                        throw_corrupt(fmt::format("more than {} LWPs; stopped at {}", limit, hex(node)));
                    if (depth > max_depth)
                        throw_corrupt(fmt::format("deeper than the {} levels {} LWPs allow; stopped at {}", max_depth,
                                                  limit, hex(node)));
                    if (!seen.insert(node).second)
                        throw_corrupt(
                            fmt::format("the LWP at {} was already visited: the tree has a cycle; stopped "
                                        "there",
                                        hex(node)));
                    const Object o = ctx.read(w.lwp_, node);
                    if (const std::uint64_t owner = o.u(w.l_proc_); owner != p.paddr) wrong_parent(node, owner);
                    if (const std::uint64_t up = o.u(w.l_parent_); up != parent)
                        throw_corrupt(fmt::format("the LWP at {} has parent {}, but was reached from {}", hex(node),
                                                  hex(up), hex(parent)));
                    stack.push_back({lwp(p, node, o), o.u(w.l_right_), depth});
                    parent = node;
                    node = o.u(w.l_left_);
                    ++depth;
                }
                if (stack.empty()) return out;
                Pending top = std::move(stack.back());
                stack.pop_back();
                parent = top.lwp.address;
                node = top.right;
                depth = top.depth + 1;
                out.push_back(std::move(top.lwp));
            }
        } catch (Error& e) {
            e.add_context(fmt::format("pid {} ({}): LWP tree", p.pid, hex(p.paddr)));
            ctx.warn()(e);
        }
        // LWPs read on the way down whose turn had not come.
        for (auto it = stack.rbegin(); it != stack.rend(); ++it)
            out.push_back(std::move(it->lwp));
        return out;
    }

    // DragonFly ps's state letter(s), with the CPU where ps shows it.
    std::string state(const ProcInfo& p, const LwpInfo* l) const {
        const auto on_cpu = [&](const std::string& s) { return l == nullptr ? s : s + std::to_string(l->cpu); };
        if (p.state == w.sstop_) return "T";
        if (p.state == w.szomb_) return "Z";
        if (w.kinfo_) {
            if (p.state != w.sactive_ || l == nullptr) return "?";
            if (l->stat == w.lssleep_) {
                const char* letter = (l->flags & w.lwp_sintr_) == 0 ? ((l->td_flags & w.tdf_sintr_) != 0 ? "S" : "D")
                                     : static_cast<std::int64_t>(l->slptime) >= w.maxslp_ ? "I"
                                                                                          : "S";
                return w.ps_cpu_always_ ? on_cpu(letter) : letter;
            }
            if (l->stat == w.lsrun_) {
                if (w.ps_cpu_always_) return on_cpu((l->td_flags & (w.tdf_running_ | w.tdf_runq_)) == 0 ? "RQ" : "R");
                return (l->td_flags & w.tdf_running_) != 0 ? on_cpu("R") : "R";
            }
            if (l->stat == w.lsstop_) return "T";
            return "?";
        }
        if (p.state == w.ssleep_) {
            if ((p.flags & w.p_sintr_) != 0)
                return static_cast<std::int64_t>(l == nullptr ? 0 : l->slptime) >= w.maxslp_ ? "I" : "S";
            return l != nullptr && (l->td_flags & w.tdf_sintr_) != 0 ? "S" : "D";
        }
        if (p.state == w.srun_ || p.state == w.sidl_)
            return l != nullptr && (l->td_flags & w.tdf_running_) != 0 ? on_cpu("R") : "R";
        return "?";
    }

    // `bucket`: the allprocs bucket and the hash's size, for current kernels.
    detail::ListStep visit(std::uint64_t address, std::optional<std::pair<std::uint64_t, std::uint64_t>> bucket) {
        const Object proc = ctx.read(w.proc_, address);
        const detail::ListStep step{proc.u(w.p_next_), true};

        ProcInfo p;
        p.paddr = address;
        p.pid = static_cast<std::int32_t>(proc.s(w.p_pid_));
        p.state = proc.s(w.p_stat_);
        p.flags = proc.u(w.p_flags_);
        p.nice = static_cast<int>(proc.s(w.p_nice_) - w.nzero_);
        p.comm = proc.str(w.p_comm_);
        p.zombie = p.state == w.szomb_;
        p.system = (p.flags & w.p_system_) != 0;
        p.nlwps = static_cast<std::int32_t>(proc.s(w.p_nthreads_));
        if (bucket && std::has_single_bit(bucket->second)) {
            // ALLPROC_HASH: the low bits of the pid pick the bucket.
            const std::uint64_t home = static_cast<std::uint32_t>(p.pid) & (bucket->second - 1);
            if (home != bucket->first)
                ctx.warn()(Error(ErrorKind::corrupt, fmt::format("pid {} ({}) is in hash bucket {}, but its pid hashes "
                                                                 "to bucket {}",
                                                                 p.pid, hex(address), bucket->first, home)));
        }

        if (const std::int64_t oppid = proc.s(w.p_oppid_); oppid != 0) {
            p.ppid = static_cast<std::int32_t>(oppid);
        } else if (const std::uint64_t parent = proc.u(w.p_pptr_); parent == 0) {
            p.ppid = -1;
        } else {
            try {
                p.ppid = pid_of(parent);
            } catch (Error& e) {
                ctx.problem(p, "parent", parent, e);
            }
        }
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
            } catch (Error& e) {
                ctx.problem(p, "credentials", c, e);
            }
        }
        const bool controlling = (p.flags & w.p_controlt_) != 0;
        sessions.fill(ctx, p, proc.u(w.p_pgrp_), controlling);
        fill_start(p, proc);
        // ps shows %CPU 0.0 for a process swapped out or with no p_swtime yet.
        const bool idle_share =
            w.p_swtime_ != nullptr && (proc.u(w.p_swtime_) == 0 || (p.flags & w.p_swappedout_) != 0);

        const std::vector<LwpInfo> lwps = w.tree_ ? lwp_tree(p, proc) : lwp_list(p, proc);
        const std::int64_t nice = proc.s(w.p_nice_);
        const std::int64_t lock = proc.s(w.p_lock_);
        // libkvm's process row carries its first LWP (the leftmost in the tree).
        detail::emit_process(
            p, lwps, lwps.empty() ? nullptr : &lwps.front(), options, emit, [&](ProcInfo& row, const LwpInfo* l) {
                if (l != nullptr) {
                    row.lid = l->tid;
                    row.lwp_state = l->stat;
                    row.laddr = l->address;
                    row.wchan = l->wchan;
                    row.wchan_symbol = l->wchan != 0 ? ctx.wchan_name(l->wchan) : std::string();
                    row.wmesg = l->wmesg;
                    row.lname = l->name;
                    row.rtime_usec = l->time_usec;
                    if (l->cpu_read && l->cpu >= 0 && l->cpu <= max_cpuid)
                        row.cpuid = static_cast<std::uint32_t>(l->cpu);
                    row.priority = l->priority;
                    if (l->estcpu) row.cpu = static_cast<std::uint64_t>(*l->estcpu) / w.ps_estcpu_scale_;
                    if (l->pctcpu)
                        row.pctcpu_tenths =
                            idle_share ? 0
                                       : static_cast<std::uint32_t>((*l->pctcpu * 1000 + w.fscale_ / 2) / w.fscale_);
                    row.raw = {{"lwp_flags", l->flags},
                               {"lwp_mpflags", l->mpflags},
                               {"td_flags", l->td_flags},
                               {"cpu", static_cast<std::uint64_t>(l->cpu)}};
                }
                row.stat = stat_string(state(row, l), {{(row.flags & w.p_swappedout_) != 0, 'W'},
                                                       {nice < w.nzero_, '<'},
                                                       {nice > w.nzero_, 'N'},
                                                       {(row.flags & w.p_traced_) != 0, 'X'},
                                                       {(row.flags & w.p_wexit_) != 0 && !row.zombie, 'E'},
                                                       {(row.flags & w.p_ppwait_) != 0, 'V'},
                                                       {w.ps_l_ && (row.system || lock > 0), 'L'},
                                                       {w.ps_m_ && ncpus > 1 && (l == nullptr || l->mpcount == 0), 'M'},
                                                       {(row.flags & w.p_jailed_) != 0, 'J'},
                                                       {row.session_leader, 's'},
                                                       {controlling && row.pgid == row.tpgid, '+'}});
            });
        return step;
    }
};

SystemFacts DragonflyWalker::system_facts() const {
    // time_t and physmem are longs: 4 bytes on i386 (1.x), 8 on x86_64.
    // RSS is not read from DragonFly dumps (unset), so %MEM is "-" all the same.
    return detail::bsd_system_facts(kernel_, {"_time_second"}, kernel_.pointer_size(), kernel_.pointer_size());
}

void DragonflyWalker::walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const {
    Walk walk(*this, options, emit, warn);
    if (ps_m_) {
        try {
            walk.ncpus = static_cast<std::int32_t>(kernel_.read_uint(kernel_.symbol_value("_ncpus"), 4));
        } catch (Error& e) {
            e.add_context("ncpus");
            warn(e);
        }
    }
    std::uint64_t budget = detail::process_budget(kernel_, "_nprocs", proc_.size, warn);

    // Whether the walk ends after this list: nprocs reached, or a bucket
    // whose head cannot be read.  The buckets are one array, so the ones
    // after it are past the dump's memory too: a warning each, for up to
    // max_allproc_hsize of them, took seconds.
    const auto walk_one = [&](const std::string& list, std::uint64_t head_address,
                              std::optional<std::pair<std::uint64_t, std::uint64_t>> bucket) {
        std::uint64_t head = 0;
        try {
            head = kernel_.read_pointer(head_address);
        } catch (Error& e) {
            e.add_context(bucket ? fmt::format("{} of {}; the hash is not read further", list, bucket->second) : list);
            warn(e);
            return bucket.has_value();
        }
        const auto result = detail::walk_list(list, head, budget, walk.visited, warn,
                                              [&](std::uint64_t a, std::uint64_t) { return walk.visit(a, bucket); });
        budget -= std::min(budget, result.counted);
        return !result.complete && budget == 0;  // nprocs reached: the rest is past it
    };

    if (lists_ == ProcLists::lists) {
        for (const char* list : {"allproc", "zombproc"}) {
            try {
                walk_one(list, kernel_.symbol_value(fmt::format("_{}", list)), std::nullopt);
            } catch (Error& e) {
                e.add_context(list);
                warn(e);
            }
        }
        return;
    }
    std::uint64_t hsize = 0;
    try {
        hsize = kernel_.read_uint(kernel_.symbol_value("_allproc_hsize"), 4);
    } catch (Error& e) {
        e.add_context("allproc_hsize");
        warn(e);
        return;
    }
    if (hsize == 0 || hsize > max_allproc_hsize) {
        warn(Error(ErrorKind::corrupt,
                   fmt::format("allproc_hsize is {}, not between 1 and {}", hsize, max_allproc_hsize)));
        return;
    }
    const char* table = lists_ == ProcLists::procglob ? "procglob" : "allprocs";
    const std::uint64_t base = kernel_.symbol_value(fmt::format("_{}", table));
    // Once nprocs processes are read, one warning says so for the whole hash.
    for (std::uint64_t i = 0; i < hsize; ++i)
        if (walk_one(fmt::format("{}[{}]", table, i), base + i * bucket_stride_ + bucket_head_, std::pair(i, hsize)))
            return;
}

}  // namespace

const LayoutRequest& dragonfly::process_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

namespace detail {

bool dragonfly_accepts(const WalkTarget& target) {
    return target.kernel != nullptr && target.kernel->machine().os == "dragonfly";
}

std::unique_ptr<ProcessWalker> dragonfly_create(const WalkTarget& target) {
    const Kernel& kernel = *target.kernel;
    const Namelist& namelist = kernel.namelist();  // usage error without -N
    // The generation of the kernel's lists, by the symbols it has.
    const auto& symbols = namelist.symbols();
    const ProcLists lists = symbols.lookup("_procglob") != nullptr   ? ProcLists::procglob
                            : symbols.lookup("_allprocs") != nullptr ? ProcLists::allprocs
                                                                     : ProcLists::lists;
    switch (lists) {
        case ProcLists::procglob:
            detail::require_symbols(namelist, {"_nprocs", "_procglob", "_allproc_hsize"});
            break;
        case ProcLists::allprocs:
            detail::require_symbols(namelist, {"_nprocs", "_allprocs", "_allproc_hsize"});
            break;
        case ProcLists::lists:
            detail::require_symbols(namelist, {"_nprocs", "_allproc", "_zombproc"});
            break;
    }
    StructLayouts layouts =
        detail::bsd_dump_layouts(kernel, "DragonFly", dragonfly::process_layout_request(),
                                 {.os = "dragonfly", .file = target.layout_file, .dirs = target.layout_dirs});
    if (lists == ProcLists::procglob && layouts.find("procglob") == nullptr)
        throw_not_found(
            fmt::format("{} lacks struct procglob, which the kernel's procglob hash needs", layouts.source));
    return std::make_unique<DragonflyWalker>(kernel, std::move(layouts), lists);
}

}  // namespace detail

}  // namespace kvm
