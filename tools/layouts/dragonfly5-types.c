/*
 * DragonFly 5.8 kernel structures that kvmps reads, declared with the member
 * names, order and types of the DragonFly 5.8 headers, so that a C compiler
 * for x86_64 lays them out as the kernel's compiler did.  gen-layouts.sh
 * compiles this file with gcc -m64 and reads the offsets back from the
 * DWARF with kvmkit's own reader (mklayout).
 *
 * These are declarations written for kvmkit from the facts below; no
 * DragonFly code is included.  struct proc, lwp, thread and globaldata are
 * declared up to the last member kvmps reads (the layouts' sizes are those
 * of these prefixes, which is all a walker reads); the others whole.
 * Facts (member order and types), by header, on the DragonFly_RELEASE_5_8
 * branch (the last commit to touch each file in parentheses):
 *   sys/sys/proc.h (b6e9d95d54)          struct proc, lwp, pgrp, session, procglob
 *   sys/sys/proc_common.h (5569e48871)   enum lwpstat, enum procstat
 *   sys/sys/thread.h (15c8fbefc2)        struct thread, struct lwkt_token, lwkt_queue
 *   sys/sys/msgport.h (9d4f17d13b)       lwkt_port, lwkt_msg_queue
 *   sys/sys/globaldata.h (9d4f17d13b)    struct globaldata
 *   sys/sys/ucred.h (cd4ac48fd1)         struct ucred (__cachealign reference count)
 *   sys/sys/tty.h (805c8e8e40)           struct tty, struct clist
 *   sys/sys/conf.h (91ffdfc563)          struct cdev
 *   sys/sys/callout.h (5606f9a7c9)       struct callout, _callout (CALLOUT_TYPESTABLE undefined)
 *   sys/sys/msgbuf.h (c70d456200)        struct msgbuf (kvmdmesg; msg_bufl and free-running
 *                                        indexes since 5608ef1759, 2015)
 *   sys/sys/linker.h                     struct linker_file (kvmmod; up to size,
 *                                        unchanged from 1.x to 6.x up to there)
 *   sys/sys/varsym.h, iosched.h, namecache.h (nchandle), lock.h, spinlock.h,
 *   tree.h (RB_HEAD with rbh_inprog and rbh_spin, RB_ENTRY with rbe_color),
 *   usched.h (union usched_data), resource.h (rusage), resourcevar.h
 *   (uprof), rtprio.h, _sigset.h (4 words), signal.h (stack_t), event.h
 *   (klist), filedesc.h (sigiolst), systimer.h (sysclock_t: uint32),
 *   sys/cpu/x86_64/include/cpumask.h (cpumask_t: 4 x uint64),
 *   sys/platform/pc64/include/proc.h (mdproc), sys/sys/param.h (MAXCOMLEN
 *   16, MAXLOGNAME 33, NGROUPS 16, SPECNAMELEN 63), sys/sys/cdefs.h
 *   (__cachealign: 64-byte alignment).
 * The branch is that of the DragonFly git repository (mirror lileding/
 * DragonFlyBSD); the allprocs hash is procglob[allproc_hsize] there
 * (kern_proc.c, lib/libkvm/kvm_proc.c of the same branch).
 */
#include <stddef.h>
#include <stdint.h>

#define MAXCOMLEN 16
#define MAXLOGNAME 33
#define NGROUPS 16
#define SPECNAMELEN 63
#define roundup(x, y) ((((x) + ((y)-1)) / (y)) * (y))
#define __cachealign __attribute__((__aligned__(64)))

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
typedef long time_t;
typedef long suseconds_t;

/* Queue heads and entries (sys/queue.h, sys/tree.h): what each macro expands to. */
#define LIST_HEAD(name, type) struct name { struct type *lh_first; }
#define LIST_ENTRY(type) struct { struct type *le_next; struct type **le_prev; }
#define SLIST_HEAD(name, type) struct name { struct type *slh_first; }
#define TAILQ_HEAD(name, type) struct name { struct type *tqh_first; struct type **tqh_last; }
#define TAILQ_ENTRY(type) struct { struct type *tqe_next; struct type **tqe_prev; }
#define RB_HEAD(name, type)                  \
    struct name {                            \
        struct type *rbh_root;               \
        struct name##_scan_info *rbh_inprog; \
        struct spinlock rbh_spin;            \
    }
#define RB_ENTRY(type)            \
    struct {                      \
        struct type *rbe_left;    \
        struct type *rbe_right;   \
        struct type *rbe_parent;  \
        int rbe_color;            \
    }

struct spinlock {
    int counta;
    int countb;
};

struct lwkt_token {
    long t_count;
    struct lwkt_tokref *t_ref;
    long t_collisions;
    const char *t_desc;
};

