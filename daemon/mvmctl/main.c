/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mvmctl: the operator's client of mvmd. A thin entry point: global
 * options, then one command over mvmd's JSON-RPC socket (the commands
 * are in daemon/mvmctl/). No API of its own: everything it does is a
 * documented method (docs/rpc-methods.md), and `call` reaches the rest.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvmctl.h"

/* mvmd's default --rpc-socket and packaging/mvmd.socket's ListenStream. */
#define CTL_DEFAULT_SOCKET "/run/mvmd/rpc.sock"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mvmctl [--socket PATH] [--json] COMMAND [ARGS...]\n"
		"\n"
		"The operator's client of mvmd (JSON-RPC on a Unix socket).\n"
		"\n"
		"Commands:\n"
		"  list [--state S] [--label K=V]...    VMs, one per line\n"
		"  status ID                             one VM and its transitions\n"
		"  create --memory MIB [OPTIONS]         create a VM (see mvmctl(1)); prints its id\n"
		"  start ID [--timeout-ms N] [--snapshot N]\n"
		"                                        start (or restore a VM from its\n"
		"                                        snapshot N); waits until it runs\n"
		"  stop ID [--force] [--timeout-ms N]    stop; waits until it stopped\n"
		"  pause ID | resume ID                  pause / resume a VM\n"
		"  snapshot ID                           snapshot a VM; prints its directory\n"
		"                                        (and a kvm VM's blob: create --snapshot)\n"
		"  device add-disk ID PATH [--readonly] [--serial S]\n"
		"  device add-net ID TAP [--mac MAC]\n"
		"  device rm ID DEVICE                   hotplug on a Running ch VM; prints the device's id\n"
		"  rm ID [--force]                       remove a VM\n"
		"  logs ID [-f] [--tail BYTES]           the console log; -f follows it\n"
		"  events [-f] [--id ID] [--since N] [--limit N]\n"
		"                                        lifecycle events; -f follows them\n"
		"  exec ID [-i] [-e K=V]... [--timeout-ms N] -- ARGV...\n"
		"                                        run a command; exits with its code\n"
		"  run HASH [-i] [-e K=V]... [-c CAP]... [--timeout-ms N] [--reuse-key K] [-- ARGS...]\n"
		"                                        run a Wasm module once in a fresh micro-VM;\n"
		"                                        exits with its code\n"
		"  send ID [--timeout-ms N] [MESSAGE|-]  a message to an actor; prints its answer\n"
		"  interface list                        who handles which interface\n"
		"  console ID [--replay BYTES] [--no-translate]\n"
		"                                        attach to the serial console (Ctrl-] detaches)\n"
		"  blob put FILE|- [--kind wasm] [--expect HASH] [--path|--data]\n"
		"  blob ls\n"
		"  blob rm HASH [--force]\n"
		"  call METHOD [JSON|-]                  any method; prints its result\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   mvmd's socket (default $MVMD_SOCKET, else " CTL_DEFAULT_SOCKET ")\n"
		"  -j, --json          print the raw result objects (for scripts)\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n"
		"\n"
		"Exit status: 0 ok, 1 mvmd answered an error (on stderr), 2 usage error,\n"
		"3 mvmd unreachable or the connection lost; exec, run: the command's status,\n"
		"255 when mvmctl itself failed.\n");
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mvmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mvmctl --help'.\n", stderr);
	return CTL_ERR_USAGE;
}

static const struct {
	const char *name;
	int (*run)(ctl_t *c, int argc, char **argv);
} commands[] = {
	{ "list", ctl_cmd_list },
	{ "ls", ctl_cmd_list },
	{ "status", ctl_cmd_status },
	{ "create", ctl_cmd_create },
	{ "start", ctl_cmd_start },
	{ "stop", ctl_cmd_stop },
	{ "pause", ctl_cmd_pause },
	{ "resume", ctl_cmd_resume },
	{ "snapshot", ctl_cmd_snapshot },
	{ "rm", ctl_cmd_rm },
	{ "logs", ctl_cmd_logs },
	{ "events", ctl_cmd_events },
	{ "exec", ctl_cmd_exec },
	{ "run", ctl_cmd_run },
	{ "send", ctl_cmd_send },
	{ "interface", ctl_cmd_interface },
	{ "console", ctl_cmd_console },
	{ "blob", ctl_cmd_blob },
	{ "device", ctl_cmd_device },
	{ "call", ctl_cmd_call },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("MVMD_SOCKET");
	ctl_t c = { .socket = env && *env ? env : CTL_DEFAULT_SOCKET, .fd = -1 };
	int opt, r;

	/* "+": options end at the command; each command parses its own. */
	while ((opt = getopt_long(argc, argv, "+s:jhV", opts, NULL)) != -1) {
		switch (opt) {
		case 's': c.socket = optarg; break;
		case 'j': c.json = true; break;
		case 'h': usage(stdout); return CTL_OK;
		case 'V': printf("mvmctl %s\n", MVM_VERSION); return CTL_OK;
		default: fputs("Try 'mvmctl --help'.\n", stderr); return CTL_ERR_USAGE;
		}
	}
	if (optind >= argc)
		return ctl_usage_error("no command given");
	/* A write to a console or socket that closed must be an error to
	 * handle, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		char **sub = argv + optind;
		int subc = argc - optind;
		/* "mvmctl list --json" as well as "mvmctl --json list": taken
		 * out before the command's own options, up to a "--". */
		for (int k = 1; k < subc && strcmp(sub[k], "--") != 0;) {
			if (strcmp(sub[k], "--json") != 0) {
				k++;
				continue;
			}
			c.json = true;
			memmove(sub + k, sub + k + 1, (size_t)(subc - k) * sizeof(char *)); /* with argv's NULL */
			subc--;
		}
		optind = 0; /* GNU getopt: start over for the command's options */
		r = commands[i].run(&c, subc, sub);
		ctl_close(&c);
		if (fflush(stdout) != 0 && r == CTL_OK)
			r = CTL_ERR_CONNECT;
		return r;
	}
	return ctl_usage_error("unknown command '%s'", argv[optind]);
}
