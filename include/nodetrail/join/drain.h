/* node.drain_report: the drain of an interruption as the kernel saw it:
 * every container that ended since the notice, and every one still
 * running, judged against the deadline, grouped by pod, with totals. */
#ifndef NODETRAIL_JOIN_DRAIN_H
#define NODETRAIL_JOIN_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/join/containers.h"
#include "nodetrail/join/env.h"

/* Write the report (notice_ns, deadline_ns: CLOCK_REALTIME). why: when it is
 * written ("at the deadline"...); final: the interruption's report (at or
 * after its deadline), else a snapshot of its own (at an agent stop). */
void drain_report(const struct join_env *env, const struct containers *t, int64_t notice_ns, int64_t deadline_ns,
		  const char *why, bool final);

#endif
