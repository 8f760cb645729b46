/* cgroup path parsing: what a cgroup path says about pods and containers.
 *
 * Pure functions, no I/O. Paths are as the kernel reports them (relative to
 * a hierarchy root, e.g. the cgroup_mkdir tracepoint or /proc/<pid>/cgroup),
 * or absolute under a cgroupfs mount (/sys/fs/cgroup/memory/...): both work. */
#ifndef NODETRAIL_KERNEL_CGROUP_H
#define NODETRAIL_KERNEL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_POD_UID_LEN 36     /* canonical UUID with dashes */
#define CGROUP_CONTAINER_ID_LEN 64

enum cgroup_kind {
	CGROUP_KIND_HOST = 0,     /* not Kubernetes: system.slice, user sessions, ... */
	CGROUP_KIND_KUBEPODS,     /* the kubepods root (kubepods.slice, /kubepods) */
	CGROUP_KIND_QOS,          /* burstable / besteffort class cgroup */
	CGROUP_KIND_POD,          /* pod<uid> cgroup */
	CGROUP_KIND_CONTAINER,    /* a container (or sandbox) cgroup */
	CGROUP_KIND_CONTAINER_CHILD, /* a cgroup below a container cgroup */
	CGROUP_KIND_CONMON,       /* CRI-O's conmon monitor, not a container */
	CGROUP_KIND_OTHER_POD_CHILD, /* under a pod, not a container (.mount units, ...) */
};

enum cgroup_runtime {
	CGROUP_RUNTIME_UNKNOWN = 0, /* bare 64-hex id (cgroupfs): containerd or docker */
	CGROUP_RUNTIME_CONTAINERD,
	CGROUP_RUNTIME_CRIO,
	CGROUP_RUNTIME_DOCKER,
};

enum cgroup_qos {
	CGROUP_QOS_NONE = 0,      /* not under kubepods */
	CGROUP_QOS_GUARANTEED,    /* pod directly under the kubepods root */
	CGROUP_QOS_BURSTABLE,
	CGROUP_QOS_BESTEFFORT,
};

struct cgroup_ref {
	enum cgroup_kind kind;
	enum cgroup_runtime runtime;
	enum cgroup_qos qos;
	/* pod UID with dashes (systemd's '_' restored); a static pod's 32-hex
	 * config hash is kept as it is. Empty when the path has no pod. */
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	/* full 64-character lowercase container id of the innermost container,
	 * empty when the path names none */
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	/* bytes of the path up to and including the container's own cgroup
	 * component (so a child maps to its container); 0 without a container */
	size_t container_path_len;
};

/* Parse a cgroup path. Returns 0 and fills *ret for every well-formed path
 * (host paths included: kind HOST); -EINVAL for NULL or empty input. */
int cgroup_parse_path(const char *path, struct cgroup_ref *ret);

/* True for kinds that carry events: CONTAINER and CONTAINER_CHILD. */
bool cgroup_kind_is_container(enum cgroup_kind kind);

/* Stable lowercase names for records and logs. */
const char *cgroup_kind_name(enum cgroup_kind kind);
const char *cgroup_runtime_name(enum cgroup_runtime runtime);
const char *cgroup_qos_name(enum cgroup_qos qos);

#endif
