/* window: records waiting for the other side; bounded, swept in order, taken over across a restart. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/join/window.h"

static struct pending *make(const char *cid, bool api_only, int64_t deadline)
{
	struct pending *p;

	assert_int_equal(pending_new(&p), 0);
	p->type = RECORD_CONTAINER_EXITED;
	p->api_only = api_only;
	p->deadline_ns = deadline;
	snprintf(p->container_id, sizeof(p->container_id), "%s", cid);
	snprintf(p->record_id, sizeof(p->record_id), "%016x", (unsigned)deadline);
	p->kernel = cJSON_CreateObject();
	p->api = api_only ? cJSON_CreateObject() : NULL;
	return p;
}

static enum window_verdict drop_due(void *ctx, struct pending *p)
{
	return p->deadline_ns <= *(int64_t *)ctx ? WINDOW_DONE : WINDOW_KEEP;
}

static void close_count(void *ctx, struct pending *p)
{
	(*(int *)ctx)++;
}

static void test_cap_sweep_deadlines(void **state)
{
	struct window *w;
	struct pending *extra = make("e", false, 9);
	int64_t now = 20;
	int closed = 0;

	assert_int_equal(window_new(3, &w), 0);
	assert_int_equal(window_add(w, make("a", false, 30)), 0);
	assert_int_equal(window_add(w, make("b", true, 10)), 0);
	assert_int_equal(window_add(w, make("c", false, 40)), 0);
	assert_int_equal(window_add(w, extra), -ENOSPC); /* full: the caller keeps it */
	pending_free(extra);
	assert_int_equal(window_next_deadline(w), 10);
	window_sweep(w, drop_due, &now);
	assert_int_equal(window_count(w), 2);
	assert_int_equal(window_next_deadline(w), 30);
	assert_null(window_take_api_exit(w, "a")); /* not an API-only exit */
	window_sweep_all_newest_first(w, close_count, &closed);
	assert_int_equal(closed, 2);
	assert_int_equal(window_count(w), 0);
	assert_int_equal(window_next_deadline(w), 0);
	window_free(w);
	window_free(NULL);
}

static void test_take_api_exit(void **state)
{
	struct window *w;
	struct pending *p;

	assert_int_equal(window_new(8, &w), 0);
	window_add(w, make("k", false, 1));
	window_add(w, make("k", true, 2));
	p = window_take_api_exit(w, "k");
	assert_non_null(p);
	assert_true(p->api_only);
	pending_free(p);
	assert_int_equal(window_count(w), 1);
	window_free(w);
}

/* what waits survives a restart as it was; what is not a waiting record is refused */
static void test_save_load(void **state)
{
	struct window *w;
	cJSON *list, *item;
	int n = 0;

	assert_int_equal(window_new(8, &w), 0);
	window_add(w, make("a", false, 5));
	window_add(w, make("b", true, 6));
	list = window_save(w);
	cJSON_ArrayForEach(item, list) {
		struct pending *p = window_load_one(item);

		assert_non_null(p);
		assert_int_equal(p->type, RECORD_CONTAINER_EXITED);
		assert_string_equal(p->container_id, n ? "b" : "a");
		assert_int_equal(p->api_only, n == 1);
		pending_free(p);
		n++;
	}
	assert_int_equal(n, 2);
	item = cJSON_Parse("{\"type\":\"node.event\",\"record_id\":\"0123456789abcdef\",\"kernel\":{}}");
	assert_null(window_load_one(item));
	cJSON_Delete(item);
	item = cJSON_Parse("{\"type\":\"container.exited\",\"record_id\":\"short\",\"kernel\":{}}");
	assert_null(window_load_one(item));
	cJSON_Delete(item);
	cJSON_Delete(list);
	window_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_sweep_deadlines),
		cmocka_unit_test(test_take_api_exit),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
