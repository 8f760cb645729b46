/* cgroup map: the agent's view of the cgroups it tracks (cgroup id ->
 * path, pod UID, container id), the host's cgroup mode, and the startup scan
 * that finds cgroups and processes which existed before the agent. */
#ifndef NODETRAIL_CGROUP_MAP_H
#define NODETRAIL_CGROUP_MAP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/cgroup.h"
#include "nodetrail/events.h"

struct cgroup_mode {
	const char *name;         /* "v1", "v2" or "hybrid" */
	bool v2_ids;              /* ids are of the default (v2) hierarchy */
	int hierarchy_id;         /* hierarchy the ids belong to (0 on v2) */
	char dir[PATH_MAX];       /* where that hierarchy is mounted */
};

/* Find out how cgroups are mounted under root (DESIGN 2): pure v2, or v1 /
 * hybrid where ids are the memory controller's. -errno and a reason. */
int cgroup_detect_mode(const char *root, struct cgroup_mode *ret, char *errbuf, size_t errlen);

struct cgroup_entry {
	uint64_t id;              /* kernfs id (the directory's inode number) */
	uint64_t container_cgroup_id; /* the container's own cgroup (self, or the parent of a child) */
	struct cgroup_ref ref;    /* what the path says */
	int64_t created_boot_ns;  /* from cgroup_mkdir; 0 when found by the scan */
	char path[NT_CGROUP_PATH_LEN]; /* relative to the hierarchy root */
};

struct cgroup_map;

struct cgroup_map *cgroup_map_new(uint32_t cap);
void cgroup_map_free(struct cgroup_map *m);

/* Add or replace the entry for id, parsing path; a container's child
 * cgroup inherits container_cgroup_id from its parent's entry (parent_id).
 * -ENOSPC (counted as dropped) when the map is full. *ret (optional) points into the map, valid
 * until the next put or remove. */
int cgroup_map_put(struct cgroup_map *m, uint64_t id, uint64_t parent_id, const char *path,
		   int64_t created_boot_ns, const struct cgroup_entry **ret);
const struct cgroup_entry *cgroup_map_get(const struct cgroup_map *m, uint64_t id);
int cgroup_map_remove(struct cgroup_map *m, uint64_t id);
uint32_t cgroup_map_count(const struct cgroup_map *m);
uint64_t cgroup_map_dropped(const struct cgroup_map *m);

/* Called by the scan for each Kubernetes cgroup directory (kubepods roots,
 * QoS, pods, containers and their children), parents before children. */
typedef void (*cgroup_scan_cb)(void *ctx, uint64_t id, uint64_t parent_id, const char *path,
			       const struct cgroup_ref *ref, bool has_procs);
/* Walk the hierarchy under mode->dir (bounded depth). Returns cgroups seen or -errno. */
int cgroup_scan(const struct cgroup_mode *mode, cgroup_scan_cb cb, void *ctx);

#endif
