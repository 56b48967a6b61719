/* SPDX-License-Identifier: Apache-2.0 */
/* TEST DOUBLE of cloud-hypervisor's REST API: see ch-api-double.h. */
#include "ch-api-double.h"
#include "ch-api-double-internal.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <json-c/json.h>
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
	json_object_put(d->config);
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

static const char *config_string(const ch_double_t *d, const char *obj, const char *key)
{
	json_object *o, *v;

	if (d->config && json_object_object_get_ex(d->config, obj, &o) && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

const char *ch_double_serial_socket(const ch_double_t *d)
{
	return config_string(d, "serial", "socket");
}

const char *ch_double_vsock_socket(const ch_double_t *d)
{
	return config_string(d, "vsock", "socket");
}

/* --- VmConfig validation (cloud-hypervisor.yaml, components/schemas) ------- */

static bool one_of(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/* Every key of o is documented for its schema. */
static bool keys_known(json_object *o, const char *const *known)
{
	json_object_object_foreach(o, k, v) {
		(void)v;
		if (!one_of(k, known))
			return false;
	}
	return true;
}

static json_object *field(json_object *o, const char *key, json_type type, bool *bad)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	if (!json_object_is_type(v, type)) {
		*bad = true;
		return NULL;
	}
	return v;
}

/* SerialConfig (file, socket, mode) or ConsoleConfig (those and the
 * virtio device's iommu, id, pci_segment, pci_device_id). */
static const char *check_console(json_object *o, bool virtio, const char *what)
{
	static const char *const serial_keys[] = { "file", "socket", "mode", NULL };
	static const char *const console_keys[] = { "file", "socket", "mode", "iommu", "id", "pci_segment", "pci_device_id", NULL };
	static const char *const modes[] = { "Off", "Pty", "Tty", "File", "Socket", "Null", NULL };
	bool bad = false;
	json_object *mode, *sock, *file;

	if (!json_object_is_type(o, json_type_object) || !keys_known(o, virtio ? console_keys : serial_keys))
		return what;
	mode = field(o, "mode", json_type_string, &bad);
	sock = field(o, "socket", json_type_string, &bad);
	file = field(o, "file", json_type_string, &bad);
	if (bad || !mode || !one_of(json_object_get_string(mode), modes))
		return what;
	if (strcmp(json_object_get_string(mode), "Socket") == 0 && !sock)
		return what;
	if (strcmp(json_object_get_string(mode), "File") == 0 && !file)
		return what;
	return NULL;
}

/* disks: [DiskConfig], net: [NetConfig]; the keys as documented, the
 * types of those mvmd sends. */
const char *ch_double_devices_error(json_object *o)
{
	static const char *const disk_keys[] = { "path", "readonly", "direct", "iommu", "num_queues", "queue_size",
						 "vhost_user", "vhost_socket", "rate_limiter_config", "pci_segment",
						 "pci_device_id", "id", "serial", "rate_limit_group", "queue_affinity",
						 "backing_files", "sparse", "image_type", "lock_granularity", NULL };
	static const char *const net_keys[] = { "tap", "ip", "mask", "mac", "host_mac", "mtu", "iommu", "num_queues",
						"queue_size", "vhost_user", "vhost_socket", "vhost_mode", "id", "pci_segment",
						"pci_device_id", "rate_limiter_config", "offload_tso", "offload_ufo",
						"offload_csum", NULL };
	json_object *a, *v;
	bool bad = false;

	if ((a = field(o, "disks", json_type_array, &bad)) || bad) {
		for (size_t i = 0; !bad && i < json_object_array_length(a); i++) {
			v = json_object_array_get_idx(a, i);
			if (!json_object_is_type(v, json_type_object) || !keys_known(v, disk_keys) ||
			    !field(v, "path", json_type_string, &bad))
				return "disks: an array of DiskConfig objects with a string path";
			field(v, "readonly", json_type_boolean, &bad);
			field(v, "serial", json_type_string, &bad);
		}
		if (bad)
			return "disks: an array of DiskConfig objects with a string path";
	}
	if ((a = field(o, "net", json_type_array, &bad)) || bad) {
		for (size_t i = 0; !bad && i < json_object_array_length(a); i++) {
			v = json_object_array_get_idx(a, i);
			if (!json_object_is_type(v, json_type_object) || !keys_known(v, net_keys))
				return "net: an array of NetConfig objects";
			field(v, "tap", json_type_string, &bad);
			field(v, "mac", json_type_string, &bad);
		}
		if (bad)
			return "net: an array of NetConfig objects";
	}
	return NULL;
}

const char *ch_double_vmconfig_error(const char *body, size_t len)
{
	static const char *const top[] = {
		"cpus", "memory", "payload", "rate_limit_groups", "disks", "net", "rng", "balloon", "fs",
		"generic_vhost_user", "pmem", "serial", "console", "debug_console", "devices", "user_devices", "vdpa",
		"vsock", "numa", "iommu", "watchdog", "rtc", "pvpanic", "pci_segments", "platform", "tpm",
		"landlock_enable", "landlock_rules", NULL,
	};
	static const char *const payload_keys[] = { "firmware", "kernel", "cmdline", "initramfs", "igvm", "host_data", NULL };
	static const char *const cpus_keys[] = { "boot_vcpus", "max_vcpus", "topology", "kvm_hyperv", "max_phys_bits",
						 "nested", "affinity", "features", "core_scheduling", NULL };
	static const char *const memory_keys[] = { "size", "hotplug_size", "hotplugged_size", "mergeable", "hotplug_method",
						   "shared", "hugepages", "hugepage_size", "prefault", "reserve", "thp",
						   "zones", NULL };
	static const char *const vsock_keys[] = { "cid", "socket", "iommu", "pci_segment", "pci_device_id", "id", NULL };
	const char *why = NULL;
	json_tokener *tok;
	json_object *o, *v, *a, *b;
	bool bad = false;

	if (!body || len == 0 || memchr(body, '\0', len))
		return "the body is not a JSON object";
	tok = json_tokener_new_ex(32);
	if (!tok)
		return "out of memory";
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o && (size_t)json_tokener_get_parse_end(tok) != len)
		why = "trailing characters after the VmConfig";
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return "the body is not a JSON object";
	}
	if (why)
		goto out;
	why = "unknown field in VmConfig";
	if (!keys_known(o, top))
		goto out;
	why = "payload: missing or invalid (an object with a string kernel, firmware or igvm)";
	v = field(o, "payload", json_type_object, &bad);
	if (!v || bad || !keys_known(v, payload_keys))
		goto out;
	json_object_object_foreach(v, pk, pv) {
		(void)pk;
		if (!json_object_is_type(pv, json_type_string))
			goto out;
	}
	if (!json_object_object_get_ex(v, "kernel", NULL) && !json_object_object_get_ex(v, "firmware", NULL) &&
	    !json_object_object_get_ex(v, "igvm", NULL))
		goto out;
	why = "cpus: boot_vcpus and max_vcpus are required integers, 1 <= boot_vcpus <= max_vcpus";
	if ((v = field(o, "cpus", json_type_object, &bad)) || bad) {
		if (bad || !keys_known(v, cpus_keys))
			goto out;
		a = field(v, "boot_vcpus", json_type_int, &bad);
		b = field(v, "max_vcpus", json_type_int, &bad);
		if (bad || !a || !b || json_object_get_int64(a) < 1 || json_object_get_int64(a) > json_object_get_int64(b))
			goto out;
	}
	why = "memory: size is a required integer (bytes)";
	if ((v = field(o, "memory", json_type_object, &bad)) || bad) {
		if (bad || !keys_known(v, memory_keys))
			goto out;
		a = field(v, "size", json_type_int, &bad);
		if (bad || !a || json_object_get_int64(a) < 1)
			goto out;
	}
	why = NULL;
	if (json_object_object_get_ex(o, "serial", &v))
		why = check_console(v, false, "serial: mode is required, one of the ConsoleMode values, with its socket or file");
	if (!why && json_object_object_get_ex(o, "console", &v))
		why = check_console(v, true, "console: mode is required, one of the ConsoleMode values, with its socket or file");
	if (why)
		goto out;
	why = "vsock: cid (an integer >= 3) and socket (a string) are required";
	if ((v = field(o, "vsock", json_type_object, &bad)) || bad) {
		if (bad || !keys_known(v, vsock_keys))
			goto out;
		a = field(v, "cid", json_type_int, &bad);
		b = field(v, "socket", json_type_string, &bad);
		if (bad || !a || !b || json_object_get_int64(a) < 3)
			goto out;
	}
	why = ch_double_devices_error(o);
out:
	json_object_put(o);
	return why;
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

void ch_double_respond(int fd, int status, const char *reason, const char *body)
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
/* cloud-hypervisor's HTTP server (micro_http) knows two media types and
 * refuses a request that names another: a JSON body sent as curl's default
 * application/x-www-form-urlencoded never reaches vm.create. */
static bool media_type_known(const char *v, const char *eol)
{
	static const char *const types[] = { "application/json", "text/plain" };

	while (v < eol && (*v == ' ' || *v == '\t'))
		v++;
	while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t'))
		eol--;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((size_t)(eol - v) == strlen(types[i]) && strncasecmp(v, types[i], strlen(types[i])) == 0)
			return true;
	return false;
}

static int read_request(int fd, char *head, char **ret_body, size_t *ret_body_len, bool *ret_host, bool *ret_bad_type)
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
	*ret_host = *ret_bad_type = false;
	for (char *line = strstr(head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
			body = strtoul(line + 17, NULL, 10);
		if (strncasecmp(line + 2, "Host:", 5) == 0)
			*ret_host = true;
		if (strncasecmp(line + 2, "Content-Type:", 13) == 0 && !media_type_known(line + 15, strstr(line + 2, "\r\n")))
			*ret_bad_type = true;
	}
	if (body > BODY_MAX)
		return -E2BIG;
	/* Whatever of the body came with the head counts; read the rest. */
	size_t have = len - (size_t)(end + 4 - head);
	char *buf = malloc(body + 1);
	if (!buf)
		return -ENOMEM;
	if (have > body)
		have = body;
	memcpy(buf, end + 4, have);
	while (have < body) {
		ssize_t n = read(fd, buf + have, body - have);
		if (n <= 0) {
			free(buf);
			return -ECONNRESET;
		}
		have += (size_t)n;
	}
	buf[body] = '\0';
	*end = '\0';
	*ret_body = buf;
	*ret_body_len = body;
	return 0;
}

static void save_config(ch_double_t *d, const char *body, size_t len)
{
	FILE *f;

	if (!d->cfg.config_path)
		return;
	f = fopen(d->cfg.config_path, "w");
	if (f) {
		fwrite(body, 1, len, f);
		fclose(f);
	}
}

static ch_double_event_t vm_create(ch_double_t *d, int fd, const char *req, size_t len)
{
	const char *why = ch_double_vmconfig_error(req, len);

	if (why) {
		ch_double_respond(fd, 400, "Bad Request", why);
		return CH_DOUBLE_OTHER;
	}
	if (d->config) {
		ch_double_respond(fd, 500, "Internal Server Error", "VM is already created");
		return CH_DOUBLE_OTHER;
	}
	d->config = json_tokener_parse(req);
	d->state = "Created";
	save_config(d, req, len);
	ch_double_respond(fd, 204, NULL, NULL);
	return CH_DOUBLE_CREATE;
}

static ch_double_event_t vm_boot(ch_double_t *d, int fd)
{
	const char *kernel = config_string(d, "payload", "kernel");
	char why[4200];

	if (!d->config) {
		ch_double_respond(fd, 404, "Not Found", "VM is not created");
		return CH_DOUBLE_OTHER;
	}
	if (d->booted) {
		ch_double_respond(fd, 500, "Internal Server Error", "VM is already booted");
		return CH_DOUBLE_OTHER;
	}
	if (kernel && access(kernel, R_OK) < 0) {
		snprintf(why, sizeof(why), "Error booting VM: kernel %s: %s", kernel, strerror(errno));
		ch_double_respond(fd, 500, "Internal Server Error", why);
		return CH_DOUBLE_OTHER;
	}
	/* cloud-hypervisor opens the disks at boot: a missing one fails it. */
	json_object *disks;
	if (json_object_object_get_ex(d->config, "disks", &disks))
		for (size_t i = 0; i < json_object_array_length(disks); i++) {
			json_object *p;
			const char *path = json_object_object_get_ex(json_object_array_get_idx(disks, i), "path", &p)
						   ? json_object_get_string(p)
						   : "";
			if (access(path, R_OK) < 0) {
				snprintf(why, sizeof(why), "Error booting VM: disk %s: %s", path, strerror(errno));
				ch_double_respond(fd, 500, "Internal Server Error", why);
				return CH_DOUBLE_OTHER;
			}
		}
	d->booted = true;
	d->state = d->created_left ? "Created" : "Running";
	ch_double_respond(fd, 204, NULL, NULL);
	return CH_DOUBLE_BOOT;
}

/* The directory of a {"KEY": "file:///abs/dir"} body with no other key
 * (VmSnapshotConfig, RestoreConfig as mvmd sends them), or NULL. */
static char *url_dir(const char *req, size_t len, const char *key)
{
	json_object *o = req && len ? json_tokener_parse(req) : NULL, *v;
	char *dir = NULL;

	if (o && json_object_is_type(o, json_type_object) && json_object_object_length(o) == 1 &&
	    json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) &&
	    strncmp(json_object_get_string(v), "file:///", 8) == 0)
		dir = strdup(json_object_get_string(v) + 7);
	json_object_put(o);
	return dir;
}

