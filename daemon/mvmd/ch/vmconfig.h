/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of PUT /api/v1/vm.create: a VmConfig (cloud-hypervisor's
 * OpenAPI document, schemas VmConfig, PayloadConfig, CpusConfig,
 * MemoryConfig, SerialConfig, ConsoleConfig, VsockConfig) for a VM mvmd
 * launches. Everything a tenant gave for the VM (kernel, initramfs,
 * kernel command line) travels here, over the 0600 API socket, and never
 * on cloud-hypervisor's command line. Pure: unit tests pin every field.
 *
 *   {"payload": {"kernel": K, "initramfs": I, "cmdline": C},
 *    "cpus": {"boot_vcpus": N, "max_vcpus": N},
 *    "memory": {"size": BYTES},
 *    "serial": {"mode": "Socket", "socket": SERIAL},
 *    "console": {"mode": "Off"},
 *    "vsock": {"cid": CID, "socket": VSOCK},
 *    "disks": [{"path": P, "readonly": B, "serial": S}, ...],
 *    "net": [{"tap": T, "mac": M}, ...]}
 *
 * disks and net are left out when there are none; a disk's serial when it
 * has none. cloud-hypervisor gives the disks to the guest as virtio-blk
 * devices in this order (vda, vdb, ...) and the taps as virtio-net.
 * The virtio console is off: the kernel's console is the serial port.
 */
#ifndef MVM_CH_VMCONFIG_H
#define MVM_CH_VMCONFIG_H

#include "ch/cmdline.h"

#define CH_VMCONFIG_CMDLINE_MAX 4096 /* bytes; a longer kernel command line is refused */

/*
 * *ret_json: the body, malloc'd, NUL-terminated. binary and api_socket are
 * not read. -EINVAL for a kernel, initramfs or socket that is not an
 * absolute path, vcpus outside 1..256, memory outside 1 MiB..4 PiB, a cid
 * below 3, a command line longer than CH_VMCONFIG_CMDLINE_MAX, more than
 * CH_DISKS_MAX disks or CH_NETS_MAX taps, a disk path that is not
 * absolute, a tap name outside [A-Za-z0-9_.-]{1,15} or a MAC that is not
 * six ':'-separated hex pairs.
 */
int ch_vmconfig_build(const ch_launch_t *l, char **ret_json);

#endif
