/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot format's parser (lib/proto/snapshot.c), without KVM: a
 * snapshot built here byte by byte as docs/snapshots.md describes it, then
 * every truncation, every flipped byte, and each structural lie with a
 * matching trailer.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/snapshot.h"
#include "util/sha256.h"
#include "mvmt-main.h"

#define REF "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void pad(buf_t *b)
{
	static const uint8_t z[8];
	if (b->len % 8)
		put(b, z, 8 - b->len % 8);
}

static void section(buf_t *b, uint32_t type, uint64_t len)
{
	kvm_snap_section_t s = { .type = type, .len = len };
	put(b, &s, sizeof(s));
}

/* Offsets into the built snapshot that tests poke at. */
static size_t off_cpuid, off_mem_run, off_vcpu;

static struct kvm_cpuid_entry2 entries[2] = {
	{ .function = 0, .eax = 0xd, .ebx = 0x68747541 },
	{ .function = 1, .eax = 0x800f12, .ecx = 0x10000000 },
};

/* A 16 MiB, 1 vCPU snapshot: one page at 0x200000 (and the page after
 * it), "hi" of console output, port 52 listened on, one grant. */
static buf_t build(void)
{
	buf_t b = { 0 };
	kvm_snap_header_t h = { .version = KVM_SNAP_VERSION, .header_size = KVM_SNAP_HEADER_SIZE, .memory_mib = 16,
				.vcpus = 1, .nsections = 4, .mem_pages = 2 };
	memcpy(h.magic, KVM_SNAP_MAGIC, 8);
	put(&b, &h, sizeof(h));

	uint32_t n[2] = { 2, 0 };
	section(&b, KVM_SNAP_SEC_CPUID, 8 + sizeof(entries));
	off_cpuid = b.len + 8;
	put(&b, n, 8);
	put(&b, entries, sizeof(entries));

	off_vcpu = b.len;
	section(&b, KVM_SNAP_SEC_VCPU, KVM_SNAP_VCPU_FIXED + sizeof(struct kvm_msr_entry));
	kvm_snap_vcpu_head_t vh = { .index = 0, .nmsrs = 1 };
	put(&b, &vh, sizeof(vh));
	struct kvm_regs regs = { .rip = 0x201000, .rsp = 0xff0000, .rax = 42 };
	put(&b, &regs, sizeof(regs));
	struct kvm_sregs sregs = { .cr3 = 0x1000 };
	put(&b, &sregs, sizeof(sregs));
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };
	put(&b, &xcrs, sizeof(xcrs));
	static uint8_t xsave[KVM_SNAP_XSAVE_SIZE];
	put(&b, xsave, sizeof(xsave));
	struct kvm_msr_entry msr = { .index = 0x10, .data = 12345 };
	put(&b, &msr, sizeof(msr));
	pad(&b);

	static uint8_t pages[2 * KVM_SNAP_PAGE];
	memset(pages, 0xab, sizeof(pages));
	section(&b, KVM_SNAP_SEC_MEMORY, 16 + sizeof(pages));
	off_mem_run = b.len;
	uint64_t run[2] = { 0x200000, sizeof(pages) };
	put(&b, run, sizeof(run));
	put(&b, pages, sizeof(pages));

	uint8_t grant[4] = { 1, 2, 3, 4 };
	uint64_t wlen = sizeof(kvm_snap_worker_head_t) + 8 + 8 + 80 + 8;
	section(&b, KVM_SNAP_SEC_WORKER, wlen);
	kvm_snap_worker_head_t wh = { .console_out_len = 2, .console_in_len = 1, .nlisteners = 1, .ngrants = 1 };
	put(&b, &wh, sizeof(wh));
	put(&b, "hiX", 3);
	pad(&b);
	uint32_t l[2] = { 52, 0 };
	put(&b, l, sizeof(l));
	uint8_t flags = 0;
	uint64_t gsize = sizeof(grant);
	put(&b, REF, KVM_BLOB_REF_LEN);
	put(&b, &flags, 1);
	put(&b, &gsize, 8);
	put(&b, grant, sizeof(grant));
	pad(&b);

	uint64_t total = b.len + KVM_SNAP_TRAILER_SIZE;
	memcpy(b.p + offsetof(kvm_snap_header_t, total_size), &total, 8);
	uint8_t d[SHA256_DIGEST_LEN];
	sha256(b.p, b.len, d);
	put(&b, d, sizeof(d));
	return b;
}

/* Make the trailer match again after a change. */
static void reseal(buf_t *b)
{
	sha256(b->p, b->len - KVM_SNAP_TRAILER_SIZE, b->p + b->len - KVM_SNAP_TRAILER_SIZE);
}

static int parse(const buf_t *b, char *why)
{
	static kvm_snapshot_t s;
	return kvm_snapshot_parse(b->p, b->len, false, &s, why, KVM_SNAP_WHY_MAX);
}

