/* Kubernetes objects as nodetrail needs them: Pods, the Node, Events,
 * decoded from cJSON into fixed, bounded structs. Pure: no I/O. Fields the
 * object does not carry stay empty ("" / -1), never invented. */
#ifndef NODETRAIL_API_KUBE_OBJECTS_H
#define NODETRAIL_API_KUBE_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>

#define KUBE_MAX_CONTAINERS 16    /* init + regular + ephemeral kept per pod */
#define KUBE_MAX_TAINTS 32
#define KUBE_MAX_CONDITIONS 16
#define KUBE_MAX_EXECS 5          /* liveness, readiness, startup, postStart, preStop */
#define KUBE_ARGV_PREFIX 256      /* argv bytes a hash covers; the kernel captures as many */

/* the probes and hooks that exec a command into the container */
enum kube_exec_kind {
	KUBE_EXEC_LIVENESS = 1,
	KUBE_EXEC_READINESS = 2,
	KUBE_EXEC_STARTUP = 4,
	KUBE_EXEC_POSTSTART = 8,
	KUBE_EXEC_PRESTOP = 16,
};
#define KUBE_EXEC_PROBES (KUBE_EXEC_LIVENESS | KUBE_EXEC_READINESS | KUBE_EXEC_STARTUP)

/* An exec probe's or exec hook's argv as the kernel will see it, kept as a
 * hash (kube_argv_hash), never as text. Probes that share an argv share one. */
struct kube_exec {
	uint64_t hash;
	uint32_t len;             /* argv bytes, each argument's NUL included */
	uint8_t kinds;            /* enum kube_exec_kind, or-ed */
	uint8_t liveness_threshold; /* failureThreshold of the liveness probe among kinds (default 3) */
	uint8_t startup_threshold;  /* of the startup probe */
};

struct kube_terminated {
	bool set;                 /* the state/lastState was "terminated" */
	int exit_code;
	int signal;               /* 0 when the runtime gave none */
	char reason[32];          /* OOMKilled, Error, Completed, ... */
	char started_at[40];
	char finished_at[40];
	char container_id[65];    /* 64 hex, runtime prefix removed */
};

struct kube_container {
	char name[64];
	char image[256];
	char container_id[65];    /* current container, 64 hex ("" until it runs) */
	char runtime[16];         /* "containerd", "cri-o", "docker" from the id's scheme */
	int64_t memory_limit_bytes; /* resources.limits.memory, -1 if none */
	int restart_count;
	char state[12];           /* waiting, running, terminated, "" */
	char waiting_reason[32];  /* CrashLoopBackOff, ContainerCreating, ... */
	struct kube_terminated terminated;      /* state.terminated */
	struct kube_terminated last_terminated; /* lastState.terminated */
	int nexecs;
	struct kube_exec execs[KUBE_MAX_EXECS]; /* exec probes and hooks of the spec */
	/* failureThreshold of its liveness and startup probes whatever their handler (exec, httpGet,
	 * tcpSocket, grpc), 0 without one: a kubelet's kill "failed 3 times" */
	uint8_t liveness_threshold;
	uint8_t startup_threshold;
};

struct kube_pod {
	char uid[40];
	char mirror_of[40];       /* kubernetes.io/config.mirror: a static pod's config hash, its cgroup's uid */
	char name[254];
	char ns[64];
	char node_name[254];
	char qos_class[16];
	char owner_kind[32];
	char owner_name[254];
	char phase[16];
	char reason[32];          /* status.reason: Evicted, NodeShutdown, Terminated */
	char message[256];        /* status.message, cut */
	char disruption_reason[40]; /* DisruptionTarget condition reason, when True */
	char disruption_message[256];
	char deletion_timestamp[40];
	int64_t deletion_grace_s; /* metadata.deletionGracePeriodSeconds, -1 */
	int64_t termination_grace_s; /* spec.terminationGracePeriodSeconds, -1 */
	char scheduled_at[40];    /* PodScheduled True transition */
	char ready_at[40];        /* Ready True transition */
	char resource_version[32];
	int ncontainers;
	int containers_dropped;   /* beyond KUBE_MAX_CONTAINERS */
	struct kube_container containers[KUBE_MAX_CONTAINERS];
};

