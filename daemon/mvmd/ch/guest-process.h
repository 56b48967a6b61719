/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ch VM's root disk and process (spec "root" and "process";
 * docs/linux-guests.md, "The image's process"): checked at create, and at
 * start written as /mvm/process.conf (lib/util/guestconf.h) into an
 * archive appended to a copy of the VM's initramfs, STATE/vms/<id>/
 * initramfs.img (0600), which cloud-hypervisor boots instead. The tenant's
 * argv and environment so reach mvm-init over the VM's own files: never on
 * a command line, in an environment, or in the kernel command line.
 */
#ifndef MVM_CH_GUEST_PROCESS_H
#define MVM_CH_GUEST_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "vm.h"

#define CH_GUEST_INITRAMFS "initramfs.img" /* in the VM's directory */
#define CH_GUEST_CONF_MAX (1u << 20)       /* bytes of process.conf */

/* 0, or -EINVAL with *ret_detail: a root whose disk is no index of the
 * VM's disks nor a serial of one, a root without a process, a config
 * larger than CH_GUEST_CONF_MAX. */
int ch_guest_process_validate(const vm_t *vm, char **ret_detail);

/* Does the VM boot its own initramfs.img (it has a process)? */
bool ch_guest_process_wanted(const vm_t *vm);

/* The process.conf text for the spec (malloc'd, *ret_len bytes). */
int ch_guest_process_conf(const vm_t *vm, char **ret, size_t *ret_len);

/*
 * Write `out` (0600, replaced atomically) as the bytes of `base`, NULs up
 * to a 4-byte boundary (the kernel skips them between archives) and a cpio
 * newc archive holding /mvm (0755) and /mvm/process.conf (0400, `conf`).
 */
int ch_guest_initramfs_write(const char *base, const char *out, const char *conf, size_t len);

/*
 * The kernel release whose modules the initramfs carries, from the
 * `<initramfs>.kernel` file `make` writes beside it (docs/linux-guests.md,
 * "The initramfs"). compute.node.info asks on every call, so the text is
 * kept with the file's identity (ch_same_file, and its ctime) and read
 * again only when one stat shows another file or a change.
 */
typedef struct ch_kernel_cache {
	char *path;      /* <initramfs>.kernel */
	bool known;      /* st and text are the file's as last read */
	struct stat st;
	char *text;      /* NULL: empty (an initramfs without modules) */
} ch_kernel_cache_t;

int ch_kernel_cache_init(ch_kernel_cache_t *c, const char *initramfs);
void ch_kernel_cache_done(ch_kernel_cache_t *c);

/* *ret (owned by c, valid until the next call) NULL when the file is
 * missing, empty, or not a regular file. */
int ch_initramfs_kernel(ch_kernel_cache_t *c, const char **ret);

#endif
