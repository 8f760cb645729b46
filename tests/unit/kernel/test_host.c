/* host: cgroup mode on this host, the startup scan of a cgroup tree, and the
 * processes in a cgroup. The tree is a plain directory shaped like a
 * kubelet's (the scan reads directories and cgroup.procs files only). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/kernel/host.h"

#define UID "87c52d60-fefd-45a9-a420-895256fc03b5"
#define CID "a126df15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46"
#define POD "/kubepods/burstable/pod" UID

static void test_detect_mode_here(void **state)
{
	struct cgroup_mode mode;
	char err[256];

	assert_int_equal(cgroup_detect_mode("/nonexistent/cgroup", &mode, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "--cgroup-root"));
	if (access("/sys/fs/cgroup", F_OK) != 0)
		skip();
	assert_int_equal(cgroup_detect_mode("/sys/fs/cgroup", &mode, err, sizeof(err)), 0);
	/* whatever this host is, the ids must come from one hierarchy */
	assert_true(strcmp(mode.name, "v1") == 0 || strcmp(mode.name, "v2") == 0 || strcmp(mode.name, "hybrid") == 0);
	assert_true(mode.v2_ids ? mode.hierarchy_id == 0 : mode.hierarchy_id > 0);
	assert_int_equal(access(mode.dir, F_OK), 0);
}

struct tree {
	struct cgroup_mode mode;
	char root[64];
};

static void mkdirs(struct tree *t, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", t->root, rel);
	for (char *p = path + strlen(t->root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void write_procs(struct tree *t, const char *rel, const char *pids)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", t->root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(pids, f);
	fclose(f);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	snprintf(t->root, sizeof(t->root), "/tmp/nodetrail-host-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	t->mode.name = "v2";
	t->mode.v2_ids = true;
	snprintf(t->mode.dir, sizeof(t->mode.dir), "%s", t->root);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

struct seen {
	int n;
	char paths[16][256];
	bool procs[16];
};

static void on_cgroup(void *ctx, uint64_t id, uint64_t parent_id, const char *path, const struct cgroup_ref *ref,
		      bool has_procs)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
	s->procs[s->n++] = has_procs;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	closedir(d);
	return n;
}

/* the Kubernetes cgroups of the tree, parents first, not the host's; with a
 * branch deeper than the scan goes, and no descriptor left open */
static void test_scan_tree(void **state)
{
	struct tree *t = *state;
	struct seen s = { 0 };
	int fds = open_fds();

	mkdirs(t, POD "/" CID);
	mkdirs(t, "/system.slice/cron.service");
	mkdirs(t, POD "/" CID "/a/b/c/d/e/f/g/h/i/j/k/l/m");
	write_procs(t, POD "/" CID, "4242\n");
	write_procs(t, POD, "");
	assert_true(cgroup_scan(&t->mode, on_cgroup, &s) >= 4);
	assert_int_equal(open_fds(), fds);
	for (int i = 0; i < s.n; i++) {
		assert_null(strstr(s.paths[i], "system.slice"));
		if (!strcmp(s.paths[i], POD "/" CID))
			assert_true(s.procs[i]);
		if (!strcmp(s.paths[i], POD))
			assert_false(s.procs[i]);
	}
	assert_string_equal(s.paths[0], "/kubepods");
	assert_string_equal(s.paths[1], "/kubepods/burstable");
	assert_string_equal(s.paths[2], POD);
	assert_string_equal(s.paths[3], POD "/" CID);
}

/* the main process is the one whose parent is outside the cgroup: here this
 * test's own process, with a child of its own beside it */
static void test_main_pid(void **state)
{
	struct tree *t = *state;
	char pids[64];
	pid_t child = fork();

	if (child == 0) {
		pause();
		_exit(0);
	}
	mkdirs(t, POD "/" CID);
	snprintf(pids, sizeof(pids), "%d\n%d\n", (int)child, (int)getpid());
	write_procs(t, POD "/" CID, pids);
	assert_int_equal(host_main_pid(&t->mode, POD "/" CID), getpid());
	assert_true(host_pid_in_cgroup(&t->mode, POD "/" CID, child));
	assert_false(host_pid_in_cgroup(&t->mode, POD "/" CID, 1));
	assert_int_equal(host_main_pid(&t->mode, POD "/missing"), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* pids wrap around: the container's main process (started first) can have a higher pid than a
 * process exec'd in later; a child of either is never the main one */
static void test_main_pid_after_wraparound(void **state)
{
	const struct host_proc procs[] = {
		{ .pid = 31000, .ppid = 900, .start_ticks = 5000 },  /* the main process, from the shim */
		{ .pid = 212, .ppid = 900, .start_ticks = 990000 },  /* kubectl exec, after the wrap */
		{ .pid = 213, .ppid = 31000, .start_ticks = 990001 }, /* a child of the main process */
	};

	assert_int_equal(host_pick_main(procs, 3), 31000);
	assert_int_equal(host_pick_main(procs + 1, 2), 212);
	assert_int_equal(host_pick_main(procs, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect_mode_here),
		cmocka_unit_test_setup_teardown(test_scan_tree, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_main_pid, tree_setup, tree_teardown),
		cmocka_unit_test(test_main_pid_after_wraparound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
