/* Why the kubelet stopped a container, in its own words. The kernel sees
 * a signal from outside; the kubelet's events on the pod say why: Killing
 * ("Container app failed liveness probe, will be restarted", "... definition
 * changed, will be restarted") and Unhealthy ("Liveness probe failed: HTTP
 * probe failed with statuscode: 500"). That is the only word there is on
 * the httpGet, tcpSocket and grpc probes, which the kernel cannot see, and
 * it names the probe when a liveness and a startup probe share an argv.
 * The correlator holds such an exit's record while the pod's events are
 * listed (pod_events_explain); this module decides, gathers and tells. */
#ifndef NODETRAIL_JOIN_KILL_CAUSE_H
#define NODETRAIL_JOIN_KILL_CAUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "nodetrail/api/kube_objects.h"
#include "nodetrail/join/window.h"

#define KILL_CAUSE_WAIT_MS 5000   /* how long a record waits for the pod's events */
#define KILL_CAUSE_MESSAGE_MAX 160 /* bytes of a probe's message in the summary (redacted) */

/* p, an exit the API confirmed, was a stop from outside (the kernel saw a
 * signal from outside reach its main process; for an exit the kernel did
 * not see, exit code 137 or 143) of a container of a pod not being deleted,
 * and no exec probe already names which probe: worth the pod's events. */
bool kill_cause_wanted(const struct pending *p, const struct kube_pod *pod);

/* One event of the pod's list: kept in p when it is about p's container
 * (p->container_name) and close to its end (within the pod's grace period
 * and a minute before it, a minute after). pod may be NULL (gone). */
void kill_cause_event(struct pending *p, const struct kube_pod *pod, const struct kube_event_obj *e);

/* The list is done: the kubelet's word into p (p->kubelet, the summary's
 * cause, the kernel's killed_for_probe named). true when it said why. */
bool kill_cause_finish(struct pending *p, const struct kube_pod *pod);

/* The summary of an API-only exit, its cause put before what the kernel did not see. */
void kill_cause_api_only_summary(const struct pending *p, char *out, size_t len);

#endif
