/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl console and logs: the VM's serial console socket (from
 * compute.vm.console.endpoint) joined to the recent console log (from
 * compute.vm.logs).
 *
 * Attaching goes: connect to the console socket, then read the log, so
 * nothing printed in between is lost; what arrived on the socket before
 * the log's answer is also at the end of the log, and is printed once
 * (join()). console puts a terminal in raw mode, sends what is typed to
 * the guest with Enter translated (CR, what a terminal sends, becomes LF,
 * what a guest's line reader and mvmd's micro-VM console expect; a CR LF
 * pair becomes one LF), detaches on Ctrl-] (0x1d, as telnet and virsh),
 * and restores the terminal on every way out: detach, the console
 * closing, an error, and SIGTERM/SIGHUP/SIGINT/SIGQUIT.
 */
#include "mvmctl.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/io.h"
#include "util/text.h"

#define DETACH_KEY 0x1d /* Ctrl-] */
#define REPLAY_DEFAULT 16384

/* The terminal as it was before raw mode; restored from signal handlers
 * too (tcsetattr is async-signal-safe). */
static struct termios saved_tty;
static volatile sig_atomic_t tty_raw;

static void tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(0, TCSADRAIN, &saved_tty);
		tty_raw = 0;
	}
}

static void on_fatal_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Raw input (no echo, no line editing, no signals from keys: Ctrl-C goes
 * to the guest). Output processing stays as the user had it (so a guest's
 * bare LF starts a new line) unless translate is off. */
static int tty_make_raw(bool translate)
{
	struct termios t;
	struct sigaction sa = { .sa_handler = on_fatal_signal };
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };

	if (!isatty(0) || tcgetattr(0, &saved_tty) < 0)
		return 0; /* not a terminal: bytes pass as they are */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(tty_restore);
	t = saved_tty;
	cfmakeraw(&t);
	t.c_oflag = translate ? saved_tty.c_oflag : (saved_tty.c_oflag & ~(tcflag_t)OPOST);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tty_raw = 1;
	if (tcsetattr(0, TCSADRAIN, &t) < 0) {
		tty_raw = 0;
		return -errno;
	}
	return 0;
}

static int console_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Bytes that are waiting on fd now, appended to *buf. */
static void drain_now(int fd, char **buf, size_t *len)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char chunk[65536];
		if (poll(&p, 1, 0) != 1)
			return;
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			return;
		char *b = realloc(*buf, *len + (size_t)n);
		if (!b)
			return;
		memcpy(b + *len, chunk, (size_t)n);
		*buf = b;
		*len += (size_t)n;
	}
}

/* How many leading bytes of live are the end of log: the longest prefix
 * of live that log ends with. */
static size_t join(const char *log, size_t loglen, const char *live, size_t livelen)
{
	for (size_t k = livelen < loglen ? livelen : loglen; k > 0; k--)
		if (memcmp(log + loglen - k, live, k) == 0)
			return k;
	return 0;
}

typedef struct attach {
	int fd;          /* the console socket */
	char *log;       /* the log's tail, decoded */
	size_t loglen;
	bool partial;    /* the log holds more than the tail */
	char *live;      /* console bytes that arrived before the log */
	size_t livelen;
} attach_t;

static void attach_done(attach_t *a)
{
	if (a->fd >= 0)
		close(a->fd);
	free(a->log);
	free(a->live);
}

/* The endpoint, the socket, then the log (see the top comment). With
 * follow_only, a VM without an active console is not an error. */
