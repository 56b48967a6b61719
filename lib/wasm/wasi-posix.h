/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WASI host bindings for a Linux process: the guest's fds 0-2 are the
 * process's own, clocks are clock_gettime(), randomness is getrandom().
 * Hosted code: the host build of lib/wasm links it (mvm-wasm, mvm-init);
 * the freestanding builds of the interpreter and WASI core leave it out.
 */
#ifndef MVM_WASI_POSIX_H
#define MVM_WASI_POSIX_H

#include "wasm/wasi.h"

extern const wasi_host wasi_host_posix;

#endif
