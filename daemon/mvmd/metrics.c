/* SPDX-License-Identifier: Apache-2.0 */
#include "metrics-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/macro.h"

/* Start latency (request → Running): a micro-VM from the pool takes about
 * a millisecond, a cold one tens, a Linux guest seconds. */
const double metrics_start_bounds[METRICS_START_BOUNDS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
							    0.5,   1,      2.5,   5,    10,    30,   60 };
/* RPC latency: most calls answer from memory in well under a
 * millisecond; a start, an exec or a blob put takes longer. */
const double metrics_rpc_bounds[METRICS_RPC_BOUNDS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
							0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10 };

static const char *const cause_names[_METRICS_CAUSE_MAX] = {
	[METRICS_CAUSE_GUEST_FAULT] = "guest_fault",
	[METRICS_CAUSE_WORKER_ERROR] = "worker_error",
	[METRICS_CAUSE_WORKER_LOST] = "worker_lost",
	[METRICS_CAUSE_TIMEOUT] = "timeout",
	[METRICS_CAUSE_KILLED] = "killed",
	[METRICS_CAUSE_START_INTERRUPTED] = "start_interrupted",
	[METRICS_CAUSE_BACKEND_UNAVAILABLE] = "backend_unavailable",
	[METRICS_CAUSE_SPAWN_FAILED] = "spawn_failed",
	[METRICS_CAUSE_VMM_API_ERROR] = "vmm_api_error",
	[METRICS_CAUSE_PROVISION_FAILED] = "provision_failed",
	[METRICS_CAUSE_EXIT_NONZERO] = "exit_nonzero",
	[METRICS_CAUSE_OTHER] = "other",
};

const char *metrics_cause_to_string(metrics_cause_t c)
{
	return c >= 0 && c < _METRICS_CAUSE_MAX ? cause_names[c] : NULL;
}

static const char *const exec_names[_METRICS_EXEC_MAX] = {
	[METRICS_EXEC_OK] = "ok",
	[METRICS_EXEC_EXIT_NONZERO] = "exit_nonzero",
	[METRICS_EXEC_SIGNALED] = "signaled",
	[METRICS_EXEC_TIMED_OUT] = "timed_out",
	[METRICS_EXEC_HOST_TIMEOUT] = "host_timeout",
	[METRICS_EXEC_UNREACHABLE] = "unreachable",
	[METRICS_EXEC_AGENT_ERROR] = "agent_error",
	[METRICS_EXEC_ERROR] = "error",
};

const char *metrics_exec_to_string(metrics_exec_t e)
{
	return e >= 0 && e < _METRICS_EXEC_MAX ? exec_names[e] : NULL;
}

/*
 * The causes the backends and the manager write (daemon/mvmd/kvm/backend-kvm.c,
 * daemon/mvmd/ch/backend-ch.c, daemon/mvmd/manager.c), by how they begin or
 * what they contain, first match wins. The words are the ones the VM's
 * cause shows to clients too (docs/rpc-methods.md), so a class stays what
 * an operator reading the cause would call it.
 */
static const struct cause_rule {
	bool prefix; /* else: anywhere in the cause */
	const char *text;
	metrics_cause_t cause;
} cause_rules[] = {
	{ true, "guest fault:", METRICS_CAUSE_GUEST_FAULT },
	{ true, "guest abort:", METRICS_CAUSE_GUEST_FAULT },
	{ true, "worker error:", METRICS_CAUSE_WORKER_ERROR },
	{ true, "start interrupted", METRICS_CAUSE_START_INTERRUPTED },
	{ false, "workload timeout", METRICS_CAUSE_TIMEOUT },
	{ true, "killed by ", METRICS_CAUSE_KILLED },
	{ true, "cloud-hypervisor killed:", METRICS_CAUSE_KILLED },
	{ true, "worker lost", METRICS_CAUSE_WORKER_LOST },
	{ true, "worker exited", METRICS_CAUSE_WORKER_LOST },
	{ true, "worker killed by signal", METRICS_CAUSE_WORKER_LOST },
	{ true, "worker ended without a result", METRICS_CAUSE_WORKER_LOST },
	{ true, "cloud-hypervisor exited", METRICS_CAUSE_WORKER_LOST },
	{ true, "cloud-hypervisor killed by signal", METRICS_CAUSE_WORKER_LOST },
	{ true, "cloud-hypervisor ended", METRICS_CAUSE_WORKER_LOST },
	{ true, "cloud-hypervisor's ", METRICS_CAUSE_VMM_API_ERROR },
	{ true, "cloud-hypervisor refused", METRICS_CAUSE_VMM_API_ERROR },
	{ false, "backend unavailable", METRICS_CAUSE_BACKEND_UNAVAILABLE },
};

