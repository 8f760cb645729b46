/* Node state: what the Kubernetes API says about this node (its pods, the
 * Node object, the events about it). Writes the records that are the API's
 * alone (node.taint, node.event), hands interruption notices (taints,
 * events) to the interruption, and tells its observer what the join stage
 * needs: every pod object, a pod's end, a node condition's change. Fed by
 * the watch streams (kube_client); no I/O of its own. */
#ifndef NODETRAIL_API_NODE_STATE_H
#define NODETRAIL_API_NODE_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/api/kube_objects.h"
#include "nodetrail/api/kube_watch.h"
#include "nodetrail/base/record.h"

enum kube_resource { KUBE_PODS = 0, KUBE_NODES, KUBE_EVENTS, KUBE_NRESOURCES };

/* how a pod's end was observed */
enum pod_end_seen {
	POD_END_STATUS = 0,       /* its status says it ended (kubelet eviction, node shutdown) */
	POD_END_DELETED,          /* the watch said DELETED */
	POD_END_RELIST,           /* a relist no longer had it (deleted while the watch was down) */
};

/* What the join stage is told (every callback may be NULL). */
struct node_state_observer {
	/* every pod object, after it was applied (deleted: gone from the API) */
	void (*pod_changed)(void *ctx, const struct kube_pod *pod, bool deleted);
	/* the pod ended: pod.terminated is due (once per pod) */
	void (*pod_ended)(void *ctx, const struct kube_pod *pod, enum pod_end_seen seen);
	/* a node condition changed status (not at the first list) */
	void (*condition_changed)(void *ctx, const struct kube_condition *c, const char *was);
	void *ctx;
};

struct node_state_options {
	struct record_node *node;     /* identity, updated from the Node's labels */
	record_emit_cb emit;
	void *emit_ctx;
	struct interruption *interruption; /* notices from taints and events go here */
	uint32_t max_pods;            /* pods cached (a node runs <= 110 by default) */
	uint32_t max_events;          /* event uids remembered for deduplication */
	struct node_state_observer observer;
};

struct node_state_stats {
	uint64_t pods;                /* cached now */
	uint64_t pods_dropped;        /* not cached: cap reached */
	uint64_t decode_errors;       /* objects that did not decode */
	uint64_t events_reported;
	uint64_t events_duplicate;    /* count/series updates and relists of known events */
	uint64_t events_forgotten;    /* uids evicted from the dedup window */
	uint64_t events_other_namespace; /* about this node but not in `default`: ignored */
	uint64_t events_rate_limited; /* not written: over 10 per reason in 10 minutes */
	uint64_t event_reasons_forgotten; /* rate table full: the least recent reason forgotten */
	uint64_t missed_deletions;    /* pods gone while the watch was down, found by a relist */
};

struct node_state;

/* 0, or -ENOMEM. */
int node_state_new(const struct node_state_options *opts, struct node_state **ret);
void node_state_free(struct node_state *ns);
/* Set the observer after construction (the join stage is built later). */
void node_state_set_observer(struct node_state *ns, const struct node_state_observer *observer);

/* A (re)list of one resource starts: until relist_end, objects not listed
 * again are candidates for deletion. The first list of each resource is a
 * baseline: it fills the cache and reports only events. */
void node_state_relist_begin(struct node_state *ns, enum kube_resource res);
void node_state_relist_end(struct node_state *ns, enum kube_resource res);

/* One object from a list (type ADDED) or a watch event. */
void node_state_apply(struct node_state *ns, enum kube_resource res, enum kube_event_type type,
		      const cJSON *obj);

/* What a restart must not lose: the pods and the Node last known (so the
 * first list after it is compared with them). */
cJSON *node_state_save(const struct node_state *ns);
/* Take it over before the first list. Returns the number of pods restored. */
int node_state_restore(struct node_state *ns, const cJSON *doc);

const struct kube_pod *node_state_pod(const struct node_state *ns, const char *uid);
uint32_t node_state_pod_count(const struct node_state *ns);
/* Pods a drain still has to move: not a DaemonSet's or a static pod, not ended (Succeeded, Failed). */
uint32_t node_state_pods_to_drain(const struct node_state *ns);
void node_state_get_stats(const struct node_state *ns, struct node_state_stats *ret);
const char *kube_resource_name(enum kube_resource res);

#endif
