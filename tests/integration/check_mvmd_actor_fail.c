/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Actors' failure cases through the real mvmd on the real /dev/kvm
 * (docs/actors.md, "Interfaces" and "Messages from RPC clients"), beside
 * check_mvmd_actor.c: a sending actor gone before its answer came, a
 * handler that faults with messages pending, the sender's
 * send_timeout_ms, a raw guest that calls the actor hypercalls wrongly,
 * the node's 64 MiB of waiting messages, and an RPC connection that
 * stops handling one interface without closing (compute.interface.release).
 */
#include <limits.h>

#include "actor-daemon.h"
#include "mvmt-main.h"
#include "util/macro.h"

#define IFACE_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IFACE_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char guests[PATH_MAX];

/* The workload fixture, with the raw test guests allowed. */
static void setup(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[200];

	snprintf(rel, sizeof(rel), "%s/guest/tests", b && *b ? b : "build");
	ck_assert_ptr_nonnull(realpath(rel, guests));
	mvmt_daemon_init(&wl.d);
	mvmt_daemon_start(&wl.d, "--allow-custom-guests", NULL);
	wl.fd = mvmt_connect(wl.d.sock);
}

static void close_fd(int fd)
{
	close(fd);
	mvmt_forget_fd(fd);
}

static void handle(int fd, const char *iface)
{
	char p[128];
	snprintf(p, sizeof(p), "{\"interface\":\"%s\"}", iface);
	json_object_put(mvmt_result(fd, "compute.interface.handle", p));
}

/* A sending actor stops while its handler still works on its message,
 * and starts again, with send ids from 1 again, before the handler
 * answers: the late answer is dropped (the new run never sees it), the
 * handler goes on with the next message, the new run's send is answered. */
