/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST DOUBLE: a fake `cloud-hypervisor` executable. cloud-hypervisor is
 * not packaged by Debian and cannot boot a Linux guest on the development
 * machines, so mvmd's full ch lifecycle is driven against this stand-in:
 *
 *  - its knobs come from the file <argv[0]>.env, lines KEY=VALUE (mvmd
 *    gives cloud-hypervisor none of its environment, so a test links the
 *    double into its own directory and writes the file beside it);
 *  - `--version` prints MVM_FAKE_CH_VERSION (default
 *    "cloud-hypervisor v40.0.0") and exits 0;
 *  - otherwise it takes only `--api-socket path=...` (and refuses any
 *    other argument), writes its argv to <api dir>/fake-ch.argv and its
 *    environment to <api dir>/fake-ch.environ, serves the REST API double
 *    (tests/lib/ch-api-double.c) on the --api-socket path, recording
 *    requests in <api dir>/fake-ch.requests and the accepted VmConfig in
 *    <api dir>/fake-ch.config, and once the VM is booted through the API
 *    (or restored through vm.restore from a snapshot's config.json)
 *    listens on the serial and vsock socket paths of that VmConfig;
 *  - the vsock socket speaks the hybrid vsock handshake ("CONNECT 52"
 *    answered "OK <port>") in front of the project's exec agent
 *    (init/linux/exec-agent.h) running host programs, as mvm-init's agent does
 *    in a real guest, so compute.vm.exec works on the double; an exec of
 *    argv[0] = sha256:<hex> fetches that module from mvmd's blob server
 *    (docs/blob-protocol.md, the Unix socket <vm dir>/vsock.sock_1025)
 *    as the guest's Wasm runtime does, and prints
 *    "module sha256:<hex>: <n> bytes" instead of running it; any other
 *    port is refused by closing the connection, as cloud-hypervisor does
 *    when nothing listens in the guest; with MVM_FAKE_CH_VSOCK_MUTE=1 it
 *    answers "OK" and then reads and drops everything, never answering
 *    (a guest whose agent hangs);
 *  - a serial client gets "mvm-init: ready" (the guest's banner) on its
 *    first connection and "fake-ch: serial reconnected" on later ones,
 *    and everything it writes echoed back as "echo: ...";
 *  - MVM_FAKE_CH_DELAY_MS=N delays the API socket by N ms, and
 *    MVM_FAKE_CH_CREATED_POLLS=N (default 3) is how many vm.info answers
 *    after the boot say "Created" before "Running";
 *  - MVM_FAKE_CH_PING_GATE=PATH answers the first vmm.ping only once PATH
 *    exists, and from then listens on <api dir>/serial.sock before any
 *    vm.create: mvmd holds the ping's connection until the test lets it
 *    go, then its serial connection takes the fd that connection freed
 *    (a test can leave mvmd no fd for the vm.create that follows);
 *  - MVM_FAKE_CH_EXIT_CODE=N: once mvmd connected the serial console, the
 *    "image's process" ends with N: reported as mvm-init does (vsock port
 *    1026, "exit_code N"), then the guest powers off (exit 0).
 *  - it exits by itself after MVM_FAKE_CH_LIFETIME_S seconds (default
 *    120): a test that fails before its teardown leaves no process behind
 *    (the real one outlives mvmd by design, so nothing else would end it);
 *  - vm.power-button makes the "guest" print "mvm-init: powering off" and
 *    the process exit 0, as cloud-hypervisor does when its guest powers
 *    off (unless MVM_FAKE_CH_IGNORE_POWER_BUTTON=1); vmm.shutdown exits 0;
 *  - MVM_FAKE_CH_REFUSE_SNAPSHOT=1: vm.snapshot writes config.json, then
 *    answers 500 (a snapshot that failed halfway).
 *  - hotplug (vm.add-disk, vm.add-net, vm.remove-device) as the API double
 *    serves it; each accepted request is appended to <api dir>/fake-ch.hotplug
 *    as "OP BODY"; MVM_FAKE_CH_REFUSE_HOTPLUG=1 answers the adds 500.
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
#include "blob-fetch.h"
#include "exec-agent.h"
#include "proto/exec-frame.h"

extern char **environ;

static char knobs[4096];

/* <argv0>.env, read once. */
static void knobs_load(const char *argv0)
{
	char path[4200];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s.env", argv0);
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(knobs, 1, sizeof(knobs) - 1, f);
	fclose(f);
	knobs[n] = '\0';
}

/* The value of KEY in the knobs file, NULL when unset. */
static const char *knob(const char *key)
{
	static char value[512];
	size_t klen = strlen(key);

	for (const char *line = knobs; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			size_t vlen = strcspn(line + klen + 1, "\n");
			snprintf(value, sizeof(value), "%.*s", (int)vlen, line + klen + 1);
			return value;
		}
	}
	return NULL;
}

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

/* What mvm-init does when the image's process ends: connect to the host
 * on vsock port 1026 (hybrid vsock: the Unix socket <vsock>_1026) and
 * write "exit_code N". */
static void guest_reports_exit(const char *vsock, const char *code)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[32];
	int fd;

	if (!vsock)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_1026", vsock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		int n = snprintf(line, sizeof(line), "exit_code %s\n", code);
		if (write(fd, line, (size_t)n) != n)
			fprintf(stderr, "fake-cloud-hypervisor: exit report not written\n");
		shutdown(fd, SHUT_WR);
		/* mvmd closes when it has read it: then power off. */
		char c;
		while (read(fd, &c, 1) > 0)
			;
	}
	close(fd);
}

