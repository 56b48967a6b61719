/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture of the ch-backend integration suites (check_mvmd_ch*.c): a
 * real mvmd on temp paths whose cloud-hypervisor is the double
 * (build/tests/doubles/fake-cloud-hypervisor), a stand-in kernel file and
 * a stand-in /dev/kvm, so the cases run where KVM does not.
 */
#ifndef MVM_TESTS_CH_DAEMON_H
#define MVM_TESTS_CH_DAEMON_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "mvmt-events.h"
#include "mvmtest.h"

typedef struct mvmt_chd {
	mvmt_daemon_t d;
	int fd;                 /* a client of d, once chd_start() ran */
	char fake[PATH_MAX];    /* this test's name for the double */
	char kernel[256];       /* a readable stand-in kernel */
	char fake_kvm[256];     /* a stand-in /dev/kvm */
} mvmt_chd_t;

/* The one fixture of the running test (each test forks). */
extern mvmt_chd_t chd;

/* A knob of the double (tests/doubles/fake-cloud-hypervisor.c): mvmd gives
 * cloud-hypervisor none of its environment, so knobs go in <binary>.env. */
void chd_knob(const char *key, const char *value);
void chd_knobs_clear(void);
/* Into dm's directory: `name`, a link to the double of this suite's own
 * (its knobs file <name>.env is then the suite's), and a readable
 * stand-in kernel `vmlinuz`; their paths into fake and kernel. For the
 * suites that run ch VMs beside other fixtures (check_mvmd_capacity.c,
 * check_mvmd_fds.c) too. */
void chd_double_files(const mvmt_daemon_t *dm, const char *name, char *fake, size_t fake_size, char *kernel,
		      size_t kernel_size);
void chd_setup(void);
/* Start mvmd with the double as cloud-hypervisor (or with `binary`). */
void chd_start(const char *binary);
void chd_teardown(void);
/* Create a ch VM on chd.kernel (64 MiB, 2 vCPUs), asserting Configured. */
void chd_create(const char *name);
/* method with {"id": name[, extra]} on chd.fd: the whole response. */
json_object *chd_call_id(const char *method, const char *name, const char *extra);
json_object *chd_status(const char *name);
/* mvmt_wait_state() on chd.fd. */
json_object *chd_wait_state(const char *name, const char *state);
bool chd_log_has(const char *name, const char *needle);
/* Until the VM's log shows needle (the log is no event: this polls). */
void chd_wait_log(const char *name, const char *needle);
/* STATE_DIR/vms/<id>/<file> of a VM. */
void chd_vm_file(const char *name, const char *file, char *buf, size_t size);
/* A whole file (up to 16 KiB) in a static buffer, or NULL. */
char *chd_slurp(const char *path);
/* Fails the test unless pid ended within MVMT_EVENT_TIMEOUT_MS. */
void chd_wait_ended(int pid);
int chd_console_connect(const char *name);
/* Read from a console client until `needle` shows up (60 s). */
void chd_console_expect(int c, const char *needle);

#endif
