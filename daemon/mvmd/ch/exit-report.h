/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's report of how the image's process ended: mvm-init connects
 * to the host (vsock CID 2) on port CH_EXIT_REPORT_PORT and writes one line,
 * "exit_code N\n" (N 0..255), before it powers off. With cloud-hypervisor's
 * hybrid vsock the connection arrives on the Unix socket
 * <vsock socket>_1026, where mvmd listens (docs/linux-guests.md). The code
 * is the guest's word, like the rest of what the guest does: mvmd takes the
 * last report of a run as the VM's exit_code.
 */
#ifndef MVM_CH_EXIT_REPORT_H
#define MVM_CH_EXIT_REPORT_H

#include <stddef.h>
#include <systemd/sd-event.h>

#define CH_EXIT_REPORT_PORT 1026
#define CH_EXIT_REPORT_MAX 32 /* bytes of a report line, newline included */

typedef struct ch_exit_report ch_exit_report_t;
typedef void (*ch_exit_report_fn)(int code, void *userdata);

/* "exit_code N" with an optional final newline, N 0..255 without sign or
 * leading zeros: 0 and *ret_code, else -EBADMSG. */
int ch_exit_report_parse(const char *buf, size_t len, int *ret_code);

/* Listen on path (replacing a stale socket); fn runs for each valid report.
 * One connection is served at a time: a new one replaces an open one, so
 * a connection kept open cannot keep mvm-init's report out. */
int ch_exit_report_start(sd_event *e, const char *path, ch_exit_report_fn fn, void *userdata,
			 ch_exit_report_t **ret);
/* Close everything and unlink the socket; NULL-safe; returns NULL. */
ch_exit_report_t *ch_exit_report_stop(ch_exit_report_t *r);

#endif
