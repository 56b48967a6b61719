/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warm workers on real /dev/kvm, without mvmd (lib/proto/warm.h): a worker
 * started with --pool-fd is sandboxed and its guest waiting before it says
 * READY; an ASSIGN makes it exactly the VM a cold spawn would have been
 * (boot info, workload by hash, control socket, result file); a closed
 * pool socket makes it leave quietly; a wrong size or a bad message never
 * runs a guest.
 */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "blob.h"
#include "kvm-helpers.h"
#include "proto/warm.h"
#include "mvmtest.h"
#include "mvmt-main.h"

#define WARM_BYTES (2u << 20)

static void warm_config(kvm_worker_config_t *c, char *vmm, size_t n, char *image, size_t m)
{
	snprintf(vmm, n, "%s/bin/mvm-vmm", tbuild());
	tguest_path(image, m, "mvm-guest");
	*c = (kvm_worker_config_t){ .vmm_path = vmm, .image_path = image, .memory_mib = 16, .vcpus = 1, .log_fd = -1 };
}

/* Spawn a warm worker and wait for its READY. */
static void warm_start(kvm_warm_worker_t *w)
{
	char vmm[512], image[512];
	kvm_worker_config_t c;
	warm_config(&c, vmm, sizeof(vmm), image, sizeof(image));
	int r = kvm_worker_spawn_warm(&c, WARM_BYTES, w);
	ck_assert_msg(r == 0, "spawn warm: %s", strerror(-r));
	ck_assert(!w->ready);
	struct pollfd p = { .fd = w->pool_fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 20000), 1);
	ck_assert_int_eq(kvm_worker_warm_ready(w), 1);
	ck_assert(w->ready);
}

