/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Explaining an error to the operator. A function that can say why it
 * failed, in a sentence the VM's cause or a JSON-RPC error carries
 * ("blob not found: ..."), takes `char **ret_cause` (NULL: the caller
 * does not want it) and fills it with set_cause(); the caller frees it.
 * One name and one helper, so every explanation travels the same way.
 */
#ifndef MVM_UTIL_CAUSE_H
#define MVM_UTIL_CAUSE_H

#include "macro.h"

/* *ret_cause = the formatted sentence (NULL if it cannot be allocated),
 * unless ret_cause is NULL. Returns r, so a failure path can
 * `return set_cause(ret_cause, -EINVAL, "...")`. */
_printf_(3, 4) int set_cause(char **ret_cause, int r, const char *fmt, ...);

#endif
