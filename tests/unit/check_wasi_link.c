/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wasi-link: WASI bound into the real interpreter. Hand-assembled
 * modules (bytes below, with what they do) check argument marshalling
 * (an i64 between i32s), proc_exit unwinding from a nested call, a module
 * without memory (every pointer faults, no crash) and the resolver.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasi-link.h"
#include "mvmt-main.h"

/*
 * mod_nomem: no memory; imports fd_write; export run() -> i32 returns
 * fd_write(1, 0, 0, 0).
 */
static const uint8_t mod_nomem[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0d, 0x02, 0x60,
	0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7f, 0x02,
	0x23, 0x01, 0x16, 0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70,
	0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77,
	0x31, 0x08, 0x66, 0x64, 0x5f, 0x77, 0x72, 0x69, 0x74, 0x65, 0x00, 0x00,
	0x03, 0x02, 0x01, 0x01, 0x07, 0x07, 0x01, 0x03, 0x72, 0x75, 0x6e, 0x00,
	0x01, 0x0a, 0x0e, 0x01, 0x0c, 0x00, 0x41, 0x01, 0x41, 0x00, 0x41, 0x00,
	0x41, 0x00, 0x10, 0x00, 0x0b
};

/*
 * mod_exit: one page of memory; imports clock_time_get and proc_exit.
 * clock() -> i64: clock_time_get(1, -1 as i64, 8), then i64.load at 8.
 * _start: calls f4, which does proc_exit(7) then `unreachable` (a trap if
 * proc_exit ever returned).
 */
static const uint8_t mod_exit[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x13, 0x04, 0x60,
	0x03, 0x7f, 0x7e, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00,
	0x01, 0x7e, 0x60, 0x00, 0x00, 0x02, 0x4c, 0x02, 0x16, 0x77, 0x61, 0x73,
	0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70,
	0x72, 0x65, 0x76, 0x69, 0x65, 0x77, 0x31, 0x0e, 0x63, 0x6c, 0x6f, 0x63,
	0x6b, 0x5f, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x67, 0x65, 0x74, 0x00, 0x00,
	0x16, 0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68,
	0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77, 0x31, 0x09,
	0x70, 0x72, 0x6f, 0x63, 0x5f, 0x65, 0x78, 0x69, 0x74, 0x00, 0x01, 0x03,
	0x04, 0x03, 0x02, 0x03, 0x03, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x1b,
	0x03, 0x05, 0x63, 0x6c, 0x6f, 0x63, 0x6b, 0x00, 0x02, 0x06, 0x5f, 0x73,
	0x74, 0x61, 0x72, 0x74, 0x00, 0x03, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72,
	0x79, 0x02, 0x00, 0x0a, 0x1f, 0x03, 0x10, 0x00, 0x41, 0x01, 0x42, 0x7f,
	0x41, 0x08, 0x10, 0x00, 0x1a, 0x41, 0x08, 0x29, 0x03, 0x00, 0x0b, 0x04,
	0x00, 0x10, 0x04, 0x0b, 0x07, 0x00, 0x41, 0x07, 0x10, 0x01, 0x00, 0x0b
};

static void *test_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
	if (new_size == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, new_size);
}

static int fake_clock_time(void *user, uint32_t id, uint64_t *ret)
{
	*ret = 0x0102030405060708ull + id;
	return 0;
}

static const wasi_host fake_host = { .clock_time = fake_clock_time };

struct env {
	wasm_config cfg;
	wasm_store *store;
	wasm_module *mod;
	wasm_instance *inst;
	wasi_ctx ctx;
	wasi_link link;
};

static void env_setup(struct env *e, const uint8_t *bytes, size_t len, uint32_t caps)
{
	wasm_error err;

	memset(e, 0, sizeof(*e));
	e->cfg.alloc = test_alloc;
	wasm_config_init(&e->cfg);
	ck_assert_int_eq(wasm_module_new(&e->cfg, bytes, len, &e->mod, &err), 0);
	e->store = wasm_store_new(&e->cfg);
	ck_assert_ptr_nonnull(e->store);
	wasi_ctx_init(&e->ctx, &fake_host, caps, 0, NULL, 0, NULL);
	wasi_link_init(&e->link, &e->ctx, e->store);
	ck_assert_int_eq(wasm_instantiate(e->store, e->mod, wasi_link_resolve, &e->link, &e->inst,
					  &err), 0);
}

static void env_free(struct env *e)
{
	wasm_store_free(e->store);
	wasm_module_free(e->mod);
}

