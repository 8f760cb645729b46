/* loop: one-shot timers in deadline order, cancelled or not, 0-delay ones in the next turn, the
 * before-sleep hook once per turn, and fd events. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/loop.h"

struct fx {
	struct loop *loop;
	char order[16];
	int n;
	int hooks;
	int64_t fired_ns[4];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(loop_new(&f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	loop_free(f->loop);
	free(f);
	return 0;
}

static struct fx *the_fx;

static void mark(struct loop *loop, uint64_t id, void *data)
{
	the_fx->fired_ns[the_fx->n < 4 ? the_fx->n : 3] = clock_ns(CLOCK_MONOTONIC);
	the_fx->order[the_fx->n++] = *(const char *)data;
}

/* timers run in deadline order whatever the order they were added in; a cancelled one never runs */
static void test_timer_order(void **state)
{
	struct fx *f = the_fx = *state;
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	uint64_t c;

	assert_true(loop_timer_add(f->loop, 30, mark, "c") != 0);
	assert_true(loop_timer_add(f->loop, 10, mark, "a") != 0);
	c = loop_timer_add(f->loop, 20, mark, "x");
	assert_true(loop_timer_add(f->loop, 20, mark, "b") != 0);
	assert_int_equal(loop_timer_count(f->loop), 4);
	assert_int_equal(loop_timer_del(f->loop, c), 0);
	assert_int_equal(loop_timer_del(f->loop, c), -ENOENT);
	assert_int_equal(loop_timer_del(f->loop, 0), -ENOENT);
	while (f->n < 3)
		assert_int_equal(loop_run_once(f->loop, 1000), 0);
	assert_string_equal(f->order, "abc");
	/* not before their time: a join window of milliseconds closes in milliseconds, not at a 1 s tick */
	assert_true(f->fired_ns[0] - start >= 10000000LL);
	assert_true(f->fired_ns[2] - start >= 30000000LL);
	assert_true(f->fired_ns[2] - start < 500000000LL);
	assert_int_equal(loop_timer_count(f->loop), 0);
}

static void re_add(struct loop *loop, uint64_t id, void *data)
{
	the_fx->n++;
	loop_timer_add(loop, 0, re_add, data); /* must wait for the next turn */
}

static void count_hook(struct loop *loop, void *data)
{
	((struct fx *)data)->hooks++;
}

/* a timer that adds one at 0 delay does not starve the turn; the hook runs once per turn */
static void test_zero_delay_next_turn(void **state)
{
	struct fx *f = the_fx = *state;

	loop_set_before_sleep(f->loop, count_hook, f);
	loop_timer_add(f->loop, 0, re_add, NULL);
	assert_int_equal(loop_run_once(f->loop, 0), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->hooks, 1); /* before the turn's wait */
	assert_int_equal(loop_run_once(f->loop, 0), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->hooks, 2);
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *data)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
	((struct fx *)data)->order[((struct fx *)data)->n++] = c;
	loop_stop(loop);
}

static void test_fd_and_stop(void **state)
{
	struct fx *f = *state;
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_add_fd(f->loop, p[0], EPOLLIN, on_readable, f), 0);
	assert_int_equal(loop_add_fd(f->loop, p[0], EPOLLIN, on_readable, f), -EEXIST);
	assert_int_equal(write(p[1], "z", 1), 1);
	assert_int_equal(loop_run(f->loop), 0); /* returns once the handler stops it */
	assert_string_equal(f->order, "z");
	assert_int_equal(loop_del_fd(f->loop, p[0]), 0);
	assert_int_equal(loop_del_fd(f->loop, p[0]), -ENOENT);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_timer_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_delay_next_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_and_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
