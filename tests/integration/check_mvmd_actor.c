/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Actors through the real mvmd on the real /dev/kvm (docs/actors.md): the
 * C actor tests/workloads/actor.c (wasi-libc, mvm.send/answer/wait) runs
 * in a micro-VM and is driven with compute.vm.send: state kept across
 * 1,000 messages, 64 KiB messages both ways, the no-wait form and its
 * notification, timeouts that leave the actor alive, a full mailbox,
 * pending messages failed when the VM stops, sends to an interface
 * nobody handles, answers twice or to ids it never got, an actor that
 * ends, messages kept out of every argv and environ, and kill -9 of
 * mvmd with the actor running.
 */
#include <dirent.h>

#include "mvmctl-run.h"
#include "util/text.h"
#include "actor-daemon.h"
#include "mvmt-main.h"

#define IFACE "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define IFACE_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IFACE_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

START_TEST(test_state_over_1000_messages)
{
	char want[32];

	wl_actor_up("counter");
	for (int i = 1; i <= 1000; i++) {
		snprintf(want, sizeof(want), "%d", i);
		wl_ask_eq("counter", "incr", want);
	}
	wl_ask_eq("counter", "put colour blue", "ok");
	wl_ask_eq("counter", "put size 42", "ok");
	wl_ask_eq("counter", "get colour", "blue");
	wl_ask_eq("counter", "get size", "42");
	wl_ask_eq("counter", "get nothing", "(none)");
	wl_ask_eq("counter", "stats", "msgs=1006 bytes=4060");
	json_object *s = wl_status("counter");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	/* a stop reaches the actor's wait: it ends by itself */
	json_object_put(wl_call_id("compute.vm.stop", "counter", "\"timeout_ms\":20000"));
	s = wl_wait_end("counter", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	char *l = wl_logs("counter");
	wl_assert_contains(l, "actor stopping after 1006 messages\n");
	free(l);
}
END_TEST

START_TEST(test_big_messages_and_bad_params)
{
	static char raw[65537];
	wl_actor_up("big");
	/* 64 KiB each way */
	memset(raw, 'a', sizeof(raw));
	json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string("big"));
	json_object_object_add(p, "data", json_object_new_string_len(raw, 65536));
	json_object *r = mvmt_call(wl.fd, "compute.vm.send", json_object_to_json_string(p));
	ck_assert_str_eq(mvmt_str(r, "result.data"), "len=65536");
	json_object_put(r);
	/* one byte more is refused before it goes anywhere */
	json_object_object_add(p, "data", json_object_new_string_len(raw, 65537));
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.send", json_object_to_json_string(p)), -32602);
	json_object_put(p);
	char *big = wl_ask("big", "big 65536");
	ck_assert_uint_eq(strlen(big), 65536);
	ck_assert(big[0] == 'x' && big[65535] == 'x');
	free(big);
	/* base64 in, base64 out */
	r = mvmt_call(wl.fd, "compute.vm.send", "{\"id\":\"big\",\"data_base64\":\"AAECaGk=\"}");
	ck_assert_str_eq(mvmt_str(r, "result.encoding"), "base64");
	ck_assert_str_eq(mvmt_str(r, "result.data"), "AAECaGk=");
	json_object_put(r);
	/* exactly one of data and data_base64; valid base64 */
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.send", "{\"id\":\"big\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.send", "{\"id\":\"big\",\"data\":\"a\",\"data_base64\":\"YQ==\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.send", "{\"id\":\"big\",\"data_base64\":\"!!\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.send", "{\"id\":\"nope\",\"data\":\"a\"}"), -32001);
	/* the actor is fine after all that */
	wl_ask_eq("big", "incr", "1");
}
END_TEST

