/* The node's interruption: the one owner of "this node is going away".
 * Notices come from taints and events (node_state) and from IMDS (imds);
 * the first opens it and writes node.interruption, later ones are the same
 * interruption (the instance's own time beats the estimate). The drain
 * report is due at its deadline (join/drain.h writes it). */
#ifndef NODETRAIL_API_INTERRUPTION_H
#define NODETRAIL_API_INTERRUPTION_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/base/loop.h"
#include "nodetrail/base/record.h"

#define INTERRUPTION_NOTICE_TO_DEADLINE_NS (120LL * 1000000000LL)

struct interruption_info {
	bool open;
	int64_t notice_ns;        /* CLOCK_REALTIME */
	int64_t deadline_ns;      /* CLOCK_REALTIME: when the node goes */
	bool deadline_exact;      /* the instance's own time, not notice + 120 s */
	char source[16];          /* taint, event, imds */
};

struct interruption_options {
	struct record_node *node;
	record_emit_cb emit;
	void *emit_ctx;
	/* opened, its deadline moved, or taken over from the checkpoint: a drain
	 * report is due at info->deadline_ns (may be NULL) */
	void (*armed)(void *ctx, const struct interruption_info *info);
	/* the deadline is reached and the drain report still pending (with a loop; may be NULL) */
	void (*due)(void *ctx, const struct interruption_info *info);
	void *ctx;
	struct loop *loop;            /* the deadline's timer runs here; NULL: the caller asks interruption_drain_due */
};

struct interruption;

/* 0, or -ENOMEM. */
int interruption_new(const struct interruption_options *opts, struct interruption **ret);
void interruption_free(struct interruption *it);

/* A notice. source: taint, event or imds; kind: spot, karpenter,
 * maintenance, instance; notice_ns 0 = now; deadline_ns 0 = notice + 120 s;
 * detail: the taint key, event reason or IMDS action; pods_on_node for the
 * record. Opens the interruption if none is open. */
void interruption_notice(struct interruption *it, const char *source, const char *kind, int64_t notice_ns,
			 int64_t deadline_ns, const char *detail, uint32_t pods_on_node);

const struct interruption_info *interruption_get(const struct interruption *it);

/* The drain report: pending from arming until reported; due once the
 * deadline (CLOCK_REALTIME now_ns) is reached. */
bool interruption_drain_pending(const struct interruption *it);
bool interruption_drain_due(const struct interruption *it, int64_t now_ns);
void interruption_drain_reported(struct interruption *it);

/* The checkpoint's part: NULL when none is open. */
cJSON *interruption_save(const struct interruption *it);
/* Take an open one over (its record is out; its drain report is due again). */
void interruption_restore(struct interruption *it, const cJSON *o);

#endif
