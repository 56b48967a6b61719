/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's side of Wasm workloads on real /dev/kvm, without mvmd:
 * the blob fd, its verification before the sandbox, boot info version 2
 * (envp, workload_size), the blob_load hypercall and its bounds, and
 * mvm-guest running a module by hash.
 */
#include <signal.h>

#include "blob.h"
#include "kvm-helpers.h"
#include "proto/guest-abi.h"
#include "mvmtest.h"
#include "mvmt-main.h"

static char blob_path[256];
static char blob_ref[80];
static uint8_t blob_bytes[64 << 10];

/* A blob file with known bytes, and its ref. */
static void make_blob(size_t n)
{
	char hex[BLOB_HEX_LEN + 1];
	for (size_t i = 0; i < n; i++)
		blob_bytes[i] = (uint8_t)(i * 7 + 3);
	snprintf(blob_path, sizeof(blob_path), "/tmp/mvm-kvm-blob.XXXXXX");
	int fd = mkstemp(blob_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, blob_bytes, n), (ssize_t)n);
	close(fd);
	ck_assert_int_eq(blob_hash_data(blob_bytes, n, hex), 0);
	snprintf(blob_ref, sizeof(blob_ref), "sha256:%s", hex);
}

/* Start guest with a workload (blob fd when with_blob) and envs. */
static void start_wl(tvm_t *t, const char *guest, const char *mode, bool with_blob, uint32_t mem)
{
	static const char *envs[] = { "A=1", "EMPTY=", "LONG=a b c" };
	const char *args[] = { mode };
	kvm_worker_config_t c;
	memset(t, 0, sizeof(*t));
	tvm_config(t, guest, &c);
	c.args = args;
	c.nargs = 1;
	c.workload = blob_ref;
	c.envs = envs;
	c.nenvs = 3;
	static const char *caps[] = { "stdout" };
	c.caps = caps;
	c.ncaps = 1;
	if (mem)
		c.memory_mib = mem;
	int fd = -1;
	if (with_blob) {
		fd = open(blob_path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		c.blob_fd = fd;
	}
	int r = kvm_worker_spawn(&c, &t->w);
	ck_assert_msg(r == 0, "spawn %s: %s", guest, strerror(-r));
	if (fd >= 0)
		close(fd);
}

START_TEST(test_boot_info_v2)
{
	tvm_t t;
	make_blob(4000);
	start_wl(&t, "blobload", "info", true, 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(tconsole_num(&t, "version"), MVM_BOOT_VERSION);
	ck_assert_int_eq(tconsole_num(&t, "workload_size"), 4000);
	ck_assert_int_eq(tconsole_num(&t, "envc"), 3);
	ck_assert_ptr_nonnull(strstr(t.console, "env[0]=A=1\nenv[1]=EMPTY=\nenv[2]=LONG=a b c\nenv-end=null\n"));
	char want[100];
	snprintf(want, sizeof(want), "workload=%s\n", blob_ref);
	ck_assert_ptr_nonnull(strstr(t.console, want));
	tvm_cleanup(&t);
	unlink(blob_path);
}
END_TEST

START_TEST(test_blob_load)
{
	tvm_t t;
	make_blob(5000);
	start_wl(&t, "blobload", "load", true, 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(tconsole_num(&t, "load"), 5000);
	unsigned long long sum = 0;
	for (size_t i = 0; i < 5000; i++)
		sum = (sum * 31 + blob_bytes[i]) & 0x7fffffff;
	ck_assert_uint_eq((unsigned long long)tconsole_num(&t, "sum"), sum);
	tvm_cleanup(&t);

	/* too small a buffer: -E2BIG, not a fault */
	start_wl(&t, "blobload", "short", true, 0);
	st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(tconsole_num(&t, "short"), -E2BIG);
	tvm_cleanup(&t);

	/* a workload name without a blob: -ENOENT */
	start_wl(&t, "blobload", "load", false, 0);
	st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(tconsole_num(&t, "load"), -ENOENT);
	tvm_cleanup(&t);
	unlink(blob_path);
}
END_TEST

START_TEST(test_blob_load_bad_pointers)
{
	static const char *modes[] = { "bad-ptr", "far-ptr" };
	make_blob(4096);
	for (int i = 0; i < 2; i++) {
		tvm_t t;
		start_wl(&t, "blobload", modes[i], true, 0);
		int st = tvm_finish(&t, 10000);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
		ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_FAULT);
		ck_assert_str_eq(kvm_fault_to_string(t.res.fault), "bad-pointer");
		ck_assert(!strstr(t.console ? t.console : "", "returned"));
		tvm_cleanup(&t);
	}
	unlink(blob_path);
}
END_TEST

START_TEST(test_blob_verified)
{
	tvm_t t;
	make_blob(3000);
	/* the file changes after its hash was taken: refused before READY */
	int fd = open(blob_path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "X", 1, 100), 1);
	close(fd);
	start_wl(&t, "blobload", "load", true, 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_int_eq(t.res.error, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(t.res.message, "does not match its hash"));
	ck_assert(!t.got_ready);
	tvm_cleanup(&t);
	unlink(blob_path);
}
END_TEST

START_TEST(test_blob_larger_than_memory)
{
	tvm_t t;
	char hex[BLOB_HEX_LEN + 1];
	/* 5 MiB of zeros for a 4 MiB VM */
	size_t n = 5u << 20;
	uint8_t *z = calloc(1, n);
	snprintf(blob_path, sizeof(blob_path), "/tmp/mvm-kvm-blob.XXXXXX");
	int fd = mkstemp(blob_path);
	ck_assert_int_eq(write(fd, z, n), (ssize_t)n);
	close(fd);
	ck_assert_int_eq(blob_hash_data(z, n, hex), 0);
	free(z);
	snprintf(blob_ref, sizeof(blob_ref), "sha256:%s", hex);
	start_wl(&t, "blobload", "load", true, 4);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_int_eq(t.res.error, -EFBIG);
	ck_assert_ptr_nonnull(strstr(t.res.message, "larger than guest memory"));
	tvm_cleanup(&t);
	unlink(blob_path);
}
END_TEST

START_TEST(test_module_larger_than_heap)
{
	/* fits in a 4 MiB VM's memory but not in mvm-guest's heap there:
	 * the guest says so and aborts */
	size_t n = 3u << 20;
	char hex[BLOB_HEX_LEN + 1];
	uint8_t *z = calloc(1, n);
	snprintf(blob_path, sizeof(blob_path), "/tmp/mvm-kvm-blob.XXXXXX");
	int fd = mkstemp(blob_path);
	ck_assert_int_eq(write(fd, z, n), (ssize_t)n);
	close(fd);
	ck_assert_int_eq(blob_hash_data(z, n, hex), 0);
	free(z);
	snprintf(blob_ref, sizeof(blob_ref), "sha256:%s", hex);
	tvm_t t;
	start_wl(&t, "mvm-guest", "big", true, 4);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	ck_assert_int_eq(t.res.fault, KVM_FAULT_ABORT);
	ck_assert_msg(strstr(t.res.message, "does not fit in guest memory"), "%s", t.res.message);
	tvm_cleanup(&t);
	unlink(blob_path);
}
END_TEST

START_TEST(test_mvm_guest_runs_module)
{
	/* a minimal module: (func (export "_start")) calling proc_exit(9) */
	static const uint8_t mod[] = {
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		/* types: [i32] -> [], [] -> [] */
		0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00,
		/* import wasi_snapshot_preview1.proc_exit type 0 */
		0x02, 0x24, 0x01, 0x16, 'w', 'a', 's', 'i', '_', 's', 'n', 'a', 'p', 's', 'h', 'o', 't', '_', 'p', 'r',
		'e', 'v', 'i', 'e', 'w', '1', 0x09, 'p', 'r', 'o', 'c', '_', 'e', 'x', 'i', 't', 0x00, 0x00,
		/* one function of type 1 */
		0x03, 0x02, 0x01, 0x01,
		/* export "_start" func 1 */
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01,
		/* code: i32.const 9, call 0, end */
		0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x09, 0x10, 0x00, 0x0b,
	};
	char hex[BLOB_HEX_LEN + 1];
	tvm_t t;
	memcpy(blob_bytes, mod, sizeof(mod));
	snprintf(blob_path, sizeof(blob_path), "/tmp/mvm-kvm-blob.XXXXXX");
	int fd = mkstemp(blob_path);
	ck_assert_int_eq(write(fd, mod, sizeof(mod)), (ssize_t)sizeof(mod));
	close(fd);
	ck_assert_int_eq(blob_hash_data(mod, sizeof(mod), hex), 0);
	snprintf(blob_ref, sizeof(blob_ref), "sha256:%s", hex);
	start_wl(&t, "mvm-guest", "prog", true, 0);
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, t.res.message);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 9);
	tvm_cleanup(&t);
	unlink(blob_path);
}
END_TEST

