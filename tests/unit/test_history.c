/* history: what earlier runs wrote is read back: seq, the ids of facts, how the run ended. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/history.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/nodetrail-history-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

#define LINE(seq, id, type, extra) \
	"2026-11-24T10:00:0" #seq ".000000000Z stdout F {\"schema\":\"nodetrail/v1\",\"record_id\":\"" id "\",\"seq\":" #seq \
	",\"type\":\"" type "\",\"event_time\":\"2026-11-24T10:00:0" #seq ".000000000Z\"" extra "}\n"

static void test_read_back(void **state)
{
	struct record_ids *ids = record_ids_new(100);
	struct history h = { 0 };
	const char *text = LINE(1, "aaaa", "agent.status", ",\"agent\":{\"state\":\"started\",\"boot_id\":\"b1\"}")
		LINE(2, "bbbb", "node.event", "")
		"garbage that is not a record\n"
		LINE(3, "cccc", "container.exited", "")
		"2026-11-24T10:00:04.000000000Z stdout F {\"cut by a cra";
	char *path = write_tmp(text);

	assert_int_equal(history_read_file(path, 1 << 20, ids, &h), 0);
	assert_true(h.found);
	assert_int_equal(h.last_seq, 3);
	assert_int_equal(h.records, 3);
	assert_int_equal(h.bad_lines, 1);
	assert_false(h.clean_stop); /* the last record is not a stopping status: a crash */
	assert_string_equal(h.last_boot_id, "b1");
	assert_true(h.last_event_ns > 0);
	assert_true(record_ids_check_add(ids, "bbbb"));  /* already written */
	assert_false(record_ids_check_add(ids, "dddd")); /* new */
	unlink(path);

	/* only the tail is read: the first, partial line is skipped */
	memset(&h, 0, sizeof(h));
	path = write_tmp(text);
	assert_int_equal(history_read_file(path, strlen(text) - 30, ids, &h), 0);
	assert_int_equal(h.records, 2);
	unlink(path);
	assert_int_equal(history_read_file("/nonexistent/file", 100, ids, &h), -ENOENT);
	record_ids_free(ids);
}

static void test_clean_stop(void **state)
{
	struct record_ids *ids = record_ids_new(10);
	struct history h = { 0 };
	char *path = write_tmp(LINE(7, "eeee", "agent.status", ",\"agent\":{\"state\":\"stopping\"}"));

	assert_int_equal(history_read_file(path, 4096, ids, &h), 0);
	assert_true(h.clean_stop);
	assert_int_equal(h.last_seq, 7);
	unlink(path);
	record_ids_free(ids);
}

static void test_ids_window(void **state)
{
	struct record_ids *ids = record_ids_new(3);
	char id[16];

	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_false(record_ids_check_add(ids, id));
	}
	assert_int_equal(record_ids_count(ids), 3);
	assert_false(record_ids_check_add(ids, "id0")); /* forgotten: the window is bounded */
	assert_true(record_ids_check_add(ids, "id4"));
	record_ids_free(ids);
	record_ids_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_clean_stop),
		cmocka_unit_test(test_ids_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
