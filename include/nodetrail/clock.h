/* The clocks the stages read, in ns: CLOCK_REALTIME for what records say,
 * CLOCK_MONOTONIC for timeouts and windows, CLOCK_BOOTTIME for what the
 * kernel's bpf_ktime_get_boot_ns stamps. One definition for every stage. */
#ifndef NODETRAIL_CLOCK_H
#define NODETRAIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