struct lock {
    u_int lk_flags;
    int lk_timo;
    uint64_t lk_count;
    const char *lk_wmesg;
    struct thread *lk_lockholder;
};

typedef struct {
    uint64_t ary[4];
} cpumask_t;

typedef struct __sigset {
    unsigned int __bits[4];
} sigset_t;

typedef struct sigaltstack {
    void *ss_sp;
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

struct nchandle {
    struct namecache *ncp;
    struct mount *mount;
};

struct iosched_data {
    size_t iorbytes;
    size_t iowbytes;
    int lastticks;
};

struct varsymset {
    TAILQ_HEAD(, varsyment) vx_queue;
    int vx_setsize;
    struct lock vx_lock;
};

struct _callout {
    struct spinlock spin;
    TAILQ_ENTRY(_callout) entry;
    struct callout *verifier;
    uint32_t flags;
    uint32_t lineno;
    struct lock *lk;
    const char *ident;
    struct softclock_pcpu *rsc;
    void *rarg;
    void (*rfunc)(void *);
    int rtick;
    int unused01;
    struct softclock_pcpu *qsc;
    void *qarg;
    void (*qfunc)(void *);
    int qtick;
    int waiters;
};

struct callout {
    struct _callout toc;
    uint32_t flags;
};

SLIST_HEAD(sigiolst, sigio);
SLIST_HEAD(klist, knote);
LIST_HEAD(proclist, proc);
LIST_HEAD(pgrplist, pgrp);
LIST_HEAD(sesslist, session);
RB_HEAD(lwp_rb_tree, lwp);
TAILQ_HEAD(lwkt_msg_queue, lwkt_msg);
TAILQ_HEAD(lwkt_queue, thread);

enum lwpstat { LSRUN = 1, LSSTOP = 2, LSSLEEP = 3 };
enum procstat { SIDL = 1, SACTIVE = 2, SSTOP = 3, SZOMB = 4, SCORE = 5 };

union usched_data {
    struct {
        short priority;
        char unused01;
        char rqindex;
        int batch;
        int estcpu;
        u_short rqtype;
        u_short unused02;
    } bsd4;
    struct {
        short priority;
        char forked;
        char rqindex;
        short estfast;
        short uload;
        int estcpu;
        u_short rqtype;
        u_short qcpu;
        u_short rrcount;
        u_short unused01;
        u_short unused02;
        u_short unused03;
    } dfly;
    int pad[6];
};

struct mdproc {
    struct trapframe *md_regs;
};

struct session {
    LIST_ENTRY(session) s_list;
    int s_count;
    struct procglob *s_prg;
    struct proc *s_leader;
    struct vnode *s_ttyvp;
    struct tty *s_ttyp;
    pid_t s_sid;
    char s_login[roundup(MAXLOGNAME, sizeof(long))];
};

struct pgrp {
    LIST_ENTRY(pgrp) pg_list;
    struct proclist pg_members;
    struct session *pg_session;
    struct sigiolst pg_sigiolst;
    pid_t pg_id;
    int pg_jobc;
    u_int pg_refs;
    struct lwkt_token pg_token;
    struct lock pg_lock;
};

struct lwp {
    TAILQ_ENTRY(lwp) lwp_procq;
    union {
        RB_ENTRY(lwp) lwp_rbnode;
        LIST_ENTRY(lwp) lwp_reap_entry;
    } u;
    struct proc *lwp_proc;
    struct vmspace *lwp_vmspace;
    struct vkernel_lwp *lwp_vkernel;
    lwpid_t lwp_tid;
    u_int lwp_flags;
    u_int lwp_mpflags;
    enum lwpstat lwp_stat;
    int lwp_lock;
    int lwp_dupfd;
    int lwp_sig;
    u_long lwp_code;
    sysclock_t lwp_cpticks;
    sysclock_t lwp_cpbase;
    fixpt_t lwp_pctcpu;
    u_int lwp_slptime;
    u_int lwp_rebal_ticks;
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
    u_int p_mqueue_cnt;
    long p_waitgen;
    struct sigacts *p_sigacts;
    int p_flags;
    enum procstat p_stat;
    char p_advlock_flag;
    char p_pad1[2];
    pid_t p_pid;
    pid_t p_ppid;
    LIST_ENTRY(proc) p_pglist;
    struct proc *p_pptr;
    LIST_ENTRY(proc) p_sibling;
    struct proclist p_children;
    struct callout p_ithandle;
    struct varsymset p_varsymset;
    struct iosched_data p_iosdata;
    pid_t p_oppid;
    struct vmspace *p_vmspace;
    unsigned int p_swtime;
    struct itimerval p_realtimer;
    struct itimerval p_timer[3];
    int p_traceflag;
    struct ktrace_node *p_tracenode;
    sigset_t p_siglist;
    struct vnode *p_textvp;
    struct nchandle p_textnch;
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
    void *p_linux_mm;
    char p_comm[MAXCOMLEN + 1];
    char p_pad3;
    char p_nice;
    char p_pad4;
    int p_osrel;
    struct pgrp *p_pgrp;
    struct sysentvec *p_sysent;
    struct uprof p_prof;
    struct rtprio p_rtprio;
    struct pargs *p_args;
    u_short p_xstat;
    u_short p_depth;
    int p_ionice;
    void *p_unused02;
    u_short p_acflag;
    int p_lock;
    int p_nthreads;
    int p_nstopped;
    int p_lasttid;
    struct lwp_rb_tree p_lwp_tree;
    /* (later members are not read) */
};

struct procglob {
    struct lwkt_token proc_token;
    struct proclist allproc;
    struct pgrplist allpgrp;
    struct sesslist allsess;
    void *pad01;
} __cachealign;

typedef struct lwkt_port {
    struct lwkt_msg_queue mp_msgq;
    struct lwkt_msg_queue mp_msgq_prio;
    int mp_flags;
    int mp_cpuid;
    union {
        struct spinlock spin;
        struct lwkt_serialize *serialize;
        void *data;
    } mp_u;
    struct thread *mpu_td;
    void *(*mp_getport)(struct lwkt_port *);
    int (*mp_putport)(struct lwkt_port *, struct lwkt_msg *);
    int (*mp_waitmsg)(struct lwkt_msg *, int flags);
    void *(*mp_waitport)(struct lwkt_port *, int flags);
    void (*mp_replyport)(struct lwkt_port *, struct lwkt_msg *);
    int (*mp_dropmsg)(struct lwkt_port *, struct lwkt_msg *);
    int (*mp_putport_oncpu)(struct lwkt_port *, struct lwkt_msg *);
} lwkt_port;

struct thread {
    TAILQ_ENTRY(thread) td_threadq;
    TAILQ_ENTRY(thread) td_allq;
    TAILQ_ENTRY(thread) td_sleepq;
    lwkt_port td_msgport;
    struct lwp *td_lwp;
    struct proc *td_proc;
    struct pcb *td_pcb;
    struct globaldata *td_gd;
    const char *td_wmesg;
    const volatile void *td_wchan;
    int td_pri;
    int td_critcount;
    u_int td_flags;
    int td_wdomain;
    void (*td_preemptable)(struct thread *td, int critcount);
    void (*td_release)(struct thread *td);
    char *td_kstack;
    int td_kstack_size;
    char *td_sp;
    struct thread *(*td_switch)(struct thread *ntd);
    uint64_t td_uticks;
    uint64_t td_sticks;
    uint64_t td_iticks;
    int td_locks;
    struct plimit *td_limit;
    int td_refs;
    int td_nest_count;
    u_int td_contended;
    u_int td_mpflags;
    int td_cscount;
    int td_wakefromcpu;
    int td_upri;
    int td_type;
    int td_tracker;
    int td_fdcache_lru;
    int td_unused03[3];
    struct iosched_data td_iosdata;
    struct timeval td_start;
    char td_comm[MAXCOMLEN + 1];
    /* (later members are not read) */
};

struct globaldata {
    struct privatespace *gd_prvspace;
    struct thread *gd_curthread;
    struct thread *gd_freetd;
    uint32_t gd_reqflags;
    long gd_flags;
    struct lwkt_queue gd_tdallq;
    struct lwkt_queue gd_tdrunq;
    uint32_t gd_cpuid;
    /* (later members are not read) */
};

struct ucred {
    struct {
        long cr_ref;
    } __cachealign;
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
} __cachealign;

struct clist {
    int c_cc;
    int c_ccmax;
    int c_cchead;
    int c_unused01;
    short *c_data;
};

struct tty {
    struct lwkt_token t_token;
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
    uint64_t si_inode;
    uid_t si_uid;
    gid_t si_gid;
    int si_perms;
    TAILQ_ENTRY(cdev) link;
    int si_uminor;
    int si_umajor;
    struct cdev *si_parent;
    LIST_ENTRY(cdev) si_hash;
    SLIST_HEAD(, vnode) si_hlist;
    char si_name[SPECNAMELEN + 1];
    /* (later members are not read) */
};

/* The kernel message buffer's header (kvmdmesg): msg_ptr is msg_size bytes
 * long; msg_bufx and msg_bufr run free (MSG_MAGIC 0x063064). */
struct msgbuf {
    unsigned int msg_magic;
    unsigned int msg_size;
    unsigned int msg_bufx;
    unsigned int msg_bufr;
    char *msg_ptr;
    unsigned int msg_bufl;
    unsigned int msg_unused01;
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
struct procglob kvmkit_procglob;
struct msgbuf kvmkit_msgbuf;
struct linker_file kvmkit_linker_file;
