/*
 * kvm_read(3), kvm_write(3), kvm_geterr(3) and kvm_open(3)'s error
 * reporting, as their manual pages describe them: reads LEN bytes of
 * kernel memory at a symbol (kvm_nlist) or an address and prints them in
 * hex, or as a string with -s; then tries to write them back, which a
 * dead kernel refuses.
 * Usage: kvm_read_test [-s] [-e progname] system core symbol|address len
 * With -e the descriptor comes from kvm_open with that errstr, so that
 * errors are printed by the library, prefixed with it.
 */
#include <fcntl.h>
#include <kvm.h>
#include <limits.h>
#include <nlist.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	struct nlist nl[2];
	const char *errstr = NULL;
	unsigned long addr;
	unsigned char *buf;
	size_t len, i;
	ssize_t n;
	kvm_t *kd;
	int ch, string = 0;

	while ((ch = getopt(argc, argv, "se:")) != -1) {
		switch (ch) {
		case 's':
			string = 1;
			break;
		case 'e':
			errstr = optarg;
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4) {
		fprintf(stderr, "usage: kvm_read_test [-s] [-e progname] system core symbol|address len\n");
		return 2;
	}
	if (errstr != NULL)
		kd = kvm_open(argv[0], argv[1], NULL, O_RDONLY, errstr);
	else
		kd = kvm_openfiles(argv[0], argv[1], NULL, O_RDONLY, errbuf);
	if (kd == NULL) {
		if (errstr == NULL)
			fprintf(stderr, "kvm_openfiles: %s\n", errbuf);
		return 1;
	}
	if (argv[2][0] >= '0' && argv[2][0] <= '9') {
		addr = strtoul(argv[2], NULL, 0);
	} else {
		nl[0].n_name = argv[2];
		nl[1].n_name = NULL;
		if (kvm_nlist(kd, nl) != 0) {
			fprintf(stderr, "%s: not in the namelist\n", argv[2]);
			return done(kd, 1);
		}
		addr = nl[0].n_value;
	}
	len = strtoul(argv[3], NULL, 0);
	buf = calloc(len + 1, 1);
	if (buf == NULL)
		return done(kd, 1);
	n = kvm_read(kd, addr, buf, len);
	if (n == -1) {
		if (errstr == NULL)
			fprintf(stderr, "kvm_read: %s\n", kvm_geterr(kd));
		free(buf);
		return done(kd, 1);
	}
	if (string) {
		printf("%s\n", (char *)buf);
	} else {
		for (i = 0; i < (size_t)n; i++)
			printf("%02x%s", buf[i], i + 1 == (size_t)n ? "\n" : " ");
	}
	if (kvm_write(kd, addr, buf, (size_t)n) != -1) {
		fprintf(stderr, "kvm_write succeeded on a dump\n");
		free(buf);
		return done(kd, 1);
	}
	if (errstr == NULL)
		printf("kvm_write: %s\n", kvm_geterr(kd));
	free(buf);
	return kvm_close(kd) == 0 ? 0 : 1;
}