static void say(int fd, const char *s)
{
	if (fd >= 0)
		(void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

typedef struct gate {
	char path[512];   /* MVM_FAKE_CH_PING_GATE, "" when unset */
	char serial[4200];
	int serial_fd;
	bool passed;
} gate_t;

/* ch_double_config_t.before_answer: hold the first vmm.ping at the gate. */
static void gate_hold(const char *method, const char *path, void *userdata)
{
	gate_t *g = userdata;

	(void)method;
	if (!g->path[0] || g->passed || strcmp(path, "/api/v1/vmm.ping") != 0)
		return;
	while (access(g->path, F_OK) < 0)
		usleep(10000); /* the lifetime alarm ends a gate never opened */
	g->passed = true;
	g->serial_fd = listen_unix(g->serial);
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

/* Where a guest's Wasm runtime gets modules: mvmd's blob server for this VM. */
static char blob_socket[4200];

/* In the agent's child, stdio connected: fetch (mvmd verifies the grant,
 * blob_fetch the hash) and say what came, without a Wasm runtime. */
static int fetch_module(const char *hash_hex, int argc, char **argv, char **envp)
{
	blob_fetch_transport_t t = blob_fetch_transport_unix(blob_socket);
	uint8_t *data = NULL;
	size_t len = 0;
	uint32_t status = 0;
	int r = blob_fetch(&t, hash_hex, NULL, &data, &len, &status);

	if (r < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: fetching sha256:%s: %s (status %u)\n", hash_hex, strerror(-r),
			(unsigned)status);
		return 127;
	}
	printf("module sha256:%s: %zu bytes\n", hash_hex, len);
	fflush(stdout); /* the agent's child ends with _exit */
	free(data);
	return 0;
}

/* The agent's side of the relay: a process of its own that dies with
 * the double (a real guest's agent ends with the VM). */
static int start_agent(const char *path)
{
	exec_agent_config_t cfg = { .transport = exec_transport_unix(path), .platform = "fake-cloud-hypervisor",
				    .wasm_main = fetch_module };
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
static void vsock_conn(int c, const char *agent_path, bool mute)
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
	if (mute) {
		char sink[4096];
		say(c, "OK 1073741824\n");
		while (read(c, sink, sizeof(sink)) > 0)
			;
		_exit(0);
	}
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
	const char *api = NULL;
	char dir[4096], argv_path[4200], rec_path[4200], cfg_path[4200], env_path[4200], hot_path[4200];
	char agent_path[4300];
	int serial_fd = -1, vsock_fd = -1, client = -1, connections = 0;
	ch_double_t *d;

	knobs_load(argv[0]);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		const char *v = knob("MVM_FAKE_CH_VERSION");
		printf("%s\n", v ? v : "cloud-hypervisor v40.0.0");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "fake-cloud-hypervisor: %s needs a value\n", a);
			return 1;
		}
		/* The VM comes through vm.create: a VM argument here would put
		 * what a tenant gave in /proc/PID/cmdline. */
		if (strcmp(a, "--api-socket") == 0 && after(v, "path=") && !api)
			api = after(v, "path=");
		else {
			fprintf(stderr, "fake-cloud-hypervisor: unexpected argument %s %s\n", a, v);
			return 1;
		}
		i++;
	}
	if (!api) {
		fprintf(stderr, "fake-cloud-hypervisor: --api-socket path=... is required\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", api);
	snprintf(argv_path, sizeof(argv_path), "%s/fake-ch.argv", dirname(dir));
	snprintf(rec_path, sizeof(rec_path), "%s/fake-ch.requests", dir);
	snprintf(cfg_path, sizeof(cfg_path), "%s/fake-ch.config", dir);
	snprintf(hot_path, sizeof(hot_path), "%s/fake-ch.hotplug", dir);
	snprintf(env_path, sizeof(env_path), "%s/fake-ch.environ", dir);
	FILE *f = fopen(argv_path, "w");
	if (f) {
		for (int i = 0; i < argc; i++)
			fprintf(f, "%s\n", argv[i]);
		fclose(f);
	}
	f = fopen(env_path, "w");
	if (f) {
		for (char **e = environ; e && *e; e++)
			fprintf(f, "%s\n", *e);
		fclose(f);
	}

	/* A slow VMM: the API socket appears only after this many ms. */
	const char *delay = knob("MVM_FAKE_CH_DELAY_MS");
	if (delay)
		usleep((useconds_t)atoi(delay) * 1000u);
	signal(SIGPIPE, SIG_IGN);
	gate_t gate = { .serial_fd = -1 };
	const char *gate_path = knob("MVM_FAKE_CH_PING_GATE");
	if (gate_path)
		snprintf(gate.path, sizeof(gate.path), "%s", gate_path);
	snprintf(gate.serial, sizeof(gate.serial), "%s/serial.sock", dir);
	bool vsock_mute = knob("MVM_FAKE_CH_VSOCK_MUTE") != NULL;
	const char *polls = knob("MVM_FAKE_CH_CREATED_POLLS");
	unsigned n_polls = polls ? (unsigned)atoi(polls) : 3; /* knob()'s buffer is reused */
	ch_double_config_t cfg = {
		.created_polls = n_polls,
		.ignore_power_button = knob("MVM_FAKE_CH_IGNORE_POWER_BUTTON") != NULL,
		.refuse_snapshot = knob("MVM_FAKE_CH_REFUSE_SNAPSHOT") != NULL,
		.record_path = rec_path,
		.config_path = cfg_path,
		.hotplug_path = hot_path,
		.refuse_hotplug = knob("MVM_FAKE_CH_REFUSE_HOTPLUG") != NULL,
		.before_answer = gate_hold,
		.userdata = &gate,
	};
	if (ch_double_new(api, &cfg, &d) < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: cannot listen on %s\n", api);
		return 1;
	}
	/* Relays are reaped by the kernel; the agent resets this for its own
	 * commands. */
	signal(SIGCHLD, SIG_IGN);
	snprintf(agent_path, sizeof(agent_path), "%s/fake-ch.agent.sock", dir);
	snprintf(blob_socket, sizeof(blob_socket), "%s/vsock.sock_1025", dir);
	if (start_agent(agent_path) < 0) {
		fprintf(stderr, "fake-cloud-hypervisor: cannot fork the exec agent\n");
		return 1;
	}
	fprintf(stderr, "fake-cloud-hypervisor: pid %d serving %s\n", (int)getpid(), api);
	char exit_code[16] = "";
	if (knob("MVM_FAKE_CH_EXIT_CODE"))
		snprintf(exit_code, sizeof(exit_code), "%s", knob("MVM_FAKE_CH_EXIT_CODE"));
	const char *life = knob("MVM_FAKE_CH_LIFETIME_S");
	alarm(life ? (unsigned)atoi(life) : 120u); /* SIGALRM's default action ends it */

	for (;;) {
		struct pollfd p[4] = {
			{ .fd = ch_double_listen_fd(d), .events = POLLIN },
			{ .fd = serial_fd, .events = POLLIN },
			{ .fd = vsock_fd, .events = POLLIN },
			{ .fd = client, .events = POLLIN },
		};
		if (serial_fd < 0 && gate.serial_fd >= 0) {
			serial_fd = gate.serial_fd;
			gate.serial_fd = -1;
		}
		p[1].fd = serial_fd;
		if (poll(p, client >= 0 ? 4 : 3, -1) < 0)
			continue;
		if (vsock_fd >= 0 && p[2].revents) {
			int c = accept4(vsock_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (fork() == 0)
					vsock_conn(c, agent_path, vsock_mute);
				close(c);
			}
		}
		if (p[0].revents) {
			ch_double_event_t ev = CH_DOUBLE_NONE;
			if (ch_double_serve_one(d, 0, &ev) == 0) {
				/* The VM's devices exist once it is booted (or restored), as
				 * they were configured. */
				if (ev == CH_DOUBLE_BOOT || ev == CH_DOUBLE_RESTORE) {
					const char *serial = ch_double_serial_socket(d), *vsock = ch_double_vsock_socket(d);
					if (serial_fd < 0) /* (the gate may have opened it) */
						serial_fd = serial ? listen_unix(serial) : -1;
					vsock_fd = vsock ? listen_unix(vsock) : -1;
					if (serial_fd < 0 || vsock_fd < 0) {
						fprintf(stderr, "fake-cloud-hypervisor: cannot listen on the serial or vsock socket\n");
						ch_double_free(d);
						return 1;
					}
				}
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
		if (serial_fd >= 0 && p[1].revents) {
			int c = accept4(serial_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (client >= 0)
					close(client);
				client = c;
				say(client, connections++ ? "fake-ch: serial reconnected\n" : "mvm-init: ready\n");
				/* The image's process ends with this code: mvm-init's report
				 * over vsock port 1026, then the poweroff. */
				if (exit_code[0] && connections == 1) {
					guest_reports_exit(ch_double_vsock_socket(d), exit_code);
					say(client, "mvm-init: powering off\n");
					fprintf(stderr, "fake-cloud-hypervisor: guest powered off\n");
					ch_double_free(d);
					return 0;
				}
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
