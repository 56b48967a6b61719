/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The actor imports of a Wasm workload (init/microvm/actor.c,
 * docs/actors.md): module "mvm", functions "send", "answer", "wait".
 */
#ifndef MVM_GUEST_ACTOR_H
#define MVM_GUEST_ACTOR_H

#include <stdbool.h>

#include "wasm/wasm.h"

/* Resolve an import of module "mvm" in store: 0, or -WASM_ENOENT for
 * any other import (the caller tries WASI next). */
int mvm_actor_resolve(wasm_store *store, const wasm_import_desc *want, wasm_extern *ret);
/* Send an answer still staged (the program is ending). */
void mvm_actor_flush(void);

#endif