metrics_cause_t metrics_cause_classify(vm_state_t from, vm_state_t to, const char *cause, bool exit_nonzero)
{
	if (to == VM_STATE_STOPPED)
		return exit_nonzero ? METRICS_CAUSE_EXIT_NONZERO : _METRICS_CAUSE_MAX;
	if (to != VM_STATE_FAILED && to != VM_STATE_START_FAILED)
		return _METRICS_CAUSE_MAX;
	if (from == VM_STATE_PROVISIONING)
		return METRICS_CAUSE_PROVISION_FAILED;
	if (cause)
		for (size_t i = 0; i < ELEMENTSOF(cause_rules); i++) {
			const struct cause_rule *r = &cause_rules[i];
			if (r->prefix ? strncmp(cause, r->text, strlen(r->text)) == 0 : strstr(cause, r->text) != NULL)
				return r->cause;
		}
	/* What else ends a start: the backend could not launch the VM
	 * (binary, image, kernel, command line, supervision). */
	return to == VM_STATE_START_FAILED ? METRICS_CAUSE_SPAWN_FAILED : METRICS_CAUSE_OTHER;
}

metrics_exec_t metrics_exec_classify(int rc, const exec_result_t *r)
{
	if (rc == -ECONNREFUSED || rc == -ENOENT || (rc == -ECONNRESET && !(r && r->exited)))
		return METRICS_EXEC_UNREACHABLE;
	if (rc == -ETIMEDOUT)
		return METRICS_EXEC_HOST_TIMEOUT;
	if (rc < 0 || !r)
		return METRICS_EXEC_ERROR;
	if (!r->exited)
		return METRICS_EXEC_AGENT_ERROR;
	if (r->timed_out)
		return METRICS_EXEC_TIMED_OUT;
	if (r->kind != EXEC_EXIT_CODE)
		return METRICS_EXEC_SIGNALED;
	return r->value == 0 ? METRICS_EXEC_OK : METRICS_EXEC_EXIT_NONZERO;
}

uint64_t metrics_now_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int metrics_new(manager_t *m, metrics_t **ret)
{
	metrics_t *mt = calloc(1, sizeof(*mt));

	if (!mt)
		return -ENOMEM;
	mt->manager = m;
	mt->born_mono_usec = metrics_now_mono_usec();
	mt->textfile_fd = -1;
	*ret = mt;
	return 0;
}

metrics_t *metrics_free(metrics_t *mt)
{
	if (!mt)
		return NULL;
	sd_event_source_disable_unref(mt->textfile_timer);
	safe_close(mt->textfile_fd);
	free(mt->textfile_name);
	free(mt->textfile_path);
	for (size_t i = 0; i < mt->n_methods; i++)
		free(mt->methods[i].name);
	free(mt);
	return NULL;
}

/* The Starting event a Running one ends, when this mvmd recorded it: a
 * start re-adopted after a restart, or recorded on another boot, has no
 * latency this process can tell. */
static void observe_start(metrics_t *mt, const vm_t *vm, const fsm_event_t *ev)
{
	const fsm_event_t *prev;

	if (vm->transitions.count < 2)
		return;
	prev = fsm_ring_get(&vm->transitions, vm->transitions.count - 2);
	if (!prev || prev->to != VM_STATE_STARTING || !prev->mono_usec || prev->mono_usec < mt->born_mono_usec ||
	    ev->mono_usec < prev->mono_usec)
		return;
	prom_hist_observe(&mt->start_latency[vm->backend], metrics_start_bounds, METRICS_START_BOUNDS,
			  (double)(ev->mono_usec - prev->mono_usec) / 1e6);
}

