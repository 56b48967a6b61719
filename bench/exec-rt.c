/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec round trip on a running micro-VM against the cost of one hypercall
 * exit, in one run (bench/exec.sh):
 *
 *   exit    mvm.hcbench N in the same guest: N no-op hypercalls timed by
 *           the guest, i.e. one guest -> host -> guest round trip
 *   echo    connect to the VM's vsock.sock, CONNECT 52, request mvm.echo,
 *           stdout + exit frame, close: what compute.vm.exec does per call
 *           minus JSON-RPC (daemon/mvmd/exec-client.c, blocking)
 *   exits   VM exits per exec, from the worker's own counter (STATUS)
 *   wasm    with -w: the same round trip running a tiny Wasm module by
 *           hash (WASM, e.g. build/wasm-programs/wl-hi.wasm), preceded
 *           by the BLOB_GRANT that mvmd sends per exec (open the blob,
 *           send the fd on the control socket): load, compile, instantiate
 *           and run a fresh instance per exec
 *   rpc     with -s: compute.vm.exec of mvm.echo (and with -w, of the
 *           module) through the running mvmd at SOCK (a VM of its own,
 *           made and removed here), the whole JSON-RPC round trip
 *
 *   exec-rt [-n RUNS] [-h HYPERCALLS] [-s MVMD_SOCKET] [-w WASM]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec-client.h"
#include "util/sha256.h"
#include "kvm/worker.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

static int run(const char *sock, const char *const *argv, int argc, exec_result_t *res)
{
	exec_request_t *req = calloc(1, sizeof(*req));
	exec_client_opts_t o = { .timeout_ms = 60000 };
	int fd, r;

	if (!req)
		return -ENOMEM;
	memset(res, 0, sizeof(*res));
	req->version = EXEC_PROTOCOL_VERSION;
	req->argc = (uint32_t)argc;
	for (int i = 0; i < argc; i++)
		req->argv[i] = (exec_str_t){ argv[i], (uint32_t)strlen(argv[i]) };
	r = exec_client_connect_hvsock(sock, EXEC_AGENT_PORT, 5000, &fd);
	if (r < 0)
		fprintf(stderr, "exec-rt: connect: %s\n", strerror(-r));
	if (r == 0) {
		r = exec_client_run(fd, req, &o, res);
		close(fd);
	}
	free(req);
	if (r == 0 && !res->exited)
		r = -EPROTO;
	return r;
}

/* The worker's exit counter (drains console output on the way). */
static uint64_t exits(kvm_worker_t *w)
{
	kvm_msg_t m;
	if (kvm_ctl_send_status_req(w->ctl) < 0)
		return 0;
	while (kvm_ctl_recv(w->ctl, 5000, &m) > 0)
		if (m.type == KVM_MSG_STATUS) {
			kvm_msg_status_t s;
			if (kvm_msg_get_status(&m, &s) == 0)
				return s.exits;
		}
	return 0;
}

/* One JSON-RPC call on a connected socket: the reply's "result" (owned by
 * *ret_root) or NULL. */
static json_object *rpc(int fd, const char *method, const char *params, json_object **ret_root)
{
	static char buf[1 << 20];
	static size_t have;
	char line[4096];
	int n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}\n",
			 method, params);
	if (write(fd, line, (size_t)n) != n)
		return NULL;
	for (;;) {
		char *nl = memchr(buf, '\n', have);
		if (nl) {
			*nl = 0;
			*ret_root = json_tokener_parse(buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
			json_object *res = NULL;
			if (*ret_root)
				json_object_object_get_ex(*ret_root, "result", &res);
			return res;
		}
		ssize_t k = read(fd, buf + have, sizeof(buf) - have);
		if (k <= 0)
			return NULL;
		have += (size_t)k;
	}
}

