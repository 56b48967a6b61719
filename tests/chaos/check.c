/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The invariants, checked after every restart (docs/hacking.md, "The
 * chaos campaign"). Two moments: while mvmd is down (nothing writes state
 * files then, so every state.json and blob is looked at as a restarted
 * mvmd will find it, and the temp files a crash left are noted), and once
 * a plain mvmd answers again on the same state directory (what it reports
 * of each VM, that the noted temp files are gone, that no worker runs for
 * a VM that does not own it).
 */
#include "chaos.h"

#include <ctype.h>
#include <signal.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mvmtest.h"
#include "util/sha256.h"

/* The FSM table of docs/architecture.md (daemon/mvmd/fsm.c is the authority). */
static const char *const fsm_states[] = { "Pending", "Provisioning", "Configured", "Starting", "Running",
					  "StartFailed", "Stopping", "Stopped", "Failed" };
static const char *const fsm_edges[] = {
	"Pending>Provisioning", "Provisioning>Configured", "Provisioning>Failed", "Configured>Starting",
	"Starting>Running", "Starting>StartFailed", "Starting>Failed", "Starting>Stopping",
	"Running>Stopping", "Running>Stopped", "Running>Failed", "StartFailed>Starting",
	"Stopping>Stopped", "Stopping>Failed", "Stopped>Starting", "Failed>Starting",
};

static bool state_known(const char *s)
{
	for (size_t i = 0; s && i < sizeof(fsm_states) / sizeof(fsm_states[0]); i++)
		if (!strcmp(s, fsm_states[i]))
			return true;
	return false;
}

static bool edge_legal(const char *from, const char *to)
{
	char e[40];

	snprintf(e, sizeof(e), "%s>%s", from, to);
	for (size_t i = 0; i < sizeof(fsm_edges) / sizeof(fsm_edges[0]); i++)
		if (!strcmp(e, fsm_edges[i]))
			return true;
	return false;
}

static bool state_active(const char *s)
{
	return s && (!strcmp(s, "Starting") || !strcmp(s, "Running") || !strcmp(s, "Stopping"));
}

/* "2026-12-07T06:24:13.123456Z" as microseconds, 0 when unreadable. */
static long long time_usec(const char *s)
{
	struct tm tm = { 0 };
	int us = 0;

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec, &us) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000000LL + us;
}

/* --- while mvmd is down -------------------------------------------------- */

static void note_leftover(chaos_t *c, const char *path)
{
	c->leftovers = realloc(c->leftovers, (c->n_leftovers + 1) * sizeof(*c->leftovers));
	if (!c->leftovers || !(c->leftovers[c->n_leftovers] = strdup(path)))
		exit(2);
	c->n_leftovers++;
}

static void check_state_file(chaos_t *c, const char *dir, const char *id)
{
	char path[1100];
	json_object *o;

	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (access(path, F_OK) < 0)
		return; /* a half-made or half-removed VM: its status says which */
	o = json_object_from_file(path);
	if (!o) {
		const char *why = json_util_get_last_err();
		why = why ? why : "";
		chaos_violation(c, "%s does not parse: %.*s", path, (int)strcspn(why, "\n"), why);
		return;
	}
	const char *fid = json_str_at(o, "id"), *st = json_str_at(o, "runtime.state");
	if (!fid || strcmp(fid, id) || !json_at(o, "version") || !json_at(o, "spec") || !state_known(st))
		chaos_violation(c, "%s is incomplete or not this VM's: %.300s", path, json_object_to_json_string(o));
	json_object_put(o);
}

static void check_blob_file(chaos_t *c, const char *dir, const char *name)
{
	char path[1400], hex[65];
	uint8_t md[SHA256_DIGEST_LEN], buf[65536];
	sha256_ctx h;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		chaos_violation(c, "cannot open blob %s: %m", path);
		return;
	}
	sha256_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&h, buf, (size_t)n);
	close(fd);
	sha256_final(&h, md);
	for (int i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (n < 0 || strcmp(hex, name))
		chaos_violation(c, "blob %s hashes to %s", name, n < 0 ? "(read error)" : hex);
}

/* Walk STATE_DIR: note dot-files (temp files, tombstones), check every
 * state.json and every blob. */
