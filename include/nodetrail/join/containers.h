/* The container table: what the kernel told about each container it
 * tracks (its cgroup's creation, its main process, the signals it got, its
 * OOM kills) and, past a container's removal, how it ended. The join
 * stage's memory of the kernel side; it writes no records. */
#ifndef NODETRAIL_JOIN_CONTAINERS_H
#define NODETRAIL_JOIN_CONTAINERS_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/kernel/cgroup_map.h"
#include "nodetrail/kernel/events.h"
#include "nodetrail/kernel/host.h"

#define CONTAINER_MAX_SIGNALS 8
#define CONTAINER_MAX_OOM_VICTIMS 8
#define CONTAINER_MAX_EXEC_IN 16
#define CONTAINER_MAX_ENDS 512        /* ends remembered, oldest overwritten */
#define CONTAINER_MAX_RECENT_OOMS 32  /* OOM kills remembered, oldest overwritten */
#define CONTAINER_MAX_PROBES 5        /* exec probes and hooks of a container (its spec's) */
#define CONTAINER_MAX_PROBE_RUNS 8    /* their processes running at once */

/* one exec probe or hook of the container (its argv's hash), as the kernel saw it run */
struct exec_probe {
	uint64_t hash;
	uint32_t len;
	uint8_t kinds;            /* enum kube_exec_kind, or-ed: probes that share the argv */
	uint8_t liveness_threshold, startup_threshold;
	uint32_t runs, failures;
	uint32_t in_a_row;        /* failures since the last pass */
	int32_t last_exit;        /* exit code, or 128 + signal; -1 before the first end */
	int64_t last_start_boot_ns, last_end_boot_ns;
};

enum signal_sender { SENDER_NONE = 0, SENDER_SELF, SENDER_KERNEL, SENDER_EXTERNAL };

/* "self", "kernel", "external" ("" for none) */
const char *signal_sender_name(enum signal_sender s);

/* what the kernel did with a signal (signal_generate's result: TRACE_SIGNAL_*) */
enum signal_result {
	SIGNAL_DELIVERED = 0,
	SIGNAL_IGNORED = 1,       /* SIG_IGN, or a namespace's PID 1 without a handler */
	SIGNAL_ALREADY_PENDING = 2, /* the same signal is pending: nothing new */
	SIGNAL_QUEUE_FULL = 3,    /* not queued (RLIMIT_SIGPENDING) */
	SIGNAL_LOSE_INFO = 4,     /* delivered, without its siginfo */
};

/* NULL for a signal delivered, else "ignored", "already_pending", "queue_full" */
const char *signal_result_name(int result);

struct signal_note {
	int64_t at_boot_ns;
	uint32_t sig;
	uint32_t target_tgid;
	uint32_t sender_tgid;
	enum signal_sender sender;
	int32_t result;           /* enum signal_result */
	char sender_comm[NT_COMM_LEN];
};

struct container_state {
	uint64_t cgroup_id;       /* the container's own cgroup */
	int64_t created_boot_ns;  /* cgroup_mkdir time, 0 if unknown */
	int64_t first_exec_boot_ns;
	uint32_t main_tgid;       /* the container's main process, 0 if unknown */
	bool preexisting;         /* found by the startup scan */
	bool exit_reported;
	struct signal_note signals[CONTAINER_MAX_SIGNALS];
	uint32_t nsignals;
	uint32_t signals_dropped;
	uint32_t oom_victims[CONTAINER_MAX_OOM_VICTIMS];
	uint32_t noom;
	uint32_t exec_in[CONTAINER_MAX_EXEC_IN]; /* tgids exec'd from outside */
	uint32_t nexec_in;
	struct exec_probe probes[CONTAINER_MAX_PROBES];
	uint32_t nprobes;
	struct {
		uint32_t tgid;
		uint32_t probe;       /* index in probes[] */
	} probe_runs[CONTAINER_MAX_PROBE_RUNS];
	uint32_t nprobe_runs;
	/* the stop, as the pod's termination timeline needs it (not capped like signals[]) */
	int64_t term_boot_ns;     /* first SIGTERM to the main process */
	bool term_ignored;        /* and the kernel ignored it (no handler in PID 1, or SIG_IGN) */
	int64_t kill_boot_ns;     /* first SIGKILL to it */
	char kill_comm[NT_COMM_LEN];
	enum signal_sender kill_sender;
};