static int rpc_bench(const char *sock, int runs, const char *wasm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *root = NULL;
	double *t = calloc((size_t)runs, sizeof(double));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (!t || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "exec-rt: cannot reach mvmd at %s\n", sock);
		return 1;
	}
	rpc(fd, "compute.vm.create", "{\"name\":\"bench-exec\",\"memory_mib\":16}", &root);
	json_object_put(root);
	if (!rpc(fd, "compute.vm.start", "{\"id\":\"bench-exec\"}", &root)) {
		fprintf(stderr, "exec-rt: start failed: %s\n", json_object_to_json_string(root));
		return 1;
	}
	json_object_put(root);
	char ex[512], put[4200], hash[128] = "";
	if (wasm) {
		char abs[4096];
		snprintf(put, sizeof(put), "{\"path\":\"%s\"}", realpath(wasm, abs) ? abs : wasm);
		json_object *res = rpc(fd, "compute.blob.put", put, &root), *h;
		if (!res || !json_object_object_get_ex(res, "hash", &h)) {
			fprintf(stderr, "exec-rt: blob.put failed: %s\n", json_object_to_json_string(root));
			return 1;
		}
		snprintf(hash, sizeof(hash), "%s", json_object_get_string(h));
		json_object_put(root);
	}
	for (int k = 0; k < (wasm ? 2 : 1); k++) {
		if (k == 0)
			snprintf(ex, sizeof(ex), "{\"id\":\"bench-exec\",\"argv\":[\"mvm.echo\",\"hi\"]}");
		else
			snprintf(ex, sizeof(ex), "{\"id\":\"bench-exec\",\"argv\":[\"%s\"]}", hash);
		for (int i = -20; i < runs; i++) {
			double s = now_us();
			json_object *res = rpc(fd, "compute.vm.exec", ex, &root), *code;
			if (!res || !json_object_object_get_ex(res, "exit_code", &code) || json_object_get_int(code) != 0) {
				fprintf(stderr, "exec-rt: exec failed: %s\n", json_object_to_json_string(root));
				return 1;
			}
			if (i >= 0)
				t[i] = now_us() - s;
			json_object_put(root);
		}
		qsort(t, (size_t)runs, sizeof(double), cmp_d);
		printf("compute.vm.exec %s through mvmd (%d runs): p50 %.1f us  p99 %.1f us\n",
		       k ? "Wasm module by hash" : "mvm.echo", runs, pct(t, runs, 0.5), pct(t, runs, 0.99));
	}
	rpc(fd, "compute.vm.remove", "{\"id\":\"bench-exec\",\"force\":true}", &root);
	json_object_put(root);
	close(fd);
	free(t);
	return 0;
}

/* What mvmd does per exec of a module: open the blob, grant it (fd on the
 * control socket). */
static int grant(kvm_worker_t *w, const char *path, const char *ref)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = kvm_ctl_send_fd(w->ctl, KVM_MSG_BLOB_GRANT, ref, KVM_BLOB_REF_LEN, fd);
	close(fd);
	return r;
}