static void walk(chaos_t *c, const char *dir, int depth, bool in_vms, bool in_blobs)
{
	DIR *d = opendir(dir);
	char path[1024];

	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.') {
			note_leftover(c, path);
			continue;
		}
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		if (in_vms && S_ISDIR(st.st_mode))
			check_state_file(c, path, de->d_name);
		else if (in_blobs && S_ISREG(st.st_mode))
			check_blob_file(c, dir, de->d_name);
		if (S_ISDIR(st.st_mode) && depth < 3)
			walk(c, path, depth + 1, depth == 0 && !strcmp(de->d_name, "vms"),
			     !strcmp(de->d_name, "sha256") && strstr(dir, "/blobs"));
	}
	closedir(d);
}

void chaos_check_dead(chaos_t *c)
{
	for (size_t i = 0; i < c->n_leftovers; i++)
		free(c->leftovers[i]);
	c->n_leftovers = 0;
	walk(c, c->state, 0, false, false);
	/* An answered put is in the store: a kill loses no renamed file. */
	for (size_t i = 0; i < c->n_blobs; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", c->state, c->blobs[i].hex);
		if (c->blobs[i].acked && access(path, F_OK) < 0)
			chaos_violation(c, "acknowledged blob %s is missing", c->blobs[i].hex);
	}
}

/* --- workers --------------------------------------------------------------- */

size_t chaos_workers(chaos_t *c, pid_t *pids, char (*ids)[40], size_t max)
{
	char prefix[200], path[300], link[600];
	size_t n = 0, plen;
	DIR *proc = opendir("/proc");

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/vms/", c->state);
	if (!proc)
		return 0;
	for (struct dirent *de; n < max && (de = readdir(proc));) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		ssize_t k = readlink(path, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		const char *base = strrchr(link, '/');
		if (!base || (strncmp(base + 1, "mvm-vmm", 7) && strncmp(base + 1, "fake-cloud-hypervisor", 21)) ||
		    mvmt_process_ended(pid))
			continue;
		/* A worker holds its VM's result file and worker.log open, a
		 * cloud-hypervisor its ch.log. */
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		for (struct dirent *fe; (fe = readdir(fds));) {
			char fp[400];
			snprintf(fp, sizeof(fp), "/proc/%d/fd/%s", (int)pid, fe->d_name);
			k = readlink(fp, link, sizeof(link) - 1);
			if (k <= 0)
				continue;
			link[k] = '\0';
			if (strncmp(link, prefix, plen))
				continue;
			/* vms/<id>/..., or its tombstone vms/.<id>.removing/... */
			const char *id = link + plen + (link[plen] == '.');
			if (strlen(id) < 36)
				continue;
			pids[n] = pid;
			memcpy(ids[n], id, 36);
			ids[n][36] = '\0';
			n++;
			break;
		}
		closedir(fds);
	}
	closedir(proc);
	return n;
}

/* A worker is owned when its VM exists, is active, and names it. */
static bool worker_owned(chaos_conn_t *k, pid_t pid, const char *id, char *why, size_t why_len)
{
	char params[128];

	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	json_object *o = conn_call(k, "compute.vm.status", params, 10000);
	const char *st = json_str_at(o, "result.state");
	json_object *p = json_at(o, "result.pid");
	bool ok = state_active(st) && (!p || json_object_get_int(p) == pid);
	snprintf(why, why_len, "%s%s pid %d", st ? "VM is " : "VM not found", st ? st : "",
		 p ? json_object_get_int(p) : 0);
	json_object_put(o);
	return ok;
}

