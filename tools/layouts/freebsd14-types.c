/*
 * FreeBSD 14 kernel structures that kvmps reads, declared with the member
 * names, order and types of the FreeBSD 14 headers, so that a C compiler for
 * amd64 lays them out as the kernel's compiler did.  gen-layouts.sh compiles
 * this file with gcc -m64 and reads the offsets back from the DWARF with
 * kvmkit's own reader (mklayout).
 *
 * These are declarations written for kvmkit from the facts below; no FreeBSD
 * code is included.  struct proc, thread, tty, cdev_priv, prison and pmap are declared up
 * to the last member kvmps reads (the layouts' sizes are those of these
 * prefixes, which is all a walker reads); the others whole.
 * Facts (member order and types), by header, as FreeBSD 14 installs them
 * (the copies of the FreeBSD 14 headers in the zig repository,
 * lib/libc/include/generic-freebsd, commit 6e64bc845f for sys/proc.h and
 * b4bbdc0f82 for sys/ucred.h):
 *   sys/sys/proc.h       struct proc, thread, pgrp, session, rusage_ext,
 *                        enum p_states, enum td_states
 *   sys/sys/ucred.h      struct ucred
 *   sys/sys/resourcevar.h  struct pstats (and struct uprof in it)
 *   sys/sys/sysent.h     struct sysentvec (up to sv_name)
 *   sys/sys/jail.h       struct prison (its first members: pr_list, pr_id)
 *   sys/bsm/audit.h      struct auditinfo_addr, au_mask, au_tid_addr
 *   sys/sys/tty.h, ttyqueue.h, termios (sys/_termios.h), sys/_winsize.h
 *                        struct tty, ttyinq, ttyoutq, termios, winsize
 *   sys/sys/conf.h       struct cdev (SPECNAMELEN 255)
 *   sys/fs/devfs/devfs_int.h  struct cdev_priv
 *   sys/sys/_mutex.h, _sx.h, _lock.h, condvar.h (struct cv), selinfo.h,
 *   event.h (struct knlist), _callout.h, signalvar.h (sigqueue_t),
 *   signal.h (siginfo_t, stack_t), _sigset.h (4 words), resource.h
 *   (rusage), osd.h, sysent.h (struct syscall_args), _domainset.h
 *   (domainset_ref), sys/sys/param.h (MAXCOMLEN 19, MAXLOGNAME 33),
 *   sys/sys/_types.h (rlim_t, sbintime_t, dev_t: 64 bits).
 *   sys/sys/msgbuf.h     struct msgbuf (kvmdmesg; unchanged since 7.0 up to
 *                        msg_seqmod)
 *   sys/sys/linker.h, sys/sys/kobj.h  struct linker_file (kvmmod; up to size)
 *   sys/vm/vm_map.h      struct vmspace, vm_map, vm_map_entry (VSZ, RSS;
 *                        zig commit 1bde4cb437, whose members up to
 *                        vm_pmap are FreeBSD 14's)
 *   sys/vm/pmap.h        struct pmap_statistics
 *   sys/amd64/include/pmap.h  struct pmap, up to pm_stats (zig commit
 *                        ec817f7548, x86_64-freebsd-none/machine/pmap.h)
 *   sys/amd64/include/param.h  MAXCPU 1024: cpuset_t's bits
 *   sys/sys/_callout.h   struct callout (td_slpcallout)
 */
#include <stddef.h>
#include <stdint.h>

#define MAXCOMLEN 19
#define MAXLOGNAME 33
#define SPECNAMELEN 255
#define NCCS 20
#define CRED_SMALLGROUPS_NB 16
#define roundup(x, y) ((((x) + ((y)-1)) / (y)) * (y))

typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef int32_t pid_t;
typedef int32_t lwpid_t;
typedef uint32_t uid_t;
typedef uint32_t gid_t;
typedef uint16_t mode_t;
typedef uint64_t dev_t;
typedef int64_t rlim_t;
typedef int64_t sbintime_t;
typedef long time_t;
typedef long suseconds_t;
typedef long register_t;
typedef unsigned int tcflag_t;
typedef unsigned char cc_t;
typedef char *caddr_t;
typedef unsigned int speed_t;
typedef int64_t off_t;
typedef uintptr_t vm_offset_t;
typedef uintptr_t vm_size_t;
typedef int64_t vm_ooffset_t;
typedef u_char vm_prot_t;
typedef char vm_inherit_t;
typedef u_int vm_eflags_t;
typedef int64_t segsz_t;