START_TEST(test_sandboxed_worker_holds_no_blob)
{
	/* the spin workload from the build: the worker runs sandboxed with
	 * the module read, verified and its fd closed */
	char rel[256], hex[BLOB_HEX_LEN + 1];
	snprintf(rel, sizeof(rel), "%s/wasm-programs/wl-spin.wasm", tbuild());
	ck_assert_ptr_nonnull(realpath(rel, blob_path));
	int fd = open(blob_path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, blob_bytes, sizeof(blob_bytes));
	close(fd);
	ck_assert(n > 0 && (size_t)n < sizeof(blob_bytes));
	ck_assert_int_eq(blob_hash_data(blob_bytes, (size_t)n, hex), 0);
	snprintf(blob_ref, sizeof(blob_ref), "sha256:%s", hex);
	tvm_t t;
	start_wl(&t, "mvm-guest", "spin", true, 0);
	tvm_wait_console(&t, "spinning\n", 10000);
	char fdpath[64], target[4096];
	for (int i = 0; i < 1024; i++) {
		snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%d", (int)t.w.pid, i);
		ssize_t k = readlink(fdpath, target, sizeof(target) - 1);
		if (k < 0)
			continue;
		target[k] = 0;
		ck_assert_msg(strcmp(target, blob_path) != 0, "fd %d is the blob", i);
	}
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 0), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_STOPPED);
	tvm_cleanup(&t);
}
END_TEST

