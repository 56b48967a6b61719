/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl's VM commands: list, status, create, start, stop, rm, events.
 * Each one is a single documented method (docs/rpc-methods.md); with
 * --json its raw result is printed, else a table for people.
 */
#include "mvmctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse "K=V" into obj[K] = V; false when there is no '='. */
static bool add_pair(json_object *obj, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *k;

	if (!eq || eq == kv)
		return false;
	k = strndup(kv, (size_t)(eq - kv));
	if (!k)
		return false;
	json_object_object_add(obj, k, json_object_new_string(eq + 1));
	free(k);
	return true;
}

/* A non-negative integer option, or -1 (a usage error). */
static long long parse_count(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '-')
		return -1;
	v = strtoll(s, &end, 10);
	return *end ? -1 : v;
}

static json_object *id_params(const char *id)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string(id));
	return p;
}

/* Call method and print its result as JSON (--json) or with show(). */
static int call_and_show(ctl_t *c, const char *method, json_object *params, void (*show)(json_object *))
{
	json_object *res = NULL;
	int r = ctl_connect(c);

	if (r != CTL_OK) {
		json_object_put(params);
		return r;
	}
	r = ctl_call(c, method, params, &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json)
		ctl_print_json(res, false);
	else
		show(res);
	json_object_put(res);
	return CTL_OK;
}

/* --- list ---------------------------------------------------------------------- */

static void show_list(json_object *res)
{
	static const char *const hdr[] = { "ID", "NAME", "BACKEND", "STATE", "VCPUS", "MEMORY", "CAUSE" };
	json_object *vms = NULL;
	ctl_table_t *t = ctl_table_new(7, hdr);

	json_object_object_get_ex(res, "vms", &vms);
	for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
		json_object *vm = json_object_array_get_idx(vms, i);
		char vcpus[24], mem[32];
		snprintf(vcpus, sizeof(vcpus), "%lld", (long long)ctl_int(vm, "vcpus"));
		snprintf(mem, sizeof(mem), "%lld MiB", (long long)ctl_int(vm, "memory_mib"));
		const char *row[] = { ctl_str(vm, "id"), ctl_str(vm, "name"), ctl_str(vm, "backend"), ctl_str(vm, "state"),
				      vcpus, mem, ctl_str(vm, "cause") };
		ctl_table_add(t, row);
	}
	ctl_table_print(t);
	ctl_table_free(t);
}

int ctl_cmd_list(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *labels = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "s:l:", opts, NULL)) != -1) {
		if (opt == 's') {
			json_object_object_add(p, "state", json_object_new_string(optarg));
		} else if (opt == 'l') {
			if (!labels) {
				labels = json_object_new_object();
				json_object_object_add(p, "labels", labels);
			}
			if (!add_pair(labels, optarg)) {
				json_object_put(p);
				return ctl_usage_error("list: --label wants KEY=VALUE, not '%s'", optarg);
			}
		} else {
			json_object_put(p);
			return CTL_ERR_USAGE;
		}
	}
	if (optind < argc) {
		json_object_put(p);
		return ctl_usage_error("list: unexpected argument '%s'", argv[optind]);
	}
	return call_and_show(c, "compute.vm.list", p, show_list);
}

/* --- status -------------------------------------------------------------------- */

static void show_transitions(json_object *tr)
{
	static const char *const hdr[] = { "SEQ", "TIME", "FROM", "TO", "CAUSE" };
	ctl_table_t *t = ctl_table_new(5, hdr);

	for (size_t i = 0; i < json_object_array_length(tr); i++) {
		json_object *e = json_object_array_get_idx(tr, i);
		const char *row[] = { ctl_str(e, "seq"), ctl_str(e, "time"), ctl_str(e, "from"), ctl_str(e, "to"),
				      ctl_str(e, "cause") };
		ctl_table_add(t, row);
	}
	printf("\n");
	ctl_table_print(t);
	ctl_table_free(t);
}

/* Every member of the VM object, in mvmd's order, so fields added to
 * the object later show up without a change here. */
