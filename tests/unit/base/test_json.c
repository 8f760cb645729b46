/* json: reads that clamp what the input says to what the agent can use. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/base/json.h"

static void test_reads(void **state)
{
	cJSON *o = cJSON_Parse("{\"n\":1e300,\"neg\":-5,\"t\":1764000000000000000,\"s\":\"abcdef\",\"h\":\"ff\",\"x\":[]}");
	char small[4];

	assert_non_null(o);
	assert_int_equal(json_int(cJSON_GetObjectItem(o, "n"), 0, 100, 7), 100);
	assert_int_equal(json_int(cJSON_GetObjectItem(o, "neg"), 0, 100, 7), 0);
	assert_int_equal(json_int(cJSON_GetObjectItem(o, "x"), 0, 100, 7), 7);
	assert_int_equal(json_int(NULL, 0, 100, 7), 7);
	assert_int_equal(json_get_num(o, "t"), 1764000000000000000LL);
	assert_int_equal(json_get_num(o, "n"), INT64_C(1) << 62);
	assert_int_equal(json_get_num(o, "missing"), 0);
	assert_int_equal(json_get_hex(o, "h"), 255);
	JSON_GET_STR(o, "s", small);
	assert_string_equal(small, "abc"); /* cut to fit */
	JSON_GET_STR(o, "missing", small);
	assert_string_equal(small, "");
	cJSON_Delete(o);
}

/* 64-bit ids as hex survive a round trip that a JSON number would not */
static void test_hex_round_trip(void **state)
{
	cJSON *o = cJSON_CreateObject();

	json_add_hex(o, "id", 0xfedcba9876543210ULL);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), "fedcba9876543210");
	assert_true(json_get_hex(o, "id") == 0xfedcba9876543210ULL);
	json_add_boot_time(o, "never", 0);
	assert_null(cJSON_GetObjectItem(o, "never"));
	json_add_boot_time(o, "at", 1000000000);
	assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(o, "at"))), 30);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads),
		cmocka_unit_test(test_hex_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
