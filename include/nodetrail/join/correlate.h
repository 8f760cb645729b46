/* The join stage: where the kernel's events and the API's objects meet.
 * Kernel events update the container table and make container records,
 * which wait in the join window for the API's status of their container;
 * the API's pods confirm them, end them or make their own records
 * (pod.started, pod.terminated, API-only exits); node conditions and an
 * interruption's drain get the kernel's context. This is the facade the
 * agent drives; the work is in the modules beside it. */
#ifndef NODETRAIL_JOIN_CORRELATE_H
#define NODETRAIL_JOIN_CORRELATE_H

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/api/node_state.h"
#include "nodetrail/base/loop.h"
#include "nodetrail/base/record.h"
#include "nodetrail/kernel/events.h"
#include "nodetrail/kernel/host.h"

struct probes;

struct correlate_options {
	const struct record_node *node;
	const char *boot_id;          /* /proc/sys/kernel/random/boot_id */
	const struct cgroup_mode *mode;
	struct probes *probes;        /* the in-kernel filter to keep in step; NULL without eBPF (and in tests) */
	bool bpf_off;                 /* no kernel events will come: API-only exits go out at once */
	uint32_t max_cgroups;         /* cap of tracked cgroups and containers */
	/* the API side, NULL without it; then kernel records go out at once */
	const struct node_state *api;
	const struct interruption *interruption; /* may be NULL */
	uint32_t join_window_ms;      /* how long a container record waits for the API's status */
	struct loop *loop;            /* the window closes on a timer here; NULL: the caller calls correlator_tick */
	bool exec_args;               /* put the (redacted) arguments in container.exec */
	const regex_t *exec_args_redact; /* extra pattern, NULL for none */
	record_emit_cb emit;
	void *emit_ctx;
	/* the pod's events listed now (pod_events_explain): true when they will come to
	 * correlator_pod_event; NULL: a kill's record is not held for them */
	bool (*explain)(void *ctx, const struct kube_pod *pod);
	void *explain_ctx;
};

struct correlate_stats {
	uint64_t containers;          /* containers tracked now */
	uint64_t preexisting;         /* containers found by the startup scan */
	uint64_t cgroups;             /* cgroups tracked (kubepods, QoS, pods, containers) */
	uint64_t cgroups_dropped;     /* cgroups not tracked: map full */
	uint64_t containers_dropped;  /* container states not kept: table full */
	uint64_t unknown_cgroup_events; /* events for cgroups the map did not know */
	uint64_t signals_dropped;     /* signals beyond the per-container list */
	uint64_t signals_not_delivered; /* already pending or not queued: not a new signal */
	uint64_t joined;              /* records the API confirmed within the window */
	uint64_t unconfirmed;         /* records the window closed on without the API's status */
	uint64_t sandboxes_folded;    /* sandbox (pause) exits folded into their pod */
	uint64_t pending;             /* records waiting for the API now */
	uint64_t pending_overflow;    /* records sent at once because the pending set was full */
	uint64_t api_only_exits;      /* container exits only the API reported (agent down, eBPF off) */
	uint64_t series_dropped;      /* containers whose exits were not followed: table full */
	uint64_t restored_containers; /* container timelines taken over from the checkpoint */
	uint64_t ended_unseen;        /* containers that ended while the agent was down */
	uint64_t restored_pending;    /* records that waited for the API across the restart */
	uint64_t probe_runs;          /* exec probe runs recognised (no record each) */
	uint64_t probe_failures;      /* of those, failed */
	uint64_t hook_runs;           /* exec postStart and preStop hook runs */
	uint64_t probe_runs_untracked; /* runs whose end was not followed: too many at once */
	uint64_t kill_causes_asked;   /* stops from outside held for the kubelet's events */
	uint64_t kill_causes_found;   /* of those, explained by a Killing event */
	uint64_t kill_causes_unanswered; /* sent without: the events did not come in time */
	uint64_t cgroups_reconciled;  /* tracked cgroups found gone by correlator_reconcile (lost rmdirs) */
	uint64_t series;              /* containers whose exits are followed now (crash-loop series) */
	uint64_t started;             /* pods whose pod.started is followed now */
};

struct correlator;

/* 0, or -ENOMEM. */
int correlator_new(const struct correlate_options *opts, struct correlator **ret);
void correlator_free(struct correlator *c);

/* Startup: scan the cgroup tree and /proc, track what exists already.
 * Returns cgroups seen or -errno. */
int correlator_scan(struct correlator *c);

/* One event of a pod's events listed on demand (pod_events' observer), e
 * NULL once the list is done: records held for the kubelet's word go out. */
void correlator_pod_event(struct correlator *c, const char *pod_uid, const struct kube_event_obj *e);

/* Periodic: tracked cgroups whose directory is gone (a cgroup_rmdir lost to
 * a full ring buffer) are forgotten, as if removed. */
void correlator_reconcile(struct correlator *c);

/* One kernel event from the ring buffer. */
void correlator_kernel_event(struct correlator *c, const struct nt_event_hdr *hdr);

/* The node_state observer this stage is (pod changes, ends, conditions). */
struct node_state_observer correlator_observer(struct correlator *c);
/* The same, called directly. */
void correlator_pod_changed(struct correlator *c, const struct kube_pod *pod, bool deleted);
void correlator_pod_ended(struct correlator *c, const struct kube_pod *pod, enum pod_end_seen seen);
void correlator_condition_changed(struct correlator *c, const struct kube_condition *cond, const char *was);

/* Records whose window closed go out with what is known (the window's
 * timer does this with a loop). */
void correlator_tick(struct correlator *c);
/* Every window closes now (at stop, and before a drain report). */
void correlator_flush(struct correlator *c);
/* The earliest join-window deadline (CLOCK_MONOTONIC), 0 when nothing waits. */
int64_t correlator_next_deadline(const struct correlator *c);

/* The drain report of an interruption (see join/drain.h). */
void correlator_drain_report(struct correlator *c, int64_t notice_ns, int64_t deadline_ns, const char *why,
			     bool final);

/* The state a restart must not lose: container timelines, how recent
 * containers ended, the records waiting for the API, each container's
 * series of exits. NULL on ENOMEM. */
cJSON *correlator_save(const struct correlator *c);
/* Take it over after correlator_scan. Timelines are kept only on the same
 * boot (same_boot); a container of the checkpoint whose cgroup is gone
 * ended while the agent was down. written_ns: when it was written. */
void correlator_restore(struct correlator *c, const cJSON *doc, bool same_boot, int64_t written_ns);

void correlator_get_stats(const struct correlator *c, struct correlate_stats *ret);
/* Prometheus lines of each container's exec probes and hooks (runs,
 * failures), labelled with the pod and container the API names. */
void correlator_probe_metrics(const struct correlator *c, FILE *out);

#endif
