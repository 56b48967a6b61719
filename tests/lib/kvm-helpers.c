/* SPDX-License-Identifier: Apache-2.0 */
/* The kvm worker suites' helpers (see kvm-helpers.h). */
#include "kvm-helpers.h"

#include <poll.h>

const char *tbuild(void)
{
	const char *b = getenv("MVM_BUILD_DIR");
	return b ? b : "build";
}

void tguest_path(char *buf, size_t n, const char *guest)
{
	if (strcmp(guest, "mvm-guest") == 0)
		snprintf(buf, n, "%s/guest/mvm-guest", tbuild());
	else if (guest[0] == '/')
		snprintf(buf, n, "%s", guest);
	else
		snprintf(buf, n, "%s/guest/tests/%s", tbuild(), guest);
}

/* Prepares t from scratch: a test's tvm_t lives on its stack, and a stale
 * got_result there would end the wait for a console line at once. */
void tvm_config(tvm_t *t, const char *guest, kvm_worker_config_t *c)
{
	static char vmm[512];
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/mvm-kvm-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->ctl, sizeof(t->ctl), "%s/ctl.sock", t->dir);
	snprintf(t->result, sizeof(t->result), "%s/result", t->dir);
	tguest_path(t->image, sizeof(t->image), guest);
	snprintf(vmm, sizeof(vmm), "%s/bin/mvm-vmm", tbuild());
	*c = (kvm_worker_config_t){
		.vmm_path = vmm, .image_path = t->image, .ctl_path = t->ctl,
		.result_path = t->result, .memory_mib = 16, .vcpus = 1, .log_fd = 2,
	};
}

int tvm_start_cfg(tvm_t *t, const kvm_worker_config_t *c)
{
	return kvm_worker_spawn(c, &t->w);
}

/* Start guest with args; asserts success. */
void tvm_start(tvm_t *t, const char *guest, const char *const *args, size_t nargs)
{
	kvm_worker_config_t c;
	memset(t, 0, sizeof(*t));
	tvm_config(t, guest, &c);
	c.args = args;
	c.nargs = nargs;
	int r = kvm_worker_spawn(&c, &t->w);
	ck_assert_msg(r == 0, "spawn %s: %s", guest, strerror(-r));
}

/* Handle one message into t; returns its type or -errno. */
int tvm_step(tvm_t *t, int timeout_ms)
{
	kvm_msg_t m;
	int r = kvm_ctl_recv(t->w.ctl, timeout_ms, &m);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	switch (m.type) {
	case KVM_MSG_CONSOLE_OUT:
		t->console = realloc(t->console, t->console_len + m.len + 1);
		ck_assert_ptr_nonnull(t->console);
		memcpy(t->console + t->console_len, m.payload, m.len);
		t->console_len += m.len;
		t->console[t->console_len] = 0;
		break;
	case KVM_MSG_RESULT:
		ck_assert_int_eq(kvm_msg_get_result(&m, &t->res), 0);
		t->got_result = 1;
		break;
	case KVM_MSG_READY:
		t->got_ready = 1;
		break;
	case KVM_MSG_HELLO: {
		kvm_msg_hello_t h;
		ck_assert_int_eq(kvm_msg_get_hello(&m, &h), 0);
		ck_assert_int_eq(h.version, KVM_PROTO_VERSION);
		ck_assert_int_eq(h.pid, t->w.pid);
		t->hello_state = h.state;
		break;
	}
	default:
		break;
	}
	return (int)m.type;
}

int64_t tnow_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until the console contains s (or fail after timeout_ms). */
void tvm_wait_console(tvm_t *t, const char *s, int timeout_ms)
{
	int64_t end = tnow_ms() + timeout_ms;
	while (!(t->console && strstr(t->console, s))) {
		int left = (int)(end - tnow_ms());
		ck_assert_msg(left > 0, "timed out waiting for \"%s\"; console: %s", s,
			      t->console ? t->console : "(none)");
		int r = tvm_step(t, left);
		ck_assert_msg(r > 0, "waiting for \"%s\": %s; console: %s", s, strerror(-r),
			      t->console ? t->console : "(none)");
		ck_assert_msg(!t->got_result, "VM ended (%s: %s) before \"%s\"; console: %s",
			      kvm_outcome_to_string(t->res.outcome), t->res.message, s,
			      t->console ? t->console : "(none)");
	}
}

/* Read until RESULT, then reap; returns the worker's wait status. */
int tvm_finish(tvm_t *t, int timeout_ms)
{
	int64_t end = tnow_ms() + timeout_ms;
	int status = -1, r;
	while (!t->got_result) {
		int left = (int)(end - tnow_ms());
		ck_assert_msg(left > 0, "no result; console: %s", t->console ? t->console : "");
		r = tvm_step(t, left);
		ck_assert_msg(r > 0, "before result: %s", strerror(-r));
	}
	r = kvm_worker_wait(&t->w, timeout_ms, &status);
	ck_assert_msg(r == 0, "wait: %s", strerror(-r));
	return status;
}

void tvm_cleanup(tvm_t *t)
{
	kvm_worker_release(&t->w);
	unlink(t->ctl);
	unlink(t->result);
	rmdir(t->dir);
	free(t->console);
	t->console = NULL;
}

/* "key=NUMBER" from the console, or fail. */
long long tconsole_num(const tvm_t *t, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "%s=", key);
	const char *p = t->console ? strstr(t->console, pat) : NULL;
	ck_assert_msg(p, "no %s in console: %s", key, t->console ? t->console : "");
	return strtoll(p + strlen(pat), NULL, 0);
}

/* A shutdown fault on a host that resets the vCPU at a triple fault
 * (mvmt_kvm_shutdown_keeps_regs): it says the registers are lost, and
 * neither the RESULT nor the result file carries the reset state as the
 * guest's. */
void tcheck_shutdown_regs_lost(const tvm_t *t)
{
	kvm_result_t f;

	ck_assert_int_eq(t->res.fault, KVM_FAULT_SHUTDOWN);
	ck_assert(!t->res.regs_valid);
	ck_assert_ptr_nonnull(strstr(t->res.message, "registers lost"));
	ck_assert_int_eq(kvm_result_read(t->result, &f), 0);
	ck_assert_int_eq(f.fault, KVM_FAULT_SHUTDOWN);
	ck_assert(!f.regs_valid);
}
