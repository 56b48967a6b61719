/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile Wasm modules through the real mvmd in micro-VMs: memory bombs
 * (memory.grow to the limit, a huge declared initial memory), 100,000
 * functions, recursion without end (small and huge frames), an output
 * flood that never stops, and exit codes at the edges of WASI's u32. Each
 * must end with a clear state and cause, leave no worker behind, and
 * leave mvmd answering with bounded memory.
 *
 * The modules are built here, byte by byte (tests/lib/wasm-build.h), not
 * committed. The "modules" case runs them under mvm-wasm first, so their
 * bytes are known good on any machine, /dev/kvm or not.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvmt-events.h"
#include "mvmtest.h"
#include "wasm-build.h"
#include "wasm/wasi.h"
#include "mvmt-main.h"

/* Function indices: the two imports, then _start, then the extra ones. */
enum { FN_EXIT = 0, FN_WRITE = 1, FN_START = 2, FN_EXTRA = 3 };

struct body {
	const uint8_t *b; /* locals vector, code, final 0x0b */
	size_t n;
};

struct hmod {
	const char *name;
	bool mem;
	uint32_t mem_min;
	int64_t mem_max; /* < 0: none */
	struct body start;
	uint32_t nextra; /* functions FN_EXTRA.. of type [] -> [], all with body extra */
	struct body extra;
	bool start_section; /* FN_EXTRA is the module's start function */
	const uint8_t *data; /* one active segment at offset 0 */
	size_t ndata;
};

static void wb_name(struct wb *w, const char *s)
{
	wb_u32(w, (uint32_t)strlen(s));
	wb_bytes(w, s, strlen(s));
}

static void wb_body(struct wb *w, struct body b)
{
	wb_u32(w, (uint32_t)b.n);
	wb_bytes(w, b.b, b.n);
}

/* The module: WASI's proc_exit and fd_write imported, _start exported. */
static void hmod_build(struct wb *w, const struct hmod *m)
{
	static const uint8_t types[] = {
		3, 0x60, 0, 0,                                    /* 0: [] -> [] */
		0x60, 1, 0x7f, 0,                                 /* 1: [i32] -> [] */
		0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f,         /* 2: [i32 x4] -> [i32] */
	};
	size_t s;

	wb_header(w);
	s = wb_section(w, 1);
	wb_bytes(w, types, sizeof(types));
	wb_end(w, s);
	s = wb_section(w, 2);
	wb_u32(w, 2);
	wb_name(w, WASI_MODULE_NAME);
	wb_name(w, "proc_exit");
	wb_u8(w, 0);
	wb_u32(w, 1);
	wb_name(w, WASI_MODULE_NAME);
	wb_name(w, "fd_write");
	wb_u8(w, 0);
	wb_u32(w, 2);
	wb_end(w, s);
	s = wb_section(w, 3);
	wb_u32(w, 1 + m->nextra);
	for (uint32_t i = 0; i < 1 + m->nextra; i++)
		wb_u8(w, 0);
	wb_end(w, s);
	if (m->mem) {
		s = wb_section(w, 5);
		wb_u32(w, 1);
		wb_u8(w, m->mem_max >= 0 ? 1 : 0);
		wb_u32(w, m->mem_min);
		if (m->mem_max >= 0)
			wb_u32(w, (uint32_t)m->mem_max);
		wb_end(w, s);
	}
	s = wb_section(w, 7);
	wb_u32(w, m->mem ? 2 : 1);
	wb_name(w, "_start");
	wb_u8(w, 0);
	wb_u32(w, FN_START);
	if (m->mem) {
		wb_name(w, "memory");
		wb_u8(w, 2);
		wb_u32(w, 0);
	}
	wb_end(w, s);
	if (m->start_section) {
		s = wb_section(w, 8);
		wb_u32(w, FN_EXTRA);
		wb_end(w, s);
	}
	s = wb_section(w, 10);
	wb_u32(w, 1 + m->nextra);
	wb_body(w, m->start);
	for (uint32_t i = 0; i < m->nextra; i++)
		wb_body(w, m->extra);
	wb_end(w, s);
	if (m->ndata) {
		static const uint8_t at0[] = { 0x00, 0x41, 0x00, 0x0b }; /* active, memory 0, offset i32.const 0 */
		s = wb_section(w, 11);
		wb_u32(w, 1);
		wb_bytes(w, at0, sizeof(at0));
		wb_u32(w, (uint32_t)m->ndata);
		wb_bytes(w, m->data, m->ndata);
		wb_end(w, s);
	}
}