/* vm.snapshot writes DIR/config.json (the VmConfig) and DIR/state.json as
 * cloud-hypervisor writes its files there; vm.restore reads config.json. */
static ch_double_event_t vm_snapshot(ch_double_t *d, int fd, const char *req, size_t len)
{
	char *dir = url_dir(req, len, "destination_url"), path[PATH_MAX];
	FILE *f;

	if (!dir) {
		ch_double_respond(fd, 400, "Bad Request", "VmSnapshotConfig: destination_url is a file:// URL");
		return CH_DOUBLE_OTHER;
	}
	if (strcmp(d->state, "Paused") != 0) {
		free(dir);
		ch_double_respond(fd, 500, "Internal Server Error", "Error creating snapshot: the VM is not paused");
		return CH_DOUBLE_OTHER;
	}
	snprintf(path, sizeof(path), "%s/config.json", dir);
	f = fopen(path, "w");
	if (f) {
		fputs(json_object_to_json_string_ext(d->config, JSON_C_TO_STRING_PLAIN), f);
		fclose(f);
		if (d->cfg.refuse_snapshot) {
			/* as a real one that runs out of disk halfway */
			free(dir);
			ch_double_respond(fd, 500, "Internal Server Error", "Error creating snapshot: No space left on device");
			return CH_DOUBLE_OTHER;
		}
		snprintf(path, sizeof(path), "%s/state.json", dir);
		f = fopen(path, "w");
		if (f) {
			fputs("{\"double\":\"state\"}", f);
			fclose(f);
		}
	}
	free(dir);
	if (!f) {
		ch_double_respond(fd, 500, "Internal Server Error", "Error creating snapshot: cannot write its files");
		return CH_DOUBLE_OTHER;
	}
	ch_double_respond(fd, 204, NULL, NULL);
	return CH_DOUBLE_SNAPSHOT;
}

