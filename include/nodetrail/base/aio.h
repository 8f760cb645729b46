/* Asynchronous file I/O completed on the loop: the loop never waits for
 * the disk. Writes and syncs go through io_uring, whose completions arrive
 * on an eventfd the loop watches; where io_uring is refused (container
 * runtimes' default seccomp profiles often refuse it) they run on one
 * worker thread that reports back through the same kind of eventfd. Any
 * other blocking job (the checkpoint's tmp file, fsync, rename) runs on the
 * worker thread. Callbacks always run on the loop, in completion order. */
#ifndef NODETRAIL_BASE_AIO_H
#define NODETRAIL_BASE_AIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

/* NODETRAIL_DISABLE_IO_URING=1 in the environment makes AUTO behave as if
 * io_uring were refused, to test the fallback. */
enum aio_mode {
	AIO_AUTO = 0,             /* io_uring, the worker thread if io_uring is refused */
	AIO_URING,                /* io_uring or fail */
	AIO_THREAD,               /* the worker thread */
};

/* res: bytes written, 0, or -errno */
typedef void (*aio_done_cb)(void *ctx, int res);
/* a blocking job for the worker thread: returns 0 or -errno */
typedef int (*aio_job_fn)(void *arg);

struct aio_stats {
	uint64_t submitted;
	uint64_t completed;
	uint32_t in_flight;
	uint32_t in_flight_max;   /* the most at once: a stalled disk shows here */
};

struct aio;

/* 0, or -errno (AIO_URING without io_uring: its error). */
int aio_new(struct loop *loop, enum aio_mode mode, struct aio **ret);
/* Completions not yet delivered are dropped. With a job still blocked in
 * the kernel (a stalled disk at exit) the worker and the state it uses are
 * left behind for the process's end, never waited for. */
void aio_free(struct aio *a);

/* Append len bytes of buf to fd (opened O_APPEND): buf must stay untouched
 * until cb. A short write is the caller's to continue. 0 or -errno. */
int aio_write(struct aio *a, int fd, const void *buf, size_t len, aio_done_cb cb, void *ctx);
/* fdatasync (datasync) or fsync fd. 0 or -errno. */
int aio_fsync(struct aio *a, int fd, bool datasync, aio_done_cb cb, void *ctx);
/* Run fn(arg) on the worker thread; cb gets its result. 0 or -errno. */
int aio_call(struct aio *a, aio_job_fn fn, void *arg, aio_done_cb cb, void *ctx);

/* "io_uring" or "write" (write(2) on the worker thread) */
const char *aio_mode_name(const struct aio *a);
bool aio_idle(const struct aio *a);
void aio_get_stats(const struct aio *a, struct aio_stats *ret);

#endif
