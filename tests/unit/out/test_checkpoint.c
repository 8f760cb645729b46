/* checkpoint: written atomically, read back, a bad one moved aside. */
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

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
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
		write_file(dir, CHECKPOINT_FILE, bad[i]);
		assert_int_equal(checkpoint_load(dir, &back), -EINVAL);
		snprintf(path, sizeof(path), "%s/%s.bad", dir, CHECKPOINT_FILE);
		assert_int_equal(access(path, F_OK), 0);
		assert_int_equal(checkpoint_load(dir, &back), -ENOENT);
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_save_keeps_old, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
