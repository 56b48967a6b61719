/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault_point() for the fault-injection build of mvmd (mvmd-fault).
 *
 * MVMD_FAULT=point[:N][,point[:N]...] — the N-th time (default the first)
 * the process passes a named point it kills itself with SIGKILL, exactly
 * as an OOM kill or a power cut would end it: no atexit, no flush. The
 * variable is read once, at the first point passed.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fault.h"

#define FAULT_MAX 16

static struct {
	char name[64];
	unsigned long left;
} faults[FAULT_MAX];
static size_t n_faults;
static bool parsed;

static void fault_parse(void)
{
	const char *spec = getenv("MVMD_FAULT");

	parsed = true;
	while (spec && *spec && n_faults < FAULT_MAX) {
		size_t len = strcspn(spec, ",");
		size_t name_len = strcspn(spec, ":,");
		unsigned long n = 1;

		if (name_len < len)
			n = strtoul(spec + name_len + 1, NULL, 10);
		if (name_len && name_len < sizeof(faults[0].name) && n) {
			memcpy(faults[n_faults].name, spec, name_len);
			faults[n_faults].name[name_len] = '\0';
			faults[n_faults].left = n;
			n_faults++;
		}
		spec += len;
		if (*spec == ',')
			spec++;
	}
}

void fault_point(const char *name)
{
	if (!parsed)
		fault_parse();
	for (size_t i = 0; i < n_faults; i++)
		if (strcmp(faults[i].name, name) == 0 && --faults[i].left == 0)
			kill(getpid(), SIGKILL);
}
