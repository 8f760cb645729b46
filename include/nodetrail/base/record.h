/* Records: what every stage hands on (docs/records.md). The model only:
 * stages fill a struct record and pass it to a record_emit_cb; the sink
 * (out/sink.h) numbers, deduplicates, encodes (out/encode.h) and writes it.
 * The per-type part is a cJSON object built once by the stage that knows
 * the facts; what a record counts (EMF) is set in record.counts, never
 * parsed back from that object. */
#ifndef NODETRAIL_BASE_RECORD_H
#define NODETRAIL_BASE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define RECORD_SCHEMA "nodetrail/v1"
#define RECORD_ID_LEN 16

enum record_type {
	RECORD_CONTAINER_EXITED = 0,
	RECORD_CONTAINER_OOM_KILLED,
	RECORD_CONTAINER_EXEC,
	RECORD_POD_STARTED,
	RECORD_POD_TERMINATED,
	RECORD_NODE_TAINT,
	RECORD_NODE_CONDITION,
	RECORD_NODE_EVENT,
	RECORD_NODE_INTERRUPTION,
	RECORD_NODE_DRAIN_REPORT,
	RECORD_AGENT_STATUS,
	RECORD_POD_EVENT,
	RECORD_AGENT_FILES_PRUNED,
	RECORD_NTYPES,
};

/* "container.exited", ... ("unknown" out of range) */
const char *record_type_name(enum record_type type);

/* what every record says about the node (names as Container Insights uses
 * them, so the two join); empty fields are left out */
struct record_node {
	const char *cluster_name;
	const char *node_name;
	char instance_id[32];     /* IMDS */
	char instance_type[64];   /* IMDS, else the node's label */
	char availability_zone[64];
	char capacity_type[16];   /* SPOT / ON_DEMAND */
	char node_group[128];     /* EKS node group or Karpenter node pool */
	int emf;                  /* RECORD_EMF_*: add CloudWatch Embedded Metric Format to counted records */
};

#define RECORD_EMF_OFF 0
#define RECORD_EMF_CLUSTER 1      /* dimensions [ClusterName], [ClusterName, NodeGroup] */
#define RECORD_EMF_NODE 2         /* and [ClusterName, NodeName, InstanceId] */
#define RECORD_EMF_NAMESPACE "nodetrail"

/* What a record counts, as metrics (CloudWatch EMF): set by the stage that
 * builds the record, from the facts it decided on. */
struct record_counts {
	uint32_t oom_kills;
	uint32_t interruptions;   /* spot, instance, ASG, maintenance: confirmed */
	uint32_t disruptions;     /* Karpenter's own (consolidation, drift, expiry): not an interruption */
	uint32_t evictions;
	uint32_t non_graceful;    /* containers that did not stop gracefully */
};

struct record {
	enum record_type type;
	int64_t event_time_ns;    /* CLOCK_REALTIME ns */
	uint64_t seq;             /* set by the sink */
	char record_id[RECORD_ID_LEN + 1];
	const struct record_node *node;
	/* pod and container: NULL/empty fields are omitted */
	const char *pod_uid;
	const char *pod_name;
	const char *pod_namespace;
	const char *qos_class;
	const char *owner_kind;
	const char *owner_name;
	const char *container_name;
	const char *container_id;
	const char *runtime;
	const char *cgroup_path;
	/* per-type object, encoded under `detail_key` ("kernel", "api", "agent"...) */
	const char *detail_key;
	const cJSON *detail;
	/* a second side of a joined record ("api" beside "kernel"), optional */
	const char *detail2_key;
	const cJSON *detail2;
	const char *sources[3];   /* NULL-terminated unless full */
	const char *summary;
	struct record_counts counts;
	bool durable;             /* on disk at once (fsync): the node may be gone soon */
};

/* Hand a finished record on; the record and its detail are valid only
 * during the call. */
typedef void (*record_emit_cb)(void *ctx, struct record *r);

/* Deterministic id of a fact: 16 hex of SHA-256 over its type, the kernel's
 * boot id and the numbers that identify it. */
void record_make_id(enum record_type type, const char *boot_id, uint64_t a, uint64_t b, uint64_t c,
		    char ret[RECORD_ID_LEN + 1]);

/* a wait status as the kernel stores it in task->exit_code */
struct exit_status {
	bool exited;              /* normal exit: code is valid */
	int code;                 /* 0-255 */
	int signal;               /* killing signal, 0 if none */
	bool core_dumped;
};

void exit_status_decode(uint32_t raw, struct exit_status *ret);
/* "SIGTERM", ..., or "SIG<n>" for unknown numbers (a static buffer: use at once) */
const char *signal_name(int sig);

#endif
