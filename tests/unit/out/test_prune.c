/* prune: which files of the output directory a pass deletes (earlier pods of this DaemonSet,
 * regular files untouched long enough) and which it never touches (the live file under any name,
 * its rotated siblings, young files, other workloads' files, symlinks, FIFOs, directories, names
 * that only look alike), and the record that says so. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "nodetrail/base/loop.h"
#include "nodetrail/out/prune.h"

#define HEX_LIVE "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX_OLD "2222222222222222222222222222222222222222222222222222222222222222"
#define HEX_OTHER "3333333333333333333333333333333333333333333333333333333333333333"
#define LIVE "nodetrail-abcde_kube-system_agent-" HEX_LIVE ".log"
#define EARLIER "nodetrail-old01_kube-system_agent-" HEX_OLD ".log"
#define HOUR_S 3600

struct fx {
	char dir[64];
	int live_fd;
	int64_t now_ns;
	struct prune_options o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct stat st;
	char path[256];

	strcpy(f->dir, "/tmp/nodetrail-prune-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/" LIVE, f->dir);
	f->live_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	assert_true(f->live_fd >= 0);
	assert_int_equal(fstat(f->live_fd, &st), 0);
	f->now_ns = (int64_t)time(NULL) * 1000000000LL;
	f->o = (struct prune_options){ .dir = f->dir, .live_name = LIVE, .live_dev = st.st_dev, .live_ino = st.st_ino,
				       .pod_name = "nodetrail-abcde", .pod_namespace = "kube-system",
				       .container_name = "agent", .now_ns = f->now_ns, .older_than_s = HOUR_S };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	close(f->live_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* name in the fixture's dir, `bytes` long, last modified age_s ago (no follow: a link's own time) */
static void make_file(struct fx *f, const char *name, size_t bytes, int64_t age_s)
{
	char path[512];
	struct timespec t[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	for (size_t i = 0; i < bytes; i++)
		assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	t[0].tv_sec = t[1].tv_sec = f->now_ns / 1000000000LL - age_s;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
}

static void age(struct fx *f, const char *name, int64_t age_s)
{
	char path[512];
	struct timespec t[2];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	t[0].tv_sec = t[1].tv_sec = f->now_ns / 1000000000LL - age_s;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
}

static bool exists(struct fx *f, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return lstat(path, &st) == 0;
}

static void test_old_file_of_an_earlier_pod_removed(void **state)
{
	struct fx *f = *state;
	struct prune_result r;

	make_file(f, EARLIER, 100, 2 * HOUR_S);
	make_file(f, EARLIER ".20261201-101010", 50, 3 * HOUR_S);   /* its rotated ones too */
	make_file(f, EARLIER ".20261201-101010.2", 25, 3 * HOUR_S);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 3);
	assert_int_equal(r.bytes_freed, 175);
	assert_int_equal(r.errors, 0);
	assert_false(r.capped);
	assert_int_equal(r.listed, 3);
	assert_false(exists(f, EARLIER));
	assert_false(exists(f, EARLIER ".20261201-101010"));
	assert_false(exists(f, EARLIER ".20261201-101010.2"));
	assert_true(exists(f, LIVE));
	for (uint32_t i = 0; i < r.listed; i++) {
		assert_int_equal(strncmp(r.files[i].name, EARLIER, strlen(EARLIER)), 0);
		assert_true(r.files[i].modified_ns <= f->now_ns - 2LL * HOUR_S * 1000000000LL);
	}
}

/* the live file, however old, and its rotated siblings are the writer's; a link to it under an
 * earlier pod's name is still it */
static void test_live_file_kept(void **state)
{
	struct fx *f = *state;
	struct prune_result r;
	char live[512], alias[512];

	age(f, LIVE, 5 * HOUR_S);
	make_file(f, LIVE ".20261201-101010", 10, 5 * HOUR_S);
	snprintf(live, sizeof(live), "%s/" LIVE, f->dir);
	snprintf(alias, sizeof(alias), "%s/nodetrail-old02_kube-system_agent-" HEX_OTHER ".log", f->dir);
	assert_int_equal(link(live, alias), 0);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 0);
	assert_true(exists(f, LIVE));
	assert_true(exists(f, LIVE ".20261201-101010"));
	assert_true(exists(f, "nodetrail-old02_kube-system_agent-" HEX_OTHER ".log"));
}

static void test_young_file_kept(void **state)
{
	struct fx *f = *state;
	struct prune_result r;

	make_file(f, EARLIER, 10, HOUR_S - 60);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.candidates, 1);
	assert_int_equal(r.removed, 0);
	assert_true(exists(f, EARLIER));
	/* at the age exactly: gone */
	f->o.now_ns += 60LL * 1000000000LL;
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 1);
	/* 0: never */
	make_file(f, EARLIER, 10, 100 * HOUR_S);
	f->o.older_than_s = 0;
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 0);
	assert_true(exists(f, EARLIER));
}

