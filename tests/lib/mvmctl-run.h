/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the suites that drive build/bin/mvmctl (check_mvmctl*.c):
 * run it as a separate process with its stdin, stdout, stderr and exit
 * status in hand, against a real mvmd whose ch backend runs the
 * cloud-hypervisor TEST DOUBLE (tests/doubles/fake-cloud-hypervisor.c).
 */
#ifndef MVM_TEST_MVMCTL_RUN_H
#define MVM_TEST_MVMCTL_RUN_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "mvmtest.h"

/* A daemon for mvmctl, and the files its ch VMs need. */
typedef struct mvmt_ctl {
	mvmt_daemon_t d;
	int fd;                  /* an RPC connection of the test's own */
	char bin[PATH_MAX];      /* build/bin/mvmctl */
	char fake_ch[PATH_MAX];  /* the cloud-hypervisor double */
	char fake_kvm[PATH_MAX]; /* a stand-in for /dev/kvm (mvmd probes it before it calls ch usable) */
	char kernel[PATH_MAX];   /* a readable file: the double boots nothing */
} mvmt_ctl_t;

/* Temp dirs and paths; fails the test when a binary is missing. */
void mvmt_ctl_init(mvmt_ctl_t *c);
/* Start mvmd with the double as cloud-hypervisor, no warm kvm pool,
 * plus extra args (NULL-terminated); connect c->fd. */
void mvmt_ctl_start(mvmt_ctl_t *c, ...) __attribute__((sentinel));
/* Remove every VM by force (cloud-hypervisor outlives mvmd by design,
 * so the doubles must be ended), then stop mvmd and remove the dirs. */
void mvmt_ctl_cleanup(mvmt_ctl_t *c);

typedef struct mvmt_run {
	int status; /* the exit code, or 128+N after signal N */
	char out[1 << 20], err[16384]; /* rpc.discover alone is over 64 KiB */
} mvmt_run_t;

/* Run mvmctl [--socket socket] args... (NULL-terminated) with `in` (or
 * nothing) on its stdin, until it exits. */
void mvmt_ctl_run(const mvmt_ctl_t *c, mvmt_run_t *r, const char *socket, const char *in, const char *const *args);
/* Start mvmctl --socket SOCK args... with stdout on a pipe (*ret_out). */
pid_t mvmt_ctl_spawn(const mvmt_ctl_t *c, const char *const *args, int *ret_out);

/* Create or replace a file holding text. */
void mvmt_write_file(const char *path, const char *text);
/* write() all of buf to any fd (mvmt_write is for sockets). */
void mvmt_put(int fd, const void *buf, size_t len);
/* Read fd until needle shows up (10 s); what was read (a static buffer). */
char *mvmt_expect_output(int fd, const char *needle);
/* Reap pid: its exit code, or 128+N after signal N. */
int mvmt_wait_exit(pid_t pid);

#endif
