/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WASI host bindings for a Linux process: the guest's fds 0-2 are the
 * process's own, clocks are clock_gettime(), randomness is getrandom().
 * Hosted code, so it lives in libmvm.a, not in the freestanding lib/wasm.
 */
#ifndef MVM_WASI_POSIX_H
#define MVM_WASI_POSIX_H

#include "wasm/wasi.h"

extern const wasi_host wasi_host_posix;

#endif
