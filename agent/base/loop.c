/* epoll loop with one-shot timers. Timers are few (a handful per stage), so
 * they live in a list sorted by deadline: the head says how long to wait. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/loop.h"

struct loop_handler {
	int fd;                   /* -1 when the slot is free */
	loop_fd_cb cb;
	void *data;
};

struct loop_timer {
	uint64_t id;
	int64_t due_ns;           /* CLOCK_MONOTONIC */
	loop_timer_cb cb;
	void *data;
	struct loop_timer *next;  /* sorted by due_ns, then id */
};

struct loop {
	int epfd;
	bool stop;
	struct loop_handler handlers[LOOP_MAX_FDS];
	struct loop_timer *timers;
	uint32_t ntimers;
	uint64_t next_id;
	loop_hook_cb before_sleep;
	void *before_sleep_data;
};

int loop_new(struct loop **ret)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	int err;

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = -errno;
		free(loop);
		return err;
	}
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		loop->handlers[i].fd = -1;
	*ret = loop;
	return 0;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	while (loop->timers) {
		struct loop_timer *t = loop->timers;

		loop->timers = t->next;
		free(t);
	}
	close(loop->epfd);
	free(loop);
}

static struct loop_handler *find(struct loop *loop, int fd)
{
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		if (loop->handlers[i].fd == fd)
			return &loop->handlers[i];
	return NULL;
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *data)
{
	struct epoll_event ev = { .events = events };
	struct loop_handler *h;

	if (fd < 0)
		return -EBADF;
	if (find(loop, fd))
		return -EEXIST;
	h = find(loop, -1);
	if (!h)
		return -ENOSPC;
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*h = (struct loop_handler){ .fd = fd, .cb = cb, .data = data };
	return 0;
}

int loop_mod_fd(struct loop *loop, int fd, uint32_t events)
{
	struct loop_handler *h = fd < 0 ? NULL : find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (!h)
		return -ENOENT;
	ev.data.ptr = h;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int loop_del_fd(struct loop *loop, int fd)
{
	struct loop_handler *h = fd < 0 ? NULL : find(loop, fd);

	if (!h)
		return -ENOENT;
	h->fd = -1;
	return epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

uint64_t loop_timer_add(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *data)
{
	struct loop_timer *t = malloc(sizeof(*t)), **at;

	if (!t)
		return 0;
	if (delay_ms > (uint64_t)INT64_MAX / 2000000ULL)
		delay_ms = (uint64_t)INT64_MAX / 2000000ULL; /* "never", without overflow */
	t->id = ++loop->next_id;
	t->due_ns = clock_ns(CLOCK_MONOTONIC) + (int64_t)delay_ms * 1000000LL;
	t->cb = cb;
	t->data = data;
	for (at = &loop->timers; *at && (*at)->due_ns <= t->due_ns; at = &(*at)->next)
		;
	t->next = *at;
	*at = t;
	loop->ntimers++;
	return t->id;
}

int loop_timer_del(struct loop *loop, uint64_t id)
{
	if (!loop || !id)
		return -ENOENT;
	for (struct loop_timer **at = &loop->timers; *at; at = &(*at)->next) {
		struct loop_timer *t = *at;

		if (t->id == id) {
			*at = t->next;
			free(t);
			loop->ntimers--;
			return 0;
		}
	}
	return -ENOENT;
}

uint32_t loop_timer_count(const struct loop *loop)
{
	return loop->ntimers;
}

void loop_set_before_sleep(struct loop *loop, loop_hook_cb cb, void *data)
{
	loop->before_sleep = cb;
	loop->before_sleep_data = data;
}

/* ms to wait for the first timer: rounded up, so that it is due when we wake */
static int wait_ms(const struct loop *loop, int cap_ms)
{
	int64_t left;

	if (!loop->timers)
		return cap_ms;
	left = loop->timers->due_ns - clock_ns(CLOCK_MONOTONIC);
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	if (cap_ms >= 0 && left > cap_ms)
		return cap_ms;
	return left > 3600000 ? 3600000 : (int)left;
}

/* Run the timers due now; those added while running wait for the next turn. */
static void run_timers(struct loop *loop, bool honour_stop)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	uint64_t last_id = loop->next_id;

	while (!(honour_stop && loop->stop) && loop->timers && loop->timers->due_ns <= now &&
	       loop->timers->id <= last_id) {
		struct loop_timer *t = loop->timers;

		loop->timers = t->next;
		loop->ntimers--;
		t->cb(loop, t->id, t->data);
		free(t);
	}
}

static int turn(struct loop *loop, int timeout_ms, bool honour_stop)
{
	struct epoll_event events[32];
	int n;

	/* what the last turn (or the setup) left: done once, before waiting */
	if (loop->before_sleep)
		loop->before_sleep(loop, loop->before_sleep_data);
	n = epoll_wait(loop->epfd, events, 32, wait_ms(loop, timeout_ms));
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n && !(honour_stop && loop->stop); i++) {
		struct loop_handler *h = events[i].data.ptr;

		/* a handler may have removed this fd earlier in the batch */
		if (h->fd < 0)
			continue;
		h->cb(loop, h->fd, events[i].events, h->data);
	}
	run_timers(loop, honour_stop);
	return 0;
}

int loop_run_once(struct loop *loop, int timeout_ms)
{
	return turn(loop, timeout_ms, false);
}

int loop_run(struct loop *loop)
{
	int err = 0;

	loop->stop = false;
	while (!loop->stop && err == 0)
		err = turn(loop, -1, true);
	return err;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}
