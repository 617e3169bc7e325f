// Processes of a dead Linux kernel, on the structure layouts of its own BTF
// (read out of the dump between __start_BTF and __stop_BTF): no debuginfo
// package, no offsets compiled in.
//
// The walk (every name below is a member the LayoutRequest asks for):
//   - init_task.tasks is the circular list of thread-group leaders, one
//     row per process; init_task itself (the idle task, PID 0) is not
//     listed, as ps does not list it;
//   - each process's threads are signal->thread_head through
//     task->thread_node (3.14 onwards), or the circle of task->thread_group
//     on kernels without them; -H gives one row per thread;
//   - PID is tgid, LID is pid, PPID is real_parent->tgid; credentials are
//     real_cred's (the objective ones /proc shows), cred's without it;
//   - PGID and SID are signal->pids[PIDTYPE_PGID/SID]->numbers[0].nr (the
//     enumerators come from the BTF's enum pid_type), the terminal is
//     signal->tty, named as its driver names it (tty->name; "pts3" is
//     pts/3), its foreground group tty->ctrl.pgrp (tty->pgrp in older kernels);
//   - COMMAND is comm, or for a kernel thread other than a workqueue
//     worker the whole name its struct kthread keeps (5.17 onwards), as
//     /proc shows it;
//   - the state letter is what /proc/PID/stat shows (fs/proc/array.c's
//     task_state_array): the highest bit of (__state | exit_state) among
//     TASK_REPORT's, R when none, I for an idle TASK_UNINTERRUPTIBLE |
//     TASK_NOLOAD, D for TASK_RTLOCK_WAIT.
// Lists are bounded by PID_MAX_LIMIT (no kernel has more tasks than pids)
// and cycle-checked; a bad entry ends its list with a warning.
#include <kvm/btf.h>
#include <kvm/error.h>
#include <kvm/kernel.h>
#include <kvm/layout.h>
#include <kvm/procs.h>

#include "procs/dead_kernel.h"
#include "procs/linux_layouts.h"
#include "procs/user_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace kvm {

