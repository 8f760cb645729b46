/* pod.started: a pod's start as a timeline, scheduled (API) -> sandbox
 * cgroup (kernel) -> first exec (kernel) -> Ready (API), once per pod that
 * becomes Ready while the agent watches. */
#ifndef NODETRAIL_JOIN_STARTED_H
#define NODETRAIL_JOIN_STARTED_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/join/containers.h"
#include "nodetrail/join/env.h"

struct started;

/* cap: pods remembered as started. 0, or -ENOMEM. */
int started_new(uint32_t cap, struct started **ret);
void started_free(struct started *s);

/* The pod's object changed: write pod.started when it is Ready for the
 * first time; a deleted pod is forgotten. */
void started_pod_changed(struct started *s, const struct join_env *env, const struct containers *t,
			 const struct kube_pod *pod, bool deleted);

uint32_t started_count(const struct started *s);

#endif