static void show_vm(json_object *vm)
{
	json_object *tr = NULL;

	json_object_object_foreach(vm, key, val) {
		if (strcmp(key, "transitions") == 0) {
			tr = val;
			continue;
		}
		if (json_object_is_type(val, json_type_object) && strcmp(key, "labels") == 0) {
			printf("%-18s%s", "labels:", json_object_object_length(val) ? "" : "-");
			bool first = true;
			json_object_object_foreach(val, lk, lv) {
				printf("%s%s=%s", first ? "" : ",", lk, json_object_get_string(lv));
				first = false;
			}
			printf("\n");
		} else {
			char k[64];
			snprintf(k, sizeof(k), "%s:", key);
			printf("%-18s%s\n", k,
			       json_object_is_type(val, json_type_string) ? json_object_get_string(val)
				       : json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		}
	}
	if (tr && json_object_is_type(tr, json_type_array))
		show_transitions(tr);
}

int ctl_cmd_status(ctl_t *c, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage_error("usage: mvmctl status ID");
	return call_and_show(c, "compute.vm.status", id_params(argv[1]), show_vm);
}

/* --- create -------------------------------------------------------------------- */

int ctl_cmd_create(ctl_t *c, int argc, char **argv)
{
	enum { O_NAME = 'n', O_BACKEND = 'b', O_VCPUS = 'c', O_MEMORY = 'm', O_LABEL = 'l', O_KERNEL = 256,
	       O_INITRAMFS, O_CMDLINE, O_WORKLOAD, O_ARG, O_ENV, O_CAP, O_WL_TIMEOUT, O_PARAMS, O_SNAPSHOT };
	static const struct option opts[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "label", required_argument, NULL, O_LABEL },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initramfs", required_argument, NULL, O_INITRAMFS },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "workload", required_argument, NULL, O_WORKLOAD },
		{ "arg", required_argument, NULL, O_ARG },
		{ "env", required_argument, NULL, O_ENV },
		{ "cap", required_argument, NULL, O_CAP },
		{ "workload-timeout-ms", required_argument, NULL, O_WL_TIMEOUT },
		{ "snapshot", required_argument, NULL, O_SNAPSHOT },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *labels = NULL, *wl = NULL, *wargs = NULL, *wenv = NULL,
		    *wcaps = NULL, *res = NULL;
	long long v;
	int opt, r;

#define CREATE_FAIL(...)                                \
	do {                                            \
		json_object_put(p);                     \
		json_object_put(wl);                    \
		return ctl_usage_error(__VA_ARGS__);    \
	} while (0)
	while ((opt = getopt_long(argc, argv, "n:b:c:m:l:", opts, NULL)) != -1) {
		switch (opt) {
		case O_NAME: json_object_object_add(p, "name", json_object_new_string(optarg)); break;
		case O_BACKEND: json_object_object_add(p, "backend", json_object_new_string(optarg)); break;
		case O_KERNEL: json_object_object_add(p, "kernel", json_object_new_string(optarg)); break;
		case O_INITRAMFS: json_object_object_add(p, "initramfs", json_object_new_string(optarg)); break;
		case O_CMDLINE: json_object_object_add(p, "cmdline", json_object_new_string(optarg)); break;
		case O_SNAPSHOT: json_object_object_add(p, "snapshot", json_object_new_string(optarg)); break;
		case O_VCPUS:
		case O_MEMORY:
			if ((v = parse_count(optarg)) < 0)
				CREATE_FAIL("create: --%s wants a number, not '%s'", opt == O_VCPUS ? "vcpus" : "memory", optarg);
			json_object_object_add(p, opt == O_VCPUS ? "vcpus" : "memory_mib", json_object_new_int64(v));
			break;
		case O_LABEL:
			if (!labels) {
				labels = json_object_new_object();
				json_object_object_add(p, "labels", labels);
			}
			if (!add_pair(labels, optarg))
				CREATE_FAIL("create: --label wants KEY=VALUE, not '%s'", optarg);
			break;
		case O_WORKLOAD:
		case O_ARG:
		case O_ENV:
		case O_CAP:
		case O_WL_TIMEOUT:
			if (!wl)
				wl = json_object_new_object();
			if (opt == O_WORKLOAD) {
				json_object_object_add(wl, "hash", json_object_new_string(optarg));
			} else if (opt == O_ARG) {
				if (!wargs)
					json_object_object_add(wl, "args", wargs = json_object_new_array());
				json_object_array_add(wargs, json_object_new_string(optarg));
			} else if (opt == O_ENV) {
				if (!wenv)
					json_object_object_add(wl, "env", wenv = json_object_new_object());
				if (!add_pair(wenv, optarg))
					CREATE_FAIL("create: --env wants NAME=VALUE, not '%s'", optarg);
			} else if (opt == O_CAP) {
				if (!wcaps)
					json_object_object_add(wl, "capabilities", wcaps = json_object_new_array());
				json_object_array_add(wcaps, json_object_new_string(optarg));
			} else {
				if ((v = parse_count(optarg)) < 0)
					CREATE_FAIL("create: --workload-timeout-ms wants a number, not '%s'", optarg);
				json_object_object_add(wl, "timeout_ms", json_object_new_int64(v));
			}
			break;
		default:
			json_object_put(p);
			json_object_put(wl);
			return CTL_ERR_USAGE;
		}
	}
	if (optind < argc)
		CREATE_FAIL("create: unexpected argument '%s'", argv[optind]);
	if (!ctl_has(p, "memory_mib"))
		CREATE_FAIL("create: --memory MIB is required");
	if (wl && !ctl_has(wl, "hash"))
		CREATE_FAIL("create: --arg, --env, --cap and --workload-timeout-ms need --workload HASH");
#undef CREATE_FAIL
	if (wl)
		json_object_object_add(p, "workload", wl);

	r = ctl_connect(c);
	if (r != CTL_OK) {
		json_object_put(p);
		return r;
	}
	r = ctl_call(c, "compute.vm.create", p, &res, NULL);
	if (r != CTL_OK)
		return r;
	if (c->json)
		ctl_print_json(res, false);
	else
		printf("%s\n", ctl_str(res, "id"));
	/* The VM exists (for inspection and rm) but cannot be started. */
	if (strcmp(ctl_str(res, "state"), "Failed") == 0) {
		fprintf(stderr, "mvmctl: VM %s was created Failed: %s\n", ctl_str(res, "id"), ctl_str(res, "cause"));
		r = CTL_ERR_RPC;
	}
	json_object_put(res);
	return r;
}

/* --- start, stop, rm ------------------------------------------------------------- */

static void show_state(json_object *vm)
{
	const char *name = ctl_str(vm, "name");
	printf("%s: %s", *name ? name : ctl_str(vm, "id"), ctl_str(vm, "state"));
	if (*ctl_str(vm, "cause"))
		printf(" (%s)", ctl_str(vm, "cause"));
	printf("\n");
}

static void show_removed(json_object *res)
{
	printf("removed %s\n", ctl_str(res, "id"));
}

/* start/stop/rm ID [--force] [--timeout-ms N] */
static int run_simple(ctl_t *c, int argc, char **argv, const char *method, bool force_ok, bool timeout_ok,
		      void (*show)(json_object *))
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "snapshot", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object();
	long long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "ft:s:", opts, NULL)) != -1) {
		/* start --snapshot N: restore the VM from its snapshot N */
		if (opt == 's' && strcmp(method, "compute.vm.start") == 0) {
			json_object_object_add(p, "snapshot", json_object_new_string(optarg));
		} else if (opt == 'f' && force_ok) {
			json_object_object_add(p, "force", json_object_new_boolean(1));
		} else if (opt == 't' && timeout_ok && (v = parse_count(optarg)) >= 0) {
			json_object_object_add(p, "timeout_ms", json_object_new_int64(v));
		} else {
			json_object_put(p);
			return ctl_usage_error("%s: bad option", argv[0]);
		}
	}
	if (optind + 1 != argc) {
		json_object_put(p);
		return ctl_usage_error("%s needs exactly one VM (id or name)", argv[0]);
	}
	json_object_object_add(p, "id", json_object_new_string(argv[optind]));
	return call_and_show(c, method, p, show);
}