static ch_double_event_t vm_restore(ch_double_t *d, int fd, const char *req, size_t len)
{
	char *dir = url_dir(req, len, "source_url"), path[PATH_MAX];
	json_object *cfg;

	if (!dir) {
		ch_double_respond(fd, 400, "Bad Request", "RestoreConfig: source_url is a file:// URL");
		return CH_DOUBLE_OTHER;
	}
	if (d->config) {
		free(dir);
		ch_double_respond(fd, 500, "Internal Server Error", "VM is already created");
		return CH_DOUBLE_OTHER;
	}
	snprintf(path, sizeof(path), "%s/config.json", dir);
	free(dir);
	cfg = json_object_from_file(path);
	if (!cfg) {
		ch_double_respond(fd, 500, "Internal Server Error", "Error restoring VM: no snapshot there");
		return CH_DOUBLE_OTHER;
	}
	d->config = cfg;
	d->booted = true;
	d->state = "Paused";
	ch_double_respond(fd, 204, NULL, NULL);
	return CH_DOUBLE_RESTORE;
}

static ch_double_event_t answer(ch_double_t *d, int fd, const char *method, const char *path, const char *req,
				size_t req_len)
{
	bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;
	char body[512];

	if (strcmp(path, "/api/v1/vmm.ping") == 0 && get) {
		snprintf(body, sizeof(body), "{\"build_version\":\"v%s\",\"version\":\"%s\",\"pid\":%d,\"features\":[\"kvm\"]}",
			 d->cfg.version, d->cfg.version, (int)getpid());
		ch_double_respond(fd, 200, "OK", body);
		return CH_DOUBLE_PING;
	}
	if (strcmp(path, "/api/v1/vm.create") == 0 && put)
		return vm_create(d, fd, req, req_len);
	if (strcmp(path, "/api/v1/vm.boot") == 0 && put)
		return vm_boot(d, fd);
	if (strcmp(path, "/api/v1/vm.info") == 0 && get) {
		if (d->cfg.info_body || d->cfg.info_status) {
			ch_double_respond(fd, d->cfg.info_status ? d->cfg.info_status : 200, "Whatever",
				d->cfg.info_body ? d->cfg.info_body : "");
			return CH_DOUBLE_INFO;
		}
		if (!d->config) {
			ch_double_respond(fd, 500, "Internal Server Error", "VM is not created");
			return CH_DOUBLE_INFO;
		}
		if (d->booted && d->created_left)
			d->created_left--;
		else if (d->booted && strcmp(d->state, "Created") == 0)
			d->state = "Running";
		/* VmInfo: the config it was given, as the real one answers. */
		json_object *info = json_object_new_object();
		json_object_object_add(info, "config", json_object_get(d->config));
		json_object_object_add(info, "state", json_object_new_string(d->state));
		json_object_object_add(info, "memory_actual_size", json_object_new_int64(67108864));
		ch_double_respond(fd, 200, "OK", json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN));
		json_object_put(info);
		return CH_DOUBLE_INFO;
	}
	if (strcmp(path, "/api/v1/vm.restore") == 0 && put)
		return vm_restore(d, fd, req, req_len);
	if ((strcmp(path, "/api/v1/vm.add-disk") == 0 || strcmp(path, "/api/v1/vm.add-net") == 0 ||
	     strcmp(path, "/api/v1/vm.remove-device") == 0) && put)
		return ch_double_hotplug(d, fd, path + 8, req, req_len);
	if (strncmp(path, "/api/v1/vm.", 11) == 0 && put && !d->booted) {
		ch_double_respond(fd, 500, "Internal Server Error", "VM is not booted");
		return CH_DOUBLE_OTHER;
	}
	if (strcmp(path, "/api/v1/vm.power-button") == 0 && put) {
		ch_double_respond(fd, 204, NULL, NULL);
		if (!d->cfg.ignore_power_button)
			d->state = "Shutdown";
		return CH_DOUBLE_POWER_BUTTON;
	}
	if (strcmp(path, "/api/v1/vm.pause") == 0 && put) {
		if (strcmp(d->state, "Running") != 0) {
			ch_double_respond(fd, 405, "Method Not Allowed", "VM is not running");
			return CH_DOUBLE_OTHER;
		}
		d->state = "Paused";
		ch_double_respond(fd, 204, NULL, NULL);
		return CH_DOUBLE_PAUSE;
	}
	if (strcmp(path, "/api/v1/vm.resume") == 0 && put) {
		if (strcmp(d->state, "Paused") != 0) {
			ch_double_respond(fd, 405, "Method Not Allowed", "VM is not paused");
			return CH_DOUBLE_OTHER;
		}
		d->state = "Running";
		ch_double_respond(fd, 204, NULL, NULL);
		return CH_DOUBLE_RESUME;
	}
	if (strcmp(path, "/api/v1/vm.snapshot") == 0 && put)
		return vm_snapshot(d, fd, req, req_len);
	if (strcmp(path, "/api/v1/vm.shutdown") == 0 && put) {
		ch_double_respond(fd, 204, NULL, NULL);
		d->state = "Shutdown";
		return CH_DOUBLE_VM_SHUTDOWN;
	}
	if (strcmp(path, "/api/v1/vmm.shutdown") == 0 && put) {
		ch_double_respond(fd, 204, NULL, NULL);
		return CH_DOUBLE_VMM_SHUTDOWN;
	}
	if (strncmp(path, "/api/v1/", 8) == 0 && (get || put) &&
	    (strstr(path, "ping") || strstr(path, "info") || strstr(path, "shutdown") || strstr(path, "power-button")))
		ch_double_respond(fd, 405, "Method Not Allowed", "");
	else
		ch_double_respond(fd, 404, "Not Found", "");
	return CH_DOUBLE_OTHER;
}