START_TEST(test_no_memory_faults)
{
	struct env e;
	wasm_val r;

	env_setup(&e, mod_nomem, sizeof(mod_nomem), WASI_CAP_ALL);
	ck_assert_int_eq(wasm_call(wasm_instance_func(e.inst, "run"), NULL, 0, &r, 1, NULL, NULL),
			 WASM_TRAP_NONE);
	ck_assert_int_eq(r.of.i32, WASI_ERRNO_FAULT);
	env_free(&e);
}
END_TEST

START_TEST(test_i64_argument_and_result)
{
	struct env e;
	wasm_val r;

	env_setup(&e, mod_exit, sizeof(mod_exit), WASI_CAP_ALL);
	ck_assert_int_eq(wasm_call(wasm_instance_func(e.inst, "clock"), NULL, 0, &r, 1, NULL, NULL),
			 WASM_TRAP_NONE);
	ck_assert_uint_eq((uint64_t)r.of.i64, 0x0102030405060709ull);
	ck_assert_uint_eq(e.ctx.calls, 1);
	env_free(&e);
}
END_TEST

START_TEST(test_denied_through_interpreter)
{
	struct env e;
	wasm_val r;

	/* clock denied: the guest sees NOTCAPABLE and memory stays zero. */
	env_setup(&e, mod_exit, sizeof(mod_exit), WASI_CAP_ALL & ~WASI_CAP_CLOCK);
	ck_assert_int_eq(wasm_call(wasm_instance_func(e.inst, "clock"), NULL, 0, &r, 1, NULL, NULL),
			 WASM_TRAP_NONE);
	ck_assert_uint_eq((uint64_t)r.of.i64, 0);
	env_free(&e);
}
END_TEST

START_TEST(test_proc_exit_unwinds)
{
	struct env e;
	wasm_trap trap = { 0 };
	uint32_t code = UINT32_MAX;

	env_setup(&e, mod_exit, sizeof(mod_exit), WASI_CAP_ALL);
	ck_assert_int_eq(wasi_link_run_start(e.inst, &e.ctx, NULL, &code, &trap), 0);
	ck_assert_uint_eq(code, 7);
	ck_assert(e.ctx.exited);
	env_free(&e);
}
END_TEST

START_TEST(test_no_start)
{
	struct env e;
	wasm_trap trap = { 0 };
	uint32_t code = UINT32_MAX;

	env_setup(&e, mod_nomem, sizeof(mod_nomem), WASI_CAP_ALL);
	ck_assert_int_eq(wasi_link_run_start(e.inst, &e.ctx, NULL, &code, &trap), -WASM_ENOENT);
	ck_assert_uint_eq(code, UINT32_MAX);
	env_free(&e);
}
END_TEST

START_TEST(test_resolver)
{
	struct env e;
	wasm_import_desc d = { .module = WASI_MODULE_NAME, .name = "fd_write",
			       .kind = WASM_EXTERN_FUNC };
	wasm_extern x1, x2;

	env_setup(&e, mod_nomem, sizeof(mod_nomem), WASI_CAP_ALL);
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x1), 0);
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x2), 0);
	ck_assert_ptr_eq(x1.of.func, x2.of.func); /* created once, shared */
	const wasm_functype *t = wasm_func_type(x1.of.func);
	ck_assert_uint_eq(t->nparams, 4);
	ck_assert_uint_eq(t->nresults, 1);
	d.name = "path_open";
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x1), 0);
	t = wasm_func_type(x1.of.func);
	ck_assert_uint_eq(t->nparams, 9);
	ck_assert_int_eq(t->params[5], WASM_I64);
	d.name = "proc_exit";
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x1), 0);
	ck_assert_uint_eq(wasm_func_type(x1.of.func)->nresults, 0);
	d.name = "no_such_call";
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x1), -WASM_ENOENT);
	d.name = "fd_write";
	d.module = "wasi_unstable"; /* preview0 is not provided */
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x1), -WASM_ENOENT);
	d.module = WASI_MODULE_NAME;
	d.kind = WASM_EXTERN_MEMORY;
	ck_assert_int_eq(wasi_link_resolve(&e.link, &d, &x1), -WASM_ENOENT);
	env_free(&e);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "link",
		.timeout = 10,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_no_memory_faults),
			MVMT_TEST(test_i64_argument_and_result),
			MVMT_TEST(test_denied_through_interpreter),
			MVMT_TEST(test_proc_exit_unwinds),
			MVMT_TEST(test_no_start),
			MVMT_TEST(test_resolver)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "wasi_link", .tcases = tcases)