START_TEST(test_parse_whole)
{
	buf_t b = build();
	kvm_snapshot_t s;
	char why[KVM_SNAP_WHY_MAX] = "";

	ck_assert_msg(kvm_snapshot_parse(b.p, b.len, false, &s, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(s.hdr.memory_mib, 16);
	ck_assert_uint_eq(s.mem_size, 16u << 20);
	ck_assert_uint_eq(s.ncpuid, 2);
	ck_assert_uint_eq(s.console_out_len, 2);
	ck_assert_int_eq(memcmp(s.console_out, "hi", 2), 0);
	ck_assert_uint_eq(s.console_in_len, 1);
	ck_assert_str_eq(s.workload, "");
	ck_assert_uint_eq(s.nlisteners, 1);
	ck_assert_uint_eq(s.listener_port[0], 52);
	ck_assert_uint_eq(s.ngrants, 1);
	ck_assert_uint_eq(s.grants[0].size, 4);
	ck_assert_int_eq(s.grants[0].data[3], 4);

	uint64_t pos = 0, gpa, len;
	const uint8_t *data;
	ck_assert_int_eq(kvm_snapshot_mem_next(&s, &pos, &gpa, &data, &len), 1);
	ck_assert_uint_eq(gpa, 0x200000);
	ck_assert_uint_eq(len, 2 * KVM_SNAP_PAGE);
	ck_assert_int_eq(data[len - 1], 0xab);
	ck_assert_int_eq(kvm_snapshot_mem_next(&s, &pos, &gpa, &data, &len), 0);

	kvm_snap_vcpu_state_t v;
	kvm_snapshot_vcpu(&s, 0, &v);
	ck_assert_uint_eq(v.regs.rip, 0x201000);
	ck_assert_uint_eq(v.regs.rax, 42);
	ck_assert_uint_eq(v.nmsrs, 1);
	ck_assert_uint_eq(v.msrs[0].data, 12345);

	/* head_only reads the header alone */
	ck_assert_int_eq(kvm_snapshot_parse(b.p, KVM_SNAP_HEADER_SIZE, true, &s, why, sizeof(why)), 0);
	ck_assert_uint_eq(s.hdr.vcpus, 1);
	free(b.p);
}
END_TEST

START_TEST(test_truncated_and_corrupt)
{
	buf_t b = build();
	kvm_snapshot_t s;
	char why[KVM_SNAP_WHY_MAX];

	/* Every prefix is refused, never read past. */
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, b.p, n);
		int r = kvm_snapshot_parse(cut, n, false, &s, why, sizeof(why));
		ck_assert_msg(r == -ENODATA || r == -EBADMSG, "prefix %zu: %d", n, r);
		if (n >= KVM_SNAP_HEADER_SIZE)
			ck_assert_msg(r == -ENODATA && strstr(why, "truncated"), "prefix %zu: %s", n, why);
		free(cut);
	}
	/* Every flipped byte is seen (the trailer, or the header before it). */
	for (size_t i = 0; i < b.len; i++) {
		b.p[i] ^= 0x01;
		ck_assert_msg(parse(&b, why) < 0, "byte %zu", i);
		b.p[i] ^= 0x01;
	}
	b.p[b.len / 2] ^= 0x80;
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "corrupt"));
	free(b.p);
}
END_TEST

START_TEST(test_structural_lies)
{
	char why[KVM_SNAP_WHY_MAX];
	buf_t b;

	/* a newer version */
	b = build();
	((kvm_snap_header_t *)(void *)b.p)->version = 2;
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(why, "format version 2"));
	free(b.p);
	/* not a snapshot */
	b = build();
	b.p[0] = 'X';
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "magic"));
	free(b.p);
	/* a memory run outside guest memory */
	b = build();
	uint64_t gpa = 16u << 20;
	memcpy(b.p + off_mem_run, &gpa, 8);
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "memory run"));
	free(b.p);
	/* a run not page aligned */
	b = build();
	gpa = 0x200010;
	memcpy(b.p + off_mem_run, &gpa, 8);
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	free(b.p);
	/* a vCPU section for a vCPU the VM does not have */
	b = build();
	uint32_t idx = 1;
	memcpy(b.p + off_vcpu + sizeof(kvm_snap_section_t), &idx, 4);
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "vCPU"));
	free(b.p);
	/* a VM size no worker builds */
	b = build();
	((kvm_snap_header_t *)(void *)b.p)->memory_mib = 1;
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	free(b.p);
	/* more pages than the header says */
	b = build();
	((kvm_snap_header_t *)(void *)b.p)->mem_pages = 3;
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	free(b.p);
	/* a section count that hides the last section */
	b = build();
	((kvm_snap_header_t *)(void *)b.p)->nsections = 3;
	reseal(&b);
	ck_assert_int_eq(parse(&b, why), -EBADMSG);
	free(b.p);
}
END_TEST

START_TEST(test_cpuid_check)
{
	buf_t b = build();
	kvm_snapshot_t s;
	char why[KVM_SNAP_WHY_MAX];
	struct {
		struct kvm_cpuid2 h;
		struct kvm_cpuid_entry2 e[2];
	} host = { .h = { .nent = 2 } };

	ck_assert_int_eq(kvm_snapshot_parse(b.p, b.len, false, &s, why, sizeof(why)), 0);
	/* the same table, in another order */
	host.e[0] = entries[1];
	host.e[1] = entries[0];
	ck_assert_int_eq(kvm_snapshot_check_cpuid(&s, &host.h, why, sizeof(why)), 0);
	host.e[0].ecx = 0; /* no AVX here */
	ck_assert_int_eq(kvm_snapshot_check_cpuid(&s, &host.h, why, sizeof(why)), -EXDEV);
	ck_assert_msg(strstr(why, "other CPU features") && strstr(why, "0x1.0 ecx"), "%s", why);
	host.h.nent = 1;
	ck_assert_int_eq(kvm_snapshot_check_cpuid(&s, &host.h, why, sizeof(why)), -EXDEV);
	free(b.p);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{ .name = "parse", .timeout = 60,
	  .tests = MVMT_TESTS(MVMT_TEST(test_parse_whole), MVMT_TEST(test_truncated_and_corrupt),
			      MVMT_TEST(test_structural_lies), MVMT_TEST(test_cpuid_check)) },
	{ 0 }
};

MVMT_MAIN(.name = "kvm-snapshot", .tcases = tcases)
