/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: a raw (non-Wasm) guest that calls the actor hypercalls
 * 10..12 (docs/guest-abi.md) wrongly, as argv[0] says. The kinds the host
 * must refuse with -errno print "result=<n>" and exit 0; the others must
 * end the VM as a bad-pointer fault before "accepted" is printed:
 *
 *   send-biglen      send of 65537 bytes                -> -EMSGSIZE
 *   send-iface       send to "sha256:XYZ..."            -> -EINVAL
 *   wait-bigcap      wait with cap 65537                -> -EINVAL
 *   answer-biglen    answer of 65537 bytes              -> -EMSGSIZE
 *   answer-unknown   answer of an id never delivered    -> 0 (mvmd drops it)
 *   send-block       send's block far outside memory    -> fault
 *   send-buf         send's message far outside memory  -> fault
 *   wait-block       wait's block in read-only boot info -> fault
 *   wait-buf         wait's buffer across the end of memory -> fault
 *   answer-buf       answer's bytes far outside memory  -> fault
 *   serve-bad        a raw actor: wait for a message, answer it with a
 *                    pointer far outside memory         -> fault
 */
#include "mvm.h"

#define FAR 0x7fff00000000ull

static struct mvm_hc_send snd;
static struct mvm_hc_msg blk;
static char msg[64];

static void good_iface(void)
{
	memcpy(snd.iface, "sha256:", 7);
	memset(snd.iface + 7, 'a', MVM_BLOB_REF_LEN - 7);
}

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv;
	const char *kind = bi->argc ? argv[0] : "send-block";
	int64_t r = 0;

	good_iface();
	snd.buf = (uint64_t)(uintptr_t)msg;
	snd.len = 4;
	blk.buf = (uint64_t)(uintptr_t)msg;
	blk.cap = sizeof(msg);
	blk.timeout_ns = 0;
	if (!strcmp(kind, "send-biglen")) {
		snd.len = MVM_MSG_MAX + 1;
		r = mvm_hypercall(MVM_HC_MSG_SEND, &snd, 0);
	} else if (!strcmp(kind, "send-iface")) {
		memcpy(snd.iface + 7, "XYZ", 3);
		r = mvm_hypercall(MVM_HC_MSG_SEND, &snd, 0);
	} else if (!strcmp(kind, "wait-bigcap")) {
		blk.cap = MVM_MSG_MAX + 1;
		r = mvm_hypercall(MVM_HC_MSG_WAIT, &blk, 0);
	} else if (!strcmp(kind, "answer-biglen")) {
		blk.answer_id = 1;
		blk.answer_buf = (uint64_t)(uintptr_t)msg;
		blk.answer_len = MVM_MSG_MAX + 1;
		r = mvm_hypercall(MVM_HC_MSG_ANSWER, &blk, 0);
	} else if (!strcmp(kind, "answer-unknown")) {
		blk.answer_id = 12345;
		blk.answer_buf = (uint64_t)(uintptr_t)msg;
		blk.answer_len = 2;
		r = mvm_hypercall(MVM_HC_MSG_ANSWER, &blk, 0);
	} else {
		if (!strcmp(kind, "send-block")) {
			r = mvm_hypercall(MVM_HC_MSG_SEND, FAR, 0);
		} else if (!strcmp(kind, "send-buf")) {
			snd.buf = FAR;
			r = mvm_hypercall(MVM_HC_MSG_SEND, &snd, 0);
		} else if (!strcmp(kind, "wait-block")) {
			r = mvm_hypercall(MVM_HC_MSG_WAIT, MVM_GUEST_BOOT_INFO, 0);
		} else if (!strcmp(kind, "wait-buf")) {
			blk.buf = bi->mem_size - 8;
			blk.cap = 16;
			r = mvm_hypercall(MVM_HC_MSG_WAIT, &blk, 0);
		} else if (!strcmp(kind, "answer-buf")) {
			blk.answer_id = 1;
			blk.answer_buf = FAR;
			blk.answer_len = 4;
			r = mvm_hypercall(MVM_HC_MSG_ANSWER, &blk, 0);
		} else if (!strcmp(kind, "serve-bad")) {
			mvm_printf("raw actor ready\n");
			mvm_console_flush();
			blk.timeout_ns = -1;
			do
				r = mvm_hypercall(MVM_HC_MSG_WAIT, &blk, 0);
			while (r != MVM_MSG_REQUEST);
			blk.answer_id = blk.id;
			blk.answer_buf = FAR;
			blk.answer_len = 4;
			r = mvm_hypercall(MVM_HC_MSG_ANSWER, &blk, 0);
		}
		mvm_printf("host accepted the bad pointer: %lld\n", (long long)r);
		return 99;
	}
	mvm_printf("result=%lld\n", (long long)r);
	return 0;
}
