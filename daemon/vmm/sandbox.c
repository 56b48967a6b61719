/* SPDX-License-Identifier: Apache-2.0 */
#include <cap-ng.h>
#include <errno.h>
#include <seccomp.h>
#include <sys/prctl.h>

#include "sandbox.h"

/* Drop effective, permitted, inheritable, bounding and ambient sets. */
static int sandbox_drop_caps(void)
{
	/* Clearing the bounding set needs CAP_SETPCAP, which we still hold
	 * when started as root; an unprivileged caller only has the others. */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_ALL) < 0) {
		capng_clear(CAPNG_SELECT_CAPS);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0)
			return -EPERM;
	}
	/* Ambient caps would survive an exec; we never exec, but be sure. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

static int sandbox_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* Load the allow-list for this thread and all threads created after. */
static int sandbox_seccomp_load(const sandbox_rule_t *rules, size_t n)
{
	scmp_filter_ctx ctx;
	int r;

	/* Anything not listed kills the process (SIGSYS), never just the thread. */
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	r = seccomp_arch_add(ctx, SCMP_ARCH_NATIVE);
	if (r < 0 && r != -EEXIST)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const sandbox_rule_t *x = &rules[i];
		uint32_t act = x->errno_ret ? SCMP_ACT_ERRNO((uint32_t)x->errno_ret) : SCMP_ACT_ALLOW;
		if (x->has_arg)
			r = seccomp_rule_add(ctx, act, x->nr, 1,
					     SCMP_CMP(x->argi, SCMP_CMP_MASKED_EQ, x->mask, x->value));
		else
			r = seccomp_rule_add(ctx, act, x->nr, 0);
		if (r < 0)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}

int sandbox_enter(const sandbox_rule_t *rules, size_t n)
{
	int r = sandbox_drop_caps();
	if (r < 0)
		return r;
	r = sandbox_no_new_privs();
	if (r < 0)
		return r;
	return sandbox_seccomp_load(rules, n);
}
