/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel command line parsing for mvm-init (docs/linux-guests.md): words
 * separated by spaces, double quotes group (and are removed, as the
 * kernel does), "--" ends the kernel's part. Builds with glibc and musl.
 */
#ifndef MVM_UTIL_KCMDLINE_H
#define MVM_UTIL_KCMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#define KCMDLINE_MAX 4096     /* longer command lines are refused */
#define KCMDLINE_MAX_ARGS 256 /* mvm.run= arguments */

/*
 * Find key (e.g. "mvm.hostname") and return its value in a malloc'd string
 * (quotes removed; "" for a bare "key" without "="). The last occurrence
 * wins. Returns 1 if found, 0 if not, -E2BIG / -ENOMEM.
 */
int kcmdline_get(const char *cmdline, const char *key, char **ret_value);

/* "1", "yes", "true", "on" → 1; "0", "no", "false", "off" → 0; else -EINVAL. */
int kcmdline_parse_bool(const char *v);

/*
 * Split an mvm.run= value into a NULL-terminated argv (one allocation,
 * free() it): arguments are separated by ',', and "%XX" (two hex digits)
 * stands for any byte, so "%2C" is a comma and "%20" a space. -EINVAL for
 * a bad escape, an empty argv[0] or a NUL byte, -E2BIG beyond 256 args.
 */
int kcmdline_split_run(const char *value, char ***ret_argv);

#endif
