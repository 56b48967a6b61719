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
 *    "disks": [{"path": P, "readonly": B, "serial": S, "id": ID}, ...],
 *    "net": [{"tap": T, "mac": M, "id": ID}, ...]}
 *
 * disks and net are left out when there are none; a disk's serial when it
 * has none, a device's id when it has none. The ids are mvmd's ("disk0",
 * "net1", see ch/spec-devices.h) so that vm.remove-device can name a
 * device whether it was there at boot or hot-added. cloud-hypervisor gives the disks to the guest as virtio-blk
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

/*
 * The bodies of the hotplug requests (schemas DiskConfig, NetConfig,
 * VmRemoveDevice): PUT vm.add-disk {"path", "readonly", "serial"?, "id"},
 * PUT vm.add-net {"tap", "mac", "id"}, PUT vm.remove-device {"id"}.
 * The id is required here (mvmd names every device it adds: 1-32 bytes of
 * [A-Za-z0-9_-], not starting with '_'). -EINVAL as ch_vmconfig_build for
 * a bad path, tap, MAC or id; *ret_json malloc'd.
 */
int ch_vmconfig_disk_body(const ch_disk_t *d, char **ret_json);
int ch_vmconfig_net_body(const ch_net_t *n, char **ret_json);
int ch_vmconfig_remove_body(const char *id, char **ret_json);

#endif
