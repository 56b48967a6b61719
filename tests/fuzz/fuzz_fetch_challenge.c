/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvm-fetch/parse.c */
/* Registry headers and small answers as mvm-fetch reads them: a
 * WWW-Authenticate value, a token endpoint's JSON, a Location resolved
 * against the URL that answered, and the transport policy applied to it.
 * The first byte picks which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	fetch_challenge_t ch;
	char *out = NULL;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (fetch_challenge_parse(s, n, &ch) == 0 &&
		    (strlen(ch.realm) >= sizeof(ch.realm) || strlen(ch.scope) >= sizeof(ch.scope)))
			abort();
		break;
	case 1:
		if (fetch_token_parse(s, n, &out) == 0) {
			for (char *p = out; *p; p++)
				if ((unsigned char)*p < 0x21)
					abort(); /* it goes into a header line */
			free(out);
		}
		break;
	case 2:
		if (fetch_location_resolve("https://registry.example:5000/v2/wasm/hello/blobs/sha256:00", s, n, &out) == 0) {
			if (strncmp(out, "http://", 7) != 0 && strncmp(out, "https://", 8) != 0)
				abort();
			(void)fetch_url_allowed(out, false);
			free(out);
		}
		break;
	}
	return 0;
}