/* Write the module to dir/<name>.wasm; the path (static buffer). */
static const char *hmod_write(const char *dir, const struct hmod *m)
{
	static char path[512];
	struct wb w = { 0 };
	hmod_build(&w, m);
	snprintf(path, sizeof(path), "%s/%s.wasm", dir, m->name);
	FILE *f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(w.b, 1, w.n, f), w.n);
	ck_assert_int_eq(fclose(f), 0);
	wb_free(&w);
	return path;
}

static const uint8_t b_empty[] = { 0x00, 0x0b };

/* proc_exit(code): the code as a signed LEB128 i32 constant. */
static struct hmod exit_mod(const char *name, uint32_t code, uint8_t *buf)
{
	struct wb c = { 0 };
	wb_u8(&c, 0x00);
	wb_u8(&c, 0x41);
	wb_s64(&c, (int32_t)code);
	wb_u8(&c, 0x10);
	wb_u8(&c, FN_EXIT);
	wb_u8(&c, 0x0b);
	memcpy(buf, c.b, c.n);
	struct hmod m = { .name = name, .start = { buf, c.n } };
	wb_free(&c);
	return m;
}

/*
 * memory.grow(65535) must fail; then one page at a time until -1; the
 * exit code is the number of pages grown that way.
 */
static const uint8_t b_grow[] = {
	0x01, 0x01, 0x7f,                         /* one i32 local: pages */
	0x41, 0xff, 0xff, 0x03, 0x40, 0x00,       /* memory.grow(65535) */
	0x41, 0x7f, 0x47, 0x04, 0x40, 0x00, 0x0b, /* != -1: unreachable */
	0x02, 0x40, 0x03, 0x40,                   /* block loop */
	0x41, 0x01, 0x40, 0x00, 0x41, 0x7f, 0x46, 0x0d, 0x01, /* grow(1) == -1: out */
	0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, 0x0c, 0x00, /* pages++ ; again */
	0x0b, 0x0b,
	0x20, 0x00, 0x10, FN_EXIT, 0x0b,          /* proc_exit(pages) */
};

/* _start calls FN_EXTRA, which calls itself for ever. */
static const uint8_t b_call_extra[] = { 0x00, 0x10, FN_EXTRA, 0x0b };
/* The same with 5,000 i32 locals a frame: the value stack runs out first. */
static const uint8_t b_recurse_big[] = { 0x01, 0x88, 0x27, 0x7f, 0x10, FN_EXTRA, 0x0b };

/* fd_write(1, iovec at 0, 1, &n at 8) for ever; the iovec names 65520 bytes at 16. */
static const uint8_t b_flood[] = {
	0x00, 0x03, 0x40,
	0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x08, 0x10, FN_WRITE, 0x1a, 0x0c, 0x00,
	0x0b, 0x0b,
};
static const uint8_t flood_iov[] = { 0x10, 0, 0, 0, 0xf0, 0xff, 0, 0 };

#define NFUNCS 100000

static struct hmod many_funcs_mod(uint8_t *buf)
{
	/* _start calls the last of them */
	struct wb c = { 0 };
	wb_u8(&c, 0x00);
	wb_u8(&c, 0x10);
	wb_u32(&c, FN_EXTRA + NFUNCS - 1);
	wb_u8(&c, 0x0b);
	memcpy(buf, c.b, c.n);
	struct hmod m = { .name = "funcs100k", .start = { buf, c.n }, .nextra = NFUNCS,
			  .extra = { b_empty, sizeof(b_empty) } };
	wb_free(&c);
	return m;
}