/* The "Seccomp:" line of /proc/PID/status. */
static int proc_seccomp(pid_t pid)
{
	char path[64], line[256];
	int v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The VM a warm worker is given: mvm-guest in a fresh temp dir, no log. */
static void vm_config(tvm_t *t, kvm_worker_config_t *c)
{
	memset(t, 0, sizeof(*t));
	tvm_config(t, "mvm-guest", c);
	c->log_fd = -1;
}

/* A blob file holding bytes; its read-only fd (unlinked). */
static int blob_fd_of(const uint8_t *bytes, size_t n)
{
	char path[] = "/tmp/mvm-warm-blob.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_ready_means_sandboxed)
{
	kvm_warm_worker_t w;
	warm_start(&w);
	/* No guest code runs unsandboxed, and an idle warm worker holds no
	 * capability. */
	ck_assert_int_eq(proc_seccomp(w.pid), 2);
	int st;
	kvm_worker_t k = { .pid = w.pid, .pidfd = w.pidfd };
	/* Closing the pool socket: no job will come, it leaves with 0. */
	w.pool_fd = safe_close(w.pool_fd);
	ck_assert_int_eq(kvm_worker_wait(&k, 10000, &st), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	kvm_worker_warm_release(&w);
}
END_TEST

START_TEST(test_assign_boot_info)
{
	static const char *args[] = { "first", "second arg" };
	static const char *caps[] = { "stdout", "clock" };
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	tvm_t t;
	warm_start(&w);
	vm_config(&t, &c);
	c.args = args;
	c.nargs = 2;
	c.caps = caps;
	c.ncaps = 2;
	int r = kvm_worker_assign(&w, &c, &t.w);
	ck_assert_msg(r == 0, "assign: %s", strerror(-r));
	ck_assert_int_eq(w.pool_fd, -1);
	ck_assert_int_eq(w.pidfd, -1);
	ck_assert_int_eq(t.w.pid, w.pid);
	/* The guest reads the boot info the ASSIGN wrote, not the warm one. */
	tvm_wait_console(&t, "mvm-guest: ready\n", 10000);
	ck_assert_ptr_nonnull(strstr(t.console, "arg[0]=first\n"));
	ck_assert_ptr_nonnull(strstr(t.console, "arg[1]=second arg\n"));
	ck_assert_ptr_nonnull(strstr(t.console, "cap clock\n"));
	ck_assert_ptr_nonnull(strstr(t.console, "booted: 16 MiB"));
	ck_assert(t.got_ready);
	ck_assert_int_eq(kvm_ctl_send_stop(t.w.ctl, 1000), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	/* The result file says the same. */
	kvm_result_t fr;
	ck_assert_int_eq(kvm_result_read(t.result, &fr), 0);
	ck_assert_int_eq(fr.outcome, KVM_OUTCOME_EXIT);
	kvm_worker_warm_release(&w);
	tvm_cleanup(&t);
}
END_TEST

/* a module whose _start calls proc_exit(9) (as in check_kvm_workload.c) */
static const uint8_t exit9[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00,
	0x02, 0x24, 0x01, 0x16, 'w', 'a', 's', 'i', '_', 's', 'n', 'a', 'p', 's', 'h', 'o', 't', '_', 'p', 'r',
	'e', 'v', 'i', 'e', 'w', '1', 0x09, 'p', 'r', 'o', 'c', '_', 'e', 'x', 'i', 't', 0x00, 0x00,
	0x03, 0x02, 0x01, 0x01, 0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01,
	0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x09, 0x10, 0x00, 0x0b,
};

/* Assign a workload VM whose spec names ref and whose blob holds bytes. */
static void assign_workload(tvm_t *t, const char *ref, const uint8_t *bytes, size_t n)
{
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	int fd = blob_fd_of(bytes, n);
	warm_start(&w);
	vm_config(t, &c);
	c.workload = ref;
	c.blob_fd = fd;
	int r = kvm_worker_assign(&w, &c, &t->w);
	ck_assert_msg(r == 0, "assign: %s", strerror(-r));
	close(fd);
	kvm_worker_warm_release(&w);
}

START_TEST(test_assign_workload)
{
	char hex[BLOB_HEX_LEN + 1], ref[80];
	tvm_t t;
	ck_assert_int_eq(blob_hash_data(exit9, sizeof(exit9), hex), 0);
	snprintf(ref, sizeof(ref), "sha256:%s", hex);
	assign_workload(&t, ref, exit9, sizeof(exit9));
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, t.res.message);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 9);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_assign_wrong_module)
{
	/* The module's bytes do not hash to the spec's ref: verified inside
	 * the sandbox, before the guest sees any of it. */
	char ref[80];
	tvm_t t;
	snprintf(ref, sizeof(ref), "sha256:%064d", 0);
	assign_workload(&t, ref, exit9, sizeof(exit9));
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_int_eq(t.res.error, -EBADMSG);
	ck_assert_msg(strstr(t.res.message, "does not match its hash"), "%s", t.res.message);
	ck_assert(!t.got_ready);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_assign_other_size_refused)
{
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	kvm_worker_t k;
	tvm_t t;
	warm_start(&w);
	vm_config(&t, &c);
	c.memory_mib = 32;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &k), -EINVAL);
	/* Refused before anything was made or sent: the worker still waits. */
	ck_assert_int_eq(access(t.ctl, F_OK), -1);
	ck_assert_int_ge(w.pool_fd, 0);
	ck_assert_int_eq(kill(w.pid, 0), 0);
	kvm_worker_t kk = { .pid = w.pid, .pidfd = w.pidfd };
	int st;
	w.pool_fd = safe_close(w.pool_fd);
	ck_assert_int_eq(kvm_worker_wait(&kk, 10000, &st), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	kvm_worker_warm_release(&w);
	tvm_cleanup(&t);
}
END_TEST

static void wait_ready_again(kvm_warm_worker_t *w)
{
	struct pollfd p = { .fd = w->pool_fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 20000), 1);
	ck_assert_int_eq(kvm_worker_warm_ready(w), 1);
}

