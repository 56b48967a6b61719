/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's hybrid vsock on real KVM, without mvmd: the guest-side
 * calls with hostile arguments (answers and faults), many connections at
 * once with their bytes intact, and both kinds of a side that never reads.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "exec-client.h"
#include "kvm-helpers.h"
#include "proto/guest-abi.h"
#include "util/sha256.h"
#include "vsock.h"
#include "mvmtest.h"
#include "mvmt-main.h"

typedef struct vtvm {
	tvm_t t;
	char vsock[320];
} vtvm_t;

/* Workers outlive their parent by design: a failed assertion ends the
 * test process (atexit runs), so kill what the test left running. */
static pid_t running_pid;

static void kill_running(void)
{
	if (running_pid > 0)
		kill(running_pid, SIGKILL);
}

static void vt_start_guest(vtvm_t *v, const char *guest, const char *mode)
{
	static bool armed;
	if (!armed) {
		atexit(kill_running);
		armed = true;
	}
	kvm_worker_config_t c;
	const char *args[] = { mode };
	memset(v, 0, sizeof(*v));
	tvm_config(&v->t, guest, &c);
	snprintf(v->vsock, sizeof(v->vsock), "%s/vsock.sock", v->t.dir);
	c.vsock_path = v->vsock;
	c.args = args;
	c.nargs = mode ? 1 : 0;
	int r = kvm_worker_spawn(&c, &v->t.w);
	ck_assert_msg(r == 0, "spawn: %s", strerror(-r));
	running_pid = v->t.w.pid;
}

static void vt_start(vtvm_t *v, const char *mode)
{
	vt_start_guest(v, "vsock", mode);
}

static void vt_stop(vtvm_t *v)
{
	ck_assert_int_eq(kvm_ctl_send_stop(v->t.w.ctl, 0), 0);
	tvm_finish(&v->t, 10000);
	running_pid = 0;
	unlink(v->vsock);
	tvm_cleanup(&v->t);
}

START_TEST(test_abi_answers)
{
	vtvm_t v;
	vt_start(&v, "abi");
	tvm_finish(&v.t, 10000);
	running_pid = 0;
	ck_assert_msg(v.t.res.outcome == KVM_OUTCOME_EXIT && v.t.res.exit_code == 0, "%s: %s",
		      kvm_outcome_to_string(v.t.res.outcome), v.t.console ? v.t.console : "");
	ck_assert_ptr_nonnull(strstr(v.t.console, "abi ok"));
	unlink(v.vsock);
	tvm_cleanup(&v.t);
}
END_TEST

static const struct {
	const char *mode;
	uint32_t fault;
	uint64_t addr;
} bad_calls[] = {
	{ "badread", KVM_FAULT_BAD_POINTER, MVM_GUEST_BOOT_INFO },
	{ "badwrite", KVM_FAULT_BAD_POINTER, 0x7fff00000000ull },
	{ "biglen", KVM_FAULT_BAD_ARG, MVM_HC_VSOCK_IO_MAX + 1 },
	{ "reserved", KVM_FAULT_BAD_PORT, 21 },
	{ "bigaccept", KVM_FAULT_BAD_ARG, MVM_HC_VSOCK_IO_MAX + 1 },
	{ "badclose", KVM_FAULT_BAD_POINTER, MVM_GUEST_PML4 },
};

START_TEST(test_bad_calls_fault)
{
	vtvm_t v;
	vt_start(&v, bad_calls[_i].mode);
	tvm_finish(&v.t, 10000);
	running_pid = 0;
	ck_assert_msg(!v.t.console || !strstr(v.t.console, "accepted"), "%s", v.t.console);
	ck_assert_int_eq(v.t.res.outcome, KVM_OUTCOME_FAULT);
	ck_assert_int_eq(v.t.res.fault, bad_calls[_i].fault);
	ck_assert_uint_eq(v.t.res.fault_addr, bad_calls[_i].addr);
	unlink(v.vsock);
	tvm_cleanup(&v.t);
}
END_TEST

#define NC 12
#define PER_CONN (768u << 10)

static uint8_t pattern(unsigned conn, size_t i)
{
	return (uint8_t)(i * 131 + conn * 7 + (i >> 9));
}

