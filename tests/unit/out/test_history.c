/* history: what earlier runs wrote is read back: seq, the ids of facts, how the run ended. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/hash.h"
#include "nodetrail/out/history.h"

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
	struct history h = { 0 };
	struct idset *ids;
	const char *text = LINE(1, "aaaa", "agent.status", ",\"agent\":{\"state\":\"started\",\"boot_id\":\"b1\"}")
		LINE(2, "bbbb", "node.event", "")
		"garbage that is not a record\n"
		LINE(3, "cccc", "container.exited", "")
		"2026-11-24T10:00:04.000000000Z stdout F {\"cut by a cra";
	char *path = write_tmp(text);

	assert_int_equal(idset_new(100, &ids), 0);
	assert_int_equal(history_read_file(path, 1 << 20, ids, &h), 0);
	assert_true(h.found);
	assert_int_equal(h.last_seq, 3);
	assert_int_equal(h.records, 3);
	assert_int_equal(h.bad_lines, 1);
	assert_false(h.clean_stop); /* the last record is not a stopping status: a crash */
	assert_string_equal(h.last_boot_id, "b1");
	assert_true(h.last_event_ns > 0);
	assert_true(idset_check_add(ids, hash_str("bbbb")));  /* already written */
	assert_false(idset_check_add(ids, hash_str("dddd"))); /* new */
	unlink(path);

	/* only the tail is read: the first, partial line is skipped */
	memset(&h, 0, sizeof(h));
	path = write_tmp(text);
	assert_int_equal(history_read_file(path, strlen(text) - 30, ids, &h), 0);
	assert_int_equal(h.records, 2);
	unlink(path);
	assert_int_equal(history_read_file("/nonexistent/file", 100, ids, &h), -ENOENT);
	/* a FIFO or a symlink planted among the record files: refused at once, never waited on */
	path = write_tmp("");
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5); /* without the fix, open() blocks for a writer: the alarm fails the test */
	assert_int_equal(history_read_file(path, 100, ids, &h), -EINVAL);
	alarm(0);
	unlink(path);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(history_read_file(path, 100, ids, &h), -ELOOP);
	unlink(path);
	idset_free(ids);
}

static void test_clean_stop(void **state)
{
	struct history h = { 0 };
	char *path = write_tmp(LINE(7, "eeee", "agent.status", ",\"agent\":{\"state\":\"stopping\"}"));
	struct idset *ids;

	assert_int_equal(idset_new(10, &ids), 0);
	assert_int_equal(history_read_file(path, 4096, ids, &h), 0);
	assert_true(h.clean_stop);
	assert_int_equal(h.last_seq, 7);
	unlink(path);
	idset_free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_clean_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
