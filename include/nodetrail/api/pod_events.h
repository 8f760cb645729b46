/* Pod events on demand, for pods in trouble. A pod of this node whose
 * container waits in CrashLoopBackOff, ImagePullBackOff, ErrImagePull,
 * CreateContainerConfigError, CreateContainerError, RunContainerError or
 * InvalidImageName, that stays Pending (sandbox, mounts, image pulls)
 * longer than a threshold, or whose container was just stopped with exit
 * code 137 or 143 and restarted without the pod being deleted (a liveness
 * or startup probe's kill: the kubelet's Unhealthy and Killing say which
 * and why, for the httpGet, tcpSocket and grpc probes the kernel cannot
 * see), or whose container the kernel saw stopped from outside (asked by the
 * correlator: pod_events_explain), gets its Events listed once from the API
 * (its namespace, involvedObject.uid), again while the trouble lasts, and
 * each Warning event (and the kubelet's Killing) becomes a pod.event record
 * once per event object and count: FailedCreatePodSandBox, FailedMount,
 * BackOff, Failed outlive the API's one-hour event TTL. Bounded: pods
 * followed, fetches per minute node-wide, one fetch per pod per interval;
 * each cap counts what it refused. No watch: a troubled pod costs one list
 * request per interval. */
#ifndef NODETRAIL_API_POD_EVENTS_H
#define NODETRAIL_API_POD_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/api/kube_client.h"
#include "nodetrail/api/kube_objects.h"
#include "nodetrail/base/record.h"

#define POD_EVENTS_MESSAGE_MAX 256 /* bytes of an event's message kept (redacted like argv) */

/* a one-shot list: kube_client_fetch, or a test's */
typedef int (*pod_events_fetch_fn)(void *fctx, const char *ns, const char *resource, const char *field_selector,
				   kube_fetch_done done, void *ctx);

struct pod_events_options {
	const struct record_node *node;
	record_emit_cb emit;
	void *emit_ctx;
	pod_events_fetch_fn fetch;
	void *fetch_ctx;
	int64_t trouble_after_ns;     /* Pending this long: in trouble (default 60 s) */
	int64_t refetch_ns;           /* still in trouble: its events again after this (default 300 s) */
	uint32_t per_minute;          /* fetches per minute, node-wide (default 10) */
	uint32_t max_pods;            /* pods followed (default 128) */
	int64_t (*clock)(void);       /* CLOCK_REALTIME ns; NULL: the real clock */
	/* every event of each list, then e NULL once the list is done or has failed: the kubelet's
	 * Killing and Unhealthy that say why it stopped a container (NULL: nobody asks) */
	void (*observe)(void *ctx, const char *pod_uid, const struct kube_event_obj *e);
	void *observe_ctx;
};

struct pod_events_stats {
	uint64_t troubled;            /* pods in trouble now */
	uint64_t fetches;             /* event lists started */
	uint64_t fetch_errors;        /* lists that failed (retried at the next interval) */
	uint64_t rate_limited;        /* lists put off: the per-minute budget was spent */
	uint64_t written;             /* pod.event records */
	uint64_t pods_dropped;        /* pods not followed: cap reached */
};

struct pod_events;

/* 0, -EINVAL (no fetch or emit), -ENOMEM. */
int pod_events_new(const struct pod_events_options *opts, struct pod_events **ret);
/* Lists still in flight must be cancelled first (kube_client_free). */
void pod_events_free(struct pod_events *pe);

/* Every pod object the API sends (node_state's observer). */
void pod_events_pod_changed(struct pod_events *pe, const struct kube_pod *pod, bool deleted);
/* A container of this pod was just stopped from outside, the pod not being
 * deleted (a probe's kill, a changed definition): its events listed now,
 * once. true when a list will answer through observe. */
bool pod_events_explain(struct pod_events *pe, const struct kube_pod *pod);
/* Periodic (every few seconds): Pending thresholds, refetches, lists put off. */
void pod_events_tick(struct pod_events *pe);

void pod_events_get_stats(const struct pod_events *pe, struct pod_events_stats *ret);

#endif
