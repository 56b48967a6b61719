/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A static test program for the QEMU boot suite (tests/suites/
 * mvm-init-qemu.sh). Run by mvm-init from mvm.run=, it proves that the
 * command ran in the guest with its arguments and that the system mvm-init
 * set up is there; prints to stdout and stderr and exits with the code
 * given as its first argument.
 *
 * With "--term-init" it leaves a child that ignores SIGTERM and sends
 * SIGTERM to PID 1, to prove the orderly poweroff in a real kernel.
 *
 * With "--vsock" among its arguments it also talks to mvm-init's exec
 * agent over real AF_VSOCK (loopback, CID 1, port 52) with the host-side
 * client library, and exits 99 if any of those checks fails.
 *
 * "mvm-probe --exec CID ARGV..." is the other side, run on a host (or an
 * L1 guest) whose VM has a vhost-vsock device: one exec request over
 * AF_VSOCK to CID's port 52, as mvmd's exec proxy sends it; it prints
 * "exec: stdout: ...", "exec: stderr: ..." and "exec: exit code N" (or
 * "exec: error ...") and exits 0 when an answer came, 1 otherwise
 * (tests/suites/mvm-init-vsock-qemu.sh).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "exec-client.h"

struct probe_sockaddr_vm {
	unsigned short svm_family, svm_reserved1;
	unsigned int svm_port, svm_cid;
	unsigned char svm_flags, svm_zero[3];
};

static int run_at(unsigned cid, const char *const *argv, exec_result_t *res)
{
	static exec_request_t req;
	struct probe_sockaddr_vm sa = { .svm_family = 40 /* AF_VSOCK */, .svm_port = EXEC_AGENT_PORT, .svm_cid = cid };
	exec_client_opts_t o = { .timeout_ms = 20000 };
	/* SO_VM_SOCKETS_CONNECT_TIMEOUT (level AF_VSOCK): 2 s by default, too
	 * short for a guest that an emulated CPU runs. */
	struct timeval connect_timeout = { .tv_sec = 20 };
	int fd = socket(40, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd >= 0)
		(void)setsockopt(fd, 40, 6, &connect_timeout, sizeof(connect_timeout));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("probe: vsock connect: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	memset(&req, 0, sizeof(req));
	req.version = EXEC_PROTOCOL_VERSION;
	for (; argv[req.argc]; req.argc++)
		req.argv[req.argc] = (exec_str_t){ argv[req.argc], (uint32_t)strlen(argv[req.argc]) };
	r = exec_client_run(fd, &req, &o, res);
	close(fd);
	if (r < 0)
		printf("probe: vsock exec %s: %s\n", argv[0], strerror(-r));
	return r;
}

static int run(const char *const *argv, exec_result_t *res)
{
	return run_at(1 /* VMADDR_CID_LOCAL */, argv, res);
}

/* --exec CID ARGV...: the host's side of one exec. */
static int host_exec(int argc, char **argv)
{
	exec_result_t res;
	unsigned cid;

	if (argc < 4 || sscanf(argv[2], "%u", &cid) != 1) {
		fprintf(stderr, "usage: mvm-probe --exec CID ARGV...\n");
		return 2;
	}
	if (run_at(cid, (const char *const *)argv + 3, &res) < 0)
		return 1;
	if (res.out_len)
		printf("exec: stdout: %s%s", (char *)res.out, res.out[res.out_len - 1] == '\n' ? "" : "\n");
	if (res.err_len)
		printf("exec: stderr: %s%s", (char *)res.err, res.err[res.err_len - 1] == '\n' ? "" : "\n");
	if (res.error_code)
		printf("exec: error %u: %s\n", res.error_code, res.error_message);
	else if (res.exited)
		printf("exec: %s %u\n", res.kind == EXEC_EXIT_CODE ? "exit code" : "signal", res.value);
	exec_result_clear(&res);
	return 0;
}

static int vsock_checks(void)
{
	const char *echo[] = { "mvm.echo", "hello", "vsock", NULL };
	const char *info[] = { "mvm.info", NULL };
	const char *nested[] = { "/bin/mvm-probe", "7", "nested", NULL };
	const char *wasm[] = { "sha256:00000000000000000000000000000000000000000000000000000000000000aa", NULL };
	exec_result_t res;
	int bad = 0;

	if (run(echo, &res) == 0 && res.exited && res.value == 0 && res.out &&
	    strcmp((char *)res.out, "hello vsock\n") == 0)
		printf("probe: vsock echo ok\n");
	else
		bad++;
	exec_result_clear(&res);
	if (run(info, &res) == 0 && res.exited && res.out && strstr((char *)res.out, "platform: mvm-init\n"))
		printf("probe: vsock info ok\n");
	else
		bad++;
	exec_result_clear(&res);
	if (run(nested, &res) == 0 && res.exited && res.kind == EXEC_EXIT_CODE && res.value == 7 && res.out &&
	    strstr((char *)res.out, "probe: argv[2]=nested\n") && res.err &&
	    strcmp((char *)res.err, "probe: to stderr\n") == 0)
		printf("probe: vsock exec ok (exit code %u, stdout and stderr apart)\n", res.value);
	else
		bad++;
	exec_result_clear(&res);
	/* mvm-init fetches the module from the host (vsock CID 2, port 1025):
	 * with only the loopback transport there is no host to answer. */
	if (run(wasm, &res) == 0 && res.exited && res.value == 126 && res.err &&
	    strstr((char *)res.err, "cannot fetch from the host"))
		printf("probe: vsock wasm-by-hash tried the host: %s", (char *)res.err);
	else
		bad++;
	exec_result_clear(&res);
	return bad;
}

/* Leave a child that ignores SIGTERM, then ask PID 1 to shut down, and
 * wait to be terminated by it. */
static void term_pid1(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGTERM, SIG_IGN);
		for (;;)
			pause();
	}
	printf("probe: stubborn child %d ignores SIGTERM\n", (int)pid);
	usleep(100000);
	printf("probe: sending SIGTERM to PID 1\n");
	fflush(NULL);
	if (kill(1, SIGTERM) < 0)
		printf("probe: kill(1): %s\n", strerror(errno));
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char host[65] = "";
	struct stat st;
	bool vsock = false, term_init = false;

	if (argc > 1 && strcmp(argv[1], "--exec") == 0)
		return host_exec(argc, argv);
	gethostname(host, sizeof(host) - 1);
	printf("probe: pid=%d ppid=%d hostname=%s argc=%d\n", (int)getpid(), (int)getppid(), host, argc);
	for (int i = 1; i < argc; i++) {
		printf("probe: argv[%d]=%s\n", i, argv[i]);
		vsock |= strcmp(argv[i], "--vsock") == 0;
		term_init |= strcmp(argv[i], "--term-init") == 0;
	}
	printf("probe: mounts proc=%d sys=%d dev=%d run=%d tmp=%d\n",
	       stat("/proc/self", &st) == 0, stat("/sys/kernel", &st) == 0,
	       stat("/dev/null", &st) == 0, stat("/run", &st) == 0, stat("/tmp", &st) == 0);
	fprintf(stderr, "probe: to stderr\n");
	fflush(NULL);
	if (vsock && vsock_checks() > 0)
		return 99;
	if (term_init)
		term_pid1();
	fflush(NULL);
	return argc > 1 ? atoi(argv[1]) : 0;
}