namespace {

using Object = detail::KernelObject;

constexpr std::size_t max_driver_name = 64;
constexpr std::size_t max_kthread_name = 63;  // /proc shows at most 63 characters of it
constexpr std::uint64_t max_tty_drivers = 4096;
constexpr std::int64_t nice_width = 40;  // NICE_WIDTH: static_prio spans MAX_RT_PRIO .. MAX_RT_PRIO + 39

using detail::member;

LayoutRequest build_request() {
    LayoutRequest r;
    r.structs = {
        {"task_struct",
         {
             member("tasks.next", "next thread-group leader on the task list (list_head tasks)"),
             member("pid", "thread id: LID"),
             member("tgid", "thread-group id: PID"),
             member("__state", "scheduler state bits TASK_* (5.14 onwards)", false),
             member("state", "scheduler state bits TASK_* (before 5.14)", false),
             member("exit_state", "EXIT_ZOMBIE, EXIT_DEAD"),
             member("flags", "PF_* flags: PF_KTHREAD (STAT K), PF_EXITING (STAT E)"),
             member("ptrace", "PT_* flags: PT_PTRACED (STAT X)", false),
             member("static_prio", "priority from the nice value: nice + DEFAULT_PRIO", false),
             member("prio", "the scheduler's dynamic priority: PRI is prio - MAX_RT_PRIO, as /proc shows it", false),
             member("thread_info.cpu", "the CPU the task last ran on: CPUID (5.16 onwards)", false),
             member("cpu", "the CPU the task last ran on: CPUID (before 5.16)", false),
             member("start_boottime", "start, nanoseconds of boot time (5.5 onwards): START", false),
             member("real_start_time", "start, nanoseconds of boot time (before 5.5): START", false),
             member("comm", "command name, TASK_COMM_LEN characters"),
             member("real_parent", "the parent (struct task_struct *): PPID"),
             member("real_cred", "objective credentials (const struct cred *), as /proc shows them", false),
             member("cred", "subjective credentials (const struct cred *)"),
             member("signal", "the thread group's shared state (struct signal_struct *)"),
             member("thread_node.next", "next thread of the group (list_head thread_node, on signal->thread_head)",
                    false),
             member("thread_group.next", "next thread of the group (list_head thread_group, a circle of the threads)",
                    false),
             member("utime", "user time, nanoseconds", false),
             member("stime", "system time, nanoseconds", false),
             member("mm", "address space (struct mm_struct *); NULL for kernel threads", false),
             member("worker_private", "a kernel thread's struct kthread, where the kernel has the member", false),
             member("set_child_tid", "a kernel thread's struct kthread, in kernels without worker_private", false),
         }},
        {"kthread",
         {
             member("full_name", "a kernel thread's whole name (char *), when longer than comm (5.17 onwards)", false),
         }},
        {"signal_struct",
         {
             member("nr_threads", "live threads of the group: NLWP"),
             member("thread_head.next", "first thread of the group (list_head thread_head)", false),
             member("tty", "controlling terminal (struct tty_struct *); NULL without one"),
             member("pids", "process group and session (struct pid *pids[PIDTYPE_MAX])", false),
             member("utime", "user time of the group's dead threads, nanoseconds", false),
             member("stime", "system time of the group's dead threads, nanoseconds", false),
         }},
        {"cred",
         {
             member("uid.val", "real user id (kuid_t)"),
             member("euid.val", "effective user id"),
             member("suid.val", "saved user id"),
             member("gid.val", "real group id (kgid_t)"),
             member("egid.val", "effective group id"),
             member("sgid.val", "saved group id"),
         }},
        {"pid",
         {
             member("numbers", "the ids in each pid namespace (struct upid numbers[]), the initial namespace's first"),
         }},
        {"upid",
         {
             member("nr", "the id in its namespace"),
         }},
        {"tty_struct",
         {
             member("index", "line number within the driver"),
             member("driver", "the driver (struct tty_driver *)"),
             member("name", "the line's name as the kernel names it (\"ttyS0\", \"pts3\")"),
             member("ctrl.pgrp", "foreground process group (struct pid *), in newer kernels", false),
             member("pgrp", "foreground process group (struct pid *), in older kernels", false),
         }},
        {"tty_driver",
         {
             member("name", "name of its lines' devices (const char *): \"ttyS\", \"pts\""),
             member("name_base", "number of the first line's name"),
             member("major", "device major number"),
             member("minor_start", "minor number of the first line"),
             member("num", "number of lines"),
             member("flags", "TTY_DRIVER_* flags: TTY_DRIVER_UNNUMBERED_NODE (one line named as the driver)"),
             member("tty_drivers.next", "next driver on the tty_drivers list"),
         }},
        {"mm_struct",
         {
             member("total_vm", "mapped pages: VSZ", false),
             member("rss_stat.count", "resident pages by kind, MM_* (atomic_long_t count[NR_MM_COUNTERS], before 6.2)",
                    false),
             member("pgd", "the process's top-level page table (pgd_t *, in the direct map)", false),
             member("arg_start", "user address of the arguments, NUL-separated strings", false),
             member("arg_end", "user address just past the arguments", false),
             member("env_start", "user address of the environment, NUL-separated strings", false),
             member("env_end", "user address just past the environment", false),
         }},
        // shadow_timekeeper, for the time of the crash and of the boot.
        {"timekeeper",
         {
             member("xtime_sec", "wall-clock seconds at the last tick: the crash time, for ETIME"),
             member("offs_real", "CLOCK_REALTIME less CLOCK_MONOTONIC, nanoseconds (ktime_t)"),
             member("offs_boot", "CLOCK_BOOTTIME less CLOCK_MONOTONIC, nanoseconds (ktime_t)"),
         },
         false},
    };
    r.flags = {"PF_EXITING",         "PF_KTHREAD",
               "PF_WQ_WORKER",       "PT_PTRACED",
               "TASK_INTERRUPTIBLE", "TASK_UNINTERRUPTIBLE",
               "__TASK_STOPPED",     "__TASK_TRACED",
               "EXIT_DEAD",          "EXIT_ZOMBIE",
               "TASK_PARKED",        "TASK_NOLOAD",
               "TASK_RTLOCK_WAIT",   "TTY_DRIVER_UNNUMBERED_NODE"};
    r.values = {"PIDTYPE_PGID", "PIDTYPE_SID",  "DEFAULT_PRIO", "MAX_RT_PRIO",
                "MM_FILEPAGES", "MM_ANONPAGES", "MM_SHMEMPAGES"};
    return r;
}

NamedValue known(std::string name, std::uint64_t value, std::string field, std::string meaning) {
    return NamedValue{std::move(name), value, std::move(field), std::move(meaning)};
}

// Constants of include/linux/sched.h, include/linux/ptrace.h,
// include/linux/tty_driver.h and include/linux/mm_types_task.h: the same in
// every kernel that has BTF (5.2 onwards; TASK_RTLOCK_WAIT from 5.15, a bit
// no earlier kernel sets).  Enumerators the BTF has (enum pid_type, the
// MM_* counters) are taken from it first.
const std::vector<NamedValue>& known_flags() {
    static const std::vector<NamedValue> flags = {
        known("PF_EXITING", 0x4, "task_struct.flags", "getting shut down"),
        known("PF_KTHREAD", 0x00200000, "task_struct.flags", "a kernel thread"),
        known("PF_WQ_WORKER", 0x20, "task_struct.flags", "a workqueue worker: named by comm, not its full name"),
        known("PT_PTRACED", 0x1, "task_struct.ptrace", "traced"),
        known("TASK_INTERRUPTIBLE", 0x1, "task_struct.__state", "S: interruptible sleep"),
        known("TASK_UNINTERRUPTIBLE", 0x2, "task_struct.__state", "D: uninterruptible sleep"),
        known("__TASK_STOPPED", 0x4, "task_struct.__state", "T: stopped by job control"),
        known("__TASK_TRACED", 0x8, "task_struct.__state", "t: stopped by a tracer"),
        known("EXIT_DEAD", 0x10, "task_struct.exit_state", "X: dead, being released"),
        known("EXIT_ZOMBIE", 0x20, "task_struct.exit_state", "Z: exited, not yet reaped"),
        known("TASK_PARKED", 0x40, "task_struct.__state", "P: a parked kernel thread"),
        known("TASK_NOLOAD", 0x400, "task_struct.__state",
              "with TASK_UNINTERRUPTIBLE: I, an idle sleep that does not count as load"),
        known("TASK_RTLOCK_WAIT", 0x1000, "task_struct.__state", "D: waiting for an rtlock"),
        known("TTY_DRIVER_UNNUMBERED_NODE", 0x80, "tty_driver.flags", "one line, named as the driver"),
    };
    return flags;
}

const std::vector<NamedValue>& known_values() {
    static const std::vector<NamedValue> values = {
        known("PIDTYPE_PGID", 2, "signal_struct.pids", "index of the process group (enum pid_type, 4.19 onwards)"),
        known("PIDTYPE_SID", 3, "signal_struct.pids", "index of the session"),
        known("DEFAULT_PRIO", 120, "task_struct.static_prio", "static_prio of nice 0: MAX_RT_PRIO + 20"),
        known("MAX_RT_PRIO", 100, "task_struct.prio", "the first priority that is not real-time: PRI 0"),
        known("MM_FILEPAGES", 0, "mm_struct.rss_stat.count", "resident file pages"),
        known("MM_ANONPAGES", 1, "mm_struct.rss_stat.count", "resident anonymous pages"),
        known("MM_SHMEMPAGES", 3, "mm_struct.rss_stat.count", "resident shared memory pages"),
    };
    return values;
}

// The kernel's dev_t as user space sees it (new_encode_dev: /proc's tty_nr).
std::uint64_t encode_dev(std::uint64_t major, std::uint64_t minor) {
    return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~std::uint64_t{0xff}) << 12);
}

// "pts3" is /dev/pts/3: devpts names its lines in a directory.
std::string dev_name(std::string kernel_name) {
    if (kernel_name.size() > 3 && kernel_name.starts_with("pts") &&
        kernel_name.find_first_not_of("0123456789", 3) == std::string::npos)
        kernel_name.insert(3, "/");
    return kernel_name;
}

struct CredInfo {
    std::uint32_t uid = ProcInfo::unknown_id, euid = ProcInfo::unknown_id, suid = ProcInfo::unknown_id;
    std::uint32_t gid = ProcInfo::unknown_id, egid = ProcInfo::unknown_id, sgid = ProcInfo::unknown_id;
};

struct TtyInfo {
    std::uint64_t dev = no_dev;
    std::string name;
    std::uint64_t pgrp = 0;  // struct pid *
};

// What a row needs of one task.
struct TaskInfo {
    std::uint64_t address = 0;
    std::int32_t pid = 0;
    std::int32_t tgid = 0;
    std::uint64_t state = 0;
    std::uint64_t exit_state = 0;
    std::uint64_t flags = 0;
    std::uint64_t ptrace = 0;
    std::int64_t static_prio = 0;
    bool has_prio = false;
    std::optional<std::int32_t> priority;  // prio - MAX_RT_PRIO
    std::optional<std::uint32_t> cpu;
    std::optional<std::uint64_t> start_ns;  // boot time
    std::string comm;
    std::uint64_t real_parent = 0;
    std::uint64_t cred = 0;
    std::uint64_t signal = 0;
    std::uint64_t mm = 0;
    std::uint64_t kthread = 0;      // struct kthread *, for kernel threads
    std::uint64_t tasks_next = 0;   // tasks.next: a leader's link on the task list
    std::uint64_t thread_next = 0;  // thread_node.next or thread_group.next
    std::uint64_t time_ns = 0;      // utime + stime
};

