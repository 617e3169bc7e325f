/*
 * <nlist.h> of kvmkit's libkvm: the BSD a.out-style symbol table entry that
 * kvm_nlist(3) fills.  Installed under include/libkvm so that it is found
 * (through `pkg-config --cflags libkvm`) before a system <nlist.h> of
 * another shape (elfutils ships a System V one).
 */
#ifndef _KVMKIT_NLIST_H_
#define _KVMKIT_NLIST_H_

struct nlist {
	const char *n_name;	/* symbol name; NULL or "" ends an array */
	unsigned char n_type;	/* N_* below, N_EXT or'ed in; 0 when not found */
	char n_other;
	short n_desc;
	unsigned long n_value;	/* the symbol's address or value */
};

#define N_UNDF	0x00	/* undefined */
#define N_ABS	0x02	/* absolute address */
#define N_TEXT	0x04	/* text segment */
#define N_DATA	0x06	/* data segment */
#define N_BSS	0x08	/* bss segment */
#define N_INDR	0x0a
#define N_SIZE	0x0c
#define N_COMM	0x12
#define N_FN	0x1e	/* file name (N_EXT on) */
#define N_WARN	0x1e
#define N_EXT	0x01	/* external (global) bit, or'ed in */
#define N_TYPE	0x1e	/* mask of the type bits */
#define N_STAB	0x0e0

#endif /* !_KVMKIT_NLIST_H_ */