/* another namespace, another container, another workload's pods in the same namespace: not ours */
static void test_other_workloads_kept(void **state)
{
	static const char *const names[] = {
		"nodetrail-old01_default_agent-" HEX_OLD ".log",
		"nodetrail-old01_kube-system_agent2-" HEX_OLD ".log",
		"nodetrail-old01_kube-system_agen-" HEX_OLD ".log",
		"fluent-bit-x1y2z_kube-system_agent-" HEX_OLD ".log",
		"nodetrail-_kube-system_agent-" HEX_OLD ".log",
		"nodetrailx_kube-system_agent-" HEX_OLD ".log",
		"_kube-system_agent-" HEX_OLD ".log",
	};
	struct fx *f = *state;
	struct prune_result r;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		make_file(f, names[i], 10, 5 * HOUR_S);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.candidates, 0);
	assert_int_equal(r.removed, 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_true(exists(f, names[i]));
}

/* the kubelet's own log links in /var/log/containers look exactly like this */
static void test_symlink_kept(void **state)
{
	struct fx *f = *state;
	struct prune_result r;
	char target[512], link_path[512];

	make_file(f, "target-outside-the-pattern", 10, 5 * HOUR_S);
	snprintf(target, sizeof(target), "%s/target-outside-the-pattern", f->dir);
	snprintf(link_path, sizeof(link_path), "%s/" EARLIER, f->dir);
	assert_int_equal(symlink(target, link_path), 0);
	age(f, EARLIER, 5 * HOUR_S);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.candidates, 1);
	assert_int_equal(r.removed, 0);
	assert_true(exists(f, EARLIER));
	assert_true(exists(f, "target-outside-the-pattern"));
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_prune: the pass blocked on a FIFO\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/* a FIFO is never opened (an open would wait for a writer) and never deleted; nor a directory */
static void test_fifo_and_directory_kept(void **state)
{
	struct fx *f = *state;
	struct prune_result r;
	char path[512];

	snprintf(path, sizeof(path), "%s/" EARLIER, f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	age(f, EARLIER, 5 * HOUR_S);
	snprintf(path, sizeof(path), "%s/nodetrail-old02_kube-system_agent-" HEX_OTHER ".log", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	age(f, "nodetrail-old02_kube-system_agent-" HEX_OTHER ".log", 5 * HOUR_S);
	signal(SIGALRM, on_alarm);
	alarm(5);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	alarm(0);
	assert_int_equal(r.candidates, 2);
	assert_int_equal(r.removed, 0);
	assert_int_equal(r.errors, 0);
	assert_true(exists(f, EARLIER));
	assert_true(exists(f, "nodetrail-old02_kube-system_agent-" HEX_OTHER ".log"));
}

/* the pattern exactly: 64 lowercase hex, .log, and only the writer's rotation suffix after it */
static void test_lookalike_names_kept(void **state)
{
	static const char *const names[] = {
		"nodetrail-old01_kube-system_agent-" HEX_OLD "2.log",                        /* 65 hex */
		"nodetrail-old01_kube-system_agent-222222222222222222222222222222222222222222222222222222222222222.log", /* 63 */
		"nodetrail-old01_kube-system_agent-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.log",
		"nodetrail-old01_kube-system_agent-" HEX_OLD ".logx",
		"nodetrail-old01_kube-system_agent-" HEX_OLD ".log.bak",
		"nodetrail-old01_kube-system_agent-" HEX_OLD ".log.20261201-1010",
		"nodetrail-old01_kube-system_agent-" HEX_OLD ".log.20261201-101010.1234",
		"nodetrail-old01_kube-system_agent-" HEX_OLD ".log.20261201-101010.",
		"nodetrail-old01_kube-system_agent-" HEX_OLD,
	};
	struct fx *f = *state;
	struct prune_result r;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		make_file(f, names[i], 10, 5 * HOUR_S);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_true(exists(f, names[i]));
}

/* at most max_candidates a pass; the next one goes on */
static void test_bounded_pass(void **state)
{
	struct fx *f = *state;
	struct prune_result r;
	char name[256];

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "nodetrail-old0%d_kube-system_agent-" HEX_OLD ".log", i);
		make_file(f, name, 1, 5 * HOUR_S);
	}
	f->o.max_candidates = 3;
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 3);
	assert_true(r.capped);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	assert_int_equal(r.removed, 2);
	assert_false(r.capped);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct prune_result r;

	f->o.pod_namespace = "";
	assert_int_equal(prune_pass(&f->o, &r), -EINVAL);
	f->o.pod_namespace = "kube-system";
	f->o.dir = "/nonexistent/nodetrail-prune";
	assert_int_equal(prune_pass(&f->o, &r), -ENOENT);
}

static cJSON *emitted;