static const struct hmod m_recurse = {
	.name = "recurse", .start = { b_call_extra, sizeof(b_call_extra) }, .nextra = 1,
	.extra = { b_call_extra, sizeof(b_call_extra) },
};
static const struct hmod m_recurse_big = {
	.name = "recurse-big", .start = { b_call_extra, sizeof(b_call_extra) }, .nextra = 1,
	.extra = { b_recurse_big, sizeof(b_recurse_big) },
};
static const struct hmod m_flood = {
	.name = "flood", .mem = true, .mem_min = 1, .mem_max = -1, .start = { b_flood, sizeof(b_flood) },
	.data = flood_iov, .ndata = sizeof(flood_iov),
};
static const struct hmod m_grow = {
	.name = "grow", .mem = true, .mem_min = 1, .mem_max = -1, .start = { b_grow, sizeof(b_grow) },
};
static const struct hmod m_huge_mem = {
	.name = "huge-mem", .mem = true, .mem_min = 65536, .mem_max = -1, .start = { b_empty, sizeof(b_empty) },
};

/* The exit codes at the edges of WASI's u32. */
static const uint32_t edge_codes[] = { 0, 1, 255, 256, 65536, 2147483647u, 2147483648u, 4294967295u };

/* ---- under mvm-wasm: the modules are what they claim ---------------------- */

static char tmpdir[] = "/tmp/mvm-hostile-XXXXXX";

static void tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/mvm-hostile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* mvm-wasm run [opts] FILE, stdout to /dev/null; exit status, stderr in err. */
static int run_host(const char *opts, const char *path, char *err, size_t cap)
{
	char cmd[1200], errpath[600];
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
	snprintf(cmd, sizeof(cmd), "'%s' run %s '%s' >/dev/null 2>'%s' </dev/null", mvmt_bin("mvm-wasm"), opts, path,
		 errpath);
	int st = system(cmd);
	ck_assert(WIFEXITED(st));
	FILE *f = fopen(errpath, "re");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(err, 1, cap - 1, f);
	err[n] = 0;
	fclose(f);
	return WEXITSTATUS(st);
}

START_TEST(test_modules_under_mvm_wasm)
{
	uint8_t buf[32], big[32];
	char err[4096];

	for (size_t i = 0; i < sizeof(edge_codes) / sizeof(edge_codes[0]); i++) {
		struct hmod m = exit_mod("exit", edge_codes[i], buf);
		ck_assert_int_eq(run_host("", hmod_write(tmpdir, &m), err, sizeof(err)), wasi_exit_status(edge_codes[i]));
	}
	/* proc_exit from the start function, before _start */
	struct hmod m = exit_mod("start-exit", 4294967295u, buf);
	m.nextra = 1;
	m.extra = m.start;
	m.start = (struct body){ b_empty, sizeof(b_empty) };
	m.start_section = true;
	ck_assert_int_eq(run_host("", hmod_write(tmpdir, &m), err, sizeof(err)), 255);
	ck_assert_msg(strstr(err, "exit code 4294967295"), "%s", err);
	ck_assert_int_eq(run_host("", hmod_write(tmpdir, &m_recurse), err, sizeof(err)), 134);
	ck_assert_msg(strstr(err, "call stack exhausted"), "%s", err);
	ck_assert_int_eq(run_host("", hmod_write(tmpdir, &m_recurse_big), err, sizeof(err)), 134);
	ck_assert_msg(strstr(err, "call stack exhausted"), "%s", err);
	struct hmod f = many_funcs_mod(big);
	ck_assert_int_eq(run_host("", hmod_write(tmpdir, &f), err, sizeof(err)), 0);
	/* the flood, stopped by fuel here */
	ck_assert_int_eq(run_host("--fuel 2000", hmod_write(tmpdir, &m_flood), err, sizeof(err)), 134);
	ck_assert_msg(strstr(err, "out of fuel"), "%s", err);
	/* the grow loop, with a declared maximum (the host has gigabytes) */
	struct hmod g = m_grow;
	g.mem_max = 200;
	ck_assert_int_eq(run_host("", hmod_write(tmpdir, &g), err, sizeof(err)), 199);
	/* validation of the bombs: they are valid modules */
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "'%s' validate '%s' >/dev/null 2>&1", mvmt_bin("mvm-wasm"),
		 hmod_write(tmpdir, &m_huge_mem));
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "'%s' validate '%s' >/dev/null 2>&1", mvmt_bin("mvm-wasm"),
		 hmod_write(tmpdir, &m_grow));
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- through mvmd, in micro-VMs -------------------------------------------- */

