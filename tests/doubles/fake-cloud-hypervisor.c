/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST DOUBLE: a fake `cloud-hypervisor` executable. cloud-hypervisor is
 * not packaged by Debian and cannot boot a Linux guest on the development
 * machines, so mvmd's full ch lifecycle is driven against this stand-in:
 *
 *  - `--version` prints $MVM_FAKE_CH_VERSION (default
 *    "cloud-hypervisor v40.0.0") and exits 0;
 *  - otherwise it takes the same arguments mvmd passes to the real binary
 *    (and refuses any other, as the real one does), writes its argv to
 *    <api dir>/fake-ch.argv, serves the REST API double
 *    (tests/lib/ch-api-double.c) on the --api-socket path, recording
 *    requests in <api dir>/fake-ch.requests, and listens on the --serial
 *    and --vsock socket paths;
 *  - the --vsock socket speaks the hybrid vsock handshake ("CONNECT 52"
 *    answered "OK <port>") in front of the project's exec agent
 *    (init/linux/exec-agent.h) running host programs, as mvm-init's agent does
 *    in a real guest, so compute.vm.exec works on the double; any other
 *    port is refused by closing the connection, as cloud-hypervisor does
 *    when nothing listens in the guest;
 *  - a serial client gets "mvm-init: ready" (the guest's banner) on its
 *    first connection and "fake-ch: serial reconnected" on later ones,
 *    and everything it writes echoed back as "echo: ...";
 *  - MVM_FAKE_CH_DELAY_MS=N delays the API socket by N ms, and
 *    MVM_FAKE_CH_CREATED_POLLS=N (default 3) is how many vm.info answers
 *    say "Created" before "Running";
 *  - it exits by itself after MVM_FAKE_CH_LIFETIME_S seconds (default
 *    120): a test that fails before its teardown leaves no process behind
 *    (the real one outlives mvmd by design, so nothing else would end it);
 *  - vm.power-button makes the "guest" print "mvm-init: powering off" and
 *    the process exit 0, as cloud-hypervisor does when its guest powers
 *    off (unless MVM_FAKE_CH_IGNORE_POWER_BUTTON=1); vmm.shutdown exits 0.
 *
 * It boots nothing: what only the real binary proves is listed in
 * docs/linux-guests.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ch-api-double.h"
#include "exec-agent.h"
#include "proto/exec-frame.h"

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		return -1;
	return fd;
}

