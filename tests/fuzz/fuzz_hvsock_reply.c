/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/exec-client.c daemon/mvmd/exec-call.c lib/proto/exec-frame.c */
/* The VMM's answer to "CONNECT <port>\n" (hybrid vsock), as the client parses it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec-client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[65];
	unsigned hp = 0xdeadbeef;
	int r;

	if (size > 64)
		return 0; /* the client caps the line at 64 bytes */
	memcpy(line, data, size);
	line[size] = '\0';
	r = exec_hvsock_parse_reply(line, &hp);
	if (r != 0 && r != -ECONNREFUSED && r != -EBADMSG)
		abort();
	if (r == 0 && strncmp(line, "OK ", 3) != 0)
		abort();
	if (r != 0 && hp != 0xdeadbeef)
		abort();
	return 0;
}