START_TEST(test_sender_gone_answer_dropped)
{
	int fd = mvmt_connect(wl.d.sock);

	wl_actor_up_with("h", "\"handles\":[\"" IFACE_A "\"]");
	wl_actor_up_with("c", "\"capabilities\":[\"stdout\",\"send:" IFACE_A "\"]");
	int64_t id = wl_client_send_async(fd, "c", IFACE_A, "sleep 8000");
	mvmt_wait_log(wl.fd, "h", "sleeping");
	json_object_put(wl_call_id("compute.vm.stop", "c", "\"timeout_ms\":20000"));
	json_object *n = wl_next_answer(fd, id);
	ck_assert_int_eq(mvmt_int(n, "params.error.code"), -32000);
	json_object_put(n);
	json_object *s = wl_wait_end("c", 20000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Stopped");
	json_object_put(s);
	json_object *r = wl_call_id("compute.vm.start", "c", NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "restart: %s", json_object_to_json_string(r));
	json_object_put(r);
	json_object_put(mvmt_wait_state(wl.fd, "c", "Running"));
	/* its first send (id 1, as the last run's) waits behind "sleep":
	 * had the late "slept" reached it, this would say so */
	id = wl_client_send_async(fd, "c", IFACE_A, "incr");
	n = wl_next_answer(fd, id);
	ck_assert_str_eq(mvmt_str(n, "params.data"), "status=0 data=1");
	json_object_put(n);
	/* the handler answered the sleep (dropped) and serves on */
	wl_ask_eq("h", "incr", "2");
	wl_ask_eq("h", "stats", "msgs=4 bytes=23");
	s = wl_status("h");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	close_fd(fd);
}
END_TEST

/* The handler traps (its VM ends Failed) while it holds an actor's
 * message, with RPC messages (no-wait and waiting) and maybe another
 * actor's behind it: every sender gets an error at once, none waits for
 * its timeout. */
START_TEST(test_handler_fault_fails_pending)
{
	int fd = mvmt_connect(wl.d.sock), hb = mvmt_connect(wl.d.sock), w = mvmt_connect(wl.d.sock);
	int64_t rid[3];
	char p[256];

	wl_actor_up_with("h", "\"handles\":[\"" IFACE_A "\"],\"capabilities\":[\"stdout\",\"send:" IFACE_B "\"]");
	wl_actor_up_with("c", "\"capabilities\":[\"stdout\",\"send:" IFACE_A "\"]");
	wl_actor_up_with("c2", "\"capabilities\":[\"stdout\",\"send:" IFACE_A "\"]");
	handle(hb, IFACE_B);
	/* h takes c's message and asks IFACE_B (this test) before it traps */
	int64_t cid = wl_client_send_async(fd, "c", IFACE_A, "trap " IFACE_B);
	json_object *m = wl_next_message(hb);
	int64_t hold = mvmt_int(m, "params.message_id");
	json_object_put(m);
	for (int i = 0; i < 3; i++)
		rid[i] = wl_send_async(fd, "h", "incr", 600000);
	mvmt_send_line(w, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"compute.vm.send\","
			  "\"params\":{\"id\":\"h\",\"data\":\"incr\",\"timeout_ms\":600000}}");
	int64_t c2id = wl_client_send_async(fd, "c2", IFACE_A, "incr");
	snprintf(p, sizeof(p), "{\"message_id\":%lld,\"data\":\"go\"}", (long long)hold);
	json_object_put(mvmt_result(hb, "compute.interface.answer", p));

	json_object *s = wl_wait_end("h", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	wl_assert_contains(mvmt_str(s, "cause"), "trap");
	json_object_put(s);
	/* they come in any order: the RPC ones at once, the actors' when
	 * each has answered its own message */
	int64_t want[5] = { cid, c2id, rid[0], rid[1], rid[2] };
	json_object *got[5] = { 0 };
	for (int left = 5; left > 0;) {
		char *line = mvmt_read_line(fd, 60000);
		ck_assert_msg(line != NULL, "%d answers missing", left);
		json_object *o = json_tokener_parse(line);
		free(line);
		ck_assert_ptr_nonnull(o);
		for (int i = 0; i < 5; i++) {
			if (!got[i] && mvmt_str(o, "method") && mvmt_int(o, "params.message_id") == want[i]) {
				got[i] = json_object_get(o);
				left--;
			}
		}
		json_object_put(o);
	}
	ck_assert_str_eq(mvmt_str(got[0], "params.data"), "status=-32 data=");
	/* c2's send was in h's mailbox (-EPIPE), or came after h ended and
	 * nobody handled the interface (-EHOSTUNREACH): an error either way */
	const char *d = mvmt_str(got[1], "params.data");
	ck_assert_msg(strcmp(d, "status=-32 data=") == 0 || strcmp(d, "status=-113 data=") == 0, "%s", d);
	for (int i = 2; i < 5; i++) {
		ck_assert_int_eq(mvmt_int(got[i], "params.error.code"), -32000);
		wl_assert_contains(mvmt_str(got[i], "params.error.data.reason"), "ended");
	}
	for (int i = 0; i < 5; i++)
		json_object_put(got[i]);
	char *line = mvmt_read_line(w, 60000);
	ck_assert_ptr_nonnull(line);
	json_object *o = json_tokener_parse(line);
	free(line);
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32000);
	json_object_put(o);
	/* the senders serve on */
	wl_ask_eq("c", "send " IFACE_A " incr", "status=-113 data=");
	wl_ask_eq("c2", "incr", "1");
	close_fd(fd);
	close_fd(hb);
	close_fd(w);
}
END_TEST

/* workload.send_timeout_ms: checked at create; an actor's send whose
 * handler (a VM, or a connection) never answers fails -ETIMEDOUT after
 * it, and the handler is not stopped. */
START_TEST(test_send_timeout)
{
	static const char *const bad[] = { "0", "-1", "3600001", "\"1000\"", "1.5" };
	int hb = mvmt_connect(wl.d.sock);
	char *hash = wl_put_prog("actor"), p[512];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(p, sizeof(p), "{\"name\":\"bad\",\"memory_mib\":16,\"workload\":{\"hash\":\"%s\",\"send_timeout_ms\":%s}}",
			 hash, bad[i]);
		ck_assert_int_eq(mvmt_error_code(wl.fd, "compute.vm.create", p), -32602);
	}
	free(hash);
	wl_actor_up_with("h", "\"handles\":[\"" IFACE_A "\"]");
	wl_actor_up_with("c", "\"send_timeout_ms\":1500,\"capabilities\":[\"stdout\",\"send:" IFACE_A "\",\"send:" IFACE_B "\"]");
	json_object *s = wl_status("c");
	ck_assert_int_eq(mvmt_int(s, "workload.send_timeout_ms"), 1500);
	json_object_put(s);
	wl_ask_eq("c", "send " IFACE_A " silent", "status=-110 data=");
	/* the handler is not stopped: the next message reaches it */
	wl_ask_eq("c", "send " IFACE_A " incr", "status=0 data=1");
	/* a connection as the handler: the same, and its late answer is refused */
	handle(hb, IFACE_B);
	wl_ask_eq("c", "send " IFACE_B " hello", "status=-110 data=");
	json_object *m = wl_next_message(hb);
	snprintf(p, sizeof(p), "{\"message_id\":%lld,\"data\":\"late\"}", (long long)mvmt_int(m, "params.message_id"));
	json_object_put(m);
	ck_assert_int_eq(mvmt_error_code(hb, "compute.interface.answer", p), -32001);
	s = wl_status("h");
	ck_assert_str_eq(mvmt_str(s, "state"), "Running");
	json_object_put(s);
	close_fd(hb);
}
END_TEST

