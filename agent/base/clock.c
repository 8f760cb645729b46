/* Clock conversions and the RFC 3339 text form. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nodetrail/base/clock.h"

int64_t clock_boot_to_real(int64_t boot_ns)
{
	return boot_ns + clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
}

char *clock_format(int64_t ts_ns, char buf[static CLOCK_TEXT_LEN])
{
	time_t sec = (time_t)(ts_ns / 1000000000LL);
	long nsec = (long)(ts_ns % 1000000000LL);
	struct tm tm;
	size_t n;

	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	gmtime_r(&sec, &tm);
	n = strftime(buf, CLOCK_TEXT_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, CLOCK_TEXT_LEN - n, ".%09ldZ", nsec);
	return buf;
}

int64_t clock_parse(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	int64_t ns = 0, scale = 100000000;
	time_t t;

	if (!s || !*s)
		return 0;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += (*p - '0') * scale;
	t = timegm(&tm);
	/* Kubernetes writes UTC ("Z"); honour an explicit offset anyway */
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59)
			return 0; /* found by fuzz_imds: a huge offset overflowed */
		t -= (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
	}
	/* ns since the epoch fit in int64 until 2262: anything outside is not a time we can use */
	if (t < 0 || t > 9000000000LL)
		return 0;
	return (int64_t)t * 1000000000LL + ns;
}
