/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmd: the node daemon. Startup order (systemd style):
 * parse args → lock the state directory → manager_new + load VMs →
 * listen (or take the socket from systemd) → sd_notify(READY) → event loop.
 *
 * SIGTERM/SIGINT end the loop without touching VMs: their workers run on
 * and are re-adopted by the next mvmd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "backends.h"
#include "kvm/kvm-pool.h"
#include "kvm/zygote.h"
#include "manager.h"
#include "methods.h"
#include "metrics.h"
#include "proto/ctl.h"
#include "rpc.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/macro.h"
#include "vmlog.h"

typedef struct options {
	const char *rpc_socket;
	const char *state_dir;
	const char *console_dir;
	const char *socket_group;
	const char *kvm_device;
	const char *vmm_path;
	const char *guest_image;
	const char *ch_binary;
	const char *ch_initramfs;
	bool allow_custom_guests;
	size_t max_request_bytes;
	unsigned max_clients;
	size_t event_ring;
	size_t max_vms;
	size_t max_memory_mib, max_vcpus; /* 0: from the host */
	size_t kvm_pool;        /* warm kvm workers kept (0: none) */
	size_t kvm_pool_mib;    /* their memory until starts ask for another size */
	size_t kvm_pool_ready_ms; /* a warm worker not ready by then is a failure */
	size_t kvm_op_timeout_ms; /* a worker not answering a pause step by then is killed */
	size_t kvm_max_teardowns; /* kvm workers torn down at once (0: no cap) */
	rpc_limits_t rpc;       /* output caps and connection timeouts (the rest above) */
	const char *metrics_textfile; /* --metrics-textfile: where the metrics go */
	size_t metrics_interval_ms;
	pull_config_t pull;     /* --blob-source*: registries to pull blobs from */
} options_t;