struct TaskStateBits {
    std::uint64_t interruptible, uninterruptible, stopped, traced, exit_dead, exit_zombie, parked, noload, rtlock;
};

TaskStateBits state_bits(const StructLayouts& l) {
    return {l.require_flag("TASK_INTERRUPTIBLE"), l.require_flag("TASK_UNINTERRUPTIBLE"),
            l.require_flag("__TASK_STOPPED"),     l.require_flag("__TASK_TRACED"),
            l.require_flag("EXIT_DEAD"),          l.require_flag("EXIT_ZOMBIE"),
            l.require_flag("TASK_PARKED"),        l.require_flag("TASK_NOLOAD"),
            l.require_flag("TASK_RTLOCK_WAIT")};
}

char state_letter(const TaskStateBits& b, std::uint64_t state, std::uint64_t exit_state) {
    // TASK_REPORT, in task_state_array's order (the highest bit wins).
    const std::pair<std::uint64_t, char> report[] = {
        {b.parked, 'P'},  {b.exit_zombie, 'Z'},     {b.exit_dead, 'X'},     {b.traced, 't'},
        {b.stopped, 'T'}, {b.uninterruptible, 'D'}, {b.interruptible, 'S'},
    };
    // A task blocked on an rtlock shows as D even when its state says idle.
    if ((state & b.rtlock) != 0) return 'D';
    const std::uint64_t idle = b.uninterruptible | b.noload;
    if ((state & idle) == idle) return 'I';
    const std::uint64_t bits = state | exit_state;
    for (const auto& [bit, letter] : report)
        if ((bits & bit) != 0) return letter;
    return 'R';
}

class LinuxWalker final : public ProcessWalker {
public:
    LinuxWalker(const Kernel& kernel, StructLayouts layouts, std::uint64_t init_task);

    std::string_view name() const override { return "linux"; }
    void walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const override;
    std::optional<std::uint64_t> tty_device(std::string_view name) const override;
    const StructLayouts* layouts() const override { return &layouts_; }
    SystemFacts system_facts() const override;

private:
    struct Walk;

    // The clocks of shadow_timekeeper (the timekeeper as of the last tick:
    // tk_core's copy is the same after every update).
    struct Clock {
        std::int64_t now_sec;            // CLOCK_REALTIME
        std::int64_t real_less_boot_ns;  // CLOCK_REALTIME less CLOCK_BOOTTIME: the boot's wall-clock time
    };
    // nullopt when the namelist or the layouts lack what it needs; throws
    // when the dump cannot be read there.
    std::optional<Clock> clock() const;

    const MemberLayout* mem(const StructLayout& s, std::string_view name) const { return s.find(name); }
    // The bytes of a structure its members reach: large structures
    // (task_struct is 9 KiB) are read only as far as they are used.
    static std::uint64_t extent(const StructLayout& s) {
        std::uint64_t end = 0;
        for (const auto& member : s.members)
            end = std::max(end, member.offset + member.size);
        return std::min(end, s.size);
    }

    const Kernel& kernel_;
    StructLayouts layouts_;
    std::uint64_t init_task_;
    const StructLayout &task_, &signal_, &cred_, &pid_, &upid_, &tty_, &driver_, &mm_, &kthread_;
    std::uint64_t task_bytes_, signal_bytes_, cred_bytes_, tty_bytes_, driver_bytes_, mm_bytes_;

    const MemberLayout *t_tasks_, *t_pid_, *t_tgid_, *t_state_, *t_exit_state_, *t_flags_, *t_ptrace_, *t_prio_,
        *t_comm_, *t_real_parent_, *t_real_cred_, *t_cred_, *t_signal_, *t_thread_node_, *t_thread_group_, *t_utime_,
        *t_stime_, *t_mm_, *t_kthread_;
    const MemberLayout *s_nr_threads_, *s_thread_head_, *s_tty_, *s_pids_, *s_utime_, *s_stime_;
    const MemberLayout *c_uid_, *c_euid_, *c_suid_, *c_gid_, *c_egid_, *c_sgid_;
    const MemberLayout *p_numbers_, *u_nr_;
    const MemberLayout *y_index_, *y_driver_, *y_name_, *y_pgrp_;
    const MemberLayout *d_name_, *d_name_base_, *d_major_, *d_minor_start_, *d_num_, *d_flags_, *d_list_;
    const MemberLayout *mm_total_vm_, *mm_rss_, *mm_pgd_, *mm_arg_start_, *mm_arg_end_, *mm_env_start_, *mm_env_end_;
    const MemberLayout* k_full_name_;
    const MemberLayout *t_dyn_prio_, *t_cpu_, *t_start_;
    const MemberLayout *k_xtime_sec_ = nullptr, *k_offs_real_ = nullptr, *k_offs_boot_ = nullptr;
    std::uint64_t timekeeper_ = 0;      // shadow_timekeeper; 0: none
    std::uint64_t totalram_pages_ = 0;  // _totalram_pages (atomic_long_t), totalram_pages before 5.0; 0: none
    std::int64_t max_rt_prio_;

    TaskStateBits bits_;
    std::uint64_t pf_exiting_, pf_kthread_, pf_wq_worker_, pt_ptraced_, unnumbered_;
    std::uint64_t pidtype_pgid_, pidtype_sid_;
    std::int64_t default_prio_;
    std::uint64_t mm_file_, mm_anon_, mm_shmem_;
};

