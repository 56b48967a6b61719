/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST DOUBLE of cloud-hypervisor's REST API: what its files share
 * (ch-api-double.c: the server and the VM's life; ch-api-double-hotplug.c:
 * vm.add-disk, vm.add-net, vm.remove-device). Only they include this.
 */
#ifndef MVM_TEST_CH_API_DOUBLE_INTERNAL_H
#define MVM_TEST_CH_API_DOUBLE_INTERNAL_H

#include <json-c/json.h>
#include <pthread.h>

#include "ch-api-double.h"

#define BODY_MAX 65536

struct ch_double {
	ch_double_config_t cfg;
	char *path;
	int listen_fd;
	const char *state; /* NULL until vm.create */
	bool booted;
	json_object *config; /* the accepted VmConfig */
	unsigned created_left;
	pthread_mutex_t lock;
	char **reqs;
	size_t n_reqs;
	pthread_t thread;
	bool have_thread;
	int stop_pipe[2];
};

/* One HTTP/1.1 answer, "Connection: close"; body NULL for none. */
void ch_double_respond(int fd, int status, const char *reason, const char *body);

/* Why a VmConfig's "disks" and "net" (arrays of DiskConfig, NetConfig)
 * would be refused: NULL when accepted, else a static sentence. */
const char *ch_double_devices_error(json_object *o);

/* PUT op ("vm.add-disk", "vm.add-net", "vm.remove-device") with its body. */
ch_double_event_t ch_double_hotplug(ch_double_t *d, int fd, const char *op, const char *req, size_t len);

#endif