static mvmt_daemon_t d;
static int fd;
static long rss_start_kib;

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void vm_setup(void)
{
	tmp_setup();
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	json_object_put(mvmt_result(fd, "compute.node.info", NULL));
	rss_start_kib = rss_kib(d.pid);
}

/* mvmd is healthy: it answers, and its memory did not run away. */
static void assert_healthy(void)
{
	json_object *r = mvmt_result(fd, "compute.node.info", NULL);
	json_object_put(r);
	long grown = rss_kib(d.pid) - rss_start_kib;
	/* sanitizer builds keep freed memory in quarantine */
	long bound = getenv("SANITIZE") && !strcmp(getenv("SANITIZE"), "1") ? 384 << 10 : 64 << 10;
	ck_assert_msg(grown < bound, "mvmd's RSS grew by %ld KiB (from %ld KiB)", grown, rss_start_kib);
}

/* Live (not zombie) mvm-vmm children of mvmd: idle pool workers and the
 * workers of running VMs. */
static size_t live_workers(pid_t parent)
{
	char path[64], buf[8192], stat[512];
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t k = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[k] = 0;
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n")) {
		snprintf(path, sizeof(path), "/proc/%s/stat", t);
		FILE *c = fopen(path, "re");
		if (!c)
			continue;
		size_t m = fread(stat, 1, sizeof(stat) - 1, c);
		fclose(c);
		stat[m] = 0;
		const char *end = strrchr(stat, ')');
		if (strstr(stat, "(mvm-vmm)") && end && end[1] == ' ' && end[2] != 'Z')
			n++;
	}
	return n;
}

static void vm_teardown(void)
{
	assert_healthy();
	/* every VM here has ended: what is left is the warm pool, no more */
	json_object *r = mvmt_result(fd, "compute.node.info", NULL);
	size_t pool = (size_t)mvmt_int(r, "backends.kvm.pool.size"), live = 0;
	json_object_put(r);
	for (int i = 0; i < 1000 && (live = live_workers(d.pid)) > pool; i++)
		usleep(10000);
	ck_assert_msg(live <= pool, "%zu workers alive, the pool holds %zu", live, pool);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_stop_running_vms(&d);
	mvmt_daemon_cleanup(&d);
	tmp_teardown();
}

/*
 * Store the module, create a VM for it and start it; the worker's pid.
 * Every VM has a timeout, so nothing here can run for ever.
 */
static pid_t start_mod(const struct hmod *m, const char *vm, int memory_mib, int timeout_ms)
{
	char p[1024];
	snprintf(p, sizeof(p), "{\"path\":\"%s\"}", hmod_write(tmpdir, m));
	json_object *r = mvmt_result(fd, "compute.blob.put", p);
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":%d,\"workload\":{\"hash\":\"%s\",\"timeout_ms\":%d}}", vm,
		 memory_mib, mvmt_str(r, "hash"), timeout_ms);
	json_object_put(r);
	json_object_put(mvmt_result(fd, "compute.vm.create", p));
	r = mvmt_call_id(fd, "compute.vm.start", vm, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start %s: %s", vm, json_object_to_json_string(r));
	json_object *p_pid = mvmt_get(r, "result.pid"); /* absent if it ended already */
	pid_t pid = p_pid ? (pid_t)json_object_get_int(p_pid) : 0;
	json_object_put(r);
	return pid;
}

/* Wait for the VM's end state (generous: a loaded machine); its status.
 * Its worker must be gone too: none is left behind. */
static json_object *wait_end(const char *vm, pid_t pid)
{
	json_object *s = mvmt_wait_final(fd, vm, MVMT_EVENT_TIMEOUT_MS);

	ck_assert_msg(pid <= 0 || mvmt_wait_process_ended(pid, MVMT_EVENT_TIMEOUT_MS), "%s: worker %d left behind", vm,
		      (int)pid);
	return s;
}

static void assert_cause_has(json_object *s, const char *needle)
{
	const char *c = mvmt_str(s, "cause");
	ck_assert_msg(strstr(c, needle), "cause \"%s\" lacks \"%s\"", c, needle);
}

