/*
 * The part of NetBSD's <sys/sysctl.h> that libkvm's process calls use:
 * struct kinfo_proc2, struct kinfo_lwp and the KERN_PROC_* operations, in
 * NetBSD's layout (fixed-size fields, 8-byte aligned, the same on every
 * host).  kvmkit fills them from any system it reads; see kvm_getproc2(3)
 * in kvmkit(3) for which fields a source has.  Installed under
 * include/libkvm, found through `pkg-config --cflags libkvm`: Linux has no
 * <sys/sysctl.h> of its own any more.
 */
#ifndef _KVMKIT_SYS_SYSCTL_H_
#define _KVMKIT_SYS_SYSCTL_H_

#include <stdint.h>
#include <sys/types.h>

#define KERN_PROC_ALL		0	/* everything */
#define KERN_PROC_PID		1	/* by process id */
#define KERN_PROC_PGRP		2	/* by process group id */
#define KERN_PROC_SESSION	3	/* by session of pid */
#define KERN_PROC_TTY		4	/* by controlling tty */
#define KERN_PROC_UID		5	/* by effective uid */
#define KERN_PROC_RUID		6	/* by real uid */
#define KERN_PROC_GID		7	/* by effective gid */
#define KERN_PROC_RGID		8	/* by real gid */

/* KERN_PROC_TTY arguments: no controlling terminal, a revoked one. */
#define KERN_PROC_TTY_NODEV	(-1)
#define KERN_PROC_TTY_REVOKE	(-2)

#define KI_NGROUPS	16
#define KI_MAXCOMLEN	24
#define KI_WMESGLEN	8
#define KI_MAXLOGNAME	24
#define KI_MAXEMULLEN	16
#define KI_LNAMELEN	20
#define KI_NOCPU	(~(uint64_t)0)

/* p_eflag */
#define EPROC_CTTY	0x01	/* controlling tty vnode active */
#define EPROC_SLEADER	0x02	/* session leader */

/* p_flag of records from other systems than NetBSD (see kvmkit(3)). */
#define P_CONTROLT	0x00000002
#define P_PPWAIT	0x00000010
#define P_SYSTEM	0x00000200
#define P_TRACED	0x00000800
#define P_WEXIT		0x00002000

/* Process states (p_realstat) and LWP states (p_stat, l_stat). */
#define SIDL		1
#define SACTIVE		2
#define SDYING		3
#define SSTOP		4
#define SZOMB		5
#define SDEAD		6
#define LSIDL		1
#define LSRUN		2
#define LSSLEEP		3
#define LSSTOP		4
#define LSZOMB		5
#define LSDEAD		6
#define LSONPROC	7
#define LSSUSPENDED	8

typedef struct {
	uint32_t __bits[4];
} ki_sigset_t;

struct kinfo_proc2 {
	uint64_t p_forw;
	uint64_t p_back;
	uint64_t p_paddr;	/* address of the kernel's struct proc */
	uint64_t p_addr;
	uint64_t p_fd;
	uint64_t p_cwdi;
	uint64_t p_stats;
	uint64_t p_limit;
	uint64_t p_vmspace;
	uint64_t p_sigacts;
	uint64_t p_sess;
	uint64_t p_tsess;
	uint64_t p_ru;
	int32_t p_eflag;	/* EPROC_* */
	int32_t p_exitsig;
	int32_t p_flag;
	int32_t p_pid;
	int32_t p_ppid;
	int32_t p_sid;
	int32_t p__pgid;
	int32_t p_tpgid;
	uint32_t p_uid;
	uint32_t p_ruid;
	uint32_t p_gid;
	uint32_t p_rgid;
	uint32_t p_groups[KI_NGROUPS];
	int16_t p_ngroups;
	int16_t p_jobc;
	uint32_t p_tdev;	/* controlling terminal; (uint32_t)NODEV none */
	uint32_t p_estcpu;
	uint32_t p_rtime_sec;
	uint32_t p_rtime_usec;
	int32_t p_cpticks;
	uint32_t p_pctcpu;
	uint32_t p_swtime;
	uint32_t p_slptime;
	int32_t p_schedflags;
	uint64_t p_uticks;
	uint64_t p_sticks;
	uint64_t p_iticks;
	uint64_t p_tracep;
	int32_t p_traceflag;
	int32_t p_holdcnt;
	ki_sigset_t p_siglist;
	ki_sigset_t p_sigmask;
	ki_sigset_t p_sigignore;
	ki_sigset_t p_sigcatch;
	int8_t p_stat;		/* LS* of the process's first LWP */
	uint8_t p_priority;
	uint8_t p_usrpri;
	uint8_t p_nice;		/* NZERO (20) + nice */
	uint16_t p_xstat;
	uint16_t p_acflag;
	char p_comm[KI_MAXCOMLEN];
	char p_wmesg[KI_WMESGLEN];
	uint64_t p_wchan;
	char p_login[KI_MAXLOGNAME];
	int32_t p_vm_rssize;	/* pages */
	int32_t p_vm_tsize;
	int32_t p_vm_dsize;
	int32_t p_vm_ssize;
	int64_t p_uvalid;
	uint32_t p_ustart_sec;
	uint32_t p_ustart_usec;
	uint32_t p_uutime_sec;
	uint32_t p_uutime_usec;
	uint32_t p_ustime_sec;
	uint32_t p_ustime_usec;
	uint64_t p_uru_maxrss;
	uint64_t p_uru_ixrss;
	uint64_t p_uru_idrss;
	uint64_t p_uru_isrss;
	uint64_t p_uru_minflt;
	uint64_t p_uru_majflt;
	uint64_t p_uru_nswap;
	uint64_t p_uru_inblock;
	uint64_t p_uru_oublock;
	uint64_t p_uru_msgsnd;
	uint64_t p_uru_msgrcv;
	uint64_t p_uru_nsignals;
	uint64_t p_uru_nvcsw;
	uint64_t p_uru_nivcsw;
	uint32_t p_uctime_sec;
	uint32_t p_uctime_usec;
	uint64_t p_cpuid;
	uint64_t p_realflag;
	uint64_t p_nlwps;
	uint64_t p_nrlwps;
	uint64_t p_realstat;	/* S* of the process */
	uint32_t p_svuid;
	uint32_t p_svgid;
	char p_ename[KI_MAXEMULLEN];
	int64_t p_vm_vsize;	/* pages */
	int64_t p_vm_msize;
};

struct kinfo_lwp {
	uint64_t l_forw;
	uint64_t l_back;
	uint64_t l_laddr;	/* address of the kernel's LWP */
	uint64_t l_addr;
	int32_t l_lid;
	int32_t l_flag;
	uint32_t l_swtime;
	uint32_t l_slptime;
	int32_t l_schedflags;
	int32_t l_holdcnt;
	uint8_t l_priority;
	uint8_t l_usrpri;
	int8_t l_stat;		/* LS* */
	int8_t l_pad1;
	int32_t l_pad2;
	char l_wmesg[KI_WMESGLEN];
	uint64_t l_wchan;
	uint64_t l_cpuid;
	uint32_t l_rtime_sec;
	uint32_t l_rtime_usec;
	uint32_t l_cpticks;
	uint32_t l_pctcpu;
	uint32_t l_pid;
	char l_name[KI_LNAMELEN];
};

#endif /* !_KVMKIT_SYS_SYSCTL_H_ */
