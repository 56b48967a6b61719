/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec agent test cases shared by the unit suite (the agent library in a
 * forked process) and the PID-namespace suite (the real mvm-init as PID 1).
 * Both serve the agent on an AF_UNIX socket; exec_cases_path names it.
 */
#ifndef MVM_TESTS_EXEC_CASES_H
#define MVM_TESTS_EXEC_CASES_H

#include <check.h>
#include <stdbool.h>

#include "exec-client.h"
#include "mvmt-main.h"

extern const char *exec_cases_path;     /* agent socket */
extern const char *exec_cases_platform; /* expected in mvm.info */
/* The agent has a Wasm runtime (mvm-init): sha256:<hex> is fetched from
 * the host instead of answered not-supported. */
extern bool exec_cases_wasm;

/* Every agent case, for an mvmt_tcase_t's .tests. */
extern const mvmt_test_t exec_cases[];

/* Run argv (NULL-terminated) with optional env and inline stdin. */
int exec_cases_run(const char *const *argv, const char *const *env, const char *in,
		   unsigned timeout_ms, exec_result_t *ret);
/* Run "/bin/sh -c script" and return its stdout (static buffer), asserting exit 0. */
const char *exec_cases_sh(const char *script);

#endif
