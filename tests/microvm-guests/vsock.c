/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test guest for the vsock hypercalls (argv[0] picks the mode):
 *   abi        every call with wrong-but-harmless arguments: checks the
 *              -errno answers, prints "abi ok" and exits 0 (1 on a mismatch)
 *   badread    read into the read-only boot info    -> fault bad-pointer
 *   badwrite   write from far outside guest memory  -> fault bad-pointer
 *   biglen     read with cap MVM_HC_VSOCK_IO_MAX+1  -> fault bad-argument
 *   reserved   call nr 21 (reserved for vsock)      -> fault bad-port
 *   bigaccept  accept into a 65537-byte buffer      -> fault bad-argument
 *   badclose   close with last bytes from the tables -> fault bad-pointer
 *   echo       listen on port 7, echo every connection's bytes back, as
 *              many connections at once as the host opens; "listening"
 *   sink       listen on port 7, accept, never read; "listening"
 *   noaccept   listen on port 7, never accept; "listening"
 */
#include "agent.h"

#define PORT 7
#define NCONN 32

static int fails;

static void expect(const char *what, int64_t got, int64_t want)
{
	if (got != want) {
		mvm_printf("MISMATCH %s: got %lld want %lld\n", what, (long long)got, (long long)want);
		fails++;
	}
}

static int abi(void)
{
	static char buf[64];
	uint64_t h;

	expect("listen 2^32", mvm_hypercall3(MVM_HC_VSOCK_LISTEN, 1ull << 32, 0, 0, &h), -22);
	expect("listen bad flags", mvm_vsock_listen(PORT, 2), -22);
	expect("listen 7", mvm_vsock_listen(PORT, 0), 0);
	expect("listen 7 again", mvm_vsock_listen(PORT, MVM_VSOCK_LISTEN_DEFER), -98 /* EADDRINUSE */);
	for (uint32_t p = 100; p < 107; p++)
		expect("listen more", mvm_vsock_listen(p, MVM_VSOCK_LISTEN_DEFER), 0);
	expect("listen 9th", mvm_vsock_listen(200, 0), -28 /* ENOSPC */);
	expect("accept none queued", mvm_vsock_accept(PORT, 0, 0, &h), -EAGAIN);
	expect("accept none queued, buffer", mvm_vsock_accept(PORT, buf, sizeof(buf), &h), -EAGAIN);
	expect("accept not listening", mvm_vsock_accept(8, 0, 0, &h), -22);
	expect("accept 2^63", mvm_hypercall3(MVM_HC_VSOCK_ACCEPT, 1ull << 63, 0, 0, &h), -22);
	const int64_t ids[] = { -1, 0, 5, 31, 32, 1000, (int64_t)(1ull << 62) };
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		expect("read bad id", mvm_vsock_read(ids[i], buf, sizeof(buf), &h), -9 /* EBADF */);
		expect("write bad id", mvm_vsock_write(ids[i], buf, sizeof(buf)), -9);
		expect("close bad id", mvm_vsock_close(ids[i], 0, 0), -9);
		expect("close bad id, buffer", mvm_vsock_close(ids[i], buf, sizeof(buf)), -9);
	}
	expect("read len 0", mvm_vsock_read(0, buf, 0, &h), -9);
	expect("wait times out", mvm_wait(1000000), 0);
	mvm_printf(fails ? "abi failed\n" : "abi ok\n");
	return fails ? 1 : 0;
}

typedef struct echo_conn {
	int64_t id;
	uint32_t off, len;
	bool eof;
	uint8_t buf[16384];
} echo_conn_t;

/* Serve until stopped; mode 0 echo, 1 sink (accept, never read), 2 no accept. */
static int serve(int mode)
{
	static echo_conn_t conns[NCONN];
	unsigned n = 0;
	uint64_t h;

	if (mvm_vsock_listen(PORT, 0) != 0)
		return 2;
	mvm_printf("listening\n");
	mvm_console_flush();
	for (;;) {
		bool progress = false;
		int64_t id;
		while (mode != 2 && n < NCONN && (id = mvm_vsock_accept(PORT, 0, 0, &h)) >= 0) {
			conns[n++] = (echo_conn_t){ .id = id };
			progress = true;
		}
		for (unsigned i = 0; mode == 0 && i < n;) {
			echo_conn_t *c = &conns[i];
			int64_t r;
			if (c->off < c->len) {
				r = mvm_vsock_write(c->id, c->buf + c->off, c->len - c->off);
				if (r > 0) {
					c->off += (uint32_t)r;
					progress = true;
				} else if (r != -EAGAIN) {
					c->eof = true, c->off = c->len;
				}
			}
			if (c->off == c->len && !c->eof) {
				c->off = c->len = 0;
				r = mvm_vsock_read(c->id, c->buf, sizeof(c->buf), &h);
				if (r > 0) {
					c->len = (uint32_t)r;
					progress = true;
				} else if (r != -EAGAIN) {
					c->eof = true;
				}
			}
			if (c->eof && c->off == c->len) {
				mvm_vsock_close(c->id, 0, 0);
				conns[i] = conns[--n];
				progress = true;
				continue;
			}
			i++;
		}
		if (!progress && (mvm_wait(-1) & MVM_EV_STOP))
			return 0;
	}
}

int mvm_main(const struct mvm_boot_info *bi)
{
	char **argv = (char **)(uintptr_t)bi->argv;
	const char *kind = bi->argc ? argv[0] : "abi";
	static char buf[16];
	uint64_t h;
	int64_t r = 0;

	if (!strcmp(kind, "abi"))
		return abi();
	if (!strcmp(kind, "echo"))
		return serve(0);
	if (!strcmp(kind, "sink"))
		return serve(1);
	if (!strcmp(kind, "noaccept"))
		return serve(2);
	if (!strcmp(kind, "badread"))
		r = mvm_vsock_read(0, (void *)(uintptr_t)MVM_GUEST_BOOT_INFO, 16, &h);
	else if (!strcmp(kind, "badwrite"))
		r = mvm_vsock_write(0, (void *)(uintptr_t)0x7fff00000000ull, 16);
	else if (!strcmp(kind, "biglen"))
		r = mvm_vsock_read(0, buf, MVM_HC_VSOCK_IO_MAX + 1, &h);
	else if (!strcmp(kind, "bigaccept"))
		r = mvm_vsock_accept(PORT, buf, MVM_HC_VSOCK_IO_MAX + 1, &h);
	else if (!strcmp(kind, "badclose"))
		r = mvm_vsock_close(0, (void *)(uintptr_t)MVM_GUEST_PML4, 16);
	else if (!strcmp(kind, "reserved"))
		r = mvm_hypercall3(21, 0, 0, 0, &h);
	mvm_printf("host accepted the bad call: %lld\n", (long long)r);
	return 99;
}
