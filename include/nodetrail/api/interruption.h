/* The node's interruption: the one owner of "this node is going away".
 *
 * Each source of notices holds at most one claim at a time: IMDS's spot
 * instance-action and scheduled maintenance, NTH's and Karpenter's taints,
 * and events about the node. The interruption is open while a claim is
 * (a maintenance only from a window before its NotBefore); its kind is the
 * most specific claimed (a Karpenter disruption followed by SpotInterrupted
 * is a spot interruption); it is confirmed once a source other than an
 * Event claims it (an Event's reporting component is self-declared). Each
 * transition is one node.interruption record: opened, updated (a better
 * deadline, another kind, confirmed, the disruption's reason), ended
 * (withdrawn: the last claim went; did_not_happen: the node still runs a
 * margin after the deadline, awake all along; happened: a new boot, or the
 * node slept through the deadline, as hibernation does). A rebalance
 * recommendation or a maintenance far ahead is a risk: recorded, nothing
 * opened. One interruption per node at a time; the drain report is due at
 * its deadline (join/drain.h writes it). */
#ifndef NODETRAIL_API_INTERRUPTION_H
#define NODETRAIL_API_INTERRUPTION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "nodetrail/base/loop.h"
#include "nodetrail/base/record.h"

#define INTERRUPTION_NOTICE_TO_DEADLINE_NS (120LL * 1000000000LL) /* EC2's two minutes, when no time is given */
#define INTERRUPTION_MARGIN_NS (10LL * 60 * 1000000000LL)          /* EC2 often acts after the stated time */
#define INTERRUPTION_MAINTENANCE_WINDOW_NS (30LL * 60 * 1000000000LL) /* a maintenance is due this long before NotBefore */

/* from the least to the most specific: an upgrade goes up this list */
enum interruption_kind {
	INTERRUPTION_NONE = 0,
	INTERRUPTION_DISRUPTION,  /* Karpenter disrupts the node: consolidation, drift, expiry (its events say which) */
	INTERRUPTION_MAINTENANCE, /* EC2 scheduled maintenance of the instance */
	INTERRUPTION_ASG,         /* the instance's Auto Scaling group terminates it */
	INTERRUPTION_INSTANCE,    /* EC2 terminates or stops the instance (Karpenter's InstanceTerminating/Stopping) */
	INTERRUPTION_SPOT,        /* a spot interruption */
};

/* "karpenter_disruption", "maintenance", "asg_termination", "instance_termination", "spot_interruption" */
const char *interruption_kind_name(enum interruption_kind kind);
/* as a summary says it: "Karpenter disruption", "spot interruption", ... */
const char *interruption_kind_text(enum interruption_kind kind);

enum interruption_source {
	ISRC_IMDS_ACTION = 0,     /* spot/instance-action */
	ISRC_IMDS_MAINTENANCE,    /* events/maintenance/scheduled */
	ISRC_TAINT_NTH,           /* aws-node-termination-handler's taint */
	ISRC_TAINT_KARPENTER,     /* karpenter.sh/disrupted (or the older disruption=disrupting) */
	ISRC_EVENT,               /* an Event about the node in `default` */
	ISRC_COUNT,
};

enum interruption_end {
	IEND_NONE = 0,
	IEND_WITHDRAWN,           /* every source took its notice back (a cancelled disruption, a completed maintenance) */
	IEND_DID_NOT_HAPPEN,      /* the node still runs INTERRUPTION_MARGIN_NS after the deadline, awake all along */
	IEND_HAPPENED,            /* a new boot, or the node slept through the deadline */
};

struct interruption_info {
	bool open;
	enum interruption_kind kind;
	bool confirmed;           /* a source other than an Event claims it */
	int64_t notice_ns;        /* CLOCK_REALTIME: when it opened */
	int64_t deadline_ns;      /* CLOCK_REALTIME: when the node goes; 0: none (a disruption drains, then goes) */
	bool deadline_exact;      /* the instance's own time (IMDS, NotBefore), not notice + 120 s */
	char source[16];          /* the source that opened it: imds, taint, event */
	char reason[32];          /* a Karpenter disruption's reason: Underutilized, Empty, Drifted, unknown */
	char reporter[64];        /* the reporting component of the event that claimed it, "" otherwise */
	enum interruption_end ended; /* how the last one ended (info is kept after it closes) */
};

