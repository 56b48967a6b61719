/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real mvmd on temporary directories, over its real socket: the VM
 * lifecycle methods, their errors, hostile input, and restart persistence.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvmtest.h"
#include "util/macro.h"
#include "mvmt-main.h"

static mvmt_daemon_t d;
static int fd;

static void setup(void)
{
	mvmt_daemon_init(&d);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
}

static void teardown(void)
{
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_cleanup(&d);
}

static char *create(const char *params)
{
	json_object *r = mvmt_result(fd, "compute.vm.create", params);
	char *id = strdup(mvmt_str(r, "id"));
	json_object_put(r);
	return id;
}

START_TEST(test_lifecycle)
{
	json_object *r;
	char params[256];

	r = mvmt_result(fd, "compute.vm.create", "{\"name\":\"web-1\",\"memory_mib\":64,\"vcpus\":1,\"labels\":{\"tier\":\"front\"}}");
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	ck_assert_str_eq(mvmt_str(r, "name"), "web-1");
	ck_assert_str_eq(mvmt_str(r, "backend"), "kvm");
	ck_assert_str_eq(mvmt_str(r, "labels.tier"), "front");
	ck_assert_str_eq(mvmt_str(r, "transitions.0.from"), "Pending");
	ck_assert_str_eq(mvmt_str(r, "transitions.0.to"), "Provisioning");
	ck_assert_str_eq(mvmt_str(r, "transitions.1.to"), "Configured");
	char *id = strdup(mvmt_str(r, "id"));
	json_object_put(r);

	/* status by id and by name */
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	r = mvmt_result(fd, "compute.vm.status", params);
	ck_assert_str_eq(mvmt_str(r, "name"), "web-1");
	json_object_put(r);
	r = mvmt_result(fd, "compute.vm.status", "{\"id\":\"web-1\"}");
	ck_assert_str_eq(mvmt_str(r, "id"), id);
	json_object_put(r);

	/* the state file exists, 0600 */
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/vms/%s/state.json", d.state, id);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* list with filters */
	free(create("{\"name\":\"db-1\",\"memory_mib\":32,\"labels\":{\"tier\":\"back\"}}"));
	r = mvmt_result(fd, "compute.vm.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 2);
	json_object_put(r);
	r = mvmt_result(fd, "compute.vm.list", "{\"labels\":{\"tier\":\"back\"}}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 1);
	ck_assert_str_eq(mvmt_str(r, "vms.0.name"), "db-1");
	ck_assert_ptr_null(mvmt_get(r, "vms.0.transitions"));
	json_object_put(r);
	r = mvmt_result(fd, "compute.vm.list", "{\"state\":\"Running\"}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 0);
	json_object_put(r);

	/* events: 4 transitions so far, node-wide, in order */
	r = mvmt_result(fd, "compute.vm.events.tail", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "events")), 4);
	ck_assert_int_eq(mvmt_int(r, "events.0.seq"), 1);
	ck_assert_str_eq(mvmt_str(r, "events.0.vm"), id);
	ck_assert_int_eq(mvmt_int(r, "next"), 5);
	json_object_put(r);
	r = mvmt_result(fd, "compute.vm.events.tail", "{\"id\":\"db-1\",\"since\":2,\"limit\":1}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "events")), 1);
	ck_assert_int_eq(mvmt_int(r, "events.0.seq"), 3);
	ck_assert_int_eq(mvmt_int(r, "next"), 4);
	ck_assert(json_object_get_boolean(mvmt_get(r, "more")));
	json_object_put(r);

	/* remove: gone from list, directory gone */
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	r = mvmt_result(fd, "compute.vm.remove", params);
	ck_assert(json_object_get_boolean(mvmt_get(r, "removed")));
	json_object_put(r);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", params), -32001);
	snprintf(path, sizeof(path), "%s/vms/%s", d.state, id);
	ck_assert_int_eq(access(path, F_OK), -1);
	free(id);
}
END_TEST

START_TEST(test_create_errors_leave_nothing)
{
	static const char *bad[] = {
		"{}",                                          /* memory_mib required */
		"{\"memory_mib\":\"64\"}",                     /* wrong type */
		"{\"memory_mib\":0}",                          /* out of range */
		"{\"memory_mib\":64,\"vcpus\":0}",
		"{\"memory_mib\":64,\"vcpus\":1.5}",
		"{\"memory_mib\":64,\"name\":\"../etc\"}",      /* path traversal */
		"{\"memory_mib\":64,\"name\":\"a/b\"}",
		"{\"memory_mib\":64,\"name\":\"\"}",
		"{\"memory_mib\":64,\"name\":\"-x\"}",
		"{\"memory_mib\":64,\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"{\"memory_mib\":64,\"backend\":\"xen\"}",
		"{\"memory_mib\":64,\"colour\":\"red\"}",       /* unknown key */
		"{\"memory_mib\":64,\"labels\":{\"k\":1}}",
		"{\"memory_mib\":64,\"labels\":[]}",
		"[64]",                                        /* positional */
		"\"x\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = mvmt_call(fd, "compute.vm.create", bad[i]);
		int code = (int)mvmt_int(o, "error.code");
		ck_assert_msg(code == -32602 || (i == 15 && code == -32600), "case %zu (%s): code %d", i, bad[i], code);
		ck_assert_msg(mvmt_get(o, "error.data") != NULL, "case %zu has no data", i);
		json_object_put(o);
	}
	/* more vcpus or memory than the node has: resource limit */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.create", "{\"memory_mib\":64,\"vcpus\":256}"), -32005);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.create", "{\"memory_mib\":4194304}"), -32005);
	/* within the node's RAM but beyond what a kvm micro-VM can take */
	json_object *big = mvmt_call(fd, "compute.vm.create", "{\"memory_mib\":3074}");
	ck_assert_int_eq(mvmt_int(big, "error.code"), -32005);
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(big), "4..3072 MiB"));
	json_object_put(big);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.create", "{\"memory_mib\":2}"), -32005);
	/* ch needs a kernel; kvm takes none */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.create", "{\"memory_mib\":64,\"backend\":\"ch\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.create", "{\"memory_mib\":64,\"kernel\":\"/boot/vmlinuz\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.create",
					 "{\"memory_mib\":64,\"backend\":\"ch\",\"kernel\":\"vmlinuz\"}"), -32602);

	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/vms)\"", d.state);
	ck_assert_int_eq(system(cmd), 0);
	json_object *r = mvmt_result(fd, "compute.vm.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "vms")), 0);
	json_object_put(r);
	r = mvmt_result(fd, "compute.vm.events.tail", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(r, "events")), 0);
	json_object_put(r);

	/* duplicate name */
	free(create("{\"name\":\"dup\",\"memory_mib\":16}"));
	json_object *o = mvmt_call(fd, "compute.vm.create", "{\"name\":\"dup\",\"memory_mib\":16}");
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32003);
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(o), "dup"));
	json_object_put(o);
}
END_TEST

