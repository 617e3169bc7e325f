/*
 * DragonFly 1.10 kernel structures that kvmps reads, declared with the
 * member names, order and types of the DragonFly 1.10 headers, so that a C
 * compiler for i386 (the one architecture 1.10 ran on) lays them out as the
 * kernel's compiler did.  This is the generation DragonFly's libkvm
 * kvm_proc.c of that release walks: allproc then zombproc, each process's
 * LWPs on p_lwps through lwp_list.  gen-layouts.sh compiles this file with
 * gcc -m32 and reads the offsets back from the DWARF (mklayout).
 *
 * These are declarations written for kvmkit from the facts below; no
 * DragonFly code is included.  struct proc, lwp, thread, globaldata and tty
 * are declared up to the last member kvmps reads (their sizes are those of
 * these prefixes); the others whole.  Facts (member order and types), by
 * header, on the DragonFly_RELEASE_1_10 branch (the last commit to touch
 * each file in parentheses):
 *   sys/sys/proc.h (dc52e1ccb3)        struct proc, lwp, pgrp, session; enum lwpstat, procstat
 *   sys/sys/msgbuf.h (4abcbc584b)      struct msgbuf (kvmdmesg)
 *   sys/sys/linker.h                   struct linker_file (kvmmod; up to size)
 *   sys/sys/thread.h (b9665ad790)      struct thread (td_mpcount: SMP kernels' name
 *                                      of the same int), lwkt_queue
 *   sys/sys/msgport.h (a22c590e24)     lwkt_port, lwkt_msg_queue
 *   sys/sys/globaldata.h (10aa77c0fc)  struct globaldata
 *   sys/sys/ucred.h (be170d6b25), tty.h (b13267a512, struct clist), conf.h
 *   (0e9b91307a, struct cdev, SPECNAMELEN 15), callout.h (36567e504d),
 *   varsym.h (dbc282dfd5), lock.h (e33324756e), spinlock.h (2dd6375554),
 *   usched.h (702acf0688), resource.h (rusage), resourcevar.h (uprof),
 *   rtprio.h, signal.h (sigset_t of 4 words, stack_t), sys/cpu/i386/include/
 *   types.h (a92953496a: cpumask_t is a uint32), systimer.h (sysclock_t:
 *   uint32), sys/platform/pc32/include/proc.h (mdproc), sys/sys/param.h
 *   (MAXCOMLEN 16, MAXLOGNAME 17), syslimits.h (NGROUPS 16).
 */
#include <stddef.h>
#include <stdint.h>

#define MAXCOMLEN 16
#define MAXLOGNAME 17
#define NGROUPS 16
#define SPECNAMELEN 15
#define roundup(x, y) ((((x) + ((y)-1)) / (y)) * (y))

typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef char *caddr_t;
typedef int32_t pid_t;
typedef pid_t lwpid_t;
typedef uint32_t uid_t;
typedef uint32_t gid_t;
typedef uint32_t fixpt_t;
typedef uint32_t sysclock_t;
typedef uint32_t cpumask_t;
typedef long time_t;
typedef long suseconds_t;

/* Queue heads and entries (sys/queue.h): what each macro expands to. */
#define LIST_HEAD(name, type) struct name { struct type *lh_first; }
#define LIST_ENTRY(type) struct { struct type *le_next; struct type **le_prev; }
#define SLIST_HEAD(name, type) struct name { struct type *slh_first; }
#define SLIST_ENTRY(type) struct { struct type *sle_next; }
#define TAILQ_HEAD(name, type) struct name { struct type *tqh_first; struct type **tqh_last; }
#define TAILQ_ENTRY(type) struct { struct type *tqe_next; struct type **tqe_prev; }

struct spinlock {
    volatile int lock;
};

struct lock {
    struct spinlock lk_spinlock;
    u_int lk_flags;
    int lk_sharecount;
    int lk_waitcount;
    short lk_exclusivecount;
    short lk_unused1;
    char *lk_wmesg;
    int lk_timo;
    struct thread *lk_lockholder;
};

typedef struct __sigset {
    unsigned int __bits[4];
} sigset_t;

typedef struct sigaltstack {
    char *ss_sp;
    size_t ss_size;
    int ss_flags;
} stack_t;

