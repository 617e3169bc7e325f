// Processes of a dump or of the running host (libkvm's kvm_getproc2,
// kvm_getlwps, kvm_getargv, kvm_getenvv, kvm_uread).
//
// A ProcessWalker turns one kind of system into normalized ProcInfo
// records (kinfo_proc2-like) and reports every problem with one item to a
// warn callback while the walk goes on (llvm-nm's model): a cycle, a
// pointer outside the dump or an over-long list ends that list with a
// warning and keeps the rows read so far.
//
// Walkers are rows of all_process_walkers(), chosen by what the target is:
// a dump's MachineState::os ("netbsd", "linux"), or the running host.
// Adding one is one file in src/procs/ plus one row:
//   - accepts(): true for the targets it handles (kernel->machine().os);
//   - create(): resolve what it needs up front (symbols, layouts through
//     resolve_layouts() with its LayoutRequest), so errors surface before
//     any output;
//   - walk(): emit one ProcInfo per process (per LWP with per_lwp) that
//     passes every filter (matches_all), bounded as bounded_list() in
//     src/procs/list_walk.h bounds lists, and fill `stat` with
//     stat_letters();
//   - tty_device(): how the system names terminals, for -t.
#pragma once

#include <kvm/bytes.h>
#include <kvm/error.h>
#include <kvm/layout.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvm {

class Kernel;

// KERN_PROC_* operations (the same numbers on NetBSD and DragonFly).
enum class ProcOp : int {
    all = 0,
    pid = 1,
    pgrp = 2,
    session = 3,
    tty = 4,
    uid = 5,   // effective user id
    ruid = 6,  // real user id
    gid = 7,   // effective group id
    rgid = 8,  // real group id
};
std::string_view to_string(ProcOp op);

// NODEV: no terminal.  As a KERN_PROC_TTY argument it selects the
// processes without a controlling terminal.
inline constexpr std::uint64_t no_dev = ~std::uint64_t{0};
// KERN_PROC_TTY_REVOKE ((dev_t)-2): as a KERN_PROC_TTY argument, the
// processes whose controlling terminal has been revoked (ctty_vnode false).
inline constexpr std::uint64_t tty_revoked = ~std::uint64_t{1};

struct ProcFilter {
    ProcOp op = ProcOp::all;
    // A pid, pgid, sid, uid or gid; for ProcOp::tty a dev_t, no_dev or tty_revoked.
    std::uint64_t arg = 0;
};

// One process, or with per-LWP output one LWP of it.  Fields a source does
// not have keep their defaults (documented per field).
struct ProcInfo {
    std::int32_t pid = 0;
    std::int32_t ppid = 0;
    std::int32_t pgid = 0;
    std::int32_t sid = 0;
    std::int32_t tpgid = -1;  // foreground process group of the controlling tty; -1 none
    // Credentials.  unknown_id when they could not be read.
    static constexpr std::uint32_t unknown_id = ~std::uint32_t{0};
    std::uint32_t uid = unknown_id;  // effective
    std::uint32_t ruid = unknown_id;
    std::uint32_t svuid = unknown_id;
    std::uint32_t gid = unknown_id;  // effective
    std::uint32_t rgid = unknown_id;
    std::uint32_t svgid = unknown_id;
    std::vector<std::uint32_t> groups;

    // Controlling terminal: tdev is no_dev without one.  tty is its name
    // without "/dev/" ("pts/0"), empty when unknown.  ctty_vnode: the
    // session still holds the terminal's vnode (ps appends "-" to TTY
    // when it does not: EPROC_CTTY).
    std::uint64_t tdev = no_dev;
    bool tdev_split = true;  // tdev has a major and a minor (not FreeBSD's devfs inode)
    std::string tty;
    bool ctty_vnode = false;
    bool session_leader = false;
    std::string login;  // the session's login name, when the source has one

    // State.  stat: the ps STAT letters.  state / lwp_state / flags: the
    // raw values the letters came from, in the source's own encoding
    // (NetBSD p_stat, l_stat and p_flag; Linux task state); raw: more
    // source-specific values by name ("p_sflag", "l_flag").
    std::string stat;
    std::int64_t state = 0;
    std::int64_t lwp_state = 0;
    std::uint64_t flags = 0;
    std::vector<std::pair<std::string, std::uint64_t>> raw;
    int nice = 0;  // -20 (favoured) .. 20
    bool zombie = false;
    bool system = false;  // a kernel process (STAT K)

