/* The agent's own log: one line per event on stderr, levelled, no secrets.
 * Only main.c and the stage drivers log; library-like modules return errors. */
#ifndef NODETRAIL_BASE_LOG_H
#define NODETRAIL_BASE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Parse "error|warn|info|debug". Returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *ret);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* `ts level message` to stderr; repeated identical messages within a second
 * are counted and summarised instead of printed. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
