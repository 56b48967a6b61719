/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ch-backend suites' fixture (see ch-daemon.h).
 */
#include "ch-daemon.h"

#include <check.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

mvmt_chd_t chd = { .fd = -1 };

/* A knob of the double (tests/doubles/fake-cloud-hypervisor.c): mvmd gives
 * cloud-hypervisor none of its environment, so knobs go in <binary>.env. */
void chd_knob(const char *key, const char *value)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s.env", chd.fake);
	FILE *f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s=%s\n", key, value);
	fclose(f);
}

void chd_knobs_clear(void)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s.env", chd.fake);
	unlink(path);
}

void chd_double_files(const mvmt_daemon_t *dm, const char *name, char *fake, size_t fake_size, char *kernel,
		      size_t kernel_size)
{
	const char *b = getenv("MVM_BUILD_DIR");
	char rel[256], real[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/tests/doubles/fake-cloud-hypervisor", b && *b ? b : "build");
	ck_assert_msg(realpath(rel, real), "%s is missing: run make", rel);
	snprintf(fake, fake_size, "%s/%s", dm->dir, name);
	ck_assert_int_eq(symlink(real, fake), 0);
	snprintf(kernel, kernel_size, "%s/vmlinuz", dm->dir);
	FILE *f = fopen(kernel, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not really a kernel: the double only checks it is readable\n", f);
	fclose(f);
}

void chd_setup(void)
{
	FILE *f;

	mvmt_daemon_init(&chd.d);
	chd_double_files(&chd.d, "cloud-hypervisor", chd.fake, sizeof(chd.fake), chd.kernel, sizeof(chd.kernel));
	/* The double runs no VM, so it needs no KVM; mvmd only opens the
	 * device to call the backend usable. A stand-in file keeps these
	 * cases running on hosts without /dev/kvm (a nested host whose kernel
	 * is itself a PVM guest has none). */
	snprintf(chd.fake_kvm, sizeof(chd.fake_kvm), "%s/fake-kvm", chd.d.dir);
	f = fopen(chd.fake_kvm, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

/* Start mvmd with the double as cloud-hypervisor (or with `binary`). */
void chd_start(const char *binary)
{
	mvmt_daemon_start(&chd.d, "--ch-binary", binary ? binary : chd.fake, "--kvm-device", chd.fake_kvm, "--kvm-pool", "0", NULL);
	chd.fd = mvmt_connect(chd.d.sock);
}

void chd_teardown(void)
{
	if (chd.fd >= 0) {
		close(chd.fd);
		mvmt_forget_fd(chd.fd);
		chd.fd = -1;
	}
	/* cloud-hypervisor outlives mvmd by design: end the doubles. */
	if (chd.d.pid > 0) {
		int c = mvmt_connect(chd.d.sock);
		mvmt_remove_all_vms(c);
		close(c);
		mvmt_forget_fd(c);
	}
	mvmt_daemon_cleanup(&chd.d);
}

json_object *chd_call_id(const char *method, const char *name, const char *extra)
{
	return mvmt_call_id(chd.fd, method, name, extra);
}

void chd_create(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "{\"name\":\"%s\",\"backend\":\"ch\",\"memory_mib\":64,\"vcpus\":2,\"kernel\":\"%s\"}", name,
		 chd.kernel);
	json_object *r = mvmt_result(chd.fd, "compute.vm.create", p);
	ck_assert_str_eq(mvmt_str(r, "state"), "Configured");
	json_object_put(r);
}

json_object *chd_status(const char *name)
{
	return mvmt_status(chd.fd, name);
}

json_object *chd_wait_state(const char *name, const char *state)
{
	return mvmt_wait_state(chd.fd, name, state);
}

bool chd_log_has(const char *name, const char *needle)
{
	json_object *r = chd_call_id("compute.vm.logs", name, NULL);
	bool found = strstr(mvmt_str(r, "result.data"), needle) != NULL;
	json_object_put(r);
	return found;
}

void chd_wait_log(const char *name, const char *needle)
{
	for (int i = 0; i < MVMT_EVENT_TIMEOUT_MS / 10; i++) {
		if (chd_log_has(name, needle))
			return;
		usleep(10000);
	}
	ck_abort_msg("%s: log never showed \"%s\"", name, needle);
}

/* STATE_DIR/vms/<id>/<file> of a VM. */
void chd_vm_file(const char *name, const char *file, char *buf, size_t size)
{
	json_object *s = chd_status(name);
	snprintf(buf, size, "%s/vms/%s/%s", chd.d.state, mvmt_str(s, "id"), file);
	json_object_put(s);
}

char *chd_slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

void chd_wait_ended(int pid)
{
	ck_assert_msg(mvmt_wait_process_ended(pid, MVMT_EVENT_TIMEOUT_MS), "pid %d is still alive", pid);
}

int chd_console_connect(const char *name)
{
	json_object *r = chd_call_id("compute.vm.console.endpoint", name, NULL);
	int c = mvmt_connect(mvmt_str(r, "result.path"));
	json_object_put(r);
	return c;
}

/* Read from a console client until `needle` shows up (60 s). */
void chd_console_expect(int c, const char *needle)
{
	char buf[8192];
	size_t len = 0;

	for (int i = 0; i < MVMT_EVENT_TIMEOUT_MS / 10; i++) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
			ck_assert_int_gt(n, 0);
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, needle))
				return;
		}
	}
	ck_abort_msg("console never showed \"%s\" (got \"%.*s\")", needle, (int)len, buf);
}