/* how a container's main process ended, kept past its cgroup's removal so
 * that the pod's termination record and a drain report can tell it */
struct container_end {
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	char comm[NT_COMM_LEN];
	char pod_ns[64];          /* the pod's namespace and name when it ended, "" if the API did not know it: */
	char pod_name[128];       /* a drained pod is gone from the API by the time its drain is reported */
	int64_t term_ns, kill_ns, exit_ns; /* CLOCK_REALTIME, 0 if none */
	bool term_ignored;        /* the SIGTERM was ignored by the kernel */
	char kill_comm[NT_COMM_LEN];
	enum signal_sender kill_sender;
	uint32_t exit_code;       /* raw wait status */
	bool oom;
	int64_t prestop_start_ns, prestop_end_ns; /* its exec preStop hook's last run, CLOCK_REALTIME, 0 if none */
	int32_t prestop_exit;     /* exit code, or 128 + signal; -1 if it had not ended */
	bool unseen;              /* ended while the agent was down: exit_ns is when that was found */
};

/* an OOM kill, for the kernel's context of a MemoryPressure condition */
struct recent_oom {
	int64_t at_ns;            /* CLOCK_REALTIME, 0 for an empty slot */
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	char comm[NT_COMM_LEN];
	bool node_wide;
};

/* what an exec is to its container */
enum exec_kind {
	EXEC_RUNTIME = 0,         /* the runtime re-executing itself: container setup */
	EXEC_MAIN,                /* the container's own command (its main process) */
	EXEC_OWN,                 /* a process of the container's own */
	EXEC_FROM_OUTSIDE,        /* exec'd in from outside (kubectl exec, probes) */
};

struct containers_stats {
	uint64_t containers;          /* tracked now */
	uint64_t preexisting;         /* found by the startup scan */
	uint64_t cgroups;             /* cgroups tracked (kubepods, QoS, pods, containers) */
	uint64_t cgroups_dropped;     /* cgroups not tracked: map full */
	uint64_t containers_dropped;  /* container states not kept: table full */
	uint64_t unknown_cgroup_events; /* events for cgroups the map did not know */
	uint64_t signals_dropped;     /* signals beyond the per-container list */
	uint64_t signals_not_delivered; /* already pending or not queued: not a new signal */
	uint64_t restored;            /* container timelines taken over from the checkpoint */
	uint64_t ended_unseen;        /* containers that ended while the agent was down */
	uint64_t probe_runs;          /* exec probe runs (argv of a probe of the pod's spec) */
	uint64_t probe_failures;      /* of those, ended with a non-zero status */
	uint64_t hook_runs;           /* exec postStart and preStop hook runs */
	uint64_t probe_runs_untracked; /* runs whose end could not be followed: too many at once */
	uint64_t reconciled;          /* cgroups whose directory was found gone (a cgroup_rmdir lost) */
};

struct containers;

/* cgroups: the map to track container cgroups in (owned by the caller);
 * mode: where the hierarchy is, for the scan. 0, or -ENOMEM. */
int containers_new(uint32_t cap, struct cgroup_map *cgroups, const struct cgroup_mode *mode,
		   struct containers **ret);
void containers_free(struct containers *t);

/* cgroup_mkdir / cgroup_rmdir from the kernel */
void containers_mkdir(struct containers *t, const struct nt_cgroup_event *ev);
void containers_rmdir(struct containers *t, const struct nt_cgroup_event *ev);
/* Startup: track the cgroups and main processes that exist already.
 * Returns the cgroups seen or -errno. */