int ctl_cmd_start(ctl_t *c, int argc, char **argv)
{
	return run_simple(c, argc, argv, "compute.vm.start", false, true, show_state);
}

int ctl_cmd_stop(ctl_t *c, int argc, char **argv)
{
	return run_simple(c, argc, argv, "compute.vm.stop", true, true, show_state);
}

int ctl_cmd_pause(ctl_t *c, int argc, char **argv)
{
	return run_simple(c, argc, argv, "compute.vm.pause", false, false, show_state);
}

int ctl_cmd_resume(ctl_t *c, int argc, char **argv)
{
	return run_simple(c, argc, argv, "compute.vm.resume", false, false, show_state);
}

static void show_snapshot(json_object *res)
{
	json_object *snap = NULL;

	(void)json_object_object_get_ex(res, "snapshot", &snap);
	printf("%s\n", ctl_str(snap, "path"));
	/* kvm: the blob, for create --snapshot */
	if (json_object_object_get_ex(snap, "hash", NULL))
		printf("%s\n", ctl_str(snap, "hash"));
}

int ctl_cmd_snapshot(ctl_t *c, int argc, char **argv)
{
	return run_simple(c, argc, argv, "compute.vm.snapshot", false, false, show_snapshot);
}

int ctl_cmd_rm(ctl_t *c, int argc, char **argv)
{
	return run_simple(c, argc, argv, "compute.vm.remove", true, false, show_removed);
}

