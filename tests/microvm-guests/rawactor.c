/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest: the smallest actor, without Wasm (bench/actor.c measures
 * mvmd's and the worker's part of a message with it). It answers each
 * message with its own bytes, the answer leaving with the next wait: one
 * VM exit per message (docs/actors.md, "How it runs").
 */
#include "mvm.h"

static struct mvm_hc_msg blk;
static char buf[MVM_MSG_MAX];
static char out[MVM_MSG_MAX];

int mvm_main(const struct mvm_boot_info *bi)
{
	(void)bi;
	mvm_printf("raw actor ready\n");
	mvm_console_flush();
	blk.buf = (uint64_t)(uintptr_t)buf;
	blk.cap = sizeof(buf);
	for (;;) {
		blk.timeout_ns = -1;
		int64_t k = mvm_hypercall(MVM_HC_MSG_WAIT, &blk, 0);
		blk.answer_id = 0;
		if (k == MVM_MSG_STOP)
			return 0;
		if (k != MVM_MSG_REQUEST)
			continue;
		uint32_t n = blk.len < sizeof(out) ? blk.len : (uint32_t)sizeof(out);
		memcpy(out, buf, n);
		blk.answer_id = blk.id;
		blk.answer_buf = (uint64_t)(uintptr_t)out;
		blk.answer_len = n;
	}
}
