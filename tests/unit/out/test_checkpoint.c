/* checkpoint: written atomically (off the loop too), read back, a bad one moved aside, never
 * through a planted symlink. */
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

#include "nodetrail/base/loop.h"
#include "nodetrail/out/checkpoint.h"
#include "testutil.h"

static int setup(void **state)
{
	char *dir = strdup("/tmp/nt-checkpoint-XXXXXX");

	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", (char *)*state);
	assert_int_equal(system(cmd), 0);
	free(*state);
	return 0;
}

static void test_save_load(void **state)
{
	const char *dir = *state;
	cJSON *doc = cJSON_Parse("{\"version\":1,\"next_seq\":42,\"node\":\"n\"}"), *back = NULL;
	char path[256];
	struct stat st;

	assert_int_equal(checkpoint_save(dir, doc), 0);
	assert_int_equal(checkpoint_load(dir, &back), 0);
	assert_int_equal(cJSON_GetObjectItem(back, "next_seq")->valueint, 42);
	/* no temporary file left, and only the owner can read it */
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, CHECKPOINT_FILE);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	cJSON_Delete(doc);
	cJSON_Delete(back);
}

static void test_missing(void **state)
{
	cJSON *back = NULL;

	assert_int_equal(checkpoint_load(*state, &back), -ENOENT);
	assert_null(back);
}

/* a torn or foreign file costs its own state once, then it is out of the way */
static void test_bad_moved_aside(void **state)
{
	static const char *const bad[] = { "{\"version\":1,\"next_se", "[]", "{\"version\":99}", "" };
	const char *dir = *state;
	char path[256];
	cJSON *back = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_write_file(dir, CHECKPOINT_FILE, bad[i]);
		assert_int_equal(checkpoint_load(dir, &back), -EINVAL);
		snprintf(path, sizeof(path), "%s/%s.bad", dir, CHECKPOINT_FILE);
		assert_int_equal(access(path, F_OK), 0);
		assert_int_equal(checkpoint_load(dir, &back), -ENOENT);
	}
}

/* a FIFO or a symlink planted where the checkpoint is read: refused at once, never followed or waited on */
static void test_planted_fifo_and_symlink(void **state)
{
	const char *dir = *state;
	char path[256], target[256];
	cJSON *back = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5); /* without the fix, open() blocks for a writer: the alarm fails the test */
	assert_int_equal(checkpoint_load(dir, &back), -EINVAL);
	alarm(0);
	assert_null(back);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.bad", dir, CHECKPOINT_FILE);
	unlink(path);

	/* a symlink to a valid checkpoint elsewhere is not read */
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	test_write_file(dir, "elsewhere", "{\"version\":1,\"next_seq\":7}");
	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(checkpoint_load(dir, &back), -ELOOP);
	assert_null(back);
	assert_int_equal(stat(target, &st), 0);
}

/* a failed save (read-only or missing dir) keeps the previous checkpoint */
static void test_failed_save_keeps_old(void **state)
{
	const char *dir = *state;
	cJSON *doc = cJSON_Parse("{\"version\":1,\"next_seq\":7}"), *back = NULL;
	char sub[256];

	assert_int_equal(checkpoint_save(dir, doc), 0);
	snprintf(sub, sizeof(sub), "%s/missing", dir);
	assert_int_equal(checkpoint_save(sub, doc), -ENOENT);
	assert_int_equal(checkpoint_load(dir, &back), 0);
	cJSON_Delete(back);
	cJSON_Delete(doc);
}

/* a symlink planted where the temporary file goes is replaced, its target untouched */
static void test_planted_symlink(void **state)
{
	const char *dir = *state;
	cJSON *doc = cJSON_Parse("{\"version\":1,\"next_seq\":9}");
	char tmp[256], target[256], text[16] = "";
	FILE *f;

	snprintf(target, sizeof(target), "%s/victim", dir);
	test_write_file(dir, "victim", "precious");
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, CHECKPOINT_FILE);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(checkpoint_save(dir, doc), 0);
	f = fopen(target, "r");
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "precious");
	cJSON_Delete(doc);
}

struct saved {
	int n, last;
};

static void on_saved(void *ctx, int res)
{
	struct saved *s = ctx;

	s->n++;
	s->last = res;
}

/* off the loop: the save returns at once; while one is written, the newest of those that come
 * after it waits and the others are never written */
static void test_saver(void **state)
{
	const char *dir = *state;
	struct checkpoint_saver *cs;
	struct saved saved = { 0 };
	struct loop *loop;
	struct aio *aio;
	cJSON *back = NULL;
	char doc_text[64];

	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(aio_new(loop, AIO_THREAD, &aio), 0);
	assert_int_equal(checkpoint_saver_new(dir, aio, on_saved, &saved, &cs), 0);
	for (int seq = 1; seq <= 5; seq++) {
		cJSON *doc;

		snprintf(doc_text, sizeof(doc_text), "{\"version\":1,\"next_seq\":%d}", seq);
		doc = cJSON_Parse(doc_text);
		assert_int_equal(checkpoint_saver_save(cs, doc), 0);
		cJSON_Delete(doc);
	}
	assert_false(checkpoint_saver_idle(cs));
	while (!checkpoint_saver_idle(cs))
		loop_run_once(loop, 100);
	assert_int_equal(saved.n, 2); /* the first, then the newest: 2 to 4 were replaced while waiting */
	assert_int_equal(saved.last, 0);
	assert_int_equal(checkpoint_load(dir, &back), 0);
	assert_int_equal(cJSON_GetObjectItem(back, "next_seq")->valueint, 5);
	cJSON_Delete(back);
	checkpoint_saver_free(cs);
	checkpoint_saver_free(NULL);
	aio_free(aio);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_save_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_fifo_and_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saver, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
