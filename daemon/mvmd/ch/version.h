/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-hypervisor's version, as `cloud-hypervisor --version` prints it
 * ("cloud-hypervisor v40.0.0", a git build adds "-12-gabcdef"), and the
 * minimum mvmd drives.
 *
 * The minimum is v36.0: it is the first release whose --serial takes
 * socket=PATH (release notes, v36.0 "Unix Socket Backend for Serial
 * Port"), which mvmd needs to relay the console; every REST endpoint used
 * (vmm.ping, vm.info, vm.power-button, vm.shutdown, vmm.shutdown) and
 * --vsock cid=,socket= are older than that.
 */
#ifndef MVM_CH_VERSION_H
#define MVM_CH_VERSION_H

#include <stddef.h>

#define CH_VERSION_MIN_MAJOR 36
#define CH_VERSION_MIN_MINOR 0
#define CH_VERSION_MIN_TEXT "v36.0"

typedef struct ch_version {
	unsigned major, minor, patch;
} ch_version_t;

/*
 * Parse the output of --version: the first line is "<name> [v]X[.Y[.Z]][suffix]".
 * Only the first line counts (later ones list features with -v). -EINVAL
 * when it is not that shape; numbers above 99999 are refused.
 */
int ch_version_parse(const char *out, size_t len, ch_version_t *ret);

/* <0, 0, >0 like strcmp. */
int ch_version_cmp(const ch_version_t *a, const ch_version_t *b);

/* Is v at least the minimum mvmd supports? */
int ch_version_supported(const ch_version_t *v);

#endif
