/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest-side exec agent: accepts connections on a transport, reads one
 * request per connection, runs it (fork/execve, or a built-in), streams
 * stdout/stderr back as frames and ends with an exit or error frame. See
 * docs/exec-protocol.md. Builds against glibc and musl (mvm-init).
 *
 * The agent is single-threaded and event driven, so its driver owns the
 * loop: mvm-init polls the agent's fds next to its signalfd and forwards
 * every child it reaps with waitpid(-1) to exec_agent_child_exited(). The
 * agent never calls waitpid() itself. exec_agent_run() is a self-contained
 * driver for processes that have nothing else to do (tests).
 *
 * The process that drives the agent must ignore SIGPIPE (mvm-init does):
 * writing to a child's stdin after it exited must not kill the agent.
 */
#ifndef MVM_EXEC_AGENT_H
#define MVM_EXEC_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How the agent gets connections: a listening socket of any family. */
typedef struct exec_transport {
	const char *name; /* for messages: "vsock:52", "unix:/path" */
	/* Return a listening, non-blocking, close-on-exec socket or -errno. */
	int (*listen)(const struct exec_transport *t);
	const char *path; /* AF_UNIX path */
	unsigned port;    /* AF_VSOCK port */
} exec_transport_t;

/* AF_VSOCK on port (VMADDR_CID_ANY), as in a real guest. */
exec_transport_t exec_transport_vsock(unsigned port);
/* AF_UNIX stream socket at path (an existing socket file is replaced). */
exec_transport_t exec_transport_unix(const char *path);

typedef struct exec_agent_config {
	exec_transport_t transport;
	const char *platform;   /* reported by mvm.info, e.g. "mvm-init" */
	unsigned max_connections; /* 0: default 16; more wait in the backlog */
	/* A connection that has not sent its whole request by then gets a
	 * protocol error and is closed, so idle peers cannot hold every slot.
	 * 0: default 30000. */
	unsigned request_timeout_ms;
	/*
	 * Where the Wasm runtime plugs in (docs/design.md §6). For a request with
	 * argv[0] = "sha256:<64 hex>" the agent forks as for any program
	 * (pipes, process group, timeout) and calls this in the child with
	 * stdio already connected; its return value is the exit code. NULL
	 * (today, in mvm-init): such requests get error{not-supported}.
	 */
	int (*wasm_main)(const char *hash_hex, int argc, char **argv, char **envp);
} exec_agent_config_t;

typedef struct exec_agent exec_agent_t;

/* Creates the listener. -EAFNOSUPPORT when the transport's family is absent. */
int exec_agent_new(const exec_agent_config_t *cfg, exec_agent_t **ret);
/* Kills (SIGKILL to each group) what is still running, closes everything. */
exec_agent_t *exec_agent_free(exec_agent_t *a);

/* Upper bound of fds exec_agent_pollfds() may fill. */
size_t exec_agent_max_pollfds(const exec_agent_t *a);
/* Fill fds for poll(); returns the count. Call exec_agent_dispatch() with
 * the same array after poll() and before calling this again. */
size_t exec_agent_pollfds(exec_agent_t *a, struct pollfd *fds, size_t max);
/* Handle the poll results; returns 0 or -errno for fatal listener errors. */
int exec_agent_dispatch(exec_agent_t *a, const struct pollfd *fds, size_t n);
/* Milliseconds until the next timeout the agent must act on, or -1. */
int exec_agent_timeout_ms(const exec_agent_t *a);
/* A child was reaped; true if it was one of the agent's. */
bool exec_agent_child_exited(exec_agent_t *a, pid_t pid, int status);

/* Serve until stop_fd (if >= 0) becomes readable. Blocks SIGCHLD in the
 * calling thread and reaps only the agent's own children. */
int exec_agent_run(exec_agent_t *a, int stop_fd);

#endif
