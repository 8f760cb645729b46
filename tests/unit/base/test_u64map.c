/* u64map: the cap holds and drops are counted; deletes keep lookups right. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <cmocka.h>

#include "nodetrail/base/u64map.h"

static void test_cap_and_drops(void **state)
{
	struct u64map *m;
	int v[200];

	assert_int_equal(u64map_new(100, &m), 0);
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
	struct u64map *m;
	void *old;
	int v;

	assert_int_equal(u64map_new(64, &m), 0);
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

static void count_each(void *ctx, uint64_t key, void *value)
{
	assert_true(key % 2 == 1); /* the even keys were taken */
	assert_ptr_equal(value, ctx);
	(*(int *)ctx)++;
}

/* deleted entries are neither visited nor freed, nor found again */
static void test_each_skips_deleted(void **state)
{
	struct u64map *m;
	int n = 0;

	assert_int_equal(u64map_new(16, &m), 0);
	for (uint64_t i = 0; i < 16; i++)
		assert_int_equal(u64map_put(m, i, &n, NULL), 0);
	for (uint64_t i = 0; i < 16; i += 2)
		assert_ptr_equal(u64map_take(m, i), &n);
	u64map_each(m, count_each, &n);
	assert_int_equal(n, 8);
	for (uint64_t i = 0; i < 16; i += 2) {
		assert_null(u64map_get(m, i));
		assert_null(u64map_take(m, i));
	}
	/* a deleted slot is reused: the cap counts live entries only */
	for (uint64_t i = 100; i < 108; i++)
		assert_int_equal(u64map_put(m, i, &n, NULL), 0);
	assert_int_equal(u64map_count(m), 16);
	assert_int_equal(u64map_put(m, 200, &n, NULL), -ENOSPC);
	u64map_free(m, NULL);
}

struct model_check {
	void **model;
	int visited;
};

static void check_each(void *ctx, uint64_t key, void *value)
{
	struct model_check *mc = ctx;

	assert_true(key < 512);
	assert_ptr_equal(mc->model[key], value);
	mc->visited++;
}

/* random puts, replaces and takes against a plain array: the map must agree at every step */
static void test_random_against_model(void **state)
{
	static char vals[512];
	void *model[512] = { NULL };
	struct u64map *m;
	uint32_t n = 0, seed = 12345;

	assert_int_equal(u64map_new(200, &m), 0);
	for (int step = 0; step < 300000; step++) {
		uint64_t k;
		void *old, *v;

		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % 512;
		v = &vals[(seed >> 4) % 512];
		if ((seed >> 20) % 3) {
			int r = u64map_put(m, k, v, &old);

			assert_ptr_equal(old, model[k]);
			if (model[k] || n < 200) {
				assert_int_equal(r, 0);
				n += !model[k];
				model[k] = v;
			} else {
				assert_int_equal(r, -ENOSPC);
			}
		} else {
			assert_ptr_equal(u64map_take(m, k), model[k]);
			n -= model[k] != NULL;
			model[k] = NULL;
		}
		assert_int_equal(u64map_count(m), n);
		if (step % 1000 == 0) {
			struct model_check mc = { model, 0 };

			for (uint64_t i = 0; i < 512; i++)
				assert_ptr_equal(u64map_get(m, i), model[i]);
			u64map_each(m, check_each, &mc);
			assert_int_equal(mc.visited, n);
		}
	}
	u64map_free(m, NULL);
}

static void test_free_values(void **state)
{
	struct u64map *m;

	assert_int_equal(u64map_new(8, &m), 0);
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
		cmocka_unit_test(test_each_skips_deleted),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_free_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