/* "sha256:<hex>" of a file. */
static int file_ref(const char *path, char ref[KVM_BLOB_REF_LEN + 1])
{
	static uint8_t buf[16 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	memcpy(ref, "sha256:", 7);
	sha256_hex(buf, (size_t)n, ref + 7);
	return 0;
}

static kvm_worker_t w;
static bool running;

/* Never leave the worker behind (it would outlive us by design). */
static int stop_worker(int ret)
{
	if (running) {
		int st;
		kvm_ctl_send_stop(w.ctl, 0);
		if (kvm_worker_wait(&w, 5000, &st) < 0) {
			kill(w.pid, SIGKILL);
			kvm_worker_wait(&w, -1, &st);
		}
		kvm_worker_release(&w);
		running = false;
	}
	return ret;
}

int main(int argc, char **argv)
{
	int runs = 500, hcs = 20000, c;
	const char *rpc_sock = NULL, *wasm = NULL;
	char dir[] = "/tmp/mvm-exec-bench.XXXXXX", ctl[128], vsock[128], vmm[512], image[512];
	const char *b = getenv("MVM_BUILD_DIR");
	kvm_msg_t m;

	while ((c = getopt(argc, argv, "n:h:s:w:")) != -1) {
		if (c == 's')
			rpc_sock = optarg;
		else if (c == 'w')
			wasm = optarg;
		else if (c == 'n')
			runs = atoi(optarg);
		else if (c == 'h')
			hcs = atoi(optarg);
		else
			return 64;
	}
	if (runs < 10 || hcs < 100)
		return 64;
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
	snprintf(vsock, sizeof(vsock), "%s/vsock.sock", dir);
	snprintf(vmm, sizeof(vmm), "%s/bin/mvm-vmm", b && *b ? b : "build");
	snprintf(image, sizeof(image), "%s/guest/mvm-guest", b && *b ? b : "build");
	kvm_worker_config_t cfg = { .vmm_path = vmm, .image_path = image, .ctl_path = ctl,
				    .vsock_path = vsock, .memory_mib = 16, .log_fd = -1 };
	int r = kvm_worker_spawn(&cfg, &w);
	if (r < 0) {
		fprintf(stderr, "exec-rt: spawn: %s\n", strerror(-r));
		return 1;
	}
	running = true;
	/* Running is not listening yet: wait until the guest says its agent
	 * is up ("mvm-guest: ready" comes after the listen call). */
	static char console[65536];
	size_t clen = 0;
	while ((r = kvm_ctl_recv(w.ctl, 5000, &m)) > 0) {
		if (m.type == KVM_MSG_CONSOLE_OUT && clen + m.len < sizeof(console)) {
			memcpy(console + clen, m.payload, m.len);
			clen += m.len;
			console[clen] = 0;
			if (strstr(console, "mvm-guest: ready"))
				break;
		}
	}
	if (r <= 0) {
		fprintf(stderr, "exec-rt: the VM did not get ready\n");
		return stop_worker(1);
	}

	const char *echo[] = { "mvm.echo", "hi" };
	exec_result_t res;
	double *t = calloc((size_t)runs, sizeof(double));
	if (!t)
		return 1;
	for (int i = 0; i < 20; i++) { /* warm up */
		memset(&res, 0, sizeof(res));
		r = run(vsock, echo, 2, &res);
		exec_result_clear(&res);
		if (r < 0) {
			fprintf(stderr, "exec-rt: mvm.echo: %s\n", strerror(-r));
			return stop_worker(1);
		}
	}
	uint64_t e0 = exits(&w);
	for (int i = 0; i < runs; i++) {
		double s = now_us();
		memset(&res, 0, sizeof(res));
		r = run(vsock, echo, 2, &res);
		t[i] = now_us() - s;
		if (r < 0 || res.out_len != 3) {
			fprintf(stderr, "exec-rt: mvm.echo run %d: %s\n", i, strerror(-r));
			return stop_worker(1);
		}
		exec_result_clear(&res);
	}
	uint64_t e1 = exits(&w);

	/* The same round trip for a tiny module by hash, grant included. */
	double *tw = calloc((size_t)runs, sizeof(double));
	uint64_t ew0 = 0, ew1 = 0;
	char ref[KVM_BLOB_REF_LEN + 1];
	if (!tw)
		return stop_worker(1);
	if (wasm) {
		if (file_ref(wasm, ref) < 0) {
			fprintf(stderr, "exec-rt: cannot read %s\n", wasm);
			return stop_worker(1);
		}
		const char *mod[] = { ref };
		for (int i = -20; i < runs; i++) {
			if (i == 0)
				ew0 = exits(&w);
			double s = now_us();
			memset(&res, 0, sizeof(res));
			r = grant(&w, wasm, ref);
			if (r == 0)
				r = run(vsock, mod, 1, &res);
			if (i >= 0)
				tw[i] = now_us() - s;
			if (r < 0 || res.kind != EXEC_EXIT_CODE || res.value != 0) {
				fprintf(stderr, "exec-rt: %s run %d: %s (exit %u, stderr %.*s)\n", ref, i, strerror(-r),
					res.value, (int)res.err_len, res.err ? (char *)res.err : "");
				return stop_worker(1);
			}
			exec_result_clear(&res);
		}
		ew1 = exits(&w);
	}

	char n[32];
	snprintf(n, sizeof(n), "%d", hcs);
	const char *hb[] = { "mvm.hcbench", n };
	memset(&res, 0, sizeof(res));
	r = run(vsock, hb, 2, &res);
	const char *p = r == 0 && res.out ? strstr((char *)res.out, "ns-per-hypercall: ") : NULL;
	double exit_us = p ? atof(p + 18) / 1e3 : 0; /* ns -> us */
	exec_result_clear(&res);
	if (exit_us <= 0) {
		fprintf(stderr, "exec-rt: mvm.hcbench failed\n");
		return stop_worker(1);
	}

	qsort(t, (size_t)runs, sizeof(double), cmp_d);
	double p50 = pct(t, runs, 0.5), p99 = pct(t, runs, 0.99);
	printf("one hypercall exit (guest-timed, %d calls): %.1f us\n", hcs, exit_us);
	printf("mvm.echo round trip (%d runs): p50 %.1f us  p99 %.1f us\n", runs, p50, p99);
	printf("  = %.1f exits (p50), %.1f exits (p99)   goal: <= 4\n", p50 / exit_us, p99 / exit_us);
	printf("VM exits per exec: %.2f\n", (double)(e1 - e0) / runs);
	if (wasm) {
		qsort(tw, (size_t)runs, sizeof(double), cmp_d);
		double w50 = pct(tw, runs, 0.5), w99 = pct(tw, runs, 0.99);
		printf("Wasm module by hash round trip (%s, grant included, %d runs): p50 %.1f us  p99 %.1f us\n",
		       wasm, runs, w50, w99);
		printf("  = %.1f exits (p50), %.1f exits (p99)\n", w50 / exit_us, w99 / exit_us);
		printf("VM exits per Wasm exec: %.2f\n", (double)(ew1 - ew0) / runs);
	}
	free(tw);

	stop_worker(0);
	unlink(ctl);
	unlink(vsock);
	rmdir(dir);
	free(t);
	return rpc_sock ? rpc_bench(rpc_sock, runs, wasm) : 0;
}
