/* Correlator: turns kernel events (and, later, API and IMDS facts) into
 * records. For now it joins the kernel events of one container: its cgroup,
 * first exec, signals received, OOM kills and its main process's exit. */
#ifndef NODETRAIL_CORRELATE_H
#define NODETRAIL_CORRELATE_H

#include <stdint.h>

#include "nodetrail/cgroup_map.h"
#include "nodetrail/events.h"
#include "nodetrail/node_state.h"
#include "nodetrail/record.h"

struct probes;

struct correlate_options {
	const struct record_node *node;
	const char *boot_id;          /* /proc/sys/kernel/random/boot_id */
	const struct cgroup_mode *mode;
	struct probes *probes;        /* NULL when running without eBPF (and in tests) */
	bool bpf_off;                 /* no kernel events will come: API-only exits go out at once */
	uint32_t max_cgroups;         /* cap of tracked cgroups and containers */
	/* the API side, NULL without it; then kernel records go out at once */
	const struct node_state *api;
	uint32_t join_window_ms;      /* how long a container record waits for the API's status */
	bool exec_args;               /* put the (redacted) arguments in container.exec */
	const struct re_pattern_buffer *exec_args_redact; /* extra pattern, NULL for none */
	record_emit_cb emit;
	void *emit_ctx;
};

struct correlate_stats {
	uint64_t containers;          /* containers tracked now */
	uint64_t preexisting;         /* containers found by the startup scan */
	uint64_t cgroups_dropped;     /* cgroups not tracked: map full */
	uint64_t containers_dropped;  /* container states not kept: table full */
	uint64_t unknown_cgroup_events; /* events for cgroups the map did not know */
	uint64_t signals_dropped;     /* signals beyond the per-container list */
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
};

struct correlator;

struct correlator *correlator_new(const struct correlate_options *opts);
void correlator_free(struct correlator *c);

/* Startup: scan the cgroup tree and /proc, track what exists already. */
int correlator_scan(struct correlator *c);

/* One kernel event from the ring buffer. */
void correlator_kernel_event(struct correlator *c, const struct nt_event_hdr *hdr);

void correlator_get_stats(const struct correlator *c, struct correlate_stats *ret);

/* The API's view of a pod changed: join what waits for it. */
void correlator_api_pod(struct correlator *c, const struct kube_pod *pod, bool deleted);
/* Once a second: records whose window closed go out with what is known. */
void correlator_tick(struct correlator *c);
/* How the pod's containers ended as the kernel saw it: per container
 * SIGTERM, SIGKILL, exit and a verdict against the grace period (-1 if
 * unknown). NULL if the kernel saw none of them end. Caller frees. */
cJSON *correlator_kernel_view(struct correlator *c, const struct kube_pod *pod, int64_t grace_s);

/* The spot drain report: every container that ended since the notice, and
 * every one still running, against the deadline (CLOCK_REALTIME ns), grouped
 * by pod, with totals; emitted as node.drain_report. final: the report of
 * the interruption (at or after its deadline), else a snapshot (agent stop). */
void correlator_drain_report(struct correlator *c, int64_t notice_ns, int64_t deadline_ns, const char *why,
			     bool final);

/* OOM kills of the last 5 minutes (at most the 32 newest): the kernel's
 * context for a MemoryPressure condition. Caller frees. */
cJSON *correlator_memory_context(struct correlator *c);

/* The state a restart must not lose: container timelines, how recent
 * containers ended, the records waiting for the API, each container's
 * series of exits. NULL on ENOMEM. */
cJSON *correlator_checkpoint(const struct correlator *c);
/* Take it over after correlator_scan. Timelines are kept only on the same
 * boot (same_boot); a container of the checkpoint whose cgroup is gone
 * ended while the agent was down. written_ns: when it was written. */
void correlator_restore(struct correlator *c, const cJSON *doc, bool same_boot, int64_t written_ns);

/* Everything pending goes out now (at stop). */
void correlator_flush(struct correlator *c);

/* boot-time ns (bpf_ktime_get_boot_ns) to CLOCK_REALTIME ns */
int64_t correlate_boot_to_realtime(int64_t boot_ns);

#endif
