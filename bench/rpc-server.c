/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc-server: the rpc/ server with one trivial method, for bench/rpc.sh
 * when build/bin/mvmd is not there. "compute.vm.status" answers a small
 * VM-like object for any id, so the request and response look like the
 * daemon's.
 *
 *   rpc-server SOCKET_PATH
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "rpc.h"

static void m_status(rpc_call_t *call, json_object *params, void *userdata)
{
	json_object *r = json_object_new_object(), *id;
	json_object_object_get_ex(params, "id", &id);
	json_object_object_add(r, "id", json_object_get(id));
	json_object_object_add(r, "state", json_object_new_string("Running"));
	json_object_object_add(r, "pid", json_object_new_int(4242));
	rpc_call_reply(call, r);
}

static const rpc_field_t status_params[] = {
	{ "id", true, { .type = RPC_TYPE_STRING, .has_min = true, .min = 1, .has_max = true, .max = 64 } },
	{ NULL },
};
static const rpc_method_t methods[] = {
	{ "compute.vm.status", "VM status (benchmark stand-in)", status_params, NULL, m_status, 0 },
};

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
	sd_event *e = NULL;
	rpc_server_t *s = NULL;
	int fd, r;

	if (argc != 2) {
		fprintf(stderr, "usage: rpc-server SOCKET_PATH\n");
		return 2;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if ((r = sd_event_default(&e)) < 0 || (r = rpc_listen_unix(argv[1], 0600, (gid_t)-1, &fd)) < 0 ||
	    (r = rpc_server_new(e, methods, 1, NULL, "rpc-bench", "0", NULL, &s)) < 0 ||
	    (r = rpc_server_add_listener(s, fd)) < 0) {
		fprintf(stderr, "rpc-server: setup failed: %d\n", r);
		return 1;
	}
	sd_event_add_signal(e, NULL, SIGTERM, on_term, NULL);
	sd_event_add_signal(e, NULL, SIGINT, on_term, NULL);
	r = sd_event_loop(e);
	rpc_server_free(s);
	sd_event_unref(e);
	return r < 0 ? 1 : 0;
}
