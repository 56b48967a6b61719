/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/ch/version.c */
/* `cloud-hypervisor --version` output, as mvmd parses it before using a binary. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ch_version_t v = { 7, 7, 7 };
	int r;

	if (size > 4096)
		return 0; /* mvmd reads at most 4 KiB of it */
	r = ch_version_parse((const char *)data, size, &v);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r != 0 && (v.major != 7 || v.minor != 7 || v.patch != 7))
		abort(); /* written only on success */
	if (r == 0 && (v.major > 99999 || v.minor > 99999 || v.patch > 99999))
		abort();
	(void)ch_version_supported(&v);
	return 0;
}
