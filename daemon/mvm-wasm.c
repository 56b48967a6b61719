/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvm-wasm: run a WASI command module with the project's interpreter, or
 * validate a module. A thin entry point over lib/wasm (see docs/mvm-wasm.1).
 *
 *   mvm-wasm run [--env K=V]... [--inherit-env] [--deny CAP]... [--fuel N] FILE [ARGS...]
 *   mvm-wasm validate FILE
 *
 * Exit status: the module's (proc_exit code, 0 when _start returns; a
 * code above 255 exits 255 and is printed whole on stderr); 134 after a
 * trap; 126 when the module cannot be loaded, validated or linked; 2 for
 * usage errors; validate exits 0 or 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/macro.h"
#include "wasm/wasi-link.h"
#include "wasm/wasi-posix.h"
#include "wasm/wasm.h"

#define EXIT_USAGE 2
#define EXIT_CANNOT_RUN 126
#define EXIT_TRAP 134
#define MAX_MODULE_SIZE (256u << 20)
#define MAX_ENV 4096

extern char **environ;

static void usage(FILE *f)
{
	fputs("Usage: mvm-wasm run [OPTIONS] FILE.wasm [ARGS...]\n"
	      "       mvm-wasm validate FILE.wasm\n"
	      "       mvm-wasm --help | --version\n"
	      "\n"
	      "Run a WASI preview1 command with stdin, stdout and stderr attached and\n"
	      "exit with its exit code, or check that a module is valid.\n"
	      "\n"
	      "Run options:\n"
	      "  -e, --env K=V      add K=V to the module's environment (repeatable)\n"
	      "      --inherit-env  pass this process's whole environment (before --env)\n"
	      "      --deny CAP     withhold a capability: stdin stdout stderr clock\n"
	      "                     random env args (repeatable; default: all granted)\n"
	      "      --fuel N       trap (\"out of fuel\") after about N calls + loop\n"
	      "                     iterations (default: unlimited)\n"
	      "\n"
	      "Exit status: the module's (a code above 255: 255, the code on stderr);\n"
	      "134 after a trap; 126 if the module cannot be loaded or linked; 2 on\n"
	      "usage errors. validate exits 0 (\"ok\") or 1.\n",
	      f);
}

static void *mvm_wasm_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
	if (new_size == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, new_size);
}

/*
 * Read a whole module. Not only regular files: a pipe or process
 * substitution (mvm-wasm run <(curl ...)) works too, up to the same cap.
 */