static void say(int fd, const char *s)
{
	if (fd >= 0)
		(void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static const char *after(const char *arg, const char *prefix)
{
	return strncmp(arg, prefix, strlen(prefix)) == 0 ? arg + strlen(prefix) : NULL;
}

/*
 * In a helper process of the double: hold nothing of the VM's but `keep`
 * (stdio on /dev/null, every other fd closed), so the only process with
 * the VM's files open (ch.log) stays the double itself, whose pid mvmd
 * reports, as with the real cloud-hypervisor.
 */
static void detach_fds(int keep)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (keep > 3)
		close_range(3, (unsigned)keep - 1, 0);
	close_range((unsigned)(keep >= 3 ? keep + 1 : 3), ~0u, 0);
}

/* The agent's side of the relay: a process of its own that dies with
 * the double (a real guest's agent ends with the VM). */
static int start_agent(const char *path)
{
	exec_agent_config_t cfg = { .transport = exec_transport_unix(path), .platform = "fake-cloud-hypervisor" };
	exec_agent_t *a;
	pid_t pid = fork();

	if (pid != 0)
		return pid < 0 ? -1 : 0;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	detach_fds(-1);
	signal(SIGCHLD, SIG_DFL); /* the agent reaps its own commands */
	signal(SIGALRM, SIG_DFL);
	if (exec_agent_new(&cfg, &a) < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: cannot start the exec agent on %s\n", path);
		_exit(1);
	}
	exec_agent_run(a, -1);
	_exit(0);
}

/* One hybrid vsock connection, in a child: read "CONNECT <port>\n",
 * answer "OK <host port>\n" and relay bytes to the agent both ways. */
static void vsock_conn(int c, const char *agent_path)
{
	char line[64];
	size_t len = 0;
	unsigned port = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int a;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	detach_fds(c);
	while (len < sizeof(line) - 1 && read(c, line + len, 1) == 1 && line[len] != '\n')
		len++;
	line[len] = '\0';
	if (sscanf(line, "CONNECT %u", &port) != 1 || port != EXEC_AGENT_PORT)
		_exit(0);
	if (strlen(agent_path) >= sizeof(sa.sun_path))
		_exit(0);
	memcpy(sa.sun_path, agent_path, strlen(agent_path) + 1);
	a = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a < 0 || connect(a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(0);
	say(c, "OK 1073741824\n");
	bool up = true, down = true;
	while (up || down) {
		struct pollfd p[2] = { { .fd = up ? c : -1, .events = POLLIN }, { .fd = down ? a : -1, .events = POLLIN } };
		char buf[65536];
		if (poll(p, 2, -1) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			int from = i ? a : c, to = i ? c : a;
			ssize_t n = read(from, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(to, SHUT_WR);
				*(i ? &down : &up) = false;
				continue;
			}
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					_exit(0);
				off += w;
			}
		}
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *api = NULL, *serial = NULL, *vsock = NULL, *kernel = NULL;
	char dir[4096], argv_path[4200], rec_path[4200];
	char agent_path[4300];
	int serial_fd, vsock_fd, client = -1, connections = 0;
	ch_double_t *d;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		const char *v = getenv("MVM_FAKE_CH_VERSION");
		printf("%s\n", v ? v : "cloud-hypervisor v40.0.0");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "fake-cloud-hypervisor: %s needs a value\n", a);
			return 1;
		}
		if (strcmp(a, "--api-socket") == 0 && after(v, "path="))
			api = after(v, "path=");
		else if (strcmp(a, "--serial") == 0 && after(v, "socket="))
			serial = after(v, "socket=");
		else if (strcmp(a, "--vsock") == 0 && strstr(v, ",socket=") && after(v, "cid="))
			vsock = strstr(v, ",socket=") + 8;
		else if (strcmp(a, "--kernel") == 0)
			kernel = v;
		else if (strcmp(a, "--initramfs") == 0 || strcmp(a, "--cmdline") == 0 ||
			 (strcmp(a, "--cpus") == 0 && after(v, "boot=")) ||
			 (strcmp(a, "--memory") == 0 && after(v, "size=")) ||
			 (strcmp(a, "--console") == 0 && strcmp(v, "off") == 0))
			;
		else {
			fprintf(stderr, "fake-cloud-hypervisor: unexpected argument %s %s\n", a, v);
			return 1;
		}
		i++;
	}
	if (!api || !serial || !vsock || !kernel) {
		fprintf(stderr, "fake-cloud-hypervisor: --api-socket, --serial, --vsock and --kernel are required\n");
		return 1;
	}
	if (access(kernel, R_OK) < 0) {
		fprintf(stderr, "Error booting VM: kernel %s: %s\n", kernel, strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", api);
	snprintf(argv_path, sizeof(argv_path), "%s/fake-ch.argv", dirname(dir));
	snprintf(rec_path, sizeof(rec_path), "%s/fake-ch.requests", dir);
	FILE *f = fopen(argv_path, "w");
	if (f) {
		for (int i = 0; i < argc; i++)
			fprintf(f, "%s\n", argv[i]);
		fclose(f);
	}

	/* A slow VMM: the API socket appears only after this many ms. */
	const char *delay = getenv("MVM_FAKE_CH_DELAY_MS");
	if (delay)
		usleep((useconds_t)atoi(delay) * 1000u);
	signal(SIGPIPE, SIG_IGN);
	const char *polls = getenv("MVM_FAKE_CH_CREATED_POLLS");
	ch_double_config_t cfg = {
		.created_polls = polls ? (unsigned)atoi(polls) : 3,
		.ignore_power_button = getenv("MVM_FAKE_CH_IGNORE_POWER_BUTTON") != NULL,
		.record_path = rec_path,
	};
	if (ch_double_new(api, &cfg, &d) < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: cannot listen on %s\n", api);
		return 1;
	}
	serial_fd = listen_unix(serial);
	vsock_fd = listen_unix(vsock);
	if (serial_fd < 0 || vsock_fd < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: cannot listen on %s or %s\n", serial, vsock);
		return 1;
	}
	/* Relays are reaped by the kernel; the agent resets this for its own
	 * commands. */
	signal(SIGCHLD, SIG_IGN);
	snprintf(agent_path, sizeof(agent_path), "%s/fake-ch.agent.sock", dir);
	if (start_agent(agent_path) < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: cannot fork the exec agent\n");
		return 1;
	}
	fprintf(stderr, "fake-cloud-hypervisor: pid %d serving %s\n", (int)getpid(), api);
	const char *life = getenv("MVM_FAKE_CH_LIFETIME_S");
	alarm(life ? (unsigned)atoi(life) : 120u); /* SIGALRM's default action ends it */

	for (;;) {
		struct pollfd p[4] = {
			{ .fd = ch_double_listen_fd(d), .events = POLLIN },
			{ .fd = serial_fd, .events = POLLIN },
			{ .fd = vsock_fd, .events = POLLIN },
			{ .fd = client, .events = POLLIN },
		};
		if (poll(p, client >= 0 ? 4 : 3, -1) < 0)
			continue;
		if (p[2].revents) {
			int c = accept4(vsock_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (fork() == 0)
					vsock_conn(c, agent_path);
				close(c);
			}
		}
		if (p[0].revents) {
			ch_double_event_t ev = CH_DOUBLE_NONE;
			if (ch_double_serve_one(d, 0, &ev) == 0) {
				if (ev == CH_DOUBLE_POWER_BUTTON && !cfg.ignore_power_button) {
					say(client, "mvm-init: shutting down (power button): sending SIGTERM to all processes\n"
						    "mvm-init: powering off\n");
					fprintf(stderr, "fake-cloud-hypervisor: guest powered off\n");
					ch_double_free(d);
					return 0;
				}
				if (ev == CH_DOUBLE_VMM_SHUTDOWN) {
					fprintf(stderr, "fake-cloud-hypervisor: vmm.shutdown\n");
					ch_double_free(d);
					return 0;
				}
			}
		}
		if (p[1].revents) {
			int c = accept4(serial_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (client >= 0)
					close(client);
				client = c;
				say(client, connections++ ? "fake-ch: serial reconnected\n" : "mvm-init: ready\n");
			}
		}
		if (client >= 0 && p[3].revents) {
			char buf[1024], out[1100];
			ssize_t n = read(client, buf, sizeof(buf) - 1);
			if (n <= 0) {
				close(client);
				client = -1;
				continue;
			}
			buf[n] = '\0';
			snprintf(out, sizeof(out), "echo: %s", buf);
			say(client, out);
		}
	}
}