/* A client that is not root cannot make mvmd load host files into a VM. */
START_TEST(test_host_files_need_privileged_client)
{
	mvmt_daemon_t d2;
	char run[256];
	json_object *o;

	mvmt_daemon_init(&d2);
	snprintf(run, sizeof(run), "%s/run", d2.dir);
	ck_assert_int_eq(chmod(d2.dir, 0711), 0);
	ck_assert_int_eq(mkdir(run, 0711), 0);
	mvmt_daemon_start(&d2, "--socket-group", "nogroup", "--allow-custom-guests", NULL);

	static const struct { const char *params, *param; } cases[] = {
		{ "{\"memory_mib\":64,\"backend\":\"ch\",\"kernel\":\"/etc/shadow\"}", "kernel" },
		{ "{\"memory_mib\":64,\"backend\":\"ch\",\"kernel\":\"/boot/vmlinuz\",\"initramfs\":\"/etc/shadow\"}", "kernel" },
		{ "{\"memory_mib\":16,\"guest\":{\"image\":\"/etc/shadow\"}}", "guest.image" },
		{ "{\"memory_mib\":64,\"backend\":\"ch\",\"disks\":[{\"path\":\"/etc/shadow\",\"readonly\":true}]}", "disks" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		o = mvmt_call_as_nobody(d2.sock, "compute.vm.create", cases[i].params);
		ck_assert_int_eq(mvmt_int(o, "error.code"), -32000);
		ck_assert_str_eq(mvmt_str(o, "error.data.errno"), "EPERM");
		ck_assert_str_eq(mvmt_str(o, "error.data.param"), cases[i].param);
		json_object_put(o);
	}
	/* nothing was created */
	o = mvmt_call_as_nobody(d2.sock, "compute.vm.list", "{}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "result.vms")), 0);
	json_object_put(o);
	/* a VM that names no host file is fine */
	o = mvmt_call_as_nobody(d2.sock, "compute.vm.create", "{\"memory_mib\":16,\"guest\":{\"args\":[\"x\"]}}");
	ck_assert_str_eq(mvmt_str(o, "result.state"), "Configured");
	json_object_put(o);
	/* root may name them (a missing file is then a provisioning failure) */
	int c = mvmt_connect(d2.sock);
	o = mvmt_result(c, "compute.vm.create", "{\"memory_mib\":16,\"guest\":{\"image\":\"/nonexistent/img\"}}");
	ck_assert_str_eq(mvmt_str(o, "state"), "Failed");
	json_object_put(o);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_max_vms)
{
	mvmt_daemon_t d2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--max-vms", "2", NULL);
	int c = mvmt_connect(d2.sock);
	json_object *o = mvmt_result(c, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(o, "limits.max_vms"), 2);
	json_object_put(o);
	json_object_put(mvmt_result(c, "compute.vm.create", "{\"memory_mib\":8}"));
	json_object_put(mvmt_result(c, "compute.vm.create", "{\"memory_mib\":8}"));
	ck_assert_int_eq(mvmt_error_code(c, "compute.vm.create", "{\"memory_mib\":8}"), -32005);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_not_found_and_unknown_method)
{
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", "{\"id\":\"nope\"}"), -32001);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.remove", "{\"id\":\"00000000-0000-4000-8000-000000000000\"}"), -32001);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.events.tail", "{\"id\":\"nope\"}"), -32001);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", "{\"id\":\"../../etc/passwd\"}"), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", NULL), -32602);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.frobnicate", NULL), -32601);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.start", "{\"id\":\"x\"}"), -32001);
	/* compute.vm.exec exists: a VM that does not exist is not-found, a
	 * missing argv is invalid params */
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.exec", "{\"id\":\"x\",\"argv\":[\"mvm.echo\"]}"), -32001);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.exec", "{\"id\":\"x\"}"), -32602);
}
END_TEST