/* Queue heads and entries (sys/queue.h): what each macro expands to. */
#define LIST_HEAD(name, type) struct name { struct type *lh_first; }
#define LIST_ENTRY(type) struct { struct type *le_next; struct type **le_prev; }
#define SLIST_HEAD(name, type) struct name { struct type *slh_first; }
#define SLIST_ENTRY(type) struct { struct type *sle_next; }
#define TAILQ_HEAD(name, type) struct name { struct type *tqh_first; struct type **tqh_last; }
#define TAILQ_ENTRY(type) struct { struct type *tqe_next; struct type **tqe_prev; }

struct lock_object {
    const char *lo_name;
    u_int lo_flags;
    u_int lo_data;
    struct witness *lo_witness;
};

struct mtx {
    struct lock_object lock_object;
    volatile uintptr_t mtx_lock;
};

struct sx {
    struct lock_object lock_object;
    volatile uintptr_t sx_lock;
};

struct cv {
    const char *cv_description;
    int cv_waiters;
};

typedef void callout_func_t(void *);

struct callout {
    union {
        LIST_ENTRY(callout) le;
        SLIST_ENTRY(callout) sle;
        TAILQ_ENTRY(callout) tqe;
    } c_links;
    sbintime_t c_time;
    sbintime_t c_precision;
    void *c_arg;
    callout_func_t *c_func;
    struct lock_object *c_lock;
    short c_flags;
    short c_iflags;
    volatile int c_cpu;
};

typedef struct __sigset {
    uint32_t __bits[4];
} sigset_t;

typedef struct sigqueue {
    sigset_t sq_signals;
    sigset_t sq_kill;
    sigset_t sq_ptrace;
    TAILQ_HEAD(, ksiginfo) sq_list;
    struct proc *sq_proc;
    int sq_flags;
} sigqueue_t;

union sigval {
    int sival_int;
    void *sival_ptr;
    int sigval_int;
    void *sigval_ptr;
};

typedef struct __siginfo {
    int si_signo;
    int si_errno;
    int si_code;
    pid_t si_pid;
    uid_t si_uid;
    int si_status;
    void *si_addr;
    union sigval si_value;
    union {
        struct {
            int _trapno;
        } _fault;
        struct {
            int _timerid;
            int _overrun;
        } _timer;
        struct {
            int _mqd;
        } _mesgq;
        struct {
            long _band;
        } _poll;
        struct {
            int _syscall;
        } _capsicum;
        struct {
            long __spare1__;
            int __spare2__[7];
        } __spare__;
    } _reason;
} siginfo_t;

typedef struct sigaltstack {
    void *ss_sp;
    size_t ss_size;
    int ss_flags;
} stack_t;

struct timeval {
    time_t tv_sec;
    suseconds_t tv_usec;
};

struct timespec {
    time_t tv_sec;
    long tv_nsec;
};

struct itimerval {
    struct timeval it_interval;
    struct timeval it_value;
};

struct rusage {
    struct timeval ru_utime;
    struct timeval ru_stime;
    long ru_maxrss;
    long ru_ixrss;
    long ru_idrss;
    long ru_isrss;
    long ru_minflt;
    long ru_majflt;
    long ru_nswap;
    long ru_inblock;
    long ru_oublock;
    long ru_msgsnd;
    long ru_msgrcv;
    long ru_nsignals;
    long ru_nvcsw;
    long ru_nivcsw;
};

struct rusage_ext {
    uint64_t rux_runtime;
    uint64_t rux_uticks;
    uint64_t rux_sticks;
    uint64_t rux_iticks;
    uint64_t rux_uu;
    uint64_t rux_su;
    uint64_t rux_tu;
};

struct domainset_ref {
    struct domainset *volatile dr_policy;
    unsigned int dr_iter;
};

struct osd {
    u_int osd_nslots;
    void **osd_slots;
    LIST_ENTRY(osd) osd_next;
};

struct syscall_args {
    u_int code;
    u_int original_code;
    struct sysent *callp;
    register_t args[8];
};

SLIST_HEAD(sigiolst, sigio);

