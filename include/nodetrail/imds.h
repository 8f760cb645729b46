/* EC2 instance metadata (IMDSv2) on the agent's loop: the token flow, the
 * instance's identity at start, and polls of the spot instance-action,
 * rebalance recommendation and scheduled maintenance every few seconds.
 * A pending spot action or maintenance opens a node.interruption. */
#ifndef NODETRAIL_IMDS_H
#define NODETRAIL_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/config.h"
#include "nodetrail/node_state.h"

struct http;

struct imds_options {
	const char *endpoint;         /* http://169.254.169.254 */
	enum config_mode mode;        /* auto: off when unreachable; on: keep trying */
	struct http *http;
	struct node_state *state;
	struct record_node *node;     /* identity written here */
	unsigned poll_s;              /* 2-5 s */
};

struct imds_stats {
	bool on;                      /* false once auto mode gave up */
	char reason[256];             /* why off */
	bool identity;                /* instance id etc. known */
	uint64_t requests;
	uint64_t token_refreshes;
	uint64_t unauthorized;
	uint64_t errors;
	char spot_action[64];         /* last pending instance-action, "" if none */
	char rebalance_notice[64];    /* last rebalance recommendation time, "" if none */
};

struct imds;

struct imds *imds_new(const struct imds_options *opts);
void imds_free(struct imds *m);
/* Once a second from the loop. */
void imds_tick(struct imds *m);
void imds_get_stats(const struct imds *m, struct imds_stats *ret);

#endif
