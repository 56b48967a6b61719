/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a VM spec's "workload" for the kvm backend (workload.h). */
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "util/cause.h"
#include "util/macro.h"

static json_object *spec_workload(const vm_t *vm)
{
	json_object *w;

	if (vm->spec && json_object_object_get_ex(vm->spec, "workload", &w) && json_object_is_type(w, json_type_object))
		return w;
	return NULL;
}

/* The member `key` of w if it has type t (a state file edited by hand
 * must not reach json-c's type assertions). */
static json_object *member(json_object *w, const char *key, json_type t)
{
	json_object *v;

	if (json_object_object_get_ex(w, key, &v) && json_object_is_type(v, t))
		return v;
	return NULL;
}

bool workload_present(const vm_t *vm)
{
	return spec_workload(vm) != NULL;
}

uint64_t workload_timeout_ms(const vm_t *vm)
{
	json_object *w = spec_workload(vm), *v;
	int64_t t;

	if (!w || !(v = member(w, "timeout_ms", json_type_int)))
		return 0;
	t = json_object_get_int64(v);
	return t > 0 ? (uint64_t)t : 0;
}

uint64_t workload_send_timeout_ms(const vm_t *vm)
{
	json_object *w = spec_workload(vm), *v;
	int64_t t;

	if (!w || !(v = member(w, "send_timeout_ms", json_type_int)))
		return WORKLOAD_SEND_TIMEOUT_MS;
	t = json_object_get_int64(v);
	return t > 0 ? (uint64_t)t : WORKLOAD_SEND_TIMEOUT_MS;
}

json_object *workload_handles(const vm_t *vm)
{
	json_object *w = spec_workload(vm);
	return w ? member(w, "handles", json_type_array) : NULL;
}

unsigned workload_handles_index(const vm_t *vm, const char *iface)
{
	json_object *h = workload_handles(vm);

	for (size_t i = 0; h && i < json_object_array_length(h); i++) {
		json_object *s = json_object_array_get_idx(h, i);
		if (json_object_is_type(s, json_type_string) && strcmp(json_object_get_string(s), iface) == 0)
			return (unsigned)i + 1;
	}
	return 0;
}

bool workload_may_send(const vm_t *vm, const char *iface)
{
	json_object *w = spec_workload(vm), *c = w ? member(w, "capabilities", json_type_array) : NULL;

	for (size_t i = 0; c && i < json_object_array_length(c); i++) {
		json_object *s = json_object_array_get_idx(c, i);
		const char *t = json_object_is_type(s, json_type_string) ? json_object_get_string(s) : "";
		if (strncmp(t, "send:", 5) == 0 && strcmp(t + 5, iface) == 0)
			return true;
	}
	return false;
}

static const char *workload_hash(const vm_t *vm, char hex[static BLOB_HEX_LEN + 1])
{
	json_object *w = spec_workload(vm), *v;
	const char *h;

	if (!w || !(v = member(w, "hash", json_type_string)))
		return NULL;
	h = json_object_get_string(v);
	return h && blob_ref_to_hex(h, hex) == 0 ? h : NULL;
}

/* --- pull on demand (docs/blobs.md, "Pull on demand") ------------------------ */

typedef struct provision_pull {
	manager_t *m;
	char id[64];
} provision_pull_t;

/* "a: 404: blob unknown; b: cannot connect: ..." */
static void append_answers(FILE *f, json_object *answers)
{
	size_t n = answers ? json_object_array_length(answers) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(answers, i), *s, *why;
		fprintf(f, "%s%s: %s", i ? "; " : "",
			json_object_object_get_ex(a, "source", &s) ? json_object_get_string(s) : "?",
			json_object_object_get_ex(a, "reason", &why) ? json_object_get_string(why) : "no answer");
	}
}

/* The VM may have been removed (or failed otherwise) meanwhile: the blob
 * is stored all the same, the VM is left as it is. */
static void provision_pulled(const pull_result_t *res, void *userdata)
{
	_cleanup_free_ provision_pull_t *pp = userdata;
	_cleanup_free_ char *cause = NULL;
	vm_t *vm = manager_find(pp->m, pp->id);
	size_t len = 0;
	FILE *f;

	if (!vm || vm->state != VM_STATE_PROVISIONING)
		return;
	f = open_memstream(&cause, &len);
	if (!f)
		return;
	if (!res->error)
		fprintf(f, "provisioned: module pulled from %s", res->source ? res->source : "a source");
	else {
		fprintf(f, "module could not be pulled: %s", res->reason ? res->reason : res->error_class);
		if (res->answers && json_object_array_length(res->answers) > 0) {
			fprintf(f, " (");
			append_answers(f, res->answers);
			fprintf(f, ")");
		}
	}
	fclose(f);
	(void)manager_transition(pp->m, vm, res->error ? VM_STATE_FAILED : VM_STATE_CONFIGURED, cause);
}

