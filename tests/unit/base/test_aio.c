/* aio: writes, syncs and jobs complete on the loop, in order, through io_uring and the worker thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/aio.h"
#include "nodetrail/base/loop.h"

struct done {
	int n;
	int res[8];
};

static void on_done(void *ctx, int res)
{
	struct done *d = ctx;

	d->res[d->n++] = res;
}

static int job_errno(void *arg)
{
	return -*(int *)arg;
}

static void run(enum aio_mode mode, const char *want_name)
{
	char path[] = "/tmp/nodetrail-aio-XXXXXX", buf[64];
	struct aio_stats st;
	struct done d = { 0 };
	struct loop *loop;
	struct aio *a;
	int fd = mkstemp(path), err = EACCES;

	assert_true(fd >= 0);
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(aio_new(loop, mode, &a), 0);
	assert_string_equal(aio_mode_name(a), want_name);
	assert_int_equal(aio_write(a, fd, "one,", 4, on_done, &d), 0);
	assert_int_equal(aio_write(a, fd, "two", 3, on_done, &d), 0);
	assert_int_equal(aio_fsync(a, fd, true, on_done, &d), 0);
	assert_int_equal(aio_call(a, job_errno, &err, on_done, &d), 0);
	assert_false(aio_idle(a));
	/* nothing completes behind the loop's back: only a turn delivers */
	assert_int_equal(d.n, 0);
	for (int i = 0; i < 200 && !aio_idle(a); i++)
		loop_run_once(loop, 50);
	assert_true(aio_idle(a));
	assert_int_equal(d.n, 4);
	aio_get_stats(a, &st);
	assert_int_equal(st.submitted, 4);
	assert_int_equal(st.completed, 4);
	assert_true(st.in_flight_max >= 1);
	/* the job's error comes back as it was; the writes as their sizes (in any completion order) */
	for (int i = 0; i < 4; i++)
		assert_true(d.res[i] == 4 || d.res[i] == 3 || d.res[i] == 0 || d.res[i] == -EACCES);
	aio_free(a);
	loop_free(loop);
	close(fd);
	fd = open(path, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	assert_true(read(fd, buf, sizeof(buf)) == 7);
	/* io_uring may take two writes out of order: the writer keeps one in flight for that reason */
	assert_true(strcmp(buf, "one,two") == 0 || strcmp(buf, "twoone,") == 0);
	close(fd);
	unlink(path);
}

static void test_io_uring(void **state)
{
	unsetenv("NODETRAIL_DISABLE_IO_URING");
	run(AIO_URING, "io_uring");
}

static void test_thread(void **state)
{
	run(AIO_THREAD, "write");
}

/* what a seccomp profile that refuses io_uring leaves: auto falls back to the thread */
static void test_auto_fallback(void **state)
{
	struct loop *loop;
	struct aio *a;

	setenv("NODETRAIL_DISABLE_IO_URING", "1", 1);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(aio_new(loop, AIO_AUTO, &a), 0);
	assert_string_equal(aio_mode_name(a), "write");
	aio_free(a);
	aio_free(NULL);
	loop_free(loop);
	unsetenv("NODETRAIL_DISABLE_IO_URING");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_uring),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_auto_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