struct interruption_options {
	struct record_node *node;
	record_emit_cb emit;
	void *emit_ctx;
	const char *boot_id;      /* this boot's id: an open interruption of another boot happened */
	/* opened, its deadline moved, or taken over from the checkpoint: a drain
	 * report is due at info->deadline_ns (may be NULL) */
	void (*armed)(void *ctx, const struct interruption_info *info);
	/* a drain report is due (with a loop; may be NULL): the report, a lead before the deadline,
	 * or the final one (final), at the deadline */
	void (*due)(void *ctx, const struct interruption_info *info, bool final);
	/* it ended; a drain report still pending is due now (may be NULL) */
	void (*ended)(void *ctx, const struct interruption_info *info);
	void *ctx;
	struct loop *loop;        /* its deadlines run here; NULL: the caller asks interruption_drain_due */
	int64_t (*clock)(clockid_t id); /* NULL: the system's clocks (tests move time) */
	int64_t drain_lead_ns;    /* the report is due this long before the deadline */
};

struct interruption;

/* 0, or -ENOMEM. */
int interruption_new(const struct interruption_options *opts, struct interruption **ret);
void interruption_free(struct interruption *it);

/* A source's word that the node will be interrupted. */
struct interruption_notice {
	enum interruption_source src;
	enum interruption_kind kind;
	int64_t at_ns;            /* when the source said it (an Event's time); 0: now */
	int64_t deadline_ns;      /* CLOCK_REALTIME; 0: not given (spot and instance: at_ns + 120 s) */
	bool exact;               /* deadline_ns is the instance's own time (IMDS, NotBefore) */
	const char *detail;       /* the taint key, the event reason, the IMDS action or maintenance code */
	const char *reporter;     /* an Event's reporting component */
};

/* The source claims the node will be interrupted. The same claim again
 * changes nothing; a notice whose deadline passed more than the margin
 * ago (an hour-old Event at a relist) is history: ignored. pods_on_node is
 * for the record. */
void interruption_claim(struct interruption *it, const struct interruption_notice *n, uint32_t pods_on_node);
/* src no longer says so (the taint is gone, IMDS answers 404, the
 * maintenance is completed or canceled). A taint or IMDS withdrawn takes
 * an Event's word of the same or a lesser kind with it: the Event spoke of
 * what was withdrawn (a cancelled disruption). */
void interruption_withdraw(struct interruption *it, enum interruption_source src);
/* Karpenter's events say why it disrupts the node (DisruptionTerminating "Disrupting Node: <reason>"). */
void interruption_disruption_reason(struct interruption *it, const char *reason);
/* A raised risk, not an interruption: a rebalance recommendation, a
 * maintenance far ahead. One record per distinct (what, when); nothing opens. */
void interruption_risk(struct interruption *it, const char *source, const char *what, int64_t when_ns);

const struct interruption_info *interruption_get(const struct interruption *it);

/* The drain reports: the report (before the deadline, when the drain
 * ends, or at an agent stop) and the final one (at the deadline). Pending
 * from opening (or taking over) until reported; final: is any still owed.
 * The report is due once deadline - lead is reached (CLOCK_REALTIME
 * now_ns). Reporting the final one also settles the report. */
bool interruption_drain_pending(const struct interruption *it, bool final);
bool interruption_drain_due(const struct interruption *it, int64_t now_ns);
void interruption_drain_reported(struct interruption *it, bool final);

/* Check the clock now: a due maintenance opens, a deadline long past ends
 * ("did not happen", or "happened" after a sleep). The loop's timers do this;
 * without a loop the caller does. */
void interruption_check(struct interruption *it);

/* The checkpoint's part: NULL when none is open. */
cJSON *interruption_save(const struct interruption *it);
/* Take an open one over (its record is out; its drain report is due again);
 * one of another boot ended as "happened", one whose deadline and margin
 * passed as "did not happen": neither is resurrected. */
void interruption_restore(struct interruption *it, const cJSON *o);

#endif