struct thread {
    struct mtx *volatile td_lock;
    struct proc *td_proc;
    TAILQ_ENTRY(thread) td_plist;
    TAILQ_ENTRY(thread) td_runq;
    union {
        TAILQ_ENTRY(thread) td_slpq;
        struct thread *td_zombie;
    };
    TAILQ_ENTRY(thread) td_lockq;
    LIST_ENTRY(thread) td_hash;
    struct cpuset *td_cpuset;
    struct domainset_ref td_domain;
    struct seltd *td_sel;
    struct sleepqueue *td_sleepqueue;
    struct turnstile *td_turnstile;
    struct rl_q_entry *td_rlqe;
    struct umtx_q *td_umtxq;
    lwpid_t td_tid;
    sigqueue_t td_sigqueue;
    u_char td_lend_user_pri;
    u_char td_allocdomain;
    u_char td_base_ithread_pri;
    struct kmsan_td *td_kmsan;
    int td_flags;
    int td_ast;
    int td_inhibitors;
    int td_pflags;
    int td_pflags2;
    int td_dupfd;
    int td_sqqueue;
    const void *td_wchan;
    const char *td_wmesg;
    volatile u_char td_owepreempt;
    u_char td_tsqueue;
    u_char td_stopsched;
    int td_locks;
    int td_rw_rlocks;
    int td_sx_slocks;
    int td_lk_slocks;
    struct turnstile *td_blocked;
    const char *td_lockname;
    LIST_HEAD(, turnstile) td_contested;
    struct lock_list_entry *td_sleeplocks;
    int td_intr_nesting_level;
    int td_pinned;
    struct ucred *td_realucred;
    struct ucred *td_ucred;
    struct plimit *td_limit;
    int td_slptick;
    int td_blktick;
    int td_swvoltick;
    int td_swinvoltick;
    u_int td_cow;
    struct rusage td_ru;
    struct rusage_ext td_rux;
    uint64_t td_incruntime;
    uint64_t td_runtime;
    u_int td_pticks;
    u_int td_sticks;
    u_int td_iticks;
    u_int td_uticks;
    int td_intrval;
    sigset_t td_oldsigmask;
    volatile u_int td_generation;
    stack_t td_sigstk;
    int td_xsig;
    u_long td_profil_addr;
    u_int td_profil_ticks;
    char td_name[MAXCOMLEN + 1];
    struct file *td_fpop;
    int td_dbgflags;
    siginfo_t td_si;
    int td_ng_outbound;
    struct osd td_osd;
    struct vm_map_entry *td_map_def_user;
    pid_t td_dbg_forked;
    struct vnode *td_vp_reserved;
    u_int td_no_sleeping;
    void *td_su;
    sbintime_t td_sleeptimo;
    int td_rtcgen;
    int td_errno;
    size_t td_vslock_sz;
    struct kcov_info *td_kcov_info;
    long td_ucredref;
    sigset_t td_sigmask;
    u_char td_rqindex;
    u_char td_base_pri;
    u_char td_priority;
    u_char td_pri_class;
    u_char td_user_pri;
    u_char td_base_user_pri;
    uintptr_t td_rb_list;
    uintptr_t td_rbp_list;
    uintptr_t td_rb_inact;
    struct syscall_args td_sa;
    void *td_sigblock_ptr;
    uint32_t td_sigblock_val;
    struct pcb *td_pcb;
    enum td_states {
        TDS_INACTIVE = 0x0,
        TDS_INHIBITED,
        TDS_CAN_RUN,
        TDS_RUNQ,
        TDS_RUNNING
    } td_state;
    union {
        register_t tdu_retval[2];
        off_t tdu_off;
    } td_uretoff;
    u_int td_cowgen;
    struct callout td_slpcallout;
    struct trapframe *td_frame;
    vm_offset_t td_kstack;
    int td_kstack_pages;
    /* (later members are not read) */
};