START_TEST(test_prime_then_assign)
{
	/* PRIME: the guest compiles the module and says READY again; the
	 * ASSIGN of a VM that runs it needs no module fd, and it runs. */
	char hex[BLOB_HEX_LEN + 1], ref[80];
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	tvm_t t;
	ck_assert_int_eq(blob_hash_data(exit9, sizeof(exit9), hex), 0);
	snprintf(ref, sizeof(ref), "sha256:%s", hex);
	warm_start(&w);
	int bfd = blob_fd_of(exit9, sizeof(exit9));
	ck_assert_int_eq(kvm_worker_prime(&w, ref, bfd), 0);
	close(bfd);
	ck_assert(!w.ready);
	ck_assert_str_eq(w.primed, ref);
	/* once primed, not again */
	ck_assert_int_eq(kvm_worker_prime(&w, ref, 0), -EAGAIN);
	wait_ready_again(&w);
	vm_config(&t, &c);
	/* another module, or none: refused before anything is sent */
	char other[80];
	snprintf(other, sizeof(other), "sha256:%064d", 1);
	c.workload = other;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), -EINVAL);
	c.workload = NULL;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), -EINVAL);
	c.workload = ref;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, t.res.message);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 9);
	kvm_worker_warm_release(&w);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_primed_worker_refuses_another_module)
{
	/* The parent's check aside (w.primed cleared by hand), the worker
	 * itself refuses to become a VM that runs another module than the
	 * one it holds: it ends with an error, running nothing. */
	char hex[BLOB_HEX_LEN + 1], ref[80], other[80];
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	tvm_t t;
	ck_assert_int_eq(blob_hash_data(exit9, sizeof(exit9), hex), 0);
	snprintf(ref, sizeof(ref), "sha256:%s", hex);
	snprintf(other, sizeof(other), "sha256:%064d", 2);
	warm_start(&w);
	int bfd = blob_fd_of(exit9, sizeof(exit9));
	ck_assert_int_eq(kvm_worker_prime(&w, ref, bfd), 0);
	wait_ready_again(&w);
	vm_config(&t, &c);
	c.workload = other;
	c.blob_fd = bfd;
	w.primed[0] = 0;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), 0);
	close(bfd);
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_msg(strstr(t.res.message, "primed with"), "%s", t.res.message);
	ck_assert(!t.got_ready);
	kvm_worker_warm_release(&w);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_worker_refuses_another_size)
{
	/* The parent's size check aside (w.memory_mib changed by hand), the
	 * worker itself refuses a VM of another size than the one it built:
	 * the VM's error comes on its control socket, no guest runs. */
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	tvm_t t;
	warm_start(&w);
	vm_config(&t, &c);
	c.memory_mib = 32;
	w.memory_mib = 32;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), 0);
	int st = tvm_finish(&t, 10000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_msg(strstr(t.res.message, "another size"), "%s", t.res.message);
	ck_assert(!t.got_ready);
	kvm_worker_warm_release(&w);
	tvm_cleanup(&t);
}
END_TEST

