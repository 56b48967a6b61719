/* SPDX-License-Identifier: Apache-2.0 */
#include "vmlog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "metrics.h"
#include "util/log.h"
#include "util/macro.h"

bool vmlog_journal_stream(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
		return false;
	return fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* One "FIELD=value" for sd_journal_sendv; NULL value: no field. */
typedef struct field {
	const char *name, *value;
} field_t;

/*
 * The entry about VM id (name may be NULL): a journal entry with its
 * fields when stderr is journald's stream, else (or when the journal
 * refused it) the message as a plain line, as every other log line is.
 */
static void entry_v(int level, const char *id, const char *name, const field_t *fields, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;

	if (level > log_get_max_level() || vasprintf(&msg, fmt, ap) < 0)
		return;
	if (vmlog_journal_stream()) {
		char *lines[16] = { 0 };
		struct iovec iov[16];
		size_t k = 0;
		int r = 0;

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (k < ELEMENTSOF(lines) && asprintf(&lines[k], __VA_ARGS__) >= 0) {              \
			iov[k] = (struct iovec){ .iov_base = lines[k], .iov_len = strlen(lines[k]) }; \
			k++;                                                                       \
		} else                                                                             \
			r = -1;                                                                    \
	} while (0)
		ADD("MESSAGE=%s", msg);
		ADD("PRIORITY=%d", level);
		ADD("SYSLOG_IDENTIFIER=mvmd");
		ADD("VM_ID=%s", id);
		if (name)
			ADD("VM_NAME=%s", name);
		for (; fields && fields->name; fields++)
			if (fields->value)
				ADD("%s=%s", fields->name, fields->value);
#undef ADD
		if (r == 0)
			r = sd_journal_sendv(iov, (int)k);
		for (size_t i = 0; i < k; i++)
			free(lines[i]);
		if (r >= 0)
			return;
	}
	log_full_errno(level, 0, "%s", msg);
}

static _printf_(4, 5) void vm_entry(int level, const vm_t *vm, const field_t *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	entry_v(level, vm->id, vm->name, fields, fmt, ap);
	va_end(ap);
}

void vmlog_vm(int level, const vm_t *vm, const char *fmt, ...)
{
	field_t fields[] = {
		{ "VM_STATE", vm_state_to_string(vm->state) },
		{ "VM_BACKEND", vm_backend_to_string(vm->backend) },
		{ NULL, NULL },
	};
	va_list ap;

	va_start(ap, fmt);
	entry_v(level, vm->id, vm->name, fields, fmt, ap);
	va_end(ap);
}

void vmlog_id(int level, const char *id, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	entry_v(level, id, name, NULL, fmt, ap);
	va_end(ap);
}

/* The documented causes of a stop mvmd had to enforce (docs/rpc-methods.md,
 * compute.vm.stop): a kill (forced, or at the stop's timeout), a micro-VM
 * guest halted after its grace, a Linux guest that ignored the power
 * button until the timeout. */
static bool stop_was_enforced(const char *cause)
{
	return strncmp(cause, "killed by ", 10) == 0 || strstr(cause, "ignored the stop") ||
	       strstr(cause, "ignored the power button");
}

/*
 * Every end of a VM is logged once, from its transition, so that the
 * journal shows each crash and each exit: a clean stop or exit code 0 at
 * info; another exit code, or a stop mvmd had to enforce (a kill, a
 * timeout that escalated), at notice; every Failed and StartFailed (guest
 * faults, dead or lost workers, with the cause) at warning. A removal is
 * logged by compute.vm.remove, which knows the VM.
 */
void vmlog_vm_end(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	const vm_t *vm = ev->removed ? NULL : manager_find(m, ev->vm);
	const char *cause = ev->cause ? ev->cause : "no cause recorded";
	char code[48] = "", exit_code[16] = "";
	metrics_cause_t cls;
	int level = LOG_WARNING;

	if (!vm || (ev->to != VM_STATE_STOPPED && ev->to != VM_STATE_FAILED && ev->to != VM_STATE_START_FAILED))
		return;
	if (ev->to == VM_STATE_STOPPED) {
		level = LOG_INFO;
		if (vm->has_exit_code) {
			snprintf(code, sizeof(code), ", exit code %" PRIu32, vm->exit_code);
			snprintf(exit_code, sizeof(exit_code), "%" PRIu32, vm->exit_code);
			if (vm->exit_code != 0)
				level = LOG_NOTICE;
		}
		if (stop_was_enforced(cause))
			level = LOG_NOTICE;
	}
	cls = metrics_cause_classify(ev->from, ev->to, ev->cause, vm->has_exit_code && vm->exit_code != 0);
	field_t fields[] = {
		{ "VM_STATE", vm_state_to_string(ev->to) },
		{ "VM_FROM_STATE", vm_state_to_string(ev->from) },
		{ "VM_BACKEND", vm_backend_to_string(vm->backend) },
		{ "VM_CAUSE", cause },
		{ "VM_CAUSE_CLASS", cls < _METRICS_CAUSE_MAX ? metrics_cause_to_string(cls) : NULL },
		{ "VM_EXIT_CODE", exit_code[0] ? exit_code : NULL },
		{ NULL, NULL },
	};
	vm_entry(level, vm, fields, "vm %s%s%s%s: %s -> %s%s: %s", vm->id, vm->name ? " \"" : "",
		 vm->name ? vm->name : "", vm->name ? "\"" : "", vm_state_to_string(ev->from),
		 vm_state_to_string(ev->to), code, cause);
}

void vmlog_adopted(const vm_t *vm)
{
	char pid[24] = "";

	if (vm->pid > 0)
		snprintf(pid, sizeof(pid), "%d", (int)vm->pid);
	field_t fields[] = {
		{ "VM_STATE", vm_state_to_string(vm->state) },
		{ "VM_BACKEND", vm_backend_to_string(vm->backend) },
		{ "VM_PID", pid[0] ? pid : NULL },
		{ NULL, NULL },
	};
	vm_entry(LOG_INFO, vm, fields, "vm %s%s%s%s: re-adopted its %s process%s%s, %s", vm->id,
		 vm->name ? " \"" : "", vm->name ? vm->name : "", vm->name ? "\"" : "",
		 vm->backend == VM_BACKEND_CH ? "cloud-hypervisor" : "worker", pid[0] ? " pid " : "", pid,
		 vm_state_to_string(vm->state));
}

void vmlog_pool_pause(void *userdata, bool paused, const char *last_error)
{
	if (paused)
		log_warning("kvm pool paused after failures in a row (starts are cold meanwhile): %s",
			    last_error && last_error[0] ? last_error : "no failure recorded");
	else
		log_info("kvm pool resumed: spawning warm workers again");
}
