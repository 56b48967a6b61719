/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test double: a misbehaving HTTP proxy in front of a real registry
 * (tests/suites/blob-pull.sh). It is not a registry; it forwards each
 * request to UPSTREAM with "Connection: close" and, by --mode, changes
 * what comes back for blob GETs (/v2/.../blobs/sha256:...):
 *
 *   pass     nothing (with --count-file and --hold-file, a counting gate)
 *   tamper   flips the first byte of every blob body: wrong bytes for a digest
 *   cut      the first blob GET is cut off after half its body (later ones pass)
 *   norange  as cut, and no blob GET's Range header reaches the registry:
 *            a resumed GET is answered 200 with the whole blob
 *   busy     the first blob GET is answered 503 (later ones pass)
 *   loop     every request is answered 307 to itself, never forwarded
 *   bearer   a token gate: requests without "Authorization: Bearer
 *            t0k3n" get 401 with a Bearer challenge whose realm is this
 *            proxy's /token, which answers {"token": "t0k3n"} (and its
 *            request line goes to --count-file); others pass
 *
 * --count-file F   appends one line per blob GET to F
 * --hold-file F    holds each blob GET's answer until F exists
 * --stall-file F   relays half of each blob GET's body, then waits for
 *                  F; when it appears the proxy dies (every connection
 *                  and the listener): a source that went away mid-body
 *
 * Usage: registry-proxy --port-file F --upstream 127.0.0.1:PORT [--mode M] [...]
 * One process per connection; exits with its parent's SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mode = "pass", *count_file, *hold_file, *cut_marker, *stall_file;
