/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the kvm worker suites: start a worker on a test guest
 * in a fresh temp dir, collect its console and result. */
#ifndef MVM_TESTS_KVM_HELPERS_H
#define MVM_TESTS_KVM_HELPERS_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm/worker.h"
#include "util/macro.h"

typedef struct tvm {
	char dir[256], ctl[300], result[300], image[512];
	kvm_worker_t w;
	char *console;
	size_t console_len;
	kvm_result_t res;
	int got_result, got_ready;
	uint32_t hello_state;
} tvm_t;
const char *tbuild(void);
void tguest_path(char *buf, size_t n, const char *guest);

/* Prepares t from scratch: a test's tvm_t lives on its stack, and a stale
 * got_result there would end the wait for a console line at once. */
void tvm_config(tvm_t *t, const char *guest, kvm_worker_config_t *c);
int tvm_start_cfg(tvm_t *t, const kvm_worker_config_t *c);

/* Start guest with args; asserts success. */
void tvm_start(tvm_t *t, const char *guest, const char *const *args, size_t nargs);

/* Handle one message into t; returns its type or -errno. */
int tvm_step(tvm_t *t, int timeout_ms);
int64_t tnow_ms(void);

/* Read until the console contains s (or fail after timeout_ms). */
void tvm_wait_console(tvm_t *t, const char *s, int timeout_ms);

/* Read until RESULT, then reap; returns the worker's wait status. */
int tvm_finish(tvm_t *t, int timeout_ms);
void tvm_cleanup(tvm_t *t);

/* "key=NUMBER" from the console, or fail. */
long long tconsole_num(const tvm_t *t, const char *key);

/* A shutdown fault on a host that resets the vCPU at a triple fault
 * (mvmt_kvm_shutdown_keeps_regs): it says the registers are lost, and
 * neither the RESULT nor the result file carries the reset state as the
 * guest's. */
void tcheck_shutdown_regs_lost(const tvm_t *t);

#endif
