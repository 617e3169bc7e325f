/*
 * NetBSD 10 kernel structures that kvmps and kvmdmesg read, declared with the member
 * names, order and types of the NetBSD 10 headers, so that a C compiler for
 * the target ABI lays them out as the kernel's compiler did.  gen-layouts.sh
 * compiles this file with gcc -m64 (amd64) and -m32 (i386) and reads the
 * offsets back from the DWARF with kvmkit's own reader (mklayout).
 *
 * These are declarations written for kvmkit from the facts below; no NetBSD
 * code is included.  Facts (member order and types), by header and revision:
 *   sys/sys/proc.h 1.370.4.2    struct proc, session, pgrp       (netbsd-10)
 *   sys/sys/lwp.h 1.217         struct lwp
 *   sys/sys/kauth.h 1.73        struct kauth_cred (__KAUTH_PRIVATE)
 *   sys/sys/tty.h 1.103         struct tty, clist
 *   sys/uvm/uvm_extern.h        struct vmspace
 *   sys/uvm/uvm_map.h 1.80      struct vm_map, vm_map_entry
 *   sys/sys/condvar.h 1.17      kcondvar_t: two pointers
 *   sys/arch/x86/include/mutex.h, rwlock.h: kmutex_t and krwlock_t are one
 *                               pointer-sized word
 *   sys/sys/specificdata.h 1.4, signalvar.h 1.104, siginfo.h 1.34,
 *   sigtypes.h, callout.h 1.32 (ten pointers), selinfo.h, rbtree.h,
 *   event.h (struct klist: one pointer), sys/types.h, sys/common_ansi.h,
 *   sys/param.h (COHERENCY_UNIT 64, MAXCOMLEN 16, NGROUPS 16, MAXLOGNAME 16),
 *   termios.h (NCCS 20), sys/pcu.h (x86 has no PCU units),
 *   sys/arch/amd64/include/proc.h 1.25, sys/arch/i386/include/proc.h 1.48,
 *   sys/sys/msgbuf.h 1.18           struct kern_msgbuf (kvmdmesg)
 *   sys/sys/module.h 1.48           struct module (up to mod_source), modinfo
 *                               (kvmmod; MAXMODDEPS 10)
 *   sys/uvm/uvm_object.h 1.39   struct uvm_object; sys/sys/radixtree.h: struct
 *                               radix_tree (t_root, t_height)
 *   sys/arch/x86/include/pmap_private.h  struct pmap up to pm_pdirpa (the
 *                               page directory a process's arguments are read
 *                               through): pm_obj[PTP_LEVELS-1], pm_list,
 *                               pm_pdir, pm_pdirpa[PDP_SIZE]; amd64 has 4
 *                               levels and PDP_SIZE 1, i386 without PAE (its
 *                               GENERIC) 2 levels and PDP_SIZE 1
 *   sys/sys/exec.h 1.160        struct ps_strings (kvm_getargv)
 *   sys/sys/kobj_impl.h         struct kobj up to ko_text_size (kvmmod), as
 *                               NetBSD/src declares it since the text, data and
 *                               rodata segments were split (1.3.12.1)
 *   sys/sys/resourcevar.h           struct pstats, uprof; sys/sys/time.h struct itimerspec
 *   sys/sys/proc.h                  struct emul: its first two members only (e_name, e_path)
 * The revisions are those of the NetBSD 10.0 headers as shipped in
 * ziglang/zig lib/libc/include/{generic,x86_64}-netbsd*, cross-checked with
 * NetBSD/src and the netbsd-10 proc.h named in netbsd-dump-format.md.
 */
#include <stdint.h>

#define COHERENCY_UNIT 64
#define MAXCOMLEN 16
#define MAXLOGNAME 16
#define NGROUPS 16
#define NCCS 20

