/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The actor calls of a Wasm workload (docs/actors.md): the functions
 * "send", "answer" and "wait" of import module "mvm", as host functions
 * of the interpreter made of MVM_HC_MSG_* calls (guest-abi.h).
 *
 * An answer is staged here (copied: the program may reuse its buffer)
 * and leaves with the next wait, so answering one message and waiting
 * for the next is one VM exit. A send, a second answer or the end of the
 * program flushes a staged answer first, so answers and sends reach mvmd
 * in the order the program made them. Buffers the host reads or writes
 * are the program's linear memory itself (guest memory, identity mapped),
 * bounds-checked here first: a message is never copied twice.
 */
#include "actor.h"
#include "mvm.h"

/* Linux errno values, as lib/proto/mvm-actor.h names them. */
#define A_ENOENT 2
#define A_EFAULT 14
#define A_EMSGSIZE 90

/* Request ids the program got and has not answered: answering any other
 * id is -ENOENT at once, not a silent drop in mvmd. mvmd hands an actor
 * one message at a time; a few more come only across an mvmd restart. */
#define OWED_MAX 8

/* struct mvm_actor_info of lib/proto/mvm-actor.h, in linear memory. */
struct actor_info {
	uint64_t id;
	uint32_t len;
	int32_t status;
	uint32_t from;
	uint32_t pad;
};
_Static_assert(sizeof(struct actor_info) == 24, "mvm_actor_info is 24 bytes");

static struct {
	bool staged;
	uint64_t staged_id;
	uint32_t staged_len;
	uint64_t owed[OWED_MAX];
	unsigned owed_next;
	struct mvm_hc_msg blk;
	struct mvm_hc_send send;
	uint8_t answer[MVM_MSG_MAX];
} act;

/* [off, off + len) of the calling instance's memory 0, or NULL. */
static uint8_t *lin(wasm_instance *inst, uint32_t off, uint64_t len)
{
	uint64_t size = 0;
	wasm_memory *m = inst ? wasm_instance_memory(inst, 0) : NULL;
	uint8_t *base = m ? wasm_memory_data(m, &size) : NULL;

	if (!base || off > size || len > size - off)
		return NULL;
	return base + off;
}

static int64_t flush_answer(void)
{
	if (!act.staged)
		return 0;
	act.blk = (struct mvm_hc_msg){ .answer_id = act.staged_id, .answer_buf = (uint64_t)(uintptr_t)act.answer,
				       .answer_len = act.staged_len };
	act.staged = false;
	return mvm_hypercall(MVM_HC_MSG_ANSWER, &act.blk, 0);
}

void mvm_actor_flush(void)
{
	(void)flush_answer();
}

static wasm_trap_kind a_send(wasm_instance *inst, const wasm_val *args, wasm_val *results, void *ud)
{
	uint32_t len = (uint32_t)args[2].of.i32;
	const uint8_t *iface = lin(inst, (uint32_t)args[0].of.i32, MVM_BLOB_REF_LEN);
	const uint8_t *msg = lin(inst, (uint32_t)args[1].of.i32, len);

	(void)ud;
	results[0].type = WASM_I64;
	if (!iface || !msg) {
		results[0].of.i64 = -A_EFAULT;
		return WASM_TRAP_NONE;
	}
	if (len > MVM_MSG_MAX) {
		results[0].of.i64 = -A_EMSGSIZE;
		return WASM_TRAP_NONE;
	}
	(void)flush_answer(); /* an answer made before this send goes first */
	memcpy(act.send.iface, iface, MVM_BLOB_REF_LEN);
	act.send.buf = (uint64_t)(uintptr_t)msg;
	act.send.len = len;
	results[0].of.i64 = mvm_hypercall(MVM_HC_MSG_SEND, &act.send, 0);
	return WASM_TRAP_NONE;
}

static wasm_trap_kind a_answer(wasm_instance *inst, const wasm_val *args, wasm_val *results, void *ud)
{
	uint64_t id = (uint64_t)args[0].of.i64;
	uint32_t len = (uint32_t)args[2].of.i32;
	const uint8_t *msg = lin(inst, (uint32_t)args[1].of.i32, len);
	unsigned i;

	(void)ud;
	results[0].type = WASM_I32;
	if (!msg) {
		results[0].of.i32 = -A_EFAULT;
		return WASM_TRAP_NONE;
	}
	if (len > MVM_MSG_MAX) {
		results[0].of.i32 = -A_EMSGSIZE;
		return WASM_TRAP_NONE;
	}
	for (i = 0; i < OWED_MAX && (id == 0 || act.owed[i] != id); i++)
		;
	if (i == OWED_MAX) {
		results[0].of.i32 = -A_ENOENT; /* never got it, or answered it already */
		return WASM_TRAP_NONE;
	}
	act.owed[i] = 0;
	(void)flush_answer(); /* only one answer is staged at a time */
	memcpy(act.answer, msg, len);
	act.staged = true;
	act.staged_id = id;
	act.staged_len = len;
	results[0].of.i32 = 0;
	return WASM_TRAP_NONE;
}

