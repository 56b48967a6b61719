/* SPDX-License-Identifier: Apache-2.0 */
#include "vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/macro.h"

static const char *const backend_names[_VM_BACKEND_MAX] = {
	[VM_BACKEND_KVM] = "kvm",
	[VM_BACKEND_CH] = "ch",
};

const char *vm_backend_to_string(vm_backend_t b)
{
	if (b < 0 || b >= _VM_BACKEND_MAX)
		return NULL;
	return backend_names[b];
}

vm_backend_t vm_backend_from_string(const char *s)
{
	if (!s)
		return _VM_BACKEND_INVALID;
	for (int i = 0; i < _VM_BACKEND_MAX; i++)
		if (strcmp(backend_names[i], s) == 0)
			return (vm_backend_t)i;
	return _VM_BACKEND_INVALID;
}

static int vm_alloc(vm_t **ret)
{
	vm_t *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->state = VM_STATE_PENDING;
	vm->backend = VM_BACKEND_KVM;
	vm->vcpus = 1;
	int r = fsm_ring_init(&vm->transitions, FSM_VM_RING_CAPACITY);
	if (r < 0) {
		free(vm);
		return r;
	}
	*ret = vm;
	return 0;
}

int vm_new(vm_t **ret)
{
	uint8_t b[16];
	vm_t *vm;
	int r;

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return negative_errno();
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */

	r = vm_alloc(&vm);
	if (r < 0)
		return r;
	snprintf(vm->id, sizeof(vm->id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	vm->created_usec = fsm_now_wall_usec();
	*ret = vm;
	return 0;
}

int vm_new_with_id(const char *id, vm_t **ret)
{
	vm_t *vm;
	int r;

	if (!vm_id_is_valid(id))
		return -EINVAL;
	r = vm_alloc(&vm);
	if (r < 0)
		return r;
	memcpy(vm->id, id, VM_ID_LEN + 1);
	*ret = vm;
	return 0;
}

vm_t *vm_free(vm_t *vm)
{
	if (!vm)
		return NULL;
	free(vm->name);
	if (vm->spec)
		json_object_put(vm->spec);
	free(vm->cause);
	free(vm->load_error);
	if (vm->backend_state)
		json_object_put(vm->backend_state);
	vm_touch(vm);
	fsm_ring_done(&vm->transitions);
	free(vm);
	return NULL;
}

int vm_set_spec(vm_t *vm, json_object *spec)
{
	json_object *v;
	vm_backend_t backend = VM_BACKEND_KVM;
	int64_t vcpus = 1, mem = 0;

	if (!json_object_is_type(spec, json_type_object))
		return -EINVAL;
	if (json_object_object_get_ex(spec, "backend", &v)) {
		backend = vm_backend_from_string(json_object_get_string(v));
		if (backend < 0)
			return -EINVAL;
	}
	if (json_object_object_get_ex(spec, "vcpus", &v))
		vcpus = json_object_get_int64(v);
	if (json_object_object_get_ex(spec, "memory_mib", &v))
		mem = json_object_get_int64(v);
	if (vcpus < 1 || mem < 0)
		return -EINVAL;

	char *name = NULL;
	if (json_object_object_get_ex(spec, "name", &v)) {
		name = strdup(json_object_get_string(v));
		if (!name)
			return -ENOMEM;
	}

	if (vm->spec)
		json_object_put(vm->spec);
	vm->spec = json_object_get(spec);
	free(vm->name);
	vm->name = name;
	vm->backend = backend;
	vm->vcpus = (unsigned)vcpus;
	vm->memory_mib = (uint64_t)mem;
	return 0;
}

void vm_touch(vm_t *vm)
{
	if (vm->view) {
		json_object_put(vm->view);
		vm->view = NULL;
	}
}

int vm_set_cause(vm_t *vm, const char *cause)
{
	char *c = NULL;

	if (cause) {
		c = strdup(cause);
		if (!c)
			return -ENOMEM;
	}
	free(vm->cause);
	vm->cause = c;
	return 0;
}

bool vm_name_is_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (alnum)
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		return false;
	}
	return true;
}

bool vm_id_is_valid(const char *id)
{
	if (!id || strlen(id) != VM_ID_LEN)
		return false;
	for (size_t i = 0; i < VM_ID_LEN; i++) {
		char c = id[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}