static bool closed_by_peer(int fd, int timeout_ms)
{
	int64_t end = tnow_ms() + timeout_ms;
	uint8_t b[256];
	while (tnow_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(end - tnow_ms())) <= 0)
			return false;
		ssize_t n = read(fd, b, sizeof(b));
		if (n == 0)
			return true;
		if (n < 0 && errno != EAGAIN)
			return false;
	}
	return false;
}

/* 12 connections (more than the agent's 8 and with a backlog), 768 KiB
 * each way each, all at once: every byte comes back, in order. */
START_TEST(test_echo_many_connections)
{
	vtvm_t v;
	int fds[NC];
	size_t sent[NC] = { 0 }, got[NC] = { 0 };
	static uint8_t buf[65536];

	vt_start(&v, "echo");
	tvm_wait_console(&v.t, "listening", 5000);
	for (int i = 0; i < NC; i++) {
		int r = exec_client_connect_hvsock(v.vsock, 7, 5000, &fds[i]);
		ck_assert_msg(r == 0, "connect %d: %s", i, strerror(-r));
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	int64_t end = tnow_ms() + 30000;
	for (;;) {
		struct pollfd p[NC];
		int open = 0;
		for (int i = 0; i < NC; i++) {
			p[i] = (struct pollfd){ .fd = got[i] < PER_CONN ? fds[i] : -1,
						.events = POLLIN | (sent[i] < PER_CONN ? POLLOUT : 0) };
			open += got[i] < PER_CONN;
		}
		if (!open)
			break;
		ck_assert_msg(tnow_ms() < end, "echo stalled");
		ck_assert_int_ge(poll(p, NC, 1000), 0);
		for (int i = 0; i < NC; i++) {
			if ((p[i].revents & POLLOUT) && sent[i] < PER_CONN) {
				size_t k = MIN(sizeof(buf), PER_CONN - sent[i]);
				for (size_t j = 0; j < k; j++)
					buf[j] = pattern((unsigned)i, sent[i] + j);
				ssize_t n = write(fds[i], buf, k);
				if (n > 0)
					sent[i] += (size_t)n;
			}
			if (p[i].revents & (POLLIN | POLLHUP)) {
				static uint8_t want[65536];
				ssize_t n = read(fds[i], buf, sizeof(buf));
				ck_assert_msg(n > 0, "conn %d closed after %zu bytes", i, got[i]);
				for (ssize_t j = 0; j < n; j++)
					want[j] = pattern((unsigned)i, got[i] + (size_t)j);
				ck_assert_msg(memcmp(buf, want, (size_t)n) == 0, "conn %d: wrong bytes after %zu", i, got[i]);
				got[i] += (size_t)n;
			}
		}
	}
	/* the host closing makes the guest see EOF and close its side */
	for (int i = 0; i < NC; i++) {
		shutdown(fds[i], SHUT_WR);
		ck_assert(closed_by_peer(fds[i], 5000));
		close(fds[i]);
	}
	vt_stop(&v);
}
END_TEST

/* Write without reading until nothing more goes for 300 ms: the total. */
static size_t stuff(int fd)
{
	static uint8_t junk[65536];
	size_t total = 0;
	int64_t quiet = tnow_ms() + 200;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (tnow_ms() < quiet && total < (64u << 20)) {
		ssize_t n = write(fd, junk, sizeof(junk));
		if (n > 0) {
			total += (size_t)n;
			quiet = tnow_ms() + 200;
		} else {
			usleep(10000);
		}
	}
	return total;
}

/* A guest that accepts and never reads, and one that never accepts: the
 * host's writes stop (ring + socket buffers), nothing grows. */
START_TEST(test_guest_never_reads)
{
	const char *modes[] = { "sink", "noaccept" };
	for (int m = 0; m < 2; m++) {
		vtvm_t v;
		int fds[KVM_VSOCK_BACKLOG + 1];
		vt_start(&v, modes[m]);
		tvm_wait_console(&v.t, "listening", 5000);
		for (unsigned i = 0; i < KVM_VSOCK_BACKLOG; i++) {
			int r = exec_client_connect_hvsock(v.vsock, 7, 5000, &fds[i]);
			ck_assert_msg(r == 0, "%s: connect %u: %s", modes[m], i, strerror(-r));
			size_t n = stuff(fds[i]);
			ck_assert_msg(n >= KVM_VSOCK_BUF && n < (4u << 20), "%s: %zu bytes went in", modes[m], n);
		}
		if (m == 1) {
			/* the backlog is full: one more is refused (closed) */
			int r = exec_client_connect_hvsock(v.vsock, 7, 5000, &fds[KVM_VSOCK_BACKLOG]);
			ck_assert_int_ne(r, 0);
		}
		for (unsigned i = 0; i < KVM_VSOCK_BACKLOG; i++)
			close(fds[i]);
		vt_stop(&v);
		ck_assert_int_eq(v.t.res.outcome, KVM_OUTCOME_STOPPED);
	}
}
END_TEST

static exec_request_t *request(const char *const *argv, int argc, int mode)
{
	static exec_request_t req;
	memset(&req, 0, sizeof(req));
	req.version = EXEC_PROTOCOL_VERSION;
	req.stdin_mode = (uint8_t)mode;
	req.argc = (uint32_t)argc;
	for (int i = 0; i < argc; i++)
		req.argv[i] = (exec_str_t){ argv[i], (uint32_t)strlen(argv[i]) };
	return &req;
}

/* mvm-guest's agent, straight over the worker's socket: streamed stdin
 * (1 MiB, echoed back through the flow control both ways), then protocol
 * errors and a future protocol version answered with error frames. */
START_TEST(test_agent_stream_and_errors)
{
	vtvm_t v;
	vt_start_guest(&v, "mvm-guest", NULL);
	tvm_wait_console(&v.t, "mvm-guest: ready", 5000);

	size_t n = 1u << 20;
	uint8_t *in = malloc(n);
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 7 + (i >> 12));
	const char *echo[] = { "mvm.echo", "s" };
	exec_client_opts_t o = { .output_cap = 4u << 20, .timeout_ms = 30000, .stream_stdin = in, .stream_stdin_len = n };
	exec_result_t res = { 0 };
	int fd;
	ck_assert_int_eq(exec_client_connect_hvsock(v.vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	ck_assert_int_eq(exec_client_run(fd, request(echo, 2, EXEC_STDIN_STREAM), &o, &res), 0);
	close(fd);
	ck_assert(res.exited);
	ck_assert_int_eq(res.value, 0);
	ck_assert_uint_eq(res.out_len, n + 2);
	ck_assert_int_eq(memcmp(res.out, "s\n", 2), 0);
	ck_assert_int_eq(memcmp(res.out + 2, in, n), 0);
	exec_result_clear(&res);
	free(in);

	/* garbage instead of a request: error{protocol}, then closed */
	uint8_t buf[256];
	ck_assert_int_eq(exec_client_connect_hvsock(v.vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	ck_assert_int_eq(write(fd, "GARBAGE!GARBAGE!", 16), 16);
	size_t got = 0;
	ssize_t k;
	while ((k = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)k;
	close(fd);
	ck_assert_uint_ge(got, EXEC_FRAME_HEADER_SIZE + 6);
	ck_assert_int_eq(buf[2], EXEC_FRAME_ERROR);
	ck_assert_int_eq(buf[8], EXEC_ERROR_PROTOCOL);

	/* version 2: error{version} */
	uint8_t frame[64] = { 'M', 'X', EXEC_FRAME_REQUEST, 0, 16, 0, 0, 0, 2, 0 };
	ck_assert_int_eq(exec_client_connect_hvsock(v.vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	ck_assert_int_eq(write(fd, frame, 8 + 16), 8 + 16);
	got = 0;
	while ((k = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)k;
	close(fd);
	ck_assert_uint_ge(got, EXEC_FRAME_HEADER_SIZE + 6);
	ck_assert_int_eq(buf[2], EXEC_FRAME_ERROR);
	ck_assert_int_eq(buf[8], EXEC_ERROR_VERSION);

	/* a stdin frame where none belongs (mode none): error{protocol} */
	const char *sl[] = { "mvm.sleep", "10000" };
	uint8_t req[512];
	int rl = exec_encode_request(req, sizeof(req), request(sl, 2, EXEC_STDIN_NONE));
	ck_assert_int_gt(rl, 0);
	int dl = exec_encode_data(req + rl, sizeof(req) - (size_t)rl, EXEC_FRAME_STDIN_DATA, "x", 1);
	ck_assert_int_gt(dl, 0);
	ck_assert_int_eq(exec_client_connect_hvsock(v.vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	ck_assert_int_eq(write(fd, req, (size_t)(rl + dl)), rl + dl);
	got = 0;
	while ((k = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)k;
	close(fd);
	ck_assert_int_eq(buf[2], EXEC_FRAME_ERROR);
	ck_assert_int_eq(buf[8], EXEC_ERROR_PROTOCOL);

	/* and it still serves */
	const char *e2[] = { "mvm.echo", "ok" };
	memset(&res, 0, sizeof(res));
	exec_client_opts_t o2 = { .timeout_ms = 10000 };
	ck_assert_int_eq(exec_client_connect_hvsock(v.vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	ck_assert_int_eq(exec_client_run(fd, request(e2, 2, EXEC_STDIN_NONE), &o2, &res), 0);
	close(fd);
	ck_assert_str_eq((char *)res.out, "ok\n");
	exec_result_clear(&res);
	vt_stop(&v);
}
END_TEST

/* The worker's VM exits so far (STATUS), console drained on the way. */
static uint64_t vt_exits(vtvm_t *v)
{
	ck_assert_int_eq(kvm_ctl_send_status_req(v->t.w.ctl), 0);
	for (;;) {
		kvm_msg_t m;
		kvm_msg_status_t s;
		ck_assert_int_eq(kvm_ctl_recv(v->t.w.ctl, 5000, &m), 1);
		if (m.type == KVM_MSG_STATUS && kvm_msg_get_status(&m, &s) == 0)
			return s.exits;
	}
}

static int vt_exec(vtvm_t *v, const char *const *argv, int argc, int mode, exec_client_opts_t *o, exec_result_t *res)
{
	int fd, r;
	memset(res, 0, sizeof(*res));
	ck_assert_int_eq(exec_client_connect_hvsock(v->vsock, EXEC_AGENT_PORT, 5000, &fd), 0);
	r = exec_client_run(fd, request(argv, argc, mode), o, res);
	close(fd);
	return r;
}

static void prog_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/wasm-programs/%s", tbuild(), name);
}

static void file_ref(const char *path, char ref[KVM_BLOB_REF_LEN + 1])
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_gt(n, 0);
	memcpy(ref, "sha256:", 7);
	sha256_hex(buf, (size_t)n, ref + 7);
}

/* Send a BLOB_GRANT for ref with nfds copies of the fd of path (raw: the
 * worker must refuse what kvm_ctl_send_fd would never produce). */
static void raw_grant(int sock, const char *ref, const char *path, int nfds)
{
	uint8_t frame[8 + KVM_BLOB_REF_LEN];
	kvm_msg_hdr_t h = { KVM_MSG_BLOB_GRANT, KVM_BLOB_REF_LEN };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), fds[2] = { fd, fd };
	memcpy(frame, &h, sizeof(h));
	memcpy(frame + sizeof(h), ref, KVM_BLOB_REF_LEN);
	struct iovec iov = { frame, sizeof(frame) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	memset(&cbuf, 0, sizeof(cbuf));
	if (nfds) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(frame));
	close(fd);
}

/* The worker dropped our control connection (and nothing else). */
static void vt_expect_dropped_then_reconnect(vtvm_t *v)
{
	kvm_msg_t m;
	int r;
	while ((r = kvm_ctl_recv(v->t.w.ctl, 5000, &m)) == 1)
		;
	ck_assert_int_eq(r, -ECONNRESET);
	kvm_ctl_free(v->t.w.ctl);
	ck_assert_int_eq(kvm_worker_connect(v->t.ctl, &v->t.w.ctl), 0);
}

/* mvm-guest's agent: a built-in costs 2 exits (accept-in-wait); modules
 * granted over the control socket (BLOB_GRANT) run by hash, streamed stdin
 * included; the worker refuses a grant without its fd, with two fds, or
 * whose bytes do not match the hash. */
START_TEST(test_agent_wasm_grants_and_exits)
{
	vtvm_t v;
	exec_result_t res;
	exec_client_opts_t o = { .timeout_ms = 20000 };
	char hi[512], cat[512], hi_ref[KVM_BLOB_REF_LEN + 1], cat_ref[KVM_BLOB_REF_LEN + 1];
	vt_start_guest(&v, "mvm-guest", NULL);
	tvm_wait_console(&v.t, "mvm-guest: ready", 5000);

	const char *echo[] = { "mvm.echo", "x" };
	ck_assert_int_eq(vt_exec(&v, echo, 2, EXEC_STDIN_NONE, &o, &res), 0); /* warm */
	exec_result_clear(&res);
	uint64_t e0 = vt_exits(&v);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(vt_exec(&v, echo, 2, EXEC_STDIN_NONE, &o, &res), 0);
		ck_assert_str_eq((char *)res.out, "x\n");
		exec_result_clear(&res);
	}
	uint64_t e1 = vt_exits(&v);
	ck_assert_msg(e1 - e0 <= 2 * 20 + 2, "%llu exits for 20 execs", (unsigned long long)(e1 - e0));

	prog_path(hi, sizeof(hi), "wl-hi.wasm");
	prog_path(cat, sizeof(cat), "wl-cat.wasm");
	file_ref(hi, hi_ref);
	file_ref(cat, cat_ref);
	const char *run_hi[] = { hi_ref }, *run_cat[] = { cat_ref };

	/* not granted yet: not-found */
	ck_assert_int_eq(vt_exec(&v, run_hi, 1, EXEC_STDIN_NONE, &o, &res), 0);
	ck_assert(!res.exited);
	ck_assert_int_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);

	/* wrong bytes for the name: refused, still not there */
	raw_grant(kvm_ctl_fd(v.t.w.ctl), hi_ref, cat, 1);
	ck_assert_int_eq(vt_exec(&v, run_hi, 1, EXEC_STDIN_NONE, &o, &res), 0);
	ck_assert_int_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);
	/* no fd, two fds: protocol errors, the connection is dropped */
	raw_grant(kvm_ctl_fd(v.t.w.ctl), hi_ref, hi, 0);
	vt_expect_dropped_then_reconnect(&v);
	raw_grant(kvm_ctl_fd(v.t.w.ctl), hi_ref, hi, 2);
	vt_expect_dropped_then_reconnect(&v);
	ck_assert_int_eq(vt_exec(&v, run_hi, 1, EXEC_STDIN_NONE, &o, &res), 0);
	ck_assert_int_eq(res.error_code, EXEC_ERROR_NOT_FOUND);
	exec_result_clear(&res);

	/* granted properly: runs */
	int fd = open(hi, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(kvm_ctl_send_fd(v.t.w.ctl, KVM_MSG_BLOB_GRANT, hi_ref, KVM_BLOB_REF_LEN, fd), 0);
	close(fd);
	ck_assert_int_eq(vt_exec(&v, run_hi, 1, EXEC_STDIN_NONE, &o, &res), 0);
	ck_assert(res.exited);
	ck_assert_int_eq(res.value, 0);
	ck_assert_str_eq((char *)res.out, "hi\n");
	exec_result_clear(&res);

	/* streamed stdin into a module */
	fd = open(cat, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(kvm_ctl_send_fd(v.t.w.ctl, KVM_MSG_BLOB_GRANT, cat_ref, KVM_BLOB_REF_LEN, fd), 0);
	close(fd);
	const char *in = "one\ntwo\n";
	exec_client_opts_t so = { .timeout_ms = 20000, .stream_stdin = (const uint8_t *)in, .stream_stdin_len = 8 };
	ck_assert_int_eq(vt_exec(&v, run_cat, 1, EXEC_STDIN_STREAM, &so, &res), 0);
	ck_assert(res.exited);
	ck_assert_int_eq(res.value, 0);
	ck_assert_str_eq((char *)res.out, "got: one\ngot: two\nend of input\n");
	exec_result_clear(&res);
	vt_stop(&v);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "vsock",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_abi_answers),
			MVMT_LOOP(test_bad_calls_fault, sizeof(bad_calls) / sizeof(bad_calls[0])),
			MVMT_TEST(test_echo_many_connections),
			MVMT_TEST(test_guest_never_reads),
			MVMT_TEST(test_agent_stream_and_errors),
			MVMT_TEST(test_agent_wasm_grants_and_exits)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-vsock", .tcases = tcases, .skip = mvmt_kvm_skip_reason, .init = mvmt_ignore_sigpipe)
