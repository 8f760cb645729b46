/* The tracked cgroups, in user space and in the kernel's filter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/u64map.h"
#include "nodetrail/kernel/cgroup_map.h"
#include "nodetrail/kernel/probes.h"

struct cgroup_map {
	struct u64map *entries;   /* id -> struct cgroup_entry * */
	struct probes *probes;
	uint64_t kernel_refused;  /* cgroups the kernel's map would not take */
};

int cgroup_map_new(uint32_t cap, struct probes *probes, struct cgroup_map **ret)
{
	struct cgroup_map *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	if (u64map_new(cap, &m->entries) < 0) {
		free(m);
		return -ENOMEM;
	}
	m->probes = probes;
	*ret = m;
	return 0;
}

void cgroup_map_free(struct cgroup_map *m)
{
	if (!m)
		return;
	u64map_free(m->entries, free);
	free(m);
}

static enum nt_cgroup_kind kernel_kind(const struct cgroup_ref *ref)
{
	return cgroup_kind_is_container(ref->kind) ? NT_CG_CONTAINER : NT_CG_ANCESTOR;
}

/* the user-space entry: added or replaced */
static int put(struct cgroup_map *m, uint64_t id, uint64_t parent_id, const char *path, int64_t created_boot_ns,
	       struct cgroup_entry **ret)
{
	struct cgroup_entry *e = u64map_get(m->entries, id);
	const struct cgroup_entry *parent = u64map_get(m->entries, parent_id);
	bool fresh = !e;
	int err;

	if (fresh) {
		e = malloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
	}
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->container_cgroup_id = id;
	e->created_boot_ns = created_boot_ns;
	snprintf(e->path, sizeof(e->path), "%s", path);
	if (cgroup_parse_path(e->path, &e->ref) < 0)
		memset(&e->ref, 0, sizeof(e->ref));
	if (e->ref.kind == CGROUP_KIND_CONTAINER_CHILD && parent && parent != e)
		e->container_cgroup_id = parent->container_cgroup_id;
	if (fresh) {
		err = u64map_put(m->entries, id, e, NULL);
		if (err < 0) {
			free(e);
			return err;
		}
	}
	*ret = e;
	return 0;
}

int cgroup_map_track(struct cgroup_map *m, uint64_t id, uint64_t parent_id, const char *path,
		     int64_t created_boot_ns, bool exec_seen, const struct cgroup_entry **ret)
{
	struct cgroup_entry *e;
	int err = put(m, id, parent_id, path, created_boot_ns, &e);

	if (err < 0) {
		/* the kernel may have tracked it already (a child of a tracked cgroup) */
		if (m->probes)
			probes_untrack(m->probes, id);
		return err;
	}
	if (m->probes && (err = probes_track(m->probes, id, kernel_kind(&e->ref), exec_seen)) < 0) {
		m->kernel_refused++;
		free(u64map_take(m->entries, id));
		return err;
	}
	if (ret)
		*ret = e;
	return 0;
}

int cgroup_map_untrack(struct cgroup_map *m, uint64_t id)
{
	struct cgroup_entry *e = u64map_take(m->entries, id);

	if (!e)
		return -ENOENT;
	free(e);
	return 0;
}

int cgroup_map_set_main(struct cgroup_map *m, uint64_t id, uint32_t tgid)
{
	if (!u64map_get(m->entries, id))
		return -ENOENT;
	return m->probes ? probes_set_main(m->probes, id, tgid) : 0;
}

const struct cgroup_entry *cgroup_map_get(const struct cgroup_map *m, uint64_t id)
{
	return u64map_get(m->entries, id);
}

uint32_t cgroup_map_count(const struct cgroup_map *m)
{
	return u64map_count(m->entries);
}

struct each {
	void (*cb)(void *ctx, const struct cgroup_entry *e);
	void *ctx;
};

static void each_one(void *ctx, uint64_t key, void *value)
{
	struct each *x = ctx;

	x->cb(x->ctx, value);
}

void cgroup_map_each(const struct cgroup_map *m, void (*cb)(void *ctx, const struct cgroup_entry *e), void *ctx)
{
	struct each x = { cb, ctx };

	u64map_each(m->entries, each_one, &x);
}

uint64_t cgroup_map_dropped(const struct cgroup_map *m)
{
	return u64map_dropped(m->entries) + m->kernel_refused;
}
