/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checker's own test (mvm-chaos --self-test): a checker that cannot
 * fail proves nothing. While mvmd is down the driver breaks, on purpose,
 * one promise at a time in the state directory, each of the kind a
 * defective mvmd would break, and the next check must report it:
 *
 *   truncate  an acknowledged VM's state.json is cut in half (a torn write)
 *   lose      an acknowledged VM's directory is deleted (a lost VM)
 *   litter    a temp file no restart removes is left in vms/ (a leak)
 *   orphan    a cloud-hypervisor double is started holding a file of an
 *             acknowledged VM that does not name it (an orphan worker)
 *
 * The run passes (exit 0) when every planted defect was reported in the
 * iteration it was planted in; the violations it prints are expected.
 */
#include "chaos.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Each defect, and what its report says. */
static const char *const plants[] = { "truncate", "lose", "litter", "orphan" };
static const char *const reports[] = { "does not parse", "is lost", "temp file survived", "orphan fake-cloud-hypervisor" };
#define N_PLANTS (sizeof(plants) / sizeof(plants[0]))

/* An acknowledged, unremoved VM whose directory is on disk, or NULL. */
static chaos_vm_t *target(chaos_t *c)
{
	char path[512];

	for (size_t i = c->n_vms; i-- > 0;) {
		chaos_vm_t *v = &c->vms[i];
		snprintf(path, sizeof(path), "%s/vms/%s/state.json", c->state, v->id);
		if (chaos_vm_usable(v) && v->pending == 0 && access(path, F_OK) == 0)
			return v;
	}
	return NULL;
}

static bool plant_truncate(chaos_t *c, chaos_vm_t *v)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/vms/%s/state.json", c->state, v->id);
	return stat(path, &st) == 0 && truncate(path, st.st_size / 2) == 0;
}

static bool plant_lose(chaos_t *c, chaos_vm_t *v)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/vms/%s'", c->state, v->id);
	return system(cmd) == 0;
}

static bool plant_litter(chaos_t *c)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/vms/.chaos-self-test.%u", c->state, c->iter);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd >= 0 && close(fd) == 0;
}

/* The double, on an API socket of its own, with its output in a file of
 * the VM (chaos_workers knows a VM's processes by their fds). */
static bool plant_orphan(chaos_t *c, chaos_vm_t *v)
{
	char out[512], api[200];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/vms/%s/chaos-self-test.log", c->state, v->id);
	snprintf(api, sizeof(api), "path=%s/st-api.sock", c->dir);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		setsid();
		execl(c->fake_ch, c->fake_ch, "--api-socket", api, (char *)NULL);
		_exit(127);
	}
	c->self_test_pid = pid;
	return true;
}

void chaos_self_test_plant(chaos_t *c)
{
	chaos_vm_t *v;
	bool ok = false;

	c->planted = NULL;
	if (c->n_planted >= N_PLANTS || c->iter < 2)
		return;
	const char *what = plants[c->n_planted];
	v = target(c);
	if (!strcmp(what, "litter"))
		ok = plant_litter(c);
	else if (!v)
		return; /* no VM to break yet: the next iteration */
	else if (!strcmp(what, "truncate"))
		ok = plant_truncate(c, v);
	else if (!strcmp(what, "lose"))
		ok = plant_lose(c, v);
	else
		ok = plant_orphan(c, v);
	if (!ok) {
		fprintf(stderr, "chaos: self-test cannot plant %s: %m\n", what);
		exit(2);
	}
	c->planted = what;
	c->n_planted++;
	printf("chaos: self-test: iter %u: planted \"%s\"%s%s; the check must report it\n", c->iter, what,
	       v && strcmp(what, "litter") ? " in VM " : "", v && strcmp(what, "litter") ? v->name : "");
}

void chaos_self_test_judge(chaos_t *c)
{
	if (c->self_test_pid > 0) {
		kill(c->self_test_pid, SIGKILL); /* ours, if check_orphans did not kill it */
		waitpid(c->self_test_pid, NULL, 0);
		c->self_test_pid = 0;
	}
	if (!c->planted)
		return;
	if (strstr(c->iter_text, reports[c->n_planted - 1]))
		c->n_caught++;
	else
		printf("chaos: self-test: iter %u: the planted \"%s\" went unreported (no \"%s\")\n", c->iter,
		       c->planted, reports[c->n_planted - 1]);
	c->planted = NULL;
}

bool chaos_self_test_over(chaos_t *c)
{
	return c->n_planted == N_PLANTS && !c->planted;
}

int chaos_self_test_result(chaos_t *c)
{
	printf("chaos: self-test: %u of %zu planted defects reported (%u planted)\n", c->n_caught, N_PLANTS,
	       c->n_planted);
	return c->n_planted == N_PLANTS && c->n_caught == N_PLANTS ? 0 : 1;
}