LinuxWalker::LinuxWalker(const Kernel& kernel, StructLayouts layouts, std::uint64_t init_task)
    : kernel_(kernel),
      layouts_(std::move(layouts)),
      init_task_(init_task),
      task_(layouts_.get("task_struct")),
      signal_(layouts_.get("signal_struct")),
      cred_(layouts_.get("cred")),
      pid_(layouts_.get("pid")),
      upid_(layouts_.get("upid")),
      tty_(layouts_.get("tty_struct")),
      driver_(layouts_.get("tty_driver")),
      mm_(layouts_.get("mm_struct")),
      kthread_(layouts_.get("kthread")) {
    t_tasks_ = mem(task_, "tasks.next");
    t_pid_ = mem(task_, "pid");
    t_tgid_ = mem(task_, "tgid");
    t_state_ = mem(task_, "__state") != nullptr ? mem(task_, "__state") : mem(task_, "state");
    t_exit_state_ = mem(task_, "exit_state");
    t_flags_ = mem(task_, "flags");
    t_ptrace_ = mem(task_, "ptrace");
    t_prio_ = mem(task_, "static_prio");
    t_comm_ = mem(task_, "comm");
    t_real_parent_ = mem(task_, "real_parent");
    t_real_cred_ = mem(task_, "real_cred");
    t_cred_ = mem(task_, "cred");
    t_signal_ = mem(task_, "signal");
    t_thread_node_ = mem(task_, "thread_node.next");
    t_thread_group_ = mem(task_, "thread_group.next");
    t_utime_ = mem(task_, "utime");
    t_stime_ = mem(task_, "stime");
    t_mm_ = mem(task_, "mm");
    // to_kthread(): worker_private where the kernel has it, set_child_tid before.
    t_kthread_ = mem(task_, "worker_private") != nullptr ? mem(task_, "worker_private") : mem(task_, "set_child_tid");
    s_nr_threads_ = mem(signal_, "nr_threads");
    s_thread_head_ = mem(signal_, "thread_head.next");
    s_tty_ = mem(signal_, "tty");
    s_pids_ = mem(signal_, "pids");
    s_utime_ = mem(signal_, "utime");
    s_stime_ = mem(signal_, "stime");
    c_uid_ = mem(cred_, "uid.val");
    c_euid_ = mem(cred_, "euid.val");
    c_suid_ = mem(cred_, "suid.val");
    c_gid_ = mem(cred_, "gid.val");
    c_egid_ = mem(cred_, "egid.val");
    c_sgid_ = mem(cred_, "sgid.val");
    p_numbers_ = mem(pid_, "numbers");
    u_nr_ = mem(upid_, "nr");
    y_index_ = mem(tty_, "index");
    y_driver_ = mem(tty_, "driver");
    y_name_ = mem(tty_, "name");
    y_pgrp_ = mem(tty_, "ctrl.pgrp") != nullptr ? mem(tty_, "ctrl.pgrp") : mem(tty_, "pgrp");
    d_name_ = mem(driver_, "name");
    d_name_base_ = mem(driver_, "name_base");
    d_major_ = mem(driver_, "major");
    d_minor_start_ = mem(driver_, "minor_start");
    d_num_ = mem(driver_, "num");
    d_flags_ = mem(driver_, "flags");
    d_list_ = mem(driver_, "tty_drivers.next");
    mm_total_vm_ = mem(mm_, "total_vm");
    mm_rss_ = mem(mm_, "rss_stat.count");
    mm_pgd_ = mem(mm_, "pgd");
    mm_arg_start_ = mem(mm_, "arg_start");
    mm_arg_end_ = mem(mm_, "arg_end");
    mm_env_start_ = mem(mm_, "env_start");
    mm_env_end_ = mem(mm_, "env_end");
    // Arguments need every one of them.
    if (mm_pgd_ == nullptr || mm_arg_start_ == nullptr || mm_arg_end_ == nullptr || mm_env_start_ == nullptr ||
        mm_env_end_ == nullptr)
        mm_pgd_ = nullptr;
    k_full_name_ = mem(kthread_, "full_name");
    if (t_kthread_ == nullptr) k_full_name_ = nullptr;
    t_dyn_prio_ = mem(task_, "prio");
    t_cpu_ = mem(task_, "thread_info.cpu") != nullptr ? mem(task_, "thread_info.cpu") : mem(task_, "cpu");
    t_start_ = mem(task_, "start_boottime") != nullptr ? mem(task_, "start_boottime") : mem(task_, "real_start_time");
    if (const StructLayout* tk = layouts_.find("timekeeper"); tk != nullptr) {
        const Symbol* shadow = kernel.symbols().find("shadow_timekeeper");
        k_xtime_sec_ = mem(*tk, "xtime_sec");
        k_offs_real_ = mem(*tk, "offs_real");
        k_offs_boot_ = mem(*tk, "offs_boot");
        if (shadow != nullptr && k_xtime_sec_ != nullptr && k_offs_real_ != nullptr && k_offs_boot_ != nullptr)
            timekeeper_ = shadow->value;
    }
    for (const char* name : {"_totalram_pages", "totalram_pages"})
        if (const Symbol* s = kernel.symbols().find(name); s != nullptr && totalram_pages_ == 0)
            totalram_pages_ = s->value;

    // Which kernel: one of each pair must be there.
    if (t_state_ == nullptr)
        throw_not_found(fmt::format("{} lacks task_struct.__state and task_struct.state", layouts_.source));
    if ((t_thread_node_ == nullptr || s_thread_head_ == nullptr) && t_thread_group_ == nullptr)
        throw_not_found(
            fmt::format("{} lacks task_struct.thread_node with signal_struct.thread_head, and "
                        "task_struct.thread_group: no way to the threads",
                        layouts_.source));
    if (t_thread_node_ == nullptr || s_thread_head_ == nullptr) t_thread_node_ = s_thread_head_ = nullptr;
    const std::uint64_t ptr = kernel.pointer_size();
    if (s_pids_ != nullptr && (s_pids_->count == 0 || s_pids_->size != s_pids_->count * ptr))
        throw_corrupt(fmt::format("{}: signal_struct.pids is not an array of pointers", layouts_.source));
    if (mm_rss_ != nullptr && (mm_rss_->count == 0 || mm_rss_->size % mm_rss_->count != 0))
        throw_corrupt(fmt::format("{}: mm_struct.rss_stat.count is not an array of counters", layouts_.source));
    for (const MemberLayout* p : {t_tasks_, t_real_parent_, t_cred_, t_signal_, s_tty_, y_driver_, d_name_, d_list_})
        if (p->size != ptr)
            throw_corrupt(
                fmt::format("{}: {} is {} bytes, not a {}-byte pointer", layouts_.source, p->name, p->size, ptr));

    task_bytes_ = extent(task_);
    signal_bytes_ = extent(signal_);
    cred_bytes_ = extent(cred_);
    tty_bytes_ = extent(tty_);
    driver_bytes_ = extent(driver_);
    mm_bytes_ = extent(mm_);

    bits_ = state_bits(layouts_);
    pf_exiting_ = layouts_.require_flag("PF_EXITING");
    pf_kthread_ = layouts_.require_flag("PF_KTHREAD");
    pf_wq_worker_ = layouts_.require_flag("PF_WQ_WORKER");
    pt_ptraced_ = layouts_.require_flag("PT_PTRACED");
    unnumbered_ = layouts_.require_flag("TTY_DRIVER_UNNUMBERED_NODE");
    pidtype_pgid_ = layouts_.require_value("PIDTYPE_PGID");
    pidtype_sid_ = layouts_.require_value("PIDTYPE_SID");
    default_prio_ = static_cast<std::int64_t>(layouts_.require_value("DEFAULT_PRIO"));
    max_rt_prio_ = static_cast<std::int64_t>(layouts_.require_value("MAX_RT_PRIO"));
    mm_file_ = layouts_.require_value("MM_FILEPAGES");
    mm_anon_ = layouts_.require_value("MM_ANONPAGES");
    mm_shmem_ = layouts_.require_value("MM_SHMEMPAGES");
}

