/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process config mvmd gives mvm-init (docs/linux-guests.md, "The
 * image's process"): /mvm/process.conf in a per-VM archive appended to the
 * initramfs, so it has no size limit of the kernel command line and shows
 * in no host process's argv or environment. Text, one "key=value" per
 * line; a value has every byte outside '!'..'~' and every '%' written
 * %XX (two hex digits), so a line holds any bytes but NUL:
 *
 *   root.disk=0            the root filesystem: the VM's disk at this index
 *   root.serial=S          ... or the disk with this serial
 *   root.fstype=ext4       its type (default ext4)
 *   root.readonly=1        mount it read-only
 *   arg=V                  argv, in order (at least one)
 *   env=NAME=V             the environment, exactly
 *   cwd=/PATH              working directory (default /)
 *   user=UID[:GID]         numeric; default 0:0
 *   keep_running=1         do not power off when the process ends
 *
 * Used by mvmd (writing) and mvm-init (reading); no I/O.
 */
#ifndef MVM_UTIL_GUESTCONF_H
#define MVM_UTIL_GUESTCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUESTCONF_MAX (4u << 20) /* bytes of text a reader takes */
#define GUESTCONF_ITEMS_MAX 1024 /* args, env entries each */

typedef struct guestconf {
	bool has_root;
	int root_disk;     /* -1: by serial */
	char *root_serial; /* NULL: by index */
	char *root_fstype; /* never NULL after a parse ("ext4") */
	bool root_readonly;
	char **args; /* NULL-terminated; NULL: no process */
	size_t n_args;
	char **env; /* "NAME=value", NULL-terminated (never NULL after a parse) */
	size_t n_env;
	char *cwd; /* never NULL after a parse ("/") */
	uint32_t uid, gid;
	bool keep_running;
} guestconf_t;

/* 0, or -EINVAL (unknown key, bad encoding, bad number, root without a
 * disk, cwd not absolute, too many items, an env entry without '=') or
 * -ENOMEM. *ret is filled only on success; guestconf_done() frees it. */
int guestconf_parse(const char *text, size_t len, guestconf_t *ret);
void guestconf_done(guestconf_t *c);

/* Append "key=<value encoded>\n" to the malloc'd *buf of *len bytes (NUL
 * kept after it). 0 or -ENOMEM. */
int guestconf_append(char **buf, size_t *len, const char *key, const char *value);

#endif