struct proc {
    LIST_ENTRY(proc) p_list;
    TAILQ_HEAD(, thread) p_threads;
    struct mtx p_slock;
    struct ucred *p_ucred;
    struct filedesc *p_fd;
    struct filedesc_to_leader *p_fdtol;
    struct pwddesc *p_pd;
    struct pstats *p_stats;
    struct plimit *p_limit;
    struct callout p_limco;
    struct sigacts *p_sigacts;
    int p_flag;
    int p_flag2;
    enum p_states {
        PRS_NEW = 0,
        PRS_NORMAL,
        PRS_ZOMBIE
    } p_state;
    pid_t p_pid;
    LIST_ENTRY(proc) p_hash;
    LIST_ENTRY(proc) p_pglist;
    struct proc *p_pptr;
    LIST_ENTRY(proc) p_sibling;
    LIST_HEAD(, proc) p_children;
    struct proc *p_reaper;
    LIST_HEAD(, proc) p_reaplist;
    LIST_ENTRY(proc) p_reapsibling;
    struct mtx p_mtx;
    struct mtx p_statmtx;
    struct mtx p_itimmtx;
    struct mtx p_profmtx;
    struct ksiginfo *p_ksi;
    sigqueue_t p_sigqueue;
    pid_t p_oppid;
    struct vmspace *p_vmspace;
    u_int p_swtick;
    u_int p_cowgen;
    struct itimerval p_realtimer;
    struct rusage p_ru;
    struct rusage_ext p_rux;
    struct rusage_ext p_crux;
    int p_profthreads;
    volatile int p_exitthreads;
    int p_traceflag;
    struct ktr_io_params *p_ktrioparms;
    struct vnode *p_textvp;
    struct vnode *p_textdvp;
    char *p_binname;
    u_int p_lock;
    struct sigiolst p_sigiolst;
    int p_sigparent;
    int p_sig;
    u_int p_ptevents;
    struct kaioinfo *p_aioinfo;
    struct thread *p_singlethread;
    int p_suspcount;
    struct thread *p_xthread;
    int p_boundary_count;
    int p_pendingcnt;
    struct itimers *p_itimers;
    struct procdesc *p_procdesc;
    u_int p_treeflag;
    int p_pendingexits;
    struct filemon *p_filemon;
    int p_pdeathsig;
    u_int p_magic;
    int p_osrel;
    uint32_t p_fctl0;
    char p_comm[MAXCOMLEN + 1];
    struct sysentvec *p_sysent;
    struct pargs *p_args;
    rlim_t p_cpulimit;
    signed char p_nice;
    int p_fibnum;
    pid_t p_reapsubtree;
    uint64_t p_elf_flags;
    void *p_elf_brandinfo;
    sbintime_t p_umtx_min_timeout;
    u_int p_xexit;
    u_int p_xsig;
    struct pgrp *p_pgrp;
    struct knlist *p_klist;
    int p_numthreads;
    /* (later members are not read) */
};

struct pgrp {
    LIST_ENTRY(pgrp) pg_hash;
    LIST_HEAD(, proc) pg_members;
    struct session *pg_session;
    struct sigiolst pg_sigiolst;
    pid_t pg_id;
    struct mtx pg_mtx;
    int pg_flags;
    struct sx pg_killsx;
};

struct session {
    u_int s_count;
    struct proc *s_leader;
    struct vnode *s_ttyvp;
    struct cdev_priv *s_ttydp;
    struct tty *s_ttyp;
    pid_t s_sid;
    char s_login[roundup(MAXLOGNAME, sizeof(long))];
    struct mtx s_mtx;
};

struct au_mask {
    unsigned int am_success;
    unsigned int am_failure;
};

struct au_tid_addr {
    dev_t at_port;
    uint32_t at_type;
    uint32_t at_addr[4];
};

struct auditinfo_addr {
    uint32_t ai_auid;
    struct au_mask ai_mask;
    struct au_tid_addr ai_termid;
    pid_t ai_asid;
    uint64_t ai_flags;
};

struct ucred {
    struct mtx cr_mtx;
    long cr_ref;
    u_int cr_users;
    u_int cr_flags;
    struct auditinfo_addr cr_audit;
    uid_t cr_uid;
    uid_t cr_ruid;
    uid_t cr_svuid;
    int cr_ngroups;
    gid_t cr_rgid;
    gid_t cr_svgid;
    struct uidinfo *cr_uidinfo;
    struct uidinfo *cr_ruidinfo;
    struct prison *cr_prison;
    struct loginclass *cr_loginclass;
    void *cr_pspare2[2];
    struct label *cr_label;
    gid_t *cr_groups;
    int cr_agroups;
    gid_t cr_smallgroups[CRED_SMALLGROUPS_NB];
};

struct prison {
    TAILQ_ENTRY(prison) pr_list;
    int pr_id;
    /* (later members are not read) */
};

struct ttyinq {
    struct ttyinq_block *ti_firstblock;
    struct ttyinq_block *ti_startblock;
    struct ttyinq_block *ti_reprintblock;
    struct ttyinq_block *ti_lastblock;
    unsigned int ti_begin;
    unsigned int ti_linestart;
    unsigned int ti_reprint;
    unsigned int ti_end;
    unsigned int ti_nblocks;
    unsigned int ti_quota;
};

