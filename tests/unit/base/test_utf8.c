/* utf8: strict validity (the table of malformed forms from the Unicode standard's examples),
 * cuts on character boundaries, repairs (U+FFFD for invalid bytes, a sequence cut short at the end
 * dropped), and a record whose strings are not UTF-8 encoded into one that is. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/base/utf8.h"
#include "nodetrail/out/encode.h"

static void test_valid_and_invalid(void **state)
{
	static const char *const good[] = { "", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\xb3",
					    "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80" };
	static const char *const bad[] = {
		"\xff\xfe",	    /* a process named so */
		"\x80",		    /* a lone continuation byte */
		"\xc3",		    /* cut short */
		"\xc0\xaf",	    /* overlong "/" */
		"\xe0\x80\xaf",	    /* overlong, 3 bytes */
		"\xf0\x80\x80\xaf", /* overlong, 4 bytes */
		"\xed\xa0\x80",	    /* a surrogate (U+D800) */
		"\xf4\x90\x80\x80", /* past U+10FFFF */
		"\xf5\x80\x80\x80", /* no such lead byte */
		"a\xe2\x82z",	    /* a sequence interrupted */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(utf8_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(utf8_valid(bad[i], strlen(bad[i])));
}

static void test_cut_on_boundaries(void **state)
{
	const char *s = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3"; /* a b é € 🐳: 2 + 2 + 3 + 4 bytes */
	size_t n = strlen(s);

	assert_int_equal(utf8_cut(s, n, 100), n);
	assert_int_equal(utf8_cut(s, n, 2), 2);
	assert_int_equal(utf8_cut(s, n, 3), 2);  /* inside é */
	assert_int_equal(utf8_cut(s, n, 4), 4);
	assert_int_equal(utf8_cut(s, n, 6), 4);  /* inside € */
	assert_int_equal(utf8_cut(s, n, 7), 7);
	assert_int_equal(utf8_cut(s, n, 10), 7); /* inside 🐳 */
	assert_int_equal(utf8_cut("\x80\x80\x80\x80\x80", 5, 4), 4); /* garbage: cut where asked */
	for (size_t max = 0; max <= n; max++)
		assert_true(utf8_valid(s, utf8_cut(s, n, max)));
}

static void test_repair(void **state)
{
	char out[64];

	assert_int_equal(utf8_repair("ok", 2, out, sizeof(out)), 2);
	assert_string_equal(out, "ok");
	utf8_repair("\xff\xfe", 2, out, sizeof(out));
	assert_string_equal(out, UTF8_REPLACEMENT UTF8_REPLACEMENT);
	utf8_repair("a\xc0\xafz", 4, out, sizeof(out));
	assert_string_equal(out, "a" UTF8_REPLACEMENT UTF8_REPLACEMENT "z");
	/* the kernel's 15-byte command name, cut inside a character: the piece is dropped */
	utf8_repair("caf\xc3", 4, out, sizeof(out));
	assert_string_equal(out, "caf");
	utf8_repair("\xe2\x82", 2, out, sizeof(out));
	assert_string_equal(out, "");
	/* the same bytes in the middle are invalid, not a cut */
	utf8_repair("\xe2\x82 x", 4, out, sizeof(out));
	assert_string_equal(out, UTF8_REPLACEMENT UTF8_REPLACEMENT " x");
	/* too small for the whole: cut between characters */
	assert_int_equal(utf8_repair("\xe2\x82\xac\xe2\x82\xac", 6, out, 6), 3);
	assert_string_equal(out, "\xe2\x82\xac");
	for (int b = 0; b < 256; b++) {
		char in[3] = { 'x', (char)b, 'y' };

		utf8_repair(in, 3, out, sizeof(out));
		assert_true(utf8_valid(out, strlen(out)));
	}
}

/* a record carrying a hostile process name, path and message: the line is strict UTF-8 and JSON */
static void test_record_repaired(void **state)
{
	struct record_node node = { .node_name = "node-a" };
	struct record r = { 0 };
	char buf[4096];
	cJSON *k = cJSON_CreateObject(), *o;
	int n;

	cJSON_AddStringToObject(k, "comm", "\xff\xfe");
	cJSON_AddStringToObject(k, "exe", "/bin/caf\xc3");
	cJSON_AddItemToObject(k, "caf\xc3\xa9\xff", cJSON_CreateString("key"));
	r.type = RECORD_CONTAINER_EXEC;
	r.node = &node;
	r.detail = k;
	r.summary = "container \xe2\x82 had \xff exec'd";
	snprintf(r.record_id, sizeof(r.record_id), "0123456789abcdef");
	n = record_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(utf8_valid(buf, (size_t)n));
	o = cJSON_Parse(buf);
	assert_non_null(o);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "comm")),
			    UTF8_REPLACEMENT UTF8_REPLACEMENT);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "exe")),
			    "/bin/caf");
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "caf\xc3\xa9" UTF8_REPLACEMENT));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			    "container " UTF8_REPLACEMENT UTF8_REPLACEMENT " had " UTF8_REPLACEMENT " exec'd");
	/* the caller's detail is untouched: the encoder repairs its own copy */
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "comm")), "\xff\xfe");
	cJSON_Delete(o);
	cJSON_Delete(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_and_invalid),
		cmocka_unit_test(test_cut_on_boundaries),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_record_repaired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