static void help(void)
{
	printf("Usage: mvmd [OPTIONS]\n"
	       "\n"
	       "Micro-VM control-plane daemon: JSON-RPC 2.0 (compute.vm.*) on a Unix socket.\n"
	       "\n"
	       "  --rpc-socket PATH         RPC socket (default /run/mvmd/rpc.sock)\n"
	       "  --state-dir DIR           VM state (default /var/lib/mvmd)\n"
	       "  --console-dir DIR         console sockets (default /run/mvmd/console)\n"
	       "  --socket-group NAME       RPC and console sockets 0660 with this group (default 0600 root)\n"
	       "  --log-level LEVEL         err, warning, notice, info (default), debug\n"
	       "  --max-request-bytes N     longest request line (default 1048576)\n"
	       "  --max-clients N           concurrent RPC connections (default 256)\n"
	       "  --max-answer-bytes N      longest answer line; longer: error -32005 (default 16777216)\n"
	       "  --max-client-output-bytes N  output waiting for one client before it is\n"
	       "                            disconnected (default 33554432)\n"
	       "  --max-total-output-bytes N  output waiting for all clients; above, the slowest\n"
	       "                            are disconnected (default 268435456)\n"
	       "  --idle-timeout-ms N       close a connection idle that long (default 300000, 0 never)\n"
	       "  --line-timeout-ms N       a request line must be complete within (default 30000, 0 never)\n"
	       "  --send-timeout-ms N       drop a client that reads none of its output that long\n"
	       "                            (default 60000, 0 never)\n"
	       "  --event-ring-size N       node-wide transition ring capacity (default 1024)\n"
	       "  --max-vms N               VMs this node holds at most (default 4096)\n"
	       "  --max-memory-mib N        guest memory of all started VMs together\n"
	       "                            (default: RAM less an eighth, at least 256 MiB)\n"
	       "  --max-vcpus N             vCPUs of all started VMs together (default: online CPUs x 8)\n"
	       "  --kvm-pool N              warm kvm workers kept ready for starts (default 4, 0 none)\n"
	       "  --kvm-pool-memory-mib N   their guest memory until starts ask for another (default 16)\n"
	       "  --kvm-pool-ready-timeout-ms N  a warm worker not ready by then is killed (default 10000)\n"
	       "  --kvm-op-timeout-ms N     a worker that does not answer a pause, resume or snapshot\n"
	       "                            step by then is killed, its VM Failed (default 10000)\n"
	       "  --kvm-max-teardowns N     kvm VMs being stopped at once; more stops wait (default 64, 0 no cap)\n"
	       "  --metrics-textfile PATH   write the metrics (Prometheus text format) to PATH, e.g.\n"
	       "                            /var/lib/prometheus/node-exporter/mvmd.prom\n"
	       "  --metrics-interval-ms N   how often (default 15000)\n"
	       "  --kvm-device PATH         KVM device (default /dev/kvm)\n"
	       "  --vmm PATH                the mvm-vmm worker (default: beside mvmd, else ../libexec/mvmd/)\n"
	       "  --guest-image PATH        the micro-VM guest (default: ../guest/ from mvmd, else ../libexec/mvmd/)\n"
	       "  --allow-custom-guests     let compute.vm.create name any host file as guest image\n"
	       "  --no-kvm-zygote           exec each kvm worker, each loading its own seccomp filter,\n"
	       "                            instead of forking them from one zygote (docs/density.md)\n"
	       "  --ch-binary PATH          cloud-hypervisor (default: cloud-hypervisor on PATH)\n"
	       "  --ch-initramfs PATH       default initramfs of ch VMs (default: found like the guest image)\n"
	       "  --blob-source NAME=URL    a registry to pull blobs from, in the order given;\n"
	       "                            URL https://host[:port]/repository (docs/blobs.md)\n"
	       "  --blob-source-ca FILE     PEM CA bundle for the sources (default: the system's)\n"
	       "  --blob-source-auth FILE   registry credentials, Docker config.json \"auths\" (root-only file)\n"
	       "  --blob-source-insecure    allow plain http:// sources on non-loopback hosts\n"
	       "  --blob-pull-max-size N    largest blob a pull accepts (default and most 1073741824)\n"
	       "  --fetch-helper PATH       the mvm-fetch helper (default: found like --vmm)\n"
	       "  -h, --help                this help\n"
	       "  --version                 print the version\n"
	       "\n"
	       "When started by systemd socket activation, the listening socket is taken\n"
	       "from systemd (sd_listen_fds) and --rpc-socket is ignored.\n"
	       "See mvmd(8) and docs/rpc.md.\n");
}

static int parse_size(const char *s, size_t min, size_t max, size_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*ret = (size_t)v;
	return 0;
}

