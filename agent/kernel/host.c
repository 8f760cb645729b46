/* The host at start: cgroup mode, the Kubernetes cgroup tree, the
 * processes in a cgroup. */
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

#include "nodetrail/kernel/events.h"
#include "nodetrail/kernel/host.h"

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

	/* scan_dir owns dirfd: every way out closes it */
	if (fstat(dirfd, &st) < 0) {
		close(dirfd);
		return 0;
	}
	if (cgroup_parse_path(len ? path : "/", &ref) == 0 && ref.kind != CGROUP_KIND_HOST) {
		cb(ctx, (uint64_t)st.st_ino, parent_id, len ? path : "/", &ref, dir_has_procs(dirfd));
		seen = 1;
	}
	if (depth >= SCAN_MAX_DEPTH) {
		close(dirfd);
		return seen;
	}
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return seen;
	}
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

/* ---- processes ---- */

int host_cgroup_procs(const struct cgroup_mode *mode, const char *path, int *pids, int max)
{
	char file[PATH_MAX + NT_CGROUP_PATH_LEN + 16];
	int n = 0, pid;
	FILE *f;

	snprintf(file, sizeof(file), "%s%s/cgroup.procs", mode->dir, path);
	f = fopen(file, "re");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

/* fields 4 (ppid) and 22 (starttime, clock ticks since boot) of /proc/<pid>/stat, after the
 * parenthesised comm; false when the process is gone */
static bool read_stat(int pid, struct host_proc *ret)
{
	char file[64], buf[1024], *p;
	unsigned long long start;
	bool ok = false;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/stat", pid);
	f = fopen(file, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &ret->ppid, &start) == 2) {
		ret->pid = pid;
		ret->start_ticks = start;
		ok = true;
	}
	fclose(f);
	return ok;
}

static bool proc_in(const struct host_proc *procs, int n, int pid)
{
	for (int i = 0; i < n; i++)
		if (procs[i].pid == pid)
			return true;
	return false;
}

int host_pick_main(const struct host_proc *procs, int n)
{
	const struct host_proc *best = NULL;

	for (int i = 0; i < n; i++) {
		const struct host_proc *p = &procs[i];

		if (p->ppid > 0 && proc_in(procs, n, p->ppid))
			continue;
		/* the oldest by start time: pids wrap around, a later exec can have a lower one */
		if (!best || p->start_ticks < best->start_ticks ||
		    (p->start_ticks == best->start_ticks && p->pid < best->pid))
			best = p;
	}
	return best ? best->pid : 0;
}

int host_main_pid(const struct cgroup_mode *mode, const char *path)
{
	int pids[HOST_MAX_PROCS], n = host_cgroup_procs(mode, path, pids, HOST_MAX_PROCS), m = 0;
	struct host_proc *procs = calloc((size_t)(n > 0 ? n : 1), sizeof(*procs));
	int main_pid;

	if (!procs)
		return 0;
	for (int i = 0; i < n; i++)
		if (read_stat(pids[i], &procs[m]))
			m++;
	main_pid = host_pick_main(procs, m);
	free(procs);
	return main_pid;
}

static bool pid_in(const int *pids, int n, int pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

bool host_pid_in_cgroup(const struct cgroup_mode *mode, const char *path, int pid)
{
	int pids[HOST_MAX_PROCS], n = host_cgroup_procs(mode, path, pids, HOST_MAX_PROCS);

	return pid_in(pids, n, pid);
}
