/* EC2 instance metadata (IMDSv2) on the agent's loop: the token flow, the
 * instance's identity at start, and polls of the spot instance-action,
 * rebalance recommendation and scheduled maintenance every few seconds.
 * A pending spot action or maintenance opens a node.interruption. Only a
 * refused or timed-out token request (or a 403) says "not on EC2"; every
 * other failure is transient, retried with backoff, never given up on. */
#ifndef NODETRAIL_API_IMDS_H
#define NODETRAIL_API_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/api/node_state.h"
#include "nodetrail/base/config.h"

struct http;

/* An IMDS notice, parsed from the body of its answer (pure: no I/O). */
struct imds_notice {
	char what[64];                /* spot action ("terminate", "stop", ...) or maintenance code */
	int64_t time_ns;              /* when it takes effect (CLOCK_REALTIME), 0 if not given */
};

/* spot/instance-action: {"action": ..., "time": RFC 3339}. 0, or -EINVAL. */
int imds_parse_spot_action(const char *body, struct imds_notice *ret);
/* events/recommendations/rebalance: {"noticeTime": RFC 3339}. 0, or -EINVAL. */
int imds_parse_rebalance(const char *body, struct imds_notice *ret);
/* events/maintenance/scheduled: a list; the first event neither canceled nor
 * completed. 1 when there is one, 0 when none, -EINVAL if not a list. */
int imds_parse_maintenance(const char *body, struct imds_notice *ret);

struct imds_options {
	const char *endpoint;         /* http://169.254.169.254 */
	enum config_mode mode;        /* auto: off while the token request is refused (asked again every
				       * recheck_s); on: IMDS must be there, every failure is retried */
	struct loop *loop;            /* polls and retries are its timers */
	struct http *http;
	struct interruption *interruption; /* spot actions and maintenance notices go here */
	const struct node_state *state; /* pods on the node, for the interruption's record (may be NULL) */
	struct record_node *node;     /* identity written here */
	unsigned poll_s;              /* 2-5 s */
	unsigned recheck_s;           /* auto, found no IMDS: ask again this often (default 300) */
	void (*changed)(void *ctx);   /* auto mode turned IMDS off, or found it again (may be NULL) */
	void *ctx;
};

struct imds_stats {
	bool on;                      /* false while auto mode finds no IMDS (a refused token request) */
	char reason[256];             /* why off */
	uint64_t rechecks;            /* asked again since it went off */
	bool identity;                /* instance id etc. known */
	uint64_t requests;
	uint64_t token_refreshes;
	uint64_t unauthorized;
	uint64_t errors;
	char spot_action[64];         /* last pending instance-action, "" if none */
	char rebalance_notice[64];    /* last rebalance recommendation time, "" if none */
};

struct imds;

/* Starts the token request. 0, or -ENOMEM. */
int imds_new(const struct imds_options *opts, struct imds **ret);
void imds_free(struct imds *m);
void imds_get_stats(const struct imds *m, struct imds_stats *ret);

#endif
