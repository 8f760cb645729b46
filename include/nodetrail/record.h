/* Records: the JSON objects nodetrail writes (docs/records.md).
 *
 * record_encode is pure: no I/O, no clock, so it is tested with golden
 * files. Stages build a struct record and a cJSON object for the per-type
 * part; the encoder fixes key order and the common keys. */
#ifndef NODETRAIL_RECORD_H
#define NODETRAIL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define RECORD_SCHEMA "nodetrail/v1"
#define RECORD_ID_LEN 16

/* a wait status as the kernel stores it in task->exit_code */
struct exit_status {
	bool exited;              /* normal exit: code is valid */
	int code;                 /* 0-255 */
	int signal;               /* killing signal, 0 if none */
	bool core_dumped;
};

void exit_status_decode(uint32_t raw, struct exit_status *ret);
/* "SIGTERM", ..., or "SIG<n>" for unknown numbers (static or thread-unsafe buffer) */
const char *signal_name(int sig);

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

struct record {
	const char *type;         /* "container.exited", ... */
	int64_t event_time_ns;    /* CLOCK_REALTIME ns */
	uint64_t seq;
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
	/* per-type object, encoded under `detail_key` ("kernel", "agent") */
	const char *detail_key;
	const cJSON *detail;
	/* a second side of a joined record ("api" beside "kernel"), optional */
	const char *detail2_key;
	const cJSON *detail2;
	const char *sources[3];   /* NULL-terminated unless full */
	const char *summary;
};

/* Hand a finished record on (to the writer), which assigns seq and encodes;
 * the record and its detail are valid only during the call. */
typedef void (*record_emit_cb)(void *ctx, struct record *r);

/* Encode r as one compact JSON object into buf (NUL-terminated). Returns
 * its length, -ENOSPC if buf is too small, -ENOMEM. */
int record_encode(const struct record *r, char *buf, size_t len);

/* Deterministic id of a fact: 16 hex of SHA-256 over its type, the kernel's
 * boot id and the numbers that identify it. */
void record_make_id(const char *type, const char *boot_id, uint64_t a, uint64_t b, uint64_t c,
		    char ret[RECORD_ID_LEN + 1]);

/* FNV-1a of a string, to put names into record_make_id */
uint64_t record_hash_str(const char *s);

/* argv of an exec (NUL-separated, as the kernel keeps it) as a JSON array of
 * strings, with secrets redacted: the value of NAME=VALUE and of the word
 * after a --NAME flag when NAME looks like a secret (password, secret, token,
 * key, credential, auth), and any argument matching the operator's extra
 * pattern (POSIX ERE, NULL for none) become "<redacted>". NULL on ENOMEM. */
struct re_pattern_buffer;
cJSON *record_exec_args(const char *raw, size_t len, const struct re_pattern_buffer *extra);

/* A JSON number as an integer clamped to [min, max] (a double out of range
 * is undefined behaviour in C); def when v is not a number or is NaN. */
int64_t json_int(const cJSON *v, int64_t min, int64_t max, int64_t def);


#endif
