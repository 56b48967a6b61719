/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: lib/util/kcmdline.c */
/* The kernel command line as mvm-init parses it: mvm.* lookups, mvm.run= splitting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/kcmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *v, **argv;
	int n;

	memcpy(s, data, size);
	s[size] = '\0';
	if (kcmdline_get(s, "mvm.run", &v) == 1) {
		n = kcmdline_split_run(v, &argv);
		if (n > 0) {
			for (int i = 0; i < n; i++)
				if (!argv[i])
					abort();
			if (argv[n] || !argv[0][0])
				abort();
			free(argv);
		}
		free(v);
	}
	if (kcmdline_get(s, "mvm.hostname", &v) == 1) {
		kcmdline_parse_bool(v);
		free(v);
	}
	n = kcmdline_split_run(s, &argv);
	if (n > 0)
		free(argv);
	free(s);
	return 0;
}
