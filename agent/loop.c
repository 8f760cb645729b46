/* epoll loop. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "nodetrail/loop.h"

struct loop_handler {
	int fd;                   /* -1 when the slot is free */
	loop_fd_cb cb;
	void *data;
	bool is_timer;            /* read the expiry count before calling cb */
};

struct loop {
	int epfd;
	bool stop;
	struct loop_handler handlers[LOOP_MAX_FDS];
};

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		loop->handlers[i].fd = -1;
	return loop;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
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
	struct loop_handler *h = find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (fd < 0 || !h)
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

int loop_add_timer(struct loop *loop, uint64_t period_ms, loop_fd_cb cb, void *data)
{
	struct itimerspec its = { 0 };
	int fd, err;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_interval.tv_sec = (time_t)(period_ms / 1000);
	its.it_interval.tv_nsec = (long)(period_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = loop_add_fd(loop, fd, EPOLLIN, cb, data);
	if (err < 0) {
		close(fd);
		return err;
	}
	find(loop, fd)->is_timer = true;
	return fd;
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[32];

	loop->stop = false;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, events, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct loop_handler *h = events[i].data.ptr;
			uint64_t expirations;

			/* a handler may have removed this fd earlier in the batch */
			if (h->fd < 0)
				continue;
			if (h->is_timer && read(h->fd, &expirations, sizeof(expirations)) < 0)
				continue;
			h->cb(loop, h->fd, events[i].events, h->data);
		}
	}
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}
