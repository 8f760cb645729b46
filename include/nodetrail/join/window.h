/* The join window: container records waiting for the other side. A kernel
 * record (exit, OOM kill, exec) waits for the API's status of its container;
 * an exit only the API reported waits for the kernel's record of it. Each
 * waits until its deadline at most. The window holds them, bounded; what
 * to do with them is its caller's (join/correlate.c). */
#ifndef NODETRAIL_JOIN_WINDOW_H
#define NODETRAIL_JOIN_WINDOW_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/api/kube_objects.h"
#include "nodetrail/base/record.h"
#include "nodetrail/kernel/cgroup.h"
#include "nodetrail/kernel/events.h"

#define WINDOW_MAX 1024

/* a container record waiting for the other side */
struct pending {
	enum record_type type;
	cJSON *kernel;            /* the kernel's detail (for an API-only exit: {"seen": false, ...}) */
	char what[320];           /* summary after "container <who> " */
	char comm[NT_COMM_LEN];
	bool is_exit;
	int64_t event_time_ns;
	int64_t deadline_ns;      /* CLOCK_MONOTONIC */
	char record_id[RECORD_ID_LEN + 1];
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	char qos[16];
	char runtime[16];
	char cgroup[NT_CGROUP_PATH_LEN];
	/* an exit only the API reported: waits for the kernel's record of it */
	bool api_only;
	cJSON *api;               /* the API's detail, kept in case the pod is gone when the window closes */
	struct kube_pod *pod;     /* the pod's last status once it is deleted: a late kernel record joins it */
	char pod_name[254];
	char pod_ns[64];
	char container_name[64];
	char owner_kind[32];
	char owner_name[254];
	/* a stop from outside, held for the kubelet's events on its pod (join/kill_cause.c) */
	bool awaiting_events;
	char kill_kind[24];       /* Killing's: "liveness probe", "startup probe", "definition changed" */
	char kill_message[256];   /* Killing's message, redacted */
	char kill_at[40];
	char probe_message[2][256]; /* Unhealthy's for the liveness [0] and startup [1] probe, redacted */
	int probe_count[2];
	char cause[400];          /* the summary's: "killed by the kubelet: liveness probe failed 3 times (...)" */
	cJSON *kubelet;           /* the api part's killed_by_kubelet */
};

/* A zeroed pending. 0, or -ENOMEM. pending_free(NULL) is a no-op. */
int pending_new(struct pending **ret);
void pending_free(struct pending *p);

struct window;

/* 0, or -ENOMEM. */
int window_new(uint32_t cap, struct window **ret);
/* Frees what still waits. */
void window_free(struct window *w);

/* Hold p (the window owns it). 0, or -ENOSPC when full (the caller keeps p). */
int window_add(struct window *w, struct pending *p);
/* Take out the API-only exit of this container, NULL if none waits. */
struct pending *window_take_api_exit(struct window *w, const char *container_id);

enum window_verdict { WINDOW_KEEP = 0, WINDOW_DONE };
/* Offer every waiting record to decide (in the window's order); DONE ones
 * are freed and leave. decide may not add to the window. */
void window_sweep(struct window *w, enum window_verdict (*decide)(void *ctx, struct pending *p), void *ctx);
/* The same, newest first: closing every window at stop. */
void window_sweep_all_newest_first(struct window *w, void (*close)(void *ctx, struct pending *p), void *ctx);

uint32_t window_count(const struct window *w);
/* The earliest deadline (CLOCK_MONOTONIC), 0 when nothing waits. */
int64_t window_next_deadline(const struct window *w);

/* The checkpoint's part: every waiting record. NULL on ENOMEM. */
cJSON *window_save(const struct window *w);
/* One record of a checkpoint, NULL when it is not one. */
struct pending *window_load_one(const cJSON *o);

#endif
