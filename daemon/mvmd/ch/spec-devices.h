/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ch VM's devices as its spec names them (docs/linux-guests.md,
 * "Disks and taps"):
 *
 *   "disks": [{"path": "/abs/image", "readonly": false, "serial": "data"}]
 *   "net":   [{"tap": "tap0", "mac": "02:..."}]
 *
 * The RPC layer checked the types, patterns and counts; this checks what
 * only the host can say (the file exists, is a regular file or a block
 * device, can be opened as asked) at create, before anything is made, and
 * fills what the spec left out (a MAC derived from the VM id) so a later
 * start or a re-adopting mvmd means the same devices.
 */
#ifndef MVM_CH_SPEC_DEVICES_H
#define MVM_CH_SPEC_DEVICES_H

#include <stddef.h>

#include "ch/cmdline.h"
#include "vm.h"

/*
 * 0, or -EINVAL with *ret_detail (malloc'd) saying which entry is wrong:
 * a disk path that is not absolute or holds a "." or ".." component, a
 * file that is missing, a directory, neither a regular file nor a block
 * device, not readable (or not writable for a disk that is not readonly),
 * two disks with one serial, more than CH_DISKS_MAX disks or CH_NETS_MAX
 * taps, a tap name outside [A-Za-z0-9_.-]{1,15}.
 */
int ch_spec_devices_validate(const vm_t *vm, char **ret_detail);

/*
 * Names every device that has no id yet: "disk0", "disk1", ... and
 * "net0", ..., one above the highest of its kind (an id is never reused
 * while a higher one is there), and writes the derived MAC into every
 * "net" entry that has none (ch_spec_mac with the N of "netN": at create,
 * its index). The ids are what cloud-hypervisor knows the devices by
 * (VmConfig, vm.add-disk/add-net) and what vm.remove-device names.
 */
int ch_spec_devices_fill(vm_t *vm);

/*
 * Hotplug (ch/hotplug.c). ch_spec_device_new checks entry, a disk
 * {path, readonly?, serial?} or a net {tap, mac?}, against the VM's
 * current devices as create checks them (-EINVAL with *ret_detail: a bad
 * path or file, a serial or tap already there, the VM already at
 * CH_DISKS_MAX / CH_NETS_MAX, an "id" given) and names it as
 * ch_spec_devices_fill does; the spec is not changed.
 * ch_spec_device_append adds it to the spec's array (a reference).
 */
int ch_spec_device_new(const vm_t *vm, json_object *entry, bool net, char **ret_detail);
int ch_spec_device_append(vm_t *vm, json_object *entry, bool net);
/* The device with this id (borrowed), whether a net, its index; NULL: none. */
json_object *ch_spec_device_find(const vm_t *vm, const char *id, bool *ret_net, size_t *ret_index);
/* -EINVAL with *ret_detail when it is the root disk of the VM's process. */
int ch_spec_device_removable(const vm_t *vm, bool net, size_t index, char **ret_detail);
/* Removes it from the spec; a root.disk index above it moves down by one,
 * so it names the same disk at the next boot. */
int ch_spec_device_drop(vm_t *vm, bool net, size_t index);

/* The guest MAC for the VM's index-th tap: locally administered, unicast,
 * the rest from SHA-256("mvmd-net:" id ":" index). ret: "xx:xx:xx:xx:xx:xx". */
void ch_spec_mac(const char *vm_id, size_t index, char ret[18]);

/* l->disks, l->nets from the spec (pointers into it: valid while it is). */
void ch_spec_devices_launch(const vm_t *vm, ch_launch_t *l);

#endif