    // Threads.  lid is the LWP the row is about (the most active one for a
    // process row); lwp_row is true for per-LWP output.
    std::int32_t lid = 0;
    std::int32_t nlwps = 0;
    bool lwp_row = false;
    std::string lname;  // the LWP's name, when it has one

    // Sleep: the wait channel address, the namelist symbol it is in
    // ("lbolt", "sleepq+0x10"), and the wait message.
    std::uint64_t wchan = 0;
    std::string wchan_symbol;
    std::string wmesg;

    // Accounting.
    std::uint64_t rtime_usec = 0;  // TIME: run time
    // VSZ and RSS: the mapped and the resident size; unset where the walker
    // does not read the process's address space (DragonFly; FreeBSD with
    // layouts that lack struct vmspace, or a damaged one), and ps prints "-".
    std::optional<std::uint64_t> vsz_kib;
    std::optional<std::uint64_t> rss_kib;

    // Start and scheduling, where the source has them (the running host's
    // /proc); unset where it does not, and ps columns print "-" for them.
    std::optional<std::int64_t> start_usec;      // START, LSTART, ETIME: microseconds since the Epoch
    std::optional<std::uint32_t> pctcpu_tenths;  // %CPU, in tenths of a percent
    std::optional<std::int32_t> priority;        // PRI: the scheduling priority as the system shows it
    std::optional<std::uint64_t> cpu;            // CPU: the scheduler's recent use (NetBSD's estcpu)
    std::optional<std::uint32_t> cpuid;          // CPUID: the CPU the LWP ran on last (Linux task_cpu)
    std::string emul;                            // EMUL: the system call emulation ("linux"), when known

    // Where the source keeps it: kernel addresses of struct proc and of
    // the LWP (0 on the host).
    std::uint64_t paddr = 0;
    std::uint64_t laddr = 0;

    std::string comm;  // the kernel's command name (p_comm)
    // Full arguments and environment: of a live process, or of a dump's
    // process read from its user pages (WalkOptions::arguments,
    // ::environment) by the walkers that can (Linux).  argv_read/envv_read
    // say they were read (a kernel thread's are read and empty);
    // user_memory_error says why they could not be (pages a filtered dump
    // left out), empty otherwise.
    std::vector<std::string> argv;
    std::vector<std::string> envv;
    bool argv_read = false;
    bool envv_read = false;
    std::string user_memory_error;
    bool live = false;  // read from the running host
};

// %CPU as Linux's ps computes it: the run time over the time since the
// start, in tenths of a percent, at most 999.9; nullopt when no time has
// passed.
std::optional<std::uint32_t> lifetime_pctcpu_tenths(std::uint64_t rtime_usec, std::int64_t elapsed_usec);

bool matches(const ProcInfo& p, const ProcFilter& f);
// All filters hold (the AND kvmps applies to its options).
bool matches_all(const ProcInfo& p, std::span<const ProcFilter> filters);

// ps STAT: the state letter, then in this order `<` (nice < 0), `N`
// (nice > 0), `X` traced, `E` exiting, `V` parent waiting in vfork, `K`
// kernel process, `s` session leader, `l` more than one LWP, `+` in the
// foreground process group of its controlling terminal.
struct StatFlags {
    int nice = 0;
    bool traced = false;
    bool exiting = false;
    bool vfork_wait = false;
    bool system = false;
    bool session_leader = false;
    bool multithreaded = false;
    bool foreground = false;
};
std::string stat_letters(char state, const StatFlags& flags);

// The general form every system's STAT is built with: the state (one or
// more characters: DragonFly's ps adds the CPU, "S1"), then the letter of
// each flag that holds, in the order that system's ps prints them.
struct StatFlag {
    bool on;
    char letter;
};
std::string stat_string(std::string_view state, std::initializer_list<StatFlag> flags);

// Something worth saying about a walk that is not a fault in the dump
// (the arguments a filtered dump left out): kvmps prints it as a note.
using ProcNote = std::function<void(const std::string&)>;

