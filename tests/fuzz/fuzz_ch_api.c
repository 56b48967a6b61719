/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-sources: daemon/mvmd/ch/api.c */
/* Response bodies from cloud-hypervisor's API socket (vm.info, vmm.ping). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ch_vm_state_t s = CH_VM_PAUSED;
	char *v = NULL;
	int r;

	r = ch_api_parse_info((const char *)data, size, &s);
	if (r != 0 && r != -EBADMSG && r != -ENOMEM)
		abort();
	if (r != 0 && s != CH_VM_PAUSED)
		abort();
	if (r == 0 && (s < 0 || s >= _CH_VM_STATE_MAX))
		abort();
	r = ch_api_parse_ping((const char *)data, size, &v);
	if (r != 0 && r != -EBADMSG && r != -ENOMEM)
		abort();
	if (r == 0) {
		size_t n = strlen(v);
		if (n == 0 || n > 128)
			abort();
		free(v);
	} else if (v) {
		abort();
	}
	return 0;
}
