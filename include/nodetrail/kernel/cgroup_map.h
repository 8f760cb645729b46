/* cgroup map: the cgroups the agent tracks (cgroup id -> path, pod UID,
 * container id), kept in step with the probes' in-kernel filter map, so
 * that what user space knows and what the kernel reports agree. */
#ifndef NODETRAIL_KERNEL_CGROUP_MAP_H
#define NODETRAIL_KERNEL_CGROUP_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/kernel/cgroup.h"
#include "nodetrail/kernel/events.h"

struct probes;

struct cgroup_entry {
	uint64_t id;              /* kernfs id (the directory's inode number) */
	uint64_t container_cgroup_id; /* the container's own cgroup (self, or the parent of a child) */
	struct cgroup_ref ref;    /* what the path says */
	int64_t created_boot_ns;  /* from cgroup_mkdir; 0 when found by the scan */
	char path[NT_CGROUP_PATH_LEN]; /* relative to the hierarchy root */
};

struct cgroup_map;

/* probes: the in-kernel filter to keep in step, NULL without eBPF (tests,
 * --bpf off). 0, or -ENOMEM. */
int cgroup_map_new(uint32_t cap, struct probes *probes, struct cgroup_map **ret);
void cgroup_map_free(struct cgroup_map *m);

/* Track a cgroup: add or replace the entry for id, parsing path (a
 * container's child cgroup inherits container_cgroup_id from its parent's
 * entry, parent_id), and put it in the kernel's filter. exec_seen marks a
 * running container's first exec as already past (found by the scan).
 * -ENOSPC (counted as dropped) when either map is full; then the cgroup is
 * in neither. *ret (optional) points into the map, valid until the next
 * track or untrack. */
int cgroup_map_track(struct cgroup_map *m, uint64_t id, uint64_t parent_id, const char *path,
		     int64_t created_boot_ns, bool exec_seen, const struct cgroup_entry **ret);
/* Forget a cgroup (removed): from both maps. 0, or -ENOENT. */
int cgroup_map_untrack(struct cgroup_map *m, uint64_t id);
/* A container's main process, for the kernel's filter (its exit leaves the
 * kernel, its siblings' do not). 0, -ENOENT, or -errno from the kernel map. */
int cgroup_map_set_main(struct cgroup_map *m, uint64_t id, uint32_t tgid);
const struct cgroup_entry *cgroup_map_get(const struct cgroup_map *m, uint64_t id);
uint32_t cgroup_map_count(const struct cgroup_map *m);
/* Every entry; cb may not track or untrack. */
void cgroup_map_each(const struct cgroup_map *m, void (*cb)(void *ctx, const struct cgroup_entry *e), void *ctx);
uint64_t cgroup_map_dropped(const struct cgroup_map *m);

#endif
