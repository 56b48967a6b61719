/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What mvmd hands cloud-hypervisor for a VM: a command line that carries
 * only the API socket (nothing a tenant gave: /proc/PID/cmdline is
 * world-readable), and the VmConfig body of PUT /api/v1/vm.create that
 * carries everything else (ch/vmconfig.h). Pure: no I/O, so unit tests pin
 * every argument and field.
 */
#ifndef MVM_CH_CMDLINE_H
#define MVM_CH_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_DISKS_MAX 16 /* disks of a VM (the spec's limit too) */
#define CH_NETS_MAX 16  /* network interfaces of a VM */

/* A prepared image: DiskConfig {path, readonly, serial, id}. */
typedef struct ch_disk {
	const char *path;   /* absolute */
	bool readonly;
	const char *serial; /* NULL: none (the guest sees no serial) */
	const char *id;     /* cloud-hypervisor's device id ("disk0"), what vm.remove-device names; NULL: its own */
} ch_disk_t;

/* An existing tap device: NetConfig {tap, mac, id}. */
typedef struct ch_net {
	const char *tap; /* interface name, 1-15 bytes */
	const char *mac; /* the guest's MAC, "xx:xx:xx:xx:xx:xx" */
	const char *id;  /* device id ("net0"); NULL: cloud-hypervisor's own */
} ch_net_t;

typedef struct ch_launch {
	const char *binary;        /* argv[0] */
	const char *api_socket;    /* --api-socket path=... */
	const char *kernel;        /* payload.kernel */
	const char *initramfs;     /* payload.initramfs (NULL: none) */
	const char *cmdline;       /* payload.cmdline (NULL: none) */
	unsigned vcpus;            /* cpus.boot_vcpus = max_vcpus, 1..256 */
	uint64_t memory_mib;       /* memory.size (bytes), >= 1 MiB */
	const char *serial_socket; /* serial: Socket mode on this path */
	const char *vsock_socket;  /* vsock.socket */
	uint32_t cid;              /* vsock.cid, >= 3 */
	ch_disk_t disks[CH_DISKS_MAX]; /* disks, in the guest's order (vda, vdb, ...) */
	size_t n_disks;
	ch_net_t nets[CH_NETS_MAX]; /* net */
	size_t n_nets;
} ch_launch_t;

/*
 * The NULL-terminated argv `binary --api-socket path=API` (one malloc'd
 * block; free() it). Only binary and api_socket are read. -EINVAL for an
 * empty binary or an API socket that is not an absolute path, or that holds
 * ',' where cloud-hypervisor's key=value syntax would misread it.
 */
int ch_cmdline_build(const ch_launch_t *l, char ***ret_argv);

#endif
