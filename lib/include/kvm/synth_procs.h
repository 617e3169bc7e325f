// Process trees planted in a synthetic crashed machine, through structure
// layouts: struct proc, lwp, kauth_cred, pgrp, session, tty and vmspace
// objects on the kernel heap, linked on allproc and zombproc, with nprocs
// and maxslp set, exactly as a layout file (or DWARF) says the kernel lays
// them out.  Tests then know every field a walker should read back.
#pragma once

#include <kvm/layout.h>
#include <kvm/synth.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kvm::synth {

struct LwpSpec {
    std::int32_t lid = 1;
    std::string state = "LSSLEEP";  // a value name of the layouts
    bool interruptible = true;      // LW_SINTR, for sleepers
    std::string wchan;              // a kernel symbol to sleep on (defined when missing); empty: none
    std::uint64_t wchan_offset = 0;
    std::string wmesg;  // empty: none
    std::uint32_t slptime = 0;
    std::uint64_t rtime_usec = 0;
    std::string name;  // empty: unnamed
    // More flag names, each set in the member its layout entry names (an
    // LWP's or, on DragonFly and FreeBSD, its thread's).
    std::vector<std::string> flags;
    std::int32_t cpu = 0;       // the CPU the LWP last ran on (DragonFly: its thread's globaldata)
    std::int32_t mpcount = 0;   // MP lock count of its thread (DragonFly 1.x td_mpcount)
    std::string pri_class;      // FreeBSD: the scheduling class, a value name (PRI_REALTIME); empty: PRI_TIMESHARE
    std::int32_t priority = 0;  // NetBSD l_priority, DragonFly lwp_usdata.bsd4.priority
    std::uint32_t pctcpu = 0;   // NetBSD l_pctcpu, DragonFly lwp_pctcpu (fixpt_t: 2048 is 100%)
};

struct ProcSpec {
    std::int32_t pid = 0;
    std::int32_t ppid = 0;
    std::int32_t oppid = 0;                      // the real parent while traced (DragonFly, FreeBSD p_oppid); 0: none
    std::int32_t lock = 0;                       // hold count (DragonFly and FreeBSD p_lock: STAT L)
    std::int32_t pgid = 0;                       // the process group; a pgrp object per distinct id
    std::int32_t sid = 0;                        // the session; its leader is the process whose pid it is
    std::uint32_t uid = 0, ruid = 0, svuid = 0;  // effective, real, saved
    std::uint32_t gid = 0, rgid = 0, svgid = 0;
    std::vector<std::uint32_t> groups;
    std::string comm;
    std::string state = "SACTIVE";   // a value name: SACTIVE, SSTOP, SZOMB (goes on zombproc), ...
    std::vector<std::string> flags;  // flag names, each set in the member its layout entry names
    bool controlling_tty = false;    // PL_CONTROLT: the session's terminal is this process's
    int nice = 0;
    std::uint64_t rtime_usec = 0;
    std::uint64_t vm_pages = 0;  // vm_map.size in pages
    std::int32_t ssize = 0, issize = 0, rss_pages = 0;
    std::vector<LwpSpec> lwps;
    bool marker = false;  // a PK_MARKER entry on allproc, not a process
    // NetBSD amd64 and i386: what exec left at the top of the process's
    // stack (struct ps_strings at p_psstrp, the argv and envp vectors and
    // their strings), mapped by page tables of the process's own whose
    // root its pmap holds (pm_pdirpa).  Nothing is planted when both are
    // empty (p_psstrp stays 0).  user_pages_unwritten: the stack pages are
    // mapped but never written, so a sparse dump leaves them out.
    std::vector<std::string> argv;
    std::vector<std::string> envv;
    bool user_pages_unwritten = false;
    std::int32_t jail = 0;  // FreeBSD: the pr_id of the process's prison; 0: prison0, the host
    // NetBSD scheduling and accounting: p_estcpu, p_pctcpu (fixpt_t: 2048 is
    // 100%), p_stats->p_start (no struct pstats when 0) and p_emul->e_name
    // (no struct emul when empty).  DragonFly: estcpu goes in each LWP's
    // lwp_usdata.bsd4.estcpu, start_sec and start_usec in p_start (with
    // p_swtime the seconds from it to the crash; nothing when start_sec is 0).
    std::uint32_t estcpu = 0;
    std::uint32_t pctcpu = 0;
    std::int64_t start_sec = 0;
    std::int32_t start_usec = 0;
    std::string emul;
};