struct LinuxWalker::Walk {
    const LinuxWalker& w;
    const WalkOptions& options;
    const ProcEmit& emit;
    const ProcWarn& warn;
    detail::PageCache memory{w.kernel_};
    // Tasks met, by address: a repeat or an overlap ends the list that
    // meets it; and no more of them than the dump's memory holds.  A task
    // is at least as long as the members read (the kernel allocates less
    // than sizeof: the FPU state at its end is sized at boot).
    detail::EntrySet leaders{"task_struct", w.task_bytes_};  // the task list
    detail::EntrySet threads{"task_struct", w.task_bytes_};  // every thread list (each task is in one group)
    std::uint64_t thread_budget = detail::entries_bound(w.kernel_, w.task_bytes_);
    std::unordered_map<std::uint64_t, std::int32_t> tgids;  // parents
    std::unordered_map<std::uint64_t, CredInfo> creds;
    std::unordered_map<std::uint64_t, std::int32_t> pid_numbers;  // struct pid * -> its nr
    std::unordered_map<std::uint64_t, TtyInfo> ttys;
    // Processes whose user pages the dump lacks: said once, at the end of the walk.
    detail::UserMemoryMisses user_memory_misses;
    std::optional<Clock> clock;  // for START and %CPU

    Object read(std::uint64_t bytes, std::uint64_t address) {
        return Object(memory, w.kernel_.order(), bytes, address);
    }

    std::uint64_t pointer(std::uint64_t address) {
        Bytes b(w.kernel_.pointer_size());
        memory.read(address, b);
        return load_uint(b.data(), w.kernel_.pointer_size(), w.kernel_.order());
    }

    void problem(const ProcInfo& p, std::string_view what, std::uint64_t address, Error& e) const {
        e.add_context(fmt::format("pid {} ({}): {} at {}", p.pid, hex(p.paddr), what, hex(address)));
        warn(e);
    }

    TaskInfo task(std::uint64_t address) {
        const Object o = read(w.task_bytes_, address);
        TaskInfo t;
        t.address = address;
        t.pid = static_cast<std::int32_t>(o.s(w.t_pid_));
        t.tgid = static_cast<std::int32_t>(o.s(w.t_tgid_));
        t.state = o.u(w.t_state_);
        t.exit_state = o.u(w.t_exit_state_);
        t.flags = o.u(w.t_flags_);
        t.ptrace = o.u(w.t_ptrace_);
        t.has_prio = w.t_prio_ != nullptr;
        t.static_prio = o.s(w.t_prio_);
        if (w.t_dyn_prio_ != nullptr) t.priority = static_cast<std::int32_t>(o.s(w.t_dyn_prio_) - w.max_rt_prio_);
        if (w.t_cpu_ != nullptr) t.cpu = static_cast<std::uint32_t>(o.u(w.t_cpu_));
        if (w.t_start_ != nullptr) t.start_ns = o.u(w.t_start_);
        t.comm = o.str(w.t_comm_);
        t.real_parent = o.u(w.t_real_parent_);
        t.cred = w.t_real_cred_ != nullptr && o.u(w.t_real_cred_) != 0 ? o.u(w.t_real_cred_) : o.u(w.t_cred_);
        t.signal = o.u(w.t_signal_);
        t.mm = o.u(w.t_mm_);
        // /proc names workqueue workers (kworkers, rescuers) by comm.
        if ((t.flags & w.pf_kthread_) != 0 && (t.flags & w.pf_wq_worker_) == 0) t.kthread = o.u(w.t_kthread_);
        t.tasks_next = o.u(w.t_tasks_);
        t.thread_next = o.u(w.t_thread_node_ != nullptr ? w.t_thread_node_ : w.t_thread_group_);
        t.time_ns = o.u(w.t_utime_) + o.u(w.t_stime_);
        if (t.kthread != 0 && w.k_full_name_ != nullptr) {
            // The whole name, when the kernel kept one; comm otherwise.
            try {
                const Object k = read(w.k_full_name_->offset + w.k_full_name_->size, t.kthread);
                if (const std::uint64_t name = k.u(w.k_full_name_); name != 0) {
                    std::string full = memory.read_string(name, max_kthread_name);
                    if (!full.empty()) t.comm = std::move(full);
                }
            } catch (Error& e) {
                e.add_context(
                    fmt::format("pid {} ({}): kernel thread name at {}", t.pid, hex(address), hex(t.kthread)));
                warn(e);
            }
        }
        return t;
    }

    std::int32_t tgid_of(std::uint64_t address) {
        if (auto it = tgids.find(address); it != tgids.end()) return it->second;
        const Object o = read(w.t_tgid_->offset + w.t_tgid_->size, address);
        return tgids.emplace(address, static_cast<std::int32_t>(o.s(w.t_tgid_))).first->second;
    }

    const CredInfo& cred(std::uint64_t address) {
        if (auto it = creds.find(address); it != creds.end()) return it->second;
        const Object o = read(w.cred_bytes_, address);
        const auto id = [&](const MemberLayout* m) { return static_cast<std::uint32_t>(o.u(m)); };
        return creds
            .emplace(address,
                     CredInfo{id(w.c_uid_), id(w.c_euid_), id(w.c_suid_), id(w.c_gid_), id(w.c_egid_), id(w.c_sgid_)})
            .first->second;
    }

    // The id of a struct pid in the initial namespace (numbers[0].nr).
    std::int32_t pid_number(std::uint64_t address) {
        if (auto it = pid_numbers.find(address); it != pid_numbers.end()) return it->second;
        const Object o = read(w.u_nr_->offset + w.u_nr_->size, address + w.p_numbers_->offset);
        return pid_numbers.emplace(address, static_cast<std::int32_t>(o.s(w.u_nr_))).first->second;
    }

    const TtyInfo& tty(std::uint64_t address) {
        if (auto it = ttys.find(address); it != ttys.end()) return it->second;
        const Object o = read(w.tty_bytes_, address);
        TtyInfo t;
        t.name = dev_name(o.str(w.y_name_));
        t.pgrp = o.u(w.y_pgrp_);
        const std::uint64_t driver = o.u(w.y_driver_);
        if (driver != 0) {
            const Object d = read(w.driver_bytes_, driver);
            t.dev = encode_dev(d.u(w.d_major_),
                               static_cast<std::uint64_t>(d.s(w.d_minor_start_) + o.s(w.y_index_)) & 0xfffff);
        }
        return ttys.emplace(address, std::move(t)).first->second;
    }

