/* SPDX-License-Identifier: Apache-2.0 */
/* TEST DOUBLE of cloud-hypervisor's REST API: see ch-api-double.h. */
#include "ch-api-double.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define BODY_MAX 65536

struct ch_double {
	ch_double_config_t cfg;
	char *path;
	int listen_fd;
	const char *state;
	unsigned created_left;
	pthread_mutex_t lock;
	char **reqs;
	size_t n_reqs;
	pthread_t thread;
	bool have_thread;
	int stop_pipe[2];
};

int ch_double_new(const char *sock_path, const ch_double_config_t *cfg, ch_double_t **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ch_double_t *d;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (cfg)
		d->cfg = *cfg;
	if (!d->cfg.version)
		d->cfg.version = "40.0.0";
	d->created_left = d->cfg.created_polls;
	d->state = d->created_left ? "Created" : "Running";
	d->stop_pipe[0] = d->stop_pipe[1] = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->path = strdup(sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	unlink(sock_path);
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->listen_fd < 0 || bind(d->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(d->listen_fd, 16) < 0) {
		int r = -errno;
		ch_double_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void ch_double_free(ch_double_t *d)
{
	if (!d)
		return;
	ch_double_stop(d);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	if (d->path)
		unlink(d->path);
	free(d->path);
	for (size_t i = 0; i < d->n_reqs; i++)
		free(d->reqs[i]);
	free(d->reqs);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int ch_double_listen_fd(const ch_double_t *d)
{
	return d->listen_fd;
}

const char *ch_double_vm_state(const ch_double_t *d)
{
	return d->state;
}

static void record(ch_double_t *d, const char *line)
{
	pthread_mutex_lock(&d->lock);
	char **p = realloc(d->reqs, (d->n_reqs + 1) * sizeof(*p));
	if (p) {
		d->reqs = p;
		d->reqs[d->n_reqs] = strdup(line);
		if (d->reqs[d->n_reqs])
			d->n_reqs++;
	}
	pthread_mutex_unlock(&d->lock);
	if (d->cfg.record_path) {
		FILE *f = fopen(d->cfg.record_path, "a");
		if (f) {
			fprintf(f, "%s\n", line);
			fclose(f);
		}
	}
}

size_t ch_double_n_requests(ch_double_t *d)
{
	pthread_mutex_lock(&d->lock);
	size_t n = d->n_reqs;
	pthread_mutex_unlock(&d->lock);
	return n;
}

char *ch_double_request(ch_double_t *d, size_t i)
{
	char *s = NULL;

	pthread_mutex_lock(&d->lock);
	if (i < d->n_reqs)
		s = strdup(d->reqs[i]);
	pthread_mutex_unlock(&d->lock);
	return s;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void respond(int fd, int status, const char *reason, const char *body)
{
	char head[256];
	size_t blen = body ? strlen(body) : 0;

	if (status == 204)
		snprintf(head, sizeof(head), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
	else
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, reason, blen);
	write_all(fd, head, strlen(head));
	if (blen)
		write_all(fd, body, blen);
}

/* Read a request: head up to "\r\n\r\n", then Content-Length bytes. */
static int read_request(int fd, char *head, size_t *ret_body_len, bool *ret_host)
{
	size_t len = 0, body = 0;
	char *end = NULL;

	while (!end) {
		if (len == HEAD_MAX - 1)
			return -E2BIG;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, head + len, HEAD_MAX - 1 - len);
		if (n <= 0)
			return -ECONNRESET;
		len += (size_t)n;
		head[len] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	*ret_host = false;
	for (char *line = strstr(head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
			body = strtoul(line + 17, NULL, 10);
		if (strncasecmp(line + 2, "Host:", 5) == 0)
			*ret_host = true;
	}
	if (body > BODY_MAX)
		return -E2BIG;
	/* Whatever of the body came with the head counts; read the rest. */
	size_t have = len - (size_t)(end + 4 - head);
	char sink[4096];
	while (have < body) {
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n <= 0)
			return -ECONNRESET;
		have += (size_t)n;
	}
	*end = '\0';
	*ret_body_len = body;
	return 0;
}

static ch_double_event_t answer(ch_double_t *d, int fd, const char *method, const char *path)
{
	bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;
	char body[512];

	if (strcmp(path, "/api/v1/vmm.ping") == 0 && get) {
		snprintf(body, sizeof(body), "{\"build_version\":\"v%s\",\"version\":\"%s\",\"pid\":%d,\"features\":[\"kvm\"]}",
			 d->cfg.version, d->cfg.version, (int)getpid());
		respond(fd, 200, "OK", body);
		return CH_DOUBLE_PING;
	}
	if (strcmp(path, "/api/v1/vm.info") == 0 && get) {
		if (d->created_left)
			d->created_left--;
		else if (strcmp(d->state, "Created") == 0)
			d->state = "Running";
		if (d->cfg.info_body || d->cfg.info_status) {
			respond(fd, d->cfg.info_status ? d->cfg.info_status : 200, "Whatever",
				d->cfg.info_body ? d->cfg.info_body : "");
			return CH_DOUBLE_INFO;
		}
		snprintf(body, sizeof(body),
			 "{\"config\":{\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1},\"memory\":{\"size\":67108864}},"
			 "\"state\":\"%s\",\"memory_actual_size\":67108864}",
			 d->state);
		respond(fd, 200, "OK", body);
		return CH_DOUBLE_INFO;
	}
	if (strcmp(path, "/api/v1/vm.power-button") == 0 && put) {
		respond(fd, 204, NULL, NULL);
		if (!d->cfg.ignore_power_button)
			d->state = "Shutdown";
		return CH_DOUBLE_POWER_BUTTON;
	}
	if (strcmp(path, "/api/v1/vm.shutdown") == 0 && put) {
		respond(fd, 204, NULL, NULL);
		d->state = "Shutdown";
		return CH_DOUBLE_VM_SHUTDOWN;
	}
	if (strcmp(path, "/api/v1/vmm.shutdown") == 0 && put) {
		respond(fd, 204, NULL, NULL);
		return CH_DOUBLE_VMM_SHUTDOWN;
	}
	if (strncmp(path, "/api/v1/", 8) == 0 && (get || put) &&
	    (strstr(path, "ping") || strstr(path, "info") || strstr(path, "shutdown") || strstr(path, "power-button")))
		respond(fd, 405, "Method Not Allowed", "");
	else
		respond(fd, 404, "Not Found", "");
	return CH_DOUBLE_OTHER;
}

int ch_double_serve_one(ch_double_t *d, int timeout_ms, ch_double_event_t *ret)
{
	char head[HEAD_MAX], method[16], path[256], line[400];
	size_t body = 0;
	bool host = false;
	int fd, r;

	struct pollfd p = { .fd = d->listen_fd, .events = POLLIN };
	r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return r == 0 ? -ETIMEDOUT : -errno;
	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (d->cfg.hang_up) {
		(void)read_request(fd, head, &body, &host);
		close(fd);
		record(d, "hung up");
		*ret = CH_DOUBLE_OTHER;
		return 0;
	}
	r = read_request(fd, head, &body, &host);
	if (r < 0 || sscanf(head, "%15s %255s HTTP/1.1", method, path) != 2 || !strstr(head, " HTTP/1.1\r\n")) {
		respond(fd, 400, "Bad Request", "");
		close(fd);
		record(d, "bad request");
		*ret = CH_DOUBLE_BAD;
		return 0;
	}
	snprintf(line, sizeof(line), "%s %s%s", method, path, host ? "" : " no-host");
	if (body)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " body=%zu", body);
	record(d, line);
	*ret = answer(d, fd, method, path);
	close(fd);
	return 0;
}

static void *thread_main(void *userdata)
{
	ch_double_t *d = userdata;

	for (;;) {
		struct pollfd p[2] = { { .fd = d->listen_fd, .events = POLLIN }, { .fd = d->stop_pipe[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents) {
			ch_double_event_t ev;
			(void)ch_double_serve_one(d, 0, &ev);
		}
	}
	return NULL;
}

int ch_double_start_thread(ch_double_t *d)
{
	if (pipe2(d->stop_pipe, O_CLOEXEC) < 0)
		return -errno;
	if (pthread_create(&d->thread, NULL, thread_main, d) != 0)
		return -EAGAIN;
	d->have_thread = true;
	return 0;
}

void ch_double_stop(ch_double_t *d)
{
	if (!d->have_thread)
		return;
	(void)!write(d->stop_pipe[1], "x", 1);
	pthread_join(d->thread, NULL);
	d->have_thread = false;
	close(d->stop_pipe[0]);
	close(d->stop_pipe[1]);
	d->stop_pipe[0] = d->stop_pipe[1] = -1;
}
