/*
 * A test actor (docs/actors.md): a WASI command that loops on mvm_wait()
 * and keeps its state in linear memory between messages. Its commands:
 *
 *   incr            the number of incr so far, counting this one
 *   put K V / get K a small key-value store (16 keys)
 *   stats           messages and bytes received so far
 *   big N           an answer of N bytes ('x'), N <= 65536
 *   len             the length of this message (a big one, truncated to nothing)
 *   send IFACE MSG  send MSG to interface IFACE, wait for its answer and
 *                   answer "status=S data=D"
 *   flood IFACE     send "incr" to IFACE 20 times without waiting, then
 *                   collect the answers: "sent=N err=E answers=A"
 *   huge IFACE      send 65537 bytes to IFACE: "huge=<result>"
 *   ring K          with argv[1] naming the next actor's interface: K = 0
 *                   answers "end", else "ring K-1" goes to the next and its
 *                   answer comes back as "status=0 data=<its answer>"
 *   twice           answers "first"; the second answer's result says -ENOENT
 *   bogus           answers an id it never got: "bogus=<result>", then "ok"
 *   silent          no answer at all (the sender times out)
 *   sleep MS        takes no message for MS ms (a wait that times out),
 *                   then answers "slept"
 *   trap IFACE      sends "hold" to IFACE, and once its answer came,
 *                   traps (the VM ends Failed with messages pending)
 *   exit            answers "bye" and ends the program
 *   anything else   echoed back
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm-actor.h"

static char buf[MVM_ACTOR_MSG_MAX + 1];
static char out[MVM_ACTOR_MSG_MAX];
static unsigned long incrs, msgs, bytes;
static struct { char k[32], v[64]; } kv[16];

static int answer_str(uint64_t id, const char *s)
{
	return mvm_answer(id, s, (uint32_t)strlen(s));
}

static void do_send(uint64_t id, const char *arg)
{
	struct mvm_actor_info in;
	char iface[MVM_ACTOR_IFACE_LEN + 1] = "";
	const char *msg = "";

	if (strlen(arg) >= MVM_ACTOR_IFACE_LEN) {
		memcpy(iface, arg, MVM_ACTOR_IFACE_LEN);
		msg = arg + MVM_ACTOR_IFACE_LEN + (arg[MVM_ACTOR_IFACE_LEN] == ' ');
	}
	int64_t sid = mvm_send(iface, msg, (uint32_t)strlen(msg));
	if (sid < 0) {
		snprintf(out, sizeof(out), "status=%lld data=", (long long)sid);
		answer_str(id, out);
		return;
	}
	for (;;) {
		int k = mvm_wait(buf, MVM_ACTOR_MSG_MAX, &in, -1);
		if (k == MVM_ACTOR_ANSWER && in.id == (uint64_t)sid) {
			printf("send answered status=%d\n", (int)in.status);
			buf[in.len < MVM_ACTOR_MSG_MAX ? in.len : MVM_ACTOR_MSG_MAX] = 0;
			snprintf(out, sizeof(out), "status=%d data=%s", (int)in.status, buf);
			answer_str(id, out);
			return;
		}
		if (k == MVM_ACTOR_STOP)
			exit(0);
	}
}

static void do_flood(uint64_t id, const char *iface)
{
	struct mvm_actor_info in;
	int sent = 0, answers = 0;
	int64_t err = 0;

	for (int i = 0; i < 20; i++) {
		int64_t r = mvm_send(iface, "incr", 4);
		if (r > 0)
			sent++;
		else if (!err)
			err = r;
	}
	while (answers < sent) {
		int k = mvm_wait(buf, MVM_ACTOR_MSG_MAX, &in, -1);
		if (k == MVM_ACTOR_ANSWER)
			answers++;
		if (k == MVM_ACTOR_STOP)
			exit(0);
	}
	snprintf(out, sizeof(out), "sent=%d err=%lld answers=%d", sent, (long long)err, answers);
	answer_str(id, out);
}

int main(int argc, char **argv)
{
	struct mvm_actor_info in, in2;
	const char *next = argc > 1 && strlen(argv[1]) == MVM_ACTOR_IFACE_LEN ? argv[1] : NULL;

	/* wasi-libc buffers stdout fully once it is no terminal: lines */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("actor ready\n");
	for (;;) {
		int k = mvm_wait(buf, MVM_ACTOR_MSG_MAX, &in, -1);
		if (k == MVM_ACTOR_STOP) {
			printf("actor stopping after %lu messages\n", msgs);
			return 0;
		}
		if (k != MVM_ACTOR_REQUEST)
			continue;
		uint32_t n = in.len < MVM_ACTOR_MSG_MAX ? in.len : MVM_ACTOR_MSG_MAX;
		buf[n] = 0;
		msgs++;
		bytes += in.len;
		if (strcmp(buf, "incr") == 0) {
			snprintf(out, sizeof(out), "%lu", ++incrs);
			answer_str(in.id, out);
		} else if (strncmp(buf, "put ", 4) == 0) {
			char *sp = strchr(buf + 4, ' ');
			int slot = -1;
			if (sp)
				*sp = 0;
			for (int i = 0; i < 16 && sp; i++)
				if (slot < 0 && (!kv[i].k[0] || strcmp(kv[i].k, buf + 4) == 0))
					slot = i;
			if (slot < 0) {
				answer_str(in.id, "error");
				continue;
			}
			snprintf(kv[slot].k, sizeof(kv[slot].k), "%s", buf + 4);
			snprintf(kv[slot].v, sizeof(kv[slot].v), "%s", sp + 1);
			answer_str(in.id, "ok");
		} else if (strncmp(buf, "get ", 4) == 0) {
			const char *v = "(none)";
			for (int i = 0; i < 16; i++)
				if (kv[i].k[0] && strcmp(kv[i].k, buf + 4) == 0)
					v = kv[i].v;
			answer_str(in.id, v);
		} else if (strcmp(buf, "stats") == 0) {
			snprintf(out, sizeof(out), "msgs=%lu bytes=%lu", msgs, bytes);
			answer_str(in.id, out);
		} else if (strncmp(buf, "big ", 4) == 0) {
			unsigned long want = strtoul(buf + 4, NULL, 10);
			if (want > sizeof(out))
				want = sizeof(out);
			memset(out, 'x', want);
			mvm_answer(in.id, out, (uint32_t)want);
		} else if (strcmp(buf, "len") == 0 || in.len > 1000) {
			snprintf(out, sizeof(out), "len=%u", in.len);
			answer_str(in.id, out);
		} else if (strncmp(buf, "flood ", 6) == 0 && strlen(buf) == 6 + MVM_ACTOR_IFACE_LEN) {
			do_flood(in.id, buf + 6);
		} else if (strncmp(buf, "huge ", 5) == 0 && strlen(buf) == 5 + MVM_ACTOR_IFACE_LEN) {
			static char huge[MVM_ACTOR_MSG_MAX + 1];
			snprintf(out, sizeof(out), "huge=%lld", (long long)mvm_send(buf + 5, huge, sizeof(huge)));
			answer_str(in.id, out);
		} else if (strncmp(buf, "ring ", 5) == 0 && next) {
			long k = strtol(buf + 5, NULL, 10);
			if (k <= 0) {
				answer_str(in.id, "end");
			} else {
				static char hop[128];
				snprintf(hop, sizeof(hop), "%s ring %ld", next, k - 1);
				do_send(in.id, hop);
			}
		} else if (strncmp(buf, "send ", 5) == 0) {
			do_send(in.id, buf + 5);
		} else if (strcmp(buf, "twice") == 0) {
			answer_str(in.id, "first");
			int r = answer_str(in.id, "second");
			printf("second answer: %d\n", r);
		} else if (strcmp(buf, "bogus") == 0) {
			snprintf(out, sizeof(out), "bogus=%d", (int)mvm_answer(in.id + 12345, "no", 2));
			answer_str(in.id, out);
		} else if (strncmp(buf, "sleep ", 6) == 0) {
			int64_t ns = (int64_t)strtol(buf + 6, NULL, 10) * 1000000;
			printf("sleeping %llu\n", (unsigned long long)in.id);
			for (int k; (k = mvm_wait(buf, MVM_ACTOR_MSG_MAX, &in2, ns)) != MVM_ACTOR_TIMEOUT;)
				if (k == MVM_ACTOR_STOP)
					exit(0);
			answer_str(in.id, "slept");
		} else if (strncmp(buf, "trap ", 5) == 0 && strlen(buf) == 5 + MVM_ACTOR_IFACE_LEN) {
			int64_t sid = mvm_send(buf + 5, "hold", 4);
			printf("trapping after %lld\n", (long long)sid);
			for (int k; sid > 0 && (k = mvm_wait(buf, MVM_ACTOR_MSG_MAX, &in2, -1)) != MVM_ACTOR_STOP;)
				if (k == MVM_ACTOR_ANSWER && in2.id == (uint64_t)sid)
					break;
			__builtin_trap();
		} else if (strcmp(buf, "silent") == 0) {
			printf("not answering %llu\n", (unsigned long long)in.id);
		} else if (strcmp(buf, "exit") == 0) {
			answer_str(in.id, "bye");
			return 0;
		} else {
			mvm_answer(in.id, buf, in.len);
		}
	}
}