    // The group's threads, the leader among them.
    std::vector<TaskInfo> thread_list(ProcInfo& p, const TaskInfo& leader, std::uint64_t head) {
        std::vector<TaskInfo> out;
        const std::uint64_t link = w.t_thread_node_ != nullptr ? w.t_thread_node_->offset : w.t_thread_group_->offset;
        // thread_head is a list head of its own; thread_group is a circle
        // through the leader.
        std::uint64_t first = 0;
        std::uint64_t end = 0;
        if (w.t_thread_node_ != nullptr) {
            end = head;
            first = pointer(head);
        } else {
            end = leader.address + link;
            out.push_back(leader);
            first = leader.thread_next;
        }
        const auto list = [&] { return fmt::format("pid {} ({}): thread list", p.pid, hex(p.paddr)); };
        const auto address_of = [&](std::uint64_t node) -> std::uint64_t {
            if (node == end) return 0;
            if (node == 0) throw_corrupt("a NULL link in a circular list");
            if (node < link) throw_corrupt(fmt::format("link {} is not inside a task_struct", hex(node)));
            return node - link;
        };
        const detail::ListResult result = detail::walk_list(
            list, address_of(first), thread_budget, threads, warn, [&](std::uint64_t address, std::uint64_t) {
                if (address == leader.address) {
                    out.push_back(leader);
                } else {
                    out.push_back(task(address));
                }
                return detail::ListStep{address_of(out.back().thread_next), true};
            });
        thread_budget -= std::min(thread_budget, result.counted);
        return out;
    }

    void fill_ids(ProcInfo& p, const TaskInfo& t, const Object& signal) {
        if (t.real_parent != 0) {
            try {
                p.ppid = t.real_parent == w.init_task_ ? 0 : tgid_of(t.real_parent);
            } catch (Error& e) {
                problem(p, "parent", t.real_parent, e);
            }
        }
        if (t.cred != 0) {
            try {
                const CredInfo& c = cred(t.cred);
                p.uid = c.euid;
                p.ruid = c.uid;
                p.svuid = c.suid;
                p.gid = c.egid;
                p.rgid = c.gid;
                p.svgid = c.sgid;
            } catch (Error& e) {
                problem(p, "credentials", t.cred, e);
            }
        }
        if (w.s_pids_ != nullptr) {
            MemberLayout slot = *w.s_pids_;
            slot.size = w.kernel_.pointer_size();
            slot.count = 0;
            const auto id = [&](std::uint64_t type, std::int32_t& out, std::string_view what) {
                if (type >= w.s_pids_->count) return;
                slot.offset = w.s_pids_->offset + type * slot.size;
                const std::uint64_t pid = load_member_unsigned(signal.bytes(), slot, w.kernel_.order());
                if (pid == 0) return;
                try {
                    out = pid_number(pid);
                } catch (Error& e) {
                    problem(p, what, pid, e);
                }
            };
            id(w.pidtype_pgid_, p.pgid, "process group");
            id(w.pidtype_sid_, p.sid, "session");
        }
        p.session_leader = p.sid != 0 && p.sid == p.pid;
        if (const std::uint64_t tty_address = signal.u(w.s_tty_); tty_address != 0) {
            try {
                const TtyInfo& y = tty(tty_address);
                p.tdev = y.dev;
                p.tty = y.name;
                p.ctty_vnode = true;
                if (y.pgrp != 0) p.tpgid = pid_number(y.pgrp);
            } catch (Error& e) {
                problem(p, "terminal", tty_address, e);
            }
        }
    }

    // Only for rows that pass the filters: user pages are many reads.
    void fill_user_memory(ProcInfo& p, std::uint64_t mm_address) {
        const bool args = options.arguments, env = options.environment;
        if (w.mm_pgd_ == nullptr || (!args && !env)) return;
        if (mm_address == 0) {
            // Kernel threads and zombies have no user memory: nothing to read.
            p.argv_read = args;
            p.envv_read = env;
            return;
        }
        try {
            const Object mm = read(w.mm_bytes_, mm_address);
            const detail::UserMemory user(w.kernel_, w.kernel_.translate(mm.u(w.mm_pgd_)).pa);
            if (args) {
                p.argv = user.strings_between(mm.u(w.mm_arg_start_), mm.u(w.mm_arg_end_), "arguments");
                p.argv_read = true;
            }
            if (env) {
                p.envv = user.strings_between(mm.u(w.mm_env_start_), mm.u(w.mm_env_end_), "environment");
                p.envv_read = true;
            }
        } catch (const Error& e) {
            user_memory_misses.record(p, e);
        }
    }

    void fill_vm(ProcInfo& p, const TaskInfo& t) {
        if (t.mm == 0) {
            // A kernel thread maps nothing of its own.
            p.vsz_kib = 0;
            p.rss_kib = 0;
            return;
        }
        if (w.mm_total_vm_ == nullptr) return;
        try {
            const Object o = read(w.mm_bytes_, t.mm);
            const std::uint64_t page = w.kernel_.arch().page_size;
            p.vsz_kib = o.u(w.mm_total_vm_) * page / 1024;
            if (w.mm_rss_ != nullptr) {
                MemberLayout counter = *w.mm_rss_;
                counter.size = w.mm_rss_->size / w.mm_rss_->count;
                counter.count = 0;
                std::int64_t pages = 0;
                for (const std::uint64_t kind : {w.mm_file_, w.mm_anon_, w.mm_shmem_}) {
                    if (kind >= w.mm_rss_->count) continue;
                    counter.offset = w.mm_rss_->offset + kind * counter.size;
                    pages += load_member_signed(o.bytes(), counter, w.kernel_.order());
                }
                p.rss_kib = static_cast<std::uint64_t>(std::max<std::int64_t>(pages, 0)) * page / 1024;
            }
        } catch (Error& e) {
            problem(p, "address space", t.mm, e);
        }
    }

