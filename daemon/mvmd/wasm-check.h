/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kind "wasm" (compute.blob.put, compute.blob.pull, a module pulled on
 * demand): the content must decode and validate with the project's
 * interpreter, the same code that will run it. Used as a blob put's
 * content check (blob.h).
 */
#ifndef MVMD_WASM_CHECK_H
#define MVMD_WASM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "wasm/wasm.h"

typedef struct wasm_check {
	wasm_error err; /* why, when failed */
	bool failed;
} wasm_check_t;

/* userdata is a wasm_check_t: 0, -EINVAL (not a valid module) or -ENOMEM. */
int wasm_check_module(const void *data, size_t len, void *userdata);

#endif
