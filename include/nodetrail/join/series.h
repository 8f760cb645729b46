/* Crash loops as a series: each container (pod UID + container name) with
 * the last exits the API told of, so that an exit record can say "exit 3 of
 * a series since ..." and whether the kubelet is backing off. */
#ifndef NODETRAIL_JOIN_SERIES_H
#define NODETRAIL_JOIN_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/api/kube_objects.h"

#define SERIES_MAX_EXITS 4

struct series;

/* cap: containers followed. 0, or -ENOMEM. */
int series_new(uint32_t cap, struct series **ret);
void series_free(struct series *s);

enum series_note {
	SERIES_SEEN = 0,          /* nothing new (or no terminated state) */
	SERIES_NEW,               /* a new exit: news */
	SERIES_HISTORY,           /* a new exit, but of a container first seen now, ended before we watched */
	SERIES_UNTRACKED,         /* not followed: the table is full (counted) */
};

/* The container k of pod as the API reports it now: its last exit t (its
 * state or lastState) goes into its series if new. history_before_ns: exits
 * that finished before this, of a container not followed until now, are
 * history. */
enum series_note series_note(struct series *s, const struct kube_pod *pod, const struct kube_container *k,
			     const struct kube_terminated *t, int64_t history_before_ns);

/* Add "crash_loop": {"previous_exits": [...], "back_off": bool} to the API
 * detail of the exit of container_id, when k has restarted or backs off. */
void series_add_to_detail(const struct series *s, cJSON *api, const char *pod_uid, const struct kube_container *k,
			  const char *container_id);
/* ", exit 3 of a series since 2026-11-24T10:00:01Z, CrashLoopBackOff", from that detail ("" if none) */
void series_summary(const cJSON *api, char *buf, size_t len);

/* The pod is gone: forget its containers' series. */
void series_forget_pod(struct series *s, const struct kube_pod *pod);

/* containers not followed because the table was full */
uint64_t series_dropped(const struct series *s);
uint32_t series_count(const struct series *s);

/* The checkpoint's part (an array); NULL on ENOMEM. */
cJSON *series_save(const struct series *s);
void series_restore(struct series *s, const cJSON *list);

#endif
