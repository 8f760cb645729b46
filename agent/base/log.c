/* The agent's log lines on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nodetrail/base/log.h"

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* rate limit: the same message text repeated within one second is counted */
static char last_msg[512];
static time_t last_sec;
static unsigned long repeats;

int log_parse_level(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (s && strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

static void emit(enum log_level level, const struct timespec *ts, const char *msg)
{
	struct tm tm;
	char when[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s\n", when, ts->tv_nsec / 1000000, level_names[level], msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	struct timespec ts;
	char msg[512];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec == last_sec && strcmp(msg, last_msg) == 0) {
		repeats++;
		return;
	}
	if (repeats) {
		char note[600];

		snprintf(note, sizeof(note), "last message repeated %lu times: %s", repeats, last_msg);
		emit(level, &ts, note);
		repeats = 0;
	}
	last_sec = ts.tv_sec;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	emit(level, &ts, msg);
}
