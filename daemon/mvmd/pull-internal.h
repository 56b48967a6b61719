/* SPDX-License-Identifier: Apache-2.0 */
/* What pull.c and pull-helper.c share: one mvm-fetch process. */
#ifndef MVM_PULL_INTERNAL_H
#define MVM_PULL_INTERNAL_H

#include <json-c/json.h>
#include <sys/types.h>

#include "pull.h"

typedef struct pull_helper {
	pid_t pid;
	int pidfd;
	int ctl_fd;  /* SOCK_SEQPACKET: the setup and the job out, JSON messages in */
	int data_fd; /* the pipe's read end (O_NONBLOCK): the blob's frames */
} pull_helper_t;

/* Spawn mvm-fetch and send its setup; it then waits for its job. */
int pull_helper_spawn(const pull_config_t *cfg, pull_helper_t *ret);
/* Kill (if alive), reap and close; h is empty after. */
void pull_helper_end(pull_helper_t *h);
/* One JSON message on the helper's socket (o is not consumed). */
int pull_send_json(int fd, json_object *o);

#endif
