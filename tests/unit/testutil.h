/* Helpers shared by the unit tests (include after cmocka.h). */
#ifndef NODETRAIL_TESTUTIL_H
#define NODETRAIL_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

/* The whole file, NUL-terminated; fails the test if it cannot be read. */
static inline char *test_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (ret_len)
		*ret_len = (size_t)n;
	return buf;
}

/* Write text to dir/name (created or replaced); fails the test if it cannot. */
static inline void test_write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A fixture's JSON (FIXTURES_DIR/<rel>), parsed; fails the test if it cannot be. */
static inline cJSON *test_load_json(const char *rel)
{
	char path[512], *buf;
	cJSON *o;

	snprintf(path, sizeof(path), FIXTURES_DIR "/%s", rel);
	buf = test_read_file(path, NULL);
	o = cJSON_Parse(buf);
	free(buf);
	assert_non_null(o);
	return o;
}

#endif