typedef __SIZE_TYPE__ size_t;
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef uint64_t u_quad_t;
typedef int32_t pid_t;
typedef int32_t lwpid_t;
typedef uint32_t uid_t;
typedef uint32_t gid_t;
typedef uint64_t dev_t;
typedef uint32_t fixpt_t;
typedef int32_t segsz_t;
typedef int64_t time_t;
typedef int64_t off_t;
typedef int suseconds_t;
typedef unsigned int clock_t;
typedef int pri_t;
typedef int psetid_t;
typedef unsigned long vaddr_t;
typedef unsigned long vsize_t;
typedef off_t voff_t;
typedef int vm_prot_t;
typedef int vm_inherit_t;
typedef volatile const void *wchan_t;
typedef _Bool bool;

/* Queue heads and entries (sys/queue.h): what each macro expands to. */
#define LIST_HEAD(type) struct { struct type *lh_first; }
#define LIST_ENTRY(type) struct { struct type *le_next; struct type **le_prev; }
#define SLIST_HEAD(type) struct { struct type *slh_first; }
#define SLIST_ENTRY(type) struct { struct type *sle_next; }
#define TAILQ_HEAD(type) struct { struct type *tqh_first; struct type **tqh_last; }
#define TAILQ_ENTRY(type) struct { struct type *tqe_next; struct type **tqe_prev; }

/* x86: one word, an owner or a spin-lock encoding. */
typedef struct kmutex {
    union {
        volatile uintptr_t mtxa_owner;
        struct {
            volatile uint8_t mtxs_dummy;
            uint8_t mtxs_ipl;
            volatile uint8_t mtxs_lock;
            volatile uint8_t mtxs_unused;
        } s;
    } u;
} kmutex_t;

typedef struct krwlock {
    volatile uintptr_t rw_owner;
} krwlock_t;

typedef struct kcondvar {
    void *cv_opaque[2];
} kcondvar_t;

typedef struct callout {
    void *_c_store[10];
} callout_t;

typedef struct {
    struct specificdata_container *specdataref_container;
    kmutex_t specdataref_lock;
} specificdata_reference;

typedef struct {
    uint32_t __bits[4];
} sigset_t;

typedef struct sigaltstack {
    void *ss_sp;
    size_t ss_size;
    int ss_flags;
} stack_t;

struct bintime {
    time_t sec;
    uint64_t frac;
};

struct timespec {
    time_t tv_sec;
    long tv_nsec;
};

