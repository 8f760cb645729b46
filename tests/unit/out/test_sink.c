/* sink: every fact once (this run's and the ones read back), seq without gaps, counted by type, a
 * durable record synced, a full queue counted, never waited for. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/hash.h"
#include "nodetrail/out/sink.h"
#include "testutil.h"

struct fx {
	char dir[64];
	struct loop *loop;
	struct aio *aio;
	struct writer *writer;
	struct sink *sink;
	struct record_node node;
};

static int setup_queue(void **state, size_t queue_bytes, uint32_t dedup_cap)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct writer_options wo = { .file_name = "sink.log", .queue_bytes = queue_bytes };

	strcpy(f->dir, "/tmp/nodetrail-sink-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(aio_new(f->loop, AIO_AUTO, &f->aio), 0);
	wo.dir = f->dir;
	wo.loop = f->loop;
	wo.aio = f->aio;
	assert_int_equal(writer_new(&wo, &f->writer, NULL), 0);
	assert_int_equal(sink_new(f->writer, dedup_cap, &f->sink), 0);
	f->node.node_name = "n1";
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_queue(state, 8192, 100);
}

/* a queue that holds more lines than the sink indexes */
static int setup_big(void **state)
{
	return setup_queue(state, 1 << 20, 4096);
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

static void emit(struct fx *f, enum record_type type, const char *id, bool durable)
{
	struct record r = { .type = type, .node = &f->node, .summary = "s", .durable = durable };

	snprintf(r.record_id, sizeof(r.record_id), "%s", id);
	sink_emit(f->sink, &r);
}

static char *file(struct fx *f)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/sink.log", f->dir);
	return test_read_file(path, NULL);
}

static void test_once_and_seq(void **state)
{
	struct fx *f = *state;
	struct sink_stats st;
	char *text;

	/* what an earlier run wrote: its ids and its last seq */
	idset_check_add(sink_ids(f->sink), hash_str("0000000000000old"));
	sink_continue_after(f->sink, 41);
	sink_continue_after(f->sink, 7); /* never lowered */
	emit(f, RECORD_NODE_EVENT, "0000000000000old", false);
	emit(f, RECORD_NODE_EVENT, "000000000000000a", false);
	emit(f, RECORD_NODE_EVENT, "000000000000000a", false);
	emit(f, RECORD_POD_STARTED, "000000000000000b", true);
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.by_type[RECORD_NODE_EVENT], 1);
	assert_int_equal(st.by_type[RECORD_POD_STARTED], 1);
	assert_int_equal(sink_seq(f->sink), 43);
	assert_int_equal(sink_written(f->sink), 2);
	assert_int_equal(writer_drain(f->writer, 5000), 0);
	text = file(f);
	assert_non_null(strstr(text, "\"record_id\":\"000000000000000a\",\"seq\":42,"));
	assert_non_null(strstr(text, "\"record_id\":\"000000000000000b\",\"seq\":43,"));
	assert_null(strstr(text, "0000000000000old"));
	free(text);
}

static void test_durable_synced(void **state)
{
	struct fx *f = *state;
	struct writer_stats ws;

	emit(f, RECORD_NODE_INTERRUPTION, "000000000000000c", true);
	assert_int_equal(writer_drain(f->writer, 5000), 0);
	writer_get_stats(f->writer, &ws);
	assert_int_equal(ws.syncs, 1);
}

/* the writer's queue is full (the disk is slow): the record is dropped and counted, its seq not used */
static void test_queue_full(void **state)
{
	struct fx *f = *state;
	struct sink_stats st;
	char id[17];

	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "%016x", i);
		emit(f, RECORD_NODE_EVENT, id, false);
	}
	sink_get_stats(f->sink, &st);
	assert_true(st.dropped > 0);
	assert_int_equal(sink_seq(f->sink), 100 - st.dropped);
	assert_int_equal(writer_drain(f->writer, 5000), 0);
}

/* a queue full for a long time (a full disk) is logged when it starts and when it ends, with the
 * count, not once per dropped record */
