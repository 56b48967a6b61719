/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cloud-hypervisor command line mvmd runs for a VM, built from its
 * spec and paths. Pure: no I/O, so unit tests pin every argument.
 */
#ifndef MVM_CH_CMDLINE_H
#define MVM_CH_CMDLINE_H

#include <stdint.h>

typedef struct ch_launch {
	const char *binary;        /* argv[0] */
	const char *api_socket;    /* --api-socket path=... */
	const char *kernel;        /* --kernel */
	const char *initramfs;     /* --initramfs (NULL: none) */
	const char *cmdline;       /* --cmdline (NULL: none) */
	unsigned vcpus;            /* --cpus boot=N, 1..256 */
	uint64_t memory_mib;       /* --memory size=NM, >= 1 */
	const char *serial_socket; /* --serial socket=... */
	const char *vsock_socket;  /* --vsock cid=N,socket=... */
	uint32_t cid;              /* >= 3 */
} ch_launch_t;

/*
 * A NULL-terminated argv (one malloc'd block; free() it). -EINVAL for a
 * missing path, a vcpus/memory/cid out of range, or a path containing ','
 * or '=' where cloud-hypervisor's key=value syntax would misread it.
 */
int ch_cmdline_build(const ch_launch_t *l, char ***ret_argv);

#endif