static void check_orphans(chaos_t *c, chaos_conn_t *k)
{
	pid_t pids[256];
	char ids[256][40], why[128] = "";
	size_t n = 0;

	/* A worker that just sent its RESULT only tears its VM down: give
	 * such transient ones 10 s to be gone before calling them orphans. */
	for (int round = 0; round < 100; round++) {
		size_t bad = 0;
		n = chaos_workers(c, pids, ids, 256);
		for (size_t i = 0; i < n; i++)
			if (!worker_owned(k, pids[i], ids[i], why, sizeof(why)))
				pids[bad] = pids[i], memcpy(ids[bad], ids[i], 40), bad++;
		n = bad;
		if (!n)
			return;
		usleep(100000);
	}
	for (size_t i = 0; i < n; i++) {
		char exe[512] = "", path[64];
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pids[i]);
		ssize_t len = readlink(path, exe, sizeof(exe) - 1);
		exe[len > 0 ? len : 0] = '\0';
		worker_owned(k, pids[i], ids[i], why, sizeof(why));
		chaos_violation(c, "orphan %s pid %d of VM %s (%s)", strrchr(exe, '/') ? strrchr(exe, '/') + 1 : "worker",
				(int)pids[i], ids[i], why);
		/* Reported once: it is a process of this run's mvmd, and left
		 * alone it would be waited for at every later check. */
		kill(pids[i], SIGKILL);
	}
}

/* --- one VM ----------------------------------------------------------------- */

static void check_history(chaos_t *c, chaos_vm_t *v, json_object *s)
{
	json_object *tr = json_at(s, "transitions");
	const char *state = json_str_at(s, "state"), *prev_to = NULL;
	long long starting_usec = 0, seq_prev = 0;
	size_t n = tr && json_object_is_type(tr, json_type_array) ? json_object_array_length(tr) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(tr, i);
		const char *from = json_str_at(e, "from"), *to = json_str_at(e, "to");
		long long seq = json_object_get_int64(json_at(e, "seq"));
		if (!from || !to || !edge_legal(from, to))
			chaos_violation(c, "VM %s: illegal transition %s -> %s", v->name, from ? from : "?", to ? to : "?");
		if (seq <= seq_prev)
			chaos_violation(c, "VM %s: transition seq %lld after %lld", v->name, seq, seq_prev);
		if (prev_to && from && strcmp(prev_to, from))
			chaos_violation(c, "VM %s: history jumps from %s to a transition out of %s", v->name, prev_to, from);
		seq_prev = seq;
		prev_to = to;
		if (to && !strcmp(to, "Starting"))
			starting_usec = time_usec(json_str_at(e, "time"));
		/* A sleeper cannot end with its exit code before its sleep is
		 * over: such a Stopped replays an earlier run's result. */
		if (v->kind == KIND_SLEEP && to && !strcmp(to, "Stopped") && from && !strcmp(from, "Running") && starting_usec &&
		    strstr(json_str_at(e, "cause") ? json_str_at(e, "cause") : "", "exited with code")) {
			long long took = time_usec(json_str_at(e, "time")) - starting_usec;
			if (took < v->sleep_ms * 800LL)
				chaos_violation(c, "VM %s (sleeps %d ms): Stopped \"%s\" %lld ms after its Starting: "
						"a run that did not happen", v->name, v->sleep_ms,
						json_str_at(e, "cause"), took / 1000);
		}
	}
	if (n && prev_to && state && strcmp(prev_to, state))
		chaos_violation(c, "VM %s: state %s but its last transition goes to %s", v->name, state, prev_to);
	/* A start answered with the VM started ran: its end is Stopped or
	 * Failed, never StartFailed, even when mvmd died before it wrote
	 * Running (docs/state.md, a recorded process that is gone). */
	for (size_t i = n; v->start_acked && i-- > 0;) {
		json_object *e = json_object_array_get_idx(tr, i);
		const char *from = json_str_at(e, "from"), *to = json_str_at(e, "to");
		if (to && !strcmp(to, "Starting"))
			break; /* the answered run's Starting: nothing after it failed to start */
		if (from && to && !strcmp(from, "Starting") && !strcmp(to, "StartFailed")) {
			chaos_violation(c, "VM %s: its start was answered started, yet it is StartFailed \"%s\"", v->name,
					json_str_at(e, "cause") ? json_str_at(e, "cause") : "");
			v->start_acked = false; /* reported once */
		}
	}
}

/* False when the VM is broken for good (its state file): the caller
 * removes it, so that it is reported once, not at every later check. */
