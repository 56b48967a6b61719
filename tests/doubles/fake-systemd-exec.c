/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST DOUBLE: the part of systemd's service executor that sandboxes
 * mvmd.service. No systemd runs as PID 1 on the development and CI
 * machines, so tests/suites/unit-sandbox.sh reads the unit's directives
 * and has this program apply them the way systemd does before it execs
 * mvmd, proving that a directive which breaks mvmd fails a test:
 *
 *   fake-systemd-exec [OPTIONS] [--] PROGRAM [ARGS...]
 *   --caps "chown ..."        CapabilityBoundingSet= (libcap-ng names); the
 *                             inheritable and ambient sets are emptied too
 *   --no-new-privs            NoNewPrivileges=yes
 *   --syscalls "name ..."     SystemCallFilter=, already resolved to one
 *                             allow-list of names (the suite expands the
 *                             @groups with systemd-analyze syscall-filter);
 *                             names this kernel lacks are skipped, as
 *                             systemd does; anything else fails with
 *   --errno N                 SystemCallErrorNumber= (default: SIGSYS kill)
 *   --families "1 40"         RestrictAddressFamilies= (numbers): socket(2)
 *                             of any other family fails EAFNOSUPPORT
 *   --mdwe                    MemoryDenyWriteExecute=yes
 *   --restrict-namespaces     RestrictNamespaces=yes (clone3 gets ENOSYS
 *                             so glibc falls back to a clone it can check)
 *   --umask OCTAL             UMask=
 *   --private-network         PrivateNetwork=yes (a new network namespace)
 *   --proc-options OPTS       ProtectProc=/ProcSubset= (a /proc mounted with
 *                             e.g. "hidepid=invisible,subset=pid")
 *   --read-only-root          ProtectSystem=strict: every mount read-only
 *                             but /dev, /proc, /sys and the --rw paths
 *   --rw PATH                 ReadWritePaths= (repeatable)
 *   --private-tmp             PrivateTmp=yes (an empty /tmp and /var/tmp)
 *   --protect-home            ProtectHome=yes (/home, /root, /run/user
 *                             empty and read-only)
 *
 * As in systemd, each seccomp feature is its own filter (the kernel takes
 * the strictest answer), all loaded after no_new_privs, just before exec.
 */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/mount.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAMILY_MAX 64
#define RW_MAX 16

static const char *prog = "fake-systemd-exec";

static void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err < 0 ? -err : err));
	exit(127);
}

static void bounding_set(const char *keep)
{
	char *copy = strdup(keep), *save = NULL;
	bool want[CAP_LAST_CAP + 1] = { false };

	if (!copy)
		die("strdup", ENOMEM);
	for (char *t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		const char *name = strncasecmp(t, "CAP_", 4) == 0 ? t + 4 : t;
		int cap = capng_name_to_capability(name);
		if (cap < 0 || cap > CAP_LAST_CAP)
			die(t, EINVAL);
		want[cap] = true;
	}
	free(copy);
	capng_get_caps_process();
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (!want[cap])
			capng_update(CAPNG_DROP, CAPNG_BOUNDING_SET, (unsigned)cap);
		capng_update(CAPNG_DROP, CAPNG_INHERITABLE, (unsigned)cap);
	}
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		die("capng_apply", EPERM);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die("PR_CAP_AMBIENT_CLEAR_ALL", errno);
}

static void load(scmp_filter_ctx ctx, const char *what)
{
	int r = seccomp_arch_add(ctx, SCMP_ARCH_NATIVE);
	if (r < 0 && r != -EEXIST)
		die(what, r);
	r = seccomp_load(ctx);
	if (r < 0)
		die(what, r);
	seccomp_release(ctx);
}

static void syscall_filter(const char *names, uint32_t deny)
{
	scmp_filter_ctx ctx = seccomp_init(deny);
	char *copy = strdup(names), *save = NULL;

	if (!ctx || !copy)
		die("syscall filter", ENOMEM);
	for (char *t = strtok_r(copy, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		int nr = seccomp_syscall_resolve_name(t);
		if (nr == __NR_SCMP_ERROR)
			continue;
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0 && r != -EEXIST)
			die(t, r);
	}
	free(copy);
	load(ctx, "syscall filter");
}

static void family_filter(const char *list)
{
	bool allowed[FAMILY_MAX] = { false };
	char *copy = strdup(list), *save = NULL;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (!ctx || !copy)
		die("address family filter", ENOMEM);
	for (char *t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		int f = atoi(t);
		if (f <= 0 || f >= FAMILY_MAX)
			die(t, EINVAL);
		allowed[f] = true;
	}
	free(copy);
	for (int f = 0; f < FAMILY_MAX; f++)
		if (!allowed[f] &&
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, f)) < 0)
			die("socket rule", EINVAL);
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_GE, FAMILY_MAX)) < 0)
		die("socket rule", EINVAL);
	load(ctx, "address family filter");
}

/* systemd's seccomp_memory_deny_write_execute(): no mapping both writable
 * and executable, no page made executable later. */
static void mdwe_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	const uint32_t e = SCMP_ACT_ERRNO(EPERM);

	if (!ctx ||
	    seccomp_rule_add(ctx, e, SCMP_SYS(mmap), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC | PROT_WRITE, PROT_EXEC | PROT_WRITE)) < 0 ||
	    seccomp_rule_add(ctx, e, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) < 0 ||
	    seccomp_rule_add(ctx, e, SCMP_SYS(pkey_mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) < 0 ||
	    seccomp_rule_add(ctx, e, SCMP_SYS(shmat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)) < 0)
		die("MemoryDenyWriteExecute filter", EINVAL);
	load(ctx, "MemoryDenyWriteExecute filter");
}

