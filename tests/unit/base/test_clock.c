/* clock: the RFC 3339 text of times, both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/base/clock.h"

static void test_format_time(void **state)
{
	char buf[CLOCK_TEXT_LEN];

	assert_string_equal(clock_format(0, buf), "1970-01-01T00:00:00.000000000Z");
	assert_string_equal(clock_format(1764000000123456789LL, buf), "2025-11-24T16:00:00.123456789Z");
	assert_string_equal(clock_format(1764000000000000001LL, buf), "2025-11-24T16:00:00.000000001Z");
	assert_int_equal(strlen(buf), 30);
}

static void test_parse_time(void **state)
{
	assert_int_equal(clock_parse("1970-01-01T00:00:01Z"), 1000000000LL);
	assert_int_equal(clock_parse("2023-12-24T13:37:16.335172Z") % 1000000000LL, 335172000);
	assert_int_equal(clock_parse("garbage"), 0);
	/* found by fuzz_imds: years whose ns do not fit in int64 */
	assert_int_equal(clock_parse("6685-09-18T08:22:00Z"), 0);
	assert_int_equal(clock_parse("1013-11-24T08:20:00Z"), 0);
	assert_int_equal(clock_parse("2026-11-24T08:20:00+77737777:00"), 0);
	assert_int_equal(clock_parse("1970-01-01T01:00:01+01:00"), 1000000000LL);
	assert_int_equal(clock_parse(""), 0);
}

/* what is written reads back the same */
static void test_round_trip(void **state)
{
	char buf[CLOCK_TEXT_LEN];
	int64_t t = 1764000000123456789LL;

	assert_int_equal(clock_parse(clock_format(t, buf)), t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
