/* u64map: the cap holds and drops are counted; deletes keep lookups right. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <cmocka.h>

#include "nodetrail/u64map.h"

static void test_cap_and_drops(void **state)
{
	struct u64map *m = u64map_new(100);
	int v[200];

	for (int i = 0; i < 200; i++)
		u64map_put(m, (uint64_t)i * 4096, &v[i], NULL);
	assert_int_equal(u64map_count(m), 100);
	assert_int_equal(u64map_dropped(m), 100);
	for (int i = 0; i < 100; i++)
		assert_ptr_equal(u64map_get(m, (uint64_t)i * 4096), &v[i]);
	assert_null(u64map_get(m, 150 * 4096));
	u64map_free(m, NULL);
}

static void test_churn(void **state)
{
	struct u64map *m = u64map_new(64);
	void *old;
	int v;

	/* many insert/delete rounds: tombstones must not fill the table */
	for (uint64_t i = 0; i < 100000; i++) {
		assert_int_equal(u64map_put(m, i, &v, &old), 0);
		assert_null(old);
		if (i >= 32)
			assert_ptr_equal(u64map_take(m, i - 32), &v);
	}
	assert_int_equal(u64map_count(m), 32);
	assert_int_equal(u64map_dropped(m), 0);
	for (uint64_t i = 100000 - 32; i < 100000; i++)
		assert_ptr_equal(u64map_get(m, i), &v);
	assert_null(u64map_take(m, 5));
	u64map_free(m, NULL);
}

static void test_free_values(void **state)
{
	struct u64map *m = u64map_new(8);

	for (int i = 0; i < 8; i++)
		u64map_put(m, (uint64_t)i, malloc(16), NULL);
	u64map_free(m, free); /* leak-free under ASan */
	u64map_free(NULL, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_and_drops),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_free_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
