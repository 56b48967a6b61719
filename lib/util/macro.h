/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small macros shared by every host-side component: cleanup attributes in
 * the systemd style, ownership transfer, array sizes.
 *
 * Conventions (see docs/hacking.md): functions return 0 or a positive value
 * on success and -errno on failure; output parameters are named ret_* and
 * come last, written only on success; *_free() accepts NULL.
 */
#ifndef MVM_UTIL_MACRO_H
#define MVM_UTIL_MACRO_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <dirent.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* Take ownership of a pointer or fd out of a _cleanup_ variable. */
#define TAKE_PTR(p)                               \
	({                                        \
		__typeof__(p) _took_ = (p);       \
		(p) = NULL;                       \
		_took_;                           \
	})
#define TAKE_FD(fd)                               \
	({                                        \
		int _took_fd_ = (fd);             \
		(fd) = -1;                        \
		_took_fd_;                        \
	})

/* close() that preserves errno and returns -1, for "fd = safe_close(fd)". */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void closep(int *fd) { safe_close(*fd); }
static inline void freep(void *p) { free(*(void **)p); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Define "static inline void name##p(type **p)" calling func on non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)            \
	static inline void func##p(type **p)               \
	{                                                  \
		if (*p)                                    \
			func(*p);                          \
	}

/* Negative errno from the last libc call, never 0. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

#endif
