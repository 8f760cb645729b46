/* A pod's termination: pod.terminated, with the cause its status gives (or
 * the node's interruption) and how each of its containers stopped as the
 * kernel saw it (SIGTERM, SIGKILL, exit), judged against the grace period. */
#ifndef NODETRAIL_JOIN_TERMINATION_H
#define NODETRAIL_JOIN_TERMINATION_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/join/containers.h"
#include "nodetrail/join/env.h"

enum stop_verdict {
	STOP_GRACEFUL = 0,        /* exited (or died of SIGTERM) after the SIGTERM */
	STOP_EXITED,              /* exited, no SIGTERM seen */
	STOP_OOM_KILLED,
	STOP_KILLED_AFTER_GRACE,  /* SIGKILLed when the grace period ran out */
	STOP_KILLED_BEFORE_GRACE, /* SIGKILLed after a SIGTERM, before the grace period ran out */
	STOP_KILLED,              /* killed otherwise */
	STOP_ENDED_UNSEEN,        /* ended while the agent was down */
};

const char *stop_verdict_name(enum stop_verdict v);
/* graceful and exited */
bool stop_verdict_ok(enum stop_verdict v);

#define TERMINATION_MAX_STOPS 64

/* how one container stopped, as the kernel saw it */
struct container_stop {
	const struct container_end *end;
	const char *name;         /* the API's container name, NULL if the pod's status does not name it */
	enum stop_verdict verdict;
};

/* The kernel's view of a pod's termination: its containers' ends, counted. */
struct termination_view {
	uint32_t n;
	struct container_stop stops[TERMINATION_MAX_STOPS];
	uint32_t graceful;        /* verdict graceful or exited */
	uint32_t killed;          /* neither, nor ended unseen (after_grace included) */
	uint32_t after_grace;     /* of killed: SIGKILLed when the grace period ran out */
	uint32_t unseen;          /* ended while the agent was down */
	uint32_t term_ignored;    /* whose SIGTERM the kernel ignored (PID 1 without a handler, SIG_IGN) */
};

/* How the pod's containers ended, as the kernel saw it (grace_s: the
 * pod's grace period, -1 if unknown). false when it saw none of them end. */
bool termination_view(const struct containers *t, const struct kube_pod *pod, int64_t grace_s,
		      struct termination_view *ret);
/* How one container ended, as records carry it: id, SIGTERM and SIGKILL
 * times, exit (or "gone_by" when it ended unseen); full: also who sent the
 * SIGKILL and how long the stop took. Added to o. */
void termination_end_json(const struct container_end *end, bool full, cJSON *o);
/* The view as records carry it (under "kernel"). NULL on ENOMEM. */
cJSON *termination_view_json(const struct termination_view *v);

/* Write pod.terminated for the pod that ended (seen: how we know). */
void termination_record(const struct join_env *env, const struct containers *t, const struct kube_pod *pod,
			enum pod_end_seen seen);

#endif
