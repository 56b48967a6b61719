/* SPDX-License-Identifier: Apache-2.0 */
#include "backends.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch/backend-ch.h"
#include "kvm/backend-kvm.h"
#include "util/macro.h"

/* The directory of the running binary, so a build tree and an install
 * find their worker and guest image next to mvmd. */
static int self_dir(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return negative_errno();
	exe[n] = '\0';
	snprintf(buf, size, "%s", dirname(exe));
	return 0;
}

/*
 * The worker and the guest images, found from mvmd's own directory so one
 * binary works wherever it lands: the build tree keeps them in bin/ and
 * guest/ (build/bin/mvmd → build/bin/mvm-vmm, build/guest/mvm-guest); an
 * install keeps them private in libexec/mvmd beside sbin/ (make install
 * PREFIX=P: P/sbin/mvmd → P/libexec/mvmd/NAME; the Debian package:
 * /usr/sbin/mvmd → /usr/libexec/mvmd/NAME).
 */
static void private_path(const char *dir, const char *build_subdir, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s%s", dir, build_subdir, name);
	if (access(buf, F_OK) < 0)
		snprintf(buf, size, "%s/../libexec/mvmd/%s", dir, name);
}

int backends_register(manager_t *m, const backends_config_t *cfg)
{
	char dir[PATH_MAX] = ".", vmm[PATH_MAX + 64], image[PATH_MAX + 64];

	(void)self_dir(dir, sizeof(dir));
	private_path(dir, "", "mvm-vmm", vmm, sizeof(vmm));
	private_path(dir, "../guest/", "mvm-guest", image, sizeof(image));

	backend_kvm_config_t kcfg = {
		.vmm_path = cfg && cfg->vmm_path ? cfg->vmm_path : vmm,
		.image_path = cfg && cfg->guest_image ? cfg->guest_image : image,
		.kvm_path = cfg ? cfg->kvm_device : NULL,
		.pool_size = cfg ? cfg->kvm_pool : 0,
		.pool_memory_mib = cfg ? cfg->kvm_pool_mib : 0,
		.pool_ready_ms = cfg ? cfg->kvm_pool_ready_ms : 0,
		.op_timeout_ms = cfg ? cfg->kvm_op_timeout_ms : 0,
		.teardown_max = cfg ? cfg->kvm_max_teardowns : 0,
	};
	int r = backend_kvm_register(m, &kcfg);
	if (r < 0)
		return r;

	/* ch: the initramfs with mvm-init, found like the guest image. */
	char initramfs[PATH_MAX + 64], canon[PATH_MAX];
	private_path(dir, "../guest/", "initramfs.cpio.gz", initramfs, sizeof(initramfs));
	if (realpath(initramfs, canon))
		snprintf(initramfs, sizeof(initramfs), "%s", canon);
	backend_ch_config_t ccfg = {
		.binary = cfg ? cfg->ch_binary : NULL,
		.initramfs = cfg && cfg->ch_initramfs ? cfg->ch_initramfs : initramfs,
		.kvm_path = cfg ? cfg->kvm_device : NULL,
	};
	return backend_ch_register(m, &ccfg);
}

void backends_program_path(const char *name, char *buf, size_t size)
{
	char dir[PATH_MAX] = ".";

	(void)self_dir(dir, sizeof(dir));
	private_path(dir, "", name, buf, size);
}
