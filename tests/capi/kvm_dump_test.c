/*
 * kvm_dump(3) as savecore(8) uses it: finds the dump at a byte offset of a
 * dump device, writes the kcore header for DUMPSIZE bytes of memory to
 * standard output (a pipe: kvm_dump_wrtheader must not seek), reads the
 * dump's dumpmag through the translation mkheader enabled, and with -i
 * invalidates the dump and reads dumpmag again.
 * Usage: kvm_dump_test [-i] system device offset dumpsize
 */
#include <fcntl.h>
#include <kvm.h>
#include <limits.h>
#include <nlist.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long
dumpmag(kvm_t *kd, unsigned long addr)
{
	long mag;

	if (kvm_read(kd, addr, &mag, sizeof(mag)) != (ssize_t)sizeof(mag)) {
		fprintf(stderr, "kvm_read: %s\n", kvm_geterr(kd));
		exit(1);
	}
	return mag;
}

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
	struct nlist nl[] = {{"_dumpmag", 0, 0, 0, 0}, {NULL, 0, 0, 0, 0}};
	kvm_t *kd;
	int ch, inval = 0, hdrsize;

	while ((ch = getopt(argc, argv, "i")) != -1) {
		if (ch != 'i')
			return 2;
		inval = 1;
	}
	argc -= optind;
	argv += optind;
	if (argc != 4) {
		fprintf(stderr, "usage: kvm_dump_test [-i] system device offset dumpsize\n");
		return 2;
	}
	kd = kvm_openfiles(argv[0], argv[1], NULL, inval ? O_RDWR : O_RDONLY, errbuf);
	if (kd == NULL) {
		fprintf(stderr, "kvm_openfiles: %s\n", errbuf);
		return 1;
	}
	hdrsize = kvm_dump_mkheader(kd, (off_t)strtoll(argv[2], NULL, 0));
	if (hdrsize == -1) {
		fprintf(stderr, "kvm_dump_mkheader: %s\n", kvm_geterr(kd));
		return done(kd, 1);
	}
	if (hdrsize == 0) {
		fprintf(stderr, "no dump: %s\n", kvm_geterr(kd));
		return done(kd, 3);
	}
	fprintf(stderr, "header size %d\n", hdrsize);
	if (kvm_nlist(kd, nl) != 0) {
		fprintf(stderr, "kvm_nlist: _dumpmag not found\n");
		return done(kd, 1);
	}
	fprintf(stderr, "dumpmag 0x%lx\n", dumpmag(kd, nl[0].n_value));
	if (kvm_dump_wrtheader(kd, stdout, (int)strtol(argv[3], NULL, 0)) == -1) {
		fprintf(stderr, "kvm_dump_wrtheader: %s\n", kvm_geterr(kd));
		return done(kd, 1);
	}
	if (inval) {
		if (kvm_dump_inval(kd) == -1) {
			fprintf(stderr, "kvm_dump_inval: %s\n", kvm_geterr(kd));
			return done(kd, 1);
		}
		fprintf(stderr, "dumpmag 0x%lx\n", dumpmag(kd, nl[0].n_value));
	}
	return kvm_close(kd) == 0 ? 0 : 1;
}