START_TEST(test_exit_codes_at_the_edges)
{
	uint8_t buf[32];
	char vm[32], want[64];

	for (size_t i = 0; i < sizeof(edge_codes) / sizeof(edge_codes[0]); i++) {
		struct hmod m = exit_mod("exit", edge_codes[i], buf);
		snprintf(vm, sizeof(vm), "exit-%zu", i);
		json_object *s = wait_end(vm, start_mod(&m, vm, 16, 20000));
		ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
		ck_assert_int_eq(mvmt_int(s, "exit_code"), (int64_t)edge_codes[i]);
		snprintf(want, sizeof(want), "guest exited with code %u", edge_codes[i]);
		ck_assert_str_eq(mvmt_str(s, "cause"), want);
		json_object_put(s);
	}
	/* proc_exit from the start function is an exit too, not a trap */
	struct hmod m = exit_mod("start-exit", 4294967295u, buf);
	m.nextra = 1;
	m.extra = m.start;
	m.start = (struct body){ b_empty, sizeof(b_empty) };
	m.start_section = true;
	json_object *s = wait_end("start-exit", start_mod(&m, "start-exit", 16, 20000));
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 4294967295);
	json_object_put(s);
}
END_TEST

START_TEST(test_memory_bombs)
{
	/* memory.grow to the limit: -1 past what the VM has, never a fault */
	json_object *s = wait_end("grow", start_mod(&m_grow, "grow", 16, 20000));
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	int64_t pages = mvmt_int(s, "exit_code");
	ck_assert_msg(pages > 0 && (pages + 1) * 65536 < (16 << 20), "grew %lld pages in a 16 MiB VM", (long long)pages);
	json_object_put(s);
	/* 4 GiB of initial memory declared: refused at instantiation */
	s = wait_end("huge-mem", start_mod(&m_huge_mem, "huge-mem", 16, 20000));
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_cause_has(s, "memory exceeds configured limit");
	ck_assert_ptr_null(mvmt_get(s, "exit_code"));
	json_object_put(s);
}
END_TEST

START_TEST(test_100k_functions)
{
	uint8_t buf[32];
	struct hmod m = many_funcs_mod(buf);
	json_object *s = wait_end("funcs", start_mod(&m, "funcs", 128, 60000));
	ck_assert_msg(!strcmp(mvmt_str(s, "state"), "Stopped") && mvmt_int(s, "exit_code") == 0, "%s",
		      json_object_to_json_string(s));
	json_object_put(s);
}
END_TEST

START_TEST(test_endless_recursion)
{
	/* a clean trap, whether the frames or the value stack run out first */
	json_object *s = wait_end("recurse", start_mod(&m_recurse, "recurse", 16, 20000));
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_cause_has(s, "wasm trap: call stack exhausted");
	json_object_put(s);
	s = wait_end("recurse-big", start_mod(&m_recurse_big, "recurse-big", 16, 20000));
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_cause_has(s, "wasm trap: call stack exhausted");
	json_object_put(s);
}
END_TEST

START_TEST(test_endless_flood)
{
	/* 64 KiB writes for ever: mvmd keeps answering, the log keeps its
	 * cap, the timeout ends it */
	pid_t pid = start_mod(&m_flood, "flood", 16, 3000);
	for (int i = 0; i < 20; i++) {
		json_object_put(mvmt_result(fd, "compute.node.info", NULL));
		usleep(50000);
	}
	json_object *s = wait_end("flood", pid);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	assert_cause_has(s, "timeout");
	json_object_put(s);
	json_object *r = mvmt_call_id(fd, "compute.vm.logs", "flood", "\"tail_bytes\":16");
	int64_t size = mvmt_int(r, "result.size");
	ck_assert_msg(size > 0 && size <= 4 << 20, "console log of %lld bytes", (long long)size);
	json_object_put(r);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "modules",
		.timeout = 120,
		.setup = tmp_setup,
		.teardown = tmp_teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_modules_under_mvm_wasm)),
	},
	{
		.name = "mvmd",
		.timeout = 180,
		.setup = vm_setup,
		.teardown = vm_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_exit_codes_at_the_edges),
			MVMT_TEST(test_memory_bombs),
			MVMT_TEST(test_100k_functions),
			MVMT_TEST(test_endless_recursion),
			MVMT_TEST(test_endless_flood)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-hostile", .tcases = tcases)
