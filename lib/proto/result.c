/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result file: how a VM ended, written by the worker just before it
 * exits so that any later reader (a re-adopting mvmd that is not the
 * worker's parent) can learn it. Text, one "key=value" per line:
 *
 *   mvm-result=1
 *   outcome=exit|stopped|fault|error
 *   exit_code=N  fault=NAME  fault_addr=0xHEX  error=-ERRNO
 *     (exit_code: 0..4294967295, WASI's u32; files of older workers hold
 *     0..255 and the parser also takes a negative int32, read as its u32)
 *   rip=0xHEX ... (all of kvm_reg_name(), only for faults with registers)
 *   message=TEXT (printable ASCII; anything else became '?')
 *
 * Unknown keys are ignored so the format can grow.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "util/macro.h"

#define RESULT_FILE_MAX 8192

int kvm_result_format(const kvm_result_t *r, char *buf, size_t size)
{
	char msg[KVM_RESULT_MESSAGE_MAX];
	size_t n = 0;
	int k;

#define PUT(...)                                                        \
	do {                                                            \
		k = snprintf(buf + n, size - n, __VA_ARGS__);           \
		if (k < 0 || (size_t)k >= size - n)                     \
			return -ENOBUFS;                                \
		n += (size_t)k;                                         \
	} while (0)

	if (r->outcome >= _KVM_OUTCOME_MAX || r->fault >= _KVM_FAULT_MAX)
		return -EINVAL;
	PUT("mvm-result=1\noutcome=%s\nexit_code=%" PRIu32 "\nfault=%s\nfault_addr=0x%" PRIx64 "\nerror=%d\n",
	    kvm_outcome_to_string(r->outcome), r->exit_code, kvm_fault_to_string(r->fault),
	    r->fault_addr, r->error);
	if (r->regs_valid)
		for (unsigned i = 0; i < _KVM_REG_MAX; i++)
			PUT("%s=0x%" PRIx64 "\n", kvm_reg_name(i), r->regs[i]);
	size_t i;
	for (i = 0; i < sizeof(msg) - 1 && r->message[i]; i++) {
		unsigned char ch = (unsigned char)r->message[i];
		msg[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	msg[i] = 0;
	PUT("message=%s\n", msg);
#undef PUT
	return (int)n;
}

static int parse_u64(const char *v, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || end == v || *end)
		return -EINVAL;
	*ret = x;
	return 0;
}

/*
 * An exit code: a u32 in decimal. A negative int32 is taken too, as its
 * two's complement (the field was an int32 before it was a u32), so any
 * result file ever written still reads.
 */
static int parse_exit_code(const char *v, uint32_t *ret)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < INT32_MIN || x > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)x;
	return 0;
}

static int parse_i32(const char *v, int32_t *ret)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < INT32_MIN || x > INT32_MAX)
		return -EINVAL;
	*ret = (int32_t)x;
	return 0;
}

int kvm_result_parse(const char *text, size_t len, kvm_result_t *ret)
{
	kvm_result_t r = { 0 };
	char line[512];
	size_t pos = 0;
	int seen_magic = 0, nregs = 0;

	while (pos < len) {
		size_t e = pos;
		while (e < len && text[e] != '\n')
			e++;
		size_t l = e - pos;
		if (l >= sizeof(line))
			return -EBADMSG;
		memcpy(line, text + pos, l);
		line[l] = 0;
		pos = e + 1;
		if (l == 0)
			continue;
		char *v = strchr(line, '=');
		if (!v)
			return -EBADMSG;
		*v++ = 0;
		int k = 0;
		if (strcmp(line, "mvm-result") == 0) {
			if (strcmp(v, "1") != 0)
				return -EPROTONOSUPPORT;
			seen_magic = 1;
		} else if (strcmp(line, "outcome") == 0) {
			k = kvm_outcome_from_string(v);
			if (k >= 0) { r.outcome = (uint32_t)k; k = 0; }
		} else if (strcmp(line, "fault") == 0) {
			k = kvm_fault_from_string(v);
			if (k >= 0) { r.fault = (uint32_t)k; k = 0; }
		} else if (strcmp(line, "exit_code") == 0) {
			k = parse_exit_code(v, &r.exit_code);
		} else if (strcmp(line, "error") == 0) {
			k = parse_i32(v, &r.error);
		} else if (strcmp(line, "fault_addr") == 0) {
			k = parse_u64(v, &r.fault_addr);
		} else if (strcmp(line, "message") == 0) {
			snprintf(r.message, sizeof(r.message), "%s", v);
		} else {
			for (unsigned i = 0; i < _KVM_REG_MAX; i++)
				if (strcmp(line, kvm_reg_name(i)) == 0) {
					k = parse_u64(v, &r.regs[i]);
					nregs++;
				}
		}
		if (k < 0)
			return -EBADMSG;
	}
	if (!seen_magic || r.outcome == KVM_OUTCOME_NONE)
		return -EBADMSG;
	r.regs_valid = nregs == _KVM_REG_MAX;
	*ret = r;
	return 0;
}

/* -ENODATA when the file is still empty. */
static int kvm_result_read_fd(int fd, kvm_result_t *ret)
{
	char buf[RESULT_FILE_MAX];
	size_t n = 0;

	while (n < sizeof(buf)) {
		ssize_t k = pread(fd, buf + n, sizeof(buf) - n, (off_t)n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n == 0)
		return -ENODATA;
	if (n == sizeof(buf))
		return -EFBIG;
	return kvm_result_parse(buf, n, ret);
}

int kvm_result_read(const char *path, kvm_result_t *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	return kvm_result_read_fd(fd, ret);
}
