/*
 * kvm_getproc2(3), kvm_getlwps(3) and kvm_getargv2(3) as their manual
 * page describes them: lists the processes of a dump that match a
 * KERN_PROC operation, each with its LWPs, then asks for the first
 * process's arguments (which a dump does not hold).
 * Usage: kvm_getproc2_test system core [op arg]
 * op: all pid pgrp session tty uid ruid gid rgid (tty: a dev_t, -1 none)
 */
#include <fcntl.h>
#include <kvm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/sysctl.h>

static const char *const ops[] = {"all", "pid", "pgrp", "session", "tty", "uid", "ruid", "gid", "rgid"};

/* An error after the open: the handle is closed, so that a leak checker
 * sees only what the library itself keeps. */
static int
done(kvm_t *kd, int status)
{
	kvm_close(kd);
	return status;
}

int
main(int argc, char **argv)
{
	char errbuf[_POSIX2_LINE_MAX];
	struct kinfo_proc2 *kp;
	struct kinfo_lwp *kl;
	char **args;
	kvm_t *kd;
	int op = KERN_PROC_ALL, arg = 0, cnt, nlwps, i, j;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: kvm_getproc2_test system core [op arg]\n");
		return 2;
	}
	if (argc == 5) {
		for (op = 0; op < (int)(sizeof(ops) / sizeof(ops[0])); op++)
			if (strcmp(ops[op], argv[3]) == 0)
				break;
		arg = (int)strtol(argv[4], NULL, 0);
	}
	kd = kvm_openfiles(argv[1], argv[2], NULL, O_RDONLY, errbuf);
	if (kd == NULL) {
		fprintf(stderr, "kvm_openfiles: %s\n", errbuf);
		return 1;
	}
	kp = kvm_getproc2(kd, op, arg, sizeof(struct kinfo_proc2), &cnt);
	if (kp == NULL) {
		fprintf(stderr, "kvm_getproc2: %s\n", kvm_geterr(kd));
		return done(kd, 1);
	}
	printf("%d processes\n", cnt);
	for (i = 0; i < cnt; i++) {
		printf("pid %d ppid %d pgid %d sid %d tpgid %d uid %u ruid %u svuid %u gid %u rgid %u tdev 0x%x "
		    "stat %d realstat %llu nice %u eflag 0x%x nlwps %llu paddr 0x%llx wmesg \"%s\" comm \"%s\"\n",
		    kp[i].p_pid, kp[i].p_ppid, kp[i].p__pgid, kp[i].p_sid, kp[i].p_tpgid, kp[i].p_uid,
		    kp[i].p_ruid, kp[i].p_svuid, kp[i].p_gid, kp[i].p_rgid, kp[i].p_tdev, kp[i].p_stat,
		    (unsigned long long)kp[i].p_realstat, kp[i].p_nice, kp[i].p_eflag,
		    (unsigned long long)kp[i].p_nlwps, (unsigned long long)kp[i].p_paddr, kp[i].p_wmesg,
		    kp[i].p_comm);
	}
	/* kvm_getlwps reuses its own buffer, not kvm_getproc2's. */
	for (i = 0; i < cnt; i++) {
		kl = kvm_getlwps(kd, kp[i].p_pid, (unsigned long)kp[i].p_paddr, sizeof(struct kinfo_lwp), &nlwps);
		if (kl == NULL) {
			fprintf(stderr, "kvm_getlwps: %s\n", kvm_geterr(kd));
			return done(kd, 1);
		}
		for (j = 0; j < nlwps; j++)
			printf("lwp %d.%d stat %d laddr 0x%llx wchan 0x%llx wmesg \"%s\" name \"%s\"\n", kl[j].l_pid,
			    kl[j].l_lid, kl[j].l_stat, (unsigned long long)kl[j].l_laddr,
			    (unsigned long long)kl[j].l_wchan, kl[j].l_wmesg, kl[j].l_name);
	}
	if (cnt > 0) {
		args = kvm_getargv2(kd, &kp[0], 0);
		if (args == NULL)
			printf("kvm_getargv2: %s\n", kvm_geterr(kd));
		else
			for (i = 0; args[i] != NULL; i++)
				printf("argv[%d] %s\n", i, args[i]);
	}
	return kvm_close(kd) == 0 ? 0 : 1;
}
