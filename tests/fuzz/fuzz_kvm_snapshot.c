/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A snapshot blob may come from a registry: parse arbitrary bytes as one
 * (lib/proto/snapshot.c). Random bytes almost never match their SHA-256
 * trailer, so each input is parsed twice: as it is, and with its trailer
 * made to match, which takes the parser through every section. Whatever
 * parses is walked as a restore walks it.
 */
/* fuzz-sources: lib/proto/snapshot.c lib/util/sha256.c */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/snapshot.h"
#include "util/sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const kvm_snapshot_t *s)
{
	static kvm_snap_vcpu_state_t v;
	static struct kvm_cpuid2 *host;
	char why[KVM_SNAP_WHY_MAX];
	uint64_t pos = 0, gpa, len, total = 0;
	const uint8_t *p;

	if (!host) {
		host = calloc(1, sizeof(*host) + 2 * sizeof(host->entries[0]));
		if (!host)
			__builtin_trap();
		host->nent = 2;
		host->entries[1].function = 1;
	}
	while (kvm_snapshot_mem_next(s, &pos, &gpa, &p, &len) > 0) {
		if (gpa + len > s->mem_size)
			__builtin_trap();
		total += p[0] + p[len - 1]; /* read both ends of each run */
	}
	for (unsigned i = 0; i < s->hdr.vcpus; i++)
		kvm_snapshot_vcpu(s, i, &v);
	for (uint32_t i = 0; i < s->ngrants; i++)
		if (s->grants[i].data && s->grants[i].size)
			total += s->grants[i].data[s->grants[i].size - 1];
	if (s->console_out_len)
		total += s->console_out[s->console_out_len - 1];
	(void)kvm_snapshot_check_cpuid(s, host, why, sizeof(why));
	__asm__ volatile("" : : "r"(total));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static kvm_snapshot_t s;
	char why[KVM_SNAP_WHY_MAX];
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		__builtin_trap();
	memcpy(buf, data, size);
	if (kvm_snapshot_parse(buf, size, false, &s, why, sizeof(why)) == 0)
		walk(&s);
	(void)kvm_snapshot_parse(buf, size, true, &s, why, sizeof(why));
	if (size >= KVM_SNAP_TRAILER_SIZE) {
		sha256(buf, size - KVM_SNAP_TRAILER_SIZE, buf + size - KVM_SNAP_TRAILER_SIZE);
		if (kvm_snapshot_parse(buf, size, false, &s, why, sizeof(why)) == 0)
			walk(&s);
	}
	free(buf);
	return 0;
}
