/* io_uring, or a worker thread, with completions on the loop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <liburing.h>

#include "nodetrail/base/aio.h"
#include "nodetrail/base/loop.h"

#define RING_ENTRIES 16

enum op_kind { OP_WRITE, OP_FSYNC, OP_JOB };

struct op {
	enum op_kind kind;
	int fd;
	const void *buf;
	size_t len;
	bool datasync;
	aio_job_fn fn;
	void *arg;
	aio_done_cb cb;
	void *ctx;
	int res;
	struct op *next;
};

/* a FIFO of ops */
struct queue {
	struct op *head, *tail;
};

struct aio {
	struct loop *loop;
	bool uring;
	struct io_uring ring;
	int ring_efd;             /* io_uring's completions */
	/* the worker thread, started at the first op it gets */
	bool thread_started;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queue todo, done;  /* under lock */
	bool quit;
	int done_efd;             /* the worker's completions */
	struct aio_stats stats;
};

static void push(struct queue *q, struct op *op)
{
	op->next = NULL;
	if (q->tail)
		q->tail->next = op;
	else
		q->head = op;
	q->tail = op;
}

static struct op *pop(struct queue *q)
{
	struct op *op = q->head;

	if (op) {
		q->head = op->next;
		if (!q->head)
			q->tail = NULL;
	}
	return op;
}

static void complete(struct aio *a, struct op *op)
{
	a->stats.completed++;
	a->stats.in_flight--;
	if (op->cb)
		op->cb(op->ctx, op->res);
	free(op);
}

static void drain_eventfd(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) == sizeof(n))
		;
}

/* ---- io_uring ---- */

static void on_ring(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct aio *a = data;
	struct io_uring_cqe *cqe;

	drain_eventfd(fd);
	while (io_uring_peek_cqe(&a->ring, &cqe) == 0) {
		struct op *op = io_uring_cqe_get_data(cqe);

		op->res = cqe->res;
		io_uring_cqe_seen(&a->ring, cqe);
		complete(a, op);
	}
}

static int setup_uring(struct aio *a)
{
	int err = io_uring_queue_init(RING_ENTRIES, &a->ring, 0);

	if (err < 0)
		return err;
	a->uring = true;
	a->ring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->ring_efd < 0)
		return -errno;
	err = io_uring_register_eventfd(&a->ring, a->ring_efd);
	if (err < 0)
		return err;
	return loop_add_fd(a->loop, a->ring_efd, EPOLLIN, on_ring, a);
}

static int submit_uring(struct aio *a, struct op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
	int err;

	if (!sqe) {
		/* the ring's submission queue is full: hand what is there to the kernel */
		io_uring_submit(&a->ring);
		sqe = io_uring_get_sqe(&a->ring);
		if (!sqe)
			return -EBUSY;
	}
	if (op->kind == OP_WRITE)
		/* O_APPEND: the kernel appends whatever the offset says */
		io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)-1);
	else
		io_uring_prep_fsync(sqe, op->fd, op->datasync ? IORING_FSYNC_DATASYNC : 0);
	io_uring_sqe_set_data(sqe, op);
	err = io_uring_submit(&a->ring);
	return err < 0 ? err : 0;
}

/* ---- the worker thread ---- */

static int run_op(struct op *op)
{
	ssize_t n;

	switch (op->kind) {
	case OP_WRITE:
		do
			n = write(op->fd, op->buf, op->len);
		while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : (int)n;
	case OP_FSYNC:
		return (op->datasync ? fdatasync(op->fd) : fsync(op->fd)) < 0 ? -errno : 0;
	case OP_JOB:
		return op->fn(op->arg);
	}
	return -EINVAL;
}

static void *worker(void *data)
{
	struct aio *a = data;
	uint64_t one = 1;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct op *op;

		while (!a->quit && !a->todo.head)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->quit)
			break;
		op = pop(&a->todo);
		pthread_mutex_unlock(&a->lock);
		op->res = run_op(op);
		pthread_mutex_lock(&a->lock);
		push(&a->done, op);
		if (write(a->done_efd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the loop is woken anyway */
		}
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void on_done(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct aio *a = data;
	struct queue done;

	drain_eventfd(fd);
	pthread_mutex_lock(&a->lock);
	done = a->done;
	a->done.head = a->done.tail = NULL;
	pthread_mutex_unlock(&a->lock);
	for (struct op *op = pop(&done); op; op = pop(&done))
		complete(a, op);
}

static int start_thread(struct aio *a)
{
	int err;

	if (a->thread_started)
		return 0;
	a->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->done_efd < 0)
		return -errno;
	err = loop_add_fd(a->loop, a->done_efd, EPOLLIN, on_done, a);
	if (err < 0)
		return err;
	err = -pthread_create(&a->thread, NULL, worker, a);
	if (err < 0)
		return err;
	a->thread_started = true;
	return 0;
}

