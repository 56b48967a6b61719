/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ASSIGN a warm worker waits for (lib/proto/warm.c) comes from another
 * process: decode arbitrary bytes with every fd count, and check that
 * whatever decodes encodes back to the same bytes.
 */
/* fuzz-sources: lib/proto/warm.c */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/warm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static kvm_warm_assign_t a;
	uint8_t *buf, *back;

	if (size > KVM_WARM_MSG_MAX)
		return 0;
	/* A copy of exactly size bytes, so reads past it are caught. */
	buf = malloc(size ? size : 1);
	back = malloc(KVM_WARM_MSG_MAX);
	if (!buf || !back)
		__builtin_trap();
	memcpy(buf, data, size);
	for (size_t nfds = 0; nfds <= KVM_WARM_FD_MAX; nfds++) {
		if (kvm_warm_decode(buf, size, nfds, &a) < 0)
			continue;
		/* Each type's fds: an ASSIGN has its control socket, a PRIME
		 * exactly the module, a TEMPLATE exactly the template, a
		 * RESTORE both (and each the count that came). */
		if ((size_t)__builtin_popcount(a.fd_mask) != nfds)
			__builtin_trap();
		uint32_t want = a.type == KVM_WARM_MSG_PRIME	  ? 1u << KVM_WARM_FD_BLOB
				: a.type == KVM_WARM_MSG_TEMPLATE ? 1u << KVM_WARM_FD_TEMPLATE
				: a.type == KVM_WARM_MSG_RESTORE
					? (1u << KVM_WARM_FD_TEMPLATE) | (1u << KVM_WARM_FD_BLOB)
					: 0;
		if (a.type == KVM_WARM_MSG_ASSIGN ? !(a.fd_mask & (1u << KVM_WARM_FD_CTL))
						  : a.fd_mask != want || !a.workload)
			__builtin_trap();
		/* Strings come back in kind order (args, caps, envs, workload),
		 * so a message in that order must round-trip byte for byte. */
		int n = kvm_warm_encode(&a, back, KVM_WARM_MSG_MAX);
		if (n < 0)
			__builtin_trap();
		kvm_warm_assign_t again;
		if (kvm_warm_decode(back, (size_t)n, nfds, &again) < 0 || again.nargs != a.nargs ||
		    again.ncaps != a.ncaps || again.nenvs != a.nenvs || !again.workload != !a.workload)
			__builtin_trap();
	}
	free(buf);
	free(back);
	return 0;
}