START_TEST(test_prime_wrong_bytes)
{
	/* Bytes that do not hash to the name: the worker ends before it is
	 * ready again, and its guest never saw them. */
	char ref[80];
	kvm_warm_worker_t w;
	snprintf(ref, sizeof(ref), "sha256:%064d", 3);
	warm_start(&w);
	int bfd = blob_fd_of(exit9, sizeof(exit9));
	ck_assert_int_eq(kvm_worker_prime(&w, ref, bfd), 0);
	close(bfd);
	kvm_worker_t k = { .pid = w.pid, .pidfd = w.pidfd };
	int st;
	ck_assert_int_eq(kvm_worker_wait(&k, 10000, &st), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	ck_assert_int_eq(kvm_worker_warm_ready(&w), -EPIPE);
	kvm_worker_warm_release(&w);
}
END_TEST

START_TEST(test_garbage_assign)
{
	/* A message that is not an ASSIGN, with an fd attached: the worker
	 * ends with an error and runs no guest; the fd is closed. */
	kvm_warm_worker_t w;
	warm_start(&w);
	char junk[64];
	memset(junk, 0x5a, sizeof(junk));
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctrl;
	memset(&ctrl, 0, sizeof(ctrl));
	struct iovec iov = { junk, sizeof(junk) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b, .msg_controllen = sizeof(ctrl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &devnull, sizeof(int));
	ck_assert_int_eq(sendmsg(w.pool_fd, &mh, 0), (ssize_t)sizeof(junk));
	close(devnull);
	kvm_worker_t k = { .pid = w.pid, .pidfd = w.pidfd };
	int st;
	ck_assert_int_eq(kvm_worker_wait(&k, 10000, &st), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	kvm_worker_warm_release(&w);
}
END_TEST

/* A well-formed hash: the decoder takes no other. */
#define H0 "sha256:0000000000000000000000000000000000000000000000000000000000000000"

START_TEST(test_encode_decode)
{
	static const char *args[] = { "a", "", "c d" }, *envs[] = { "X=1" };
	kvm_warm_assign_t in = { .type = KVM_WARM_MSG_ASSIGN, .fd_mask = 0x1f, .memory_mib = 16, .vcpus = 1, .workload = H0,
				 .nargs = 3, .nenvs = 1 };
	kvm_warm_assign_t out;
	uint8_t buf[4096];
	for (int i = 0; i < 3; i++)
		in.args[i] = args[i];
	in.envs[0] = envs[0];
	int n = kvm_warm_encode(&in, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 5, &out), 0);
	ck_assert_int_eq(out.nargs, 3);
	ck_assert_str_eq(out.args[2], "c d");
	ck_assert_str_eq(out.args[1], "");
	ck_assert_str_eq(out.envs[0], "X=1");
	ck_assert_str_eq(out.workload, H0);
	/* fds must match the mask; nothing may trail; cut anywhere is bad */
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 4, &out), -EBADMSG);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n + 1, 5, &out), -EBADMSG);
	for (int k = 0; k < n; k++)
		ck_assert_int_eq(kvm_warm_decode(buf, (size_t)k, 5, &out), -EBADMSG);
	/* no control socket, or a module without its hash: refused */
	in.fd_mask = 0x1e;
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.fd_mask = 0x11;
	in.workload = NULL;
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
	/* a PRIME: the hash and the module, nothing else */
	kvm_warm_assign_t pr = { .type = KVM_WARM_MSG_PRIME, .fd_mask = 1u << KVM_WARM_FD_BLOB, .memory_mib = 16,
				 .vcpus = 1, .workload = H0 };
	n = kvm_warm_encode(&pr, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 1, &out), 0);
	ck_assert_int_eq(out.type, KVM_WARM_MSG_PRIME);
	ck_assert_str_eq(out.workload, H0);
	pr.nargs = 1;
	pr.args[0] = "x";
	ck_assert_int_eq(kvm_warm_encode(&pr, buf, sizeof(buf)), -EINVAL);
	pr.nargs = 0;
	pr.fd_mask |= 1u << KVM_WARM_FD_CTL;
	ck_assert_int_eq(kvm_warm_encode(&pr, buf, sizeof(buf)), -EINVAL);
	pr.fd_mask = 1u << KVM_WARM_FD_BLOB;
	pr.workload = NULL;
	ck_assert_int_eq(kvm_warm_encode(&pr, buf, sizeof(buf)), -EINVAL);
	/* too long for the buffer */
	in.fd_mask = 0x1;
	ck_assert_int_eq(kvm_warm_encode(&in, buf, 20), -E2BIG);
	/* a hash that is not one: refused both ways */
	pr.workload = "sha256:00";
	ck_assert_int_eq(kvm_warm_encode(&pr, buf, sizeof(buf)), -EINVAL);
	in.workload = "sha256:" "000000000000000000000000000000000000000000000000000000000000000G";
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* KVM_WARM_F_RUN (a compute.vm.run's worker) travels in an ASSIGN only,
 * KVM_WARM_F_REUSE only with it; unknown bits, a flag on a PRIME and a
 * non-zero pad are refused. */
START_TEST(test_run_flag)
{
	kvm_warm_assign_t in = { .type = KVM_WARM_MSG_ASSIGN, .fd_mask = 1u << KVM_WARM_FD_CTL, .memory_mib = 16,
				 .vcpus = 1, .flags = KVM_WARM_F_RUN };
	kvm_warm_assign_t out;
	kvm_warm_hdr_t h;
	uint8_t buf[4096];
	int n = kvm_warm_encode(&in, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 1, &out), 0);
	ck_assert_uint_eq(out.flags, KVM_WARM_F_RUN);
	memcpy(&h, buf, sizeof(h));
	h.pad = 1;
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 1, &out), -EBADMSG);
	h.pad = 0;
	h.flags = 0x2;
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 1, &out), -EBADMSG);
	in.flags = 0x2; /* KVM_WARM_F_REUSE alone: only a run's worker is reused */
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.flags = KVM_WARM_F_RUN | 0x4;
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.flags = KVM_WARM_F_RUN | KVM_WARM_F_REUSE;
	n = kvm_warm_encode(&in, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 1, &out), 0);
	ck_assert_uint_eq(out.flags, KVM_WARM_F_RUN | KVM_WARM_F_REUSE);
	kvm_warm_assign_t pr = { .type = KVM_WARM_MSG_PRIME, .fd_mask = 1u << KVM_WARM_FD_BLOB, .memory_mib = 16,
				 .vcpus = 1, .workload = H0, .flags = KVM_WARM_F_RUN };
	ck_assert_int_eq(kvm_warm_encode(&pr, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* Until a message of type want (20 s each). */
static void step_until(tvm_t *t, uint32_t want)
{
	int r;
	while ((r = tvm_step(t, 20000)) != (int)want)
		ck_assert_msg(r >= 0, "waiting for message %u: %s", want, strerror(-r));
}

/* The steps guest (one step), paused while it waits for its input and
 * written into a file: that file's read-only fd (unlinked), its path
 * in path for a corrupt copy. */
static int steps_snapshot(char *path, size_t n)
{
	static const char *one[] = { "1" };
	kvm_msg_snapshot_t req = { 0 };
	kvm_msg_snapshot_done_t done;
	kvm_msg_t m;
	tvm_t o;
	tvm_start(&o, "steps", one, 1);
	tvm_wait_console(&o, "steps=1", 20000);
	ck_assert_int_eq(kvm_ctl_queue(o.w.ctl, KVM_MSG_PAUSE, NULL, 0), 0);
	step_until(&o, KVM_MSG_PAUSED);
	snprintf(path, n, "/tmp/mvm-warm-snap.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(kvm_ctl_send_fd(o.w.ctl, KVM_MSG_SNAPSHOT, &req, sizeof(req), fd), 0);
	close(fd);
	for (;;) {
		int r = kvm_ctl_recv(o.w.ctl, 20000, &m);
		ck_assert_int_gt(r, 0);
		if (m.type == KVM_MSG_SNAPSHOT_DONE)
			break;
	}
	ck_assert_int_eq(kvm_msg_get_snapshot_done(&m, &done), 0);
	ck_assert_int_eq(done.error, 0);
	kvm_ctl_send_stop(o.w.ctl, 0);
	(void)tvm_finish(&o, 20000);
	tvm_cleanup(&o);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A warm worker given a snapshot in its ASSIGN becomes that VM inside its
 * sandbox (vmm_restore_warm): the guest goes on from its wait and exits
 * with what its input makes (one step, a zero byte: 0). A corrupt
 * snapshot is refused, as by a cold worker; a primed worker never gets
 * one (kvm_worker_assign). */
START_TEST(test_assign_snapshot)
{
	char path[64], hex[BLOB_HEX_LEN + 1], ref[80];
	kvm_warm_worker_t w;
	kvm_worker_config_t c;
	tvm_t t;
	int snap = steps_snapshot(path, sizeof(path));

	warm_start(&w);
	vm_config(&t, &c);
	c.snapshot_fd = snap;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), 0);
	kvm_worker_warm_release(&w);
	step_until(&t, KVM_MSG_READY);
	ck_assert_int_eq(proc_seccomp(t.w.pid), 2);
	ck_assert_int_eq(kvm_ctl_send_console(t.w.ctl, "", 1), 0);
	int st = tvm_finish(&t, 20000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, t.res.message);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_EXIT);
	ck_assert_int_eq(t.res.exit_code, 0);
	ck_assert_ptr_nonnull(strstr(t.console, "done sum=0"));
	tvm_cleanup(&t);

	/* one byte of its memory changed: the trailer's hash says so */
	uint8_t *b = malloc(1 << 20);
	ssize_t len = pread(snap, b, 1 << 20, 0);
	ck_assert_int_gt(len, 8192);
	b[len / 2] ^= 0x55;
	int bad = blob_fd_of(b, (size_t)len);
	free(b);
	warm_start(&w);
	vm_config(&t, &c);
	c.snapshot_fd = bad;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), 0);
	kvm_worker_warm_release(&w);
	st = tvm_finish(&t, 20000);
	ck_assert(!WIFEXITED(st) || WEXITSTATUS(st) != 0);
	ck_assert_int_eq(t.res.outcome, KVM_OUTCOME_ERROR);
	ck_assert_msg(strstr(t.res.message, "snapshot refused"), "%s", t.res.message);
	tvm_cleanup(&t);
	close(bad);

	/* a primed worker holds its module: not for a snapshot's VM */
	ck_assert_int_eq(blob_hash_data(exit9, sizeof(exit9), hex), 0);
	snprintf(ref, sizeof(ref), "sha256:%s", hex);
	warm_start(&w);
	int bfd = blob_fd_of(exit9, sizeof(exit9));
	ck_assert_int_eq(kvm_worker_prime(&w, ref, bfd), 0);
	close(bfd);
	wait_ready_again(&w);
	vm_config(&t, &c);
	c.workload = ref;
	c.snapshot_fd = snap;
	ck_assert_int_eq(kvm_worker_assign(&w, &c, &t.w), -EINVAL);
	w.pool_fd = safe_close(w.pool_fd);
	kvm_worker_t kk = { .pid = w.pid, .pidfd = w.pidfd };
	ck_assert_int_eq(kvm_worker_wait(&kk, 10000, &st), 0);
	kvm_worker_warm_release(&w);
	tvm_cleanup(&t);
	close(snap);
	unlink(path);
}
END_TEST