struct kube_taint {
	char key[128];
	char value[64];
	char effect[24];
};

struct kube_condition {
	char type[48];
	char status[12];
	char reason[64];
	char message[256];
	char last_transition[40];
};

struct kube_node {
	char name[254];
	char uid[40];
	char resource_version[32];
	/* labels worth carrying (DESIGN 3) */
	char capacity_type[16];   /* SPOT / ON_DEMAND, from EKS or Karpenter labels or lifecycle=Ec2Spot */
	char node_group[128];
	char instance_type[64];
	char zone[64];
	char termination_deadline[40]; /* karpenter.sh/nodeclaim-termination-timestamp: Karpenter's hard deadline */
	bool unschedulable;
	int ntaints;
	struct kube_taint taints[KUBE_MAX_TAINTS];
	int nconditions;
	struct kube_condition conditions[KUBE_MAX_CONDITIONS];
};

struct kube_event_obj {
	char uid[40];
	char name[254];
	char ns[64];
	char reason[64];
	char type[16];            /* Normal, Warning */
	char message[512];
	char source[64];          /* source.component or reportingComponent */
	char involved_kind[32];
	char involved_name[254];
	char involved_field_path[96]; /* "spec.containers{app}": the container an event is about */
	char first_time[40];      /* firstTimestamp, else eventTime, else creationTimestamp */
	char last_time[40];
	int count;                /* count or series.count; 1 when neither (events.k8s.io) */
	char resource_version[32];
};

/* The hash of an argv as the kernel holds it (arguments NUL-terminated, one
 * after another): its first KUBE_ARGV_PREFIX bytes (captured: how many of
 * those are at bytes) and its whole length, so that a long argv still
 * compares. */
uint64_t kube_argv_hash(const char *bytes, size_t captured, size_t total);

/* The container's exec probe or hook whose argv this is (hash and length as
 * kube_argv_hash), NULL if none. */
const struct kube_exec *kube_container_exec(const struct kube_container *k, uint64_t hash, uint32_t len);

/* Decode; -EINVAL when a field the object cannot be without (uid) is missing. */
int kube_pod_decode(const cJSON *obj, struct kube_pod *ret);
int kube_node_decode(const cJSON *obj, struct kube_node *ret);
int kube_event_obj_decode(const cJSON *obj, struct kube_event_obj *ret);

/* The bytes of p in use: up to its last container. A copy of that many bytes
 * (kube_pod_dup) is a pod that must never be copied whole. */
size_t kube_pod_size(const struct kube_pod *p);
/* a heap copy of p sized by kube_pod_size; NULL on ENOMEM; free() it */
struct kube_pod *kube_pod_dup(const struct kube_pod *p);

/* Is p the pod whose cgroup carries cgroup_uid? Its uid, or for a static pod's mirror the config
 * hash the kubelet put in the cgroup path (the mirror's uid is another). */
static inline bool kube_pod_is(const struct kube_pod *p, const char *cgroup_uid)
{
	return !strcmp(p->uid, cgroup_uid) || (p->mirror_of[0] && !strcmp(p->mirror_of, cgroup_uid));
}

/* The inverse of decode, in the API's shape, holding only what decode
 * reads: decode(encode(x)) == x. For the checkpoint. NULL on ENOMEM. */
cJSON *kube_pod_encode(const struct kube_pod *p);
cJSON *kube_node_encode(const struct kube_node *n);

/* The pod's container with this runtime id: the current one, or the one its
 * lastState remembers (after a restart). *ret_term: how it ended, if the
 * API says so (NULL otherwise). NULL when no container has the id (the
 * pod's sandbox, or another pod's container). pod may be NULL. */
const struct kube_container *kube_pod_container_by_id(const struct kube_pod *pod, const char *id,
						     const struct kube_terminated **ret_term);

struct record;
/* Fill a record's pod keys (uid, name, namespace, QoS class, owner) from p;
 * the record points into p, which must outlive it. */
void kube_pod_to_record(const struct kube_pod *p, struct record *r);

/* "512Mi", "1G", "1.5Gi", "128974848", "129e6", "123m" -> bytes; -1 if unparsable */
int64_t kube_quantity_bytes(const char *q);

#endif