/* 0 to run, 1 to exit successfully (help/version), -EINVAL on bad usage. */
static int parse_argv(int argc, char **argv, options_t *o)
{
	enum { ARG_RPC = 0x100, ARG_STATE, ARG_CONSOLE, ARG_GROUP, ARG_LOG, ARG_MAXREQ,
	       ARG_MAXCLI, ARG_RING, ARG_MAXVMS, ARG_MAXMEM, ARG_MAXVCPUS, ARG_KVM, ARG_VMM, ARG_IMAGE, ARG_CUSTOM, ARG_NO_ZYGOTE, ARG_VERSION,
	       ARG_CH_BINARY, ARG_CH_INITRAMFS, ARG_POOL, ARG_POOL_MIB, ARG_POOL_READY, ARG_OP_TIMEOUT, ARG_MAX_TEARDOWNS,
	       ARG_MAXANSWER, ARG_MAXCLIOUT, ARG_MAXTOTALOUT, ARG_IDLE_MS, ARG_LINE_MS, ARG_SEND_MS,
	       ARG_METRICS_FILE, ARG_METRICS_MS, ARG_BLOB_SOURCE, ARG_BLOB_CA, ARG_BLOB_AUTH, ARG_BLOB_INSECURE, ARG_FETCH,
	       ARG_BLOB_MAX };
	static const struct option longopts[] = {
		{ "rpc-socket", required_argument, NULL, ARG_RPC },
		{ "state-dir", required_argument, NULL, ARG_STATE },
		{ "console-dir", required_argument, NULL, ARG_CONSOLE },
		{ "socket-group", required_argument, NULL, ARG_GROUP },
		{ "log-level", required_argument, NULL, ARG_LOG },
		{ "max-request-bytes", required_argument, NULL, ARG_MAXREQ },
		{ "max-clients", required_argument, NULL, ARG_MAXCLI },
		{ "max-answer-bytes", required_argument, NULL, ARG_MAXANSWER },
		{ "max-client-output-bytes", required_argument, NULL, ARG_MAXCLIOUT },
		{ "max-total-output-bytes", required_argument, NULL, ARG_MAXTOTALOUT },
		{ "idle-timeout-ms", required_argument, NULL, ARG_IDLE_MS },
		{ "line-timeout-ms", required_argument, NULL, ARG_LINE_MS },
		{ "send-timeout-ms", required_argument, NULL, ARG_SEND_MS },
		{ "event-ring-size", required_argument, NULL, ARG_RING },
		{ "max-vms", required_argument, NULL, ARG_MAXVMS },
		{ "max-memory-mib", required_argument, NULL, ARG_MAXMEM },
		{ "max-vcpus", required_argument, NULL, ARG_MAXVCPUS },
		{ "kvm-device", required_argument, NULL, ARG_KVM },
		{ "kvm-pool", required_argument, NULL, ARG_POOL },
		{ "kvm-pool-memory-mib", required_argument, NULL, ARG_POOL_MIB },
		{ "kvm-pool-ready-timeout-ms", required_argument, NULL, ARG_POOL_READY },
		{ "kvm-op-timeout-ms", required_argument, NULL, ARG_OP_TIMEOUT },
		{ "kvm-max-teardowns", required_argument, NULL, ARG_MAX_TEARDOWNS },
		{ "vmm", required_argument, NULL, ARG_VMM },
		{ "guest-image", required_argument, NULL, ARG_IMAGE },
		{ "allow-custom-guests", no_argument, NULL, ARG_CUSTOM },
		{ "no-kvm-zygote", no_argument, NULL, ARG_NO_ZYGOTE },
		{ "ch-binary", required_argument, NULL, ARG_CH_BINARY },
		{ "ch-initramfs", required_argument, NULL, ARG_CH_INITRAMFS },
		{ "metrics-textfile", required_argument, NULL, ARG_METRICS_FILE },
		{ "metrics-interval-ms", required_argument, NULL, ARG_METRICS_MS },
		{ "blob-source", required_argument, NULL, ARG_BLOB_SOURCE },
		{ "blob-source-ca", required_argument, NULL, ARG_BLOB_CA },
		{ "blob-source-auth", required_argument, NULL, ARG_BLOB_AUTH },
		{ "blob-source-insecure", no_argument, NULL, ARG_BLOB_INSECURE },
		{ "fetch-helper", required_argument, NULL, ARG_FETCH },
		{ "blob-pull-max-size", required_argument, NULL, ARG_BLOB_MAX },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{},
	};
	size_t v;
	int c, lvl;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
		switch (c) {
		case ARG_RPC: o->rpc_socket = optarg; break;
		case ARG_STATE: o->state_dir = optarg; break;
		case ARG_CONSOLE: o->console_dir = optarg; break;
		case ARG_GROUP: o->socket_group = optarg; break;
		case ARG_KVM: o->kvm_device = optarg; break;
		case ARG_VMM: o->vmm_path = optarg; break;
		case ARG_IMAGE: o->guest_image = optarg; break;
		case ARG_CUSTOM: o->allow_custom_guests = true; break;
		case ARG_NO_ZYGOTE: kvm_zygote_set_enabled(false); break;
		case ARG_CH_BINARY: o->ch_binary = optarg; break;
		case ARG_CH_INITRAMFS: o->ch_initramfs = optarg; break;
		case ARG_LOG:
			lvl = log_level_from_string(optarg);
			if (lvl < 0)
				return log_error_errno(-EINVAL, "invalid --log-level: %s", optarg);
			log_set_max_level(lvl);
			break;
		case ARG_MAXREQ:
			if (parse_size(optarg, 64, 64u << 20, &o->max_request_bytes) < 0)
				return log_error_errno(-EINVAL, "--max-request-bytes must be 64..67108864: %s", optarg);
			break;
		case ARG_MAXCLI:
			if (parse_size(optarg, 1, 65536, &v) < 0)
				return log_error_errno(-EINVAL, "--max-clients must be 1..65536: %s", optarg);
			o->max_clients = (unsigned)v;
			break;
		case ARG_MAXANSWER:
		case ARG_MAXCLIOUT:
		case ARG_MAXTOTALOUT:
			if (parse_size(optarg, 4096, (size_t)1 << 40, &v) < 0)
				return log_error_errno(-EINVAL, "--%s must be 4096..2^40: %s",
						       c == ARG_MAXANSWER ? "max-answer-bytes"
						       : c == ARG_MAXCLIOUT ? "max-client-output-bytes" : "max-total-output-bytes",
						       optarg);
			*(c == ARG_MAXANSWER ? &o->rpc.max_answer_bytes
			  : c == ARG_MAXCLIOUT ? &o->rpc.max_queue_bytes : &o->rpc.max_total_output_bytes) = v;
			break;
		case ARG_IDLE_MS:
		case ARG_LINE_MS:
		case ARG_SEND_MS:
			if (parse_size(optarg, 0, 86400000, &v) < 0)
				return log_error_errno(-EINVAL, "--%s-timeout-ms must be 0..86400000: %s",
						       c == ARG_IDLE_MS ? "idle" : c == ARG_LINE_MS ? "line" : "send", optarg);
			*(c == ARG_IDLE_MS ? &o->rpc.idle_timeout_usec
			  : c == ARG_LINE_MS ? &o->rpc.line_timeout_usec : &o->rpc.send_timeout_usec) = (uint64_t)v * 1000;
			break;
		case ARG_RING:
			if (parse_size(optarg, 16, 1u << 20, &o->event_ring) < 0)
				return log_error_errno(-EINVAL, "--event-ring-size must be 16..1048576: %s", optarg);
			break;
		case ARG_MAXVMS:
			if (parse_size(optarg, 1, 1u << 20, &o->max_vms) < 0)
				return log_error_errno(-EINVAL, "--max-vms must be 1..1048576: %s", optarg);
			break;
		case ARG_MAXMEM:
			if (parse_size(optarg, 1, 1u << 30, &o->max_memory_mib) < 0)
				return log_error_errno(-EINVAL, "--max-memory-mib must be 1..1073741824: %s", optarg);
			break;
		case ARG_MAXVCPUS:
			if (parse_size(optarg, 1, 1u << 20, &o->max_vcpus) < 0)
				return log_error_errno(-EINVAL, "--max-vcpus must be 1..1048576: %s", optarg);
			break;
		case ARG_POOL:
			if (parse_size(optarg, 0, KVM_POOL_SIZE_MAX, &o->kvm_pool) < 0)
				return log_error_errno(-EINVAL, "--kvm-pool must be 0..%u: %s", KVM_POOL_SIZE_MAX, optarg);
			break;
		case ARG_POOL_MIB:
			if (parse_size(optarg, KVM_VM_MEM_MIN_MIB, KVM_VM_MEM_MAX_MIB, &o->kvm_pool_mib) < 0)
				return log_error_errno(-EINVAL, "--kvm-pool-memory-mib must be %u..%u: %s", KVM_VM_MEM_MIN_MIB,
						       KVM_VM_MEM_MAX_MIB, optarg);
			break;
		case ARG_POOL_READY:
			if (parse_size(optarg, 1, 600000, &o->kvm_pool_ready_ms) < 0)
				return log_error_errno(-EINVAL, "--kvm-pool-ready-timeout-ms must be 1..600000: %s", optarg);
			break;
		case ARG_OP_TIMEOUT:
			if (parse_size(optarg, 1, 600000, &o->kvm_op_timeout_ms) < 0)
				return log_error_errno(-EINVAL, "--kvm-op-timeout-ms must be 1..600000: %s", optarg);
			break;
		case ARG_MAX_TEARDOWNS:
			if (parse_size(optarg, 0, 1000000, &o->kvm_max_teardowns) < 0)
				return log_error_errno(-EINVAL, "--kvm-max-teardowns must be 0..1000000: %s", optarg);
			break;
		case ARG_METRICS_FILE: o->metrics_textfile = optarg; break;
		case ARG_METRICS_MS:
			if (parse_size(optarg, 100, 86400000, &o->metrics_interval_ms) < 0)
				return log_error_errno(-EINVAL, "--metrics-interval-ms must be 100..86400000: %s", optarg);
			break;
		case ARG_BLOB_SOURCE: {
			_cleanup_free_ char *err = NULL;
			int r = pull_config_add_source(&o->pull, optarg, &err);
			if (r < 0)
				return log_error_errno(r, "%s", err ? err : "--blob-source: out of memory");
			break;
		}
		case ARG_BLOB_CA:
		case ARG_BLOB_AUTH:
		case ARG_FETCH: {
			char **dst = c == ARG_BLOB_CA ? &o->pull.ca_file : c == ARG_BLOB_AUTH ? &o->pull.auth_file : &o->pull.fetch_path;
			free(*dst);
			*dst = strdup(optarg);
			if (!*dst)
				return -ENOMEM;
			break;
		}
		case ARG_BLOB_INSECURE: o->pull.insecure = true; break;
		case ARG_BLOB_MAX:
			if (parse_size(optarg, 1, (size_t)BLOB_DEFAULT_MAX_SIZE, &v) < 0)
				return log_error_errno(-EINVAL, "--blob-pull-max-size must be 1..%llu: %s",
						       (unsigned long long)BLOB_DEFAULT_MAX_SIZE, optarg);
			o->pull.max_size = v;
			break;
		case 'h': help(); return 1;
		case ARG_VERSION: printf("mvmd %s\n", MVM_VERSION); return 1;
		default: return -EINVAL;
		}
	}
	if (optind < argc)
		return log_error_errno(-EINVAL, "unexpected argument: %s", argv[optind]);
	if (o->rpc_socket[0] != '/' || strlen(o->rpc_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return log_error_errno(-EINVAL, "--rpc-socket must be an absolute path shorter than 108 bytes");
	if (o->metrics_textfile && o->metrics_textfile[0] != '/')
		return log_error_errno(-EINVAL, "--metrics-textfile must be an absolute path");
	if (o->state_dir[0] != '/' || o->console_dir[0] != '/')
		return log_error_errno(-EINVAL, "--state-dir and --console-dir must be absolute paths");
	if (o->rpc.max_answer_bytes > o->rpc.max_queue_bytes || o->rpc.max_queue_bytes > o->rpc.max_total_output_bytes)
		return log_error_errno(-EINVAL, "need --max-answer-bytes <= --max-client-output-bytes <= --max-total-output-bytes");
	return 0;
}

/*
 * One mvmd per state directory: a second daemon on the same state would
 * fight over every VM. The lock lives as long as the process.
 */
static int lock_state_dir(const char *state_dir, int *ret_fd)
{
	_cleanup_free_ char *path = NULL;
	int fd, r;

	r = mkdir_p(state_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "cannot create %s: %m", state_dir);
	if (asprintf(&path, "%s/mvmd.lock", state_dir) < 0)
		return log_error_errno(-ENOMEM, "out of memory");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return log_error_errno(errno, "cannot open %s: %m", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno;
		close(fd);
		if (r == EWOULDBLOCK)
			return log_error_errno(EBUSY, "another mvmd is using %s", state_dir);
		return log_error_errno(r, "cannot lock %s: %m", path);
	}
	*ret_fd = fd;
	return 0;
}

/* Refuse to steal the socket of a live daemon: rpc_listen_unix unlinks. */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* Listening fds from systemd: those named "rpc", or all when none is named. */
static int take_listen_fds(rpc_server_t *srv, unsigned *ret_n)
{
	char **names = NULL;
	int n, r = 0;
	unsigned taken = 0;
	bool any_named = false;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0) {
		*ret_n = 0;
		return n;
	}
	for (int i = 0; i < n; i++)
		if (names && names[i] && strcmp(names[i], "rpc") == 0)
			any_named = true;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		bool want = !any_named || (names && names[i] && strcmp(names[i], "rpc") == 0);

		if (!want || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_warning("ignoring passed fd %d (%s): not the RPC listening socket", fd,
				    names && names[i] ? names[i] : "?");
			continue;
		}
		r = rpc_server_add_listener(srv, fd);
		if (r < 0)
			break;
		taken++;
	}
	if (names)
		for (int i = 0; i < n; i++)
			free(names[i]);
	free(names);
	*ret_n = taken;
	return r;
}

