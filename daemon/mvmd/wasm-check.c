/* SPDX-License-Identifier: Apache-2.0 */
#include "wasm-check.h"

#include <errno.h>
#include <stdlib.h>

static void *wasm_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
	if (new_size == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, new_size);
}

int wasm_check_module(const void *data, size_t len, void *userdata)
{
	wasm_check_t *wc = userdata;
	wasm_config cfg = { .alloc = wasm_alloc };
	wasm_module *mod = NULL;

	wasm_config_init(&cfg);
	if (wasm_module_new(&cfg, data, len, &mod, &wc->err) < 0) {
		wc->failed = true;
		return wc->err.kind == WASM_ERR_NOMEM ? -ENOMEM : -EINVAL;
	}
	wasm_module_free(mod);
	return 0;
}