START_TEST(test_no_wait_and_fifo)
{
	int fd = mvmt_connect(wl.d.sock);
	int64_t ids[5] = { 0 };
	int answers = 0;
	char line[256];

	wl_actor_up("async");
	json_object *st = wl_status("async");
	char *vm_id = strdup(mvmt_str(st, "id"));
	json_object_put(st);
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.send\",\"params\":{\"id\":\"async\",\"data\":\"incr\",\"wait\":false}}",
			 i + 1);
		mvmt_send_line(fd, line);
	}
	/* Each call's answer comes before its notification; the
	 * notifications come in order, one message at a time: the counter
	 * says so. */
	while (answers < 5) {
		char *l = mvmt_read_line(fd, 60000);
		ck_assert_msg(l != NULL, "no more lines after %d answers", answers);
		json_object *o = json_tokener_parse(l);
		free(l);
		ck_assert_ptr_nonnull(o);
		if (mvmt_get(o, "result")) {
			int64_t k = mvmt_int(o, "id");
			ck_assert(k >= 1 && k <= 5 && ids[k - 1] == 0);
			ids[k - 1] = mvmt_int(o, "result.message_id");
			ck_assert_int_gt(ids[k - 1], 0);
			ck_assert_ptr_null(mvmt_get(o, "result.data"));
		} else {
			char want[8];
			ck_assert_str_eq(mvmt_str(o, "method"), "compute.vm.answer");
			ck_assert_int_eq(mvmt_int(o, "params.message_id"), ids[answers]);
			ck_assert_str_eq(mvmt_str(o, "params.id"), vm_id);
			snprintf(want, sizeof(want), "%d", answers + 1);
			ck_assert_str_eq(mvmt_str(o, "params.data"), want);
			answers++;
		}
		json_object_put(o);
	}
	for (int i = 1; i < 5; i++)
		ck_assert_int_gt(ids[i], ids[i - 1]);
	free(vm_id);
	close(fd);
	mvmt_forget_fd(fd);
}
END_TEST

START_TEST(test_timeout_keeps_actor)
{
	wl_actor_up("slow");
	json_object *r = wl_send_text(wl.fd, "slow", "silent", 300);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32006);
	ck_assert_int_eq(mvmt_int(r, "error.data.timeout_ms"), 300);
	json_object_put(r);
	/* not killed: the next message is handled, and the first's id
	 * can no longer be answered */
	wl_ask_eq("slow", "incr", "1");
	wl_ask_eq("slow", "incr", "2");
	json_object *s = wl_status("slow");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	/* a sender that leaves before its turn: its message is dropped,
	 * never delivered (the counter says so) */
	int hold = mvmt_connect(wl.d.sock), gone = mvmt_connect(wl.d.sock);
	int64_t first = wl_send_async(hold, "slow", "silent", 3000);
	(void)wl_send_async(gone, "slow", "incr", 60000);
	close(gone);
	mvmt_forget_fd(gone);
	json_object *n = wl_next_answer(hold, first);
	ck_assert_int_eq(mvmt_int(n, "params.error.code"), -32006);
	json_object_put(n);
	wl_ask_eq("slow", "incr", "3");
	close(hold);
	mvmt_forget_fd(hold);
}
END_TEST

START_TEST(test_mailbox_full_and_stop_fails_pending)
{
	int fd = mvmt_connect(wl.d.sock), fd2 = mvmt_connect(wl.d.sock);
	int64_t ids[65];

	wl_actor_up("full");
	/* one delivered and never answered, 64 waiting behind it: one
	 * connection may hold 32 of them */
	ids[0] = wl_send_async(fd, "full", "silent", 600000);
	for (int i = 1; i <= 32; i++)
		ids[i] = wl_send_async(fd, "full", "incr", 600000);
	json_object *r = wl_send_text(fd, "full", "incr", 0);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32005);
	ck_assert_int_eq(mvmt_int(r, "error.data.limit"), 32);
	json_object_put(r);
	for (int i = 33; i <= 64; i++)
		ids[i] = wl_send_async(fd2, "full", "incr", 600000);
	r = wl_send_text(wl.fd, "full", "incr", 0);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32005);
	ck_assert_int_eq(mvmt_int(r, "error.data.limit"), 64);
	ck_assert_int_eq(mvmt_int(r, "error.data.queued"), 64);
	json_object_put(r);
	/* the VM ends: every pending message fails at once, none hangs */
	json_object_put(wl_call_id("compute.vm.stop", "full", "\"timeout_ms\":20000"));
	for (int i = 0; i < 65; i++) {
		json_object *n = wl_next_answer(i <= 32 ? fd : fd2, ids[i]);
		ck_assert_int_eq(mvmt_int(n, "params.error.code"), -32000);
		wl_assert_contains(mvmt_str(n, "params.error.data.reason"), "ended");
		json_object_put(n);
	}
	json_object *s = wl_wait_end("full", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	/* a VM that is not Running takes no message */
	ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.send", "{\"id\":\"full\",\"data\":\"a\"}"), -32002);
	close(fd);
	mvmt_forget_fd(fd);
	close(fd2);
	mvmt_forget_fd(fd2);
}
END_TEST

/* A connection that floods an actor does not make another wait behind
 * all of its messages: deliveries alternate between senders. */
