/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-init: PID 1 of a Linux guest (docs/linux-guests.md). Static musl.
 * main.c: options, startup order, the event loop; system.c: mounts,
 * console, hostname; run.c: the mvm.run= command; shutdown.c: the orderly
 * poweroff; wasm.c: Wasm modules by hash (exec_agent_config_t.wasm_main).
 */
#ifndef MVM_INIT_H
#define MVM_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec-agent.h"
#include "util/guestconf.h"

#define INIT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define INIT_DEFAULT_STOP_TIMEOUT_MS 3000
#define INIT_PROCESS_CONF "/mvm/process.conf" /* the image's process (lib/util/guestconf.h) */

typedef struct init_state {
	bool pid1;          /* getpid() == 1 (also true as a PID-namespace init) */
	bool no_mount;      /* --no-mount: leave the filesystem alone */
	const char *agent_unix; /* --agent-unix PATH instead of AF_VSOCK */
	char *cmdline;      /* kernel command line (or --cmdline) */
	exec_agent_t *agent;
	pid_t run_pid;      /* mvm.run= command while it runs */
	bool poweroff_after_run;
	unsigned stop_timeout_ms;
	unsigned long reaped_orphans;
	const char *process_conf; /* INIT_PROCESS_CONF, or --process-conf */
	pid_t process_pid;        /* the image's process while it runs */
	bool poweroff_after_process;
	bool root_mounted;        /* / is the root disk: remounted read-only at poweroff */
	int power_button_fd;      /* evdev of the ACPI "Power Button", or -1 */
	/* Shutdown: 0 none, 1 TERM sent (waiting), 2 KILL sent. */
	int stopping;
	uint64_t stop_deadline_ms;
} init_state_t;

/* Console messages, always "mvm-init: " + text + "\n", one write each. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* system.c */
void system_mount_all(void);
void system_console(void);
void system_hostname(const init_state_t *s);
void system_load_modules(void);

/* run.c */
void run_start(init_state_t *s);
/* In a forked child before its exec: PID 1's signal dispositions and mask
 * undone, and a session of its own. */
void run_child_setup(void);
void run_exited(init_state_t *s, int status);

/* process.c: the image's process (INIT_PROCESS_CONF); root.c: its root disk */
int process_load(init_state_t *s, const char *path); /* 0 none, 1 loaded, <0 unusable (said) */
int process_enter_root(init_state_t *s);
void process_start(init_state_t *s);
void process_exited(init_state_t *s, int status);
void process_failed(init_state_t *s, const char *why);
void process_set_exit_unix(const char *path); /* --exit-unix: AF_UNIX instead of vsock port 1026 */
int root_enter(const guestconf_t *c);

/* power-button.c: the ACPI power button as an input device */
int power_button_open(void); /* fd or -1 */
bool power_button_pressed(int fd);

/* shutdown.c */
void shutdown_begin(init_state_t *s, const char *why);
/* Called after every loop round while stopping; never returns at the end. */
void shutdown_step(init_state_t *s);
int shutdown_timeout_ms(const init_state_t *s);

uint64_t init_now_ms(void);

/* wasm.c: Wasm modules by hash, fetched from mvmd (blob protocol) */
void init_wasm_set_blob_unix(const char *path); /* --blob-unix: AF_UNIX instead of vsock */
int init_wasm_main(const char *hash_hex, int argc, char **argv, char **envp);

#endif
