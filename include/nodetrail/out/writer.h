/* Writer: records as CRI log lines in one file Fluent Bit tails.
 *
 * DESIGN section 5: `<RFC3339Nano UTC> stdout F <json>\n`, one regular file
 * directly in the output dir, O_APPEND, lines <= WRITER_MAX_LINE bytes,
 * timestamps never decreasing, rename-only rotation at a size cap. Writes go
 * through io_uring when the kernel (and seccomp) allow it, else write(2). */
#ifndef NODETRAIL_OUT_WRITER_H
#define NODETRAIL_OUT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* containerd's split size: Fluent Bit silently skips longer lines */
#define WRITER_MAX_LINE 16384
/* lines held in memory while the disk refuses them (full, read-only, gone) */
#define WRITER_QUEUE_MAX 4096

/* NODETRAIL_DISABLE_IO_URING=1 in the environment makes AUTO behave as if
 * io_uring were refused (as seccomp profiles do), to test the fallback. */
enum writer_io {
	WRITER_IO_AUTO = 0,   /* io_uring, write(2) if io_uring is refused */
	WRITER_IO_URING,      /* io_uring or fail */
	WRITER_IO_WRITE,      /* plain write(2) */
};

struct writer_options {
	const char *dir;          /* output directory, must exist */
	const char *file_name;    /* base name, e.g. "<pod>_<ns>_<ctr>-<64hex>.log" */
	uint64_t max_bytes;       /* rotate when the file would exceed this (default 10 MiB) */
	unsigned keep_rotated;    /* rotated files kept (default 5) */
	unsigned rotated_min_age_s; /* never delete a rotated file younger than this (default 60) */
	enum writer_io io;
};

struct writer_stats {
	uint64_t lines;           /* lines written */
	uint64_t bytes;           /* bytes written */
	uint64_t truncated;       /* records shrunk to fit WRITER_MAX_LINE */
	uint64_t dropped;         /* lines lost to write errors (disk full, ...) */
	uint64_t rotations;
	uint64_t write_errors;
	uint64_t reopened;        /* the file was deleted or renamed under us */
	uint64_t queued;          /* lines waiting to be written */
	bool io_uring;            /* true while io_uring is in use */
};

struct writer;

/* Open (creating if needed) the file; repairs a missing final newline.
 * 0, or -errno; then *ret_err_detail (optional) gets a static string
 * naming the failing step. */
int writer_new(const struct writer_options *opts, struct writer **ret, const char **ret_err_detail);
void writer_free(struct writer *w);

/* Queue one record: `json` is a compact JSON object without newline, `ts_ns`
 * the CLOCK_REALTIME time for the line prefix (raised to the last one used if
 * lower). A line over WRITER_MAX_LINE is replaced by a shrunk object that
 * keeps the record's identifying keys and says "truncated":true.
 * Returns 0, or -errno if the queue is full (WRITER_QUEUE_MAX lines). */
int writer_append(struct writer *w, int64_t ts_ns, const char *json, size_t len);

/* Write everything queued (one write per batch of whole lines); rotates when
 * the size cap is reached. Returns 0 or -errno; on error the lines stay
 * queued for the next flush, up to the queue cap, and are counted as
 * dropped beyond it. */
int writer_flush(struct writer *w);

/* flush, then fdatasync the file */
int writer_sync(struct writer *w);

/* Full path of the active file. */
const char *writer_path(const struct writer *w);
void writer_get_stats(const struct writer *w, struct writer_stats *ret);

#endif
