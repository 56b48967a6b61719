/* SPDX-License-Identifier: Apache-2.0 */
/* The exposition (docs/operating.md, "Metrics", lists every family) and
 * the textfile that carries it to prometheus-node-exporter. */
#include "metrics-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capacity.h"
#include "kvm/backend-kvm.h"
#include "util/log.h"
#include "util/macro.h"

static void render_vms(prom_buf_t *b, manager_t *m)
{
	uint64_t count[_VM_STATE_MAX][_VM_BACKEND_MAX] = { 0 };
	size_t n;
	vm_t *const *vms = manager_vms(m, &n);

	for (size_t i = 0; i < n; i++)
		if (vms[i]->state >= 0 && vms[i]->state < _VM_STATE_MAX && vms[i]->backend >= 0 &&
		    vms[i]->backend < _VM_BACKEND_MAX)
			count[vms[i]->state][vms[i]->backend]++;
	/* Every state and backend, zeros too: a query for a state no VM
	 * is in finds 0, not nothing. */
	prom_family(b, "mvmd_vms", "gauge", "VMs on this node by state and backend.");
	for (int s = 0; s < _VM_STATE_MAX; s++)
		for (int be = 0; be < _VM_BACKEND_MAX; be++) {
			const char *l[] = { "state", vm_state_to_string(s), "backend", vm_backend_to_string(be), NULL };
			prom_sample_u64(b, "mvmd_vms", l, count[s][be]);
		}

	/* Each VM's process now: a kvm worker or cloud-hypervisor, read once
	 * for both families (one /proc/PID/stat each). */
	_cleanup_free_ capacity_proc_t *pc = n ? calloc(n, sizeof(*pc)) : NULL;
	_cleanup_free_ bool *have = n ? calloc(n, sizeof(*have)) : NULL;
	if (n && (!pc || !have)) {
		b->error = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		have[i] = vms[i]->pid > 0 && capacity_proc_read(vms[i]->pid, vms[i]->pid_starttime, &pc[i]) >= 0;
	prom_family(b, "mvmd_vm_cpu_seconds_total", "counter",
		    "CPU time (user and system) of the VM's process, from its start.");
	for (size_t i = 0; i < n; i++)
		if (have[i]) {
			const char *l[] = { "id", vms[i]->id, "name", vms[i]->name ? vms[i]->name : "", NULL };
			prom_sample(b, "mvmd_vm_cpu_seconds_total", l, pc[i].cpu_seconds);
		}
	prom_family(b, "mvmd_vm_rss_bytes", "gauge", "Resident memory of the VM's process.");
	for (size_t i = 0; i < n; i++)
		if (have[i]) {
			const char *l[] = { "id", vms[i]->id, "name", vms[i]->name ? vms[i]->name : "", NULL };
			prom_sample_u64(b, "mvmd_vm_rss_bytes", l, pc[i].rss_bytes);
		}
}

static void render_lifecycle(prom_buf_t *b, const metrics_t *mt)
{
	prom_family(b, "mvmd_vm_transitions_total", "counter", "VM state transitions by the state entered.");
	for (int s = 0; s < _VM_STATE_MAX; s++) {
		const char *l[] = { "to", vm_state_to_string(s), NULL };
		prom_sample_u64(b, "mvmd_vm_transitions_total", l, mt->transitions[s]);
	}
	prom_family(b, "mvmd_vm_failures_total", "counter",
		    "VMs that ended Failed or StartFailed, and workloads that exited non-zero, by cause class.");
	for (int c = 0; c < _METRICS_CAUSE_MAX; c++) {
		const char *l[] = { "cause", metrics_cause_to_string(c), NULL };
		prom_sample_u64(b, "mvmd_vm_failures_total", l, mt->failures[c]);
	}
	prom_family(b, "mvmd_vm_start_duration_seconds", "histogram",
		    "Time from a start request (Starting) to Running, for starts this mvmd saw through.");
	for (int be = 0; be < _VM_BACKEND_MAX; be++) {
		const char *l[] = { "backend", vm_backend_to_string(be), NULL };
		prom_hist_write(b, "mvmd_vm_start_duration_seconds", l, &mt->start_latency[be], metrics_start_bounds,
				METRICS_START_BOUNDS);
	}
}

static void render_rpc(prom_buf_t *b, const metrics_t *mt)
{
	char code[16];

	prom_family(b, "mvmd_rpc_requests_total", "counter",
		    "JSON-RPC requests answered, by method and error code (0: success; method \"unknown\": "
		    "no such method, or a request invalid before its method was known).");
	for (size_t i = 0; i <= mt->n_methods; i++) {
		const metrics_method_t *s = i < mt->n_methods ? &mt->methods[i] : &mt->unknown_method;
		const char *name = s->name ? s->name : "unknown";
		for (size_t j = 0; j < s->n_codes; j++) {
			snprintf(code, sizeof(code), "%d", s->codes[j].code);
			const char *l[] = { "method", name, "code", code, NULL };
			prom_sample_u64(b, "mvmd_rpc_requests_total", l, s->codes[j].n);
		}
		if (s->other_codes) {
			const char *l[] = { "method", name, "code", "other", NULL };
			prom_sample_u64(b, "mvmd_rpc_requests_total", l, s->other_codes);
		}
	}
	prom_family(b, "mvmd_rpc_request_duration_seconds", "histogram",
		    "Time from a JSON-RPC request's dispatch to its answer, by method.");
	for (size_t i = 0; i <= mt->n_methods; i++) {
		const metrics_method_t *s = i < mt->n_methods ? &mt->methods[i] : &mt->unknown_method;
		if (!s->latency.count)
			continue;
		const char *l[] = { "method", s->name ? s->name : "unknown", NULL };
		prom_hist_write(b, "mvmd_rpc_request_duration_seconds", l, &s->latency, metrics_rpc_bounds,
				METRICS_RPC_BOUNDS);
	}
}

static void render_pool(prom_buf_t *b, manager_t *m)
{
	kvm_pool_stats_t ps = { 0 };

	/* No pool (--kvm-pool 0, or no usable /dev/kvm): its families are
	 * there, at zero, so that dashboards need no special case. */
	(void)backend_kvm_pool_stats(m, &ps);
	const struct {
		const char *name, *help;
		uint64_t v;
	} counters[] = {
		{ "mvmd_kvm_pool_hits_total", "kvm starts given a warm worker.", ps.hits },
		{ "mvmd_kvm_pool_primed_hits_total", "Of those, given a worker primed with their module.", ps.primed_hits },
		{ "mvmd_kvm_pool_misses_total", "kvm starts the pool could not serve (started cold).", ps.misses },
		{ "mvmd_kvm_pool_spawned_total", "Warm workers started.", ps.spawned },
		{ "mvmd_kvm_pool_failures_total", "Warm workers that failed before they were ready.", ps.failures },
		{ "mvmd_kvm_pool_pauses_total", "Times the pool paused after failures in a row.", ps.pauses },
	};
	for (size_t i = 0; i < ELEMENTSOF(counters); i++) {
		prom_family(b, counters[i].name, "counter", counters[i].help);
		prom_sample_u64(b, counters[i].name, NULL, counters[i].v);
	}
	prom_family(b, "mvmd_kvm_pool_size", "gauge", "Warm workers the pool keeps (--kvm-pool).");
	prom_sample_u64(b, "mvmd_kvm_pool_size", NULL, ps.size);
	prom_family(b, "mvmd_kvm_pool_idle", "gauge", "Warm workers ready for a start now.");
	prom_sample_u64(b, "mvmd_kvm_pool_idle", NULL, ps.ready);
	prom_family(b, "mvmd_kvm_pool_warming", "gauge", "Warm workers started and not ready yet.");
	prom_sample_u64(b, "mvmd_kvm_pool_warming", NULL, ps.warming);
	prom_family(b, "mvmd_kvm_pool_paused", "gauge", "1 while the pool is paused after failures.");
	prom_sample_u64(b, "mvmd_kvm_pool_paused", NULL, ps.paused ? 1 : 0);
}

static void render_rest(prom_buf_t *b, manager_t *m, const metrics_t *mt)
{
	uint64_t n_blobs, blob_bytes;

	blob_store_usage(manager_blobs(m), &n_blobs, &blob_bytes);
	prom_family(b, "mvmd_blob_store_bytes", "gauge", "Bytes of the blobs in the content store.");
	prom_sample_u64(b, "mvmd_blob_store_bytes", NULL, blob_bytes);
	prom_family(b, "mvmd_blob_store_blobs", "gauge", "Blobs in the content store.");
	prom_sample_u64(b, "mvmd_blob_store_blobs", NULL, n_blobs);
	prom_family(b, "mvmd_blob_pulls_total", "counter", "Blob pulls from registries, by result.");
	for (size_t i = 0; i < mt->n_pulls; i++) {
		const char *l[] = { "result", mt->pulls[i].result, NULL };
		prom_sample_u64(b, "mvmd_blob_pulls_total", l, mt->pulls[i].n);
	}
	if (mt->pulls_other) {
		const char *l[] = { "result", "other", NULL };
		prom_sample_u64(b, "mvmd_blob_pulls_total", l, mt->pulls_other);
	}

	prom_family(b, "mvmd_exec_requests_total", "counter", "compute.vm.exec calls by how they ended.");
	for (int e = 0; e < _METRICS_EXEC_MAX; e++) {
		const char *l[] = { "result", metrics_exec_to_string(e), NULL };
		prom_sample_u64(b, "mvmd_exec_requests_total", l, mt->execs[e]);
	}

	prom_family(b, "mvmd_build_info", "gauge", "Always 1; the version of this mvmd.");
	const char *l[] = { "version", MVM_VERSION, NULL };
	prom_sample_u64(b, "mvmd_build_info", l, 1);
	prom_family(b, "mvmd_uptime_seconds", "gauge", "Seconds since this mvmd started.");
	prom_sample(b, "mvmd_uptime_seconds", NULL, (double)(metrics_now_mono_usec() - mt->born_mono_usec) / 1e6);
}

int metrics_render(manager_t *m, char **ret_text, size_t *ret_len)
{
	const metrics_t *mt = manager_metrics(m);
	prom_buf_t b = { 0 };

	if (!mt)
		return -ENOMEM;
	render_vms(&b, m);
	render_lifecycle(&b, mt);
	render_rpc(&b, mt);
	render_pool(&b, m);
	render_rest(&b, m, mt);
	return prom_buf_take(&b, ret_text, ret_len);
}

/* --- the textfile --------------------------------------------------------- */

static int textfile_write_now(metrics_t *mt)
{
	_cleanup_free_ char *text = NULL, *tmp = NULL;
	size_t len, off = 0;
	int fd, r;

	r = metrics_render(mt->manager, &text, &len);
	if (r < 0)
		return r;
	if (asprintf(&tmp, ".%s.%d.tmp", mt->textfile_name, (int)getpid()) < 0)
		return -ENOMEM;
	(void)unlinkat(mt->textfile_fd, tmp, 0); /* one this pid left, killed mid-write */
	fd = openat(mt->textfile_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return negative_errno();
	/* The collector runs as another user; the unit's UMask=0077 would
	 * hide the file from it. */
	r = fchmod(fd, 0644) < 0 ? negative_errno() : 0;
	while (r >= 0 && off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? negative_errno() : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 && r >= 0)
		r = negative_errno();
	if (r >= 0 && renameat(mt->textfile_fd, tmp, mt->textfile_fd, mt->textfile_name) < 0)
		r = negative_errno();
	if (r < 0)
		(void)unlinkat(mt->textfile_fd, tmp, 0);
	return r;
}

int metrics_textfile_write(manager_t *m)
{
	metrics_t *mt = manager_metrics(m);
	int r;

	if (!mt || mt->textfile_fd < 0)
		return 0;
	r = textfile_write_now(mt);
	/* A write that fails every interval is logged when it starts and
	 * when it stops failing, not every time. */
	if (r < 0 && r != mt->textfile_error)
		log_warning_errno(r, "cannot write the metrics textfile %s: %m", mt->textfile_path);
	else if (r >= 0 && mt->textfile_error)
		log_info("metrics textfile %s written again", mt->textfile_path);
	mt->textfile_error = r < 0 ? r : 0;
	return r;
}

static int on_textfile_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	metrics_t *mt = userdata;

	(void)metrics_textfile_write(mt->manager);
	(void)sd_event_source_set_time_relative(s, mt->textfile_interval_usec);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

int metrics_textfile_start(manager_t *m, const char *path, uint64_t interval_usec)
{
	metrics_t *mt = manager_metrics(m);
	_cleanup_free_ char *d = strdup(path), *f = strdup(path);
	int r;

	if (!mt || !d || !f)
		return -ENOMEM;
	if (path[0] != '/' || !*basename(f) || path[strlen(path) - 1] == '/')
		return -EINVAL;
	safe_close(mt->textfile_fd);
	mt->textfile_fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mt->textfile_fd < 0)
		return negative_errno();
	free(mt->textfile_name);
	free(mt->textfile_path);
	mt->textfile_name = strdup(basename(f));
	mt->textfile_path = strdup(path);
	if (!mt->textfile_name || !mt->textfile_path)
		return -ENOMEM;
	mt->textfile_interval_usec = interval_usec;
	r = textfile_write_now(mt);
	if (r < 0)
		return r;
	if (!manager_event(m))
		return 0;
	return sd_event_add_time_relative(manager_event(m), &mt->textfile_timer, CLOCK_MONOTONIC, interval_usec,
					  interval_usec / 20, on_textfile_timer, mt);
}