struct ttyoutq {
    struct ttyoutq_block *to_firstblock;
    struct ttyoutq_block *to_lastblock;
    unsigned int to_begin;
    unsigned int to_end;
    unsigned int to_nblocks;
    unsigned int to_quota;
};

SLIST_HEAD(klist, knote);

struct knlist {
    struct klist kl_list;
    void (*kl_lock)(void *);
    void (*kl_unlock)(void *);
    void (*kl_assert_lock)(void *, int);
    void *kl_lockarg;
    int kl_autodestroy;
};

TAILQ_HEAD(selfdlist, selfd);

struct selinfo {
    struct selfdlist si_tdlist;
    struct knlist si_note;
    struct mtx *si_mtx;
};

struct termios {
    tcflag_t c_iflag;
    tcflag_t c_oflag;
    tcflag_t c_cflag;
    tcflag_t c_lflag;
    cc_t c_cc[NCCS];
    speed_t c_ispeed;
    speed_t c_ospeed;
};

struct winsize {
    unsigned short ws_row;
    unsigned short ws_col;
    unsigned short ws_xpixel;
    unsigned short ws_ypixel;
};

struct tty {
    struct mtx *t_mtx;
    struct mtx t_mtxobj;
    TAILQ_ENTRY(tty) t_list;
    int t_drainwait;
    unsigned int t_flags;
    unsigned int t_revokecnt;
    struct ttyinq t_inq;
    size_t t_inlow;
    struct ttyoutq t_outq;
    size_t t_outlow;
    struct cv t_inwait;
    struct cv t_outwait;
    struct cv t_outserwait;
    struct cv t_bgwait;
    struct cv t_dcdwait;
    struct selinfo t_inpoll;
    struct selinfo t_outpoll;
    struct sigio *t_sigio;
    struct termios t_termios;
    struct winsize t_winsize;
    unsigned int t_column;
    unsigned int t_writepos;
    int t_compatflags;
    struct termios t_termios_init_in;
    struct termios t_termios_lock_in;
    struct termios t_termios_init_out;
    struct termios t_termios_lock_out;
    struct ttydevsw *t_devsw;
    struct ttyhook *t_hook;
    struct pgrp *t_pgrp;
    struct session *t_session;
    unsigned int t_sessioncnt;
    void *t_devswsoftc;
    void *t_hooksoftc;
    struct cdev *t_dev;
    /* (later members are not read) */
};

struct cdev {
    void *si_spare0;
    u_int si_flags;
    struct timespec si_atime;
    struct timespec si_ctime;
    struct timespec si_mtime;
    uid_t si_uid;
    gid_t si_gid;
    mode_t si_mode;
    struct ucred *si_cred;
    int si_drv0;
    int si_refcount;
    LIST_ENTRY(cdev) si_list;
    LIST_ENTRY(cdev) si_clone;
    LIST_HEAD(, cdev) si_children;
    LIST_ENTRY(cdev) si_siblings;
    struct cdev *si_parent;
    struct mount *si_mountpt;
    void *si_drv1;
    void *si_drv2;
    struct cdevsw *si_devsw;
    int si_iosize_max;
    u_long si_usecount;
    u_long si_threadcount;
    union {
        struct snapdata *__sid_snapdata;
    } __si_u;
    char si_name[SPECNAMELEN + 1];
};

struct cdev_priv {
    struct cdev cdp_c;
    TAILQ_ENTRY(cdev_priv) cdp_list;
    u_int cdp_inode;
    /* (later members are not read) */
};

/* A process's accounting (sys/sys/resourcevar.h): p_start, an uptime, is
 * START once the boot time is added. */
struct pstats {
    struct rusage p_cru;
    struct itimerval p_timer[3];
    struct uprof {
        caddr_t pr_base;
        u_long pr_size;
        u_long pr_off;
        u_long pr_scale;
    } p_prof;
    struct timeval p_start;
};

/* A process's ABI (sys/sys/sysent.h): sv_name is EMUL ("FreeBSD ELF64");
 * declared up to sv_name, the last member read. */
