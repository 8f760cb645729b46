/* node.drain_report: the drain of an interruption as the kernel saw it:
 * every container that ended since the notice, and every one still
 * running, judged against the deadline, grouped by pod, with totals. A
 * report is one or more pages (records), each whole and under 16 KiB,
 * linked by a drain id and numbered (page, pages); every page carries the
 * totals; a pod is on one page, by its place in uid order, so a report
 * written again after a restart has the same pages. */
#ifndef NODETRAIL_JOIN_DRAIN_H
#define NODETRAIL_JOIN_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/join/containers.h"
#include "nodetrail/join/env.h"

#define DRAIN_PAGE_BUDGET (11 * 1024) /* by_pod bytes of one page: the rest of the line fits in 16 KiB */
#define DRAIN_POD_CONTAINERS 12       /* container entries per pod; more are counted (containers_omitted) */

/* Write the report (notice_ns, deadline_ns: CLOCK_REALTIME; deadline 0: a
 * disruption's, judged at the report's time). why: when it is written
 * ("before the deadline", "at the deadline", "at agent stop, ..."); final:
 * the one after the deadline. One report of each kind per interruption (a
 * stop's is one of its own). */
void drain_report(const struct join_env *env, const struct containers *t, int64_t notice_ns, int64_t deadline_ns,
		  const char *why, bool final);

#endif
