/* SPDX-License-Identifier: Apache-2.0 */
#include "reap.h"

#include <stdlib.h>

#include "util/pidfd.h"

typedef struct reaper {
	sd_event_source *src; /* owns the pidfd */
	struct reaper *prev, *next;
} reaper_t;

static reaper_t *reapers;

static void reaper_free(reaper_t *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		reapers = r->next;
	if (r->next)
		r->next->prev = r->prev;
	sd_event_source_disable_unref(r->src);
	free(r);
}

static int on_reap(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)pidfd_reap(fd, WEXITED | WNOHANG, NULL);
	reaper_free(userdata);
	return 0;
}

bool reap_later(sd_event *e, int pidfd)
{
	reaper_t *r = calloc(1, sizeof(*r));

	if (!r || sd_event_add_io(e, &r->src, pidfd, EPOLLIN, on_reap, r) < 0) {
		free(r);
		return false;
	}
	sd_event_source_set_io_fd_own(r->src, true);
	r->next = reapers;
	if (reapers)
		reapers->prev = r;
	reapers = r;
	return true;
}

void reap_later_forget_all(void)
{
	while (reapers)
		reaper_free(reapers);
}