static void create_raw(const char *name, const char *kind)
{
	char p[PATH_MAX + 256];
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"memory_mib\":16,\"guest\":{\"image\":\"%s/actorbad\",\"args\":[\"%s\"]}}",
		 name, guests, kind);
	json_object_put(mvmt_result(wl.fd, "compute.vm.create", p));
	json_object *r = wl_call_id("compute.vm.start", name, NULL);
	ck_assert_msg(mvmt_get(r, "result") != NULL, "start %s: %s", name, json_object_to_json_string(r));
	json_object_put(r);
}

/* A raw guest (tests/microvm-guests/actorbad.c) calls 10..12 wrongly: an
 * out-of-range length or a malformed name is -errno to the guest, a bad
 * pointer ends the VM as a bad-pointer fault; mvmd and an actor beside
 * it are unharmed, and a message the faulting guest held fails at once. */
static const struct { const char *kind, *want; } raw_cases[] = {
	{ "send-biglen", "result=-90\n" },  { "send-iface", "result=-22\n" }, { "wait-bigcap", "result=-22\n" },
	{ "answer-biglen", "result=-90\n" }, { "answer-unknown", "result=0\n" }, { "send-block", NULL },
	{ "send-buf", NULL },                { "wait-block", NULL },          { "wait-buf", NULL },
	{ "answer-buf", NULL },
};

START_TEST(test_raw_guest_bad_calls)
{
	char name[32];

	wl_actor_up("keeper");
	wl_ask_eq("keeper", "incr", "1");
	for (size_t i = 0; i < ELEMENTSOF(raw_cases); i++) {
		snprintf(name, sizeof(name), "raw-%zu", i);
		create_raw(name, raw_cases[i].kind);
		json_object *s = wl_wait_end(name, 60000);
		char *l = wl_logs(name);
		if (raw_cases[i].want) {
			ck_assert_msg(strcmp(mvmt_str(s, "state"), "Stopped") == 0, "%s: %s", raw_cases[i].kind,
				      json_object_to_json_string(s));
			ck_assert_int_eq(mvmt_int(s, "exit_code"), 0);
			wl_assert_contains(l, raw_cases[i].want);
		} else {
			ck_assert_msg(strcmp(mvmt_str(s, "state"), "Failed") == 0, "%s: %s", raw_cases[i].kind,
				      json_object_to_json_string(s));
			wl_assert_contains(mvmt_str(s, "cause"), "bad-pointer");
			ck_assert_msg(!strstr(l, "accepted"), "%s: %s", raw_cases[i].kind, l);
		}
		free(l);
		json_object_put(s);
	}
	/* a raw actor that answers with a bad pointer: the VM faults, the
	 * message it held fails at once */
	create_raw("serve", "serve-bad");
	json_object_put(mvmt_wait_state(wl.fd, "serve", "Running"));
	mvmt_wait_log(wl.fd, "serve", "raw actor ready");
	json_object *r = wl_send_text(wl.fd, "serve", "hello", 600000);
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32000);
	json_object_put(r);
	json_object *s = wl_wait_end("serve", 60000);
	ck_assert_str_eq(mvmt_str(s, "state"), "Failed");
	wl_assert_contains(mvmt_str(s, "cause"), "bad-pointer");
	json_object_put(s);
	wl_ask_eq("keeper", "incr", "2");
}
END_TEST

/* The node's waiting messages hold at most 64 MiB: 16 VMs with 64
 * messages of 64 KiB waiting each fill it, one more is refused with
 * -32005 saying so, and the room comes back once messages leave. */