static int attach_open(ctl_t *c, const char *id, uint64_t tail, attach_t *a, bool *ret_active)
{
	json_object *p, *res = NULL;
	int r;

	*a = (attach_t){ .fd = -1 };
	r = ctl_connect(c);
	if (r != CTL_OK)
		return r;
	p = json_object_new_object();
	json_object_object_add(p, "id", json_object_new_string(id));
	r = ctl_call(c, "compute.vm.console.endpoint", p, &res, NULL);
	if (r != CTL_OK)
		return r;
	*ret_active = json_object_get_boolean(json_object_object_get(res, "active"));
	if (*ret_active) {
		a->fd = console_connect(ctl_str(res, "path"));
		if (a->fd < 0) {
			fprintf(stderr, "mvmctl: cannot attach to %s: %s\n", ctl_str(res, "path"), strerror(-a->fd));
			json_object_put(res);
			return CTL_ERR_CONNECT;
		}
	}
	json_object_put(res);
	if (tail > 0) {
		p = json_object_new_object();
		json_object_object_add(p, "id", json_object_new_string(id));
		json_object_object_add(p, "tail_bytes", json_object_new_int64((int64_t)tail));
		json_object_object_add(p, "encoding", json_object_new_string("base64"));
		r = ctl_call(c, "compute.vm.logs", p, &res, NULL);
		if (r != CTL_OK)
			return r;
		const char *text = ctl_str(res, "data");
		void *raw = NULL;
		if (base64_decode(text, strlen(text), &raw, &a->loglen) < 0) {
			fprintf(stderr, "mvmctl: compute.vm.logs: the data is not base64\n");
			json_object_put(res);
			return CTL_ERR_CONNECT;
		}
		a->log = raw;
		a->partial = ctl_int(res, "size") > ctl_int(res, "bytes");
		json_object_put(res);
		if (a->fd >= 0)
			drain_now(a->fd, &a->live, &a->livelen);
	}
	return CTL_OK;
}

/* Print the log, then the live bytes past the part the log holds. A
 * replay cut from a longer log starts at its first full line. */
static int attach_replay(attach_t *a, bool line_start)
{
	size_t from = 0, skip = join(a->log, a->loglen, a->live, a->livelen);

	if (line_start && a->partial && a->loglen > 0) {
		char *nl = memchr(a->log, '\n', a->loglen);
		if (nl)
			from = (size_t)(nl + 1 - a->log);
	}
	if (a->loglen > from && write_all(1, a->log + from, a->loglen - from) < 0)
		return -EIO;
	if (a->livelen > skip && write_all(1, a->live + skip, a->livelen - skip) < 0)
		return -EIO;
	return 0;
}

/* logs ID [-f] [--tail BYTES] */
int ctl_cmd_logs(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "tail", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t tail = 65536;
	bool follow = false, active = false;
	attach_t a;
	char *end;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
		if (opt == 'f') {
			follow = true;
		} else if (opt == 'n' && optarg[0] != '-') {
			tail = strtoull(optarg, &end, 10);
			if (*end || !*optarg)
				return ctl_usage_error("logs: --tail wants a number of bytes");
		} else {
			return CTL_ERR_USAGE;
		}
	}
	if (optind + 1 != argc)
		return ctl_usage_error("usage: mvmctl logs ID [-f] [--tail BYTES]");
	if (c->json && follow)
		return ctl_usage_error("logs: --json prints one result; it does not follow");
	if (c->json) {
		json_object *p = json_object_new_object(), *res = NULL;
		json_object_object_add(p, "id", json_object_new_string(argv[optind]));
		json_object_object_add(p, "tail_bytes", json_object_new_int64((int64_t)tail));
		r = ctl_connect(c);
		if (r != CTL_OK) {
			json_object_put(p);
			return r;
		}
		r = ctl_call(c, "compute.vm.logs", p, &res, NULL);
		if (r == CTL_OK)
			ctl_print_json(res, false);
		json_object_put(res);
		return r;
	}
	if (!follow) {
		/* The log alone: no console connection. */
		json_object *p = json_object_new_object(), *res = NULL;
		void *raw = NULL;
		size_t len = 0;
		json_object_object_add(p, "id", json_object_new_string(argv[optind]));
		json_object_object_add(p, "tail_bytes", json_object_new_int64((int64_t)tail));
		json_object_object_add(p, "encoding", json_object_new_string("base64"));
		r = ctl_connect(c);
		if (r != CTL_OK) {
			json_object_put(p);
			return r;
		}
		r = ctl_call(c, "compute.vm.logs", p, &res, NULL);
		if (r != CTL_OK)
			return r;
		const char *text = ctl_str(res, "data");
		if (base64_decode(text, strlen(text), &raw, &len) < 0 || write_all(1, raw, len) < 0)
			r = CTL_ERR_CONNECT;
		free(raw);
		json_object_put(res);
		return r;
	}
	r = attach_open(c, argv[optind], tail, &a, &active);
	if (r == CTL_OK && attach_replay(&a, false) < 0)
		r = CTL_ERR_CONNECT;
	if (r == CTL_OK && !active)
		fprintf(stderr, "mvmctl: %s is not running: no more output will come\n", argv[optind]);
	/* Follow: output only; this never writes to the console. */
	while (r == CTL_OK && a.fd >= 0) {
		char buf[65536];
		ssize_t n = read(a.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(1, buf, (size_t)n) < 0)
			r = CTL_ERR_CONNECT;
	}
	attach_done(&a);
	return r;
}