// A terminal: the controlling terminal of session `sid`, with foreground
// process group `foreground_pgid`.  revoked: the session lost its vnode
// (s_ttyvp NULL: ps shows "pts/1-").
struct TtySpec {
    // NetBSD: a name the layouts' device table knows ("pts/0", "ttyE0");
    // DragonFly and FreeBSD: the name the device itself has (si_name).
    std::string name;
    // DragonFly and FreeBSD: the number the system gives the terminal
    // (DragonFly: major << 8 | minor; FreeBSD: its devfs inode).
    std::uint64_t dev = 0;
    std::int32_t sid = 0;
    std::int32_t foreground_pgid = 0;
    bool revoked = false;
    std::string login;  // the session's login name
};

struct ProcessTree {
    std::vector<TtySpec> ttys;
    std::vector<ProcSpec> procs;  // oldest first; each list holds them newest first, as fork inserts at the head
};

struct PlantedProcesses {
    std::map<std::int32_t, std::uint64_t> proc;                          // pid -> struct proc
    std::map<std::string, std::uint64_t> tty;                            // terminal name -> struct tty
    std::map<std::pair<std::int32_t, std::int32_t>, std::uint64_t> lwp;  // (pid, lid) -> struct lwp
    std::vector<std::uint64_t> allproc;                                  // addresses in list order (markers included)
    std::vector<std::uint64_t> zombproc;
    std::vector<std::vector<std::uint64_t>> buckets;  // a hash of processes (DragonFly), each in list order
    std::uint64_t nprocs = 0;                         // the value planted (markers not counted)
    // NetBSD: pid -> physical address of the struct ps_strings planted for
    // its arguments (ProcSpec::argv, envv).
    std::map<std::int32_t, std::uint64_t> ps_strings;
};

// Plants `tree` in `machine` through `layouts` (which must describe the
// machine's arch).  Defines allproc, zombproc, nprocs and maxslp (20)
// unless the kernel already has them.  Throws usage for a tree the layouts
// cannot express (an unknown state, flag or terminal name).
PlantedProcesses plant_processes(CrashedMachine& machine, const StructLayouts& layouts, const ProcessTree& tree);

// A small NetBSD 10 system in its last second: kernel threads, daemons, a
// getty, an ssh login building software, a job stopped in the background,
// a traced program, a zombie, a niced and a multithreaded daemon, a logged
// out session whose terminal was revoked, and the process that panicked
// on a CPU.  kvmsynth --procs plants it.
ProcessTree default_process_tree();

// `tree` (the default one) with what exec left for its user processes:
// argv as ps shows them, and a login environment for ksh (416) and make
// (530).  sysctl's (777) stack pages are mapped but never written, so a
// sparse dump leaves them out.  kvmsynth --procs --arguments plants it.
ProcessTree with_arguments(ProcessTree tree);

// Corruptions of the planted lists, for tests of the walkers' bounds.
enum class ListFault {
    cycle,        // entry `at` of allproc points back to entry 0
    bad_pointer,  // entry `at` of allproc points to an address outside the dump
    short_count,  // nprocs says `at` while the lists hold more
    // After the oldest allproc entry, `at` more "processes" 32 bytes apart
    // (downwards: the first is zeros but its link), and nprocs at the
    // walkers' cap of 1 << 22: a legal, acyclic list that gives millions of
    // rows from a small dump unless overlaps are refused.
    overlap,
};
void plant_list_fault(CrashedMachine& machine, const StructLayouts& layouts, const PlantedProcesses& planted,
                      ListFault fault, std::size_t at);

// ---------------------------------------------------------------- DragonFly

// Where a DragonFly kernel keeps its processes, by generation.
enum class DragonflyLists {
    procglob,  // 5.x onwards: procglob[allproc_hsize], each with an allproc list
    allprocs,  // 3.x and 4.x: allprocs[allproc_hsize], list heads
    lists,     // older: allproc and zombproc
};

struct DragonflyPlant {
    DragonflyLists lists = DragonflyLists::procglob;
    std::uint32_t hash_size = 256;  // allproc_hsize
    std::string osrelease = "5.8";  // at most 7 characters
};

// Plants `tree` the way a DragonFly kernel keeps it, through `layouts`:
// proc, lwp (in p_lwp_tree, a balanced tree by LWP id, or on p_lwps
// newest first, whichever the layouts have), thread, globaldata (one per
// CPU), ucred, pgrp, session, tty and cdev; processes in the hash of
// `plant.lists` (bucket pid & (hash_size - 1), newest first; zombies stay
// in it) or on allproc and zombproc; nprocs, allproc_hsize, ncpus (one
// more than the highest CPU of an LWP) and osrelease.
// State and flag names are the layouts' (SACTIVE, LSSLEEP, P_TRACED,
// TDF_RUNNING); an interruptible sleeper gets LWP_SINTR (P_SINTR on
// kernels whose LWPs have no state of their own).
PlantedProcesses plant_dragonfly_processes(CrashedMachine& machine, const StructLayouts& layouts,
                                           const ProcessTree& tree, const DragonflyPlant& plant = {});

