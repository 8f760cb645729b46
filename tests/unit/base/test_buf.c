/* buf: appends grow it, consume keeps the rest in order, free leaves it usable. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/base/buf.h"

static void test_append_consume(void **state)
{
	struct buf b = { 0 };
	char chunk[1000];

	for (int i = 0; i < 100; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, 100000);
	assert_true(b.cap >= b.len);
	buf_consume(&b, 1000); /* the first chunk goes, the second comes first */
	assert_int_equal(b.len, 99000);
	assert_int_equal(b.data[0], 'b');
	assert_int_equal(buf_reserve(&b, 10, 0), 0);
	assert_true(b.cap >= b.len + 10);
	buf_consume(&b, 1 << 20);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(b.len, 1);
	buf_free(&b);
}

/* the first reservation takes the minimum asked for */
static void test_min_cap(void **state)
{
	struct buf b = { 0 };

	assert_int_equal(buf_reserve(&b, 1, 4096), 0);
	assert_int_equal(b.cap, 4096);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_consume),
		cmocka_unit_test(test_min_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
