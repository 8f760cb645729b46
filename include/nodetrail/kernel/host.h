/* The host as the kernel stage reads it at start: how cgroups are mounted,
 * the Kubernetes cgroups that exist already, and which processes are in
 * them. Reads only /proc and the cgroup filesystem. */
#ifndef NODETRAIL_KERNEL_HOST_H
#define NODETRAIL_KERNEL_HOST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodetrail/kernel/cgroup.h"

struct cgroup_mode {
	const char *name;         /* "v1", "v2" or "hybrid" */
	bool v2_ids;              /* ids are of the default (v2) hierarchy */
	int hierarchy_id;         /* hierarchy the ids belong to (0 on v2) */
	char dir[PATH_MAX];       /* where that hierarchy is mounted */
};

/* Find out how cgroups are mounted under root (DESIGN 2): pure v2, or v1 /
 * hybrid where ids are the memory controller's. -errno and a reason. */
int cgroup_detect_mode(const char *root, struct cgroup_mode *ret, char *errbuf, size_t errlen);

/* Called by the scan for each Kubernetes cgroup directory (kubepods roots,
 * QoS, pods, containers and their children), parents before children. */
typedef void (*cgroup_scan_cb)(void *ctx, uint64_t id, uint64_t parent_id, const char *path,
			       const struct cgroup_ref *ref, bool has_procs);
/* Walk the hierarchy under mode->dir (bounded depth). Returns cgroups seen or -errno. */
int cgroup_scan(const struct cgroup_mode *mode, cgroup_scan_cb cb, void *ctx);

#define HOST_MAX_PROCS 1024       /* processes read from one cgroup.procs */

/* The pids in the cgroup at `path` (relative to mode->dir), from its
 * cgroup.procs: pids of the reader's pid namespace (the host's: the
 * DaemonSet runs with hostPID) and, unlike /proc/<pid>/cgroup, not rewritten
 * by a private cgroup namespace. At most max; 0 when unreadable. */
int host_cgroup_procs(const struct cgroup_mode *mode, const char *path, int *pids, int max);

/* A running container's main process: of the processes in its cgroup whose
 * parent is outside it (the runtime's shim started it; processes exec'd in
 * later look the same), the one started first (/proc/<pid>/stat starttime;
 * not the lowest pid: pids wrap around). 0 if none. */
int host_main_pid(const struct cgroup_mode *mode, const char *path);

/* a process as host_main_pid weighs it */
struct host_proc {
	int pid;
	int ppid;
	unsigned long long start_ticks; /* since boot */
};

/* host_main_pid's choice among procs (for tests); 0 if none. */
int host_pick_main(const struct host_proc *procs, int n);

/* Is pid still in the cgroup at path? */
bool host_pid_in_cgroup(const struct cgroup_mode *mode, const char *path, int pid);

#endif