static void capture(void *ctx, struct record *r)
{
	cJSON *o = cJSON_CreateObject();

	(void)ctx;
	cJSON_AddStringToObject(o, "type", record_type_name(r->type));
	cJSON_AddStringToObject(o, "key", r->detail_key);
	cJSON_AddStringToObject(o, "summary", r->summary);
	cJSON_AddStringToObject(o, "record_id", r->record_id);
	cJSON_AddItemToObject(o, "detail", cJSON_Duplicate(r->detail, 1));
	emitted = o;
}

/* the record names each file removed and its bytes; a pass that removed nothing writes none */
static void test_record(void **state)
{
	struct fx *f = *state;
	struct record_node node = { .node_name = "n1" };
	struct prune_result r;
	struct prune_stats st = { 0 };
	const cJSON *d, *files;

	assert_int_equal(prune_pass(&f->o, &r), 0);
	prune_stats_add(&st, 0, &r);
	prune_report(&f->o, &r, &node, "boot", capture, NULL);
	assert_null(emitted);

	make_file(f, EARLIER, 1234, 2 * HOUR_S);
	assert_int_equal(prune_pass(&f->o, &r), 0);
	prune_stats_add(&st, 0, &r);
	prune_stats_add(&st, -EACCES, &r);
	assert_int_equal(st.passes, 3);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, 1234);
	assert_int_equal(st.errors, 1);
	prune_report(&f->o, &r, &node, "boot", capture, NULL);
	assert_non_null(emitted);
	assert_string_equal(cJSON_GetObjectItem(emitted, "type")->valuestring, "agent.files_pruned");
	assert_string_equal(cJSON_GetObjectItem(emitted, "key")->valuestring, "agent");
	assert_int_equal(strlen(cJSON_GetObjectItem(emitted, "record_id")->valuestring), 16);
	assert_non_null(strstr(cJSON_GetObjectItem(emitted, "summary")->valuestring, "removed 1 record file of"));
	d = cJSON_GetObjectItem(emitted, "detail");
	assert_int_equal(cJSON_GetObjectItem(d, "files_pruned")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(d, "bytes_freed")->valueint, 1234);
	assert_int_equal(cJSON_GetObjectItem(d, "older_than_s")->valueint, HOUR_S);
	assert_int_equal(cJSON_GetObjectItem(d, "errors")->valueint, 0);
	files = cJSON_GetObjectItem(d, "files");
	assert_int_equal(cJSON_GetArraySize(files), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(files, 0), "name")->valuestring, EARLIER);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(files, 0), "bytes")->valueint, 1234);
	assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(files, 0), "modified_at"));
	cJSON_Delete(emitted);
	emitted = NULL;
}

struct done_log {
	int calls;
	int pass;
	uint32_t removed;
	char first[256];
};

static void on_done(void *ctx, int pass, const struct prune_options *opts, const struct prune_result *res)
{
	struct done_log *d = ctx;

	d->calls++;
	d->pass = pass;
	d->removed = res->removed;
	snprintf(d->first, sizeof(d->first), "%s", res->listed ? res->files[0].name : "");
	assert_string_equal(opts->pod_namespace, "kube-system");
}

/* passes on the worker thread, told on the loop, one at a time, counted; a pruner freed with a
 * pass in flight leaves it to clean up after itself */
static void test_pruner_off_the_loop(void **state)
{
	struct fx *f = *state;
	struct done_log d = { 0 };
	struct prune_stats st;
	struct pruner *p;
	struct loop *loop;
	struct aio *aio;

	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(aio_new(loop, AIO_AUTO, &aio), 0);
	make_file(f, EARLIER, 10, 2 * HOUR_S);
	assert_int_equal(pruner_new(aio, &f->o, on_done, &d, &p), 0);
	assert_int_equal(pruner_run(p, f->now_ns, f->o.live_dev, f->o.live_ino), 0);
	assert_int_equal(pruner_run(p, f->now_ns, f->o.live_dev, f->o.live_ino), -EBUSY);
	for (int i = 0; i < 100 && !pruner_idle(p); i++)
		loop_run_once(loop, 50);
	assert_true(pruner_idle(p));
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.pass, 0);
	assert_int_equal(d.removed, 1);
	assert_string_equal(d.first, EARLIER);
	pruner_get_stats(p, &st);
	assert_int_equal(st.after_s, HOUR_S);
	assert_int_equal(st.passes, 1);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, 10);
	assert_int_equal(st.errors, 0);

	make_file(f, EARLIER, 10, 2 * HOUR_S);
	assert_int_equal(pruner_run(p, f->now_ns, f->o.live_dev, f->o.live_ino), 0);
	pruner_free(p);
	for (int i = 0; i < 20 && !aio_idle(aio); i++)
		loop_run_once(loop, 50);
	assert_int_equal(d.calls, 1); /* not told: its pruner is gone */
	pruner_free(NULL);
	aio_free(aio);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_old_file_of_an_earlier_pod_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_file_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_young_file_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_workloads_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_and_directory_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookalike_names_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pruner_off_the_loop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
