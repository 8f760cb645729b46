/* stats: what agent.status and /metrics say, from one snapshot. A record the writer's full queue
 * refused is one record lost, counted once (the sink and the writer both see it); the prune
 * counters are in both. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "nodetrail/out/stats.h"

struct fx {
	char dir[64];
	struct loop *loop;
	struct aio *aio;
	struct writer *writer;
	struct sink *sink;
	struct record_node node;
	struct cgroup_mode mode;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct writer_options wo = { .file_name = "stats.log", .queue_bytes = 8192 };

	strcpy(f->dir, "/tmp/nodetrail-stats-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(aio_new(f->loop, AIO_AUTO, &f->aio), 0);
	wo.dir = f->dir;
	wo.loop = f->loop;
	wo.aio = f->aio;
	assert_int_equal(writer_new(&wo, &f->writer, NULL), 0);
	assert_int_equal(sink_new(f->writer, 1000, &f->sink), 0);
	f->node.node_name = "n1";
	f->mode.name = "v2";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	sink_free(f->sink);
	writer_free(f->writer);
	aio_free(f->aio);
	loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* the value of one /metrics sample line, -1 if absent */
static long long sample(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

/* an earlier pod's record file, 4096 bytes, two hours old, and a pass of a pruner over it */
static struct pruner *pruned_once(struct fx *f)
{
	struct prune_options po = { .dir = f->dir, .live_name = "stats.log", .pod_name = "nodetrail-abcde",
				    .pod_namespace = "ns", .container_name = "c", .older_than_s = 3600 };
	char path[256];
	struct timespec t[2] = { { .tv_sec = time(NULL) - 7200 }, { .tv_sec = time(NULL) - 7200 } };
	struct pruner *p;
	char block[4096] = { 0 };
	int fd;

	snprintf(path, sizeof(path), "%s/nodetrail-old01_ns_c-%064d.log", f->dir, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
	assert_int_equal(pruner_new(f->aio, &po, NULL, NULL, &p), 0);
	assert_int_equal(pruner_run(p, (int64_t)time(NULL) * 1000000000LL, 0, 0), 0);
	for (int i = 0; i < 100 && !pruner_idle(p); i++)
		loop_run_once(f->loop, 50);
	assert_true(pruner_idle(p));
	return p;
}

static void test_drops_counted_once_and_prune(void **state)
{
	struct fx *f = *state;
	struct pruner *pruner = pruned_once(f);
	struct stats_sources src = { .aio = f->aio, .writer = f->writer, .sink = f->sink, .mode = &f->mode,
				     .pruner = pruner };
	struct agent_stats s;
	uint64_t refused;
	cJSON *o = cJSON_CreateObject(), *p;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	/* the disk takes nothing meanwhile: an 8 KiB queue takes part of them */
	for (int i = 0; i < 300; i++) {
		struct record r = { .type = RECORD_NODE_EVENT, .node = &f->node, .summary = "s" };

		snprintf(r.record_id, sizeof(r.record_id), "%016x", i);
		sink_emit(f->sink, &r);
	}
	refused = 300 - sink_seq(f->sink);
	assert_true(refused > 0);

	stats_collect(&src, &s);
	stats_status(&s, o);
	assert_int_equal(cJSON_GetObjectItem(o, "records_dropped")->valuedouble, (double)refused);
	p = cJSON_GetObjectItem(o, "prune");
	assert_non_null(p);
	assert_int_equal(cJSON_GetObjectItem(p, "after_s")->valueint, 3600);
	assert_int_equal(cJSON_GetObjectItem(p, "passes")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(p, "files_pruned")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(p, "bytes_freed")->valueint, 4096);
	assert_int_equal(cJSON_GetObjectItem(p, "errors")->valueint, 0);
	cJSON_Delete(o);

	out = open_memstream(&text, &len);
	assert_non_null(out);
	stats_prometheus(&s, out);
	fclose(out);
	assert_int_equal(sample(text, "nodetrail_dropped_total{stage=\"encode_or_queue\"}") +
				 sample(text, "nodetrail_dropped_total{stage=\"writer\"}"),
			 (long long)refused);
	assert_int_equal(sample(text, "nodetrail_pruned_files_total"), 1);
	assert_int_equal(sample(text, "nodetrail_pruned_bytes_total"), 4096);
	assert_int_equal(sample(text, "nodetrail_prune_errors_total"), 0);
	free(text);
	pruner_free(pruner);
	assert_int_equal(writer_drain(f->writer, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drops_counted_once_and_prune, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