/* systemd's seccomp_restrict_namespaces() with no namespace allowed. */
static void namespace_filter(void)
{
	static const unsigned long flags[] = { CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
					       CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	const uint32_t e = SCMP_ACT_ERRNO(EPERM);

	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0 ||
	    seccomp_rule_add(ctx, e, SCMP_SYS(setns), 0) < 0)
		die("RestrictNamespaces filter", EINVAL);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (seccomp_rule_add(ctx, e, SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i])) < 0 ||
		    seccomp_rule_add(ctx, e, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i])) < 0)
			die("RestrictNamespaces filter", EINVAL);
	load(ctx, "RestrictNamespaces filter");
}

static void set_readonly(const char *path, bool ro)
{
	struct mount_attr a = { .attr_set = ro ? MOUNT_ATTR_RDONLY : 0, .attr_clr = ro ? 0 : MOUNT_ATTR_RDONLY };
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof(a)) < 0)
		die(path, errno);
}

int main(int argc, char **argv)
{
	enum { O_CAPS = 256, O_NNP, O_SYSCALLS, O_ERRNO, O_FAMILIES, O_MDWE, O_NS, O_UMASK, O_NET, O_PROC, O_RO, O_RW, O_TMP, O_HOME };
	static const struct option opts[] = {
		{ "caps", required_argument, NULL, O_CAPS },
		{ "no-new-privs", no_argument, NULL, O_NNP },
		{ "syscalls", required_argument, NULL, O_SYSCALLS },
		{ "errno", required_argument, NULL, O_ERRNO },
		{ "families", required_argument, NULL, O_FAMILIES },
		{ "mdwe", no_argument, NULL, O_MDWE },
		{ "restrict-namespaces", no_argument, NULL, O_NS },
		{ "umask", required_argument, NULL, O_UMASK },
		{ "private-network", no_argument, NULL, O_NET },
		{ "proc-options", required_argument, NULL, O_PROC },
		{ "read-only-root", no_argument, NULL, O_RO },
		{ "rw", required_argument, NULL, O_RW },
		{ "private-tmp", no_argument, NULL, O_TMP },
		{ "protect-home", no_argument, NULL, O_HOME },
		{ 0 },
	};
	const char *caps = NULL, *syscalls = NULL, *families = NULL, *proc = NULL, *rw[RW_MAX];
	bool nnp = false, mdwe = false, ns = false, net = false, ro = false, tmp = false, home = false;
	long err = -1, mask = -1;
	int o, n_rw = 0;

	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (o) {
		case O_CAPS: caps = optarg; break;
		case O_NNP: nnp = true; break;
		case O_SYSCALLS: syscalls = optarg; break;
		case O_ERRNO: err = strtol(optarg, NULL, 10); break;
		case O_FAMILIES: families = optarg; break;
		case O_MDWE: mdwe = true; break;
		case O_NS: ns = true; break;
		case O_UMASK: mask = strtol(optarg, NULL, 8); break;
		case O_NET: net = true; break;
		case O_PROC: proc = optarg; break;
		case O_RO: ro = true; break;
		case O_TMP: tmp = true; break;
		case O_HOME: home = true; break;
		case O_RW:
			if (n_rw == RW_MAX)
				die("--rw", E2BIG);
			rw[n_rw++] = optarg;
			break;
		default: return 127;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [OPTIONS] -- PROGRAM [ARGS...]\n", prog);
		return 127;
	}

	/* Namespaces and mounts first: they need the capabilities dropped below. */
	if (net && unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET)", errno);
	bool mounts = proc || ro || tmp || home;
	if (mounts && unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS)", errno);
	if (mounts && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private", errno);
	if (tmp) {
		static const char *dirs[] = { "/tmp", "/var/tmp" };
		for (size_t i = 0; i < 2; i++)
			if (mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
				die(dirs[i], errno);
	}
	if (home) {
		static const char *dirs[] = { "/home", "/root", "/run/user" };
		for (size_t i = 0; i < 3; i++)
			if (access(dirs[i], F_OK) == 0 &&
			    mount("tmpfs", dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0)
				die(dirs[i], errno);
	}
	if (ro) {
		set_readonly("/", true);
		static const char *api[] = { "/dev", "/proc", "/sys" };
		for (size_t i = 0; i < 3; i++)
			set_readonly(api[i], false);
		if (tmp) {
			set_readonly("/tmp", false);
			set_readonly("/var/tmp", false);
		}
		for (int i = 0; i < n_rw; i++) {
			if (mount(rw[i], rw[i], NULL, MS_BIND | MS_REC, NULL) < 0)
				die(rw[i], errno);
			set_readonly(rw[i], false);
		}
	}
	if (proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, proc) < 0)
		die("mount /proc", errno);
	if (mask >= 0)
		umask((mode_t)mask);
	if (caps)
		bounding_set(caps);
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS", errno);
	if (families)
		family_filter(families);
	if (mdwe)
		mdwe_filter();
	if (ns)
		namespace_filter();
	if (syscalls)
		syscall_filter(syscalls, err >= 0 ? SCMP_ACT_ERRNO((uint32_t)err) : SCMP_ACT_KILL_PROCESS);
	execvp(argv[optind], argv + optind);
	die(argv[optind], errno);
}