struct WalkOptions {
    std::vector<ProcFilter> filters;  // all must hold
    bool per_lwp = false;             // KERN_PROC_FLAG_LWP: one record per LWP
    // Read each process's arguments (and environment) from its user pages,
    // where the walker can and the dump holds them; a process whose pages
    // are missing keeps an empty argv, and the walk says so once to `note`.
    bool arguments = true;
    bool environment = false;
    ProcNote note;
};

// What ps columns need of the machine as a whole: the time its processes'
// ages count to (the crash, or now on the running host) and its memory.
struct SystemFacts {
    std::optional<std::int64_t> now_sec;  // seconds since the Epoch; unset: unknown
    std::uint64_t physmem_kib = 0;        // 0: unknown
};

using ProcEmit = std::function<void(const ProcInfo&)>;
// A problem with one item (a list, a process): the walk goes on.
using ProcWarn = std::function<void(const Error&)>;

class ProcessWalker {
public:
    virtual ~ProcessWalker() = default;
    virtual std::string_view name() const = 0;
    virtual void walk(const WalkOptions& options, const ProcEmit& emit, const ProcWarn& warn) const = 0;
    // The dev_t of a terminal named as this system names it ("pts/0",
    // "/dev/pts/0", "ttyE0"); nullopt when there is no such terminal.
    virtual std::optional<std::uint64_t> tty_device(std::string_view name) const = 0;
    // The structure layouts in use, for walkers that read kernel memory.
    virtual const StructLayouts* layouts() const { return nullptr; }
    // The crash time and the memory size, where the system keeps them (for
    // ETIME and %MEM); a dump that lacks them is not an error.
    virtual SystemFacts system_facts() const { return {}; }
};

// What to walk: a dump, or (kernel == nullptr) the running host.
struct WalkTarget {
    const Kernel* kernel = nullptr;
    std::optional<std::string> layout_file;  // --layout
    std::vector<std::string> layout_dirs;    // shipped layout directories; empty: the default search
};

struct WalkerInfo {
    std::string_view name;
    bool (*accepts)(const WalkTarget& target);
    std::unique_ptr<ProcessWalker> (*create)(const WalkTarget& target);
};

std::span<const WalkerInfo> all_process_walkers();
// The first walker that accepts the target; unsupported "no process walker
// for <os> dumps (have: ...)" when none does.
std::unique_ptr<ProcessWalker> make_process_walker(const WalkTarget& target);

// The argument a ProcOp::tty filter takes for a terminal named as NetBSD's
// ps -t names it: "?" is no controlling terminal (no_dev), "-" a revoked one
// (tty_revoked), "co" the console; any other name is tried with "tty"
// before it ("00", "E0", "S0"), then as given ("pts/0", "/dev/ttyS0").
// nullopt when there is no such terminal.
std::optional<std::uint64_t> terminal_device(const ProcessWalker& walker, std::string_view name);

// What the walker of `os` ("netbsd", "dragonfly", "freebsd", "linux") asks
// of a layout file, for the tools that write and check them; nullptr for
// a system without such a walker.
const LayoutRequest* process_layout_request(std::string_view os);
// What the shipped layout files of `os` hold: the walker's request, and for
// the BSDs the message buffer reader's (kvm/msgbuf.h) and, for FreeBSD and
// DragonFly, the module reader's (kvm/modules.h), which use the same files;
// tools/layouts/mklayout writes the files from it.
const LayoutRequest* shipped_layout_request(std::string_view os);

// ---------------------------------------------------------------- live processes

// libkvm's kvm_getargv, kvm_getenvv and kvm_uread for a process of the
// running host (ProcInfo::live).  For a record from a dump, getargv and
// getenvv answer what the walk read from the process's user pages
// (ProcInfo::argv_read, envv_read); a record whose pages the dump lacks
// throws fault "pid N: <why>", and one the walk did not read (or a system
// whose walker reads no user memory) unsupported "pid N: a crash dump holds
// no user memory to read <what> from".  uread refuses every dump record.
// max_bytes (0: no limit) bounds the strings read, as kvm_getargv's nchr.
std::vector<std::string> getargv(const ProcInfo& p, std::size_t max_bytes = 0);
std::vector<std::string> getenvv(const ProcInfo& p, std::size_t max_bytes = 0);
// Reads user memory at `address` through /proc/PID/mem; returns the bytes
// read (fewer at an unmapped page).  Errors name the pid and say why (io,
// with "permission denied" when ptrace access is not allowed).
std::size_t uread(const ProcInfo& p, std::uint64_t address, MutableByteSpan out);
// NUL-separated strings as /proc/PID/cmdline holds them, split: a last
// string without its NUL counts, and max_bytes (0: no limit) bounds the
// bytes taken (each string's NUL counting one), as kvm_getargv's nchr.
std::vector<std::string> split_nul(std::string_view data, std::size_t max_bytes = 0);

