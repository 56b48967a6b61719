/* SPDX-License-Identifier: Apache-2.0 */
/* Interfaces by hash: see interface.h and docs/actors.md. */
#include "interface.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor.h"
#include "kvm/backend-kvm.h"
#include "manager.h"
#include "workload.h"

/* Who a routed message answers: the sending VM as it was when it sent
 * (a worker that restarted since has new send ids: the answer is not
 * its), and its send id. */
typedef struct reply_to {
	char vm[VM_ID_LEN + 1];
	pid_t pid;
	uint64_t starttime;
	uint64_t send_id;
	interfaces_t *ifs;
} reply_to_t;

typedef struct outside {
	struct outside *next;
	char iface[INTERFACE_LEN + 1];
	interface_handler_ops_t ops;
	void *userdata;
} outside_t;

/* A message an outside handler holds. */
typedef struct held {
	struct held *next;
	uint64_t id;
	void *userdata;
	char iface[INTERFACE_LEN + 1];
	sd_event_source *timer;
	reply_to_t to;
} held_t;

struct interfaces {
	sd_event *event;
	manager_t *m;
	actors_t *a;
	outside_t *outside;
	held_t *held;
	uint64_t next_id;
};

int interfaces_new(sd_event *e, manager_t *m, actors_t *a, interfaces_t **ret)
{
	struct timespec ts;
	interfaces_t *ifs = calloc(1, sizeof(*ifs));

	if (!ifs)
		return -ENOMEM;
	ifs->event = e;
	ifs->m = m;
	ifs->a = a;
	clock_gettime(CLOCK_REALTIME, &ts);
	ifs->next_id = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	*ret = ifs;
	return 0;
}

static void held_free(held_t *h)
{
	h->timer = sd_event_source_disable_unref(h->timer);
	free(h);
}

interfaces_t *interfaces_free(interfaces_t *ifs)
{
	if (!ifs)
		return NULL;
	while (ifs->held) {
		held_t *h = ifs->held;
		ifs->held = h->next;
		held_free(h);
	}
	while (ifs->outside) {
		outside_t *o = ifs->outside;
		ifs->outside = o->next;
		free(o);
	}
	free(ifs);
	return NULL;
}

/* The answer (or error) to the sender's guest, if it is still the one
 * that sent: else it is dropped. */
static void reply(interfaces_t *ifs, const reply_to_t *to, int status, const uint8_t *data, size_t len)
{
	vm_t *vm = manager_find(ifs->m, to->vm);
	kvm_msg_actor_t h = { .id = to->send_id, .kind = KVM_ACTOR_ANSWER, .status = status };

	if (!vm || vm->pid != to->pid || vm->pid_starttime != to->starttime)
		return;
	(void)backend_kvm_actor_deliver(vm, &h, status == 0 ? data : NULL, status == 0 ? len : 0);
}

static bool vm_active(const vm_t *vm)
{
	return vm->state == VM_STATE_STARTING || vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED ||
	       vm->state == VM_STATE_STOPPING;
}

/* The active VM that handles iface (other than except), and its index. */
static vm_t *vm_handler(interfaces_t *ifs, const char *iface, const vm_t *except, unsigned *ret_k)
{
	size_t n;
	vm_t *const *vms = manager_vms(ifs->m, &n);

	for (size_t i = 0; i < n; i++) {
		unsigned k;
		if (vms[i] == except || vms[i]->backend != VM_BACKEND_KVM || !vm_active(vms[i]))
			continue;
		if ((k = workload_handles_index(vms[i], iface))) {
			if (ret_k)
				*ret_k = k;
			return vms[i];
		}
	}
	return NULL;
}

static outside_t *outside_handler(interfaces_t *ifs, const char *iface)
{
	for (outside_t *o = ifs->outside; o; o = o->next)
		if (strcmp(o->iface, iface) == 0)
			return o;
	return NULL;
}

static void on_vm_answer(actor_msg_t *msg, int status, const uint8_t *data, size_t len, void *userdata)
{
	reply_to_t *to = userdata;

	(void)msg;
	reply(to->ifs, to, status, data, len);
	free(to);
}

static void held_unlink(interfaces_t *ifs, held_t *h)
{
	for (held_t **p = &ifs->held; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			return;
		}
	}
}

static int on_held_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	held_t *h = userdata;
	interfaces_t *ifs = h->to.ifs;

	(void)s;
	(void)usec;
	held_unlink(ifs, h);
	reply(ifs, &h->to, -ETIMEDOUT, NULL, 0);
	held_free(h);
	return 0;
}

static int route_outside(interfaces_t *ifs, outside_t *o, const reply_to_t *to, uint64_t timeout_ms,
			 const uint8_t *data, size_t len)
{
	size_t n = 0;
	held_t *h;
	int r;

	for (held_t *x = ifs->held; x; x = x->next)
		n += x->userdata == o->userdata;
	if (n >= INTERFACE_PENDING_MAX)
		return -EAGAIN;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->id = ifs->next_id++;
	h->userdata = o->userdata;
	memcpy(h->iface, o->iface, sizeof(h->iface));
	h->to = *to;
	r = sd_event_add_time_relative(ifs->event, &h->timer, CLOCK_MONOTONIC, timeout_ms * 1000ull, 1000,
				       on_held_timeout, h);
	if (r < 0) {
		free(h);
		return r;
	}
	r = o->ops.deliver(o->userdata, o->iface, h->id, data, len);
	if (r < 0) {
		held_free(h);
		return -EPIPE;
	}
	h->next = ifs->held;
	ifs->held = h;
	return 0;
}