void metrics_on_event(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	metrics_t *mt = userdata;
	const vm_t *vm;
	metrics_cause_t c;

	if (ev->removed || ev->to < 0 || ev->to >= _VM_STATE_MAX)
		return;
	mt->transitions[ev->to]++;
	vm = manager_find(m, ev->vm);
	if (ev->to == VM_STATE_RUNNING && ev->from == VM_STATE_STARTING && vm && vm->backend >= 0 &&
	    vm->backend < _VM_BACKEND_MAX)
		observe_start(mt, vm, ev);
	c = metrics_cause_classify(ev->from, ev->to, ev->cause, vm && vm->has_exit_code && vm->exit_code != 0);
	if (c < _METRICS_CAUSE_MAX)
		mt->failures[c]++;
}

static metrics_method_t *method_slot(metrics_t *mt, const char *method)
{
	if (method) {
		/* Every call passes its method table's name: compare those
		 * addresses first (confirmed by one strcmp, in case a caller
		 * passed a string whose memory now holds another), the
		 * names themselves only for one not seen before. */
		for (size_t i = 0; i < mt->n_methods; i++)
			if (mt->methods[i].key == method && strcmp(mt->methods[i].name, method) == 0)
				return &mt->methods[i];
		for (size_t i = 0; i < mt->n_methods; i++)
			if (strcmp(mt->methods[i].name, method) == 0) {
				mt->methods[i].key = method;
				return &mt->methods[i];
			}
		/* Names come from the method table: the cap only guards
		 * against a table larger than anyone wrote. */
		if (mt->n_methods < METRICS_MAX_METHODS) {
			char *copy = strdup(method);
			if (copy) {
				metrics_method_t *s = &mt->methods[mt->n_methods++];
				s->name = copy;
				s->key = method;
				return s;
			}
		}
	}
	return &mt->unknown_method;
}

void metrics_rpc(metrics_t *mt, const char *method, int code, uint64_t usec)
{
	metrics_method_t *s;
	size_t i;

	if (!mt)
		return;
	s = method_slot(mt, method);
	prom_hist_observe(&s->latency, metrics_rpc_bounds, METRICS_RPC_BOUNDS, (double)usec / 1e6);
	for (i = 0; i < s->n_codes; i++)
		if (s->codes[i].code == code)
			break;
	if (i == s->n_codes) {
		if (s->n_codes == METRICS_MAX_CODES) {
			s->other_codes++;
			return;
		}
		s->codes[s->n_codes++].code = code;
	}
	s->codes[i].n++;
}

void metrics_rpc_observe(const char *method, int code, uint64_t usec, void *userdata)
{
	metrics_rpc(userdata, method, code, usec);
}

void metrics_exec(metrics_t *mt, metrics_exec_t e)
{
	if (mt && e >= 0 && e < _METRICS_EXEC_MAX)
		mt->execs[e]++;
}

static bool pull_word_ok(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return false;
	return n >= 1 && n <= 32;
}

void metrics_blob_pull(metrics_t *mt, const char *result)
{
	size_t i;

	if (!mt)
		return;
	if (!pull_word_ok(result) || strcmp(result, "other") == 0) {
		mt->pulls_other++;
		return;
	}
	for (i = 0; i < mt->n_pulls; i++)
		if (strcmp(mt->pulls[i].result, result) == 0)
			break;
	if (i == mt->n_pulls) {
		if (mt->n_pulls == METRICS_MAX_PULL_RESULTS) {
			mt->pulls_other++;
			return;
		}
		snprintf(mt->pulls[mt->n_pulls++].result, sizeof(mt->pulls[0].result), "%s", result);
	}
	mt->pulls[i].n++;
}
