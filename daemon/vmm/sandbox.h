/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process sandboxing in the Firecracker-jailer order: drop every
 * capability (libcap-ng), set no_new_privs, then load a seccomp allow-list
 * (libseccomp) that kills the whole process on any other syscall.
 */
#ifndef MVM_SANDBOX_H
#define MVM_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/* An allowed syscall; with nargs == 1, only when arg[argi] matches. */
typedef struct sandbox_rule {
	int nr;
	int has_arg;    /* 0: any arguments */
	unsigned argi;  /* argument index compared */
	uint64_t mask;  /* (arg & mask) == value */
	uint64_t value;
	int errno_ret;  /* != 0: fail with this errno instead of allowing */
} sandbox_rule_t;

/* All three, in order. */
int sandbox_enter(const sandbox_rule_t *rules, size_t n);

/* The mvm-vmm worker's allow-list (daemon/vmm/seccomp-policy.c). */
extern const sandbox_rule_t sandbox_vmm_rules[];
extern const size_t sandbox_vmm_nrules;
/* The zygote's, which every worker it forks shares (seccomp-policy.c). */
extern const sandbox_rule_t sandbox_zygote_rules[];
extern const size_t sandbox_zygote_nrules;

#endif
