/* The agent's single event loop: epoll over every fd the stages own
 * (ring buffer, signalfd, timerfds, later curl sockets). No blocking calls
 * run on it; handlers do a bounded amount of work and return. */
#ifndef NODETRAIL_LOOP_H
#define NODETRAIL_LOOP_H

#include <stdint.h>

#define LOOP_MAX_FDS 64

struct loop;

/* Called with the epoll events that fired on fd. */
typedef void (*loop_fd_cb)(struct loop *loop, int fd, uint32_t events, void *data);

struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* Watch fd for events (EPOLLIN...). Returns 0, -EEXIST, -ENOSPC or -errno. */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *data);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
int loop_del_fd(struct loop *loop, int fd);

/* A periodic timer (timerfd, CLOCK_MONOTONIC) calling cb every period_ms.
 * Returns the timer's fd (to loop_del_fd + close) or -errno. */
int loop_add_timer(struct loop *loop, uint64_t period_ms, loop_fd_cb cb, void *data);

/* Dispatch events until loop_stop(); returns 0 or -errno from epoll_wait. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
