/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control messages and result files come from another process (a worker
 * running a hostile guest may be compromised): decode arbitrary bytes as a
 * stream of frames, and parse them as a result file.
 */
/* fuzz-sources: lib/proto/ctl.c lib/proto/result.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	kvm_msg_t m;
	size_t used;
	kvm_result_t r;
	char buf[4096];

	while (off < size && kvm_msg_decode(data + off, size - off, &m, &used) == 1) {
		/* the pure decoder never yields a descriptor */
		if (used > size - off || m.len + sizeof(kvm_msg_hdr_t) != used || m.fd != -1)
			__builtin_trap();
		if (kvm_msg_get_result(&m, &r) == 0) {
			/* Whatever decodes must format and parse back the same. */
			int n = kvm_result_format(&r, buf, sizeof(buf));
			kvm_result_t back;
			if (n < 0 || kvm_result_parse(buf, (size_t)n, &back) < 0)
				__builtin_trap();
			if (back.outcome != r.outcome || back.fault != r.fault)
				__builtin_trap();
		}
		off += used;
	}
	(void)kvm_result_parse((const char *)data, size, &r);
	return 0;
}