START_TEST(test_fair_per_sender)
{
	int s = mvmt_connect(wl.d.sock), flood = mvmt_connect(wl.d.sock), other = mvmt_connect(wl.d.sock);
	int64_t f[20];

	wl_actor_up("fair");
	/* holds the actor while the others queue; its timeout frees it */
	int64_t first = wl_send_async(s, "fair", "silent", 5000);
	for (int i = 0; i < 20; i++)
		f[i] = wl_send_async(flood, "fair", "incr", 120000);
	int64_t mine = wl_send_async(other, "fair", "incr", 120000);
	json_object *n = wl_next_answer(s, first);
	ck_assert_int_eq(mvmt_int(n, "params.error.code"), -32006);
	json_object_put(n);
	/* after the flooder's first, the other sender's: the second incr */
	n = wl_next_answer(other, mine);
	ck_assert_str_eq(mvmt_str(n, "params.data"), "2");
	json_object_put(n);
	for (int i = 0; i < 20; i++) {
		char want[8];
		snprintf(want, sizeof(want), "%d", i == 0 ? 1 : i + 2);
		n = wl_next_answer(flood, f[i]);
		ck_assert_str_eq(mvmt_str(n, "params.data"), want);
		json_object_put(n);
	}
	close(s);
	mvmt_forget_fd(s);
	close(flood);
	mvmt_forget_fd(flood);
	close(other);
	mvmt_forget_fd(other);
}
END_TEST