static int read_file(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > MAX_MODULE_SIZE)
		return -EFBIG;
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 64 * 1024;
	for (;;) {
		if (len == cap) {
			if (cap > MAX_MODULE_SIZE)
				return -EFBIG;
			uint8_t *n = realloc(buf, cap * 2);
			if (!n)
				return -ENOMEM;
			buf = n;
			cap *= 2;
		} else if (!buf) {
			buf = malloc(cap);
			if (!buf)
				return -ENOMEM;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MAX_MODULE_SIZE)
		return -EFBIG;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static void config_setup(wasm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->alloc = mvm_wasm_alloc;
	wasm_config_init(cfg);
}

/* Load and validate; on failure print why (with the offset) and fail. */
static int load_module(const char *path, const wasm_config *cfg, wasm_module **ret)
{
	_cleanup_free_ uint8_t *bytes = NULL;
	wasm_error err = { 0 };
	size_t len;
	int r;

	r = read_file(path, &bytes, &len);
	if (r < 0) {
		fprintf(stderr, "mvm-wasm: %s: %s\n", path, strerror(-r));
		return r;
	}
	r = wasm_module_new(cfg, bytes, len, ret, &err);
	if (r < 0) {
		fprintf(stderr, "mvm-wasm: %s: %s at offset %u (0x%x): %s\n", path,
			wasm_error_kind_to_string(err.kind), err.offset, err.offset,
			err.message[0] ? err.message : strerror(-r));
		return r;
	}
	return 0;
}

static int cmd_validate(int argc, char **argv)
{
	wasm_module *m = NULL;
	wasm_config cfg;

	if (argc != 2) {
		fprintf(stderr, "mvm-wasm: validate takes exactly one FILE\n");
		return EXIT_USAGE;
	}
	config_setup(&cfg);
	if (load_module(argv[1], &cfg, &m) < 0)
		return 1;
	wasm_module_free(m);
	puts("ok");
	return 0;
}

struct run_opts {
	const char **env;
	uint32_t envc;
	uint32_t caps;
	uint64_t fuel; /* 0 = unlimited */
};

static int env_add(struct run_opts *o, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	if (kv[klen] != '=' || klen == 0)
		return -EINVAL;
	/* A later K=V replaces an earlier one with the same key. */
	for (uint32_t i = 0; i < o->envc; i++)
		if (strncmp(o->env[i], kv, klen + 1) == 0) {
			o->env[i] = kv;
			return 0;
		}
	if (o->envc >= MAX_ENV)
		return -E2BIG;
	o->env[o->envc++] = kv;
	return 0;
}

static int parse_run(int argc, char **argv, struct run_opts *o)
{
	enum { OPT_INHERIT = 0x100, OPT_DENY, OPT_FUEL };
	static const struct option longopts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "inherit-env", no_argument, NULL, OPT_INHERIT },
		{ "deny", required_argument, NULL, OPT_DENY },
		{ "fuel", required_argument, NULL, OPT_FUEL },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *added[MAX_ENV];
	uint32_t nadded = 0;
	bool inherit = false;
	int c;

	o->caps = WASI_CAP_ALL;
	optind = 1;
	/* "+": options end at FILE; everything after it is the module's. */
	while ((c = getopt_long(argc, argv, "+e:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (nadded >= MAX_ENV) {
				fprintf(stderr, "mvm-wasm: too many --env\n");
				return -E2BIG;
			}
			added[nadded++] = optarg;
			break;
		case OPT_INHERIT:
			inherit = true;
			break;
		case OPT_DENY: {
			uint32_t cap = wasi_cap_from_string(optarg);
			if (!cap) {
				fprintf(stderr, "mvm-wasm: unknown capability '%s'\n", optarg);
				return -EINVAL;
			}
			o->caps &= ~cap;
			break;
		}
		case OPT_FUEL: {
			char *end;
			errno = 0;
			o->fuel = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || o->fuel == 0) {
				fprintf(stderr, "mvm-wasm: --fuel wants a positive number, got '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "mvm-wasm: run needs a FILE\n");
		return -EINVAL;
	}
	o->env = calloc(MAX_ENV, sizeof(*o->env));
	if (!o->env)
		return -ENOMEM;
	/* Host entries without "KEY=" cannot be expressed in WASI: skipped. */
	if (inherit)
		for (char **e = environ; *e; e++)
			if (env_add(o, *e) == -E2BIG) {
				fprintf(stderr, "mvm-wasm: more than %d environment variables\n",
					MAX_ENV);
				return -E2BIG;
			}
	for (uint32_t i = 0; i < nadded; i++)
		if (env_add(o, added[i]) < 0) {
			fprintf(stderr, "mvm-wasm: --env wants KEY=VALUE, got '%s'\n", added[i]);
			return -EINVAL;
		}
	return optind;
}

/*
 * The module's exit code as this process's status. WASI's code is a u32
 * and a status has 8 bits: a code that does not fit exits 255 rather
 * than its low byte (256 would exit 0, a failure read as success), and
 * the whole code goes to stderr, the only place left to say it.
 */
static int exit_status(uint32_t code)
{
	int status = wasi_exit_status(code);

	if ((uint32_t)status != code)
		fprintf(stderr, "mvm-wasm: exit code %" PRIu32 " does not fit in an exit status: exiting %d\n",
			code, status);
	return status;
}

/*
 * Resolver wrapper that remembers the import being linked: wasm_error has
 * no import index, and the library links imports in order, checking each
 * one's type right after resolving it, so on an unlinkable error the
 * last import seen is the one at fault (unknown or of the wrong type).
 */
struct resolve_state {
	wasi_link *link;
	char current[160];
	bool unknown;
};

static int resolve_import(void *ud, const wasm_import_desc *want, wasm_extern *ret)
{
	struct resolve_state *st = ud;
	int r = wasi_link_resolve(st->link, want, ret);

	snprintf(st->current, sizeof(st->current), "%s.%s", want->module, want->name);
	st->unknown = r < 0;
	return r;
}

static int cmd_run(int argc, char **argv)
{
	struct resolve_state rs = { 0 };
	struct run_opts o = { 0 };
	wasm_module *m = NULL;
	wasm_store *store = NULL;
	wasi_run_result run;
	wasm_config cfg;
	wasi_link *link = NULL;
	wasi_ctx ctx;
	int ret = EXIT_CANNOT_RUN, first;

	first = parse_run(argc, argv, &o);
	if (first < 0) {
		free(o.env);
		return EXIT_USAGE;
	}
	config_setup(&cfg);
	if (load_module(argv[first], &cfg, &m) < 0)
		goto out;
	store = wasm_store_new(&cfg);
	link = malloc(sizeof(*link));
	if (!store || !link) {
		fprintf(stderr, "mvm-wasm: out of memory\n");
		goto out;
	}
	wasi_ctx_init(&ctx, &wasi_host_posix, o.caps, (uint32_t)(argc - first),
		      (const char *const *)argv + first, o.envc, o.env);
	wasi_link_init(link, &ctx, store);
	rs.link = link;
	wasm_call_opts copts = { .fuel = o.fuel };
	switch (wasi_link_run_command(link, m, resolve_import, &rs, &copts, &run)) {
	case WASI_RUN_EXITED:
		ret = exit_status(run.exit_code);
		break;
	case WASI_RUN_TRAPPED:
		fprintf(stderr, "mvm-wasm: trap: %s\n", wasm_trap_kind_to_string(run.trap.kind));
		ret = EXIT_TRAP;
		break;
	case WASI_RUN_NO_START:
		fprintf(stderr, "mvm-wasm: %s: no _start function (not a WASI command)\n", argv[first]);
		break;
	case WASI_RUN_NOT_INSTANTIATED:
		if (run.err.kind == WASM_ERR_UNLINKABLE && rs.current[0])
			fprintf(stderr, "mvm-wasm: %s: cannot link import %s: %s\n", argv[first], rs.current,
				rs.unknown ? "unknown (only " WASI_MODULE_NAME " is provided)"
					   : "wrong type for that name");
		else
			fprintf(stderr, "mvm-wasm: %s: %s: %s\n", argv[first], wasm_error_kind_to_string(run.err.kind),
				run.err.message[0] ? run.err.message : "cannot instantiate");
		break;
	}
out:
	wasm_store_free(store);
	wasm_module_free(m);
	free(link);
	free(o.env);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mvm-wasm %s\n", MVM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "validate") == 0)
		return cmd_validate(argc - 1, argv + 1);
	fprintf(stderr, "mvm-wasm: unknown command '%s' (try --help)\n", argv[1]);
	return EXIT_USAGE;
}
