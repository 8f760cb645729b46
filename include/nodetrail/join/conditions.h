/* node.condition: a node condition's change as the API tells it, with the
 * kernel's context where it explains it (MemoryPressure: the OOM kills of
 * the last 5 minutes). */
#ifndef NODETRAIL_JOIN_CONDITIONS_H
#define NODETRAIL_JOIN_CONDITIONS_H

#include "nodetrail/join/containers.h"
#include "nodetrail/join/env.h"

#define CONDITION_OOM_CONTEXT_NS (5 * 60 * 1000000000LL)

/* Write node.condition for c, whose status was `was`. */
void condition_record(const struct join_env *env, const struct containers *t, const struct kube_condition *c,
		      const char *was);

#endif