static wasm_trap_kind a_wait(wasm_instance *inst, const wasm_val *args, wasm_val *results, void *ud)
{
	uint32_t cap = (uint32_t)args[1].of.i32;
	uint8_t *buf, *info;
	struct actor_info out;
	int64_t k;

	(void)ud;
	results[0].type = WASM_I32;
	if (cap > MVM_MSG_MAX)
		cap = MVM_MSG_MAX; /* no message is longer */
	buf = lin(inst, (uint32_t)args[0].of.i32, cap);
	info = lin(inst, (uint32_t)args[2].of.i32, sizeof(out));
	if (!buf || !info) {
		results[0].of.i32 = -A_EFAULT;
		return WASM_TRAP_NONE;
	}
	mvm_console_flush(); /* what it printed shows before it sleeps */
	act.blk = (struct mvm_hc_msg){ .buf = (uint64_t)(uintptr_t)buf, .cap = cap, .timeout_ns = args[3].of.i64 };
	if (act.staged) {
		act.blk.answer_id = act.staged_id;
		act.blk.answer_buf = (uint64_t)(uintptr_t)act.answer;
		act.blk.answer_len = act.staged_len;
		act.staged = false;
	}
	k = mvm_hypercall(MVM_HC_MSG_WAIT, &act.blk, 0);
	/* Woken early by a pause: the answer went, the rest of the timeout
	 * is in the block; the module never sees it. */
	while (k == MVM_MSG_AGAIN) {
		act.blk.answer_id = 0;
		act.blk.answer_len = 0;
		k = mvm_hypercall(MVM_HC_MSG_WAIT, &act.blk, 0);
	}
	if (k == MVM_MSG_REQUEST) {
		act.owed[act.owed_next] = act.blk.id; /* the oldest owed id makes room */
		act.owed_next = (act.owed_next + 1) % OWED_MAX;
	}
	if (k >= 0) {
		out = (struct actor_info){ .id = act.blk.id, .len = act.blk.len, .status = act.blk.status,
					   .from = act.blk.from };
		if (k == MVM_MSG_TIMEOUT || k == MVM_MSG_STOP)
			out = (struct actor_info){ 0 };
		memcpy(info, &out, sizeof(out));
	}
	results[0].of.i32 = (int32_t)k;
	return WASM_TRAP_NONE;
}

static const wasm_valtype t_send_p[] = { WASM_I32, WASM_I32, WASM_I32 }, t_i64[] = { WASM_I64 };
static const wasm_valtype t_answer_p[] = { WASM_I64, WASM_I32, WASM_I32 }, t_i32[] = { WASM_I32 };
static const wasm_valtype t_wait_p[] = { WASM_I32, WASM_I32, WASM_I32, WASM_I64 };

static const struct {
	const char *name;
	wasm_functype type;
	wasm_host_fn fn;
} actor_fns[] = {
	{ "send", { 3, 1, t_send_p, t_i64 }, a_send },
	{ "answer", { 3, 1, t_answer_p, t_i32 }, a_answer },
	{ "wait", { 4, 1, t_wait_p, t_i32 }, a_wait },
};

int mvm_actor_resolve(wasm_store *store, const wasm_import_desc *want, wasm_extern *ret)
{
	static wasm_func *made[3];

	if (strcmp(want->module, "mvm") != 0 || want->kind != WASM_EXTERN_FUNC)
		return -WASM_ENOENT;
	for (unsigned i = 0; i < sizeof(actor_fns) / sizeof(actor_fns[0]); i++) {
		if (strcmp(want->name, actor_fns[i].name) != 0)
			continue;
		if (!made[i])
			made[i] = wasm_func_new_host(store, &actor_fns[i].type, actor_fns[i].fn, NULL);
		if (!made[i])
			return -WASM_ENOMEM;
		ret->kind = WASM_EXTERN_FUNC;
		ret->of.func = made[i];
		return 0;
	}
	return -WASM_ENOENT;
}