struct timeval {
    time_t tv_sec;
    suseconds_t tv_usec;
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

struct uprof {
    caddr_t pr_base;
    u_long pr_size;
    u_long pr_off;
    u_long pr_scale;
    u_long pr_addr;
    u_long pr_ticks;
};

struct rtprio {
    u_short type;
    u_short prio;
};

struct varsymset {
    TAILQ_HEAD(, varsyment) vx_queue;
    int vx_setsize;
};

struct callout {
    union {
        SLIST_ENTRY(callout) sle;
        TAILQ_ENTRY(callout) tqe;
    } c_links;
    int c_time;
    void *c_arg;
    void (*c_func)(void *);
    int c_flags;
    struct globaldata *c_gd;
};

SLIST_HEAD(sigiolst, sigio);
SLIST_HEAD(klist, knote);
LIST_HEAD(proclist, proc);
LIST_HEAD(lwplist, lwp);
TAILQ_HEAD(lwkt_msg_queue, lwkt_msg);
TAILQ_HEAD(lwkt_queue, thread);

enum lwpstat { LSRUN = 1, LSSTOP = 2, LSSLEEP = 3 };
enum procstat { SIDL = 1, SACTIVE = 2, SSTOP = 3, SZOMB = 4 };

union usched_data {
    struct {
        short priority;
        char unused01;
        char rqindex;
        int origcpu;
        int estcpu;
        u_short rqtype;
        u_short unused02;
    } bsd4;
    int pad[4];
};

struct mdproc {
    struct trapframe *md_regs;
};

struct session {
    int s_count;
    struct proc *s_leader;
    struct vnode *s_ttyvp;
    struct tty *s_ttyp;
    pid_t s_sid;
    char s_login[roundup(MAXLOGNAME, sizeof(long))];
};

struct pgrp {
    LIST_ENTRY(pgrp) pg_hash;
    struct proclist pg_members;
    struct session *pg_session;
    struct sigiolst pg_sigiolst;
    pid_t pg_id;
    int pg_jobc;
    struct lock pg_lock;
};

struct lwp {
    TAILQ_ENTRY(lwp) lwp_procq;
    LIST_ENTRY(lwp) lwp_list;
    struct proc *lwp_proc;
    struct vmspace *lwp_vmspace;
    struct vkernel_lwp *lwp_vkernel;
    lwpid_t lwp_tid;
    int lwp_flag;
    enum lwpstat lwp_stat;
    int lwp_lock;
    int lwp_dupfd;
    int lwp_sig;
    u_long lwp_code;
    sysclock_t lwp_cpticks;
    sysclock_t lwp_cpbase;
    fixpt_t lwp_pctcpu;
    u_int lwp_slptime;
    int lwp_traceflag;
    struct rusage lwp_ru;
    union usched_data lwp_usdata;
    cpumask_t lwp_cpumask;
    sigset_t lwp_siglist;
    sigset_t lwp_oldsigmask;
    sigset_t lwp_sigmask;
    stack_t lwp_sigstk;
    struct rtprio lwp_rtprio;
    struct mdproc lwp_md;
    struct thread *lwp_thread;
    /* (later members are not read) */
};

struct proc {
    LIST_ENTRY(proc) p_list;
    struct ucred *p_ucred;
    struct filedesc *p_fd;
    struct filedesc_to_leader *p_fdtol;
    struct plimit *p_limit;
    struct pstats *p_stats;
    void *p_pad0;
    struct sigacts *p_sigacts;
    int p_flag;
    enum procstat p_stat;
    char p_pad1[3];
    pid_t p_pid;
    LIST_ENTRY(proc) p_hash;
    LIST_ENTRY(proc) p_pglist;
    struct proc *p_pptr;
    LIST_ENTRY(proc) p_sibling;
    struct proclist p_children;
    struct callout p_ithandle;
    struct varsymset p_varsymset;
    pid_t p_oppid;
    struct vmspace *p_vmspace;
    unsigned int p_swtime;
    struct itimerval p_realtimer;
    struct itimerval p_timer[3];
    int p_traceflag;
    struct ktrace_node *p_tracenode;
    sigset_t p_siglist;
    struct vnode *p_textvp;
    unsigned int p_stops;
    unsigned int p_stype;
    char p_step;
    unsigned char p_pfsflags;
    char p_pad2[2];
    struct sigiolst p_sigiolst;
    int p_sigparent;
    struct klist p_klist;
    struct timeval p_start;
    struct rusage p_ru;
    struct rusage p_cru;
    char p_comm[MAXCOMLEN + 1];
    char p_lock;
    char p_nice;
    char p_pad3;
    struct pgrp *p_pgrp;
    struct sysentvec *p_sysent;
    struct uprof p_prof;
    struct rtprio p_rtprio;
    struct pargs *p_args;
    u_short p_xstat;
    u_short p_acflag;
    int p_nthreads;
    int p_nstopped;
    int p_lasttid;
    struct lwplist p_lwps;
    /* (later members are not read) */
};

typedef struct lwkt_port {
    struct lwkt_msg_queue mp_msgq;
    int mp_flags;
    union {
        struct spinlock spin;
        struct thread *td;
        void *data;
    } mp_u;
    void *(*mp_getport)(struct lwkt_port *);
    int (*mp_putport)(struct lwkt_port *, struct lwkt_msg *);
    int (*mp_waitmsg)(struct lwkt_msg *, int flags);
    void *(*mp_waitport)(struct lwkt_port *, int flags);
    void (*mp_replyport)(struct lwkt_port *, struct lwkt_msg *);
} lwkt_port;

struct thread {
    TAILQ_ENTRY(thread) td_threadq;
    TAILQ_ENTRY(thread) td_allq;
    lwkt_port td_msgport;
    struct lwp *td_lwp;
    struct proc *td_proc;
    struct pcb *td_pcb;
    struct globaldata *td_gd;
    const char *td_wmesg;
    void *td_wchan;
    int td_pri;
    int td_flags;
    int td_wdomain;
    void (*td_preemptable)(struct thread *td, int critpri);
    void (*td_release)(struct thread *td);
    char *td_kstack;
    int td_kstack_size;
    char *td_sp;
    void (*td_switch)(struct thread *ntd);
    uint64_t td_uticks;
    uint64_t td_sticks;
    uint64_t td_iticks;
    int td_locks;
    int td_unused01;
    int td_refs;
    int td_nest_count;
    int td_mpcount;
    int td_cscount;
    struct timeval td_start;
    char td_comm[MAXCOMLEN + 1];
    /* (later members are not read) */
};

struct globaldata {
    struct privatespace *gd_prvspace;
    struct thread *gd_curthread;
    int gd_tdfreecount;
    uint32_t gd_reqflags;
    void *gd_unused00;
    struct lwkt_queue gd_tdallq;
    struct lwkt_queue gd_tdfreeq;
    struct lwkt_queue gd_tdrunq[32];
    uint32_t gd_runqmask;
    uint32_t gd_cpuid;
    /* (later members are not read) */
};

struct ucred {
    int cr_ref;
    uid_t cr_uid;
    short cr_ngroups;
    gid_t cr_groups[NGROUPS];
    struct uidinfo *cr_uidinfo;
    struct uidinfo *cr_ruidinfo;
    struct prison *cr_prison;
    uid_t cr_ruid;
    uid_t cr_svuid;
    gid_t cr_rgid;
    gid_t cr_svgid;
    struct spinlock cr_spin;
};

struct clist {
    int c_cc;
    int c_cbcount;
    int c_cbmax;
    int c_cbreserved;
    char *c_cf;
    char *c_cl;
};

struct tty {
    struct clist t_rawq;
    long t_rawcc;
    struct clist t_canq;
    long t_cancc;
    struct clist t_outq;
    long t_outcc;
    int t_line;
    struct cdev *t_dev;
    int t_state;
    int t_flags;
    int t_timeout;
    struct pgrp *t_pgrp;
    struct session *t_session;
    /* (later members are not read) */
};

struct cdev {
    u_int si_flags;
    int si_uminor;
    int si_umajor;
    LIST_ENTRY(cdev) si_hash;
    SLIST_HEAD(, vnode) si_hlist;
    char si_name[SPECNAMELEN + 1];
    /* (later members are not read) */
};

/* The kernel message buffer's header (kvmdmesg): msg_ptr is msg_size bytes
 * long; msg_bufx and msg_bufr index it. */
struct msgbuf {
    unsigned int msg_magic;
    unsigned int msg_size;
    unsigned int msg_bufx;
    unsigned int msg_bufr;
    char *msg_ptr;
};

/* A file the kernel linker loaded (kvmmod, as kldstat lists it): declared
 * up to size, the last member read (sys/sys/linker.h; no kobj ops and no
 * pathname, unlike FreeBSD's). */
struct linker_file {
    int refs;
    int userrefs;
    int flags;
    TAILQ_ENTRY(linker_file) link;
    char *filename;
    int id;
    caddr_t address;
    size_t size;
    /* (later members are not read) */
};

/* One object of each type, so that the compiler emits their DWARF. */
struct proc kvmkit_proc;
struct lwp kvmkit_lwp;
struct thread kvmkit_thread;
struct globaldata kvmkit_globaldata;
struct ucred kvmkit_ucred;
struct pgrp kvmkit_pgrp;
struct session kvmkit_session;
struct tty kvmkit_tty;
struct cdev kvmkit_cdev;
struct msgbuf kvmkit_msgbuf;
struct linker_file kvmkit_linker_file;
