/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "capacity.h"
#include "util/macro.h"

uint64_t capacity_default_memory_mib(void)
{
	struct sysinfo si;
	uint64_t total, reserve;

	if (sysinfo(&si) < 0 || si.totalram == 0)
		return 1024;
	total = ((uint64_t)si.totalram * (si.mem_unit ? si.mem_unit : 1)) >> 20;
	reserve = total / 8;
	if (reserve < CAPACITY_MEMORY_RESERVE_MIN_MIB)
		reserve = CAPACITY_MEMORY_RESERVE_MIN_MIB;
	if (reserve > total / 2)
		reserve = total / 2;
	return total - reserve > 0 ? total - reserve : 1;
}

unsigned capacity_default_vcpus(void)
{
	/* glibc counts them from /sys/devices/system/cpu/online, which
	 * ProcSubset=pid leaves readable. */
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n > 0 ? (unsigned)n : 1) * CAPACITY_VCPU_OVERCOMMIT;
}

static bool holds_budget(vm_state_t s)
{
	return s == VM_STATE_STARTING || s == VM_STATE_RUNNING || s == VM_STATE_STOPPING || s == VM_STATE_PAUSED;
}

void capacity_use(manager_t *m, capacity_use_t *ret)
{
	const manager_config_t *cfg = manager_config(m);
	size_t n;
	vm_t *const *vms = manager_vms(m, &n);

	*ret = (capacity_use_t){ .memory_mib_limit = cfg->max_memory_mib, .vcpus_limit = cfg->max_vcpus };
	for (size_t i = 0; i < n; i++)
		if (holds_budget(vms[i]->state)) {
			ret->memory_mib_used += vms[i]->memory_mib;
			ret->vcpus_used += vms[i]->vcpus;
		}
}

int capacity_check(manager_t *m, const vm_t *vm, capacity_refusal_t *ret)
{
	capacity_use_t u;

	capacity_use(m, &u);
	/* used may exceed the limit: VMs adopted after a restart with a
	 * smaller budget keep running. */
	if (u.memory_mib_used > u.memory_mib_limit || vm->memory_mib > u.memory_mib_limit - u.memory_mib_used) {
		*ret = (capacity_refusal_t){ "memory_mib", u.memory_mib_used, u.memory_mib_limit, vm->memory_mib };
		return -EDQUOT;
	}
	if (u.vcpus_used > u.vcpus_limit || vm->vcpus > u.vcpus_limit - u.vcpus_used) {
		*ret = (capacity_refusal_t){ "vcpus", u.vcpus_used, u.vcpus_limit, vm->vcpus };
		return -EDQUOT;
	}
	return 0;
}

static int read_proc(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, size - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = 0;
	return 0;
}

int capacity_proc_read(pid_t pid, uint64_t starttime, capacity_proc_t *ret)
{
	char buf[1024], *p, *end;
	unsigned long long f[23] = { 0 }; /* fields 14 (utime), 15 (stime), 22 (starttime) */
	unsigned long long pages;
	long tck = sysconf(_SC_CLK_TCK), psz = sysconf(_SC_PAGESIZE);
	int r;

	if (pid <= 0)
		return -ESRCH;
	r = read_proc(pid, "stat", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* comm may hold spaces and parentheses: fields go on after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EBADMSG;
	/* A zombie has no memory left to report: as gone. */
	if (p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	p += 2; /* field 3, the state */
	for (int field = 4; field <= 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		p++;
		if (field == 14 || field == 15 || field == 22) {
			errno = 0;
			f[field] = strtoull(p, &end, 10);
			if (errno || end == p)
				return -EBADMSG;
		}
	}
	if (starttime && f[22] != starttime)
		return -ESRCH;
	r = read_proc(pid, "statm", buf, sizeof(buf));
	if (r < 0)
		return r;
	if (sscanf(buf, "%*u %llu", &pages) != 1)
		return -EBADMSG;
	ret->cpu_seconds = (double)(f[14] + f[15]) / (double)(tck > 0 ? tck : 100);
	ret->rss_bytes = (uint64_t)pages * (uint64_t)(psz > 0 ? psz : 4096);
	return 0;
}