    detail::ListStep visit(std::uint64_t address, std::uint64_t head) {
        const TaskInfo leader = task(address);
        const std::uint64_t next_link = leader.tasks_next;
        detail::ListStep step{0, true};
        if (next_link == 0) {
            warn(Error(ErrorKind::corrupt,
                       fmt::format("task list: pid {} ({}) has a NULL next link; the list ends there", leader.tgid,
                                   hex(address))));
        } else if (next_link != head) {
            if (next_link < w.t_tasks_->offset)
                throw_corrupt(fmt::format("next link {} is not inside a task_struct", hex(next_link)));
            step.next = next_link - w.t_tasks_->offset;
        }

        ProcInfo p;
        p.paddr = address;
        p.laddr = address;
        p.pid = leader.tgid;
        p.lid = leader.pid;
        p.comm = leader.comm;
        p.state = static_cast<std::int64_t>(leader.state);
        p.lwp_state = static_cast<std::int64_t>(leader.state);
        p.flags = leader.flags;
        p.raw = {{"exit_state", leader.exit_state}, {"ptrace", leader.ptrace}};
        p.nice = leader.has_prio ? static_cast<int>(std::clamp<std::int64_t>(leader.static_prio - w.default_prio_,
                                                                             -nice_width / 2, nice_width / 2 - 1))
                                 : 0;
        p.zombie = (leader.exit_state & (w.bits_.exit_zombie | w.bits_.exit_dead)) != 0;
        p.system = (leader.flags & w.pf_kthread_) != 0;
        p.emul = "linux";
        p.priority = leader.priority;
        p.cpuid = leader.cpu;
        if (leader.start_ns) {
            p.raw.emplace_back("start_boottime", *leader.start_ns);
            // Both clocks come from the dump: a sum past 64 bits leaves START unknown.
            std::int64_t start_ns = 0;
            if (clock && *leader.start_ns <= static_cast<std::uint64_t>(INT64_MAX) &&
                !__builtin_add_overflow(static_cast<std::int64_t>(*leader.start_ns), clock->real_less_boot_ns,
                                        &start_ns))
                p.start_usec = start_ns / 1000;
        }
        // %CPU as Linux's ps computes it: over the time since the start.
        const auto pctcpu = [&](std::uint64_t rtime_usec) -> std::optional<std::uint32_t> {
            std::int64_t now_usec = 0, elapsed_usec = 0;
            if (!p.start_usec || !clock || __builtin_mul_overflow(clock->now_sec, 1000000, &now_usec) ||
                __builtin_sub_overflow(now_usec, *p.start_usec, &elapsed_usec))
                return std::nullopt;
            return lifetime_pctcpu_tenths(rtime_usec, elapsed_usec);
        };

        std::vector<TaskInfo> thread_rows;
        std::uint64_t dead_threads_ns = 0;
        if (leader.signal != 0) {
            try {
                const Object signal = read(w.signal_bytes_, leader.signal);
                p.nlwps = static_cast<std::int32_t>(signal.s(w.s_nr_threads_));
                dead_threads_ns = signal.u(w.s_utime_) + signal.u(w.s_stime_);
                fill_ids(p, leader, signal);
                try {
                    thread_rows = thread_list(
                        p, leader,
                        w.s_thread_head_ != nullptr ? leader.signal + w.s_thread_head_->offset : std::uint64_t{0});
                } catch (Error& e) {
                    problem(p, "thread list", leader.signal, e);
                }
            } catch (Error& e) {
                problem(p, "signal_struct", leader.signal, e);
            }
        }
        if (thread_rows.empty()) thread_rows.push_back(leader);
        fill_vm(p, leader);

        p.rtime_usec = dead_threads_ns / 1000;
        for (const TaskInfo& t : thread_rows)
            p.rtime_usec += t.time_ns / 1000;
        p.pctcpu_tenths = pctcpu(p.rtime_usec);

        const auto flags_of = [&](const TaskInfo& t) {
            return StatFlags{.nice = p.nice,
                             .traced = (t.ptrace & w.pt_ptraced_) != 0,
                             // Every zombie is exiting: Z says it.
                             .exiting = (t.flags & w.pf_exiting_) != 0 && !p.zombie,
                             .system = p.system,
                             .session_leader = p.session_leader,
                             .multithreaded = p.nlwps > 1,
                             .foreground = p.tdev != no_dev && p.tpgid == p.pgid};
        };

        if (!options.per_lwp) {
            // /proc/PID/stat shows the leader's own state.
            p.stat = stat_letters(state_letter(w.bits_, leader.state, leader.exit_state), flags_of(leader));
            if (matches_all(p, options.filters)) {
                fill_user_memory(p, leader.mm);
                emit(p);
            }
            return step;
        }
        bool user_memory_read = false;
        for (const TaskInfo& t : thread_rows) {
            ProcInfo row = p;
            row.lwp_row = true;
            row.lid = t.pid;
            row.laddr = t.address;
            row.lwp_state = static_cast<std::int64_t>(t.state);
            row.lname = t.comm;
            row.rtime_usec = t.time_ns / 1000;
            row.pctcpu_tenths = pctcpu(row.rtime_usec);
            row.priority = t.priority;
            row.cpuid = t.cpu;
            row.raw = {{"exit_state", t.exit_state}, {"ptrace", t.ptrace}, {"flags", t.flags}};
            if (leader.start_ns) row.raw.emplace_back("start_boottime", *leader.start_ns);
            row.stat = stat_letters(state_letter(w.bits_, t.state, t.exit_state), flags_of(t));
            if (!matches_all(row, options.filters)) continue;
            // The threads share the leader's address space: read once.
            if (!user_memory_read) {
                fill_user_memory(p, leader.mm);
                user_memory_read = true;
            }
            row.argv = p.argv;
            row.envv = p.envv;
            row.argv_read = p.argv_read;
            row.envv_read = p.envv_read;
            row.user_memory_error = p.user_memory_error;
            emit(row);
        }
        return step;
    }
};

std::optional<LinuxWalker::Clock> LinuxWalker::clock() const {
    if (timekeeper_ == 0) return std::nullopt;
    const std::uint64_t bytes =
        std::max({k_xtime_sec_->offset + k_xtime_sec_->size, k_offs_real_->offset + k_offs_real_->size,
                  k_offs_boot_->offset + k_offs_boot_->size});
    detail::PageCache memory(kernel_, 4);
    const Object o(memory, kernel_.order(), bytes, timekeeper_);
    return Clock{o.s(k_xtime_sec_), o.s(k_offs_real_) - o.s(k_offs_boot_)};
}

SystemFacts LinuxWalker::system_facts() const {
    SystemFacts facts;
    try {
        if (const auto c = clock()) facts.now_sec = c->now_sec;
    } catch (const Error&) {
        // The walk has said so; ETIME prints "-".
    }
    if (totalram_pages_ != 0) {
        try {
            Bytes b(kernel_.pointer_size());
            kernel_.read(totalram_pages_, b);
            facts.physmem_kib =
                load_uint(b.data(), kernel_.pointer_size(), kernel_.order()) * kernel_.arch().page_size / 1024;
        } catch (const Error&) {
            // %MEM prints "-".
        }
    }
    return facts;
}