int containers_scan(struct containers *t);

/* Resolve an event's cgroup to its container: the container's own entry
 * (not a child cgroup's) and its state. false when the cgroup is not a
 * tracked container (an unknown cgroup is counted). */
/* Cgroups tracked whose directory is gone, or is another one now (a
 * cgroup_rmdir the ring buffer dropped), in this pass and the one before:
 * forgotten as if removed, so that a lost event cannot keep a container,
 * nor fill the maps for good. At most max a call; returns how many. Without
 * a hierarchy (tests): 0. */
uint32_t containers_reconcile(struct containers *t, uint32_t max);

bool containers_lookup(struct containers *t, uint64_t cgroup_id, const struct cgroup_entry **ret_e,
		       struct container_state **ret_st);
const struct cgroup_entry *containers_cgroup(const struct containers *t, uint64_t cgroup_id);

/* What each kernel event changes; the records are the caller's. */
enum exec_kind containers_on_exec(struct containers *t, struct container_state *st, const struct nt_exec_event *ev);
/* An exec from outside that is the container's exec probe or hook (kinds,
 * enum kube_exec_kind; hash and len identify its argv; thresholds from the
 * spec): a run to count, whose end containers_on_exit follows. */
void containers_on_probe_exec(struct containers *t, struct container_state *st, const struct nt_exec_event *ev,
			      uint64_t hash, uint32_t len, uint8_t kinds, uint8_t liveness_threshold,
			      uint8_t startup_threshold);
/* The liveness or startup probe that was failing, enough times in a row to
 * make the kubelet kill the container, NULL if none. */
const struct exec_probe *container_failing_probe(const struct container_state *st);
/* "liveness probe", "liveness and readiness probe", "preStop hook", ... */
void exec_probe_name(uint8_t kinds, char *buf, size_t len);
/* true: the main process's exit, seen for the first time (its end is remembered);
 * a probe's or hook's exit is counted, and false */
/* Name the pod of the end containers_on_exit just added (cut to the fields' size). */
void containers_name_last_end(struct containers *t, const char *pod_ns, const char *pod_name);
bool containers_on_exit(struct containers *t, const struct cgroup_entry *e, struct container_state *st,
			const struct nt_exit_event *ev);
void containers_on_signal(struct containers *t, const struct cgroup_entry *e, struct container_state *st,
			  const struct nt_signal_event *ev);
void containers_on_oom(struct containers *t, const struct cgroup_entry *e, struct container_state *st,
		       const struct nt_oom_event *ev);
bool container_oom_victim(const struct container_state *st, uint32_t tgid);

/* Visit every container (the callback must not change the table). */
void containers_each(const struct containers *t,
		     void (*cb)(void *ctx, const struct container_state *st, const struct cgroup_entry *e), void *ctx);
/* The ends remembered, slot i of CONTAINER_MAX_ENDS (slot order, not time
 * order); empty slots have exit_ns 0. */
const struct container_end *containers_end_at(const struct containers *t, uint32_t i);
/* The OOM kills remembered, slot i of CONTAINER_MAX_RECENT_OOMS. */
const struct recent_oom *containers_oom_at(const struct containers *t, uint32_t i);

/* The checkpoint's part: "containers" and "ends" (the last 15 minutes) added to parent. */
void containers_save(const struct containers *t, cJSON *parent);
/* Take them over after containers_scan; only on the same boot (boot-time
 * stamps and cgroup ids of another boot mean nothing). A container of the
 * checkpoint whose cgroup or main process is gone ended while the agent was
 * down (now_ns: when that was found). */
void containers_restore(struct containers *t, const cJSON *parent, int64_t now_ns);

void containers_get_stats(const struct containers *t, struct containers_stats *ret);

#endif