/* The worker's vCPU exits so far (STATUS), consuming other frames. */
static uint64_t worker_exits(tvm_t *t)
{
	kvm_msg_t m;
	kvm_msg_status_t st;

	ck_assert_int_eq(kvm_ctl_send_status_req(t->w.ctl), 0);
	for (;;) {
		ck_assert_int_eq(kvm_ctl_recv(t->w.ctl, 30000, &m), 1);
		if (m.type == KVM_MSG_STATUS) {
			ck_assert_int_eq(kvm_msg_get_status(&m, &st), 0);
			return st.exits;
		}
	}
}

/*
 * An actor (tests/workloads/actor.c) driven by the worker's ACTOR_*
 * frames alone (docs/actors.md, "How it runs"): a message and its answer
 * cost the guest one VM exit, the wait that returns it also carrying the
 * answer to the one before (issue 14 asks for at most 2). Counted by the
 * worker, not timed.
 */
START_TEST(test_actor_exits_per_message)
{
	enum { N = 200 };
	char hex[BLOB_HEX_LEN + 1];
	static uint8_t frame[sizeof(kvm_msg_actor_t) + 16];
	tvm_t t;
	kvm_msg_t m;

	snprintf(blob_path, sizeof(blob_path), "%s/wasm-programs/wl-actor.wasm", tbuild());
	int fd = open(blob_path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	static uint8_t mod[1 << 20];
	ssize_t n = read(fd, mod, sizeof(mod));
	close(fd);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(blob_hash_data(mod, (size_t)n, hex), 0);
	snprintf(blob_ref, sizeof(blob_ref), "sha256:%s", hex);
	start_wl(&t, "mvm-guest", "actor", true, 16);
	tvm_wait_console(&t, "actor ready\n", 60000);
	/* the first message: the actor is in its wait from now on */
	uint64_t before = 0;
	for (int i = 0; i <= N; i++) {
		if (i == 1)
			before = worker_exits(&t);
		kvm_msg_actor_t h = { .id = 1000 + (uint64_t)i, .kind = KVM_ACTOR_REQUEST };
		memcpy(frame, &h, sizeof(h));
		memcpy(frame + sizeof(h), "incr", 4);
		ck_assert_int_eq(kvm_ctl_queue(t.w.ctl, KVM_MSG_ACTOR_DELIVER, frame, sizeof(h) + 4), 0);
		for (;;) {
			ck_assert_int_eq(kvm_ctl_recv(t.w.ctl, 30000, &m), 1);
			if (m.type != KVM_MSG_ACTOR_ANSWER)
				continue;
			kvm_msg_actor_t got;
			const char *iface;
			const uint8_t *data;
			size_t len;
			char want[16];
			ck_assert_int_eq(kvm_msg_get_actor(&m, &got, &iface, &data, &len), 0);
			ck_assert_uint_eq(got.id, h.id);
			snprintf(want, sizeof(want), "%d", i + 1);
			ck_assert_uint_eq(len, strlen(want));
			ck_assert_mem_eq(data, want, len);
			break;
		}
	}
	uint64_t exits = worker_exits(&t) - before;
	printf("actor: %llu exits for %d messages\n", (unsigned long long)exits, N);
	ck_assert_msg(exits <= 2 * N, "%llu exits for %d messages", (unsigned long long)exits, N);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 5000), 0);
	int st = tvm_finish(&t, 30000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, t.res.message);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	tvm_cleanup(&t);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "workload",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_boot_info_v2),
			MVMT_TEST(test_blob_load),
			MVMT_TEST(test_blob_load_bad_pointers),
			MVMT_TEST(test_blob_verified),
			MVMT_TEST(test_blob_larger_than_memory),
			MVMT_TEST(test_module_larger_than_heap),
			MVMT_TEST(test_mvm_guest_runs_module),
			MVMT_TEST(test_actor_exits_per_message),
			MVMT_TEST(test_sandboxed_worker_holds_no_blob)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-workload", .tcases = tcases, .skip = mvmt_kvm_skip_reason)