static int provision_pull_start(manager_t *m, vm_t *vm, const char *hex)
{
	provision_pull_t *pp = calloc(1, sizeof(*pp));
	pull_spec_t spec = { .wasm = true };
	int r;

	if (!pp)
		return -ENOMEM;
	pp->m = m;
	snprintf(pp->id, sizeof(pp->id), "%s", vm->id);
	memcpy(spec.hex, hex, sizeof(spec.hex));
	r = puller_start(manager_puller(m), &spec, provision_pulled, NULL, pp, NULL);
	if (r < 0) {
		free(pp);
		return r;
	}
	return -EINPROGRESS;
}

int workload_provision(manager_t *m, vm_t *vm, char **ret_cause)
{
	char hex[BLOB_HEX_LEN + 1];
	blob_info_t info;
	const char *h;
	int r;

	if (!spec_workload(vm))
		return 0;
	h = workload_hash(vm, hex);
	if (!h) {
		return set_cause(ret_cause, -EINVAL, "workload hash is not sha256:<64 lowercase hex>");
	}
	r = blob_stat(manager_blobs(m), hex, &info);
	if (r == -ENOENT && puller_has_sources(manager_puller(m))) {
		/* Missing here: the VM stays Provisioning while it is pulled. */
		r = provision_pull_start(m, vm, hex);
		if (r == -EINPROGRESS)
			return r;
		return set_cause(ret_cause, r, "blob not found: %s, and its pull could not start: %s", h, strerror(-r));
	}
	if (r < 0)
		return set_cause(ret_cause, r, r == -ENOENT ? "blob not found: %s" : "blob %s: %s", h, strerror(-r));
	return 0;
}

int workload_start_prepare(manager_t *m, vm_t *vm, workload_start_t *ret, char **ret_cause)
{
	char hex[BLOB_HEX_LEN + 1];
	json_object *w = spec_workload(vm), *v;
	workload_start_t *s = ret;
	int r;

	memset(s, 0, sizeof(*s));
	s->blob_fd = -1;
	s->hash = workload_hash(vm, hex);
	if (!w || !s->hash) {
		return set_cause(ret_cause, -EINVAL, "workload hash is not sha256:<64 lowercase hex>");
	}
	/* Not verified here: the worker hashes what it reads, off mvmd's loop. */
	r = blob_open(manager_blobs(m), hex, false, &s->blob_fd, NULL);
	if (r < 0)
		return set_cause(ret_cause, r, r == -ENOENT ? "blob not found: %s" : "blob %s: %s", s->hash, strerror(-r));
	if ((v = member(w, "args", json_type_array)))
		for (size_t i = 0; i < json_object_array_length(v) && s->nargs < WORKLOAD_LIST_MAX; i++)
			s->args[s->nargs++] = json_object_get_string(json_object_array_get_idx(v, i));
	if ((v = member(w, "capabilities", json_type_array)))
		for (size_t i = 0; i < json_object_array_length(v) && s->ncaps < WORKLOAD_LIST_MAX; i++)
			s->caps[s->ncaps++] = json_object_get_string(json_object_array_get_idx(v, i));
	if ((v = member(w, "env", json_type_object))) {
		json_object_object_foreach(v, key, val) {
			if (s->nenvs == WORKLOAD_LIST_MAX)
				break;
			if (asprintf(&s->envs[s->nenvs], "%s=%s", key, json_object_get_string(val)) < 0) {
				workload_start_done(s);
				return -ENOMEM;
			}
			s->nenvs++;
		}
	}
	s->timeout_ms = workload_timeout_ms(vm);
	return 0;
}

void workload_start_done(workload_start_t *w)
{
	w->blob_fd = safe_close(w->blob_fd);
	for (size_t i = 0; i < w->nenvs; i++)
		free(w->envs[i]);
	w->nenvs = 0;
}

uint64_t workload_timeout_left_usec(uint64_t timeout_ms, uint64_t start_ticks)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t now, start, end;

	if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return timeout_ms * 1000u;
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	start = start_ticks * 1000000u / (uint64_t)hz;
	end = start + timeout_ms * 1000u;
	return end > now ? end - now : 0;
}