/* STATUS= for systemctl status: how many VMs, how many running. */
static void notify_status(manager_t *m)
{
	size_t n, running = 0, failed = 0;
	vm_t *const *vms = manager_vms(m, &n);

	if (!getenv("NOTIFY_SOCKET"))
		return;
	for (size_t i = 0; i < n; i++) {
		running += vms[i]->state == VM_STATE_RUNNING;
		failed += vms[i]->state == VM_STATE_FAILED || vms[i]->state == VM_STATE_START_FAILED;
	}
	sd_notifyf(0, "STATUS=%zu VMs: %zu running, %zu failed", n, running, failed);
}

static void on_transition(manager_t *m, const fsm_event_t *ev, void *userdata)
{
	notify_status(m);
}

/*
 * Privilege decision: the console directory is mvmd's, and its access
 * follows the RPC socket's (docs/access.md): with --socket-group it is
 * 0710 root:GROUP, so members reach the console socket whose path
 * compute.vm.console.endpoint gave them (without listing the directory);
 * without, 0700. Set at every start: the group may have changed since.
 * Missing parents are made 0755 as the RPC socket's are, which they may
 * share (/run/mvmd).
 */
static int console_dir_setup(const char *path, bool group, gid_t gid)
{
	_cleanup_free_ char *parent = strdup(path);
	_cleanup_close_ int dfd = -1;
	char *slash;
	int r;

	if (!parent)
		return -ENOMEM;
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		r = mkdir_p(parent, 0755);
		if (r < 0)
			return r;
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (group && fchown(dfd, (uid_t)-1, gid) < 0)
		return -errno;
	if (fchmod(dfd, group ? 0710 : 0700) < 0)
		return -errno;
	return 0;
}