void LinuxWalker::walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const {
    Walk walk{*this, options, emit, warn};
    try {
        walk.clock = clock();
    } catch (Error& e) {
        e.add_context("shadow_timekeeper (the clocks, for START and %CPU)");
        warn(e);
    }
    const std::uint64_t head = init_task_ + t_tasks_->offset;
    std::uint64_t first = 0;
    try {
        first = walk.pointer(head);
    } catch (Error& e) {
        e.add_context("init_task.tasks");
        warn(e);
        return;
    }
    if (first == head) return;
    if (first == 0 || first < t_tasks_->offset) {
        warn(Error(ErrorKind::corrupt, fmt::format("task list: init_task.tasks.next is {}", hex(first))));
        return;
    }
    walk.leaders.insert(init_task_);
    detail::walk_list("task list (init_task.tasks)", first - t_tasks_->offset,
                      detail::entries_bound(kernel_, task_bytes_), walk.leaders, warn,
                      [&](std::uint64_t address, std::uint64_t) { return walk.visit(address, head); });
    walk.user_memory_misses.note(options, "a filtered dump");
}

std::optional<std::uint64_t> LinuxWalker::tty_device(std::string_view name) const {
    if (name.starts_with("/dev/")) name.remove_prefix(5);
    std::string wanted(name);
    if (wanted.starts_with("pts/")) wanted.erase(3, 1);  // the kernel's name of /dev/pts/N is ptsN
    const Symbol* list = kernel_.symbols().find("tty_drivers");
    if (list == nullptr) return std::nullopt;
    detail::PageCache memory(kernel_, 64);
    std::unordered_set<std::uint64_t> seen;
    std::optional<std::uint64_t> found;
    const ProcWarn ignore = [](const Error&) {};
    try {
        const auto address_of = [&](std::uint64_t node) -> std::uint64_t {
            return node == list->value || node < d_list_->offset ? 0 : node - d_list_->offset;
        };
        Bytes first(kernel_.pointer_size());
        memory.read(list->value, first);
        detail::walk_list("tty_drivers", address_of(load_uint(first.data(), kernel_.pointer_size(), kernel_.order())),
                          max_tty_drivers, seen, ignore, [&](std::uint64_t address, std::uint64_t) {
                              const Object d(memory, kernel_.order(), driver_bytes_, address);
                              const detail::ListStep step{address_of(d.u(d_list_)), true};
                              const std::string driver = memory.read_string(d.u(d_name_), max_driver_name);
                              if (driver.empty() || !wanted.starts_with(driver) || found) return step;
                              const std::uint64_t major = d.u(d_major_);
                              const std::int64_t minor_start = d.s(d_minor_start_);
                              if ((d.u(d_flags_) & unnumbered_) != 0) {
                                  if (wanted == driver)
                                      found = encode_dev(major, static_cast<std::uint64_t>(minor_start));
                                  return step;
                              }
                              const std::string_view digits = std::string_view(wanted).substr(driver.size());
                              std::int64_t n = 0;
                              const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
                              if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
                                  return step;
                              const std::int64_t index = n - d.s(d_name_base_);
                              if (index >= 0 && static_cast<std::uint64_t>(index) < d.u(d_num_))
                                  found = encode_dev(major, static_cast<std::uint64_t>(minor_start + index));
                              return step;
                          });
    } catch (const Error&) {
        return found;
    }
    return found;
}

}  // namespace

const LayoutRequest& linux_kernel::process_layout_request() {
    static const LayoutRequest request = build_request();
    return request;
}

char linux_kernel::task_state_letter(const StructLayouts& constants, std::uint64_t state, std::uint64_t exit_state) {
    return state_letter(state_bits(constants), state, exit_state);
}

StructLayouts linux_kernel::known_constants() {
    StructLayouts l;
    l.os = "linux";
    l.source = "kvmkit's table of Linux constants";
    l.flags = known_flags();
    l.values = known_values();
    return l;
}

namespace detail {

bool linux_accepts(const WalkTarget& target) {
    return target.kernel != nullptr && target.kernel->machine().os == "linux";
}

std::unique_ptr<ProcessWalker> linux_create(const WalkTarget& target) {
    const Kernel& kernel = *target.kernel;
    if (!kernel.has_namelist())
        throw Error(ErrorKind::usage,
                    "listing the processes of a Linux dump needs the kernel's symbols (init_task, and __start_BTF "
                    "and __stop_BTF for its type information): give -N System.map, the crashed kernel's "
                    "/proc/kallsyms, or its vmlinux");
    const Symbol* init_task = kernel.namelist().symbols().find("init_task");
    if (init_task == nullptr) {
        Error e(ErrorKind::not_found, "init_task: no such symbol");
        e.with_path(kernel.namelist().path());
        throw e;
    }
    StructLayouts layouts = linux_dump_layouts(kernel, linux_kernel::process_layout_request(), target.layout_file,
                                               target.layout_dirs, known_flags(), known_values());
    return std::make_unique<LinuxWalker>(kernel, std::move(layouts), init_task->value);
}

StructLayouts linux_dump_layouts(const Kernel& kernel, const LayoutRequest& request,
                                 const std::optional<std::string>& layout_file, const std::vector<std::string>& dirs,
                                 const std::vector<NamedValue>& flags, const std::vector<NamedValue>& values) {
    const Namelist& namelist = kernel.namelist();
    const auto info = kernel.machine().info.find("OSRELEASE");
    const std::string release =
        info == kernel.machine().info.end() ? std::string() : detail::major_release(info->second);

    const auto kernel_btf = [&kernel](const LayoutRequest& wanted) -> std::optional<StructLayouts> {
        const Bytes blob = btf::read_kernel_blob(kernel);
        const std::uint64_t start = kernel.symbols().find("__start_BTF")->value;
        const btf::Types types(blob, fmt::format("kernel memory at __start_BTF ({})", hex(start)));
        StructLayouts l = types.layouts(wanted);
        if (l.pointer_size == 0) l.pointer_size = kernel.pointer_size();
        l.source = fmt::format("the kernel's BTF (__start_BTF..__stop_BTF, {} bytes at {})", blob.size(), hex(start));
        l.derived = fmt::format(
            "structure layouts read with libbpf from the kernel's own BTF in the dump ({} bytes "
            "at __start_BTF, {}, {} types)",
            blob.size(), hex(start), types.type_count() - 1);
        return l;
    };
    LayoutSearch search{.os = "linux",
                        .release = release,
                        .arch = std::string(kernel.arch().name),
                        .file = layout_file,
                        .namelist = &namelist,
                        .dirs = dirs,
                        .kernel_type_info = kernel_btf,
                        .known_flags = flags,
                        .known_values = values};
    StructLayouts layouts = resolve_layouts(search, request);
    detail::check_abi(layouts, kernel);
    return layouts;
}

}  // namespace detail

}  // namespace kvm