static bool check_vm(chaos_t *c, chaos_vm_t *v, json_object *s)
{
	const char *state = json_str_at(s, "state"), *err = json_str_at(s, "state_file_error");
	json_object *ec = json_at(s, "exit_code");

	if (!state_known(state))
		chaos_violation(c, "VM %s: unknown state %s", v->name, state ? state : "(none)");
	if (err)
		chaos_violation(c, "VM %s is %s because of its state file: %s (cause: %s)", v->name, state, err,
				json_str_at(s, "cause") ? json_str_at(s, "cause") : "");
	check_history(c, v, s);
	/* Only a VM that ended on its own (Running -> Stopped) has the exit
	 * code of its program: a stopped guest may exit its own way. */
	json_object *tr = json_at(s, "transitions");
	size_t n = tr && json_object_is_type(tr, json_type_array) ? json_object_array_length(tr) : 0;
	const char *from = n ? json_str_at(json_object_array_get_idx(tr, n - 1), "from") : NULL;
	if (!state || strcmp(state, "Stopped") || !ec || !from || strcmp(from, "Running"))
		return !err;
	int code = json_object_get_int(ec);
	if (v->kind == KIND_SPIN || v->kind == KIND_PLAIN || v->kind == KIND_CH)
		chaos_violation(c, "VM %s never exits on its own, yet is Stopped with exit_code %d", v->name, code);
	else if (code != v->code)
		chaos_violation(c, "VM %s was told to exit with %d, reports exit_code %d (%s)", v->name, v->code, code,
				json_str_at(s, "cause") ? json_str_at(s, "cause") : "");
	return !err;
}

/* A broken VM, reported: remove it (by id), so the campaign goes on from
 * a clean state and reports the next defect, not this one again. */
static bool remove_broken(chaos_conn_t *k, const char *id)
{
	char params[128];

	snprintf(params, sizeof(params), "{\"id\":\"%s\",\"force\":true}", id);
	json_object *o = conn_call(k, "compute.vm.remove", params, 10000);
	bool ok = json_at(o, "result") != NULL;
	json_object_put(o);
	return ok;
}

/* --- after a restart -------------------------------------------------------- */

static json_object *find_in(json_object *vms, const char *key, const char *val)
{
	for (size_t i = 0; val && val[0] && i < json_object_array_length(vms); i++) {
		json_object *e = json_object_array_get_idx(vms, i);
		const char *s = json_str_at(e, key);
		if (s && !strcmp(s, val))
			return e;
	}
	return NULL;
}

static void check_listing(chaos_t *c, chaos_conn_t *k, json_object *vms)
{
	size_t n = json_object_array_length(vms);

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(vms, i);
		const char *id = json_str_at(e, "id"), *name = json_str_at(e, "name");
		for (size_t j = i + 1; j < n; j++) {
			json_object *f = json_object_array_get_idx(vms, j);
			if (id && json_str_at(f, "id") && !strcmp(id, json_str_at(f, "id")))
				chaos_violation(c, "VM id %s listed twice", id);
			if (name && json_str_at(f, "name") && !strcmp(name, json_str_at(f, "name")))
				chaos_violation(c, "VM name %s listed twice", name);
		}
		chaos_vm_t *v = name ? chaos_vm_by_name(c, name) : NULL;
		if (!v && id)
			v = chaos_vm_by_id(c, id);
		if (!v) {
			chaos_violation(c, "unknown VM %s named %s (%s, %s)", id ? id : "?", name ? name : "null",
					json_str_at(e, "state"), json_str_at(e, "cause") ? json_str_at(e, "cause") : "");
			if (id)
				remove_broken(k, id);
		}
	}
}