/* Guest-bound bytes: Ctrl-] detaches (*detach), Enter becomes LF. */
static size_t translate_input(const char *in, size_t n, char *out, bool translate, bool *prev_cr, bool *detach)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if ((unsigned char)ch == DETACH_KEY) {
			*detach = true;
			break;
		}
		if (translate) {
			if (ch == '\n' && *prev_cr) {
				*prev_cr = false;
				continue; /* CR LF: the LF the CR already sent */
			}
			*prev_cr = ch == '\r';
			if (ch == '\r')
				ch = '\n';
		}
		out[o++] = ch;
	}
	return o;
}

/* console ID [--replay BYTES] [--no-translate] */
int ctl_cmd_console(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replay", required_argument, NULL, 'r' },
		{ "no-translate", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t replay = REPLAY_DEFAULT;
	bool translate = true, active = false, detach = false, prev_cr = false, in_open = true;
	attach_t a;
	char *end;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "r:T", opts, NULL)) != -1) {
		if (opt == 'r' && optarg[0] != '-') {
			replay = strtoull(optarg, &end, 10);
			if (*end || !*optarg)
				return ctl_usage_error("console: --replay wants a number of bytes");
		} else if (opt == 'T') {
			translate = false;
		} else {
			return CTL_ERR_USAGE;
		}
	}
	if (optind + 1 != argc)
		return ctl_usage_error("usage: mvmctl console ID [--replay BYTES] [--no-translate]");
	r = attach_open(c, argv[optind], replay, &a, &active);
	if (r == CTL_OK && !active) {
		fprintf(stderr, "mvmctl: %s is not running: it has no console (mvmctl logs %s shows its log)\n",
			argv[optind], argv[optind]);
		r = CTL_ERR_RPC;
	}
	if (r != CTL_OK) {
		attach_done(&a);
		return r;
	}
	ctl_close(c); /* the console needs no RPC connection */
	if (tty_make_raw(translate) < 0)
		fprintf(stderr, "mvmctl: cannot put the terminal in raw mode: %m\n");
	fprintf(stderr, "Connected to the console of %s. Escape character is ^] (Ctrl-]).\r\n", argv[optind]);
	if (attach_replay(&a, true) < 0)
		r = CTL_ERR_CONNECT;
	while (r == CTL_OK && !detach) {
		struct pollfd p[2] = { { .fd = a.fd, .events = POLLIN }, { .fd = in_open ? 0 : -1, .events = POLLIN } };
		char buf[4096], out[4096];
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = CTL_ERR_CONNECT;
			break;
		}
		if (p[0].revents) {
			n = read(a.fd, buf, sizeof(buf));
			if (n <= 0) {
				fprintf(stderr, "\r\nmvmctl: the console of %s closed (the VM stopped)\r\n", argv[optind]);
				break;
			}
			if (write_all(1, buf, (size_t)n) < 0)
				r = CTL_ERR_CONNECT;
		}
		if (p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* Stdin ended: keep showing the guest's output. */
				in_open = false;
				continue;
			}
			size_t o = translate_input(buf, (size_t)n, out, translate, &prev_cr, &detach);
			if (o > 0 && write_all(a.fd, out, o) < 0) {
				fprintf(stderr, "\r\nmvmctl: the console of %s closed\r\n", argv[optind]);
				break;
			}
		}
	}
	tty_restore();
	if (detach)
		fprintf(stderr, "\nDetached from the console of %s.\n", argv[optind]);
	attach_done(&a);
	return r;
}
