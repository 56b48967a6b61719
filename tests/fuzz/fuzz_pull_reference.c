/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/pull-config.c daemon/mvmd/blob.c lib/util/text.c lib/util/fault.c lib/util/fs.c lib/util/io.c */
/* What clients and operators hand mvmd about registries: a reference
 * (compute.blob.pull) and a --blob-source flag. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pull.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pull_config_t c = { 0 };
	pull_spec_t spec;
	char *s = malloc(size + 1), *err = NULL, *flag = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	(void)pull_config_add_source(&c, "hub=https://registry.example:5000/wasm/modules", &err);
	free(err);
	err = NULL;
	if (pull_reference_parse(&c, s, &spec, &err) == 0) {
		if (!spec.repository[0] || (!spec.tag[0] == !spec.digest[0]) || spec.source_index != 0)
			abort();
	}
	free(err);
	err = NULL;
	if (asprintf(&flag, "x=%s", s) >= 0) {
		(void)pull_config_add_source(&c, flag, &err);
		free(err);
		err = NULL;
		(void)pull_config_finish(&c, &err);
		free(err);
		free(flag);
	}
	pull_config_done(&c);
	free(s);
	return 0;
}