START_TEST(test_discover_matches_dispatch)
{
	json_object *doc = mvmt_result(fd, "rpc.discover", NULL);
	json_object *methods = mvmt_get(doc, "methods");
	size_t n = json_object_array_length(methods);
	bool saw_create = false;

	ck_assert_ptr_nonnull(strstr(mvmt_str(doc, "openrpc"), "1.3"));
	ck_assert_int_ge(n, 7);
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(methods, i);
		const char *name = mvmt_str(m, "name");
		bool notification = json_object_object_get_ex(m, "x-notification", NULL);
		/* every documented method dispatches (anything but -32601);
		 * a notification mvmd sends is no method to call */
		json_object *o = mvmt_call(fd, name, "{\"id\":\"zz-no-such-vm\",\"memory_mib\":1}");
		if (notification)
			ck_assert_int_eq(mvmt_int(o, "error.code"), -32601);
		else if (json_object_object_get_ex(o, "error", NULL))
			ck_assert_int_ne(mvmt_int(o, "error.code"), -32601);
		json_object_put(o);
		if (strcmp(name, "compute.vm.create") == 0) {
			saw_create = true;
			ck_assert_ptr_nonnull(strstr(json_object_to_json_string(m), "memory_mib"));
		}
	}
	ck_assert(saw_create);
	json_object_put(doc);
}
END_TEST

