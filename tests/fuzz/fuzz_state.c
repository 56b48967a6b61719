/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/store.c daemon/mvmd/vm.c daemon/mvmd/fsm.c lib/util/fs.c lib/util/fault.c lib/util/io.c lib/util/cause.c */
/*
 * state.json as the loader sees it: bytes from disk (a truncated, corrupt
 * or hostile file) through the JSON parser, migration and deserialisation.
 * Whatever comes in, the loader returns a VM or an error, and a VM it
 * returns serialises back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char id[] = "00000000-0000-4000-8000-000000000000";
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *doc;
	vm_t *vm = NULL;
	char *err = NULL;

	if (!tok)
		return 0;
	doc = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!doc)
		return 0;
	if (store_vm_from_json(doc, id, &vm, &err) == 0) {
		json_object *back = store_vm_to_json(vm);
		if (!back)
			abort();
		json_object_put(back);
		vm_free(vm);
	}
	free(err);
	json_object_put(doc);
	return 0;
}
