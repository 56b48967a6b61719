/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Nothing a tenant gives may show in any process's argv or environment:
 * every /proc/PID/cmdline and /proc/PID/environ read against a set of
 * strings, as root and again as nobody:nogroup (what any local user sees).
 * Used by check_mvmd_secrets.c (kvm workers) and check_mvmd_ch_procs.c
 * (cloud-hypervisor).
 */
#ifndef MVM_TESTS_PROC_SCAN_H
#define MVM_TESTS_PROC_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mvmt_proc_scan {
	int hits;          /* files with one of the strings in them */
	int cmdlines_read; /* /proc/PID/cmdline files that could be read */
	bool saw_pid;      /* the watched process's cmdline was among them */
	char first[256];   /* where the first hit was */
} mvmt_proc_scan_t;

/* Every process's cmdline and environ against strs[0..n); pid: the
 * process whose cmdline must be among those read (saw_pid). */
void mvmt_proc_scan(const char *const *strs, size_t n, pid_t pid, mvmt_proc_scan_t *s);
/* The same scan in a child that has become nobody:nogroup. */
void mvmt_proc_scan_as_nobody(const char *const *strs, size_t n, pid_t pid, mvmt_proc_scan_t *s);

#endif