static void test_queue_full_logged_twice(void **state)
{
	struct fx *f = *state;
	struct sink_stats st;
	char id[17], log_path[96], *log, *p, want[96];
	int saved = dup(STDERR_FILENO), fd, starts = 0, ends = 0;

	snprintf(log_path, sizeof(log_path), "%s/stderr", f->dir);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "%016x", i);
		emit(f, i % 2 ? RECORD_NODE_EVENT : RECORD_CONTAINER_EXITED, id, false);
	}
	assert_int_equal(writer_drain(f->writer, 5000), 0);
	emit(f, RECORD_NODE_EVENT, "ffffffffffffffff", false);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);

	sink_get_stats(f->sink, &st);
	assert_true(st.dropped > 100);
	log = test_read_file(log_path, NULL);
	for (p = log; (p = strstr(p, "record queue full")); p++)
		starts++;
	for (p = log; (p = strstr(p, "were dropped while it was full")); p++)
		ends++;
	assert_int_equal(starts, 1);
	assert_int_equal(ends, 1);
	snprintf(want, sizeof(want), "room again: %llu records were dropped", (unsigned long long)st.dropped);
	assert_non_null(strstr(log, want));
	free(log);
}

/* an id counts as written once its line is in the file: the checkpoint (which saves sink_ids) never
 * claims a record the file lacks; a record that could not be encoded is not claimed either */
static void test_written_on_completion(void **state)
{
	struct fx *f = *state;
	struct record r = { .type = RECORD_NODE_DRAIN_REPORT, .node = &f->node };
	struct sink_stats st;
	char *big = malloc(SINK_ENCODE_MAX + 16), *text;

	emit(f, RECORD_NODE_EVENT, "000000000000000d", false);
	assert_false(idset_contains(sink_ids(f->sink), hash_str("000000000000000d")));
	emit(f, RECORD_NODE_EVENT, "000000000000000d", false); /* queued already: once */
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.in_flight, 1);
	assert_int_equal(writer_drain(f->writer, 5000), 0);
	assert_true(idset_contains(sink_ids(f->sink), hash_str("000000000000000d")));
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.in_flight, 0);

	memset(big, 'x', SINK_ENCODE_MAX + 8);
	big[SINK_ENCODE_MAX + 8] = '\0';
	r.summary = big;
	snprintf(r.record_id, sizeof(r.record_id), "000000000000000e");
	sink_emit(f->sink, &r);
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.dropped, 1);
	assert_false(idset_contains(sink_ids(f->sink), hash_str("000000000000000e")));
	emit(f, RECORD_NODE_DRAIN_REPORT, "000000000000000e", true); /* the same fact, now small enough */
	assert_int_equal(writer_drain(f->writer, 5000), 0);
	text = file(f);
	assert_non_null(strstr(text, "\"record_id\":\"000000000000000e\""));
	assert_true(idset_contains(sink_ids(f->sink), hash_str("000000000000000e")));
	free(text);
	free(big);
}

/* more lines in flight than the index holds (a stalled disk): a fact among them is still not queued twice */
static void test_in_flight_past_the_index(void **state)
{
	struct fx *f = *state;
	struct sink_stats st;
	char id[RECORD_ID_LEN + 1];

	for (int i = 0; i < SINK_IN_FLIGHT_INDEXED + 100; i++) {
		snprintf(id, sizeof(id), "%016x", i + 1);
		emit(f, RECORD_NODE_EVENT, id, false);
	}
	snprintf(id, sizeof(id), "%016x", SINK_IN_FLIGHT_INDEXED + 50);
	emit(f, RECORD_NODE_EVENT, id, false);
	snprintf(id, sizeof(id), "%016x", 7);
	emit(f, RECORD_NODE_EVENT, id, false);
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.in_flight, SINK_IN_FLIGHT_INDEXED + 100);
	assert_int_equal(writer_drain(f->writer, 5000), 0);
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.in_flight, 0);
	snprintf(id, sizeof(id), "%016x", SINK_IN_FLIGHT_INDEXED + 50);
	emit(f, RECORD_NODE_EVENT, id, false);
	sink_get_stats(f->sink, &st);
	assert_int_equal(st.duplicates, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_once_and_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_synced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full_logged_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_written_on_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_flight_past_the_index, setup_big, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
