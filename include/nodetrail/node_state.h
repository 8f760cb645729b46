/* Node state: what the Kubernetes API says about this node (its pods, the
 * Node object, the events about it) and the records its transitions make:
 * node.taint, node.condition, node.event, node.interruption, pod.terminated.
 * Fed by the watch streams (kube_client) and IMDS; no I/O of its own. */
#ifndef NODETRAIL_NODE_STATE_H
#define NODETRAIL_NODE_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/kube_objects.h"
#include "nodetrail/kube_watch.h"
#include "nodetrail/record.h"

enum kube_resource { KUBE_PODS = 0, KUBE_NODES, KUBE_EVENTS, KUBE_NRESOURCES };

struct node_state_options {
	struct record_node *node;     /* identity, updated from the Node's labels */
	record_emit_cb emit;
	void *emit_ctx;
	uint32_t max_pods;            /* pods cached (a node runs <= 110 by default) */
	uint32_t max_events;          /* event uids remembered for deduplication */
	/* told of every pod object after it was applied (deleted: true when gone) */
	void (*on_pod)(void *ctx, const struct kube_pod *pod, bool deleted);
	/* the kernel's side of a pod's termination, joined into pod.terminated (may be NULL) */
	cJSON *(*kernel_view)(void *ctx, const struct kube_pod *pod, int64_t grace_s);
	/* the kernel's context when memory pressure begins (may be NULL) */
	cJSON *(*memory_context)(void *ctx);
	/* an interruption opened: the drain report is due at deadline_ns (CLOCK_REALTIME) */
	void (*on_interruption)(void *ctx, int64_t notice_ns, int64_t deadline_ns);
	void *on_pod_ctx;
};

struct node_state_stats {
	uint64_t pods;                /* cached now */
	uint64_t pods_dropped;        /* not cached: cap reached */
	uint64_t decode_errors;       /* objects that did not decode */
	uint64_t events_reported;
	uint64_t events_duplicate;    /* count/series updates and relists of known events */
	uint64_t events_forgotten;    /* uids evicted from the dedup window */
	uint64_t missed_deletions;    /* pods gone while the watch was down, found by a relist */
};

struct node_state;

struct node_state *node_state_new(const struct node_state_options *opts);
void node_state_free(struct node_state *ns);

/* A (re)list of one resource starts: until relist_end, objects not listed
 * again are candidates for deletion. The first list of each resource is a
 * baseline: it fills the cache and reports only events. */
void node_state_relist_begin(struct node_state *ns, enum kube_resource res);
void node_state_relist_end(struct node_state *ns, enum kube_resource res);

/* One object from a list (type ADDED) or a watch event. */
void node_state_apply(struct node_state *ns, enum kube_resource res, enum kube_event_type type,
		      const cJSON *obj);

/* An interruption notice from outside the API (IMDS): opens the node's
 * interruption if none is open. deadline_ns 0 = notice + 120 s. */
void node_state_interruption(struct node_state *ns, const char *source, const char *kind,
			     int64_t notice_ns, int64_t deadline_ns, const char *detail);

/* What a restart must not lose: the pods and the Node last known (so the
 * first list after it is compared with them), the open interruption. */
cJSON *node_state_checkpoint(const struct node_state *ns);
/* Take it over before the first list; an open interruption is re-armed
 * through on_interruption without a new node.interruption. Returns the
 * number of pods restored. */
int node_state_restore(struct node_state *ns, const cJSON *doc);

const struct kube_pod *node_state_pod(const struct node_state *ns, const char *uid);
/* Visit every pod cached (the callback must not change the state). */
void node_state_each_pod(const struct node_state *ns, void (*cb)(void *ctx, const struct kube_pod *pod), void *ctx);
void node_state_get_stats(const struct node_state *ns, struct node_state_stats *ret);
const char *kube_resource_name(enum kube_resource res);

/* RFC 3339 (Kubernetes timestamps, second or finer) to ns since the epoch; 0 if unparsable or
 * outside 1970..2255 */
int64_t node_state_parse_time(const char *rfc3339);

#endif
