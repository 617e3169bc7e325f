/*
 * kvm_nlist(3) and kvm_openfiles(3) as their manual pages describe them:
 * looks the names on the command line up in the namelist of a kernel and
 * its dump, and prints each entry and the count of names not found.
 * Usage: kvm_nlist_test system core name...
 */
#include <fcntl.h>
#include <kvm.h>
#include <limits.h>
#include <nlist.h>
#include <stdio.h>
#include <stdlib.h>

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
	struct nlist *nl;
	kvm_t *kd;
	int i, missing;

	if (argc < 3) {
		fprintf(stderr, "usage: kvm_nlist_test system core name...\n");
		return 2;
	}
	kd = kvm_openfiles(argv[1], argv[2], NULL, O_RDONLY, errbuf);
	if (kd == NULL) {
		fprintf(stderr, "kvm_openfiles: %s\n", errbuf);
		return 1;
	}
	nl = calloc((size_t)argc - 2, sizeof(*nl));
	if (nl == NULL)
		return done(kd, 1);
	for (i = 3; i < argc; i++)
		nl[i - 3].n_name = argv[i];
	nl[argc - 3].n_name = NULL;
	missing = kvm_nlist(kd, nl);
	if (missing == -1) {
		fprintf(stderr, "kvm_nlist: %s\n", kvm_geterr(kd));
		free(nl);
		return done(kd, 1);
	}
	for (i = 0; nl[i].n_name != NULL; i++)
		printf("%s type 0x%02x value 0x%lx\n", nl[i].n_name, nl[i].n_type, nl[i].n_value);
	printf("not found: %d\n", missing);
	free(nl);
	return kvm_close(kd) == 0 ? 0 : 1;
}