/* --- events ------------------------------------------------------------------------ */

static void print_event(json_object *e)
{
	printf("%-6s  %-27s  %-36s  %-12s  %-12s  %s\n", ctl_str(e, "seq"), ctl_str(e, "time"), ctl_str(e, "vm"),
	       ctl_str(e, "from"), ctl_str(e, "to"), ctl_str(e, "cause"));
}

int ctl_cmd_events(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "id", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *p = json_object_new_object(), *res = NULL, *events = NULL, *msg;
	bool follow = false;
	long long v;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "fi:s:n:", opts, NULL)) != -1) {
		if (opt == 'f') {
			follow = true;
		} else if (opt == 'i') {
			json_object_object_add(p, "id", json_object_new_string(optarg));
		} else if ((opt == 's' || opt == 'n') && (v = parse_count(optarg)) >= 0) {
			json_object_object_add(p, opt == 's' ? "since" : "limit", json_object_new_int64(v));
		} else {
			json_object_put(p);
			return ctl_usage_error("events: bad option");
		}
	}
	if (optind < argc) {
		json_object_put(p);
		return ctl_usage_error("events: unexpected argument '%s'", argv[optind]);
	}
	if (follow)
		json_object_object_add(p, "follow", json_object_new_boolean(1));
	r = ctl_connect(c);
	if (r != CTL_OK) {
		json_object_put(p);
		return r;
	}
	r = ctl_call(c, "compute.vm.events.tail", p, &res, NULL);
	if (r != CTL_OK)
		return r;
	json_object_object_get_ex(res, "events", &events);
	if (c->json && !follow) {
		ctl_print_json(res, false);
	} else {
		if (!c->json)
			printf("%-6s  %-27s  %-36s  %-12s  %-12s  %s\n", "SEQ", "TIME", "VM", "FROM", "TO", "CAUSE");
		for (size_t i = 0; events && i < json_object_array_length(events); i++) {
			if (c->json)
				ctl_print_json(json_object_array_get_idx(events, i), false);
			else
				print_event(json_object_array_get_idx(events, i));
		}
	}
	if (ctl_int(res, "missed") > 0)
		fprintf(stderr, "mvmctl: %lld older events fell out of mvmd's ring\n", (long long)ctl_int(res, "missed"));
	if (!follow && json_object_get_boolean(json_object_object_get(res, "more")))
		fprintf(stderr, "mvmctl: more events follow: --since %lld\n", (long long)ctl_int(res, "next"));
	json_object_put(res);
	if (!follow)
		return CTL_OK;
	/* Followers get one compute.vm.event notification per transition
	 * until the connection closes. */
	fflush(stdout);
	while ((msg = ctl_read_message(c))) {
		json_object *params = NULL;
		if (strcmp(ctl_str(msg, "method"), "compute.vm.event") == 0 &&
		    json_object_object_get_ex(msg, "params", &params)) {
			if (c->json)
				ctl_print_json(params, false);
			else
				print_event(params);
			fflush(stdout);
		}
		json_object_put(msg);
	}
	fprintf(stderr, "mvmctl: mvmd closed the connection\n");
	return CTL_ERR_CONNECT;
}
