/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-hypervisor's REST API as mvmd uses it (docs/api.md and
 * cloud-hypervisor.yaml upstream): the requests, the status each must
 * answer with, and strict parsers for the two response bodies read.
 * Pure: the transport is ch/http.h.
 *
 *   GET /api/v1/vmm.ping          200 {"build_version", "version", ...}
 *   PUT /api/v1/vm.create         204 (body: a VmConfig, ch/vmconfig.h)
 *   PUT /api/v1/vm.boot           204
 *   GET /api/v1/vm.info           200 {"config": {...}, "state": "Running", ...}
 *   PUT /api/v1/vm.power-button   204
 *   PUT /api/v1/vm.shutdown       204
 *   PUT /api/v1/vmm.shutdown      204
 *   PUT /api/v1/vm.pause          204
 *   PUT /api/v1/vm.resume         204
 *   PUT /api/v1/vm.snapshot       204 (body: VmSnapshotConfig, ch_api_snapshot_body)
 *   PUT /api/v1/vm.restore        204 (body: RestoreConfig, ch_api_restore_body)
 *   PUT /api/v1/vm.add-disk       200 PciDeviceInfo {"id", "bdf"} (body: DiskConfig)
 *   PUT /api/v1/vm.add-net        200 PciDeviceInfo (body: NetConfig)
 *   PUT /api/v1/vm.remove-device  204 (body: VmRemoveDevice {"id"})
 *
 * (the hotplug bodies: ch/vmconfig.h; vm.add-* answer 204 for a VM not
 * booted yet, which mvmd never asks).
 */
#ifndef MVM_CH_API_H
#define MVM_CH_API_H

#include <stdbool.h>
#include <stddef.h>

#define CH_API_BODY_MAX (1u << 20) /* a response body larger than this is refused */

typedef enum ch_api_op {
	CH_API_PING,
	CH_API_INFO,
	CH_API_POWER_BUTTON,
	CH_API_VM_SHUTDOWN,
	CH_API_VMM_SHUTDOWN,
	CH_API_VM_CREATE,
	CH_API_VM_BOOT,
	CH_API_VM_PAUSE,
	CH_API_VM_RESUME,
	CH_API_VM_SNAPSHOT,
	CH_API_VM_RESTORE,
	CH_API_VM_ADD_DISK,
	CH_API_VM_ADD_NET,
	CH_API_VM_REMOVE_DEVICE,
	_CH_API_OP_MAX,
} ch_api_op_t;

typedef struct ch_api_request {
	const char *method; /* "GET" or "PUT" */
	const char *path;   /* "/api/v1/..." */
	bool has_body;      /* the answer carries JSON (200), else 204 */
	bool takes_body;    /* the request carries JSON (vm.create, vm.snapshot, vm.restore, the hotplug ones) */
} ch_api_request_t;

/* NULL for an op out of range. */
const ch_api_request_t *ch_api_request(ch_api_op_t op);
const char *ch_api_op_to_string(ch_api_op_t op);

/* 0 when status is a success for op; -EPROTO otherwise. */
int ch_api_check_status(ch_api_op_t op, long status);

/* vm.info's "state" (the VmState enum of the OpenAPI document). */
typedef enum ch_vm_state {
	CH_VM_CREATED,
	CH_VM_RUNNING,
	CH_VM_SHUTDOWN,
	CH_VM_PAUSED,
	CH_VM_BREAKPOINT,
	_CH_VM_STATE_MAX,
	_CH_VM_STATE_INVALID = -1,
} ch_vm_state_t;

const char *ch_vm_state_to_string(ch_vm_state_t s);
ch_vm_state_t ch_vm_state_from_string(const char *s);

/*
 * Parse a vm.info body: a JSON object (at most CH_API_BODY_MAX bytes,
 * nesting 64) whose "state" is one of the states above. -EBADMSG
 * otherwise.
 */
int ch_api_parse_info(const char *body, size_t len, ch_vm_state_t *ret);

/* Parse a vmm.ping body: a JSON object with a string "version" (or
 * "build_version"); *ret_version is a malloc'd copy. -EBADMSG otherwise. */
int ch_api_parse_ping(const char *body, size_t len, char **ret_version);

/*
 * {"destination_url": "file://DIR"} (VmSnapshotConfig) and
 * {"source_url": "file://DIR"} (RestoreConfig): a snapshot is a directory
 * cloud-hypervisor writes (config, device state, memory) and reads back.
 * -EINVAL for a dir that is not absolute; *ret malloc'd.
 */
int ch_api_snapshot_body(const char *dir, char **ret);
int ch_api_restore_body(const char *dir, char **ret);

#endif
