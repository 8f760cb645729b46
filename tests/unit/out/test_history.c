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
#include "testutil.h"

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

/* --output stdout: the runtime's files of this container, <restart>.log and rotated ones, the
 * agent's own log on stderr among the records; gzipped ones and strangers never read */
static void test_runtime_dir(void **state)
{
	char dir[64] = "/tmp/nodetrail-history-dir-XXXXXX", cmd[128];
	struct history h = { 0 };
	struct idset *ids;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(idset_new(100, &ids), 0);
	test_write_file(dir, "0.log.20261124-095900.gz", LINE(1, "zzzz", "node.event", ""));
	test_write_file(dir, "0.log.20261124-100000", LINE(1, "aaaa", "agent.status", ",\"agent\":{\"state\":\"started\"}"));
	test_write_file(dir, "0.log", LINE(2, "bbbb", "node.event", "")
	    "2026-11-24T10:00:02.500000000Z stderr F 2026-11-24T10:00:02.500Z info received SIGTERM\n"
	    LINE(3, "cccc", "agent.status", ",\"agent\":{\"state\":\"stopping\"}"));
	test_write_file(dir, "10.log", "2026-11-24T10:00:09.000000000Z stderr F 2026-11-24T10:00:09.000Z info starting\n");
	test_write_file(dir, "1.log", LINE(4, "dddd", "container.exited", ""));
	test_write_file(dir, "notes.txt", LINE(9, "yyyy", "node.event", ""));

	/* oldest first, by restart number (10 after 1): the newest three */
	assert_int_equal(history_read_runtime_dir(dir, 3, 1 << 20, ids, &h), 3);
	assert_int_equal(h.records, 3);      /* 0.log and 1.log; 10.log holds only the agent's log */
	assert_int_equal(h.bad_lines, 0);    /* stderr lines are not bad, they are not records */
	assert_int_equal(h.last_seq, 4);
	assert_false(h.clean_stop);          /* 1.log, read after 0.log, ends with no stopping status */
	assert_true(idset_check_add(ids, hash_str("cccc")));
	assert_false(idset_check_add(ids, hash_str("aaaa"))); /* the rotated 0.log was the fourth newest */
	assert_false(idset_check_add(ids, hash_str("zzzz"))); /* gzipped: never */
	assert_false(idset_check_add(ids, hash_str("yyyy"))); /* not the runtime's */

	memset(&h, 0, sizeof(h));
	assert_int_equal(history_read_runtime_dir(dir, 10, 1 << 20, ids, &h), 4);
	assert_int_equal(h.records, 4);
	assert_int_equal(h.last_seq, 4);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(history_read_runtime_dir(dir, 3, 1 << 20, ids, &h), -ENOENT);
	idset_free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_clean_stop),
		cmocka_unit_test(test_runtime_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