START_TEST(test_bad_input)
{
	json_object *o;

	o = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.list\",\"id\":1");
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32700);
	ck_assert(json_object_is_type(mvmt_get(o, "id"), json_type_null));
	json_object_put(o);
	o = mvmt_request(fd, "\x01\x02\xff\xfe garbage");
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32700);
	json_object_put(o);
	o = mvmt_request(fd, "{\"jsonrpc\":\"1.0\",\"method\":\"compute.vm.list\",\"id\":1}");
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32600);
	json_object_put(o);
	o = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"method\":42,\"id\":1}");
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32600);
	json_object_put(o);

	/* deep nesting */
	char deep[4200];
	size_t k = 0;
	k += (size_t)sprintf(deep, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.list\",\"params\":{\"labels\":");
	for (int i = 0; i < 2000; i++)
		deep[k++] = '[';
	deep[k] = 0;
	o = mvmt_request(fd, deep);
	ck_assert_int_lt(mvmt_int(o, "error.code"), -32000);
	json_object_put(o);

	/* the connection still works after all of that */
	o = mvmt_result(fd, "compute.vm.list", NULL);
	json_object_put(o);

	/* half a line, then close: the daemon stays up */
	int fd2 = mvmt_connect(d.sock);
	mvmt_write(fd2, "{\"jsonrpc\":\"2.0\",\"meth", 22);
	close(fd2);
	mvmt_forget_fd(fd2);
	o = mvmt_result(fd, "compute.node.info", NULL);
	json_object_put(o);
}
END_TEST

START_TEST(test_oversize_line_closes)
{
	mvmt_daemon_t d2;
	mvmt_daemon_init(&d2);
	mvmt_daemon_start(&d2, "--max-request-bytes", "4096", NULL);
	int c = mvmt_connect(d2.sock);

	/* 4 KiB cap; send 64 KiB without a newline, then more. */
	char *big = malloc(65536);
	memset(big, 'x', 65536);
	/* mvmd answers and closes without reading the rest, so the rest of
	 * these writes may meet a closed socket (EPIPE): that is the point. */
	mvmt_write(c, "{\"a\":\"", 6);
	for (size_t off = 0; off < 65536;) {
		ssize_t n = send(c, big + off, 65536 - off, MSG_NOSIGNAL);
		if (n <= 0) {
			ck_assert_msg(errno == EPIPE || errno == ECONNRESET, "send: %s", strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	char *line = mvmt_read_line(c, 5000);
	ck_assert_ptr_nonnull(line);
	json_object *o = json_tokener_parse(line);
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32008);
	ck_assert(json_object_is_type(mvmt_get(o, "id"), json_type_null));
	json_object_put(o);
	free(line);
	ck_assert(mvmt_wait_closed(c, 5000));
	close(c);
	mvmt_forget_fd(c);
	free(big);

	/* others are still served */
	c = mvmt_connect(d2.sock);
	o = mvmt_result(c, "compute.node.info", NULL);
	ck_assert_int_eq(mvmt_int(o, "limits.max_request_bytes"), 4096);
	json_object_put(o);
	close(c);
	mvmt_forget_fd(c);
	mvmt_daemon_cleanup(&d2);
}
END_TEST

START_TEST(test_pipelined_1000)
{
	/* 1000 requests in one write, 1000 responses in order */
	size_t cap = 1000 * 80, len = 0;
	char *buf = malloc(cap);
	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(buf + len, cap - len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"compute.vm.list\"}\n", i);
	mvmt_write(fd, buf, len);
	for (int i = 0; i < 1000; i++) {
		char *line = mvmt_read_line(fd, 10000);
		ck_assert_msg(line != NULL, "response %d missing", i);
		json_object *o = json_tokener_parse(line);
		ck_assert_int_eq(mvmt_int(o, "id"), i);
		json_object_put(o);
		free(line);
	}
	free(buf);
}
END_TEST

START_TEST(test_batch_and_notifications)
{
	json_object *o;

	/* a notification: no response; the next request's response comes first */
	mvmt_send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.create\",\"params\":{\"name\":\"note\",\"memory_mib\":8}}");
	o = mvmt_result(fd, "compute.vm.status", "{\"id\":\"note\"}");
	ck_assert_str_eq(mvmt_str(o, "state"), "Configured");
	json_object_put(o);

	/* batch with a valid call, an invalid entry and a notification */
	o = mvmt_request(fd, "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"compute.vm.status\",\"params\":{\"id\":\"note\"}},"
			     "1,"
			     "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.list\"},"
			     "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"nope\"}]");
	ck_assert(json_object_is_type(o, json_type_array));
	ck_assert_int_eq(json_object_array_length(o), 3);
	json_object_put(o);

	/* empty batch: one error object */
	o = mvmt_request(fd, "[]");
	ck_assert_int_eq(mvmt_int(o, "error.code"), -32600);
	json_object_put(o);

	/* all notifications: nothing at all. A connection's answers come in
	 * the order of its requests, so the answer to the next request is
	 * the first line only if the batch got none. */
	mvmt_send_line(fd, "[{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.list\"},{\"jsonrpc\":\"2.0\",\"method\":\"compute.node.info\"}]");
	o = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"after-batch\",\"method\":\"compute.vm.list\"}");
	ck_assert_str_eq(mvmt_str(o, "id"), "after-batch");
	json_object_put(o);

	/* ids echoed exactly */
	o = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"str-id\",\"method\":\"compute.vm.list\"}");
	ck_assert_str_eq(mvmt_str(o, "id"), "str-id");
	json_object_put(o);
	o = mvmt_request(fd, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"compute.vm.list\"}");
	ck_assert(json_object_is_type(mvmt_get(o, "id"), json_type_null));
	json_object_put(o);
}
END_TEST