// ---------------------------------------------------------------- NetBSD specifics

namespace netbsd {

// The structures, members, flags and values the NetBSD walker reads: what
// a NetBSD layout file must define (tools/layouts/mklayout writes the
// shipped files from this request).
const LayoutRequest& process_layout_request();

// The layouts of `request` for a NetBSD dump, in resolve_layouts()'s order:
// `layout_file`, the namelist's DWARF, the shipped file of the release the
// dump's osrelease names (in `dirs`, or shipped_layout_dirs() when empty).
// Throws usage when they describe pointers of another size or byte order.
StructLayouts dump_layouts(const Kernel& kernel, const LayoutRequest& request,
                           const std::optional<std::string>& layout_file, const std::vector<std::string>& dirs);

// Everything the shipped NetBSD layout files hold: the walker's request,
// the message buffer's (kvm/msgbuf.h) and the module list's
// (kvm/modules.h); tools/layouts/mklayout writes the files from it.
const LayoutRequest& shipped_layout_request();

// NetBSD's dev_t encoding (sys/types.h makedev/major/minor).
constexpr std::uint64_t makedev(std::uint32_t major, std::uint32_t minor) {
    return ((std::uint64_t{major} << 8) & 0x000fff00u) | ((std::uint64_t{minor} << 12) & 0xfff00000u) |
           (std::uint64_t{minor} & 0x000000ffu);
}
constexpr std::uint32_t dev_major(std::uint64_t dev) {
    return static_cast<std::uint32_t>((dev & 0x000fff00u) >> 8);
}
constexpr std::uint32_t dev_minor(std::uint64_t dev) {
    return static_cast<std::uint32_t>(((dev & 0xfff00000u) >> 12) | (dev & 0x000000ffu));
}

// A terminal's /dev name from the layouts' device table ("pts/3"), or
// empty when its major is not in the table.
std::string device_name(const StructLayouts& layouts, std::uint64_t dev);
// The reverse, for -t: "pts/3" or "/dev/pts/3".
std::optional<std::uint64_t> device_number(const StructLayouts& layouts, std::string_view name);

}  // namespace netbsd

// ---------------------------------------------------------------- DragonFly specifics

namespace dragonfly {

// The structures, members, flags and values the DragonFly walker reads,
// for both generations of the kernel (members only one has are optional;
// the walker checks that one of each pair is there): what a DragonFly
// layout file must define.
const LayoutRequest& process_layout_request();

}  // namespace dragonfly

// ---------------------------------------------------------------- FreeBSD specifics

namespace freebsd {

// The structures, members, flags and values the FreeBSD walker reads:
// what a FreeBSD layout file must define.  Without them the walker falls
// back to the offsets the kernel exports for debuggers (proc_off_p_pid,
// proc_off_p_comm, proc_off_p_list, proc_off_p_threads, proc_off_p_hash,
// thread_off_td_tid, thread_off_td_name, thread_off_td_plist): pids,
// commands, thread ids and names only.
const LayoutRequest& process_layout_request();

}  // namespace freebsd

// ---------------------------------------------------------------- Linux specifics

namespace linux_kernel {

// The structures, members, flags and values the Linux walker reads.  The
// structures come from the kernel's own BTF (kvm/btf.h) found in the dump
// between __start_BTF and __stop_BTF, or from a vmlinux (-N) with DWARF or
// .BTF, or from --layout.
const LayoutRequest& process_layout_request();
// The flags and values the walker uses, as every kernel with BTF defines
// them (include/linux/sched.h and friends): what layouts from type
// information are completed with.
StructLayouts known_constants();
// The state letter /proc/PID/stat shows for a task (fs/proc/array.c's
// task_state_array): R S D T t X Z P, and I for an idle kernel thread,
// from __state and exit_state with the bits of `constants`.
char task_state_letter(const StructLayouts& constants, std::uint64_t state, std::uint64_t exit_state);

}  // namespace linux_kernel

}  // namespace kvm