static int submit_thread(struct aio *a, struct op *op)
{
	int err = start_thread(a);

	if (err < 0)
		return err;
	pthread_mutex_lock(&a->lock);
	push(&a->todo, op);
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* ---- the interface ---- */

int aio_new(struct loop *loop, enum aio_mode mode, struct aio **ret)
{
	const char *off = getenv("NODETRAIL_DISABLE_IO_URING");
	struct aio *a = calloc(1, sizeof(*a));
	int err = 0;

	if (!a)
		return -ENOMEM;
	a->loop = loop;
	a->ring_efd = a->done_efd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	if (mode == AIO_URING || (mode == AIO_AUTO && !(off && strcmp(off, "1") == 0))) {
		err = setup_uring(a);
		if (err < 0 && a->uring) {
			io_uring_queue_exit(&a->ring);
			a->uring = false;
		}
		if (err < 0 && a->ring_efd >= 0) {
			loop_del_fd(loop, a->ring_efd);
			close(a->ring_efd);
			a->ring_efd = -1;
		}
		if (mode == AIO_AUTO)
			err = 0;
	}
	if (err < 0) {
		aio_free(a);
		return err;
	}
	*ret = a;
	return 0;
}

void aio_free(struct aio *a)
{
	struct op *op;

	if (!a)
		return;
	if (a->thread_started) {
		pthread_mutex_lock(&a->lock);
		a->quit = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		if (a->stats.in_flight) {
			/* a job still blocked in the kernel (a stalled disk at exit): leave
			 * it and what it uses behind, the process is ending */
			pthread_detach(a->thread);
			return;
		}
		pthread_join(a->thread, NULL);
	}
	while ((op = pop(&a->todo)) || (op = pop(&a->done)))
		free(op);
	if (a->uring)
		io_uring_queue_exit(&a->ring); /* waits for what the kernel still holds */
	if (a->ring_efd >= 0) {
		loop_del_fd(a->loop, a->ring_efd);
		close(a->ring_efd);
	}
	if (a->done_efd >= 0) {
		loop_del_fd(a->loop, a->done_efd);
		close(a->done_efd);
	}
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	free(a);
}

static int submit(struct aio *a, struct op *op)
{
	int err = a->uring && op->kind != OP_JOB ? submit_uring(a, op) : submit_thread(a, op);

	if (err < 0) {
		free(op);
		return err;
	}
	a->stats.submitted++;
	if (++a->stats.in_flight > a->stats.in_flight_max)
		a->stats.in_flight_max = a->stats.in_flight;
	return 0;
}

static struct op *new_op(enum op_kind kind, aio_done_cb cb, void *ctx)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op) {
		op->kind = kind;
		op->cb = cb;
		op->ctx = ctx;
	}
	return op;
}

int aio_write(struct aio *a, int fd, const void *buf, size_t len, aio_done_cb cb, void *ctx)
{
	struct op *op = new_op(OP_WRITE, cb, ctx);

	if (!op)
		return -ENOMEM;
	op->fd = fd;
	op->buf = buf;
	op->len = len;
	return submit(a, op);
}

int aio_fsync(struct aio *a, int fd, bool datasync, aio_done_cb cb, void *ctx)
{
	struct op *op = new_op(OP_FSYNC, cb, ctx);

	if (!op)
		return -ENOMEM;
	op->fd = fd;
	op->datasync = datasync;
	return submit(a, op);
}

int aio_call(struct aio *a, aio_job_fn fn, void *arg, aio_done_cb cb, void *ctx)
{
	struct op *op = new_op(OP_JOB, cb, ctx);

	if (!op)
		return -ENOMEM;
	op->fn = fn;
	op->arg = arg;
	return submit(a, op);
}

const char *aio_mode_name(const struct aio *a)
{
	return a->uring ? "io_uring" : "write";
}

bool aio_idle(const struct aio *a)
{
	return a->stats.in_flight == 0;
}

void aio_get_stats(const struct aio *a, struct aio_stats *ret)
{
	*ret = a->stats;
}