START_TEST(test_follow_events)
{
	int f = mvmt_connect(d.sock);
	json_object *o = mvmt_result(f, "compute.vm.events.tail", "{\"follow\":true}");
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "events")), 0);
	json_object_put(o);

	char *id = create("{\"name\":\"followed\",\"memory_mib\":8}");
	const char *want[] = { "Provisioning", "Configured" };
	for (int i = 0; i < 2; i++) {
		char *line = mvmt_read_line(f, 5000);
		ck_assert_ptr_nonnull(line);
		o = json_tokener_parse(line);
		ck_assert_str_eq(mvmt_str(o, "method"), "compute.vm.event");
		ck_assert_ptr_null(mvmt_get(o, "id"));
		ck_assert_str_eq(mvmt_str(o, "params.to"), want[i]);
		ck_assert_str_eq(mvmt_str(o, "params.vm"), id);
		ck_assert_int_eq(mvmt_int(o, "params.seq"), i + 1);
		json_object_put(o);
		free(line);
	}
	/* the follower connection still answers requests */
	o = mvmt_result(f, "compute.vm.list", NULL);
	json_object_put(o);
	close(f);
	mvmt_forget_fd(f);
	/* a closed follower is forgotten; the daemon keeps working */
	o = mvmt_result(fd, "compute.vm.remove", "{\"id\":\"followed\"}");
	json_object_put(o);
	free(id);
}
END_TEST

START_TEST(test_no_fd_leak)
{
	/* A round trip first: connect() completes from the listen backlog,
	 * before the daemon has accepted (and holds an fd for) fd. */
	json_object_put(mvmt_result(fd, "compute.vm.list", NULL));
	mvmt_wait_pool_settled(fd);
	int base = mvmt_count_fds(d.pid);
	for (int i = 0; i < 50; i++) {
		int c = mvmt_connect(d.sock);
		mvmt_send_line(c, i % 2 ? "garbage" : "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"compute.vm.create\",\"params\":{\"name\":\"x/y\",\"memory_mib\":1}}");
		free(mvmt_read_line(c, 5000));
		close(c);
		mvmt_forget_fd(c);
	}
	/* let the daemon notice the closes */
	json_object *o = mvmt_result(fd, "compute.vm.list", NULL);
	json_object_put(o);
	usleep(100000);
	mvmt_wait_pool_settled(fd);
	ck_assert_int_eq(mvmt_count_fds(d.pid), base);
}
END_TEST