#define FILL_VMS 16
START_TEST(test_node_mailbox_bytes)
{
	static char raw[65536];
	int fa = mvmt_connect(wl.d.sock), fb = mvmt_connect(wl.d.sock);
	char name[32];
	json_object *p = json_object_new_object();

	memset(raw, 'm', sizeof(raw));
	json_object_object_add(p, "data", json_object_new_string_len(raw, sizeof(raw)));
	json_object_object_add(p, "wait", json_object_new_boolean(0));
	json_object_object_add(p, "timeout_ms", json_object_new_int(600000));
	for (int v = 0; v <= FILL_VMS; v++) {
		snprintf(name, sizeof(name), "box-%d", v);
		char c[128];
		snprintf(c, sizeof(c), "{\"name\":\"%s\",\"memory_mib\":16}", name);
		json_object_put(mvmt_result(wl.fd, "compute.vm.create", c));
		json_object_put(wl_call_id("compute.vm.start", name, NULL));
		json_object_put(mvmt_wait_state(wl.fd, name, "Running"));
	}
	/* Each: one delivered (the guest never takes it, it does not count),
	 * 32 + 32 waiting (one connection holds at most 32). */
	for (int v = 0; v < FILL_VMS; v++) {
		snprintf(name, sizeof(name), "box-%d", v);
		json_object_object_add(p, "id", json_object_new_string(name));
		for (int i = 0; i < 65; i++)
			json_object_put(mvmt_result(i < 33 ? fa : fb, "compute.vm.send", json_object_to_json_string(p)));
	}
	snprintf(name, sizeof(name), "box-%d", FILL_VMS);
	json_object_object_add(p, "id", json_object_new_string(name));
	json_object_put(mvmt_result(fa, "compute.vm.send", json_object_to_json_string(p)));
	json_object *r = mvmt_call(fa, "compute.vm.send", json_object_to_json_string(p));
	ck_assert_int_eq(mvmt_int(r, "error.code"), -32005);
	ck_assert_int_eq(mvmt_int(r, "error.data.limit_bytes"), 64 << 20);
	ck_assert_int_eq(mvmt_int(r, "error.data.queued_bytes"), 64 << 20);
	wl_assert_contains(mvmt_str(r, "error.data.reason"), "node");
	json_object_put(r);
	/* the bound counts bytes: an empty message still fits */
	r = mvmt_call(fa, "compute.vm.send", "{\"id\":\"box-16\",\"data\":\"\",\"wait\":false,\"timeout_ms\":600000}");
	ck_assert_msg(mvmt_get(r, "result") != NULL, "%s", json_object_to_json_string(r));
	json_object_put(r);
	/* fb leaves: its 512 waiting messages go, and the room comes back */
	close_fd(fb);
	for (int tries = 0;; tries++) {
		r = mvmt_call(fa, "compute.vm.send", json_object_to_json_string(p));
		bool ok = mvmt_get(r, "result") != NULL;
		ck_assert_msg(ok || tries < 100, "still full: %s", json_object_to_json_string(r));
		json_object_put(r);
		if (ok)
			break;
		usleep(100000); /* the close is handled by mvmd's loop, after ours */
	}
	json_object_put(p);
	close_fd(fa);
}
END_TEST

/* compute.interface.release: the connection stops handling one of its
 * interfaces and stays open; the message of it that it held fails at
 * once for its sender, its other interface is still its own, and
 * another connection may take the released one. */
START_TEST(test_release_fails_held)
{
	int h = mvmt_connect(wl.d.sock), c = mvmt_connect(wl.d.sock), other = mvmt_connect(wl.d.sock);
	char p[256];

	wl_actor_up_with("client", "\"capabilities\":[\"stdout\",\"send:" IFACE_A "\",\"send:" IFACE_B "\"]");
	handle(h, IFACE_A);
	handle(h, IFACE_B);
	int64_t id = wl_client_send_async(c, "client", IFACE_A, "held");
	json_object_put(wl_next_message(h));
	json_object *r = mvmt_result(h, "compute.interface.release", "{\"interface\":\"" IFACE_A "\"}");
	ck_assert_str_eq(mvmt_str(r, "interface"), IFACE_A);
	json_object_put(r);
	json_object *a = wl_next_answer(c, id);
	ck_assert_str_eq(mvmt_str(a, "params.data"), "status=-32 data=");
	json_object_put(a);
	ck_assert_int_eq(mvmt_error_code(h, "compute.interface.release", "{\"interface\":\"" IFACE_A "\"}"), -32001);
	/* nobody handles A now; B is still h's */
	wl_ask_eq("client", "send " IFACE_A " x", "status=-113 data=");
	id = wl_client_send_async(c, "client", IFACE_B, "still");
	json_object *m = wl_next_message(h);
	ck_assert_str_eq(mvmt_str(m, "params.interface"), IFACE_B);
	snprintf(p, sizeof(p), "{\"message_id\":%lld,\"data\":\"yes\"}", (long long)mvmt_int(m, "params.message_id"));
	json_object_put(m);
	json_object_put(mvmt_result(h, "compute.interface.answer", p));
	a = wl_next_answer(c, id);
	ck_assert_str_eq(mvmt_str(a, "params.data"), "status=0 data=yes");
	json_object_put(a);
	/* another connection takes A */
	handle(other, IFACE_A);
	r = mvmt_result(wl.fd, "compute.interface.list", "{}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "interfaces")), 2);
	json_object_put(r);
	close_fd(h);
	close_fd(c);
	close_fd(other);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "actor-fail",
		.timeout = 600,
		.setup = setup,
		.teardown = wl_teardown,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_sender_gone_answer_dropped),
			MVMT_TEST(test_handler_fault_fails_pending),
			MVMT_TEST(test_send_timeout),
			MVMT_TEST(test_raw_guest_bad_calls),
			MVMT_TEST(test_node_mailbox_bytes),
			MVMT_TEST(test_release_fails_held)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd-actor-fail", .tcases = tcases)
