/* cgroup map, mode detection and startup scan. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "nodetrail/cgroup_map.h"
#include "nodetrail/u64map.h"

/* ---- mode ---- */

static bool is_cgroup2(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* hierarchy id of the memory controller from /proc/cgroups, or -1 */
static int memory_hierarchy_id(void)
{
	char name[64];
	int hier, num, enabled, id = -1;
	FILE *f = fopen("/proc/cgroups", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%*[^\n]\n") < 0) { /* header line */
		fclose(f);
		return -1;
	}
	while (fscanf(f, "%63s %d %d %d\n", name, &hier, &num, &enabled) == 4)
		if (strcmp(name, "memory") == 0 && enabled && hier > 0)
			id = hier;
	fclose(f);
	return id;
}

int cgroup_detect_mode(const char *root, struct cgroup_mode *ret, char *errbuf, size_t errlen)
{
	struct statfs sfs;
	char path[PATH_MAX];
	int mem;

	if (statfs(root, &sfs) < 0) {
		snprintf(errbuf, errlen, "cgroup root %s: %s: mount the host's cgroup filesystem there or pass --cgroup-root",
			 root, strerror(errno));
		return -errno;
	}
	memset(ret, 0, sizeof(*ret));
	if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
		ret->name = "v2";
		ret->v2_ids = true;
		ret->hierarchy_id = 0;
		snprintf(ret->dir, sizeof(ret->dir), "%s", root);
		return 0;
	}
	/* v1 or hybrid: key on the memory controller, which every kubelet
	 * configures (cpuset may be absent) */
	snprintf(path, sizeof(path), "%s/memory", root);
	mem = memory_hierarchy_id();
	if (mem > 0 && access(path, F_OK) == 0) {
		snprintf(ret->dir, sizeof(ret->dir), "%s", path);
		ret->hierarchy_id = mem;
		ret->v2_ids = false;
		snprintf(path, sizeof(path), "%s/unified", root);
		ret->name = is_cgroup2(path) ? "hybrid" : "v1";
		return 0;
	}
	snprintf(path, sizeof(path), "%s/unified", root);
	if (is_cgroup2(path)) {
		ret->name = "hybrid";
		ret->v2_ids = true;
		ret->hierarchy_id = 0;
		snprintf(ret->dir, sizeof(ret->dir), "%s", path);
		return 0;
	}
	snprintf(errbuf, errlen,
		 "no cgroup hierarchy to key on under %s: neither cgroup2 nor a v1 memory controller is mounted there; pass --cgroup-root",
		 root);
	return -ENOENT;
}

/* ---- map ---- */

struct cgroup_map {
	struct u64map *entries;   /* id -> struct cgroup_entry * */
};

struct cgroup_map *cgroup_map_new(uint32_t cap)
{
	struct cgroup_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->entries = u64map_new(cap);
	if (!m->entries) {
		free(m);
		return NULL;
	}
	return m;
}

void cgroup_map_free(struct cgroup_map *m)
{
	if (!m)
		return;
	u64map_free(m->entries, free);
	free(m);
}

int cgroup_map_put(struct cgroup_map *m, uint64_t id, uint64_t parent_id, const char *path,
		   int64_t created_boot_ns, const struct cgroup_entry **ret)
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
	if (ret)
		*ret = e;
	return 0;
}

const struct cgroup_entry *cgroup_map_get(const struct cgroup_map *m, uint64_t id)
{
	return u64map_get(m->entries, id);
}

int cgroup_map_remove(struct cgroup_map *m, uint64_t id)
{
	struct cgroup_entry *e = u64map_take(m->entries, id);

	if (!e)
		return -ENOENT;
	free(e);
	return 0;
}

uint32_t cgroup_map_count(const struct cgroup_map *m)
{
	return u64map_count(m->entries);
}

uint64_t cgroup_map_dropped(const struct cgroup_map *m)
{
	return u64map_dropped(m->entries);
}

/* ---- startup scan ---- */

#define SCAN_MAX_DEPTH 12

static bool dir_has_procs(int dirfd)
{
	char buf[16];
	ssize_t n;
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0;
}

static int scan_dir(int dirfd, uint64_t parent_id, char *path, size_t len, int depth, cgroup_scan_cb cb,
		    void *ctx)
{
	struct cgroup_ref ref;
	struct dirent *de;
	struct stat st;
	int seen = 0;
	DIR *d;

	if (fstat(dirfd, &st) < 0)
		return 0;
	if (cgroup_parse_path(len ? path : "/", &ref) == 0 && ref.kind != CGROUP_KIND_HOST) {
		cb(ctx, (uint64_t)st.st_ino, parent_id, len ? path : "/", &ref, dir_has_procs(dirfd));
		seen = 1;
	}
	if (depth >= SCAN_MAX_DEPTH)
		return seen;
	d = fdopendir(dirfd);
	if (!d)
		return seen;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (len + 1 + n >= NT_CGROUP_PATH_LEN)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			seen += scan_dir(sub, (uint64_t)st.st_ino, path, len + 1 + n, depth + 1, cb, ctx);
		path[len] = '\0';
	}
	closedir(d);
	return seen;
}

int cgroup_scan(const struct cgroup_mode *mode, cgroup_scan_cb cb, void *ctx)
{
	char path[NT_CGROUP_PATH_LEN] = "";
	int fd = open(mode->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return scan_dir(fd, 0, path, 0, 0, cb, ctx);
}