/* A snapshot (slot 6) goes only in an ASSIGN, and never with flags: a
 * run starts from its module. */
START_TEST(test_snapshot_slot)
{
	kvm_warm_assign_t in = { .type = KVM_WARM_MSG_ASSIGN,
				 .fd_mask = 1u << KVM_WARM_FD_CTL | 1u << KVM_WARM_FD_SNAPSHOT, .memory_mib = 16,
				 .vcpus = 1 };
	kvm_warm_assign_t out;
	kvm_warm_hdr_t h;
	uint8_t buf[4096];
	int n = kvm_warm_encode(&in, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 2, &out), 0);
	ck_assert_uint_eq(out.fd_mask, 1u << KVM_WARM_FD_CTL | 1u << KVM_WARM_FD_SNAPSHOT);
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 1, &out), -EBADMSG);
	memcpy(&h, buf, sizeof(h));
	h.flags = KVM_WARM_F_RUN;
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(kvm_warm_decode(buf, (size_t)n, 2, &out), -EBADMSG);
	in.flags = KVM_WARM_F_RUN;
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
	kvm_warm_assign_t pr = { .type = KVM_WARM_MSG_PRIME, .fd_mask = 1u << KVM_WARM_FD_BLOB | 1u << KVM_WARM_FD_SNAPSHOT,
				 .memory_mib = 16, .vcpus = 1, .workload = H0 };
	ck_assert_int_eq(kvm_warm_encode(&pr, buf, sizeof(buf)), -EINVAL);
	in = (kvm_warm_assign_t){ .type = KVM_WARM_MSG_ASSIGN, .fd_mask = 1u << KVM_WARM_FD_MAX | 1u, .memory_mib = 16,
				  .vcpus = 1 };
	ck_assert_int_eq(kvm_warm_encode(&in, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(test_decode_fuzz_crash_44279c6f)
{
	/* tests/fuzz/corpus/kvm_warm/crash-44279c6f...: a PRIME (type 3)
	 * with the module's fd (mask 0x10) and an empty workload "hash"
	 * (its header here in today's layout, with flags and pad).
	 * It used to decode, and the fuzz target, which took every decoded
	 * message for an ASSIGN, trapped on its missing control socket. A
	 * PRIME must name its module by a real hash: refused, with any fd
	 * count. */
	static const uint8_t crash[] = { 0x03, 0, 0, 0, 0x01, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0,
					 0x03, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'w', 0 };
	kvm_warm_assign_t out;
	for (size_t nfds = 0; nfds <= KVM_WARM_FD_MAX; nfds++)
		ck_assert_int_eq(kvm_warm_decode(crash, sizeof(crash), nfds, &out), -EBADMSG);
	/* the same PRIME with a hash decodes, and carries the module only */
	uint8_t ok[sizeof(crash) + 71];
	memcpy(ok, crash, sizeof(crash) - 1);
	memcpy(ok + sizeof(crash) - 1, H0, sizeof(H0));
	ck_assert_int_eq(kvm_warm_decode(ok, sizeof(ok), 1, &out), 0);
	ck_assert_int_eq(out.type, KVM_WARM_MSG_PRIME);
	ck_assert_uint_eq(out.fd_mask, 1u << KVM_WARM_FD_BLOB);
	ck_assert_str_eq(out.workload, H0);
}
END_TEST

static const mvmt_tcase_t tcases[] = {
	{
		.name = "warm",
		.timeout = 60,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_encode_decode),
			MVMT_TEST(test_run_flag),
			MVMT_TEST(test_snapshot_slot),
			MVMT_TEST(test_decode_fuzz_crash_44279c6f)),
	},
	{
		.name = "workers",
		.timeout = 60,
		.skip = mvmt_kvm_skip_reason,
		.tests = MVMT_TESTS(
			MVMT_TEST(test_ready_means_sandboxed),
			MVMT_TEST(test_assign_boot_info),
			MVMT_TEST(test_assign_workload),
			MVMT_TEST(test_assign_wrong_module),
			MVMT_TEST(test_assign_other_size_refused),
			MVMT_TEST(test_garbage_assign),
			MVMT_TEST(test_prime_then_assign),
			MVMT_TEST(test_assign_snapshot),
			MVMT_TEST(test_primed_worker_refuses_another_module),
			MVMT_TEST(test_prime_wrong_bytes),
			MVMT_TEST(test_worker_refuses_another_size)),
	},
	{ 0 }
};

MVMT_MAIN(.name = "kvm-warm", .tcases = tcases)
