/* idset: a bounded FIFO window of ids; the oldest is forgotten first, and counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "nodetrail/base/hash.h"
#include "nodetrail/base/idset.h"

static void test_window(void **state)
{
	struct idset *ids;
	char id[16];

	assert_int_equal(idset_new(3, &ids), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_false(idset_check_add(ids, hash_str(id)));
	}
	assert_int_equal(idset_count(ids), 3);
	assert_int_equal(idset_cap(ids), 3);
	assert_int_equal(idset_forgotten(ids), 2);
	assert_false(idset_contains(ids, hash_str("id0")));
	assert_false(idset_check_add(ids, hash_str("id0"))); /* forgotten: the window is bounded */
	assert_true(idset_check_add(ids, hash_str("id4")));
	idset_free(ids);
	idset_free(NULL);
}

static void add_to(void *ctx, uint64_t id)
{
	uint64_t **at = ctx;

	*(*at)++ = id;
}

/* the newest n, oldest first: what a checkpoint keeps */
static void test_each_recent(void **state)
{
	uint64_t got[8], *at = got;
	struct idset *ids;

	assert_int_equal(idset_new(4, &ids), 0);
	for (uint64_t i = 1; i <= 6; i++)
		idset_check_add(ids, i);
	idset_each_recent(ids, 2, add_to, &at);
	assert_int_equal(at - got, 2);
	assert_int_equal(got[0], 5);
	assert_int_equal(got[1], 6);
	at = got;
	idset_each_recent(ids, 100, add_to, &at);
	assert_int_equal(at - got, 4);
	assert_int_equal(got[0], 3);
	idset_free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_each_recent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
