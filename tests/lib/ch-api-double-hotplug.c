/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST DOUBLE of cloud-hypervisor's REST API, hotplug: vm.add-disk,
 * vm.add-net and vm.remove-device as docs/api.md and cloud-hypervisor.yaml
 * upstream document them (see ch-api-double.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch-api-double-internal.h"

static const char *string_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
												 : NULL;
}

/* The config's array key ("disks", "net"), made when missing. */
static json_object *config_array(ch_double_t *d, const char *key)
{
	json_object *a;

	if (json_object_object_get_ex(d->config, key, &a) && json_object_is_type(a, json_type_array))
		return a;
	a = json_object_new_array();
	json_object_object_add(d->config, key, a);
	return a;
}

/* The device with this id among disks and net: its array and index. */
static json_object *find_id(ch_double_t *d, const char *id, size_t *ret_index)
{
	static const char *const keys[] = { "disks", "net" };
	json_object *a;

	for (size_t k = 0; k < 2; k++) {
		if (!json_object_object_get_ex(d->config, keys[k], &a) || !json_object_is_type(a, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			const char *other = string_of(json_object_array_get_idx(a, i), "id");
			if (other && strcmp(other, id) == 0) {
				*ret_index = i;
				return a;
			}
		}
	}
	return NULL;
}

static void record_body(ch_double_t *d, const char *op, const char *req)
{
	FILE *f;

	if (!d->cfg.hotplug_path)
		return;
	f = fopen(d->cfg.hotplug_path, "a");
	if (f) {
		fprintf(f, "%s %s\n", op, req);
		fclose(f);
	}
}

static ch_double_event_t add_device(ch_double_t *d, int fd, bool net, json_object *dev, const char *req)
{
	const char *key = net ? "net" : "disks", *id = string_of(dev, "id"), *path = string_of(dev, "path");
	json_object *wrap = json_object_new_object(), *arr, *one = json_object_new_array();
	char body[256], made[32];
	size_t index;
	const char *why;

	/* Validated as vm.create validates its devices: one-element arrays. */
	json_object_array_add(one, json_object_get(dev));
	json_object_object_add(wrap, key, one);
	why = ch_double_devices_error(wrap);
	json_object_put(wrap);
	if (why || (net && !string_of(dev, "tap"))) {
		ch_double_respond(fd, 400, "Bad Request", why ? why : "NetConfig: no tap (mvmd's taps are named)");
		return CH_DOUBLE_OTHER;
	}
	if (id && find_id(d, id, &index)) {
		snprintf(body, sizeof(body), "[\"Identifier %s is not unique\"]", id);
		ch_double_respond(fd, 409, "Conflict", body);
		return CH_DOUBLE_OTHER;
	}
	arr = config_array(d, key);
	for (size_t i = 0; !net && i < json_object_array_length(arr); i++) {
		const char *other = string_of(json_object_array_get_idx(arr, i), "path");
		if (other && strcmp(other, path) == 0) {
			ch_double_respond(fd, 409, "Conflict", "[\"Duplicate device path\"]");
			return CH_DOUBLE_OTHER;
		}
	}
	if (!net && access(path, R_OK) < 0) {
		snprintf(body, sizeof(body), "[\"Error hotplugging device: cannot open disk: %s\"]", strerror(errno));
		ch_double_respond(fd, 500, "Internal Server Error", body);
		return CH_DOUBLE_OTHER;
	}
	if (d->cfg.refuse_hotplug) {
		ch_double_respond(fd, 500, "Internal Server Error", "[\"Error hotplugging device: the guest did not take it\"]");
		return CH_DOUBLE_OTHER;
	}
	if (!id) {
		/* cloud-hypervisor's own names: a prefix mvmd never uses. */
		snprintf(made, sizeof(made), "_%s%zu", net ? "net" : "disk", json_object_array_length(arr));
		json_object_object_add(dev, "id", json_object_new_string(made));
		id = made;
	}
	json_object_array_add(arr, json_object_get(dev));
	record_body(d, net ? "vm.add-net" : "vm.add-disk", req);
	if (!d->booted) {
		ch_double_respond(fd, 204, NULL, NULL); /* cold added: boots with it */
		return net ? CH_DOUBLE_ADD_NET : CH_DOUBLE_ADD_DISK;
	}
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"bdf\":\"0000:00:%02zx.0\"}", id, 6 + json_object_array_length(arr));
	ch_double_respond(fd, 200, "OK", body);
	return net ? CH_DOUBLE_ADD_NET : CH_DOUBLE_ADD_DISK;
}

ch_double_event_t ch_double_hotplug(ch_double_t *d, int fd, const char *op, const char *req, size_t len)
{
	json_object *o = req && len ? json_tokener_parse(req) : NULL, *arr;
	ch_double_event_t ev = CH_DOUBLE_OTHER;
	size_t index;

	if (!o || !json_object_is_type(o, json_type_object)) {
		ch_double_respond(fd, 400, "Bad Request", "[\"the body is not a JSON object\"]");
	} else if (!d->config) {
		ch_double_respond(fd, 404, "Not Found", "[\"VM is not created\"]");
	} else if (strcmp(op, "vm.remove-device") == 0) {
		const char *id = string_of(o, "id");
		if (json_object_object_length(o) != 1 || !id) {
			ch_double_respond(fd, 400, "Bad Request", "[\"VmRemoveDevice: {\\\"id\\\": string}\"]");
		} else if (!(arr = find_id(d, id, &index))) {
			ch_double_respond(fd, 404, "Not Found", "[\"No device with the given identifier\"]");
		} else {
			json_object_array_del_idx(arr, index, 1);
			record_body(d, op, req);
			ch_double_respond(fd, 204, NULL, NULL);
			ev = CH_DOUBLE_REMOVE_DEVICE;
		}
	} else {
		ev = add_device(d, fd, strcmp(op, "vm.add-net") == 0, o, req);
	}
	json_object_put(o);
	return ev;
}
