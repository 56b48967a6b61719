/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvm-fetch/parse.c */
/* What a registry answers a manifest request with (mvm-fetch): OCI
 * manifests and indexes, Docker schema 2, anything else. The first byte
 * picks the Content-Type the answer claims. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { NULL, FETCH_MT_OCI_MANIFEST, FETCH_MT_OCI_INDEX, FETCH_MT_DOCKER_MANIFEST,
					     FETCH_MT_DOCKER_LIST, "application/json; charset=utf-8" };
	fetch_pick_t pick;
	int r;

	if (size < 1)
		return 0;
	r = fetch_manifest_pick((const char *)data + 1, size - 1, types[data[0] % 6], &pick);
	if (r == 0) {
		/* a pick is always a well-formed digest */
		if (!fetch_digest_is_valid(pick.digest))
			abort();
	} else if (strlen(pick.reason) >= sizeof(pick.reason))
		abort();
	return 0;
}