// Damage for the walker's tests and fuzz seeds: process `pid`'s LWP tree
// rewired into a chain down the left children, highest LWP id at the root,
// and p_nthreads set to `nthreads` (too few for so deep a tree).
void plant_lwp_chain(CrashedMachine& machine, const StructLayouts& layouts, const PlantedProcesses& planted,
                     std::int32_t pid, std::uint32_t nthreads);

namespace dragonfly {

// Pieces of DragonFly 5.8 trees.  A process: SACTIVE, its uids all `uid`,
// its gids 0 for root and 100 for the others.
ProcSpec proc(std::int32_t pid, std::int32_t ppid, std::int32_t pgid, std::int32_t sid, std::uint32_t uid,
              std::string comm);
// An LWP in `state` (LSRUN, LSSTOP, ...) that last ran on `cpu`, not interruptible.
LwpSpec lwp(std::int32_t tid, std::string state, std::int32_t cpu, std::vector<std::string> flags = {});
// An LWP asleep on kvmkit_wchan_<wmesg> for `slptime` seconds.
LwpSpec sleeper(std::int32_t tid, std::int32_t cpu, std::uint32_t slptime, std::string wmesg,
                bool interruptible = true);

// A DragonFly 5.8 system: two sessions with a terminal (one revoked), two
// without; a system process, sleepers long and short, a runner on a CPU,
// a stopped traced process, a zombie, a setuid process, five LWPs in every
// state the kernel's kinfo distinguishes, and every STAT flag 5.8's ps
// prints.  kvmsynth --os dragonfly --procs plants it.
ProcessTree process_tree();

}  // namespace dragonfly

// ---------------------------------------------------------------- FreeBSD

struct FreebsdPlant {
    // 12.x and older: zombies on zombproc and out of the pid hash; 13.0
    // onwards (false): no zombproc, zombies only in the hash.
    bool zombproc = false;
    std::uint64_t pidhash = 15;  // the hash's mask: buckets 0 to pidhash
    std::int32_t hz = 1000;
    std::int32_t ticks = 5'000'000;  // now, in ticks: a thread asleep for slptime seconds slept at ticks - slptime * hz
    std::string osrelease = "14.1";  // at most 7 characters
    // Define the offsets FreeBSD exports for debuggers (proc_off_p_pid,
    // thread_off_td_name, ...), as 4-byte integers.
    bool debugger_offsets = true;
};

// Plants `tree` the way a FreeBSD kernel keeps it, through `layouts`: proc,
// thread (on p_threads in spec order, the first the main thread), ucred
// (cr_groups pointing at its cr_smallgroups, cr_prison at prison0 or at
// a prison per jail id), pgrp, session, tty and cdev_priv; live processes on allproc, newest first; every process in
// pidhashtbl (bucket pid & pidhash, newest first) except, with
// plant.zombproc, the zombies, which are on zombproc instead; nprocs,
// ticks, hz and osrelease.  State and flag names are the layouts'
// (PRS_NORMAL, TDS_INHIBITED, TDI_SLEEPING, P_INMEM, CRED_FLAG_CAPMODE:
// each flag goes to the structure its entry names); an interruptible
// thread asleep (TDI_SLEEPING) gets TDF_SINTR.
PlantedProcesses plant_freebsd_processes(CrashedMachine& machine, const StructLayouts& layouts, const ProcessTree& tree,
                                         const FreebsdPlant& plant = {});

namespace freebsd {

// Pieces of FreeBSD 14 trees.  A process: PRS_NORMAL and P_INMEM, its uids
// all `uid`, its gids 0 for root and 100 for the others.
ProcSpec proc(std::int32_t pid, std::int32_t ppid, std::int32_t pgid, std::int32_t sid, std::uint32_t uid,
              std::string comm);
// A thread in `state` (TDS_RUNNING, TDS_INHIBITED, ...), not interruptible.
LwpSpec thread(std::int32_t tid, std::string state, std::vector<std::string> flags = {});
// A thread asleep (TDI_SLEEPING) on kvmkit_wchan_<wmesg> for `slptime` seconds.
LwpSpec sleeper(std::int32_t tid, std::uint32_t slptime, std::string wmesg, bool interruptible = true);

// A FreeBSD 14 system: two sessions with a terminal (one revoked), three
// without; the kernel's process with two threads, an interrupt process,
// sleepers long and short, a runner, a stopped traced process, a process
// being created, a zombie, a setuid process, a process of three threads
// (asleep, queued, on a lock), the idle and real-time classes, a jailed
// process in capability mode, and every STAT flag FreeBSD's ps prints.
// kvmsynth --os freebsd --procs plants it.
ProcessTree process_tree();

}  // namespace freebsd

}  // namespace kvm::synth