START_TEST(test_guest_errors)
{
	wl_actor_up("guest");
	/* not granted to this VM: the actor's send is answered at once */
	wl_ask_eq("guest", "send " IFACE " hello", "status=-13 data=");
	/* not an interface name: the send itself says so */
	wl_ask_eq("guest", "send sha256:XYZ", "status=-22 data=");
	/* answering twice, or an id it never got: -ENOENT in the guest */
	wl_ask_eq("guest", "twice", "first");
	mvmt_wait_log(wl.fd, "guest", "second answer: -2\n");
	wl_ask_eq("guest", "bogus", "bogus=-2");
	/* the answer made right before the program ends still goes */
	wl_ask_eq("guest", "exit", "bye");
	json_object *s = wl_wait_end("guest", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
	json_object_put(s);
}
END_TEST

/* Whether any process's argv or environment holds needle. */
static bool proc_holds(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	ck_assert_ptr_nonnull(d);
	while (!found && (e = readdir(d))) {
		static const char *const files[] = { "cmdline", "environ" };
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		for (int i = 0; i < 2 && !found; i++) {
			char path[300], buf[65536];
			snprintf(path, sizeof(path), "/proc/%s/%s", e->d_name, files[i]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				continue;
			for (ssize_t k = 0; k < n; k++)
				if (!buf[k])
					buf[k] = '\n';
			buf[n] = 0;
			found = strstr(buf, needle) != NULL;
		}
	}
	closedir(d);
	return found;
}

START_TEST(test_messages_not_in_argv_and_kill9)
{
	int fd = mvmt_connect(wl.d.sock);

	wl_actor_up("keeper");
	/* an actor's send in flight through an interface when mvmd dies */
	wl_actor_up_with("h9", "\"handles\":[\"" IFACE_A "\"]");
	wl_actor_up_with("c9", "\"capabilities\":[\"stdout\",\"send:" IFACE_A "\"]");
	(void)wl_client_send_async(fd, "c9", IFACE_A, "silent");
	mvmt_wait_log(wl.fd, "h9", "not answering");
	close(fd);
	mvmt_forget_fd(fd);
	wl_ask_eq("keeper", "put secret s3cr3t-msg-8e1f", "ok");
	wl_ask_eq("keeper", "incr", "1");
	/* mvmctl send: the message on stdin, the answer on stdout */
	mvmt_ctl_t ctl = { 0 };
	mvmt_run_t *run = calloc(1, sizeof(*run));
	snprintf(ctl.bin, sizeof(ctl.bin), "%s", mvmt_bin("mvmctl"));
	mvmt_ctl_run(&ctl, run, wl.d.sock, "incr", (const char *const[]){ "send", "keeper", NULL });
	ck_assert_msg(run->status == 0, "mvmctl send: %d %s", run->status, run->err);
	ck_assert_str_eq(run->out, "2");
	mvmt_ctl_run(&ctl, run, wl.d.sock, NULL, (const char *const[]){ "send", "nope", "x", NULL });
	ck_assert_int_eq(run->status, 1);
	free(run);
	ck_assert(!proc_holds("s3cr3t-msg-8e1f"));
	/* mvmd dies; the actor runs on, is re-adopted, and keeps its state */
	close(wl.fd);
	mvmt_forget_fd(wl.fd);
	mvmt_daemon_stop(&wl.d, SIGKILL);
	mvmt_daemon_start(&wl.d, NULL);
	wl.fd = mvmt_connect(wl.d.sock);
	json_object *s = wl_status("keeper");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	wl_ask_eq("keeper", "incr", "3");
	wl_ask_eq("keeper", "get secret", "s3cr3t-msg-8e1f");
	/* the send in flight failed cleanly in the guest; both actors serve on */
	mvmt_wait_log(wl.fd, "c9", "send answered status=-104\n");
	wl_ask_eq("c9", "send " IFACE_A " incr", "status=0 data=1");
	ck_assert(!proc_holds("s3cr3t-msg-8e1f"));
}
END_TEST

START_TEST(test_actor_to_actor)
{
	int fd = mvmt_connect(wl.d.sock);

	wl_actor_up_with("kvstore", "\"handles\":[\"" IFACE_A "\"]");
	wl_actor_up_with("client", "\"capabilities\":[\"stdout\",\"send:" IFACE_A "\",\"send:" IFACE_B "\"]");
	wl_actor_up("rogue");
	/* through the interface, to the handler and back; state kept there */
	wl_ask_eq("client", "send " IFACE_A " put colour green", "status=0 data=ok");
	wl_ask_eq("client", "send " IFACE_A " get colour", "status=0 data=green");
	wl_ask_eq("kvstore", "get colour", "green");
	/* not granted: refused at once, whoever handles it */
	wl_ask_eq("rogue", "send " IFACE_A " get colour", "status=-13 data=");
	/* granted, but nobody handles it */
	wl_ask_eq("client", "send " IFACE_B " hi", "status=-113 data=");
	/* a flooding sender: 16 sends wait for answers at most, then -EAGAIN;
	 * every one sent is answered; too big a message is refused */
	wl_ask_eq("client", "flood " IFACE_A, "sent=16 err=-11 answers=16");
	wl_ask_eq("kvstore", "incr", "17");
	wl_ask_eq("client", "huge " IFACE_A, "huge=-90");
	/* who handles what */
	json_object *l = mvmt_result(wl.fd, "compute.interface.list", "{}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(l, "interfaces")), 1);
	json_object *e = json_object_array_get_idx(mvmt_get(l, "interfaces"), 0);
	ck_assert_str_eq(mvmt_str(e, "interface"), IFACE_A);
	ck_assert_str_eq(mvmt_str(e, "handler"), "vm");
	json_object_put(l);
	/* a second handler is refused while the first runs, by VM or by RPC */
	json_object_put(wl_create("kvstore2", "actor", 16, "\"handles\":[\"" IFACE_A "\"]"));
	json_object *r = wl_call_id("compute.vm.start", "kvstore2", NULL);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32007);
	ck_assert_str_eq(mvmt_str(r, "error.data.interface"), IFACE_A);
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.interface.handle", "{\"interface\":\"" IFACE_A "\"}"), -32007);
	/* the handler stops with a message pending: its sender gets an error */
	int64_t id = wl_client_send_async(fd, "client", IFACE_A, "silent");
	mvmt_wait_log(wl.fd, "kvstore", "not answering");
	json_object_put(wl_call_id("compute.vm.stop", "kvstore", "\"timeout_ms\":20000"));
	json_object *n = wl_next_answer(fd, id);
	ck_assert_str_eq(mvmt_str(n, "params.data"), "status=-32 data=");
	json_object_put(n);
	json_object_put(wl_wait_end("kvstore", 20000));
	/* now the second may start, and serves the interface */
	json_object_put(wl_call_id("compute.vm.start", "kvstore2", NULL));
	json_object_put(mvmt_wait_state(wl.fd, "kvstore2", "Running"));
	wl_ask_eq("client", "send " IFACE_A " get colour", "status=0 data=(none)");
	close(fd);
	mvmt_forget_fd(fd);
}
END_TEST

START_TEST(test_rpc_handler)
{
	int h = mvmt_connect(wl.d.sock), c = mvmt_connect(wl.d.sock);
	void *raw = NULL;
	size_t n;
	char params[256];

	wl_actor_up_with("client", "\"capabilities\":[\"stdout\",\"send:" IFACE_B "\"]");
	json_object *r = mvmt_result(h, "compute.interface.handle", "{\"interface\":\"" IFACE_B "\"}");
	ck_assert_str_eq(mvmt_str(r, "interface"), IFACE_B);
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(c, "compute.interface.handle", "{\"interface\":\"" IFACE_B "\"}"), -32007);
	r = mvmt_result(wl.fd, "compute.interface.list", "{}");
	ck_assert_str_eq(mvmt_str(json_object_array_get_idx(mvmt_get(r, "interfaces"), 0), "handler"), "connection");
	json_object_put(r);
	/* the actor's message reaches the connection; its answer goes back */
	int64_t id = wl_client_send_async(c, "client", IFACE_B, "hello");
	json_object *m = wl_next_message(h);
	ck_assert_str_eq(mvmt_str(m, "params.interface"), IFACE_B);
	const char *b64 = mvmt_str(m, "params.data_base64");
	ck_assert_int_eq(base64_decode(b64, strlen(b64), &raw, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(raw, "hello", 5) == 0);
	free(raw);
	int64_t mid = mvmt_int(m, "params.message_id");
	json_object_put(m);
	/* only the connection that holds it may answer it */
	snprintf(params, sizeof(params), "{\"message_id\":%lld,\"data\":\"world\"}", (long long)mid);
	ck_assert_int_eq(mvmt_error_code(c, "compute.interface.answer", params), -32001);
	json_object_put(mvmt_result(h, "compute.interface.answer", params));
	ck_assert_int_eq(mvmt_error_code(h, "compute.interface.answer", params), -32001); /* answered once */
	json_object *a = wl_next_answer(c, id);
	ck_assert_str_eq(mvmt_str(a, "params.data"), "status=0 data=world");
	json_object_put(a);
	/* the handler leaves with a message pending: its sender gets -EPIPE */
	id = wl_client_send_async(c, "client", IFACE_B, "again");
	json_object_put(wl_next_message(h));
	close(h);
	mvmt_forget_fd(h);
	a = wl_next_answer(c, id);
	ck_assert_str_eq(mvmt_str(a, "params.data"), "status=-32 data=");
	json_object_put(a);
	/* and nobody handles it any more */
	wl_ask_eq("client", "send " IFACE_B " x", "status=-113 data=");
	close(c);
	mvmt_forget_fd(c);
}
END_TEST

/* The Rust actor (tests/workloads/rsactor.rs): the same calls from
 * Rust's std, its state (a counter and a HashMap) kept across messages,
 * and a send through an interface. */
START_TEST(test_rust_actor)
{
	char want[32];

	json_object_put(wl_create("rust", "rsactor", 16, "\"capabilities\":[\"stdout\",\"random\",\"send:" IFACE_B "\"]"));
	json_object_put(wl_call_id("compute.vm.start", "rust", NULL));
	json_object_put(mvmt_wait_state(wl.fd, "rust", "Running"));
	mvmt_wait_log(wl.fd, "rust", "rust actor ready\n");
	for (int i = 1; i <= 200; i++) {
		snprintf(want, sizeof(want), "%d", i);
		wl_ask_eq("rust", "incr", want);
	}
	wl_ask_eq("rust", "put lang rust", "ok");
	wl_ask_eq("rust", "get lang", "rust");
	wl_ask_eq("rust", "stats", "msgs=203 keys=1");
	wl_ask_eq("rust", "send " IFACE_B " hi", "status=-113 data=");
	wl_ask_eq("rust", "send " IFACE_A " hi", "status=-13 data=");
	json_object_put(wl_call_id("compute.vm.stop", "rust", "\"timeout_ms\":20000"));
	json_object *s = wl_wait_end("rust", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	char *l = wl_logs("rust");
	wl_assert_contains(l, "rust actor stopping after 205 messages\n");
	free(l);
}
END_TEST

/* 50 actors in a ring: actor i handles interface i and may send to
 * interface i+1 (mod 50), whose name it gets as its argument. A message
 * goes round through all of them, from actor 0 and from actor 25 (over
 * the wrap), each hop waiting for the next one's answer. */
#define RING 50
static void ring_iface(int i, char out[static 72])
{
	snprintf(out, 72, "sha256:%064x", 0xa11ce000 + i);
}

START_TEST(test_ring_of_50)
{
	char name[32], iface[72], next[72], extra[512];

	for (int i = 0; i < RING; i++) {
		snprintf(name, sizeof(name), "ring-%d", i);
		ring_iface(i, iface);
		ring_iface((i + 1) % RING, next);
		snprintf(extra, sizeof(extra), "\"args\":[\"actor\",\"%s\"],\"capabilities\":[\"stdout\",\"args\",\"send:%s\"],"
			 "\"handles\":[\"%s\"]", next, next, iface);
		json_object_put(wl_create(name, "actor", 16, extra));
		json_object *r = wl_call_id("compute.vm.start", name, NULL);
		ck_assert_msg(mvmt_get(r, "result") != NULL, "start %s: %s", name, json_object_to_json_string(r));
		json_object_put(r);
	}
	for (int i = 0; i < RING; i++) {
		snprintf(name, sizeof(name), "ring-%d", i);
		json_object_put(mvmt_wait_state(wl.fd, name, "Running"));
		mvmt_wait_log(wl.fd, name, "actor ready\n");
	}
	json_object *l = mvmt_result(wl.fd, "compute.interface.list", "{}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(l, "interfaces")), RING);
	json_object_put(l);
	for (int from = 0; from < RING; from += 25) {
		snprintf(name, sizeof(name), "ring-%d", from);
		char *got = wl_ask(name, "ring 49");
		/* 49 hops, each wrapping its next one's answer, then the end */
		int hops = 0;
		for (const char *p = got; (p = strstr(p, "status=0 data=")); p++)
			hops++;
		ck_assert_int_eq(hops, RING - 1);
		ck_assert_uint_ge(strlen(got), 3);
		ck_assert_str_eq(got + strlen(got) - 3, "end");
		free(got);
	}
}
END_TEST

/* A pause reaches an actor asleep in its wait (the vCPU must leave the
 * hypercall to park) and costs it nothing: after resume, and in a VM
 * made from its snapshot, it goes on with the state it had. */
START_TEST(test_pause_and_snapshot_keep_state)
{
	char p[256];

	wl_actor_up("keeper");
	wl_ask_eq("keeper", "incr", "1");
	wl_ask_eq("keeper", "incr", "2");
	json_object *r = wl_call_id("compute.vm.pause", "keeper", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "pause: %s", json_object_to_json_string(r));
	ck_assert_str_eq(mvmt_str(r, "result.state"), "Paused");
	json_object_put(r);
	/* A message to a paused actor waits; with a short timeout it fails
	 * and the actor is untouched. */
	r = wl_send_text(wl.fd, "keeper", "get nothing", 300);
	ck_assert_msg(mvmt_get(r, "error") != NULL, "answered while paused: %s", json_object_to_json_string(r));
	json_object_put(r);
	r = wl_call_id("compute.vm.snapshot", "keeper", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "snapshot: %s", json_object_to_json_string(r));
	const char *hash = mvmt_str(r, "result.snapshot.hash");
	ck_assert_ptr_nonnull(hash);
	snprintf(p, sizeof(p), "{\"name\":\"twin\",\"memory_mib\":16,\"snapshot\":\"%s\"}", hash);
	json_object_put(r);
	r = wl_call_id("compute.vm.resume", "keeper", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "resume: %s", json_object_to_json_string(r));
	json_object_put(r);
	wl_ask_eq("keeper", "incr", "3");

	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
	r = wl_call_id("compute.vm.start", "twin", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start twin: %s", json_object_to_json_string(r));
	json_object_put(r);
	json_object_put(mvmt_wait_state(wl.fd, "twin", "Running"));
	wl_ask_eq("twin", "incr", "3");
	wl_ask_eq("twin", "incr", "4");
	wl_ask_eq("keeper", "incr", "4");
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "actor",
		.timeout = 600,
		.setup = wl_setup,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_state_over_1000_messages),
			MVMT_TEST(test_big_messages_and_bad_params),
			MVMT_TEST(test_no_wait_and_fifo),
			MVMT_TEST(test_timeout_keeps_actor),
			MVMT_TEST(test_mailbox_full_and_stop_fails_pending),
			MVMT_TEST(test_fair_per_sender),
			MVMT_TEST(test_guest_errors),
			MVMT_TEST(test_actor_to_actor),
			MVMT_TEST(test_rpc_handler),
			MVMT_TEST(test_rust_actor),
			MVMT_TEST(test_ring_of_50),
			MVMT_TEST(test_pause_and_snapshot_keep_state),
			MVMT_TEST(test_messages_not_in_argv_and_kill9)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-actor", .tcases = tcases)
