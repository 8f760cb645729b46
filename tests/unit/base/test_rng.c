/* rng: jitter in range, and different on every node (two processes draw different numbers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/rng.h"

static void test_range(void **state)
{
	int seen[10] = { 0 };

	assert_int_equal(rng_below(0), 0);
	assert_int_equal(rng_below(1), 0);
	for (int i = 0; i < 1000; i++) {
		uint32_t v = rng_below(10);

		assert_true(v < 10);
		seen[v]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(seen[i] > 50); /* every value drawn: about 100 each */
}

/* what a fresh process draws first (a fresh agent on another node) */
static void draw_in_child(uint32_t out[4])
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint32_t v[4];

		for (int i = 0; i < 4; i++)
			v[i] = rng_below(1u << 31);
		_exit(write(fds[1], v, sizeof(v)) == sizeof(v) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], out, 4 * sizeof(uint32_t)), 4 * sizeof(uint32_t));
	close(fds[0]);
	waitpid(pid, NULL, 0);
}

static void test_differs_between_processes(void **state)
{
	uint32_t a[4], b[4];

	draw_in_child(a);
	draw_in_child(b);
	/* with rand() unseeded, both would draw the same sequence */
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: the children must start unseeded, as a fresh agent does */
		cmocka_unit_test(test_differs_between_processes),
		cmocka_unit_test(test_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