/* kill -9 with VMs in several states, restart: everything is still there */
START_TEST(test_restart_persistence)
{
	char *a = create("{\"name\":\"keep-a\",\"memory_mib\":16,\"labels\":{\"x\":\"1\"}}");
	char *b = create("{\"name\":\"keep-b\",\"memory_mib\":32,\"vcpus\":2}");
	json_object *before = mvmt_result(fd, "compute.vm.status", "{\"id\":\"keep-b\"}");
	json_object_put(mvmt_result(fd, "compute.vm.remove", "{\"id\":\"keep-a\"}"));
	char *c = create("{\"name\":\"keep-c\",\"memory_mib\":8}");

	close(fd);
	mvmt_forget_fd(fd);
	int st = mvmt_daemon_stop(&d, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);

	json_object *after = mvmt_result(fd, "compute.vm.status", "{\"id\":\"keep-b\"}");
	ck_assert_str_eq(json_object_to_json_string(before), json_object_to_json_string(after));
	json_object_put(before);
	json_object_put(after);
	ck_assert_int_eq(mvmt_error_code(fd, "compute.vm.status", "{\"id\":\"keep-a\"}"), -32001);
	json_object *o = mvmt_result(fd, "compute.vm.status", "{\"id\":\"keep-c\"}");
	ck_assert_str_eq(mvmt_str(o, "id"), c);
	json_object_put(o);

	/* Node sequence numbers never repeat: 6 transitions and keep-a's
	 * removal (5) happened before (keep-a's events left with its file),
	 * and after an unclean end they jump by 65536 (events written behind
	 * may have been lost with mvmd: a gap, never a number used twice).
	 * The ring still holds 3, 4, 6 and 7. */
	o = mvmt_result(fd, "compute.vm.events.tail", NULL);
	ck_assert_int_eq(mvmt_int(o, "next"), 8 + 65536);
	ck_assert_int_eq(mvmt_int(o, "events.0.seq"), 3);
	ck_assert_int_eq(mvmt_int(o, "events.2.seq"), 6);
	json_object_put(o);
	free(create("{\"name\":\"keep-d\",\"memory_mib\":8}"));
	o = mvmt_result(fd, "compute.vm.events.tail", "{\"since\":8}");
	ck_assert_int_eq(mvmt_int(o, "events.0.seq"), 8 + 65536);
	ck_assert_int_eq(mvmt_int(o, "next"), 10 + 65536);
	json_object_put(o);

	/* SIGTERM is a clean exit (status 0) and also keeps everything */
	close(fd);
	mvmt_forget_fd(fd);
	st = mvmt_daemon_stop(&d, SIGTERM);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(access(d.sock, F_OK), -1); /* own socket removed */
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	o = mvmt_result(fd, "compute.vm.list", NULL);
	ck_assert_int_eq(json_object_array_length(mvmt_get(o, "vms")), 3);
	json_object_put(o);
	/* after a clean exit the numbers go on with no gap, even when the
	 * VM holding the newest events is removed before the restart */
	o = mvmt_result(fd, "compute.vm.events.tail", NULL);
	ck_assert_int_eq(mvmt_int(o, "next"), 10 + 65536);
	json_object_put(o);
	/* (its removal is an event too: 10 + 65536) */
	json_object_put(mvmt_result(fd, "compute.vm.remove", "{\"id\":\"keep-d\"}"));
	close(fd);
	mvmt_forget_fd(fd);
	st = mvmt_daemon_stop(&d, SIGTERM);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	free(create("{\"name\":\"keep-e\",\"memory_mib\":8}"));
	o = mvmt_result(fd, "compute.vm.events.tail", "{\"since\":9}");
	ck_assert_int_eq(mvmt_int(o, "events.0.seq"), 11 + 65536);
	json_object_put(o);
	free(a);
	free(b);
	free(c);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

START_TEST(test_events_seq_file_damaged)
{
	/* A damaged events.seq changes nothing: the numbers go on from the
	 * VMs' files; mvmd writes a good one again, which the next unclean
	 * end then uses (a jump of 65536). */
	char path[512];
	free(create("{\"name\":\"seq-a\",\"memory_mib\":8}"));
	close(fd);
	mvmt_forget_fd(fd);
	ck_assert_int_eq(WEXITSTATUS(mvmt_daemon_stop(&d, SIGTERM)), 0);
	snprintf(path, sizeof(path), "%s/events.seq", d.state);
	write_file(path, "next=banana\n\1\2");
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	json_object *o = mvmt_result(fd, "compute.vm.events.tail", NULL);
	ck_assert_int_eq(mvmt_int(o, "next"), 3);
	json_object_put(o);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	o = mvmt_result(fd, "compute.vm.events.tail", NULL);
	ck_assert_int_eq(mvmt_int(o, "next"), 3 + 65536);
	json_object_put(o);
}
END_TEST

START_TEST(test_corrupt_and_future_state_files)
{
	char *a = create("{\"name\":\"corrupt\",\"memory_mib\":8}");
	char *b = create("{\"name\":\"future\",\"memory_mib\":8}");
	char pa[256], pb[256], text[512];

	snprintf(pa, sizeof(pa), "%s/vms/%s/state.json", d.state, a);
	snprintf(pb, sizeof(pb), "%s/vms/%s/state.json", d.state, b);
	close(fd);
	mvmt_forget_fd(fd);
	mvmt_daemon_stop(&d, SIGKILL);
	write_file(pa, "{\"version\": 1, \"id\": \"trunc");
	snprintf(text, sizeof(text), "{\"version\": 9, \"id\": \"%s\", \"spec\": {}, \"runtime\": {}, \"transitions\": []}", b);
	write_file(pb, text);

	mvmt_daemon_start(&d, NULL);
	fd = mvmt_connect(d.sock);
	json_object *o;
	char params[128];
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", a);
	o = mvmt_result(fd, "compute.vm.status", params);
	ck_assert_str_eq(mvmt_str(o, "state"), "Failed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(o, "cause"), "parse error"));
	json_object_put(o);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", b);
	o = mvmt_result(fd, "compute.vm.status", params);
	ck_assert_str_eq(mvmt_str(o, "state"), "Failed");
	ck_assert_ptr_nonnull(strstr(mvmt_str(o, "cause"), "version 9 is newer"));
	json_object_put(o);

	/* both files untouched */
	char *now = read_all(pa);
	ck_assert_str_eq(now, "{\"version\": 1, \"id\": \"trunc");
	free(now);
	now = read_all(pb);
	ck_assert_str_eq(now, text);
	free(now);

	/* and such a VM can still be removed */
	o = mvmt_result(fd, "compute.vm.remove", params);
	json_object_put(o);
	free(a);
	free(b);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "rpc",
		.timeout = 60,
		.setup = setup,
		.teardown = teardown,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_lifecycle),
			MVMT_TEST(test_create_errors_leave_nothing),
			MVMT_TEST(test_not_found_and_unknown_method),
			MVMT_TEST(test_max_vms),
			MVMT_TEST(test_host_files_need_privileged_client),
			MVMT_TEST(test_discover_matches_dispatch),
			MVMT_TEST(test_bad_input),
			MVMT_TEST(test_oversize_line_closes),
			MVMT_TEST(test_pipelined_1000),
			MVMT_TEST(test_batch_and_notifications),
			MVMT_TEST(test_follow_events),
			MVMT_TEST(test_no_fd_leak),
			MVMT_TEST(test_restart_persistence),
			MVMT_TEST(test_events_seq_file_damaged),
			MVMT_TEST(test_corrupt_and_future_state_files)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "mvmd", .tcases = tcases)