struct timeval {
    time_t tv_sec;
    suseconds_t tv_usec;
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

struct itimerspec {
    struct timespec it_interval;
    struct timespec it_value;
};

struct uprof {
    char *pr_base;
    size_t pr_size;
    unsigned long pr_off;
    unsigned int pr_scale;
    unsigned long pr_addr;
    unsigned long pr_ticks;
};

struct pstats {
    struct rusage p_ru;
    struct rusage p_cru;
    struct itimerspec p_timer[3];
    struct uprof p_prof;
    struct timeval p_start;
};

/* Only the members kvmps reads, which lead the structure; the rest is not declared. */
struct emul {
    const char *e_name;
    const char *e_path;
};

struct klist {
    struct knote *slh_first;
};

typedef union sigval {
    int sival_int;
    void *sival_ptr;
} sigval_t;

struct _ksiginfo {
    int _signo;
    int _code;
    int _errno;
#ifdef __LP64__
    int _pad; /* the union starts on an 8-byte boundary */
#endif
    union {
        struct {
            pid_t _pid;
            uid_t _uid;
            sigval_t _value;
        } _rt;
        struct {
            pid_t _pid;
            uid_t _uid;
            int _status;
            clock_t _utime;
            clock_t _stime;
        } _child;
        struct {
            void *_addr;
            int _trap;
            int _trap2;
            int _trap3;
        } _fault;
        struct {
            long _band;
            int _fd;
        } _poll;
        struct {
            int _sysnum;
            int _retval[2];
            int _error;
            uint64_t _args[8];
        } _syscall;
        struct {
            int _pe_report_event;
            union {
                pid_t _pe_other_pid;
                lwpid_t _pe_lwp;
            } _option;
        } _ptrace_state;
    } _reason;
};

typedef struct sigpend {
    TAILQ_HEAD(ksiginfo) sp_info;
    sigset_t sp_set;
} sigpend_t;

struct sigctx {
    struct _ksiginfo ps_info;
    int ps_lwp;
    bool ps_faked;
    void *ps_sigcode;
    sigset_t ps_sigignore;
    sigset_t ps_sigcatch;
    sigset_t ps_sigpass;
};

/* Machine-dependent parts: amd64 proc.h 1.25 and i386 proc.h 1.48 agree. */
struct mdlwp {
    volatile uint64_t md_tsc;
    struct trapframe *md_regs;
    int md_flags;
    volatile int md_astpending;
};

struct mdproc {
    int md_flags;
    void (*md_syscall)(struct trapframe *);
};

struct session {
    int s_count;
    u_int s_flags;
    struct proc *s_leader;
    struct vnode *s_ttyvp;
    struct tty *s_ttyp;
    char s_login[MAXLOGNAME];
    pid_t s_sid;
};

struct pgrp {
    LIST_HEAD(proc) pg_members;
    struct session *pg_session;
    pid_t pg_id;
    int pg_jobc;
};

struct kauth_cred {
    u_int cr_refcnt;
    uint8_t cr_pad[COHERENCY_UNIT - 4];
    uid_t cr_uid;
    uid_t cr_euid;
    uid_t cr_svuid;
    gid_t cr_gid;
    gid_t cr_egid;
    gid_t cr_svgid;
    u_int cr_ngroups;
    gid_t cr_groups[NGROUPS];
    specificdata_reference cr_sd;
};

struct proc {
    LIST_ENTRY(proc) p_list;
    kmutex_t *p_lock;
    kcondvar_t p_waitcv;
    kcondvar_t p_lwpcv;
    struct kauth_cred *p_cred;
    struct filedesc *p_fd;
    struct cwdinfo *p_cwdi;
    struct pstats *p_stats;
    struct plimit *p_limit;
    struct vmspace *p_vmspace;
    struct sigacts *p_sigacts;
    struct aioproc *p_aio;
    u_int p_mqueue_cnt;
    specificdata_reference p_specdataref;
    int p_exitsig;
    int p_flag;
    int p_sflag;
    int p_slflag;
    int p_lflag;
    int p_stflag;
    char p_stat;
    char p_trace_enabled;
    char p_pad1[2];
    pid_t p_pid;
    LIST_ENTRY(proc) p_pglist;
    struct proc *p_pptr;
    LIST_ENTRY(proc) p_sibling;
    LIST_HEAD(proc) p_children;
    LIST_HEAD(lwp) p_lwps;
    struct ras *p_raslist;
    int p_nlwps;
    int p_nzlwps;
    int p_nrlwps;
    int p_nlwpwait;
    int p_ndlwps;
    u_int p_nstopchild;
    u_int p_waited;
    struct lwp *p_zomblwp;
    struct lwp *p_vforklwp;
    void *p_sched_info;
    fixpt_t p_estcpu;
    fixpt_t p_estcpu_inherited;
    unsigned int p_forktime;
    fixpt_t p_pctcpu;
    struct proc *p_opptr;
    struct ptimers *p_timers;
    struct bintime p_rtime;
    u_quad_t p_uticks;
    u_quad_t p_sticks;
    u_quad_t p_iticks;
    uint64_t p_xutime;
    uint64_t p_xstime;
    int p_traceflag;
    void *p_tracep;
    struct vnode *p_textvp;
    struct emul *p_emul;
    void *p_emuldata;
    const struct execsw *p_execsw;
    struct klist p_klist;
    LIST_HEAD(lwp) p_sigwaiters;
    sigpend_t p_sigpend;
    struct lcproc *p_lwpctl;
    pid_t p_ppid;
    pid_t p_oppid;
    char *p_path;
    struct sigctx p_sigctx;
    u_char p_nice;
    char p_comm[MAXCOMLEN + 1];
    struct pgrp *p_pgrp;
    vaddr_t p_psstrp;
    u_int p_pax;
    int p_xexit;
    u_short p_xsig;
    u_short p_acflag;
    struct mdproc p_md;
    vaddr_t p_stackbase;
    struct kdtrace_proc *p_dtrace;
    kmutex_t p_auxlock __attribute__((__aligned__(COHERENCY_UNIT)));
    kmutex_t p_stmutex;
    krwlock_t p_reflock;
};

struct lwp {
    struct cpu_info *volatile l_cpu;
    kmutex_t *volatile l_mutex;
    struct turnstile *l_ts;
    int l_stat;
    int l__reserved;
    TAILQ_ENTRY(lwp) l_runq;
    union {
        void *info;
        u_int timeslice;
    } l_sched;
    void *l_addr;
    struct mdlwp l_md;
    struct bintime l_rtime;
    struct bintime l_stime;
    int l_flag;
    u_int l_swtime;
    u_int l_rticks;
    u_int l_rticksum;
    u_int l_slpticks;
    u_int l_slpticksum;
    int l_biglocks;
    int l_class;
    int l_kpriority;
    pri_t l_kpribase;
    pri_t l_priority;
    pri_t l_inheritedprio;
    pri_t l_protectprio;
    pri_t l_auxprio;
    int l_protectdepth;
    u_int l_cpticks;
    psetid_t l_psid;
    fixpt_t l_pctcpu;
    fixpt_t l_estcpu;
    volatile uint64_t l_ncsw;
    volatile uint64_t l_nivcsw;
    SLIST_HEAD(turnstile) l_pi_lenders;
    struct cpu_info *l_target_cpu;
    struct lwpctl *l_lwpctl;
    struct lcpage *l_lcpage;
    struct kcpuset *l_affinity;
    struct syncobj *l_syncobj;
    LIST_ENTRY(lwp) l_sleepchain;
    wchan_t l_wchan;
    const char *l_wmesg;
    struct sleepq *l_sleepq;
    callout_t l_timeout_ch;
    kcondvar_t l_waitcv;
    u_int l_slptime;
    bool l_vforkwaiting;
    uintptr_t l_robust_head;
    uint32_t l___rsvd1;
    lwpid_t l_lid;
    LIST_ENTRY(lwp) l_list;
    void *l_ctxlink;
    struct proc *l_proc;
    LIST_ENTRY(lwp) l_sibling;
    char *l_name;
    lwpid_t l_waiter;
    lwpid_t l_waitingfor;
    int l_prflag;
    u_int l_refcnt;
    int l_selflag;
    int l_selret;
    SLIST_HEAD(selinfo) l_selwait;
    uintptr_t l_selrec;
    struct selcluster *l_selcluster;
    void *l_selbits;
    size_t l_selni;
    int l_sigrestore;
    sigset_t l_sigwaitset;
    kcondvar_t l_sigcv;
    struct ksiginfo *l_sigwaited;
    sigpend_t *l_sigpendset;
    LIST_ENTRY(lwp) l_sigwaiter;
    stack_t l_sigstk;
    sigset_t l_sigmask;
    sigpend_t l_sigpend;
    sigset_t l_sigoldmask;
    specificdata_reference l_specdataref;
    struct timespec l_ktrcsw;
    void *l_private;
    struct lwp *l_switchto;
    struct kauth_cred *l_cred;
    struct filedesc *l_fd;
    void *l_emuldata;
    struct fstrans_lwp_info *l_fstrans;
    u_short l_shlocks;
    u_short l_exlocks;
    u_short l_psrefs;
    u_short l_blcnt;
    volatile int l_nopreempt;
    volatile u_int l_dopreempt;
    int l_pflag;
    int l_dupfd;
    const struct sysent *volatile l_sysent;
    struct rusage l_ru;
    uint64_t l_pfailtime;
    uintptr_t l_pfailaddr;
    uintptr_t l_pfaillock;
    struct {
        struct lockdebug *tqh_first;
        struct lockdebug *volatile *tqh_last;
    } l_ld_locks;
    volatile void *l_ld_wanted;
    uintptr_t l_rwcallsite;
    int l_tcgen;
    uint32_t l_syscall_time;
    uint64_t *l_syscall_counter;
    struct kdtrace_thread *l_dtrace;
};

struct clist {
    u_char *c_cf;
    u_char *c_cl;
    u_char *c_cs;
    u_char *c_ce;
    u_char *c_cq;
    int c_cc;
    int c_cn;
};

struct selinfo {
    uint64_t sel_collision;
    struct klist sel_klist;
    void *sel_cluster;
    struct lwp *sel_lwp;
    uintptr_t sel_fdinfo;
    SLIST_ENTRY(selinfo) sel_chain;
    uintptr_t sel_reserved[2];
};

struct termios {
    unsigned int c_iflag;
    unsigned int c_oflag;
    unsigned int c_cflag;
    unsigned int c_lflag;
    unsigned char c_cc[NCCS];
    int c_ispeed;
    int c_ospeed;
};

struct winsize {
    unsigned short ws_row;
    unsigned short ws_col;
    unsigned short ws_xpixel;
    unsigned short ws_ypixel;
};

enum ttysigtype { TTYSIG_PG1, TTYSIG_PG2, TTYSIG_LEADER, TTYSIG_COUNT };

struct tty {
    TAILQ_ENTRY(tty) tty_link;
    struct clist t_rawq;
    long t_rawcc;
    kcondvar_t t_rawcv;
    kcondvar_t t_rawcvf;
    struct clist t_canq;
    long t_cancc;
    kcondvar_t t_cancv;
    kcondvar_t t_cancvf;
    struct clist t_outq;
    long t_outcc;
    kcondvar_t t_outcv;
    kcondvar_t t_outcvf;
    callout_t t_rstrt_ch;
    struct linesw *t_linesw;
    dev_t t_dev;
    int t_state;
    int t_wopen;
    int t_flags;
    int t_qsize;
    struct pgrp *t_pgrp;
    struct session *t_session;
    struct selinfo t_rsel;
    struct selinfo t_wsel;
    struct termios t_termios;
    struct winsize t_winsize;
    void (*t_oproc)(struct tty *);
    int (*t_param)(struct tty *, struct termios *);
    int (*t_hwiflow)(struct tty *, int);
    void *t_sc;
    short t_column;
    short t_rocount;
    short t_rocol;
    int t_hiwat;
    int t_lowat;
    short t_gen;
    sigset_t t_sigs[TTYSIG_COUNT];
    int t_sigcount;
    TAILQ_ENTRY(tty) t_sigqueue;
    void *t_softc;
    volatile unsigned t_refcnt;
};

typedef struct rb_node {
    struct rb_node *rb_nodes[2];
    uintptr_t rb_info;
} rb_node_t;

typedef struct rb_tree {
    struct rb_node *rbt_root;
    const void *rbt_ops;
    struct rb_node *rbt_minmax[2];
} rb_tree_t;

struct vm_aref {
    int ar_pageoff;
    struct vm_amap *ar_amap;
};

struct vm_map_entry {
    struct rb_node rb_node;
    vaddr_t start;
    vaddr_t end;
    vsize_t gap;
    vsize_t maxgap;
    struct vm_map_entry *prev;
    struct vm_map_entry *next;
    union {
        struct uvm_object *uvm_obj;
        struct vm_map *sub_map;
    } object;
    voff_t offset;
    uint8_t etype;
    uint8_t flags;
    uint8_t advice;
    uint8_t unused;
    vm_prot_t protection;
    vm_prot_t max_protection;
    vm_inherit_t inheritance;
    int wired_count;
    struct vm_aref aref;
};

struct vm_map {
    struct pmap *pmap;
    krwlock_t lock;
    struct lwp *busy;
    kmutex_t misc_lock;
    kcondvar_t cv;
    int flags;
    struct rb_tree rb_tree;
    struct vm_map_entry header;
    int nentries;
    vsize_t size;
    volatile int ref_count;
    struct vm_map_entry *hint;
    struct vm_map_entry *first_free;
    unsigned int timestamp;
};

struct vmspace {
    struct vm_map vm_map;
    volatile int vm_refcnt;
    void *vm_shm;
    segsz_t vm_rssize;
    segsz_t vm_rssmax;
    segsz_t vm_tsize;
    segsz_t vm_dsize;
    segsz_t vm_ssize;
    segsz_t vm_issize;
    void *vm_taddr;
    void *vm_daddr;
    void *vm_maxsaddr;
    void *vm_minsaddr;
    size_t vm_aslr_delta_mmap;
};

/* The kernel message buffer's header; msg_bufc is msg_bufs bytes long. */
struct kern_msgbuf {
    long msg_magic;
    long msg_bufx;
    long msg_bufr;
    long msg_bufs;
    char msg_bufc[1];
};

/* A loaded module (kvmmod, as modstat lists it): struct module up to
 * mod_source, the last member read; its modinfo_t; its kobj up to
 * ko_text_size (modstat's ADDRESS and SIZE are the text segment's). */
typedef enum modclass { MODULE_CLASS_ANY } modclass_t;
typedef enum modsrc { MODULE_SOURCE_KERNEL } modsrc_t;
typedef enum kobjtype { KT_UNSET } kobjtype_t;
typedef struct modinfo {
    u_int mi_version;
    modclass_t mi_class;
    int (*mi_modcmd)(int, void *);
    const char *mi_name;
    const char *mi_required;
} modinfo_t;
struct kobj {
    char ko_name[32];
    kobjtype_t ko_type;
    void *ko_source;
    long ko_memsize;
    vaddr_t ko_text_address;
    vaddr_t ko_data_address;
    vaddr_t ko_rodata_address;
    void *ko_shdr;
    void *ko_progtab;
    void *ko_relatab;
    void *ko_reltab;
    void *ko_symtab;
    char *ko_strtab;
    char *ko_shstrtab;
    size_t ko_text_size;
    /* (later members are not read) */
};
struct module {
    u_int mod_refcnt;
    int mod_flags;
    const modinfo_t *mod_info;
    struct kobj *mod_kobj;
    TAILQ_ENTRY(module) mod_chain;
    struct module *(*mod_required)[10];
    u_int mod_nrequired;
    u_int mod_arequired;
    modsrc_t mod_source;
    /* (later members are not read) */
};

/* A process's page tables (its arguments are read through them): the x86
 * struct pmap up to pm_pdirpa, the physical address of its top-level table. */
struct radix_tree {
    void *t_root;
    unsigned int t_height;
};
struct uvm_object {
    krwlock_t *vmobjlock;
    const struct uvm_pagerops *pgops;
    int uo_npages;
    unsigned uo_refs;
    struct radix_tree uo_pages;
    LIST_HEAD(ubc_map) uo_ubc;
};
#ifdef __x86_64__
#define PTP_LEVELS 4
#else
#define PTP_LEVELS 2
#endif
#define PDP_SIZE 1
typedef uint64_t pd_entry_t;
typedef unsigned long paddr_t;
struct pmap {
    struct uvm_object pm_obj[PTP_LEVELS - 1];
    LIST_ENTRY(pmap) pm_list;
    pd_entry_t *pm_pdir;
    paddr_t pm_pdirpa[PDP_SIZE];
    /* (later members are not read) */
};

/* Where exec left a process's arguments and environment (p_psstrp). */
struct ps_strings {
    char **ps_argvstr;
    int ps_nargvstr;
    char **ps_envstr;
    int ps_nenvstr;
};

/* Objects, so that every type above is emitted into the DWARF. */
struct proc kvmkit_proc;
struct lwp kvmkit_lwp;
struct kauth_cred kvmkit_cred;
struct pgrp kvmkit_pgrp;
struct session kvmkit_session;
struct tty kvmkit_tty;
struct vmspace kvmkit_vmspace;
struct kern_msgbuf kvmkit_msgbuf;
struct module kvmkit_module;
modinfo_t kvmkit_modinfo;
struct kobj kvmkit_kobj;
struct pstats kvmkit_pstats;
struct emul kvmkit_emul;
struct pmap kvmkit_pmap;
struct ps_strings kvmkit_ps_strings;