struct image_params;
struct sysentvec {
    int sv_size;
    struct sysent *sv_table;
    int (*sv_fixup)(uintptr_t *, struct image_params *);
    void (*sv_sendsig)(void (*)(int), struct ksiginfo *, struct __sigset *);
    const char *sv_sigcode;
    int *sv_szsigcode;
    int sv_sigcodeoff;
    char *sv_name;
    /* (later members are not read) */
};

/* A process's address space (sys/vm/vm_map.h): vm_map.size is VSZ, and the
 * machine-dependent pmap's resident count RSS (sys/amd64/include/pmap.h,
 * declared up to pm_stats; cpuset_t has MAXCPU bits, 1024 on amd64 by
 * sys/amd64/include/param.h, sys/sys/_cpuset.h and _bitset.h). */
union vm_map_object {
    struct vm_object *vm_object;
    struct vm_map *sub_map;
};

struct vm_map_entry {
    struct vm_map_entry *left;
    struct vm_map_entry *right;
    vm_offset_t start;
    vm_offset_t end;
    vm_offset_t next_read;
    vm_size_t max_free;
    union vm_map_object object;
    vm_ooffset_t offset;
    vm_eflags_t eflags;
    vm_prot_t protection;
    vm_prot_t max_protection;
    vm_inherit_t inheritance;
    uint8_t read_ahead;
    int wired_count;
    struct ucred *cred;
    struct thread *wiring_thread;
};

struct vm_map {
    struct vm_map_entry header;
    union {
        struct sx lock;
        struct mtx system_mtx;
    };
    int nentries;
    vm_size_t size;
    u_int timestamp;
    u_int flags;
    struct vm_map_entry *root;
    struct pmap *pmap;
    vm_offset_t anon_loc;
    int busy;
};

struct _cpuset {
    long __bits[1024 / (8 * sizeof(long))];
};
typedef struct _cpuset cpuset_t;

struct pmap_statistics {
    long resident_count;
    long wired_count;
};

enum pmap_type {
    PT_X86,
    PT_EPT,
    PT_RVI
};

struct pmap {
    struct mtx pm_mtx;
    uint64_t *pm_pmltop;
    uint64_t *pm_pmltopu;
    uint64_t pm_cr3;
    uint64_t pm_ucr3;
    TAILQ_HEAD(, pv_chunk) pm_pvchunk;
    cpuset_t pm_active;
    enum pmap_type pm_type;
    struct pmap_statistics pm_stats;
    /* (later members are not read) */
};

struct vmspace {
    struct vm_map vm_map;
    struct shmmap_state *vm_shm;
    segsz_t vm_swrss;
    segsz_t vm_tsize;
    segsz_t vm_dsize;
    segsz_t vm_ssize;
    caddr_t vm_taddr;
    caddr_t vm_daddr;
    caddr_t vm_maxsaddr;
    vm_offset_t vm_stacktop;
    vm_offset_t vm_shp_base;
    u_int vm_refcnt;
    struct pmap vm_pmap;
};

/* The kernel message buffer's header (kvmdmesg): msg_ptr is msg_size bytes
 * long; declared up to msg_seqmod, the last member read (a mutex follows). */
struct msgbuf {
    char *msg_ptr;
    u_int msg_magic;
    u_int msg_size;
    u_int msg_wseq;
    u_int msg_rseq;
    u_int msg_cksum;
    u_int msg_seqmod;
    /* (later members are not read) */
};

/* A file the kernel linker loaded (kvmmod, as kldstat lists it): declared
 * up to size, the last member read (sys/sys/linker.h; KOBJ_FIELDS is the
 * one kobj_ops_t pointer of sys/sys/kobj.h). */
struct kobj_ops;
struct linker_file {
    struct kobj_ops *ops;
    int refs;
    int userrefs;
    int flags;
    TAILQ_ENTRY(linker_file) link;
    char *filename;
    char *pathname;
    int id;
    caddr_t address;
    size_t size;
    /* (later members are not read) */
};

/* One object of each type, so that the compiler emits their DWARF. */
struct proc kvmkit_proc;
struct thread kvmkit_thread;
struct ucred kvmkit_ucred;
struct pgrp kvmkit_pgrp;
struct session kvmkit_session;
struct tty kvmkit_tty;
struct cdev_priv kvmkit_cdev_priv;
struct prison kvmkit_prison;
struct pstats kvmkit_pstats;
struct sysentvec kvmkit_sysentvec;
struct msgbuf kvmkit_msgbuf;
struct linker_file kvmkit_linker_file;
struct vmspace kvmkit_vmspace;
