/* The clocks the stages read, and their text form.
 *
 * In ns: CLOCK_REALTIME for what records say, CLOCK_MONOTONIC for timeouts
 * and windows, CLOCK_BOOTTIME for what the kernel's bpf_ktime_get_boot_ns
 * stamps. Text: RFC 3339 as Kubernetes writes it, and as records carry it
 * (RFC3339Nano UTC, always 9 fraction digits and 'Z'). */
#ifndef NODETRAIL_BASE_CLOCK_H
#define NODETRAIL_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_TEXT_LEN 32         /* buffer for clock_format: 30 bytes + NUL, rounded */

static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A kernel time stamp (boot-time ns) as CLOCK_REALTIME ns. */
int64_t clock_boot_to_real(int64_t boot_ns);

/* ts_ns as RFC3339Nano UTC, exactly 9 fraction digits and 'Z'. Returns buf. */
char *clock_format(int64_t ts_ns, char buf[static CLOCK_TEXT_LEN]);

/* RFC 3339 (Kubernetes timestamps, second or finer, 'Z' or an offset) to ns
 * since the epoch; 0 if unparsable or outside 1970..2255. */
int64_t clock_parse(const char *rfc3339);

#endif