/*
 * Every VM costs mvmd a few fds (worker pidfd, control connection, console
 * socket and clients): the default soft limit of 1024 would cap a node at a
 * few hundred VMs. Raise the soft limit to the hard one, as systemd does for
 * itself; the unit's LimitNOFILE= sets the hard limit.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning_errno(errno, "cannot raise the fd limit: %m");
	}
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("received %s, shutting down (VMs keep running)", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
	options_t o = {
		.rpc_socket = "/run/mvmd/rpc.sock",
		.state_dir = "/var/lib/mvmd",
		.console_dir = "/run/mvmd/console",
		.kvm_pool = KVM_POOL_SIZE_DEFAULT,
		.kvm_pool_mib = 16,
		.kvm_max_teardowns = 64,
		.metrics_interval_ms = 15000,
	};
	_cleanup_close_ int lock_fd = -1;
	sd_event *event = NULL;
	manager_t *m = NULL;
	exec_proxy_t *execs = NULL;
	rpc_server_t *srv = NULL;
	rpc_limits_t limits;
	methods_ctx_t ctx;
	manager_load_report_t rep;
	const rpc_method_t *table;
	size_t n_methods;
	unsigned n_fds = 0;
	bool own_socket = false;
	gid_t gid = (gid_t)-1;
	mode_t mode = 0600;
	sigset_t mask;
	int r;

	rpc_limits_default(&o.rpc);
	r = parse_argv(argc, argv, &o);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : 2;

	if (o.socket_group) {
		struct group *g = getgrnam(o.socket_group);
		if (!g) {
			log_error("--socket-group: no such group: %s", o.socket_group);
			return 2;
		}
		gid = g->gr_gid;
		mode = 0660;
	}

	raise_fd_limit();
	r = lock_state_dir(o.state_dir, &lock_fd);
	if (r < 0)
		return EXIT_FAILURE;

	/* A client that goes away mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	r = sd_event_default(&event);
	if (r < 0) {
		log_error_errno(r, "sd_event_default: %m");
		goto out;
	}
	sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL);
	sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL);
	/* Pings WATCHDOG=1 at half of WATCHDOG_USEC when systemd asks for it. */
	r = sd_event_set_watchdog(event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog: %m");

	r = console_dir_setup(o.console_dir, o.socket_group, gid);
	if (r < 0) {
		log_error_errno(r, "cannot set up the console directory %s: %m", o.console_dir);
		goto out;
	}

	manager_config_t mcfg = {
		.state_dir = o.state_dir,
		.console_dir = o.console_dir,
		.node_ring_capacity = o.event_ring,
		.max_vms = (unsigned)o.max_vms,
		.max_vcpus = (unsigned)o.max_vcpus,
		.max_memory_mib = o.max_memory_mib,
		.socket_group = o.socket_group != NULL,
		.socket_gid = gid,
	};
	r = manager_new(event, &mcfg, &m);
	if (r < 0) {
		log_error_errno(r, "cannot open state in %s: %m", o.state_dir);
		goto out;
	}
	(void)manager_subscribe(m, vmlog_vm_end, NULL);
	backends_config_t bcfg = { .kvm_device = o.kvm_device, .vmm_path = o.vmm_path, .guest_image = o.guest_image,
				   .ch_binary = o.ch_binary, .ch_initramfs = o.ch_initramfs,
				   .kvm_pool = (unsigned)o.kvm_pool, .kvm_pool_mib = (uint32_t)o.kvm_pool_mib,
				   .kvm_pool_ready_ms = (uint32_t)o.kvm_pool_ready_ms,
				   .kvm_op_timeout_ms = (uint32_t)o.kvm_op_timeout_ms,
				   .kvm_max_teardowns = (unsigned)o.kvm_max_teardowns };
	r = backends_register(m, &bcfg);
	if (r < 0) {
		log_error_errno(r, "cannot set up backends: %m");
		goto out;
	}
	if (o.pull.n_sources > 0) {
		_cleanup_free_ char *err = NULL;
		puller_t *puller;
		r = pull_config_finish(&o.pull, &err);
		if (r < 0) {
			log_error_errno(r, "%s", err ? err : "blob sources: out of memory");
			goto out;
		}
		if (!o.pull.fetch_path) {
			char path[PATH_MAX + 64];
			backends_program_path("mvm-fetch", path, sizeof(path));
			o.pull.fetch_path = strdup(path);
		}
		log_info("pulling missing blobs from %zu source(s) with %s", o.pull.n_sources,
			 o.pull.fetch_path ? o.pull.fetch_path : "(none)");
		r = puller_new(event, manager_blobs(m), &o.pull, &puller);
		if (r < 0) {
			log_error_errno(r, "cannot set up blob pulls: %m");
			goto out;
		}
		puller_set_metrics(puller, manager_metrics(m));
		manager_set_puller(m, puller);
	}
	r = manager_load(m, &rep);
	if (r < 0) {
		log_error_errno(r, "cannot load VMs from %s: %m", o.state_dir);
		goto out;
	}
	log_info("loaded %zu VMs (%zu with unreadable state, %zu re-adopted, %zu lost, %zu interrupted creates cleaned)",
		 rep.loaded, rep.broken, rep.adopted, rep.lost, rep.cleaned);
	if (rep.removes_finished || rep.temp_files)
		log_info("finished %zu interrupted removes, removed %zu temp files of interrupted writes",
			 rep.removes_finished, rep.temp_files);
	if (rep.runs_cleaned)
		log_info("removed the files of %zu one-shot runs an older mvmd had going (their workers stop by "
			 "themselves)",
			 rep.runs_cleaned);
	{
		uint64_t n_blobs, blob_bytes;
		blob_store_usage(manager_blobs(m), &n_blobs, &blob_bytes);
		log_info("blob store %s: %" PRIu64 " blobs, %" PRIu64 " bytes (%zu interrupted puts cleaned)",
			 blob_store_dir(manager_blobs(m)), n_blobs, blob_bytes, blob_store_cleaned(manager_blobs(m)));
	}

	limits = o.rpc;
	if (o.max_request_bytes)
		limits.max_request_bytes = o.max_request_bytes;
	if (o.max_clients)
		limits.max_clients = o.max_clients;
	r = exec_proxy_new(m, &execs);
	if (r < 0) {
		log_error_errno(r, "cannot set up the exec proxy: %m");
		goto out;
	}
	ctx = (methods_ctx_t){ .manager = m, .execs = execs, .limits = &limits, .allow_custom_guests = o.allow_custom_guests };
	table = methods_table(&n_methods);
	r = rpc_server_new(event, table, n_methods, &limits, "mvmd", MVM_VERSION, &ctx, &srv);
	if (r < 0) {
		log_error_errno(r, "cannot set up the RPC server: %m");
		goto out;
	}
	rpc_server_set_limit_fn(srv, methods_limit); /* rpc.discover shows this node's bounds */
	rpc_server_set_observer(srv, metrics_rpc_observe, manager_metrics(m));
	if (o.metrics_textfile) {
		r = metrics_textfile_start(m, o.metrics_textfile, (uint64_t)o.metrics_interval_ms * 1000);
		if (r < 0) {
			log_error_errno(r, "cannot write the metrics textfile %s: %m", o.metrics_textfile);
			goto out;
		}
		log_info("writing metrics to %s every %zu ms", o.metrics_textfile, o.metrics_interval_ms);
	}

	r = take_listen_fds(srv, &n_fds);
	if (r < 0) {
		log_error_errno(r, "cannot use the sockets passed by systemd: %m");
		goto out;
	}
	if (n_fds == 0) {
		int fd;
		if (socket_is_live(o.rpc_socket)) {
			r = log_error_errno(EADDRINUSE, "%s is served by a running daemon", o.rpc_socket);
			goto out;
		}
		r = rpc_listen_unix(o.rpc_socket, mode, gid, &fd);
		if (r < 0) {
			log_error_errno(r, "cannot listen on %s: %m", o.rpc_socket);
			goto out;
		}
		r = rpc_server_add_listener(srv, fd);
		if (r < 0) {
			log_error_errno(r, "cannot listen on %s: %m", o.rpc_socket);
			goto out;
		}
		own_socket = true;
		log_info("listening on %s (mode %04o%s%s)", o.rpc_socket, mode, o.socket_group ? ", group " : "",
			 o.socket_group ? o.socket_group : "");
	} else {
		log_info("using %u listening socket(s) from systemd", n_fds);
	}

	sd_notifyf(0, "READY=1\nMAINPID=%d", (int)getpid());
	notify_status(m);
	(void)manager_subscribe(m, on_transition, NULL);
	r = sd_event_loop(event);
	if (r < 0)
		log_error_errno(r, "event loop failed: %m");
	/* What could not be written yet (a full disk) gets a last try; what
	 * still fails is lost, and the log says so. */
	{
		size_t left = manager_flush(m);
		if (left)
			log_error("%zu VM state(s) could not be written before exit; a restart will see older state", left);
	}
	(void)metrics_textfile_write(m); /* what the node looked like at the end */

out:
	/* Closing the connections cancels their execs (close hooks); the
	 * proxy goes before the manager it subscribed to. */
	srv = rpc_server_free(srv);
	execs = exec_proxy_free(execs);
	if (own_socket)
		unlink(o.rpc_socket);
	m = manager_free(m); /* and the backends' state */
	pull_config_done(&o.pull);
	sd_event_unref(event);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