int ch_double_serve_one(ch_double_t *d, int timeout_ms, ch_double_event_t *ret)
{
	char head[HEAD_MAX], method[16], path[256], line[400], *req = NULL;
	size_t body = 0;
	bool host = false, bad_type = false;
	int fd, r;

	struct pollfd p = { .fd = d->listen_fd, .events = POLLIN };
	r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return r == 0 ? -ETIMEDOUT : -errno;
	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (d->cfg.hang_up) {
		if (read_request(fd, head, &req, &body, &host, &bad_type) == 0)
			free(req);
		close(fd);
		record(d, "hung up");
		*ret = CH_DOUBLE_OTHER;
		return 0;
	}
	r = read_request(fd, head, &req, &body, &host, &bad_type);
	if (r < 0 || sscanf(head, "%15s %255s HTTP/1.1", method, path) != 2 || !strstr(head, " HTTP/1.1\r\n") ||
	    bad_type) {
		ch_double_respond(fd, 400, "Bad Request", bad_type ? "Invalid header: unsupported Content-Type" : "");
		close(fd);
		record(d, bad_type ? "bad content-type" : "bad request");
		free(req);
		*ret = CH_DOUBLE_BAD;
		return 0;
	}
	snprintf(line, sizeof(line), "%s %s%s", method, path, host ? "" : " no-host");
	if (body)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " body=%zu", body);
	record(d, line);
	if (d->cfg.before_answer)
		d->cfg.before_answer(method, path, d->cfg.userdata);
	*ret = answer(d, fd, method, path, req, body);
	free(req);
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
