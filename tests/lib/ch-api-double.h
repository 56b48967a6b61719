/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST DOUBLE of cloud-hypervisor's REST API: a tiny HTTP/1.1 server on a
 * Unix socket that answers the documented endpoints mvmd uses (vmm.ping,
 * vm.create, vm.boot, vm.info, vm.power-button, vm.shutdown, vmm.shutdown,
 * vm.pause, vm.resume, vm.snapshot, vm.restore, vm.add-disk, vm.add-net,
 * vm.remove-device) with the documented status codes and body shapes,
 * and records every request it received.
 *
 * Hotplug as documented (ch-api-double-hotplug.c): vm.add-disk and
 * vm.add-net take a DiskConfig / NetConfig (400 for an invalid one),
 * answer 404 before vm.create, 204 for a VM created but not booted (a
 * cold add), 409 for an id or disk path already there, 500 for a disk
 * path it cannot open, and otherwise add the device to the config that
 * vm.info shows and answer 200 with a PciDeviceInfo {"id", "bdf"} (the
 * id given, or "_diskN"/"_netN" as cloud-hypervisor names one without).
 * vm.remove-device {"id"} answers 204 and drops it, 404 for an unknown
 * id. It opens no tap: any tap name is taken.
 *
 * vm.create validates its VmConfig body as cloud-hypervisor's decoder
 * does (a JSON object; "payload" required, with a "kernel"; the required
 * fields and the types of cpus, memory, serial, console and vsock; the
 * ConsoleMode enum) and, stricter than the real one, refuses keys its
 * OpenAPI document does not list: 400 with the reason. A second create is
 * refused (500). vm.boot without a created VM is 404, as documented; with
 * an unreadable kernel 500 "Error booting VM: kernel ...". vm.info before
 * a create is 500 and afterwards returns the config it was given. Nothing
 * runs that was not created and booted through the API. As
 * cloud-hypervisor's HTTP server (micro_http), it answers 400 to a request
 * whose Content-Type is neither application/json nor text/plain.
 * It stands in for cloud-hypervisor, which is not packaged by Debian and
 * cannot boot a guest on the development machines. It proves the client
 * side of the contract only; the real binary is exercised by
 * tests/integration/check_ch_real.c where it exists.
 *
 * Blocking and single-threaded by design: one connection at a time, one
 * request per connection ("Connection: close"), as mvmd's client does.
 */
#ifndef MVM_TEST_CH_API_DOUBLE_H
#define MVM_TEST_CH_API_DOUBLE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ch_double_event {
	CH_DOUBLE_NONE,
	CH_DOUBLE_PING,
	CH_DOUBLE_CREATE, /* a VmConfig was accepted */
	CH_DOUBLE_BOOT,   /* the VM "booted": its serial and vsock sockets may be opened */
	CH_DOUBLE_INFO,
	CH_DOUBLE_POWER_BUTTON,
	CH_DOUBLE_VM_SHUTDOWN,
	CH_DOUBLE_VMM_SHUTDOWN,
	CH_DOUBLE_OTHER, /* an unknown path or method: 404 / 405 */
	CH_DOUBLE_BAD,   /* not HTTP: 400 */
	CH_DOUBLE_PAUSE,    /* vm.pause: Running -> Paused */
	CH_DOUBLE_RESUME,   /* vm.resume: Paused -> Running */
	CH_DOUBLE_SNAPSHOT, /* vm.snapshot of a Paused VM into destination_url's directory */
	CH_DOUBLE_RESTORE,  /* vm.restore from source_url's directory: a Paused VM */
	CH_DOUBLE_ADD_DISK, /* vm.add-disk: a disk joined the config */
	CH_DOUBLE_ADD_NET,  /* vm.add-net */
	CH_DOUBLE_REMOVE_DEVICE, /* vm.remove-device: a device left it */
} ch_double_event_t;

typedef struct ch_double_config {
	const char *version;        /* vmm.ping version, default "40.0.0" */
	unsigned created_polls;     /* vm.info says "Created" this many times first */
	bool ignore_power_button;   /* 204, but the guest "ignores" it */
	bool refuse_snapshot;       /* vm.snapshot writes part of its files, then answers 500 */
	const char *info_body;      /* raw vm.info body instead of the real shape */
	int info_status;            /* vm.info status instead of 200 */
	bool hang_up;               /* close every connection without an answer */
	const char *record_path;    /* also append each request line to this file */
	const char *config_path;    /* write the accepted VmConfig body to this file */
	const char *hotplug_path;   /* append "OP BODY" for each hotplug request accepted */
	bool refuse_hotplug;        /* vm.add-disk / vm.add-net answer 500 (the guest did not take it) */
	/* Called with each well-formed request before it is answered (the
	 * caller is kept waiting meanwhile). NULL: none. */
	void (*before_answer)(const char *method, const char *path, void *userdata);
	void *userdata;
} ch_double_config_t;

typedef struct ch_double ch_double_t;

int ch_double_new(const char *sock_path, const ch_double_config_t *cfg, ch_double_t **ret);
void ch_double_free(ch_double_t *d);
int ch_double_listen_fd(const ch_double_t *d);

/* Accept one connection (waiting up to timeout_ms), read one request,
 * answer it. 0 with the event, -ETIMEDOUT, or -errno. */
int ch_double_serve_one(ch_double_t *d, int timeout_ms, ch_double_event_t *ret);

/* "Running", "Created" or "Shutdown" (NULL: no VM created yet). */
const char *ch_double_vm_state(const ch_double_t *d);

/* From the accepted VmConfig: serial.socket (Socket mode) and vsock.socket,
 * payload.kernel; NULL when absent or before vm.create. */
const char *ch_double_serial_socket(const ch_double_t *d);
const char *ch_double_vsock_socket(const ch_double_t *d);

/* Why body (a vm.create VmConfig) would be refused: NULL when accepted,
 * else a static sentence. Exposed for unit tests of mvmd's builder. */
const char *ch_double_vmconfig_error(const char *body, size_t len);

/* The requests received so far, "METHOD PATH" plus " body=N" and
 * " no-host" when the Host header was missing. Thread-safe. */
size_t ch_double_n_requests(ch_double_t *d);
/* A malloc'd copy of request i, NULL beyond the end. */
char *ch_double_request(ch_double_t *d, size_t i);

/* Serve from a thread until ch_double_stop(). */
int ch_double_start_thread(ch_double_t *d);
void ch_double_stop(ch_double_t *d);

#endif