static struct sockaddr_in up;
static int own_port;

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static void serve(int c)
{
	char req[16384], head[16384 + 64], buf[65536];
	size_t len = 0;
	char *end = NULL;

	while (!end && len < sizeof(req) - 1) {
		ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		end = strstr(req, "\r\n\r\n");
	}
	if (!end)
		return;
	char *line_end = strstr(req, "\r\n");
	bool blob_get = strncmp(req, "GET ", 4) == 0 && strstr(req, "/blobs/sha256:") && strstr(req, "/blobs/sha256:") < line_end;

	if (strcmp(mode, "loop") == 0) {
		char path[4096];
		if (sscanf(req, "%*s %4095s", path) != 1)
			return;
		int n = snprintf(buf, sizeof(buf), "HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", path);
		write_all(c, buf, (size_t)n);
		return;
	}
	if (strcmp(mode, "bearer") == 0) {
		int n;
		if (strncmp(req, "GET /token", 10) == 0) {
			int fd = count_file ? open(count_file, O_WRONLY | O_APPEND | O_CREAT, 0644) : -1;
			if (fd >= 0) {
				write_all(fd, req, (size_t)(line_end - req));
				write_all(fd, "\n", 1);
				close(fd);
			}
			n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{\"token\": \"t0k3n\"}");
			write_all(c, buf, (size_t)n);
			return;
		}
		if (!strstr(req, "\r\nAuthorization: Bearer t0k3n\r\n")) {
			n = snprintf(buf, sizeof(buf), "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\",service=\"mvmd-test\",scope=\"repository:wasm/hello:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", own_port);
			write_all(c, buf, (size_t)n);
			return;
		}
	}
	if (blob_get && count_file && strcmp(mode, "bearer") != 0) {
		int fd = open(count_file, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd >= 0) {
			write_all(fd, "GET\n", 4);
			close(fd);
		}
	}
	/* the request head again, with Connection: close */
	size_t hl = 0;
	for (char *p = req; p < end + 2;) {
		char *nl = strstr(p, "\r\n");
		bool drop_range = blob_get && strcmp(mode, "norange") == 0 && strncasecmp(p, "Range:", 6) == 0;
		if (strncasecmp(p, "Connection:", 11) != 0 && !drop_range) {
			memcpy(head + hl, p, (size_t)(nl + 2 - p));
			hl += (size_t)(nl + 2 - p);
		}
		p = nl + 2;
	}
	hl += (size_t)sprintf(head + hl, "Connection: close\r\n\r\n");

	int u = socket(AF_INET, SOCK_STREAM, 0);
	if (u < 0 || connect(u, (struct sockaddr *)&up, sizeof(up)) < 0 || write_all(u, head, hl) < 0)
		return;
	if (blob_get && hold_file) {
		struct stat st;
		while (stat(hold_file, &st) < 0)
			usleep(10000);
	}
	if (blob_get && strcmp(mode, "busy") == 0 && cut_marker && open(cut_marker, O_WRONLY | O_CREAT | O_EXCL, 0644) >= 0) {
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		write_all(c, busy, sizeof(busy) - 1);
		close(u);
		return;
	}
	bool cut = blob_get && (strcmp(mode, "cut") == 0 || strcmp(mode, "norange") == 0) && cut_marker &&
		   open(cut_marker, O_WRONLY | O_CREAT | O_EXCL, 0644) >= 0;
	bool tamper = blob_get && strcmp(mode, "tamper") == 0;
	bool stall = blob_get && stall_file;
	bool in_body = false;
	long long body = 0, cut_at = -1;
	char rhead[16384];
	size_t rl = 0;

	for (;;) {
		ssize_t n = read(u, buf, sizeof(buf));
		if (n <= 0)
			break;
		char *p = buf;
		size_t m = (size_t)n;
		if (!in_body) {
			size_t take = m < sizeof(rhead) - 1 - rl ? m : sizeof(rhead) - 1 - rl;
			memcpy(rhead + rl, p, take);
			rl += take;
			rhead[rl] = '\0';
			char *e = strstr(rhead, "\r\n\r\n");
			if (!e) {
				write_all(c, p, m);
				continue;
			}
			size_t hdr_in_this = (size_t)(e + 4 - rhead) - (rl - take);
			write_all(c, p, hdr_in_this);
			p += hdr_in_this, m -= hdr_in_this;
			in_body = true;
			char *cl = strcasestr(rhead, "\r\nContent-Length:");
			if ((cut || stall) && cl)
				cut_at = atoll(cl + 17) / 2;
		}
		if (tamper && body == 0 && m > 0)
			p[0] ^= 0x01;
		if (cut_at >= 0 && body + (long long)m >= cut_at) {
			write_all(c, p, (size_t)(cut_at - body));
			if (stall) {
				struct stat st;
				while (stat(stall_file, &st) < 0)
					usleep(10000);
				kill(getppid(), SIGKILL); /* the listener too */
				_exit(0);
			}
			shutdown(c, SHUT_RDWR);
			break;
		}
		if (write_all(c, p, m) < 0)
			break;
		body += (long long)m;
	}
	close(u);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *upstream = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port-file")) port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--upstream")) upstream = argv[i + 1];
		else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
		else if (!strcmp(argv[i], "--count-file")) count_file = argv[i + 1];
		else if (!strcmp(argv[i], "--hold-file")) hold_file = argv[i + 1];
		else if (!strcmp(argv[i], "--cut-marker")) cut_marker = argv[i + 1];
		else if (!strcmp(argv[i], "--stall-file")) stall_file = argv[i + 1];
		else { fprintf(stderr, "registry-proxy: unknown option %s\n", argv[i]); return 2; }
	}
	if (!port_file || (!upstream && strcmp(mode, "loop") != 0)) {
		fprintf(stderr, "usage: registry-proxy --port-file F --upstream HOST:PORT [--mode pass|tamper|cut|norange|busy|loop|bearer]\n");
		return 2;
	}
	if (upstream) {
		char host[64];
		int port;
		if (sscanf(upstream, "%63[^:]:%d", host, &port) != 2 || inet_pton(AF_INET, host, &up.sin_addr) != 1)
			return 2;
		up.sin_family = AF_INET;
		up.sin_port = htons((uint16_t)port);
	}
	signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0)
		return 1;
	own_port = ntohs(a.sin_port);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", ntohs(a.sin_port));
	fclose(f);
	rename(tmp, port_file);
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			close(l);
			serve(c);
			close(c);
			_exit(0);
		}
		close(c);
	}
}
