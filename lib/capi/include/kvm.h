/*
 * <kvm.h>: BSD libkvm's C interface over kvmkit, with NetBSD's signatures
 * and semantics (kvm(3), kvm_open(3), kvm_nlist(3), kvm_read(3),
 * kvm_getproc2(3), kvm_dump(3)).  Link with `pkg-config --libs libkvm`
 * (libkvm.so); compile with `pkg-config --cflags libkvm`, which also puts
 * kvmkit's <nlist.h> and <sys/sysctl.h> first.  kvmkit(3) lists where a
 * call cannot have its BSD meaning on this host.
 */
#ifndef _KVMKIT_KVM_H_
#define _KVMKIT_KVM_H_

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Open only what the process calls need (no namelist, no memory). */
#define KVM_NO_FILES 0x80000000

typedef struct __kvm kvm_t;

struct nlist;
struct kinfo_proc;
struct kinfo_proc2;
struct kinfo_lwp;

kvm_t *kvm_open(const char *execfile, const char *corefile, const char *swapfile, int flags,
    const char *errstr);
kvm_t *kvm_openfiles(const char *execfile, const char *corefile, const char *swapfile, int flags,
    char *errbuf);
int kvm_close(kvm_t *kd);
char *kvm_geterr(kvm_t *kd);

int kvm_nlist(kvm_t *kd, struct nlist *nl);
ssize_t kvm_read(kvm_t *kd, unsigned long addr, void *buf, size_t nbytes);
ssize_t kvm_write(kvm_t *kd, unsigned long addr, const void *buf, size_t nbytes);

int kvm_dump_mkheader(kvm_t *kd, off_t dump_off);
int kvm_dump_wrtheader(kvm_t *kd, FILE *fp, int dumpsize);
int kvm_dump_inval(kvm_t *kd);

struct kinfo_proc2 *kvm_getproc2(kvm_t *kd, int op, int arg, size_t elemsize, int *cnt);
struct kinfo_lwp *kvm_getlwps(kvm_t *kd, int pid, unsigned long paddr, size_t elemsize, int *cnt);
char **kvm_getargv2(kvm_t *kd, const struct kinfo_proc2 *p, int nchr);
char **kvm_getenvv2(kvm_t *kd, const struct kinfo_proc2 *p, int nchr);

/*
 * struct kinfo_proc is the kernel's own struct proc on NetBSD: kvmkit has
 * no such structure to give.  kvm_getprocs fails with an error that says
 * so; kvm_getargv and kvm_getenvv take the record's address as NetBSD's
 * do and fail likewise.  Use kvm_getproc2 and kvm_getargv2.
 */
struct kinfo_proc *kvm_getprocs(kvm_t *kd, int op, int arg, int *cnt);
char **kvm_getargv(kvm_t *kd, const struct kinfo_proc *p, int nchr);
char **kvm_getenvv(kvm_t *kd, const struct kinfo_proc *p, int nchr);

/*
 * Reads the user memory of a process of the running host.  NetBSD passes
 * the kernel's struct lwp; kvmkit takes the kinfo_proc2 of the process.
 */
ssize_t kvm_uread(kvm_t *kd, const struct kinfo_proc2 *p, unsigned long uva, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* !_KVMKIT_KVM_H_ */