void interfaces_route(interfaces_t *ifs, vm_t *sender, uint64_t send_id, const char *iface,
		      const uint8_t *data, size_t len)
{
	char name[INTERFACE_LEN + 1];
	reply_to_t to = { .pid = sender->pid, .starttime = sender->pid_starttime, .send_id = send_id, .ifs = ifs };
	outside_t *o;
	vm_t *h;
	unsigned k = 0;
	uint64_t timeout_ms = workload_send_timeout_ms(sender);
	int r;

	memcpy(to.vm, sender->id, sizeof(to.vm));
	memcpy(name, iface, INTERFACE_LEN);
	name[INTERFACE_LEN] = 0;
	/* Grants first: an ungranted sender learns nothing, not even
	 * whether anybody handles it. */
	if (!workload_may_send(sender, name)) {
		reply(ifs, &to, -EACCES, NULL, 0);
		return;
	}
	if ((o = outside_handler(ifs, name))) {
		r = route_outside(ifs, o, &to, timeout_ms, data, len);
	} else if ((h = vm_handler(ifs, name, NULL, &k)) && h->state == VM_STATE_RUNNING) {
		reply_to_t *t = malloc(sizeof(*t));
		actor_msg_t *msg;
		r = t ? 0 : -ENOMEM;
		if (t) {
			*t = to;
			/* The sender is its worker: a restarted one is another. */
			actor_origin_t origin = { .from = k, .sender = ((uint64_t)sender->pid << 32) ^ sender->pid_starttime };
			r = actors_send(ifs->a, h, &origin, data, len, timeout_ms, on_vm_answer, t, &msg);
			if (r < 0)
				free(t);
		}
		if (r < 0 && r != -EAGAIN)
			r = -EPIPE;
	} else {
		r = -EHOSTUNREACH;
	}
	if (r < 0)
		reply(ifs, &to, r == -ENOMEM ? -EAGAIN : r, NULL, 0);
}

int interfaces_start_conflict(interfaces_t *ifs, const vm_t *vm, const char **ret_iface)
{
	json_object *hs = workload_handles(vm);

	for (size_t i = 0; hs && i < json_object_array_length(hs); i++) {
		json_object *s = json_object_array_get_idx(hs, i);
		const char *iface = json_object_is_type(s, json_type_string) ? json_object_get_string(s) : "";
		if (outside_handler(ifs, iface) || vm_handler(ifs, iface, vm, NULL)) {
			*ret_iface = iface;
			return -EBUSY;
		}
	}
	return 0;
}

int interfaces_handle(interfaces_t *ifs, const char *iface, const interface_handler_ops_t *ops, void *userdata,
		      const char **ret_vm)
{
	vm_t *h = vm_handler(ifs, iface, NULL, NULL);
	outside_t *o;

	if (h || outside_handler(ifs, iface)) {
		*ret_vm = h ? h->id : "";
		return -EBUSY;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	snprintf(o->iface, sizeof(o->iface), "%s", iface);
	o->ops = *ops;
	o->userdata = userdata;
	o->next = ifs->outside;
	ifs->outside = o;
	return 0;
}

int interfaces_answer(interfaces_t *ifs, void *userdata, uint64_t message_id, const uint8_t *data, size_t len)
{
	for (held_t *h = ifs->held; h; h = h->next) {
		if (h->id != message_id || h->userdata != userdata)
			continue;
		held_unlink(ifs, h);
		reply(ifs, &h->to, 0, data, len);
		held_free(h);
		return 0;
	}
	return -ENOENT;
}

/* Whether userdata's handling of iface ends (NULL: all it handles). */
static bool releasing(const char *held_iface, const void *held_ud, const void *userdata, const char *iface)
{
	return held_ud == userdata && (!iface || strcmp(held_iface, iface) == 0);
}

int interfaces_release(interfaces_t *ifs, void *userdata, const char *iface)
{
	int r = -ENOENT;

	for (outside_t **p = &ifs->outside; *p;) {
		outside_t *o = *p;
		if (releasing(o->iface, o->userdata, userdata, iface)) {
			*p = o->next;
			free(o);
			r = 0;
		} else {
			p = &o->next;
		}
	}
	for (held_t **p = &ifs->held; *p;) {
		held_t *h = *p;
		if (releasing(h->iface, h->userdata, userdata, iface)) {
			*p = h->next;
			reply(ifs, &h->to, -EPIPE, NULL, 0);
			held_free(h);
		} else {
			p = &h->next;
		}
	}
	return r;
}

bool interfaces_handles_any(interfaces_t *ifs, const void *userdata)
{
	for (outside_t *o = ifs->outside; o; o = o->next)
		if (o->userdata == userdata)
			return true;
	return false;
}

void interfaces_foreach(interfaces_t *ifs, void (*fn)(const char *iface, const vm_t *vm, void *ud), void *ud)
{
	size_t n;
	vm_t *const *vms = manager_vms(ifs->m, &n);

	for (outside_t *o = ifs->outside; o; o = o->next)
		fn(o->iface, NULL, ud);
	for (size_t i = 0; i < n; i++) {
		json_object *hs;
		if (vms[i]->backend != VM_BACKEND_KVM || !vm_active(vms[i]) || !(hs = workload_handles(vms[i])))
			continue;
		for (size_t k = 0; k < json_object_array_length(hs); k++) {
			json_object *s = json_object_array_get_idx(hs, k);
			if (json_object_is_type(s, json_type_string))
				fn(json_object_get_string(s), vms[i], ud);
		}
	}
}
