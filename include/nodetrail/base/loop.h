/* The agent's single event loop (redis `ae` style): epoll over every fd the
 * stages own (ring buffer, signalfd, curl sockets, the I/O completion
 * eventfd, the metrics socket), one-shot timers with ids, and a hook that
 * runs once per turn before the loop sleeps. No blocking calls run on it;
 * handlers do a bounded amount of work and return. */
#ifndef NODETRAIL_BASE_LOOP_H
#define NODETRAIL_BASE_LOOP_H

#include <stdint.h>

#define LOOP_MAX_FDS 64

struct loop;

/* Called with the epoll events that fired on fd. */
typedef void (*loop_fd_cb)(struct loop *loop, int fd, uint32_t events, void *data);
/* A timer's callback; the timer is gone when it runs (add another to repeat). */
typedef void (*loop_timer_cb)(struct loop *loop, uint64_t id, void *data);
/* Once per turn, before the loop waits: what the last turn's events and
 * timers (or the setup) left is done once. */
typedef void (*loop_hook_cb)(struct loop *loop, void *data);

/* 0, or -errno (epoll_create1). */
int loop_new(struct loop **ret);
/* Frees the loop and its pending timers (their callbacks do not run). */
void loop_free(struct loop *loop);

/* Watch fd for events (EPOLLIN...). Returns 0, -EEXIST, -ENOSPC or -errno. */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *data);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
int loop_del_fd(struct loop *loop, int fd);

/* Run cb once, delay_ms from now (CLOCK_MONOTONIC, millisecond resolution;
 * 0 = in the next turn). Returns the timer's id (never 0), or 0 on ENOMEM. */
uint64_t loop_timer_add(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *data);
/* Cancel a timer. 0, or -ENOENT when it has run or never was (id 0, or a
 * NULL loop, included). */
int loop_timer_del(struct loop *loop, uint64_t id);
/* Timers waiting now. */
uint32_t loop_timer_count(const struct loop *loop);

/* The hook run once per turn before sleeping (NULL: none). */
void loop_set_before_sleep(struct loop *loop, loop_hook_cb cb, void *data);

/* Dispatch events and timers until loop_stop(); returns 0 or -errno from epoll_wait. */
int loop_run(struct loop *loop);
/* Return from loop_run at the end of this turn. */
void loop_stop(struct loop *loop);
/* One turn, whether loop_stop was called or not: the before-sleep hook,
 * then wait at most timeout_ms (-1: until something is due) for events, run
 * them and the timers due. For draining work at stop, and for tests.
 * 0 or -errno. */
int loop_run_once(struct loop *loop, int timeout_ms);

#endif