/* Settle what the last run left unanswered, then hold mvmd to the rest. */
static void check_model(chaos_t *c, chaos_conn_t *k, json_object *vms)
{
	for (size_t i = 0; i < c->n_vms; i++) {
		chaos_vm_t *v = &c->vms[i];
		json_object *by_name = find_in(vms, "name", v->name), *by_id = find_in(vms, "id", v->id);

		if (v->created == CR_SENT) {
			v->created = by_name ? CR_ACKED : CR_ABSENT;
			if (by_name)
				snprintf(v->id, sizeof(v->id), "%s", json_str_at(by_name, "id"));
			by_id = by_name;
		}
		if (v->created != CR_ACKED) {
			if (by_name || by_id)
				chaos_violation(c, "VM %s exists though its create %s", v->name,
						v->created == CR_REFUSED ? "was refused" : "vanished at an earlier restart");
			continue;
		}
		if (v->removed == RM_SENT)
			v->removed = by_id || by_name ? RM_NONE : RM_ACKED;
		else if (v->removed == RM_ACKED) {
			if (by_id || by_name)
				chaos_violation(c, "VM %s (%s) is back after an acknowledged remove (%s, %s)", v->name, v->id,
						json_str_at(by_id ? by_id : by_name, "state"),
						json_str_at(by_id ? by_id : by_name, "cause"));
			continue;
		}
		if (v->removed == RM_ACKED)
			continue;
		if (!by_id) {
			chaos_violation(c, "acknowledged VM %s (%s) is lost%s", v->name, v->id,
					by_name ? " (its name now names another id)" : "");
			v->removed = RM_ACKED; /* report it once */
			continue;
		}
		bool broken = !by_name || by_name != by_id;
		if (broken)
			chaos_violation(c, "VM %s (%s) is not found by its name", v->name, v->id);
		char params[128];
		snprintf(params, sizeof(params), "{\"id\":\"%s\"}", v->id);
		json_object *o = conn_call(k, "compute.vm.status", params, 10000);
		json_object *s = json_at(o, "result");
		if (!s)
			chaos_violation(c, "status of listed VM %s: %s", v->name, o ? json_object_to_json_string(o) : "no answer");
		else if (!check_vm(c, v, s))
			broken = true;
		json_object_put(o);
		if (broken && remove_broken(k, v->id))
			v->removed = RM_ACKED;
	}
}

/* A file left behind stays there until its VM is removed: once is enough. */
static bool already_reported(chaos_t *c, const char *path)
{
	for (size_t i = 0; i < c->n_reported; i++)
		if (!strcmp(c->reported[i], path))
			return true;
	c->reported = realloc(c->reported, (c->n_reported + 1) * sizeof(*c->reported));
	if (!c->reported || !(c->reported[c->n_reported] = strdup(path)))
		exit(2);
	c->n_reported++;
	return false;
}

/* What was in vms/ or a temp file while mvmd was down must now be a VM
 * or gone: a restarted mvmd cleans what a crash left. */
static void check_disk(chaos_t *c, json_object *vms)
{
	char path[1024];

	for (size_t i = 0; i < c->n_leftovers; i++)
		if (access(c->leftovers[i], F_OK) == 0 && !already_reported(c, c->leftovers[i]))
			chaos_violation(c, "temp file survived the restart: %s", c->leftovers[i] + strlen(c->state) + 1);
	snprintf(path, sizeof(path), "%s/vms", c->state);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.' && !find_in(vms, "id", de->d_name))
			chaos_violation(c, "vms/%s is on disk but no VM", de->d_name);
	closedir(d);
}

void chaos_check(chaos_t *c)
{
	chaos_conn_t k;

	if (conn_open(&k, c->sock) < 0) {
		chaos_violation(c, "cannot connect to the restarted mvmd");
		return;
	}
	json_object *o = conn_call(&k, "compute.vm.list", NULL, 10000);
	json_object *vms = json_at(o, "result.vms");
	if (!vms || !json_object_is_type(vms, json_type_array)) {
		chaos_violation(c, "compute.vm.list: %s", o ? json_object_to_json_string(o) : "no answer");
	} else {
		if (c->verbose) {
			static const char *const st[] = { "Configured", "Running", "Stopped", "StartFailed", "Failed" };
			printf("iter %u: %zu VMs:", c->iter, json_object_array_length(vms));
			for (size_t s = 0; s < sizeof(st) / sizeof(st[0]); s++) {
				size_t n = 0;
				for (size_t i = 0; i < json_object_array_length(vms); i++)
					n += !strcmp(json_str_at(json_object_array_get_idx(vms, i), "state") ?: "", st[s]);
				printf(" %s %zu", st[s], n);
			}
			printf("\n");
		}
		check_listing(c, &k, vms);
		check_model(c, &k, vms);
		check_disk(c, vms);
	}
	json_object_put(o);
	check_orphans(c, &k);
	chaos_events_drain(c, 0);
	conn_close(&k);
}
